//! Subscriptions of the node API and the GRANDPA methods.
//!
//! Head subscriptions send the current head first, then every change, as Substrate does.

use super::*;
use jsonrpsee::{core::SubscriptionResult, PendingSubscriptionSink, SubscriptionMessage, SubscriptionSink};
use std::collections::HashMap;
use tokio::sync::broadcast::error::RecvError;

async fn send<T: Serialize>(sink: &SubscriptionSink, value: &T) -> Result<(), ()> {
    let raw = serde_json::value::to_raw_value(value).map_err(|_| ())?;
    sink.send(SubscriptionMessage::from(raw)).await.map_err(|_| ())
}

/// Receives the next chain event, skipping over any the subscriber was too slow to take.
async fn next_event(events: &mut broadcast::Receiver<ChainEvent>) -> Option<ChainEvent> {
    loop {
        match events.recv().await {
            Ok(event) => return Some(event),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

/// The next chain event, or `None` once the subscriber has gone or the chain has stopped.
async fn next_or_closed(sink: &SubscriptionSink, events: &mut broadcast::Receiver<ChainEvent>) -> Option<ChainEvent> {
    tokio::select! {
        _ = sink.closed() => None,
        event = next_event(events) => event,
    }
}

#[derive(Clone, Copy)]
enum Heads {
    New,
    All,
    Finalized,
}

async fn follow_heads<B: NodeBackend>(
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeRpc<B>>,
    kind: Heads,
) -> SubscriptionResult {
    let mut events = ctx.backend.subscribe();
    let sink = pending.accept().await?;
    let heads = ctx.backend.heads();
    let first = match kind {
        Heads::New | Heads::All => heads.best_hash,
        Heads::Finalized => heads.finalized_hash,
    };
    if let Ok(Some(header)) = ctx.backend.header(first) {
        if send(&sink, &header).await.is_err() {
            return Ok(());
        }
    }
    loop {
        let Some(event) = next_or_closed(&sink, &mut events).await else { return Ok(()) };
        let headers: Vec<Header> = match (&event, kind) {
            (ChainEvent::Imported { header, is_new_best: true, .. }, Heads::New) => vec![header.clone()],
            (ChainEvent::Imported { header, .. }, Heads::All) => vec![header.clone()],
            (ChainEvent::Finalized { blocks }, Heads::Finalized) => blocks.iter().map(|(_, h)| h.clone()).collect(),
            _ => continue,
        };
        for header in headers {
            if send(&sink, &header).await.is_err() {
                return Ok(());
            }
        }
    }
}

async fn follow_runtime_version<B: NodeBackend>(
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeRpc<B>>,
) -> SubscriptionResult {
    let mut events = ctx.backend.subscribe();
    let sink = pending.accept().await?;
    let mut last = match ctx.runtime_version(None) {
        Ok(v) => v,
        Err(_) => return Ok(()),
    };
    if send(&sink, &last).await.is_err() {
        return Ok(());
    }
    loop {
        let Some(event) = next_or_closed(&sink, &mut events).await else { return Ok(()) };
        if let ChainEvent::Imported { hash, is_new_best: true, .. } = event {
            if let Ok(version) = ctx.runtime_version(Some(hash)) {
                if version != last {
                    last = version;
                    if send(&sink, &last).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

async fn follow_storage<B: NodeBackend>(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeRpc<B>>,
) -> SubscriptionResult {
    let keys: Option<Vec<Bytes>> = match Positional::new(&params).optional() {
        Ok(keys) => keys,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let Some(keys) = keys.filter(|k| !k.is_empty()) else {
        pending.reject(invalid_params("subscribing to all storage keys is not supported; name the keys")).await;
        return Ok(());
    };
    let mut events = ctx.backend.subscribe();
    let sink = pending.accept().await?;
    let read = |at: Hash| -> HashMap<Bytes, Option<Bytes>> {
        keys.iter().map(|k| (k.clone(), ctx.backend.storage(at, k).ok().flatten().map(Bytes))).collect()
    };
    let best = ctx.backend.heads().best_hash;
    let mut last = read(best);
    let initial =
        StorageChangeSet { block: best, changes: keys.iter().map(|k| (k.clone(), last[k].clone())).collect() };
    if send(&sink, &initial).await.is_err() {
        return Ok(());
    }
    loop {
        let Some(event) = next_or_closed(&sink, &mut events).await else { return Ok(()) };
        let ChainEvent::Imported { hash, is_new_best: true, .. } = event else { continue };
        let now = read(hash);
        let changes: Vec<_> =
            keys.iter().filter(|k| now.get(*k) != last.get(*k)).map(|k| (k.clone(), now[k].clone())).collect();
        last = now;
        if !changes.is_empty() && send(&sink, &StorageChangeSet { block: hash, changes }).await.is_err() {
            return Ok(());
        }
    }
}

async fn watch_extrinsic<B: NodeBackend>(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeRpc<B>>,
) -> SubscriptionResult {
    let extrinsic: Bytes = match Positional::new(&params).required() {
        Ok(x) => x,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let mut statuses = match ctx.backend.submit_and_watch(extrinsic.0) {
        Ok((_, rx)) => rx,
        Err(e) => {
            pending.reject(submit_error(e)).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    loop {
        let status = tokio::select! {
            _ = sink.closed() => return Ok(()),
            status = statuses.recv() => match status { Some(s) => s, None => return Ok(()) },
        };
        let last = matches!(
            status,
            TransactionStatus::Finalized(_)
                | TransactionStatus::Usurped(_)
                | TransactionStatus::Dropped
                | TransactionStatus::Invalid
                | TransactionStatus::FinalityTimeout(_)
        );
        if send(&sink, &status).await.is_err() || last {
            return Ok(());
        }
    }
}

async fn follow_justifications<B: NodeBackend>(
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeRpc<B>>,
) -> SubscriptionResult {
    let mut events = ctx.backend.subscribe();
    let sink = pending.accept().await?;
    loop {
        let Some(event) = next_or_closed(&sink, &mut events).await else { return Ok(()) };
        let ChainEvent::Finalized { blocks } = event else { continue };
        for (hash, _) in blocks {
            if let Ok(Some(justification)) = ctx.backend.justification(hash) {
                if send(&sink, &Bytes(justification)).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// A GRANDPA finality proof, as `grandpa_proveFinality` returns it (SCALE-encoded).
#[derive(Encode, Decode, Debug, PartialEq, Eq)]
pub struct FinalityProof {
    /// The finalized block the justification is for.
    pub block: Hash,
    /// The encoded GRANDPA justification.
    pub justification: Vec<u8>,
    /// Headers between the requested block and `block`, oldest first.
    pub unknown_headers: Vec<Header>,
}

fn prove_finality<B: NodeBackend>(
    ctx: &NodeRpc<B>,
    number: BlockNumber,
) -> Result<Option<FinalityProof>, ErrorObjectOwned> {
    let heads = ctx.backend.heads();
    if number > heads.finalized_number {
        return Ok(None);
    }
    // The first block at or above `number` with a stored justification proves it final.
    let mut unknown_headers = Vec::new();
    for n in number..=heads.finalized_number {
        let Some(hash) = ctx.backend.block_hash(n).map_err(|e| error(codes::CHAIN, e))? else { return Ok(None) };
        if let Some(justification) = ctx.backend.justification(hash).map_err(|e| error(codes::CHAIN, e))? {
            return Ok(Some(FinalityProof { block: hash, justification, unknown_headers }));
        }
        if n > number {
            if let Some(header) = ctx.backend.header(hash).map_err(|e| error(codes::CHAIN, e))? {
                unknown_headers.push(header);
            }
        }
    }
    Ok(None)
}

pub(super) fn register<B: NodeBackend>(m: &mut RpcModule<NodeRpc<B>>) {
    let _ = m.register_subscription(
        "chain_subscribeNewHeads",
        "chain_newHead",
        "chain_unsubscribeNewHeads",
        |_, p, ctx, _| follow_heads(p, ctx, Heads::New),
    );
    let _ = m.register_subscription(
        "chain_subscribeAllHeads",
        "chain_allHead",
        "chain_unsubscribeAllHeads",
        |_, p, ctx, _| follow_heads(p, ctx, Heads::All),
    );
    let _ = m.register_subscription(
        "chain_subscribeFinalizedHeads",
        "chain_finalizedHead",
        "chain_unsubscribeFinalizedHeads",
        |_, p, ctx, _| follow_heads(p, ctx, Heads::Finalized),
    );
    let _ = m.register_alias("chain_subscribeFinalisedHeads", "chain_subscribeFinalizedHeads");
    let _ = m.register_alias("chain_unsubscribeFinalisedHeads", "chain_unsubscribeFinalizedHeads");
    for (alias, name) in [
        ("chain_subscribeNewHead", "chain_subscribeNewHeads"),
        ("chain_unsubscribeNewHead", "chain_unsubscribeNewHeads"),
        ("subscribe_newHead", "chain_subscribeNewHeads"),
        ("unsubscribe_newHead", "chain_unsubscribeNewHeads"),
    ] {
        let _ = m.register_alias(alias, name);
    }
    let _ = m.register_subscription(
        "state_subscribeRuntimeVersion",
        "state_runtimeVersion",
        "state_unsubscribeRuntimeVersion",
        |_, p, ctx, _| follow_runtime_version(p, ctx),
    );
    let _ = m.register_alias("chain_subscribeRuntimeVersion", "state_subscribeRuntimeVersion");
    let _ = m.register_alias("chain_unsubscribeRuntimeVersion", "state_unsubscribeRuntimeVersion");
    let _ = m.register_subscription(
        "state_subscribeStorage",
        "state_storage",
        "state_unsubscribeStorage",
        |params, p, ctx, _| follow_storage(params, p, ctx),
    );
    let _ = m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |params, p, ctx, _| watch_extrinsic(params, p, ctx),
    );
    let _ = m.register_subscription(
        "grandpa_subscribeJustifications",
        "grandpa_justifications",
        "grandpa_unsubscribeJustifications",
        |_, p, ctx, _| follow_justifications(p, ctx),
    );
    let _ = m.register_method("grandpa_proveFinality", |p, ctx, _| -> Result<serde_json::Value, ErrorObjectOwned> {
        let number: NumberOrHex = Positional::new(&p).required()?;
        let number = number.to_block_number().ok_or_else(|| invalid_params("block number out of range"))?;
        to_json(&prove_finality(ctx, number)?.map(|proof| Bytes(proof.encode())))
    });
    let _ = m.register_method("grandpa_roundState", |_, ctx, _| -> Result<serde_json::Value, ErrorObjectOwned> {
        ctx.backend.grandpa_round_state().ok_or_else(|| error(codes::INVALID_PARAMS, "this node runs no GRANDPA voter"))
    });
}
