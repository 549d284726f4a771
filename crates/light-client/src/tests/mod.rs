//! Behaviour of the light client on synthetic chains.

mod chain;

use crate::{storage, BlockData, FinalizedBlock, JustificationFault, LightClient, LightClientError, ProofError};
use chain::{authorities, authority, change_logs, BlockSpec, TestChain};
use cloister_consensus::{aura, GrandpaJustification, JustificationError};
use codec::{Decode, Encode};
use sp_core::Pair;

/// Syncs `run`, expects an error, and checks the client did not change at all.
fn rejected(client: &mut LightClient, run: Vec<BlockData>) -> LightClientError {
    let before = client.clone();
    let error = client.sync(run).expect_err("the run must be refused");
    assert_eq!(*client, before, "a refused run changes nothing ({error})");
    error
}

fn numbers(blocks: &[FinalizedBlock]) -> Vec<u32> {
    blocks.iter().map(|b| b.number).collect()
}

#[test]
fn genesis_anchors_the_authority_sets() {
    let chain = TestChain::new(authorities(&[1, 2, 3]));
    let client = chain.client();
    assert_eq!(client.genesis_hash(), chain.genesis.hash());
    assert_eq!(client.last_finalized_number(), 0);
    assert_eq!(client.aura_authorities().len(), 3);
    assert_eq!(client.grandpa_set_id(), 0);
    assert_eq!(client.grandpa_set().authorities.len(), 3);
    assert_eq!(client.slot_duration_ms(), Some(1000));
}

#[test]
fn genesis_with_a_bad_proof_or_no_genesis_is_refused() {
    let chain = TestChain::new(authorities(&[1]));
    let mut proof = chain.genesis_proof.clone();
    proof.pop();
    assert!(matches!(
        LightClient::from_genesis(chain.genesis.clone(), proof),
        Err(LightClientError::BadProof { block: Some(0), .. })
    ));
    let mut header = chain.genesis.clone();
    header.number = 1;
    assert_eq!(
        LightClient::from_genesis(header, chain.genesis_proof.clone()),
        Err(LightClientError::NotGenesis { number: 1 })
    );
    let mut other = chain.genesis.clone();
    other.state_root = sp_core::H256::repeat_byte(9);
    assert!(matches!(
        LightClient::from_genesis(other, chain.genesis_proof.clone()),
        Err(LightClientError::BadProof { reason: ProofError::WrongRoot { .. }, .. })
    ));
}

#[test]
fn a_good_run_is_finalized_with_its_verified_events() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3]));
    let mut client = chain.client();
    let run = chain.run(5);
    let expected: Vec<_> = run.iter().map(|b| (b.header.hash(), b.extrinsics.clone())).collect();
    let finalized = client.sync(run).expect("valid run");
    assert_eq!(numbers(&finalized), vec![1, 2, 3, 4, 5]);
    for (block, (hash, extrinsics)) in finalized.iter().zip(expected) {
        assert_eq!(block.hash, hash);
        assert_eq!(block.extrinsics, extrinsics);
        let (number, _): (u32, Vec<u8>) = Decode::decode(&mut &block.events[..]).expect("the events we stored");
        assert_eq!(number, block.number);
    }
    assert_eq!(client.last_finalized_hash(), chain.head.hash());

    // The next run continues from there; an intermediate justification is fine too.
    let mut run = chain.run(4);
    chain.justify(&mut run[1]);
    assert_eq!(numbers(&client.sync(run).expect("second run")), vec![6, 7, 8, 9]);
    assert_eq!(client.last_finalized_number(), 9);
    assert_eq!(client.sync(Vec::new()), Ok(Vec::new()), "an empty run is no change");
}

#[test]
fn the_state_survives_sealing() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    client.sync(chain.run(3)).expect("valid run");
    let restored = LightClient::decode(&mut &client.encode()[..]).expect("decodes");
    assert_eq!(restored, client);
}

