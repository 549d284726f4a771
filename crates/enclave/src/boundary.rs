//! The enclave boundary (ARCHITECTURE.md 6.1): two traits whose calls carry only SCALE-encoded
//! byte buffers.
//!
//! The host calls into the enclave through [`Ecalls::ecall`] with an [`EcallId`] and the SCALE
//! encoding of the request; the answer is the SCALE encoding of `Result<T, EnclaveError>`. The
//! enclave calls out through [`Ocalls::ocall`] the same way. Nothing else crosses: no pointers,
//! no shared types beyond bytes, so the same host code drives an SGX enclave later.
//! [`EnclaveClient`] is the host's typed view, encoding requests and decoding answers.

use crate::{
    engine::{AuthoredBlock, ImportOutcome, ShardInfo},
    mura::MuRaProgress,
    Mrenclave,
};
use cloister_primitives::{Hash, ShardId};
use codec::{Decode, Encode};

/// The calls into the enclave that exist so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum EcallId {
    /// Opens the sealed keys (generating them the first time). Request: `()`.
    Init,
    /// The enclave's measurement. Answer: [`Mrenclave`].
    GetMrenclave,
    /// The shielding (HPKE X25519) public key. Answer: `[u8; 32]`.
    GetShieldingPublicKey,
    /// The signing (ed25519) public key. Answer: `[u8; 32]`.
    GetSigningPublicKey,
    /// Opens or creates a shard, recovering it from its snapshot and the stored blocks.
    /// Request: `ShardId`. Answer: [`ShardInfo`].
    InitShard,
    /// A shard's head, state root and pool size. Request: `ShardId`. Answer: [`ShardInfo`].
    GetShardInfo,
    /// Accepts an encrypted trusted call. Request: `(ShardId, Vec<u8>)`. Answer: its hash.
    SubmitOperation,
    /// Authors a sidechain block if there is work. Request: `(ShardId, slot: u64,
    /// deadline_ms: u64)`. Answer: `Option<AuthoredBlock>`.
    AuthorBlock,
    /// Seals snapshots of every open shard. Request: `()`.
    Persist,
    /// Makes the RA-TLS identity and starts the direct RPC server. Request: `DirectConfig`.
    /// Answer: the certificate (DER).
    StartDirectRpc,
    /// A new TLS connection on the trusted port. Answer: its id (`u64`).
    TlsAccept,
    /// Ciphertext read from a connection. Request: `(u64, Vec<u8>)`. Answer: `(TlsOutput, bool)`:
    /// ciphertext to write, and whether the connection is closed.
    TlsData,
    /// What every connection has to send (status updates). Answer: `Vec<(u64, TlsOutput)>`.
    TlsFlush,
    /// The host closed a connection. Request: `u64`.
    TlsClose,
    /// Starts the light client. Request: `(ShardId, Header /* genesis */, Vec<Vec<u8>> /* proof
    /// of the genesis authority sets */)`. Answer: `(BlockNumber, Hash)`, the last finalized
    /// block known (from the shard's state if it holds one).
    InitParentchain,
    /// Verifies finalized parentchain blocks and acts on them. Request: `(ShardId,
    /// SyncRequest)`. Answer: `SyncOutcome` (with the extrinsics to submit).
    SyncParentchain,
    /// The extrinsics that register the enclave and join the shard. Request: `(ShardId,
    /// worker_url: Vec<u8>, nonce: u32)`. Answer: `Vec<Vec<u8>>`.
    Registration,
    /// Sidechain blocks from other validateers. Request: `(ShardId, Vec<Vec<u8>>)` (encoded
    /// `SignedSidechainBlock`s). Answer: `Vec<ImportOutcome>`, one per block.
    ImportBlocks,
    /// Encrypted calls clients sent here, to forward to the shard's other validateers.
    /// Request: `()`. Answer: `Vec<(ShardId, Vec<u8>)>`.
    TakeOutbox,
    /// Encrypted calls another validateer forwarded. Request: `(ShardId, Vec<Vec<u8>>)`.
    /// Answer: `u32`, how many were taken.
    ForwardedOperations,
    /// A peer's connection to the MU-RA server. Request: `()`. Answer: its id (`u64`).
    MuRaAccept,
    /// Ciphertext from a MU-RA server connection. Request: `(u64, Vec<u8>)`. Answer:
    /// `(Vec<u8>, bool)`: ciphertext to write, and whether the connection is closed.
    MuRaData,
    /// The host closed a MU-RA connection (either side). Request: `u64`.
    MuRaClose,
    /// Starts asking a validateer of the shard for its keys and state. Request: `ShardId`.
    /// Answer: `(u64, Vec<u8>)`: the connection and the ciphertext to send.
    MuRaConnect,
    /// Ciphertext from the provider. Request: `(u64, Vec<u8>)`. Answer: `(Vec<u8>,
    /// MuRaProgress)`.
    MuRaClientData,
}

