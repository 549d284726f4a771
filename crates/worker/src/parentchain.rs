//! The host's parentchain fetcher: gets from a `cloister-node` what the enclave's light client
//! verifies, and sends out what the enclave asks to submit.
//!
//! Nothing here trusts the node. It only fetches: genesis header and the read proof of the
//! initial authority sets, runs of blocks ([`BlockData`]: header, extrinsics, GRANDPA
//! justification, `System::Events` read proof) that end at a justified block, read proofs of
//! arbitrary keys, and it submits extrinsics. The enclave
//! ([`cloister_light_client::LightClient`]) decides what is true.
//!
//! How the node serves finality: the GRANDPA voter stores a justification with every block it
//! finalizes (a round's target, which is also where every authority set change stops a
//! round), and `chain_getBlock` returns it under the `FRNK` engine id. Blocks finalized in
//! between carry none: they are proven final by the next justified block, so a run always
//! ends at one. Requests of a run are batched: one `chain_getBlockHash` with the list of
//! numbers, one batch of `chain_getBlock`, one batch of `state_getReadProof`.

use cloister_light_client::{storage, BlockData};
use cloister_primitives::{AccountId, BlockNumber, Hash, Header};
use codec::{Decode, Encode};
use jsonrpsee::{
    core::{
        client::{ClientT, Subscription, SubscriptionClientT},
        params::BatchRequestBuilder,
    },
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use serde::{de::DeserializeOwned, Deserialize};
use sp_core::{crypto::Ss58Codec, Bytes};
use sp_runtime::{traits::Header as _, ConsensusEngineId, Justifications};
use std::time::Duration;

/// The engine id GRANDPA justifications are stored under (`sp_consensus_grandpa`'s).
pub const GRANDPA_ENGINE_ID: ConsensusEngineId = *b"FRNK";

/// How far back [`ParentchainRpc::latest_justified`] walks from the finalized head.
const MAX_WALK_BACK: u32 = 4096;

/// Why fetching from the parentchain failed.
#[derive(Debug, thiserror::Error)]
pub enum ParentchainError {
    /// The node cannot be reached, or the request failed on the way.
    #[error("parentchain RPC: {0}")]
    Rpc(#[from] jsonrpsee::core::ClientError),
    /// One request of a batch was answered with an error.
    #[error("the node answered {method} with an error: {message}")]
    Call {
        /// The method.
        method: &'static str,
        /// The node's error message.
        message: String,
    },
    /// The node does not know a block with this number on its best chain.
    #[error("the node has no block number {0}")]
    NoSuchNumber(BlockNumber),
    /// The node does not know a block with this hash.
    #[error("the node has no block {0:?}")]
    NoSuchBlock(Hash),
    /// The node answered with bytes that do not decode.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// No justified block within reach of the finalized head: the node finalized without
    /// storing justifications (e.g. it synced them away), so the light client cannot follow.
    #[error("no block with a GRANDPA justification in the {MAX_WALK_BACK} blocks up to {0}")]
    NoJustification(BlockNumber),
    /// An empty or inverted range of blocks was asked for.
    #[error("no blocks between {from} (exclusive) and {to} (inclusive)")]
    EmptyRange {
        /// The exclusive start.
        from: BlockNumber,
        /// The inclusive end.
        to: BlockNumber,
    },
}

impl ParentchainError {
    /// Whether trying again later may succeed (the connection or the node was down), as
    /// opposed to a request that cannot succeed as asked.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Rpc(_))
    }
}

/// A GRANDPA finality proof as `grandpa_proveFinality` returns it (SCALE), Substrate's shape.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FinalityProof {
    /// The justified block.
    pub block: Hash,
    /// Its SCALE-encoded GRANDPA justification.
    pub justification: Vec<u8>,
    /// Headers between the requested block and `block`, oldest first.
    pub unknown_headers: Vec<Header>,
}

/// `chain_getBlock`'s answer.
#[derive(Debug, Deserialize)]
struct RpcSignedBlock {
    block: RpcBlock,
    justifications: Option<Justifications>,
}

#[derive(Debug, Deserialize)]
struct RpcBlock {
    header: Header,
    extrinsics: Vec<Bytes>,
}

impl RpcSignedBlock {
    fn justification(&self) -> Option<Vec<u8>> {
        self.justifications.as_ref().and_then(|j| j.get(GRANDPA_ENGINE_ID)).cloned()
    }
}

/// `state_getReadProof`'s answer.
#[derive(Debug, Deserialize)]
struct RpcReadProof {
    proof: Vec<Bytes>,
}

/// A block's parts before its events proof is fetched.
struct FetchedBlock {
    hash: Hash,
    header: Header,
    extrinsics: Vec<Vec<u8>>,
    justification: Option<Vec<u8>>,
}

/// A JSON-RPC connection to a parentchain node, with the requests the host makes for the
/// enclave.
pub struct ParentchainRpc {
    rpc: WsClient,
    batch_size: usize,
}

