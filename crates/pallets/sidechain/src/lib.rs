//! # Sidechain pallet
//!
//! Parentchain side of the sidechain: shielding vaults, shielded calls, sidechain block
//! confirmations (ARCHITECTURE.md 6.6, 6.9).
//!
//! Extrinsics of this pallet carry work for a shard's enclaves, which read them (and their
//! events, through read proofs) from finalized blocks:
//!
//! ```text
//!  user ── shield_funds(shard, enc(beneficiary), amount) ─► amount: user ─► vault(shard)
//!                                                           event ShieldFunds (credited on L2)
//!  user ── call_worker(shard, ciphertext) ───────────────► event CallForwarded (a shielded call)
//!  validateer ── unshield_funds(shard, to, amount, call_hash) ─► amount: vault(shard) ─► to,
//!                                                           once per call_hash (ExecutedUnshields)
//!  validateer ── confirm_imported_block / confirm_processed_parentchain_block ─► anchors
//! ```
//!
//! Each shard has its own vault, [`Pallet::vault_account`], a keyless account derived from
//! [`Config::PalletId`] and the shard's hash. Only a validateer of the shard (as [`Config::Validateers`], the enclave
//! registry, says) moves money out of it, and never twice for one `call_hash`: the enclave
//! derives that hash from the trusted call it executed, so a replayed or re-sent payout fails.
//! Anchoring the latest sidechain block lets a validateer detect, at start-up, sealed state that
//! was rolled back.

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;

/// The latest sidechain block a validateer anchored for a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub struct SidechainBlockConfirmation<BlockNumber> {
    /// The sidechain block's number.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: H256,
    /// The parentchain block that recorded the confirmation.
    pub parentchain_block: BlockNumber,
}

/// The last parentchain block a validateer says it processed for a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub struct ParentchainBlockConfirmation<BlockNumber> {
    /// The parentchain block's number.
    pub block_number: BlockNumber,
    /// Its hash.
    pub block_hash: H256,
}

/// Weights of the calls: estimates (a transfer, or a few storage reads and a write, plus the
/// ciphertext's length for the calls that carry one), not benchmarked.
pub mod weights {
    use frame_support::weights::Weight;

    /// `shield_funds`/`unshield_funds`: a balance transfer and a few reads.
    pub fn transfer(bytes: u32) -> Weight {
        Weight::from_parts(80_000_000 + 1_000 * u64::from(bytes), 0)
    }

    /// `call_worker`: one read and an event of `bytes`.
    pub fn call_worker(bytes: u32) -> Weight {
        Weight::from_parts(20_000_000 + 1_000 * u64::from(bytes), 0)
    }

    /// The confirmations: a read of the validateer set and a write.
    pub fn confirm() -> Weight {
        Weight::from_parts(30_000_000, 0)
    }
}

#[frame_support::pallet]
pub mod pallet {
    use super::{ParentchainBlockConfirmation, SidechainBlockConfirmation, H256};
    use alloc::vec::Vec;
    use cloister_primitives::ShardId;
    use frame_support::{
        pallet_prelude::*,
        traits::{
            fungible::{Inspect, Mutate},
            tokens::Preservation,
        },
        PalletId,
    };
    use frame_system::pallet_prelude::*;
    use pallet_cloister_enclave_registry::ShardValidateers;
    use sp_runtime::traits::{AccountIdConversion, BlakeTwo256, Hash, Zero};

