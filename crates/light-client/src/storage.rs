//! The runtime's storage keys the client reads, read-proof verification and the extrinsics root.
//!
//! Keys are FRAME's: `twox128(pallet) ++ twox128(item)` for values, followed by
//! `blake2_128(key) ++ key` for `Blake2_128Concat` maps such as `System::Account`. Proofs are
//! the raw trie nodes `state_getReadProof` returns; a value is proven present or absent by
//! walking the trie from the state root, so any missing or altered node fails the walk.

use crate::error::ProofError;
use cloister_primitives::{AccountId, Hash};
use codec::Encode;
use sp_core::storage::StateVersion;
use sp_runtime::traits::BlakeTwo256;
use sp_trie::{LayoutV0, LayoutV1, StorageProof, TrieConfiguration};

/// The state version of the extrinsics root. The runtime's `system_version` is 1, for which
/// FRAME builds the extrinsics root with state version 0 (`RuntimeVersion::
/// extrinsics_root_state_version`); the state trie itself uses version 1.
pub const EXTRINSICS_ROOT_STATE_VERSION: StateVersion = StateVersion::V0;

/// The key of a FRAME storage value `pallet::item`.
pub fn value_key(pallet: &str, item: &str) -> Vec<u8> {
    let mut key = sp_crypto_hashing::twox_128(pallet.as_bytes()).to_vec();
    key.extend_from_slice(&sp_crypto_hashing::twox_128(item.as_bytes()));
    key
}

/// The key of entry `key` of a FRAME `Blake2_128Concat` storage map `pallet::item`.
pub fn blake2_128_concat_key(pallet: &str, item: &str, key: &impl Encode) -> Vec<u8> {
    let encoded = key.encode();
    let mut full = value_key(pallet, item);
    full.extend_from_slice(&sp_crypto_hashing::blake2_128(&encoded));
    full.extend_from_slice(&encoded);
    full
}

/// `Aura::Authorities`: the Aura (sr25519) authority set.
pub fn aura_authorities_key() -> Vec<u8> {
    value_key("Aura", "Authorities")
}

/// `Grandpa::Authorities`: the GRANDPA (ed25519, weighted) authority set.
pub fn grandpa_authorities_key() -> Vec<u8> {
    value_key("Grandpa", "Authorities")
}

/// `Grandpa::CurrentSetId`: the id of the GRANDPA set (absent means 0).
pub fn grandpa_set_id_key() -> Vec<u8> {
    value_key("Grandpa", "CurrentSetId")
}

/// The runtime's `SlotDuration` storage parameter (milliseconds), written at genesis.
pub fn slot_duration_key() -> Vec<u8> {
    sp_crypto_hashing::twox_128(b":SlotDuration:").to_vec()
}

/// `System::Events`: the events of the block whose state it is.
pub fn system_events_key() -> Vec<u8> {
    value_key("System", "Events")
}

/// `System::Account(who)`: nonce and balances of an account.
pub fn system_account_key(who: &AccountId) -> Vec<u8> {
    blake2_128_concat_key("System", "Account", who)
}

/// The keys [`LightClient::from_genesis`](crate::LightClient::from_genesis) reads from the
/// genesis state: the host asks the node for a read proof of exactly these.
pub fn genesis_keys() -> Vec<Vec<u8>> {
    vec![aura_authorities_key(), grandpa_authorities_key(), grandpa_set_id_key(), slot_duration_key()]
}

/// Reads `keys` from the state with root `state_root` through the trie nodes of `proof`.
///
/// Each key comes back with its value, or `None` if the proof shows it absent. Extra nodes in
/// the proof are ignored; a missing or altered node on a key's path is an error.
pub fn read_proof(
    state_root: &Hash,
    proof: &[Vec<u8>],
    keys: &[Vec<u8>],
) -> Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, ProofError> {
    let db = StorageProof::new(proof.iter().cloned()).into_memory_db::<BlakeTwo256>();
    keys.iter()
        .map(|key| {
            // Reading with layout V1 also reads nodes written under V0: only hashing of new
            // values differs between the layouts.
            sp_trie::read_trie_value::<LayoutV1<BlakeTwo256>, _>(&db, state_root, key, None, None)
                .map(|value| (key.clone(), value))
                .map_err(|e| trie_error(state_root, key, *e))
        })
        .collect()
}

type TrieError = sp_trie::TrieError<LayoutV1<BlakeTwo256>>;

fn trie_error(root: &Hash, key: &[u8], error: TrieError) -> ProofError {
    match error {
        TrieError::InvalidStateRoot(_) => ProofError::WrongRoot { root: *root },
        TrieError::IncompleteDatabase(_) => ProofError::Incomplete { key: hex::encode(key) },
        other => ProofError::Malformed { key: hex::encode(key), reason: format!("{other:?}") },
    }
}

/// The root a header commits its extrinsics to: the ordered trie root of their SCALE encodings.
pub fn extrinsics_root(extrinsics: &[Vec<u8>], version: StateVersion) -> Hash {
    match version {
        StateVersion::V0 => LayoutV0::<BlakeTwo256>::ordered_trie_root(extrinsics),
        StateVersion::V1 => LayoutV1::<BlakeTwo256>::ordered_trie_root(extrinsics),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_frames_well_known_keys() {
        assert_eq!(
            hex::encode(aura_authorities_key()),
            "57f8dc2f5ab09467896f47300f0424385e0621c4869aa60c02be9adcc98a0d1d"
        );
        assert_eq!(
            hex::encode(system_events_key()),
            "26aa394eea5630e07c48ae0c9558cef780d41e5e16056765bc8461851072c9d7"
        );
        let alice = AccountId::new([1; 32]);
        let key = system_account_key(&alice);
        assert_eq!(key.len(), 32 + 16 + 32);
        assert!(key.ends_with(&[1; 32]));
    }

    #[test]
    fn extrinsics_root_of_nothing_is_the_empty_trie() {
        let empty = sp_trie::empty_trie_root::<LayoutV0<BlakeTwo256>>();
        assert_eq!(extrinsics_root(&[], EXTRINSICS_ROOT_STATE_VERSION), empty);
        assert_ne!(extrinsics_root(&[vec![4, 1]], EXTRINSICS_ROOT_STATE_VERSION), empty);
    }
}
