//! Tests of the sidechain pallet: vaults, payouts and their replay protection, shielded calls,
//! anchoring.

use crate::{mock::*, Error, Event, ExecutedUnshields, LatestSidechainBlock, ProcessedParentchainBlock};
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect};
use sp_core::H256;
use sp_runtime::{traits::AccountIdConversion, TokenError};

fn balance(who: u64) -> u64 {
    Balances::balance(&who)
}

fn vault() -> u64 {
    Sidechain::vault_account(SHARD)
}

#[test]
fn vault_is_the_pallet_sub_account_of_the_shards_hash() {
    new_test_ext().execute_with(|| {
        let id = frame_support::PalletId(*b"cl/vault");
        let expected: u64 = id.into_sub_account_truncating(sp_io::hashing::blake2_256(SHARD.as_bytes()));
        assert_eq!(vault(), expected);
    });
}

#[test]
fn shards_sharing_a_prefix_have_distinct_vaults() {
    // A 32-byte account keeps only 20 bytes of a sub-account: the shard is hashed first, so a
    // shard founded with a victim's first 20 bytes does not get the victim's vault.
    let id = frame_support::PalletId(*b"cl/vault");
    let victim = H256::repeat_byte(1);
    let mut attacker = victim;
    attacker.0[31] ^= 1;
    let vault = |shard: H256| -> sp_runtime::AccountId32 {
        id.into_sub_account_truncating(sp_io::hashing::blake2_256(shard.as_bytes()))
    };
    assert_ne!(vault(victim), vault(attacker));
    let unhashed = |shard: H256| -> sp_runtime::AccountId32 { id.into_sub_account_truncating(shard) };
    assert_eq!(unhashed(victim), unhashed(attacker), "what hashing prevents");
}

#[test]
fn shielding_moves_funds_into_the_vault() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7; 48], 300));
        // The first shielding also pays the vault's existential deposit.
        assert_eq!(balance(ALICE), 700 - ED);
        assert_eq!(balance(vault()), 300 + ED);
        System::assert_last_event(
            Event::ShieldFunds { shard: SHARD, encrypted_beneficiary: vec![7; 48], amount: 300 }.into(),
        );
    });
}

#[test]
fn shielding_into_an_unknown_shard_fails() {
    new_test_ext().execute_with(|| {
        assert_noop!(
            Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), UNKNOWN, vec![7; 48], 300),
            Error::<Test>::UnknownShard
        );
    });
}

#[test]
fn shielding_keeps_the_sender_alive_and_needs_funds() {
    new_test_ext().execute_with(|| {
        assert_noop!(
            Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 1_000 - ED),
            TokenError::NotExpendable
        );
        assert_noop!(
            Sidechain::shield_funds(RuntimeOrigin::signed(BOB), SHARD, vec![7], 100),
            TokenError::FundsUnavailable
        );
        assert_noop!(
            Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 0),
            Error::<Test>::ZeroAmount
        );
    });
}

#[test]
fn ciphertexts_longer_than_the_limit_are_refused() {
    new_test_ext().execute_with(|| {
        assert_noop!(
            Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7; 65], 300),
            Error::<Test>::CiphertextTooLong
        );
        assert_noop!(
            Sidechain::call_worker(RuntimeOrigin::signed(ALICE), SHARD, vec![7; 65]),
            Error::<Test>::CiphertextTooLong
        );
    });
}

#[test]
fn validateer_pays_out_of_the_vault() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 300));
        let call_hash = H256::repeat_byte(9);
        assert_ok!(Sidechain::unshield_funds(RuntimeOrigin::signed(VALIDATEER), SHARD, BOB, 120, call_hash));
        assert_eq!(balance(BOB), 120);
        assert_eq!(balance(vault()), 180 + ED);
        assert!(ExecutedUnshields::<Test>::contains_key(SHARD, call_hash));
        System::assert_last_event(
            Event::UnshieldedFunds { shard: SHARD, beneficiary: BOB, amount: 120, call_hash }.into(),
        );
    });
}

#[test]
fn payout_for_one_call_hash_happens_once() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 300));
        let call_hash = H256::repeat_byte(9);
        assert_ok!(Sidechain::unshield_funds(RuntimeOrigin::signed(VALIDATEER), SHARD, BOB, 100, call_hash));
        assert_noop!(
            Sidechain::unshield_funds(RuntimeOrigin::signed(VALIDATEER), SHARD, BOB, 100, call_hash),
            Error::<Test>::UnshieldAlreadyExecuted
        );
        assert_eq!(balance(BOB), 100);
        assert_ok!(Sidechain::unshield_funds(
            RuntimeOrigin::signed(VALIDATEER),
            SHARD,
            BOB,
            100,
            H256::repeat_byte(10)
        ));
        assert_eq!(balance(BOB), 200);
    });
}

