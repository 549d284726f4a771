//! Cloister's peer-to-peer layer.
//!
//! One libp2p swarm per node (TCP, Noise, Yamux) speaks these protocols, all namespaced by the
//! chain id so that nodes of different chains ignore each other:
//!
//! - gossipsub topics for block announcements, transactions and GRANDPA messages: the node
//!   hands opaque SCALE bytes in and gets them back out as [`NetworkEvent`]s;
//! - a request-response protocol for sync ([`SyncRequest`]/[`SyncResponse`]): peer status
//!   (best and finalized block) and runs of blocks by number, which a node that was down or is
//!   new uses to catch up;
//! - identify and ping, to learn listen addresses and notice dead connections;
//! - an allowlist of peer ids enforced on both ends of every connection, for permissioned chains.
//!
//! [`NetworkService::start`] spawns the swarm task and returns a [`NetworkHandle`] to command it
//! and a receiver of [`NetworkEvent`]s. Inbound sync requests are answered by a
//! [`SyncProvider`] the node supplies. The peer identity ([`key`]) is an ed25519 key separate
//! from any authority key.

pub mod config;
pub mod key;
pub mod protocol;
mod service;

pub use config::{parse_addr, parse_peer_addr, peer_of, tcp_addr, AddrError, NetworkConfig};
pub use key::{generate_node_key, load_or_generate_node_key, peer_id, read_node_key, NodeKeyError};
pub use libp2p::{identity::Keypair, Multiaddr, PeerId};
pub use protocol::{PeerStatus, SyncRequest, SyncResponse, MAX_BLOCKS_PER_RESPONSE};
pub use service::{NetworkError, NetworkEvent, NetworkHandle, NetworkService, PeerInfo, SyncProvider};
