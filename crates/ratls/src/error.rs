//! Errors of the crate: [`RatlsError`] for every operation, [`CertRejection`] for why a client
//! refused a server's certificate.

/// Why a client refused a server's RA-TLS certificate during the TLS handshake.
///
/// The verifier returns it to rustls inside
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`, so the handshake fails with a
/// `bad_certificate` alert; [`crate::connect`] hands it back as [`RatlsError::Refused`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertRejection {
    /// The certificate is not valid DER X.509, or its evidence extension is not an OCTET STRING.
    #[error("the server certificate does not parse: {0}")]
    Malformed(String),
    /// The certificate has no evidence extension ([`crate::EVIDENCE_OID`]): it was not made by an
    /// enclave, or not by this crate.
    #[error("the server certificate carries no attestation evidence: it is not an RA-TLS certificate")]
    MissingEvidence,
    /// The caller's evidence check refused the evidence (bad signature or quote, or report data
    /// that do not contain this certificate's key binding: evidence copied from another server).
    #[error("the server's attestation evidence was rejected: {0}")]
    EvidenceRejected(String),
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
    /// The peer sent a message or frame larger than the session allows; the session answered
    /// with close code 1009 and is closed.
    #[error("the peer sent a message larger than {limit} bytes; the session is closed")]
    MessageTooLarge {
        /// The session's limit ([`crate::SessionLimits::max_message_size`]).
        limit: usize,
    },
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
    /// The client refused the server's certificate.
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
