//! The private-community trusted calls: making a public community private (with a read proof of
//! its parentchain record), registrations, endorsements, attestations, reward claims and
//! community-currency transfers. Each is signed by its first account with its next shard nonce,
//! sent to the enclave and followed into a sidechain block; a call the shard's runtime refuses
//! comes back as [`CommandError::Refused`] with the pallet's error name (`OnlyBootstrappers`).

use super::{
    getters::fetch_registration,
    render::{account_json, amount, amount_json, label, short, ss58_list},
};
use crate::{
    chain::{map_key, CommandError},
    output::Report,
    rpc_client::NodeClient,
    signer::{parse_account, Signer},
    trusted::{deliver, Delivery, TrustedClient},
};
use cloister_primitives::{AccountId, Hash};
use cloister_stf::{
    encointer::{locations_prefix, public_community_keys},
    ops::AttendanceProof,
    TrustedCall,
};
use codec::Decode;
use encointer_primitives::{
    balances::BalanceType,
    ceremonies::{CommunityCeremony, MeetupIndexType},
    communities::{CommunityIdentifier, CommunityMetadata, GeoHash, Location},
    scheduler::CeremonyIndexType,
};
use serde_json::{json, Value};
use std::time::Duration;

/// What the enclave answers while it has not yet verified the block a proof is of.
const NOT_VERIFIED_YET: &str = "is not a finalized block this enclave verified recently";
/// How long `make-community-private` waits for the enclave to verify the block it read at.
const PROOF_RETRY_FOR: Duration = Duration::from_secs(60);

/// A public community read from the parentchain, with the proof the enclave checks.
#[derive(Debug, Clone)]
pub struct ProvenCommunity {
    /// The finalized block it was read at.
    pub at: Hash,
    /// Its name.
    pub name: String,
    /// Its bootstrappers.
    pub bootstrappers: Vec<AccountId>,
    /// The geohash cells of its locations.
    pub cells: Vec<GeoHash>,
    /// How many locations those cells hold.
    pub locations: usize,
    /// The read proof of [`public_community_keys`].
    pub proof: Vec<Vec<u8>>,
}

/// Reads public community `cid` at the node's finalized head: its cells (the keys under
/// [`locations_prefix`]) and a read proof of everything the enclave needs.
pub async fn read_public_community(
    node: &NodeClient,
    cid: CommunityIdentifier,
) -> Result<ProvenCommunity, CommandError> {
    let p = "EncointerCommunities";
    let at = node.finalized_hash().await?;
    let metadata: Option<CommunityMetadata> =
        node.storage("CommunityMetadata", &map_key(p, "CommunityMetadata", &cid), Some(at)).await?;
    let metadata = metadata.ok_or_else(|| {
        CommandError::Invalid(format!(
            "community {cid} does not exist on the parentchain (`cloister list-communities` lists the public ones)"
        ))
    })?;
    let bootstrappers: Vec<AccountId> =
        node.storage_or_default("Bootstrappers", &map_key(p, "Bootstrappers", &cid), Some(at)).await?;
    let prefix = locations_prefix(&cid);
    let mut cells = Vec::new();
    let mut locations = 0;
    for key in node.storage_keys(&prefix, Some(at)).await? {
        let mut suffix = key.get(prefix.len()..).unwrap_or_default();
        let cell = GeoHash::decode(&mut suffix)
            .ok()
            .filter(|_| suffix.is_empty())
            .ok_or_else(|| CommandError::Invalid(format!("the node listed a malformed location key of {cid}")))?;
        let found: Vec<Location> = node.storage_or_default("Locations", &key, Some(at)).await?;
        locations += found.len();
        cells.push(cell);
    }
    let proof = node.read_proof(&public_community_keys(&cid, &cells), at).await?;
    Ok(ProvenCommunity {
        at,
        name: String::from_utf8_lossy(&metadata.name).into_owned(),
        bootstrappers,
        cells,
        locations,
        proof,
    })
}

