//! A runtime with System, Balances and this pallet, for its tests. The validateer sets are a
//! stand-in for the enclave registry, set by each test.

use crate as pallet_sidechain;
use cloister_primitives::ShardId;
use frame_support::{derive_impl, parameter_types, traits::ConstU32, PalletId};
use sp_runtime::BuildStorage;
use std::cell::RefCell;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Sidechain: pallet_sidechain,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = u64;
    type Lookup = sp_runtime::traits::IdentityLookup<u64>;
    type AccountData = pallet_balances::AccountData<u64>;
}

/// The smallest balance an account may hold.
pub const ED: u64 = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type AccountStore = System;
    type ExistentialDeposit = frame_support::traits::ConstU64<ED>;
}

thread_local! {
    static VALIDATEERS: RefCell<Vec<(ShardId, u64)>> = const { RefCell::new(Vec::new()) };
}

/// The shards' validateers, as the enclave registry would tell them.
pub struct TestValidateers;
impl TestValidateers {
    /// Makes `who` a validateer of `shard`.
    pub fn add(shard: ShardId, who: u64) {
        VALIDATEERS.with(|v| v.borrow_mut().push((shard, who)));
    }
}
impl pallet_cloister_enclave_registry::ShardValidateers<u64> for TestValidateers {
    fn is_validateer(shard: &ShardId, who: &u64) -> bool {
        VALIDATEERS.with(|v| v.borrow().iter().any(|(s, w)| s == shard && w == who))
    }
    fn has_validateers(shard: &ShardId) -> bool {
        VALIDATEERS.with(|v| v.borrow().iter().any(|(s, _)| s == shard))
    }
}

parameter_types! {
    pub const VaultPalletId: PalletId = PalletId(*b"cl/vault");
}

impl pallet_sidechain::Config for Test {
    type Currency = Balances;
    type Validateers = TestValidateers;
    type PalletId = VaultPalletId;
    type MaxCiphertextLength = ConstU32<64>;
}

/// A user with funds.
pub const ALICE: u64 = 1;
/// Another user.
pub const BOB: u64 = 2;
/// The validateer of [`SHARD`].
pub const VALIDATEER: u64 = 10;
/// A shard with a validateer.
pub const SHARD: ShardId = ShardId::repeat_byte(1);
/// A shard nobody validates.
pub const UNKNOWN: ShardId = ShardId::repeat_byte(2);

/// Alice and the validateer hold 1000 each; [`VALIDATEER`] validates [`SHARD`].
pub fn new_test_ext() -> sp_io::TestExternalities {
    let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().expect("system genesis");
    pallet_balances::GenesisConfig::<Test> {
        balances: vec![(ALICE, 1_000), (VALIDATEER, 1_000)],
        ..Default::default()
    }
    .assimilate_storage(&mut storage)
    .expect("balances genesis");
    let mut ext = sp_io::TestExternalities::new(storage);
    ext.execute_with(|| {
        System::set_block_number(1);
        TestValidateers::add(SHARD, VALIDATEER);
    });
    ext
}
