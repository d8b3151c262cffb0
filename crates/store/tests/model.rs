//! Random sequences of evaluations against a model of the lifecycle.
//!
//! The invariant, per (rule, account, region): the open findings are exactly
//! the findings of the last `ok` evaluation together with every finding seen by
//! a non-`ok` evaluation after it (or, before any `ok` evaluation, every finding
//! ever seen). Every finding ever seen is stored exactly once; the rest are
//! resolved. An operational model alongside checks first_seen, last_seen,
//! resolved_at, reopen_count and each evaluation's reported change, and each
//! scope's health is checked against the history it summarises.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::{EvaluationStatus, Scope};
use blindspot_store::{FindingQuery, FindingStatus, LifecycleChange, SqliteStore, Store};
use chrono::{DateTime, Utc};
use common::{all_pages, evaluation, finding, scope, t};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const RULES: [&str; 2] = ["rule-a", "rule-b"];

fn scopes() -> [Scope; 2] {
    [
        scope("111111111111", "eu-west-1"),
        scope("222222222222", "eu-west-1"),
    ]
}

#[derive(Debug, Clone)]
struct Op {
    rule: usize,
    scope: usize,
    status: EvaluationStatus,
    findings: BTreeSet<u32>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..RULES.len(),
        0..2usize,
        prop_oneof![
            3 => Just(EvaluationStatus::Ok),
            1 => Just(EvaluationStatus::Error),
            1 => Just(EvaluationStatus::Unavailable),
        ],
        proptest::collection::btree_set(0u32..6, 0..5),
    )
        .prop_map(|(rule, scope, status, findings)| Op {
            rule,
            scope,
            status,
            findings,
        })
}

#[derive(Debug, Clone, PartialEq)]
struct ModelFinding {
    open: bool,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    reopen_count: u32,
}

/// The operational model: the lifecycle rules applied to plain maps.
#[derive(Default)]
struct Model {
    findings: BTreeMap<String, (usize, usize, ModelFinding)>,
}

impl Model {
    fn apply(&mut self, op: &Op, at: DateTime<Utc>) -> LifecycleChange {
        let sc = &scopes()[op.scope];
        let mut change = LifecycleChange::default();
        let seen: BTreeSet<String> = op
            .findings
            .iter()
            .map(|n| finding(RULES[op.rule], sc, *n).id)
            .collect();
        for id in &seen {
            match self.findings.get_mut(id) {
                None => {
                    change.opened += 1;
                    let f = ModelFinding {
                        open: true,
                        first_seen: at,
                        last_seen: at,
                        resolved_at: None,
                        reopen_count: 0,
                    };
                    self.findings.insert(id.clone(), (op.rule, op.scope, f));
                }
                Some((_, _, f)) => {
                    if f.open {
                        change.updated += 1;
                    } else {
                        change.reopened += 1;
                        f.reopen_count += 1;
                    }
                    f.open = true;
                    f.resolved_at = None;
                    f.last_seen = at;
                }
            }
        }
        if op.status == EvaluationStatus::Ok {
            for (id, (rule, scope, f)) in self.findings.iter_mut() {
                if *rule == op.rule && *scope == op.scope && f.open && !seen.contains(id) {
                    f.open = false;
                    f.resolved_at = Some(at);
                    change.resolved += 1;
                }
            }
        }
        change
    }
}

/// The declarative invariant, computed from the history alone.
fn expected_open(history: &[Op], rule: usize, sc: usize) -> BTreeSet<String> {
    let mine: Vec<&Op> = history
        .iter()
        .filter(|o| o.rule == rule && o.scope == sc)
        .collect();
    let from = mine
        .iter()
        .rposition(|o| o.status == EvaluationStatus::Ok)
        .unwrap_or(0);
    mine[from.min(mine.len())..]
        .iter()
        .flat_map(|o| o.findings.iter())
        .map(|n| finding(RULES[rule], &scopes()[sc], *n).id)
        .collect()
}

/// A scope's expected health, from the history alone: latest status, last
/// success, errors since it, and the start of the trailing run of
/// `unavailable` evaluations.
type Health = (
    EvaluationStatus,
    Option<DateTime<Utc>>,
    u64,
    Option<DateTime<Utc>>,
);

