//! Unmodified `@polkadot/api` (npm, 16.5.x) connects, reads, follows heads and transfers.
//!
//! Needs Node.js; `.ci/run` installs the npm packages and sets `CLOISTER_REQUIRE_JS=1` so that a
//! missing Node.js fails the test there. Elsewhere, without Node.js, the test says so and passes.

use crate::{free_balance, fresh_account};
use cloister_cli::signer::ss58;
use cloister_testkit::NodeProcess;
use std::{path::PathBuf, process::Command};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

fn node_available() -> bool {
    Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn polkadot_js_reads_follows_and_transfers() {
    if !node_available() {
        assert!(std::env::var_os("CLOISTER_REQUIRE_JS").is_none(), "Node.js is required (CLOISTER_REQUIRE_JS is set)");
        eprintln!("SKIPPED polkadot_js_reads_follows_and_transfers: Node.js is not installed");
        return;
    }
    let dir = js_dir();
    if !dir.join("node_modules/@polkadot/api").exists() {
        let status =
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status().expect("npm runs");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let node = NodeProcess::dev().await.expect("node starts");
    let receiver = fresh_account("polkadot-js");
    let amount: u128 = 3_000_000_000_000;
    let output = Command::new("node")
        .arg(dir.join("transfer.mjs"))
        .arg(node.url())
        .arg(amount.to_string())
        .arg(ss58(&receiver.account()))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "script failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("json report");
    assert_eq!(report["chain"], "Development");
    assert_eq!(report["specName"], "cloister");
    assert_eq!(report["before"], "0");
    assert_eq!(report["delta"], amount.to_string());
    assert!(report["sawTransferEvent"].as_bool().unwrap_or(false), "{report}");
    assert!(report["status"].as_array().is_some_and(|s| s.iter().any(|x| x == "Finalized")), "{report}");
    assert!(report["heads"]["best"].as_array().is_some_and(|b| b.len() >= 2));
    assert!(report["heads"]["finalized"].as_array().is_some_and(|b| b.len() >= 2));
    assert_eq!(free_balance(&node, &receiver.account()).await, amount);
}
