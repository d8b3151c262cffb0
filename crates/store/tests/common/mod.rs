//! Builders shared by the store's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Scope, Severity};
use blindspot_store::{FindingQuery, SqliteStore, Store, StoredFinding};
use chrono::{DateTime, TimeZone, Utc};

/// A fixed point in time plus `secs`.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

pub fn scope(account: &str, region: &str) -> Scope {
    Scope::new(account, region)
}

/// Finding `n` of `rule` in `scope`, with a severity derived from `n`.
pub fn finding(rule: &str, scope: &Scope, n: u32) -> Finding {
    let severity = Severity::ALL[(n as usize) % Severity::ALL.len()];
    Finding::new(
        rule,
        "CODE",
        severity,
        scope,
        &format!("i-{n:04}"),
        format!("title {n}"),
    )
    .description("d")
    .recommendation("r")
    .detail("n", n)
}

pub fn evaluation(
    rule: &str,
    scope: &Scope,
    status: EvaluationStatus,
    at: DateTime<Utc>,
    findings: Vec<Finding>,
) -> Evaluation {
    Evaluation {
        rule: rule.to_owned(),
        scope: scope.clone(),
        status,
        error: (status != EvaluationStatus::Ok).then(|| "boom".to_owned()),
        started_at: at,
        finished_at: at,
        findings,
        measurements: Vec::new(),
        counts: Default::default(),
    }
}

pub fn ok(rule: &str, scope: &Scope, at: DateTime<Utc>, ns: &[u32]) -> Evaluation {
    let findings = ns.iter().map(|n| finding(rule, scope, *n)).collect();
    evaluation(rule, scope, EvaluationStatus::Ok, at, findings)
}

/// Every finding `query` matches, following its cursor page by page.
pub fn all_pages(store: &SqliteStore, mut query: FindingQuery) -> Vec<StoredFinding> {
    let mut out = Vec::new();
    loop {
        let page = store.findings(&query).unwrap();
        out.extend(page.findings);
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
}
