//! # Authorities pallet
//!
//! Changes who authors blocks (Aura, sr25519) and who finalizes them (GRANDPA, ed25519) on a
//! consortium chain. A new set is enacted either by [`Config::SetOrigin`] (sudo) with
//! [`Pallet::set_authorities`], or by a strict majority of the current authorities, each
//! proposing the same set with [`Pallet::propose_authorities`] from its authority account (the
//! account of its Aura key).
//!
//! Enacting a set changes the Aura authorities for the next block and schedules the GRANDPA
//! change with no delay: the block that enacts it carries a `ScheduledChange` digest, the old
//! GRANDPA set finalizes up to and including that block and no further, and the new set votes
//! from there. So the new finality set takes effect exactly once the announcing block is final.
//!
//! One change at a time: while GRANDPA still has a change pending, a new one is refused.

#![allow(clippy::unused_unit)]

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

/// Weights of the calls: estimates (a few storage reads and writes each), not benchmarked.
pub mod weights {
    use frame_support::weights::Weight;

    /// `set_authorities`: writes both authority sets and the pending GRANDPA change.
    pub fn set_authorities(n: u32) -> Weight {
        Weight::from_parts(50_000_000 + 1_000_000 * u64::from(n), 0)
    }

    /// `propose_authorities`: reads the authorities and the proposal, may enact.
    pub fn propose_authorities(n: u32) -> Weight {
        Weight::from_parts(60_000_000 + 2_000_000 * u64::from(n), 0)
    }
}

#[frame_support::pallet]
pub mod pallet {
    use frame_support::{pallet_prelude::*, BoundedVec};
    use frame_system::pallet_prelude::*;
    use sp_consensus_aura::sr25519::AuthorityId as AuraId;
    use sp_consensus_grandpa::AuthorityId as GrandpaId;
    use sp_runtime::traits::Convert;

    /// An authority: its Aura (block authoring) and GRANDPA (finality) keys.
    pub type AuthorityKeys = (AuraId, GrandpaId);

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config:
        frame_system::Config<RuntimeEvent: From<Event<Self>>>
        + pallet_aura::Config<AuthorityId = AuraId>
        + pallet_grandpa::Config
    {
        /// May set the authorities directly (sudo on a consortium chain).
        type SetOrigin: EnsureOrigin<Self::RuntimeOrigin>;
        /// The account of an authority's Aura key, from which it proposes.
        type AuthorityAccount: Convert<AuraId, Self::AccountId>;
        /// Most authorities in a set.
        #[pallet::constant]
        type MaxSetSize: Get<u32>;
    }

    /// The set being proposed by the current authorities, and who has approved it.
    #[pallet::storage]
    pub type Proposal<T: Config> = StorageValue<
        _,
        (BoundedVec<AuthorityKeys, T::MaxSetSize>, BoundedVec<T::AccountId, T::MaxSetSize>),
        OptionQuery,
    >;

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A new authority set was enacted: Aura from the next block, GRANDPA once this block
        /// is final.
        AuthoritiesChanged {
            /// The new set.
            authorities: Vec<AuthorityKeys>,
            /// The GRANDPA set id of the new set.
            set_id: u64,
        },
        /// An authority proposed (or approved) a new set.
        Proposed {
            /// The proposing authority's account.
            who: T::AccountId,
            /// Approvals so far.
            approvals: u32,
            /// Approvals needed.
            needed: u32,
        },
    }

    /// Errors.
    #[pallet::error]
    pub enum Error<T> {
        /// The new set is empty.
        EmptySet,
        /// The new set has more authorities than allowed.
        TooManyAuthorities,
        /// A key appears twice in the new set.
        DuplicateAuthority,
        /// GRANDPA has not yet enacted the previous change.
        ChangePending,
        /// Only a current authority may propose.
        NotAnAuthority,
        /// This authority already approved this proposal.
        AlreadyApproved,
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Enacts a new authority set at once.
        #[pallet::call_index(0)]
        #[pallet::weight(crate::weights::set_authorities(authorities.len() as u32))]
        pub fn set_authorities(origin: OriginFor<T>, authorities: Vec<AuthorityKeys>) -> DispatchResult {
            T::SetOrigin::ensure_origin(origin)?;
            let set = Self::validate(authorities)?;
            Self::enact(set)
        }

        /// Proposes (or approves) a new authority set as a current authority; enacts it once a
        /// strict majority of the current authorities has proposed the same set.
        #[pallet::call_index(1)]
        #[pallet::weight(crate::weights::propose_authorities(authorities.len() as u32))]
        pub fn propose_authorities(origin: OriginFor<T>, authorities: Vec<AuthorityKeys>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let current = pallet_aura::Authorities::<T>::get();
            ensure!(current.iter().any(|a| T::AuthorityAccount::convert(a.clone()) == who), Error::<T>::NotAnAuthority);
            let set = Self::validate(authorities)?;
            let mut approvals = match Proposal::<T>::get() {
                Some((proposed, approvals)) if proposed == set => approvals,
                _ => BoundedVec::default(),
            };
            ensure!(!approvals.contains(&who), Error::<T>::AlreadyApproved);
            approvals.try_push(who.clone()).map_err(|_| Error::<T>::TooManyAuthorities)?;
            let needed = current.len() as u32 / 2 + 1;
            let count = approvals.len() as u32;
            Self::deposit_event(Event::Proposed { who, approvals: count, needed });
            if count >= needed {
                Proposal::<T>::kill();
                Self::enact(set)
            } else {
                Proposal::<T>::put((set, approvals));
                Ok(())
            }
        }
    }

    impl<T: Config> Pallet<T> {
        fn validate(
            authorities: Vec<AuthorityKeys>,
        ) -> Result<BoundedVec<AuthorityKeys, T::MaxSetSize>, DispatchError> {
            ensure!(!authorities.is_empty(), Error::<T>::EmptySet);
            for (i, (aura, grandpa)) in authorities.iter().enumerate() {
                ensure!(
                    authorities[i + 1..].iter().all(|(a, g)| a != aura && g != grandpa),
                    Error::<T>::DuplicateAuthority
                );
            }
            BoundedVec::try_from(authorities).map_err(|_| Error::<T>::TooManyAuthorities.into())
        }

        fn enact(set: BoundedVec<AuthorityKeys, T::MaxSetSize>) -> DispatchResult {
            let aura: Vec<AuraId> = set.iter().map(|(a, _)| a.clone()).collect();
            let aura = BoundedVec::<AuraId, <T as pallet_aura::Config>::MaxAuthorities>::try_from(aura)
                .map_err(|_| Error::<T>::TooManyAuthorities)?;
            let grandpa = set.iter().map(|(_, g)| (g.clone(), 1)).collect();
            pallet_grandpa::Pallet::<T>::schedule_change(grandpa, 0u32.into(), None)
                .map_err(|_| Error::<T>::ChangePending)?;
            let set_id = pallet_grandpa::CurrentSetId::<T>::mutate(|id| {
                *id += 1;
                *id
            });
            pallet_aura::Pallet::<T>::change_authorities(aura);
            Self::deposit_event(Event::AuthoritiesChanged { authorities: set.into_inner(), set_id });
            Ok(())
        }
    }
}
