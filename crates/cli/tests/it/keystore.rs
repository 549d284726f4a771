//! A node authors and finalizes with keys from its encrypted keystore, on a chain spec file
//! whose authority is that key; a wrong password opens nothing and the node does not start.

use cloister_testkit::{binary, NodeOptions, NodeProcess};
use std::{process::Command, time::Duration};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(binary("cloister-node")).args(args).output().expect("cloister-node runs")
}

#[tokio::test]
async fn node_authors_with_its_encrypted_keystore() {
    let dir = tempfile::tempdir().expect("tmp");
    let keystore = dir.path().join("keys.json");
    let password = dir.path().join("password");
    std::fs::write(&password, "a long passphrase\n").expect("write");
    let generated = run(&[
        "generate-keys",
        "--keystore",
        keystore.to_str().expect("utf8"),
        "--password-file",
        password.to_str().expect("utf8"),
    ]);
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let keys: serde_json::Value = serde_json::from_slice(&generated.stdout).expect("json");
    let stored = std::fs::read_to_string(&keystore).expect("keystore");
    assert!(stored.contains("ciphertext") && stored.contains("scrypt"));

    // A chain whose only authority is the generated key.
    let spec = run(&["build-spec", "--chain", "dev"]);
    let mut spec: serde_json::Value = serde_json::from_slice(&spec.stdout).expect("spec json");
    spec["id"] = "keystore_test".into();
    spec["chainType"] = "Local".into();
    let patch = &mut spec["genesis"]["runtimeGenesis"]["patch"];
    patch["aura"]["authorities"] = serde_json::json!([keys["aura"]]);
    patch["grandpa"]["authorities"] = serde_json::json!([[keys["grandpa"], 1]]);
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec).expect("json")).expect("write");

    let node = NodeProcess::start(NodeOptions {
        chain: Some(spec_path.to_str().expect("utf8").into()),
        extra: vec![
            "--keystore".into(),
            keystore.to_str().expect("utf8").into(),
            "--password-file".into(),
            password.to_str().expect("utf8").into(),
        ],
        ..Default::default()
    })
    .await
    .expect("node starts");
    let finalized = node.wait_finalized(2, Duration::from_secs(30)).await;
    assert!(finalized.is_ok(), "{}", node.log_text());

    std::fs::write(&password, "wrong").expect("write");
    let refused = run(&[
        "--chain",
        spec_path.to_str().expect("utf8"),
        "--tmp",
        "--rpc-port",
        "0",
        "--no-prometheus",
        "--keystore",
        keystore.to_str().expect("utf8"),
        "--password-file",
        password.to_str().expect("utf8"),
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("wrong password"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
