//! The enclave's TLS identity: a key pair made inside the enclave and a self-signed certificate
//! that carries attestation evidence bound to that key.
//!
//! Certificate layout (X.509 v3, self-signed, ECDSA P-256 with SHA-256):
//! - subject and issuer `CN=cloister enclave`, no subject alternative names: a client identifies
//!   the server by its MRENCLAVE, never by a name;
//! - validity from 1975 to 4096 (rcgen's defaults): the enclave has no trusted clock, so freshness
//!   is the evidence's business, not the certificate's;
//! - one non-critical extension [`EVIDENCE_OID`] whose `extnValue` is the DER encoding of an
//!   `OCTET STRING` holding the evidence bytes exactly as the enclave returned them.
//!
//! The key binding is `SHA-256(SubjectPublicKeyInfo DER)` ([`key_binding`]): the value a
//! verifier recomputes from the certificate. SHA-256 rather than blake2-256 because it is what
//! RA-TLS elsewhere (Gramine) puts in SGX report data and what `ring` already provides.

use crate::{verify::read_certificate, RatlsError};
use codec::{DecodeAll, Encode};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The OID of the certificate extension that carries the attestation evidence: `2.999.1668050793.1`.
///
/// It lies under `2.999`, the joint ISO/ITU-T arc reserved for examples and private experiments,
/// which no organisation can be assigned, so it cannot collide with a registered extension;
/// `1668050793` is the ASCII of "cloi" read as a big-endian integer, and the last arc numbers the
/// evidence format (1: opaque bytes, in Cloister a SCALE `Attestation`). Before certificates are
/// read by third-party tools, the project should register an IANA Private Enterprise Number and
/// move the extension under it.
pub const EVIDENCE_OID: &[u64] = &[2, 999, 1_668_050_793, 1];

/// The DER content octets of an OID (no tag or length), compared byte for byte when reading a
/// certificate: some parsers (asn1-rs 0.7's arc iterator) misread a first sub-identifier above
/// 127, as `2.999` has.
pub(crate) fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => return out,
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut value = arc >> 7;
        while value > 0 {
            groups.push(0x80 | (value & 0x7f) as u8);
            value >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

/// The format version of [`ServerIdentity::to_bytes`].
const IDENTITY_VERSION: u8 = 1;

/// The subject common name of every RA-TLS certificate this crate makes.
const COMMON_NAME: &str = "cloister enclave";

/// `SHA-256(spki_der)`: the value the attestation evidence must bind.
pub fn key_binding(spki_der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki_der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The crypto provider everything in this crate uses: rustls' `ring` provider.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes a fresh TLS identity inside the enclave.
///
/// Generates an ECDSA P-256 key pair (the key type every TLS client, rustls with `ring` included,
/// accepts in TLS 1.2 and 1.3), computes its [`key_binding`], asks `evidence` for attestation
/// evidence whose report data contain that binding, and self-signs a certificate carrying the
/// evidence under [`EVIDENCE_OID`]. The private key never leaves the returned value except
/// through [`ServerIdentity::to_bytes`], which is meant for sealing.
pub fn generate_identity(evidence: impl FnOnce(&[u8; 32]) -> Vec<u8>) -> Result<ServerIdentity, RatlsError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| RatlsError::Certificate(e.to_string()))?;
    let binding = key_binding(&key.public_key_der());
    let evidence = evidence(&binding);
    let certificate = self_signed_certificate(&key, Some(&evidence))?;
    let key = Zeroizing::new(key.serialize_der());
    ServerIdentity::from_parts(certificate, key)
}

/// A self-signed certificate for `key` in this crate's layout; `evidence` `None` leaves the
/// extension out (tests use that to show such a certificate is refused).
pub(crate) fn self_signed_certificate(key: &KeyPair, evidence: Option<&[u8]>) -> Result<Vec<u8>, RatlsError> {
    let mut params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| RatlsError::Certificate(e.to_string()))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, COMMON_NAME);
    params.distinguished_name = name;
    if let Some(evidence) = evidence {
        params.custom_extensions.push(CustomExtension::from_oid_content(EVIDENCE_OID, der_octet_string(evidence)));
    }
    let certificate = params.self_signed(key).map_err(|e| RatlsError::Certificate(e.to_string()))?;
    Ok(certificate.der().to_vec())
}

/// DER `OCTET STRING` holding `content` (definite length, short or long form).
fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 10);
    out.push(0x04);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The enclave's TLS identity: an RA-TLS certificate and its private key (PKCS#8).
///
/// Lives only in the enclave. [`Self::to_bytes`] and [`Self::from_bytes`] carry it through
/// sealed storage so a restarted enclave keeps the certificate clients may have seen.
pub struct ServerIdentity {
    certificate: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
    key_binding: [u8; 32],
    evidence: Vec<u8>,
}

