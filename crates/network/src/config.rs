//! How a node joins the network: listen addresses, identity, boot and reserved peers.

use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr, PeerId};
use std::time::Duration;

/// The network configuration of a node.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// The node's peer identity.
    pub keypair: Keypair,
    /// Addresses to listen on (`/ip4/0.0.0.0/tcp/30333` by default).
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers to dial at start and whenever the node has no peers; each ends in `/p2p/<peer id>`.
    pub bootnodes: Vec<Multiaddr>,
    /// Peers to keep connected to; each ends in `/p2p/<peer id>`.
    pub reserved_nodes: Vec<Multiaddr>,
    /// Accept and dial only reserved nodes.
    pub reserved_only: bool,
    /// Identifies the chain in protocol names; peers of other chains do not understand us.
    pub chain_id: String,
    /// How often peers are asked for their status (drives catch-up sync).
    pub status_interval: Duration,
}

impl NetworkConfig {
    /// A configuration listening on all interfaces at `port`, with a fresh identity.
    pub fn new(chain_id: impl Into<String>, port: u16) -> Self {
        Self {
            keypair: Keypair::generate_ed25519(),
            listen_addrs: vec![tcp_addr([0, 0, 0, 0], port)],
            bootnodes: Vec::new(),
            reserved_nodes: Vec::new(),
            reserved_only: false,
            chain_id: chain_id.into(),
            status_interval: Duration::from_secs(2),
        }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }
}

/// `/ip4/A.B.C.D/tcp/PORT`.
pub fn tcp_addr(ip: [u8; 4], port: u16) -> Multiaddr {
    Multiaddr::empty().with(Protocol::Ip4(ip.into())).with(Protocol::Tcp(port))
}

/// Errors in peer addresses.
#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    /// Not a multiaddress.
    #[error("'{addr}' is not a multiaddress: {reason}")]
    Malformed {
        /// The text.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A peer address must name the peer.
    #[error("'{0}' does not end in /p2p/<peer id>")]
    NoPeerId(String),
}

/// Parses a peer address such as `/ip4/127.0.0.1/tcp/30333/p2p/12D3KooW…`.
pub fn parse_peer_addr(text: &str) -> Result<(PeerId, Multiaddr), AddrError> {
    let addr: Multiaddr = text
        .parse()
        .map_err(|e: libp2p::multiaddr::Error| AddrError::Malformed { addr: text.into(), reason: e.to_string() })?;
    peer_of(&addr).map(|peer| (peer, addr.clone())).ok_or_else(|| AddrError::NoPeerId(text.into()))
}

/// Parses a listen address.
pub fn parse_addr(text: &str) -> Result<Multiaddr, AddrError> {
    text.parse()
        .map_err(|e: libp2p::multiaddr::Error| AddrError::Malformed { addr: text.into(), reason: e.to_string() })
}

/// The peer id an address ends in.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_need_a_peer_id() {
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let text = format!("/ip4/127.0.0.1/tcp/30333/p2p/{peer}");
        let (parsed, addr) = parse_peer_addr(&text).expect("valid");
        assert_eq!(parsed, peer);
        assert_eq!(addr.to_string(), text);
        assert!(matches!(parse_peer_addr("/ip4/127.0.0.1/tcp/30333"), Err(AddrError::NoPeerId(_))));
        assert!(matches!(parse_peer_addr("not an address"), Err(AddrError::Malformed { .. })));
    }
}
