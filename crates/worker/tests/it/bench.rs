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
