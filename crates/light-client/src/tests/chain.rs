//! A synthetic parentchain for the light client's tests: real Aura seals (generated sr25519
//! keys), real GRANDPA justifications (generated ed25519 keys), real state tries and proofs.

use crate::{storage, BlockData, LightClient};
use cloister_consensus::{aura, grandpa};
use cloister_primitives::{Hash, Header};
use codec::Encode;
use sp_consensus_aura::{sr25519::AuthorityPair as AuraPair, ConsensusLog as AuraLog, AURA_ENGINE_ID};
use sp_consensus_grandpa::{
    AuthorityList, AuthorityPair as GrandpaPair, ConsensusLog as GrandpaLog, ScheduledChange, GRANDPA_ENGINE_ID,
};
use sp_core::Pair;
use sp_runtime::{
    traits::{BlakeTwo256, Header as _},
    Digest, DigestItem,
};
use sp_trie::{LayoutV1, Trie, TrieMut};

/// An authority's two keys.
#[derive(Clone)]
pub struct Authority {
    pub aura: AuraPair,
    pub grandpa: GrandpaPair,
}

/// Keys generated from a seed byte (so tests are reproducible).
pub fn authority(seed: u8) -> Authority {
    Authority { aura: AuraPair::from_seed(&[seed; 32]), grandpa: GrandpaPair::from_seed(&[seed; 32]) }
}

pub fn authorities(seeds: &[u8]) -> Vec<Authority> {
    seeds.iter().map(|s| authority(*s)).collect()
}

fn grandpa_list(set: &[Authority]) -> AuthorityList {
    set.iter().map(|a| (a.grandpa.public(), 1)).collect()
}

/// A state trie holding `entries`, and a read proof of `proven` keys in it (only the nodes on
/// their paths, as `state_getReadProof` returns).
pub fn state(entries: &[(Vec<u8>, Vec<u8>)], proven: &[Vec<u8>]) -> (Hash, Vec<Vec<u8>>) {
    let mut db = sp_trie::MemoryDB::<BlakeTwo256>::default();
    let mut root = Hash::default();
    {
        let mut trie = sp_trie::trie_types::TrieDBMutBuilderV1::<BlakeTwo256>::new(&mut db, &mut root).build();
        for (key, value) in entries {
            trie.insert(key, value).expect("insert");
        }
    }
    let mut recorder = sp_trie::Recorder::<LayoutV1<BlakeTwo256>>::new();
    {
        let trie =
            sp_trie::trie_types::TrieDBBuilder::<BlakeTwo256>::new(&db, &root).with_recorder(&mut recorder).build();
        for key in proven {
            trie.get(key).expect("read");
        }
    }
    // The recorder notes a node once per read; a proof holds each node once.
    let nodes: std::collections::BTreeSet<Vec<u8>> = recorder.drain().into_iter().map(|record| record.data).collect();
    (root, nodes.into_iter().collect())
}

/// What goes into the next block besides the usual.
#[derive(Default)]
pub struct BlockSpec {
    /// Seal with this key instead of the slot's author.
    pub sealer: Option<AuraPair>,
    /// Extra digest items (authority changes).
    pub logs: Vec<DigestItem>,
    /// Skip this many slots before the block's slot.
    pub skip_slots: u64,
}

/// A chain under construction, with the sets that rule its next block.
pub struct TestChain {
    pub aura: Vec<Authority>,
    pub voters: Vec<Authority>,
    pub set_id: u64,
    pub genesis: Header,
    pub genesis_proof: Vec<Vec<u8>>,
    pub head: Header,
    pub slot: u64,
    pub round: u64,
}

impl TestChain {
    /// A chain whose genesis names `set` as both Aura and GRANDPA authorities.
    pub fn new(set: Vec<Authority>) -> Self {
        let aura_ids: Vec<_> = set.iter().map(|a| a.aura.public()).collect();
        let entries = vec![
            (storage::aura_authorities_key(), aura_ids.encode()),
            (storage::grandpa_authorities_key(), grandpa_list(&set).encode()),
            (storage::grandpa_set_id_key(), 0u64.encode()),
            (storage::slot_duration_key(), 1000u64.encode()),
            (storage::value_key("System", "Number"), 0u32.encode()),
        ];
        let (state_root, genesis_proof) = state(&entries, &storage::genesis_keys());
        let genesis = Header::new(
            0,
            storage::extrinsics_root(&[], storage::EXTRINSICS_ROOT_STATE_VERSION),
            state_root,
            Hash::zero(),
            Digest::default(),
        );
        Self {
            aura: set.clone(),
            voters: set,
            set_id: 0,
            head: genesis.clone(),
            genesis,
            genesis_proof,
            slot: 1_000,
            round: 0,
        }
    }

