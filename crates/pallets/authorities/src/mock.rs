//! A runtime with System, Timestamp, Aura, GRANDPA and this pallet, for its tests.

use crate as pallet_authorities;
use frame_support::{
    derive_impl,
    traits::{ConstBool, ConstU32, ConstU64},
};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_core::{crypto::UncheckedFrom, Pair};
use sp_runtime::{traits::Convert, BuildStorage};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Timestamp: pallet_timestamp,
        Aura: pallet_aura,
        Grandpa: pallet_grandpa,
        Authorities: pallet_authorities,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = u64;
    type Lookup = sp_runtime::traits::IdentityLookup<u64>;
}

impl pallet_timestamp::Config for Test {
    type Moment = u64;
    type OnTimestampSet = Aura;
    type MinimumPeriod = ConstU64<1>;
    type WeightInfo = ();
}

impl pallet_aura::Config for Test {
    type AuthorityId = AuraId;
    type DisabledValidators = ();
    type MaxAuthorities = ConstU32<16>;
    type AllowMultipleBlocksPerSlot = ConstBool<false>;
    type SlotDuration = ConstU64<2>;
}

impl pallet_grandpa::Config for Test {
    type RuntimeEvent = RuntimeEvent;
    type WeightInfo = ();
    type MaxAuthorities = ConstU32<16>;
    type MaxNominators = ConstU32<0>;
    type MaxSetIdSessionEntries = ConstU64<0>;
    type KeyOwnerProof = sp_core::Void;
    type EquivocationReportSystem = ();
}

/// The account of an Aura key in tests: its index among the test keys plus one.
pub struct TestAccount;
impl Convert<AuraId, u64> for TestAccount {
    fn convert(aura: AuraId) -> u64 {
        (0..8).find(|i| keys(*i).0 == aura).map(|i| i + 1).unwrap_or(u64::MAX)
    }
}

/// The account that sets authorities directly (sudo in the real runtime).
pub const ROOT_LIKE: u64 = 100;

impl pallet_authorities::Config for Test {
    type SetOrigin = frame_system::EnsureSignedBy<RootLike, u64>;
    type AuthorityAccount = TestAccount;
    type MaxSetSize = ConstU32<16>;
}

frame_support::ord_parameter_types! {
    pub const RootLike: u64 = ROOT_LIKE;
}

/// The Aura and GRANDPA keys of test authority `i`.
pub fn keys(i: u64) -> (AuraId, sp_consensus_grandpa::AuthorityId) {
    let sr = sp_core::sr25519::Pair::from_seed(&[i as u8 + 1; 32]);
    let ed = sp_core::ed25519::Pair::from_seed(&[i as u8 + 1; 32]);
    (AuraId::unchecked_from(sr.public().0), sp_consensus_grandpa::AuthorityId::unchecked_from(ed.public().0))
}

/// Externalities of a chain whose authorities are test keys `0..n`.
pub fn new_test_ext(n: u64) -> sp_io::TestExternalities {
    let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().expect("system genesis");
    pallet_aura::GenesisConfig::<Test> { authorities: (0..n).map(|i| keys(i).0).collect() }
        .assimilate_storage(&mut storage)
        .expect("aura genesis");
    pallet_grandpa::GenesisConfig::<Test> {
        authorities: (0..n).map(|i| (keys(i).1, 1)).collect(),
        ..Default::default()
    }
    .assimilate_storage(&mut storage)
    .expect("grandpa genesis");
    let mut ext = sp_io::TestExternalities::new(storage);
    ext.execute_with(|| System::set_block_number(1));
    ext
}
