//! Scope health: kept by every evaluation in the same transaction, never
//! pruned; and the SQLite file itself (mode, WAL, minimal writes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::EvaluationStatus::{self, Error, Ok as Fine, Unavailable};
use blindspot_store::{ScopeHealth, SqliteStore, Store, StoreError};
use common::{evaluation, finding, ok, scope, t};

const RULE: &str = "rule-a";

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

fn health_of(s: &SqliteStore, rule: &str, region: &str) -> ScopeHealth {
    s.scope_health()
        .unwrap()
        .into_iter()
        .find(|h| h.rule == rule && h.scope.region == region)
        .unwrap()
}

fn record(s: &SqliteStore, region: &str, status: EvaluationStatus, at: i64) {
    let sc = scope("111111111111", region);
    s.record_evaluation(&evaluation(RULE, &sc, status, t(at), vec![]))
        .unwrap();
}

#[test]
fn health_follows_every_evaluation() {
    let s = store();
    /// (status, at) then the expected (last success, consecutive failures,
    /// unavailable since).
    type Step = (EvaluationStatus, i64, Option<i64>, u64, Option<i64>);
    let steps: [Step; 9] = [
        (Error, 0, None, 1, None),
        (Fine, 10, Some(10), 0, None),
        (Error, 20, Some(10), 1, None),
        // Unavailable neither counts as a failure nor resets the count.
        (Unavailable, 30, Some(10), 1, Some(30)),
        (Unavailable, 40, Some(10), 1, Some(30)),
        (Error, 50, Some(10), 2, None),
        // A new run of unavailable evaluations starts a new `since`.
        (Unavailable, 60, Some(10), 2, Some(60)),
        (Fine, 70, Some(70), 0, None),
        (Unavailable, 80, Some(70), 0, Some(80)),
    ];
    for (status, at, last_success, failures, since) in steps {
        record(&s, "eu-west-1", status, at);
        let h = health_of(&s, RULE, "eu-west-1");
        assert_eq!(h.status, status, "at {at}");
        assert_eq!(h.finished_at, t(at));
        assert_eq!(h.last_success_at, last_success.map(t), "at {at}");
        assert_eq!(h.consecutive_failures, failures, "at {at}");
        assert_eq!(h.unavailable_since, since.map(t), "at {at}");
        assert_eq!(
            h.error.is_some(),
            status != Fine,
            "the latest error text, if any"
        );
    }
    // Latest evaluations come through the health table too.
    let latest = s.latest_evaluations().unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].finished_at, t(80));
}

#[test]
fn a_scope_that_never_succeeded_has_health_without_a_last_success() {
    let s = store();
    for at in 0..3 {
        record(&s, "us-east-1", Error, at);
    }
    record(&s, "eu-west-1", Fine, 0);
    let health = s.scope_health().unwrap();
    assert_eq!(
        health
            .iter()
            .map(|h| h.scope.region.as_str())
            .collect::<Vec<_>>(),
        ["eu-west-1", "us-east-1"],
        "sorted by rule, account, region"
    );
    let h = &health[1];
    assert_eq!(h.status, Error);
    assert_eq!(h.last_success_at, None);
    assert_eq!(h.consecutive_failures, 3);
    assert_eq!(h.error.as_deref(), Some("boom"));
}

#[test]
fn retention_prunes_every_evaluation_but_never_the_health() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1])).unwrap();
    for at in 1..=5 {
        record(&s, "eu-west-1", Error, at * 100);
    }
    let (_, pruned) = s.prune(t(0), t(1_000_000)).unwrap();
    assert_eq!(pruned, 6);
    assert!(s.evaluations(None, 100).unwrap().is_empty());
    assert!(s.latest_evaluations().unwrap().is_empty());
    let h = health_of(&s, RULE, "eu-west-1");
    assert_eq!(h.last_success_at, Some(t(0)));
    assert_eq!(h.consecutive_failures, 5);
    assert_eq!(h.status, Error);
    assert_eq!(h.finished_at, t(500));
    // The next evaluation updates the surviving row.
    record(&s, "eu-west-1", Error, 600);
    assert_eq!(health_of(&s, RULE, "eu-west-1").consecutive_failures, 6);
    s.record_evaluation(&ok(RULE, &sc, t(700), &[1])).unwrap();
    let h = health_of(&s, RULE, "eu-west-1");
    assert_eq!(
        (h.last_success_at, h.consecutive_failures),
        (Some(t(700)), 0)
    );
}

