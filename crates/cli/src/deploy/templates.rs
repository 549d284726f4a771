//! The text files of a bundle written for people: the compose file, the systemd units, the
//! operators' README and the headers of each `node.toml` and `validateer.toml`.

use super::{
    validateers::{BundleValidateer, DATA_DIR, WORKER_BINARY},
    Bundle, BundleNode, NODE_BINARY, VALIDATEER_ENDOWMENT,
};
use cloister_primitives::UNIT;
use std::{fmt::Write, path::Path};

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

/// The comment at the top of a `validateer.toml`.
pub fn validateer_toml_header(chain: &str, v: &BundleValidateer, mrenclave: &str) -> String {
    format!(
        "# {name}: validateer {index} of the {chain} consortium chain, written by `cloister deploy`.\n\
         # Its enclave keys are sealed in {data}/ to the MRENCLAVE of ../{WORKER_BINARY} ({mrenclave}):\n\
         # run that binary, from this directory:\n\
         #     ../{WORKER_BINARY} --base-path {data} {args}\n\
         # It runs on node-{node}'s machine and follows that node's RPC. `cloister network up` reads this file.\n\n",
        name = v.name,
        index = v.index,
        data = DATA_DIR,
        args = v.config(mrenclave).run_args(false).join(" "),
        node = v.node,
    )
}

