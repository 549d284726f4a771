//! `cloister network up|status|down`: a deployment bundle runs as local processes, reports its
//! heights, and stops.

use crate::deploy::{cloister, deploy_local};
use cloister_testkit::wait_for;
use jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClientBuilder};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Stops the bundle's nodes when the test ends, even when it fails.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = cloister(&["network", "down", "--grace", "2", self.0.to_str().unwrap_or_default()]);
    }
}

fn json(args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = cloister(args);
    assert!(ok, "cloister {args:?} failed: {err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn status(dir: &Path) -> Vec<serde_json::Value> {
    json(&["--json", "network", "status", dir.to_str().expect("utf8")]).as_array().expect("array").clone()
}

fn logs(dir: &Path) -> String {
    let mut all = String::new();
    for k in 1..=4 {
        if let Ok(log) = std::fs::read_to_string(dir.join(format!("nodes/node-{k}/node.log"))) {
            all.push_str(&format!("===== node-{k} =====\n{log}\n"));
        }
    }
    all
}

/// Waits until every node reports a `field` height of at least `height`; returns the statuses.
async fn wait_heights(dir: &Path, field: &str, height: u64, timeout: Duration) -> Vec<serde_json::Value> {
    let reached = wait_for(&format!("{field} height {height} on every node"), timeout, || async {
        let statuses = status(dir);
        statuses.iter().all(|s| s[field].as_u64().is_some_and(|h| h >= height)).then_some(statuses)
    })
    .await;
    reached.unwrap_or_else(|e| panic!("{e}: {:?}\n{}", status(dir), logs(dir)))
}

fn process_exists(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[tokio::test]
async fn network_up_status_down_runs_a_one_node_bundle() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("net-one", 1, &dir, &[]);
    let d = dir.to_str().expect("utf8");
    let _guard = StopOnDrop(dir.clone());

    let up = json(&["--json", "network", "up", d]);
    let up = up.as_array().expect("array");
    assert_eq!(up.len(), 1);
    assert_eq!(up[0]["name"], "net-one-node-1");
    assert_eq!(up[0]["running"], true);
    assert_eq!(up[0]["rpc_url"], format!("ws://127.0.0.1:{}", bundle["nodes"][0]["rpc_port"]));
    let pid = up[0]["pid"].as_u64().expect("pid");
    let pid_file = dir.join("nodes/node-1/node.pid");
    assert_eq!(std::fs::read_to_string(&pid_file).expect("pid file").trim(), pid.to_string());
    assert!(dir.join("nodes/node-1/node.log").is_file());

    // A single authority finalizes alone: best and finalized heights rise.
    let first = wait_heights(&dir, "finalized", 2, Duration::from_secs(60)).await;
    let (best, finalized) = (first[0]["best"].as_u64().expect("best"), first[0]["finalized"].as_u64().expect("fin"));
    assert!(best >= finalized);
    let hash = first[0]["finalized_hash"].as_str().expect("hash");
    assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
    let later = wait_heights(&dir, "finalized", finalized + 2, Duration::from_secs(60)).await;
    assert!(later[0]["best"].as_u64().expect("best") > best);
    assert_ne!(later[0]["finalized_hash"], first[0]["finalized_hash"]);

    // `up` again leaves the running node alone; the human table names it.
    let again = json(&["--json", "network", "up", d]);
    assert_eq!(again[0]["pid"], pid);
    let (ok, table, err) = cloister(&["network", "status", d]);
    assert!(ok, "{err}");
    assert!(table.contains("net-one-node-1") && table.contains("FINALIZED") && table.contains("yes"), "{table}");

    let down = json(&["--json", "network", "down", d]);
    assert_eq!(down[0]["pid"], pid);
    assert!(!process_exists(pid), "the node process is gone");
    assert!(!pid_file.exists(), "the pid file is removed");
    let stopped = status(&dir);
    assert_eq!(
        stopped[0],
        serde_json::json!({
            "name": "net-one-node-1", "pid": null, "rpc_url": up[0]["rpc_url"], "best": null,
            "finalized": null, "finalized_hash": null, "running": false,
        })
    );
    // Stopping a stopped network is fine.
    let down = json(&["--json", "network", "down", d]);
    assert_eq!(down[0]["pid"], serde_json::Value::Null);
}

#[tokio::test]
async fn network_up_starts_every_node_of_a_three_node_bundle() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    deploy_local("net-three", 3, &dir, &[]);
    let d = dir.to_str().expect("utf8");
    let _guard = StopOnDrop(dir.clone());

    let up = json(&["--json", "network", "up", d]);
    let up = up.as_array().expect("array");
    assert_eq!(up.len(), 3);
    let mut pids: Vec<u64> = up.iter().map(|s| s["pid"].as_u64().expect("pid")).collect();
    assert!(up.iter().all(|s| s["running"] == true));
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 3, "one process per node");
    // Every node authors in its own slots.
    wait_heights(&dir, "best", 1, Duration::from_secs(60)).await;

    let down = json(&["--json", "network", "down", d]);
    assert!(down.as_array().expect("array").iter().all(|s| s["pid"].is_u64()));
    assert!(pids.iter().all(|p| !process_exists(*p)));
    assert!(status(&dir).iter().all(|s| s["running"] == false && s["best"].is_null()));
}

