//! Mutual RA-TLS for MU-RA between validateer enclaves (ARCHITECTURE.md 6.10): a joining
//! validateer and a registered peer open TLS to each other, both present RA-TLS certificates,
//! and each accepts the other only if its evidence passes a [`PeerVerifier`] (same MRENCLAVE, a
//! registered enclave); then keys and the state snapshot travel as binary messages.
//!
//! ```text
//!  enclave A (joining)              hosts A and B (TCP, bytes only)            enclave B (registered)
//!  MutualSession::client ── take_outgoing ─► ciphertext ─► feed ──► MutualSession::server
//!  MutualSession::client ◄── feed ◄─ ciphertext ◄─ take_outgoing ── MutualSession::server
//!   from mutual_client_config(verify_b)                      from mutual_server_config(verify_a)
//!
//!  each side, on the other's certificate (the server requires one):
//!   ├ exactly one evidence extension (EVIDENCE_OID)
//!   ├ its PeerVerifier(evidence, SHA-256(SPKI)) accepts ─► the identity peer_identity() returns
//!   └ the TLS 1.3 handshake signature verifies with the certificate's key
//!  then: send(message) ─► u32 LE length ‖ bytes ─► TLS records ─► … ─► feed ─► whole messages
//! ```
//!
//! Like [`crate::ServerSession`], a [`MutualSession`] does no I/O, since both ends live inside
//! enclaves: the hosts move ciphertext between sockets and [`MutualSession::feed`] /
//! [`MutualSession::take_outgoing`]. Names, CA chains, validity dates and self-signatures are not
//! checked (see [`crate::AttestedServerVerifier`] for why); TLS 1.3 only, rustls' `ring` provider,
//! and no session resumption, so every connection checks fresh evidence.
//!
//! Application data is a sequence of binary messages, each framed as a `u32` little-endian length
//! and the bytes; messages may be hundreds of MB (state snapshots), so they are reassembled and
//! encrypted in one pass each, never by repeated copying. Nothing the application sends reaches
//! rustls before the peer's certificate has been accepted.

use crate::{identity::provider, read_certificate, CertRejection, RatlsError, ServerIdentity};
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use std::{
    cell::RefCell,
    collections::VecDeque,
    io::{self, BufRead, IoSlice, Write},
    sync::Arc,
};

/// Checks a peer certificate's evidence for its key binding; returns the identity it attests
/// (opaque to this crate, e.g. SCALE `(mrenclave, account)`) or why it is refused.
///
/// Arguments: the evidence bytes, and the key binding recomputed from the certificate
/// ([`crate::key_binding`]). Like an [`crate::EvidenceVerifier`], it must check that the evidence
/// binds that key, or evidence copied from another enclave's certificate would pass.
pub type PeerVerifier = Arc<dyn Fn(&[u8], &[u8; 32]) -> Result<Vec<u8>, String> + Send + Sync>;

/// The server name a client session uses; names are not checked, and SNI is off.
const PEER_NAME: &str = "validateer.cloister";

/// Largest plaintext of one TLS record.
const MAX_FRAGMENT: usize = 16 * 1024;

/// Bytes a TLS 1.3 record adds to its plaintext: 5-byte header, content type, 16-byte AEAD tag.
const RECORD_OVERHEAD: usize = 22;

/// Most memory reserved up front for an announced message: larger ones grow as bytes arrive, so
/// a length prefix alone does not make the session allocate `max_message`.
const INITIAL_CAPACITY: usize = 1 << 20;

