//! Genesis presets: the starting state of `--dev`, `--chain local` and generated consortium chains.
//!
//! A preset is a JSON patch of [`RuntimeGenesisConfig`], the format of Substrate's
//! `GenesisBuilder` API. The deploy generator builds its chain specs with [`consortium_genesis`].

use crate::*;
use alloc::{vec, vec::Vec};
use encointer_primitives::{balances::BalanceType, scheduler::CeremonyPhaseType};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_core::Pair;
use sp_genesis_builder::PresetId;
use sp_keyring::Sr25519Keyring;

/// Name of the preset behind `--dev`: Alice alone authors and finalizes.
pub const DEV_PRESET: &str = sp_genesis_builder::DEV_RUNTIME_PRESET;
/// Name of the preset behind `--chain local`: Alice and Bob.
pub const LOCAL_PRESET: &str = sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET;

/// What a consortium chain starts with.
#[derive(Clone, Debug)]
pub struct GenesisParams {
    /// Aura (sr25519) and GRANDPA (ed25519) key of each authority.
    pub authorities: Vec<(AuraId, GrandpaId)>,
    /// The sudo account, if the chain has one.
    pub sudo: Option<AccountId>,
    /// Accounts and their initial free balance.
    pub endowed: Vec<(AccountId, Balance)>,
    /// Durations of the ceremony phases Registering, Assigning, Attesting, in milliseconds.
    pub phase_durations_ms: [Moment; 3],
    /// The consortium's policy; `None`: an open chain.
    pub permissions: Option<PermissionsGenesis>,
    /// Whether the enclave registry accepts dev attestations (no hardware behind them): true
    /// only on development chains.
    pub allow_dev_attestation: bool,
}

/// The permissions a chain starts with.
#[derive(Clone, Debug, Default)]
pub struct PermissionsGenesis {
    /// Whether the chain is restricted (else open to everyone).
    pub restricted: bool,
    /// Accounts and their permission bits (`READ` 1, `TRANSACT` 2, `CREATE` 4, `ADMIN` 8).
    pub accounts: Vec<(AccountId, u8)>,
    /// Allowed p2p peer ids (libp2p `PeerId` bytes).
    pub allowed_peers: Vec<Vec<u8>>,
}

/// The JSON patch of a consortium chain's genesis.
pub fn consortium_genesis(params: &GenesisParams) -> serde_json::Value {
    let [registering, assigning, attesting] = params.phase_durations_ms;
    let config = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig { balances: params.endowed.clone(), ..Default::default() },
        aura: pallet_aura::GenesisConfig { authorities: params.authorities.iter().map(|(a, _)| a.clone()).collect() },
        grandpa: pallet_grandpa::GenesisConfig {
            authorities: params.authorities.iter().map(|(_, g)| (g.clone(), 1)).collect(),
            ..Default::default()
        },
        sudo: pallet_sudo::GenesisConfig { key: params.sudo.clone() },
        encointer_scheduler: pallet_encointer_scheduler::GenesisConfig {
            current_ceremony_index: 1,
            current_phase: CeremonyPhaseType::Registering,
            phase_durations: vec![
                (CeremonyPhaseType::Registering, registering),
                (CeremonyPhaseType::Assigning, assigning),
                (CeremonyPhaseType::Attesting, attesting),
            ],
            ..Default::default()
        },
        encointer_ceremonies: pallet_encointer_ceremonies::GenesisConfig {
            ceremony_reward: BalanceType::from_num(1),
            location_tolerance: 1_000,
            time_tolerance: 600_000,
            inactivity_timeout: 168_500,
            endorsement_tickets_per_bootstrapper: 5,
            endorsement_tickets_per_reputable: 5,
            reputation_lifetime: 337,
            meetup_time_offset: 0,
            ..Default::default()
        },
        encointer_communities: pallet_encointer_communities::GenesisConfig {
            min_solar_trip_time_s: 1,
            max_speed_mps: 83,
            ..Default::default()
        },
        permissions: match &params.permissions {
            Some(p) => pallet_cloister_permissions::GenesisConfig {
                restricted: p.restricted,
                accounts: p.accounts.clone(),
                allowed_peers: p.allowed_peers.iter().cloned().map(sp_core::Bytes).collect(),
            },
            None => Default::default(),
        },
        enclave_registry: pallet_cloister_enclave_registry::GenesisConfig {
            allow_dev_attestation: params.allow_dev_attestation,
            ..Default::default()
        },
        encointer_balances: pallet_encointer_balances::GenesisConfig {
            fee_conversion_factor: 100_000,
            ..Default::default()
        },
        ..Default::default()
    };
    // A RuntimeGenesisConfig always serializes.
    serde_json::to_value(config).unwrap_or_default()
}

