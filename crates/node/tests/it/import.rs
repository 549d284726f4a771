//! A block authored by one node imports into another; tampered blocks are refused and change
//! nothing.

use super::*;
use cloister_consensus::AuraError;
use cloister_node::client::{BlockOrigin, ImportError, Imported};
use codec::Encode;

#[test]
fn a_peers_block_imports_and_tampered_ones_are_refused() {
    let (alice_node, _a) = client(ChainSpec::dev());
    let (bob_node, _b) = client(ChainSpec::dev());
    assert_eq!(alice_node.info().genesis_hash, bob_node.info().genesis_hash, "same spec, same genesis");

    let xt = transfer(&alice_node, "//Alice", "//Bob", 0, 0, 5).encode();
    let block = author(&alice_node, "//Alice", vec![xt]);
    assert_eq!(block.block.extrinsics.len(), 2, "timestamp inherent and the transfer");
    let hash = block.block.header.hash();

    // Tampered body: the extrinsics root no longer matches.
    let mut tampered = block.clone();
    tampered.block.extrinsics.pop();
    assert!(matches!(bob_node.import_block(tampered, BlockOrigin::Network), Err(ImportError::Execution { .. })));

    // Sealed by someone who does not own the slot.
    let mut wrong_author = block.clone();
    wrong_author.block.header.digest.logs.pop();
    let resealed = aura::seal(wrong_author.block.header.clone(), &pair("//Bob").into());
    wrong_author.block.header = resealed;
    assert!(matches!(
        bob_node.import_block(wrong_author, BlockOrigin::Network),
        Err(ImportError::Aura { source: AuraError::BadSeal { .. }, .. })
    ));

    // Unknown parent.
    let mut orphan = block.clone();
    orphan.block.header.parent_hash = [7u8; 32].into();
    assert!(matches!(bob_node.import_block(orphan, BlockOrigin::Network), Err(ImportError::UnknownParent { .. })));
    assert_eq!(bob_node.info().best_number, 0, "nothing was imported");

    // The genuine block.
    assert_eq!(
        bob_node.import_block(block.clone(), BlockOrigin::Network).expect("imports"),
        Imported::New { is_new_best: true }
    );
    assert_eq!(bob_node.info().best_hash, hash);
    assert_eq!(bob_node.import_block(block, BlockOrigin::Network).expect("again"), Imported::AlreadyKnown);
    // The transfer took effect in the importer's state: Bob's free balance grew by 5 units.
    let free = |at| {
        let bytes = bob_node.storage(&at, &account_key(&pair("//Bob").public().0)).expect("read").expect("exists");
        // AccountInfo: nonce u32, consumers u32, providers u32, sufficients u32, then free u128.
        u128::from_le_bytes(bytes[16..32].try_into().expect("16 bytes"))
    };
    assert_eq!(free(hash) - free(bob_node.info().genesis_hash), 5 * UNIT);
}

#[test]
fn a_block_from_the_future_is_held_back() {
    let (a, _a) = client(ChainSpec::dev());
    let (b, _b) = client(ChainSpec::dev());
    let (parent_hash, parent) = a.best_header();
    let slot = aura::slot_at(now_millis() + 10_000, a.slot_duration_ms());
    let built = builder::build_block(
        &a,
        parent_hash,
        &parent,
        slot,
        *slot * a.slot_duration_ms(),
        vec![],
        Instant::now() + Duration::from_secs(5),
    )
    .expect("builds");
    let header = aura::seal(built.header, &pair("//Alice").into());
    let block = SignedBlock { block: OpaqueBlock::new(header, built.extrinsics), justifications: None };
    assert!(matches!(
        b.import_block(block, BlockOrigin::Network),
        Err(ImportError::Aura { source: AuraError::FutureSlot { .. }, .. })
    ));
}

/// `System.Account` key of a 32-byte account.
fn account_key(account: &[u8; 32]) -> Vec<u8> {
    let mut key = sp_crypto_hashing::twox_128(b"System").to_vec();
    key.extend(sp_crypto_hashing::twox_128(b"Account"));
    key.extend(sp_crypto_hashing::blake2_128(account));
    key.extend(account);
    key
}