    /// The light client started from this chain's genesis.
    pub fn client(&self) -> LightClient {
        LightClient::from_genesis(self.genesis.clone(), self.genesis_proof.clone()).expect("genesis verifies")
    }

    /// The next block with `spec`, unjustified.
    pub fn block_with(&mut self, spec: BlockSpec) -> BlockData {
        self.slot += 1 + spec.skip_slots;
        let number = self.head.number() + 1;
        let extrinsics: Vec<Vec<u8>> =
            (0..number % 3 + 1).map(|i| (b"remark".to_vec(), number, i).encode().encode()).collect();
        let events = (number, b"a long enough event record to be stored as a value node".to_vec()).encode();
        let entries = vec![
            (storage::system_events_key(), events),
            (storage::value_key("System", "Number"), number.encode()),
            (storage::value_key("System", "ParentHash"), self.head.hash().encode()),
        ];
        let (state_root, events_proof) = state(&entries, &[storage::system_events_key()]);
        let mut digest = Digest::default();
        digest.push(aura::pre_digest(aura::Slot::from(self.slot)));
        for log in spec.logs {
            digest.push(log);
        }
        let header = Header::new(
            number,
            storage::extrinsics_root(&extrinsics, storage::EXTRINSICS_ROOT_STATE_VERSION),
            state_root,
            self.head.hash(),
            digest,
        );
        let sealer = spec.sealer.unwrap_or_else(|| self.author(self.slot).aura);
        let header = aura::seal(header, &sealer);
        self.head = header.clone();
        BlockData { header, extrinsics, justification: None, events_proof }
    }

    /// The next block, unjustified.
    pub fn block(&mut self) -> BlockData {
        self.block_with(BlockSpec::default())
    }

    /// `n` blocks, the last one justified by the current voters.
    pub fn run(&mut self, n: usize) -> Vec<BlockData> {
        let mut run: Vec<_> = (0..n).map(|_| self.block()).collect();
        if let Some(last) = run.last_mut() {
            self.justify(last);
        }
        run
    }

    /// The author of `slot` in the current Aura set.
    pub fn author(&self, slot: u64) -> Authority {
        self.aura[(slot % self.aura.len() as u64) as usize].clone()
    }

    /// A justification of `block` by `signers` for set `set_id`.
    pub fn justification_by(&mut self, block: &BlockData, signers: &[Authority], set_id: u64) -> Vec<u8> {
        self.round += 1;
        let hash = block.header.hash();
        let number = *block.header.number();
        let precommits =
            signers.iter().map(|a| grandpa::sign_precommit(&a.grandpa, self.round, set_id, hash, number)).collect();
        grandpa::justification_for(&block.header, self.round, precommits).encode()
    }

    /// Justifies `block` by all current voters.
    pub fn justify(&mut self, block: &mut BlockData) {
        let voters = self.voters.clone();
        block.justification = Some(self.justification_by(block, &voters, self.set_id));
    }

    /// A block that hands both sets to `next`, justified by the current voters (as the
    /// Authorities pallet does: Aura change digest plus a GRANDPA change with delay 0).
    pub fn change_block(&mut self, next: Vec<Authority>) -> BlockData {
        let mut block = self.block_with(BlockSpec { logs: change_logs(&next, 0), ..Default::default() });
        self.justify(&mut block);
        self.aura = next.clone();
        self.voters = next;
        self.set_id += 1;
        block
    }
}

/// The digest items the runtime deposits when it enacts `next` with GRANDPA delay `delay`.
pub fn change_logs(next: &[Authority], delay: u32) -> Vec<DigestItem> {
    let aura_ids = next.iter().map(|a| a.aura.public()).collect();
    vec![
        DigestItem::Consensus(AURA_ENGINE_ID, AuraLog::AuthoritiesChange(aura_ids).encode()),
        DigestItem::Consensus(
            GRANDPA_ENGINE_ID,
            GrandpaLog::<u32>::ScheduledChange(ScheduledChange { next_authorities: grandpa_list(next), delay })
                .encode(),
        ),
    ]
}
