//! Private Encointer communities end to end (ENCOINTER.md Part A, 6.7): the real
//! `cloister demo private-community --json --keep` on its own dev network, every step's outcome
//! checked, then the commands the demo does not use (reputation, unregistering, upgrading,
//! endorsing) on the network it leaves running; the same demo with three validateers taking
//! turns, which must come to the same outcomes; and the private-community commands against a
//! real node and validateer with bad input, which must fail clearly (no panic) and leave the
//! validateer serving; and a make-community-private whose parentchain read proof was tampered
//! with, sent straight through the RA-TLS client, which the enclave must refuse.

use cloister_cli::{
    chain::CommandError,
    private_community::{args::parse_cid, calls::read_public_community, getters::fetch_ceremony},
    signer::{parse_account, Signer},
};
use cloister_primitives::{Hash, Header};
use cloister_stf::{encointer::public_community_keys, TrustedCall};
use cloister_testkit::{binary, worker::WorkerProcess, NodeProcess};
use encointer_primitives::{
    communities::{CommunityIdentifier, Degree, GeoHash, Location},
    scheduler::CeremonyPhaseType,
};
use jsonrpsee::{core::client::ClientT, rpc_params};
use serde_json::Value;
use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long the whole demo may take here (it takes well under a minute on 2 cores in debug).
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the demo with three validateers may take (about a minute here; each joiner may take
/// minutes to onboard on a loaded machine).
const THREE_VALIDATEERS_TIMEOUT: Duration = Duration::from_secs(900);

fn ss58(suri: &str) -> String {
    cloister_cli::signer::ss58(&parse_account(suri).expect("a dev account"))
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string").to_string()).collect()
}

/// The demo's output: its JSON lines, split into the header, the steps and the summary.
struct DemoRun {
    header: Value,
    steps: Vec<Value>,
    done: Value,
}

impl DemoRun {
    /// The only step of `section` whose command ends in `tail`.
    fn step(&self, section: &str, tail: &str) -> &Value {
        let found: Vec<&Value> = self
            .steps
            .iter()
            .filter(|s| s["section"] == section && s["command"].as_str().is_some_and(|c| c.ends_with(tail)))
            .collect();
        assert_eq!(found.len(), 1, "one step `… {tail}` in {section}, found {found:?}");
        found[0]
    }

    /// The outcome of a step that must have succeeded.
    fn ok(&self, section: &str, tail: &str) -> &Value {
        let step = self.step(section, tail);
        assert_eq!(step["ok"], true, "`{}` succeeded: {step}", step["command"]);
        &step["outcome"]
    }

    /// The error of a step that must have failed.
    fn refused(&self, section: &str, tail: &str) -> String {
        let step = self.step(section, tail);
        assert_eq!(step["ok"], false, "`{}` was refused: {step}", step["command"]);
        step["error"].as_str().expect("an error message").to_string()
    }

    /// A community-currency balance printed by `balance WHO --cid CID` in `section`.
    fn cc_balance(&self, section: &str, suri: &str, cid: &str) -> f64 {
        let outcome = self.ok(section, &format!("balance {suri} --cid {cid}"));
        assert_eq!(outcome["account"], ss58(suri));
        outcome["balance"]["value"].as_f64().expect("a balance")
    }
}

/// The validateer a printed command line names with `--worker-url` (the demo with several).
fn worker_url_of(command: &str) -> Option<&str> {
    command.strip_prefix("cloister --worker-url ")?.split(' ').next()
}

/// A `cloister demo private-community --json …` process; stopped with SIGTERM when dropped
/// (the demo then stops its validateers and node).
struct DemoProcess {
    child: Option<Child>,
    stderr: tempfile::NamedTempFile,
}

impl DemoProcess {
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    /// Waits for the demo to end on its own (without `--keep`); whether it exited cleanly.
    fn wait(&mut self, timeout: Duration) -> bool {
        let Some(child) = self.child.as_mut() else { return false };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return status.success();
                }
                Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                _ => return false,
            }
        }
    }

    /// Stops the demo with SIGTERM; whether it exited cleanly.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        let _ =
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `cloister demo private-community --json OPTIONS` and reads every line it prints until
/// its summary, for at most `timeout`; with `--keep` the network then keeps running.
async fn run_demo(options: &[&str], timeout: Duration) -> (DemoRun, DemoProcess) {
    let stderr = tempfile::NamedTempFile::new().expect("a file for stderr");
    let mut child = Command::new(binary("cloister"))
        .args(["demo", "private-community", "--json"])
        .args(options)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().expect("stderr file"))
        .spawn()
        .expect("cloister demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = DemoProcess { child: Some(child), stderr };
    let read = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            let value: Value = serde_json::from_str(&line).map_err(|e| format!("every line is JSON ({e}): {line}"))?;
            let done = value.get("done").is_some();
            lines.push(value);
            if done {
                return Ok(lines);
            }
        }
        Err(format!("the demo ended before its summary; it printed {lines:?}"))
    });
    let lines = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(Ok(lines))) => lines,
        Ok(Ok(Err(e))) => panic!("{e}\nstderr:\n{}", process.stderr()),
        Ok(Err(e)) => panic!("join: {e}"),
        Err(_) => panic!("the demo did not finish within {timeout:?}; stderr:\n{}", process.stderr()),
    };
    let mut lines = lines;
    assert!(lines.len() > 2, "a header, steps and a summary: {lines:?}");
    let done = lines.pop().expect("the summary");
    let header = lines.remove(0);
    (DemoRun { header, steps: lines, done }, process)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_private_community_demo_shows_every_outcome_and_its_network_serves_on() {
    let (demo, mut kept) = run_demo(&["--keep"], DEMO_TIMEOUT).await;
    let (mrenclave, cid) = assert_demo_outcomes(&demo, DEMO_TIMEOUT);
    assert_eq!(demo.header["network"]["worker_urls"].as_array().map(Vec::len), Some(1));

    // `--keep`: the network serves on. The next ceremony's registrations use the reputation
    // ceremony 2 gave the newbie, and an endorsement.
    let node_url = demo.header["network"]["node_url"].as_str().expect("node_url").to_string();
    let worker_url = demo.header["network"]["worker_url"].as_str().expect("worker_url").to_string();
    next_ceremony(&node_url, &worker_url, &mrenclave, &cid).await;
    assert!(kept.stop(), "the demo stops cleanly on SIGTERM:\n{}", kept.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_private_community_demo_on_three_validateers_taking_turns_shows_the_same_outcomes() {
    let (demo, mut process) = run_demo(&["--validateers", "3"], THREE_VALIDATEERS_TIMEOUT).await;
    assert_demo_outcomes(&demo, THREE_VALIDATEERS_TIMEOUT);
    let listed = strings(&demo.header["network"]["worker_urls"]);
    assert_eq!(listed.len(), 3, "three validateers in the header: {}", demo.header);
    let used: BTreeSet<&str> = demo.steps.iter().filter_map(|s| worker_url_of(s["command"].as_str()?)).collect();
    assert!(used.len() >= 3, "the trusted commands went to every validateer: {used:?}");
    assert!(process.wait(Duration::from_secs(120)), "the demo ends cleanly without --keep:\n{}", process.stderr());
}

/// Checks every step of a demo run, whatever the number of validateers; returns the MRENCLAVE
/// and the community's identifier.
fn assert_demo_outcomes(demo: &DemoRun, timeout: Duration) -> (String, String) {
    let (alice, bob, charlie, cora) = (ss58("//Alice"), ss58("//Bob"), ss58("//Charlie"), ss58("//Cora"));
    let four = set([alice.as_str(), bob.as_str(), charlie.as_str(), cora.as_str()]);

    // The network it ran on: the shard is the MRENCLAVE, printed in every trusted command; with
    // several validateers, each trusted command names one of them, and none does with one.
    let mrenclave = demo.header["network"]["mrenclave"].as_str().expect("mrenclave").to_string();
    assert_eq!(demo.header["network"]["shard"], demo.header["network"]["mrenclave"]);
    assert_eq!(mrenclave, WorkerProcess::mrenclave().expect("mrenclave"));
    let worker_urls: Vec<&str> = demo.header["network"]["worker_urls"]
        .as_array()
        .expect("worker_urls")
        .iter()
        .map(|u| u.as_str().expect("a URL"))
        .collect();
    assert_eq!(demo.header["network"]["worker_url"].as_str(), worker_urls.first().copied(), "validateer 0");
    for step in &demo.steps {
        let command = step["command"].as_str().expect("command");
        assert!(command.starts_with("cloister "), "{command}");
        if command.contains(" trusted ") {
            let rest = match worker_url_of(command) {
                Some(url) => {
                    assert!(worker_urls.len() > 1 && worker_urls.contains(&url), "{url} of {worker_urls:?}: {command}");
                    &command[format!("cloister --worker-url {url} ").len()..]
                }
                None => {
                    assert_eq!(worker_urls.len(), 1, "a trusted command names its validateer: {command}");
                    &command["cloister ".len()..]
                }
            };
            assert!(rest.starts_with(&format!("trusted --mrenclave {mrenclave} ")), "{command}");
        }
    }

    // Setup: the community's identifier in Encointer's form (geohash of Zurich + base58 digest).
    let cid = demo.ok("setup", "demo-community.toml")["cid"].as_str().expect("cid").to_string();
    let parsed = parse_cid(&cid).expect("an Encointer community identifier");
    assert_eq!(parsed.to_string(), cid);
    assert!(cid.starts_with("u0qj"), "{cid}");
    assert_eq!(demo.done["cid"], cid.as_str());
    let private = demo.ok("setup", &format!("make-community-private //Alice {cid}"));
    assert_eq!(private["manager"]["account"], alice.as_str());
    assert_eq!(strings(&private["bootstrappers"]), set([alice.as_str(), bob.as_str(), charlie.as_str()]));
    assert_eq!(private["locations"], 2);

    // Ceremony 1: the newbie is refused while nothing was issued; the bootstrappers meet.
    let error = demo.refused("ceremony 1", &format!("register-participant //Cora {cid}"));
    assert!(error.contains("OnlyBootstrappers"), "{error}");
    for who in ["//Alice", "//Bob", "//Charlie"] {
        let registered = demo.ok("ceremony 1", &format!("register-participant {who} {cid}"));
        assert_eq!(
            (registered["participant_type"].as_str(), registered["cindex"].as_u64()),
            (Some("Bootstrapper"), Some(1))
        );
    }
    assert!(demo.ok("ceremony 1", &format!("claim-rewards //Bob {cid}"))["block"].is_string());

    // Ceremony 2: four registrations of the right types.
    for (who, kind) in
        [("//Alice", "Bootstrapper"), ("//Bob", "Bootstrapper"), ("//Charlie", "Bootstrapper"), ("//Cora", "Newbie")]
    {
        let registered = demo.ok("ceremony 2", &format!("register-participant {who} {cid}"));
        assert_eq!(
            (registered["participant_type"].as_str(), registered["cindex"].as_u64()),
            (Some(kind), Some(2)),
            "{who}"
        );
    }
    let listed = demo.ok("ceremony 2", &format!("list-participants //Alice {cid}"));
    assert_eq!(listed["cindex"], 2);
    let participants: BTreeSet<(String, String)> = listed["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| (p["account"].as_str().expect("account").to_string(), p["type"].as_str().expect("type").to_string()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        (alice.clone(), "Bootstrapper".to_string()),
        (bob.clone(), "Bootstrapper".into()),
        (charlie.clone(), "Bootstrapper".into()),
        (cora.clone(), "Newbie".into()),
    ]
    .into();
    assert_eq!(participants, expected);
    let error = demo.refused("ceremony 2", &format!("list-participants //Bob {cid}"));
    assert!(error.contains("not authorized"), "{error}");
    assert!(!error.contains(&cora), "a refusal tells nothing: {error}");

    // One meetup of the four, with a place in Zurich and a time.
    let meetups =
        demo.ok("ceremony 2", &format!("list-meetups //Alice {cid}"))["meetups"].as_array().expect("meetups").clone();
    assert_eq!(meetups.len(), 1, "{meetups:?}");
    let meetup = &meetups[0];
    assert_eq!(strings(&meetup["participants"]), four);
    let (lat, lon) =
        (meetup["location"]["lat"].as_f64().expect("lat"), meetup["location"]["lon"].as_f64().expect("lon"));
    assert!((47.3..47.5).contains(&lat) && (8.5..8.7).contains(&lon), "({lat}, {lon})");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let time = meetup["time"]["unix_ms"].as_u64().expect("a meetup time");
    assert!(time > now_ms, "the meetup is after Assigning: {time} vs now {now_ms}");
    assert!(meetup["time"]["utc"].as_str().is_some_and(|t| t.ends_with(" UTC")));
    // The newbie sees its own meetup: the same place, time and count, not who.
    let own = demo.ok("ceremony 2", &format!("meetup //Cora {cid}"));
    assert_eq!(
        (own["assigned"].as_bool(), own["index"].clone(), own["participants"].as_u64()),
        (Some(true), meetup["index"].clone(), Some(4))
    );
    assert_eq!((own["location"].clone(), own["time"].clone()), (meetup["location"].clone(), meetup["time"].clone()));

    // Four attesters, each naming the three others.
    for who in ["//Alice", "//Bob", "//Charlie", "//Cora"] {
        let others: Vec<&str> = ["//Alice", "//Bob", "//Charlie", "//Cora"].into_iter().filter(|o| *o != who).collect();
        demo.ok("ceremony 2", &format!("attest-attendees {who} {cid} {}", others.join(" ")));
    }
    let attestations = demo.ok("ceremony 2", &format!("list-attestees //Alice {cid}"))["attestations"]
        .as_array()
        .expect("attestations")
        .clone();
    assert_eq!(attestations.len(), 4, "{attestations:?}");
    for a in &attestations {
        let attester = a["attester"].as_str().expect("attester").to_string();
        let mut others = four.clone();
        assert!(others.remove(&attester), "{attester} is one of the four");
        assert_eq!(strings(&a["attestees"]), others, "{attester}");
        assert_eq!(a["vote"], 4);
    }

    // The claim, then the community as the manager sees it.
    let meetup_index = meetup["index"].as_u64().expect("index");
    demo.ok("ceremony 2", &format!("claim-rewards //Bob {cid} --meetup {meetup_index}"));
    let info = demo.ok("ceremony 2", &format!("community-info //Alice {cid}"));
    assert_eq!((info["name"].as_str(), info["symbol"].as_str()), (Some("Cloister Demo"), Some("CLD")));
    assert_eq!(info["manager"]["account"], alice.as_str());
    assert_eq!(info["locations"].as_array().map(Vec::len), Some(2));
    assert_eq!(info["nominal_income"]["value"], 1.0);
    assert!((info["demurrage_per_block"].as_f64().expect("demurrage") - 1e-5).abs() < 1e-9);
    let issued = info["total_issuance"]["value"].as_f64().expect("issuance");
    assert!(issued < 7.0 && issued > 6.99, "3 rewards, then 4, less demurrage: {issued}");
    assert_eq!((info["ceremony"]["phase"].as_str(), info["ceremony"]["cindex"].as_u64()), (Some("Attesting"), Some(2)));
    assert_eq!(info["ceremony"]["registered"]["newbies"], 1);
    assert_eq!(info["ceremony"]["attested"], 4);
    let reputation = demo.ok("ceremony 2", &format!("reputation //Cora {cid}"));
    assert_eq!(reputation["reputation"][0]["cindex"], 2);
    assert_eq!(reputation["reputation"][0]["reputation"], "VerifiedUnlinked");

    // Balances: the newbie one nominal income, each bootstrapper two less demurrage.
    let cora_balance = demo.cc_balance("balances", "//Cora", &cid);
    assert!((cora_balance - 1.0).abs() < 1e-3, "{cora_balance}");
    for who in ["//Alice", "//Bob", "//Charlie"] {
        let balance = demo.cc_balance("balances", who, &cid);
        assert!(balance < 2.0 && balance > 1.99, "{who}: {balance}");
    }
    let native = demo.ok("balances", "balance //Bob");
    assert_eq!(native["free"], "0", "Bob has no native funds on the shard");

    // Demurrage: some blocks later Bob holds less.
    let later = demo.cc_balance("demurrage", "//Bob", &cid);
    let earlier = demo.cc_balance("balances", "//Bob", &cid);
    assert!(later < earlier, "{later} < {earlier}");
    let sent = demo.ok("demurrage", &format!("transfer //Cora //Bob 0.5 --cid {cid}"));
    assert_eq!(sent["amount"]["value"], 0.5);
    let remaining = demo.cc_balance("demurrage", "//Cora", &cid);
    assert!(remaining < 0.5 && remaining > 0.49, "{remaining}");

    let seconds = demo.done["seconds"].as_f64().expect("seconds");
    eprintln!("the demo ran {} steps in {seconds:.1} s", demo.steps.len());
    assert_eq!(demo.done["steps"].as_u64(), Some(demo.steps.len() as u64));
    assert!(seconds > 0.0 && seconds < timeout.as_secs_f64());
    (mrenclave, cid)
}

/// After the demo (Attesting of ceremony 2): registrations for ceremony 3 with a proof of
/// attendance, unregistering, upgrading, endorsing, and a manager list of an earlier ceremony.
async fn next_ceremony(node_url: &str, worker_url: &str, mrenclave: &str, cid: &str) {
    let run = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (ok, out, err) = cloister_testkit::worker::trusted(node_url, worker_url, mrenclave, &all);
        assert!(ok, "`trusted {}` succeeded: {out}{err}", args.join(" "));
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("`trusted {}` prints JSON ({e}): {out}", args.join(" ")))
    };
    let registered_as =
        |value: &Value| (value["participant_type"].as_str().map(str::to_string), value["cindex"].as_u64());
    let reputable = (Some("Reputable".to_string()), Some(3));

    // The list of an earlier ceremony, by index.
    let earlier = run(&["list-participants", "//Alice", cid, "--cindex", "1"]);
    assert_eq!(earlier["participants"].as_array().map(Vec::len), Some(3), "{earlier}");

    // Removing a registration needs Registering: move on to ceremony 3.
    let (ok, _, err) = cloister_testkit::cloister(node_url, &["next-phase"]);
    assert!(ok, "{err}");
    cloister_testkit::wait_for("the shard in Registering of ceremony 3", Duration::from_secs(60), || {
        let view = run(&["ceremony", "//Alice", cid]);
        let ready = view["phase"] == "Registering" && view["cindex"] == 3;
        async move { ready.then_some(()) }
    })
    .await
    .expect("the shard follows");

    assert_eq!(registered_as(&run(&["register-participant", "//Cora", cid, "--reputation", "2"])), reputable);
    let linked = run(&["reputation", "//Cora", cid]);
    assert_eq!(linked["reputation"][0]["reputation"], "VerifiedLinked(3)", "{linked}");
    run(&["unregister-participant", "//Cora", cid, "--reputation-of", &format!("{cid}:2")]);
    assert_eq!(run(&["registration", "//Cora", cid])["registered"], false);
    assert_eq!(registered_as(&run(&["register-participant", "//Cora", cid])), (Some("Newbie".into()), Some(3)));
    assert_eq!(registered_as(&run(&["upgrade-registration", "//Cora", cid, "--reputation", "2"])), reputable);

    run(&["endorse-newcomer", "//Bob", cid, "//Dave"]);
    assert_eq!(registered_as(&run(&["register-participant", "//Dave", cid])), (Some("Endorsee".into()), Some(3)));
}