/// `trusted make-community-private MANAGER CID`: the manager (the parentchain's sudo key or a
/// bootstrapper) makes public community `cid` private on the shard. While the enclave has not
/// verified the finalized block the record was read at, it reads again and retries.
pub async fn make_community_private(
    node: &NodeClient,
    client: &TrustedClient,
    manager: &str,
    cid: CommunityIdentifier,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(manager)?;
    let deadline = tokio::time::Instant::now() + PROOF_RETRY_FOR;
    let mut attempt = 0u32;
    let (public, block) = loop {
        attempt += 1;
        let public = read_public_community(node, cid).await?;
        let call = TrustedCall::MakeCommunityPrivate {
            who: signer.account(),
            cid,
            at: public.at,
            cells: public.cells.clone(),
            proof: public.proof.clone(),
        };
        match client.call(&signer, call, false).await {
            Ok(block) => break (public, block),
            Err(CommandError::Refused(reason))
                if reason.contains(NOT_VERIFIED_YET) && tokio::time::Instant::now() < deadline =>
            {
                tracing::debug!(target: "cli", attempt, "the enclave has not verified the block yet; reading again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Report::new(
        format!(
            "community {cid} ({}) is now private on shard 0x{}, managed by {}: {} bootstrappers and {} locations \
             read from parentchain block {:?} (sidechain block {block:?})",
            public.name,
            hex::encode(client.shard),
            label(&signer.account()),
            public.bootstrappers.len(),
            public.locations,
            public.at
        ),
        json!({
            "cid": cid.to_string(),
            "name": public.name,
            "shard": format!("0x{}", hex::encode(client.shard)),
            "manager": account_json(&signer.account()),
            "bootstrappers": ss58_list(&public.bootstrappers),
            "locations": public.locations,
            "parentchain_block": format!("{:?}", public.at),
            "block": format!("{block:?}"),
        }),
    ))
}

/// A proof that `signer` attended ceremony `cindex` of `cid`, to register as a reputable.
fn own_attendance(signer: &Signer, cid: CommunityIdentifier, cindex: CeremonyIndexType) -> AttendanceProof {
    AttendanceProof::signed(signer.account(), cid, cindex, signer.pair())
}

/// Sends a registration call and reports how the signer is registered after it.
async fn register(
    client: &TrustedClient,
    signer: &Signer,
    cid: CommunityIdentifier,
    call: TrustedCall,
    done: &str,
) -> Result<Report, CommandError> {
    let block = client.call(signer, call, false).await?;
    let view = fetch_registration(client, signer, cid).await?;
    let kind = view.participant_type.map(|t| format!("{t:?}"));
    let how = kind.as_deref().map(|k| format!(" as {k}")).unwrap_or_default();
    Ok(Report::new(
        format!(
            "{} {done} in {cid}{how} for ceremony {} (sidechain block {block:?})",
            label(&signer.account()),
            view.cindex
        ),
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "cindex": view.cindex,
            "participant_type": kind,
            "block": format!("{block:?}"),
        }),
    ))
}

/// `trusted register-participant WHO CID [--reputation CINDEX]`.
pub async fn register_participant(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    reputation: Option<CeremonyIndexType>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let proof = reputation.map(|cindex| own_attendance(&signer, cid, cindex));
    let call = TrustedCall::RegisterParticipant { who: signer.account(), cid, proof };
    register(client, &signer, cid, call, "registered").await
}

/// `trusted upgrade-registration WHO CID --reputation CINDEX`.
pub async fn upgrade_registration(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    reputation: CeremonyIndexType,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let proof = own_attendance(&signer, cid, reputation);
    let call = TrustedCall::UpgradeRegistration { who: signer.account(), cid, proof };
    register(client, &signer, cid, call, "upgraded the registration").await
}

