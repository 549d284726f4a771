//! Mutual RA-TLS (MU-RA) between two I/O-less `MutualSession`s, with the hosts' sockets replaced
//! by moving ciphertext between the sessions in memory, in pieces that split TLS records.

use cloister_ratls::{
    generate_identity, AttestedServerVerifier, CertRejection, MutualSession, PeerVerifier, RatlsError, ServerIdentity,
};
use codec::{Decode, Encode};
use rustls::AlertDescription;
use std::sync::Arc;

/// What the hosts read from a socket at once: not a multiple of the TLS record size, so records
/// and length prefixes arrive split.
const READ: usize = 16 * 1024 + 7;

const MAX_MESSAGE: usize = 32 << 20;

/// Test evidence, standing in for a SCALE `Attestation`: SCALE `(identity, report data)`.
fn attest(identity: &[u8]) -> impl FnOnce(&[u8; 32]) -> Vec<u8> {
    let identity = identity.to_vec();
    move |binding| (identity, *binding).encode()
}

fn validateer(name: &[u8]) -> ServerIdentity {
    generate_identity(attest(name)).expect("identity")
}

/// A peer check as the registry makes it: report data must bind the certificate's key, and the
/// attested identity must be registered; returns that identity.
fn registry(registered: &[&[u8]]) -> PeerVerifier {
    let registered: Vec<Vec<u8>> = registered.iter().map(|name| name.to_vec()).collect();
    Arc::new(move |evidence: &[u8], binding: &[u8; 32]| {
        let (identity, report_data) =
            <(Vec<u8>, [u8; 32])>::decode(&mut &evidence[..]).map_err(|_| "evidence does not decode".to_string())?;
        if &report_data != binding {
            return Err("report data do not bind the certificate's key".into());
        }
        if !registered.contains(&identity) {
            return Err(format!("{} is not a registered validateer", String::from_utf8_lossy(&identity)));
        }
        Ok(identity)
    })
}

/// What one side got from the other.
#[derive(Debug, Default)]
struct Inbox {
    messages: Vec<Vec<u8>>,
    error: Option<RatlsError>,
}

/// Feeds `bytes` to `session` as a host would, `READ` bytes at a time, until the session closes.
fn deliver(session: &mut MutualSession, bytes: &[u8], inbox: &mut Inbox) {
    for piece in bytes.chunks(READ) {
        if session.is_closed() {
            return;
        }
        match session.feed(piece) {
            Ok(messages) => inbox.messages.extend(messages),
            Err(error) => {
                inbox.error.get_or_insert(error);
                return;
            }
        }
    }
}

/// Two sessions joined by an in-memory "network".
struct Link {
    client: MutualSession,
    server: MutualSession,
    at_client: Inbox,
    at_server: Inbox,
}

impl Link {
    /// `client` dials `server`, each checking the other with the given verifier.
    fn new(
        client: &ServerIdentity,
        verify_server: PeerVerifier,
        server: &ServerIdentity,
        verify_client: PeerVerifier,
    ) -> Self {
        Self::with_limits(client, verify_server, server, verify_client, MAX_MESSAGE)
    }

    fn with_limits(
        client: &ServerIdentity,
        verify_server: PeerVerifier,
        server: &ServerIdentity,
        verify_client: PeerVerifier,
        server_max_message: usize,
    ) -> Self {
        let client_config = client.mutual_client_config(verify_server).expect("client config");
        let server_config = server.mutual_server_config(verify_client).expect("server config");
        Self {
            client: MutualSession::client(client_config, MAX_MESSAGE).expect("client session"),
            server: MutualSession::server(server_config, server_max_message).expect("server session"),
            at_client: Inbox::default(),
            at_server: Inbox::default(),
        }
    }

    /// Moves ciphertext both ways until neither side has anything to send.
    fn pump(&mut self) {
        loop {
            let to_server = self.client.take_outgoing();
            let to_client = self.server.take_outgoing();
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
            deliver(&mut self.server, &to_server, &mut self.at_server);
            deliver(&mut self.client, &to_client, &mut self.at_client);
        }
    }
}

