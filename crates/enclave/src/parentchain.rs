//! The parentchain as the enclave sees it: through its light client only (ARCHITECTURE.md
//! 6.5, 6.6).
//!
//! The host hands over runs of finalized blocks (headers, bodies, justifications, events
//! proofs) and a read proof at the run's last block; the light client verifies all of it before
//! anything is used. From the verified events of the Sidechain pallet the enclave takes, for its
//! shard: shieldings (beneficiary decrypted inside), shielded calls (indirect invocation, into
//! the pool), executed payouts and sidechain block confirmations. It answers with the
//! extrinsics the host must submit, signed with the enclave's key and a nonce read from
//! finalized state: the anchor of its latest sidechain block and the payouts it owes.
//!
//! The light client's state is kept in the shard's state (written with the sidechain block that
//! applies the effects it found), so a crash can never separate the two: after a restart the
//! enclave syncs again from the parentchain block its state includes.

use crate::{
    boundary::EnclaveError,
    engine::{shield_info, Engine, OpStatus},
};
use cloister_light_client::{BlockData, LightClient};
use cloister_primitives::{AccountId, BlockNumber, Hash, Header, ShardId};
use cloister_runtime::{extrinsic::SigningContext, RuntimeCall, RuntimeEvent, VERSION};
use cloister_stf::{
    encointer::{public_community_keys, scheduler_keys, PublicCommunity, StorageValues},
    executor::ParentchainEffect,
    TrustedCall, VerifiedCall,
};
use codec::{Decode, Encode};
use pallet_cloister_sidechain::{Event as SidechainEvent, SidechainBlockConfirmation};

/// A payout not seen executed is sent again after this many parentchain blocks.
pub const RESEND_AFTER: BlockNumber = 10;
/// How many recent finalized parentchain headers the enclave keeps, so that a client's read
/// proof of a block the enclave verified a little while ago still checks.
pub const RECENT_HEADERS: usize = 1024;

/// What the host brings to a sync.
#[derive(Clone, Debug, Encode, Decode)]
pub struct SyncRequest {
    /// Finalized blocks after the last synced one, ending at a justified block.
    pub blocks: Vec<BlockData>,
    /// A read proof at the run's last block of [`SyncRequest::keys`].
    pub proof: Vec<Vec<u8>>,
}

/// What a sync produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct SyncOutcome {
    /// The last finalized parentchain block the enclave has verified.
    pub synced: (BlockNumber, Hash),
    /// Extrinsics to submit, encoded.
    pub extrinsics: Vec<Vec<u8>>,
    /// Shielded calls found (indirect invocation) and accepted into the pool.
    pub indirect_calls: u32,
}

/// The parentchain state the engine keeps in memory.
#[derive(Default)]
pub struct Parentchain {
    client: Option<LightClient>,
    /// The genesis header and its authority proof, to start the light client again.
    genesis: Option<(Header, Vec<Vec<u8>>)>,
    /// The shard's validateers in the last verified finalized block, in the registry's order.
    validateers: Vec<[u8; 32]>,
    /// Whether the chain accepts dev attestations (as its last verified finalized block says).
    allow_dev: bool,
    /// The sidechain block anchored on the parentchain, as last verified.
    anchor: Option<(u64, Hash)>,
    /// Payouts sent: call hash → parentchain block when last sent.
    sent_payouts: std::collections::HashMap<Hash, BlockNumber>,
    /// The last sidechain block anchored, by number.
    anchored: u64,
    /// Sidechain blocks not yet anchored, with the calls they applied.
    unanchored: std::collections::VecDeque<(u64, Vec<Hash>)>,
    /// The last finalized headers verified, oldest first.
    recent: std::collections::VecDeque<(Hash, Header)>,
    /// The scheduler values last mirrored into the shard.
    scheduler: Option<StorageValues>,
}

impl Parentchain {
    /// The light client, if started.
    pub fn client(&self) -> Option<&LightClient> {
        self.client.as_ref()
    }

    /// The last finalized block verified.
    pub fn synced(&self) -> Option<(BlockNumber, Hash)> {
        self.client.as_ref().map(|c| (c.last_finalized_number(), c.last_finalized_hash()))
    }

