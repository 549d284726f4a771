//! Tests of the permissions pallet: who may change the policy, and what the extension lets in.

use crate::{mock::*, AccountPermissions, AllowedPeers, CheckPermissions, Error, Permissions as Bits, Restricted};
use crate::{LACKS_CREATE, LACKS_TRANSACT};
use frame_support::{assert_noop, assert_ok, dispatch::DispatchInfo};
use sp_runtime::{
    traits::DispatchTransaction,
    transaction_validity::{InvalidTransaction, TransactionSource::External, TransactionValidityError},
};

fn remark() -> RuntimeCall {
    RuntimeCall::System(frame_system::Call::remark { remark: vec![1] })
}

fn create() -> RuntimeCall {
    RuntimeCall::System(frame_system::Call::remark_with_event { remark: vec![1] })
}

fn validate(who: u64, call: &RuntimeCall) -> Result<(), TransactionValidityError> {
    CheckPermissions::<Test>::new()
        .validate_only(Some(who).into(), call, &DispatchInfo::default(), 0, External, 0)
        .map(|_| ())
}

fn custom(code: u8) -> Result<(), TransactionValidityError> {
    Err(InvalidTransaction::Custom(code).into())
}

#[test]
fn genesis_sets_the_policy() {
    new_test_ext(true).execute_with(|| {
        assert!(Restricted::<Test>::get());
        assert_eq!(AccountPermissions::<Test>::get(2), Bits(3));
        assert_eq!(AccountPermissions::<Test>::get(99), Bits(0), "no entry: no permissions");
        assert_eq!(Permissions::allowed_peers(), vec![vec![1, 2, 3]]);
    });
}

#[test]
fn root_and_admins_grant_and_revoke() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(Permissions::grant(RuntimeOrigin::signed(ROOT_LIKE), 5, Bits::READ));
        assert_ok!(Permissions::grant(RuntimeOrigin::signed(1), 5, Bits::TRANSACT));
        assert_eq!(AccountPermissions::<Test>::get(5), Bits(Bits::READ | Bits::TRANSACT));
        assert_ok!(Permissions::revoke(RuntimeOrigin::signed(1), 5, Bits::READ));
        assert_eq!(AccountPermissions::<Test>::get(5), Bits(Bits::TRANSACT));
        assert_ok!(Permissions::revoke(RuntimeOrigin::signed(1), 5, Bits::ALL));
        assert!(!AccountPermissions::<Test>::contains_key(5), "no bits left: entry removed");
    });
}

#[test]
fn non_admins_cannot_change_the_policy() {
    new_test_ext(true).execute_with(|| {
        assert_noop!(Permissions::grant(RuntimeOrigin::signed(2), 2, Bits::ADMIN), Error::<Test>::NotAdmin);
        assert_noop!(Permissions::set_restricted(RuntimeOrigin::signed(4), false), Error::<Test>::NotAdmin);
        assert_noop!(Permissions::allow_peer(RuntimeOrigin::signed(3), vec![9]), Error::<Test>::NotAdmin);
        assert_noop!(Permissions::grant(RuntimeOrigin::signed(1), 2, 0), Error::<Test>::InvalidBits);
        assert_noop!(Permissions::grant(RuntimeOrigin::signed(1), 2, 16), Error::<Test>::InvalidBits);
    });
}

#[test]
fn allowlist_changes_by_admins() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(Permissions::allow_peer(RuntimeOrigin::signed(1), vec![7; 38]));
        assert_noop!(Permissions::allow_peer(RuntimeOrigin::signed(1), vec![7; 38]), Error::<Test>::AlreadyAllowed);
        assert_noop!(Permissions::allow_peer(RuntimeOrigin::signed(1), vec![7; 65]), Error::<Test>::PeerIdTooLong);
        assert_ok!(Permissions::disallow_peer(RuntimeOrigin::signed(1), vec![1, 2, 3]));
        assert_noop!(Permissions::disallow_peer(RuntimeOrigin::signed(1), vec![1, 2, 3]), Error::<Test>::NotAllowed);
        assert_eq!(AllowedPeers::<Test>::get().len(), 1);
    });
}

#[test]
fn restricted_chain_needs_transact() {
    new_test_ext(true).execute_with(|| {
        assert_eq!(validate(2, &remark()), Ok(()));
        assert_eq!(validate(3, &remark()), custom(LACKS_TRANSACT), "READ alone cannot transact");
        assert_eq!(validate(5, &remark()), custom(LACKS_TRANSACT), "no entry: refused (fail closed)");
    });
}

#[test]
fn creating_needs_create() {
    new_test_ext(true).execute_with(|| {
        assert_eq!(validate(2, &create()), custom(LACKS_CREATE));
        assert_eq!(validate(4, &create()), Ok(()));
    });
}

#[test]
fn admins_administer_without_transact() {
    new_test_ext(true).execute_with(|| {
        let grant = RuntimeCall::Permissions(crate::Call::grant { who: 5, bits: Bits::READ });
        assert_eq!(validate(1, &grant), Ok(()));
        assert_eq!(validate(1, &remark()), custom(LACKS_TRANSACT), "ADMIN is not TRANSACT");
    });
}

#[test]
fn open_chain_lets_everyone_transact() {
    new_test_ext(false).execute_with(|| {
        assert_eq!(validate(5, &remark()), Ok(()));
        assert_eq!(validate(5, &create()), Ok(()));
        assert!(Permissions::effective(&5).has(Bits::READ | Bits::TRANSACT | Bits::CREATE));
        assert!(!Permissions::effective(&5).has(Bits::ADMIN));
    });
}

#[test]
fn dispatch_is_refused_too_not_only_the_pool() {
    new_test_ext(true).execute_with(|| {
        // What block import runs: validate and prepare, then dispatch.
        let refused = CheckPermissions::<Test>::new().dispatch_transaction(
            Some(3).into(),
            remark(),
            &DispatchInfo::default(),
            0,
            0,
        );
        assert_eq!(refused.err(), Some(InvalidTransaction::Custom(LACKS_TRANSACT).into()));
    });
}

#[test]
fn permissions_parse_and_print() {
    assert_eq!(Bits::parse("read,transact"), Ok(3));
    assert_eq!(Bits::parse("all"), Ok(15));
    assert!(Bits::parse("read,fly").is_err());
    assert!(Bits::parse("").is_err());
    assert_eq!(Bits(5).names(), vec!["read", "create"]);
}
