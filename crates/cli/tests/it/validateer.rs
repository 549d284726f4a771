//! The validateer end to end (ARCHITECTURE.md 6): one dev node and one real `cloister-worker`,
//! driven first as a user drives them (`cloister trusted …`, `cloister list-enclaves`, the
//! worker's metrics), then through the enclave's direct RPC over a real attested connection as a
//! careless or hostile client would, checking that every bad input is refused with a clear
//! JSON-RPC error, that nothing is applied, and that the worker keeps serving.

use cloister_enclave::{engine::operation_info, keys::shield};
use cloister_primitives::{Balance, Mrenclave, Nonce, ShardId, Signature};
use cloister_stf::{TrustedCall, TrustedGetter, TrustedOperation};
use cloister_testkit::{cloister, wait_for, worker::WorkerProcess, NodeProcess};
use codec::{Decode, Encode};
use jsonrpsee::{
    core::client::{ClientT, Error as RpcError, SubscriptionClientT},
    rpc_params,
    ws_client::WsClient,
};
use rand::RngCore;
use serde_json::Value;
use sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(120);
/// How much of the worker's log a failed assertion shows.
const LOG_TAIL_LINES: usize = 200;

/// The node and its validateer, with what a user needs to talk to them.
struct Validateer {
    node: NodeProcess,
    worker: WorkerProcess,
    mrenclave: String,
}

impl Validateer {
    /// The end of the worker's log, for assertion messages.
    fn log(&self) -> String {
        let text = self.worker.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!("\n--- worker log (last {LOG_TAIL_LINES} lines) ---\n{tail}\n--- end of worker log ---")
    }

    /// `cloister trusted --mrenclave <the worker's> ARGS`.
    fn trusted(&self, args: &[&str]) -> (bool, String, String) {
        cloister_testkit::worker::trusted(&self.node.url(), &self.worker.url(), &self.mrenclave, args)
    }

