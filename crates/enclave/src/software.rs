//! The software backend (ARCHITECTURE.md 6.2): the enclave runs in the worker's process.
//!
//! MRENCLAVE is the blake2-256 hash of the worker executable, so a changed build is another
//! enclave. Sealing uses a key derived from a platform secret file and the MRENCLAVE. This gives
//! the same code paths as SGX and integrity against other programs, but **no protection against
//! root on the host**, who can read the platform secret and the process memory; the backend says
//! so when it starts.

use crate::{
    boundary::{EcallId, Ecalls, EnclaveError, Ocalls},
    keys::EnclaveKeys,
    sealing::Sealer,
    Mrenclave,
};
use codec::{Decode, Encode};
use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
};

/// The blake2-256 hash of the file at `path` (the worker executable).
pub fn measure(path: &std::path::Path) -> std::io::Result<Mrenclave> {
    Ok(Mrenclave(sp_crypto_hashing::blake2_256(&std::fs::read(path)?)))
}

/// The MRENCLAVE of the running executable.
pub fn measure_self() -> std::io::Result<Mrenclave> {
    measure(&std::env::current_exe()?)
}

/// An enclave in this process.
pub struct SoftwareEnclave {
    mrenclave: Mrenclave,
    dir: PathBuf,
    /// Set once by `Init`; no lock on the paths after it.
    keys: OnceLock<EnclaveKeys>,
    _ocalls: Arc<dyn Ocalls>,
}

impl SoftwareEnclave {
    /// An enclave measured as `mrenclave`, sealing into `dir`, calling out through `ocalls`.
    pub fn new(mrenclave: Mrenclave, dir: PathBuf, ocalls: Arc<dyn Ocalls>) -> Self {
        tracing::warn!(
            target: "enclave",
            %mrenclave,
            "software enclave backend: integrity and SGX's code paths, but NO protection against root on this host"
        );
        Self { mrenclave, dir, keys: OnceLock::new(), _ocalls: ocalls }
    }

    fn answer<T: Encode>(result: Result<T, EnclaveError>) -> Vec<u8> {
        result.encode()
    }

    fn init(&self) -> Result<(), EnclaveError> {
        if self.keys.get().is_some() {
            return Ok(());
        }
        let sealer = Sealer::open(&self.dir, &self.mrenclave).map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        let keys = EnclaveKeys::load_or_generate(&sealer).map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        let _ = self.keys.set(keys);
        Ok(())
    }

    fn keys(&self) -> Result<&EnclaveKeys, EnclaveError> {
        self.keys.get().ok_or(EnclaveError::NotInitialised)
    }
}

impl Ecalls for SoftwareEnclave {
    fn ecall(&self, id: EcallId, request: &[u8]) -> Vec<u8> {
        // Every ECALL so far takes `()`; anything else is malformed.
        if <()>::decode(&mut &request[..]).is_err() || !request.is_empty() {
            return Self::answer::<()>(Err(EnclaveError::Malformed));
        }
        match id {
            EcallId::Init => Self::answer(self.init()),
            EcallId::GetMrenclave => Self::answer(Ok(self.mrenclave)),
            EcallId::GetShieldingPublicKey => Self::answer(self.keys().map(|k| k.shielding_public())),
            EcallId::GetSigningPublicKey => Self::answer(self.keys().map(|k| k.signing_public())),
        }
    }
}
