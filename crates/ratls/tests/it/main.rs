//! RA-TLS end to end over real sockets on 127.0.0.1: a jsonrpsee client from
//! `cloister_ratls::connect`, a host loop moving ciphertext, and `ServerSession`s terminating TLS
//! and WebSocket; and mutual RA-TLS (MU-RA) between two `MutualSession`s (`mutual.rs`).

mod host;
mod mutual;

use cloister_ratls::{
    connect, generate_identity, CertRejection, EvidenceVerifier, RatlsError, ServerIdentity, SessionLimits,
};
use host::Host;
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MRENCLAVE: [u8; 32] = [0x42; 32];

/// Test evidence, standing in for a SCALE `Attestation`: `MRENCLAVE || report data`.
fn attest(mrenclave: [u8; 32]) -> impl FnOnce(&[u8; 32]) -> Vec<u8> {
    move |binding| [mrenclave.as_slice(), binding].concat()
}

/// The check a client makes of test evidence: report data must be the key binding.
fn check_evidence() -> EvidenceVerifier {
    Arc::new(|evidence: &[u8], binding: &[u8; 32]| {
        let (mrenclave, report_data) = evidence.split_at_checked(32).ok_or("evidence too short")?;
        if report_data != binding {
            return Err("report data do not bind the certificate's key".into());
        }
        mrenclave.try_into().map_err(|_| "bad MRENCLAVE".to_string())
    })
}

async fn enclave_host(identity: &ServerIdentity) -> Host {
    Host::start(identity.server_config().expect("config"), SessionLimits::default()).await
}

#[tokio::test]
async fn client_calls_a_method_over_attested_tls() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let host = enclave_host(&identity).await;
    let client = connect(&host.url, MRENCLAVE, check_evidence()).await.expect("attested connection");
    let answer: String = client.request("echo", rpc_params!["hello enclave"]).await.expect("echo");
    assert_eq!(answer, "hello enclave");
    let answer: u64 = client.request("echo", rpc_params![7]).await.expect("echo again");
    assert_eq!(answer, 7);
}

#[tokio::test]
async fn restored_identity_serves_the_same_certificate() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let restored = ServerIdentity::from_bytes(&identity.to_bytes()).expect("unsealed");
    let host = enclave_host(&restored).await;
    let client = connect(&host.url, MRENCLAVE, check_evidence()).await.expect("attested connection");
    let answer: String = client.request("echo", rpc_params!["after restart"]).await.expect("echo");
    assert_eq!(answer, "after restart");
}

#[tokio::test]
async fn server_pushes_subscription_notifications() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let host = enclave_host(&identity).await;
    let client = connect(&host.url, MRENCLAVE, check_evidence()).await.expect("attested connection");
    let mut ticks =
        client.subscribe::<u64, _>("subscribe_ticks", rpc_params![], "unsubscribe_ticks").await.expect("subscribed");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let tick = tokio::time::timeout(std::time::Duration::from_secs(10), ticks.next())
            .await
            .expect("notification in time")
            .expect("stream open")
            .expect("decodes");
        seen.push(tick);
    }
    assert_eq!(seen, vec![1, 2, 3]);
}

