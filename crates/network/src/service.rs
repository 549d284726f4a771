//! The swarm task: owns the libp2p swarm, turns commands into protocol actions and protocol
//! events into [`NetworkEvent`]s.
//!
//! Peer maintenance runs on a timer: boot and reserved nodes that are not connected are dialled
//! again, every connected peer is asked for its status (which drives the node's catch-up sync),
//! and, unless the node is reserved-only, peers are asked for their peers so that a node that
//! knows one boot node finds the whole network.

use crate::{
    config::{peer_of, NetworkConfig},
    protocol::{sanitize, sync_protocol, PeerStatus, ScaleCodec, SyncRequest, SyncResponse},
};
use futures::StreamExt;
use libp2p::{
    allow_block_list::{self, AllowedPeers},
    gossipsub, identify,
    multiaddr::Protocol,
    noise, ping,
    request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel},
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Swarm,
};
use parking_lot::RwLock;
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

/// Most peer addresses shared in one answer.
const MAX_SHARED_PEERS: usize = 64;
/// Most events queued for the node before gossip is dropped (sync recovers what is lost).
const EVENT_QUEUE: usize = 4096;

/// Errors of the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The transport could not be built or could not listen.
    #[error("cannot start networking: {0}")]
    Start(String),
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
    /// A request to a peer failed.
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// What the network tells the node.
#[derive(Debug, Clone)]
pub enum NetworkEvent {
    /// A peer connected.
    PeerConnected(PeerId),
    /// A peer's last connection closed.
    PeerDisconnected(PeerId),
    /// A peer answered our status request.
    PeerStatus {
        /// The peer.
        peer: PeerId,
        /// Its chain.
        status: PeerStatus,
    },
    /// A block arrived by gossip (encoded signed block).
    Block {
        /// The peer that forwarded it.
        from: PeerId,
        /// The block.
        data: Vec<u8>,
    },
    /// A transaction arrived by gossip (encoded extrinsic).
    Transaction {
        /// The peer that forwarded it.
        from: PeerId,
        /// The extrinsic.
        data: Vec<u8>,
    },
    /// A GRANDPA message arrived by gossip.
    Grandpa {
        /// The peer that forwarded it.
        from: PeerId,
        /// The message.
        data: Vec<u8>,
    },
}

/// Answers peers' sync requests from the node's chain.
pub trait SyncProvider: Send + Sync + 'static {
    /// Answers one request; called on a blocking thread.
    fn answer(&self, request: SyncRequest) -> SyncResponse;
}

/// A connected peer, as `system_peers` shows it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer.
    pub peer_id: PeerId,
    /// The address of the connection.
    pub address: Multiaddr,
    /// The peer's last reported status.
    pub status: Option<PeerStatus>,
}

enum Command {
    Publish { topic: Topic, data: Vec<u8> },
    Request { peer: PeerId, request: SyncRequest, reply: oneshot::Sender<Result<SyncResponse, NetworkError>> },
    Respond { channel: ResponseChannel<SyncResponse>, response: SyncResponse },
    SetAllowlist(Option<HashSet<PeerId>>),
    Disconnect(PeerId),
    Dial(Multiaddr),
}

#[derive(Clone, Copy, Debug)]
enum Topic {
    Blocks,
    Transactions,
    Grandpa,
}

/// Commands the network; cheap to clone.
#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::UnboundedSender<Command>,
    local_peer_id: PeerId,
    shared: Arc<RwLock<Shared>>,
}

#[derive(Default)]
struct Shared {
    peers: HashMap<PeerId, PeerInfo>,
    listen_addrs: Vec<Multiaddr>,
}

impl NetworkHandle {
    /// Gossips a block this node authored or imported.
    pub fn announce_block(&self, data: Vec<u8>) {
        let _ = self.commands.send(Command::Publish { topic: Topic::Blocks, data });
    }

    /// Gossips a transaction.
    pub fn gossip_transaction(&self, data: Vec<u8>) {
        let _ = self.commands.send(Command::Publish { topic: Topic::Transactions, data });
    }

    /// Gossips a GRANDPA message.
    pub fn gossip_grandpa(&self, data: Vec<u8>) {
        let _ = self.commands.send(Command::Publish { topic: Topic::Grandpa, data });
    }

