//! Withdrawal: findings that end without being fixed, because nothing can see
//! them any more; and how they reopen, list, count and age out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::EvaluationStatus::{self, Error, Unavailable};
use blindspot_core::Scope;
use blindspot_store::{FindingEventKind, FindingQuery, FindingStatus, SqliteStore, Store};
use common::{evaluation, finding, ok, scope, t};
use std::collections::BTreeSet;
use std::time::Duration;

const RULE: &str = "rule-a";

fn store() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

fn configured(keys: &[(&str, &Scope)]) -> BTreeSet<(String, Scope)> {
    keys.iter()
        .map(|(rule, sc)| ((*rule).to_owned(), (*sc).clone()))
        .collect()
}

fn status_of(s: &SqliteStore, rule: &str, sc: &Scope, n: u32) -> FindingStatus {
    s.finding(&finding(rule, sc, n).id).unwrap().unwrap().status
}

fn record(s: &SqliteStore, sc: &Scope, status: EvaluationStatus, at: i64) {
    s.record_evaluation(&evaluation(RULE, sc, status, t(at), vec![]))
        .unwrap();
}

#[test]
fn unconfigured_scopes_are_withdrawn_with_a_reason_and_forgotten() {
    let s = store();
    let kept = scope("111111111111", "eu-west-1");
    let gone_region = scope("111111111111", "ap-south-1");
    s.record_evaluation(&ok(RULE, &kept, t(0), &[1, 2]))
        .unwrap();
    s.record_evaluation(&ok(RULE, &gone_region, t(0), &[1, 2, 3]))
        .unwrap();
    // A disabled rule in a configured scope is unconfigured too.
    s.record_evaluation(&ok("rule-off", &kept, t(0), &[1]))
        .unwrap();
    // Resolved findings of an unconfigured scope stay resolved.
    s.record_evaluation(&ok(RULE, &gone_region, t(10), &[1, 2]))
        .unwrap();

    let reason = "no longer configured";
    let n = s
        .withdraw_unconfigured(&configured(&[(RULE, &kept)]), reason, t(100))
        .unwrap();
    assert_eq!(n, 3, "two open in ap-south-1, one of rule-off");
    assert_eq!(status_of(&s, RULE, &kept, 1), FindingStatus::Open);
    assert_eq!(
        status_of(&s, RULE, &gone_region, 3),
        FindingStatus::Resolved
    );
    let f = s
        .finding(&finding(RULE, &gone_region, 1).id)
        .unwrap()
        .unwrap();
    assert_eq!(f.status, FindingStatus::Withdrawn);
    assert_eq!(f.withdrawn_at, Some(t(100)));
    assert_eq!(f.withdrawn_reason.as_deref(), Some(reason));
    assert_eq!(f.resolved_at, None);
    assert_eq!(
        status_of(&s, "rule-off", &kept, 1),
        FindingStatus::Withdrawn
    );

    let history = s.finding_history(&f.finding.id).unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.kind, FindingEventKind::Withdrawn);
    assert_eq!(last.at, t(100));
    assert_eq!(last.reason.as_deref(), Some(reason));
    assert_eq!(last.evaluation_id, None);
    assert!(history[..history.len() - 1]
        .iter()
        .all(|e| e.reason.is_none()));

    // The health of unconfigured scopes is forgotten, so /metrics stops
    // reporting scopes nothing evaluates any more.
    let health: Vec<(String, Scope)> = s
        .scope_health()
        .unwrap()
        .into_iter()
        .map(|h| (h.rule, h.scope))
        .collect();
    assert_eq!(health, vec![(RULE.to_owned(), kept.clone())]);
    assert_eq!(s.latest_evaluations().unwrap().len(), 1);

    // Withdrawn findings are not open: not counted, not read by peers.
    let counts: u64 = s.open_counts().unwrap().iter().map(|c| c.3).sum();
    assert_eq!(counts, 2);
    assert!(s.open_findings(RULE, &gone_region).unwrap().is_empty());
    // Idempotent.
    assert_eq!(
        s.withdraw_unconfigured(&configured(&[(RULE, &kept)]), reason, t(200))
            .unwrap(),
        0
    );
}

#[test]
fn a_withdrawn_finding_seen_again_reopens() {
    let s = store();
    let sc = scope("111111111111", "eu-west-1");
    let id = finding(RULE, &sc, 1).id;
    s.record_evaluation(&ok(RULE, &sc, t(0), &[1, 2])).unwrap();
    s.withdraw_unconfigured(&BTreeSet::new(), "removed", t(10))
        .unwrap();
    // Silence does not touch it, whatever the status.
    for status in [Error, Unavailable] {
        record(&s, &sc, status, 20);
    }
    s.record_evaluation(&ok(RULE, &sc, t(25), &[])).unwrap();
    assert_eq!(status_of(&s, RULE, &sc, 1), FindingStatus::Withdrawn);

    let change = s.record_evaluation(&ok(RULE, &sc, t(30), &[1])).unwrap();
    assert_eq!((change.reopened, change.opened), (1, 0));
    let f = s.finding(&id).unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Open);
    assert_eq!((f.withdrawn_at, f.withdrawn_reason), (None, None));
    assert_eq!((f.first_seen, f.last_seen), (t(0), t(30)));
    assert_eq!(f.reopen_count, 1);
    let kinds: Vec<_> = s
        .finding_history(&id)
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.at))
        .collect();
    assert_eq!(
        kinds,
        [
            (FindingEventKind::Opened, t(0)),
            (FindingEventKind::Withdrawn, t(10)),
            (FindingEventKind::Reopened, t(30)),
        ]
    );
    // The one not seen stays withdrawn; it can still resolve nothing.
    assert_eq!(status_of(&s, RULE, &sc, 2), FindingStatus::Withdrawn);
}

