//! The host's parentchain duties: feeding the enclave's light client and submitting what the
//! enclave signed.
//!
//! At start-up the host hands the genesis header to the enclave (whose light client may already
//! be further, from its sealed shard state), funds the enclave's account from //Alice on a dev
//! chain, submits the registration the enclave signed and syncs until the enclave has seen the
//! latest finalized block: only then has the enclave compared its state with the block anchored
//! on the parentchain, and only then does the worker serve. Afterwards it syncs every half
//! second.

use crate::{metrics::WorkerMetrics, parentchain::ParentchainRpc};
use cloister_enclave::{
    boundary::{CallError, EnclaveClient, EnclaveError},
    parentchain::{sync_keys, SyncRequest},
    software::SoftwareEnclave,
};
use cloister_primitives::{AccountId, BlockNumber, ShardId, UNIT};
use std::{sync::Arc, time::Duration};

/// Longest run of parentchain blocks in one sync.
const MAX_RUN: u32 = 256;
/// What a dev enclave account is funded with.
const DEV_FUNDING: u128 = 1_000 * UNIT;

/// Why syncing the parentchain failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The node failed or refused a request.
    #[error("parentchain node: {0}")]
    Node(#[from] crate::parentchain::ParentchainError),
    /// The enclave refused what the node served.
    #[error("enclave: {0}")]
    Enclave(#[from] CallError),
    /// The registration did not go through.
    #[error("{0}")]
    Registration(String),
}

/// A few hundred milliseconds of jitter, so that validateers started together do not retry in
/// step.
fn rand_jitter() -> u16 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 300)
        as u16
}

impl SyncError {
    /// Whether the parentchain anchors a sidechain block this enclave does not hold: its sealed
    /// state was rolled back, or (with other validateers) it is behind and must catch up.
    pub fn is_behind_anchor(&self) -> bool {
        matches!(self, Self::Enclave(CallError::Enclave(EnclaveError::RolledBack { .. })))
    }
}

/// The host side of the parentchain.
pub struct ParentchainSync {
    rpc: ParentchainRpc,
    enclave: Arc<EnclaveClient<SoftwareEnclave>>,
    shard: ShardId,
    me: AccountId,
    synced: BlockNumber,
    metrics: WorkerMetrics,
}