    /// Sends a sync request to a peer and waits for its answer.
    pub async fn request(&self, peer: PeerId, request: SyncRequest) -> Result<SyncResponse, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Request { peer, request, reply }).map_err(|_| NetworkError::Stopped)?;
        answer.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Replaces the set of peers allowed to connect (`None`: everyone, unless reserved-only).
    /// Connections to peers no longer allowed are closed.
    pub fn set_allowlist(&self, allowed: Option<HashSet<PeerId>>) {
        let _ = self.commands.send(Command::SetAllowlist(allowed));
    }

    /// Closes the connections to a peer (e.g. of another chain).
    pub fn disconnect(&self, peer: PeerId) {
        let _ = self.commands.send(Command::Disconnect(peer));
    }

    /// Dials an address.
    pub fn dial(&self, addr: Multiaddr) {
        let _ = self.commands.send(Command::Dial(addr));
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.read().peers.values().cloned().collect()
    }

    /// The addresses the node listens on.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.shared.read().listen_addrs.clone()
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gate: Toggle<allow_block_list::Behaviour<AllowedPeers>>,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<ScaleCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// The network of one node.
pub struct NetworkService {
    swarm: Swarm<Behaviour>,
    config: NetworkConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    command_sender: mpsc::UnboundedSender<Command>,
    events: mpsc::Sender<NetworkEvent>,
    provider: Arc<dyn SyncProvider>,
    shared: Arc<RwLock<Shared>>,
    topics: [gossipsub::IdentTopic; 3],
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<SyncResponse, NetworkError>>>,
    status_polls: HashMap<OutboundRequestId, PeerId>,
    peer_polls: HashSet<OutboundRequestId>,
    /// Listen addresses peers told us about (identify, peer exchange).
    known: HashMap<PeerId, Multiaddr>,
    fixed: HashMap<PeerId, Multiaddr>,
    reserved: HashSet<PeerId>,
    allowlist: Option<HashSet<PeerId>>,
}

