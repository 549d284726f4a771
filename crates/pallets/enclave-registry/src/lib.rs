//! # Enclave registry pallet
//!
//! Registry of attested enclaves (validateers) and of each shard's validateer set
//! (ARCHITECTURE.md 6.3, 6.10).
//!
//! An enclave registers from its own account: the [`sp_runtime::AccountId32`] whose 32 bytes are
//! its ed25519 signing key. [`Pallet::register_enclave`] verifies the attestation with
//! [`cloister_attestation::verify`] (dev reports only if [`AllowDevAttestation`] is set, as on
//! `--dev` chains; DCAP quotes at the chain's time) and requires its report data to be
//! [`cloister_attestation::report_data`] of the sender's key and the given shielding key, so a
//! quote of one enclave cannot register another account or another shielding key. It records an
//! [`EnclaveInfo`] per account; registering again replaces it.
//!
//! ```text
//!  register_enclave ─► Enclaves[who] = { mrenclave, shielding_key, worker_url, kind, registered_at_ms }
//!  join_shard(s)    ─► ShardMrenclave[s] fixed by the first joiner; ShardValidateers[s] += who
//!                      (and EnclaveShards[who] += s, so leaving every shard is bounded work)
//! ```
//!
//! A shard's MRENCLAVE is fixed for good by its first validateer: later joiners must run the same
//! code, and it stays fixed when the set empties, so no other code can ever become a validateer
//! of that shard (and pay out of its vault, see the sidechain pallet). An enclave that registers
//! again with another MRENCLAVE leaves every shard it was in.
//!
//! Other pallets ask who validates a shard through the [`ShardValidateers`] trait (not to be
//! confused with the storage item of the same name, [`pallet::ShardValidateers`]).

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use cloister_attestation::AttestationKind;
use cloister_primitives::{Mrenclave, ShardId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Who validates a shard: what the sidechain pallet needs to know of this registry.
pub trait ShardValidateers<AccountId> {
    /// Whether `who` is a registered validateer of `shard`.
    fn is_validateer(shard: &ShardId, who: &AccountId) -> bool;
    /// Whether `shard` has at least one validateer.
    fn has_validateers(shard: &ShardId) -> bool;
}

/// A registered enclave, generic over its bounded worker URL.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub struct EnclaveInfo<Url> {
    /// The enclave's measurement.
    pub mrenclave: Mrenclave,
    /// Its X25519 shielding public key (clients encrypt to it).
    pub shielding_key: [u8; 32],
    /// Where its worker answers trusted calls (UTF-8, e.g. `wss://host:2000`).
    pub worker_url: Url,
    /// How its attestation was verified.
    pub kind: AttestationKind,
    /// When it (last) registered, milliseconds since the Unix epoch.
    pub registered_at_ms: u64,
}

/// Weights of the calls: estimates, not benchmarked. Registration is dominated by DCAP
/// verification (about ten ECDSA P-256 verifications and JSON parsing, a few milliseconds
/// natively); the rest are a few storage reads and writes, linear in the shards or validateers.
pub mod weights {
    use frame_support::weights::Weight;

    /// `register_enclave`: verification plus leaving up to `shards` shards.
    pub fn register_enclave(shards: u32) -> Weight {
        Weight::from_parts(20_000_000_000 + 2_000_000 * u64::from(shards), 0)
    }

    /// `unregister_enclave`/`remove_enclave`: leaving up to `shards` shards.
    pub fn unregister_enclave(shards: u32) -> Weight {
        Weight::from_parts(30_000_000 + 5_000_000 * u64::from(shards), 0)
    }

    /// `join_shard`/`leave_shard`: reads and writes the set (up to `validateers`).
    pub fn shard_membership(validateers: u32) -> Weight {
        Weight::from_parts(40_000_000 + 100_000 * u64::from(validateers), 0)
    }

    /// `set_allow_dev_attestation`: one write.
    pub fn set_allow_dev_attestation() -> Weight {
        Weight::from_parts(10_000_000, 0)
    }
}

