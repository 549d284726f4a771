//! Community specifications for `cloister new-community`, in JSON or TOML:
//!
//! ```toml
//! name = "Leu Zurich"
//! symbol = "LEU"
//! assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"   # IPFS CIDv0 of the branding
//! bootstrappers = ["//Alice", "//Bob", "//Charlie"]           # SS58 addresses or secret URIs
//! demurrage = 1.1267607882e-7                                 # per block, optional
//! nominal_income = 1.0                                        # per ceremony, optional
//! url = "leu.zuerich"                                         # optional
//! [[locations]]                                               # the first founds the community
//! lat = 47.3769
//! lon = 8.5417
//! ```

use crate::signer::{parse_account, AccountError};
use cloister_primitives::AccountId;
use cloister_runtime::RuntimeCall;
use encointer_primitives::{
    balances::{BalanceType, Demurrage},
    common::PalletString,
    communities::{CommunityIdentifier, CommunityMetadata, CommunityRules, Degree, Location},
};
use serde::Deserialize;
use std::path::Path;

/// Errors reading a community spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is neither valid JSON nor valid TOML of a community spec.
    #[error("{path} is not a valid community spec: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A bootstrapper is not an account.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// A field breaks the communities pallet's rules.
    #[error("invalid community spec: {0}")]
    Invalid(String),
}

/// A location in degrees.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A community as its founder describes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommunitySpec {
    /// Name (ASCII, at most 20 characters).
    pub name: String,
    /// Symbol (3 ASCII characters).
    pub symbol: String,
    /// IPFS CIDv0 of the community's assets.
    pub assets: String,
    /// Website.
    #[serde(default)]
    pub url: Option<String>,
    /// Meetup locations; the first one founds the community.
    pub locations: Vec<LocationSpec>,
    /// Bootstrapper accounts (SS58 or secret URIs), at least 3.
    pub bootstrappers: Vec<String>,
    /// Demurrage per block (0 to 1).
    #[serde(default)]
    pub demurrage: Option<f64>,
    /// Nominal income per ceremony.
    #[serde(default)]
    pub nominal_income: Option<f64>,
}

fn bounded(text: &str, field: &str) -> Result<PalletString, SpecError> {
    PalletString::try_from(text.as_bytes().to_vec()).map_err(|_| SpecError::Invalid(format!("{field} is too long")))
}

fn location(l: &LocationSpec) -> Location {
    Location::new(Degree::from_num(l.lat), Degree::from_num(l.lon))
}

impl CommunitySpec {
    /// Reads a spec: TOML if the file ends in `.toml`, JSON otherwise.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: shown.clone(), source })?;
        let parsed = if path.extension().is_some_and(|e| e == "toml") {
            toml::from_str(&text).map_err(|e| e.to_string())
        } else {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        };
        parsed.map_err(|reason| SpecError::Parse { path: shown, reason })
    }

    /// The bootstrapper accounts, in order.
    pub fn bootstrapper_accounts(&self) -> Result<Vec<AccountId>, SpecError> {
        Ok(self.bootstrappers.iter().map(|b| parse_account(b)).collect::<Result<_, _>>()?)
    }

    /// The community identifier the chain will give this community.
    pub fn cid(&self) -> Result<CommunityIdentifier, SpecError> {
        let founding =
            self.locations.first().ok_or_else(|| SpecError::Invalid("at least one location is needed".into()))?;
        CommunityIdentifier::new(location(founding), self.bootstrapper_accounts()?)
            .map_err(|e| SpecError::Invalid(format!("founding location: {e:?}")))
    }

    /// The metadata, checked by the pallet's own rules.
    pub fn metadata(&self) -> Result<CommunityMetadata, SpecError> {
        let metadata = CommunityMetadata {
            name: bounded(&self.name, "name")?,
            symbol: bounded(&self.symbol, "symbol")?,
            assets: bounded(&self.assets, "assets")?,
            theme: None,
            url: self.url.as_deref().map(|u| bounded(u, "url")).transpose()?,
            announcement_signer: None,
            rules: CommunityRules::default(),
        };
        metadata.validate().map_err(|e| SpecError::Invalid(format!("metadata: {e:?}")))?;
        Ok(metadata)
    }

    /// The calls that create the community: `new_community`, then `add_location` for each
    /// further location.
    pub fn calls(&self) -> Result<Vec<RuntimeCall>, SpecError> {
        if self.bootstrappers.len() < 3 {
            return Err(SpecError::Invalid(format!(
                "a community needs at least 3 bootstrappers, got {}",
                self.bootstrappers.len()
            )));
        }
        if let Some(d) = self.demurrage {
            if !(0.0..=1.0).contains(&d) {
                return Err(SpecError::Invalid(format!("demurrage must be between 0 and 1, got {d}")));
            }
        }
        let cid = self.cid()?;
        let founding =
            self.locations.first().ok_or_else(|| SpecError::Invalid("at least one location is needed".into()))?;
        let mut calls = vec![RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::new_community {
            location: location(founding),
            bootstrappers: self.bootstrapper_accounts()?,
            community_metadata: self.metadata()?,
            demurrage: self.demurrage.map(Demurrage::from_num),
            nominal_income: self.nominal_income.map(BalanceType::from_num),
        })];
        for extra in &self.locations[1..] {
            calls.push(RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::add_location {
                cid,
                location: location(extra),
            }));
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
name = "Leu Zurich"
symbol = "LEU"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
demurrage = 1.1267607882e-7
nominal_income = 1.0
[[locations]]
lat = 47.3769
lon = 8.5417
[[locations]]
lat = 47.4
lon = 8.6
"#;

    fn spec() -> CommunitySpec {
        toml::from_str(TOML).expect("valid spec")
    }

    #[test]
    fn a_valid_spec_gives_new_community_then_add_location() {
        let calls = spec().calls().expect("calls");
        assert_eq!(calls.len(), 2);
        assert!(matches!(
            calls[0],
            RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::new_community { .. })
        ));
        assert!(matches!(
            calls[1],
            RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::add_location { .. })
        ));
        // The cid is the geohash of the founding location and a digest of the bootstrappers.
        assert!(spec().cid().expect("cid").to_string().starts_with("u0qj"));
    }

    #[test]
    fn pallet_rules_are_checked_before_submitting() {
        let mut s = spec();
        s.symbol = "TOOLONG".into();
        assert!(matches!(s.calls(), Err(SpecError::Invalid(_))));
        let mut s = spec();
        s.bootstrappers.truncate(2);
        assert!(matches!(s.calls(), Err(SpecError::Invalid(_))));
        let mut s = spec();
        s.demurrage = Some(2.0);
        assert!(matches!(s.calls(), Err(SpecError::Invalid(_))));
        let mut s = spec();
        s.bootstrappers[0] = "nobody".into();
        assert!(matches!(s.calls(), Err(SpecError::Account(_))));
    }
}