#[test]
fn both_sides_accept_and_messages_flow_both_ways() {
    let (alice, bob) = (validateer(b"alice"), validateer(b"bob"));
    let mut link = Link::new(&alice, registry(&[b"bob"]), &bob, registry(&[b"alice"]));
    assert!(link.client.is_handshaking() && link.server.is_handshaking());
    assert_eq!(link.client.peer_identity(), None);
    link.client.send(b"sent before the handshake").expect("queued");
    link.server.send(b"the server's early word").expect("queued");
    link.pump();

    assert!(!link.client.is_handshaking() && !link.server.is_handshaking());
    assert_eq!(link.client.peer_identity(), Some(b"bob".to_vec()));
    assert_eq!(link.server.peer_identity(), Some(b"alice".to_vec()));
    assert_eq!(link.at_server.messages, vec![b"sent before the handshake".to_vec()]);
    assert_eq!(link.at_client.messages, vec![b"the server's early word".to_vec()]);

    let snapshot: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    link.server.send(b"keys").expect("sent");
    link.server.send(&snapshot).expect("sent");
    link.server.send(b"").expect("sent");
    link.client.send(b"thanks").expect("sent");
    link.pump();

    assert!(
        link.at_client.error.is_none() && link.at_server.error.is_none(),
        "{:?} {:?}",
        link.at_client,
        link.at_server
    );
    assert_eq!(link.at_client.messages.len(), 4);
    assert_eq!(link.at_client.messages[1], b"keys");
    assert!(link.at_client.messages[2] == snapshot, "the 20 MB snapshot arrives intact");
    assert_eq!(link.at_client.messages[3], b"");
    assert_eq!(link.at_server.messages[1..], [b"thanks".to_vec()]);
    assert!(!link.client.is_closed() && !link.server.is_closed());
}

#[test]
fn server_refuses_a_client_whose_evidence_it_rejects() {
    let (mallory, bob) = (validateer(b"mallory"), validateer(b"bob"));
    let mut link = Link::new(&mallory, registry(&[b"bob"]), &bob, registry(&[b"alice"]));
    link.client.send(b"please send the state keys").expect("queued");
    link.pump();

    let error = link.at_server.error.as_ref().expect("the server refuses");
    assert!(
        matches!(error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason == "mallory is not a registered validateer"),
        "{error}"
    );
    assert!(error.to_string().contains("mallory is not a registered validateer"), "{error}");
    assert!(link.at_server.messages.is_empty(), "nothing from a refused client is delivered");
    assert_eq!(link.server.peer_identity(), None);
    assert!(link.server.is_closed());
    assert!(
        matches!(
            link.at_client.error,
            Some(RatlsError::Tls(rustls::Error::AlertReceived(AlertDescription::CertificateUnknown)))
        ),
        "the client learns it was refused: {:?}",
        link.at_client.error
    );
    assert!(link.client.is_closed());
    assert!(matches!(link.client.send(b"more"), Err(RatlsError::Closed)));
}

#[test]
fn client_refuses_a_server_whose_evidence_it_rejects() {
    let (alice, mallory) = (validateer(b"alice"), validateer(b"mallory"));
    let mut link = Link::new(&alice, registry(&[b"bob"]), &mallory, registry(&[b"alice"]));
    link.client.send(b"please send the state keys").expect("queued");
    link.server.send(b"here are the keys").expect("queued");
    link.pump();

    let error = link.at_client.error.as_ref().expect("the client refuses");
    assert!(
        matches!(error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason == "mallory is not a registered validateer"),
        "{error}"
    );
    assert_eq!(link.client.peer_identity(), None);
    assert!(link.client.is_closed());
    assert!(link.at_client.messages.is_empty() && link.at_server.messages.is_empty());
    assert!(
        matches!(
            link.at_server.error,
            Some(RatlsError::Tls(rustls::Error::AlertReceived(AlertDescription::CertificateUnknown)))
        ),
        "{:?}",
        link.at_server.error
    );
    assert_eq!(link.server.peer_identity(), None);
    assert!(link.server.is_closed());
}

#[test]
fn evidence_copied_from_another_identity_is_refused_both_ways() {
    let genuine = validateer(b"alice");
    // Another key with alice's evidence (bound to alice's key) copied into its certificate.
    let impostor = generate_identity(|_| genuine.evidence().to_vec()).expect("identity");
    assert_ne!(impostor.key_binding(), genuine.key_binding());
    let bob = validateer(b"bob");
    let both: &[&[u8]] = &[b"alice", b"bob"];

    let mut as_client = Link::new(&impostor, registry(both), &bob, registry(both));
    as_client.pump();
    let error = as_client.at_server.error.as_ref().expect("the server refuses");
    assert!(
        matches!(error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason.contains("bind")),
        "{error}"
    );
    assert_eq!(as_client.server.peer_identity(), None);

    let mut as_server = Link::new(&bob, registry(both), &impostor, registry(both));
    as_server.pump();
    let error = as_server.at_client.error.as_ref().expect("the client refuses");
    assert!(
        matches!(error, RatlsError::Refused(CertRejection::EvidenceRejected(reason)) if reason.contains("bind")),
        "{error}"
    );
    assert_eq!(as_server.client.peer_identity(), None);
}

