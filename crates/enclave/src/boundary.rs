//! The enclave boundary (ARCHITECTURE.md 6.1): two traits whose calls carry only SCALE-encoded
//! byte buffers.
//!
//! The host calls into the enclave through [`Ecalls::ecall`] with an [`EcallId`] and the SCALE
//! encoding of the request; the answer is the SCALE encoding of `Result<T, EnclaveError>`. The
//! enclave calls out through [`Ocalls::ocall`] the same way. Nothing else crosses: no pointers,
//! no shared types beyond bytes, so the same host code drives an SGX enclave later.
//! [`EnclaveClient`] is the host's typed view, encoding requests and decoding answers.

use crate::Mrenclave;
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
}

/// The calls out of the enclave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OcallId {
    /// The host's wall clock, in unix milliseconds. Answer: `u64`.
    Time,
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
}

/// Host → enclave.
pub trait Ecalls: Send + Sync {
    /// Runs `id` with the SCALE `request`; returns SCALE `Result<answer, EnclaveError>`.
    fn ecall(&self, id: EcallId, request: &[u8]) -> Vec<u8>;
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
}
