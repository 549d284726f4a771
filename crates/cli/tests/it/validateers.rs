//! Several validateers of one shard (ARCHITECTURE.md 6.9, 6.10), as real processes: one
//! `cloister-node --dev` and several `cloister-worker run --dev` of the same build, so the same
//! MRENCLAVE and shard. The first creates the shard; the others get its keys and state by
//! mutual attestation and then take turns authoring. Clients talk to any of them.
//!
//! What is checked is what a user of the shard relies on: every validateer ends at the same
//! head with the same state root; no call a validateer acknowledged is lost or applied twice,
//! whichever validateer it was sent to and whichever crashed; a validateer back from a crash,
//! or joining late, catches up and authors; and a key that signs two blocks for one slot is
//! caught and its blocks refused.

use crate::validateer_faults::{tail, without_colours, Direct, Fate, MINUTE};
use anyhow::{anyhow, ensure, Context, Result};
use cloister_cli::{chain::map_key, rpc_client::NodeClient, signer::Signer, trusted::TrustedClient};
use cloister_enclave::engine::shield_info;
use cloister_primitives::{sidechain::SignedSidechainBlock, AccountId, Balance, Mrenclave, Nonce, ShardId, UNIT};
use cloister_runtime::RuntimeCall;
use cloister_stf::TrustedCall;
use cloister_testkit::{wait_for, worker::WorkerProcess, NodeProcess};
use codec::{Decode, Encode};
use jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClientBuilder};
use serde_json::Value;
use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};

/// A shard's head as a validateer reports it on its untrusted port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Head {
    number: u64,
    hash: String,
    state_root: String,
    /// Calls waiting in the validateer's pool.
    pool: u64,
}

/// A dev node and the validateers of its shard.
struct Shard {
    node: NodeProcess,
    workers: Vec<WorkerProcess>,
    mrenclave: Mrenclave,
    chain: NodeClient,
}

impl Shard {
    /// The node, then the first validateer (which creates the shard), then `count - 1` more
    /// started together.
    async fn start(count: usize) -> Result<Self> {
        let node = NodeProcess::dev().await?;
        let first = WorkerProcess::start(&node.url()).await?;
        let mrenclave = WorkerProcess::mrenclave()?.parse().map_err(anyhow::Error::msg)?;
        let chain = NodeClient::connect(&node.url()).await?;
        let mut shard = Self { node, workers: vec![first], mrenclave, chain };
        shard.wait_members(1).await?;
        let url = shard.node.url();
        let more = futures::future::try_join_all((1..count).map(|_| WorkerProcess::start(&url))).await?;
        shard.workers.extend(more);
        shard.wait_members(count).await?;
        Ok(shard)
    }

    fn id(&self) -> ShardId {
        ShardId::from(self.mrenclave.0)
    }

    fn logs(&self) -> String {
        self.workers
            .iter()
            .enumerate()
            .map(|(i, w)| format!("---- validateer {i} ----\n{}\n", tail(&without_colours(&w.log_text()))))
            .collect()
    }

    fn log(&self, i: usize) -> String {
        without_colours(&self.workers[i].log_text())
    }

    /// Waits until a finalized parentchain block lists `count` validateers of the shard.
    async fn wait_members(&self, count: usize) -> Result<()> {
        let key = map_key("EnclaveRegistry", "ShardValidateers", &self.id());
        wait_for(&format!("{count} validateers of the shard, finalized"), 2 * MINUTE, || async {
            let at = self.chain.finalized_hash().await.ok()?;
            let set: Vec<AccountId> = self.chain.storage_or_default("ShardValidateers", &key, Some(at)).await.ok()?;
            (set.len() >= count).then_some(())
        })
        .await
        .with_context(|| self.logs())
    }

    /// A late validateer, started and ready (it has joined the shard).
    async fn add(&mut self) -> Result<usize> {
        let worker = WorkerProcess::start(&self.node.url()).await.with_context(|| self.logs())?;
        self.workers.push(worker);
        Ok(self.workers.len() - 1)
    }

