//! Signing extrinsics for this runtime: the one place that knows its transaction extensions.

use crate::*;
use codec::Encode;
use sp_core::{sr25519, Pair};
use sp_runtime::{generic::Era, MultiAddress};

/// What a signature commits to besides the call: the chain, the runtime version and a recent
/// block for mortality.
#[derive(Clone, Copy, Debug)]
pub struct SigningContext {
    /// The chain's genesis hash.
    pub genesis: Hash,
    /// The runtime's `spec_version`.
    pub spec_version: u32,
    /// The runtime's `transaction_version`.
    pub transaction_version: u32,
    /// A recent block (number, hash): the transaction is valid for 256 blocks from it.
    pub checkpoint: (BlockNumber, Hash),
}

/// Signs `call` as the sr25519 account `pair` with `nonce` and `tip`.
pub fn signed(
    call: RuntimeCall,
    pair: &sr25519::Pair,
    nonce: Nonce,
    tip: Balance,
    ctx: &SigningContext,
) -> UncheckedExtrinsic {
    signed_with(call, pair, nonce, tip, ctx)
}

/// Signs `call` as the account of any key pair (sr25519, or ed25519 as enclaves sign) with
/// `nonce` and `tip`.
pub fn signed_with<P>(
    call: RuntimeCall,
    pair: &P,
    nonce: Nonce,
    tip: Balance,
    ctx: &SigningContext,
) -> UncheckedExtrinsic
where
    P: Pair,
    P::Signature: Into<Signature>,
    P::Public: Into<AccountId>,
{
    let era = Era::mortal(256, u64::from(ctx.checkpoint.0));
    let extension: TxExtension = (
        frame_system::CheckNonZeroSender::<Runtime>::new(),
        frame_system::CheckSpecVersion::<Runtime>::new(),
        frame_system::CheckTxVersion::<Runtime>::new(),
        frame_system::CheckGenesis::<Runtime>::new(),
        frame_system::CheckEra::<Runtime>::from(era),
        frame_system::CheckNonce::<Runtime>::from(nonce),
        frame_system::CheckWeight::<Runtime>::new(),
        pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(tip),
        pallet_cloister_permissions::CheckPermissions::<Runtime>::new(),
    );
    let implicit = ((), ctx.spec_version, ctx.transaction_version, ctx.genesis, ctx.checkpoint.1, (), (), (), ());
    let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
    let signature: Signature = payload.using_encoded(|bytes| pair.sign(bytes)).into();
    let account: AccountId = pair.public().into();
    UncheckedExtrinsic::new_signed(call, MultiAddress::Id(account), signature, extension)
}
