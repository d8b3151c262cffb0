//! The finding lifecycle, paging, retention and migrations of [`SqliteStore`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::{EvaluationStatus, Measurement, Severity};
use blindspot_store::{
    default_db_path_from, FindingEventKind, FindingQuery, FindingStatus, LifecycleChange,
    SqliteStore, Store, StoreError,
};
use common::{all_pages, evaluation, finding, ok, scope, t};
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::PathBuf;

const RULE: &str = "rule-a";
/// The schema version this build migrates to.
const SCHEMA: u32 = 2;

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn new_findings_open_with_an_event_and_counts() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let change = s.record_evaluation(&ok(RULE, &sc, t(0), &[1, 2])).unwrap();
    assert_eq!(
        change,
        LifecycleChange {
            opened: 2,
            ..Default::default()
        }
    );
    let f = s.finding(&finding(RULE, &sc, 1).id).unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Open);
    assert_eq!(f.first_seen, t(0));
    assert_eq!(f.last_seen, t(0));
    assert_eq!(f.resolved_at, None);
    assert_eq!(f.reopen_count, 0);
    assert_eq!(f.finding, finding(RULE, &sc, 1));
    let evals = s.evaluations(Some(RULE), 10).unwrap();
    assert_eq!(evals.len(), 1);
    assert_eq!(
        (evals[0].findings_seen, evals[0].opened, evals[0].resolved),
        (2, 2, 0)
    );
}

#[test]
fn seen_again_updates_text_and_last_seen_only() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1])).unwrap();
    let mut again = ok(RULE, &sc, t(60), &[]);
    again.findings = vec![finding(RULE, &sc, 1).description("changed")];
    let change = s.record_evaluation(&again).unwrap();
    assert_eq!(change.updated, 1);
    assert_eq!(change.opened + change.reopened + change.resolved, 0);
    let f = s.finding(&finding(RULE, &sc, 1).id).unwrap().unwrap();
    assert_eq!(f.finding.description, "changed");
    assert_eq!((f.first_seen, f.last_seen), (t(0), t(60)));
}

#[test]
fn absent_from_ok_evaluation_resolves_then_reopens_keeping_history() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let id = finding(RULE, &sc, 1).id;
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1, 2])).unwrap();
    let change = s.record_evaluation(&ok(RULE, &sc, t(60), &[2])).unwrap();
    assert_eq!((change.resolved, change.updated), (1, 1));
    let f = s.finding(&id).unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Resolved);
    assert_eq!(f.resolved_at, Some(t(60)));
    assert_eq!(f.last_seen, t(0));

    let change = s
        .record_evaluation(&ok(RULE, &sc, t(120), &[1, 2]))
        .unwrap();
    assert_eq!((change.reopened, change.updated, change.opened), (1, 1, 0));
    let f = s.finding(&id).unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Open);
    assert_eq!(f.first_seen, t(0));
    assert_eq!(f.last_seen, t(120));
    assert_eq!(f.resolved_at, None);
    assert_eq!(f.reopen_count, 1);

    // Resolve and reopen once more: the counter keeps growing.
    s.record_evaluation(&ok(RULE, &sc, t(180), &[])).unwrap();
    s.record_evaluation(&ok(RULE, &sc, t(240), &[1])).unwrap();
    assert_eq!(s.finding(&id).unwrap().unwrap().reopen_count, 2);
    let evals = s.evaluations(Some(RULE), 10).unwrap();
    // Newest first: the last evaluation reopened 1; the one before resolved 2.
    assert_eq!((evals[0].opened, evals[0].resolved), (1, 0));
    assert_eq!((evals[1].opened, evals[1].resolved), (0, 2));
}

#[test]
fn error_and_unavailable_evaluations_resolve_nothing_but_record_what_they_saw() {
    for status in [EvaluationStatus::Error, EvaluationStatus::Unavailable] {
        let s = store();
        let sc = scope("111111111111", "eu-west-1");
        s.record_evaluation(&ok(RULE, &sc, t(0), &[1, 2])).unwrap();
        // An empty failed evaluation: nothing resolves.
        let change = s
            .record_evaluation(&evaluation(RULE, &sc, status, t(60), vec![]))
            .unwrap();
        assert_eq!(change, LifecycleChange::default());
        // A failed evaluation carrying one finding opens it but resolves nothing.
        let change = s
            .record_evaluation(&evaluation(
                RULE,
                &sc,
                status,
                t(120),
                vec![finding(RULE, &sc, 3)],
            ))
            .unwrap();
        assert_eq!(
            change,
            LifecycleChange {
                opened: 1,
                ..Default::default()
            }
        );
        let open = s.open_findings(RULE, &sc).unwrap();
        assert_eq!(open.len(), 3, "{status:?}");
        let latest = s.latest_evaluations().unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].status, status);
        assert_eq!(latest[0].error.as_deref(), Some("boom"));
    }
}

