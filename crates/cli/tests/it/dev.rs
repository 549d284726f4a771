//! `cloister dev`: the whole development network in one command, as the README starts it, with
//! one validateer or several of the same shard.

use cloister_testkit::{binary, free_port, worker::trusted};
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

#[tokio::test(flavor = "multi_thread")]
async fn dev_starts_a_node_and_a_validateer_and_prints_where_they_are() {
    let dir = tempfile::tempdir().expect("tmp");
    let rpc_port = free_port().to_string();
    let trusted_port = free_port().to_string();
    let untrusted_port = free_port().to_string();
    let mut child = Command::new(binary("cloister"))
        .args(["dev", "--json", "--base-path"])
        .arg(dir.path())
        .args(["--rpc-port", &rpc_port, "--prometheus-port", "0", "--worker-metrics-port", "0"])
        .args(["--trusted-port", &trusted_port, "--untrusted-port", &untrusted_port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cloister dev starts");
    let stdout = child.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let first = tokio::time::timeout(Duration::from_secs(240), first)
        .await
        .expect("the first line within 4 minutes")
        .expect("join")
        .expect("read");
    let info: serde_json::Value = serde_json::from_str(first.trim()).expect("the first line is one JSON object");
    let node_url = info["node_url"].as_str().expect("node_url").to_string();
    let worker_url = info["worker_url"].as_str().expect("worker_url").to_string();
    let mrenclave = info["mrenclave"].as_str().expect("mrenclave").to_string();
    assert_eq!(node_url, format!("ws://127.0.0.1:{rpc_port}"));
    assert_eq!(worker_url, format!("wss://127.0.0.1:{trusted_port}"));
    assert_eq!(info["shard"], info["mrenclave"], "the shard is the MRENCLAVE");
    assert_eq!(mrenclave, cloister_testkit::worker::WorkerProcess::mrenclave().expect("mrenclave"));

    let (ok, out, err) = trusted(&node_url, &worker_url, &mrenclave, &["shield-funds", "//Alice", "1000"]);
    assert!(ok, "shield-funds: {out}{err}");
    let (ok, out, err) = trusted(&node_url, &worker_url, &mrenclave, &["balance", "//Alice"]);
    assert!(ok, "balance: {err}");
    assert_eq!(out.trim(), "1000");

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "cloister dev exits cleanly on SIGTERM: {status}");
    let log = std::fs::read_to_string(dir.path().join("worker.log")).expect("worker log");
    assert!(log.contains("sealing shard snapshots"), "the validateer stopped cleanly:\n{log}");
}

/// A free port of 127.0.0.1 whose neighbour ten above is free too (validateer 1's).
pub fn free_port_pair() -> u16 {
    loop {
        let port = free_port();
        if port.checked_add(10).is_some_and(|up| std::net::TcpListener::bind(("127.0.0.1", up)).is_ok()) {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_with_two_validateers_prints_both_urls() {
    let dir = tempfile::tempdir().expect("tmp");
    let ports: Vec<String> = (0..3).map(|_| free_port_pair().to_string()).collect();
    let mut child = Command::new(binary("cloister"))
        .args(["dev", "--json", "--validateers", "2", "--base-path"])
        .arg(dir.path())
        .args(["--rpc-port", &free_port().to_string(), "--prometheus-port", "0", "--worker-metrics-port", "0"])
        .args(["--trusted-port", &ports[0], "--untrusted-port", &ports[1], "--mu-ra-port", &ports[2]])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cloister dev starts");
    let stdout = child.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let first = tokio::time::timeout(Duration::from_secs(420), first).await;
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    let logs = || {
        ["worker.log", "worker-1.log"]
            .map(|f| format!("===== {f}\n{}", std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()))
            .join("\n")
    };
    let first = first.expect("the first line within 7 minutes").expect("join").expect("read");
    let info: serde_json::Value =
        serde_json::from_str(first.trim()).unwrap_or_else(|e| panic!("{e}: '{first}'\n{}", logs()));
    let second = ports[0].parse::<u16>().expect("port") + 10;
    assert_eq!(
        info["worker_urls"],
        serde_json::json!([format!("wss://127.0.0.1:{}", ports[0]), format!("wss://127.0.0.1:{second}")])
    );
    assert_eq!(info["worker_url"], info["worker_urls"][0], "worker_url stays validateer 0's");
    assert!(status.success(), "cloister dev exits cleanly on SIGTERM: {status}");
    assert!(dir.path().join("worker-1").is_dir(), "validateer 1 has its own base path");
}