#[tokio::test]
async fn network_four_node_bundle_agrees_on_finalized_blocks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    deploy_local("net-four", 4, &dir, &[]);
    let d = dir.to_str().expect("utf8");
    let _guard = StopOnDrop(dir.clone());
    json(&["--json", "network", "up", d]);

    // GRANDPA across the four authorities finalizes, and every node finalizes the same blocks.
    let statuses = wait_heights(&dir, "finalized", 3, Duration::from_secs(120)).await;
    let mut hashes = Vec::new();
    for s in &statuses {
        let rpc = WsClientBuilder::default().build(s["rpc_url"].as_str().expect("url")).await.expect("rpc");
        let hash: String = rpc.request("chain_getBlockHash", rpc_params![3]).await.expect("hash");
        hashes.push(hash);
    }
    hashes.dedup();
    assert_eq!(hashes.len(), 1, "the nodes disagree on block 3: {hashes:?}");
    let later = wait_heights(&dir, "finalized", 6, Duration::from_secs(120)).await;
    assert_eq!(later.len(), 4);
}

#[tokio::test]
async fn network_up_reports_a_node_that_cannot_start_and_leaves_nothing_running() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("net-busy", 1, &dir, &[]);
    let d = dir.to_str().expect("utf8");
    let _guard = StopOnDrop(dir.clone());
    let rpc_port = bundle["nodes"][0]["rpc_port"].as_u64().expect("port") as u16;
    let _busy = std::net::TcpListener::bind(("127.0.0.1", rpc_port)).expect("occupy the RPC port");

    let (ok, _, err) = cloister(&["network", "up", "--timeout", "30", d]);
    assert!(!ok, "up must fail when a node cannot start");
    assert!(err.contains("net-busy-node-1") && err.contains("exited while starting"), "{err}");
    assert!(!dir.join("nodes/node-1/node.pid").exists());
    assert!(status(&dir).iter().all(|s| s["running"] == false));

    let (ok, _, err) = cloister(&["network", "status", tmp.path().to_str().expect("utf8")]);
    assert!(!ok && err.contains("is not a deployment bundle"), "{err}");
}

#[tokio::test]
async fn permissioned_bundle_runs_restricted_and_its_nodes_admit_each_other() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("net-perm", 2, &dir, &["--permissioned"]);
    let d = dir.to_str().expect("utf8");
    let _guard = StopOnDrop(dir.clone());
    json(&["--json", "network", "up", d]);

    // Both authorities must vote to finalize: the allowlist admits the bundle's own nodes.
    // `status` reads the heights with a token of the bundle's sudo key.
    wait_heights(&dir, "finalized", 3, Duration::from_secs(120)).await;
    // Without a token, nobody reads.
    let rpc_port = bundle["nodes"][0]["rpc_port"].as_u64().expect("port") as u16;
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"chain_getHeader","params":[]}"#;
    let refused = cloister_testkit::http(rpc_port, "POST", "/", Some(request));
    assert!(refused.as_ref().err().is_some_and(|e| e.to_string().contains("401")), "{refused:?}");
}
