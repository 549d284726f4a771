//! The trusted side of a Cloister validateer (ARCHITECTURE.md section 6).
//!
//! ```text
//!   host (cloister-worker)                     enclave (this crate)
//!   EnclaveClient ── ecall(id, SCALE bytes) ──► Ecalls (SoftwareEnclave; SGX later)
//!        ▲                                          │ sealing (platform secret + MRENCLAVE)
//!        └──────── ocall(id, SCALE bytes) ◄──────── │ keys (ed25519 signing, HPKE shielding)
//! ```
//!
//! - [`boundary`]: the enclave boundary as two traits, [`boundary::Ecalls`] (host → enclave) and
//!   [`boundary::Ocalls`] (enclave → host), whose calls carry only SCALE-encoded byte buffers, so
//!   the boundary could be an SGX transition; and [`boundary::EnclaveClient`], the host's typed
//!   view of it.
//! - [`software`]: the software backend, in-process: MRENCLAVE from the worker executable,
//!   sealing key from the platform secret. It does not protect against root on the host.
//! - [`sealing`]: sealed files, AEAD with the file's purpose as associated data.
//! - [`keys`]: the signing and shielding keys.
//!
//! The enclave crate never depends on the worker (host) crate.

pub mod boundary;
pub mod keys;
pub mod sealing;
pub mod software;

use codec::{Decode, Encode};

/// The measurement of the enclave's code: who the enclave is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Mrenclave(pub [u8; 32]);

impl AsRef<[u8]> for Mrenclave {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for Mrenclave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{}", self.0.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

impl std::str::FromStr for Mrenclave {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix("0x").unwrap_or(text);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("'{text}' is not a MRENCLAVE (32 bytes of hex)"));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Self(out))
    }
}
