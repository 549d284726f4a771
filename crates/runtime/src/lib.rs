//! The Cloister parentchain runtime.
//!
//! A FRAME runtime assembled with `construct_runtime!` and executed natively by `cloister-node`:
//! there is no WASM blob. The node runs blocks through [`Executive`] inside `sp_state_machine`
//! externalities and reaches the runtime APIs through [`api::dispatch`], the same entry point a
//! WASM executor would call, so every method name and encoding is Substrate's.
//!
//! Pallets: System, Timestamp, Aura, Grandpa, Authorities (authority set changes by sudo or a
//! majority of the authorities), Permissions (the consortium's policy), Balances, TransactionPayment, Sudo, the insecure
//! randomness of the last 81 blocks (for the public ceremonies' meetup assignment, as the encointer
//! dev node does), EnclaveRegistry (attested validateers and shards' validateer sets) and Sidechain
//! (shielding vaults, shielded calls, sidechain anchors), and the public encointer pallets
//! Scheduler, Communities, Ceremonies, Balances.
//!
//! The slot duration is a storage parameter ([`SlotDuration`]) written at genesis from the chain
//! spec, so that one runtime serves a 1 s `--dev` chain and a 6 s consortium chain.

#![recursion_limit = "256"]
// `construct_runtime!`, `parameter_types!` and `impl_runtime_apis!` generate undocumented items.
#![allow(missing_docs)]

mod apis;
pub mod extrinsic;
pub mod genesis;

pub use apis::{api, RUNTIME_API_VERSIONS};
pub use cloister_primitives::{
    AccountId, Address, Balance, BlockNumber, Hash, Moment, Nonce, Signature, SS58_PREFIX, UNIT,
};

use frame_support::{
    derive_impl,
    genesis_builder_helper::{build_state, get_preset},
    parameter_types,
    traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
    weights::{
        constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
        IdentityFee, Weight,
    },
};
use frame_system::{limits::BlockWeights, EnsureRoot, EnsureSigned};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{generic, traits::Verify, Perbill};
use sp_version::RuntimeVersion;

/// Block header of the parentchain.
pub type Header = cloister_primitives::Header;
/// A parentchain block with decoded extrinsics.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// The transaction extensions every signed extrinsic carries, in Substrate's order, so wallets
/// (`@polkadot/api`, `subxt`) sign them without any custom type definitions. The last one,
/// `CheckPermissions`, carries no data: wallets that do not know it sign as before.
pub type TxExtension = (
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
    pallet_cloister_permissions::CheckPermissions<Runtime>,
);
/// An extrinsic as it is signed and submitted.
pub type UncheckedExtrinsic = generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload an account signs.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;
/// Dispatches blocks and transactions to the pallets.
pub type Executive =
    frame_executive::Executive<Runtime, Block, frame_system::ChainContext<Runtime>, Runtime, AllPalletsWithSystem>;

/// Version of the runtime: what wallets check before they sign.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("cloister"),
    impl_name: alloc::borrow::Cow::Borrowed("cloister-node"),
    authoring_version: 1,
    spec_version: 100,
    impl_version: 1,
    apis: RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

extern crate alloc;

/// Milliseconds in a day, as the encointer scheduler counts them.
pub const MOMENTS_PER_DAY: Moment = 86_400_000;
/// The smallest balance an account may hold: 1 milli-unit.
pub const EXISTENTIAL_DEPOSIT: Balance = UNIT / 1_000;
/// Default slot of a consortium chain; `--dev` sets 1 s through its chain spec.
pub const DEFAULT_SLOT_DURATION_MS: Moment = 6_000;

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
    /// Milliseconds per Aura slot. Written at genesis from the chain spec.
    pub storage SlotDuration: Moment = DEFAULT_SLOT_DURATION_MS;
    /// Half a slot, as Timestamp requires.
    pub MinimumPeriod: Moment = SlotDuration::get() / 2;
    pub const BlockHashCount: BlockNumber = 2400;
    pub const Version: RuntimeVersion = VERSION;
    /// Two seconds of compute per block, of which 75% for ordinary transactions.
    pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
        Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
        NORMAL_DISPATCH_RATIO,
    );
    pub RuntimeBlockLength: frame_system::limits::BlockLength =
        frame_system::limits::BlockLength::builder().max_length(5 * 1024 * 1024).modify_max_length_for_class(frame_support::dispatch::DispatchClass::Normal, |m| *m = NORMAL_DISPATCH_RATIO * *m).build();
    pub const SS58Prefix: u16 = SS58_PREFIX;
    pub FeeMultiplier: Multiplier = Multiplier::from_u32(1);
    /// The demurrage of encointer community currencies per block (ENCOINTER.md §4).
    pub const DefaultDemurrage: encointer_primitives::balances::Demurrage =
        encointer_primitives::balances::Demurrage::from_bits(0x0000000000000000000001E3F0A8A973_i128);
    /// About 5e-6 of a community currency unit.
    pub const EncointerExistentialDeposit: encointer_primitives::balances::BalanceType =
        encointer_primitives::balances::BalanceType::from_bits(0x0000000000000000000053e2d6238da4_u128);
    pub const MeetupSizeTarget: u64 = 15;
    pub const MeetupMinSize: u64 = 3;
    pub const MeetupNewbieLimitDivider: u64 = 2;
}

