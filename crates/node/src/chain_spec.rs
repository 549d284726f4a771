//! Chain specifications: which chain a node runs and how its genesis state is built.
//!
//! A chain spec is JSON in Substrate's shape (`name`, `id`, `chainType`, `bootNodes`,
//! `properties`, `genesis.runtimeGenesis.patch`) plus Cloister's consensus settings. `--dev` and
//! `--chain local` are built in from the runtime's genesis presets; `--chain PATH` reads a file
//! written by `cloister deploy` or by hand.

use cloister_primitives::{Hash, Hashing, Header, SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL};
use serde::{Deserialize, Serialize};
use sp_runtime::{
    traits::{Hash as _, Header as _},
    StateVersion, Storage,
};
use std::path::{Path, PathBuf};

/// Slot duration of `--dev` and `--chain local`.
pub const DEV_SLOT_DURATION_MS: u64 = 1_000;

/// Errors reading or using a chain spec.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file does not exist or cannot be read.
    #[error("cannot read chain spec {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid chain spec.
    #[error("chain spec {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The runtime rejected the genesis configuration.
    #[error("genesis of chain '{id}' cannot be built: {reason}")]
    Genesis {
        /// The chain id.
        id: String,
        /// The runtime's reason.
        reason: String,
    },
}

/// The type of a chain, as `system_chainType` reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ChainType {
    /// A single-node development chain.
    Development,
    /// A local test network.
    Local,
    /// A consortium's production chain.
    Live,
    /// Anything else.
    Custom(String),
}

/// Consensus settings of a chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsensusSpec {
    /// Milliseconds per Aura slot.
    pub slot_duration_ms: u64,
}

/// How genesis is built: a JSON patch of the runtime's genesis config.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisSpec {
    /// The runtime genesis.
    pub runtime_genesis: RuntimeGenesisSpec,
}

/// A patch of `RuntimeGenesisConfig`, applied to its defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuntimeGenesisSpec {
    /// The patch.
    pub patch: serde_json::Value,
}

/// A chain specification.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChainSpec {
    /// Human name of the chain.
    pub name: String,
    /// Machine id of the chain (directory name under the base path).
    pub id: String,
    /// Development, Local, Live or custom.
    pub chain_type: ChainType,
    /// Multiaddresses of the chain's boot nodes.
    #[serde(default)]
    pub boot_nodes: Vec<String>,
    /// Token properties for wallets (`ss58Format`, `tokenDecimals`, `tokenSymbol`).
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Consensus settings.
    pub consensus: ConsensusSpec,
    /// Genesis state.
    pub genesis: GenesisSpec,
}

fn default_properties() -> serde_json::Map<String, serde_json::Value> {
    let mut p = serde_json::Map::new();
    p.insert("ss58Format".into(), SS58_PREFIX.into());
    p.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
    p.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
    p
}

impl ChainSpec {
    fn from_preset(name: &str, id: &str, chain_type: ChainType, preset: &str) -> Self {
        let patch = cloister_runtime::genesis_preset(preset)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(serde_json::Value::Null);
        Self {
            name: name.into(),
            id: id.into(),
            chain_type,
            boot_nodes: Vec::new(),
            properties: default_properties(),
            consensus: ConsensusSpec { slot_duration_ms: DEV_SLOT_DURATION_MS },
            genesis: GenesisSpec { runtime_genesis: RuntimeGenesisSpec { patch } },
        }
    }

    /// The `--dev` chain: Alice authors and finalizes alone, well-known accounts are endowed.
    pub fn dev() -> Self {
        Self::from_preset("Development", "dev", ChainType::Development, cloister_runtime::genesis::DEV_PRESET)
    }

    /// The `--dev` chain with other durations of the ceremony phases Registering, Assigning and
    /// Attesting (milliseconds): long ones keep the scheduler's wall-clock grid away from a demo
    /// that moves the phases itself with `next-phase`.
    pub fn dev_with_phase_durations(phase_durations_ms: [u64; 3]) -> Self {
        let mut spec = Self::dev();
        let [registering, assigning, attesting] = phase_durations_ms;
        if let Some(scheduler) = spec.genesis.runtime_genesis.patch.get_mut("encointerScheduler") {
            scheduler["phaseDurations"] =
                serde_json::json!([["Registering", registering], ["Assigning", assigning], ["Attesting", attesting]]);
        }
        spec
    }

    /// The `--chain local` chain: Alice and Bob are authorities.
    pub fn local() -> Self {
        Self::from_preset("Local Testnet", "local_testnet", ChainType::Local, cloister_runtime::genesis::LOCAL_PRESET)
    }

