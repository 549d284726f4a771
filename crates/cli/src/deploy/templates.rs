//! The text files of a bundle written for people: the compose file, the systemd units, the
//! operators' README and the header of each `node.toml`.

use super::{Bundle, BundleNode, NODE_BINARY};
use std::fmt::Write;

/// The comment at the top of a `node.toml`.
pub fn node_toml_header(bundle: &Bundle, node: &BundleNode) -> String {
    format!(
        "# {name}: authority node {index} of the {chain} consortium chain, written by `cloister deploy`.\n\
         # Start it with `cloister-node --config node.toml` (paths are relative to this file).\n\
         # It listens for peers on all interfaces at `port`; add `listen-addr = [\"/ip4/A.B.C.D/tcp/{port}\"]`\n\
         # to use one interface only. The boot nodes are the other authorities.\n\n",
        name = node.name,
        index = node.index,
        chain = bundle.name,
        port = node.p2p_port,
    )
}

/// `docker-compose.yml`: one service per node.
pub fn compose(bundle: &Bundle) -> String {
    let mut out = format!(
        "# The {name} consortium chain: one service per authority node, written by `cloister deploy`.\n\
         #\n\
         # The image is built from the Cloister source tree (its Dockerfile) with\n\
         #     docker build -t cloister/node:latest .\n\
         # All nodes on this machine:          docker compose up -d\n\
         # Only your organisation's node:      docker compose up -d node-K\n\
         #\n\
         # Each container sees only its own node directory and the chain spec, read-only; only the\n\
         # node's data directory is writable. The containers use the host's network because the peer\n\
         # addresses in chain-spec.json and node.toml are host addresses and metrics listen on\n\
         # 127.0.0.1 only. The secret files are mode 0600: run the containers as the user owning the\n\
         # bundle (CLOISTER_UID and CLOISTER_GID, default 1000:1000).\n\
         name: cloister-{name}\n\
         services:\n",
        name = bundle.name
    );
    for node in &bundle.nodes {
        let dir = node.dir.display();
        let _ = write!(
            out,
            "  node-{index}:\n\
             \x20   image: cloister/node:latest\n\
             \x20   container_name: {node_name}\n\
             \x20   entrypoint: [\"cloister-node\"]\n\
             \x20   command: [\"--config\", \"/bundle/{dir}/node.toml\"]\n\
             \x20   user: \"${{CLOISTER_UID:-1000}}:${{CLOISTER_GID:-1000}}\"\n\
             \x20   network_mode: host\n\
             \x20   restart: unless-stopped\n\
             \x20   stop_grace_period: 60s\n\
             \x20   read_only: true\n\
             \x20   tmpfs: [/tmp]\n\
             \x20   cap_drop: [ALL]\n\
             \x20   security_opt: [\"no-new-privileges:true\"]\n\
             \x20   volumes:\n\
             \x20     - ./chain-spec.json:/bundle/chain-spec.json:ro\n\
             \x20     - ./{dir}:/bundle/{dir}:ro\n\
             \x20     - ./{dir}/data:/bundle/{dir}/data\n",
            index = node.index,
            node_name = node.name,
        );
    }
    out
}

/// The systemd unit of `node`, hardened: the node may write its data directory and nothing else.
pub fn systemd_unit(bundle: &Bundle, node: &BundleNode) -> String {
    let dir = bundle.install_dir.join(&node.dir);
    format!(
        "# {unit}.service: authority node {index} of the {chain} consortium chain, written by `cloister deploy`.\n\
         # Expects the bundle (at least chain-spec.json and {rel}) in {install}, owned by the user\n\
         # cloister, and the node binary at {bin}. Install and start:\n\
         #     cp {unit}.service /etc/systemd/system/ && systemctl daemon-reload\n\
         #     systemctl enable --now {unit}\n\
         [Unit]\n\
         Description=Cloister node {name} ({chain} consortium chain)\n\
         Documentation=file://{install}/README.md\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         User=cloister\n\
         Group=cloister\n\
         ExecStart={bin} --config {config}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStopSec=60\n\
         LimitNOFILE=65536\n\
         UMask=0077\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ReadWritePaths={data}\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n\
         RestrictNamespaces=yes\n\
         RestrictRealtime=yes\n\
         RestrictSUIDSGID=yes\n\
         LockPersonality=yes\n\
         MemoryDenyWriteExecute=yes\n\
         SystemCallArchitectures=native\n\
         SystemCallFilter=@system-service\n\
         CapabilityBoundingSet=\n\
         AmbientCapabilities=\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        unit = node.unit(),
        index = node.index,
        chain = bundle.name,
        name = node.name,
        rel = node.dir.display(),
        install = bundle.install_dir.display(),
        bin = NODE_BINARY,
        config = dir.join("node.toml").display(),
        data = dir.join("data").display(),
    )
}

