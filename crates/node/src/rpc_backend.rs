//! The node's side of its RPC: [`NodeBackend`] over the client and the pool.

use crate::{client::SharedClient, pool::Pool};
use cloister_primitives::{AccountId, BlockNumber, Hash, Header, OpaqueBlock};
use cloister_rpc::node::{ChainEvent, ChainHeads, NodeBackend, PeerInfo, SubmitError, SystemInfo, TransactionStatus};
use sp_runtime::{generic::SignedBlock, transaction_validity::TransactionSource};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Serves the RPC from the chain and the pool.
pub struct RpcBackend {
    /// The chain.
    pub client: SharedClient,
    /// The pool.
    pub pool: Arc<Pool>,
    /// Static facts for `system_*`.
    pub system: SystemInfo,
    /// The network, if any: transactions accepted here are gossiped to the peers.
    pub network: Option<cloister_network::NetworkHandle>,
    /// Whether the node is syncing from a peer.
    pub syncing: Arc<std::sync::atomic::AtomicBool>,
    /// Whether this node authors blocks (its role in `system_peers` of others is not known).
    pub is_authority: bool,
    /// The GRANDPA voter.
    pub finality: Option<crate::finality::Finality>,
}

impl RpcBackend {
    fn gossip(&self, extrinsic: &[u8]) {
        if let Some(network) = &self.network {
            network.gossip_transaction(extrinsic.to_vec());
        }
    }
}

impl NodeBackend for RpcBackend {
    fn heads(&self) -> ChainHeads {
        let i = self.client.info();
        ChainHeads {
            genesis_hash: i.genesis_hash,
            best_hash: i.best_hash,
            best_number: i.best_number,
            finalized_hash: i.finalized_hash,
            finalized_number: i.finalized_number,
        }
    }

    fn header(&self, hash: Hash) -> Result<Option<Header>, String> {
        self.client.header(&hash).map_err(|e| e.to_string())
    }

    fn block(&self, hash: Hash) -> Result<Option<SignedBlock<OpaqueBlock>>, String> {
        self.client.block(&hash).map_err(|e| e.to_string())
    }

    fn block_hash(&self, number: BlockNumber) -> Result<Option<Hash>, String> {
        self.client.hash(number).map_err(|e| e.to_string())
    }

    fn call(&self, at: Hash, method: &str, data: &[u8]) -> Result<Vec<u8>, String> {
        self.client.call(&at, method, data).map_err(|e| e.to_string())
    }

    fn storage(&self, at: Hash, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.client.storage(&at, key).map_err(|e| e.to_string())
    }

    fn storage_keys(
        &self,
        at: Hash,
        prefix: &[u8],
        count: usize,
        start: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, String> {
        self.client.storage_keys(&at, prefix, count, start).map_err(|e| e.to_string())
    }

    fn read_proof(&self, at: Hash, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        self.client.read_proof(&at, keys).map_err(|e| e.to_string())
    }

    fn submit(&self, extrinsic: Vec<u8>) -> Result<Hash, SubmitError> {
        let hash = self.pool.submit(extrinsic.clone(), TransactionSource::External)?;
        self.gossip(&extrinsic);
        Ok(hash)
    }

    fn submit_and_watch(
        &self,
        extrinsic: Vec<u8>,
    ) -> Result<(Hash, mpsc::UnboundedReceiver<TransactionStatus>), SubmitError> {
        let watched = self.pool.submit_and_watch(extrinsic.clone())?;
        self.gossip(&extrinsic);
        Ok(watched)
    }

    fn pending(&self) -> Vec<Vec<u8>> {
        self.pool.pending()
    }

    fn next_nonce(&self, who: &AccountId) -> Result<u32, SubmitError> {
        self.pool.next_nonce(who)
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.client.subscribe()
    }

    fn system(&self) -> SystemInfo {
        self.system.clone()
    }

    fn peers(&self) -> Vec<PeerInfo> {
        let Some(network) = &self.network else { return Vec::new() };
        network
            .peers()
            .into_iter()
            .map(|p| PeerInfo {
                peer_id: p.peer_id.to_string(),
                roles: "FULL".into(),
                best_hash: p.status.map(|s| s.best_hash).unwrap_or_default(),
                best_number: p.status.map(|s| s.best_number).unwrap_or_default(),
            })
            .collect()
    }

    fn is_syncing(&self) -> bool {
        self.syncing.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn grandpa_round_state(&self) -> Option<serde_json::Value> {
        self.finality.as_ref().and_then(|f| f.round_state())
    }

    fn justification(&self, hash: Hash) -> Result<Option<Vec<u8>>, String> {
        self.client.justification(&hash).map_err(|e| e.to_string())
    }
}