impl NetworkService {
    /// Builds the swarm, starts listening and spawns the network task on the current runtime.
    ///
    /// `allowlist` is the set of peers a permissioned chain accepts (`None` for an open chain);
    /// with `reserved_only`, only reserved nodes are accepted as well.
    pub fn start(
        config: NetworkConfig,
        allowlist: Option<HashSet<PeerId>>,
        provider: Arc<dyn SyncProvider>,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
        let gated = allowlist.is_some() || config.reserved_only;
        let chain = sanitize(&config.chain_id);
        let protocol = sync_protocol(&config.chain_id);
        let start_err = |e: String| NetworkError::Start(e);
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|e| start_err(e.to_string()))?
            .with_behaviour(|key| {
                let gossip_config = gossipsub::ConfigBuilder::default()
                    .heartbeat_interval(Duration::from_millis(500))
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .max_transmit_size(16 * 1024 * 1024)
                    .message_id_fn(|m: &gossipsub::Message| {
                        use sha2::Digest;
                        let mut hasher = sha2::Sha256::new();
                        hasher.update(m.topic.as_str().as_bytes());
                        hasher.update(&m.data);
                        gossipsub::MessageId::from(hasher.finalize().to_vec())
                    })
                    .build()
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let gossip =
                    gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)
                        .map_err(std::io::Error::other)?;
                Ok(Behaviour {
                    gate: Toggle::from(gated.then(allow_block_list::Behaviour::default)),
                    gossip,
                    sync: request_response::Behaviour::with_codec(
                        ScaleCodec,
                        [(protocol, ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(Duration::from_secs(30))
                            .with_max_concurrent_streams(256),
                    ),
                    identify: identify::Behaviour::new(identify::Config::new(
                        format!("/cloister/{chain}/1"),
                        key.public(),
                    )),
                    ping: ping::Behaviour::default(),
                })
            })
            .map_err(|e| start_err(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();

        let topics = [
            gossipsub::IdentTopic::new(format!("/cloister/{chain}/blocks/1")),
            gossipsub::IdentTopic::new(format!("/cloister/{chain}/transactions/1")),
            gossipsub::IdentTopic::new(format!("/cloister/{chain}/grandpa/1")),
        ];
        for topic in &topics {
            swarm.behaviour_mut().gossip.subscribe(topic).map_err(|e| start_err(e.to_string()))?;
        }
        for addr in &config.listen_addrs {
            swarm.listen_on(addr.clone()).map_err(|e| start_err(format!("cannot listen on {addr}: {e}")))?;
        }
        let mut fixed = HashMap::new();
        for addr in config.bootnodes.iter().chain(&config.reserved_nodes) {
            if let Some(peer) = peer_of(addr) {
                if peer != config.peer_id() {
                    fixed.insert(peer, addr.clone());
                }
            }
        }
        let reserved = config.reserved_nodes.iter().filter_map(peer_of).collect();

        let (command_sender, commands) = mpsc::unbounded_channel();
        let (events, event_receiver) = mpsc::channel(EVENT_QUEUE);
        let shared = Arc::new(RwLock::new(Shared::default()));
        let handle =
            NetworkHandle { commands: command_sender.clone(), local_peer_id: config.peer_id(), shared: shared.clone() };
        let mut service = NetworkService {
            swarm,
            config,
            commands,
            command_sender,
            events,
            provider,
            shared,
            topics,
            pending: HashMap::new(),
            status_polls: HashMap::new(),
            peer_polls: HashSet::new(),
            known: HashMap::new(),
            fixed,
            reserved,
            allowlist: None,
        };
        service.apply_allowlist(allowlist);
        info!(target: "network", peer_id = %handle.local_peer_id, "local node identity");
        tokio::spawn(service.run());
        Ok((handle, event_receiver))
    }

    async fn run(mut self) {
        self.maintain();
        let mut tick = tokio::time::interval(self.config.status_interval);
        loop {
            // The node dropped its event receiver: it is shutting down.
            if self.events.is_closed() {
                return;
            }
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = tick.tick() => self.maintain(),
            }
        }
    }

    fn allowed(&self, peer: &PeerId) -> bool {
        let by_list = self.allowlist.as_ref().is_none_or(|list| list.contains(peer));
        let by_reserve = !self.config.reserved_only || self.reserved.contains(peer);
        by_list && by_reserve
    }

    fn apply_allowlist(&mut self, allowlist: Option<HashSet<PeerId>>) {
        self.allowlist = allowlist;
        let candidates: HashSet<PeerId> = self
            .allowlist
            .iter()
            .flatten()
            .chain(self.reserved.iter())
            .chain(self.shared.read().peers.keys())
            .chain(self.known.keys())
            .copied()
            .collect();
        let decisions: Vec<(PeerId, bool)> = candidates.into_iter().map(|p| (p, self.allowed(&p))).collect();
        if let Some(gate) = self.swarm.behaviour_mut().gate.as_mut() {
            for (peer, allowed) in decisions {
                if allowed {
                    gate.allow_peer(peer);
                } else if gate.disallow_peer(peer) {
                    debug!(target: "network", %peer, "peer no longer allowed");
                }
            }
        }
    }

    fn maintain(&mut self) {
        let connected: HashSet<PeerId> = self.shared.read().peers.keys().copied().collect();
        let mut dial: Vec<Multiaddr> = Vec::new();
        for (peer, addr) in &self.fixed {
            if !connected.contains(peer) && self.allowed(peer) {
                dial.push(addr.clone());
            }
        }
        if !self.config.reserved_only {
            for (peer, addr) in &self.known {
                if !connected.contains(peer) && !self.fixed.contains_key(peer) && self.allowed(peer) {
                    dial.push(addr.clone());
                }
            }
        }
        for addr in dial {
            if let Err(e) = self.swarm.dial(addr.clone()) {
                trace!(target: "network", %addr, error = %e, "cannot dial");
            }
        }
        for peer in connected {
            let id = self.swarm.behaviour_mut().sync.send_request(&peer, SyncRequest::Status);
            self.status_polls.insert(id, peer);
            if !self.config.reserved_only {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, SyncRequest::Peers);
                self.peer_polls.insert(id);
            }
        }
    }

    fn emit(&self, event: NetworkEvent) {
        if let Err(e @ mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            warn!(target: "network", error = %e, "node is not keeping up with the network; event dropped");
        }
    }

