//! The STF as the enclave drives it: blocks of parentchain effects and trusted calls.

mod ceremony;

use cloister_primitives::{AccountId, Hash, Mrenclave, ShardId, UNIT};
use cloister_stf::{
    executor::{execute_block, execute_getter, pending_payouts, ParentchainEffect},
    BlockInput, OpOutcome, ShardState, StfError, TrustedCall, TrustedCallSigned, TrustedGetter, VerifiedCall,
};
use codec::Decode;
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie};

const MRENCLAVE: Mrenclave = Mrenclave([7; 32]);

fn shard() -> ShardId {
    ShardId::repeat_byte(7)
}

fn call(who: Sr25519Keyring, nonce: u32, call: TrustedCall) -> TrustedCallSigned {
    call.sign(nonce, &MRENCLAVE, &shard(), |p| who.sign(p).into())
}

fn transfer(from: Sr25519Keyring, to: Sr25519Keyring, amount: u128, nonce: u32) -> TrustedCallSigned {
    call(from, nonce, TrustedCall::Transfer { from: from.to_account_id(), to: to.to_account_id(), amount })
}

fn verified(call: TrustedCallSigned) -> VerifiedCall {
    call.verify(&MRENCLAVE, &shard()).expect("a good signature")
}

fn block(
    state: &mut ShardState,
    number: u64,
    effects: Vec<ParentchainEffect>,
    calls: Vec<TrustedCallSigned>,
) -> cloister_stf::BlockOutput {
    block_of_verified(state, number, effects, calls.into_iter().map(verified).collect())
}

fn block_of_verified(
    state: &mut ShardState,
    number: u64,
    effects: Vec<ParentchainEffect>,
    calls: Vec<VerifiedCall>,
) -> cloister_stf::BlockOutput {
    let input = BlockInput {
        number,
        mrenclave: MRENCLAVE,
        shard: shard(),
        parentchain_head: None,
        parentchain_number: 0,
        light_client: None,
        effects,
        calls,
    };
    let pending = execute_block(state, input).expect("execute");
    state.commit(pending).expect("commit")
}

fn balance(state: &ShardState, who: Sr25519Keyring) -> u128 {
    let getter = TrustedGetter::Balance(who.to_account_id()).sign(1_000, &MRENCLAVE, &shard(), |p| who.sign(p).into());
    let bytes = execute_getter(state, &getter, 1_000, 0, &MRENCLAVE, &shard()).expect("getter");
    u128::decode(&mut &bytes[..]).expect("balance")
}

fn shielded(amounts: &[(Sr25519Keyring, u128)]) -> ShardState {
    let mut state = ShardState::empty();
    let effects = amounts
        .iter()
        .map(|(who, amount)| ParentchainEffect::Shield { beneficiary: who.to_account_id(), amount: *amount })
        .collect();
    block(&mut state, 1, effects, vec![]);
    state
}

#[test]
fn shield_transfer_and_unshield_move_balances() {
    let mut state = shielded(&[(Alice, 1_000 * UNIT)]);
    assert_eq!(balance(&state, Alice), 1_000 * UNIT);

    let out = block(&mut state, 2, vec![], vec![transfer(Alice, Bob, 250 * UNIT, 0)]);
    assert!(matches!(out.outcomes[0], OpOutcome::Included { result: Ok(()), .. }));
    assert_eq!(balance(&state, Alice), 750 * UNIT);
    assert_eq!(balance(&state, Bob), 250 * UNIT);

    let unshield = call(
        Alice,
        1,
        TrustedCall::Unshield { from: Alice.to_account_id(), beneficiary: Alice.to_account_id(), amount: 400 * UNIT },
    );
    let hash = unshield.hash();
    let out = block(&mut state, 3, vec![], vec![unshield]);
    assert_eq!(out.payouts.len(), 1);
    assert_eq!(out.payouts[0].amount, 400 * UNIT);
    assert_eq!(out.payouts[0].call_hash, hash);
    assert_eq!(balance(&state, Alice), 350 * UNIT);
    assert_eq!(pending_payouts(&state).expect("payouts"), out.payouts);

    block(&mut state, 4, vec![ParentchainEffect::PayoutExecuted { call_hash: hash }], vec![]);
    assert!(pending_payouts(&state).expect("payouts").is_empty());
}

#[test]
fn a_replayed_call_is_rejected_and_changes_nothing() {
    let mut state = shielded(&[(Alice, 100 * UNIT)]);
    let first = transfer(Alice, Bob, 10 * UNIT, 0);
    block(&mut state, 2, vec![], vec![first.clone()]);
    let root = state.root();
    let out = block(&mut state, 3, vec![], vec![first]);
    assert!(matches!(
        &out.outcomes[0],
        OpOutcome::Rejected { reason: StfError::StaleNonce { expected: 1, got: 0 }, .. }
    ));
    assert_eq!(balance(&state, Bob), 10 * UNIT);
    // Only the block number moved.
    assert_ne!(root, Hash::zero());
    assert_eq!(balance(&state, Alice), 90 * UNIT);
}

