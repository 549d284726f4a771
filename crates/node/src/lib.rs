//! `cloister-node`: the parentchain node of a Cloister consortium.
//!
//! ```text
//!  RPC (jsonrpsee) ──► rpc_backend ──► pool ──► authoring ──► builder ─┐
//!         ▲                              │ (validate via runtime)      │ execute natively
//!         │                              ▼                             ▼
//!    chain events ◄──────────────── client ◄── import ◄────────── executor (sp_state_machine)
//!                                      │                               │
//!                           journal ◄──┴──► db (parity-db: blocks, trie nodes, heads)
//! ```
//!
//! - [`client::Client`] owns the chain: import (Aura seal, execution, inherents), best chain,
//!   finalization with GRANDPA justifications, state queries, read proofs.
//! - [`executor`] runs the native FRAME runtime over a trie state in parity-db ([`db`]).
//! - [`pool::Pool`] holds extrinsics validated by the runtime, ordered by their tags.
//! - [`authoring`] builds and seals a block in each slot this node owns ([`builder`]).
//! - [`finality`] runs the GRANDPA voter (`finality-grandpa`) of the current authority set.
//! - [`permissions`] enforces READ at the RPC gateway and the peer allowlist.
//! - [`network`] syncs from peers, imports gossiped blocks and routes gossip to pool and voter.
//! - [`journal`] makes every accepted block and extrinsic survive a crash.
//! - [`service::start`] assembles them with the RPC server and Prometheus [`metrics`].
//!
//! The runtime is compiled in: there is no WASM and no runtime upgrade path other than a new
//! node binary.

pub mod authoring;
pub mod builder;
pub mod chain_spec;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod executor;
pub mod finality;
pub mod journal;
pub mod keystore;
pub mod metrics;
pub mod network;
pub mod permissions;
pub mod pool;
pub mod rpc_backend;
pub mod service;

pub use config::NodeConfig;
pub use service::{start, Node, NodeError};