    async fn untrusted(&self, i: usize) -> Result<jsonrpsee::ws_client::WsClient> {
        Ok(WsClientBuilder::default().max_response_size(256 << 20).build(self.workers[i].untrusted_url()).await?)
    }

    /// Validateer `i`'s head.
    async fn head(&self, i: usize) -> Result<Head> {
        let head: Value =
            self.untrusted(i).await?.request("sidechain_head", rpc_params![format!("{:?}", self.id())]).await?;
        Ok(Head {
            number: head["number"].as_u64().context("number")?,
            hash: head["hash"].as_str().context("hash")?.to_string(),
            state_root: head["stateRoot"].as_str().context("stateRoot")?.to_string(),
            pool: head["pool"].as_u64().context("pool")?,
        })
    }

    /// Validateer `i`'s blocks from `from` on, as it serves them to peers.
    async fn blocks(&self, i: usize, from: u64) -> Result<Vec<SignedSidechainBlock>> {
        let client = self.untrusted(i).await?;
        let mut out = Vec::new();
        let mut from = from;
        loop {
            let page: Vec<String> = client
                .request("sidechain_fetchBlocksFromPeer", rpc_params![format!("{:?}", self.id()), from, 256])
                .await?;
            if page.is_empty() {
                return Ok(out);
            }
            for text in &page {
                let bytes = hex::decode(text.trim_start_matches("0x"))?;
                out.push(SignedSidechainBlock::decode(&mut &bytes[..])?);
            }
            from += page.len() as u64;
        }
    }

    /// Waits until the validateers `which` report the same head and state root, with nothing
    /// left waiting in their pools; returns the head.
    async fn agree(&self, which: &[usize]) -> Result<Head> {
        wait_for("the validateers to agree on head and state root", 2 * MINUTE, || async {
            let mut heads = Vec::new();
            for i in which {
                heads.push(self.head(*i).await.ok()?);
            }
            let settled = heads.iter().all(|h| h.pool == 0);
            (settled && heads.windows(2).all(|w| w[0] == w[1])).then(|| heads[0].clone())
        })
        .await
        .with_context(|| format!("heads never agreed; logs:\n{}", self.logs()))
    }

    async fn trusted(&self, i: usize) -> Result<TrustedClient> {
        TrustedClient::connect(&self.chain, &self.workers[i].url(), self.mrenclave, None)
            .await
            .map_err(|e| anyhow!("connecting to validateer {i}: {e}"))
    }

    /// //Alice shields `amount` for each account; waits until every validateer credits them.
    async fn shield(&self, accounts: &[Signer], amount: Balance) -> Result<()> {
        let direct = Direct::connect(&self.workers[0].url(), self.mrenclave).await?;
        let alice = Signer::from_suri("//Alice")?;
        let mut nonce = self.chain.next_nonce(&alice.account()).await?;
        let best = self.chain.best_header().await?;
        let mut xts = Vec::new();
        for who in accounts {
            let encrypted =
                cloister_enclave::keys::shield(&direct.key, &shield_info(&self.id()), &who.account().encode())?;
            let call = RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::shield_funds {
                shard: self.id(),
                encrypted_beneficiary: encrypted,
                amount,
            });
            xts.push(self.chain.sign(&alice, call, nonce, (best.number, best.hash())));
            nonce += 1;
        }
        futures::future::try_join_all(xts.iter().map(|xt| self.chain.submit_and_wait(xt, false))).await?;
        for i in 0..self.workers.len() {
            let trusted = self.trusted(i).await?;
            for who in accounts {
                wait_for("every validateer to credit the shieldings", 2 * MINUTE, || async {
                    trusted.balance(who).await.ok().filter(|b| *b >= amount)
                })
                .await
                .with_context(|| self.logs())?;
            }
        }
        Ok(())
    }

    /// Balance and nonce of each account, as validateer `i` answers.
    async fn state_at(&self, i: usize, accounts: &[Signer]) -> Result<Vec<(Balance, Nonce)>> {
        let trusted = self.trusted(i).await?;
        let mut out = Vec::new();
        for who in accounts {
            out.push((trusted.balance(who).await?, trusted.nonce(who).await?));
        }
        Ok(out)
    }

    /// How many blocks validateer `i` has authored (its log), from byte `from` of the log on.
    fn authored_since(&self, i: usize, from: usize) -> usize {
        self.log(i).get(from..).unwrap_or_default().matches(" authored ").count()
    }
}

