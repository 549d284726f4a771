//! The enclave's keys (ARCHITECTURE.md 6.4), generated inside the enclave and kept only sealed.
//!
//! - The **signing key** (ed25519): the enclave's parentchain account and sidechain block signer.
//! - The **shielding key** (X25519 through HPKE, RFC 9180: DHKEM(X25519, HKDF-SHA256),
//!   HKDF-SHA256, ChaCha20-Poly1305): clients encrypt trusted operations and shielded calls to
//!   it. A ciphertext is the 32-byte encapsulated key followed by the AEAD ciphertext; the HPKE
//!   `info` names what the message is for (e.g. the shard), so a ciphertext made for one shard
//!   does not open for another.

use crate::sealing::{SealError, Sealer};
use hpke::{
    aead::ChaCha20Poly1305, kdf::HkdfSha256, kem::X25519HkdfSha256, Deserializable, Kem as _, OpModeR, OpModeS,
    Serializable,
};
use sp_core::{ed25519, Pair};
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;
const ENCAPPED_LEN: usize = 32;
const SIGNING_FILE: &str = "signing-key.sealed";
const SHIELDING_FILE: &str = "shielding-key.sealed";

/// Why a key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The sealed key file cannot be opened.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A sealed key has the wrong length.
    #[error("sealed {0} is corrupt")]
    Corrupt(&'static str),
    /// A public key is not a valid X25519 key.
    #[error("not a shielding public key")]
    BadPublicKey,
    /// The ciphertext is malformed, for another key, or for another purpose.
    #[error("cannot decrypt: the ciphertext is malformed, for another key or for another purpose")]
    Decrypt,
}

/// The enclave's keys.
pub struct EnclaveKeys {
    signing: ed25519::Pair,
    /// The shard's validateers share one shielding key: a joining validateer replaces its own
    /// with the one it receives by mutual attestation.
    shielding: parking_lot::RwLock<Shielding>,
}

struct Shielding {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: <Kem as hpke::Kem>::PublicKey,
}

impl EnclaveKeys {
    /// Loads the sealed keys, generating and sealing them the first time.
    pub fn load_or_generate(sealer: &Sealer) -> Result<Self, KeyError> {
        let signing = match sealer.unseal_file(SIGNING_FILE, "signing-key")? {
            Some(seed) => {
                let seed: [u8; 32] = seed.as_slice().try_into().map_err(|_| KeyError::Corrupt("signing key"))?;
                ed25519::Pair::from_seed(&seed)
            }
            None => {
                let (pair, seed) = ed25519::Pair::generate();
                sealer.seal_file(SIGNING_FILE, "signing-key", Zeroizing::new(seed).as_ref())?;
                pair
            }
        };
        let shielding = match sealer.unseal_file(SHIELDING_FILE, "shielding-key")? {
            Some(bytes) => {
                <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes).map_err(|_| KeyError::Corrupt("shielding key"))?
            }
            None => {
                let (private, _) = Kem::gen_keypair(&mut rand::rngs::OsRng);
                sealer.seal_file(
                    SHIELDING_FILE,
                    "shielding-key",
                    Zeroizing::new(private.to_bytes().to_vec()).as_ref(),
                )?;
                private
            }
        };
        let public = Kem::sk_to_pk(&shielding);
        Ok(Self { signing, shielding: parking_lot::RwLock::new(Shielding { private: shielding, public }) })
    }

    /// The shielding private key, to hand to another validateer of the same shard after mutual
    /// attestation (never to anything else).
    pub(crate) fn shielding_secret(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.shielding.read().private.to_bytes().to_vec())
    }

    /// Replaces the shielding key with one received from another validateer, sealed first.
    pub(crate) fn replace_shielding(&self, sealer: &Sealer, secret: &[u8]) -> Result<(), KeyError> {
        let private =
            <Kem as hpke::Kem>::PrivateKey::from_bytes(secret).map_err(|_| KeyError::Corrupt("shielding key"))?;
        sealer.seal_file(SHIELDING_FILE, "shielding-key", secret)?;
        let public = Kem::sk_to_pk(&private);
        *self.shielding.write() = Shielding { private, public };
        Ok(())
    }

    /// The signing (ed25519) public key: the enclave's account.
    pub fn signing_public(&self) -> [u8; 32] {
        self.signing.public().0
    }

    /// The signing key pair, for parentchain extrinsics (never leaves the enclave crate).
    pub(crate) fn signing_pair(&self) -> &ed25519::Pair {
        &self.signing
    }

    /// Signs a message with the signing key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).0
    }

    /// The shielding (X25519) public key.
    pub fn shielding_public(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.shielding.read().public.to_bytes());
        out
    }

    /// Opens a message encrypted to the shielding key with [`shield`] and the same `info`.
    pub fn unshield(&self, info: &[u8], ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if ciphertext.len() < ENCAPPED_LEN {
            return Err(KeyError::Decrypt);
        }
        let (encapped, body) = ciphertext.split_at(ENCAPPED_LEN);
        let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(encapped).map_err(|_| KeyError::Decrypt)?;
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.shielding.read().private,
            &encapped,
            info,
            body,
            &[],
        )
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Decrypt)
    }
}

/// Encrypts `plaintext` to an enclave's shielding public key for `info` (what clients do).
pub fn shield(public: &[u8; 32], info: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    let public = <Kem as hpke::Kem>::PublicKey::from_bytes(public).map_err(|_| KeyError::BadPublicKey)?;
    let (encapped, body) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &public,
        info,
        plaintext,
        &[],
        &mut rand::rngs::OsRng,
    )
    .map_err(|_| KeyError::BadPublicKey)?;
    let mut out = encapped.to_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mrenclave;

    fn keys(dir: &std::path::Path) -> EnclaveKeys {
        EnclaveKeys::load_or_generate(&Sealer::open(dir, &Mrenclave([3; 32])).expect("sealer")).expect("keys")
    }

    #[test]
    fn keys_are_generated_once_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = keys(dir.path());
        let again = keys(dir.path());
        assert_eq!(first.signing_public(), again.signing_public());
        assert_eq!(first.shielding_public(), again.shielding_public());
        let signature = again.sign(b"block");
        assert!(ed25519::Pair::verify(
            &ed25519::Signature::from_raw(signature),
            b"block",
            &ed25519::Public::from_raw(first.signing_public())
        ));
    }

    #[test]
    fn shielded_messages_open_only_with_the_key_and_info_they_were_made_for() {
        let dir = tempfile::tempdir().expect("tmp");
        let enclave = keys(dir.path());
        let other = keys(tempfile::tempdir().expect("tmp").path());
        let ciphertext = shield(&enclave.shielding_public(), b"shard-1", b"transfer 250 to Bob").expect("shield");
        assert_eq!(enclave.unshield(b"shard-1", &ciphertext).expect("opens").as_slice(), b"transfer 250 to Bob");
        assert!(matches!(enclave.unshield(b"shard-2", &ciphertext), Err(KeyError::Decrypt)), "another shard");
        assert!(matches!(other.unshield(b"shard-1", &ciphertext), Err(KeyError::Decrypt)), "another key");
        assert!(matches!(enclave.unshield(b"shard-1", b"garbage"), Err(KeyError::Decrypt)));
        let mut flipped = ciphertext.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(enclave.unshield(b"shard-1", &flipped), Err(KeyError::Decrypt)));
    }
}