    /// The shard's validateers as last verified (signing keys, in the registry's order).
    pub fn validateers(&self) -> &[[u8; 32]] {
        &self.validateers
    }

    /// Whether the chain accepts dev attestations.
    pub fn allow_dev(&self) -> bool {
        self.allow_dev
    }

    /// The sidechain block anchored on the parentchain, as last verified.
    pub fn anchored_block(&self) -> Option<(u64, Hash)> {
        self.anchor
    }

    /// Sets the shard's validateers as if a sync had verified them, on a chain that accepts dev
    /// attestations (tests without a chain).
    #[cfg(test)]
    pub(crate) fn set_validateers_for_tests(&mut self, validateers: Vec<[u8; 32]>) {
        self.validateers = validateers;
        self.allow_dev = true;
    }

    /// Whether enclave `me` may create the shard's state: it is the first validateer the
    /// parentchain lists, or there is no parentchain at all (tools, benchmarks).
    pub fn may_create(&self, me: &[u8; 32]) -> bool {
        self.client.is_none() || self.validateers.first() == Some(me)
    }
}

/// The storage keys a sync's read proof must cover, for enclave account `me` and `shard`: the
/// account (for its nonce), the shard's anchor, its validateers, whether dev attestations are
/// accepted, then the ceremony scheduler's values, which the shard mirrors.
pub fn sync_keys(me: &AccountId, shard: &ShardId) -> Vec<Vec<u8>> {
    let mut keys = vec![
        cloister_light_client::storage::system_account_key(me),
        cloister_light_client::storage::blake2_128_concat_key("Sidechain", "LatestSidechainBlock", shard),
        cloister_light_client::storage::blake2_128_concat_key("EnclaveRegistry", "ShardValidateers", shard),
        cloister_light_client::storage::value_key("EnclaveRegistry", "AllowDevAttestation"),
    ];
    keys.extend(scheduler_keys());
    keys
}

fn lc_error(e: impl std::fmt::Display) -> EnclaveError {
    EnclaveError::Rejected(format!("parentchain: {e}"))
}

impl Engine {
    /// The enclave's parentchain account.
    pub fn account(&self) -> AccountId {
        AccountId::from(self.keys().signing_public())
    }

    /// Starts the light client: from the state of `shard` if it holds one (it must be of the
    /// same chain), else from `genesis` and its proof. Returns the last finalized block known.
    pub fn init_parentchain(
        &self,
        shard: &ShardId,
        genesis: Header,
        proof: Vec<Vec<u8>>,
    ) -> Result<(BlockNumber, Hash), EnclaveError> {
        let genesis_hash = genesis.hash();
        let stored = self.with_state(shard, cloister_stf::executor::light_client)?;
        let client = match stored.map_err(|e| EnclaveError::Internal(e.to_string()))? {
            Some(bytes) => {
                let client = LightClient::decode(&mut &bytes[..])
                    .map_err(|_| EnclaveError::Internal("the shard's light client state does not decode".into()))?;
                if client.genesis_hash() != genesis_hash {
                    return Err(EnclaveError::Rejected(format!(
                        "the node serves another chain (genesis {genesis_hash:?}, the shard follows {:?})",
                        client.genesis_hash()
                    )));
                }
                client
            }
            None => LightClient::from_genesis(genesis.clone(), proof.clone()).map_err(lc_error)?,
        };
        let at = (client.last_finalized_number(), client.last_finalized_hash());
        // What the shard already mirrors: a restart does not write it again.
        let mirrored: StorageValues = self.with_state(shard, |state| {
            scheduler_keys()
                .into_iter()
                .map(|key| {
                    let value = state.get(&key).ok().flatten();
                    (key, value)
                })
                .collect()
        })?;
        let mut pc = self.parentchain.lock();
        pc.scheduler = Some(mirrored);
        pc.client = Some(client);
        pc.genesis = Some((genesis, proof));
        Ok(at)
    }

