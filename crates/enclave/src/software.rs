//! The software backend (ARCHITECTURE.md 6.2): the enclave runs in the worker's process.
//!
//! MRENCLAVE is the blake2-256 hash of the worker executable, so a changed build is another
//! enclave. Sealing uses a key derived from a platform secret file and the MRENCLAVE. This gives
//! the same code paths as SGX and integrity against other programs, but **no protection against
//! root on the host**, who can read the platform secret and the process memory; the backend says
//! so when it starts.

use crate::{
    boundary::{EcallId, Ecalls, EnclaveError, Ocalls},
    direct::{DirectConfig, DirectRpc},
    engine::Engine,
    keys::EnclaveKeys,
    mura::MuRa,
    sealing::Sealer,
    Mrenclave,
};
use cloister_primitives::ShardId;
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
    /// Set once by `Init`.
    engine: OnceLock<Engine>,
    /// Set once by `StartDirectRpc`.
    direct: OnceLock<DirectRpc>,
    /// Made at the first MU-RA call.
    mura: OnceLock<MuRa>,
    ocalls: Arc<dyn Ocalls>,
}

fn decode<T: Decode>(request: &[u8]) -> Result<T, EnclaveError> {
    let mut input = request;
    let value = T::decode(&mut input).map_err(|_| EnclaveError::Malformed)?;
    if !input.is_empty() {
        return Err(EnclaveError::Malformed);
    }
    Ok(value)
}

impl SoftwareEnclave {
    /// An enclave measured as `mrenclave`, sealing into `dir`, calling out through `ocalls`.
    pub fn new(mrenclave: Mrenclave, dir: PathBuf, ocalls: Arc<dyn Ocalls>) -> Self {
        tracing::warn!(
            target: "enclave",
            %mrenclave,
            "software enclave backend: integrity and SGX's code paths, but NO protection against root on this host"
        );
        Self { mrenclave, dir, engine: OnceLock::new(), direct: OnceLock::new(), mura: OnceLock::new(), ocalls }
    }

    fn init(&self) -> Result<(), EnclaveError> {
        if self.engine.get().is_some() {
            return Ok(());
        }
        let sealer = Sealer::open(&self.dir, &self.mrenclave).map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        let keys = EnclaveKeys::load_or_generate(&sealer).map_err(|e| EnclaveError::Sealing(e.to_string()))?;
        let _ = self.engine.set(Engine::new(self.mrenclave, sealer, keys, self.ocalls.clone()));
        Ok(())
    }

    /// The engine, for in-process tools on the software backend only: the transfer benchmark
    /// (`cloister-worker bench transfers`) funds a shard with it as parentchain shieldings
    /// would, since it runs without a parentchain. The host never uses it (it reaches the
    /// enclave through ECALLs only), and an SGX backend has no such accessor. `None` before
    /// `Init`.
    #[doc(hidden)]
    pub fn engine_for_tools(&self) -> Option<&Engine> {
        self.engine.get()
    }

    fn engine(&self) -> Result<&Engine, EnclaveError> {
        self.engine.get().ok_or(EnclaveError::NotInitialised)
    }

    fn direct(&self) -> Result<&DirectRpc, EnclaveError> {
        self.direct.get().ok_or_else(|| EnclaveError::Rejected("the direct RPC server is not started".into()))
    }

    fn mura(&self) -> Result<&MuRa, EnclaveError> {
        if let Some(mura) = self.mura.get() {
            return Ok(mura);
        }
        let made = MuRa::new(self.engine()?)?;
        let _ = self.mura.set(made);
        self.mura.get().ok_or_else(|| EnclaveError::Internal("MU-RA identity".into()))
    }

    fn start_direct(&self, config: DirectConfig) -> Result<Vec<u8>, EnclaveError> {
        let engine = self.engine()?;
        if let Some(_running) = self.direct.get() {
            return Err(EnclaveError::Rejected("the direct RPC server is already started".into()));
        }
        let identity = cloister_ratls::generate_identity(|binding| engine.tls_evidence(binding))
            .map_err(|e| EnclaveError::Internal(e.to_string()))?;
        let certificate = identity.certificate_der().to_vec();
        let _ = self.direct.set(DirectRpc::new(&identity, config)?);
        Ok(certificate)
    }