thread_local! {
    /// The identity the last accepting [`PeerCertVerifier`] call on this thread returned.
    ///
    /// rustls keeps the verifier inside its configuration, out of the session's reach, and calls
    /// it synchronously within `process_new_packets`; [`MutualSession::feed`] clears this slot
    /// before that call and takes it after, so the identity reaches the session it belongs to.
    static ACCEPTED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Both rustls verifier roles for mutual RA-TLS, around a [`PeerVerifier`].
struct PeerCertVerifier {
    verify: PeerVerifier,
    provider: Arc<CryptoProvider>,
}

impl PeerCertVerifier {
    fn new(verify: PeerVerifier) -> Arc<Self> {
        Arc::new(Self { verify, provider: provider() })
    }

    /// The identity the evidence of `der` attests for the certificate's own key.
    fn check(&self, der: &[u8]) -> Result<Vec<u8>, CertRejection> {
        let read = read_certificate(der)?;
        (self.verify)(&read.evidence, &read.key_binding).map_err(CertRejection::EvidenceRejected)
    }

    /// Accepts `end_entity` (leaving its identity in [`ACCEPTED`]) or refuses it for rustls.
    fn accept(&self, end_entity: &CertificateDer<'_>, peer: &'static str) -> Result<(), rustls::Error> {
        match self.check(end_entity.as_ref()) {
            Ok(identity) => {
                ACCEPTED.set(Some(identity));
                Ok(())
            }
            Err(rejection) => {
                // The verifier's message may name the peer: only the kind of refusal is logged.
                let reason = match rejection {
                    CertRejection::Malformed(_) => "malformed",
                    CertRejection::MissingEvidence | CertRejection::NoCertificate => "no evidence",
                    CertRejection::EvidenceRejected(_) | CertRejection::MrenclaveMismatch { .. } => "evidence rejected",
                };
                tracing::debug!(target: "ratls", peer, reason, "peer certificate refused");
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(rejection)))))
            }
        }
    }

    fn verify_tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
}

impl std::fmt::Debug for PeerCertVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerCertVerifier").finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PeerCertVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.accept(end_entity, "client").map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for PeerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.accept(end_entity, "server").map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerIdentity {
    /// Server side of mutual RA-TLS: presents this identity and requires a client certificate
    /// whose evidence `verify_client` accepts (TLS 1.3, ring provider, no resumption). Give it
    /// to [`MutualSession::server`].
    pub fn mutual_server_config(&self, verify_client: PeerVerifier) -> Result<Arc<rustls::ServerConfig>, RatlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(RatlsError::Config)?
            .with_client_cert_verifier(PeerCertVerifier::new(verify_client))
            .with_single_cert(self.certificate_chain(), self.private_key())
            .map_err(RatlsError::Config)?;
        // A resumed session would skip the verifier, and with it the evidence check.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }

    /// Client side of mutual RA-TLS: presents this identity as client certificate and accepts
    /// only a server whose evidence `verify_server` accepts (TLS 1.3, ring provider, no
    /// resumption, no SNI). Give it to [`MutualSession::client`].
    pub fn mutual_client_config(&self, verify_server: PeerVerifier) -> Result<Arc<rustls::ClientConfig>, RatlsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(RatlsError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(PeerCertVerifier::new(verify_server))
            .with_client_auth_cert(self.certificate_chain(), self.private_key())
            .map_err(RatlsError::Config)?;
        config.resumption = rustls::client::Resumption::disabled();
        config.enable_sni = false;
        Ok(Arc::new(config))
    }
}

/// Reassembles length-prefixed messages from plaintext chunks, each byte copied once.
#[derive(Debug)]
enum Deframer {
    /// Reading the 4-byte length prefix.
    Length { bytes: [u8; 4], filled: usize },
    /// Reading a message's bytes.
    Body { message: Vec<u8>, len: usize },
}

impl Deframer {
    fn new() -> Self {
        Self::Length { bytes: [0; 4], filled: 0 }
    }

