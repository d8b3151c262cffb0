//! Measures the store on a real file: how long recording an evaluation takes
//! and how long reads take once the tables hold tens of thousands of rows.
//!
//! `cargo run -p blindspot-store --example throughput [findings-per-evaluation]`
#![allow(clippy::print_stdout)]

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Scope, Severity};
use blindspot_store::{FindingQuery, SqliteStore, Store, StoreError};
use chrono::{TimeDelta, Utc};
use std::time::Instant;

fn evaluation(scope: &Scope, round: u32, per_evaluation: u32) -> Evaluation {
    let now = Utc::now() + TimeDelta::seconds(i64::from(round));
    // Every fifth round drops a tenth of the fleet so resolution is exercised.
    let present = |n: u32| round % 5 != 4 || !n.is_multiple_of(10);
    let findings = (0..per_evaluation)
        .filter(|n| present(*n))
        .map(|n| {
            Finding::new(
                "bench",
                "CODE",
                Severity::ALL[(n % 5) as usize],
                scope,
                &format!("i-{n:08}"),
                "a benchmark finding",
            )
            .description("text that changes every round")
            .detail("round", round)
        })
        .collect();
    Evaluation {
        rule: "bench".into(),
        scope: scope.clone(),
        status: EvaluationStatus::Ok,
        error: None,
        started_at: now,
        finished_at: now,
        findings,
        measurements: Vec::new(),
        counts: Default::default(),
    }
}

fn main() -> Result<(), StoreError> {
    let per_evaluation: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = std::env::temp_dir().join(format!("blindspot-throughput-{}", std::process::id()));
    let path = dir.join("bench.db");
    let store = SqliteStore::open(&path)?;
    let scopes: Vec<Scope> = (0..20)
        .map(|i| Scope::new("111111111111", format!("region-{i}")))
        .collect();

    let rounds = 10;
    let started = Instant::now();
    let mut slowest = 0.0f64;
    for round in 0..rounds {
        for scope in &scopes {
            let e = evaluation(scope, round, per_evaluation);
            let t = Instant::now();
            store.record_evaluation(&e)?;
            slowest = slowest.max(t.elapsed().as_secs_f64());
        }
    }
    let total = started.elapsed().as_secs_f64();
    let count = f64::from(rounds) * scopes.len() as f64;
    println!(
        "record_evaluation: {count} evaluations of {per_evaluation} findings in {total:.2} s \
         ({:.1} ms each, slowest {:.1} ms)",
        total / count * 1000.0,
        slowest * 1000.0
    );

    let t = Instant::now();
    let mut query = FindingQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let page = store.findings(&query)?;
        seen += page.findings.len();
        pages += 1;
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    println!(
        "findings: {seen} in {pages} pages of 1000 in {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let groups = store.open_counts()?.len();
    println!(
        "open_counts: {groups} groups in {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let latest = store.latest_evaluations()?.len();
    println!(
        "latest_evaluations: {latest} rows in {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "database file: {:.1} MB (WAL not included)",
        size as f64 / 1e6
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
