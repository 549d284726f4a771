//! `cloister authorities`: who authors and finalizes the parentchain, and changing that.
//!
//! A new set is given as one entry per authority: a secret URI of a development key (`//Dave`,
//! both keys derived from it) or `AURA:GRANDPA` public keys (SS58 or `0x` hex each), as a node
//! prints them at start. `set` enacts it through sudo; `propose` records one authority's vote,
//! and a majority of the current authorities proposing the same set enacts it. The GRANDPA
//! change takes effect once the block that enacts it is final.

use crate::{
    chain::{inclusion_json, submit, value_key, CommandError},
    output::Output,
    rpc_client::NodeClient,
    signer::Signer,
};
use cloister_runtime::RuntimeCall;
use serde_json::json;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::{AuthorityId as GrandpaId, AuthorityList, SetId};
use sp_core::{crypto::Ss58Codec, ed25519, sr25519, Pair};

/// Parses one authority: `//Name` (a development secret URI) or `AURA:GRANDPA`.
pub fn parse_authority(text: &str) -> Result<(AuraId, GrandpaId), CommandError> {
    if let Some((aura, grandpa)) = text.split_once(':').filter(|_| !text.starts_with("//")) {
        let aura = parse_public::<sr25519::Public>(aura)
            .ok_or_else(|| CommandError::Invalid(format!("'{aura}' is not an sr25519 public key (SS58 or 0x hex)")))?;
        let grandpa = parse_public::<ed25519::Public>(grandpa).ok_or_else(|| {
            CommandError::Invalid(format!("'{grandpa}' is not an ed25519 public key (SS58 or 0x hex)"))
        })?;
        return Ok((aura.into(), grandpa.into()));
    }
    let invalid = || CommandError::Invalid(format!("'{text}' is neither AURA:GRANDPA public keys nor a secret URI"));
    if text.trim().is_empty() {
        return Err(invalid());
    }
    let sr = sr25519::Pair::from_string(text, None).map_err(|_| invalid())?;
    let ed = ed25519::Pair::from_string(text, None).map_err(|_| invalid())?;
    Ok((sr.public().into(), ed.public().into()))
}

fn parse_public<P: Ss58Codec + sp_core::crypto::ByteArray>(text: &str) -> Option<P> {
    if let Some(hex) = text.strip_prefix("0x") {
        return hex::decode(hex).ok().and_then(|bytes| P::from_slice(&bytes).ok());
    }
    P::from_ss58check(text).ok()
}

/// The authorities in force at the best block.
pub async fn current(client: &NodeClient) -> Result<(Vec<AuraId>, SetId, AuthorityList), CommandError> {
    let aura: Vec<AuraId> =
        client.storage_or_default("Aura.Authorities", &value_key("Aura", "Authorities"), None).await?;
    let set_id: SetId =
        client.storage_or_default("Grandpa.CurrentSetId", &value_key("Grandpa", "CurrentSetId"), None).await?;
    let grandpa: AuthorityList =
        client.storage_or_default("Grandpa.Authorities", &value_key("Grandpa", "Authorities"), None).await?;
    Ok((aura, set_id, grandpa))
}

/// `cloister authorities show`.
pub async fn show(client: &NodeClient, out: &Output) -> Result<(), CommandError> {
    let (aura, set_id, grandpa) = current(client).await?;
    let aura_text: Vec<String> = aura.iter().map(|a| sr25519::Public::from(a.clone()).to_ss58check()).collect();
    let grandpa_text: Vec<String> =
        grandpa.iter().map(|(g, _)| ed25519::Public::from(g.clone()).to_ss58check()).collect();
    let mut text = format!("GRANDPA set {set_id}: {} voters\n", grandpa.len());
    for (i, g) in grandpa_text.iter().enumerate() {
        text.push_str(&format!("  grandpa {i}: {g}\n"));
    }
    text.push_str(&format!("Aura: {} authors\n", aura.len()));
    for (i, a) in aura_text.iter().enumerate() {
        text.push_str(&format!("  aura {i}: {a}\n"));
    }
    out.print(text.trim_end(), json!({ "setId": set_id, "aura": aura_text, "grandpa": grandpa_text }));
    Ok(())
}

fn parse_set(authorities: &[String]) -> Result<Vec<(AuraId, GrandpaId)>, CommandError> {
    if authorities.is_empty() {
        return Err(CommandError::Invalid("name at least one authority".into()));
    }
    authorities.iter().map(|a| parse_authority(a)).collect()
}

/// `cloister authorities set --sudo SURI AUTHORITY...`.
pub async fn set(client: &NodeClient, out: &Output, sudo: &str, authorities: &[String]) -> Result<(), CommandError> {
    let signer = Signer::from_suri(sudo)?;
    let set = parse_set(authorities)?;
    let inner = RuntimeCall::Authorities(pallet_cloister_authorities::Call::set_authorities { authorities: set });
    let call = RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(inner) });
    let inclusion = submit(client, &signer, call).await?;
    out.print(format!("authority set changed in block {:?}", inclusion.block), inclusion_json(&inclusion));
    Ok(())
}

/// `cloister authorities propose --signer SURI AUTHORITY...`.
pub async fn propose(
    client: &NodeClient,
    out: &Output,
    signer: &str,
    authorities: &[String],
) -> Result<(), CommandError> {
    let signer = Signer::from_suri(signer)?;
    let set = parse_set(authorities)?;
    let call = RuntimeCall::Authorities(pallet_cloister_authorities::Call::propose_authorities { authorities: set });
    let inclusion = submit(client, &signer, call).await?;
    let enacted = inclusion.events.iter().any(|e| e == "Authorities::AuthoritiesChanged");
    out.print(
        if enacted { "proposal enacted: authority set changed".to_string() } else { "proposal recorded".to_string() },
        json!({ "enacted": enacted, "inclusion": inclusion_json(&inclusion) }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse_from_suri_and_public_keys() {
        let (aura, grandpa) = parse_authority("//Dave").expect("suri");
        let text = format!(
            "{}:0x{}",
            sr25519::Public::from(aura.clone()).to_ss58check(),
            hex::encode(ed25519::Public::from(grandpa.clone()).0)
        );
        assert_eq!(parse_authority(&text).expect("public keys"), (aura, grandpa));
        assert!(parse_authority("nonsense:0x12").is_err());
        assert!(parse_authority("").is_err());
    }
}