/// `docker-compose.yml`: one service per node and per validateer.
pub fn compose(bundle: &Bundle) -> String {
    let mut out = format!(
        "# The {name} consortium chain: one service per authority node{per_validateer}, written by `cloister deploy`.\n\
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
         # bundle (CLOISTER_UID and CLOISTER_GID, default 1000:1000).\n{validateers}\
         name: cloister-{name}\n\
         services:\n",
        name = bundle.name,
        per_validateer = if bundle.validateers.is_empty() { "" } else { " and per validateer" },
        validateers = if bundle.validateers.is_empty() {
            String::new()
        } else {
            format!(
                "#\n\
                 # The validateer-K services run the bundle's own validateers/{WORKER_BINARY}, mounted\n\
                 # read-only into the same Debian image (build it on Debian bookworm or older): their enclave\n\
                 # keys are sealed to that binary's MRENCLAVE {}, which another build cannot unseal.\n\
                 # Start a validateer after its node: docker compose up -d node-K validateer-K\n",
                bundle.mrenclave.as_deref().unwrap_or_default()
            )
        }
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
    for v in &bundle.validateers {
        let data = Path::new("/bundle").join(v.data_dir());
        let mut command = vec!["--base-path".to_string(), data.display().to_string()];
        command.extend(v.config(bundle.mrenclave.as_deref().unwrap_or_default()).run_args(false));
        let command: Vec<String> = command.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = write!(
            out,
            "  validateer-{index}:\n\
             \x20   image: cloister/node:latest\n\
             \x20   container_name: {name}\n\
             \x20   entrypoint: [\"/bundle/validateers/{WORKER_BINARY}\"]\n\
             \x20   command: [{command}]\n\
             \x20   depends_on: [node-{node}]\n\
             \x20   user: \"${{CLOISTER_UID:-1000}}:${{CLOISTER_GID:-1000}}\"\n\
             \x20   network_mode: host\n\
             \x20   restart: unless-stopped\n\
             \x20   stop_grace_period: 60s\n\
             \x20   read_only: true\n\
             \x20   tmpfs: [/tmp]\n\
             \x20   cap_drop: [ALL]\n\
             \x20   security_opt: [\"no-new-privileges:true\"]\n\
             \x20   volumes:\n\
             \x20     - ./validateers/{WORKER_BINARY}:/bundle/validateers/{WORKER_BINARY}:ro\n\
             \x20     - ./{data_rel}:{data}\n",
            index = v.index,
            name = v.name,
            command = command.join(", "),
            node = v.node,
            data_rel = v.data_dir().display(),
            data = data.display(),
        );
    }
    out
}

/// The `[Service]` lines both kinds of unit share after `ExecStart`: restarts and a sandbox in
/// which the process may write `data` and nothing else.
fn service_sandbox(data: &Path) -> String {
    format!(
        "Restart=on-failure\n\
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
         AmbientCapabilities=\n",
        data = data.display()
    )
}

/// The systemd unit of validateer `v`, as hardened as the nodes': it may write its base path
/// and nothing else, and runs the bundle's own worker binary.
pub fn validateer_unit(bundle: &Bundle, v: &BundleValidateer) -> String {
    let install = bundle.install_dir.display();
    let binary = bundle.install_dir.join("validateers").join(WORKER_BINARY);
    let data = bundle.install_dir.join(v.data_dir());
    let mrenclave = bundle.mrenclave.as_deref().unwrap_or_default();
    let args = v.config(mrenclave).run_args(false).join(" ");
    let node_unit = format!("cloister-{}-node-{}", bundle.name, v.node);
    format!(
        "# {unit}.service: validateer {index} of the {chain} consortium chain, written by `cloister deploy`.\n\
         # Runs on node-{node}'s machine and follows its RPC. Expects the bundle (at least\n\
         # validateers/{WORKER_BINARY} and {rel}) in {install}, owned by the user cloister: its enclave\n\
         # keys are sealed to the MRENCLAVE of that very binary ({mrenclave}). Install and start:\n\
         #     cp {unit}.service /etc/systemd/system/ && systemctl daemon-reload\n\
         #     systemctl enable --now {unit}\n\
         [Unit]\n\
         Description=Cloister validateer {name} ({chain} consortium chain)\n\
         Documentation=file://{install}/README.md\n\
         Wants=network-online.target\n\
         After=network-online.target {node_unit}.service\n\
         \n\
         [Service]\n\
         Type=simple\n\
         User=cloister\n\
         Group=cloister\n\
         ExecStart={binary} --base-path {data} {args}\n\
         {sandbox}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        unit = v.unit(),
        index = v.index,
        chain = bundle.name,
        node = v.node,
        rel = v.dir.display(),
        name = v.name,
        binary = binary.display(),
        data = data.display(),
        sandbox = service_sandbox(&data),
    )
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
         {sandbox}\
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
        sandbox = service_sandbox(&dir.join("data")),
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
    let permissioned = match (bundle.permissioned, bundle.validateers.is_empty()) {
        (true, true) => {
            "The chain starts **permissioned**: only the sudo account holds permissions (READ, TRANSACT, \
             CREATE, ADMIN) and only these nodes' peer ids may connect. Grant other accounts permissions \
             with the sudo key once the chain runs.\n"
        }
        (true, false) => {
            "The chain starts **permissioned**: only the sudo account holds permissions (READ, TRANSACT, \
             CREATE, ADMIN), besides the validateers' enclave accounts (READ, TRANSACT, CREATE, to register \
             and anchor), and only these nodes' peer ids may connect. Grant other accounts permissions \
             with the sudo key once the chain runs.\n"
        }
        (false, _) => "The chain starts open: any account may read and transact, any peer may connect.\n",
    };
    let units: String = bundle
        .nodes
        .iter()
        .map(|n| n.unit())
        .chain(bundle.validateers.iter().map(|v| v.unit()))
        .map(|unit| format!("`systemd/{unit}.service`, "))
        .collect();
    let (validateer_table, validateer_files, validateer_section) = readme_validateers(bundle);
    format!(
        r#"# The {name} consortium chain

Written by `cloister deploy`: {count} authority nodes, {slot} ms slots, chain id `{id}`.
Each node authors blocks (Aura, sr25519) and votes on finality (GRANDPA, ed25519).
{permissioned}
{table}{validateer_table}
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
{validateer_files}| `docker-compose.yml` | one service per node{compose_validateers} | no |
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
{validateer_section}"#,
        count = bundle.nodes.len(),
        slot = bundle.slot_ms,
        id = bundle.chain_id,
        bin = NODE_BINARY,
        sudo_account = bundle.sudo,
        compose_validateers = if bundle.validateers.is_empty() { "" } else { " and per validateer" },
    )
}

/// The README's parts about validateers: (table and warning, rows of the file table, section);
/// empty without validateers, but for a chain that accepts dev attestations all the same.
fn readme_validateers(bundle: &Bundle) -> (String, String, String) {
    let Some(mrenclave) = bundle.mrenclave.as_deref().filter(|_| !bundle.validateers.is_empty()) else {
        let warning = if bundle.allow_dev_attestation {
            "\nThe chain accepts **dev attestations** (`--allow-dev-attestation`): enclaves without \
             hardware behind them may register. That is for test consortia only.\n"
        } else {
            ""
        };
        return (warning.to_string(), String::new(), String::new());
    };
    let mut table = format!(
        "\n{count} validateers serve the shard `{mrenclave}` (the MRENCLAVE of `validateers/{WORKER_BINARY}`). \
         They run the **software enclave backend**: no hardware attestation, no protection against root on \
         their hosts; the chain accepts their dev attestations (`--allow-dev-attestation`). This is a \
         **test consortium**.\n\n\
         | validateer | directory | node | host | trusted (clients) | untrusted (peers) | MU-RA | metrics | enclave account |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        count = bundle.validateers.len(),
    );
    for v in &bundle.validateers {
        let _ = writeln!(
            table,
            "| {} | `{}` | node-{} | {} | {} | {} | {} | {} | `{}` |",
            v.name,
            v.dir.display(),
            v.node,
            v.host,
            v.trusted_port,
            v.untrusted_port,
            v.mu_ra_port,
            v.metrics_port,
            v.account
        );
    }
    let files = format!(
        "| `validateers/{WORKER_BINARY}` | the validateers' binary: their keys are sealed to its MRENCLAVE, run no other build | no |\n\
         | `validateers/validateer-K/validateer.toml` | the validateer's node, ports, account and command line | no |\n\
         | `validateers/validateer-K/data/` | the validateer's base path: sealed enclave keys and the platform secret, later its state | **yes** (0700) |\n"
    );
    let name = &bundle.name;
    let install = bundle.install_dir.display();
    let endowment = VALIDATEER_ENDOWMENT / UNIT;
    let section = format!(
        r#"
## Validateers

Validateer K runs on the machine of node ((K-1) mod nodes)+1 (the `node` column) and follows that
node's RPC on 127.0.0.1. Its enclave keys were generated by `validateers/{WORKER_BINARY}` when the
bundle was written and are sealed in `validateers/validateer-K/data/` to that binary's MRENCLAVE
`{mrenclave}`: another build of `cloister-worker` cannot open them, so every copy of the bundle must
run this very binary (`validateers/{WORKER_BINARY} mrenclave` prints the MRENCLAVE). Each enclave
account holds {endowment} units at genesis for its registration and anchoring fees. Validateer 1
starts the shard; the others join it (mutual attestation on the MU-RA port, blocks over the
untrusted port), so start validateer 1 first.

Give the organisation of node N, with its node directory, `validateers/{WORKER_BINARY}` and the
`validateers/validateer-K/` directories of the validateers that follow node N (secrets included:
`data/` holds the sealed keys and the platform secret that unseals them).

Every validateer must reach the others' untrusted and MU-RA ports; clients reach the trusted
port. Open those in the firewall; metrics are for your monitoring only.

**systemd** (on the node's server, after its node):

```sh
sudo mkdir -p {install}/validateers   # keep the layout
sudo cp -r validateers/{WORKER_BINARY} validateers/validateer-K {install}/validateers/
sudo chown -R cloister:cloister {install}/validateers
sudo cp systemd/cloister-{name}-validateer-K.service /etc/systemd/system/
sudo systemctl daemon-reload && sudo systemctl enable --now cloister-{name}-validateer-K
journalctl -u cloister-{name}-validateer-K -f   # "validateer ready" once it serves
```

**docker compose**: `docker compose up -d node-K validateer-K`; the service mounts the bundle's
`validateers/{WORKER_BINARY}` into the node image (Debian bookworm).

**One machine, for a trial**: `cloister network up .` starts the validateers after the nodes
(validateer 1 first; logs in `validateers/validateer-K/worker.log`).

**By hand**: the command line is at the top of `validateers/validateer-K/validateer.toml`.

Use the shard: `cloister --node-url ws://127.0.0.1:RPC_PORT --worker-url wss://HOST:TRUSTED_PORT
trusted --mrenclave {mrenclave} balance SECRET_URI` (the URL is in the table above).
"#
    );
    (table, files, section)
}