/// The well-known development accounts, each endowed with a million units.
pub fn dev_endowed() -> Vec<(AccountId, Balance)> {
    Sr25519Keyring::iter().map(|k| (k.to_account_id(), 1_000_000 * UNIT)).collect()
}

/// The Aura and GRANDPA keys of a well-known development account such as `Alice`.
pub fn dev_authority(name: &str) -> Option<(AuraId, GrandpaId)> {
    let suri = alloc::format!("//{name}");
    let sr = sp_core::sr25519::Pair::from_string(&suri, None).ok()?;
    let ed = sp_core::ed25519::Pair::from_string(&suri, None).ok()?;
    Some((sr.public().into(), ed.public().into()))
}

fn keyring_genesis(names: &[&str]) -> serde_json::Value {
    consortium_genesis(&GenesisParams {
        authorities: names.iter().filter_map(|n| dev_authority(n)).collect(),
        sudo: Some(Sr25519Keyring::Alice.to_account_id()),
        endowed: dev_endowed(),
        // 20 minutes per phase, as the encointer dev node; demos advance with `next-phase`.
        phase_durations_ms: [20 * 60_000; 3],
        permissions: None,
        // Development chains: the software enclave attests with a dev report.
        allow_dev_attestation: true,
    })
}

/// The JSON patch of a named preset.
pub fn preset(id: &PresetId) -> Option<Vec<u8>> {
    let value = match id.as_ref() {
        DEV_PRESET => keyring_genesis(&["Alice"]),
        LOCAL_PRESET => keyring_genesis(&["Alice", "Bob"]),
        _ => return None,
    };
    serde_json::to_vec(&value).ok()
}

/// Names of the presets this runtime knows.
pub fn preset_names() -> Vec<PresetId> {
    vec![PresetId::from(DEV_PRESET), PresetId::from(LOCAL_PRESET)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Externalities holding the genesis state built from `patch`.
    fn built(patch: serde_json::Value) -> sp_io::TestExternalities {
        let mut ext = sp_io::TestExternalities::new(Default::default());
        ext.execute_with(|| build_genesis_state(serde_json::to_vec(&patch).expect("json")).expect("genesis builds"));
        ext
    }

    fn preset_json(name: &str) -> serde_json::Value {
        let bytes = preset(&PresetId::from(name)).expect("preset");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn development_presets_allow_dev_attestation() {
        for name in [DEV_PRESET, LOCAL_PRESET] {
            built(preset_json(name)).execute_with(|| {
                assert!(pallet_cloister_enclave_registry::AllowDevAttestation::<Runtime>::get(), "{name}");
            });
        }
    }

    #[test]
    fn consortium_chains_refuse_dev_attestation_unless_asked() {
        let params = GenesisParams {
            authorities: dev_authority("Alice").into_iter().collect(),
            sudo: None,
            endowed: dev_endowed(),
            phase_durations_ms: [60_000; 3],
            permissions: None,
            allow_dev_attestation: false,
        };
        built(consortium_genesis(&params)).execute_with(|| {
            assert!(!pallet_cloister_enclave_registry::AllowDevAttestation::<Runtime>::get());
        });
    }

    #[test]
    fn enclave_registration_needs_the_create_permission() {
        use frame_support::traits::Contains;
        let platform = <sp_core::ed25519::Pair as Pair>::from_seed(&[1; 32]);
        let report = cloister_attestation::DevReport::sign(&platform, Default::default(), [0; 64], 0);
        let register = RuntimeCall::EnclaveRegistry(pallet_cloister_enclave_registry::Call::register_enclave {
            attestation: cloister_attestation::Attestation::Dev(report),
            shielding_key: [0; 32],
            worker_url: vec![],
        });
        assert!(CreateCalls::contains(&register));
        let join = RuntimeCall::EnclaveRegistry(pallet_cloister_enclave_registry::Call::join_shard {
            shard: Default::default(),
        });
        assert!(!CreateCalls::contains(&join));
    }
}
