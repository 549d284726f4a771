//! The authority keystore: a node's Aura (sr25519) and GRANDPA (ed25519) keys, encrypted at rest.
//!
//! The file is JSON: the scrypt parameters and salt that turn the password into a 256-bit key,
//! and the ChaCha20-Poly1305 nonce and ciphertext of the two 32-byte secret seeds. The password
//! comes from a file (`--password-file`), never from the command line. A wrong password or a
//! tampered file fails authentication and opens nothing.

use chacha20poly1305::{aead::Aead, ChaCha20Poly1305, KeyInit, Nonce};
use codec::{Decode, Encode};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sp_core::{ed25519, sr25519, Pair};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Errors of the keystore.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// A file cannot be read or written.
    #[error("keystore file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The keystore file is not in the expected format.
    #[error("keystore {path} is malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Decryption failed: wrong password or a modified file.
    #[error("cannot open keystore {path}: wrong password or the file was modified")]
    Decrypt {
        /// The file.
        path: PathBuf,
    },
    /// The password file is empty.
    #[error("password file {0} is empty")]
    EmptyPassword(PathBuf),
    /// A secret URI does not parse.
    #[error("invalid secret URI")]
    BadSecretUri,
}

/// The keys an authority signs with.
#[derive(Clone)]
pub struct AuthorityKeys {
    /// Aura block sealing key.
    pub aura: sr25519::Pair,
    /// GRANDPA voting key.
    pub grandpa: ed25519::Pair,
    secrets: Secrets,
}

impl std::fmt::Debug for AuthorityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityKeys")
            .field("aura", &self.aura.public())
            .field("grandpa", &self.grandpa.public())
            .finish()
    }
}

/// The secret URIs the keys come from (a `0x` seed for generated keys).
#[derive(Clone, Encode, Decode)]
struct Secrets {
    aura: String,
    grandpa: String,
}

impl Drop for Secrets {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.aura);
        zeroize::Zeroize::zeroize(&mut self.grandpa);
    }
}

#[derive(Serialize, Deserialize)]
struct KeystoreFile {
    version: u32,
    kdf: String,
    log_n: u8,
    r: u32,
    p: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
    /// Public keys, readable without the password.
    aura_public: String,
    grandpa_public: String,
}

/// scrypt cost: 2^15 iterations of the memory-hard function, about 32 MiB.
const LOG_N: u8 = 15;

fn derive_key(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = scrypt::Params::new(log_n, r, p, 32).map_err(|e| e.to_string())?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, &mut key[..]).map_err(|e| e.to_string())?;
    Ok(key)
}

/// Reads a password file, without its trailing newline.
pub fn read_password(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let mut bytes = std::fs::read(path).map_err(|source| KeystoreError::Io { path: path.into(), source })?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(KeystoreError::EmptyPassword(path.into()));
    }
    Ok(Zeroizing::new(bytes))
}