impl ParentchainRpc {
    /// Connects to a node's WebSocket RPC (`ws://127.0.0.1:9944`).
    pub async fn connect(url: &str) -> Result<Self, ParentchainError> {
        let rpc = WsClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .max_response_size(64 * 1024 * 1024)
            .build(url)
            .await?;
        Ok(Self { rpc, batch_size: 64 })
    }

    /// Sets how many requests go into one JSON-RPC batch (at least 1; 64 by default).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The genesis header and a read proof of [`storage::genesis_keys`] against its state: the
    /// light client's trust anchor (the enclave pins the header's hash).
    pub async fn genesis(&self) -> Result<(Header, Vec<Vec<u8>>), ParentchainError> {
        let hash = self.block_hash(0).await?;
        let header = self.header(hash).await?;
        let proof = self.read_proof(&storage::genesis_keys(), hash).await?;
        Ok((header, proof))
    }

    /// The hash of the best-chain block `number`.
    pub async fn block_hash(&self, number: BlockNumber) -> Result<Hash, ParentchainError> {
        let hash: Option<Hash> = self.rpc.request("chain_getBlockHash", rpc_params![number]).await?;
        hash.ok_or(ParentchainError::NoSuchNumber(number))
    }

    /// A block's header.
    pub async fn header(&self, hash: Hash) -> Result<Header, ParentchainError> {
        let header: Option<Header> = self.rpc.request("chain_getHeader", rpc_params![hash]).await?;
        header.ok_or(ParentchainError::NoSuchBlock(hash))
    }

    /// The node's finalized head: number and hash.
    pub async fn finalized_head(&self) -> Result<(BlockNumber, Hash), ParentchainError> {
        let hash: Hash = self.rpc.request("chain_getFinalizedHead", rpc_params![]).await?;
        let header = self.header(hash).await?;
        Ok((*header.number(), hash))
    }

    /// The GRANDPA justification the node stores for a block, if any.
    pub async fn justification(&self, hash: Hash) -> Result<Option<Vec<u8>>, ParentchainError> {
        let block: Option<RpcSignedBlock> = self.rpc.request("chain_getBlock", rpc_params![hash]).await?;
        Ok(block.ok_or(ParentchainError::NoSuchBlock(hash))?.justification())
    }

    /// The latest finalized block that has a justification: the finalized head, or the
    /// closest ancestor of it with one.
    pub async fn latest_justified(&self) -> Result<(BlockNumber, Hash), ParentchainError> {
        let (head, mut hash) = self.finalized_head().await?;
        for _ in 0..MAX_WALK_BACK {
            let block: RpcSignedBlock = self
                .rpc
                .request::<Option<RpcSignedBlock>, _>("chain_getBlock", rpc_params![hash])
                .await?
                .ok_or(ParentchainError::NoSuchBlock(hash))?;
            if block.justification().is_some() {
                return Ok((*block.block.header.number(), hash));
            }
            if *block.block.header.number() == 0 {
                break;
            }
            hash = *block.block.header.parent_hash();
        }
        Err(ParentchainError::NoJustification(head))
    }

    /// `grandpa_proveFinality`: the first block at or after `number` that carries a
    /// justification, with it; `None` if `number` is not final yet.
    pub async fn prove_finality(&self, number: BlockNumber) -> Result<Option<FinalityProof>, ParentchainError> {
        let proof: Option<Bytes> = self.rpc.request("grandpa_proveFinality", rpc_params![number]).await?;
        proof
            .map(|bytes| {
                FinalityProof::decode(&mut &bytes[..])
                    .map_err(|e| ParentchainError::Decode { what: "finality proof", reason: e.to_string() })
            })
            .transpose()
    }

    /// Blocks `from + 1 ..= to` of the best chain with their justifications and events read
    /// proofs, for [`LightClient::sync`](cloister_light_client::LightClient::sync). `to` should
    /// be a justified block, or the light client refuses the run.
    pub async fn fetch_run(&self, from: BlockNumber, to: BlockNumber) -> Result<Vec<BlockData>, ParentchainError> {
        let blocks = self.fetch_blocks(from, to).await?;
        self.with_events_proofs(blocks).await
    }

    /// The next run after block `from`: it ends at the last justified block among the next
    /// `max_len` finalized ones, or, if none of them is justified, at the first justified
    /// block after them. `None` when no block after `from` is justified yet.
    pub async fn fetch_next_run(
        &self,
        from: BlockNumber,
        max_len: u32,
    ) -> Result<Option<Vec<BlockData>>, ParentchainError> {
        let (finalized, _) = self.finalized_head().await?;
        if finalized <= from {
            return Ok(None);
        }
        let end = finalized.min(from.saturating_add(max_len.max(1)));
        let mut blocks = self.fetch_blocks(from, end).await?;
        match blocks.iter().rposition(|b| b.justification.is_some()) {
            Some(last) => blocks.truncate(last + 1),
            None => {
                let Some(proof) = self.prove_finality(end.saturating_add(1)).await? else { return Ok(None) };
                let target = *self.header(proof.block).await?.number();
                blocks.extend(self.fetch_blocks(end, target).await?);
            }
        }
        Ok(Some(self.with_events_proofs(blocks).await?))
    }