impl ParentchainSync {
    /// Connects to the node (retrying for a minute) and starts the enclave's light client.
    pub async fn start(
        node_url: &str,
        enclave: Arc<EnclaveClient<SoftwareEnclave>>,
        shard: ShardId,
        metrics: WorkerMetrics,
    ) -> Result<Self, SyncError> {
        let mut attempt = 0;
        let rpc = loop {
            match ParentchainRpc::connect(node_url).await {
                Ok(rpc) => break rpc,
                Err(error) if attempt < 60 => {
                    attempt += 1;
                    tracing::info!(target: "worker", %error, node_url, "waiting for the parentchain node");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let (genesis, proof) = rpc.genesis().await?;
        let (synced, _) = enclave.init_parentchain(shard, genesis, proof)?;
        let me = AccountId::from(enclave.signing_public_key()?);
        Ok(Self { rpc, enclave, shard, me, synced, metrics })
    }

    /// The node's RPC.
    pub fn rpc(&self) -> &ParentchainRpc {
        &self.rpc
    }

    /// Continues from parentchain block `number` (the enclave's light client started again
    /// there, after the shard's state was replaced).
    pub fn restart_from(&mut self, number: BlockNumber) {
        self.synced = number;
    }

    /// Funds the enclave's account from //Alice (dev chains).
    pub async fn fund_from_alice(&self) -> Result<(), SyncError> {
        let alice = sp_keyring::Sr25519Keyring::Alice;
        let (number, hash) = self.rpc.finalized_head().await?;
        let ctx = cloister_runtime::extrinsic::SigningContext {
            genesis: self.rpc.block_hash(0).await?,
            spec_version: cloister_runtime::VERSION.spec_version,
            transaction_version: cloister_runtime::VERSION.transaction_version,
            checkpoint: (number, hash),
        };
        // Other dev validateers may fund theirs from //Alice at the same moment, with the same
        // nonce: the loser tries again with the next one.
        for attempt in 0..40u32 {
            let nonce = self.rpc.account_nonce(&alice.to_account_id()).await?;
            let call = cloister_runtime::RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
                dest: self.me.clone().into(),
                value: DEV_FUNDING,
            });
            let xt = cloister_runtime::extrinsic::signed(call, &alice.pair(), nonce, 0, &ctx);
            match self.rpc.submit_extrinsic(codec::Encode::encode(&xt)).await {
                Ok(_) => {
                    tracing::info!(target: "worker", account = %self.me, "dev: funded the enclave's account from //Alice");
                    return Ok(());
                }
                Err(error) if attempt < 39 => {
                    tracing::debug!(target: "worker", %error, "dev funding not accepted; trying again");
                    tokio::time::sleep(Duration::from_millis(150 + u64::from(rand_jitter()))).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Submits the registration the enclave signs, retrying while the account cannot pay yet.
    pub async fn register(&self, worker_url: &str) -> Result<(), SyncError> {
        for attempt in 0..1200u32 {
            let nonce = self.rpc.account_nonce(&self.me).await?;
            let extrinsics = self.enclave.registration(self.shard, worker_url.as_bytes().to_vec(), nonce)?;
            let mut refused = None;
            for xt in extrinsics {
                if let Err(error) = self.rpc.submit_extrinsic(xt).await {
                    refused = Some(error);
                    break;
                }
            }
            match refused {
                None => {
                    tracing::info!(target: "worker", account = %self.me, worker_url, "registration submitted");
                    return self.wait_registered().await;
                }
                Some(error) => {
                    if attempt % 20 == 0 {
                        tracing::info!(
                            target: "worker",
                            account = %self.me,
                            %error,
                            "registration not accepted yet: the enclave's account must hold funds for fees (and CREATE on a restricted chain)"
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        Err(SyncError::Registration(
            "the node kept refusing the registration (is the enclave's account funded?)".into(),
        ))
    }

    /// Waits until a finalized block lists the enclave among the shard's validateers, so that
    /// "ready" means clients can shield into the shard.
    async fn wait_registered(&self) -> Result<(), SyncError> {
        let key =
            cloister_light_client::storage::blake2_128_concat_key("EnclaveRegistry", "ShardValidateers", &self.shard);
        for _ in 0..600 {
            let (_, finalized) = self.rpc.finalized_head().await?;
            let set = self.rpc.storage(&key, finalized).await?.unwrap_or_default();
            let set = <Vec<AccountId> as codec::Decode>::decode(&mut &set[..]).unwrap_or_default();
            if set.contains(&self.me) {
                tracing::info!(target: "worker", account = %self.me, "registered: a validateer of the shard in a finalized block");
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(SyncError::Registration("the registration did not reach a finalized block in 2 minutes".into()))
    }

    /// Syncs one run if there is one; returns whether the enclave moved.
    pub async fn step(&mut self) -> Result<bool, SyncError> {
        let Some(blocks) = self.rpc.fetch_next_run(self.synced, MAX_RUN).await? else { return Ok(false) };
        let Some(last) = blocks.last().map(|b| b.header.hash()) else { return Ok(false) };
        let proof = self.rpc.read_proof(&sync_keys(&self.me, &self.shard), last).await?;
        let outcome = self.enclave.sync_parentchain(self.shard, SyncRequest { blocks, proof })?;
        self.synced = outcome.synced.0;
        self.metrics.parentchain_synced.set(self.synced as i64);
        for xt in outcome.extrinsics {
            if let Err(error) = self.rpc.submit_extrinsic(xt).await {
                // A duplicate of one still waiting in the pool, most often; it is sent again.
                tracing::debug!(target: "worker", %error, "extrinsic not accepted");
            }
        }
        Ok(true)
    }

    /// Syncs until the enclave has seen the node's finalized head.
    pub async fn catch_up(&mut self) -> Result<(), SyncError> {
        loop {
            let (finalized, _) = self.rpc.finalized_head().await?;
            if !self.step().await? || self.synced >= finalized {
                return Ok(());
            }
        }
    }
}
