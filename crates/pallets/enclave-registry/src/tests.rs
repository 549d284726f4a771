//! Tests of the enclave registry: who may register, what binds a registration to its sender, and
//! how shards' validateer sets form.

use crate::{
    mock::*, AllowDevAttestation, EnclaveShards, Enclaves, Error, Event, ShardMrenclave,
    ShardValidateers as ShardValidateersTrait,
};
use cloister_attestation::{samples, AttestationKind, TcbStatus};
use cloister_primitives::ShardId;
use frame_support::{assert_noop, assert_ok};
use sp_runtime::DispatchError;

fn register(i: u8, code: cloister_primitives::Mrenclave) -> frame_support::dispatch::DispatchResult {
    EnclaveRegistry::register_enclave(
        RuntimeOrigin::signed(account(i)),
        dev_attestation(i, code),
        SHIELDING,
        b"wss://127.0.0.1:2000".to_vec(),
    )
}

fn shard(n: u8) -> ShardId {
    ShardId::repeat_byte(n)
}

fn validateers(n: u8) -> Vec<sp_runtime::AccountId32> {
    crate::pallet::ShardValidateers::<Test>::get(shard(n)).into_inner()
}

#[test]
fn genesis_sets_whether_dev_attestation_is_allowed() {
    new_test_ext(true).execute_with(|| assert!(AllowDevAttestation::<Test>::get()));
    new_test_ext(false).execute_with(|| assert!(!AllowDevAttestation::<Test>::get()));
}

#[test]
fn dev_attested_enclave_registers_when_allowed() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        let info = Enclaves::<Test>::get(account(1)).expect("registered");
        assert_eq!(info.mrenclave, CODE);
        assert_eq!(info.shielding_key, SHIELDING);
        assert_eq!(info.worker_url.to_vec(), b"wss://127.0.0.1:2000".to_vec());
        assert_eq!(info.kind, AttestationKind::Dev);
        assert_eq!(info.registered_at_ms, NOW_MS);
        System::assert_last_event(
            Event::EnclaveRegistered {
                who: account(1),
                mrenclave: CODE,
                kind: AttestationKind::Dev,
                worker_url: b"wss://127.0.0.1:2000".to_vec(),
            }
            .into(),
        );
    });
}

#[test]
fn dev_attestation_is_refused_when_not_allowed() {
    new_test_ext(false).execute_with(|| {
        assert_noop!(register(1, CODE), Error::<Test>::DevAttestationDisallowed);
        assert!(Enclaves::<Test>::get(account(1)).is_none());
    });
}

#[test]
fn root_switches_dev_attestation_on() {
    new_test_ext(false).execute_with(|| {
        assert_noop!(
            EnclaveRegistry::set_allow_dev_attestation(RuntimeOrigin::signed(account(1)), true),
            DispatchError::BadOrigin
        );
        assert_ok!(EnclaveRegistry::set_allow_dev_attestation(RuntimeOrigin::root(), true));
        assert_ok!(register(1, CODE));
    });
}

#[test]
fn registration_must_bind_the_sender() {
    new_test_ext(true).execute_with(|| {
        // Enclave 1's report, sent from enclave 2's account.
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(2)),
                dev_attestation(1, CODE),
                SHIELDING,
                b"wss://x".to_vec()
            ),
            Error::<Test>::ReportDataMismatch
        );
    });
}

#[test]
fn registration_must_bind_the_shielding_key() {
    new_test_ext(true).execute_with(|| {
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                dev_attestation(1, CODE),
                [0xee; 32],
                b"wss://x".to_vec()
            ),
            Error::<Test>::ReportDataMismatch
        );
    });
}

#[test]
fn tampered_dev_report_is_invalid() {
    new_test_ext(true).execute_with(|| {
        let cloister_attestation::Attestation::Dev(mut report) = dev_attestation(1, OTHER_CODE) else {
            unreachable!("a dev attestation")
        };
        report.mrenclave = CODE;
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                cloister_attestation::Attestation::Dev(report),
                SHIELDING,
                b"wss://x".to_vec()
            ),
            Error::<Test>::InvalidAttestation
        );
    });
}

