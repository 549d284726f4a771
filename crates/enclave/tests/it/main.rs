//! The enclave through its boundary, as the host drives it: byte buffers in and out, keys that
//! survive a restart, and sealed files that refuse tampering.

use cloister_enclave::{
    boundary::{CallError, EcallId, Ecalls, EnclaveClient, EnclaveError, OcallId, Ocalls},
    keys::shield,
    software::{measure, SoftwareEnclave},
    Mrenclave,
};
use codec::Decode;
use std::sync::Arc;

struct Host;

impl Ocalls for Host {
    fn ocall(&self, id: OcallId, _request: &[u8]) -> Vec<u8> {
        match id {
            OcallId::Time => codec::Encode::encode(&0u64),
            // These tests open no shard: no block is stored or read.
            OcallId::StoreBlock => codec::Encode::encode(&Err::<(), String>("no block store".into())),
            OcallId::FetchBlocks => codec::Encode::encode(&Vec::<Vec<u8>>::new()),
        }
    }
}

fn enclave(dir: &std::path::Path, mrenclave: Mrenclave) -> EnclaveClient<SoftwareEnclave> {
    EnclaveClient::new(SoftwareEnclave::new(mrenclave, dir.to_path_buf(), Arc::new(Host)))
}

#[test]
fn keys_come_out_of_the_enclave_as_bytes_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let mrenclave = Mrenclave([9; 32]);
    let first = enclave(dir.path(), mrenclave);
    assert_eq!(first.shielding_public_key(), Err(CallError::Enclave(EnclaveError::NotInitialised)));
    first.init().expect("init");
    assert_eq!(first.mrenclave().expect("mrenclave"), mrenclave);
    let (shielding, signing) = (first.shielding_public_key().expect("key"), first.signing_public_key().expect("key"));
    drop(first);

    let restarted = enclave(dir.path(), mrenclave);
    restarted.init().expect("init again");
    assert_eq!(restarted.shielding_public_key().expect("key"), shielding, "same sealed keys");
    assert_eq!(restarted.signing_public_key().expect("key"), signing);
    // A client can encrypt to the key the enclave published.
    assert!(shield(&shielding, b"shard", b"hello").is_ok());
}

#[test]
fn another_build_cannot_open_the_sealed_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    enclave(dir.path(), Mrenclave([1; 32])).init().expect("init");
    let other = enclave(dir.path(), Mrenclave([2; 32]));
    let refused = other.init();
    assert!(matches!(refused, Err(CallError::Enclave(EnclaveError::Sealing(_)))), "{refused:?}");
}

#[test]
fn tampered_sealed_keys_are_refused_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().expect("tmp");
    enclave(dir.path(), Mrenclave([1; 32])).init().expect("init");
    let path = dir.path().join("signing-key.sealed");
    let mut bytes = std::fs::read(&path).expect("sealed key");
    bytes[20] ^= 0x40;
    std::fs::write(&path, &bytes).expect("tamper");
    let refused = enclave(dir.path(), Mrenclave([1; 32])).init();
    assert!(
        matches!(refused, Err(CallError::Enclave(EnclaveError::Sealing(ref m))) if m.contains("tampered")),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&path).expect("still there"), bytes, "the enclave does not replace a tampered key");
}

#[test]
fn malformed_requests_get_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let raw = SoftwareEnclave::new(Mrenclave([1; 32]), dir.path().to_path_buf(), Arc::new(Host));
    let answer = raw.ecall(EcallId::Init, b"unexpected bytes");
    assert_eq!(Result::<(), EnclaveError>::decode(&mut &answer[..]), Ok(Err(EnclaveError::Malformed)));
}

#[test]
fn the_measurement_is_the_hash_of_the_executable() {
    let dir = tempfile::tempdir().expect("tmp");
    let exe = dir.path().join("worker");
    std::fs::write(&exe, b"build 1").expect("write");
    let first = measure(&exe).expect("measure");
    assert_eq!(first, measure(&exe).expect("again"), "deterministic");
    std::fs::write(&exe, b"build 2").expect("write");
    assert_ne!(first, measure(&exe).expect("measure"), "a changed build is another enclave");
    assert_eq!(first.to_string().parse::<Mrenclave>(), Ok(first));
}
