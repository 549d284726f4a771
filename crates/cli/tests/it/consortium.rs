//! A consortium of authorities on 127.0.0.1, each its own `cloister-node` process, talking over
//! libp2p: they author in turn, finalize together with GRANDPA, survive authorities going down
//! and coming back, and a node that joins late syncs the chain from its peers.

use cloister_testkit::{consortium::Consortium, hex_number, wait_for, NodeProcess};
use jsonrpsee::{core::client::ClientT, rpc_params};
use std::{collections::BTreeMap, time::Duration};

const SLOT_MS: u64 = 1000;
const TIMEOUT: Duration = Duration::from_secs(90);

/// Every finalized block a node reports, by number.
type Finalized = BTreeMap<u32, String>;

/// Reads the node's finalized chain and checks it against what was seen before: a finalized
/// block is never replaced by another (no finalized block is ever reverted).
async fn observe(node: &NodeProcess, seen: &mut Finalized, logs: impl Fn() -> String) -> u32 {
    let rpc = node.rpc().await.expect("rpc");
    let head: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await.expect("finalized head");
    let header: serde_json::Value = rpc.request("chain_getHeader", rpc_params![head]).await.expect("header");
    let finalized = hex_number(&header["number"]).expect("number");
    let from = seen.keys().next_back().copied().unwrap_or(0).saturating_sub(3);
    for n in from..=finalized {
        let hash: String = rpc.request("chain_getBlockHash", rpc_params![n]).await.expect("hash");
        if let Some(before) = seen.insert(n, hash.clone()) {
            assert_eq!(before, hash, "finalized block #{n} changed\n{}", logs());
        }
    }
    finalized
}

async fn finalized_of(node: &NodeProcess) -> u32 {
    node.heights().await.map(|(_, f)| f).unwrap_or(0)
}

async fn best_of(node: &NodeProcess) -> u32 {
    node.heights().await.map(|(b, _)| b).unwrap_or(0)
}

/// Waits until every listed node has finalized at least `height`.
async fn all_finalize(net: &Consortium, nodes: &[usize], height: u32) {
    for &i in nodes {
        let reached = net.nodes[i].wait_finalized(height, TIMEOUT).await;
        assert!(reached.is_ok(), "node-{i} did not finalize #{height}: {reached:?}\n{}", net.logs());
    }
}

#[tokio::test]
async fn four_authorities_finalize_together_and_survive_faults() {
    let mut net = Consortium::start(&["Alice", "Bob", "Charlie", "Dave"], SLOT_MS).await.expect("consortium starts");
    let mut seen = Finalized::new();
    let all = [0, 1, 2, 3];

    // All four finalize the same blocks, authored by more than one authority.
    all_finalize(&net, &all, 4).await;
    for i in all {
        observe(&net.nodes[i], &mut seen, || net.logs()).await;
    }
    let rpc = net.nodes[0].rpc().await.expect("rpc");
    let peers: Vec<serde_json::Value> = rpc.request("system_peers", rpc_params![]).await.expect("peers");
    assert_eq!(peers.len(), 3, "node-0 is connected to the three others: {peers:?}");
    let head = observe(&net.nodes[0], &mut seen, || net.logs()).await;
    let justified: serde_json::Value =
        rpc.request("chain_getBlock", rpc_params![seen.get(&head)]).await.expect("block");
    assert!(
        justified["justifications"].as_array().is_some_and(|j| !j.is_empty()),
        "the finalized head carries its GRANDPA justification: {justified}"
    );
    let proof: Option<String> = rpc.request("grandpa_proveFinality", rpc_params![1]).await.expect("proof");
    assert!(proof.is_some_and(|p| p.len() > 2), "block #1 has a finality proof");

    // One authority down: blocks and finality go on.
    net.nodes[3].kill();
    let f = finalized_of(&net.nodes[0]).await;
    all_finalize(&net, &[0, 1, 2], f + 3).await;

    // Two down: blocks go on, finality stops.
    net.nodes[2].kill();
    // Let a round that already had the third vote finish.
    tokio::time::sleep(Duration::from_millis(3 * SLOT_MS)).await;
    let stalled = finalized_of(&net.nodes[0]).await;
    let best = best_of(&net.nodes[0]).await;
    let grew = wait_for("blocks without finality", TIMEOUT, || async {
        let b = best_of(&net.nodes[0]).await;
        (b >= best + 4).then_some(b)
    })
    .await;
    assert!(grew.is_ok(), "blocks stopped with two authorities down\n{}", net.logs());
    for i in [0, 1] {
        let f = observe(&net.nodes[i], &mut seen, || net.logs()).await;
        assert_eq!(f, stalled, "node-{i} finalized without a supermajority\n{}", net.logs());
    }

    // Both come back: they catch up, finality resumes, nothing finalized is reverted.
    net.nodes[2].restart().await.expect("restart node-2");
    net.nodes[3].restart().await.expect("restart node-3");
    all_finalize(&net, &all, stalled + 3).await;
    for i in all {
        observe(&net.nodes[i], &mut seen, || net.logs()).await;
    }
}