#[test]
fn only_the_same_rule_account_and_region_are_resolved() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("111111111111", "us-east-1");
    let c = scope("222222222222", "eu-west-1");
    for sc in [&a, &b, &c] {
        s.record_evaluation(&ok(RULE, sc, t(0), &[1])).unwrap();
        s.record_evaluation(&ok("rule-b", sc, t(0), &[1])).unwrap();
    }
    let change = s.record_evaluation(&ok(RULE, &a, t(60), &[])).unwrap();
    assert_eq!(change.resolved, 1);
    assert!(s.open_findings(RULE, &a).unwrap().is_empty());
    for sc in [&b, &c] {
        assert_eq!(s.open_findings(RULE, sc).unwrap().len(), 1);
    }
    for sc in [&a, &b, &c] {
        assert_eq!(s.open_findings("rule-b", sc).unwrap().len(), 1);
    }
}

#[test]
fn a_finding_of_another_scope_is_rejected_and_nothing_is_written() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("111111111111", "us-east-1");
    let mut e = ok(RULE, &a, t(0), &[1]);
    e.findings.push(finding(RULE, &b, 2));
    let err = s.record_evaluation(&e).unwrap_err();
    assert!(matches!(err, StoreError::InvalidEvaluation(_)), "{err}");
    assert!(s.evaluations(None, 10).unwrap().is_empty());
    assert!(s.open_findings(RULE, &a).unwrap().is_empty());
}

#[test]
fn duplicate_ids_in_one_evaluation_count_once() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let mut e = ok(RULE, &sc, t(0), &[1, 1]);
    e.findings[1] = e.findings[1].clone().description("second");
    let change = s.record_evaluation(&e).unwrap();
    assert_eq!(change.opened, 1);
    let f = s.finding(&e.findings[0].id).unwrap().unwrap();
    assert_eq!(f.finding.description, "second");
    assert_eq!(s.evaluations(None, 1).unwrap()[0].findings_seen, 1);
}

#[test]
fn evaluation_records_keep_measurements_and_counts() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let mut e = ok(RULE, &sc, t(0), &[]);
    e.measurements = vec![Measurement::new(
        "interval_seconds",
        &[("association", "x")],
        1.5,
    )];
    e.counts.insert("examined".into(), 7);
    e.started_at = t(-5);
    s.record_evaluation(&e).unwrap();
    let rec = &s.evaluations(None, 10).unwrap()[0];
    assert_eq!(rec.measurements, e.measurements);
    assert_eq!(rec.counts, e.counts);
    assert_eq!((rec.started_at, rec.finished_at), (t(-5), t(0)));
    assert_eq!(rec.scope, sc);
}

#[test]
fn latest_evaluations_has_one_row_per_rule_and_scope() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("111111111111", "us-east-1");
    s.record_evaluation(&ok(RULE, &a, t(0), &[])).unwrap();
    s.record_evaluation(&evaluation(
        RULE,
        &a,
        EvaluationStatus::Error,
        t(60),
        vec![],
    ))
    .unwrap();
    s.record_evaluation(&ok(RULE, &b, t(0), &[])).unwrap();
    s.record_evaluation(&ok("rule-b", &a, t(0), &[])).unwrap();
    let latest = s.latest_evaluations().unwrap();
    assert_eq!(latest.len(), 3);
    let ra = latest
        .iter()
        .find(|e| e.rule == RULE && e.scope == a)
        .unwrap();
    assert_eq!(ra.status, EvaluationStatus::Error);
    assert_eq!(s.evaluations(None, 2).unwrap().len(), 2);
    assert_eq!(s.evaluations(Some("rule-b"), 10).unwrap().len(), 1);
    assert_eq!(s.evaluations(Some("nope"), 10).unwrap().len(), 0);
}

#[test]
fn open_counts_group_by_rule_severity_and_scope() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    // Findings 0 and 5 are info, 1 is low.
    s.record_evaluation(&ok(RULE, &a, t(0), &[0, 1, 5]))
        .unwrap();
    s.record_evaluation(&ok(RULE, &a, t(60), &[0, 1, 5, 6]))
        .unwrap();
    s.record_evaluation(&ok(RULE, &a, t(120), &[0, 5, 6]))
        .unwrap();
    let counts = s.open_counts().unwrap();
    assert_eq!(
        counts,
        vec![
            (RULE.to_owned(), Severity::Low, a.clone(), 1),
            (RULE.to_owned(), Severity::Info, a.clone(), 2),
        ]
    );
}

