//! A runtime with System and this pallet, for its tests.

use crate as pallet_permissions;
use frame_support::{derive_impl, traits::ConstU32};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Permissions: pallet_permissions,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = u64;
    type Lookup = sp_runtime::traits::IdentityLookup<u64>;
}

/// The account that acts as sudo.
pub const ROOT_LIKE: u64 = 100;

frame_support::ord_parameter_types! {
    pub const RootLike: u64 = ROOT_LIKE;
}

/// `System::remark_with_event` stands for calls that create things in these tests.
pub struct CreateCalls;
impl frame_support::traits::Contains<RuntimeCall> for CreateCalls {
    fn contains(call: &RuntimeCall) -> bool {
        matches!(call, RuntimeCall::System(frame_system::Call::remark_with_event { .. }))
    }
}

/// This pallet's calls are administration.
pub struct AdminCalls;
impl frame_support::traits::Contains<RuntimeCall> for AdminCalls {
    fn contains(call: &RuntimeCall) -> bool {
        matches!(call, RuntimeCall::Permissions(_))
    }
}

impl pallet_permissions::Config for Test {
    type AdminOrigin = frame_system::EnsureSignedBy<RootLike, u64>;
    type CreateCalls = CreateCalls;
    type AdminCalls = AdminCalls;
    type MaxPeers = ConstU32<4>;
}

/// Account 1: admin only; 2: read+transact; 3: read only; 4: transact+create; 5: nothing.
pub fn new_test_ext(restricted: bool) -> sp_io::TestExternalities {
    let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().expect("system genesis");
    pallet_permissions::GenesisConfig::<Test> {
        restricted,
        accounts: vec![(1, 8), (2, 3), (3, 1), (4, 6)],
        allowed_peers: vec![sp_core::Bytes(vec![1, 2, 3])],
    }
    .assimilate_storage(&mut storage)
    .expect("permissions genesis");
    let mut ext = sp_io::TestExternalities::new(storage);
    ext.execute_with(|| System::set_block_number(1));
    ext
}
