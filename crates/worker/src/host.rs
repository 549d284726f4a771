//! The host's services to the enclave (its OCALLs) and the enclave it runs.

use crate::block_store::BlockStore;
use cloister_enclave::{
    boundary::{EnclaveClient, OcallId, Ocalls},
    software::{measure_self, SoftwareEnclave},
};
use cloister_primitives::ShardId;
use codec::{Decode, Encode};
use std::{path::Path, sync::Arc};

/// What the host does for the enclave.
pub struct Host {
    /// The sidechain block store.
    pub blocks: Arc<BlockStore>,
}

impl Host {
    fn store_block(&self, request: &[u8]) -> Vec<u8> {
        self.blocks.store(request).map_err(|e| e.to_string()).encode()
    }

    fn fetch_blocks(&self, request: &[u8]) -> Vec<u8> {
        let Ok((shard, from, max)) = <(ShardId, u64, u32)>::decode(&mut &request[..]) else {
            return Vec::<Vec<u8>>::new().encode();
        };
        match self.blocks.fetch(&shard, from, max) {
            Ok(blocks) => blocks.encode(),
            Err(error) => {
                tracing::error!(target: "worker", %error, "reading the block store");
                Vec::<Vec<u8>>::new().encode()
            }
        }
    }
}

impl Ocalls for Host {
    fn ocall(&self, id: OcallId, request: &[u8]) -> Vec<u8> {
        match id {
            OcallId::Time => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
                .encode(),
            OcallId::StoreBlock => self.store_block(request),
            OcallId::FetchBlocks => self.fetch_blocks(request),
        }
    }
}

/// Why the enclave could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The executable cannot be measured.
    #[error("cannot measure the worker executable: {0}")]
    Measure(std::io::Error),
    /// The block store cannot be opened.
    #[error(transparent)]
    Store(#[from] crate::block_store::StoreError),
    /// The enclave refused to start (e.g. tampered sealed keys).
    #[error("enclave: {0}")]
    Enclave(#[from] cloister_enclave::boundary::CallError),
}

/// A started enclave and the host services behind it.
pub struct Started {
    /// The enclave.
    pub enclave: EnclaveClient<SoftwareEnclave>,
    /// The block store the enclave writes through the host.
    pub blocks: Arc<BlockStore>,
}

/// The software enclave of this executable, not yet initialised, with its sealed files in
/// `BASE/enclave` and the host's block store in `BASE/sidechain` behind it.
pub fn software_backend(base_path: &Path) -> Result<(SoftwareEnclave, Arc<BlockStore>), StartError> {
    let mrenclave = measure_self().map_err(StartError::Measure)?;
    let blocks = Arc::new(BlockStore::open(&base_path.join("sidechain"))?);
    let host = Arc::new(Host { blocks: blocks.clone() });
    Ok((SoftwareEnclave::new(mrenclave, base_path.join("enclave"), host), blocks))
}

/// Starts the software enclave of this executable (see [`software_backend`]).
pub fn start_enclave(base_path: &Path) -> Result<Started, StartError> {
    let (backend, blocks) = software_backend(base_path)?;
    let enclave = EnclaveClient::new(backend);
    enclave.init()?;
    Ok(Started { enclave, blocks })
}
