//! A local consortium for tests: one `cloister-node` process per authority (well-known
//! development keys such as `//Alice`) on a chain spec written for the test, every node knowing
//! the others as boot nodes, each with its own p2p key, ports and data directory.

use crate::{free_port, netns::Placement, NodeOptions, NodeProcess};
use anyhow::{anyhow, Context};
use cloister_node::chain_spec::ChainSpec;
pub use cloister_runtime::genesis::PermissionsGenesis;
use cloister_runtime::genesis::{consortium_genesis, dev_authority, dev_endowed, GenesisParams};
use std::path::{Path, PathBuf};

/// Writes a chain spec whose authorities are the named development keys (`Alice`, `Bob`, …).
pub fn write_chain_spec(dir: &Path, authorities: &[&str], slot_ms: u64) -> anyhow::Result<PathBuf> {
    write_chain_spec_with(dir, authorities, slot_ms, None)
}

/// Like [`write_chain_spec`], with a permissions policy at genesis.
pub fn write_chain_spec_with(
    dir: &Path,
    authorities: &[&str],
    slot_ms: u64,
    permissions: Option<PermissionsGenesis>,
) -> anyhow::Result<PathBuf> {
    let params = GenesisParams {
        authorities: authorities
            .iter()
            .map(|name| dev_authority(name).ok_or_else(|| anyhow!("unknown development key {name}")))
            .collect::<anyhow::Result<_>>()?,
        sudo: Some(sp_keyring::Sr25519Keyring::Alice.to_account_id()),
        endowed: dev_endowed(),
        phase_durations_ms: [20 * 60_000; 3],
        permissions,
        // Test chains of development keys: software enclaves attest with dev reports.
        allow_dev_attestation: true,
    };
    let spec = ChainSpec::consortium("Test Consortium", "test_consortium", slot_ms, consortium_genesis(&params));
    let path = dir.join("chain-spec.json");
    std::fs::write(&path, spec.to_json()).context("writing the chain spec")?;
    Ok(path)
}

/// A running local consortium.
pub struct Consortium {
    /// The nodes, in the order they were started.
    pub nodes: Vec<NodeProcess>,
    /// The chain spec file.
    pub spec: PathBuf,
    /// Each node's `/ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID`.
    pub addrs: Vec<String>,
    /// The account (secret URI) the test's RPC connections authenticate as, on a restricted
    /// chain.
    pub auth: Option<String>,
    dir: tempfile::TempDir,
}

impl Consortium {
    /// Starts one authority node per development key name, all on one chain with `slot_ms` slots.
    pub async fn start(authorities: &[&str], slot_ms: u64) -> anyhow::Result<Self> {
        Self::start_placed(authorities, slot_ms, &vec![None; authorities.len()]).await
    }

    /// Like [`Consortium::start`], with node `i` run in network namespace `placements[i]`.
    pub async fn start_placed(
        authorities: &[&str],
        slot_ms: u64,
        placements: &[Option<Placement>],
    ) -> anyhow::Result<Self> {
        Self::start_with(authorities, slot_ms, placements, |_| None).await
    }

    /// Like [`Consortium::start_placed`], with a permissions policy made from the nodes' peer ids
    /// (libp2p `PeerId` bytes, in node order).
    pub async fn start_with(
        authorities: &[&str],
        slot_ms: u64,
        placements: &[Option<Placement>],
        permissions: impl FnOnce(&[Vec<u8>]) -> Option<PermissionsGenesis>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("cloister-consortium").tempdir()?;
        let mut consortium = Self { nodes: Vec::new(), spec: PathBuf::new(), addrs: Vec::new(), auth: None, dir };
        let policy = permissions;
        // Every node's identity and port first, so that each knows all the others at start.
        let mut planned = Vec::new();
        for (i, name) in authorities.iter().enumerate() {
            let place = placements.get(i).cloned().flatten();
            planned.push((Some(format!("//{name}")), consortium.new_identity(place.as_ref())?, place));
        }
        let peers = consortium.peer_ids()?;
        let policy = policy(&peers);
        if policy.as_ref().is_some_and(|p| p.restricted) {
            consortium.auth = Some("//Alice".into());
        }
        consortium.spec = write_chain_spec_with(consortium.dir.path(), authorities, slot_ms, policy)?;
        for (key, (key_file, port), place) in planned {
            consortium.spawn(key.as_deref(), key_file, port, Vec::new(), place).await?;
        }
        Ok(consortium)
    }

    /// Starts one more node, with a development authority key or none (a follower), after the
    /// others; `extra` flags are passed on. Returns its index.
    pub async fn add_node(&mut self, dev_key: Option<&str>, extra: Vec<String>) -> anyhow::Result<usize> {
        let (key_file, port) = self.new_identity(None)?;
        self.spawn(dev_key, key_file, port, extra, None).await?;
        Ok(self.nodes.len() - 1)
    }

    /// The peer ids of the nodes (started or planned), as libp2p `PeerId` bytes.
    pub fn peer_ids(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        self.addrs
            .iter()
            .map(|a| {
                let id = a.rsplit('/').next().unwrap_or_default();
                Ok(id.parse::<cloister_network::PeerId>().map_err(|e| anyhow!("peer id {id}: {e}"))?.to_bytes())
            })
            .collect()
    }

    fn new_identity(&mut self, place: Option<&Placement>) -> anyhow::Result<(PathBuf, u16)> {
        let index = self.addrs.len();
        let key_file = self.dir.path().join(format!("node-{index}.key"));
        let keypair = cloister_network::generate_node_key(&key_file)?;
        let port = free_port();
        let host = place.map(|p| p.ip.as_str()).unwrap_or("127.0.0.1");
        self.addrs.push(format!("/ip4/{host}/tcp/{port}/p2p/{}", cloister_network::peer_id(&keypair)));
        Ok((key_file, port))
    }

    async fn spawn(
        &mut self,
        dev_key: Option<&str>,
        key_file: PathBuf,
        port: u16,
        extra: Vec<String>,
        place: Option<Placement>,
    ) -> anyhow::Result<()> {
        let index = self.nodes.len();
        let mut flags = vec![
            "--name".to_string(),
            format!("node-{index}"),
            "--node-key-file".into(),
            key_file.to_string_lossy().into_owned(),
        ];
        if let Some(key) = dev_key {
            flags.extend(["--dev-key".to_string(), key.to_string()]);
        }
        let others: Vec<String> =
            self.addrs.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, a)| a.clone()).collect();
        if !others.is_empty() {
            flags.push("--bootnodes".into());
            flags.extend(others);
        }
        flags.extend(extra);
        let options = NodeOptions {
            chain: Some(self.spec.to_string_lossy().into_owned()),
            extra: flags,
            p2p_port: Some(port),
            netns: place,
            auth: self.auth.clone(),
        };
        self.nodes.push(NodeProcess::start(options).await?);
        Ok(())
    }

    /// The logs of every node, for a failing test to show.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("===== node-{i} =====\n{}", n.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
