//! The client's side of RA-TLS: a rustls certificate verifier that accepts a server only if its
//! certificate carries attestation evidence, bound to the certificate's key, for the pinned
//! MRENCLAVE.
//!
//! What [`AttestedServerVerifier`] checks, in order:
//! 1. the end-entity certificate parses and carries exactly one [`EVIDENCE_OID`] extension;
//! 2. the caller's [`EvidenceVerifier`] accepts the evidence for the key binding recomputed from
//!    the certificate's SubjectPublicKeyInfo, and names the MRENCLAVE it attests;
//! 3. that MRENCLAVE is the pinned one;
//! 4. during the handshake, the server's TLS signature verifies with the certificate's key, which
//!    proves the server holds the attested key.
//!
//! Server names, CA chains, validity dates and the certificate's self-signature are not checked:
//! the identity of an enclave is its measurement, not a name, and its evidence (not a date in a
//! self-issued certificate) says how fresh it is.

use crate::{
    identity::{oid_content, provider},
    CertRejection, RatlsError, EVIDENCE_OID,
};
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
    CertificateError, DigitallySignedStruct, OtherError, SignatureScheme,
};
use std::sync::{Arc, Mutex, PoisonError};
use x509_parser::{
    asn1_rs::{FromDer as _, OctetString},
    certificate::X509Certificate,
};

/// Checks attestation evidence: gets the evidence bytes and the key binding recomputed from the
/// certificate, returns the MRENCLAVE the evidence attests, or why it is refused.
///
/// It must verify the evidence's signature (or DCAP quote) and that its report data contain the
/// key binding; without the second check, evidence copied from another server's certificate
/// would pass.
pub type EvidenceVerifier = Arc<dyn Fn(&[u8], &[u8; 32]) -> Result<[u8; 32], String> + Send + Sync>;

/// What an RA-TLS certificate says, as read by [`read_certificate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateEvidence {
    /// The certificate's SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
    /// [`crate::key_binding`] of `spki`.
    pub key_binding: [u8; 32],
    /// The evidence bytes from the [`EVIDENCE_OID`] extension.
    pub evidence: Vec<u8>,
}

/// Reads an RA-TLS certificate (DER): its key, key binding and evidence. Checks nothing else;
/// also serves a server that checks client certificates (MU-RA).
pub fn read_certificate(der: &[u8]) -> Result<CertificateEvidence, CertRejection> {
    let (rest, certificate) = X509Certificate::from_der(der).map_err(|e| CertRejection::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CertRejection::Malformed("trailing bytes after the certificate".into()));
    }
    let oid = oid_content(EVIDENCE_OID);
    let mut evidence = certificate.extensions().iter().filter(|extension| extension.oid.as_bytes() == oid.as_slice());
    let extension = evidence.next().ok_or(CertRejection::MissingEvidence)?;
    if evidence.next().is_some() {
        return Err(CertRejection::Malformed("two evidence extensions".into()));
    }
    let (rest, octets) = OctetString::from_der(extension.value)
        .map_err(|_| CertRejection::Malformed("the evidence extension is not an OCTET STRING".into()))?;
    if !rest.is_empty() {
        return Err(CertRejection::Malformed("trailing bytes in the evidence extension".into()));
    }
    let spki = certificate.tbs_certificate.subject_pki.raw.to_vec();
    Ok(CertificateEvidence { key_binding: crate::key_binding(&spki), spki, evidence: octets.as_cow().to_vec() })
}

/// A rustls server certificate verifier for RA-TLS: see the module documentation for what it
/// checks. Refusals are [`CertRejection`]s inside `rustls::Error::InvalidCertificate(Other)`.
pub struct AttestedServerVerifier {
    pinned_mrenclave: [u8; 32],
    verify_evidence: EvidenceVerifier,
    provider: Arc<CryptoProvider>,
    last_rejection: Mutex<Option<CertRejection>>,
}

impl AttestedServerVerifier {
    /// Accepts only servers whose evidence `verify_evidence` accepts for `pinned_mrenclave`.
    pub fn new(pinned_mrenclave: [u8; 32], verify_evidence: EvidenceVerifier) -> Self {
        Self { pinned_mrenclave, verify_evidence, provider: provider(), last_rejection: Mutex::new(None) }
    }