#[test]
fn two_blocks_by_one_author_in_one_slot_are_counted_as_an_equivocation() {
    let (alice_node, _a) = client(ChainSpec::dev());
    let (importer, _b) = client(ChainSpec::dev());
    let empty = author(&alice_node, "//Alice", vec![]);
    let slot = aura::find_slot(&empty.block.header).expect("slot");
    // The same author, the same parent and slot, another body: a second block for the slot.
    let xt = transfer(&alice_node, "//Alice", "//Bob", 0, 0, 1).encode();
    let (parent_hash, parent) = alice_node.best_header();
    let built = builder::build_block(
        &alice_node,
        parent_hash,
        &parent,
        slot,
        // The slot's own time: under load the clock may already be in the next slot.
        u64::from(slot) * alice_node.slot_duration_ms(),
        vec![(sp_crypto_hashing::blake2_256(&xt).into(), xt)],
        Instant::now() + Duration::from_secs(5),
    )
    .expect("builds");
    let header = aura::seal(built.header, &pair("//Alice").into());
    let other = SignedBlock { block: OpaqueBlock::new(header, built.extrinsics), justifications: None };
    assert_ne!(empty.block.header.hash(), other.block.header.hash());

    let counted = |c: &Client| c.metrics().render().contains("cloister_aura_equivocations_total 1");
    importer.import_block(empty, BlockOrigin::Network).expect("first block");
    assert!(!counted(&importer), "one block per slot is no equivocation");
    // Like Substrate, the second block still imports (fork choice decides); it is counted.
    importer.import_block(other, BlockOrigin::Network).expect("second block");
    assert!(counted(&importer), "{}", importer.metrics().render());
}

#[test]
fn a_block_with_a_transaction_lacking_transact_is_rejected_on_import() {
    use cloister_runtime::genesis::{
        consortium_genesis, dev_authority, dev_endowed, GenesisParams, PermissionsGenesis,
    };
    let alice: cloister_primitives::AccountId = pair("//Alice").public().into();
    let params = GenesisParams {
        authorities: dev_authority("Alice").into_iter().collect(),
        sudo: Some(alice.clone()),
        endowed: dev_endowed(),
        phase_durations_ms: [60_000; 3],
        permissions: Some(PermissionsGenesis { restricted: true, accounts: vec![(alice, 15)], allowed_peers: vec![] }),
        allow_dev_attestation: false,
    };
    let spec = ChainSpec::consortium("Restricted", "restricted", 1000, consortium_genesis(&params));
    let (author_node, _a) = client(spec.clone());
    let (importer, _b) = client(spec);

    // The pool's validation refuses Charlie's transfer outright.
    let xt = transfer(&author_node, "//Charlie", "//Bob", 0, 0, 1).encode();
    let built = author(&author_node, "//Alice", vec![xt.clone()]);
    assert_eq!(built.block.extrinsics.len(), 1, "the builder leaves out a transaction the runtime refuses");

    // A dishonest author puts it in anyway (extrinsics root fixed up, block sealed): the others
    // refuse the block on import and keep their chain.
    let mut header = built.block.header.clone();
    header.digest.logs.pop();
    let mut extrinsics = built.block.extrinsics.clone();
    extrinsics.push(sp_runtime::OpaqueExtrinsic::from_bytes(&xt).expect("extrinsic"));
    // `system_version: 1`: the extrinsics root is a state-version-1 trie.
    header.extrinsics_root = <sp_runtime::traits::BlakeTwo256 as sp_runtime::traits::Hash>::ordered_trie_root(
        extrinsics.iter().map(|x| x.encode()).collect(),
        sp_runtime::StateVersion::V1,
    );
    let header = aura::seal(header, &pair("//Alice").into());
    let forged = SignedBlock { block: OpaqueBlock::new(header, extrinsics), justifications: None };
    let result = importer.import_block(forged, BlockOrigin::Network);
    let Err(ImportError::Execution { source, .. }) = &result else { panic!("accepted: {result:?}") };
    // CheckPermissions is the only extension that raises a custom error (the pool shows its code,
    // LACKS_TRANSACT; the executive names it only as custom).
    assert!(format!("{source}").contains("InvalidTransaction custom error"), "refused for the permission: {source}");
    assert_eq!(importer.info().best_number, 0, "nothing was imported");
}
