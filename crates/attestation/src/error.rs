//! Why an attestation was refused.

use crate::TcbStatus;

/// Why an attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// The policy refuses dev attestations (only development chains accept them).
    #[error("dev attestations are not accepted here; use a DCAP quote, or a chain that allows dev attestation")]
    DevNotAllowed,
    /// The dev report's signature does not verify under its platform key.
    #[error("the dev report's signature does not match its contents and platform key")]
    BadDevSignature,
    /// The dev report is older than the policy allows.
    #[error("the dev report is {age_ms} ms old, more than the {max_ms} ms allowed; make a fresh one")]
    DevReportTooOld {
        /// Its age.
        age_ms: u64,
        /// The most allowed.
        max_ms: u64,
    },
    /// The dev report is dated later than the verifier's clock (beyond the allowed skew).
    #[error("the dev report is dated {timestamp_ms} ms, in the future of {now_ms} ms; check the clocks")]
    DevReportFromFuture {
        /// The report's time.
        timestamp_ms: u64,
        /// The verifier's time.
        now_ms: u64,
    },
    /// The collateral is not a SCALE (or JSON) encoded `QuoteCollateralV3`.
    #[error("the DCAP collateral does not decode: {0}")]
    BadCollateral(String),
    /// `dcap-qvl` refused the quote: bad signature, broken certificate chain, collateral outside
    /// its validity window, debug enclave, unsupported quote.
    #[error("the DCAP quote does not verify: {0}")]
    QuoteRejected(String),
    /// The quote verifies but its platform's TCB is not trustworthy (out of date or revoked).
    #[error("the platform's TCB status is {status}, which is not accepted; update the platform (microcode, BIOS, TDX module)")]
    TcbRefused {
        /// The platform's status.
        status: TcbStatus,
    },
}

impl AttestationError {
    /// Whether the evidence itself is valid and only the policy refuses it (dev attestations not
    /// allowed, a report too old, a platform out of date), as opposed to forged or broken evidence.
    pub fn is_policy_refusal(&self) -> bool {
        matches!(
            self,
            Self::DevNotAllowed
                | Self::DevReportTooOld { .. }
                | Self::DevReportFromFuture { .. }
                | Self::TcbRefused { .. }
        )
    }
}