    /// `cloister trusted ARGS`, which must succeed; returns its stdout.
    fn trusted_ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.trusted(args);
        assert!(ok, "`cloister trusted {}` failed:\nstdout: {out}\nstderr: {err}{}", args.join(" "), self.log());
        out
    }

    /// The shard balance of `suri`, as `cloister trusted balance` prints it.
    fn shard_balance(&self, suri: &str) -> Balance {
        let out = self.trusted_ok(&["balance", suri]);
        out.trim().parse().unwrap_or_else(|_| panic!("`trusted balance {suri}` printed {out:?}{}", self.log()))
    }

    /// The next shard nonce of `suri`, as `cloister trusted nonce` prints it.
    fn shard_nonce(&self, suri: &str) -> Nonce {
        let out = self.trusted_ok(&["nonce", suri]);
        out.trim().parse().unwrap_or_else(|_| panic!("`trusted nonce {suri}` printed {out:?}{}", self.log()))
    }

    /// The parentchain free balance of `suri`, as `cloister --json balance` prints it.
    fn parentchain_free(&self, suri: &str) -> Balance {
        let (ok, out, err) = cloister(&self.node.url(), &["--json", "balance", suri]);
        assert!(ok, "`cloister balance {suri}` failed: {err}");
        let json: Value = serde_json::from_str(out.trim()).expect("`cloister --json balance` prints JSON");
        json["free"].as_str().and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("no free balance in {json}"))
    }

    /// One value of the worker's Prometheus metrics, if present.
    fn metric(&self, name: &str) -> Option<f64> {
        let text = self.worker.metrics().ok()?;
        text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Waits until the metric `name` satisfies `ok`.
    async fn wait_metric(&self, name: &str, what: &str, ok: impl Fn(f64) -> bool) {
        let reached =
            wait_for(&format!("{name} {what}"), TIMEOUT, || async { self.metric(name).filter(|v| ok(*v)) }).await;
        assert!(
            reached.is_ok(),
            "metric {name} never became {what} (last: {:?}); metrics:\n{}{}",
            self.metric(name),
            self.worker.metrics().unwrap_or_else(|e| format!("metrics unreadable: {e}")),
            self.log()
        );
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A client of the enclave's direct RPC over RA-TLS, pinned to the worker's MRENCLAVE: what a
/// wallet would build, with the freedom to send anything.
struct Direct {
    rpc: WsClient,
    mrenclave: Mrenclave,
    shard: ShardId,
    shielding_key: [u8; 32],
}

impl Direct {
    async fn connect(url: &str, mrenclave: Mrenclave) -> anyhow::Result<Self> {
        let verify = cloister_enclave::attest::evidence_verifier(true);
        let rpc = cloister_ratls::connect(url, mrenclave.0, verify).await?;
        let key: String = rpc.request("author_getShieldingKey", rpc_params![]).await?;
        let shielding_key =
            cloister_primitives::parse_hex32(&key).ok_or_else(|| anyhow::anyhow!("malformed shielding key {key}"))?;
        Ok(Self { rpc, mrenclave, shard: ShardId::from(mrenclave.0), shielding_key })
    }

    fn shard_hex(&self) -> String {
        hex0x(self.shard.as_ref())
    }

    /// `op` encrypted to `key` for `shard`, as `0x` hex.
    fn encrypt_with(&self, key: &[u8; 32], shard: &ShardId, plain: &[u8]) -> String {
        hex0x(&shield(key, &operation_info(shard), plain).expect("HPKE encryption"))
    }

    /// `op` encrypted as a client must: to the enclave's key, for its shard.
    fn encrypt(&self, op: &TrustedOperation) -> String {
        self.encrypt_with(&self.shielding_key, &self.shard, &op.encode())
    }

    /// A call `signed_by` signs with `nonce`.
    fn call(&self, call: TrustedCall, nonce: Nonce, signed_by: Sr25519Keyring) -> TrustedOperation {
        TrustedOperation::Call(call.sign(nonce, &self.mrenclave, &self.shard, |p| Signature::from(signed_by.sign(p))))
    }

    /// A getter `signed_by` signs now.
    fn getter(&self, getter: TrustedGetter, signed_by: Sr25519Keyring) -> TrustedOperation {
        self.getter_at(getter, signed_by, now_ms())
    }

    fn getter_at(&self, getter: TrustedGetter, signed_by: Sr25519Keyring, at_ms: u64) -> TrustedOperation {
        TrustedOperation::Get(getter.sign(at_ms, &self.mrenclave, &self.shard, |p| Signature::from(signed_by.sign(p))))
    }

    async fn raw(&self, method: &str, params: Vec<Value>) -> Result<Value, RpcError> {
        let mut builder = jsonrpsee::core::params::ArrayParams::new();
        for param in params {
            builder.insert(param).expect("params serialize");
        }
        self.rpc.request(method, builder).await
    }

    /// `author_submitExtrinsic` with `[shard, ciphertext]` as given.
    async fn submit(&self, shard: &str, ciphertext: &str) -> Result<Value, RpcError> {
        self.raw("author_submitExtrinsic", vec![shard.into(), ciphertext.into()]).await
    }

    /// `state_executeGetter` with `[shard, ciphertext]` as given.
    async fn execute_getter(&self, shard: &str, ciphertext: &str) -> Result<Value, RpcError> {
        self.raw("state_executeGetter", vec![shard.into(), ciphertext.into()]).await
    }

    /// Reads with a correctly signed getter of `who`.
    async fn read<T: Decode>(&self, getter: TrustedGetter, who: Sr25519Keyring) -> T {
        let answer = self
            .execute_getter(&self.shard_hex(), &self.encrypt(&self.getter(getter, who)))
            .await
            .unwrap_or_else(|e| panic!("a valid getter of {who:?} is refused: {e}"));
        let bytes = hex::decode(answer.as_str().unwrap_or_default().trim_start_matches("0x")).expect("hex answer");
        T::decode(&mut &bytes[..]).expect("the answer decodes")
    }

    /// Balances of Alice, Bob, Charlie and nonces of Alice, Bob on the shard.
    async fn state(&self) -> ShardView {
        ShardView {
            balances: [
                self.read(TrustedGetter::Balance(Alice.to_account_id()), Alice).await,
                self.read(TrustedGetter::Balance(Bob.to_account_id()), Bob).await,
                self.read(TrustedGetter::Balance(Charlie.to_account_id()), Charlie).await,
            ],
            nonces: [
                self.read(TrustedGetter::Nonce(Alice.to_account_id()), Alice).await,
                self.read(TrustedGetter::Nonce(Bob.to_account_id()), Bob).await,
            ],
        }
    }

    /// Submits `ciphertext` with `author_submitAndWatchExtrinsic` and follows it until it is
    /// in a sidechain block or invalid; returns every status seen.
    async fn submit_and_watch(&self, ciphertext: &str) -> Result<Vec<Value>, RpcError> {
        let mut sub = self
            .rpc
            .subscribe::<Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![self.shard_hex(), ciphertext],
                "author_unwatchExtrinsic",
            )
            .await?;
        let mut statuses = Vec::new();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let next = tokio::time::timeout_at(deadline, sub.next()).await;
            let Ok(Some(Ok(status))) = next else {
                panic!("the status stream ended or timed out after {statuses:?}: {next:?}");
            };
            let done = status.get("inSidechainBlock").is_some() || status.get("invalid").is_some();
            statuses.push(status);
            if done {
                return Ok(statuses);
            }
        }
    }
}

