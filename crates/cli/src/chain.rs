//! Parentchain commands: balances and transfers, the ceremony schedule, public communities.

use crate::{
    community::CommunitySpec,
    output::{Output, Report},
    rpc_client::{ClientError, Inclusion, NodeClient},
    signer::{parse_account, ss58, Signer},
};
use cloister_primitives::{AccountId, Balance, Nonce};
use cloister_runtime::RuntimeCall;
use codec::Encode;
use encointer_primitives::{
    communities::{CommunityIdentifier, CommunityMetadata},
    scheduler::{CeremonyIndexType, CeremonyPhaseType},
};
use frame_support::{storage::storage_prefix, Blake2_128Concat, StorageHasher};
use serde_json::json;
use sp_runtime::MultiAddress;
use std::path::Path;

/// Errors of chain commands.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Talking to the node failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An account argument is wrong.
    #[error(transparent)]
    Account(#[from] crate::signer::AccountError),
    /// A community spec is wrong.
    #[error(transparent)]
    Spec(#[from] crate::community::SpecError),
    /// The shard (its runtime or its enclave) refused a trusted call or getter; nothing of the
    /// call was applied (a call the runtime failed spends only its nonce).
    #[error("refused by the shard: {0}")]
    Refused(String),
    /// Anything else the user must fix.
    #[error("{0}")]
    Invalid(String),
}

impl CommandError {
    /// Whether the shard refused the operation (as opposed to bad input or a broken connection).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// Key of a storage value.
pub fn value_key(pallet: &str, item: &str) -> Vec<u8> {
    storage_prefix(pallet.as_bytes(), item.as_bytes()).to_vec()
}

/// Key of a `Blake2_128Concat` map entry.
pub fn map_key(pallet: &str, item: &str, key: &impl Encode) -> Vec<u8> {
    let mut k = value_key(pallet, item);
    k.extend(Blake2_128Concat::hash(&key.encode()));
    k
}

type AccountInfo = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;

/// Reads an account's native balance and nonce.
pub async fn account_info(client: &NodeClient, who: &AccountId) -> Result<AccountInfo, ClientError> {
    client.storage_or_default("System.Account", &map_key("System", "Account", who), None).await
}

/// `cloister balance ACCOUNT`.
pub async fn balance(client: &NodeClient, out: &Output, account: &str) -> Result<(), CommandError> {
    let who = parse_account(account)?;
    let info = account_info(client, &who).await?;
    out.print(
        format!(
            "{}: free {} reserved {} frozen {} (nonce {})",
            ss58(&who),
            info.data.free,
            info.data.reserved,
            info.data.frozen,
            info.nonce
        ),
        json!({
            "account": ss58(&who),
            "free": info.data.free.to_string(),
            "reserved": info.data.reserved.to_string(),
            "frozen": info.data.frozen.to_string(),
            "nonce": info.nonce,
        }),
    );
    Ok(())
}

/// An inclusion as JSON output.
pub fn inclusion_json(inclusion: &Inclusion) -> serde_json::Value {
    json!({
        "extrinsic": format!("{:?}", inclusion.extrinsic),
        "block": format!("{:?}", inclusion.block),
        "finalized": inclusion.finalized,
        "events": inclusion.events,
    })
}

/// Signs `call` as `signer`, submits it and waits for its block to be final.
pub async fn submit(client: &NodeClient, signer: &Signer, call: RuntimeCall) -> Result<Inclusion, CommandError> {
    let xt = client.sign_next(signer, call).await?;
    Ok(client.submit_and_wait(&xt, true).await?)
}

/// `cloister transfer FROM TO AMOUNT`.
pub async fn transfer(
    client: &NodeClient,
    out: &Output,
    from: &str,
    to: &str,
    amount: Balance,
) -> Result<(), CommandError> {
    let signer = Signer::from_suri(from)?;
    let dest = parse_account(to)?;
    let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(dest.clone()),
        value: amount,
    });
    let inclusion = submit(client, &signer, call).await?;
    out.print(
        format!(
            "transferred {amount} from {} to {} in block {:?}",
            ss58(&signer.account()),
            ss58(&dest),
            inclusion.block
        ),
        inclusion_json(&inclusion),
    );
    Ok(())
}

/// The ceremony schedule of the parentchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Current phase.
    pub phase: CeremonyPhaseType,
    /// Current ceremony index.
    pub ceremony_index: CeremonyIndexType,
    /// When the phase ends (ms since the epoch).
    pub next_phase_timestamp: u64,
}

/// Reads the ceremony schedule.
pub async fn schedule(client: &NodeClient) -> Result<Schedule, ClientError> {
    let p = "EncointerScheduler";
    Ok(Schedule {
        phase: client.storage_or_default("CurrentPhase", &value_key(p, "CurrentPhase"), None).await?,
        ceremony_index: client
            .storage_or_default("CurrentCeremonyIndex", &value_key(p, "CurrentCeremonyIndex"), None)
            .await?,
        next_phase_timestamp: client
            .storage_or_default("NextPhaseTimestamp", &value_key(p, "NextPhaseTimestamp"), None)
            .await?,
    })
}