    /// Starts the light client again from the state of `shard` (or from genesis if it holds
    /// none), after the state was replaced by a provisioning: the enclave then syncs again from
    /// the parentchain block the new state includes, so that no block's effects are missed.
    pub(crate) fn restart_light_client(&self, shard: &ShardId) -> Result<(), EnclaveError> {
        let genesis = self.parentchain.lock().genesis.clone();
        let Some((genesis, proof)) = genesis else { return Ok(()) };
        self.init_parentchain(shard, genesis, proof).map(|_| ())
    }

    /// The last finalized parentchain block the enclave verified.
    pub fn parentchain_synced(&self) -> Option<(BlockNumber, Hash)> {
        self.parentchain.lock().synced()
    }

    fn signing_context(client: &LightClient) -> SigningContext {
        SigningContext {
            genesis: client.genesis_hash(),
            spec_version: VERSION.spec_version,
            transaction_version: VERSION.transaction_version,
            checkpoint: (client.last_finalized_number(), client.last_finalized_hash()),
        }
    }

    fn sign_all(&self, client: &LightClient, calls: Vec<RuntimeCall>, mut nonce: u32) -> Vec<Vec<u8>> {
        let ctx = Self::signing_context(client);
        calls
            .into_iter()
            .map(|call| {
                let xt = cloister_runtime::extrinsic::signed_with(call, self.keys().signing_pair(), nonce, 0, &ctx);
                nonce += 1;
                xt.encode()
            })
            .collect()
    }

    /// The extrinsics that register this enclave (dev attestation on this backend) with
    /// `worker_url` and make it a validateer of `shard`, from account nonce `nonce`.
    pub fn registration(&self, shard: &ShardId, worker_url: Vec<u8>, nonce: u32) -> Result<Vec<Vec<u8>>, EnclaveError> {
        let pc = self.parentchain.lock();
        let client =
            pc.client.as_ref().ok_or_else(|| EnclaveError::Rejected("the parentchain is not synced".into()))?;
        let calls = vec![
            RuntimeCall::EnclaveRegistry(pallet_cloister_enclave_registry::Call::register_enclave {
                attestation: self.registration_attestation(),
                shielding_key: self.keys().shielding_public(),
                worker_url,
            }),
            RuntimeCall::EnclaveRegistry(pallet_cloister_enclave_registry::Call::join_shard { shard: *shard }),
        ];
        Ok(self.sign_all(client, calls, nonce))
    }

    /// Reads the public community a [`TrustedCall::MakeCommunityPrivate`] names, through the
    /// call's read proof, against a finalized parentchain header this enclave verified, and
    /// attaches it to the call. Other calls pass unchanged.
    pub fn prove_public_community(&self, call: VerifiedCall) -> Result<VerifiedCall, EnclaveError> {
        let TrustedCall::MakeCommunityPrivate { cid, at, cells, proof, .. } = &call.signed().call else {
            return Ok(call);
        };
        let pc = self.parentchain.lock();
        let client =
            pc.client.as_ref().ok_or_else(|| EnclaveError::Rejected("the parentchain is not synced yet".into()))?;
        let header = if *at == client.last_finalized_hash() {
            client.last_finalized()
        } else {
            pc.recent.iter().rev().find(|(hash, _)| hash == at).map(|(_, header)| header).ok_or_else(|| {
                EnclaveError::Rejected(format!(
                    "parentchain block {at:?} is not a finalized block this enclave verified recently \
                     (the enclave is at #{}); read the community at a newer block",
                    client.last_finalized_number()
                ))
            })?
        };
        let values = client.verify_read_proof(header, proof, &public_community_keys(cid, cells)).map_err(lc_error)?;
        let public = PublicCommunity::from_proven(*cid, cells, values).map_err(EnclaveError::Rejected)?;
        Ok(call.with_public_community(public))
    }

    /// Notes a sidechain block and the calls it applied (they become `Finalized` once anchored).
    pub(crate) fn note_block(&self, number: u64, calls: Vec<Hash>) {
        self.parentchain.lock().unanchored.push_back((number, calls));
    }