#[frame_support::pallet]
pub mod pallet {
    use super::{EnclaveInfo, Mrenclave, ShardId};
    use alloc::vec::Vec;
    use cloister_attestation::{report_data, AttestationError, Policy};
    use frame_support::{pallet_prelude::*, traits::UnixTime};
    use frame_system::pallet_prelude::*;

    /// A worker URL as stored.
    pub type WorkerUrl<T> = BoundedVec<u8, <T as Config>::MaxUrlLength>;
    /// An enclave's record as stored.
    pub type EnclaveInfoOf<T> = EnclaveInfo<WorkerUrl<T>>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>, AccountId: AsRef<[u8; 32]>> {
        /// The chain's clock: dev report ages, DCAP collateral validity, registration times.
        type UnixTime: UnixTime;
        /// Longest worker URL, in bytes.
        #[pallet::constant]
        type MaxUrlLength: Get<u32>;
        /// Most validateers of one shard.
        #[pallet::constant]
        type MaxValidateersPerShard: Get<u32>;
        /// Most shards one enclave validates.
        #[pallet::constant]
        type MaxShardsPerEnclave: Get<u32>;
        /// The oldest a dev report may be when it is registered, in milliseconds.
        #[pallet::constant]
        type MaxDevReportAgeMs: Get<u64>;
    }

    /// Whether dev attestations are accepted (development chains only).
    #[pallet::storage]
    pub type AllowDevAttestation<T: Config> = StorageValue<_, bool, ValueQuery>;

    /// The registered enclaves, by their account.
    #[pallet::storage]
    pub type Enclaves<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, EnclaveInfoOf<T>, OptionQuery>;

    /// The MRENCLAVE every validateer of a shard runs, fixed by its first validateer.
    #[pallet::storage]
    pub type ShardMrenclave<T: Config> = StorageMap<_, Blake2_128Concat, ShardId, Mrenclave, OptionQuery>;

    /// The validateers of each shard.
    #[pallet::storage]
    pub type ShardValidateers<T: Config> =
        StorageMap<_, Blake2_128Concat, ShardId, BoundedVec<T::AccountId, T::MaxValidateersPerShard>, ValueQuery>;

    /// The shards each enclave validates (the reverse of [`ShardValidateers`]).
    #[pallet::storage]
    pub type EnclaveShards<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, BoundedVec<ShardId, T::MaxShardsPerEnclave>, ValueQuery>;

