//! `cloister-worker`: the host side of a Cloister validateer (ARCHITECTURE.md section 6).
//!
//! The host owns files, sockets and processes; everything secret happens behind the enclave
//! boundary (`cloister_enclave::boundary`), which the host reaches only through
//! [`EnclaveClient`](cloister_enclave::boundary::EnclaveClient). So far: the operator commands
//! that show who the enclave is (`mrenclave`) and its public keys (`shielding-key`,
//! `signing-key`), generated and sealed under `--base-path` on first use.

pub mod bench;
pub mod block_store;
pub mod ceremony_bench;
pub mod cli;
pub mod direct;
pub mod host;
pub mod metrics;
pub mod mura;
pub mod onboarding_bench;
pub mod parentchain;
pub mod peers;
pub mod service;
pub mod sync;
pub mod untrusted;
