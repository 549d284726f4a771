//! The node's JSON-RPC API: Substrate's method set over a [`NodeBackend`].
//!
//! Requests are answered from the backend with Substrate's names, parameters and shapes.
//! Bad input (undecodable hex, unknown blocks, wrong parameter types, malformed extrinsics) is
//! answered with a JSON-RPC error and changes nothing; unknown methods get jsonrpsee's
//! "method not found".

mod subscriptions;
mod types;

pub use types::*;

use cloister_primitives::{AccountId, BlockNumber, Hash, Header, OpaqueBlock};
use codec::{Decode, Encode};
use jsonrpsee::{
    types::{ErrorObject, ErrorObjectOwned, Params},
    RpcModule,
};
use serde::Serialize;
use sp_core::{crypto::Ss58Codec, Bytes};
use sp_runtime::generic::SignedBlock;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// What the node must provide to serve its RPC.
pub trait NodeBackend: Send + Sync + 'static {
    /// The heads of the chain.
    fn heads(&self) -> ChainHeads;
    /// A block's header.
    fn header(&self, hash: Hash) -> Result<Option<Header>, String>;
    /// A block with its justifications.
    fn block(&self, hash: Hash) -> Result<Option<SignedBlock<OpaqueBlock>>, String>;
    /// The best chain's block hash at `number`.
    fn block_hash(&self, number: BlockNumber) -> Result<Option<Hash>, String>;
    /// Calls a runtime API at `at`.
    fn call(&self, at: Hash, method: &str, data: &[u8]) -> Result<Vec<u8>, String>;
    /// A storage value at `at`.
    fn storage(&self, at: Hash, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// Storage keys with `prefix` at `at`, after `start` (exclusive), at most `count`.
    fn storage_keys(&self, at: Hash, prefix: &[u8], count: usize, start: Option<&[u8]>)
        -> Result<Vec<Vec<u8>>, String>;
    /// A read proof of `keys` at `at`.
    fn read_proof(&self, at: Hash, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String>;
    /// Submits an encoded extrinsic to the pool.
    fn submit(&self, extrinsic: Vec<u8>) -> Result<Hash, SubmitError>;
    /// Submits an encoded extrinsic and follows its status.
    fn submit_and_watch(
        &self,
        extrinsic: Vec<u8>,
    ) -> Result<(Hash, mpsc::UnboundedReceiver<TransactionStatus>), SubmitError>;
    /// The extrinsics in the pool.
    fn pending(&self) -> Vec<Vec<u8>>;
    /// The next nonce of an account, counting its extrinsics in the pool.
    fn next_nonce(&self, who: &AccountId) -> Result<u32, SubmitError>;
    /// Follows the chain.
    fn subscribe(&self) -> broadcast::Receiver<ChainEvent>;
    /// Static facts of the node.
    fn system(&self) -> SystemInfo;
    /// The connected peers.
    fn peers(&self) -> Vec<PeerInfo>;
    /// Whether the node is catching up with its peers.
    fn is_syncing(&self) -> bool;
    /// The GRANDPA justification stored for a block.
    fn justification(&self, hash: Hash) -> Result<Option<Vec<u8>>, String>;
    /// The GRANDPA voter's state in the shape of Substrate's `grandpa_roundState`, if the node
    /// runs a voter.
    fn grandpa_round_state(&self) -> Option<serde_json::Value> {
        None
    }
}

/// JSON-RPC error codes, as Substrate uses them.
pub mod codes {
    /// Invalid parameters (JSON-RPC standard).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Generic chain error (`chain_*`).
    pub const CHAIN: i32 = 3000;
    /// Generic state error (`state_*`).
    pub const STATE: i32 = 4000;
    /// Generic system error (`system_*`).
    pub const SYSTEM: i32 = 2000;
}

pub(crate) fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, message.into(), None::<()>)
}

pub(crate) fn submit_error(e: SubmitError) -> ErrorObjectOwned {
    ErrorObject::owned(e.code(), e.to_string(), None::<()>)
}

pub(crate) fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, ErrorObjectOwned> {
    serde_json::to_value(value).map_err(|e| error(codes::STATE, e.to_string()))
}

/// Shared state of the RPC handlers.
pub struct NodeRpc<B> {
    pub(crate) backend: Arc<B>,
}

