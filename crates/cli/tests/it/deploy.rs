//! `cloister deploy` writes a complete, private, self-consistent bundle; it refuses bad
//! arguments and a non-empty directory without writing anything; a node started from the
//! bundle's `node.toml` alone authors and finalizes.

use cloister_cli::{
    deploy::ValidateerConfig,
    signer::{ss58, Signer},
};
use cloister_network::{peer_id, read_node_key};
use cloister_node::{
    chain_spec::{ChainSpec, ChainType},
    cli::ConfigFile,
    keystore::{read_password, AuthorityKeys},
};
use cloister_testkit::{binary, free_port, hex_number, wait_for};
use jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClientBuilder};
use sp_core::Pair;
use std::{
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

/// A base port whose next `n` ports are free on all interfaces.
fn free_range(n: u16) -> u16 {
    loop {
        let base = free_port();
        if base.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (0..n).map(|k| TcpListener::bind(("0.0.0.0", base + k))).collect();
        if held.iter().all(Result::is_ok) {
            return base;
        }
    }
}

/// Runs `cloister ARGS`; returns (success, stdout, stderr).
pub fn cloister(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary("cloister"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cloister: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Deploys `nodes` nodes of chain `name` into `out` with 1 s slots on free local ports; returns
/// the bundle description that `--json` prints.
pub fn deploy_local(name: &str, nodes: u16, out: &Path, extra: &[&str]) -> serde_json::Value {
    let (p2p, rpc, prometheus) = loop {
        let ranges = (free_range(nodes), free_range(nodes), free_range(nodes));
        let starts = [ranges.0, ranges.1, ranges.2];
        let apart = starts.iter().all(|a| starts.iter().all(|b| a == b || a.abs_diff(*b) >= nodes));
        if apart {
            break ranges;
        }
    };
    let (nodes, p2p, rpc, prometheus) = (nodes.to_string(), p2p.to_string(), rpc.to_string(), prometheus.to_string());
    let mut args = vec![
        "--json",
        "deploy",
        "--name",
        name,
        "--nodes",
        &nodes,
        "--out",
        out.to_str().expect("utf8"),
        "--slot-ms",
        "1000",
        "--base-port",
        &p2p,
        "--rpc-base-port",
        &rpc,
        "--prometheus-base-port",
        &prometheus,
    ];
    args.extend(extra);
    let (ok, stdout, stderr) = cloister(&args);
    assert!(ok, "deploy failed: {stderr}");
    serde_json::from_str(stdout.trim()).expect("deploy --json prints the bundle")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn patch(spec: &ChainSpec) -> &serde_json::Value {
    &spec.genesis.runtime_genesis.patch
}

#[test]
fn deploy_writes_a_complete_bundle_with_private_secrets() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let charlie = ss58(&Signer::from_suri("//Charlie").expect("charlie").account());
    let charlie_endowment = format!("{charlie}=7000000000000");
    let bundle =
        deploy_local("home-chain", 3, &dir, &["--endow", "//Bob=5000000000000", "--endow", &charlie_endowment]);
    assert_eq!(bundle["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(bundle["chain_id"], "home_chain");
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["bundle"], "no staging directory is left behind");

    // Secrets 0600, directories 0700.
    for d in ["", "nodes", "systemd", "nodes/node-1", "nodes/node-2/data", "nodes/node-3"] {
        assert_eq!(mode(&dir.join(d)), 0o700, "{d}");
    }
    for k in 1..=3 {
        for secret in ["p2p.key", "keystore.json", "password"] {
            assert_eq!(mode(&dir.join(format!("nodes/node-{k}/{secret}"))), 0o600, "node-{k}/{secret}");
        }
        assert!(dir.join(format!("systemd/cloister-home-chain-node-{k}.service")).is_file());
    }
    assert_eq!(mode(&dir.join("sudo.secret")), 0o600);
    for file in ["chain-spec.json", "bootnodes.txt", "docker-compose.yml", "README.md"] {
        assert!(dir.join(file).is_file(), "{file}");
    }

    // The chain spec: three authorities, the endowments, the sudo key, fast slots, boot nodes.
    let spec = ChainSpec::from_file(&dir.join("chain-spec.json")).expect("valid chain spec");
    assert_eq!((spec.name.as_str(), spec.id.as_str()), ("home-chain", "home_chain"));
    assert_eq!(spec.chain_type, ChainType::Live);
    assert_eq!(spec.consensus.slot_duration_ms, 1000);
    assert_eq!(spec.properties["ss58Format"], 42);
    spec.genesis_storage().expect("the runtime builds its genesis");
    let aura = patch(&spec)["aura"]["authorities"].as_array().expect("aura authorities").clone();
    let grandpa = patch(&spec)["grandpa"]["authorities"].as_array().expect("grandpa authorities").clone();
    assert_eq!((aura.len(), grandpa.len()), (3, 3));
    let sudo_secret = std::fs::read_to_string(dir.join("sudo.secret")).expect("sudo secret");
    let sudo = ss58(&Signer::from_suri(sudo_secret.trim()).expect("the seed is a secret URI").account());
    assert_eq!(bundle["sudo"], sudo.as_str());
    assert_eq!(patch(&spec)["sudo"]["key"], sudo.as_str());
    let balances = patch(&spec)["balances"]["balances"].as_array().expect("balances").clone();
    let endowed = |who: &str| balances.iter().find(|b| b[0] == who).map(|b| b[1].clone());
    let bob = ss58(&Signer::from_suri("//Bob").expect("bob").account());
    assert_eq!(endowed(&bob), Some(serde_json::json!(5_000_000_000_000u64)));
    assert_eq!(endowed(&charlie), Some(serde_json::json!(7_000_000_000_000u64)));
    assert!(endowed(&sudo).is_some(), "the sudo account is endowed");
    assert_ne!(patch(&spec)["permissions"]["restricted"], true, "open unless --permissioned");
    assert_eq!(patch(&spec)["enclaveRegistry"]["allowDevAttestation"], false, "DCAP only unless asked");
    assert_eq!(bundle["validateers"], serde_json::json!([]));
    assert!(!dir.join("validateers").exists(), "no validateers unless asked");
    let bootnodes_txt = std::fs::read_to_string(dir.join("bootnodes.txt")).expect("bootnodes.txt");
    assert_eq!(bootnodes_txt.lines().collect::<Vec<_>>(), spec.boot_nodes);

    // Each keystore opens with its password file and holds that node's authority keys.
    let peers: Vec<String> = (1..=3)
        .map(|k| peer_id(&read_node_key(&dir.join(format!("nodes/node-{k}/p2p.key"))).expect("p2p key")).to_string())
        .collect();
    for k in 1..=3usize {
        let node_dir = dir.join(format!("nodes/node-{k}"));
        let password = read_password(&node_dir.join("password")).expect("password");
        assert_eq!(password.len(), 64, "32 random bytes in hex");
        assert!(password.iter().all(u8::is_ascii_hexdigit));
        let keys = AuthorityKeys::load(&node_dir.join("keystore.json"), &password).expect("keystore opens");
        assert_eq!(aura[k - 1], keys.aura.public().to_string().as_str());
        assert_eq!(grandpa[k - 1][0], keys.grandpa.public().to_string().as_str());

        // node.toml: its own ports and key, the other nodes as boot nodes.
        let config = ConfigFile::load(&node_dir.join("node.toml")).expect("node.toml loads");
        assert_eq!(config.name.as_deref(), Some(format!("home-chain-node-{k}").as_str()));
        assert!(Path::new(config.chain.as_deref().expect("chain")).is_file(), "chain path resolves");
        assert_eq!(config.node_key_file.as_deref(), Some(node_dir.join("p2p.key").as_path()));
        assert_eq!(config.port, bundle["nodes"][k - 1]["p2p_port"].as_u64().map(|p| p as u16));
        assert_eq!(config.rpc_port, bundle["nodes"][k - 1]["rpc_port"].as_u64().map(|p| p as u16));
        let boot_peers: Vec<&str> = config.bootnodes.iter().map(|a| a.rsplit('/').next().expect("peer id")).collect();
        let others: Vec<&str> =
            peers.iter().enumerate().filter(|(i, _)| *i != k - 1).map(|(_, p)| p.as_str()).collect();
        assert_eq!(boot_peers, others, "node-{k} boots from the other nodes");
        assert!(config.bootnodes.iter().all(|a| spec.boot_nodes.contains(a)));
    }

    // Operators' files.
    let compose = std::fs::read_to_string(dir.join("docker-compose.yml")).expect("compose");
    for k in 1..=3 {
        assert!(compose.contains(&format!("  node-{k}:\n")), "{compose}");
        assert!(compose.contains(&format!("\"/bundle/nodes/node-{k}/node.toml\"")), "{compose}");
    }
    assert!(compose.contains("image: cloister/node:latest") && compose.contains(":ro\n"));
    let unit = std::fs::read_to_string(dir.join("systemd/cloister-home-chain-node-2.service")).expect("unit");
    for line in [
        "User=cloister",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "Restart=on-failure",
        "ReadWritePaths=/var/lib/cloister/home-chain/nodes/node-2/data",
        "ExecStart=/usr/local/bin/cloister-node --config /var/lib/cloister/home-chain/nodes/node-2/node.toml",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}:\n{unit}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("readme");
    for needle in ["sudo.secret", "offline", "0600", "cloister network up", "rotate-password", &sudo, &peers[2]] {
        assert!(readme.contains(needle), "README lacks {needle}");
    }
}

#[test]
fn deploy_refuses_a_non_empty_directory_and_leaves_it_unchanged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("taken");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("keep.txt"), "mine").expect("write");
    let (ok, _, err) = cloister(&["deploy", "--name", "c", "--nodes", "1", "--out", dir.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(err.contains("is not empty") && err.contains("nothing was written"), "{err}");
    let entries: Vec<_> = std::fs::read_dir(&dir).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(entries, ["keep.txt"]);
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).expect("read"), "mine");
    let file = dir.join("keep.txt");
    let (ok, _, err) = cloister(&["deploy", "--name", "c", "--nodes", "1", "--out", file.to_str().expect("utf8")]);
    assert!(!ok && err.contains("not a directory"), "{err}");
    let siblings: Vec<_> = std::fs::read_dir(tmp.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(siblings, ["taken"], "no staging directory is left behind");

    // An existing empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    deploy_local("c", 1, &empty, &[]);
    assert!(empty.join("nodes/node-1/keystore.json").is_file());
    assert_eq!(mode(&empty), 0o700);
}

#[test]
fn deploy_refuses_bad_arguments_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let out = out.to_str().expect("utf8");
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    let dup = format!("{alice}=2000000000000");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--name", "c", "--nodes", "0"], "--nodes must be between 1 and 64"),
        (vec!["--name", "c", "--nodes", "65"], "--nodes must be between 1 and 64"),
        (vec!["--name", "Bad_Name", "--nodes", "1"], "invalid chain name"),
        (vec!["--name", "c", "--nodes", "1", "--endow", "//Bob"], "invalid --endow"),
        (vec!["--name", "c", "--nodes", "1", "--endow", "//Bob=12abc"], "not a whole number"),
        (vec!["--name", "c", "--nodes", "1", "--endow", "//Bob=1"], "existential deposit"),
        (vec!["--name", "c", "--nodes", "1", "--endow", "nobody=1000000000000"], "neither an SS58 address"),
        (vec!["--name", "c", "--nodes", "1", "--endow", &dup, "--endow", "//Alice=3000000000000"], "endowed twice"),
        (vec!["--name", "c", "--nodes", "2", "--base-port", "65535"], "above 65535"),
        (vec!["--name", "c", "--nodes", "3", "--rpc-base-port", "30334"], "used twice"),
        (vec!["--name", "c", "--nodes", "2", "--host", "10.0.0.1"], "--host was given 1 times for 2 nodes"),
        (vec!["--name", "c", "--nodes", "1", "--host", "not-an-ip"], "invalid value"),
        (vec!["--name", "c", "--nodes", "1", "--sudo", "garbage"], "invalid --sudo"),
        (vec!["--name", "c", "--nodes", "1", "--slot-ms", "10"], "--slot-ms must be at least"),
        (vec!["--nodes", "1"], "--name"),
        (vec!["--name", "c", "--nodes", "1", "--validateers", "1"], "needs --allow-dev-attestation"),
        (vec!["--name", "c", "--nodes", "1", "--validateers", "2"], "software enclave backend"),
        (vec!["--name", "c", "--nodes", "1", "--validateers", "65", "--allow-dev-attestation"], "at most 64"),
        (
            vec![
                "--name",
                "c",
                "--nodes",
                "1",
                "--validateers",
                "2",
                "--allow-dev-attestation",
                "--trusted-base-port",
                "9944",
            ],
            "used twice",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["deploy", "--out", out];
        full.extend(&args);
        let (ok, _, err) = cloister(&full);
        assert!(!ok, "{args:?} was accepted");
        assert!(err.contains(expected), "{args:?}: expected '{expected}' in: {err}");
        assert!(!err.contains("//Bob"), "a secret URI is never echoed: {err}");
        assert!(std::fs::read_dir(tmp.path()).expect("ls").next().is_none(), "{args:?} wrote something");
    }
}

#[test]
fn deploy_permissioned_spec_allows_every_node_and_gives_sudo_all_permissions() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("perm-chain", 4, &dir, &["--permissioned"]);
    assert_eq!(bundle["permissioned"], true);
    let spec = ChainSpec::from_file(&dir.join("chain-spec.json")).expect("spec");
    let permissions = &patch(&spec)["permissions"];
    assert_eq!(permissions["restricted"], true);
    assert_eq!(permissions["accounts"], serde_json::json!([[bundle["sudo"], 15]]));
    let expected: Vec<String> = (1..=4)
        .map(|k| {
            let key = read_node_key(&dir.join(format!("nodes/node-{k}/p2p.key"))).expect("p2p key");
            format!("0x{}", hex::encode(peer_id(&key).to_bytes()))
        })
        .collect();
    assert_eq!(permissions["allowedPeers"], serde_json::json!(expected));
    assert_eq!(patch(&spec)["aura"]["authorities"].as_array().map(Vec::len), Some(4));
}

#[test]
fn deploy_with_a_given_sudo_account_writes_no_sudo_secret() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("given-sudo", 1, &dir, &["--sudo", "//Alice"]);
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    assert_eq!(bundle["sudo"], alice);
    assert!(bundle["sudo_secret"].is_null());
    assert!(!dir.join("sudo.secret").exists());
    let spec = ChainSpec::from_file(&dir.join("chain-spec.json")).expect("spec");
    assert_eq!(patch(&spec)["sudo"]["key"], alice);
    assert!(std::fs::read_to_string(dir.join("README.md")).expect("readme").contains("given with `--sudo`"));
}

