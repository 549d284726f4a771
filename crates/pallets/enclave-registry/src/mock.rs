//! A runtime with System, Timestamp and this pallet, for its tests. Accounts are
//! [`AccountId32`]s, so that an enclave's account is its ed25519 key as on the real chain.

use crate as pallet_enclave_registry;
use cloister_attestation::{report_data, Attestation, DevReport};
use cloister_primitives::Mrenclave;
use frame_support::{
    derive_impl,
    traits::{ConstU32, ConstU64},
};
use sp_core::{ed25519, Pair};
use sp_runtime::{AccountId32, BuildStorage};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Timestamp: pallet_timestamp,
        EnclaveRegistry: pallet_enclave_registry,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = AccountId32;
    type Lookup = sp_runtime::traits::IdentityLookup<AccountId32>;
}

impl pallet_timestamp::Config for Test {
    type Moment = u64;
    type OnTimestampSet = ();
    type MinimumPeriod = ConstU64<1>;
    type WeightInfo = ();
}

/// Dev reports older than this are refused.
pub const MAX_DEV_REPORT_AGE_MS: u64 = 600_000;

impl pallet_enclave_registry::Config for Test {
    type UnixTime = Timestamp;
    type MaxUrlLength = ConstU32<32>;
    type MaxValidateersPerShard = ConstU32<2>;
    type MaxShardsPerEnclave = ConstU32<2>;
    type MaxDevReportAgeMs = ConstU64<MAX_DEV_REPORT_AGE_MS>;
}

/// The chain's time in the tests: inside the SGX sample's collateral window.
pub const NOW_MS: u64 = cloister_attestation::samples::SGX_NOW_MS;
/// The measurement of the test enclaves' code.
pub const CODE: Mrenclave = Mrenclave([0xc0; 32]);
/// Another build of it.
pub const OTHER_CODE: Mrenclave = Mrenclave([0x0c; 32]);
/// The shielding key every test enclave claims.
pub const SHIELDING: [u8; 32] = [0x5e; 32];

/// Test enclave `i`: its signing key (and so its account).
pub fn enclave(i: u8) -> ed25519::Pair {
    ed25519::Pair::from_seed(&[i; 32])
}

/// The account of test enclave `i`.
pub fn account(i: u8) -> AccountId32 {
    enclave(i).public().into()
}

/// A fresh dev attestation of enclave `i` running `code`, binding its keys.
pub fn dev_attestation(i: u8, code: Mrenclave) -> Attestation {
    let platform = ed25519::Pair::from_seed(&[0xfa; 32]);
    let data = report_data(&enclave(i).public().0, &SHIELDING);
    Attestation::Dev(DevReport::sign(&platform, code, data, NOW_MS))
}

/// Externalities at [`NOW_MS`], with dev attestations allowed or not.
pub fn new_test_ext(allow_dev_attestation: bool) -> sp_io::TestExternalities {
    let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().expect("system genesis");
    pallet_enclave_registry::GenesisConfig::<Test> { allow_dev_attestation, ..Default::default() }
        .assimilate_storage(&mut storage)
        .expect("registry genesis");
    let mut ext = sp_io::TestExternalities::new(storage);
    ext.execute_with(|| {
        System::set_block_number(1);
        Timestamp::set_timestamp(NOW_MS);
    });
    ext
}