impl<B: NodeBackend> NodeRpc<B> {
    fn at(&self, at: Option<Hash>) -> Result<Hash, ErrorObjectOwned> {
        let hash = at.unwrap_or_else(|| self.backend.heads().best_hash);
        match self.backend.header(hash) {
            Ok(Some(_)) => Ok(hash),
            Ok(None) => Err(error(codes::STATE, format!("Unknown block {hash:?}"))),
            Err(e) => Err(error(codes::STATE, e)),
        }
    }

    fn call_decode<T: Decode>(&self, at: Hash, method: &str, data: &[u8]) -> Result<T, ErrorObjectOwned> {
        let bytes = self.backend.call(at, method, data).map_err(|e| error(codes::STATE, e))?;
        T::decode(&mut &bytes[..]).map_err(|e| error(codes::STATE, format!("{method}: {e}")))
    }

    /// The value of the `(key, at?)` parameters of the `state_getStorage*` methods.
    fn storage_param(&self, params: &Params) -> Result<Option<Vec<u8>>, ErrorObjectOwned> {
        let mut args = Positional::new(params);
        let key: Bytes = args.required()?;
        let at = self.at(args.optional()?)?;
        self.backend.storage(at, &key).map_err(|e| error(codes::STATE, e))
    }

    fn runtime_version(&self, at: Option<Hash>) -> Result<serde_json::Value, ErrorObjectOwned> {
        let at = self.at(at)?;
        let version: sp_version::RuntimeVersion = self.call_decode(at, "Core_version", &[])?;
        to_json(&version)
    }
}

/// Parses positional parameters: a JSON array (or nothing).
struct Positional<'a>(jsonrpsee::types::params::ParamsSequence<'a>);

impl<'a> Positional<'a> {
    fn new(params: &'a Params<'a>) -> Self {
        Self(params.sequence())
    }

    fn required<T: serde::de::DeserializeOwned + std::fmt::Debug>(&mut self) -> Result<T, ErrorObjectOwned> {
        self.0.next::<T>()
    }

    fn optional<T: serde::de::DeserializeOwned + std::fmt::Debug>(&mut self) -> Result<Option<T>, ErrorObjectOwned> {
        self.0.optional_next::<T>()
    }
}

/// Builds the RPC module with every method of the node API.
pub fn module<B: NodeBackend>(backend: Arc<B>) -> RpcModule<NodeRpc<B>> {
    let mut m = RpcModule::new(NodeRpc { backend });
    register_system(&mut m);
    register_chain(&mut m);
    register_state(&mut m);
    register_author(&mut m);
    register_payment(&mut m);
    subscriptions::register(&mut m);
    let mut names: Vec<String> = m.method_names().map(String::from).collect();
    names.push("rpc_methods".into());
    names.sort();
    let _ = m.register_method("rpc_methods", move |_, _, _| {
        Ok::<_, ErrorObjectOwned>(serde_json::json!({ "version": 1, "methods": names }))
    });
    m
}

// Registration only fails for duplicate names, which the tests below would catch.
macro_rules! method {
    ($m:expr, $name:literal, |$p:ident, $ctx:ident| $body:expr) => {
        let _ = $m.register_method($name, |$p, $ctx, _| -> Result<serde_json::Value, ErrorObjectOwned> { $body });
    };
}

fn register_system<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    method!(m, "system_name", |_p, ctx| Ok(ctx.backend.system().name.into()));
    method!(m, "system_version", |_p, ctx| Ok(ctx.backend.system().version.into()));
    method!(m, "system_chain", |_p, ctx| Ok(ctx.backend.system().chain.into()));
    method!(m, "system_chainType", |_p, ctx| Ok(ctx.backend.system().chain_type));
    method!(m, "system_properties", |_p, ctx| Ok(ctx.backend.system().properties.into()));
    method!(m, "system_localPeerId", |_p, ctx| Ok(ctx.backend.system().local_peer_id.into()));
    method!(m, "system_peers", |_p, ctx| to_json(&ctx.backend.peers()));
    method!(m, "system_health", |_p, ctx| {
        let system = ctx.backend.system();
        to_json(&Health {
            peers: ctx.backend.peers().len(),
            is_syncing: ctx.backend.is_syncing(),
            should_have_peers: system.should_have_peers,
        })
    });
    method!(m, "system_syncState", |_p, ctx| {
        let heads = ctx.backend.heads();
        let highest = ctx.backend.peers().iter().map(|p| p.best_number).max().unwrap_or(0).max(heads.best_number);
        Ok(serde_json::json!({ "startingBlock": 0, "currentBlock": heads.best_number, "highestBlock": highest }))
    });
    method!(m, "system_accountNextIndex", |p, ctx| {
        let address: String = Positional::new(&p).required()?;
        let who = AccountId::from_ss58check(&address)
            .map_err(|e| invalid_params(format!("not an SS58 address: {address}: {e:?}")))?;
        ctx.backend.next_nonce(&who).map(Into::into).map_err(submit_error)
    });
}