#[test]
fn pagination_walks_every_match_once_in_stable_order_with_filters() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("222222222222", "us-east-1");
    s.record_evaluation(&ok(RULE, &a, t(0), &(0..53).collect::<Vec<_>>()))
        .unwrap();
    s.record_evaluation(&ok(RULE, &b, t(0), &(0..20).collect::<Vec<_>>()))
        .unwrap();
    s.record_evaluation(&ok("rule-b", &a, t(0), &(0..7).collect::<Vec<_>>()))
        .unwrap();
    // Resolve 10 of rule-a in scope a.
    s.record_evaluation(&ok(RULE, &a, t(60), &(10..53).collect::<Vec<_>>()))
        .unwrap();

    let query = FindingQuery {
        limit: 7,
        ..Default::default()
    };
    let mut pages = 0;
    let mut cursor = None;
    let mut got = Vec::new();
    loop {
        let page = s
            .findings(&FindingQuery {
                cursor: cursor.clone(),
                ..query.clone()
            })
            .unwrap();
        assert!(page.findings.len() <= 7);
        pages += 1;
        got.extend(page.findings);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got.len(), 80);
    assert_eq!(pages, 12); // 80 / 7 rounded up
    let ids: BTreeSet<_> = got.iter().map(|f| f.finding.id.clone()).collect();
    assert_eq!(ids.len(), 80, "no duplicates across pages");
    let keys: Vec<_> = got
        .iter()
        .map(|f| (std::cmp::Reverse(f.finding.severity), f.finding.id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "severity desc, then id");

    let open_a = all_pages(
        &s,
        FindingQuery {
            status: Some(FindingStatus::Open),
            rule: Some(RULE.into()),
            account: Some("111111111111".into()),
            region: Some("eu-west-1".into()),
            limit: 4,
            ..Default::default()
        },
    );
    assert_eq!(open_a.len(), 43);
    let resolved = all_pages(
        &s,
        FindingQuery {
            status: Some(FindingStatus::Resolved),
            limit: 3,
            ..Default::default()
        },
    );
    assert_eq!(resolved.len(), 10);
    let critical = all_pages(
        &s,
        FindingQuery {
            severity: Some(Severity::Critical),
            limit: 2,
            ..Default::default()
        },
    );
    // n % 5 == 4: 10 in a (0..53), 4 in b (0..20), 1 in rule-b (0..7).
    assert_eq!(critical.len(), 15);
    assert!(critical
        .iter()
        .all(|f| f.finding.severity == Severity::Critical));
}

#[test]
fn page_size_defaults_and_caps() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &a, t(0), &(0..1100).collect::<Vec<_>>()))
        .unwrap();
    let page = s.findings(&FindingQuery::default()).unwrap();
    assert_eq!(page.findings.len(), 100);
    let page = s
        .findings(&FindingQuery {
            limit: 5000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.findings.len(), 1000);
    assert!(page.next_cursor.is_some());
}

#[test]
fn invalid_cursors_are_rejected() {
    let s = store();
    for bad in ["zz", "abc", "", "00", "393a", "353a6162"] {
        // "393a" is "9:" (bad rank, no id); "353a6162" is "5:ab" (rank 5).
        let err = s
            .findings(&FindingQuery {
                cursor: Some(bad.to_owned()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidCursor), "{bad}: {err}");
    }
}

#[test]
fn prune_deletes_old_resolved_findings_and_old_evaluations_only() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    s.record_evaluation(&ok(RULE, &a, t(0), &[1, 2, 3]))
        .unwrap();
    s.record_evaluation(&ok(RULE, &a, t(100), &[2, 3])).unwrap(); // 1 resolved at 100
    s.record_evaluation(&ok(RULE, &a, t(200), &[3])).unwrap(); // 2 resolved at 200
    let (findings, evaluations) = s.prune(t(150), t(150)).unwrap();
    assert_eq!((findings, evaluations), (1, 2));
    assert!(s.finding(&finding(RULE, &a, 1).id).unwrap().is_none());
    assert!(s.finding(&finding(RULE, &a, 2).id).unwrap().is_some());
    assert!(s.finding(&finding(RULE, &a, 3).id).unwrap().is_some());
    assert_eq!(s.evaluations(None, 10).unwrap().len(), 1);
    // Open findings are never pruned, however old.
    let (findings, _) = s.prune(t(10_000), t(0)).unwrap();
    assert_eq!(findings, 1);
    assert_eq!(s.open_findings(RULE, &a).unwrap().len(), 1);
    // The store keeps working after pruning: the kept finding resolves.
    assert_eq!(
        s.record_evaluation(&ok(RULE, &a, t(300), &[]))
            .unwrap()
            .resolved,
        1
    );
}