    fn dispatch(&self, id: EcallId, request: &[u8]) -> Result<Vec<u8>, EnclaveError> {
        Ok(match id {
            EcallId::Init => {
                decode::<()>(request)?;
                self.init()?.encode()
            }
            EcallId::GetMrenclave => {
                decode::<()>(request)?;
                self.mrenclave.encode()
            }
            EcallId::GetShieldingPublicKey => {
                decode::<()>(request)?;
                self.engine()?.keys().shielding_public().encode()
            }
            EcallId::GetSigningPublicKey => {
                decode::<()>(request)?;
                self.engine()?.keys().signing_public().encode()
            }
            EcallId::InitShard => self.engine()?.init_shard(decode::<ShardId>(request)?)?.encode(),
            EcallId::GetShardInfo => self.engine()?.shard_info(&decode::<ShardId>(request)?)?.encode(),
            EcallId::SubmitOperation => {
                let (shard, ciphertext) = decode::<(ShardId, Vec<u8>)>(request)?;
                self.engine()?.submit(&shard, &ciphertext)?.encode()
            }
            EcallId::AuthorBlock => {
                let (shard, slot, deadline) = decode::<(ShardId, u64, u64)>(request)?;
                self.engine()?.author(&shard, slot, deadline)?.encode()
            }
            EcallId::Persist => {
                decode::<()>(request)?;
                self.engine()?.persist()?.encode()
            }
            EcallId::StartDirectRpc => self.start_direct(decode::<DirectConfig>(request)?)?.encode(),
            EcallId::TlsAccept => {
                decode::<()>(request)?;
                self.direct()?.accept()?.encode()
            }
            EcallId::TlsData => {
                let (conn, bytes) = decode::<(u64, Vec<u8>)>(request)?;
                self.direct()?.data(self.engine()?, conn, &bytes)?.encode()
            }
            EcallId::TlsFlush => {
                decode::<()>(request)?;
                self.direct()?.flush(self.engine()?).encode()
            }
            EcallId::InitParentchain => {
                let (shard, genesis, proof) = decode::<(ShardId, cloister_primitives::Header, Vec<Vec<u8>>)>(request)?;
                self.engine()?.init_parentchain(&shard, genesis, proof)?.encode()
            }
            EcallId::SyncParentchain => {
                let (shard, sync) = decode::<(ShardId, crate::parentchain::SyncRequest)>(request)?;
                self.engine()?.sync_parentchain(&shard, sync)?.encode()
            }
            EcallId::Registration => {
                let (shard, url, nonce) = decode::<(ShardId, Vec<u8>, u32)>(request)?;
                self.engine()?.registration(&shard, url, nonce)?.encode()
            }
            EcallId::TlsClose => {
                self.direct()?.close(decode::<u64>(request)?);
                ().encode()
            }
            EcallId::ImportBlocks => {
                let (shard, blocks) = decode::<(ShardId, Vec<Vec<u8>>)>(request)?;
                self.engine()?.import_blocks(&shard, &blocks)?.encode()
            }
            EcallId::TakeOutbox => {
                decode::<()>(request)?;
                self.engine()?.take_outbox().encode()
            }
            EcallId::ForwardedOperations => {
                let (shard, ciphertexts) = decode::<(ShardId, Vec<Vec<u8>>)>(request)?;
                self.engine()?.accept_forwarded(&shard, &ciphertexts)?.encode()
            }
            EcallId::MuRaAccept => {
                decode::<()>(request)?;
                self.mura()?.accept(self.engine()?)?.encode()
            }
            EcallId::MuRaData => {
                let (conn, bytes) = decode::<(u64, Vec<u8>)>(request)?;
                self.mura()?.server_data(self.engine()?, conn, &bytes)?.encode()
            }
            EcallId::MuRaClose => {
                self.mura()?.close(decode::<u64>(request)?);
                ().encode()
            }
            EcallId::MuRaConnect => {
                let shard = decode::<ShardId>(request)?;
                self.mura()?.connect(self.engine()?, shard)?.encode()
            }
            EcallId::MuRaClientData => {
                let (conn, bytes) = decode::<(u64, Vec<u8>)>(request)?;
                self.mura()?.client_data(self.engine()?, conn, &bytes)?.encode()
            }
        })
    }
}

impl Ecalls for SoftwareEnclave {
    fn ecall(&self, id: EcallId, request: &[u8]) -> Vec<u8> {
        // The answer is `Result<T, EnclaveError>`: `Ok` is the byte 0 followed by T.
        match self.dispatch(id, request) {
            Ok(answer) => [&[0u8][..], &answer].concat(),
            Err(error) => Err::<(), _>(error).encode(),
        }
    }
}