/// The calls out of the enclave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OcallId {
    /// The host's wall clock, in unix milliseconds. Answer: `u64`.
    Time,
    /// Stores a sidechain block (SCALE `SignedSidechainBlock`) durably. Answer:
    /// `Result<(), String>`.
    StoreBlock,
    /// Stored blocks of a shard from a number on. Request: `(ShardId, from: u64, max: u32)`.
    /// Answer: `Vec<Vec<u8>>` (encoded blocks, in order).
    FetchBlocks,
}

/// An error the enclave reports across the boundary; it never carries protected data.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum EnclaveError {
    /// The request bytes do not decode.
    #[error("malformed request")]
    Malformed,
    /// The enclave was not initialised.
    #[error("the enclave is not initialised")]
    NotInitialised,
    /// Sealed data cannot be opened or written.
    #[error("sealed storage: {0}")]
    Sealing(String),
    /// The enclave does not hold this shard.
    #[error("unknown shard")]
    UnknownShard,
    /// The ciphertext does not open with this enclave's shielding key for this shard.
    #[error("the operation does not decrypt for this enclave and shard")]
    Undecryptable,
    /// The decrypted bytes are not a trusted operation of the expected kind.
    #[error("malformed trusted operation")]
    MalformedOperation,
    /// The operation was refused (bad signature, replayed nonce, ...); nothing was applied.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The host failed a service the enclave asked for.
    #[error("host: {0}")]
    Host(String),
    /// An internal failure of the enclave.
    #[error("internal: {0}")]
    Internal(String),
    /// The shard's state is older than the block anchored on the parentchain: the sealed state
    /// or the block store was rolled back.
    #[error(
        "sealed state rolled back: the parentchain anchors sidechain block {anchored}, the state holds block {local}"
    )]
    RolledBack {
        /// The anchored block number.
        anchored: u64,
        /// The local head.
        local: u64,
    },
}

/// Host → enclave.
pub trait Ecalls: Send + Sync {
    /// Runs `id` with the SCALE `request`; returns SCALE `Result<answer, EnclaveError>`.
    fn ecall(&self, id: EcallId, request: &[u8]) -> Vec<u8>;
}

/// A shared backend answers the same ECALLs (a tool may keep its own handle to it).
impl<E: Ecalls + ?Sized> Ecalls for std::sync::Arc<E> {
    fn ecall(&self, id: EcallId, request: &[u8]) -> Vec<u8> {
        (**self).ecall(id, request)
    }
}

/// Enclave → host.
pub trait Ocalls: Send + Sync {
    /// Runs `id` with the SCALE `request`; returns the SCALE answer.
    fn ocall(&self, id: OcallId, request: &[u8]) -> Vec<u8>;
}

/// Why a call across the boundary failed, as the host sees it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The enclave refused the call.
    #[error(transparent)]
    Enclave(#[from] EnclaveError),
    /// The answer does not decode: the enclave and host disagree on the boundary.
    #[error("undecodable answer to {0:?}")]
    Undecodable(EcallId),
}

/// Ciphertext a connection has to send. Two host threads may take a connection's output at once
/// (the one reading it, and the slot loop delivering statuses), so each non-empty output
/// carries its place in the connection's stream: the host writes them in `seq` order, or the
/// peer's TLS would see records out of order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct TlsOutput {
    /// Place in the connection's output stream: 0, 1, 2, … over the non-empty outputs.
    pub seq: u64,
    /// TLS records; empty when there is nothing to send (and `seq` then means nothing).
    pub bytes: Vec<u8>,
}

/// The host's typed view of an enclave.
pub struct EnclaveClient<E> {
    enclave: E,
}

impl<E: Ecalls> EnclaveClient<E> {
    /// Talks to `enclave`.
    pub fn new(enclave: E) -> Self {
        Self { enclave }
    }

    fn call<Req: Encode, T: Decode>(&self, id: EcallId, request: Req) -> Result<T, CallError> {
        let answer = self.enclave.ecall(id, &request.encode());
        let result = Result::<T, EnclaveError>::decode(&mut &answer[..]).map_err(|_| CallError::Undecodable(id))?;
        Ok(result?)
    }

    /// Initialises the enclave.
    pub fn init(&self) -> Result<(), CallError> {
        self.call(EcallId::Init, ())
    }

    /// The enclave's measurement.
    pub fn mrenclave(&self) -> Result<Mrenclave, CallError> {
        self.call(EcallId::GetMrenclave, ())
    }

    /// The shielding public key.
    pub fn shielding_public_key(&self) -> Result<[u8; 32], CallError> {
        self.call(EcallId::GetShieldingPublicKey, ())
    }

    /// The signing public key.
    pub fn signing_public_key(&self) -> Result<[u8; 32], CallError> {
        self.call(EcallId::GetSigningPublicKey, ())
    }

    /// Opens or creates `shard`.
    pub fn init_shard(&self, shard: ShardId) -> Result<ShardInfo, CallError> {
        self.call(EcallId::InitShard, shard)
    }