#[tokio::test]
async fn several_clients_are_served_at_once() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let host = enclave_host(&identity).await;
    let mut calls = Vec::new();
    for i in 0..4u64 {
        let client = connect(&host.url, MRENCLAVE, check_evidence()).await.expect("connects");
        calls.push(tokio::spawn(async move { client.request::<u64, _>("echo", rpc_params![i]).await }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.expect("task").expect("echo"));
    }
    assert_eq!(answers, vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn wrong_pinned_mrenclave_is_refused() {
    let identity = generate_identity(attest([0x66; 32])).expect("identity");
    let mut host = enclave_host(&identity).await;
    let error = connect(&host.url, MRENCLAVE, check_evidence()).await.expect_err("refused");
    assert!(
        matches!(error, RatlsError::Refused(CertRejection::MrenclaveMismatch { expected, found })
            if expected == MRENCLAVE && found == [0x66; 32]),
        "{error}"
    );
    assert!(error.to_string().contains(&hex_of(0x66)), "{error}");
    let ended = host.next_ended().await;
    assert!(matches!(ended.error, Some(RatlsError::Tls(_))), "server sees the client's alert: {ended:?}");
    assert_eq!(ended.received, 0);
}

fn hex_of(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

#[tokio::test]
async fn rejected_evidence_is_refused() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let host = enclave_host(&identity).await;
    let reject: EvidenceVerifier = Arc::new(|_: &[u8], _: &[u8; 32]| Err("quote signature invalid".to_string()));
    let error = connect(&host.url, MRENCLAVE, reject).await.expect_err("refused");
    assert!(
        matches!(&error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason == "quote signature invalid"),
        "{error}"
    );
}

#[tokio::test]
async fn evidence_bound_to_another_key_is_refused() {
    let genuine = generate_identity(attest(MRENCLAVE)).expect("identity");
    // An attacker's key with the genuine enclave's evidence copied into its certificate.
    let impostor = generate_identity(|_| genuine.evidence().to_vec()).expect("identity");
    assert_ne!(impostor.key_binding(), genuine.key_binding());
    let host = enclave_host(&impostor).await;
    let error = connect(&host.url, MRENCLAVE, check_evidence()).await.expect_err("refused");
    assert!(
        matches!(&error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason.contains("bind")),
        "{error}"
    );
}

#[tokio::test]
async fn certificate_without_evidence_is_refused() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .expect("config");
    let host = Host::start(Arc::new(config), SessionLimits::default()).await;
    let error = connect(&host.url, MRENCLAVE, check_evidence()).await.expect_err("refused");
    assert!(matches!(error, RatlsError::Refused(CertRejection::MissingEvidence)), "{error}");
}

#[tokio::test]
async fn plain_ws_url_is_refused_before_dialling() {
    let error = connect("ws://127.0.0.1:9", MRENCLAVE, check_evidence()).await.expect_err("refused");
    assert!(matches!(error, RatlsError::NotTls(_)), "{error}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let error = connect(&format!("wss://127.0.0.1:{port}"), MRENCLAVE, check_evidence()).await.expect_err("refused");
    assert!(matches!(error, RatlsError::Connect { .. }), "{error}");
}

#[tokio::test]
async fn garbage_bytes_close_the_session() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let mut host = enclave_host(&identity).await;
    let mut socket = tokio::net::TcpStream::connect(host.url.trim_start_matches("wss://")).await.expect("tcp");
    socket.write_all(b"GET / HTTP/1.1\r\nHost: enclave\r\n\r\n").await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("server hangs up in time")
        .expect("read");
    assert_eq!(answer.first(), Some(&0x15), "a TLS alert, then the end of the stream");
    let ended = host.next_ended().await;
    assert!(matches!(ended.error, Some(RatlsError::Tls(_))), "{ended:?}");
    assert!(ended.closed);
}

#[tokio::test]
async fn oversized_message_closes_the_session() {
    let identity = generate_identity(attest(MRENCLAVE)).expect("identity");
    let limits = SessionLimits { max_message_size: 64 * 1024, ..SessionLimits::default() };
    let mut host = Host::start(identity.server_config().expect("config"), limits).await;
    let client = connect(&host.url, MRENCLAVE, check_evidence()).await.expect("attested connection");
    let small: String = client.request("echo", rpc_params!["fits"]).await.expect("echo");
    assert_eq!(small, "fits");
    let big = "x".repeat(256 * 1024);
    let result = client.request::<String, _>("echo", rpc_params![big]).await;
    assert!(result.is_err(), "an oversized request gets no answer");
    let ended = host.next_ended().await;
    assert!(matches!(ended.error, Some(RatlsError::MessageTooLarge { limit: 65536 })), "{ended:?}");
    assert!(ended.closed);
    assert_eq!(ended.received, 1);
    tokio::time::timeout(std::time::Duration::from_secs(10), client.on_disconnect())
        .await
        .expect("client sees the close");
}