    /// Verifies a run of finalized parentchain blocks and acts on what they carry for `shard`.
    pub fn sync_parentchain(&self, shard: &ShardId, request: SyncRequest) -> Result<SyncOutcome, EnclaveError> {
        let me = self.account();
        let mut pc = self.parentchain.lock();
        let client =
            pc.client.as_ref().ok_or_else(|| EnclaveError::Rejected("the light client is not started".into()))?;
        let mut next = client.clone();
        let blocks = next.sync(request.blocks).map_err(lc_error)?;
        let values = next.read_finalized(&request.proof, &sync_keys(&me, shard)).map_err(lc_error)?;
        let nonce = match values.first().and_then(|(_, v)| v.as_ref()) {
            Some(bytes) => {
                frame_system::AccountInfo::<u32, pallet_balances::AccountData<u128>>::decode(&mut &bytes[..])
                    .map(|info| info.nonce)
                    .map_err(|_| EnclaveError::Rejected("parentchain: undecodable account".into()))?
            }
            None => 0,
        };
        let anchor: Option<SidechainBlockConfirmation<BlockNumber>> = match values.get(1).and_then(|(_, v)| v.as_ref())
        {
            Some(bytes) => Some(
                Decode::decode(&mut &bytes[..])
                    .map_err(|_| EnclaveError::Rejected("parentchain: undecodable anchor".into()))?,
            ),
            None => None,
        };

        let validateers: Vec<[u8; 32]> = match values.get(2).and_then(|(_, v)| v.as_ref()) {
            Some(bytes) => Vec::<AccountId>::decode(&mut &bytes[..])
                .map_err(|_| EnclaveError::Rejected("parentchain: undecodable validateer set".into()))?
                .into_iter()
                .map(|account| *account.as_ref())
                .collect(),
            None => Vec::new(),
        };
        let allow_dev = match values.get(3).and_then(|(_, v)| v.as_ref()) {
            Some(bytes) => bool::decode(&mut &bytes[..])
                .map_err(|_| EnclaveError::Rejected("parentchain: undecodable attestation policy".into()))?,
            None => false,
        };
        let scheduler: StorageValues = values.into_iter().skip(4).collect();

        // Everything verified: act on it.
        let mut effects = Vec::new();
        let mut indirect = Vec::new();
        for block in &blocks {
            let Ok(records) = Vec::<frame_system::EventRecord<RuntimeEvent, Hash>>::decode(&mut &block.events[..])
            else {
                tracing::warn!(target: "enclave", number = block.number, "undecodable parentchain events");
                continue;
            };
            for record in records {
                let event = match record.event {
                    RuntimeEvent::Sidechain(event) => event,
                    RuntimeEvent::EncointerScheduler(pallet_encointer_scheduler::Event::PhaseChangedTo(phase)) => {
                        effects.push((block.number, ParentchainEffect::PhaseChanged(phase)));
                        continue;
                    }
                    _ => continue,
                };
                match event {
                    SidechainEvent::ShieldFunds { shard: s, encrypted_beneficiary, amount } if &s == shard => {
                        match self.keys().unshield(&shield_info(shard), &encrypted_beneficiary) {
                            Ok(plain) => match AccountId::decode(&mut &plain[..]) {
                                Ok(beneficiary) => {
                                    effects.push((block.number, ParentchainEffect::Shield { beneficiary, amount }))
                                }
                                Err(_) => {
                                    tracing::warn!(target: "enclave", number = block.number, "a shielding names no account; left in the vault")
                                }
                            },
                            Err(_) => {
                                tracing::warn!(target: "enclave", number = block.number, "a shielding does not decrypt; left in the vault")
                            }
                        }
                    }
                    SidechainEvent::CallForwarded { shard: s, ciphertext } if &s == shard => indirect.push(ciphertext),
                    SidechainEvent::UnshieldedFunds { shard: s, call_hash, .. } if &s == shard => {
                        pc.sent_payouts.remove(&call_hash);
                        effects.push((block.number, ParentchainEffect::PayoutExecuted { call_hash }));
                    }
                    _ => {}
                }
            }
        }
        let last = (next.last_finalized_number(), next.last_finalized_hash());
        // What the shard holds (another validateer's blocks may have written it) and what this
        // enclave queued: either differing from the chain means a mirror is due.
        let (mirrored, recorded): (StorageValues, Vec<[u8; 32]>) = self.with_state(shard, |state| {
            let mirrored =
                scheduler_keys().into_iter().map(|key| (key.clone(), state.get(&key).ok().flatten())).collect();
            (mirrored, cloister_stf::executor::validateers(state).unwrap_or_default())
        })?;
        if pc.scheduler.as_ref() != Some(&scheduler) || mirrored != scheduler {
            effects.push((last.0, ParentchainEffect::Mirror(scheduler.clone())));
            pc.scheduler = Some(scheduler);
        }
        if pc.validateers != validateers || recorded != validateers {
            if pc.validateers != validateers {
                tracing::info!(target: "enclave", validateers = validateers.len(), "the shard's validateers changed");
            }
            effects.push((last.0, ParentchainEffect::Validateers(validateers.clone())));
            pc.validateers = validateers;
        }
        pc.allow_dev = allow_dev;
        for block in &blocks {
            if pc.recent.len() == RECENT_HEADERS {
                pc.recent.pop_front();
            }
            pc.recent.push_back((block.hash, block.header.clone()));
        }
        let head = self.shard_info(shard)?;
        pc.anchor = anchor.as_ref().map(|a| (a.block_number, a.block_hash));
        // A validateer still joining holds none of the shard's blocks: nothing to compare yet.
        // An anchored block this enclave refuses (its author equivocated) cannot be followed:
        // the shard goes on without it.
        let refused = match &anchor {
            Some(a) => self.refuses_block(shard, &a.block_hash)?,
            None => false,
        };
        if refused {
            tracing::warn!(target: "enclave", number = anchor.as_ref().map(|a| a.block_number), "the parentchain anchors a sidechain block this validateer refuses (its author equivocated)");
        }
        let anchor_to_check = if head.provisioned && !refused { anchor.as_ref() } else { None };
        if let Some(anchor) = anchor_to_check {
            if anchor.block_number > head.head {
                return Err(EnclaveError::RolledBack { anchored: anchor.block_number, local: head.head });
            }
            if anchor.block_number == head.head && anchor.block_hash != head.head_hash {
                return Err(EnclaveError::RolledBack { anchored: anchor.block_number, local: head.head });
            }
            let anchored = anchor.block_number;
            pc.anchored = pc.anchored.max(anchored);
            let mut finalized = Vec::new();
            while pc.unanchored.front().is_some_and(|(n, _)| *n <= anchored) {
                if let Some((_, calls)) = pc.unanchored.pop_front() {
                    finalized.extend(calls.into_iter().map(|h| (h, OpStatus::Finalized)));
                }
            }
            self.push_statuses(finalized);
        }

        self.queue_parentchain(shard, effects, last, Some(next.encode()))?;

        // The author of the head anchors it and makes the payouts, so that the validateers of a
        // shard do not all send the same extrinsics.
        let mine = self.authored_head(shard)?;
        let mut calls = Vec::new();
        let anchored = anchor.as_ref().map(|a| a.block_number).unwrap_or(0);
        if mine && head.head > anchored {
            calls.push(RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::confirm_imported_block {
                shard: *shard,
                block_number: head.head,
                block_hash: head.head_hash,
            }));
        }
        for payout in if mine { self.pending_payouts(shard)? } else { Vec::new() } {
            let due = pc.sent_payouts.get(&payout.call_hash).is_none_or(|at| last.0 >= at + RESEND_AFTER);
            if due {
                pc.sent_payouts.insert(payout.call_hash, last.0);
                calls.push(RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::unshield_funds {
                    shard: *shard,
                    beneficiary: payout.beneficiary,
                    amount: payout.amount,
                    call_hash: payout.call_hash,
                }));
            }
        }
        let extrinsics = self.sign_all(&next, calls, nonce);
        pc.client = Some(next);
        // Shielded calls go through the same checks as direct ones, some of which read the
        // parentchain state: not under its lock.
        drop(pc);
        let mut accepted = 0u32;
        for ciphertext in indirect {
            match self.submit_relayed(shard, &ciphertext) {
                Ok(_) => accepted += 1,
                Err(error) => tracing::info!(target: "enclave", %error, "a shielded call was refused"),
            }
        }
        Ok(SyncOutcome { synced: last, extrinsics, indirect_calls: accepted })
    }
}
