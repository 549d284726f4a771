//! Tests of the authorities pallet: who may change the set, and what a change does.

use crate::{mock::*, Error, Event, Proposal};
use frame_support::{assert_noop, assert_ok, traits::Hooks};
use sp_consensus_grandpa::{ConsensusLog, GRANDPA_ENGINE_ID};

fn set(ids: &[u64]) -> Vec<crate::AuthorityKeys> {
    ids.iter().map(|i| keys(*i)).collect()
}

fn finish_block() {
    pallet_grandpa::Pallet::<Test>::on_finalize(System::block_number());
}

#[test]
fn set_origin_enacts_a_new_set_at_once() {
    new_test_ext(3).execute_with(|| {
        assert_ok!(Authorities::set_authorities(RuntimeOrigin::signed(ROOT_LIKE), set(&[0, 1, 2, 3])));
        finish_block();
        assert_eq!(
            pallet_aura::Authorities::<Test>::get().to_vec(),
            set(&[0, 1, 2, 3]).into_iter().map(|k| k.0).collect::<Vec<_>>()
        );
        assert_eq!(
            pallet_grandpa::Pallet::<Test>::grandpa_authorities(),
            set(&[0, 1, 2, 3]).into_iter().map(|k| (k.1, 1)).collect::<Vec<_>>()
        );
        assert_eq!(pallet_grandpa::CurrentSetId::<Test>::get(), 1);
        // The block announces the change to GRANDPA with no delay.
        let announced = System::digest().logs().iter().any(|item| {
            item.consensus_try_to::<ConsensusLog<u64>>(&GRANDPA_ENGINE_ID)
                .is_some_and(|log| matches!(log, ConsensusLog::ScheduledChange(change) if change.delay == 0))
        });
        assert!(announced, "ScheduledChange digest in the enacting block");
        System::assert_has_event(Event::AuthoritiesChanged { authorities: set(&[0, 1, 2, 3]), set_id: 1 }.into());
    });
}

#[test]
fn others_cannot_set_authorities() {
    new_test_ext(3).execute_with(|| {
        assert_noop!(
            Authorities::set_authorities(RuntimeOrigin::signed(1), set(&[0])),
            sp_runtime::DispatchError::BadOrigin
        );
    });
}

#[test]
fn majority_of_authorities_enacts_a_proposal() {
    new_test_ext(3).execute_with(|| {
        let new = set(&[0, 1, 2, 3]);
        assert_ok!(Authorities::propose_authorities(RuntimeOrigin::signed(1), new.clone()));
        assert_eq!(pallet_grandpa::CurrentSetId::<Test>::get(), 0, "one of three is not a majority");
        assert!(Proposal::<Test>::get().is_some());
        assert_noop!(
            Authorities::propose_authorities(RuntimeOrigin::signed(1), new.clone()),
            Error::<Test>::AlreadyApproved
        );
        assert_ok!(Authorities::propose_authorities(RuntimeOrigin::signed(2), new.clone()));
        assert_eq!(pallet_grandpa::CurrentSetId::<Test>::get(), 1, "two of three enact it");
        assert!(Proposal::<Test>::get().is_none());
        assert_eq!(pallet_aura::Authorities::<Test>::get().len(), 4);
    });
}

#[test]
fn a_different_proposal_starts_over() {
    new_test_ext(3).execute_with(|| {
        assert_ok!(Authorities::propose_authorities(RuntimeOrigin::signed(1), set(&[0, 1])));
        assert_ok!(Authorities::propose_authorities(RuntimeOrigin::signed(2), set(&[0, 2])));
        assert_eq!(pallet_grandpa::CurrentSetId::<Test>::get(), 0);
        assert_eq!(Proposal::<Test>::get().map(|(_, approvals)| approvals.to_vec()), Some(vec![2]));
    });
}

#[test]
fn non_authorities_cannot_propose() {
    new_test_ext(3).execute_with(|| {
        assert_noop!(
            Authorities::propose_authorities(RuntimeOrigin::signed(7), set(&[0])),
            Error::<Test>::NotAnAuthority
        );
    });
}

#[test]
fn bad_sets_are_refused() {
    new_test_ext(3).execute_with(|| {
        let root = || RuntimeOrigin::signed(ROOT_LIKE);
        assert_noop!(Authorities::set_authorities(root(), Vec::new()), Error::<Test>::EmptySet);
        assert_noop!(Authorities::set_authorities(root(), set(&[0, 1, 0])), Error::<Test>::DuplicateAuthority);
        assert_noop!(
            Authorities::set_authorities(root(), (0..17).map(keys).collect()),
            Error::<Test>::TooManyAuthorities
        );
    });
}

#[test]
fn one_change_at_a_time() {
    new_test_ext(3).execute_with(|| {
        assert_ok!(Authorities::set_authorities(RuntimeOrigin::signed(ROOT_LIKE), set(&[0, 1])));
        // In the same block GRANDPA's change is still pending.
        assert_noop!(
            Authorities::set_authorities(RuntimeOrigin::signed(ROOT_LIKE), set(&[0, 2])),
            Error::<Test>::ChangePending
        );
        finish_block();
        System::set_block_number(2);
        assert_ok!(Authorities::set_authorities(RuntimeOrigin::signed(ROOT_LIKE), set(&[0, 2])));
        assert_eq!(pallet_grandpa::CurrentSetId::<Test>::get(), 2);
    });
}