#[test]
fn client_without_a_certificate_is_refused() {
    let bob = validateer(b"bob");
    let mut server =
        MutualSession::server(bob.mutual_server_config(registry(&[b"alice"])).expect("config"), MAX_MESSAGE)
            .expect("session");
    // A plain RA-TLS client: it checks the server but has no client certificate.
    let accept_bob = Arc::new(|_: &[u8], _: &[u8; 32]| Ok([0u8; 32]));
    let plain = Arc::new(AttestedServerVerifier::new([0u8; 32], accept_bob)).client_config().expect("config");
    let name = rustls::pki_types::ServerName::try_from("bob").expect("name");
    let mut client = rustls::ClientConnection::new(Arc::new(plain), name).expect("connection");
    std::io::Write::write_all(&mut client.writer(), &4u32.to_le_bytes()).expect("queued");
    std::io::Write::write_all(&mut client.writer(), b"hi!!").expect("queued");

    let mut at_server = Inbox::default();
    let mut client_error = None;
    loop {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).expect("write");
        }
        let to_client = server.take_outgoing();
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        deliver(&mut server, &to_server, &mut at_server);
        if !to_client.is_empty() && client_error.is_none() {
            client.read_tls(&mut &to_client[..]).expect("read");
            if let Err(error) = client.process_new_packets() {
                client_error = Some(error);
            }
        }
    }

    assert!(
        matches!(at_server.error, Some(RatlsError::Refused(CertRejection::NoCertificate))),
        "{:?}",
        at_server.error
    );
    assert!(at_server.messages.is_empty());
    assert!(server.is_closed());
    assert_eq!(server.peer_identity(), None);
    assert_eq!(client_error, Some(rustls::Error::AlertReceived(AlertDescription::CertificateRequired)));
}

#[test]
fn message_longer_than_max_message_is_refused() {
    let (alice, bob) = (validateer(b"alice"), validateer(b"bob"));
    let mut link = Link::with_limits(&alice, registry(&[b"bob"]), &bob, registry(&[b"alice"]), 1024);
    link.client.send(&[1u8; 1024]).expect("sent");
    link.pump();
    assert_eq!(link.at_server.messages, vec![vec![1u8; 1024]], "a message of exactly the limit passes");

    link.client.send(&[2u8; 1025]).expect("sent");
    link.pump();
    assert!(
        matches!(link.at_server.error, Some(RatlsError::MessageTooLarge { limit: 1024 })),
        "{:?}",
        link.at_server.error
    );
    assert_eq!(link.at_server.messages.len(), 1);
    assert!(link.server.is_closed());
    assert!(link.client.is_closed(), "the client got the server's close_notify");
    assert!(link.at_client.error.is_none());
}

#[test]
fn close_ends_the_session_on_both_sides() {
    let (alice, bob) = (validateer(b"alice"), validateer(b"bob"));
    let mut link = Link::new(&alice, registry(&[b"bob"]), &bob, registry(&[b"alice"]));
    link.pump();
    link.client.send(b"last words").expect("sent");
    link.client.close();
    assert!(matches!(link.client.send(b"too late"), Err(RatlsError::Closed)));
    link.pump();
    assert_eq!(link.at_server.messages, vec![b"last words".to_vec()]);
    assert!(link.server.is_closed() && link.at_server.error.is_none());
    assert_eq!(link.server.peer_identity(), Some(b"alice".to_vec()), "who it was stays known");
}

#[test]
fn server_configuration_without_client_check_never_opens_a_session() {
    let (alice, bob) = (validateer(b"alice"), validateer(b"bob"));
    let client_config = alice.mutual_client_config(registry(&[b"bob"])).expect("config");
    let mut client = MutualSession::client(client_config, MAX_MESSAGE).expect("session");
    // The WebSocket server configuration: it asks for no client certificate.
    let mut server = MutualSession::server(bob.server_config().expect("config"), MAX_MESSAGE).expect("session");
    client.send(b"for an attested server only").expect("queued");
    let (mut at_client, mut at_server) = (Inbox::default(), Inbox::default());
    for _ in 0..4 {
        let to_server = client.take_outgoing();
        deliver(&mut server, &to_server, &mut at_server);
        let to_client = server.take_outgoing();
        deliver(&mut client, &to_client, &mut at_client);
    }
    assert!(matches!(at_server.error, Some(RatlsError::UnverifiedPeer)), "{:?}", at_server.error);
    assert!(at_server.messages.is_empty());
    assert_eq!(server.peer_identity(), None);
    assert!(server.is_closed());
}
