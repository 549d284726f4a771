//! Types shared by every part of Cloister.
//!
//! The parentchain node, its runtime, the worker, the enclave and the command line all speak
//! about the same accounts, blocks and hashes. This crate names them once, so that an encoded
//! value means the same thing on either side of a network, RPC or enclave boundary.
//!
//! Everything here is SCALE-encoded on the wire and in storage. Besides the types,
//! [`baseline`] measures the signature verifications per second that every benchmark prints
//! beside its rates.

use sp_runtime::{
    generic,
    traits::{BlakeTwo256, IdentifyAccount, Verify},
    MultiAddress, MultiSignature, OpaqueExtrinsic,
};

/// Block number of the parentchain.
pub type BlockNumber = u32;
/// Signature of an account: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;
/// An account id: the 32-byte public key (or its hash) behind a [`Signature`].
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Native balance of an account, in plancks (10^-12 of a unit).
pub type Balance = u128;
/// Transaction index of an account.
pub type Nonce = u32;
/// Hash of a block or of a trie node.
pub type Hash = sp_core::H256;
/// The hashing algorithm of the chain.
pub type Hashing = BlakeTwo256;
/// Address format of extrinsics: an account id or nothing else (no indices pallet).
pub type Address = MultiAddress<AccountId, ()>;
/// Parentchain block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// A block whose extrinsics are opaque byte strings: what the node stores and gossips.
pub type OpaqueBlock = generic::Block<Header, OpaqueExtrinsic>;
/// Milliseconds since the Unix epoch.
pub type Moment = u64;

/// Decimals of the native token.
pub const TOKEN_DECIMALS: u8 = 12;
/// One unit of the native token.
pub const UNIT: Balance = 1_000_000_000_000;
/// Symbol of the native token.
pub const TOKEN_SYMBOL: &str = "CLST";
/// SS58 address prefix of Cloister chains (the generic Substrate prefix).
pub const SS58_PREFIX: u16 = 42;

/// The measurement of an enclave's code: who the enclave is. Validateers of one shard share it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    codec::Encode,
    codec::Decode,
    codec::DecodeWithMemTracking,
    codec::MaxEncodedLen,
    scale_info::TypeInfo,
)]
pub struct Mrenclave(pub [u8; 32]);

impl AsRef<[u8]> for Mrenclave {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Display for Mrenclave {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "0x{}", self.0.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

impl core::str::FromStr for Mrenclave {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hex32(text).map(Self).ok_or_else(|| format!("'{text}' is not a MRENCLAVE (32 bytes of hex)"))
    }
}

/// A shard: one confidential state, named by 32 bytes (by default the MRENCLAVE of its validateers).
pub type ShardId = sp_core::H256;

/// Parses 32 bytes of hex, with or without `0x`.
pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub mod baseline;
pub mod sidechain;
