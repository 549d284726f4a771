//! `cloister-worker bench transfers` with tiny numbers: it runs and prints its figures.

use super::worker;

#[test]
fn bench_transfers_prints_rates_latencies_and_baselines() {
    let (ok, out, err) =
        worker(&["bench", "transfers", "--accounts", "100", "--count", "200", "--connections", "2", "--rounds", "2"]);
    assert!(ok, "{err}");
    let mut lines = out.lines().skip_while(|l| !l.trim_start().starts_with("round"));
    let header: Vec<&str> = lines.next().expect("a table header").split_whitespace().collect();
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(header.len(), row.len(), "{out}");
    let field = |name: &str| -> f64 {
        let at = header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}: {out}"));
        row[at].parse().unwrap_or_else(|_| panic!("{name} is not a number: {out}"))
    };
    assert_eq!(field("accounts"), 100.0);
    assert_eq!(field("in_block"), 200.0, "every transfer reached a block: {out}");
    assert_eq!((field("invalid"), field("refused")), (0.0, 0.0), "{out}");
    for rate in ["transfers/s", "p50_ms", "p99_ms", "sr25519/s", "ed25519/s", "ratio_sr", "ratio_ed", "peak_MiB"] {
        assert!(field(rate) > 0.0, "{rate} is not positive: {out}");
    }
    assert!(field("p99_ms") >= field("p50_ms"), "{out}");
    assert_eq!(field("round"), 1.0);
    let second: Vec<&str> = lines.next().expect("a second round").split_whitespace().collect();
    assert_eq!(second.first(), Some(&"2"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("median over the rounds at 100 accounts:") && l.contains("transfers/s")),
        "{out}"
    );
}

/// `cloister-worker bench ceremony` with small ceremonies: every participant is seated in a
/// meetup of the target size and rewarded, and the figures are there.
#[test]
fn bench_ceremony_seats_and_rewards_everybody_and_prints_its_figures() {
    let (ok, out, err) = worker(&["bench", "ceremony", "--participants", "45,300", "--json"]);
    assert!(ok, "{err}");
    let reports: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v.is_object())
        .collect();
    assert_eq!(reports.len(), 2, "{out}");
    for (report, participants) in reports.iter().zip([45u64, 300]) {
        let number = |name: &str| report[name].as_f64().unwrap_or_else(|| panic!("no {name}: {report}"));
        assert_eq!(number("participants"), participants as f64);
        assert_eq!(number("seated"), participants as f64, "everybody has a seat: {report}");
        assert_eq!(number("meetups"), participants.div_ceil(15) as f64, "meetups of 15: {report}");
        assert_eq!(number("rewarded"), participants as f64, "every meetup was paid: {report}");
        assert_eq!(number("failed"), 0.0, "{report}");
        for figure in ["register_per_s", "assign_ms", "assign_peak_mib", "attest_per_s", "claim_s", "claim_peak_mib"] {
            assert!(number(figure) > 0.0, "{figure} is not positive: {report}");
        }
    }
    assert_eq!(reports[1]["endorsees"].as_u64(), Some(255), "the second ceremony's newcomers are endorsees: {out}");
}
