//! Applies a sidechain block's inputs to a shard's state, and answers getters.
//!
//! A block's inputs are the effects of finalized parentchain blocks (funds shielded to the
//! shard, payouts seen executed, ceremony phase changes and mirrored scheduler values) followed
//! by trusted calls in arrival order. Every call's
//! signature was verified once, when it was accepted ([`VerifiedCall`]); in the block each is
//! checked against the state (an existing account, the signer's next nonce, and that it was
//! verified for this enclave and shard) before it touches the state; a call that fails to check
//! is rejected and changes nothing. A call that
//! checks but fails in the runtime (e.g. too little balance) is included and consumes its nonce,
//! so that it can never be replayed later; its state changes are rolled back.

use crate::{
    encointer,
    ops::{TrustedCall, TrustedGetter, TrustedGetterSigned, VerifiedCall},
    runtime::{Balances, Runtime, RuntimeCall, RuntimeOrigin, System},
    state::{PendingChanges, ShardState, StateError},
};
use cloister_primitives::{AccountId, Balance, BlockNumber, Hash, Mrenclave, Nonce, ShardId};
use codec::{Decode, Encode};
use encointer_primitives::scheduler::CeremonyPhaseType;
use frame_support::{
    dispatch::RawOrigin,
    storage::{unhashed, with_transaction},
    traits::{
        fungible::{Inspect, Mutate},
        tokens::{Fortitude, Precision, Preservation},
    },
};
use sp_runtime::{traits::Dispatchable, TransactionOutcome};

/// Well-known keys the enclave keeps in a shard's state beside the runtime's.
pub mod keys {
    /// The last parentchain block whose effects the state includes: `(BlockNumber, Hash)`.
    pub const PARENTCHAIN_HEAD: &[u8] = b":cloister:parentchain_head";
    /// The sealed-at-rest light client state, so that it moves with the state it produced.
    pub const LIGHT_CLIENT: &[u8] = b":cloister:light_client";
    /// Prefix of payouts owed on the parentchain: `PREFIX ++ call_hash` → `(AccountId, Balance)`.
    pub const PAYOUT_PREFIX: &[u8] = b":cloister:payout:";
    /// The shard's validateers, as the parentchain's registry lists them: `Vec<[u8; 32]>`.
    /// Sidechain Aura takes its authors from here, in this order.
    pub const VALIDATEERS: &[u8] = b":cloister:validateers";
}

/// Something a finalized parentchain block did that the shard must reflect.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ParentchainEffect {
    /// `amount` was moved into the shard's vault for `beneficiary`.
    Shield {
        /// Who is credited on the shard.
        beneficiary: AccountId,
        /// How much.
        amount: Balance,
    },
    /// The payout named `call_hash` was executed on the parentchain.
    PayoutExecuted {
        /// The unshield call's hash.
        call_hash: Hash,
    },
    /// The parentchain's ceremony phase changed to this one ([`encointer::phase_changed`]).
    PhaseChanged(CeremonyPhaseType),
    /// Parentchain values the shard mirrors, read through a verified proof: `(key, value)`.
    Mirror(encointer::StorageValues),
    /// The shard's validateers on the parentchain changed to these (enclave signing keys).
    Validateers(Vec<[u8; 32]>),
}

/// A payout the enclave owes on the parentchain (from an unshield).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Payout {
    /// The unshield call's hash: the parentchain refuses it twice.
    pub call_hash: Hash,
    /// Who is paid.
    pub beneficiary: AccountId,
    /// How much.
    pub amount: Balance,
}

/// What a sidechain block applies.
pub struct BlockInput {
    /// The sidechain block number.
    pub number: u64,
    /// Whose measurement signatures are bound to.
    pub mrenclave: Mrenclave,
    /// The shard.
    pub shard: ShardId,
    /// The last parentchain block whose effects are in `effects`, if any new one.
    pub parentchain_head: Option<(BlockNumber, Hash)>,
    /// The last finalized parentchain block the enclave has verified: the runtime's block
    /// number (ENCOINTER.md A.6).
    pub parentchain_number: BlockNumber,
    /// The light client state to keep with this block, if it moved.
    pub light_client: Option<Vec<u8>>,
    /// Effects of finalized parentchain blocks, in order.
    pub effects: Vec<ParentchainEffect>,
    /// Trusted calls, in arrival order, each verified for `mrenclave` and `shard`.
    pub calls: Vec<VerifiedCall>,
}