/// `trusted unregister-participant WHO CID [--reputation-of CID:CINDEX]`.
pub async fn unregister_participant(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    reputation: Option<CommunityCeremony>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let call = TrustedCall::UnregisterParticipant { who: signer.account(), cid, reputation };
    let block = client.call(&signer, call, false).await?;
    Ok(Report::new(
        format!("{} unregistered from {cid} (sidechain block {block:?})", label(&signer.account())),
        json!({ "who": account_json(&signer.account()), "cid": cid.to_string(), "block": format!("{block:?}") }),
    ))
}

/// `trusted endorse-newcomer WHO CID NEWBIE`.
pub async fn endorse_newcomer(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    newbie: &str,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let newbie = parse_account(newbie)?;
    let call = TrustedCall::EndorseNewcomer { who: signer.account(), cid, newbie: newbie.clone() };
    let block = client.call(&signer, call, false).await?;
    Ok(Report::new(
        format!("{} endorsed {} in {cid} (sidechain block {block:?})", label(&signer.account()), label(&newbie)),
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "newbie": account_json(&newbie),
            "block": format!("{block:?}"),
        }),
    ))
}

/// `trusted attest-attendees WHO CID ATTESTEE... [--vote N]`; the vote defaults to the
/// attestees and the attester.
pub async fn attest_attendees(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    attestees: &[String],
    vote: Option<u32>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let attestees: Vec<AccountId> = attestees.iter().map(|a| parse_account(a)).collect::<Result<_, _>>()?;
    let vote = match vote {
        Some(vote) => vote,
        None => u32::try_from(attestees.len() + 1).map_err(|_| CommandError::Invalid("too many attestees".into()))?,
    };
    let call = TrustedCall::AttestAttendees { who: signer.account(), cid, vote, attestees: attestees.clone() };
    let block = client.call(&signer, call, false).await?;
    let names: Vec<String> = attestees.iter().map(short).collect();
    Ok(Report::new(
        format!(
            "{} attested {} in {cid} (vote {vote}): {} (sidechain block {block:?})",
            label(&signer.account()),
            attestees.len(),
            names.join(", ")
        ),
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "vote": vote,
            "attestees": ss58_list(&attestees),
            "block": format!("{block:?}"),
        }),
    ))
}

/// `trusted claim-rewards WHO CID [--meetup N]`: claims the rewards of a meetup (the
/// claimant's own by default) for every participant it judges legitimate.
pub async fn claim_rewards(
    client: &TrustedClient,
    who: &str,
    cid: CommunityIdentifier,
    meetup: Option<MeetupIndexType>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let call = TrustedCall::ClaimRewards { who: signer.account(), cid, meetup };
    let block = client.call(&signer, call, false).await?;
    let which = meetup.map(|m| format!("meetup {m}")).unwrap_or_else(|| "its meetup".into());
    Ok(Report::new(
        format!("{} claimed the rewards of {which} in {cid} (sidechain block {block:?})", label(&signer.account())),
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "meetup": meetup,
            "block": format!("{block:?}"),
        }),
    ))
}

/// `trusted transfer FROM TO AMOUNT --cid CID`: community currency.
pub async fn cc_transfer(
    node: &NodeClient,
    client: &TrustedClient,
    (from, to, value): (&str, &str, BalanceType),
    cid: CommunityIdentifier,
    how: Delivery,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(from)?;
    let to = parse_account(to)?;
    let call = TrustedCall::CcTransfer { from: signer.account(), to: to.clone(), cid, amount: value };
    let delivered = deliver(node, client, &signer, call, how).await?;
    let mut json = delivered.json();
    json.insert("from".into(), account_json(&signer.account()));
    json.insert("to".into(), account_json(&to));
    json.insert("cid".into(), json!(cid.to_string()));
    json.insert("amount".into(), amount_json(value));
    Ok(Report::new(
        format!(
            "transferred {} of {cid} from {} to {} {}",
            amount(value),
            label(&signer.account()),
            label(&to),
            delivered.describe()
        ),
        Value::Object(json),
    ))
}
