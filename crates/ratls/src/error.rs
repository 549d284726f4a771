//! Errors of the crate: [`RatlsError`] for every operation, [`CertRejection`] for why a peer's
//! certificate was refused.

/// Why this side refused the peer's RA-TLS certificate during the TLS handshake: a client
/// refusing a server, or in mutual RA-TLS ([`crate::MutualSession`]) either side refusing the
/// other.
///
/// The verifier returns it to rustls inside
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`, so the handshake fails with a
/// `certificate_unknown` alert; [`crate::connect`] and [`crate::MutualSession::feed`] hand it back as
/// [`RatlsError::Refused`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertRejection {
    /// The certificate is not valid DER X.509, or its evidence extension is not an OCTET STRING.
    #[error("the peer's certificate does not parse: {0}")]
    Malformed(String),
    /// The certificate has no evidence extension ([`crate::EVIDENCE_OID`]): it was not made by an
    /// enclave, or not by this crate.
    #[error("the peer's certificate carries no attestation evidence: it is not an RA-TLS certificate")]
    MissingEvidence,
    /// The caller's evidence check refused the evidence (bad signature or quote, or report data
    /// that do not contain this certificate's key binding: evidence copied from another server).
    #[error("the peer's attestation evidence was rejected: {0}")]
    EvidenceRejected(String),
    /// The peer presented no certificate although mutual RA-TLS requires one (a client
    /// configured without client authentication).
    #[error("the peer presented no certificate: mutual RA-TLS requires an attested one")]
    NoCertificate,
    /// The evidence is valid but for another enclave build than the pinned one.
    #[error("the server runs MRENCLAVE {}, not the pinned {}", hex::encode(found), hex::encode(expected))]
    MrenclaveMismatch {
        /// The MRENCLAVE the client pinned.
        expected: [u8; 32],
        /// The MRENCLAVE the evidence attests.
        found: [u8; 32],
    },
}

/// Everything that can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum RatlsError {
    /// The TLS key or the certificate could not be made (a bug or a broken random source).
    #[error("cannot make the TLS key or certificate: {0}")]
    Certificate(String),
    /// Sealed [`crate::ServerIdentity`] bytes do not decode, or key and certificate do not match.
    #[error("the stored server identity is corrupt: {0}")]
    CorruptIdentity(&'static str),
    /// rustls refused a configuration (key type, protocol versions).
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
    /// The TLS layer of a session failed (garbage, a bad record, a failed handshake). The session
    /// is closed; the bytes from [`crate::ServerSession::take_outgoing`] carry the alert.
    #[error("TLS: {0}")]
    Tls(rustls::Error),
    /// The WebSocket layer of a session failed (bad upgrade request, protocol violation,
    /// unsupported binary message). The session is closed.
    #[error("WebSocket: {0}")]
    WebSocket(String),
    /// The peer sent a message or frame larger than the session allows; the session is closed
    /// (a [`crate::ServerSession`] answered with WebSocket close code 1009, a
    /// [`crate::MutualSession`] with a TLS close_notify).
    #[error("the peer sent a message larger than {limit} bytes; the session is closed")]
    MessageTooLarge {
        /// The session's limit ([`crate::SessionLimits::max_message_size`], or `max_message` of a
        /// [`crate::MutualSession`]).
        limit: usize,
    },
    /// [`crate::MutualSession::send`] got a message whose length does not fit the `u32` length
    /// prefix of the framing: split it.
    #[error("a message of {len} bytes cannot be framed: the limit is 4294967295 bytes")]
    UnframableMessage {
        /// The message's length.
        len: usize,
    },
    /// A [`crate::MutualSession`] finished its TLS handshake without a peer identity from a
    /// [`crate::PeerVerifier`]: its configuration was not made by
    /// [`crate::ServerIdentity::mutual_server_config`] or
    /// [`crate::ServerIdentity::mutual_client_config`]. The session is closed.
    #[error("the handshake finished with no attested peer: use mutual_server_config / mutual_client_config")]
    UnverifiedPeer,
    /// The session is closed: drop it after writing what [`crate::ServerSession::take_outgoing`]
    /// returns.
    #[error("the session is closed")]
    Closed,
    /// [`crate::ServerSession::send_text`] before the WebSocket upgrade finished.
    #[error("the WebSocket handshake has not finished: nothing can be sent yet")]
    NotOpen,
    /// Too many bytes wait to be sent: the host must call
    /// [`crate::ServerSession::take_outgoing`] and write them before sending more.
    #[error("{pending} bytes wait to be sent, the limit is {limit}: write the outgoing bytes first")]
    OutgoingFull {
        /// Bytes already waiting plus the ones that were refused.
        pending: usize,
        /// The session's limit ([`crate::SessionLimits::max_outgoing`]).
        limit: usize,
    },
    /// [`crate::connect`] got a URL that does not start with `wss://`; without TLS there would be
    /// no attestation check.
    #[error("`{0}` is not a wss:// URL: an attested connection needs TLS")]
    NotTls(String),
    /// This side refused the peer's certificate (why is in the [`CertRejection`]).
    #[error(transparent)]
    Refused(#[from] CertRejection),
    /// The connection failed for another reason (no server, TLS or WebSocket handshake failed).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL that was dialled.
        url: String,
        /// What jsonrpsee reported.
        reason: String,
    },
}

impl RatlsError {
    /// Whether the peer caused the error (bad bytes, oversized message): the connection should be
    /// dropped, and nothing is wrong with this side.
    pub fn is_peer_fault(&self) -> bool {
        matches!(self, Self::Tls(_) | Self::WebSocket(_) | Self::MessageTooLarge { .. })
    }
}
