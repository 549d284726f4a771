//! The trusted side of a Cloister validateer (ARCHITECTURE.md section 6).
//!
//! ```text
//!   host (cloister-worker)                     enclave (this crate)
//!   EnclaveClient ── ecall(id, SCALE bytes) ──► Ecalls (SoftwareEnclave; SGX later)
//!        ▲                                          │ sealing (platform secret + MRENCLAVE)
//!        └──────── ocall(id, SCALE bytes) ◄──────── │ keys (ed25519 signing, HPKE shielding)
//! ```
//!
//! - [`boundary`]: the enclave boundary as two traits, [`boundary::Ecalls`] (host → enclave) and
//!   [`boundary::Ocalls`] (enclave → host), whose calls carry only SCALE-encoded byte buffers, so
//!   the boundary could be an SGX transition; and [`boundary::EnclaveClient`], the host's typed
//!   view of it.
//! - [`software`]: the software backend, in-process: MRENCLAVE from the worker executable,
//!   sealing key from the platform secret. It does not protect against root on the host.
//! - [`sealing`]: sealed files, AEAD with the file's purpose as associated data.
//! - [`keys`]: the signing and shielding keys.
//! - [`engine`]: the trusted engine every backend drives: shards, pools, sidechain blocks.
//! - [`direct`]: the direct-invocation JSON-RPC server whose TLS ends in the enclave.
//! - [`attest`]: the registration report and the RA-TLS evidence.
//! - [`parentchain`]: the parentchain through the light client: shieldings, shielded calls,
//!   payouts and anchors.
//! - [`pool`]: trusted calls waiting for a block, with their sealed journal.
//! - [`sidechain`]: sealing, encrypting and checking sidechain blocks.
//!
//! The enclave crate never depends on the worker (host) crate.

pub mod attest;
pub mod boundary;
pub mod chain;
pub mod direct;
pub mod engine;
pub mod keys;
pub mod mura;
pub mod parentchain;
pub mod pool;
pub mod sealing;
pub mod sidechain;
pub mod software;

pub use cloister_primitives::{Mrenclave, ShardId};