#[tokio::test]
async fn deploy_bundle_node_starts_from_its_config_alone_after_a_password_rotation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle = deploy_local("solo-chain", 1, &dir, &[]);
    let node_dir = dir.join("nodes/node-1");
    let old_password = std::fs::read(node_dir.join("password")).expect("password");
    let (ok, out, err) = cloister(&["--json", "network", "rotate-password", node_dir.to_str().expect("utf8")]);
    assert!(ok, "{err}");
    let rotated: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(rotated["aura"], bundle["nodes"][0]["aura"]);
    assert_ne!(std::fs::read(node_dir.join("password")).expect("password"), old_password);
    assert_eq!(mode(&node_dir.join("password")), 0o600);
    assert_eq!(mode(&node_dir.join("keystore.json")), 0o600);

    let log = std::fs::File::create(tmp.path().join("node.log")).expect("log");
    let mut child = Command::new(binary("cloister-node"))
        .arg("--config")
        .arg(node_dir.join("node.toml"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("cloister-node starts");
    let url = format!("ws://127.0.0.1:{}", bundle["nodes"][0]["rpc_port"]);
    let finalized = wait_for("finalized height 2", Duration::from_secs(60), || {
        let url = url.clone();
        async move {
            let rpc = WsClientBuilder::default().build(&url).await.ok()?;
            let hash: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await.ok()?;
            let header: serde_json::Value = rpc.request("chain_getHeader", rpc_params![hash]).await.ok()?;
            hex_number(&header["number"]).ok().filter(|n| *n >= 2)
        }
    })
    .await;
    let rpc = WsClientBuilder::default().build(&url).await;
    let name: Option<String> = match &rpc {
        Ok(rpc) => rpc.request("system_name", rpc_params![]).await.ok(),
        Err(_) => None,
    };
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(tmp.path().join("node.log")).unwrap_or_default();
    assert!(finalized.is_ok(), "the bundle's node did not finalize:\n{log}");
    assert!(name.is_some(), "system_name answers");
    assert!(log.contains("solo-chain") || log.contains("solo_chain"), "{log}");
    assert!(node_dir.join("data/chains/solo_chain/db").is_dir(), "the chain lives in the node's data directory");
}

#[test]
fn deploy_with_validateers_seals_their_keys_and_endows_and_permits_their_accounts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let bundle =
        deploy_local("val-chain", 2, &dir, &["--validateers", "2", "--allow-dev-attestation", "--permissioned"]);
    let validateers = bundle["validateers"].as_array().expect("validateers").clone();
    assert_eq!(validateers.len(), 2);
    let mrenclave = cloister_testkit::worker::WorkerProcess::mrenclave().expect("mrenclave");
    assert_eq!(bundle["mrenclave"], mrenclave.as_str(), "the bundle's worker is this build");
    assert_eq!(bundle["allow_dev_attestation"], true);

    let spec = ChainSpec::from_file(&dir.join("chain-spec.json")).expect("valid chain spec");
    spec.genesis_storage().expect("the runtime builds its genesis");
    assert_eq!(patch(&spec)["enclaveRegistry"]["allowDevAttestation"], true);
    let balances = patch(&spec)["balances"]["balances"].as_array().expect("balances").clone();
    let permitted = patch(&spec)["permissions"]["accounts"].as_array().expect("accounts").clone();
    let worker = dir.join("validateers/cloister-worker");
    assert_eq!(mode(&worker), 0o755);
    for d in ["validateers", "validateers/validateer-1", "validateers/validateer-2/data"] {
        assert_eq!(mode(&dir.join(d)), 0o700, "{d}");
    }
    for (i, v) in validateers.iter().enumerate() {
        let k = i + 1;
        let data = dir.join(format!("validateers/validateer-{k}/data"));
        assert!(data.join("enclave/signing-key.sealed").is_file(), "validateer-{k}'s keys are sealed");
        // The sealed key opens with the bundle's worker and is the account the bundle names.
        let out = Command::new(&worker).arg("--base-path").arg(&data).arg("signing-key").output().expect("runs");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && printed.starts_with(v["account"].as_str().expect("account")), "{printed}");
        let account = v["account"].clone();
        let endowment = balances.iter().find(|b| b[0] == account).map(|b| b[1].clone());
        assert_eq!(endowment, Some(serde_json::json!(1_000_000_000_000_000u64)), "validateer-{k} is endowed");
        let bits = permitted.iter().find(|p| p[0] == account).map(|p| p[1].clone());
        assert_eq!(bits, Some(serde_json::json!(7)), "validateer-{k} may read, transact and create");
        // Validateer K follows node K (two nodes) on ports 10*(K-1) above the bases.
        let rpc = &bundle["nodes"][i]["rpc_port"];
        let config = ValidateerConfig::load(&dir.join(format!("validateers/validateer-{k}/validateer.toml")))
            .expect("validateer.toml loads");
        assert_eq!((config.node, config.node_url.clone()), (k, format!("ws://127.0.0.1:{rpc}")));
        let shift = 10 * i as u16;
        assert_eq!(
            (config.trusted_port, config.untrusted_port, config.mu_ra_port, config.metrics_port),
            (2000 + shift, 2001 + shift, 3443 + shift, 8787 + shift)
        );
        assert_eq!(v["worker_url"], format!("wss://127.0.0.1:{}", 2000 + shift));
        assert_eq!(config.mrenclave, mrenclave);
    }

    let compose = std::fs::read_to_string(dir.join("docker-compose.yml")).expect("compose");
    for k in 1..=2 {
        assert!(compose.contains(&format!("  validateer-{k}:\n")), "{compose}");
        assert!(compose.contains(&format!("depends_on: [node-{k}]")), "{compose}");
    }
    assert!(compose.contains("\"--mu-ra-port\", \"3453\""), "{compose}");
    assert!(compose.contains("./validateers/cloister-worker:/bundle/validateers/cloister-worker:ro"), "{compose}");
    let unit =
        std::fs::read_to_string(dir.join("systemd/cloister-val-chain-validateer-2.service")).expect("validateer unit");
    let root = "/var/lib/cloister/val-chain/validateers";
    let exec = format!(
        "ExecStart={root}/cloister-worker --base-path {root}/validateer-2/data run --node-url ws://127.0.0.1:{} \
         --trusted-port 2010 --untrusted-port 2011 --mu-ra-port 3453 --metrics-port 8797",
        bundle["nodes"][1]["rpc_port"]
    );
    for line in [exec.as_str(), &format!("ReadWritePaths={root}/validateer-2/data"), "ProtectSystem=strict"] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}:\n{unit}");
    }
    assert!(!compose.contains("--dev") && !unit.contains("--dev"), "never funded from //Alice");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("readme");
    for needle in ["## Validateers", "test consortium", &mrenclave, validateers[1]["account"].as_str().expect("a")] {
        assert!(readme.contains(needle), "README lacks {needle}");
    }
}