impl AuthorityKeys {
    /// Fresh random keys.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        let random = |seed: &mut [u8; 32]| {
            rand::thread_rng().fill_bytes(seed);
            format!("0x{}", hex::encode(&seed[..]))
        };
        let secrets = Secrets { aura: random(&mut seed), grandpa: random(&mut seed) };
        Self::from_secrets(secrets).unwrap_or_else(|_| unreachable!("a 0x seed is a valid secret URI"))
    }

    fn from_secrets(secrets: Secrets) -> Result<Self, KeystoreError> {
        Ok(Self {
            aura: sr25519::Pair::from_string(&secrets.aura, None).map_err(|_| KeystoreError::BadSecretUri)?,
            grandpa: ed25519::Pair::from_string(&secrets.grandpa, None).map_err(|_| KeystoreError::BadSecretUri)?,
            secrets,
        })
    }

    /// Keys from a secret URI (`//Alice`): the same URI gives both the sr25519 and ed25519 key, as
    /// Substrate's `--alice` does.
    pub fn from_suri(suri: &str) -> Result<Self, KeystoreError> {
        Self::from_secrets(Secrets { aura: suri.into(), grandpa: suri.into() })
    }

    /// Encrypts the keys with `password` into `path` (mode 0600).
    pub fn save(&self, path: &Path, password: &[u8]) -> Result<(), KeystoreError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut salt);
        rand::thread_rng().fill_bytes(&mut nonce);
        let (r, p) = (8, 1);
        let malformed = |reason: String| KeystoreError::Malformed { path: path.into(), reason };
        let key = derive_key(password, &salt, LOG_N, r, p).map_err(malformed)?;
        let plaintext = Zeroizing::new(self.secrets.encode());
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce), plaintext.as_slice())
            .map_err(|_| malformed("encryption failed".into()))?;
        let file = KeystoreFile {
            version: 1,
            kdf: "scrypt".into(),
            log_n: LOG_N,
            r,
            p,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
            aura_public: hex::encode(self.aura.public()),
            grandpa_public: hex::encode(self.grandpa.public()),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| malformed(e.to_string()))?;
        write_private(path, &json)
    }

    /// Opens the keystore at `path` with `password`.
    pub fn load(path: &Path, password: &[u8]) -> Result<Self, KeystoreError> {
        let bytes = std::fs::read(path).map_err(|source| KeystoreError::Io { path: path.into(), source })?;
        let malformed = |reason: String| KeystoreError::Malformed { path: path.into(), reason };
        let file: KeystoreFile = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
        if file.version != 1 || file.kdf != "scrypt" {
            return Err(malformed(format!("unsupported version {} / kdf {}", file.version, file.kdf)));
        }
        let unhex = |s: &str| hex::decode(s).map_err(|e| malformed(e.to_string()));
        let salt = unhex(&file.salt)?;
        let nonce = unhex(&file.nonce)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| malformed("nonce must be 12 bytes".into()))?;
        let ciphertext = unhex(&file.ciphertext)?;
        let key = derive_key(password, &salt, file.log_n, file.r, file.p).map_err(malformed)?;
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(&Nonce::from(nonce), ciphertext.as_slice())
                .map_err(|_| KeystoreError::Decrypt { path: path.into() })?,
        );
        let secrets = Secrets::decode(&mut &plaintext[..]).map_err(|e| malformed(e.to_string()))?;
        Self::from_secrets(secrets)
    }
}

/// Writes `bytes` to `path` readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    use std::{fs::OpenOptions, io::Write, os::unix::fs::OpenOptionsExt};
    let io = |source| KeystoreError::Io { path: path.into(), source };
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_the_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keystore.json");
        let keys = AuthorityKeys::generate();
        keys.save(&path, b"correct horse").expect("save");
        let loaded = AuthorityKeys::load(&path, b"correct horse").expect("load");
        assert_eq!(loaded.aura.public(), keys.aura.public());
        assert_eq!(loaded.grandpa.public(), keys.grandpa.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&keys.secrets.aura[2..]), "seed must not be stored in clear");
    }

    #[test]
    fn wrong_password_and_tampering_open_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keystore.json");
        AuthorityKeys::from_suri("//Alice").expect("suri").save(&path, b"pw").expect("save");
        assert!(matches!(AuthorityKeys::load(&path, b"other"), Err(KeystoreError::Decrypt { .. })));
        let mut file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        let ct = file["ciphertext"].as_str().expect("ct").to_string();
        let flipped = format!("{}{}", if &ct[..1] == "0" { "1" } else { "0" }, &ct[1..]);
        file["ciphertext"] = flipped.into();
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
        assert!(matches!(AuthorityKeys::load(&path, b"pw"), Err(KeystoreError::Decrypt { .. })));
    }

    #[test]
    fn password_file_trims_newline_and_rejects_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, b"secret\n").expect("write");
        assert_eq!(read_password(&path).expect("read").as_slice(), b"secret");
        std::fs::write(&path, b"\n").expect("write");
        assert!(matches!(read_password(&path), Err(KeystoreError::EmptyPassword(_))));
    }
}
