//! `cloister permissions`: the consortium's policy (ARCHITECTURE.md 4.6).
//!
//! `grant` and `revoke` change an account's READ, TRANSACT, CREATE and ADMIN permissions,
//! `restrict` opens or restricts the chain, `allow-peer`/`disallow-peer` edit the p2p
//! allowlist, `show` prints an account's permissions. Changes are signed by the sudo key (sent
//! through `Sudo::sudo`) or by an account holding ADMIN (sent directly).

use crate::{
    chain::{inclusion_json, submit, value_key, CommandError},
    output::Output,
    rpc_client::NodeClient,
    signer::{parse_account, ss58, Signer},
};
use cloister_primitives::AccountId;
use cloister_runtime::RuntimeCall;
use pallet_cloister_permissions::{Call, Permissions};
use serde_json::json;

/// Whether `signer` is the chain's sudo key.
async fn is_sudo(client: &NodeClient, signer: &Signer) -> Result<bool, CommandError> {
    let key: Option<AccountId> = client.storage("Sudo.Key", &value_key("Sudo", "Key"), None).await?;
    Ok(key.is_some_and(|k| k == signer.account()))
}

/// Sends a Permissions call as `signer`: through sudo if it is the sudo key.
async fn send(
    client: &NodeClient,
    out: &Output,
    signer: &str,
    call: Call<cloister_runtime::Runtime>,
    done: String,
) -> Result<(), CommandError> {
    let signer = Signer::from_suri(signer)?;
    let call = RuntimeCall::Permissions(call);
    let call = if is_sudo(client, &signer).await? {
        RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
    } else {
        call
    };
    let inclusion = submit(client, &signer, call).await?;
    out.print(done, inclusion_json(&inclusion));
    Ok(())
}

/// `cloister permissions grant|revoke ACCOUNT PERMISSIONS`: adds (`grant`) or removes bits.
pub async fn change(
    client: &NodeClient,
    out: &Output,
    signer: &str,
    account: &str,
    bits: &str,
    grant: bool,
) -> Result<(), CommandError> {
    let who = parse_account(account)?;
    let bits = Permissions::parse(bits).map_err(CommandError::Invalid)?;
    let names = Permissions(bits).names().join(",");
    let (call, done) = if grant {
        (Call::grant { who: who.clone(), bits }, format!("granted {names} to {}", ss58(&who)))
    } else {
        (Call::revoke { who: who.clone(), bits }, format!("revoked {names} from {}", ss58(&who)))
    };
    send(client, out, signer, call, done).await
}

/// `cloister permissions restrict true|false`.
pub async fn restrict(client: &NodeClient, out: &Output, signer: &str, restricted: bool) -> Result<(), CommandError> {
    let done = if restricted { "the chain is restricted" } else { "the chain is open" }.to_string();
    send(client, out, signer, Call::set_restricted { restricted }, done).await
}

/// Parses a libp2p peer id (base58) into its bytes.
fn peer_bytes(peer: &str) -> Result<Vec<u8>, CommandError> {
    peer.parse::<cloister_network::PeerId>()
        .map(|p| p.to_bytes())
        .map_err(|e| CommandError::Invalid(format!("'{peer}' is not a peer id: {e}")))
}

/// `cloister permissions allow-peer PEER_ID` / `disallow-peer`.
pub async fn allow_peer(
    client: &NodeClient,
    out: &Output,
    signer: &str,
    peer: &str,
    allow: bool,
) -> Result<(), CommandError> {
    let bytes = peer_bytes(peer)?;
    let (call, done) = if allow {
        (Call::allow_peer { peer: bytes }, format!("peer {peer} allowed"))
    } else {
        (Call::disallow_peer { peer: bytes }, format!("peer {peer} no longer allowed"))
    };
    send(client, out, signer, call, done).await
}

/// `cloister permissions show ACCOUNT`.
pub async fn show(client: &NodeClient, out: &Output, account: &str) -> Result<(), CommandError> {
    let who = parse_account(account)?;
    let restricted: bool =
        client.storage_or_default("Permissions.Restricted", &value_key("Permissions", "Restricted"), None).await?;
    let key = crate::chain::map_key("Permissions", "AccountPermissions", &who);
    let held: Permissions = client.storage_or_default("Permissions.AccountPermissions", &key, None).await?;
    let peers: Vec<Vec<u8>> =
        client.storage_or_default("Permissions.AllowedPeers", &value_key("Permissions", "AllowedPeers"), None).await?;
    let peer_ids: Vec<String> = peers
        .iter()
        .map(|p| cloister_network::PeerId::from_bytes(p).map(|p| p.to_string()).unwrap_or_else(|_| hex::encode(p)))
        .collect();
    let names = held.names();
    let text = format!(
        "{}: {}{}\nchain: {}, {} allowed peers",
        ss58(&who),
        if names.is_empty() { "no permissions".to_string() } else { names.join(",") },
        if restricted { "" } else { " (open chain: everyone may read, transact and create)" },
        if restricted { "restricted" } else { "open" },
        peer_ids.len()
    );
    out.print(
        text,
        json!({ "account": ss58(&who), "permissions": names, "bits": held.0, "restricted": restricted, "allowedPeers": peer_ids }),
    );
    Ok(())
}