/// What the bad-input checks watch on the shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ShardView {
    /// Alice, Bob, Charlie.
    balances: [Balance; 3],
    /// Alice, Bob.
    nonces: [Nonce; 2],
}

/// The JSON-RPC error of a refused request; panics (with `context`) if it was accepted or
/// failed otherwise.
fn rpc_error(result: Result<Value, RpcError>, context: &str) -> (i32, String) {
    match result {
        Err(RpcError::Call(object)) => (object.code(), object.message().to_string()),
        Ok(value) => panic!("{context}: accepted ({value}), should have been refused"),
        Err(other) => panic!("{context}: failed without a JSON-RPC error: {other}"),
    }
}

/// Whether `list-enclaves --json` shows the worker's MRENCLAVE and URL.
fn listed(v: &Validateer) -> bool {
    let (ok, out, err) = cloister(&v.node.url(), &["--json", "list-enclaves"]);
    assert!(ok, "list-enclaves: {err}");
    let list: Value = serde_json::from_str(out.trim()).expect("list-enclaves --json prints JSON");
    let list = list.as_array().expect("an array of enclaves");
    list.iter().any(|e| e["mrenclave"] == v.mrenclave.as_str() && e["worker_url"] == v.worker.url().as_str())
}

/// Step 1: what a user does with `cloister`, and what the worker's metrics say about it.
///
/// Returns the failure of the first check, if any, so that the rest still runs: a worker that
/// says "validateer ready" must be registered by then (its shard refuses shieldings until it
/// is), but if it only gets there a little later, the other checks still say something.
async fn users_flow(v: &Validateer) -> Option<String> {
    // The worker registered itself: the parentchain lists its MRENCLAVE and URL.
    let said_ready = std::time::Instant::now();
    let mut late_registration = None;
    if !listed(v) {
        let appeared = wait_for("the worker in list-enclaves", TIMEOUT, || async { listed(v).then_some(()) }).await;
        assert!(appeared.is_ok(), "the worker ({} at {}) is never listed{}", v.mrenclave, v.worker.url(), v.log());
        late_registration = Some(format!(
            "the worker logged \"validateer ready\" before its registration was on the parentchain: \
             list-enclaves showed it only {:?} later (a shield-funds in between fails with UnknownShard){}",
            said_ready.elapsed(),
            v.log()
        ));
    }

    // Shielding: the shard credits Alice, the parentchain debits her (plus the fee).
    let l1_before = v.parentchain_free("//Alice");
    v.trusted_ok(&["shield-funds", "//Alice", "1000"]);
    assert_eq!(v.shard_balance("//Alice"), 1000, "Alice's shard balance after shielding 1000{}", v.log());
    let l1_after = v.parentchain_free("//Alice");
    assert!(
        l1_before.saturating_sub(l1_after) >= 1000,
        "Alice's parentchain balance went from {l1_before} to {l1_after}: shielding 1000 must cost at least 1000"
    );

    // A direct transfer, then one through the parentchain (a shielded call).
    v.trusted_ok(&["transfer", "//Alice", "//Bob", "250"]);
    assert_eq!(v.shard_balance("//Bob"), 250, "Bob's shard balance after receiving 250{}", v.log());
    assert_eq!(v.shard_balance("//Alice"), 750, "Alice's shard balance after sending 250{}", v.log());
    v.trusted_ok(&["transfer", "--indirect", "//Alice", "//Charlie", "111"]);
    assert_eq!(v.shard_balance("//Charlie"), 111, "Charlie's shard balance after an indirect 111{}", v.log());
    assert_eq!(v.shard_balance("//Alice"), 639, "Alice's shard balance after sending 111 indirectly{}", v.log());

    // Unshielding: the vault pays exactly the amount; the enclave pays the fee itself.
    let l1_before = v.parentchain_free("//Alice");
    v.trusted_ok(&["unshield-funds", "//Alice", "400"]);
    assert_eq!(v.shard_balance("//Alice"), 239, "Alice's shard balance after unshielding 400{}", v.log());
    let l1_after = v.parentchain_free("//Alice");
    assert_eq!(
        l1_after,
        l1_before + 400,
        "Alice's parentchain balance must rise by exactly the 400 unshielded (from {l1_before}){}",
        v.log()
    );
    assert_eq!(v.shard_nonce("//Alice"), 3, "Alice made three trusted calls{}", v.log());

    v.wait_metric("cloister_worker_sidechain_height", "> 0", |h| h > 0.0).await;
    v.wait_metric("cloister_worker_operations_applied_total", ">= 3", |n| n >= 3.0).await;
    v.wait_metric("cloister_worker_parentchain_block_synced", "> 0", |b| b > 0.0).await;
    let metrics = v.worker.metrics().expect("metrics");
    assert!(
        metrics.lines().any(|l| l.starts_with("cloister_worker_enclave_call_seconds_count") && !l.ends_with(" 0")),
        "enclave calls are timed:\n{metrics}"
    );

    // Followed until `Finalized`: its sidechain block is anchored in a finalized parentchain block.
    let out = v.trusted_ok(&["transfer", "--wait-final", "//Alice", "//Bob", "1"]);
    assert!(out.contains("transferred 1 in sidechain block"), "transfer --wait-final printed {out:?}{}", v.log());
    assert_eq!(v.shard_balance("//Bob"), 251, "Bob's shard balance after a finalized 1{}", v.log());
    late_registration
}

