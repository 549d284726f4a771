//! DCAP: Intel SGX and TDX quotes verified offline with `dcap-qvl`.
//!
//! `dcap-qvl` checks the quote's signature by the quoting enclave, the QE report, the PCK
//! certificate chain up to Intel's SGX root CA (against the CRLs), the signed TCB info and QE
//! identity and their validity windows at the given time, refuses debug enclaves and TDs, and
//! matches the platform's TCB level. This module then applies Cloister's TCB policy
//! ([`TcbStatus::is_acceptable`]) and extracts the measurement and report data.

use crate::{AttestationError, AttestationKind, VerifiedReport};
use cloister_primitives::Mrenclave;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use dcap_qvl::{quote::Report, QuoteCollateralV3};
use scale_info::TypeInfo;

/// The TCB status of a platform, as Intel's TCB info classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub enum TcbStatus {
    /// The platform is fully patched.
    UpToDate,
    /// Patched, but software hardening against some advisories is the enclave's job.
    SWHardeningNeeded,
    /// Patched, but the platform's configuration (BIOS) leaves some advisories open.
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// Missing security updates.
    OutOfDate,
    /// Missing security updates, and configuration needed.
    OutOfDateConfigurationNeeded,
    /// The platform's keys are revoked.
    Revoked,
    /// TDX 1.5: the TD was launched on an out-of-date TCB since updated in place.
    TDRelaunchAdvised,
    /// TDX 1.5: relaunch advised, and configuration needed.
    TDRelaunchAdvisedConfigurationNeeded,
}

impl TcbStatus {
    /// Whether Cloister accepts an enclave on a platform with this status.
    ///
    /// Accepted: `UpToDate`, `SWHardeningNeeded`, `ConfigurationNeeded`,
    /// `ConfigurationAndSWHardeningNeeded` — the platform has every security update; what is
    /// left is configuration or in-enclave hardening, which most cloud platforms report (so does
    /// the real SGX sample). Refused: `OutOfDate*` and `Revoked` (known-broken platforms), and
    /// the TDX `TDRelaunchAdvised*` statuses (the TD still runs what it measured on a broken TCB:
    /// relaunch it, then attest again).
    pub fn is_acceptable(self) -> bool {
        matches!(
            self,
            Self::UpToDate
                | Self::SWHardeningNeeded
                | Self::ConfigurationNeeded
                | Self::ConfigurationAndSWHardeningNeeded
        )
    }

    /// Intel's name of the status, as `dcap-qvl` prints it.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "UpToDate" => Self::UpToDate,
            "SWHardeningNeeded" => Self::SWHardeningNeeded,
            "ConfigurationNeeded" => Self::ConfigurationNeeded,
            "ConfigurationAndSWHardeningNeeded" => Self::ConfigurationAndSWHardeningNeeded,
            "OutOfDate" => Self::OutOfDate,
            "OutOfDateConfigurationNeeded" => Self::OutOfDateConfigurationNeeded,
            "Revoked" => Self::Revoked,
            "TDRelaunchAdvised" => Self::TDRelaunchAdvised,
            "TDRelaunchAdvisedConfigurationNeeded" => Self::TDRelaunchAdvisedConfigurationNeeded,
            _ => return None,
        })
    }
}

impl core::fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

/// Turns collateral as a PCCS serves it (the JSON of `dcap_qvl::QuoteCollateralV3`) into the
/// SCALE bytes [`crate::Attestation::Dcap`] carries.
pub fn dcap_collateral_from_json(json: &[u8]) -> Result<Vec<u8>, AttestationError> {
    serde_json::from_slice::<QuoteCollateralV3>(json)
        .map(|collateral| collateral.encode())
        .map_err(|e| AttestationError::BadCollateral(e.to_string()))
}

/// Verifies a DCAP quote and its SCALE-encoded collateral at `now_ms`.
pub(crate) fn verify(quote: &[u8], collateral: &[u8], now_ms: u64) -> Result<VerifiedReport, AttestationError> {
    let collateral =
        QuoteCollateralV3::decode(&mut &collateral[..]).map_err(|e| AttestationError::BadCollateral(e.to_string()))?;
    let verified = dcap_qvl::verify::verify(quote, &collateral, now_ms / 1000)
        .map_err(|e| AttestationError::QuoteRejected(format!("{e:#}")))?;
    let tcb_status = TcbStatus::from_name(&verified.status)
        .ok_or_else(|| AttestationError::QuoteRejected(format!("unknown TCB status {}", verified.status)))?;
    if !tcb_status.is_acceptable() {
        return Err(AttestationError::TcbRefused { status: tcb_status });
    }
    let (mrenclave, report_data) = match &verified.report {
        Report::SgxEnclave(report) => (Mrenclave(report.mr_enclave), report.report_data),
        other => match other.as_td10() {
            Some(td) => (Mrenclave(sp_crypto_hashing::blake2_256(&td.mr_td)), td.report_data),
            None => return Err(AttestationError::QuoteRejected("neither an SGX nor a TDX report".into())),
        },
    };
    Ok(VerifiedReport { mrenclave, report_data, kind: AttestationKind::Dcap { tcb_status } })
}

#[cfg(test)]
mod tests {
    use crate::{samples, *};
    use codec::{Decode, Encode};

    fn dcap(quote: &[u8], collateral_json: &[u8]) -> Attestation {
        Attestation::Dcap {
            quote: quote.to_vec(),
            collateral: dcap_collateral_from_json(collateral_json).expect("sample collateral"),
        }
    }

    fn at(now_ms: u64) -> Policy {
        Policy { allow_dev: false, now_ms, max_dev_report_age_ms: 0 }
    }