#[test]
fn only_a_validateer_of_the_shard_pays_out() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 300));
        assert_noop!(
            Sidechain::unshield_funds(RuntimeOrigin::signed(ALICE), SHARD, ALICE, 100, H256::zero()),
            Error::<Test>::NotAValidateer
        );
        TestValidateers::add(UNKNOWN, BOB);
        assert_noop!(
            Sidechain::unshield_funds(RuntimeOrigin::signed(BOB), SHARD, BOB, 100, H256::zero()),
            Error::<Test>::NotAValidateer
        );
    });
}

#[test]
fn payout_beyond_the_vault_fails_and_is_not_marked_executed() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7], 300));
        let call_hash = H256::repeat_byte(9);
        assert_noop!(
            Sidechain::unshield_funds(RuntimeOrigin::signed(VALIDATEER), SHARD, BOB, 301, call_hash),
            TokenError::NotExpendable
        );
        assert!(!ExecutedUnshields::<Test>::contains_key(SHARD, call_hash));
    });
}

#[test]
fn shielded_call_is_forwarded_in_its_event() {
    new_test_ext().execute_with(|| {
        assert_ok!(Sidechain::call_worker(RuntimeOrigin::signed(ALICE), SHARD, vec![1, 2, 3]));
        System::assert_last_event(Event::CallForwarded { shard: SHARD, ciphertext: vec![1, 2, 3] }.into());
        assert_noop!(
            Sidechain::call_worker(RuntimeOrigin::signed(ALICE), UNKNOWN, vec![1]),
            Error::<Test>::UnknownShard
        );
    });
}

#[test]
fn validateer_anchors_newer_sidechain_blocks_only() {
    new_test_ext().execute_with(|| {
        System::set_block_number(7);
        let hash = H256::repeat_byte(3);
        assert_ok!(Sidechain::confirm_imported_block(RuntimeOrigin::signed(VALIDATEER), SHARD, 5, hash));
        let latest = LatestSidechainBlock::<Test>::get(SHARD).expect("anchored");
        assert_eq!((latest.block_number, latest.block_hash, latest.parentchain_block), (5, hash, 7));
        System::assert_last_event(
            Event::SidechainBlockConfirmed { shard: SHARD, validateer: VALIDATEER, block_number: 5, block_hash: hash }
                .into(),
        );
        for stale in [5, 4] {
            assert_noop!(
                Sidechain::confirm_imported_block(RuntimeOrigin::signed(VALIDATEER), SHARD, stale, hash),
                Error::<Test>::OutdatedSidechainBlock
            );
        }
        assert_ok!(Sidechain::confirm_imported_block(RuntimeOrigin::signed(VALIDATEER), SHARD, 6, hash));
    });
}

#[test]
fn only_a_validateer_anchors_sidechain_blocks() {
    new_test_ext().execute_with(|| {
        assert_noop!(
            Sidechain::confirm_imported_block(RuntimeOrigin::signed(ALICE), SHARD, 1, H256::zero()),
            Error::<Test>::NotAValidateer
        );
    });
}

#[test]
fn validateer_confirms_processed_parentchain_blocks() {
    new_test_ext().execute_with(|| {
        let hash = H256::repeat_byte(4);
        assert_ok!(Sidechain::confirm_processed_parentchain_block(RuntimeOrigin::signed(VALIDATEER), SHARD, 3, hash));
        let confirmed = ProcessedParentchainBlock::<Test>::get(SHARD, VALIDATEER).expect("stored");
        assert_eq!((confirmed.block_number, confirmed.block_hash), (3, hash));
        System::assert_last_event(
            Event::ProcessedParentchainBlock {
                shard: SHARD,
                validateer: VALIDATEER,
                block_number: 3,
                block_hash: hash,
            }
            .into(),
        );
        assert_noop!(
            Sidechain::confirm_processed_parentchain_block(RuntimeOrigin::signed(ALICE), SHARD, 3, hash),
            Error::<Test>::NotAValidateer
        );
    });
}

#[test]
fn the_first_shielding_pays_the_vaults_deposit_and_small_amounts_work() {
    new_test_ext().execute_with(|| {
        let small = ED - 1;
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7; 48], small));
        assert_eq!(balance(vault()), ED + small);
        assert_eq!(balance(ALICE), 1_000 - ED - small);
        assert_ok!(Sidechain::shield_funds(RuntimeOrigin::signed(ALICE), SHARD, vec![7; 48], 1));
        assert_eq!(balance(vault()), ED + small + 1, "the deposit is paid once");
        assert_ok!(Sidechain::unshield_funds(
            RuntimeOrigin::signed(VALIDATEER),
            SHARD,
            ALICE,
            small + 1,
            H256::repeat_byte(4)
        ));
        assert_eq!(balance(vault()), ED, "the deposit stays");
    });
}
