//! [`CheckPermissions`]: the transaction extension that enforces the policy on every signed
//! transaction, in the pool and on import.
//!
//! It adds nothing to what a wallet signs (no explicit and no implicit data), so unmodified
//! wallets sign for a restricted chain as for any other.

use crate::{AccountPermissions, Config, Permissions, Restricted};
use codec::{Decode, DecodeWithMemTracking, Encode};
use core::marker::PhantomData;
use frame_support::{
    pallet_prelude::TransactionSource,
    traits::{Contains, Get, OriginTrait},
    weights::Weight,
    DefaultNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::{
    impl_tx_ext_default,
    traits::{DispatchInfoOf, TransactionExtension},
    transaction_validity::InvalidTransaction,
};

/// `InvalidTransaction::Custom` code: the signer lacks `TRANSACT`.
pub const LACKS_TRANSACT: u8 = 160;
/// `InvalidTransaction::Custom` code: the signer lacks `CREATE` for a call that creates.
pub const LACKS_CREATE: u8 = 161;

/// Refuses signed transactions whose signer lacks the permissions the call needs.
#[derive(Encode, Decode, DecodeWithMemTracking, DefaultNoBound, Clone, Eq, PartialEq, TypeInfo)]
#[scale_info(skip_type_params(T))]
pub struct CheckPermissions<T>(PhantomData<T>);

impl<T> core::fmt::Debug for CheckPermissions<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "CheckPermissions")
    }
}

impl<T: Config + Send + Sync> CheckPermissions<T> {
    /// The extension.
    pub fn new() -> Self {
        Self(PhantomData)
    }

    /// The check itself: `Ok` if `who` may send `call`.
    pub fn check(
        who: &T::AccountId,
        call: &<T as frame_system::Config>::RuntimeCall,
    ) -> Result<(), InvalidTransaction> {
        if !Restricted::<T>::get() {
            return Ok(());
        }
        let held = AccountPermissions::<T>::get(who);
        if held.has(Permissions::ADMIN) && T::AdminCalls::contains(call) {
            return Ok(());
        }
        if !held.has(Permissions::TRANSACT) {
            return Err(InvalidTransaction::Custom(LACKS_TRANSACT));
        }
        if T::CreateCalls::contains(call) && !held.has(Permissions::CREATE) {
            return Err(InvalidTransaction::Custom(LACKS_CREATE));
        }
        Ok(())
    }
}

impl<T: Config + Send + Sync> TransactionExtension<<T as frame_system::Config>::RuntimeCall> for CheckPermissions<T> {
    const IDENTIFIER: &'static str = "CheckPermissions";
    type Implicit = ();
    type Val = ();
    type Pre = ();

    fn weight(&self, _: &<T as frame_system::Config>::RuntimeCall) -> Weight {
        // Two storage reads.
        T::DbWeight::get().reads(2)
    }

    fn validate(
        &self,
        origin: <T as frame_system::Config>::RuntimeOrigin,
        call: &<T as frame_system::Config>::RuntimeCall,
        _info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
        _len: usize,
        _self_implicit: Self::Implicit,
        _inherited_implication: &impl Encode,
        _source: TransactionSource,
    ) -> sp_runtime::traits::ValidateResult<Self::Val, <T as frame_system::Config>::RuntimeCall> {
        if let Some(who) = origin.as_signer() {
            Self::check(who, call)?;
        }
        Ok((Default::default(), (), origin))
    }

    impl_tx_ext_default!(<T as frame_system::Config>::RuntimeCall; prepare);
}
