//! In-memory tests of the session state machine: a rustls client and hand-made WebSocket
//! frames, bytes moved by the test instead of sockets.

use super::*;
use crate::{generate_identity, AttestedServerVerifier, RatlsError};
use rustls::{pki_types::ServerName, ClientConnection};

const MRENCLAVE: [u8; 32] = [0x11; 32];

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: enclave\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                       Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// A client whose plaintext the test writes by hand.
struct Client {
    tls: ClientConnection,
}

impl Client {
    fn new() -> Self {
        let verifier = Arc::new(AttestedServerVerifier::new(
            MRENCLAVE,
            Arc::new(|evidence: &[u8], _binding: &[u8; 32]| {
                evidence.try_into().map_err(|_| "test evidence is the MRENCLAVE".to_string())
            }),
        ));
        let config = verifier.client_config().expect("client config");
        let name = ServerName::try_from("enclave").expect("name");
        Self { tls: ClientConnection::new(Arc::new(config), name).expect("client") }
    }

    fn send_plain(&mut self, bytes: &[u8]) {
        self.tls.writer().write_all(bytes).expect("client buffers");
    }

    fn ciphertext(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out).expect("to memory");
        }
        out
    }

    /// Takes the server's ciphertext; returns the plaintext it carried.
    fn receive(&mut self, mut ciphertext: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        while !ciphertext.is_empty() {
            self.tls.read_tls(&mut ciphertext).expect("client reads");
            self.tls.process_new_packets().expect("server's TLS is valid");
            let mut chunk = [0u8; 4096];
            loop {
                match self.tls.reader().read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => plain.extend_from_slice(&chunk[..n]),
                    Err(_) => break,
                }
            }
        }
        plain
    }
}

fn session(limits: SessionLimits) -> ServerSession {
    let identity = generate_identity(|_| MRENCLAVE.to_vec()).expect("identity");
    ServerSession::with_limits(identity.server_config().expect("config"), limits).expect("session")
}

/// Moves bytes both ways until neither side has anything to say; returns the server's plaintext.
fn exchange(client: &mut Client, server: &mut ServerSession) -> (Vec<String>, Vec<u8>) {
    let mut messages = Vec::new();
    let mut plain = Vec::new();
    loop {
        let up = client.ciphertext();
        if !up.is_empty() {
            messages.extend(server.feed(&up).expect("server accepts"));
        }
        let down = server.take_outgoing();
        if !down.is_empty() {
            plain.extend(client.receive(&down));
        }
        if up.is_empty() && down.is_empty() {
            return (messages, plain);
        }
    }
}

/// TLS and WebSocket handshakes done.
fn open(limits: SessionLimits) -> (Client, ServerSession) {
    let mut client = Client::new();
    let mut server = session(limits);
    client.send_plain(UPGRADE.as_bytes());
    let (messages, plain) = exchange(&mut client, &mut server);
    assert!(messages.is_empty());
    let response = String::from_utf8(plain).expect("HTTP response");
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    // RFC 6455 section 1.3's sample key and accept value.
    assert!(response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{response}");
    assert!(server.is_open());
    (client, server)
}

/// A masked client frame (mask key zero, so the payload is sent as is).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// The (opcode, payload) of the unmasked short frames in `bytes`.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let len = usize::from(bytes[1] & 0x7f);
        assert!(len < 126 && bytes[1] & 0x80 == 0, "short unmasked frames only");
        frames.push((opcode, bytes[2..2 + len].to_vec()));
        bytes = &bytes[2 + len..];
    }
    frames
}

#[test]
fn text_messages_flow_both_ways() {
    let (mut client, mut server) = open(SessionLimits::default());
    client.send_plain(&[frame(0x1, b"{\"id\":1}"), frame(0x1, b"second")].concat());
    let (messages, _) = exchange(&mut client, &mut server);
    assert_eq!(messages, vec!["{\"id\":1}".to_string(), "second".to_string()]);
    for text in ["one", "two", "three"] {
        server.send_text(text).expect("sends");
    }
    let plain = client.receive(&server.take_outgoing());
    let texts: Vec<_> =
        server_frames(&plain).into_iter().map(|(op, payload)| (op, String::from_utf8(payload))).collect();
    assert_eq!(texts, vec![(0x1, Ok("one".to_string())), (0x1, Ok("two".to_string())), (0x1, Ok("three".to_string()))]);
}

#[test]
fn fragmented_message_arrives_whole() {
    let (mut client, mut server) = open(SessionLimits::default());
    let mut first = frame(0x1, b"hel");
    first[0] &= 0x7f; // not FIN
    let last = frame(0x0, b"lo");
    client.send_plain(&first);
    assert!(exchange(&mut client, &mut server).0.is_empty());
    client.send_plain(&last);
    assert_eq!(exchange(&mut client, &mut server).0, vec!["hello".to_string()]);
}

#[test]
fn ping_is_answered_with_pong() {
    let (mut client, mut server) = open(SessionLimits::default());
    client.send_plain(&frame(0x9, b"are you there"));
    let (messages, plain) = exchange(&mut client, &mut server);
    assert!(messages.is_empty());
    assert_eq!(server_frames(&plain), vec![(0xA, b"are you there".to_vec())]);
    assert!(!server.is_closed());
}

