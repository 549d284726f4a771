//! Blocks are produced and finalized; justifications and metrics are served.

use cloister_testkit::{hex_number, http, NodeProcess};
use jsonrpsee::{core::client::ClientT, rpc_params};
use std::time::Duration;

#[tokio::test]
async fn dev_chain_produces_and_finalizes_blocks_with_justifications() {
    let node = NodeProcess::dev().await.expect("node starts");
    let finalized = node.wait_finalized(3, Duration::from_secs(30)).await.expect("finality");
    let (best, _) = node.heights().await.expect("heights");
    assert!(best >= finalized && finalized >= 3, "best {best} finalized {finalized}");

    let rpc = node.rpc().await.expect("rpc");
    // Every block has one parent: follow the chain down from the finalized head to genesis.
    let mut hash: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await.expect("head");
    let genesis: String = rpc.request("chain_getBlockHash", rpc_params![0]).await.expect("genesis");
    for expected in (0..=finalized).rev() {
        let header: serde_json::Value =
            rpc.request("chain_getHeader", rpc_params![hash.clone()]).await.expect("header");
        assert_eq!(hex_number(&header["number"]).expect("number"), expected);
        let canonical: String = rpc.request("chain_getBlockHash", rpc_params![expected]).await.expect("hash");
        assert_eq!(canonical, hash);
        hash = header["parentHash"].as_str().expect("parent").to_string();
    }
    assert_eq!(hash, "0x0000000000000000000000000000000000000000000000000000000000000000");
    assert!(genesis.starts_with("0x") && genesis.len() == 66);

    // The finalized block carries a GRANDPA justification, and the finality proof is served.
    let head: String = rpc.request("chain_getBlockHash", rpc_params![finalized]).await.expect("hash");
    let block: serde_json::Value = rpc.request("chain_getBlock", rpc_params![head]).await.expect("block");
    let justifications = block["justifications"].as_array().expect("justifications present");
    assert_eq!(justifications[0][0], serde_json::json!([70, 82, 78, 75]), "engine id FRNK");
    let proof: Option<String> = rpc.request("grandpa_proveFinality", rpc_params![1]).await.expect("proof");
    assert!(proof.is_some_and(|p| p.len() > 66));

    // Prometheus reports the heights.
    let body = http(node.prometheus_port, "GET", "/metrics", None).expect("metrics");
    for series in [
        "cloister_block_height{status=\"best\"}",
        "cloister_block_height{status=\"finalized\"}",
        "cloister_ready_transactions_number",
        "cloister_block_import_seconds_count",
    ] {
        assert!(body.contains(series), "metrics lack {series}:\n{body}");
    }
}

#[tokio::test]
async fn runtime_answers_substrate_wallet_calls() {
    let node = NodeProcess::dev().await.expect("node starts");
    let rpc = node.rpc().await.expect("rpc");
    let version: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await.expect("version");
    assert_eq!(version["specName"], "cloister");
    assert!(version["apis"].as_array().is_some_and(|a| a.len() >= 8));
    let metadata: String = rpc.request("state_getMetadata", rpc_params![]).await.expect("metadata");
    // "meta" magic, then the metadata version.
    assert!(metadata.starts_with("0x6d657461"));
    let properties: serde_json::Value = rpc.request("system_properties", rpc_params![]).await.expect("props");
    assert_eq!(properties["ss58Format"], 42);
    let chain_type: serde_json::Value = rpc.request("system_chainType", rpc_params![]).await.expect("type");
    assert_eq!(chain_type, "Development");
    // The same port answers plain HTTP JSON-RPC.
    let over_http =
        http(node.rpc_port, "POST", "/", Some(r#"{"jsonrpc":"2.0","id":1,"method":"system_chain","params":[]}"#))
            .expect("http");
    let over_http: serde_json::Value = serde_json::from_str(&over_http).expect("json");
    assert_eq!(over_http["result"], "Development");
    let methods: serde_json::Value = rpc.request("rpc_methods", rpc_params![]).await.expect("methods");
    for m in [
        "author_submitAndWatchExtrinsic",
        "state_getReadProof",
        "chain_subscribeFinalizedHeads",
        "payment_queryInfo",
        "grandpa_proveFinality",
    ] {
        assert!(methods["methods"].as_array().is_some_and(|l| l.iter().any(|x| x == m)), "missing {m}");
    }
    let proof: serde_json::Value = rpc
        .request(
            "state_getReadProof",
            rpc_params![vec!["0x26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac"]],
        )
        .await
        .expect("proof");
    assert!(proof["proof"].as_array().is_some_and(|p| !p.is_empty()));
}