#[test]
fn a_header_changed_after_sealing_is_forged() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3]));
    let mut client = chain.client();
    let mut run = chain.run(3);
    run[1].header.extrinsics_root = sp_core::H256::repeat_byte(7);
    let error = rejected(&mut client, run);
    assert!(matches!(error, LightClientError::ForgedSeal { number: 2, .. }), "{error}");
}

#[test]
fn a_header_sealed_by_another_authority_of_the_set_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3]));
    let mut client = chain.client();
    let slot = chain.slot + 1;
    let expected = (slot % 3) as u32;
    let other = chain.aura[((slot + 1) % 3) as usize].aura.clone();
    let mut block = chain.block_with(BlockSpec { sealer: Some(other), ..Default::default() });
    chain.justify(&mut block);
    let error = rejected(&mut client, vec![block]);
    assert_eq!(
        error,
        LightClientError::WrongAuthor {
            number: 1,
            hash: chain.head.hash(),
            slot,
            expected,
            signer: ((slot + 1) % 3) as u32
        }
    );
}

#[test]
fn a_header_sealed_by_an_unknown_key_is_forged() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let mut block = chain.block_with(BlockSpec { sealer: Some(authority(99).aura), ..Default::default() });
    chain.justify(&mut block);
    assert!(matches!(rejected(&mut client, vec![block]), LightClientError::ForgedSeal { number: 1, .. }));
}

#[test]
fn unsealed_headers_and_slots_going_backwards_are_refused() {
    let mut chain = TestChain::new(authorities(&[1]));
    let mut client = chain.client();
    let mut run = chain.run(2);
    run[1].header.digest.logs.pop();
    let error = rejected(&mut client, run);
    assert!(matches!(error, LightClientError::Aura { number: 2, source: cloister_consensus::AuraError::NoSeal, .. }));

    let mut chain = TestChain::new(authorities(&[1]));
    let mut client = chain.client();
    let first = chain.block();
    chain.slot -= 1; // the next block claims the same slot as its parent
    let mut second = chain.block();
    chain.justify(&mut second);
    let error = rejected(&mut client, vec![first, second]);
    assert!(matches!(
        error,
        LightClientError::Aura { number: 2, source: cloister_consensus::AuraError::SlotNotIncreasing { .. }, .. }
    ));
}

#[test]
fn a_run_that_does_not_extend_the_finalized_block_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let _skipped = chain.run(1);
    let error = rejected(&mut client, chain.run(2));
    assert!(matches!(error, LightClientError::NotExtending { number: 2, expected_number: 0, .. }), "{error}");

    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let mut run = chain.run(3);
    run.swap(0, 1);
    assert!(matches!(rejected(&mut client, run), LightClientError::NotExtending { number: 2, .. }));
}

#[test]
fn a_flipped_signature_byte_breaks_the_justification() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3]));
    let mut client = chain.client();
    let mut run = chain.run(2);
    let bytes = run[1].justification.clone().expect("justified");
    let mut justification = GrandpaJustification::decode(&mut &bytes[..]).expect("decodes");
    let precommit = &mut justification.commit.precommits[0];
    let mut signature = precommit.signature.encode();
    signature[5] ^= 1;
    precommit.signature = Decode::decode(&mut &signature[..]).expect("still 64 bytes");
    run[1].justification = Some(justification.encode());
    let error = rejected(&mut client, run);
    assert!(
        matches!(
            error,
            LightClientError::BadJustification {
                number: 2,
                reason: JustificationFault::Invalid(JustificationError::BadSignature { .. }),
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_justification_for_another_set_id_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3]));
    let mut client = chain.client();
    let mut run: Vec<_> = (0..2).map(|_| chain.block()).collect();
    let voters = chain.voters.clone();
    run[1].justification = Some(chain.justification_by(&run[1], &voters, 1));
    let error = rejected(&mut client, run);
    assert!(
        matches!(
            error,
            LightClientError::BadJustification {
                set_id: 0,
                reason: JustificationFault::Invalid(JustificationError::BadSignature { .. }),
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_justification_without_two_thirds_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2, 3, 4]));
    let mut client = chain.client();
    let mut block = chain.block();
    let two = chain.voters[..2].to_vec();
    block.justification = Some(chain.justification_by(&block, &two, 0));
    let error = rejected(&mut client, vec![block.clone()]);
    assert!(
        matches!(
            error,
            LightClientError::BadJustification {
                reason: JustificationFault::Invalid(JustificationError::NoSupermajority { set_id: 0 }),
                ..
            }
        ),
        "{error}"
    );
    // Three of four is enough.
    let three = chain.voters[..3].to_vec();
    block.justification = Some(chain.justification_by(&block, &three, 0));
    assert_eq!(numbers(&client.sync(vec![block]).expect("3 of 4 finalize")), vec![1]);
}