    /// Consumes `data`, appending completed messages to `out`; fails with the announced length
    /// of a message longer than `max`.
    fn push(&mut self, mut data: &[u8], max: usize, out: &mut Vec<Vec<u8>>) -> Result<(), usize> {
        while !data.is_empty() {
            match self {
                Self::Length { bytes, filled } => {
                    let n = (bytes.len() - *filled).min(data.len());
                    bytes[*filled..*filled + n].copy_from_slice(&data[..n]);
                    *filled += n;
                    data = &data[n..];
                    if *filled < bytes.len() {
                        continue;
                    }
                    let len = u32::from_le_bytes(*bytes) as usize;
                    if len > max {
                        return Err(len);
                    }
                    *self = Self::Body { message: Vec::with_capacity(len.min(INITIAL_CAPACITY)), len };
                }
                Self::Body { message, len } => {
                    let n = (*len - message.len()).min(data.len());
                    message.extend_from_slice(&data[..n]);
                    data = &data[n..];
                }
            }
            if let Self::Body { message, len } = self {
                if message.len() == *len {
                    out.push(std::mem::take(message));
                    *self = Self::new();
                }
            }
        }
        Ok(())
    }
}

/// One side of a mutual RA-TLS connection, without I/O: the caller feeds ciphertext read from
/// the socket and writes what [`Self::take_outgoing`] returns. See the module documentation.
///
/// Memory: a message being received takes its size (at most `max_message`); sent messages wait
/// as ciphertext until [`Self::take_outgoing`], or as plaintext until the handshake finishes.
pub struct MutualSession {
    tls: rustls::Connection,
    max_message: usize,
    incoming: Deframer,
    /// Frames sent before the peer was accepted, in order.
    queued: VecDeque<Vec<u8>>,
    /// The identity the verifier returned in this handshake, until the handshake finishes.
    accepted: Option<Vec<u8>>,
    /// The peer's identity, once the handshake has finished.
    peer: Option<Vec<u8>>,
    /// Ciphertext not yet taken; rustls keeps its own buffer small (64 KiB), `send` moves
    /// records here as it fills.
    outgoing: Vec<u8>,
    closed: bool,
}

impl MutualSession {
    /// The accepting side, with a configuration from [`ServerIdentity::mutual_server_config`];
    /// messages from the peer longer than `max_message` bytes are refused.
    pub fn server(config: Arc<rustls::ServerConfig>, max_message: usize) -> Result<Self, RatlsError> {
        let tls = rustls::ServerConnection::new(config).map_err(RatlsError::Config)?;
        Ok(Self::new(tls.into(), max_message))
    }

    /// The connecting side, with a configuration from [`ServerIdentity::mutual_client_config`];
    /// messages from the peer longer than `max_message` bytes are refused. Its first
    /// [`Self::take_outgoing`] holds the ClientHello.
    pub fn client(config: Arc<rustls::ClientConfig>, max_message: usize) -> Result<Self, RatlsError> {
        let name =
            ServerName::try_from(PEER_NAME).map_err(|e| RatlsError::Config(rustls::Error::General(e.to_string())))?;
        let tls = rustls::ClientConnection::new(config, name).map_err(RatlsError::Config)?;
        Ok(Self::new(tls.into(), max_message))
    }

    fn new(tls: rustls::Connection, max_message: usize) -> Self {
        Self {
            tls,
            max_message,
            incoming: Deframer::new(),
            queued: VecDeque::new(),
            accepted: None,
            peer: None,
            outgoing: Vec::new(),
            closed: false,
        }
    }

    /// Feeds ciphertext read from the socket; returns the messages it completed, in order
    /// (possibly none).
    ///
    /// A message longer than `max_message` ([`RatlsError::MessageTooLarge`]), a TLS error
    /// ([`RatlsError::Tls`], also when the peer refused this side's certificate), or a refused
    /// peer certificate ([`RatlsError::Refused`]) closes the session: write what
    /// [`Self::take_outgoing`] returns (an alert or close_notify) and drop the connection.
    /// Messages completed earlier in the same call are dropped with it. An empty `ciphertext`
    /// does nothing: end of stream is the caller's to handle.
    pub fn feed(&mut self, mut ciphertext: &[u8]) -> Result<Vec<Vec<u8>>, RatlsError> {
        if self.closed {
            return Err(RatlsError::Closed);
        }
        let mut received = Vec::new();
        while !ciphertext.is_empty() && !self.closed {
            if let Err(error) = self.tls.read_tls(&mut ciphertext) {
                self.close_tls();
                return Err(RatlsError::Tls(rustls::Error::General(format!("TLS input refused: {error}"))));
            }
            ACCEPTED.take();
            let processed = self.tls.process_new_packets();
            if let Some(identity) = ACCEPTED.take() {
                self.accepted = Some(identity);
            }
            if let Err(error) = processed {
                // rustls has queued the alert; no close_notify after a fatal error.
                self.closed = true;
                tracing::debug!(target: "ratls", %error, "mutual TLS session failed");
                return Err(refusal(error));
            }
            self.finish_handshake()?;
            self.take_plaintext(&mut received)?;
        }
        Ok(received)
    }