#[tokio::test]
async fn late_node_syncs_the_chain_and_follows() {
    let mut net = Consortium::start(&["Alice", "Bob", "Charlie"], SLOT_MS).await.expect("consortium starts");
    all_finalize(&net, &[0, 1, 2], 8).await;

    // A node without keys joins later and gets the whole chain from its peers.
    let late = net.add_node(None, Vec::new()).await.expect("late node starts");
    let target = finalized_of(&net.nodes[0]).await;
    all_finalize(&net, &[late], target).await;
    let mut seen = Finalized::new();
    for i in [0, 1, 2, late] {
        observe(&net.nodes[i], &mut seen, || net.logs()).await;
    }
    // It follows: new blocks and finality arrive as the authorities go on.
    let (best, finalized) = net.nodes[late].heights().await.expect("heights");
    all_finalize(&net, &[late], finalized + 3).await;
    assert!(best_of(&net.nodes[late]).await > best);
    observe(&net.nodes[late], &mut seen, || net.logs()).await;
}

#[tokio::test]
async fn partitioned_consortium_never_finalizes_conflicting_blocks_and_heals_into_one_chain() {
    let sites = match cloister_testkit::netns::TwoSites::create().expect("network namespaces") {
        Ok(sites) => sites,
        Err(why) => {
            eprintln!("SKIPPED partition test: needs Linux network namespaces ({why})");
            return;
        }
    };
    let placements = [Some(sites.a.clone()), Some(sites.a.clone()), Some(sites.b.clone()), Some(sites.b.clone())];
    let net = Consortium::start_placed(&["Alice", "Bob", "Charlie", "Dave"], SLOT_MS, &placements)
        .await
        .expect("consortium starts");
    let all = [0, 1, 2, 3];
    all_finalize(&net, &all, 3).await;

    // Cut 2 | 2: each side goes on authoring in its own slots, neither has the supermajority.
    sites.cut().expect("cut");
    tokio::time::sleep(Duration::from_millis(2 * SLOT_MS)).await;
    let finalized_at_cut: Vec<u32> = futures::future::join_all(net.nodes.iter().map(finalized_of)).await;
    let bests: Vec<u32> = futures::future::join_all(net.nodes.iter().map(best_of)).await;
    for i in all {
        let grew = wait_for("blocks on each side", TIMEOUT, || async {
            (best_of(&net.nodes[i]).await >= bests[i] + 3).then_some(())
        })
        .await;
        assert!(grew.is_ok(), "node-{i} made no blocks while partitioned\n{}", net.logs());
    }
    // No conflicting finalized blocks anywhere: every node's finalized chain agrees.
    let mut seen = Finalized::new();
    for i in all {
        let f = observe(&net.nodes[i], &mut seen, || net.logs()).await;
        assert_eq!(f, finalized_at_cut[i], "node-{i} finalized without a supermajority\n{}", net.logs());
    }

    // Heal: one chain, finality resumes, and every finalized block is the same everywhere.
    sites.heal().expect("heal");
    let top = finalized_at_cut.iter().max().copied().unwrap_or(0);
    all_finalize(&net, &all, top + 3).await;
    for i in all {
        observe(&net.nodes[i], &mut seen, || net.logs()).await;
    }
    drop(net);
}

#[tokio::test]
async fn authority_set_change_takes_effect_once_final() {
    let mut net = Consortium::start(&["Alice", "Bob", "Charlie"], SLOT_MS).await.expect("consortium starts");
    // Dave runs a node with his key but is no authority yet: he neither authors nor votes.
    let dave = net.add_node(Some("//Dave"), Vec::new()).await.expect("dave's node");
    all_finalize(&net, &[0, 1, 2, dave], 3).await;
    assert!(!net.nodes[dave].log_text().contains("authored block"), "Dave authored before he was an authority");

    let url = net.nodes[0].url();
    let (ok, out, err) = cloister_testkit::cloister(
        &url,
        &["authorities", "set", "--sudo", "//Alice", "//Alice", "//Bob", "//Charlie", "//Dave"],
    );
    assert!(ok, "set authorities: {out}{err}");
    let (ok, out, err) = cloister_testkit::cloister(&url, &["--json", "authorities", "show"]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["setId"], 1, "{shown}");
    assert_eq!(shown["grandpa"].as_array().map(Vec::len), Some(4), "{shown}");

    // The change is final (the CLI waited for it); now the new set finalizes. With Charlie
    // down, Alice, Bob and Dave are three of four: finality goes on only because Dave votes.
    let f = finalized_of(&net.nodes[0]).await;
    all_finalize(&net, &[0, 1, 2, dave], f + 2).await;
    net.nodes[2].kill();
    let f = finalized_of(&net.nodes[0]).await;
    all_finalize(&net, &[0, 1, dave], f + 3).await;
    let authored = wait_for("a block by Dave", TIMEOUT, || async {
        net.nodes[dave].log_text().contains("authored block").then_some(())
    })
    .await;
    assert!(authored.is_ok(), "Dave never authored\n{}", net.logs());
    let rpc = net.nodes[dave].rpc().await.expect("rpc");
    let state: serde_json::Value = rpc.request("grandpa_roundState", rpc_params![]).await.expect("round state");
    assert_eq!(state["setId"], 1, "{state}");
}
