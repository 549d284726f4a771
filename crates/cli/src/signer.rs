//! Accounts on the command line: secret URIs (`//Alice`, a mnemonic, `0x` seed, with derivation
//! paths) for signers, and SS58 addresses or secret URIs for anyone else.

use cloister_primitives::{AccountId, Signature};
use sp_core::{crypto::Ss58Codec, sr25519, Pair};

/// Errors parsing an account.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// Neither a secret URI nor an SS58 address.
    #[error("'{0}' is neither an SS58 address nor a secret URI (like //Alice)")]
    Unparseable(String),
    /// Not a secret URI where a signer is needed.
    #[error("'{0}' is not a secret URI (like //Alice or a mnemonic); a signer needs its secret")]
    NotASecret(String),
}

/// An sr25519 key that signs extrinsics.
#[derive(Clone)]
pub struct Signer {
    pair: sr25519::Pair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.account().to_ss58check())
    }
}

impl Signer {
    /// A signer from a secret URI.
    pub fn from_suri(suri: &str) -> Result<Self, AccountError> {
        sr25519::Pair::from_string(suri, None)
            .map(|pair| Self { pair })
            .map_err(|_| AccountError::NotASecret(suri.into()))
    }

    /// The account of this signer.
    pub fn account(&self) -> AccountId {
        self.pair.public().into()
    }

    /// The key pair.
    pub fn pair(&self) -> &sr25519::Pair {
        &self.pair
    }

    /// Signs a payload.
    pub fn sign(&self, payload: &[u8]) -> Signature {
        self.pair.sign(payload).into()
    }
}

/// An account given as an SS58 address or a secret URI.
pub fn parse_account(text: &str) -> Result<AccountId, AccountError> {
    if let Ok(account) = AccountId::from_ss58check(text) {
        return Ok(account);
    }
    Signer::from_suri(text).map(|s| s.account()).map_err(|_| AccountError::Unparseable(text.into()))
}

/// The SS58 form of an account (generic Substrate prefix 42).
pub fn ss58(account: &AccountId) -> String {
    account.to_ss58check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_have_their_well_known_addresses() {
        let alice = parse_account("//Alice").expect("alice");
        assert_eq!(ss58(&alice), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert_eq!(parse_account("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"), Ok(alice));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(parse_account("not an account"), Err(AccountError::Unparseable(_))));
        assert!(matches!(
            Signer::from_suri("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
            Err(AccountError::NotASecret(_))
        ));
    }
}