#[test]
fn a_bad_signature_or_an_unknown_signer_is_rejected() {
    let mut state = shielded(&[(Alice, 100 * UNIT)]);
    let mut forged = transfer(Alice, Bob, 10 * UNIT, 0);
    forged.call = TrustedCall::Transfer { from: Alice.to_account_id(), to: Charlie.to_account_id(), amount: 90 * UNIT };
    let signed_for_other_shard =
        TrustedCall::Transfer { from: Alice.to_account_id(), to: Bob.to_account_id(), amount: UNIT }.sign(
            0,
            &MRENCLAVE,
            &ShardId::repeat_byte(8),
            |p| Alice.sign(p).into(),
        );
    let from_nobody = transfer(Charlie, Bob, UNIT, 0);
    // A bad signature never becomes a verified call, so it cannot reach a block.
    assert_eq!(forged.verify(&MRENCLAVE, &shard()).err(), Some(StfError::BadSignature));
    assert_eq!(signed_for_other_shard.clone().verify(&MRENCLAVE, &shard()).err(), Some(StfError::BadSignature));
    // A call verified for another shard is refused by this shard's block.
    let for_other_shard = signed_for_other_shard.verify(&MRENCLAVE, &ShardId::repeat_byte(8)).expect("its own shard");
    let out = block_of_verified(&mut state, 2, vec![], vec![for_other_shard, verified(from_nobody)]);
    let reasons: Vec<_> = out
        .outcomes
        .iter()
        .map(|o| match o {
            OpOutcome::Rejected { reason, .. } => reason.clone(),
            other => panic!("included: {other:?}"),
        })
        .collect();
    assert_eq!(reasons, vec![StfError::BadSignature, StfError::UnknownAccount]);
    assert_eq!(balance(&state, Alice), 100 * UNIT);
    assert_eq!(balance(&state, Bob), 0);
}

#[test]
fn a_failing_call_spends_its_nonce_but_moves_nothing() {
    let mut state = shielded(&[(Alice, 100 * UNIT)]);
    let out = block(&mut state, 2, vec![], vec![transfer(Alice, Bob, 1_000 * UNIT, 0)]);
    assert!(matches!(&out.outcomes[0], OpOutcome::Included { result: Err(_), .. }));
    assert_eq!(balance(&state, Alice), 100 * UNIT);
    let out = block(&mut state, 3, vec![], vec![transfer(Alice, Bob, 1_000 * UNIT, 0)]);
    assert!(matches!(&out.outcomes[0], OpOutcome::Rejected { reason: StfError::StaleNonce { .. }, .. }));
}

#[test]
fn a_getter_reads_only_the_signers_own_data() {
    let state = shielded(&[(Alice, 100 * UNIT), (Bob, 5 * UNIT)]);
    // Alice signs a getter that names Bob: the signature does not match the account read.
    let getter =
        TrustedGetter::Balance(Bob.to_account_id()).sign(1_000, &MRENCLAVE, &shard(), |p| Alice.sign(p).into());
    assert_eq!(execute_getter(&state, &getter, 1_000, 0, &MRENCLAVE, &shard()), Err(StfError::BadSignature));
    let stale =
        TrustedGetter::Balance(Alice.to_account_id()).sign(1_000, &MRENCLAVE, &shard(), |p| Alice.sign(p).into());
    assert_eq!(execute_getter(&state, &stale, 1_000_000, 0, &MRENCLAVE, &shard()), Err(StfError::StaleGetter));
}

#[test]
fn a_follower_applying_the_diffs_reaches_the_same_state() {
    let mut author = ShardState::empty();
    let mut follower = ShardState::empty();
    let inputs: Vec<(Vec<ParentchainEffect>, Vec<TrustedCallSigned>)> = vec![
        (vec![ParentchainEffect::Shield { beneficiary: Alice.to_account_id(), amount: 50 * UNIT }], vec![]),
        (vec![], vec![transfer(Alice, Bob, 20 * UNIT, 0), transfer(Alice, Charlie, 5 * UNIT, 1)]),
        (vec![], vec![transfer(Bob, Charlie, 20 * UNIT, 0)]),
    ];
    for (n, (effects, calls)) in inputs.into_iter().enumerate() {
        let input = BlockInput {
            number: n as u64 + 1,
            mrenclave: MRENCLAVE,
            shard: shard(),
            parentchain_head: None,
            parentchain_number: 0,
            light_client: None,
            effects,
            calls: calls.into_iter().map(verified).collect(),
        };
        let pending = execute_block(&author, input).expect("execute");
        let (diff, root) = (pending.diff.clone(), pending.root);
        author.commit(pending).expect("commit");
        let replay = follower.prepare_diff(&diff, root).expect("diff gives the root");
        follower.commit(replay).expect("commit");
    }
    assert_eq!(follower.root(), author.root());
    assert_eq!(balance(&follower, Charlie), 25 * UNIT);
    let _: AccountId = Bob.to_account_id();
}
