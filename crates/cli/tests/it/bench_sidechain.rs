//! `cloister bench sidechain`: trusted transfers through a shard of two validateers, all of them
//! included, none refused, and both validateers ending on the same head.

use cloister_testkit::binary;
use std::{process::Command, time::Duration};

#[tokio::test(flavor = "multi_thread")]
async fn bench_sidechain_includes_every_transfer_and_the_validateers_agree() {
    let mut command = Command::new(binary("cloister"));
    command.args(["bench", "sidechain", "--validateers", "2", "--count", "40", "--senders", "4", "--json"]);
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the benchmark ends within 10 minutes")
        .expect("join")
        .expect("cloister runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "cloister bench sidechain failed ({}):\n{stderr}", output.status);
    let report: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("one JSON object expected ({e}):\n{stdout}"));
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run per validateer count: {report}");
    let run = &runs[0];
    assert_eq!(run["validateers"], 2, "{run}");
    assert_eq!(run["included"], 40, "every transfer in a sidechain block: {run}");
    assert_eq!(run["invalid"], 0, "{run}");
    assert_eq!(run["refused"], 0, "{run}");
    assert_eq!(run["heads_agree"], true, "both validateers end on the same head: {run}");
    let heads = run["heads"].as_array().expect("heads");
    assert_eq!(heads.len(), 2, "{run}");
    assert_eq!(heads[0], heads[1], "{run}");
    assert!(run["sidechain_height"].as_u64().is_some_and(|h| h >= 1), "{run}");
    assert!(run["transfers_per_second"].as_f64().is_some_and(|tps| tps > 0.0), "{run}");
}
