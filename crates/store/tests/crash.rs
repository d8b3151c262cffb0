//! Crash safety: a writer process is killed with SIGKILL at random moments,
//! and after every kill the database must reopen consistent.
//!
//! The test re-executes its own binary as the writer (selected by an
//! environment variable). The writer records a deterministic sequence of
//! evaluations and prints each iteration number after its commit returns, so
//! the parent knows a lower bound of what must have survived. Every evaluation
//! carries its iteration number in `counts`, so the parent can rebuild exactly
//! which evaluations were committed and compare the store with the lifecycle
//! those evaluations imply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use blindspot_core::{Evaluation, EvaluationStatus, Scope};
use blindspot_store::{SqliteStore, Store};
use common::{evaluation, finding, scope, t};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WRITER_ENV: &str = "BLINDSPOT_CRASH_WRITER_DB";
const START_ENV: &str = "BLINDSPOT_CRASH_WRITER_START";
const RULES: [&str; 2] = ["rule-a", "rule-b"];
const ROUNDS: usize = 8;

fn mix(mut x: u64) -> u64 {
    // splitmix64: a cheap, well-spread hash so iterations differ.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn scopes() -> [Scope; 2] {
    [
        scope("111111111111", "eu-west-1"),
        scope("111111111111", "us-east-1"),
    ]
}

/// The evaluation of iteration `i`: about 20 findings, so a transaction is
/// long enough to be killed halfway.
fn iteration(i: u64) -> (usize, usize, EvaluationStatus, BTreeSet<u32>) {
    let x = mix(i);
    let rule = (x % 2) as usize;
    let sc = ((x >> 3) % 2) as usize;
    let status = match (x >> 5) % 5 {
        0..=2 => EvaluationStatus::Ok,
        3 => EvaluationStatus::Error,
        _ => EvaluationStatus::Unavailable,
    };
    let findings = (0..30u32)
        .filter(|n| !mix(i * 64 + u64::from(*n)).is_multiple_of(3))
        .collect();
    (rule, sc, status, findings)
}

fn build(i: u64) -> Evaluation {
    let (rule, sc, status, ns) = iteration(i);
    let scope = &scopes()[sc];
    let findings = ns.iter().map(|n| finding(RULES[rule], scope, *n)).collect();
    let mut e = evaluation(RULES[rule], scope, status, t(i as i64), findings);
    e.counts.insert("iteration".into(), i);
    e
}

fn writer(path: &Path, start: u64) {
    let store = SqliteStore::open(path).unwrap();
    let mut out = std::io::stdout().lock();
    for i in start.. {
        store.record_evaluation(&build(i)).unwrap();
        writeln!(out, "{i}").unwrap();
        out.flush().unwrap();
    }
}

fn random_delay() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    Duration::from_millis(40 + mix(u64::from(nanos)) % 260)
}