/// Step 2: a client that pins another MRENCLAVE refuses the worker and sends nothing.
async fn pinning(v: &Validateer) {
    let before = (v.shard_balance("//Alice"), v.shard_balance("//Bob"), v.shard_nonce("//Alice"));
    let mut other = format!("0x{}", "ab".repeat(32));
    if other == v.mrenclave {
        other = format!("0x{}", "cd".repeat(32));
    }
    let worker_url = v.worker.url();
    for args in [&["transfer", "//Alice", "//Bob", "1"][..], &["balance", "//Alice"][..]] {
        let mut all = vec!["--worker-url", worker_url.as_str(), "trusted", "--mrenclave", other.as_str()];
        all.extend_from_slice(args);
        let (ok, out, err) = cloister(&v.node.url(), &all);
        assert!(!ok, "`trusted {}` with a wrong MRENCLAVE succeeded: {out}{}", args.join(" "), v.log());
        assert!(
            err.contains("MRENCLAVE") && err.contains(other.trim_start_matches("0x")),
            "the refusal names the MRENCLAVE mismatch: {err}"
        );
    }
    let after = (v.shard_balance("//Alice"), v.shard_balance("//Bob"), v.shard_nonce("//Alice"));
    assert_eq!(after, before, "a refused connection changed the shard{}", v.log());
}