    #[test]
    fn sgx_sample_verifies_with_its_tcb_status_and_mrenclave() {
        let verified = verify(&samples::sgx(), &at(samples::SGX_NOW_MS)).expect("verifies");
        assert_eq!(verified.kind, AttestationKind::Dcap { tcb_status: TcbStatus::ConfigurationAndSWHardeningNeeded });
        let quote = dcap_qvl::quote::Quote::parse(samples::SGX_QUOTE).expect("parses");
        let body = quote.report.as_sgx().expect("an SGX report");
        assert_eq!(verified.mrenclave, Mrenclave(body.mr_enclave));
        assert_eq!(verified.report_data, body.report_data);
        // The measurement is the one written in the quote at its fixed offset (48-byte header,
        // then MRENCLAVE at 64 in the report body).
        assert_eq!(&verified.mrenclave.0[..], &samples::SGX_QUOTE[112..144]);
    }

    #[test]
    fn tdx_sample_verifies_with_the_hash_of_its_mrtd() {
        let verified = verify(&samples::tdx(), &at(samples::TDX_NOW_MS)).expect("verifies");
        let quote = dcap_qvl::quote::Quote::parse(samples::TDX_QUOTE).expect("parses");
        let td = quote.report.as_td10().expect("a TD report");
        assert_eq!(verified.mrenclave, Mrenclave(sp_crypto_hashing::blake2_256(&td.mr_td)));
        assert_eq!(verified.report_data, td.report_data);
        assert!(matches!(verified.kind, AttestationKind::Dcap { tcb_status } if tcb_status.is_acceptable()));
    }

    #[test]
    fn quote_outside_the_collateral_window_is_refused() {
        // 2025-08-01 and 2025-06-01: after and before the window of 2025-06-19 to 2025-07-19.
        for now_ms in [1_754_006_400_000, 1_748_736_000_000] {
            let refused = verify(&samples::sgx(), &at(now_ms));
            assert!(matches!(refused, Err(AttestationError::QuoteRejected(_))), "{refused:?}");
        }
    }

    #[test]
    fn flipped_byte_in_the_signed_quote_is_refused() {
        // Inside the report body: the report data (offset 48 + 320).
        let mut quote = samples::SGX_QUOTE.to_vec();
        quote[48 + 320] ^= 1;
        let refused = verify(&dcap(&quote, samples::SGX_COLLATERAL_JSON), &at(samples::SGX_NOW_MS));
        assert!(matches!(refused, Err(AttestationError::QuoteRejected(_))), "{refused:?}");
        // And the MRENCLAVE.
        let mut quote = samples::SGX_QUOTE.to_vec();
        quote[112] ^= 0x80;
        let refused = verify(&dcap(&quote, samples::SGX_COLLATERAL_JSON), &at(samples::SGX_NOW_MS));
        assert!(matches!(refused, Err(AttestationError::QuoteRejected(_))), "{refused:?}");
    }

    #[test]
    fn flipped_byte_in_the_collateral_is_refused() {
        let Attestation::Dcap { quote, collateral } = samples::sgx() else { unreachable!("a DCAP sample") };
        let mut decoded = dcap_qvl::QuoteCollateralV3::decode(&mut &collateral[..]).expect("decodes");
        // A change to the signed TCB info that keeps it valid JSON: its signature no longer holds.
        let signed = decoded.tcb_info.clone();
        decoded.tcb_info = signed.replacen("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18", 1);
        assert_ne!(decoded.tcb_info, signed, "the sample's TCB info changed");
        let tampered = Attestation::Dcap { quote: quote.clone(), collateral: decoded.encode() };
        let refused = verify(&tampered, &at(samples::SGX_NOW_MS));
        assert!(matches!(refused, Err(AttestationError::QuoteRejected(_))), "{refused:?}");
        // A raw flipped byte in the middle of the encoded collateral.
        let mut bytes = collateral.clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        let refused = verify(&Attestation::Dcap { quote, collateral: bytes }, &at(samples::SGX_NOW_MS));
        assert!(refused.is_err(), "{refused:?}");
    }

    #[test]
    fn outdated_tdx_platform_is_refused() {
        // This platform's TCB is below every level Intel's TCB info lists, so dcap-qvl finds no
        // status for it at all and refuses the quote (before our TCB policy would).
        let refused = verify(&samples::tdx_outdated(), &at(samples::TDX_OUTDATED_NOW_MS));
        let Err(AttestationError::QuoteRejected(reason)) = refused else { panic!("refused: {refused:?}") };
        assert!(reason.contains("TCB level"), "{reason}");
    }

    #[test]
    fn collateral_that_does_not_decode_is_refused() {
        let refused =
            verify(&Attestation::Dcap { quote: samples::SGX_QUOTE.to_vec(), collateral: vec![1, 2, 3] }, &at(0));
        assert!(matches!(refused, Err(AttestationError::BadCollateral(_))), "{refused:?}");
        assert!(matches!(dcap_collateral_from_json(b"{}"), Err(AttestationError::BadCollateral(_))));
    }

    #[test]
    fn tcb_policy_accepts_patched_platforms_only() {
        use TcbStatus::*;
        for ok in [UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded] {
            assert!(ok.is_acceptable(), "{ok}");
            assert_eq!(TcbStatus::from_name(&ok.to_string()), Some(ok));
        }
        for refused in
            [OutOfDate, OutOfDateConfigurationNeeded, Revoked, TDRelaunchAdvised, TDRelaunchAdvisedConfigurationNeeded]
        {
            assert!(!refused.is_acceptable(), "{refused}");
            assert_eq!(TcbStatus::from_name(&refused.to_string()), Some(refused));
        }
    }
}