#[test]
fn scopes_unavailable_for_long_enough_are_withdrawn_and_errors_never() {
    let s = store();
    let retired = scope("111111111111", "eu-west-1");
    let flapping = scope("111111111111", "us-east-1");
    let failing = scope("111111111111", "ap-south-1");
    for sc in [&retired, &flapping, &failing] {
        s.record_evaluation(&ok(RULE, sc, t(0), &[1, 2])).unwrap();
    }
    for at in [100, 200, 300, 400] {
        record(&s, &retired, Unavailable, at);
        record(&s, &failing, Error, at);
    }
    // An error breaks a run of unavailable evaluations.
    record(&s, &flapping, Unavailable, 100);
    record(&s, &flapping, Error, 200);
    record(&s, &flapping, Unavailable, 300);
    record(&s, &flapping, Unavailable, 400);

    let limit = Duration::from_secs(250);
    // At 340, eu-west-1 has been unavailable since 100: 240 s, not longer.
    assert_eq!(s.withdraw_unavailable(limit, t(340)).unwrap(), 0);
    // At 400 it is 300 s; us-east-1's run began at 300.
    assert_eq!(s.withdraw_unavailable(limit, t(400)).unwrap(), 2);
    let f = s.finding(&finding(RULE, &retired, 1).id).unwrap().unwrap();
    assert_eq!(f.status, FindingStatus::Withdrawn);
    assert_eq!(f.withdrawn_at, Some(t(400)));
    let reason = f.withdrawn_reason.unwrap();
    assert!(reason.contains("unavailable"), "{reason}");
    assert!(
        reason.contains(&t(100).format("%Y-%m-%d").to_string()),
        "{reason}"
    );
    for sc in [&flapping, &failing] {
        assert_eq!(status_of(&s, RULE, sc, 1), FindingStatus::Open, "{sc}");
    }
    // Later: us-east-1 qualifies too; the failing scope never does.
    assert_eq!(s.withdraw_unavailable(limit, t(10_000)).unwrap(), 2);
    assert_eq!(status_of(&s, RULE, &failing, 1), FindingStatus::Open);
    // Withdrawal keeps the scope's health: it is still configured.
    assert_eq!(s.scope_health().unwrap().len(), 3);
    // Once the service answers again, what it reports reopens.
    s.record_evaluation(&ok(RULE, &retired, t(10_100), &[2]))
        .unwrap();
    assert_eq!(status_of(&s, RULE, &retired, 2), FindingStatus::Open);
    assert_eq!(status_of(&s, RULE, &retired, 1), FindingStatus::Withdrawn);
    assert_eq!(s.withdraw_unavailable(limit, t(20_000)).unwrap(), 0);
}

#[test]
fn withdrawn_findings_are_listed_by_status_and_age_out_like_resolved_ones() {
    let s = store();
    let a = scope("111111111111", "eu-west-1");
    let b = scope("222222222222", "eu-west-1");
    s.record_evaluation(&ok(RULE, &a, t(0), &[1, 2, 3]))
        .unwrap();
    s.record_evaluation(&ok(RULE, &b, t(0), &[1])).unwrap();
    s.record_evaluation(&ok(RULE, &a, t(50), &[1, 2])).unwrap(); // 3 resolved at 50
    s.withdraw_unconfigured(&configured(&[(RULE, &b)]), "gone", t(100))
        .unwrap();
    let listed = |status| {
        s.findings(&FindingQuery {
            status: Some(status),
            ..Default::default()
        })
        .unwrap()
        .findings
        .len()
    };
    assert_eq!(listed(FindingStatus::Withdrawn), 2);
    assert_eq!(listed(FindingStatus::Resolved), 1);
    assert_eq!(listed(FindingStatus::Open), 1);
    // Closed findings, resolved or withdrawn, age out with the same retention.
    assert_eq!(s.prune(t(75), t(0)).unwrap().0, 1);
    assert_eq!(s.prune(t(150), t(0)).unwrap().0, 2);
    assert_eq!(listed(FindingStatus::Withdrawn), 0);
    assert!(s
        .finding_history(&finding(RULE, &a, 1).id)
        .unwrap()
        .is_empty());
    assert_eq!(listed(FindingStatus::Open), 1);
}