/// What happened to one trusted call.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OpOutcome {
    /// In the block; `Ok` or the runtime's error (its nonce is spent either way).
    Included {
        /// The call's hash.
        hash: Hash,
        /// The runtime's verdict.
        result: Result<(), String>,
    },
    /// Not in the block; changed nothing.
    Rejected {
        /// The call's hash.
        hash: Hash,
        /// Why.
        reason: StfError,
    },
}

/// What executing a block produced.
pub struct BlockOutput {
    /// One outcome per input call, in order.
    pub outcomes: Vec<OpOutcome>,
    /// New payouts to make on the parentchain.
    pub payouts: Vec<Payout>,
}

/// Why a trusted operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum StfError {
    /// The signature is not the signer's for this enclave and shard.
    #[error("bad signature")]
    BadSignature,
    /// The nonce was already used: a replay, or a call made twice.
    #[error("stale nonce {got}: the account's next nonce is {expected}")]
    StaleNonce {
        /// The nonce expected.
        expected: Nonce,
        /// The nonce given.
        got: Nonce,
    },
    /// The nonce is ahead of the account's next nonce.
    #[error("future nonce {got}: the account's next nonce is {expected}")]
    FutureNonce {
        /// The nonce expected.
        expected: Nonce,
        /// The nonce given.
        got: Nonce,
    },
    /// The signer has no account on the shard.
    #[error("the signer has no account on this shard")]
    UnknownAccount,
    /// The signer may not read this (it is not the community's manager), or the community is
    /// not one of this shard's.
    #[error("not authorized")]
    NotAuthorized,
    /// A getter too old or from the future.
    #[error("the getter's timestamp is not within a minute of the enclave's clock")]
    StaleGetter,
    /// The state failed.
    #[error("state: {0}")]
    State(String),
}

impl From<StateError> for StfError {
    fn from(e: StateError) -> Self {
        Self::State(e.to_string())
    }
}

/// The account's next nonce (inside externalities).
fn next_nonce(who: &AccountId) -> Nonce {
    System::account_nonce(who)
}

/// Whether the account exists on the shard (inside externalities).
fn account_exists(who: &AccountId) -> bool {
    System::account_exists(who)
}

/// How far ahead of its signer's next nonce a call another validateer forwarded may be: it
/// waits in the pool until the calls before it arrive.
pub const MAX_NONCE_AHEAD: Nonce = 1_024;

/// How a call's nonce must relate to its signer's next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRule {
    /// Exactly the next one (a client's call).
    Next,
    /// The next one or a later one, up to [`MAX_NONCE_AHEAD`] (a call another validateer
    /// forwarded, or one read back from the journal: the ones before it may come later).
    NextOrLater,
}

/// Checks a verified `call` against the state as it is: an existing account, and its nonce
/// against `next`, the signer's next nonce counting the calls already waiting, by `rule`.
/// `next` comes from [`next_nonce_of`] and the pool.
pub fn check_call(state: &ShardState, call: &VerifiedCall, next: Nonce, rule: NonceRule) -> Result<(), StfError> {
    let who = call.signer().clone();
    let (exists, state_nonce) = state.read(|| (account_exists(&who), next_nonce(&who)))?;
    if !exists && call.signed().call.needs_account() {
        return Err(StfError::UnknownAccount);
    }
    let got = call.signed().nonce;
    match rule {
        NonceRule::Next => nonce_check(next, got),
        NonceRule::NextOrLater if got < state_nonce => Err(StfError::StaleNonce { expected: state_nonce, got }),
        NonceRule::NextOrLater if got > next.saturating_add(MAX_NONCE_AHEAD) => {
            Err(StfError::FutureNonce { expected: next, got })
        }
        NonceRule::NextOrLater => Ok(()),
    }
}

