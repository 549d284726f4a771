//! The parentchain light client that runs inside the enclave (ARCHITECTURE.md section 6.5).
//!
//! The enclave acts only on parentchain blocks it has proven final itself, from data an
//! untrusted host fetched from an untrusted node. This crate is that proof: pure functions and
//! one SCALE-encodable state ([`LightClient`]) the enclave seals; no networking and no clock.
//!
//! ```text
//!  host (cloister-worker::parentchain)                 enclave
//!  ───────────────────────────────────                 ───────────────────────────────────────────
//!  genesis header + read proof ─────────────────────►  LightClient::from_genesis
//!   (Aura::Authorities, Grandpa::Authorities,            trust anchor = genesis hash (pinned)
//!    Grandpa::CurrentSetId, SlotDuration)
//!
//!  run: Vec<BlockData>, ends at a justified block ──►  LightClient::sync
//!   header, extrinsics, justification?,                  per block, in order:
//!   events read proof                                     parent hash ─ extends the last one
//!                                                         Aura seal ── slot author of the set
//!                                                         extrinsics ─ extrinsics root
//!                                                         events ───── proof vs state root
//!                                                         digests ──── Aura / GRANDPA changes
//!                                                         justification ─ current GRANDPA set
//!                                                       then commit all, or nothing
//!                                               ◄─────  Vec<FinalizedBlock> (events verified)
//!  read proof of any keys at a finalized block ─────►  LightClient::verify_read_proof
//! ```
//!
//! Finality: a block is final only when it, or a later block of the same run, carries a GRANDPA
//! justification of the current set; a run must therefore end at a justified block
//! ([`LightClientError::NotFinal`] otherwise). Authority changes follow the runtime: an Aura
//! `AuthoritiesChange` digest switches the authoring set from the next block; a GRANDPA
//! `ScheduledChange` (always with delay 0 on this chain) must be justified by the old set in
//! its own block, after which set id + 1 finalizes. Verification happens on a working copy:
//! any error leaves the client exactly as it was.
//!
//! Main types: [`LightClient`], [`BlockData`] (what the host sends), [`FinalizedBlock`] (what
//! the enclave gets back), [`LightClientError`]; [`storage`] holds the keys and the proof
//! checks.

mod client;
mod digest;
mod error;
pub mod storage;

#[cfg(test)]
mod tests;

pub use client::{GrandpaSet, LightClient};
pub use error::{JustificationFault, LightClientError, ProofError};

use cloister_primitives::{BlockNumber, Hash, Header};
use codec::{Decode, Encode};

/// One parentchain block as the host fetched it, unverified.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct BlockData {
    /// The sealed header.
    pub header: Header,
    /// The extrinsics, each SCALE-encoded (with its length prefix) as in the block body.
    pub extrinsics: Vec<Vec<u8>>,
    /// The SCALE-encoded GRANDPA justification, if the node has one for this block.
    pub justification: Option<Vec<u8>>,
    /// Read-proof nodes of the `System::Events` key at this block.
    pub events_proof: Vec<Vec<u8>>,
}

/// A block the light client has proven final, with its verified body and events.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FinalizedBlock {
    /// Its number.
    pub number: BlockNumber,
    /// Its hash (of the sealed header).
    pub hash: Hash,
    /// Its sealed header.
    pub header: Header,
    /// Its extrinsics, matched against the extrinsics root.
    pub extrinsics: Vec<Vec<u8>>,
    /// The raw `System::Events` value at this block, proven against its state root; empty if
    /// the block has no events.
    pub events: Vec<u8>,
}
