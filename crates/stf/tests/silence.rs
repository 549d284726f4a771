//! The runtime's log records never reach the host's logger: the pallets log what a shard
//! protects, and in the software backend the enclave shares the host's process. In its own test
//! binary, because it installs the process-wide subscriber (as the worker does) and other tests'
//! threads would race its callsite interest.

use cloister_stf::ShardState;
use std::sync::Mutex;

/// The targets of the events that reach the process's logger (log records by their own
/// target).
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The process's logger in this test binary: records targets.
struct Recording;

impl tracing::Subscriber for Recording {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        use tracing_log::NormalizeEvent;
        let target = event.normalized_metadata().map(|m| m.target().to_string());
        let target = target.unwrap_or_else(|| event.metadata().target().to_string());
        if let Ok(mut seen) = SEEN.lock() {
            seen.push(target);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn nothing_the_runtime_logs_reaches_the_hosts_logger() {
    // As the worker sets it up: one process-wide subscriber, `log` records bridged to it.
    // (Process-wide, so that other tests' threads cannot race its callsite interest.)
    let _ = tracing::subscriber::set_global_default(Recording);
    let _ = tracing_log::LogTracer::init();
    tracing::info!(target: "silence-test-outside", "outside the runtime");
    log::info!(target: "silence-test-outside", "outside the runtime, through log");
    let mut state = ShardState::empty();
    let pending = state
        .execute(|| {
            tracing::info!(target: "silence-test-inside", "a claimant's account");
            log::info!(target: "silence-test-inside", "a claimant's account, through log");
            log::error!(target: "silence-test-inside", "an amount");
        })
        .expect("execute");
    state.commit(pending).expect("commit");
    state.read(|| log::warn!(target: "silence-test-inside", "a getter's subject")).expect("read");
    let seen = SEEN.lock().map(|s| s.clone()).unwrap_or_default();
    let count = |target: &str| seen.iter().filter(|t| *t == target).count();
    assert_eq!(count("silence-test-outside"), 2, "the logger works: {seen:?}");
    assert_eq!(count("silence-test-inside"), 0, "nothing from inside the runtime: {seen:?}");
}