/// The next nonce of `who` in `state` (calls waiting not counted).
pub fn next_nonce_of(state: &ShardState, who: &AccountId) -> Result<Nonce, StfError> {
    Ok(state.read(|| next_nonce(who))?)
}

fn nonce_check(expected: Nonce, got: Nonce) -> Result<(), StfError> {
    match got.cmp(&expected) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(StfError::StaleNonce { expected, got }),
        std::cmp::Ordering::Greater => Err(StfError::FutureNonce { expected, got }),
    }
}

/// Executes `input` on `state`; the caller commits the changes when the block is kept.
pub fn execute_block(state: &ShardState, input: BlockInput) -> Result<PendingChanges<BlockOutput>, StfError> {
    Ok(state.execute(move || apply(input))?)
}

fn apply(input: BlockInput) -> BlockOutput {
    // Monotonic: the enclave's finalized parentchain block never goes back.
    System::set_block_number(u64::from(input.parentchain_number).max(System::block_number()));
    for effect in &input.effects {
        apply_effect(effect);
    }
    if let Some(head) = input.parentchain_head {
        unhashed::put(keys::PARENTCHAIN_HEAD, &head);
    }
    if let Some(lc) = &input.light_client {
        unhashed::put_raw(keys::LIGHT_CLIENT, lc);
    }
    let mut outcomes = Vec::with_capacity(input.calls.len());
    let mut payouts = Vec::new();
    for call in input.calls {
        let hash = call.hash();
        match apply_call(&call, &input.mrenclave, &input.shard) {
            Ok((result, payout)) => {
                payouts.extend(payout);
                outcomes.push(OpOutcome::Included { hash, result });
            }
            Err(reason) => outcomes.push(OpOutcome::Rejected { hash, reason }),
        }
    }
    // Events are not part of a shard's state.
    System::reset_events();
    BlockOutput { outcomes, payouts }
}

fn apply_effect(effect: &ParentchainEffect) {
    match effect {
        ParentchainEffect::Shield { beneficiary, amount } => {
            if let Err(error) = <Balances as Mutate<AccountId>>::mint_into(beneficiary, *amount) {
                // Below the existential deposit: the funds stay in the vault.
                tracing::warn!(target: "stf", ?error, "a shielding could not be credited");
            }
        }
        ParentchainEffect::PayoutExecuted { call_hash } => {
            unhashed::kill(&payout_key(call_hash));
        }
        ParentchainEffect::PhaseChanged(phase) => encointer::phase_changed(*phase),
        ParentchainEffect::Mirror(values) => encointer::mirror(values),
        ParentchainEffect::Validateers(set) => unhashed::put(keys::VALIDATEERS, set),
    }
}

fn payout_key(call_hash: &Hash) -> Vec<u8> {
    [keys::PAYOUT_PREFIX, call_hash.as_ref()].concat()
}

/// Applies one call inside the block; `Err` leaves no trace.
fn apply_call(
    verified: &VerifiedCall,
    mrenclave: &Mrenclave,
    shard: &ShardId,
) -> Result<(Result<(), String>, Option<Payout>), StfError> {
    if !verified.is_for(mrenclave, shard) {
        return Err(StfError::BadSignature);
    }
    let call = verified.signed();
    let who = call.call.signer().clone();
    if !account_exists(&who) && call.call.needs_account() {
        return Err(StfError::UnknownAccount);
    }
    nonce_check(next_nonce(&who), call.nonce)?;
    let call_hash = verified.hash();
    let result = with_transaction(|| {
        let result = dispatch(&call.call, verified.public_community());
        if result.is_ok() {
            TransactionOutcome::Commit(Ok(result))
        } else {
            TransactionOutcome::Rollback(Ok(result))
        }
    })
    .unwrap_or_else(|e: sp_runtime::DispatchError| Err(format!("{e:?}")));
    System::inc_account_nonce(&who);
    let payout = match (&result, &call.call) {
        (Ok(()), TrustedCall::Unshield { beneficiary, amount, .. }) => {
            let payout = Payout { call_hash, beneficiary: beneficiary.clone(), amount: *amount };
            unhashed::put(&payout_key(&call_hash), &(beneficiary, amount));
            Some(payout)
        }
        _ => None,
    };
    Ok((result, payout))
}