#[test]
fn a_justification_by_an_outsider_or_for_another_block_is_refused() {
    let mut chain = TestChain::new(authorities(&[1]));
    let mut client = chain.client();
    let mut run: Vec<_> = (0..2).map(|_| chain.block()).collect();
    run[1].justification = Some(chain.justification_by(&run[1], &[authority(42)], 0));
    let error = rejected(&mut client, run.clone());
    assert!(matches!(error, LightClientError::UnknownAuthority { number: 2, set_id: 0, .. }), "{error}");

    let voters = chain.voters.clone();
    run[1].justification = Some(chain.justification_by(&run[0], &voters, 0));
    let error = rejected(&mut client, run.clone());
    assert!(
        matches!(
            error,
            LightClientError::BadJustification {
                reason: JustificationFault::Invalid(JustificationError::WrongTarget { .. }),
                ..
            }
        ),
        "{error}"
    );

    run[1].justification = Some(vec![1, 2, 3]);
    let error = rejected(&mut client, run);
    assert!(
        matches!(error, LightClientError::BadJustification { reason: JustificationFault::Undecodable(_), .. }),
        "{error}"
    );
}

#[test]
fn a_wrong_extrinsics_list_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let run = chain.run(3);
    let tamper: [fn(&mut Vec<Vec<u8>>); 4] = [
        |x| x.push(vec![0]),
        |x| {
            x.pop();
        },
        |x| x[0][1] ^= 1,
        |x| {
            x.insert(0, x[0].clone());
        },
    ];
    for change in tamper {
        let mut bad = run.clone();
        change(&mut bad[2].extrinsics);
        let error = rejected(&mut client, bad);
        assert!(matches!(error, LightClientError::ExtrinsicsRootMismatch { number: 3, .. }), "{error}");
    }
    client.sync(run).expect("the untampered run");
}

#[test]
fn a_wrong_events_proof_is_refused() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let run = chain.run(3);

    let mut other_block = run.clone();
    other_block[2].events_proof = run[1].events_proof.clone();
    let error = rejected(&mut client, other_block);
    assert!(
        matches!(error, LightClientError::BadProof { block: Some(3), reason: ProofError::WrongRoot { .. }, .. }),
        "{error}"
    );

    for i in 0..run[2].events_proof.len() {
        let mut missing = run.clone();
        missing[2].events_proof.remove(i);
        assert!(matches!(rejected(&mut client, missing), LightClientError::BadProof { block: Some(3), .. }));
        let mut altered = run.clone();
        let node = &mut altered[2].events_proof[i];
        let last = node.len() - 1;
        node[last] ^= 1;
        assert!(matches!(rejected(&mut client, altered), LightClientError::BadProof { block: Some(3), .. }));
    }
    client.sync(run).expect("the untampered run");
}

#[test]
fn a_run_that_ends_without_a_justification_is_not_final() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let mut run = chain.run(2);
    run.push(chain.block());
    let error = rejected(&mut client, run.clone());
    assert_eq!(error, LightClientError::NotFinal { number: 3, hash: chain.head.hash() });
    run.pop();
    assert_eq!(numbers(&client.sync(run).expect("ends at the justified block")), vec![1, 2]);
}