    /// Queues one message. Before the handshake has finished it waits (in order) and is sent once
    /// the peer has been accepted; fails with [`RatlsError::Closed`] after the session ended and
    /// [`RatlsError::UnframableMessage`] from 4 GiB on.
    pub fn send(&mut self, message: &[u8]) -> Result<(), RatlsError> {
        if self.closed {
            return Err(RatlsError::Closed);
        }
        let len = u32::try_from(message.len()).map_err(|_| RatlsError::UnframableMessage { len: message.len() })?;
        let prefix = len.to_le_bytes();
        if self.peer.is_none() {
            let mut frame = Vec::with_capacity(prefix.len() + message.len());
            frame.extend_from_slice(&prefix);
            frame.extend_from_slice(message);
            self.queued.push_back(frame);
            return Ok(());
        }
        self.encrypt(&prefix, message)
    }

    /// The ciphertext to write to the socket, in order; empty when there is none.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        self.drain_tls();
        std::mem::take(&mut self.outgoing)
    }

    /// Once the handshake has finished: the identity the [`PeerVerifier`] returned for the
    /// peer's certificate in this handshake; `None` before.
    ///
    /// A client's handshake finishes before the server has checked the client certificate: the
    /// server's refusal arrives later, as an error from [`Self::feed`].
    pub fn peer_identity(&self) -> Option<Vec<u8>> {
        self.peer.clone()
    }

    /// Whether the handshake is still under way (false once finished, or once the session is
    /// closed).
    pub fn is_handshaking(&self) -> bool {
        !self.closed && self.peer.is_none()
    }

    /// Whether the session has ended: write the last [`Self::take_outgoing`] bytes, then close
    /// the socket and drop the session.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Ends the session from this side with a TLS close_notify, after the messages already
    /// handed to rustls; messages still waiting for the handshake are dropped.
    pub fn close(&mut self) {
        self.queued.clear();
        self.close_tls();
    }

    /// Once rustls has finished the handshake: takes the accepted identity and sends the queued
    /// messages, or fails if no verifier of this module accepted the peer.
    fn finish_handshake(&mut self) -> Result<(), RatlsError> {
        if self.peer.is_some() || self.tls.is_handshaking() {
            return Ok(());
        }
        let Some(identity) = self.accepted.take() else {
            self.queued.clear();
            self.close_tls();
            return Err(RatlsError::UnverifiedPeer);
        };
        self.peer = Some(identity);
        while let Some(frame) = self.queued.pop_front() {
            self.encrypt(&[], &frame)?;
        }
        Ok(())
    }

    /// Moves decrypted bytes from rustls into the deframer, without copying them out first.
    fn take_plaintext(&mut self, received: &mut Vec<Vec<u8>>) -> Result<(), RatlsError> {
        loop {
            let mut reader = self.tls.reader();
            let chunk = match reader.fill_buf() {
                Ok([]) => {
                    // The peer's close_notify: it sends nothing more; a partial message is lost.
                    self.close_tls();
                    return Ok(());
                }
                Ok(chunk) => chunk,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => {
                    self.close_tls();
                    return Err(RatlsError::Tls(rustls::Error::General(format!("TLS stream ended: {error}"))));
                }
            };
            let taken = chunk.len();
            let pushed = self.incoming.push(chunk, self.max_message, received);
            reader.consume(taken);
            if let Err(len) = pushed {
                tracing::debug!(target: "ratls", len, limit = self.max_message, "peer message too large");
                self.close_tls();
                return Err(RatlsError::MessageTooLarge { limit: self.max_message });
            }
        }
    }

    /// Encrypts `prefix ‖ body`, moving ciphertext to `outgoing` whenever rustls' buffer is full.
    fn encrypt(&mut self, prefix: &[u8], body: &[u8]) -> Result<(), RatlsError> {
        let total = prefix.len() + body.len();
        self.outgoing.reserve(total + total.div_ceil(MAX_FRAGMENT) * RECORD_OVERHEAD);
        let mut written = 0;
        while written < total {
            let accepted = if written < prefix.len() {
                self.tls.writer().write_vectored(&[IoSlice::new(&prefix[written..]), IoSlice::new(body)])
            } else {
                self.tls.writer().write(&body[written - prefix.len()..])
            };
            match accepted {
                Ok(0) => {
                    if self.drain_tls() == 0 {
                        self.close_tls();
                        return Err(RatlsError::Tls(rustls::Error::General("rustls accepts no more plaintext".into())));
                    }
                }
                Ok(n) => written += n,
                Err(error) => {
                    self.closed = true;
                    return Err(RatlsError::Tls(rustls::Error::General(error.to_string())));
                }
            }
        }
        Ok(())
    }

    /// Moves every record rustls holds to `outgoing`; returns how many bytes that was.
    fn drain_tls(&mut self) -> usize {
        let before = self.outgoing.len();
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.outgoing) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.outgoing.len() - before
    }

    /// Ends TLS with a close_notify and marks the session closed.
    fn close_tls(&mut self) {
        if !self.closed {
            self.tls.send_close_notify();
            self.closed = true;
        }
    }
}