#[frame_support::runtime]
mod runtime {
    /// The Cloister parentchain runtime.
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Runtime;

    #[runtime::pallet_index(0)]
    pub type System = frame_system;
    #[runtime::pallet_index(1)]
    pub type Timestamp = pallet_timestamp;
    #[runtime::pallet_index(2)]
    pub type Aura = pallet_aura;
    #[runtime::pallet_index(3)]
    pub type Grandpa = pallet_grandpa;
    #[runtime::pallet_index(4)]
    pub type Balances = pallet_balances;
    #[runtime::pallet_index(5)]
    pub type TransactionPayment = pallet_transaction_payment;
    #[runtime::pallet_index(6)]
    pub type Sudo = pallet_sudo;
    #[runtime::pallet_index(7)]
    pub type RandomnessCollectiveFlip = pallet_insecure_randomness_collective_flip;
    #[runtime::pallet_index(8)]
    pub type Authorities = pallet_cloister_authorities;
    #[runtime::pallet_index(9)]
    pub type Permissions = pallet_cloister_permissions;
    #[runtime::pallet_index(10)]
    pub type EnclaveRegistry = pallet_cloister_enclave_registry;
    #[runtime::pallet_index(11)]
    pub type Sidechain = pallet_cloister_sidechain;

    #[runtime::pallet_index(60)]
    pub type EncointerScheduler = pallet_encointer_scheduler;
    #[runtime::pallet_index(61)]
    pub type EncointerCeremonies = pallet_encointer_ceremonies;
    #[runtime::pallet_index(62)]
    pub type EncointerCommunities = pallet_encointer_communities;
    #[runtime::pallet_index(63)]
    pub type EncointerBalances = pallet_encointer_balances;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type BlockWeights = RuntimeBlockWeights;
    type BlockLength = RuntimeBlockLength;
    type AccountId = AccountId;
    type Nonce = Nonce;
    type Hash = Hash;
    type BlockHashCount = BlockHashCount;
    type DbWeight = RocksDbWeight;
    type Version = Version;
    type AccountData = pallet_balances::AccountData<Balance>;
    type SS58Prefix = SS58Prefix;
    type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
    type Moment = Moment;
    type OnTimestampSet = (Aura, EncointerScheduler);
    type MinimumPeriod = MinimumPeriod;
    type WeightInfo = ();
}

impl pallet_aura::Config for Runtime {
    type AuthorityId = AuraId;
    type DisabledValidators = ();
    type MaxAuthorities = ConstU32<64>;
    type AllowMultipleBlocksPerSlot = ConstBool<false>;
    type SlotDuration = SlotDuration;
}

impl pallet_grandpa::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type WeightInfo = ();
    type MaxAuthorities = ConstU32<64>;
    type MaxNominators = ConstU32<0>;
    type MaxSetIdSessionEntries = ConstU64<0>;
    type KeyOwnerProof = sp_core::Void;
    type EquivocationReportSystem = ();
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
    type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type DoneSlashHandler = ();
}

impl pallet_transaction_payment::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type OnChargeTransaction = FungibleAdapter<Balances, ()>;
    type OperationalFeeMultiplier = ConstU8<5>;
    type WeightToFee = IdentityFee<Balance>;
    type LengthToFee = IdentityFee<Balance>;
    type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
    type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

impl pallet_insecure_randomness_collective_flip::Config for Runtime {}

/// An authority proposes set changes from the account of its Aura (sr25519) key.
pub struct AuraAccount;
impl sp_runtime::traits::Convert<AuraId, AccountId> for AuraAccount {
    fn convert(aura: AuraId) -> AccountId {
        sp_core::sr25519::Public::from(aura).into()
    }
}