/// Step 3: bad input over the direct RPC, each refused with a JSON-RPC error, nothing applied.
async fn bad_input(v: &Validateer) {
    let mrenclave: Mrenclave = v.mrenclave.parse().expect("the worker prints a valid MRENCLAVE");
    let direct = Direct::connect(&v.worker.url(), mrenclave)
        .await
        .unwrap_or_else(|e| panic!("attested connection to {}: {e}{}", v.worker.url(), v.log()));
    let shard = direct.shard_hex();
    let mut expected = direct.state().await;
    let check = |expected: ShardView, after: &'static str| check_unchanged(&direct, v, expected, after);
    let transfer =
        |amount: Balance| TrustedCall::Transfer { from: Alice.to_account_id(), to: Bob.to_account_id(), amount };

    // Undecryptable: garbage, another shard's ciphertext, another key's ciphertext.
    let (code, message) = rpc_error(direct.submit(&shard, "0xdeadbeef").await, "garbage ciphertext");
    assert_eq!((code, message.as_str()), (1002, "the operation does not decrypt for this enclave and shard"));
    let refused = direct.submit_and_watch("0xdeadbeef").await.map(Value::Array);
    assert_eq!(rpc_error(refused, "garbage ciphertext, watched").0, 1002);
    let (code, _) = rpc_error(direct.execute_getter(&shard, "0xdeadbeef").await, "garbage getter");
    assert_eq!(code, 1002, "a garbage getter");
    check(expected, "garbage").await;

    let valid = direct.call(transfer(1), expected.nonces[0], Alice).encode();
    let other_shard = ShardId::repeat_byte(0x42);
    let for_other_shard = direct.encrypt_with(&direct.shielding_key, &other_shard, &valid);
    let (code, message) = rpc_error(direct.submit(&shard, &for_other_shard).await, "another shard's ciphertext");
    assert_eq!(code, 1002, "another shard's ciphertext: {message}");
    check(expected, "another shard's ciphertext").await;

    let mut random_key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random_key);
    let for_other_key = direct.encrypt_with(&random_key, &direct.shard, &valid);
    let (code, message) = rpc_error(direct.submit(&shard, &for_other_key).await, "another key's ciphertext");
    assert_eq!(code, 1002, "another key's ciphertext: {message}");
    check(expected, "another key's ciphertext").await;

    // Decrypts, but is not a trusted operation (or not the kind the method takes).
    let not_an_op = direct.encrypt_with(&direct.shielding_key, &direct.shard, b"\xff\xffnot an operation");
    let (code, message) = rpc_error(direct.submit(&shard, &not_an_op).await, "not an operation");
    assert_eq!((code, message.as_str()), (1003, "malformed trusted operation"));
    let (code, _) = rpc_error(direct.execute_getter(&shard, &not_an_op).await, "not an operation, as a getter");
    assert_eq!(code, 1003);
    let getter = direct.encrypt(&direct.getter(TrustedGetter::Balance(Alice.to_account_id()), Alice));
    let (code, _) = rpc_error(direct.submit(&shard, &getter).await, "a getter submitted as a call");
    assert_eq!(code, 1003, "a getter submitted as a call");
    let call = direct.encrypt(&direct.call(transfer(1), expected.nonces[0], Alice));
    let (code, _) = rpc_error(direct.execute_getter(&shard, &call).await, "a call sent as a getter");
    assert_eq!(code, 1003, "a call sent as a getter");
    check(expected, "operations of the wrong shape").await;

    // A transfer from Alice's account signed by Bob.
    let forged = direct.encrypt(&direct.call(transfer(100), expected.nonces[0], Bob));
    let (code, message) = rpc_error(direct.submit(&shard, &forged).await, "a call signed by the wrong account");
    assert_eq!((code, message.as_str()), (1004, "rejected: bad signature"));
    check(expected, "a forged transfer").await;

    // A getter of Bob's balance signed by Alice: refused, and the answer does not leak it.
    let snoop = direct.encrypt(&direct.getter(TrustedGetter::Balance(Bob.to_account_id()), Alice));
    let (code, message) = rpc_error(direct.execute_getter(&shard, &snoop).await, "Alice reading Bob's balance");
    assert_eq!((code, message.as_str()), (1004, "rejected: bad signature"));
    // A getter signed ten minutes ago.
    let stale = direct.getter_at(TrustedGetter::Balance(Alice.to_account_id()), Alice, now_ms() - 600_000);
    let (code, message) =
        rpc_error(direct.execute_getter(&shard, &direct.encrypt(&stale)).await, "a ten-minute-old getter");
    assert_eq!(code, 1004, "a stale getter: {message}");
    assert!(message.contains("timestamp"), "a stale getter says why: {message}");

    // A shard the worker does not serve (well-formed).
    let unknown = hex0x(other_shard.as_ref());
    let (code, message) = rpc_error(direct.submit(&unknown, &for_other_shard).await, "an unknown shard");
    assert_eq!((code, message.as_str()), (1001, "unknown shard"));
    let (code, _) = rpc_error(direct.execute_getter(&unknown, &getter).await, "a getter of an unknown shard");
    assert_eq!(code, 1001);
    check(expected, "an unknown shard").await;

    // Malformed params: not hex, wrong length, missing.
    let malformed: [(&str, Vec<Value>, &str); 6] = [
        ("author_submitExtrinsic", vec!["0xnothex".into(), call.clone().into()], "not hex"),
        ("author_submitExtrinsic", vec!["0x0102".into(), call.clone().into()], "32 bytes"),
        ("author_submitExtrinsic", vec![shard.clone().into(), "0xzz".into()], "not hex"),
        ("author_submitExtrinsic", vec![shard.clone().into()], "missing"),
        ("state_executeGetter", vec![Value::from(7), getter.clone().into()], "missing"),
        ("author_submitAndWatchExtrinsic", vec![format!("{shard}00").into(), call.clone().into()], "32 bytes"),
    ];
    for (method, params, says) in malformed {
        let shown = format!("{method} {params:?}");
        let (code, message) = rpc_error(direct.raw(method, params).await, &shown);
        assert_eq!(code, -32602, "{shown}: invalid params ({message})");
        assert!(message.contains(says), "{shown}: the message says what is wrong: {message}");
    }
    check(expected, "malformed params").await;

    // A replay: a valid transfer is applied once; the identical ciphertext again is stale.
    let once = direct.encrypt(&direct.call(transfer(5), expected.nonces[0], Alice));
    let statuses = direct.submit_and_watch(&once).await.expect("a valid transfer is accepted");
    assert!(
        statuses.last().is_some_and(|s| s.get("inSidechainBlock").is_some()),
        "a valid transfer lands in a sidechain block: {statuses:?}{}",
        v.log()
    );
    expected.balances[0] -= 5;
    expected.balances[1] += 5;
    expected.nonces[0] += 1;
    check(expected, "a valid transfer of 5").await;
    let (code, message) = rpc_error(direct.submit(&shard, &once).await, "a replayed call");
    assert_eq!(code, 1004, "a replay: {message}");
    assert!(message.contains("stale nonce"), "a replay is refused as stale: {message}");
    let replayed = direct.submit_and_watch(&once).await.map(Value::Array);
    assert!(rpc_error(replayed, "a replayed call, watched").1.contains("stale nonce"));
    check(expected, "a replayed call").await;

    // More than the balance: included but invalid, the nonce spent, the balances unchanged. As
    // the pool keeps arrival order, it also shows nothing refused above sneaked into a block.
    let too_much = direct.encrypt(&direct.call(transfer(expected.balances[0] + 1), expected.nonces[0], Alice));
    let statuses = direct.submit_and_watch(&too_much).await.expect("an overdraft is accepted into the pool");
    let reason = statuses.last().and_then(|s| s.get("invalid")).cloned();
    assert!(
        reason.as_ref().and_then(Value::as_str).is_some_and(|r| r.contains("Funds")),
        "an overdraft ends invalid for lack of funds: {statuses:?}{}",
        v.log()
    );
    assert!(
        !statuses.iter().any(|s| s.get("inSidechainBlock").is_some()),
        "an overdraft is not reported as applied: {statuses:?}"
    );
    eprintln!("an overdraft of {} ended with {statuses:?}", expected.balances[0] + 1);
    expected.nonces[0] += 1;
    check(expected, "an overdraft").await;

    // Still serving: on this connection, to a new one, and to the CLI.
    let health: Value = direct.rpc.request("system_health", rpc_params![]).await.expect("system_health");
    assert_eq!(health["shards"], 1, "{health}");
    let again = Direct::connect(&v.worker.url(), mrenclave).await.expect("a new attested connection");
    assert_eq!(again.state().await, expected, "a fresh connection sees the same shard");
    assert_eq!(v.shard_balance("//Bob"), expected.balances[1], "the CLI still works{}", v.log());
    assert_eq!(v.shard_nonce("//Alice"), expected.nonces[0], "the CLI still works{}", v.log());
}

