//! Attestation made inside the enclave: the registration report and the RA-TLS evidence.
//!
//! On the software backend the report is a `Dev` attestation signed by the platform's dev
//! attestation key (derived from the sealing key); chains accept it only where the chain spec
//! allows dev attestation. On SGX the same calls return a DCAP quote. Two report-data shapes:
//! registration binds the signing and shielding keys ([`cloister_attestation::report_data`]);
//! RA-TLS binds the TLS key ([`tls_report_data`]).

use crate::{sealing::Sealer, Mrenclave};
use cloister_attestation::{Attestation, DevReport, Policy};
use codec::{Decode, Encode};

/// Domain of the report data that binds an RA-TLS certificate's key.
const TLS_CONTEXT: &[u8] = b"cloister/ra-tls/v1";
/// Purpose of the dev attestation key derived from the sealing key.
const DEV_KEY_PURPOSE: &str = "cloister/dev-attestation-key/v1";

/// The report data of RA-TLS evidence for a certificate whose key binding is `key_binding`.
pub fn tls_report_data(key_binding: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&sp_crypto_hashing::blake2_256(&[TLS_CONTEXT, key_binding].concat()));
    out
}

/// A dev attestation of `report_data` by this enclave on this platform.
pub fn dev_attestation(sealer: &Sealer, mrenclave: Mrenclave, report_data: [u8; 64], now_ms: u64) -> Attestation {
    let seed = sealer.derive(DEV_KEY_PURPOSE);
    let pair = <sp_core::ed25519::Pair as sp_core::Pair>::from_seed(&seed);
    Attestation::Dev(DevReport::sign(&pair, mrenclave, report_data, now_ms))
}

/// Checks RA-TLS evidence (a SCALE [`Attestation`]) for a certificate with `key_binding`, as a
/// client does; returns the MRENCLAVE it attests.
pub fn verify_tls_evidence(evidence: &[u8], key_binding: &[u8; 32], policy: &Policy) -> Result<Mrenclave, String> {
    let attestation =
        Attestation::decode(&mut &evidence[..]).map_err(|_| "evidence is not an attestation".to_string())?;
    let report = cloister_attestation::verify(&attestation, policy).map_err(|e| e.to_string())?;
    if report.report_data != tls_report_data(key_binding) {
        return Err("the attestation is not bound to this certificate's key".into());
    }
    Ok(report.mrenclave)
}

/// How long a dev attestation in an RA-TLS certificate stays acceptable to a client.
pub const MAX_DEV_TLS_REPORT_AGE_MS: u64 = 24 * 3600 * 1000;

/// The certificate check a client gives [`cloister_ratls::connect`]: the evidence must be an
/// attestation bound to the certificate's key, verified at the client's clock; dev attestation
/// only if `allow_dev` (as the parentchain says).
pub fn evidence_verifier(allow_dev: bool) -> cloister_ratls::EvidenceVerifier {
    std::sync::Arc::new(move |evidence: &[u8], binding: &[u8; 32]| {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let policy = Policy { allow_dev, now_ms, max_dev_report_age_ms: MAX_DEV_TLS_REPORT_AGE_MS };
        verify_tls_evidence(evidence, binding, &policy).map(|m| m.0)
    })
}

/// The evidence to put in the RA-TLS certificate for `key_binding`.
pub fn tls_evidence(sealer: &Sealer, mrenclave: Mrenclave, key_binding: &[u8; 32], now_ms: u64) -> Vec<u8> {
    dev_attestation(sealer, mrenclave, tls_report_data(key_binding), now_ms).encode()
}
