//! The sidechain runtime: a FRAME runtime executed natively over a shard's state.
//!
//! It holds the accounts of the shard (System), their native balances (Balances) and the private
//! side of Encointer (ENCOINTER.md Part A): the Scheduler (a mirror of the parentchain's, written
//! only by the enclave from verified parentchain state, no timestamp hook), the Communities made
//! private on this shard, their Ceremonies and their community currencies (encointer Balances).
//! There are no extrinsics here: the enclave verifies trusted calls and dispatches them with a
//! signed origin, or with Root once it has checked that the signer manages the community, so the
//! runtime needs no transaction extensions. The encointer parameters are the parentchain's
//! (`cloister_runtime`), so that a community behaves the same on both chains.
//!
//! System's block number is the number of the last finalized parentchain block the shard has
//! processed (ENCOINTER.md A.6), so that a demurrage rate per block means the same on both
//! chains.
#![allow(missing_docs)]

use cloister_primitives::{AccountId, Balance, Hash, Nonce, Signature};
use codec::Encode;
use frame_support::{
    derive_impl,
    traits::{ConstU128, ConstU32, ConstU64, Randomness},
};
use frame_system::EnsureRoot;
use rand::RngCore;
use sp_runtime::{
    generic,
    traits::{BlakeTwo256, Verify},
};

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
    #[runtime::pallet_index(2)]
    pub type Timestamp = pallet_timestamp;
    // The same names as on the parentchain: mirrored scheduler values and community
    // parameters keep their storage keys.
    #[runtime::pallet_index(10)]
    pub type EncointerScheduler = pallet_encointer_scheduler;
    #[runtime::pallet_index(11)]
    pub type EncointerCeremonies = pallet_encointer_ceremonies;
    #[runtime::pallet_index(12)]
    pub type EncointerCommunities = pallet_encointer_communities;
    #[runtime::pallet_index(13)]
    pub type EncointerBalances = pallet_encointer_balances;
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

impl pallet_timestamp::Config for Runtime {
    type Moment = u64;
    type OnTimestampSet = ();
    type MinimumPeriod = ConstU64<0>;
    type WeightInfo = ();
}

/// Randomness for meetup assignment: the enclave's own random source, mixed with the subject.
/// Nobody outside the enclave can predict it (ENCOINTER.md A.2); a block's effect reaches other
/// validateers as its state diff, so they never need to draw the same numbers.
pub struct EnclaveRandomness;

impl Randomness<Hash, u64> for EnclaveRandomness {
    fn random(subject: &[u8]) -> (Hash, u64) {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        (sp_io::hashing::blake2_256(&(subject, seed).encode()).into(), System::block_number())
    }
}

impl pallet_encointer_scheduler::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type CeremonyMaster = EnsureRoot<AccountId>;
    type OnCeremonyPhaseChange = EncointerCeremonies;
    type MomentsPerDay = ConstU64<{ cloister_runtime::MOMENTS_PER_DAY }>;
    type WeightInfo = ();
}

impl pallet_encointer_ceremonies::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type CeremonyMaster = EnsureRoot<AccountId>;
    type Public = <Signature as Verify>::Signer;
    type Signature = Signature;
    type RandomnessSource = EnclaveRandomness;
    type MeetupSizeTarget = cloister_runtime::MeetupSizeTarget;
    type MeetupMinSize = cloister_runtime::MeetupMinSize;
    type MeetupNewbieLimitDivider = cloister_runtime::MeetupNewbieLimitDivider;
    type WeightInfo = ();
    type MaxAttestations = ConstU32<100>;
}

impl pallet_encointer_communities::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    // The enclave dispatches community changes as Root after checking the manager.
    type CommunityMaster = EnsureRoot<AccountId>;
    type TrustableForNonDestructiveAction = EnsureRoot<AccountId>;
    type WeightInfo = ();
    type MaxCommunityIdentifiers = ConstU32<10_000>;
    type MaxCommunityIdentifiersPerGeohash = ConstU32<10_000>;
    type MaxLocationsPerGeohash = ConstU32<10_000>;
    type MaxBootstrappers = ConstU32<10_000>;
}

impl pallet_encointer_balances::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type DefaultDemurrage = cloister_runtime::DefaultDemurrage;
    type ExistentialDeposit = cloister_runtime::EncointerExistentialDeposit;
    type WeightInfo = ();
    type CeremonyMaster = EnsureRoot<AccountId>;
}
