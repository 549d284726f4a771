//! RA-TLS for Cloister validateers (ARCHITECTURE.md 6.7): TLS certificates made inside the
//! enclave that carry its attestation, a TLS + WebSocket session that the enclave terminates
//! without doing any I/O, a client that accepts a server only for a pinned MRENCLAVE, and mutual
//! RA-TLS between two enclaves for MU-RA (6.10).
//!
//! ```text
//!  client (cloister CLI)            host (untrusted worker)              enclave (trusted)
//!  connect(wss://…, MRENCLAVE) ──TCP──► accept; per connection: ───────► ServerSession (rustls + tungstenite)
//!   AttestedServerVerifier          read socket ──ciphertext──► feed ──► text messages (JSON-RPC) ─► STF
//!    ├ evidence bound to key?       write socket ◄─ciphertext── take_outgoing ◄─ send_text ◄─ answers
//!    ├ MRENCLAVE pinned?
//!    └ TLS signature by that key                                          generate_identity:
//!                                                                          P-256 key ─► SHA-256(SPKI)
//!                                                                          ─► attestation evidence
//!                                                                          ─► self-signed cert (EVIDENCE_OID)
//! ```
//!
//! TLS ends inside the enclave: the host only moves ciphertext between the socket and
//! [`ServerSession`], across the enclave boundary as byte buffers, and never holds the TLS key or
//! sees a plaintext message.
//!
//! Main types:
//! - [`generate_identity`] and [`ServerIdentity`]: the enclave's TLS key and RA-TLS certificate,
//!   sealable with [`ServerIdentity::to_bytes`]; [`key_binding`] and [`EVIDENCE_OID`] fix the
//!   certificate format.
//! - [`ServerSession`]: one connection's TLS 1.3 + WebSocket state machine, bounded by
//!   [`SessionLimits`].
//! - [`AttestedServerVerifier`]: the rustls verifier clients use, with the caller's
//!   [`EvidenceVerifier`] (dev attestation or DCAP) deciding what evidence is worth; refusals are
//!   [`CertRejection`]s.
//! - [`connect`]: a jsonrpsee WebSocket client over all that.
//! - [`MutualSession`]: mutual RA-TLS between two validateer enclaves (MU-RA), both ends I/O-less,
//!   configured by [`ServerIdentity::mutual_server_config`] and
//!   [`ServerIdentity::mutual_client_config`]; each side's [`PeerVerifier`] turns the other's
//!   evidence into an identity; binary messages, length-prefixed, up to hundreds of MB.
//!
//! Everything uses rustls' `ring` provider, TLS 1.3 only.
//!
//! A host loop for one connection (the real one crosses the enclave boundary at `feed` and
//! `take_outgoing`, and the enclave answers the messages):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{Read, Write};
//! let identity = cloister_ratls::generate_identity(|key_binding| {
//!     // The enclave's attestation with `key_binding` in its report data.
//!     key_binding.to_vec()
//! })?;
//! let mut session = cloister_ratls::ServerSession::new(identity.server_config()?)?;
//! let (mut socket, _) = std::net::TcpListener::bind("127.0.0.1:2000")?.accept()?;
//! let mut buf = [0u8; 16 * 1024];
//! while !session.is_closed() {
//!     let n = socket.read(&mut buf)?;
//!     if n == 0 {
//!         break;
//!     }
//!     for request in session.feed(&buf[..n]).unwrap_or_default() {
//!         session.send_text(&request)?; // an echo server
//!     }
//!     socket.write_all(&session.take_outgoing())?;
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod identity;
mod mutual;
mod session;
mod verify;

pub use client::connect;
pub use error::{CertRejection, RatlsError};
pub use identity::{generate_identity, key_binding, ServerIdentity, EVIDENCE_OID};
pub use mutual::{MutualSession, PeerVerifier};
pub use session::{ServerSession, SessionLimits};
pub use verify::{read_certificate, AttestedServerVerifier, CertificateEvidence, EvidenceVerifier};
