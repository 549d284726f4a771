//! The sidechain's state transition function (ARCHITECTURE.md 6.8).
//!
//! ```text
//!   TrustedOperation (signed by an account, bound to MRENCLAVE and shard)
//!        │ verify signature (once, on entry: VerifiedCall), then nonce            ParentchainEffect (shield, seen on L1)
//!        ▼                                               │
//!   ShardState::execute_block ── sidechain FRAME runtime (System, Balances, encointer) ──► StateDiff
//!        │                         over a trie in memory, root updated along changed keys only
//!        ▼
//!   outcomes per operation, new state root, the diff (what the block changed), L1 payouts
//! ```
//!
//! - [`ops`]: trusted calls and getters, their signing payloads and checks.
//! - [`runtime`]: the sidechain FRAME runtime, executed natively.
//! - [`state`]: a shard's state, its incremental Merkle root, diffs and snapshots.
//! - [`encointer`]: private Encointer communities: the phase mirror, making a community private,
//!   and the ceremony getters with their authorization.
//! - [`executor`]: applies a block's operations and parentchain effects; answers getters.
//!
//! The cost of a block is proportional to what it changes: the trie backend rehashes only the
//! paths of changed keys, and the diff is exactly the changed keys.

pub mod encointer;
pub mod executor;
pub mod ops;
pub mod runtime;
pub mod state;

pub use executor::{BlockInput, BlockOutput, OpOutcome, ParentchainEffect, Payout, StfError};
pub use ops::{
    SealedCall, TrustedCall, TrustedCallSigned, TrustedGetter, TrustedGetterSigned, TrustedOperation, VerifiedCall,
};
pub use state::{ShardState, StateDiff, StateError};