#[test]
fn check_writable_succeeds_and_leaves_no_trace() {
    let s = store();
    s.check_writable().unwrap();
    assert!(s.evaluations(None, 10).unwrap().is_empty());
}

#[test]
fn reopening_a_file_keeps_everything_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/blindspot.db");
    let a = scope("111111111111", "eu-west-1");
    {
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA);
        s.record_evaluation(&ok(RULE, &a, t(0), &[1, 2])).unwrap();
    }
    for _ in 0..2 {
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA);
        assert_eq!(s.open_findings(RULE, &a).unwrap().len(), 2);
        assert_eq!(s.integrity_check().unwrap(), vec!["ok".to_owned()]);
    }
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blindspot.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                known: SCHEMA
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn default_path_follows_systemd_state_directory() {
    assert_eq!(default_db_path_from(None), PathBuf::from("blindspot.db"));
    assert_eq!(
        default_db_path_from(Some(OsStr::new("/var/lib/blindspot"))),
        PathBuf::from("/var/lib/blindspot/blindspot.db")
    );
    assert_eq!(
        default_db_path_from(Some(OsStr::new("/var/lib/a:/var/lib/b"))),
        PathBuf::from("/var/lib/a/blindspot.db")
    );
    assert_eq!(
        default_db_path_from(Some(OsStr::new(""))),
        PathBuf::from("blindspot.db")
    );
}

#[test]
fn history_records_every_transition_with_its_evaluation() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let id = finding(RULE, &sc, 1).id;
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1])).unwrap();
    s.record_evaluation(&ok(RULE, &sc, t(10), &[1])).unwrap();
    s.record_evaluation(&ok(RULE, &sc, t(20), &[])).unwrap();
    s.record_evaluation(&evaluation(
        RULE,
        &sc,
        EvaluationStatus::Error,
        t(25),
        vec![],
    ))
    .unwrap();
    s.record_evaluation(&ok(RULE, &sc, t(30), &[1])).unwrap();
    let history = s.finding_history(&id).unwrap();
    let kinds: Vec<_> = history.iter().map(|e| (e.kind, e.at)).collect();
    assert_eq!(
        kinds,
        [
            (FindingEventKind::Opened, t(0)),
            (FindingEventKind::Resolved, t(20)),
            (FindingEventKind::Reopened, t(30)),
        ]
    );
    let evals = s.evaluations(None, 10).unwrap();
    // Newest first: the reopen came from the last evaluation.
    assert_eq!(history[2].evaluation_id, Some(evals[0].id));
    // Pruning the evaluations keeps the history, without the link.
    s.prune(t(0), t(1000)).unwrap();
    let history = s.finding_history(&id).unwrap();
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|e| e.evaluation_id.is_none()));
    assert!(s.finding_history("unknown").unwrap().is_empty());
}

#[test]
fn non_finite_measurements_are_dropped_not_stored_unreadably() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let mut e = ok(RULE, &sc, t(0), &[]);
    e.measurements = vec![
        Measurement::new("good", &[], 2.0),
        Measurement::new("nan", &[], f64::NAN),
        Measurement::new("inf", &[], f64::INFINITY),
    ];
    s.record_evaluation(&e).unwrap();
    let rec = &s.evaluations(None, 10).unwrap()[0];
    assert_eq!(rec.measurements, vec![Measurement::new("good", &[], 2.0)]);
}

#[test]
fn open_findings_can_be_narrowed_to_codes_in_the_query() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let mut findings: Vec<_> = (0..5).map(|n| finding(RULE, &sc, n)).collect();
    for (f, code) in findings.iter_mut().zip(["A", "B", "A", "C", "B"]) {
        *f =
            blindspot_core::Finding::new(RULE, code, f.severity, &sc, &f.resource, f.title.clone());
    }
    s.record_evaluation(&evaluation(
        RULE,
        &sc,
        EvaluationStatus::Ok,
        t(10),
        findings,
    ))
    .unwrap();
    let codes = |wanted: &[&str]| -> Vec<String> {
        let mut got: Vec<String> = s
            .open_findings_with_codes(RULE, &sc, wanted)
            .unwrap()
            .into_iter()
            .map(|f| f.code)
            .collect();
        got.sort();
        got
    };
    assert_eq!(codes(&["A"]), ["A", "A"]);
    assert_eq!(codes(&["B", "C"]), ["B", "B", "C"]);
    assert_eq!(codes(&["Z"]), Vec::<String>::new());
    assert_eq!(codes(&[]).len(), 5, "no codes means every code");
    // Codes are data, never SQL.
    assert!(codes(&["A') OR 1=1 --"]).is_empty());
}