    /// What `shard` looks like.
    pub fn shard_info(&self, shard: ShardId) -> Result<ShardInfo, CallError> {
        self.call(EcallId::GetShardInfo, shard)
    }

    /// Submits an encrypted trusted call.
    pub fn submit(&self, shard: ShardId, ciphertext: Vec<u8>) -> Result<Hash, CallError> {
        self.call(EcallId::SubmitOperation, (shard, ciphertext))
    }

    /// Authors the block of `slot` if there is work.
    pub fn author_block(
        &self,
        shard: ShardId,
        slot: u64,
        deadline_ms: u64,
    ) -> Result<Option<AuthoredBlock>, CallError> {
        self.call(EcallId::AuthorBlock, (shard, slot, deadline_ms))
    }

    /// Seals snapshots of every open shard.
    pub fn persist(&self) -> Result<(), CallError> {
        self.call(EcallId::Persist, ())
    }

    /// Starts the direct RPC server; returns its certificate.
    pub fn start_direct_rpc(&self, config: crate::direct::DirectConfig) -> Result<Vec<u8>, CallError> {
        self.call(EcallId::StartDirectRpc, config)
    }

    /// Opens a TLS connection.
    pub fn tls_accept(&self) -> Result<u64, CallError> {
        self.call(EcallId::TlsAccept, ())
    }

    /// Feeds ciphertext read from `conn`.
    pub fn tls_data(&self, conn: u64, bytes: Vec<u8>) -> Result<(TlsOutput, bool), CallError> {
        self.call(EcallId::TlsData, (conn, bytes))
    }

    /// Collects what connections have to send.
    pub fn tls_flush(&self) -> Result<Vec<(u64, TlsOutput)>, CallError> {
        self.call(EcallId::TlsFlush, ())
    }

    /// Starts the light client.
    pub fn init_parentchain(
        &self,
        shard: ShardId,
        genesis: cloister_primitives::Header,
        proof: Vec<Vec<u8>>,
    ) -> Result<(cloister_primitives::BlockNumber, Hash), CallError> {
        self.call(EcallId::InitParentchain, (shard, genesis, proof))
    }

    /// Verifies a run of finalized parentchain blocks.
    pub fn sync_parentchain(
        &self,
        shard: ShardId,
        request: crate::parentchain::SyncRequest,
    ) -> Result<crate::parentchain::SyncOutcome, CallError> {
        self.call(EcallId::SyncParentchain, (shard, request))
    }

    /// The registration extrinsics.
    pub fn registration(&self, shard: ShardId, worker_url: Vec<u8>, nonce: u32) -> Result<Vec<Vec<u8>>, CallError> {
        self.call(EcallId::Registration, (shard, worker_url, nonce))
    }

    /// Forgets a closed connection.
    pub fn tls_close(&self, conn: u64) -> Result<(), CallError> {
        self.call(EcallId::TlsClose, conn)
    }

    /// Imports blocks from other validateers.
    pub fn import_blocks(&self, shard: ShardId, blocks: Vec<Vec<u8>>) -> Result<Vec<ImportOutcome>, CallError> {
        self.call(EcallId::ImportBlocks, (shard, blocks))
    }

    /// Calls to forward to the other validateers.
    pub fn take_outbox(&self) -> Result<Vec<(ShardId, Vec<u8>)>, CallError> {
        self.call(EcallId::TakeOutbox, ())
    }

    /// Calls other validateers forwarded.
    pub fn forwarded_operations(&self, shard: ShardId, ciphertexts: Vec<Vec<u8>>) -> Result<u32, CallError> {
        self.call(EcallId::ForwardedOperations, (shard, ciphertexts))
    }

    /// A peer's connection to the MU-RA server.
    pub fn mu_ra_accept(&self) -> Result<u64, CallError> {
        self.call(EcallId::MuRaAccept, ())
    }

    /// Ciphertext from a MU-RA server connection.
    pub fn mu_ra_data(&self, conn: u64, bytes: Vec<u8>) -> Result<(Vec<u8>, bool), CallError> {
        self.call(EcallId::MuRaData, (conn, bytes))
    }

    /// Forgets a MU-RA connection.
    pub fn mu_ra_close(&self, conn: u64) -> Result<(), CallError> {
        self.call(EcallId::MuRaClose, conn)
    }

    /// Starts asking a validateer of `shard` for its keys and state.
    pub fn mu_ra_connect(&self, shard: ShardId) -> Result<(u64, Vec<u8>), CallError> {
        self.call(EcallId::MuRaConnect, shard)
    }

    /// Ciphertext from the provider.
    pub fn mu_ra_client_data(&self, conn: u64, bytes: Vec<u8>) -> Result<(Vec<u8>, MuRaProgress), CallError> {
        self.call(EcallId::MuRaClientData, (conn, bytes))
    }
}