/// Calls that create what others then use: they need the CREATE permission. Registering an
/// enclave is one (every validateer, and so every shard, starts with a registration).
pub struct CreateCalls;
impl frame_support::traits::Contains<RuntimeCall> for CreateCalls {
    fn contains(call: &RuntimeCall) -> bool {
        matches!(
            call,
            RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::new_community { .. })
                | RuntimeCall::EnclaveRegistry(pallet_cloister_enclave_registry::Call::register_enclave { .. })
        )
    }
}

/// Calls an ADMIN account sends to administer the chain's policy.
pub struct AdminCalls;
impl frame_support::traits::Contains<RuntimeCall> for AdminCalls {
    fn contains(call: &RuntimeCall) -> bool {
        matches!(call, RuntimeCall::Permissions(_))
    }
}

impl pallet_cloister_permissions::Config for Runtime {
    type AdminOrigin = EnsureRoot<AccountId>;
    type CreateCalls = CreateCalls;
    type AdminCalls = AdminCalls;
    type MaxPeers = ConstU32<256>;
}

parameter_types! {
    /// Derives each shard's vault account.
    pub const SidechainVaultId: frame_support::PalletId = frame_support::PalletId(*b"cl/vault");
}

impl pallet_cloister_enclave_registry::Config for Runtime {
    type UnixTime = Timestamp;
    type MaxUrlLength = ConstU32<256>;
    type MaxValidateersPerShard = ConstU32<64>;
    type MaxShardsPerEnclave = ConstU32<16>;
    /// A dev report is made right before registering: ten minutes is ample.
    type MaxDevReportAgeMs = ConstU64<600_000>;
}

impl pallet_cloister_sidechain::Config for Runtime {
    type Currency = Balances;
    type Validateers = EnclaveRegistry;
    type PalletId = SidechainVaultId;
    /// A shielded call (HPKE: 32-byte encapsulated key, ciphertext, 16-byte tag) of up to 64 KiB.
    type MaxCiphertextLength = ConstU32<65_536>;
}

impl pallet_cloister_authorities::Config for Runtime {
    type SetOrigin = EnsureRoot<AccountId>;
    type AuthorityAccount = AuraAccount;
    type MaxSetSize = ConstU32<64>;
}

impl pallet_encointer_scheduler::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type CeremonyMaster = EnsureRoot<AccountId>;
    type OnCeremonyPhaseChange = EncointerCeremonies;
    type MomentsPerDay = ConstU64<MOMENTS_PER_DAY>;
    type WeightInfo = ();
}

impl pallet_encointer_ceremonies::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type CeremonyMaster = EnsureRoot<AccountId>;
    type Public = <Signature as Verify>::Signer;
    type Signature = Signature;
    type RandomnessSource = RandomnessCollectiveFlip;
    type MeetupSizeTarget = MeetupSizeTarget;
    type MeetupMinSize = MeetupMinSize;
    type MeetupNewbieLimitDivider = MeetupNewbieLimitDivider;
    type WeightInfo = ();
    type MaxAttestations = ConstU32<100>;
}

impl pallet_encointer_communities::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type CommunityMaster = EnsureRoot<AccountId>;
    // As on the encointer dev node: any signed account may found a public community. A
    // permissioned consortium restricts this with the CREATE permission.
    type TrustableForNonDestructiveAction = EnsureSigned<AccountId>;
    type WeightInfo = ();
    type MaxCommunityIdentifiers = ConstU32<10_000>;
    type MaxCommunityIdentifiersPerGeohash = ConstU32<10_000>;
    type MaxLocationsPerGeohash = ConstU32<10_000>;
    type MaxBootstrappers = ConstU32<10_000>;
}

impl pallet_encointer_balances::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type DefaultDemurrage = DefaultDemurrage;
    type ExistentialDeposit = EncointerExistentialDeposit;
    type WeightInfo = ();
    type CeremonyMaster = EnsureRoot<AccountId>;
}

/// Builds the genesis state of a chain from a JSON patch of [`RuntimeGenesisConfig`] (the
/// `GenesisBuilder` API's format). Must run inside externalities that collect the storage.
pub fn build_genesis_state(patch: Vec<u8>) -> Result<(), String> {
    build_state::<RuntimeGenesisConfig>(patch).map_err(|e| e.to_string())
}

/// The JSON patch of a named preset, if there is one.
pub fn genesis_preset(name: &str) -> Option<Vec<u8>> {
    let id = Some(sp_genesis_builder::PresetId::from(name));
    get_preset::<RuntimeGenesisConfig>(&id, genesis::preset)
}