    /// A read proof of `keys` at block `at`: the trie nodes, for the light client to check
    /// against that block's state root.
    pub async fn read_proof(&self, keys: &[Vec<u8>], at: Hash) -> Result<Vec<Vec<u8>>, ParentchainError> {
        let keys: Vec<Bytes> = keys.iter().cloned().map(Bytes).collect();
        let proof: RpcReadProof = self.rpc.request("state_getReadProof", rpc_params![keys, at]).await?;
        Ok(proof.proof.into_iter().map(|node| node.0).collect())
    }

    /// The raw storage value at `key` in the state of block `at`.
    pub async fn storage(&self, key: &[u8], at: Hash) -> Result<Option<Vec<u8>>, ParentchainError> {
        let value: Option<Bytes> = self.rpc.request("state_getStorage", rpc_params![Bytes(key.to_vec()), at]).await?;
        Ok(value.map(|b| b.0))
    }

    /// Submits a SCALE-encoded extrinsic; returns its hash.
    pub async fn submit_extrinsic(&self, extrinsic: Vec<u8>) -> Result<Hash, ParentchainError> {
        Ok(self.rpc.request("author_submitExtrinsic", rpc_params![Bytes(extrinsic)]).await?)
    }

    /// The next nonce of an account as the node sees it (its state plus its pool).
    pub async fn account_nonce(&self, who: &AccountId) -> Result<u32, ParentchainError> {
        Ok(self.rpc.request("system_accountNextIndex", rpc_params![who.to_ss58check()]).await?)
    }

    /// Follows the node's finalized heads (`chain_subscribeFinalizedHeads`).
    pub async fn subscribe_finalized_heads(&self) -> Result<Subscription<Header>, ParentchainError> {
        Ok(self
            .rpc
            .subscribe("chain_subscribeFinalizedHeads", rpc_params![], "chain_unsubscribeFinalizedHeads")
            .await?)
    }

    /// Headers, bodies and justifications of blocks `from + 1 ..= to`, batched.
    async fn fetch_blocks(&self, from: BlockNumber, to: BlockNumber) -> Result<Vec<FetchedBlock>, ParentchainError> {
        if to <= from {
            return Err(ParentchainError::EmptyRange { from, to });
        }
        let numbers: Vec<BlockNumber> = (from + 1..=to).collect();
        let mut hashes = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(self.batch_size) {
            let found: Vec<Option<Hash>> = self.rpc.request("chain_getBlockHash", rpc_params![chunk]).await?;
            for (number, hash) in chunk.iter().zip(found) {
                hashes.push(hash.ok_or(ParentchainError::NoSuchNumber(*number))?);
            }
        }
        let answers: Vec<Option<RpcSignedBlock>> = self.batch("chain_getBlock", &hashes, |h| rpc_params![h]).await?;
        hashes
            .into_iter()
            .zip(answers)
            .map(|(hash, block)| {
                let block = block.ok_or(ParentchainError::NoSuchBlock(hash))?;
                let justification = block.justification();
                Ok(FetchedBlock {
                    hash,
                    header: block.block.header,
                    extrinsics: block.block.extrinsics.into_iter().map(|x| x.0).collect(),
                    justification,
                })
            })
            .collect()
    }

    /// Adds each block's `System::Events` read proof, batched.
    async fn with_events_proofs(&self, blocks: Vec<FetchedBlock>) -> Result<Vec<BlockData>, ParentchainError> {
        let keys = vec![Bytes(storage::system_events_key())];
        let hashes: Vec<Hash> = blocks.iter().map(|b| b.hash).collect();
        let proofs: Vec<RpcReadProof> =
            self.batch("state_getReadProof", &hashes, |h| rpc_params![keys.clone(), h]).await?;
        Ok(blocks
            .into_iter()
            .zip(proofs)
            .map(|(block, proof)| BlockData {
                header: block.header,
                extrinsics: block.extrinsics,
                justification: block.justification,
                events_proof: proof.proof.into_iter().map(|node| node.0).collect(),
            })
            .collect())
    }

    /// Calls `method` once per item, `batch_size` calls per JSON-RPC batch; answers in order.
    async fn batch<T, P, R>(
        &self,
        method: &'static str,
        items: &[T],
        params: impl Fn(&T) -> P,
    ) -> Result<Vec<R>, ParentchainError>
    where
        P: jsonrpsee::core::traits::ToRpcParams + Send,
        R: DeserializeOwned + std::fmt::Debug,
    {
        let mut answers = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.batch_size) {
            let mut batch = BatchRequestBuilder::new();
            for item in chunk {
                batch
                    .insert(method, params(item))
                    .map_err(|e| ParentchainError::Decode { what: "request parameters", reason: e.to_string() })?;
            }
            let response = self.rpc.batch_request::<R>(batch).await?;
            for entry in response.into_iter() {
                answers.push(entry.map_err(|e| ParentchainError::Call { method, message: e.message().to_string() })?);
            }
        }
        Ok(answers)
    }
}