    /// A consortium chain spec made by the deploy generator.
    pub fn consortium(name: &str, id: &str, slot_duration_ms: u64, patch: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            id: id.into(),
            chain_type: ChainType::Live,
            boot_nodes: Vec::new(),
            properties: default_properties(),
            consensus: ConsensusSpec { slot_duration_ms },
            genesis: GenesisSpec { runtime_genesis: RuntimeGenesisSpec { patch } },
        }
    }

    /// Reads a chain spec from a JSON file.
    pub fn from_file(path: &Path) -> Result<Self, ChainSpecError> {
        let bytes = std::fs::read(path).map_err(|source| ChainSpecError::Read { path: path.into(), source })?;
        let spec: Self = serde_json::from_slice(&bytes)
            .map_err(|e| ChainSpecError::Invalid { path: path.into(), reason: e.to_string() })?;
        if spec.consensus.slot_duration_ms == 0 {
            return Err(ChainSpecError::Invalid {
                path: path.into(),
                reason: "slotDurationMs must be positive".into(),
            });
        }
        Ok(spec)
    }

    /// Resolves `--chain`: `dev`, `local`, or a path to a JSON file.
    pub fn load(chain: &str) -> Result<Self, ChainSpecError> {
        match chain {
            "dev" | "development" => Ok(Self::dev()),
            "local" | "local_testnet" => Ok(Self::local()),
            path => Self::from_file(Path::new(path)),
        }
    }

    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Builds the genesis storage by running the runtime's genesis builder natively.
    pub fn genesis_storage(&self) -> Result<Storage, ChainSpecError> {
        let genesis_error = |reason: String| ChainSpecError::Genesis { id: self.id.clone(), reason };
        let patch =
            serde_json::to_vec(&self.genesis.runtime_genesis.patch).map_err(|e| genesis_error(e.to_string()))?;
        let mut ext = sp_state_machine::BasicExternalities::new_empty();
        let slot = self.consensus.slot_duration_ms;
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ext.execute_with(|| {
                cloister_runtime::build_genesis_state(patch)?;
                cloister_runtime::SlotDuration::set(&slot);
                Ok::<(), String>(())
            })
        }));
        match built {
            Ok(Ok(())) => Ok(ext.into_storages()),
            Ok(Err(reason)) => Err(genesis_error(reason)),
            Err(_) => Err(genesis_error("the runtime panicked while building genesis".into())),
        }
    }
}

/// The genesis header for a genesis state root.
pub fn genesis_header(state_root: Hash) -> Header {
    let extrinsics_root = Hashing::ordered_trie_root(Vec::new(), StateVersion::V1);
    Header::new(0, extrinsics_root, state_root, Hash::zero(), Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_spec_builds_genesis_with_its_slot_duration() {
        let spec = ChainSpec::dev();
        let storage = spec.genesis_storage().expect("dev genesis builds");
        let key = cloister_runtime::SlotDuration::key();
        let value = storage.top.get(&key[..]).expect("slot duration stored");
        assert_eq!(<u64 as codec::Decode>::decode(&mut &value[..]).expect("u64"), DEV_SLOT_DURATION_MS);
        assert!(storage.top.len() > 10);
    }

    #[test]
    fn dev_spec_with_phase_durations_starts_with_them() {
        let day = cloister_runtime::MOMENTS_PER_DAY;
        let storage = ChainSpec::dev_with_phase_durations([day, 2 * day, 3 * day]).genesis_storage().expect("builds");
        // `EncointerScheduler::PhaseDurations`, keyed by the SCALE index of the phase
        // (Registering 0, Assigning 1, Attesting 2) through Blake2_128Concat.
        for (phase, want) in [(0u8, day), (1, 2 * day), (2, 3 * day)] {
            let mut key = sp_crypto_hashing::twox_128(b"EncointerScheduler").to_vec();
            key.extend(sp_crypto_hashing::twox_128(b"PhaseDurations"));
            key.extend(sp_crypto_hashing::blake2_128(&[phase]));
            key.push(phase);
            let value = storage.top.get(&key).unwrap_or_else(|| panic!("phase {phase} has a duration"));
            assert_eq!(<u64 as codec::Decode>::decode(&mut &value[..]).expect("u64"), want, "phase {phase}");
        }
    }

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ChainSpec::local();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("local.json");
        std::fs::write(&path, spec.to_json()).expect("write");
        assert_eq!(ChainSpec::from_file(&path).expect("reads"), spec);
    }

    #[test]
    fn missing_and_corrupt_specs_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.json");
        assert!(matches!(ChainSpec::load(missing.to_str().expect("utf8")), Err(ChainSpecError::Read { .. })));
        let corrupt = dir.path().join("bad.json");
        std::fs::write(&corrupt, b"{\"name\": 3").expect("write");
        let err = ChainSpec::from_file(&corrupt).expect_err("corrupt");
        assert!(matches!(err, ChainSpecError::Invalid { .. }), "{err}");
    }

    #[test]
    fn genesis_rejects_a_bad_patch() {
        let mut spec = ChainSpec::dev();
        spec.genesis.runtime_genesis.patch = serde_json::json!({"balances": {"balances": "not a list"}});
        assert!(matches!(spec.genesis_storage(), Err(ChainSpecError::Genesis { .. })));
    }
}
