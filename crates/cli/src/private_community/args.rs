//! Command-line values of private communities, parsed without panics: community identifiers
//! (`sqm1v79dF6b`: a 5-character geohash and the base58 of a 4-byte digest), community-currency
//! amounts (decimal) and `CID:CINDEX` pairs. clap calls these parsers, so bad input is refused
//! before anything is contacted.

use codec::Decode;
use encointer_primitives::{
    balances::BalanceType, ceremonies::CommunityCeremony, communities::CommunityIdentifier,
    scheduler::CeremonyIndexType,
};

/// The geohash alphabet (base32 without a, i, l, o).
const GEOHASH: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
/// The base58 (Bitcoin) alphabet.
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Parses a community identifier as `Display` of `CommunityIdentifier` prints it.
///
/// `CommunityIdentifier::from_str` panics on short or malformed text, so the text is checked
/// and decoded here.
pub fn parse_cid(text: &str) -> Result<CommunityIdentifier, String> {
    let bad = |why: &str| format!("'{text}' is not a community identifier (like sqm1v79dF6b): {why}");
    if !text.is_ascii() || text.len() < 6 || text.len() > 11 {
        return Err(bad("5 geohash characters and a base58 digest of 4 bytes"));
    }
    let (geohash, digest) = text.as_bytes().split_at(5);
    if let Some(c) = geohash.iter().find(|c| !GEOHASH.contains(c)) {
        return Err(bad(&format!("'{}' is not a geohash character", *c as char)));
    }
    let digest = base58_digest(digest).ok_or_else(|| bad("the digest is not the base58 of 4 bytes"))?;
    let bytes: Vec<u8> = geohash.iter().chain(digest.iter()).copied().collect();
    CommunityIdentifier::decode(&mut &bytes[..]).map_err(|_| bad("undecodable"))
}

/// Decodes base58 text of exactly 4 bytes (leading `1`s are zero bytes).
fn base58_digest(text: &[u8]) -> Option<[u8; 4]> {
    let zeros = text.iter().take_while(|c| **c == b'1').count();
    let mut value: u64 = 0;
    for c in &text[zeros..] {
        let digit = BASE58.iter().position(|b| b == c)? as u64;
        value = value.checked_mul(58)?.checked_add(digit)?;
    }
    let significant = value.to_be_bytes().iter().skip_while(|b| **b == 0).count();
    if zeros + significant != 4 {
        return None;
    }
    let low = u32::try_from(value).ok()?;
    Some(low.to_be_bytes())
}

/// Parses a decimal amount of community currency (`1`, `0.25`).
pub fn parse_amount(text: &str) -> Result<BalanceType, String> {
    text.trim()
        .parse::<BalanceType>()
        .map_err(|_| format!("'{text}' is not an amount of community currency (a decimal like 0.5)"))
}

/// Parses `CID:CINDEX`, the community and ceremony of a reputation.
pub fn parse_community_ceremony(text: &str) -> Result<CommunityCeremony, String> {
    let (cid, cindex) =
        text.rsplit_once(':').ok_or_else(|| format!("'{text}' is not CID:CINDEX (like sqm1v79dF6b:3)"))?;
    let cindex: CeremonyIndexType =
        cindex.parse().map_err(|_| format!("'{cindex}' is not a ceremony index (a positive number)"))?;
    Ok((parse_cid(cid)?, cindex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use encointer_primitives::communities::{Degree, Location};

    fn a_cid() -> CommunityIdentifier {
        let bootstrappers: Vec<cloister_primitives::AccountId> =
            ["//Alice", "//Bob", "//Charlie"].iter().map(|s| crate::signer::parse_account(s).expect("dev")).collect();
        CommunityIdentifier::new(Location::new(Degree::from_num(47.3769), Degree::from_num(8.5417)), bootstrappers)
            .expect("a valid location")
    }

    #[test]
    fn a_printed_cid_parses_back() {
        let cid = a_cid();
        assert_eq!(parse_cid(&cid.to_string()), Ok(cid));
        let reference: CommunityIdentifier = "sqm1v79dF6b".parse().expect("the reference's example");
        assert_eq!(parse_cid("sqm1v79dF6b"), Ok(reference));
    }

    #[test]
    fn malformed_cids_are_errors_not_panics() {
        for text in
            ["", "abc", "sqm1", "sqm1v", "sqm1v0OIl", "sqm1v79dF6b99", "sqma1v79dF6b", "sqm1v1", "ääääää", "sqm1v11111"]
        {
            let error = parse_cid(text).expect_err(text);
            assert!(error.contains("not a community identifier"), "{text}: {error}");
        }
    }

    #[test]
    fn amounts_and_reputations_parse() {
        assert_eq!(parse_amount("0.5"), Ok(BalanceType::from_num(0.5)));
        assert_eq!(parse_amount("2"), Ok(BalanceType::from_num(2)));
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("lots").is_err());
        let cid = a_cid();
        assert_eq!(parse_community_ceremony(&format!("{cid}:3")), Ok((cid, 3)));
        assert!(parse_community_ceremony(&cid.to_string()).is_err());
        assert!(parse_community_ceremony(&format!("{cid}:x")).is_err());
    }
}
