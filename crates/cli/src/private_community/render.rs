//! How private-community answers read: accounts as SS58 (with the name of a well-known dev
//! account or one the demo named), community currency as decimals, locations in degrees, meetup times in UTC and
//! unix milliseconds.

use crate::signer::ss58;
use cloister_primitives::AccountId;
use encointer_primitives::{balances::BalanceType, communities::Location};
use serde_json::{json, Value};
use std::sync::RwLock;

/// Decimals shown for community currency: demurrage of a few blocks shows in the last ones.
pub const AMOUNT_DECIMALS: usize = 9;

/// Names given to further accounts for this process's output (the demo names its newbie).
static NAMES: RwLock<Vec<(AccountId, String)>> = RwLock::new(Vec::new());

/// Shows `account` as `name` in this process's output, as the well-known dev accounts are.
pub fn name_account(account: AccountId, name: &str) {
    if let Ok(mut names) = NAMES.write() {
        names.retain(|(a, _)| a != &account);
        names.push((account, name.to_string()));
    }
}

/// The name of `account`: a well-known development account (`Alice`, …) or one named with
/// [`name_account`].
pub fn name_of(account: &AccountId) -> Option<String> {
    let dev = sp_keyring::Sr25519Keyring::iter().find(|k| &k.to_account_id() == account).map(|k| format!("{k:?}"));
    dev.or_else(|| {
        let names = NAMES.read().ok()?;
        names.iter().find(|(a, _)| a == account).map(|(_, name)| name.clone())
    })
}

/// `5Grw… (Alice)`: the SS58 address, with the dev name if any.
pub fn label(account: &AccountId) -> String {
    match name_of(account) {
        Some(name) => format!("{} ({name})", ss58(account)),
        None => ss58(account),
    }
}

/// The short form used in lists: the dev name, else the SS58 address.
pub fn short(account: &AccountId) -> String {
    name_of(account).unwrap_or_else(|| ss58(account))
}

/// `{"account": SS58, "name": dev name or null}`.
pub fn account_json(account: &AccountId) -> Value {
    json!({ "account": ss58(account), "name": name_of(account) })
}

/// SS58 addresses of `accounts`.
pub fn ss58_list(accounts: &[AccountId]) -> Vec<String> {
    accounts.iter().map(ss58).collect()
}

/// A community-currency amount as a decimal with [`AMOUNT_DECIMALS`] decimals.
pub fn amount(value: BalanceType) -> String {
    format!("{:.*}", AMOUNT_DECIMALS, value.to_num::<f64>())
}

/// A community-currency amount as JSON: the number, and the exact fixed-point value as text.
pub fn amount_json(value: BalanceType) -> Value {
    json!({ "value": value.to_num::<f64>(), "exact": value.to_string() })
}

/// `47.376900, 8.541700` (latitude, longitude in degrees).
pub fn location(location: &Location) -> String {
    format!("{:.6}, {:.6}", location.lat.to_num::<f64>(), location.lon.to_num::<f64>())
}

/// `{"lat": …, "lon": …}`.
pub fn location_json(location: &Location) -> Value {
    json!({ "lat": location.lat.to_num::<f64>(), "lon": location.lon.to_num::<f64>() })
}

/// Unix milliseconds as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The (year, month, day) of a count of days since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A time as JSON: unix milliseconds and the UTC text.
pub fn time_json(unix_ms: Option<u64>) -> Value {
    match unix_ms {
        Some(ms) => json!({ "unix_ms": ms, "utc": utc(ms) }),
        None => Value::Null,
    }
}

/// Text of a time: `2026-11-23 12:00:00 UTC (unix ms 1795435200000)`, or "not known yet".
pub fn time(unix_ms: Option<u64>) -> String {
    match unix_ms {
        Some(ms) => format!("{} (unix ms {ms})", utc(ms)),
        None => "time not known yet".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_right_across_leap_years_and_ends_of_months() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199_000), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(1_735_689_600_000), "2025-01-01 00:00:00 UTC");
        assert_eq!(utc(1_798_675_200_123), "2026-12-31 00:00:00 UTC");
    }

    #[test]
    fn dev_accounts_are_named() {
        let alice = crate::signer::parse_account("//Alice").expect("alice");
        assert_eq!(label(&alice), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY (Alice)");
        let cora = crate::signer::parse_account("//Cora").expect("cora");
        assert_eq!(label(&cora), ss58(&cora));
        name_account(cora.clone(), "Cora");
        assert_eq!(label(&cora), format!("{} (Cora)", ss58(&cora)));
        assert_eq!(amount(BalanceType::from_num(1.5)), "1.500000000");
    }
}