/// The schedule as a [`Report`].
pub fn schedule_report(s: &Schedule) -> Report {
    Report::new(
        format!("{:?} (ceremony {}), next phase at {} ms", s.phase, s.ceremony_index, s.next_phase_timestamp),
        json!({
            "phase": format!("{:?}", s.phase),
            "ceremony_index": s.ceremony_index,
            "next_phase_timestamp": s.next_phase_timestamp,
        }),
    )
}

/// `cloister phase`.
pub async fn phase(client: &NodeClient, out: &Output) -> Result<(), CommandError> {
    out.report(schedule_report(&schedule(client).await?));
    Ok(())
}

/// `cloister ceremony-index`.
pub async fn ceremony_index(client: &NodeClient, out: &Output) -> Result<(), CommandError> {
    let s = schedule(client).await?;
    out.print(s.ceremony_index.to_string(), json!({ "ceremony_index": s.ceremony_index }));
    Ok(())
}

/// Moves the ceremony to its next phase with the scheduler's `next_phase` through sudo, waits
/// until that block is final and returns the schedule after it.
pub async fn advance_phase(client: &NodeClient, sudo: &str) -> Result<Schedule, CommandError> {
    let signer = Signer::from_suri(sudo)?;
    let inner = RuntimeCall::EncointerScheduler(pallet_encointer_scheduler::Call::next_phase {});
    let call = RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(inner) });
    let inclusion = submit(client, &signer, call).await?;
    let after = schedule(client).await?;
    tracing::debug!(target: "cli", block = ?inclusion.block, phase = ?after.phase, "moved to the next phase");
    Ok(after)
}

/// `cloister next-phase`.
pub async fn next_phase(client: &NodeClient, out: &Output, sudo: &str) -> Result<(), CommandError> {
    out.report(schedule_report(&advance_phase(client, sudo).await?));
    Ok(())
}

/// Registers the public community of the spec file `spec`, signed by `signer`.
pub async fn create_community(client: &NodeClient, spec: &Path, signer: &str) -> Result<Report, CommandError> {
    let spec = CommunitySpec::from_file(spec)?;
    let signer = Signer::from_suri(signer)?;
    let cid = spec.cid()?;
    let mut blocks = Vec::new();
    for call in spec.calls()? {
        blocks.push(submit(client, &signer, call).await?);
    }
    Ok(Report::new(
        format!("community {cid} ({}) registered", spec.name),
        json!({ "cid": cid.to_string(), "name": spec.name, "inclusions": blocks.iter().map(inclusion_json).collect::<Vec<_>>() }),
    ))
}

/// `cloister new-community SPEC`.
pub async fn new_community(client: &NodeClient, out: &Output, spec: &Path, signer: &str) -> Result<(), CommandError> {
    out.report(create_community(client, spec, signer).await?);
    Ok(())
}

/// A public community as the parentchain records it.
#[derive(Debug, Clone)]
pub struct PublicCommunity {
    /// Its identifier.
    pub cid: CommunityIdentifier,
    /// Its metadata.
    pub metadata: CommunityMetadata,
    /// Its bootstrappers.
    pub bootstrappers: Vec<AccountId>,
    /// How many meetup locations it has.
    pub locations: usize,
}

/// Reads every public community.
pub async fn communities(client: &NodeClient) -> Result<Vec<PublicCommunity>, CommandError> {
    let p = "EncointerCommunities";
    let cids: Vec<CommunityIdentifier> =
        client.storage_or_default("CommunityIdentifiers", &value_key(p, "CommunityIdentifiers"), None).await?;
    let mut out = Vec::with_capacity(cids.len());
    for cid in cids {
        let metadata =
            client.storage_or_default("CommunityMetadata", &map_key(p, "CommunityMetadata", &cid), None).await?;
        let bootstrappers =
            client.storage_or_default("Bootstrappers", &map_key(p, "Bootstrappers", &cid), None).await?;
        let mut locations = 0;
        for key in client.storage_keys(&map_key(p, "Locations", &cid), None).await? {
            let cell: Vec<encointer_primitives::communities::Location> =
                client.storage_or_default("Locations", &key, None).await?;
            locations += cell.len();
        }
        out.push(PublicCommunity { cid, metadata, bootstrappers, locations });
    }
    Ok(out)
}

/// `cloister list-communities`.
pub async fn list_communities(client: &NodeClient, out: &Output) -> Result<(), CommandError> {
    let list = communities(client).await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let human = if list.is_empty() {
        "no communities".to_string()
    } else {
        list.iter()
            .map(|c| {
                format!(
                    "{} {} ({}) {} locations, {} bootstrappers",
                    c.cid,
                    text(&c.metadata.name),
                    text(&c.metadata.symbol),
                    c.locations,
                    c.bootstrappers.len()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let json = serde_json::Value::Array(
        list.iter()
            .map(|c| {
                json!({
                    "cid": c.cid.to_string(),
                    "name": text(&c.metadata.name),
                    "symbol": text(&c.metadata.symbol),
                    "locations": c.locations,
                    "bootstrappers": c.bootstrappers.iter().map(ss58).collect::<Vec<_>>(),
                })
            })
            .collect(),
    );
    out.print(human, json);
    Ok(())
}