/// Stops a bundle's processes when the test ends, even when it fails.
struct NetworkDownOnDrop(std::path::PathBuf);

impl Drop for NetworkDownOnDrop {
    fn drop(&mut self) {
        let _ = cloister(&["network", "down", "--grace", "5", self.0.to_str().unwrap_or_default()]);
    }
}

#[tokio::test]
async fn network_up_starts_a_bundles_validateers_after_its_node_and_down_stops_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("bundle");
    let ports: Vec<String> = (0..4).map(|_| crate::dev::free_port_pair().to_string()).collect();
    let args = [
        "--validateers",
        "2",
        "--allow-dev-attestation",
        "--trusted-base-port",
        &ports[0],
        "--untrusted-base-port",
        &ports[1],
        "--mu-ra-base-port",
        &ports[2],
        "--worker-metrics-base-port",
        &ports[3],
    ];
    deploy_local("val-net", 1, &dir, &args);
    let d = dir.to_str().expect("utf8");
    let _guard = NetworkDownOnDrop(dir.clone());
    let logs = || {
        (1..=2)
            .map(|k| {
                let log = std::fs::read_to_string(dir.join(format!("validateers/validateer-{k}/worker.log")));
                format!("===== validateer-{k}\n{}", log.unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    let (ok, out, err) = cloister(&["--json", "network", "up", "--validateer-timeout", "300", d]);
    assert!(ok, "network up: {err}\n{}", logs());
    let up: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let up = up.as_array().expect("array").clone();
    assert_eq!(up.len(), 3, "the node, then two validateers: {up:?}");
    assert_eq!(up[0]["name"], "val-net-node-1");
    for (k, v) in up[1..].iter().enumerate() {
        assert_eq!(v["role"], "validateer");
        assert_eq!(v["name"], format!("val-net-validateer-{}", k + 1));
        assert_eq!(v["running"], true, "{v}");
        let pid = v["pid"].as_u64().expect("pid");
        let pid_file = dir.join(format!("validateers/validateer-{}/worker.pid", k + 1));
        assert_eq!(std::fs::read_to_string(pid_file).expect("pid file").trim(), pid.to_string());
    }
    let first = std::fs::read_to_string(dir.join("validateers/validateer-1/worker.log")).expect("log");
    assert!(first.contains("validateer ready"), "{}", logs());

    let (ok, out, err) = cloister(&["--json", "network", "down", d]);
    assert!(ok, "network down: {err}");
    let down: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let names: Vec<&str> = down.as_array().expect("array").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["val-net-validateer-1", "val-net-validateer-2", "val-net-node-1"], "validateers first");
    assert!(down.as_array().expect("array").iter().all(|s| s["pid"].is_u64()), "{down}");
    let (ok, out, _) = cloister(&["--json", "network", "status", d]);
    assert!(ok);
    let status: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(status.as_array().expect("array").iter().all(|s| s["running"] == false), "{status}");
}
