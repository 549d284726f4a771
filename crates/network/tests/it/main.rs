//! Real swarms on 127.0.0.1: discovery, gossip, sync requests and the allowlist.

use cloister_network::{
    NetworkConfig, NetworkEvent, NetworkHandle, NetworkService, PeerStatus, SyncProvider, SyncRequest, SyncResponse,
};
use cloister_primitives::Hash;
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
use std::{collections::HashSet, sync::Arc, time::Duration};
use tokio::sync::mpsc;

struct Fixed(u32);

impl SyncProvider for Fixed {
    fn answer(&self, request: SyncRequest) -> SyncResponse {
        match request {
            SyncRequest::Status => SyncResponse::Status(PeerStatus {
                genesis: Hash::repeat_byte(1),
                best_number: self.0,
                best_hash: Hash::repeat_byte(2),
                finalized_number: self.0 / 2,
                finalized_hash: Hash::repeat_byte(3),
            }),
            SyncRequest::Blocks { from, max } => {
                SyncResponse::Blocks((from..from + max).map(|n| n.to_le_bytes().to_vec()).collect())
            }
            other => SyncResponse::Refused(format!("{other:?}")),
        }
    }
}

struct Node {
    handle: NetworkHandle,
    events: mpsc::Receiver<NetworkEvent>,
}

impl Node {
    async fn start(
        best: u32,
        bootnodes: Vec<Multiaddr>,
        allowlist: Option<HashSet<PeerId>>,
        keypair: Option<libp2p::identity::Keypair>,
    ) -> Self {
        let mut config = NetworkConfig::new("test-chain", 0);
        if let Some(k) = keypair {
            config.keypair = k;
        }
        config.listen_addrs = vec![cloister_network::tcp_addr([127, 0, 0, 1], 0)];
        config.bootnodes = bootnodes;
        config.status_interval = Duration::from_millis(300);
        let (handle, events) = NetworkService::start(config, allowlist, Arc::new(Fixed(best))).expect("network starts");
        Node { handle, events }
    }

    async fn addr(&self) -> Multiaddr {
        for _ in 0..100 {
            if let Some(a) = self.handle.listen_addrs().first() {
                return a.clone().with(Protocol::P2p(self.handle.local_peer_id()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("node never listened");
    }

    async fn next(&mut self, mut pred: impl FnMut(&NetworkEvent) -> bool) -> NetworkEvent {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let event = self.events.recv().await.expect("network running");
                if pred(&event) {
                    return event;
                }
            }
        })
        .await
        .expect("event in time")
    }
}

async fn wait_until(mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met in 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_discover_gossip_and_answer_requests() {
    let a = Node::start(10, vec![], None, None).await;
    let b = Node::start(20, vec![a.addr().await], None, None).await;
    let mut c = Node::start(30, vec![b.addr().await], None, None).await;
    // C only knows B, and finds A through peer exchange.
    let a_id = a.handle.local_peer_id();
    wait_until(|| c.handle.peers().iter().any(|p| p.peer_id == a_id)).await;
    let status = c.next(|e| matches!(e, NetworkEvent::PeerStatus { peer, .. } if *peer == a_id)).await;
    let NetworkEvent::PeerStatus { status, .. } = status else { unreachable!() };
    assert_eq!(status.best_number, 10);
    assert_eq!(status.finalized_number, 5);

    let answer = c.handle.request(a_id, SyncRequest::Blocks { from: 3, max: 2 }).await.expect("answer");
    assert_eq!(answer, SyncResponse::Blocks(vec![3u32.to_le_bytes().to_vec(), 4u32.to_le_bytes().to_vec()]));

    // Gossip needs the mesh; retry publishing until it arrives.
    let payload = b"block bytes".to_vec();
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            a.handle.announce_block(payload.clone());
            if let Ok(Some(NetworkEvent::Block { data, .. })) =
                tokio::time::timeout(Duration::from_millis(500), async {
                    loop {
                        match c.events.recv().await {
                            Some(e @ NetworkEvent::Block { .. }) => return Some(e),
                            Some(_) => continue,
                            None => return None,
                        }
                    }
                })
                .await
            {
                return data;
            }
        }
    })
    .await
    .expect("gossip arrives");
    assert_eq!(got, payload);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlist_refuses_other_peers_on_both_ends() {
    let allowed_key = libp2p::identity::Keypair::generate_ed25519();
    let allowed_id = allowed_key.public().to_peer_id();
    let gated_key = libp2p::identity::Keypair::generate_ed25519();
    let gated_id = gated_key.public().to_peer_id();
    let list: HashSet<PeerId> = [allowed_id, gated_id].into_iter().collect();
    let mut stranger = Node::start(2, vec![], None, None).await;
    let stranger_id = stranger.handle.local_peer_id();
    // The gated node is told to dial the stranger (outbound) and the stranger dials it (inbound).
    let gated = Node::start(1, vec![stranger.addr().await], Some(list), Some(gated_key)).await;
    let addr = gated.addr().await;
    stranger.handle.dial(addr.clone());
    let friend = Node::start(3, vec![addr], None, Some(allowed_key)).await;
    wait_until(|| friend.handle.peers().iter().any(|p| p.peer_id == gated_id)).await;
    // Over several dial rounds the gated node never keeps a connection with the stranger, and
    // the stranger never gets an answer from it.
    for _ in 0..20 {
        assert!(gated.handle.peers().iter().all(|p| p.peer_id != stranger_id));
        stranger.handle.dial(gated.addr().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Ok(event) = stranger.events.try_recv() {
        assert!(
            !matches!(event, NetworkEvent::PeerStatus { peer, .. } if peer == gated_id),
            "the stranger got the gated node's status"
        );
    }

    // Taking the friend off the list closes its connection.
    gated.handle.set_allowlist(Some([gated_id].into_iter().collect()));
    wait_until(|| friend.handle.peers().iter().all(|p| p.peer_id != gated_id)).await;
}