#[test]
fn a_rejected_evaluation_leaves_no_health() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("111111111111", "us-east-1");
    let mut e = ok(RULE, &a, t(0), &[1]);
    e.findings.push(finding(RULE, &b, 2));
    assert!(matches!(
        s.record_evaluation(&e),
        Err(StoreError::InvalidEvaluation(_))
    ));
    assert!(s.scope_health().unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn the_database_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/blindspot.db");
    let s = SqliteStore::open(&path).unwrap();
    let sc = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1])).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    // SQLite gives its WAL and shared-memory files the database's mode.
    for suffix in ["-wal", "-shm"] {
        let side = dir.path().join(format!("state/blindspot.db{suffix}"));
        assert_eq!(mode(&side), 0o600, "{suffix}");
    }
}

#[test]
fn prune_checkpoints_and_truncates_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blindspot.db");
    let s = SqliteStore::open(&path).unwrap();
    let sc = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &sc, t(0), &(0..500).collect::<Vec<_>>()))
        .unwrap();
    let wal = dir.path().join("blindspot.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    s.prune(t(0), t(0)).unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert_eq!(s.open_findings(RULE, &sc).unwrap().len(), 500);
}

/// Counts, with a trigger, every UPDATE that names a finding's text or
/// lifecycle columns: a finding seen again unchanged must not be rewritten.
#[test]
fn a_finding_seen_again_unchanged_updates_only_last_seen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blindspot.db");
    let s = SqliteStore::open(&path).unwrap();
    let sc = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &sc, t(0), &(0..50).collect::<Vec<_>>()))
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE writes (what TEXT PRIMARY KEY, n INTEGER NOT NULL);
         INSERT INTO writes VALUES ('text', 0), ('severity', 0), ('status', 0), ('last_seen', 0);
         CREATE TRIGGER count_text AFTER UPDATE OF code, resource, title, description,
             recommendation, remediation, details ON findings
             BEGIN UPDATE writes SET n = n + 1 WHERE what = 'text'; END;
         CREATE TRIGGER count_severity AFTER UPDATE OF severity ON findings
             BEGIN UPDATE writes SET n = n + 1 WHERE what = 'severity'; END;
         CREATE TRIGGER count_status AFTER UPDATE OF status ON findings
             BEGIN UPDATE writes SET n = n + 1 WHERE what = 'status'; END;
         CREATE TRIGGER count_last_seen AFTER UPDATE OF last_seen ON findings
             BEGIN UPDATE writes SET n = n + 1 WHERE what = 'last_seen'; END;",
    )
    .unwrap();
    let writes = || -> Vec<(String, i64)> {
        conn.prepare("SELECT what, n FROM writes ORDER BY what")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let counts = |last_seen: i64, severity: i64, status: i64, text: i64| {
        vec![
            ("last_seen".to_owned(), last_seen),
            ("severity".to_owned(), severity),
            ("status".to_owned(), status),
            ("text".to_owned(), text),
        ]
    };

    // Seen again, unchanged: last_seen only.
    let change = s
        .record_evaluation(&ok(RULE, &sc, t(60), &(0..50).collect::<Vec<_>>()))
        .unwrap();
    assert_eq!(change.updated, 50);
    assert_eq!(writes(), counts(50, 0, 0, 0));

    // One finding reworded: its text, nothing else.
    let mut e = ok(RULE, &sc, t(120), &(0..50).collect::<Vec<_>>());
    e.findings[7] = e.findings[7].clone().description("reworded");
    s.record_evaluation(&e).unwrap();
    assert_eq!(writes(), counts(100, 0, 0, 1));
    let f = s.finding(&e.findings[7].id).unwrap().unwrap();
    assert_eq!(f.finding.description, "reworded");
    assert_eq!(f.last_seen, t(120));

    // One resolved (status), then seen again (status; text unchanged).
    let mut e = ok(RULE, &sc, t(180), &(1..50).collect::<Vec<_>>());
    e.findings[6] = e.findings[6].clone().description("reworded");
    s.record_evaluation(&e).unwrap();
    assert_eq!(writes(), counts(149, 0, 1, 1));
    let mut e = ok(RULE, &sc, t(240), &(0..50).collect::<Vec<_>>());
    e.findings[7] = e.findings[7].clone().description("reworded");
    s.record_evaluation(&e).unwrap();
    assert_eq!(writes(), counts(199, 0, 2, 1));
}