impl std::fmt::Debug for MutualSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutualSession")
            .field("handshaking", &self.is_handshaking())
            .field("closed", &self.closed)
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

/// A failed handshake or record as this crate reports it: this side's refusal of the peer's
/// certificate as [`RatlsError::Refused`], anything else as [`RatlsError::Tls`].
fn refusal(error: rustls::Error) -> RatlsError {
    match &error {
        rustls::Error::NoCertificatesPresented => RatlsError::Refused(CertRejection::NoCertificate),
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            match inner.downcast_ref::<CertRejection>() {
                Some(rejection) => RatlsError::Refused(rejection.clone()),
                None => RatlsError::Tls(error),
            }
        }
        _ => RatlsError::Tls(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(message: &[u8]) -> Vec<u8> {
        [&(message.len() as u32).to_le_bytes()[..], message].concat()
    }

    #[test]
    fn deframer_reassembles_messages_split_anywhere() {
        let stream = [frame(b"first"), frame(b""), frame(&[7u8; 300])].concat();
        for step in [1, 3, 4, 5, 299, stream.len()] {
            let mut deframer = Deframer::new();
            let mut out = Vec::new();
            for piece in stream.chunks(step) {
                deframer.push(piece, 1024, &mut out).expect("within the limit");
            }
            assert_eq!(out, vec![b"first".to_vec(), Vec::new(), vec![7u8; 300]], "step {step}");
            assert!(matches!(deframer, Deframer::Length { filled: 0, .. }), "step {step}");
        }
    }

    #[test]
    fn deframer_refuses_an_announced_length_over_the_limit() {
        let mut deframer = Deframer::new();
        let mut out = Vec::new();
        assert_eq!(deframer.push(&frame(&[1u8; 11]), 10, &mut out), Err(11));
        assert!(out.is_empty());
    }

    #[test]
    fn deframer_does_not_reserve_an_announced_length_up_front() {
        let mut deframer = Deframer::new();
        let mut out = Vec::new();
        deframer.push(&(u32::MAX).to_le_bytes(), usize::MAX, &mut out).expect("within the limit");
        let Deframer::Body { message, len } = &deframer else { panic!("reading the body") };
        assert_eq!(*len, u32::MAX as usize);
        assert!(message.capacity() <= INITIAL_CAPACITY);
    }
}
