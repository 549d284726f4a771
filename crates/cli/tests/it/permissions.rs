//! A restricted consortium chain (ARCHITECTURE.md 4.6): transactions need TRANSACT through any
//! node, reading needs a token of an account with READ, and nodes accept only allowlisted peers.

use cloister_testkit::{
    cloister,
    consortium::{Consortium, PermissionsGenesis},
    http, wait_for,
};
use sp_core::{sr25519, Pair};
use std::time::Duration;

const SLOT_MS: u64 = 1000;
const TIMEOUT: Duration = Duration::from_secs(90);

fn account(suri: &str) -> cloister_primitives::AccountId {
    sr25519::Pair::from_string(suri, None).expect("dev key").public().into()
}

/// A metric of a node, read from its Prometheus endpoint (works without an RPC token).
fn metric(port: u16, name: &str) -> Option<f64> {
    let text = http(port, "GET", "/metrics", None).ok()?;
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn restricted_chain_enforces_permissions_through_every_node() {
    let mut net = Consortium::start_with(&["Alice", "Bob"], SLOT_MS, &[None, None], |peers| {
        Some(PermissionsGenesis {
            restricted: true,
            // Alice: everything (and sudo); Bob: READ only; Charlie: nothing.
            accounts: vec![(account("//Alice"), 15), (account("//Bob"), 1)],
            allowed_peers: peers.to_vec(),
        })
    })
    .await
    .expect("restricted consortium starts");
    for node in &net.nodes {
        node.wait_finalized(2, TIMEOUT).await.expect("finalizes");
    }
    let urls: Vec<String> = net.nodes.iter().map(|n| n.url()).collect();

    // Reading: no token → 401; a token of an account without READ → 403; Bob's token reads.
    let request =
        r#"{"jsonrpc":"2.0","id":1,"method":"state_getStorage","params":["0x26aa394eea5630e07c48ae0c9558cef7"]}"#;
    let unauthenticated = http(net.nodes[0].rpc_port, "POST", "/", Some(request));
    assert!(unauthenticated.as_ref().err().is_some_and(|e| e.to_string().contains("401")), "{unauthenticated:?}");
    let (ok, _, err) = cloister(&urls[0], &["--auth", "//Charlie", "balance", "//Bob"]);
    assert!(!ok && err.contains("403"), "a token without READ is refused: {err}");
    let (ok, out, err) = cloister(&urls[1], &["--auth", "//Bob", "balance", "//Bob"]);
    assert!(ok, "Bob reads with his token: {out}{err}");

    // Bob lacks TRANSACT: his transfer is refused by every node and never lands.
    for url in &urls {
        let (ok, _, err) = cloister(url, &["--auth", "//Bob", "transfer", "//Bob", "//Charlie", "1000000000000"]);
        assert!(!ok && err.contains("TRANSACT"), "refused with a clear reason: {err}");
    }
    // Granted, it lands; revoked, it is refused again.
    let (ok, out, err) = cloister(&urls[0], &["--auth", "//Alice", "permissions", "grant", "//Bob", "transact"]);
    assert!(ok, "grant: {out}{err}");
    let (ok, out, err) = cloister(&urls[1], &["--auth", "//Bob", "transfer", "//Bob", "//Charlie", "1000000000000"]);
    assert!(ok, "Bob transfers once granted: {out}{err}");
    let (ok, out, err) = cloister(&urls[0], &["--auth", "//Alice", "--json", "permissions", "show", "//Bob"]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["permissions"], serde_json::json!(["read", "transact"]), "{shown}");
    assert_eq!(shown["restricted"], true);
    let (ok, _, err) = cloister(&urls[0], &["--auth", "//Alice", "permissions", "revoke", "//Bob", "transact"]);
    assert!(ok, "revoke: {err}");
    let (ok, _, err) = cloister(&urls[1], &["--auth", "//Bob", "transfer", "//Bob", "//Charlie", "1000000000000"]);
    assert!(!ok && err.contains("TRANSACT"), "refused after revoke: {err}");
    // Only an ADMIN (or sudo) changes permissions.
    let (ok, _, err) =
        cloister(&urls[0], &["--auth", "//Bob", "permissions", "grant", "//Bob", "all", "--signer", "//Bob"]);
    assert!(!ok, "Bob is no admin: {err}");

    // A node not on the allowlist is refused by both ends: it gets no peers and no blocks.
    let stranger = net.add_node(None, Vec::new()).await.expect("stranger starts");
    let metrics_port = net.nodes[stranger].prometheus_port;
    tokio::time::sleep(Duration::from_millis(5 * SLOT_MS)).await;
    assert_eq!(metric(metrics_port, "cloister_block_height{status=\"best\"}"), Some(0.0), "{}", net.logs());
    assert_eq!(metric(metrics_port, "cloister_sub_libp2p_peers_count"), Some(0.0));
    let rpc = net.nodes[0].rpc().await.expect("rpc");
    let peers: Vec<serde_json::Value> =
        jsonrpsee::core::client::ClientT::request(&rpc, "system_peers", jsonrpsee::rpc_params![]).await.expect("peers");
    assert_eq!(peers.len(), 1, "node-0 talks to node-1 only: {peers:?}");

    // Allowed on chain, it is let in and syncs.
    let peer_id = net.addrs[stranger].rsplit('/').next().expect("peer id").to_string();
    let (ok, _, err) = cloister(&urls[0], &["--auth", "//Alice", "permissions", "allow-peer", &peer_id]);
    assert!(ok, "allow-peer: {err}");
    let synced = wait_for("the allowed peer to sync", TIMEOUT, || async {
        metric(metrics_port, "cloister_block_height{status=\"best\"}").filter(|h| *h >= 3.0)
    })
    .await;
    assert!(synced.is_ok(), "allowed peer did not sync\n{}", net.logs());
}