/// One call a streamer sent.
#[derive(Clone, Debug)]
struct Sent {
    from: usize,
    to: usize,
    amount: Balance,
    nonce: Nonce,
    fate: Fate,
}

/// Streams transfers from `accounts[from]` through validateer `via` until `stop`, one call at a
/// time (so its nonces are acknowledged in order), until a call is not acknowledged.
async fn stream(
    shard: &Shard,
    accounts: Arc<Vec<Signer>>,
    from: usize,
    via: usize,
    first_nonce: Nonce,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> Result<tokio::task::JoinHandle<Vec<Sent>>> {
    let direct = Direct::connect(&shard.workers[via].url(), shard.mrenclave).await?;
    Ok(tokio::spawn(async move {
        let mut sent = Vec::new();
        let mut nonce = first_nonce;
        let mut k = 0;
        while !stop.load(Ordering::Relaxed) {
            let to = (from + 1 + k % (accounts.len() - 1)) % accounts.len();
            let amount = 1_000 + 10 * Balance::from(nonce) + from as Balance;
            let call = TrustedCall::Transfer { from: accounts[from].account(), to: accounts[to].account(), amount };
            let fate = direct.submit(&accounts[from], call, nonce).await;
            let ok = fate == Fate::Acked;
            sent.push(Sent { from, to, amount, nonce, fate });
            if !ok {
                break;
            }
            acked.fetch_add(1, Ordering::Relaxed);
            nonce += 1;
            k += 1;
        }
        sent
    }))
}

/// What every account must hold after `sent`, given each sender's final nonce: a call is applied
/// exactly when its nonce is below its sender's final nonce. Fails if an acknowledged call was
/// not applied.
fn expected(funds: Balance, count: usize, sent: &[Sent], final_nonces: &[Nonce]) -> Result<Vec<(Balance, Nonce)>> {
    let mut balances = vec![funds; count];
    for call in sent {
        let applied = call.nonce < final_nonces[call.from] && call.fate != Fate::Dropped;
        if call.fate == Fate::Acked {
            ensure!(applied, "an acknowledged call was lost: {call:?} (final nonce {})", final_nonces[call.from]);
        }
        if applied {
            balances[call.from] -= call.amount;
            balances[call.to] += call.amount;
        }
    }
    Ok(balances.into_iter().zip(final_nonces.iter().copied()).collect())
}

/// Transfers from `accounts[from]` to `accounts[0]` through validateer `via`, one at a time,
/// until `via` has authored a block since byte `log_from` of its log (at most 8).
async fn probe(
    shard: &Shard,
    accounts: &[Signer],
    sent: &mut Vec<Sent>,
    via: usize,
    from: usize,
    log_from: usize,
) -> Result<()> {
    let trusted = shard.trusted(via).await?;
    for _ in 0..8 {
        let call = TrustedCall::Transfer { from: accounts[from].account(), to: accounts[0].account(), amount: 7 };
        let nonce = trusted.nonce(&accounts[from]).await?;
        let before = trusted.balance(&accounts[0]).await?;
        let fate = Direct::connect(&shard.workers[via].url(), shard.mrenclave)
            .await?
            .submit(&accounts[from], call, nonce)
            .await;
        ensure!(fate == Fate::Acked, "a call to validateer {via}: {fate:?}\n{}", shard.logs());
        // A call the crash left unanswered and whose nonce the shard hands out again was not
        // applied; an acknowledged one must never be in that place.
        for earlier in sent.iter_mut().filter(|s| s.from == from && s.nonce >= nonce) {
            ensure!(earlier.fate != Fate::Acked, "an acknowledged call was lost: {earlier:?}");
            earlier.fate = Fate::Dropped;
        }
        sent.push(Sent { from, to: 0, amount: 7, nonce, fate });
        wait_for("the call in a block", MINUTE, || async {
            (trusted.balance(&accounts[0]).await.ok()? >= before + 7).then_some(())
        })
        .await
        .with_context(|| shard.logs())?;
        if shard.authored_since(via, log_from) > 0 {
            break;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_validateers_agree_survive_a_crash_and_take_in_a_late_fourth() -> Result<()> {
    const STREAMERS: usize = 6;
    const FUNDS: Balance = 10 * UNIT;
    let mut shard = Shard::start(3).await?;
    for i in 1..3 {
        ensure!(
            shard.log(i).contains("received the shard's keys and state from a validateer of the shard"),
            "validateer {i} did not join by mutual attestation:\n{}",
            shard.logs()
        );
    }
    // The streamers, then an account for probes only (its pool is empty whenever it is used).
    const PROBE: usize = STREAMERS;
    let accounts: Arc<Vec<Signer>> =
        Arc::new((0..=STREAMERS).map(|i| crate::fresh_account(&format!("validateers-{i}"))).collect());
    shard.shield(&accounts, FUNDS).await?;
    let funded = shard.agree(&[0, 1, 2]).await?;

    // A steady stream, each sender through one validateer, two per validateer.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for from in 0..STREAMERS {
        handles.push(stream(&shard, accounts.clone(), from, from % 3, 0, stop.clone(), acked.clone()).await?);
    }
    wait_for("calls acknowledged before the crash", 2 * MINUTE, || async {
        (acked.load(Ordering::Relaxed) >= 40).then_some(())
    })
    .await?;

    // SIGKILL validateer 2 mid-stream; its streamers stop at their unanswered call, the others
    // go on.
    shard.workers[2].kill();
    let at_kill = acked.load(Ordering::Relaxed);
    wait_for("calls acknowledged after the crash", 2 * MINUTE, || async {
        (acked.load(Ordering::Relaxed) >= at_kill + 30).then_some(())
    })
    .await
    .with_context(|| shard.logs())?;
    stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for handle in handles {
        sent.extend(handle.await?);
    }
    let survivors = shard.agree(&[0, 1]).await?;
    ensure!(survivors.number > funded.number, "the two left went on: {survivors:?} after {funded:?}");

    // Back up on the same base path: it catches up, agrees, and authors again.
    let log_before = shard.log(2).len();
    shard.workers[2].spawn().await.with_context(|| shard.logs())?;
    shard.agree(&[0, 1, 2]).await?;
    ensure!(shard.log(2)[log_before..].contains("caught up with the shard's validateers"), "{}", shard.logs());
    // The probe account, through the restarted validateer.
    probe(&shard, &accounts, &mut sent, 2, PROBE, log_before).await?;
    ensure!(shard.authored_since(2, log_before) > 0, "the restarted validateer never authored:\n{}", shard.logs());

    // A fourth joins late: provisioned by one of the others, it catches up and agrees.
    let fourth = shard.add().await?;
    ensure!(
        shard.log(fourth).contains("received the shard's keys and state from a validateer of the shard"),
        "{}",
        shard.logs()
    );
    probe(&shard, &accounts, &mut sent, fourth, PROBE, 0).await?;
    ensure!(shard.authored_since(fourth, 0) > 0, "the late validateer never authored:\n{}", shard.logs());
    let all: Vec<usize> = (0..shard.workers.len()).collect();
    let head = shard.agree(&all).await?;

    // Nothing acknowledged was lost or applied twice, at every validateer.
    let final_nonces: Vec<Nonce> = shard.state_at(0, &accounts).await?.into_iter().map(|(_, n)| n).collect();
    let want = expected(FUNDS, accounts.len(), &sent, &final_nonces)?;
    for i in all {
        let got = shard.state_at(i, &accounts).await?;
        ensure!(got == want, "validateer {i} holds {got:?}, the calls sent give {want:?}\n{}", shard.logs());
    }
    // The same blocks, block for block, at the head's height.
    let blocks: Vec<Vec<SignedSidechainBlock>> = {
        let mut out = Vec::new();
        for i in 0..shard.workers.len() {
            out.push(shard.blocks(i, head.number).await?);
        }
        out
    };
    for (i, list) in blocks.iter().enumerate() {
        let at_head = list.first().with_context(|| format!("validateer {i} serves no block {}", head.number))?;
        ensure!(format!("{:?}", at_head.hash()) == head.hash, "validateer {i} serves another block {}", head.number);
        ensure!(format!("{:?}", at_head.header.state_root) == head.state_root);
    }
    let authors: std::collections::HashSet<[u8; 32]> =
        shard.blocks(0, funded.number.max(1)).await?.iter().map(|b| b.header.author).collect();
    ensure!(authors.len() >= 3, "the validateers took turns: {} authors", authors.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_signing_two_blocks_for_one_slot_is_caught_and_its_blocks_refused() -> Result<()> {
    const FUNDS: Balance = 10 * UNIT;
    let mut shard = Shard::start(3).await?;
    let accounts: Arc<Vec<Signer>> = Arc::new((0..5).map(|i| crate::fresh_account(&format!("twins-{i}"))).collect());
    shard.shield(&accounts, FUNDS).await?;
    shard.agree(&[0, 1, 2]).await?;

    // Validateer 2's keys run twice: stop it, copy its base path, start both.
    let twin_key = shard.workers[2].signing_key()?;
    shard.workers[2].terminate()?;
    let twin = shard.workers[2].twin()?;
    shard.workers.push(twin);
    shard.workers[2].spawn().await.with_context(|| shard.logs())?;
    shard.workers[3].spawn().await.with_context(|| shard.logs())?;

    // Both instances get calls of their own, so both have a block to make in their slots.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for (from, via) in [(0, 2), (1, 2), (2, 3), (3, 3)] {
        let nonce = shard.trusted(via).await?.nonce(&accounts[from]).await?;
        handles.push(stream(&shard, accounts.clone(), from, via, nonce, stop.clone(), acked.clone()).await?);
    }
    let marker = format!("equivocation: validateer 0x{}", hex::encode(twin_key));
    let caught = wait_for("an honest validateer to catch the double signing", 3 * MINUTE, || async {
        [0usize, 1].into_iter().find(|i| shard.log(*i).contains(&marker))
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        let _ = handle.await;
    }
    let honest = caught.with_context(|| shard.logs())?;
    let log = shard.log(honest);
    let line = log.lines().find(|l| l.contains(&marker)).unwrap_or_default();
    let slot: u64 = line
        .split("signed two blocks for slot ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|s| s.trim().parse().ok())
        .with_context(|| format!("no slot in {line}"))?;

    // The honest two go on without the key, and agree; none of its blocks from that slot on is
    // in their chain.
    let before = shard.head(0).await?;
    // An account the twins' streams never used.
    let alice_like = &accounts[4];
    let trusted = shard.trusted(0).await?;
    let nonce = trusted.nonce(alice_like).await?;
    let fate = Direct::connect(&shard.workers[0].url(), shard.mrenclave)
        .await?
        .submit(
            alice_like,
            TrustedCall::Transfer { from: alice_like.account(), to: accounts[1].account(), amount: 5 },
            nonce,
        )
        .await;
    ensure!(fate == Fate::Acked, "{fate:?}");
    wait_for("the honest validateers to go on", MINUTE, || async {
        (trusted.nonce(alice_like).await.ok()? > nonce).then_some(())
    })
    .await
    .with_context(|| shard.logs())?;
    let head = shard.agree(&[0, 1]).await?;
    ensure!(head.number > before.number.saturating_sub(1));
    for i in [0usize, 1] {
        for block in shard.blocks(i, 1).await? {
            ensure!(
                !(block.header.author == twin_key && block.header.slot >= slot),
                "validateer {i} holds block {} by the double-signing key in slot {} (caught at slot {slot})",
                block.header.number,
                block.header.slot
            );
        }
    }
    ensure!(
        [2usize, 3].iter().any(|i| shard.log(*i).contains("another instance runs with the same key"))
            || [0usize, 1].iter().any(|i| shard.log(*i).contains("caught signing two blocks for one slot")),
        "neither the twins noticed each other nor were their later blocks refused:\n{}",
        shard.logs()
    );
    Ok(())
}