fn register_chain<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    method!(m, "chain_getHeader", |p, ctx| {
        let hash: Option<Hash> = Positional::new(&p).optional()?;
        let hash = hash.unwrap_or_else(|| ctx.backend.heads().best_hash);
        to_json(&ctx.backend.header(hash).map_err(|e| error(codes::CHAIN, e))?)
    });
    method!(m, "chain_getBlock", |p, ctx| {
        let hash: Option<Hash> = Positional::new(&p).optional()?;
        let hash = hash.unwrap_or_else(|| ctx.backend.heads().best_hash);
        to_json(&ctx.backend.block(hash).map_err(|e| error(codes::CHAIN, e))?)
    });
    method!(m, "chain_getBlockHash", |p, ctx| {
        let arg: Option<ListOrValue<NumberOrHex>> = Positional::new(&p).optional()?;
        let lookup = |n: &NumberOrHex| -> Result<Option<Hash>, ErrorObjectOwned> {
            let number = n.to_block_number().ok_or_else(|| invalid_params("block number out of range"))?;
            ctx.backend.block_hash(number).map_err(|e| error(codes::CHAIN, e))
        };
        match arg {
            None => to_json(&ctx.backend.heads().best_hash),
            Some(ListOrValue::Value(n)) => to_json(&lookup(&n)?),
            Some(ListOrValue::List(list)) => to_json(&list.iter().map(lookup).collect::<Result<Vec<_>, _>>()?),
        }
    });
    method!(m, "chain_getFinalizedHead", |_p, ctx| to_json(&ctx.backend.heads().finalized_hash));
    let _ = m.register_alias("chain_getHead", "chain_getBlockHash");
    let _ = m.register_alias("chain_getFinalisedHead", "chain_getFinalizedHead");
    method!(m, "chain_getRuntimeVersion", |p, ctx| {
        let at: Option<Hash> = Positional::new(&p).optional()?;
        ctx.runtime_version(at)
    });
}

fn hex_bytes(value: &Bytes) -> Vec<u8> {
    value.0.clone()
}

