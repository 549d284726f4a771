//! The real DCAP sample quotes of `testdata/` (from Phala-Network/dcap-qvl, MIT), with a time
//! inside each one's collateral window, for tests here and in other crates (`test-utils`).

use crate::{dcap_collateral_from_json, Attestation};

/// An SGX ECDSA quote (v3); TCB status `ConfigurationAndSWHardeningNeeded`.
pub const SGX_QUOTE: &[u8] = include_bytes!("../testdata/sgx_quote");
/// Its collateral as JSON, valid 2025-06-19 to 2025-07-19.
pub const SGX_COLLATERAL_JSON: &[u8] = include_bytes!("../testdata/sgx_quote_collateral.json");
/// 2025-07-04T00:00:00Z: inside the SGX sample's window.
pub const SGX_NOW_MS: u64 = 1_751_587_200_000;

/// A TDX quote (v4).
pub const TDX_QUOTE: &[u8] = include_bytes!("../testdata/tdx_quote");
/// Its collateral as JSON, valid 2025-06-19 to 2025-07-19.
pub const TDX_COLLATERAL_JSON: &[u8] = include_bytes!("../testdata/tdx_quote_collateral.json");
/// 2025-07-04T00:00:00Z: inside the TDX sample's window.
pub const TDX_NOW_MS: u64 = 1_751_587_200_000;

/// A TDX quote of a platform whose TCB is out of date.
pub const TDX_OUTDATED_QUOTE: &[u8] = include_bytes!("../testdata/tdx_quote_outdated");
/// Its collateral as JSON, valid 2026-02-18 to 2026-03-20.
pub const TDX_OUTDATED_COLLATERAL_JSON: &[u8] = include_bytes!("../testdata/tdx_quote_outdated_collateral.json");
/// 2026-03-05T00:00:00Z: inside the outdated TDX sample's window.
pub const TDX_OUTDATED_NOW_MS: u64 = 1_772_668_800_000;

fn dcap(quote: &[u8], collateral_json: &[u8]) -> Attestation {
    // The samples are fixed files that decode; a failure here is a broken checkout.
    let collateral = dcap_collateral_from_json(collateral_json).expect("the sample collateral decodes");
    Attestation::Dcap { quote: quote.to_vec(), collateral }
}

/// The SGX sample as an attestation.
pub fn sgx() -> Attestation {
    dcap(SGX_QUOTE, SGX_COLLATERAL_JSON)
}

/// The TDX sample as an attestation.
pub fn tdx() -> Attestation {
    dcap(TDX_QUOTE, TDX_COLLATERAL_JSON)
}

/// The out-of-date TDX sample as an attestation.
pub fn tdx_outdated() -> Attestation {
    dcap(TDX_OUTDATED_QUOTE, TDX_OUTDATED_COLLATERAL_JSON)
}