#[test]
fn authority_changes_are_followed_and_the_old_set_is_refused_after() {
    let old = authorities(&[1, 2, 3]);
    let new = authorities(&[4, 5]);
    let mut chain = TestChain::new(old.clone());
    let mut client = chain.client();

    // One run: blocks by the old set, the change block justified by the old set, blocks by
    // the new set justified by the new set (id 1).
    let mut run = vec![chain.block(), chain.block()];
    run.push(chain.change_block(new.clone()));
    run.extend(chain.run(3));
    assert_eq!(numbers(&client.sync(run).expect("the change is followed")), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(client.grandpa_set_id(), 1);
    assert_eq!(client.aura_authorities(), new.iter().map(|a| a.aura.public()).collect::<Vec<_>>());

    // The old set can no longer author...
    let mut by_old = chain.block_with(BlockSpec { sealer: Some(old[0].aura.clone()), ..Default::default() });
    chain.justify(&mut by_old);
    assert!(matches!(rejected(&mut client, vec![by_old]), LightClientError::ForgedSeal { number: 7, .. }));

    // ...nor finalize, under either set id.
    chain.head = client.last_finalized().clone();
    let block = chain.block();
    for set_id in [0, 1] {
        let mut stale = block.clone();
        stale.justification = Some(chain.justification_by(&block, &old, set_id));
        assert!(matches!(rejected(&mut client, vec![stale]), LightClientError::UnknownAuthority { number: 7, .. }));
    }
    let mut good = block;
    chain.justify(&mut good);
    assert_eq!(numbers(&client.sync(vec![good]).expect("the new set finalizes")), vec![7]);
}

#[test]
fn a_change_block_must_carry_its_own_justification() {
    let mut chain = TestChain::new(authorities(&[1, 2]));
    let mut client = chain.client();
    let mut change = chain.change_block(authorities(&[3]));
    change.justification = None;
    let mut run = vec![change];
    run.extend(chain.run(2));
    let error = rejected(&mut client, run);
    assert!(matches!(error, LightClientError::ChangeWithoutJustification { number: 1, .. }), "{error}");
}

#[test]
fn delayed_or_forced_grandpa_changes_are_refused() {
    let mut chain = TestChain::new(authorities(&[1]));
    let mut client = chain.client();
    let mut block = chain.block_with(BlockSpec { logs: change_logs(&authorities(&[2]), 5), ..Default::default() });
    chain.justify(&mut block);
    let error = rejected(&mut client, vec![block]);
    assert!(matches!(error, LightClientError::UnsupportedChange { number: 1, .. }), "{error}");
}

#[test]
fn read_proofs_at_the_finalized_block_verify_and_tampered_ones_do_not() {
    let chain = TestChain::new(authorities(&[1, 2]));
    let client = chain.client();
    let keys = vec![storage::grandpa_set_id_key()];
    let read = client.read_finalized(&chain.genesis_proof, &keys).expect("proven");
    assert_eq!(read, vec![(keys[0].clone(), Some(0u64.encode()))]);

    let (_, other) = chain::state(&[(storage::grandpa_set_id_key(), 5u64.encode())], &keys);
    assert!(
        matches!(
            client.read_finalized(&other, &keys),
            Err(LightClientError::BadProof { block: Some(0), reason: ProofError::WrongRoot { .. }, .. })
        ),
        "a proof of another state"
    );
    for i in 0..chain.genesis_proof.len() {
        let mut tampered = chain.genesis_proof.clone();
        let last = tampered[i].len() - 1;
        tampered[i][last] ^= 1;
        let all = storage::genesis_keys();
        assert!(matches!(client.read_finalized(&tampered, &all), Err(LightClientError::BadProof { .. })));
    }
}

#[test]
fn slot_rules_use_the_parent_of_the_first_block_of_a_run() {
    // The parent of a run's first block is the stored finalized header: its slot is checked.
    let mut chain = TestChain::new(authorities(&[1]));
    let mut client = chain.client();
    client.sync(chain.run(1)).expect("first");
    let parent_slot = aura::find_slot(client.last_finalized()).expect("slot");
    chain.slot = *parent_slot - 1;
    let mut block = chain.block();
    chain.justify(&mut block);
    assert!(matches!(rejected(&mut client, vec![block]), LightClientError::Aura { number: 2, .. }));
}