/// `cloister trusted --mrenclave M ARGS` against `node` and `worker`.
fn trusted(node: &NodeProcess, worker: &WorkerProcess, mrenclave: &str, args: &[&str]) -> (bool, String, String) {
    cloister_testkit::worker::trusted(&node.url(), &worker.url(), mrenclave, args)
}

/// A community identifier of the right form that no chain knows.
fn unknown_cid() -> String {
    let bootstrappers: Vec<_> =
        ["//Dave", "//Eve", "//Ferdie"].iter().map(|s| parse_account(s).expect("dev")).collect();
    CommunityIdentifier::new(Location::new(Degree::from_num(10.5), Degree::from_num(20.5)), bootstrappers)
        .expect("a valid location")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn private_community_commands_with_bad_input_fail_clearly_and_the_validateer_serves_on() {
    let node = NodeProcess::dev().await.expect("node starts");
    let worker = WorkerProcess::start(&node.url()).await.expect("worker starts");
    let mrenclave = WorkerProcess::mrenclave().expect("mrenclave");
    let cid = unknown_cid();

    let cases: [(Vec<&str>, &str); 7] = [
        (vec!["make-community-private", "//Alice", &cid], "does not exist on the parentchain"),
        (vec!["list-participants", "//Alice", &cid], "not authorized"),
        (vec!["register-participant", "//Bob", &cid], "InexistentCommunity"),
        (vec!["transfer", "//Alice", "//Bob", "lots", "--cid", &cid], "not an amount of community currency"),
        (vec!["transfer", "//Alice", "//Bob", "1.5"], "not an amount in plancks"),
        (vec!["attest-attendees", "//Alice", &cid, "nobody"], "neither an SS58 address nor a secret URI"),
        (vec!["balance", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", "--cid", &cid], "not a secret URI"),
    ];
    for (args, expected) in cases {
        let (ok, out, err) = trusted(&node, &worker, &mrenclave, &args);
        assert!(!ok, "`trusted {}` fails: {out}", args.join(" "));
        assert!(err.contains(expected), "`trusted {}` says {expected:?}: {err}", args.join(" "));
        assert!(!err.contains("panicked"), "no panic: {err}");
    }

    // Nothing was applied, and the validateer still answers.
    let (ok, out, err) = trusted(&node, &worker, &mrenclave, &["--json", "ceremony", "//Alice", &cid]);
    assert!(ok, "{err}");
    let ceremony: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(ceremony["private"], false);
    assert_eq!(ceremony["registered"]["bootstrappers"], 0);
}

#[test]
fn malformed_community_identifiers_are_refused_before_anything_is_contacted() {
    // No node listens on port 1: a parse error must come first, from the command line itself.
    for (args, expected) in [
        (vec!["register-participant", "//Bob", "sqm1"], "not a community identifier"),
        (vec!["list-meetups", "//Alice", "ääääää"], "not a community identifier"),
        (vec!["balance", "//Bob", "--cid", "sqm1v0OIl0"], "not a community identifier"),
        (vec!["unregister-participant", "//Bob", "sqm1v79dF6b", "--reputation-of", "sqm1v79dF6b"], "CID:CINDEX"),
        (vec!["attest-attendees", "//Bob", "sqm1v79dF6b"], "ATTESTEES"),
    ] {
        let output = Command::new(binary("cloister"))
            .args(["--node-url", "ws://127.0.0.1:1", "trusted", "--mrenclave", &format!("0x{}", "00".repeat(32))])
            .args(&args)
            .output()
            .expect("cloister runs");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "`{}` is a usage error: {err}", args.join(" "));
        assert!(err.contains(expected), "`{}` says {expected:?}: {err}", args.join(" "));
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Two public communities of the same bootstrappers, far enough apart to be founded both.
const ZURICH: &str = r#"name = "Proof Test"
symbol = "PRF"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
[[locations]]
lat = 47.3769
lon = 8.5417
"#;
const BERN: &str = r#"name = "Other Proof Test"
symbol = "OPT"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
[[locations]]
lat = 46.948
lon = 7.4474
"#;
/// What the enclave answers for a block it has not verified (or never will).
const NOT_VERIFIED: &str = "is not a finalized block this enclave verified recently";

/// //Alice's `MakeCommunityPrivate` of `cid` with a read proof at `at`, sent through the RA-TLS
/// client; returns the enclave's refusal. With `wait_verified`, a refusal because the enclave
/// has not verified `at` yet (it follows finality a little behind the node) is sent again.
async fn make_private_refusal(
    cmd: &crate::ceremony::Commands,
    cid: CommunityIdentifier,
    (at, cells, proof): (Hash, &[GeoHash], Vec<Vec<u8>>),
    wait_verified: bool,
) -> anyhow::Result<String> {
    let alice = Signer::from_suri("//Alice")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let call = TrustedCall::MakeCommunityPrivate {
            who: alice.account(),
            cid,
            at,
            cells: cells.to_vec(),
            proof: proof.clone(),
        };
        match cmd.trusted.call(&alice, call, false).await {
            Ok(block) => anyhow::bail!("accepted, in sidechain block {block:?}"),
            Err(CommandError::Refused(reason))
                if wait_verified && reason.contains(NOT_VERIFIED) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(CommandError::Refused(reason)) => return Ok(reason),
            Err(other) => anyhow::bail!("not a refusal of the shard: {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_proof_of_a_public_community_is_refused_and_the_community_stays_public() -> anyhow::Result<()> {
    use anyhow::{ensure, Context};
    let (node, _chain) = crate::ceremony::long_phase_node().await?;
    let worker = WorkerProcess::start(&node.url()).await?;
    let cmd = crate::ceremony::Commands::connect(&node.url(), &worker.url(), &WorkerProcess::mrenclave()?).await?;
    let dir = tempfile::tempdir()?;
    let (cid_text, cid) = cmd.new_community(&dir.path().join("zurich.toml"), ZURICH)?;
    let (_, other_cid) = cmd.new_community(&dir.path().join("bern.toml"), BERN)?;
    cmd.await_phase(cid, CeremonyPhaseType::Registering, 1).await?;
    let alice = Signer::from_suri("//Alice")?;
    let nonce = cmd.trusted.nonce(&alice).await?;

    // The call as `make-community-private` builds it, then spoilt.
    let valid = read_public_community(&cmd.node, cid).await?;
    ensure!(valid.proof.len() > 2, "a proof of a few nodes: {:?}", valid.proof);
    let header: Option<Header> = cmd.node.rpc().request("chain_getHeader", rpc_params![valid.at]).await?;
    let header = header.context("no header of the block the community was read at")?;
    // A node below the root (a changed root is the proof of another block, below).
    let mut flipped = valid.proof.clone();
    let inner = flipped
        .iter_mut()
        .filter(|node| Hash::from(sp_crypto_hashing::blake2_256(node)) != header.state_root)
        .max_by_key(|node| node.len())
        .context("a proof of the root alone")?;
    let middle = inner.len() / 2;
    inner[middle] ^= 0x01;
    let mut dropped = valid.proof.clone();
    dropped.remove(valid.proof.len() / 2);
    let parent = header.parent_hash;
    let keys = public_community_keys(&cid, &valid.cells);
    let of_parent = cmd.node.read_proof(&keys, parent).await?;
    let other = read_public_community(&cmd.node, other_cid).await?;
    let of_other = cmd.node.read_proof(&public_community_keys(&other_cid, &other.cells), valid.at).await?;
    let cells = valid.cells.as_slice();

    // A block the enclave never saw.
    let unknown = Hash::repeat_byte(0x42);
    let reason = make_private_refusal(&cmd, cid, (unknown, cells, valid.proof.clone()), false).await?;
    ensure!(reason.contains(NOT_VERIFIED), "a proof at block {unknown:?}: {reason}");

    let spoilt = [
        ("one node's byte flipped", flipped),
        ("a node dropped", dropped),
        ("the proof of the parent block", of_parent),
        ("the proof of another community", of_other),
    ];
    for (what, proof) in spoilt {
        let reason = make_private_refusal(&cmd, cid, (valid.at, cells, proof), true)
            .await
            .with_context(|| format!("{what}: the enclave must refuse it"))?;
        ensure!(
            reason.contains("parentchain") && reason.contains("bad read proof"),
            "{what}: the refusal names the parentchain's proof: {reason}"
        );
        eprintln!("{what}: refused: {reason}");
    }

    // Nothing changed: the community is not private on the shard, //Alice's nonce is where it was.
    let view = fetch_ceremony(&cmd.trusted, &alice, cid).await?;
    ensure!(!view.private, "a refused call made {cid} private");
    ensure!(cmd.trusted.nonce(&alice).await? == nonce, "a refused call spent //Alice's nonce");
    // The correct call afterwards succeeds.
    let private = cmd.trusted(&["make-community-private", "//Alice", &cid_text])?;
    ensure!(private["manager"]["account"] == ss58("//Alice"), "{private}");
    ensure!(fetch_ceremony(&cmd.trusted, &alice, cid).await?.private, "{cid} is private after the correct call");
    Ok(())
}
