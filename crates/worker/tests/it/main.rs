//! The `cloister-worker` binary as an operator runs it.

mod bench;
mod light_client;

use std::process::Command;

fn worker(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cloister-worker")).args(args).output().expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn mrenclave_is_the_hash_of_the_binary() {
    let (ok, out, err) = worker(&["mrenclave"]);
    assert!(ok, "{err}");
    let binary = std::fs::read(env!("CARGO_BIN_EXE_cloister-worker")).expect("binary");
    assert_eq!(out, format!("0x{}", hex::encode(sp_crypto_hashing::blake2_256(&binary))));
}

#[test]
fn keys_are_made_once_sealed_and_the_same_on_every_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().to_str().expect("utf8");
    let (ok, shielding, err) = worker(&["shielding-key", "--base-path", base]);
    assert!(ok, "{err}");
    assert!(err.contains("NO protection against root"), "start-up says what the software backend is: {err}");
    assert_eq!(shielding.len(), 66, "0x + 32 bytes: {shielding}");
    let (_, signing, _) = worker(&["signing-key", "--base-path", base]);
    assert_eq!(worker(&["shielding-key", "--base-path", base]).1, shielding);
    assert_eq!(worker(&["signing-key", "--base-path", base]).1, signing);
    let sealed = std::fs::read(dir.path().join("enclave/signing-key.sealed")).expect("sealed key");
    let hex_key = signing.split_whitespace().nth(1).unwrap_or_default().trim_start_matches("0x").to_string();
    assert!(!hex::encode(&sealed).contains(&hex_key), "the sealed file does not hold the key in clear");
}

#[test]
fn a_tampered_sealed_key_stops_the_worker_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let base = dir.path().to_str().expect("utf8");
    assert!(worker(&["signing-key", "--base-path", base]).0);
    let path = dir.path().join("enclave/signing-key.sealed");
    let mut bytes = std::fs::read(&path).expect("sealed");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("tamper");
    let (ok, _, err) = worker(&["signing-key", "--base-path", base]);
    assert!(!ok, "the worker must not start on a tampered key");
    assert!(err.contains("tampered"), "{err}");
}
