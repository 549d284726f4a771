//! The host's services to the enclave (its OCALLs) and the enclave it runs.

use cloister_enclave::{
    boundary::{EnclaveClient, OcallId, Ocalls},
    software::{measure_self, SoftwareEnclave},
};
use codec::Encode;
use std::{path::Path, sync::Arc};

/// What the host does for the enclave.
pub struct Host;

impl Ocalls for Host {
    fn ocall(&self, id: OcallId, _request: &[u8]) -> Vec<u8> {
        match id {
            OcallId::Time => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
                .encode(),
        }
    }
}

/// Why the enclave could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The executable cannot be measured.
    #[error("cannot measure the worker executable: {0}")]
    Measure(std::io::Error),
    /// The enclave refused to start (e.g. tampered sealed keys).
    #[error("enclave: {0}")]
    Enclave(#[from] cloister_enclave::boundary::CallError),
}

/// Starts the software enclave of this executable with its sealed files in `BASE/enclave`.
pub fn start_enclave(base_path: &Path) -> Result<EnclaveClient<SoftwareEnclave>, StartError> {
    let mrenclave = measure_self().map_err(StartError::Measure)?;
    let enclave = EnclaveClient::new(SoftwareEnclave::new(mrenclave, base_path.join("enclave"), Arc::new(Host)));
    enclave.init()?;
    Ok(enclave)
}