/// `README.md` for the operators.
pub fn readme(bundle: &Bundle) -> String {
    let name = &bundle.name;
    let install = bundle.install_dir.display();
    let mut table =
        String::from("| node | directory | host | p2p | RPC | metrics | peer id |\n|---|---|---|---|---|---|---|\n");
    for n in &bundle.nodes {
        let _ = writeln!(
            table,
            "| {} | `{}` | {} | {} | {} | {} | `{}` |",
            n.name,
            n.dir.display(),
            n.host,
            n.p2p_port,
            n.rpc_port,
            n.prometheus_port,
            n.peer_id
        );
    }
    let sudo = match &bundle.sudo_secret {
        Some(_) => format!(
            "The sudo account is `{}`. Its secret seed is in `sudo.secret`, the only copy: **move it \
             offline now** (an encrypted USB key in a safe, or your organisation's secrets manager), \
             delete it from every server, and use it only to change the chain's configuration \
             (`cloister next-phase --sudo \"$(cat sudo.secret)\"`, permission changes).",
            bundle.sudo
        ),
        None => {
            format!("The sudo account is `{}`, given with `--sudo`; its secret is not in this bundle.", bundle.sudo)
        }
    };
    let permissioned = if bundle.permissioned {
        "The chain starts **permissioned**: only the sudo account holds permissions (READ, TRANSACT, \
         CREATE, ADMIN) and only these nodes' peer ids may connect. Grant other accounts permissions \
         with the sudo key once the chain runs.\n"
    } else {
        "The chain starts open: any account may read and transact, any peer may connect.\n"
    };
    let units: String = bundle.nodes.iter().map(|n| format!("`systemd/{}.service`, ", n.unit())).collect();
    format!(
        r#"# The {name} consortium chain

Written by `cloister deploy`: {count} authority nodes, {slot} ms slots, chain id `{id}`.
Each node authors blocks (Aura, sr25519) and votes on finality (GRANDPA, ed25519).
{permissioned}
{table}
## What is here

| file | what it is | secret? |
|---|---|---|
| `chain-spec.json` | the chain: authorities, endowed accounts, sudo, slot duration, boot nodes | no, identical for every node |
| `bootnodes.txt` | every node's address, one per line | no |
| `nodes/node-K/node.toml` | the node's configuration for `cloister-node --config`; paths are relative to it | no |
| `nodes/node-K/p2p.key` | the node's network identity (ed25519); its peer id is in the table above | **yes** (0600) |
| `nodes/node-K/keystore.json` | the node's authority keys, encrypted with its password | **yes** (0600) |
| `nodes/node-K/password` | the password of `keystore.json` | **yes** (0600) |
| `nodes/node-K/data/` | the node's database, filled once it runs | no, but private |
| `docker-compose.yml` | one service per node | no |
| {units}| hardened systemd units, expecting the bundle in `{install}` | no |
| `sudo.secret` | seed of the generated sudo key, if one was generated | **yes** (0600): take it offline |

Whoever holds a node's `keystore.json` and `password` can sign blocks and votes in that
authority's name; whoever holds `p2p.key` can impersonate the node to its peers. Keep them
readable by the node's user only (they are written with mode 0600, their directories 0700).

## Who gets what

Each organisation runs one node. Give organisation K, over a channel you trust:

- `nodes/node-K/` (the whole directory, secrets included, e.g. `tar` + `age`/`gpg` encrypted to
  the organisation's key), and
- `chain-spec.json` (public), placed two levels above the node directory, as `node.toml` expects
  (`../../chain-spec.json`), plus, if they use them, `systemd/cloister-{name}-node-K.service` or
  `docker-compose.yml`.

Then delete the other organisations' node directories from your machine. Nobody should keep
keys that are not their own.

{sudo}

## Starting the nodes

Every node must reach the others' p2p ports (see the table; open them in the firewall to the
other authorities only). RPC and metrics listen on 127.0.0.1.

**systemd** (one node per server):

```sh
sudo useradd --system --home {install} --shell /usr/sbin/nologin cloister
sudo mkdir -p {install} && sudo cp -r chain-spec.json nodes/node-K {install}/   # keep the layout
sudo chown -R cloister:cloister {install}
sudo install -m 0755 cloister-node {bin}
sudo cp systemd/cloister-{name}-node-K.service /etc/systemd/system/
sudo systemctl daemon-reload && sudo systemctl enable --now cloister-{name}-node-K
journalctl -u cloister-{name}-node-K -f
```

**docker compose**: build the image (`docker build -t cloister/node:latest .` in the Cloister
source tree), then `docker compose up -d node-K` here (or `docker compose up -d` for all nodes on
one machine). Run it as the user owning these files (`CLOISTER_UID`, `CLOISTER_GID`).

**One machine, for a trial**: `cloister network up .` starts every node as a background process
on 127.0.0.1 (logs in `nodes/node-K/node.log`), `cloister network status . --json` shows their
heights, `cloister network down .` stops them.

**By hand**: `cloister-node --config nodes/node-K/node.toml`.

Check a node: `cloister --node-url ws://127.0.0.1:RPC_PORT balance {sudo_account}`.

## Rotating a keystore password

```sh
cloister network rotate-password nodes/node-K
```

generates a new random password, re-encrypts the same keys in `keystore.json` with it and
replaces `password` (the node reads both at start, so restart it afterwards; a running node is
not disturbed). Should it be interrupted, `password.new` holds the password of the new
`keystore.json`. The password only protects the keystore at rest: the authority keys stay the
same and the chain needs no change.

To keep the password out of the node directory, store it in your secrets manager (Vault,
systemd credentials with `LoadCredentialEncrypted=`, Kubernetes secrets, a TPM), have it written
just before start to a file on a tmpfs readable only by the node's user, and point
`password-file` in `node.toml` at that file.
"#,
        count = bundle.nodes.len(),
        slot = bundle.slot_ms,
        id = bundle.chain_id,
        bin = NODE_BINARY,
        sudo_account = bundle.sudo,
    )
}
