//! The `cloister` command line against a dev node: transfers, the ceremony phase, communities.

use crate::{free_balance, fresh_account};
use cloister_cli::signer::ss58;
use cloister_testkit::{cloister, NodeProcess};

#[tokio::test]
async fn cli_transfer_moves_the_amount() {
    let node = NodeProcess::dev().await.expect("node starts");
    let bob = fresh_account("cli-transfer");
    let address = ss58(&bob.account());
    let (ok, out, err) = cloister(&node.url(), &["--json", "balance", &address]);
    assert!(ok, "{err}");
    let before: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(before["free"], "0");

    let (ok, out, err) = cloister(&node.url(), &["--json", "transfer", "//Alice", &address, "1500000000000"]);
    assert!(ok, "transfer failed: {err}");
    let inclusion: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(inclusion["finalized"], true);
    assert!(inclusion["events"].as_array().expect("events").iter().any(|e| e == "Balances::Transfer"));
    assert_eq!(free_balance(&node, &bob.account()).await, 1_500_000_000_000);

    let (ok, out, _) = cloister(&node.url(), &["balance", &address]);
    assert!(ok && out.contains("free 1500000000000"), "{out}");
}

#[tokio::test]
async fn cli_reports_a_failed_transfer_and_exits_non_zero() {
    let node = NodeProcess::dev().await.expect("node starts");
    let poor = fresh_account("cli-poor");
    // An account with no funds cannot pay; the pool refuses it.
    let suri = format!("//Cloister//test//cli-poor//{}", std::process::id());
    let (ok, _, err) = cloister(&node.url(), &["transfer", &suri, "//Bob", "1000"]);
    assert!(!ok);
    assert!(err.contains("Invalid Transaction") || err.contains("Payment"), "{err}");
    assert_eq!(free_balance(&node, &poor.account()).await, 0);
    // More than Alice has: included, but the call fails.
    let (ok, _, err) = cloister(&node.url(), &["transfer", "//Alice", "//Bob", "100000000000000000000000000"]);
    assert!(!ok);
    assert!(err.contains("extrinsic failed"), "{err}");
}

#[tokio::test]
async fn cli_creates_a_community_and_advances_the_phase() {
    let node = NodeProcess::dev().await.expect("node starts");
    let url = node.url();
    let phase = |args: &[&str]| {
        let (ok, out, err) = cloister(&url, args);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).expect("json")
    };
    let now = phase(&["--json", "phase"]);
    assert_eq!(now["phase"], "Registering");
    assert_eq!(now["ceremony_index"], 1);
    assert_eq!(phase(&["--json", "next-phase"])["phase"], "Assigning");
    assert_eq!(phase(&["--json", "next-phase"])["phase"], "Attesting");
    let back = phase(&["--json", "next-phase"]);
    assert_eq!(back["phase"], "Registering");
    assert_eq!(back["ceremony_index"], 2);
    assert_eq!(phase(&["--json", "ceremony-index"])["ceremony_index"], 2);

    // Only sudo may change the phase.
    let (ok, _, err) = cloister(&url, &["next-phase", "--sudo", "//Bob"]);
    assert!(!ok, "Bob is not sudo");
    assert!(err.contains("RequireSudo"), "{err}");

    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("leu.toml");
    std::fs::write(
        &spec,
        r#"name = "Leu Zurich"
symbol = "LEU"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
nominal_income = 2.0
[[locations]]
lat = 47.3769
lon = 8.5417
[[locations]]
lat = 47.4
lon = 8.6
"#,
    )
    .expect("write spec");
    // Phases also end on the dev chain's 20-minute grid: when the test runs across a boundary,
    // Registering can end between the last `next-phase` and the creation. Then the next
    // boundary is 20 minutes away: cycle back to Registering and create again.
    let create = || cloister(&url, &["--json", "new-community", spec.to_str().expect("utf8")]);
    let (mut ok, mut out, mut err) = create();
    if !ok && err.contains("RegistrationPhaseRequired") {
        while phase(&["--json", "phase"])["phase"] != "Registering" {
            phase(&["--json", "next-phase"]);
        }
        (ok, out, err) = create();
    }
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let cid = created["cid"].as_str().expect("cid").to_string();
    assert!(cid.starts_with("u0qj"), "{cid}");
    let list = phase(&["--json", "list-communities"]);
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["cid"], cid.as_str());
    assert_eq!(list[0]["name"], "Leu Zurich");
    assert_eq!(list[0]["symbol"], "LEU");
    assert_eq!(list[0]["locations"], 2);
    assert_eq!(list[0]["bootstrappers"].as_array().map(Vec::len), Some(3));

    // The same community cannot be registered twice.
    let (ok, _, err) = cloister(&url, &["new-community", spec.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(err.contains("CommunityAlreadyRegistered"), "{err}");
}