#[test]
fn stale_dev_report_is_refused() {
    new_test_ext(true).execute_with(|| {
        Timestamp::set_timestamp(NOW_MS + MAX_DEV_REPORT_AGE_MS + 1);
        assert_noop!(register(1, CODE), Error::<Test>::AttestationExpired);
    });
}

#[test]
fn real_sgx_quote_verifies_but_does_not_bind_the_sender() {
    // The sample quote is genuine and inside its collateral window at NOW_MS, but its report
    // data was made by someone else's enclave: it cannot register any account here.
    new_test_ext(false).execute_with(|| {
        let verified = cloister_attestation::verify(
            &samples::sgx(),
            &cloister_attestation::Policy { allow_dev: false, now_ms: NOW_MS, max_dev_report_age_ms: 0 },
        )
        .expect("the sample verifies at this time");
        assert_eq!(verified.kind, AttestationKind::Dcap { tcb_status: TcbStatus::ConfigurationAndSWHardeningNeeded });
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                samples::sgx(),
                SHIELDING,
                b"wss://x".to_vec()
            ),
            Error::<Test>::ReportDataMismatch
        );
    });
}

#[test]
fn dcap_quote_outside_its_collateral_window_is_invalid() {
    new_test_ext(false).execute_with(|| {
        Timestamp::set_timestamp(samples::TDX_OUTDATED_NOW_MS);
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                samples::sgx(),
                SHIELDING,
                b"wss://x".to_vec()
            ),
            Error::<Test>::InvalidAttestation
        );
    });
}

#[test]
fn outdated_platform_is_refused() {
    // dcap-qvl finds no TCB level for this platform at all: the quote does not verify.
    new_test_ext(false).execute_with(|| {
        Timestamp::set_timestamp(samples::TDX_OUTDATED_NOW_MS);
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                samples::tdx_outdated(),
                SHIELDING,
                b"wss://x".to_vec()
            ),
            Error::<Test>::InvalidAttestation
        );
    });
}

#[test]
fn worker_url_longer_than_the_limit_is_refused() {
    new_test_ext(true).execute_with(|| {
        assert_noop!(
            EnclaveRegistry::register_enclave(
                RuntimeOrigin::signed(account(1)),
                dev_attestation(1, CODE),
                SHIELDING,
                vec![b'a'; 33]
            ),
            Error::<Test>::UrlTooLong
        );
    });
}

#[test]
fn registering_again_updates_the_record_and_keeps_the_shards() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        Timestamp::set_timestamp(NOW_MS + 1_000);
        assert_ok!(EnclaveRegistry::register_enclave(
            RuntimeOrigin::signed(account(1)),
            dev_attestation(1, CODE),
            SHIELDING,
            b"wss://new:2000".to_vec()
        ));
        let info = Enclaves::<Test>::get(account(1)).expect("registered");
        assert_eq!(info.worker_url.to_vec(), b"wss://new:2000".to_vec());
        assert_eq!(info.registered_at_ms, NOW_MS + 1_000);
        assert_eq!(validateers(1), vec![account(1)], "same code: still a validateer");
    });
}

#[test]
fn registering_with_other_code_leaves_every_shard() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_ok!(register(1, OTHER_CODE));
        assert!(validateers(1).is_empty());
        assert!(EnclaveShards::<Test>::get(account(1)).is_empty());
        System::assert_has_event(Event::ShardLeft { shard: shard(1), who: account(1) }.into());
        assert_eq!(ShardMrenclave::<Test>::get(shard(1)), Some(CODE), "the shard keeps its code");
    });
}