fn dispatch(call: &TrustedCall, public: Option<&encointer::PublicCommunity>) -> Result<(), String> {
    match call {
        TrustedCall::Transfer { from, to, amount } => {
            let call =
                RuntimeCall::Balances(pallet_balances::Call::transfer_allow_death { dest: to.clone(), value: *amount });
            call.dispatch(RuntimeOrigin::from(RawOrigin::Signed(from.clone())))
                .map(|_| ())
                .map_err(|e| describe(e.error))
        }
        TrustedCall::Unshield { from, amount, .. } => <Balances as Mutate<AccountId>>::burn_from(
            from,
            *amount,
            Preservation::Expendable,
            Precision::Exact,
            Fortitude::Polite,
        )
        .map(|_| ())
        .map_err(describe),
        community_call => encointer::dispatch(community_call, public),
    }
}

/// A runtime error as the caller of a call reads it: the pallet's error name, or FRAME's.
pub(crate) fn describe(error: sp_runtime::DispatchError) -> String {
    match error {
        sp_runtime::DispatchError::Module(m) => m.message.unwrap_or("module error").to_string(),
        sp_runtime::DispatchError::Token(t) => format!("{t:?}"),
        sp_runtime::DispatchError::Arithmetic(a) => format!("{a:?}"),
        other => format!("{other:?}"),
    }
}

/// Answers a getter for its signer, after checking signature and freshness, as of parentchain
/// block `parentchain_number` (for demurrage).
pub fn execute_getter(
    state: &ShardState,
    getter: &TrustedGetterSigned,
    now_ms: u64,
    parentchain_number: BlockNumber,
    mrenclave: &Mrenclave,
    shard: &ShardId,
) -> Result<Vec<u8>, StfError> {
    if !getter.verify_signature(mrenclave, shard) {
        return Err(StfError::BadSignature);
    }
    if !getter.is_fresh(now_ms) {
        return Err(StfError::StaleGetter);
    }
    let getter = getter.getter.clone();
    state.read(move || match getter {
        TrustedGetter::Balance(who) => Ok(<Balances as Inspect<AccountId>>::balance(&who).encode()),
        TrustedGetter::Nonce(who) => Ok(next_nonce(&who).encode()),
        community => encointer::answer(community, u64::from(parentchain_number)),
    })?
}

/// The payouts recorded in the state and not yet seen executed on the parentchain.
pub fn pending_payouts(state: &ShardState) -> Result<Vec<Payout>, StfError> {
    Ok(state.read(|| {
        let mut out = Vec::new();
        let mut key = keys::PAYOUT_PREFIX.to_vec();
        while let Some(next) = sp_io::storage::next_key(&key) {
            if !next.starts_with(keys::PAYOUT_PREFIX) {
                break;
            }
            if let (Ok(hash), Some((beneficiary, amount))) =
                (Hash::decode(&mut &next[keys::PAYOUT_PREFIX.len()..]), unhashed::get::<(AccountId, Balance)>(&next))
            {
                out.push(Payout { call_hash: hash, beneficiary, amount });
            }
            key = next;
        }
        out
    })?)
}

/// The last parentchain block whose effects the state includes.
pub fn parentchain_head(state: &ShardState) -> Result<Option<(BlockNumber, Hash)>, StfError> {
    Ok(state.get(keys::PARENTCHAIN_HEAD)?.and_then(|bytes| <(BlockNumber, Hash)>::decode(&mut &bytes[..]).ok()))
}

/// The shard's validateers as its state records them (empty before the first record).
pub fn validateers(state: &ShardState) -> Result<Vec<[u8; 32]>, StfError> {
    Ok(state
        .get(keys::VALIDATEERS)?
        .and_then(|bytes| Vec::<[u8; 32]>::decode(&mut &bytes[..]).ok())
        .unwrap_or_default())
}

/// The light client state kept with the shard state.
pub fn light_client(state: &ShardState) -> Result<Option<Vec<u8>>, StfError> {
    Ok(state.get(keys::LIGHT_CLIENT)?)
}

/// The runtime type, for callers that need its storage keys.
pub type ShardRuntime = Runtime;
