//! Consensus rules of the parentchain, as pure functions over headers and keys.
//!
//! - [`aura`]: which authority owns a slot, the pre-runtime digest that names the slot, the seal
//!   (an sr25519 signature of the header hash) and the checks a node makes before it imports a
//!   block: seal by the slot's author, slot not in the future, slot later than the parent's.
//! - [`grandpa`]: GRANDPA justifications (commits of precommits signed by the authority set) and
//!   their verification with `finality-grandpa`'s own commit validation.
//!
//! Nothing here touches storage or the network, so the node and the enclave's light client check
//! blocks with the same code.

pub mod aura;
pub mod grandpa;

pub use aura::{AuraError, CheckedHeader};
pub use grandpa::{GrandpaJustification, JustificationError};