impl ServerIdentity {
    /// Checks that `certificate` is an RA-TLS certificate for `key` and keeps both.
    fn from_parts(certificate: Vec<u8>, key: Zeroizing<Vec<u8>>) -> Result<Self, RatlsError> {
        let read =
            read_certificate(&certificate).map_err(|_| RatlsError::CorruptIdentity("not an RA-TLS certificate"))?;
        let signing_key = provider()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())))
            .map_err(|_| RatlsError::CorruptIdentity("the private key does not load"))?;
        let matches = signing_key.public_key().is_some_and(|spki| spki.as_ref() == read.spki.as_slice());
        if !matches {
            return Err(RatlsError::CorruptIdentity("the private key is not the certificate's"));
        }
        Ok(Self { certificate, key, key_binding: read.key_binding, evidence: read.evidence })
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// `SHA-256` of the certificate's SubjectPublicKeyInfo: what the evidence binds.
    pub fn key_binding(&self) -> [u8; 32] {
        self.key_binding
    }

    /// The attestation evidence the certificate carries.
    pub fn evidence(&self) -> &[u8] {
        &self.evidence
    }

    /// A rustls server configuration presenting this identity: TLS 1.3 only, ring provider, no
    /// client authentication, no ALPN. Give it to [`crate::ServerSession::new`].
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, RatlsError> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(RatlsError::Config)?
            .with_no_client_auth()
            .with_single_cert(self.certificate_chain(), self.private_key())
            .map_err(RatlsError::Config)?;
        Ok(Arc::new(config))
    }

    /// The chain rustls presents: this certificate alone.
    pub(crate) fn certificate_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![CertificateDer::from(self.certificate.clone())]
    }

    /// A copy of the private key for a rustls configuration (which keeps it in its signing key).
    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.to_vec()))
    }

    /// SCALE bytes of `(version: u8, certificate: Vec<u8>, pkcs8_key: Vec<u8>)`, to be sealed:
    /// they contain the private key.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new((IDENTITY_VERSION, &self.certificate, self.key.as_slice()).encode())
    }

    /// Restores an identity from [`Self::to_bytes`], checking that key and certificate belong
    /// together.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RatlsError> {
        let (version, certificate, key) = <(u8, Vec<u8>, Vec<u8>)>::decode_all(&mut &bytes[..])
            .map_err(|_| RatlsError::CorruptIdentity("the bytes do not decode"))?;
        let key = Zeroizing::new(key);
        if version != IDENTITY_VERSION {
            return Err(RatlsError::CorruptIdentity("unknown format version"));
        }
        Self::from_parts(certificate, key)
    }
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("key_binding", &hex::encode(self.key_binding))
            .field("certificate_len", &self.certificate.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ServerIdentity {
        generate_identity(|binding| [b"evidence for ".as_slice(), binding].concat()).expect("identity")
    }

    #[test]
    fn certificate_carries_evidence_bound_to_its_own_key() {
        let identity = identity();
        let read = read_certificate(identity.certificate_der()).expect("RA-TLS certificate");
        assert_eq!(read.key_binding, key_binding(&read.spki));
        assert_eq!(read.key_binding, identity.key_binding());
        assert_eq!(read.evidence, [b"evidence for ".as_slice(), &identity.key_binding()].concat());
        assert_eq!(identity.evidence(), read.evidence.as_slice());
    }

    #[test]
    fn every_identity_has_a_fresh_key() {
        assert_ne!(identity().key_binding(), identity().key_binding());
    }

    #[test]
    fn identity_survives_sealing_round_trip() {
        let identity = identity();
        let restored = ServerIdentity::from_bytes(&identity.to_bytes()).expect("restores");
        assert_eq!(restored.certificate_der(), identity.certificate_der());
        assert_eq!(restored.key_binding(), identity.key_binding());
        assert!(restored.server_config().is_ok());
    }

    #[test]
    fn corrupt_or_mismatched_identity_bytes_are_refused() {
        let a = identity();
        let b = identity();
        let mut truncated = a.to_bytes().to_vec();
        truncated.pop();
        assert!(matches!(ServerIdentity::from_bytes(&truncated), Err(RatlsError::CorruptIdentity(_))));
        let (_, cert_a, _) = <(u8, Vec<u8>, Vec<u8>)>::decode_all(&mut &a.to_bytes()[..]).expect("decodes");
        let (_, _, key_b) = <(u8, Vec<u8>, Vec<u8>)>::decode_all(&mut &b.to_bytes()[..]).expect("decodes");
        let swapped = (IDENTITY_VERSION, cert_a.clone(), key_b).encode();
        assert!(matches!(
            ServerIdentity::from_bytes(&swapped),
            Err(RatlsError::CorruptIdentity("the private key is not the certificate's"))
        ));
        let future = (IDENTITY_VERSION + 1, cert_a, a.key.to_vec()).encode();
        assert!(matches!(
            ServerIdentity::from_bytes(&future),
            Err(RatlsError::CorruptIdentity("unknown format version"))
        ));
    }

    #[test]
    fn evidence_oid_is_encoded_as_x690_says() {
        // 2.999 -> 1079 -> 0x88 0x37; 1668050793 -> 0x86 0x9b 0xb1 0xde 0x69; 1 -> 0x01.
        let content = oid_content(EVIDENCE_OID);
        assert_eq!(content, vec![0x88, 0x37, 0x86, 0x9b, 0xb1, 0xde, 0x69, 0x01]);
        let identity = identity();
        let tagged = [&[0x06, content.len() as u8][..], &content].concat();
        assert!(identity.certificate_der().windows(tagged.len()).any(|w| w == tagged.as_slice()));
        assert_eq!(oid_content(&[1, 2, 840, 113_549]), vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]);
    }

    #[test]
    fn octet_string_lengths_use_short_and_long_form() {
        assert_eq!(der_octet_string(b"ab"), vec![0x04, 2, b'a', b'b']);
        let long = der_octet_string(&[7u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let identity = identity();
        let shown = format!("{identity:?}");
        assert!(shown.contains(&hex::encode(identity.key_binding())));
        assert!(!shown.contains(&hex::encode(identity.key.as_slice())));
    }
}