fn expected_health(history: &[Op], rule: usize, sc: usize) -> Option<Health> {
    let mine: Vec<(DateTime<Utc>, EvaluationStatus)> = history
        .iter()
        .enumerate()
        .filter(|(_, o)| o.rule == rule && o.scope == sc)
        .map(|(i, o)| (t(i as i64 * 10), o.status))
        .collect();
    let (_, status) = *mine.last()?;
    let last_ok = mine.iter().rposition(|(_, s)| *s == EvaluationStatus::Ok);
    let since_ok = &mine[last_ok.map_or(0, |i| i + 1)..];
    let failures = since_ok
        .iter()
        .filter(|(_, s)| *s == EvaluationStatus::Error)
        .count() as u64;
    let run_start = mine
        .iter()
        .rposition(|(_, s)| *s != EvaluationStatus::Unavailable)
        .map_or(0, |i| i + 1);
    let unavailable_since = mine.get(run_start).map(|(at, _)| *at);
    Some((
        status,
        last_ok.map(|i| mine[i].0),
        failures,
        unavailable_since,
    ))
}

/// Every stored finding, read three to a page.
fn stored_all(store: &SqliteStore) -> Vec<blindspot_store::StoredFinding> {
    all_pages(
        store,
        FindingQuery {
            limit: 3,
            ..Default::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn lifecycle_matches_the_model(ops in proptest::collection::vec(op(), 1..25)) {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut model = Model::default();
        for (i, o) in ops.iter().enumerate() {
            let at = t(i as i64 * 10);
            let sc = &scopes()[o.scope];
            let rule = RULES[o.rule];
            let findings = o.findings.iter().map(|n| finding(rule, sc, *n)).collect();
            let change = store
                .record_evaluation(&evaluation(rule, sc, o.status, at, findings))
                .unwrap();
            prop_assert_eq!(change, model.apply(o, at), "op {}: {:?}", i, o);

            let history = &ops[..=i];
            let stored = stored_all(&store);
            let stored_ids: BTreeSet<_> = stored.iter().map(|f| f.finding.id.clone()).collect();
            prop_assert_eq!(stored_ids.len(), stored.len(), "no duplicates");
            prop_assert_eq!(&stored_ids, &model.findings.keys().cloned().collect());
            for f in &stored {
                let (_, _, m) = &model.findings[&f.finding.id];
                let actual = ModelFinding {
                    open: f.status == FindingStatus::Open,
                    first_seen: f.first_seen,
                    last_seen: f.last_seen,
                    resolved_at: f.resolved_at,
                    reopen_count: f.reopen_count,
                };
                prop_assert_eq!(&actual, m);
            }
            for (r, rule_id) in RULES.iter().enumerate() {
                for s in 0..2 {
                    let open: BTreeSet<String> = store
                        .open_findings(rule_id, &scopes()[s])
                        .unwrap()
                        .into_iter()
                        .map(|f| f.id)
                        .collect();
                    prop_assert_eq!(open, expected_open(history, r, s));
                }
            }
            let health = store.scope_health().unwrap();
            let mut want_health = 0;
            for (r, rule_id) in RULES.iter().enumerate() {
                for (sc, scope) in scopes().iter().enumerate() {
                    let Some(want) = expected_health(history, r, sc) else { continue };
                    want_health += 1;
                    let h = health
                        .iter()
                        .find(|h| h.rule == *rule_id && h.scope == *scope)
                        .unwrap();
                    let got = (h.status, h.last_success_at, h.consecutive_failures, h.unavailable_since);
                    prop_assert_eq!(got, want, "health of {} in {}", rule_id, scope);
                }
            }
            prop_assert_eq!(health.len(), want_health);
            let open_total: u64 = store.open_counts().unwrap().iter().map(|c| c.3).sum();
            let model_open = model.findings.values().filter(|(_, _, f)| f.open).count() as u64;
            prop_assert_eq!(open_total, model_open);
        }
        prop_assert_eq!(store.evaluations(None, 1000).unwrap().len(), ops.len());
    }
}
