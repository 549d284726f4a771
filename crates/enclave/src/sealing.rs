//! Sealing: encrypting the enclave's secrets and state so that only the same enclave code on the
//! same platform can read them back.
//!
//! Software backend (ARCHITECTURE.md 6.2): the sealing key is HKDF-SHA256 of a platform secret,
//! salted with the MRENCLAVE, so a changed build cannot unseal what another build sealed. The
//! platform secret is a 0600 file created once per base path. Each sealed file is
//! `MAGIC | nonce (12) | ChaCha20-Poly1305 ciphertext`, with the file's *purpose* (e.g.
//! `"signing-key"`) as associated data: a sealed file renamed to serve another purpose does not
//! open. Files are written to a temporary name, synced and renamed, so a crash leaves the old
//! file or the new one, never half of one.
//!
//! This gives integrity and the code paths of SGX sealing; it does not protect against root on
//! the host, who can read the platform secret.

use crate::Mrenclave;
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use rand::RngCore;
use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"CLSEAL01";
const NONCE_LEN: usize = 12;
/// Name of the platform secret file in the enclave's directory.
pub const PLATFORM_SECRET_FILE: &str = "platform-secret";

/// Why sealing or unsealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a sealed file of this format.
    #[error("{0} is not a sealed file")]
    NotSealed(PathBuf),
    /// Authentication failed: the file was changed, sealed by another enclave or platform, or
    /// sealed for another purpose.
    #[error("{path} was tampered with or sealed by another enclave (or for another purpose than '{purpose}')")]
    Tampered {
        /// The file.
        path: PathBuf,
        /// The purpose it was opened for.
        purpose: String,
    },
    /// The platform secret file has the wrong size or permissions.
    #[error("platform secret {path} is unusable: {reason}")]
    PlatformSecret {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SealError + '_ {
    move |source| SealError::Io { path: path.to_path_buf(), source }
}

/// Seals and unseals files in one directory with the key of one enclave on one platform.
pub struct Sealer {
    key: Zeroizing<[u8; 32]>,
    dir: PathBuf,
}

impl Sealer {
    /// Opens the sealing directory `dir` for enclave `mrenclave`, creating the platform secret
    /// (32 random bytes, mode 0600) the first time.
    pub fn open(dir: &Path, mrenclave: &Mrenclave) -> Result<Self, SealError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let secret_path = dir.join(PLATFORM_SECRET_FILE);
        let secret = match std::fs::read(&secret_path) {
            Ok(bytes) => {
                let mode = std::fs::metadata(&secret_path).map_err(io(&secret_path))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(SealError::PlatformSecret {
                        path: secret_path,
                        reason: format!("mode {:o} lets others read it; it must be 0600", mode & 0o777),
                    });
                }
                let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| SealError::PlatformSecret {
                    path: secret_path.clone(),
                    reason: format!("{} bytes instead of 32", b.len()),
                })?;
                Zeroizing::new(bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut fresh = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(fresh.as_mut());
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&secret_path)
                    .map_err(io(&secret_path))?;
                file.write_all(fresh.as_ref()).and_then(|()| file.sync_all()).map_err(io(&secret_path))?;
                fresh
            }
            Err(e) => return Err(SealError::Io { path: secret_path, source: e }),
        };
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(Some(mrenclave.as_ref()), secret.as_ref())
            .expand(b"cloister/sealing-key/v1", key.as_mut())
            .map_err(|_| SealError::PlatformSecret { path: secret_path, reason: "key derivation failed".into() })?;
        Ok(Self { key, dir: dir.to_path_buf() })
    }

    /// A 32-byte secret for `purpose`, derived from the sealing key: the same for this enclave
    /// on this platform every time (e.g. the dev attestation key).
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        // Expanding 32 bytes from a 32-byte key cannot fail.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, self.key.as_ref()).expand(purpose.as_bytes(), out.as_mut());
        out
    }

    /// The directory sealed files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(*self.key))
    }

    /// Seals `plaintext` for `purpose` into bytes.
    pub fn seal_bytes(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a fresh nonce and a 32-byte key cannot fail.
        let ciphertext = self
            .cipher()
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: purpose.as_bytes() })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens bytes sealed for `purpose`; `path` names them in errors.
    pub fn unseal_bytes(&self, purpose: &str, sealed: &[u8], path: &Path) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < MAGIC.len() + NONCE_LEN || &sealed[..MAGIC.len()] != MAGIC {
            return Err(SealError::NotSealed(path.to_path_buf()));
        }
        let (nonce, ciphertext) = sealed[MAGIC.len()..].split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::NotSealed(path.to_path_buf()))?;
        self.cipher()
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| SealError::Tampered { path: path.to_path_buf(), purpose: purpose.into() })
    }

    /// Seals `plaintext` into the file `name` (atomically, mode 0600).
    pub fn seal_file(&self, name: &str, purpose: &str, plaintext: &[u8]) -> Result<(), SealError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let sealed = self.seal_bytes(purpose, plaintext);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(&sealed).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(())
    }

    /// Opens the sealed file `name` for `purpose`; `Ok(None)` if it does not exist.
    pub fn unseal_file(&self, name: &str, purpose: &str) -> Result<Option<Zeroizing<Vec<u8>>>, SealError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(sealed) => self.unseal_bytes(purpose, &sealed, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SealError::Io { path, source: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mrenclave(byte: u8) -> Mrenclave {
        Mrenclave([byte; 32])
    }

    #[test]
    fn sealed_files_open_for_the_same_enclave_and_purpose_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let sealer = Sealer::open(dir.path(), &mrenclave(1)).expect("open");
        sealer.seal_file("state", "shard-state", b"protected").expect("seal");
        assert_eq!(
            sealer.unseal_file("state", "shard-state").expect("unseal").as_deref().map(|v| v.as_slice()),
            Some(&b"protected"[..])
        );
        let raw = std::fs::read(dir.path().join("state")).expect("raw");
        assert!(!raw.windows(9).any(|w| w == b"protected"), "no plaintext on disk");
        assert_eq!(std::fs::metadata(dir.path().join("state")).expect("meta").permissions().mode() & 0o777, 0o600);

        assert!(matches!(sealer.unseal_file("state", "signing-key"), Err(SealError::Tampered { .. })));
        let other_build = Sealer::open(dir.path(), &mrenclave(2)).expect("open");
        assert!(matches!(other_build.unseal_file("state", "shard-state"), Err(SealError::Tampered { .. })));
        assert!(matches!(sealer.unseal_file("absent", "shard-state"), Ok(None)));
    }

    #[test]
    fn tampered_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let sealer = Sealer::open(dir.path(), &mrenclave(1)).expect("open");
        sealer.seal_file("keys", "signing-key", b"secret").expect("seal");
        let path = dir.path().join("keys");
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(sealer.unseal_file("keys", "signing-key"), Err(SealError::Tampered { .. })));
        std::fs::write(&path, b"just some text").expect("write");
        assert!(matches!(sealer.unseal_file("keys", "signing-key"), Err(SealError::NotSealed(_))));
    }

    #[test]
    fn the_platform_secret_is_made_once_and_must_stay_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = Sealer::open(dir.path(), &mrenclave(1)).expect("open");
        first.seal_file("x", "p", b"v").expect("seal");
        let again = Sealer::open(dir.path(), &mrenclave(1)).expect("reopen");
        assert!(again.unseal_file("x", "p").expect("same key").is_some());
        let secret = dir.path().join(PLATFORM_SECRET_FILE);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(Sealer::open(dir.path(), &mrenclave(1)), Err(SealError::PlatformSecret { .. })));
    }
}
