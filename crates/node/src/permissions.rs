//! The consortium's policy as the node enforces it off chain: READ at the RPC gateway and the
//! peer allowlist on p2p connections, both read from the Permissions pallet through its runtime
//! API (`PermissionsApi`). Transaction permissions need nothing here: the runtime's
//! `CheckPermissions` extension refuses them in the pool and on import.

use crate::client::{ChainEvent, Client, SharedClient, StateError};
use cloister_network::{NetworkHandle, PeerId};
use cloister_primitives::{AccountId, Hash};
use codec::Encode;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

impl Client {
    /// Whether the chain is restricted after block `at`.
    pub fn is_restricted(&self, at: &Hash) -> Result<bool, StateError> {
        self.call_decode(at, "PermissionsApi_is_restricted", &[])
    }

    /// The permission bits `who` effectively holds after block `at` (all but ADMIN on an open
    /// chain).
    pub fn permissions_of(&self, who: &AccountId, at: &Hash) -> Result<u8, StateError> {
        self.call_decode(at, "PermissionsApi_permissions", &who.encode())
    }

    /// The peers a restricted chain accepts, after block `at`; `None` on an open chain.
    pub fn allowlist(&self, at: &Hash) -> Result<Option<HashSet<PeerId>>, StateError> {
        if !self.is_restricted(at)? {
            return Ok(None);
        }
        let peers: Vec<Vec<u8>> = self.call_decode(at, "PermissionsApi_allowed_peers", &[])?;
        Ok(Some(peers.iter().filter_map(|bytes| PeerId::from_bytes(bytes).ok()).collect()))
    }
}

/// Answers the RPC gateway from the best block's state, cached per block.
pub struct RpcGate {
    client: SharedClient,
    cache: Mutex<GateCache>,
}

#[derive(Default)]
struct GateCache {
    at: Hash,
    restricted: Option<bool>,
    readers: HashMap<AccountId, bool>,
}

impl RpcGate {
    /// A gate over `client`.
    pub fn new(client: SharedClient) -> Self {
        Self { client, cache: Mutex::new(GateCache::default()) }
    }

    fn fresh_cache(&self) -> parking_lot::MutexGuard<'_, GateCache> {
        let best = self.client.info().best_hash;
        let mut cache = self.cache.lock();
        if cache.at != best {
            *cache = GateCache { at: best, ..Default::default() };
        }
        cache
    }
}

impl cloister_rpc::auth::Gatekeeper for RpcGate {
    fn restricted(&self) -> bool {
        let mut cache = self.fresh_cache();
        let at = cache.at;
        // Fail closed: a chain whose policy cannot be read is treated as restricted.
        *cache.restricted.get_or_insert_with(|| self.client.is_restricted(&at).unwrap_or(true))
    }

    fn genesis(&self) -> Hash {
        self.client.info().genesis_hash
    }

    fn may_read(&self, account: &AccountId) -> bool {
        let mut cache = self.fresh_cache();
        let at = cache.at;
        *cache.readers.entry(account.clone()).or_insert_with(|| {
            self.client.permissions_of(account, &at).is_ok_and(|bits| {
                pallet_cloister_permissions::Permissions(bits).has(pallet_cloister_permissions::Permissions::READ)
            })
        })
    }
}

/// The allowlist at the finalized block, for the network at start.
pub fn initial_allowlist(client: &Client) -> Option<HashSet<PeerId>> {
    let finalized = client.info().finalized_hash;
    match client.allowlist(&finalized) {
        Ok(list) => list,
        Err(e) => {
            // Fail closed: accept nobody until the policy can be read.
            warn!(target: "network", error = %e, "cannot read the peer allowlist; accepting no peers");
            Some(HashSet::new())
        }
    }
}

/// Keeps the network's allowlist equal to the one at the finalized block.
pub async fn follow_allowlist(client: SharedClient, network: NetworkHandle, mut current: Option<HashSet<PeerId>>) {
    let mut events = client.subscribe();
    loop {
        match events.recv().await {
            Ok(ChainEvent::Finalized { .. }) | Err(RecvError::Lagged(_)) => {}
            Ok(_) => continue,
            Err(RecvError::Closed) => return,
        }
        let client2 = client.clone();
        let Ok(list) = tokio::task::spawn_blocking(move || initial_allowlist(&client2)).await else { continue };
        if list != current {
            info!(
                target: "network",
                restricted = list.is_some(),
                peers = list.as_ref().map(HashSet::len).unwrap_or(0),
                "peer allowlist changed"
            );
            network.set_allowlist(list.clone());
            current = list;
        }
    }
}