fn register_state<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    method!(m, "state_getRuntimeVersion", |p, ctx| {
        let at: Option<Hash> = Positional::new(&p).optional()?;
        ctx.runtime_version(at)
    });
    method!(m, "state_getMetadata", |p, ctx| {
        let at: Option<Hash> = Positional::new(&p).optional()?;
        let at = ctx.at(at)?;
        let metadata: sp_core::OpaqueMetadata = ctx.call_decode(at, "Metadata_metadata", &[])?;
        to_json(&Bytes(metadata.to_vec()))
    });
    method!(m, "state_call", |p, ctx| {
        let mut args = Positional::new(&p);
        let method: String = args.required()?;
        let data: Bytes = args.required()?;
        let at = ctx.at(args.optional()?)?;
        let result = ctx.backend.call(at, &method, &data).map_err(|e| error(codes::STATE, e))?;
        to_json(&Bytes(result))
    });
    let _ = m.register_alias("state_callAt", "state_call");
    method!(m, "state_getStorage", |p, ctx| to_json(&ctx.storage_param(&p)?.map(Bytes)));
    let _ = m.register_alias("state_getStorageAt", "state_getStorage");
    method!(m, "state_getStorageHash", |p, ctx| {
        to_json(&ctx.storage_param(&p)?.map(|v| Hash::from(sp_crypto_hashing::blake2_256(&v))))
    });
    method!(m, "state_getStorageSize", |p, ctx| to_json(&ctx.storage_param(&p)?.map(|v| v.len() as u64)));
    method!(m, "state_getKeysPaged", |p, ctx| {
        let mut args = Positional::new(&p);
        let prefix: Option<Bytes> = args.required()?;
        let count: u32 = args.required()?;
        let start: Option<Bytes> = args.optional()?;
        let at = ctx.at(args.optional()?)?;
        if count > 1000 {
            return Err(invalid_params("count exceeds the maximum of 1000"));
        }
        let prefix = prefix.map(|p| hex_bytes(&p)).unwrap_or_default();
        let keys = ctx
            .backend
            .storage_keys(at, &prefix, count as usize, start.as_ref().map(|s| &s[..]))
            .map_err(|e| error(codes::STATE, e))?;
        to_json(&keys.into_iter().map(Bytes).collect::<Vec<_>>())
    });
    let _ = m.register_alias("state_getKeysPagedAt", "state_getKeysPaged");
    method!(m, "state_queryStorageAt", |p, ctx| {
        let mut args = Positional::new(&p);
        let keys: Vec<Bytes> = args.required()?;
        let at = ctx.at(args.optional()?)?;
        let mut changes = Vec::with_capacity(keys.len());
        for key in keys {
            let value = ctx.backend.storage(at, &key).map_err(|e| error(codes::STATE, e))?;
            changes.push((key, value.map(Bytes)));
        }
        to_json(&vec![StorageChangeSet { block: at, changes }])
    });
    method!(m, "state_getReadProof", |p, ctx| {
        let mut args = Positional::new(&p);
        let keys: Vec<Bytes> = args.required()?;
        let at = ctx.at(args.optional()?)?;
        let keys: Vec<Vec<u8>> = keys.iter().map(hex_bytes).collect();
        let proof = ctx.backend.read_proof(at, &keys).map_err(|e| error(codes::STATE, e))?;
        to_json(&ReadProof { at, proof: proof.into_iter().map(Bytes).collect() })
    });
}

fn register_author<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    method!(m, "author_submitExtrinsic", |p, ctx| {
        let extrinsic: Bytes = Positional::new(&p).required()?;
        to_json(&ctx.backend.submit(extrinsic.0).map_err(submit_error)?)
    });
    method!(m, "author_pendingExtrinsics", |_p, ctx| {
        to_json(&ctx.backend.pending().into_iter().map(Bytes).collect::<Vec<_>>())
    });
}

fn register_payment<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    type DispatchInfo = pallet_transaction_payment_rpc_runtime_api::RuntimeDispatchInfo<u128, sp_weights::Weight>;
    type FeeDetails = pallet_transaction_payment_rpc_runtime_api::FeeDetails<u128>;
    method!(m, "payment_queryInfo", |p, ctx| {
        let mut args = Positional::new(&p);
        let extrinsic: Bytes = args.required()?;
        let at = ctx.at(args.optional()?)?;
        let len = extrinsic.len() as u32;
        let info: DispatchInfo =
            ctx.call_decode(at, "TransactionPaymentApi_query_info", &(&extrinsic.0, len).encode_as_extrinsic())?;
        Ok(serde_json::json!({
            "weight": { "refTime": info.weight.ref_time(), "proofSize": info.weight.proof_size() },
            "class": to_json(&info.class)?,
            "partialFee": info.partial_fee.to_string(),
        }))
    });
    method!(m, "payment_queryFeeDetails", |p, ctx| {
        let mut args = Positional::new(&p);
        let extrinsic: Bytes = args.required()?;
        let at = ctx.at(args.optional()?)?;
        let len = extrinsic.len() as u32;
        let details: FeeDetails =
            ctx.call_decode(at, "TransactionPaymentApi_query_fee_details", &(&extrinsic.0, len).encode_as_extrinsic())?;
        let inclusion = details.inclusion_fee.map(|f| {
            serde_json::json!({
                "baseFee": f.base_fee.to_string(),
                "lenFee": f.len_fee.to_string(),
                "adjustedWeightFee": f.adjusted_weight_fee.to_string(),
            })
        });
        Ok(serde_json::json!({ "inclusionFee": inclusion }))
    });
}

/// Runtime APIs that take an extrinsic take it already encoded (not as a byte vector).
trait EncodeAsExtrinsic {
    fn encode_as_extrinsic(&self) -> Vec<u8>;
}

impl EncodeAsExtrinsic for (&Vec<u8>, u32) {
    fn encode_as_extrinsic(&self) -> Vec<u8> {
        let mut out = self.0.clone();
        self.1.encode_to(&mut out);
        out
    }
}
