//! Enclave attestation: report data, dev attestation and DCAP quote verification.
//!
//! An enclave proves who it is (its MRENCLAVE) and which keys it holds by an [`Attestation`]
//! whose report data commits to its keys ([`report_data`]). The enclave produces it, the
//! parentchain's enclave registry checks it with [`verify`] before it records the enclave
//! (ARCHITECTURE.md 6.3), and RA-TLS peers can check it the same way.
//!
//! ```text
//!  enclave                                   parentchain (EnclaveRegistry)
//!  signing key (ed25519) ─┐
//!  shielding key (X25519) ┴► report_data ─► Attestation ─► verify(policy) ─► VerifiedReport
//!                                           Dev | Dcap                     mrenclave, report_data,
//!                                                                          kind (Dev | Dcap{tcb})
//! ```
//!
//! Two kinds:
//! - [`Attestation::Dev`]: a [`DevReport`] signed by the platform's dev attestation key
//!   (ed25519). It proves only that whoever holds that key vouches for the report, so it is
//!   accepted only where [`Policy::allow_dev`] says so (development chains).
//! - [`Attestation::Dcap`]: an Intel SGX or TDX DCAP quote and its collateral, verified offline
//!   with the `dcap-qvl` crate against Intel's root of trust at [`Policy::now_ms`]. The collateral
//!   is the SCALE encoding of `dcap_qvl::QuoteCollateralV3` ([`dcap_collateral_from_json`] turns
//!   the JSON a PCCS serves into it). Which TCB statuses pass is said at [`TcbStatus::is_acceptable`].
//!
//! [`verify`] checks the evidence only; binding the report data to the sender of a
//! registration is the caller's job (compare [`VerifiedReport::report_data`] with
//! [`report_data`] of the keys it expects).

mod dcap;
mod dev;
mod error;
#[cfg(any(test, feature = "test-utils"))]
pub mod samples;

pub use dcap::{dcap_collateral_from_json, TcbStatus};
pub use dev::{DevReport, DEV_REPORT_CONTEXT, MAX_CLOCK_SKEW_MS};
pub use error::AttestationError;

use cloister_primitives::Mrenclave;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Domain separator of [`report_data`]: the version of what an enclave's report data commits to.
pub const REPORT_DATA_CONTEXT: &[u8] = b"cloister/enclave-keys/v1";

/// The 64 bytes of report data that bind an enclave's ed25519 signing key (its parentchain
/// account) and its X25519 shielding key: `blake2_256(context ++ signing ++ shielding)` followed
/// by 32 zero bytes.
pub fn report_data(signing_key: &[u8; 32], shielding_key: &[u8; 32]) -> [u8; 64] {
    let mut preimage = Vec::with_capacity(REPORT_DATA_CONTEXT.len() + 64);
    preimage.extend_from_slice(REPORT_DATA_CONTEXT);
    preimage.extend_from_slice(signing_key);
    preimage.extend_from_slice(shielding_key);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&sp_crypto_hashing::blake2_256(&preimage));
    out
}

/// Evidence that an enclave with some MRENCLAVE produced some report data.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum Attestation {
    /// A report signed by the platform's dev attestation key (development chains only).
    Dev(DevReport),
    /// An Intel DCAP quote (SGX v3 or TDX v4) and its collateral.
    Dcap {
        /// The raw quote as the quoting enclave produced it.
        quote: Vec<u8>,
        /// SCALE encoding of `dcap_qvl::QuoteCollateralV3` (see [`dcap_collateral_from_json`]).
        collateral: Vec<u8>,
    },
}

/// What a verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Whether dev attestations are accepted at all.
    pub allow_dev: bool,
    /// The verifier's current time, milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// The oldest a dev report may be, in milliseconds.
    pub max_dev_report_age_ms: u64,
}

/// How an attestation was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo)]
pub enum AttestationKind {
    /// A dev report (no hardware behind it).
    Dev,
    /// A DCAP quote, with the TCB status of its platform.
    Dcap {
        /// The platform's TCB status at verification time.
        tcb_status: TcbStatus,
    },
}

impl core::fmt::Display for AttestationKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Dev => f.write_str("dev"),
            Self::Dcap { tcb_status } => write!(f, "dcap ({tcb_status})"),
        }
    }
}

/// What a verified attestation says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct VerifiedReport {
    /// The enclave's measurement (for TDX: `blake2_256(MRTD)`).
    pub mrenclave: Mrenclave,
    /// The 64 bytes the enclave put in its report.
    pub report_data: [u8; 64],
    /// How it was verified.
    pub kind: AttestationKind,
}

/// Verifies an attestation under `policy`; on success says what it attests.
pub fn verify(attestation: &Attestation, policy: &Policy) -> Result<VerifiedReport, AttestationError> {
    match attestation {
        Attestation::Dev(report) => dev::verify(report, policy),
        Attestation::Dcap { quote, collateral } => dcap::verify(quote, collateral, policy.now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_binds_both_keys_and_ends_in_zeros() {
        let data = report_data(&[1; 32], &[2; 32]);
        assert_eq!(&data[32..], &[0u8; 32]);
        assert_ne!(data, report_data(&[1; 32], &[3; 32]), "another shielding key");
        assert_ne!(data, report_data(&[3; 32], &[2; 32]), "another signing key");
        let mut preimage = REPORT_DATA_CONTEXT.to_vec();
        preimage.extend([1u8; 32]);
        preimage.extend([2u8; 32]);
        assert_eq!(data[..32], sp_crypto_hashing::blake2_256(&preimage));
    }

    #[test]
    fn attestation_round_trips_through_scale() {
        let pair = <sp_core::ed25519::Pair as sp_core::Pair>::from_seed(&[7; 32]);
        let dev = Attestation::Dev(DevReport::sign(&pair, Mrenclave([9; 32]), [1; 64], 42));
        assert_eq!(Attestation::decode(&mut &dev.encode()[..]), Ok(dev));
        let dcap = Attestation::Dcap { quote: vec![1, 2], collateral: vec![3] };
        assert_eq!(Attestation::decode(&mut &dcap.encode()[..]), Ok(dcap));
    }
}