    /// Genesis policy.
    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// Whether dev attestations are accepted (true on `--dev` and `--chain local`).
        pub allow_dev_attestation: bool,
        #[serde(skip)]
        #[doc(hidden)]
        pub _config: core::marker::PhantomData<T>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            AllowDevAttestation::<T>::put(self.allow_dev_attestation);
        }
    }

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// An enclave registered (or registered again).
        EnclaveRegistered {
            /// Its account.
            who: T::AccountId,
            /// Its measurement.
            mrenclave: Mrenclave,
            /// How its attestation was verified.
            kind: cloister_attestation::AttestationKind,
            /// Its worker's URL.
            worker_url: Vec<u8>,
        },
        /// An enclave was unregistered (by itself or by root).
        EnclaveUnregistered {
            /// Its account.
            who: T::AccountId,
        },
        /// An enclave became a validateer of a shard.
        ShardJoined {
            /// The shard.
            shard: ShardId,
            /// The enclave's account.
            who: T::AccountId,
            /// The shard's MRENCLAVE.
            mrenclave: Mrenclave,
        },
        /// An enclave stopped validating a shard.
        ShardLeft {
            /// The shard.
            shard: ShardId,
            /// The enclave's account.
            who: T::AccountId,
        },
        /// Root allowed or disallowed dev attestations.
        DevAttestationAllowed {
            /// Whether they are accepted now.
            allowed: bool,
        },
    }

    /// Errors.
    #[pallet::error]
    pub enum Error<T> {
        /// A dev attestation on a chain that does not allow them: attest with DCAP.
        DevAttestationDisallowed,
        /// The dev report is too old, or dated in the future: make a fresh one.
        AttestationExpired,
        /// The DCAP quote verifies but its platform is out of date or revoked.
        InsecurePlatform,
        /// The attestation does not verify (bad signature, broken quote or collateral, collateral
        /// outside its validity window, debug enclave).
        InvalidAttestation,
        /// The report data does not bind the sender's account key and the given shielding key.
        ReportDataMismatch,
        /// The worker URL is longer than `MaxUrlLength`.
        UrlTooLong,
        /// The sender is not a registered enclave.
        NotRegistered,
        /// The shard's validateers run another MRENCLAVE.
        MrenclaveMismatch,
        /// The shard has `MaxValidateersPerShard` validateers already.
        TooManyValidateers,
        /// The enclave validates `MaxShardsPerEnclave` shards already.
        TooManyShards,
        /// The sender is not a validateer of this shard.
        NotAValidateer,
    }

    impl<T> From<AttestationError> for Error<T> {
        fn from(error: AttestationError) -> Self {
            match error {
                AttestationError::DevNotAllowed => Error::DevAttestationDisallowed,
                AttestationError::DevReportTooOld { .. } | AttestationError::DevReportFromFuture { .. } => {
                    Error::AttestationExpired
                }
                AttestationError::TcbRefused { .. } => Error::InsecurePlatform,
                AttestationError::BadDevSignature
                | AttestationError::BadCollateral(_)
                | AttestationError::QuoteRejected(_) => Error::InvalidAttestation,
            }
        }
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn integrity_test() {
            assert!(T::MaxUrlLength::get() > 0, "a worker URL must fit");
            assert!(T::MaxValidateersPerShard::get() > 0, "a shard needs room for a validateer");
            assert!(T::MaxShardsPerEnclave::get() > 0, "an enclave must be able to validate a shard");
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Registers the sender as an enclave (or updates its record): verifies `attestation`,
        /// which must report the sender's account key and `shielding_key`.
        #[pallet::call_index(0)]
        #[pallet::weight(crate::weights::register_enclave(T::MaxShardsPerEnclave::get()))]
        pub fn register_enclave(
            origin: OriginFor<T>,
            attestation: cloister_attestation::Attestation,
            shielding_key: [u8; 32],
            worker_url: Vec<u8>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let worker_url = WorkerUrl::<T>::try_from(worker_url).map_err(|_| Error::<T>::UrlTooLong)?;
            let now_ms = Self::now_ms();
            let policy = Policy {
                allow_dev: AllowDevAttestation::<T>::get(),
                now_ms,
                max_dev_report_age_ms: T::MaxDevReportAgeMs::get(),
            };
            let report = cloister_attestation::verify(&attestation, &policy).map_err(Error::<T>::from)?;
            ensure!(report.report_data == report_data(who.as_ref(), &shielding_key), Error::<T>::ReportDataMismatch);
            if Enclaves::<T>::get(&who).is_some_and(|old| old.mrenclave != report.mrenclave) {
                Self::leave_all_shards(&who);
            }
            let info = EnclaveInfo {
                mrenclave: report.mrenclave,
                shielding_key,
                worker_url: worker_url.clone(),
                kind: report.kind,
                registered_at_ms: now_ms,
            };
            Enclaves::<T>::insert(&who, info);
            Self::deposit_event(Event::EnclaveRegistered {
                who,
                mrenclave: report.mrenclave,
                kind: report.kind,
                worker_url: worker_url.into_inner(),
            });
            Ok(())
        }

        /// Unregisters the sender's enclave; it leaves every shard.
        #[pallet::call_index(1)]
        #[pallet::weight(crate::weights::unregister_enclave(T::MaxShardsPerEnclave::get()))]
        pub fn unregister_enclave(origin: OriginFor<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::unregister(who)
        }

        /// Removes an enclave (root): it leaves every shard.
        #[pallet::call_index(2)]
        #[pallet::weight(crate::weights::unregister_enclave(T::MaxShardsPerEnclave::get()))]
        pub fn remove_enclave(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
            ensure_root(origin)?;
            Self::unregister(who)
        }

        /// Makes the sender's registered enclave a validateer of `shard`. The first validateer
        /// fixes the shard's MRENCLAVE; joining a shard again does nothing.
        #[pallet::call_index(3)]
        #[pallet::weight(crate::weights::shard_membership(T::MaxValidateersPerShard::get()))]
        pub fn join_shard(origin: OriginFor<T>, shard: ShardId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let info = Enclaves::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
            let mrenclave = ShardMrenclave::<T>::get(shard).unwrap_or(info.mrenclave);
            ensure!(mrenclave == info.mrenclave, Error::<T>::MrenclaveMismatch);
            if ShardValidateers::<T>::get(shard).contains(&who) {
                return Ok(());
            }
            ShardValidateers::<T>::try_mutate(shard, |set| set.try_push(who.clone()))
                .map_err(|_| Error::<T>::TooManyValidateers)?;
            EnclaveShards::<T>::try_mutate(&who, |shards| shards.try_push(shard))
                .map_err(|_| Error::<T>::TooManyShards)?;
            ShardMrenclave::<T>::insert(shard, mrenclave);
            Self::deposit_event(Event::ShardJoined { shard, who, mrenclave });
            Ok(())
        }

        /// Stops the sender validating `shard`.
        #[pallet::call_index(4)]
        #[pallet::weight(crate::weights::shard_membership(T::MaxValidateersPerShard::get()))]
        pub fn leave_shard(origin: OriginFor<T>, shard: ShardId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(ShardValidateers::<T>::get(shard).contains(&who), Error::<T>::NotAValidateer);
            Self::leave(&who, shard);
            EnclaveShards::<T>::mutate_exists(&who, |shards| {
                if let Some(list) = shards {
                    list.retain(|s| *s != shard);
                    if list.is_empty() {
                        *shards = None;
                    }
                }
            });
            Ok(())
        }

        /// Allows or disallows dev attestations from now on (root).
        #[pallet::call_index(5)]
        #[pallet::weight(crate::weights::set_allow_dev_attestation())]
        pub fn set_allow_dev_attestation(origin: OriginFor<T>, allowed: bool) -> DispatchResult {
            ensure_root(origin)?;
            AllowDevAttestation::<T>::put(allowed);
            Self::deposit_event(Event::DevAttestationAllowed { allowed });
            Ok(())
        }
    }

    impl<T: Config> Pallet<T> {
        fn now_ms() -> u64 {
            u64::try_from(T::UnixTime::now().as_millis()).unwrap_or(u64::MAX)
        }

        fn unregister(who: T::AccountId) -> DispatchResult {
            ensure!(Enclaves::<T>::contains_key(&who), Error::<T>::NotRegistered);
            Self::leave_all_shards(&who);
            Enclaves::<T>::remove(&who);
            Self::deposit_event(Event::EnclaveUnregistered { who });
            Ok(())
        }

        /// Removes `who` from the set of `shard` (the shard keeps its MRENCLAVE).
        fn leave(who: &T::AccountId, shard: ShardId) {
            ShardValidateers::<T>::mutate_exists(shard, |set| {
                if let Some(list) = set {
                    list.retain(|v| v != who);
                    if list.is_empty() {
                        *set = None;
                    }
                }
            });
            Self::deposit_event(Event::ShardLeft { shard, who: who.clone() });
        }

        fn leave_all_shards(who: &T::AccountId) {
            for shard in EnclaveShards::<T>::take(who) {
                Self::leave(who, shard);
            }
        }

        /// The validateers of a shard.
        pub fn validateers(shard: &ShardId) -> Vec<T::AccountId> {
            ShardValidateers::<T>::get(shard).into_inner()
        }
    }

    impl<T: Config> super::ShardValidateers<T::AccountId> for Pallet<T> {
        fn is_validateer(shard: &ShardId, who: &T::AccountId) -> bool {
            ShardValidateers::<T>::get(shard).contains(who)
        }

        fn has_validateers(shard: &ShardId) -> bool {
            ShardValidateers::<T>::contains_key(shard)
        }
    }
}