#[test]
fn unregistering_leaves_every_shard() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(register(2, CODE));
        for n in [1, 2] {
            assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(n)));
        }
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(2)), shard(1)));
        assert_ok!(EnclaveRegistry::unregister_enclave(RuntimeOrigin::signed(account(1))));
        assert!(Enclaves::<Test>::get(account(1)).is_none());
        assert_eq!(validateers(1), vec![account(2)]);
        assert!(validateers(2).is_empty());
        assert!(!crate::pallet::ShardValidateers::<Test>::contains_key(shard(2)), "an empty set is removed");
        System::assert_last_event(Event::EnclaveUnregistered { who: account(1) }.into());
        assert_noop!(
            EnclaveRegistry::unregister_enclave(RuntimeOrigin::signed(account(1))),
            Error::<Test>::NotRegistered
        );
    });
}

#[test]
fn only_root_removes_an_enclave() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_noop!(
            EnclaveRegistry::remove_enclave(RuntimeOrigin::signed(account(2)), account(1)),
            DispatchError::BadOrigin
        );
        assert_ok!(EnclaveRegistry::remove_enclave(RuntimeOrigin::root(), account(1)));
        assert!(Enclaves::<Test>::get(account(1)).is_none());
        assert!(validateers(1).is_empty());
    });
}

#[test]
fn first_joiner_fixes_the_shards_mrenclave() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(register(2, OTHER_CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_eq!(ShardMrenclave::<Test>::get(shard(1)), Some(CODE));
        System::assert_last_event(Event::ShardJoined { shard: shard(1), who: account(1), mrenclave: CODE }.into());
        assert_noop!(
            EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(2)), shard(1)),
            Error::<Test>::MrenclaveMismatch
        );
    });
}

#[test]
fn shard_keeps_its_mrenclave_when_its_set_empties() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(register(2, OTHER_CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_ok!(EnclaveRegistry::leave_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert!(validateers(1).is_empty());
        assert_noop!(
            EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(2)), shard(1)),
            Error::<Test>::MrenclaveMismatch
        );
    });
}

#[test]
fn joining_twice_changes_nothing() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_eq!(validateers(1), vec![account(1)]);
        assert_eq!(EnclaveShards::<Test>::get(account(1)).into_inner(), vec![shard(1)]);
    });
}

#[test]
fn unregistered_account_cannot_join() {
    new_test_ext(true).execute_with(|| {
        assert_noop!(
            EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)),
            Error::<Test>::NotRegistered
        );
    });
}

#[test]
fn shard_and_enclave_limits_hold() {
    new_test_ext(true).execute_with(|| {
        for i in 1..=3 {
            assert_ok!(register(i, CODE));
        }
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(2)), shard(1)));
        assert_noop!(
            EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(3)), shard(1)),
            Error::<Test>::TooManyValidateers
        );
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(2)));
        assert_noop!(
            EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(3)),
            Error::<Test>::TooManyShards
        );
    });
}

#[test]
fn leaving_a_shard_one_does_not_validate_fails() {
    new_test_ext(true).execute_with(|| {
        assert_ok!(register(1, CODE));
        assert_noop!(
            EnclaveRegistry::leave_shard(RuntimeOrigin::signed(account(1)), shard(1)),
            Error::<Test>::NotAValidateer
        );
    });
}

#[test]
fn trait_tells_who_validates_a_shard() {
    new_test_ext(true).execute_with(|| {
        type Registry = crate::Pallet<Test>;
        assert!(!<Registry as ShardValidateersTrait<_>>::has_validateers(&shard(1)));
        assert_ok!(register(1, CODE));
        assert_ok!(EnclaveRegistry::join_shard(RuntimeOrigin::signed(account(1)), shard(1)));
        assert!(<Registry as ShardValidateersTrait<_>>::has_validateers(&shard(1)));
        assert!(<Registry as ShardValidateersTrait<_>>::is_validateer(&shard(1), &account(1)));
        assert!(!<Registry as ShardValidateersTrait<_>>::is_validateer(&shard(1), &account(2)));
        assert!(!<Registry as ShardValidateersTrait<_>>::is_validateer(&shard(2), &account(1)));
    });
}