/// Asserts that the shard still looks like `expected` after `after`.
async fn check_unchanged(direct: &Direct, v: &Validateer, expected: ShardView, after: &str) {
    let now = direct.state().await;
    assert_eq!(now, expected, "the shard changed after {after}{}", v.log());
}

#[tokio::test]
async fn validateer_serves_users_and_refuses_bad_input() {
    let started = std::time::Instant::now();
    let node = NodeProcess::dev().await.expect("node starts");
    let worker = WorkerProcess::start(&node.url()).await.expect("worker starts and says it is ready");
    let mrenclave = WorkerProcess::mrenclave().expect("cloister-worker mrenclave");
    assert!(mrenclave.starts_with("0x") && mrenclave.len() == 66, "an MRENCLAVE is 32 bytes of hex: {mrenclave}");
    let mut v = Validateer { node, worker, mrenclave };
    eprintln!("node and worker ready after {:?}", started.elapsed());

    let late_registration = users_flow(&v).await;
    eprintln!("users' flow done after {:?}", started.elapsed());
    pinning(&v).await;
    eprintln!("pinning done after {:?}", started.elapsed());
    bad_input(&v).await;
    assert!(v.worker.is_running(), "the worker is still running after all of it{}", v.log());
    eprintln!("bad input done after {:?}", started.elapsed());
    if let Some(failure) = late_registration {
        panic!("{failure}");
    }
}
