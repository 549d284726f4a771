//! The enclave's light client following a real `cloister-node --dev` through the host's
//! fetcher: finality, verified events, refused tampering, read proofs.

use cloister_light_client::{storage, BlockData, FinalizedBlock, LightClient, LightClientError};
use cloister_testkit::{cloister, NodeProcess};
use cloister_worker::parentchain::ParentchainRpc;
use codec::Encode;
use sp_core::{crypto::AccountId32, sr25519, Pair};
use sp_runtime::{traits::Header as _, DigestItem};
use std::time::Duration;

fn account(suri: &str) -> AccountId32 {
    sr25519::Pair::from_string(suri, None).expect("dev key").public().into()
}

/// Syncs in runs of at most 8 blocks until the client has finalized block `target`.
async fn sync_to(rpc: &ParentchainRpc, client: &mut LightClient, target: u32) -> Vec<FinalizedBlock> {
    let mut synced = Vec::new();
    for _ in 0..200 {
        if client.last_finalized_number() >= target {
            return synced;
        }
        match rpc.fetch_next_run(client.last_finalized_number(), 8).await.expect("fetch") {
            Some(run) => synced.extend(client.sync(run).expect("a run from the node verifies")),
            None => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
    panic!("did not reach block {target}; at {}", client.last_finalized_number());
}

/// Syncs `run`, expects a refusal, and checks the sealed state did not change.
fn refused(client: &mut LightClient, run: Vec<BlockData>) -> LightClientError {
    let before = client.encode();
    let error = client.sync(run).expect_err("tampered data must be refused");
    assert_eq!(client.encode(), before, "a refused run leaves the state as it was ({error})");
    error
}

#[tokio::test]
async fn light_client_follows_a_dev_node_and_refuses_tampering() {
    let node = NodeProcess::dev().await.expect("node starts");
    node.wait_finalized(3, Duration::from_secs(90)).await.expect("the dev node finalizes");
    let rpc = ParentchainRpc::connect(&node.url()).await.expect("connects");

    // Trust anchor: the genesis header and the initial sets, proven against its state root.
    let (genesis, proof) = rpc.genesis().await.expect("genesis");
    let mut client = LightClient::from_genesis(genesis, proof).expect("genesis verifies");
    assert_eq!(client.genesis_hash(), rpc.block_hash(0).await.expect("hash 0"));
    assert_eq!(client.aura_authorities().len(), 1, "--dev: one authority, //Alice");
    assert_eq!(client.slot_duration_ms(), Some(1000));

    // //Alice transfers to //Bob; the block with it is final when the CLI returns.
    let (alice, bob) = (account("//Alice"), account("//Bob"));
    let amount: u128 = 1_234_567_890_123;
    let (ok, out, err) = cloister(&node.url(), &["--json", "transfer", "//Alice", "//Bob", &amount.to_string()]);
    assert!(ok, "transfer: {err}");
    let inclusion: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let transfer_block: sp_core::H256 = serde_json::from_value(inclusion["block"].clone()).expect("block hash");
    let transfer_number = *rpc.header(transfer_block).await.expect("header").number();

    // Sync up to the node's latest justified block, in runs.
    let (target, target_hash) = rpc.latest_justified().await.expect("justified head");
    assert!(target >= transfer_number, "the transfer's block is final, so a justified block follows it");
    let synced = sync_to(&rpc, &mut client, target).await;
    assert_eq!(synced.first().map(|b| b.number), Some(1), "synced from genesis on");
    assert!(synced.iter().any(|b| b.number == target && b.hash == target_hash), "the node's justified block");
    let last = client.last_finalized_number();
    assert_eq!(client.last_finalized_hash(), rpc.block_hash(last).await.expect("hash"), "same chain as the node");

    // The transfer is in the verified events of its block: Balances (pallet 4) Transfer
    // (variant 2) { from, to, amount }.
    let block = synced.iter().find(|b| b.hash == transfer_block).expect("the transfer's block was synced");
    let mut event = vec![4u8, 2];
    event.extend_from_slice(alice.as_ref());
    event.extend_from_slice(bob.as_ref());
    event.extend_from_slice(&amount.to_le_bytes());
    assert!(block.events.windows(event.len()).any(|w| w == event), "Balances::Transfer from Alice to Bob");
    assert!(block.extrinsics.len() >= 2, "timestamp and the transfer");

    // A fresh run, tampered four ways, is refused each time with the state unchanged.
    node.wait_finalized(last + 2, Duration::from_secs(60)).await.expect("more finality");
    let run = loop {
        if let Some(run) = rpc.fetch_next_run(client.last_finalized_number(), 8).await.expect("fetch") {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let end = run.len() - 1;

    let mut bad = run.clone();
    bad[0].header.state_root.0[0] ^= 1;
    assert!(matches!(refused(&mut client, bad), LightClientError::ForgedSeal { .. }));

    let mut bad = run.clone();
    let justification = bad[end].justification.as_mut().expect("a run ends at a justified block");
    // The encoding ends with the last precommit's signature (64 bytes), its signer (32) and
    // the empty vote ancestries (1): flip a signature byte.
    let at = justification.len() - 40;
    justification[at] ^= 1;
    assert!(matches!(refused(&mut client, bad), LightClientError::BadJustification { .. }));

    let mut bad = run.clone();
    bad[0].extrinsics.remove(0);
    assert!(matches!(refused(&mut client, bad), LightClientError::ExtrinsicsRootMismatch { .. }));

    let mut bad = run.clone();
    let node_bytes = &mut bad[end].events_proof[0];
    let at = node_bytes.len() - 1;
    node_bytes[at] ^= 1;
    assert!(matches!(refused(&mut client, bad), LightClientError::BadProof { .. }));

    let mut bad = run.clone();
    bad[end].justification = None;
    assert!(matches!(refused(&mut client, bad), LightClientError::NotFinal { .. }));

    let accepted = client.sync(run).expect("the untampered run verifies");
    assert_eq!(accepted.last().map(|b| b.hash), Some(client.last_finalized_hash()));

    // Alice's account at the last finalized block, by read proof; her nonce counts the transfer.
    let key = storage::system_account_key(&alice);
    let proof = rpc.read_proof(&[key.clone()], client.last_finalized_hash()).await.expect("proof");
    let read = client.read_finalized(&proof, &[key.clone()]).expect("the proof verifies");
    let value = read[0].1.clone().expect("Alice has an account");
    let nonce = u32::from_le_bytes(value[..4].try_into().expect("4 bytes"));
    assert!(nonce >= 1, "Alice's nonce counts her transfer");
    for i in 0..proof.len() {
        let mut tampered = proof.clone();
        let at = tampered[i].len() / 2;
        tampered[i][at] ^= 1;
        assert!(
            matches!(client.read_finalized(&tampered, &[key.clone()]), Err(LightClientError::BadProof { .. })),
            "node {i} of the proof was altered"
        );
    }
    assert!(rpc.account_nonce(&alice).await.expect("nonce") >= nonce);
}

#[tokio::test]
async fn light_client_follows_an_authority_set_change_on_a_dev_node() {
    let node = NodeProcess::dev().await.expect("node starts");
    node.wait_finalized(2, Duration::from_secs(90)).await.expect("the dev node finalizes");
    let rpc = ParentchainRpc::connect(&node.url()).await.expect("connects");
    let (genesis, proof) = rpc.genesis().await.expect("genesis");
    let mut client = LightClient::from_genesis(genesis, proof).expect("genesis verifies");
    assert_eq!(client.grandpa_set_id(), 0);

    // Sudo re-enacts the set (still //Alice alone): a GRANDPA change to set id 1 with delay 0,
    // which the CLI waits to see final.
    let (ok, out, err) = cloister(&node.url(), &["authorities", "set", "--sudo", "//Alice", "//Alice"]);
    assert!(ok, "set authorities: {out}{err}");
    let (finalized, _) = rpc.finalized_head().await.expect("finalized");
    node.wait_finalized(finalized + 2, Duration::from_secs(60)).await.expect("the new set finalizes");
    let (target, _) = rpc.latest_justified().await.expect("justified head");
    let synced = sync_to(&rpc, &mut client, target).await;

    // The change block was proven final by its own justification, and the new set (id 1)
    // finalized the blocks after it.
    let changes: Vec<_> = synced
        .iter()
        .filter(|b| {
            b.header.digest().logs().iter().any(|item| matches!(item, DigestItem::Consensus(id, _) if id == b"FRNK"))
        })
        .collect();
    assert_eq!(changes.len(), 1, "one block announces the change");
    let change = changes[0];
    assert!(rpc.justification(change.hash).await.expect("block").is_some(), "the node serves its justification");
    assert!(client.last_finalized_number() > change.number, "blocks after the change were finalized");
    assert_eq!(client.grandpa_set_id(), 1);
}
