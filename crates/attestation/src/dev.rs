//! Dev attestation: a report signed by the platform's dev attestation key.
//!
//! The software backend has no hardware to vouch for it: it signs its MRENCLAVE and report data
//! with a per-platform ed25519 key. Anyone can make such a key, so a dev report proves integrity
//! of the report, not the code behind it; chains accept it only when their policy says so.

use crate::{AttestationError, AttestationKind, Policy, VerifiedReport};
use cloister_primitives::Mrenclave;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{ed25519, Pair};

/// Domain separator of the payload a dev report's signature covers.
pub const DEV_REPORT_CONTEXT: &[u8] = b"cloister/dev-report/v1";

/// How far in the verifier's future a dev report may be dated (clocks differ, and a block's
/// timestamp is its slot's start).
pub const MAX_CLOCK_SKEW_MS: u64 = 30_000;

/// A report signed by a platform's dev attestation key (ed25519).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub struct DevReport {
    /// The enclave's measurement.
    pub mrenclave: Mrenclave,
    /// The 64 bytes the enclave asked to be reported (see [`crate::report_data`]).
    pub report_data: [u8; 64],
    /// When the report was made, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The platform's dev attestation public key.
    pub platform_key: [u8; 32],
    /// ed25519 signature of [`DevReport::payload`] by `platform_key`.
    pub signature: [u8; 64],
}

impl DevReport {
    /// Signs a report with the platform's dev attestation key.
    pub fn sign(pair: &ed25519::Pair, mrenclave: Mrenclave, report_data: [u8; 64], timestamp_ms: u64) -> Self {
        let signature = pair.sign(&Self::payload(&mrenclave, &report_data, timestamp_ms));
        Self { mrenclave, report_data, timestamp_ms, platform_key: pair.public().0, signature: signature.0 }
    }

    /// The signed bytes: SCALE of `(DEV_REPORT_CONTEXT, mrenclave, report_data, timestamp_ms)`.
    pub fn payload(mrenclave: &Mrenclave, report_data: &[u8; 64], timestamp_ms: u64) -> Vec<u8> {
        (DEV_REPORT_CONTEXT, mrenclave, report_data, timestamp_ms).encode()
    }

    /// Whether the signature matches the contents and the platform key.
    pub fn signature_is_valid(&self) -> bool {
        let payload = Self::payload(&self.mrenclave, &self.report_data, self.timestamp_ms);
        ed25519::Pair::verify(
            &ed25519::Signature::from_raw(self.signature),
            payload,
            &ed25519::Public::from_raw(self.platform_key),
        )
    }
}

/// Verifies a dev report under `policy`.
pub(crate) fn verify(report: &DevReport, policy: &Policy) -> Result<VerifiedReport, AttestationError> {
    if !policy.allow_dev {
        return Err(AttestationError::DevNotAllowed);
    }
    if !report.signature_is_valid() {
        return Err(AttestationError::BadDevSignature);
    }
    if report.timestamp_ms > policy.now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(AttestationError::DevReportFromFuture { timestamp_ms: report.timestamp_ms, now_ms: policy.now_ms });
    }
    let age_ms = policy.now_ms.saturating_sub(report.timestamp_ms);
    if age_ms > policy.max_dev_report_age_ms {
        return Err(AttestationError::DevReportTooOld { age_ms, max_ms: policy.max_dev_report_age_ms });
    }
    Ok(VerifiedReport { mrenclave: report.mrenclave, report_data: report.report_data, kind: AttestationKind::Dev })
}

#[cfg(test)]
mod tests {
    use crate::*;
    use sp_core::{ed25519, Pair};

    const NOW: u64 = 1_750_000_000_000;
    const HOUR: u64 = 3_600_000;

    fn policy(allow_dev: bool) -> Policy {
        Policy { allow_dev, now_ms: NOW, max_dev_report_age_ms: HOUR }
    }

    fn report(timestamp_ms: u64) -> DevReport {
        let platform = ed25519::Pair::from_seed(&[3; 32]);
        DevReport::sign(&platform, Mrenclave([5; 32]), report_data(&[1; 32], &[2; 32]), timestamp_ms)
    }

    #[test]
    fn dev_report_verifies_when_allowed() {
        let verified = verify(&Attestation::Dev(report(NOW - 1_000)), &policy(true)).expect("verifies");
        assert_eq!(verified.mrenclave, Mrenclave([5; 32]));
        assert_eq!(verified.report_data, report_data(&[1; 32], &[2; 32]));
        assert_eq!(verified.kind, AttestationKind::Dev);
    }

    #[test]
    fn dev_report_is_refused_when_the_policy_disallows_it() {
        let refused = verify(&Attestation::Dev(report(NOW)), &policy(false));
        assert_eq!(refused, Err(AttestationError::DevNotAllowed));
        assert!(AttestationError::DevNotAllowed.is_policy_refusal());
    }

    #[test]
    fn tampered_dev_report_is_refused() {
        let mut bad_signature = report(NOW);
        bad_signature.signature[0] ^= 1;
        let mut other_mrenclave = report(NOW);
        other_mrenclave.mrenclave = Mrenclave([6; 32]);
        let mut other_data = report(NOW);
        other_data.report_data[63] ^= 1;
        let mut other_time = report(NOW);
        other_time.timestamp_ms += 1;
        let mut other_key = report(NOW);
        other_key.platform_key = ed25519::Pair::from_seed(&[4; 32]).public().0;
        for tampered in [bad_signature, other_mrenclave, other_data, other_time, other_key] {
            assert_eq!(verify(&Attestation::Dev(tampered), &policy(true)), Err(AttestationError::BadDevSignature));
        }
    }

    #[test]
    fn old_dev_report_is_refused() {
        let refused = verify(&Attestation::Dev(report(NOW - HOUR - 1)), &policy(true));
        assert_eq!(refused, Err(AttestationError::DevReportTooOld { age_ms: HOUR + 1, max_ms: HOUR }));
        assert!(verify(&Attestation::Dev(report(NOW - HOUR)), &policy(true)).is_ok(), "exactly the limit");
    }

    #[test]
    fn dev_report_from_the_future_is_refused_beyond_the_skew() {
        assert!(verify(&Attestation::Dev(report(NOW + MAX_CLOCK_SKEW_MS)), &policy(true)).is_ok());
        let refused = verify(&Attestation::Dev(report(NOW + MAX_CLOCK_SKEW_MS + 1)), &policy(true));
        assert!(matches!(refused, Err(AttestationError::DevReportFromFuture { .. })), "{refused:?}");
    }
}
