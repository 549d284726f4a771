//! # Permissions pallet
//!
//! The consortium's policy, kept on chain (ARCHITECTURE.md 4.6):
//!
//! - per account a set of [`Permissions`]: `READ` (may query state over RPC), `TRANSACT` (may
//!   submit extrinsics), `CREATE` (may create what others then use: communities, shards, enclave
//!   registrations), `ADMIN` (may change permissions);
//! - whether the chain is [`Restricted`]: an open chain (the default, and `--dev`) lets everyone
//!   read, transact and create;
//! - the allowlist of p2p peer ids ([`AllowedPeers`]) that nodes accept on a restricted chain.
//!
//! Changes come from [`Config::AdminOrigin`] (sudo) or a signed account holding `ADMIN`.
//! [`CheckPermissions`], a transaction extension, enforces the policy wherever a transaction is
//! validated: in the pool (the node refuses it) and when a block is imported (a block holding such
//! a transaction is invalid). It fails closed: an account without an entry has no permissions.
//! `READ` and the allowlist are enforced by the node (RPC gateway, p2p), which reads them through
//! [`PermissionsApi`].

pub use pallet::*;

mod extension;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use extension::{CheckPermissions, LACKS_CREATE, LACKS_TRANSACT};

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Permission bits of an account.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct Permissions(pub u8);

impl Permissions {
    /// May query state over RPC on a restricted chain.
    pub const READ: u8 = 1;
    /// May submit extrinsics.
    pub const TRANSACT: u8 = 2;
    /// May create what others then use.
    pub const CREATE: u8 = 4;
    /// May change permissions.
    pub const ADMIN: u8 = 8;
    /// Every permission.
    pub const ALL: u8 = 15;

    /// Whether all of `bits` are held.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }

    /// Names of the held permissions, lowercase.
    pub fn names(self) -> alloc::vec::Vec<&'static str> {
        [(Self::READ, "read"), (Self::TRANSACT, "transact"), (Self::CREATE, "create"), (Self::ADMIN, "admin")]
            .into_iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, name)| name)
            .collect()
    }

    /// Parses `read,transact,create,admin` (any subset, or `all`).
    pub fn parse(text: &str) -> Result<u8, alloc::string::String> {
        let mut bits = 0;
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            bits |= match name.to_ascii_lowercase().as_str() {
                "read" => Self::READ,
                "transact" => Self::TRANSACT,
                "create" => Self::CREATE,
                "admin" => Self::ADMIN,
                "all" => Self::ALL,
                other => {
                    return Err(alloc::format!("unknown permission '{other}' (read, transact, create, admin, all)"))
                }
            };
        }
        if bits == 0 {
            return Err("name at least one permission (read, transact, create, admin, all)".into());
        }
        Ok(bits)
    }
}

extern crate alloc;

/// Weights of the calls: estimates (one or two storage reads and a write), not benchmarked.
pub mod weights {
    use frame_support::weights::Weight;

    /// Any call of this pallet.
    pub fn change() -> Weight {
        Weight::from_parts(25_000_000, 0)
    }
}

sp_api::decl_runtime_apis! {
    /// What the node needs to enforce the policy off chain.
    pub trait PermissionsApi<AccountId: codec::Codec> {
        /// Whether the chain is restricted.
        fn is_restricted() -> bool;
        /// The permission bits of an account.
        fn permissions(who: AccountId) -> u8;
        /// The allowed p2p peer ids (libp2p `PeerId` bytes).
        fn allowed_peers() -> alloc::vec::Vec<alloc::vec::Vec<u8>>;
    }
}

#[frame_support::pallet]
pub mod pallet {
    use super::Permissions;
    use alloc::vec::Vec;
    use frame_support::{pallet_prelude::*, traits::Contains};
    use frame_system::pallet_prelude::*;