#[test]
fn client_close_is_answered_and_ends_the_session() {
    let (mut client, mut server) = open(SessionLimits::default());
    client.send_plain(&frame(0x8, &1000u16.to_be_bytes()));
    let (_, plain) = exchange(&mut client, &mut server);
    assert_eq!(server_frames(&plain), vec![(0x8, 1000u16.to_be_bytes().to_vec())]);
    assert!(server.is_closed());
    assert!(matches!(server.send_text("late"), Err(RatlsError::Closed)));
    assert!(matches!(server.feed(b"more"), Err(RatlsError::Closed)));
}

#[test]
fn server_close_sends_close_frame() {
    let (mut client, mut server) = open(SessionLimits::default());
    server.close();
    let plain = client.receive(&server.take_outgoing());
    assert_eq!(server_frames(&plain), vec![(0x8, 1000u16.to_be_bytes().to_vec())]);
    assert!(server.is_closed());
}

#[test]
fn declared_100_mb_message_closes_without_buffering_it() {
    let (mut client, mut server) = open(SessionLimits::default());
    // The header announces 100 MB; only a little payload follows.
    let mut header = frame(0x1, &[]);
    header.truncate(1);
    header.push(0x80 | 127);
    header.extend_from_slice(&100_000_000u64.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    header.extend_from_slice(&[b'x'; 1000]);
    client.send_plain(&header);
    let error = server.feed(&client.ciphertext()).expect_err("refused");
    assert!(matches!(error, RatlsError::MessageTooLarge { limit } if limit == 1 << 20), "{error}");
    assert!(server.is_closed());
    let plain = client.receive(&server.take_outgoing());
    assert_eq!(server_frames(&plain), vec![(0x8, 1009u16.to_be_bytes().to_vec())], "close code 1009");
}

#[test]
fn many_small_frames_over_the_limit_close_the_session() {
    let limits = SessionLimits { max_message_size: 4096, ..SessionLimits::default() };
    let (mut client, mut server) = open(limits);
    let mut first = frame(0x1, &[b'a'; 1000]);
    first[0] &= 0x7f;
    client.send_plain(&first);
    let mut error = None;
    for _ in 0..10 {
        client.send_plain(
            &frame(0x0, &[b'a'; 1000])
                .iter()
                .enumerate()
                .map(|(i, b)| if i == 0 { b & 0x7f } else { *b })
                .collect::<Vec<_>>(),
        );
        if let Err(e) = server.feed(&client.ciphertext()) {
            error = Some(e);
            break;
        }
    }
    assert!(matches!(error, Some(RatlsError::MessageTooLarge { limit: 4096 })), "{error:?}");
    assert!(server.is_closed());
}

#[test]
fn garbage_instead_of_tls_fails_and_closes() {
    let mut server = session(SessionLimits::default());
    let error = server.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").expect_err("not TLS");
    assert!(matches!(error, RatlsError::Tls(_)), "{error}");
    assert!(error.is_peer_fault());
    assert!(server.is_closed());
    let alert = server.take_outgoing();
    assert_eq!(alert.first(), Some(&0x15), "a TLS alert record");
    assert!(matches!(server.feed(b"again"), Err(RatlsError::Closed)));
}

#[test]
fn garbage_inside_tls_fails_and_closes() {
    let mut client = Client::new();
    let mut server = session(SessionLimits::default());
    client.send_plain(b"this is not an upgrade request\r\n\r\n");
    let up = client.ciphertext();
    server.feed(&up).expect("client hello");
    client.receive(&server.take_outgoing());
    let error = server.feed(&client.ciphertext()).expect_err("bad request");
    assert!(matches!(error, RatlsError::WebSocket(_)), "{error}");
    assert!(server.is_closed());
    let plain = String::from_utf8(client.receive(&server.take_outgoing())).expect("HTTP");
    assert!(plain.starts_with("HTTP/1.1 400"), "{plain}");
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let mut server = session(SessionLimits::default());
        let len = 1 + round * 37 % 3000;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let _ = server.feed(&bytes);
        let _ = server.take_outgoing();
    }
}

#[test]
fn binary_messages_are_refused() {
    let (mut client, mut server) = open(SessionLimits::default());
    client.send_plain(&frame(0x2, b"\x00\x01"));
    let error = server.feed(&client.ciphertext()).expect_err("binary");
    assert!(matches!(error, RatlsError::WebSocket(_)), "{error}");
    let plain = client.receive(&server.take_outgoing());
    assert_eq!(server_frames(&plain), vec![(0x8, 1003u16.to_be_bytes().to_vec())]);
}

#[test]
fn nothing_is_sent_before_the_upgrade_and_output_is_bounded() {
    let mut server = session(SessionLimits::default());
    assert!(matches!(server.send_text("early"), Err(RatlsError::NotOpen)));
    let limits = SessionLimits { max_outgoing: 100, ..SessionLimits::default() };
    let (mut client, mut server) = open(limits);
    server.send_text(&"a".repeat(60)).expect("fits");
    assert!(matches!(server.send_text(&"b".repeat(60)), Err(RatlsError::OutgoingFull { pending: 120, limit: 100 })));
    client.receive(&server.take_outgoing());
    server.send_text(&"b".repeat(60)).expect("fits after the host took the bytes");
    assert!(!server.is_closed());
}

#[test]
fn sessions_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<ServerSession>();
}
