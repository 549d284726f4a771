//! The sidechain runtime: a FRAME runtime executed natively over a shard's state.
//!
//! It holds the accounts of the shard (System) and their balances (Balances). Issue 5 adds the
//! encointer pallets. There are no extrinsics here: the enclave verifies trusted calls and
//! dispatches them with a signed origin, so the runtime needs no transaction extensions.
#![allow(missing_docs)]

use cloister_primitives::{AccountId, Balance, Hash, Nonce};
use frame_support::{
    derive_impl,
    traits::{ConstU128, ConstU32},
};
use sp_runtime::{generic, traits::BlakeTwo256};

/// The smallest balance an account on the shard may hold: one planck. A shard's accounts exist
/// only through shieldings, so there is no dust to keep out, and any amount shielded from the
/// parentchain can be credited.
pub const EXISTENTIAL_DEPOSIT: Balance = 1;

type Header = generic::Header<u64, BlakeTwo256>;
type UncheckedExtrinsic = generic::UncheckedExtrinsic<AccountId, RuntimeCall, cloister_primitives::Signature, ()>;
/// The sidechain runtime's block type; only its header type matters (System's block number).
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

#[frame_support::runtime]
mod runtime {
    /// The sidechain runtime.
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeTask
    )]
    pub struct Runtime;

    #[runtime::pallet_index(0)]
    pub type System = frame_system;
    #[runtime::pallet_index(1)]
    pub type Balances = pallet_balances;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type AccountId = AccountId;
    type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
    type Nonce = Nonce;
    type Hash = Hash;
    type AccountData = pallet_balances::AccountData<Balance>;
    type MaxConsumers = ConstU32<16>;
}

impl pallet_balances::Config for Runtime {
    type MaxLocks = ConstU32<50>;
    type MaxReserves = ();
    type ReserveIdentifier = [u8; 8];
    type Balance = Balance;
    type RuntimeEvent = RuntimeEvent;
    type DustRemoval = ();
    type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
    type AccountStore = System;
    type WeightInfo = ();
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxFreezes = ConstU32<0>;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type DoneSlashHandler = ();
}