/// Checks the database against the evaluations it says it committed.
fn verify(path: &Path, printed_up_to: Option<u64>) -> usize {
    let store = SqliteStore::open(path).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_owned()]);
    let conn = rusqlite::Connection::open(path).unwrap();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };

    // The fingerprint is the primary key; prove it anyway.
    assert_eq!(
        one("SELECT COUNT(*) FROM findings"),
        one("SELECT COUNT(DISTINCT id) FROM findings")
    );
    // Each finding's row agrees with its own history.
    assert_eq!(
        one("SELECT COUNT(*) FROM findings f WHERE \
             (status = 'open') != (resolved_at IS NULL) \
             OR first_seen > last_seen \
             OR (SELECT COUNT(*) FROM finding_events e WHERE e.finding_id = f.id AND kind = 'opened') != 1 \
             OR (SELECT COUNT(*) FROM finding_events e WHERE e.finding_id = f.id AND kind = 'reopened') != reopen_count \
             OR (SELECT COUNT(*) FROM finding_events e WHERE e.finding_id = f.id AND kind = 'resolved') \
                != reopen_count + (status = 'resolved')"),
        0,
        "a finding disagrees with its events"
    );
    // Evaluation counters agree with the events they caused: no half-written
    // transaction.
    assert_eq!(
        one("SELECT COALESCE(SUM(opened), 0) FROM evaluations"),
        one("SELECT COUNT(*) FROM finding_events WHERE kind IN ('opened', 'reopened')")
    );
    assert_eq!(
        one("SELECT COALESCE(SUM(resolved), 0) FROM evaluations"),
        one("SELECT COUNT(*) FROM finding_events WHERE kind = 'resolved'")
    );

    // Each scope's health was written with its latest evaluation: one row
    // per evaluated scope, agreeing with the evaluations it summarises.
    assert_eq!(
        one("SELECT COUNT(*) FROM scope_health"),
        one("SELECT COUNT(*) FROM (SELECT DISTINCT rule, account, region FROM evaluations)")
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM scope_health h WHERE \
             h.evaluation_id != (SELECT MAX(e.id) FROM evaluations e WHERE e.rule = h.rule \
                AND e.account = h.account AND e.region = h.region) \
             OR h.status != (SELECT e.status FROM evaluations e WHERE e.id = h.evaluation_id) \
             OR h.last_success_at IS NOT (SELECT e.finished_at FROM evaluations e \
                WHERE e.rule = h.rule AND e.account = h.account AND e.region = h.region \
                AND e.status = 'ok' ORDER BY e.id DESC LIMIT 1) \
             OR h.consecutive_failures != (SELECT COUNT(*) FROM evaluations e \
                WHERE e.rule = h.rule AND e.account = h.account AND e.region = h.region \
                AND e.status = 'error' AND e.id > COALESCE((SELECT MAX(o.id) FROM evaluations o \
                    WHERE o.rule = h.rule AND o.account = h.account AND o.region = h.region \
                    AND o.status = 'ok'), 0))"),
        0,
        "a scope's health disagrees with its evaluations"
    );

    // Rebuild the committed sequence from the evaluations themselves.
    let committed: Vec<u64> = {
        let mut stmt = conn
            .prepare("SELECT counts FROM evaluations ORDER BY id")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|json| {
            let counts: BTreeMap<String, u64> = serde_json::from_str(&json.unwrap()).unwrap();
            counts["iteration"]
        })
        .collect()
    };
    // Iterations are recorded in order; a restart may repeat the last
    // unprinted one, never skip one.
    for pair in committed.windows(2) {
        assert!(pair[1] == pair[0] || pair[1] == pair[0] + 1, "{pair:?}");
    }
    if let Some(printed) = printed_up_to {
        let last = committed.last().copied();
        assert!(
            last >= Some(printed),
            "iteration {printed} was acknowledged but the store ends at {last:?}"
        );
    }

    // The open set per (rule, scope) is the last ok evaluation's findings
    // plus every finding of later failed ones (see tests/model.rs).
    let distinct: Vec<u64> = {
        let mut v = committed.clone();
        v.dedup();
        v
    };
    let mut expected: BTreeMap<(usize, usize), BTreeSet<u32>> = BTreeMap::new();
    for i in &distinct {
        let (rule, sc, status, ns) = iteration(*i);
        let open = expected.entry((rule, sc)).or_default();
        if status == EvaluationStatus::Ok {
            open.clear();
        }
        open.extend(ns);
    }
    for (rule, rule_id) in RULES.iter().enumerate() {
        for (sc_index, sc) in scopes().iter().enumerate() {
            let open: BTreeSet<String> = store
                .open_findings(rule_id, sc)
                .unwrap()
                .into_iter()
                .map(|f| f.id)
                .collect();
            let want: BTreeSet<String> = expected
                .get(&(rule, sc_index))
                .into_iter()
                .flatten()
                .map(|n| finding(rule_id, sc, *n).id)
                .collect();
            assert_eq!(open, want, "rule {rule} scope {sc}");
        }
    }
    distinct.len()
}

fn main() {
    if let Some(path) = std::env::var_os(WRITER_ENV) {
        let start = std::env::var(START_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        writer(Path::new(&path), start);
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut next = 0u64;
    let mut printed_total = None;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .env(WRITER_ENV, &path)
            .env(START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        std::thread::sleep(random_delay());
        // Child::kill sends SIGKILL on Unix: no destructor or rollback runs.
        child.kill().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer must have been killed");
        if let Some(last) = out
            .lines()
            .filter_map(|l| l.parse::<u64>().ok())
            .next_back()
        {
            printed_total = Some(last);
            next = last + 1;
        }
        let distinct = verify(&path, printed_total);
        println!(
            "round {round}: acknowledged up to {printed_total:?}, {distinct} evaluations committed"
        );
    }
    assert!(
        printed_total.is_some_and(|n| n > 20),
        "the writer made too little progress to test anything"
    );
    println!("crash: {ROUNDS} kills survived");
}