    fn topic(&self, topic: Topic) -> &gossipsub::IdentTopic {
        match topic {
            Topic::Blocks => &self.topics[0],
            Topic::Transactions => &self.topics[1],
            Topic::Grandpa => &self.topics[2],
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data } => {
                let t = self.topic(topic).clone();
                match self.swarm.behaviour_mut().gossip.publish(t, data) {
                    Ok(_) => {}
                    Err(gossipsub::PublishError::Duplicate) => {}
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                        trace!(target: "network", ?topic, "no peers to gossip to")
                    }
                    Err(e) => debug!(target: "network", ?topic, error = %e, "cannot gossip"),
                }
            }
            Command::Request { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                let _ = self.swarm.behaviour_mut().sync.send_response(channel, response);
            }
            Command::SetAllowlist(list) => self.apply_allowlist(list),
            Command::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
                self.known.remove(&peer);
            }
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    debug!(target: "network", %addr, error = %e, "cannot dial");
                }
            }
        }
    }

    fn shared_peers(&self) -> Vec<String> {
        let shared = self.shared.read();
        shared
            .peers
            .keys()
            .filter_map(|peer| self.known.get(peer).map(|addr| with_peer(addr.clone(), *peer).to_string()))
            .take(MAX_SHARED_PEERS)
            .collect()
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(target: "network", %address, "listening");
                self.shared.write().listen_addrs.push(address);
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                if num_established.get() == 1 {
                    debug!(target: "network", peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                    self.shared.write().peers.insert(
                        peer_id,
                        PeerInfo { peer_id, address: endpoint.get_remote_address().clone(), status: None },
                    );
                    let id = self.swarm.behaviour_mut().sync.send_request(&peer_id, SyncRequest::Status);
                    self.status_polls.insert(id, peer_id);
                    self.emit(NetworkEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                debug!(target: "network", peer = %peer_id, "disconnected");
                self.shared.write().peers.remove(&peer_id);
                self.emit(NetworkEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                debug!(target: "network", addr = %send_back_addr, error = %error, "incoming connection refused");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                trace!(target: "network", peer = ?peer_id, error = %error, "outgoing connection failed");
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossip(gossipsub::Event::Message { propagation_source, message, .. }) => {
                let from = propagation_source;
                let data = message.data;
                let event = if message.topic == self.topics[0].hash() {
                    NetworkEvent::Block { from, data }
                } else if message.topic == self.topics[1].hash() {
                    NetworkEvent::Transaction { from, data }
                } else if message.topic == self.topics[2].hash() {
                    NetworkEvent::Grandpa { from, data }
                } else {
                    return;
                };
                self.emit(event);
            }
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    if !self.allowed(&peer) {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, SyncResponse::Refused("not allowed".into()));
                        return;
                    }
                    if request == SyncRequest::Peers {
                        let peers = self.shared_peers();
                        let _ = self.swarm.behaviour_mut().sync.send_response(channel, SyncResponse::Peers(peers));
                        return;
                    }
                    let provider = self.provider.clone();
                    let commands = self.command_sender.clone();
                    tokio::task::spawn_blocking(move || {
                        let response = provider.answer(request);
                        let _ = commands.send(Command::Respond { channel, response });
                    });
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    } else if let Some(peer) = self.status_polls.remove(&request_id) {
                        if let SyncResponse::Status(status) = response {
                            if let Some(info) = self.shared.write().peers.get_mut(&peer) {
                                info.status = Some(status);
                            }
                            self.emit(NetworkEvent::PeerStatus { peer, status });
                        }
                    } else if self.peer_polls.remove(&request_id) {
                        if let SyncResponse::Peers(addrs) = response {
                            self.learn_peers(addrs);
                        }
                    }
                }
            },
            BehaviourEvent::Sync(request_response::Event::OutboundFailure { request_id, peer, error, .. }) => {
                self.status_polls.remove(&request_id);
                self.peer_polls.remove(&request_id);
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetworkError::Request { peer, reason: error.to_string() }));
                }
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if let Some(addr) = info.listen_addrs.iter().find(|a| is_dialable(a)) {
                    self.known.insert(peer_id, addr.clone());
                }
            }
            _ => {}
        }
    }

    fn learn_peers(&mut self, addrs: Vec<String>) {
        let local = self.config.peer_id();
        for text in addrs.into_iter().take(MAX_SHARED_PEERS) {
            let Ok(addr) = text.parse::<Multiaddr>() else { continue };
            let Some(peer) = peer_of(&addr) else { continue };
            if peer != local && !self.known.contains_key(&peer) {
                let mut bare = addr.clone();
                bare.pop();
                self.known.insert(peer, bare);
            }
        }
    }
}

fn is_dialable(addr: &Multiaddr) -> bool {
    !addr.iter().any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_unspecified()))
}

fn with_peer(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if peer_of(&addr).is_some() {
        addr
    } else {
        addr.with(Protocol::P2p(peer))
    }
}