    /// Why the last certificate was refused, if it was (rustls reports the error as text only).
    pub fn last_rejection(&self) -> Option<CertRejection> {
        self.last_rejection.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Runs checks 1 to 3 on a DER certificate.
    pub fn check_certificate(&self, der: &[u8]) -> Result<(), CertRejection> {
        let read = read_certificate(der)?;
        let found =
            (self.verify_evidence)(&read.evidence, &read.key_binding).map_err(CertRejection::EvidenceRejected)?;
        if found != self.pinned_mrenclave {
            return Err(CertRejection::MrenclaveMismatch { expected: self.pinned_mrenclave, found });
        }
        Ok(())
    }

    /// A rustls client configuration using this verifier: TLS 1.3 only, ring provider, no client
    /// certificate.
    pub fn client_config(self: Arc<Self>) -> Result<rustls::ClientConfig, RatlsError> {
        let config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(RatlsError::Config)?
            .dangerous()
            .with_custom_certificate_verifier(self)
            .with_no_client_auth();
        Ok(config)
    }
}

impl std::fmt::Debug for AttestedServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestedServerVerifier")
            .field("pinned_mrenclave", &hex::encode(self.pinned_mrenclave))
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for AttestedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.check_certificate(end_entity.as_ref());
        let mut last = self.last_rejection.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(()) => {
                *last = None;
                Ok(ServerCertVerified::assertion())
            }
            Err(rejection) => {
                tracing::debug!(target: "ratls", %rejection, "server certificate refused");
                *last = Some(rejection.clone());
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(rejection)))))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_identity;

    const GOOD: [u8; 32] = [0xaa; 32];

    /// Test evidence: `MRENCLAVE || key binding`, accepted when the binding matches.
    fn evidence(mrenclave: [u8; 32]) -> impl FnOnce(&[u8; 32]) -> Vec<u8> {
        move |binding| [mrenclave.as_slice(), binding].concat()
    }

    fn verifier() -> AttestedServerVerifier {
        AttestedServerVerifier::new(
            GOOD,
            Arc::new(|evidence: &[u8], binding: &[u8; 32]| {
                let (mrenclave, bound) = evidence.split_at_checked(32).ok_or("short evidence")?;
                if bound != binding {
                    return Err("report data do not bind this certificate's key".into());
                }
                mrenclave.try_into().map_err(|_| "bad MRENCLAVE".to_string())
            }),
        )
    }

    #[test]
    fn accepts_evidence_for_the_pinned_mrenclave() {
        let identity = generate_identity(evidence(GOOD)).expect("identity");
        assert_eq!(verifier().check_certificate(identity.certificate_der()), Ok(()));
    }

    #[test]
    fn refuses_another_mrenclave() {
        let identity = generate_identity(evidence([0xbb; 32])).expect("identity");
        assert_eq!(
            verifier().check_certificate(identity.certificate_der()),
            Err(CertRejection::MrenclaveMismatch { expected: GOOD, found: [0xbb; 32] })
        );
    }

    #[test]
    fn refuses_garbage_and_plain_certificates() {
        assert!(matches!(verifier().check_certificate(b"not a certificate"), Err(CertRejection::Malformed(_))));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let plain = crate::identity::self_signed_certificate(&key, None).expect("certificate");
        assert_eq!(verifier().check_certificate(&plain), Err(CertRejection::MissingEvidence));
    }

    #[test]
    fn refusal_reaches_rustls_as_invalid_certificate_and_is_remembered() {
        let verifier = verifier();
        let identity = generate_identity(evidence([0xbb; 32])).expect("identity");
        let cert = CertificateDer::from(identity.certificate_der().to_vec());
        let name = ServerName::try_from("localhost").expect("name");
        let error = verifier.verify_server_cert(&cert, &[], &name, &[], UnixTime::now()).expect_err("refused");
        let rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = error else {
            panic!("not an invalid-certificate error: {error}");
        };
        let rejection = inner.downcast_ref::<CertRejection>().expect("typed rejection");
        assert!(rejection.to_string().contains("not the pinned"), "{rejection}");
        assert!(matches!(verifier.last_rejection(), Some(CertRejection::MrenclaveMismatch { .. })));
    }
}
