//! `cloister`: the command line of Cloister's users, operators and community managers.
//!
//! - [`chain`]: parentchain commands (balances, transfers, ceremony schedule, public
//!   communities), signed with the runtime's own types ([`rpc_client`], [`signer`]);
//! - [`authorities`]: the Aura and GRANDPA authority set and changing it;
//! - [`community`]: community specs in JSON or TOML;
//! - [`enclaves`]: the enclaves (validateers) registered on the parentchain;
//! - [`permissions`]: the consortium's policy (READ, TRANSACT, CREATE, ADMIN, allowlist);
//! - [`private_community`]: `cloister trusted` commands of private Encointer communities;
//! - [`dev`]: a whole development network in one command;
//! - [`demo`]: the private-community demo on a fresh dev network, step by step;
//! - [`deploy`]: a consortium's deployment bundle (keys, chain spec, configs, compose, systemd);
//! - [`netctl`]: a bundle's nodes run as local processes (`network up|down|status`);
//! - [`bench`]: benchmarks that print figures against a same-run baseline;
//! - [`bench_sidechain`]: trusted transfers per second of a shard with one validateer and several;
//! - [`cli`]: the clap command line that dispatches to them.

pub mod authorities;
pub mod bench;
pub mod bench_sidechain;
pub mod chain;
pub mod cli;
pub mod community;
pub mod demo;
pub mod deploy;
pub mod dev;
pub mod enclaves;
pub mod netctl;
pub mod output;
pub mod permissions;
pub mod private_community;
pub mod rpc_client;
pub mod signer;
pub mod trusted;