    /// The balance type of [`Config::Currency`].
    pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The native currency, shielded into and paid out of the vaults.
        type Currency: Mutate<Self::AccountId>;
        /// Who validates each shard (the enclave registry).
        type Validateers: ShardValidateers<Self::AccountId>;
        /// Derives the shards' vault accounts (`cl/vault` on Cloister chains).
        #[pallet::constant]
        type PalletId: Get<PalletId>;
        /// Longest ciphertext of a shielded call or an encrypted beneficiary, in bytes.
        #[pallet::constant]
        type MaxCiphertextLength: Get<u32>;
    }

    /// Payouts already made, by shard and the hash of the trusted call that ordered them.
    #[pallet::storage]
    pub type ExecutedUnshields<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, ShardId, Blake2_128Concat, H256, (), OptionQuery>;

    /// The latest sidechain block anchored for each shard.
    #[pallet::storage]
    pub type LatestSidechainBlock<T: Config> =
        StorageMap<_, Blake2_128Concat, ShardId, SidechainBlockConfirmation<BlockNumberFor<T>>, OptionQuery>;

    /// The last parentchain block each validateer of a shard processed.
    #[pallet::storage]
    pub type ProcessedParentchainBlock<T: Config> = StorageDoubleMap<
        _,
        Blake2_128Concat,
        ShardId,
        Blake2_128Concat,
        T::AccountId,
        ParentchainBlockConfirmation<BlockNumberFor<T>>,
        OptionQuery,
    >;

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// Funds moved into a shard's vault, to be credited on the sidechain.
        ShieldFunds {
            /// The shard.
            shard: ShardId,
            /// The sidechain beneficiary, encrypted to the shard's shielding key.
            encrypted_beneficiary: Vec<u8>,
            /// The amount.
            amount: BalanceOf<T>,
        },
        /// Funds paid out of a shard's vault.
        UnshieldedFunds {
            /// The shard.
            shard: ShardId,
            /// Who received them.
            beneficiary: T::AccountId,
            /// The amount.
            amount: BalanceOf<T>,
            /// The hash of the trusted call that ordered the payout.
            call_hash: H256,
        },
        /// A shielded call for a shard's enclaves.
        CallForwarded {
            /// The shard.
            shard: ShardId,
            /// The call, encrypted to the shard's shielding key.
            ciphertext: Vec<u8>,
        },
        /// A validateer anchored a sidechain block.
        SidechainBlockConfirmed {
            /// The shard.
            shard: ShardId,
            /// The validateer.
            validateer: T::AccountId,
            /// The sidechain block's number.
            block_number: u64,
            /// Its hash.
            block_hash: H256,
        },
        /// A validateer processed the parentchain up to a block.
        ProcessedParentchainBlock {
            /// The shard.
            shard: ShardId,
            /// The validateer.
            validateer: T::AccountId,
            /// The parentchain block's number.
            block_number: BlockNumberFor<T>,
            /// Its hash.
            block_hash: H256,
        },
    }

    /// Errors.
    #[pallet::error]
    pub enum Error<T> {
        /// The shard has no validateers (nobody would process this).
        UnknownShard,
        /// The sender is not a validateer of the shard.
        NotAValidateer,
        /// The ciphertext is longer than `MaxCiphertextLength`.
        CiphertextTooLong,
        /// A payout for this call hash was already made on this shard.
        UnshieldAlreadyExecuted,
        /// The sidechain block is not newer than the one already anchored.
        OutdatedSidechainBlock,
        /// Shielding nothing.
        ZeroAmount,
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Moves `amount` from the sender into the shard's vault, for the encrypted beneficiary
        /// on the sidechain. The sender stays alive.
        #[pallet::call_index(0)]
        #[pallet::weight(crate::weights::transfer(encrypted_beneficiary.len() as u32))]
        pub fn shield_funds(
            origin: OriginFor<T>,
            shard: ShardId,
            encrypted_beneficiary: Vec<u8>,
            amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::ensure_bounded(&encrypted_beneficiary)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            ensure!(T::Validateers::has_validateers(&shard), Error::<T>::UnknownShard);
            let vault = Self::vault_account(shard);
            // The first shielding into a shard also pays its vault's existential deposit, which
            // stays in the vault for good: then shieldings and payouts of any amount work.
            use sp_runtime::traits::Saturating;
            let deposit = T::Currency::minimum_balance().saturating_sub(T::Currency::balance(&vault));
            T::Currency::transfer(&who, &vault, amount.saturating_add(deposit), Preservation::Preserve)?;
            Self::deposit_event(Event::ShieldFunds { shard, encrypted_beneficiary, amount });
            Ok(())
        }

        /// Pays `amount` out of the shard's vault to `beneficiary`, as ordered by the trusted
        /// call whose hash is `call_hash`; only a validateer of the shard, once per call hash.
        #[pallet::call_index(1)]
        #[pallet::weight(crate::weights::transfer(0))]
        pub fn unshield_funds(
            origin: OriginFor<T>,
            shard: ShardId,
            beneficiary: T::AccountId,
            amount: BalanceOf<T>,
            call_hash: H256,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(T::Validateers::is_validateer(&shard, &who), Error::<T>::NotAValidateer);
            ensure!(!ExecutedUnshields::<T>::contains_key(shard, call_hash), Error::<T>::UnshieldAlreadyExecuted);
            T::Currency::transfer(&Self::vault_account(shard), &beneficiary, amount, Preservation::Preserve)?;
            ExecutedUnshields::<T>::insert(shard, call_hash, ());
            Self::deposit_event(Event::UnshieldedFunds { shard, beneficiary, amount, call_hash });
            Ok(())
        }

        /// Forwards a shielded call to the shard's enclaves (through this call's event).
        #[pallet::call_index(2)]
        #[pallet::weight(crate::weights::call_worker(ciphertext.len() as u32))]
        pub fn call_worker(origin: OriginFor<T>, shard: ShardId, ciphertext: Vec<u8>) -> DispatchResult {
            ensure_signed(origin)?;
            Self::ensure_bounded(&ciphertext)?;
            ensure!(T::Validateers::has_validateers(&shard), Error::<T>::UnknownShard);
            Self::deposit_event(Event::CallForwarded { shard, ciphertext });
            Ok(())
        }

        /// Anchors the shard's latest sidechain block; only a validateer of the shard, and only
        /// a block newer than the one anchored.
        #[pallet::call_index(3)]
        #[pallet::weight(crate::weights::confirm())]
        pub fn confirm_imported_block(
            origin: OriginFor<T>,
            shard: ShardId,
            block_number: u64,
            block_hash: H256,
        ) -> DispatchResult {
            let validateer = ensure_signed(origin)?;
            ensure!(T::Validateers::is_validateer(&shard, &validateer), Error::<T>::NotAValidateer);
            if let Some(latest) = LatestSidechainBlock::<T>::get(shard) {
                ensure!(block_number > latest.block_number, Error::<T>::OutdatedSidechainBlock);
            }
            let parentchain_block = frame_system::Pallet::<T>::block_number();
            LatestSidechainBlock::<T>::insert(
                shard,
                SidechainBlockConfirmation { block_number, block_hash, parentchain_block },
            );
            Self::deposit_event(Event::SidechainBlockConfirmed { shard, validateer, block_number, block_hash });
            Ok(())
        }

        /// Records that the sender, a validateer of the shard, processed the parentchain up to
        /// `block_number`.
        #[pallet::call_index(4)]
        #[pallet::weight(crate::weights::confirm())]
        pub fn confirm_processed_parentchain_block(
            origin: OriginFor<T>,
            shard: ShardId,
            block_number: BlockNumberFor<T>,
            block_hash: H256,
        ) -> DispatchResult {
            let validateer = ensure_signed(origin)?;
            ensure!(T::Validateers::is_validateer(&shard, &validateer), Error::<T>::NotAValidateer);
            ProcessedParentchainBlock::<T>::insert(
                shard,
                &validateer,
                ParentchainBlockConfirmation { block_number, block_hash },
            );
            Self::deposit_event(Event::ProcessedParentchainBlock { shard, validateer, block_number, block_hash });
            Ok(())
        }
    }

    impl<T: Config> Pallet<T> {
        /// The vault of a shard: `PalletId` with `blake2_256(shard)` as sub-account.
        ///
        /// Hashed, because a 32-byte account holds `"modl"`, the 8-byte pallet id and only the
        /// first 20 bytes of the sub-account: with the shard itself, anyone able to found a shard
        /// sharing a victim shard's first 20 bytes would validate the victim's vault.
        pub fn vault_account(shard: ShardId) -> T::AccountId {
            T::PalletId::get().into_sub_account_truncating(BlakeTwo256::hash(shard.as_bytes()))
        }

        fn ensure_bounded(ciphertext: &[u8]) -> DispatchResult {
            ensure!(ciphertext.len() <= T::MaxCiphertextLength::get() as usize, Error::<T>::CiphertextTooLong);
            Ok(())
        }
    }
}