    /// A libp2p peer id.
    pub type PeerIdBytes = BoundedVec<u8, ConstU32<64>>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// May change permissions besides `ADMIN` accounts (sudo).
        type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;
        /// Calls that create what others then use: they need `CREATE` as well.
        type CreateCalls: Contains<<Self as frame_system::Config>::RuntimeCall>;
        /// Calls that administer permissions: an `ADMIN` sends them without `TRANSACT`.
        type AdminCalls: Contains<<Self as frame_system::Config>::RuntimeCall>;
        /// Most peers on the allowlist.
        #[pallet::constant]
        type MaxPeers: Get<u32>;
    }

    /// Whether the chain is restricted; an open chain allows everyone everything but `ADMIN`.
    #[pallet::storage]
    pub type Restricted<T: Config> = StorageValue<_, bool, ValueQuery>;

    /// Permission bits per account; none without an entry.
    #[pallet::storage]
    pub type AccountPermissions<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, Permissions, ValueQuery>;

    /// The p2p peer ids nodes accept on a restricted chain.
    #[pallet::storage]
    pub type AllowedPeers<T: Config> = StorageValue<_, BoundedVec<PeerIdBytes, T::MaxPeers>, ValueQuery>;

    /// Genesis policy.
    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// Whether the chain starts restricted.
        pub restricted: bool,
        /// Accounts and their permission bits.
        pub accounts: Vec<(T::AccountId, u8)>,
        /// Allowed peer ids, as `0x` hex of the libp2p `PeerId` bytes.
        pub allowed_peers: Vec<sp_core::Bytes>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            Restricted::<T>::put(self.restricted);
            for (who, bits) in &self.accounts {
                AccountPermissions::<T>::insert(who, Permissions(*bits & Permissions::ALL));
            }
            // Peer ids longer than a libp2p id, and peers beyond the limit, are left out: the
            // allowlist then admits fewer peers, never more.
            let peers: Vec<PeerIdBytes> =
                self.allowed_peers.iter().filter_map(|p| PeerIdBytes::try_from(p.0.clone()).ok()).collect();
            AllowedPeers::<T>::put(BoundedVec::truncate_from(peers));
        }
    }

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// An account's permissions changed.
        PermissionsChanged {
            /// The account.
            who: T::AccountId,
            /// Its permission bits now.
            permissions: u8,
        },
        /// The chain became restricted or open.
        RestrictedSet {
            /// Whether it is restricted now.
            restricted: bool,
        },
        /// A peer was added to the allowlist.
        PeerAllowed {
            /// The peer id bytes.
            peer: Vec<u8>,
        },
        /// A peer was removed from the allowlist.
        PeerDisallowed {
            /// The peer id bytes.
            peer: Vec<u8>,
        },
    }

    /// Errors.
    #[pallet::error]
    pub enum Error<T> {
        /// The sender holds no `ADMIN` permission.
        NotAdmin,
        /// No permission bits given, or bits beyond `ADMIN`.
        InvalidBits,
        /// A peer id longer than 64 bytes.
        PeerIdTooLong,
        /// The allowlist is full.
        TooManyPeers,
        /// The peer is already on the allowlist.
        AlreadyAllowed,
        /// The peer is not on the allowlist.
        NotAllowed,
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Adds permission bits to an account.
        #[pallet::call_index(0)]
        #[pallet::weight(crate::weights::change())]
        pub fn grant(origin: OriginFor<T>, who: T::AccountId, bits: u8) -> DispatchResult {
            Self::ensure_admin(origin)?;
            ensure!(bits != 0 && bits & !Permissions::ALL == 0, Error::<T>::InvalidBits);
            let now = AccountPermissions::<T>::mutate(&who, |p| {
                p.0 |= bits;
                p.0
            });
            Self::deposit_event(Event::PermissionsChanged { who, permissions: now });
            Ok(())
        }

        /// Removes permission bits from an account.
        #[pallet::call_index(1)]
        #[pallet::weight(crate::weights::change())]
        pub fn revoke(origin: OriginFor<T>, who: T::AccountId, bits: u8) -> DispatchResult {
            Self::ensure_admin(origin)?;
            ensure!(bits != 0 && bits & !Permissions::ALL == 0, Error::<T>::InvalidBits);
            let now = AccountPermissions::<T>::mutate_exists(&who, |p| {
                let left = p.map(|p| p.0 & !bits).unwrap_or(0);
                *p = (left != 0).then_some(Permissions(left));
                left
            });
            Self::deposit_event(Event::PermissionsChanged { who, permissions: now });
            Ok(())
        }

        /// Restricts the chain, or opens it.
        #[pallet::call_index(2)]
        #[pallet::weight(crate::weights::change())]
        pub fn set_restricted(origin: OriginFor<T>, restricted: bool) -> DispatchResult {
            Self::ensure_admin(origin)?;
            Restricted::<T>::put(restricted);
            Self::deposit_event(Event::RestrictedSet { restricted });
            Ok(())
        }

        /// Adds a p2p peer id to the allowlist.
        #[pallet::call_index(3)]
        #[pallet::weight(crate::weights::change())]
        pub fn allow_peer(origin: OriginFor<T>, peer: Vec<u8>) -> DispatchResult {
            Self::ensure_admin(origin)?;
            let bounded = PeerIdBytes::try_from(peer.clone()).map_err(|_| Error::<T>::PeerIdTooLong)?;
            AllowedPeers::<T>::try_mutate(|peers| {
                ensure!(!peers.contains(&bounded), Error::<T>::AlreadyAllowed);
                peers.try_push(bounded).map_err(|_| Error::<T>::TooManyPeers)?;
                Ok::<_, DispatchError>(())
            })?;
            Self::deposit_event(Event::PeerAllowed { peer });
            Ok(())
        }

        /// Removes a p2p peer id from the allowlist.
        #[pallet::call_index(4)]
        #[pallet::weight(crate::weights::change())]
        pub fn disallow_peer(origin: OriginFor<T>, peer: Vec<u8>) -> DispatchResult {
            Self::ensure_admin(origin)?;
            AllowedPeers::<T>::try_mutate(|peers| {
                let before = peers.len();
                peers.retain(|p| p.as_slice() != peer.as_slice());
                ensure!(peers.len() < before, Error::<T>::NotAllowed);
                Ok::<_, DispatchError>(())
            })?;
            Self::deposit_event(Event::PeerDisallowed { peer });
            Ok(())
        }
    }

    impl<T: Config> Pallet<T> {
        fn ensure_admin(origin: OriginFor<T>) -> DispatchResult {
            if T::AdminOrigin::try_origin(origin.clone()).is_ok() {
                return Ok(());
            }
            let who = ensure_signed(origin)?;
            ensure!(AccountPermissions::<T>::get(&who).has(Permissions::ADMIN), Error::<T>::NotAdmin);
            Ok(())
        }

        /// The permissions an account effectively holds: all but `ADMIN` on an open chain.
        pub fn effective(who: &T::AccountId) -> Permissions {
            let held = AccountPermissions::<T>::get(who);
            if Restricted::<T>::get() {
                held
            } else {
                Permissions(held.0 | Permissions::READ | Permissions::TRANSACT | Permissions::CREATE)
            }
        }

        /// The allowlist as plain bytes.
        pub fn allowed_peers() -> Vec<Vec<u8>> {
            AllowedPeers::<T>::get().into_iter().map(|p| p.into_inner()).collect()
        }
    }
}
