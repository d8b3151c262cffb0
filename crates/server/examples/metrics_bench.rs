//! Measures what on-call waits for when the store is large: `/metrics` and
//! the dashboard's first findings page (`/api/v1/findings?status=open&limit=500`)
//! over a SQLite store holding 100k open findings, with 4 concurrent clients,
//! first idle and then while a writer re-records every scope in a loop.
//!
//! `cargo run --release -p blindspot-server --example metrics_bench [findings] [seconds-per-phase]`
//!
//! Requests go through the router with `oneshot` (no socket), so the figures
//! are the handlers' and the store's, not the network's.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::Request;
use blindspot_core::{
    CallCounter, Evaluation, EvaluationStatus, Finding, RuleMeta, Scope, Severity,
};
use blindspot_engine::{Control, EngineError, RuleSchedule, RuleState};
use blindspot_server::{AccountNames, AppState, EvaluationCounter};
use blindspot_store::{SqliteStore, Store};
use chrono::{TimeDelta, Utc};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const RULE: &str = "bench-rule";
const SCOPES: u32 = 10;
const CLIENTS: usize = 4;

struct OneRule;

impl Control for OneRule {
    fn rules(&self) -> Vec<RuleState> {
        vec![RuleState {
            meta: RuleMeta {
                id: RULE,
                aliases: &[],
                severity: Severity::High,
                summary: "a benchmark rule",
                reads: &[],
                measurements: &[],
                reach: blindspot_core::Reach::Account,
            },
            schedule: RuleSchedule {
                interval: Duration::from_secs(900),
                timeout: Duration::from_secs(120),
            },
            running: false,
            last_started: None,
            last_finished: None,
            next_run: None,
        }]
    }

    fn run_now(&self, rule_id: &str) -> Result<(), EngineError> {
        Err(EngineError::UnknownRule(rule_id.to_owned()))
    }
}

fn scope(i: u32) -> Scope {
    Scope::new("111111111111", format!("region-{i}"))
}

/// Scope `i`'s evaluation in round `round`: every finding, with one in ten
/// reworded each round so the writer has real updates to make.
fn evaluation(i: u32, per_scope: u32, round: u32) -> Evaluation {
    let sc = scope(i);
    let now = Utc::now() + TimeDelta::milliseconds(i64::from(round));
    let findings = (0..per_scope)
        .map(|n| {
            let text = if n % 10 == round % 10 {
                format!("changed in round {round}")
            } else {
                "stable".to_owned()
            };
            Finding::new(
                RULE,
                "CODE",
                Severity::ALL[(n % 5) as usize],
                &sc,
                &format!("i-{n:08}"),
                "a benchmark finding",
            )
            .description(text)
            .detail("n", n)
        })
        .collect();
    Evaluation {
        rule: RULE.into(),
        scope: sc,
        status: EvaluationStatus::Ok,
        error: None,
        started_at: now,
        finished_at: now,
        findings,
        measurements: Vec::new(),
        counts: Default::default(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `CLIENTS` tasks request `uri` back to back for `secs`; returns the sorted
/// latencies in milliseconds.
async fn hammer(app: axum::Router, uri: &'static str, secs: f64) -> Vec<f64> {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                let response = app
                    .clone()
                    .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                assert!(status.is_success(), "{uri}: {status}");
                assert!(!body.is_empty());
                out.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            out
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_by(f64::total_cmp);
    all
}

fn report(phase: &str, uri: &str, ms: &[f64]) {
    println!(
        "{phase:<6} {uri:<44} n={:<5} p50={:>8.1} ms  p99={:>8.1} ms  max={:>8.1} ms",
        ms.len(),
        percentile(ms, 50.0),
        percentile(ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let secs: f64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5.0);
    let per_scope = total / SCOPES;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).unwrap());

    let t = Instant::now();
    for i in 0..SCOPES {
        store
            .record_evaluation(&evaluation(i, per_scope, 0))
            .unwrap();
    }
    println!(
        "filled {} open findings in {SCOPES} scopes in {:.1} s",
        per_scope * SCOPES,
        t.elapsed().as_secs_f64()
    );

    let state = AppState {
        store: store.clone(),
        control: Arc::new(OneRule),
        calls: CallCounter::default(),
        evaluations: EvaluationCounter::default(),
        api_token: None,
        accounts: AccountNames::new(),
        version: "bench",
        commit: "bench",
        build_date: "bench",
    };
    let app = blindspot_server::app(state);
    const METRICS: &str = "/metrics";
    const PAGE: &str = "/api/v1/findings?status=open&limit=500";

    for uri in [METRICS, PAGE] {
        report("idle", uri, &hammer(app.clone(), uri, secs).await);
    }

    // The write sweep: one scope after another, as the scheduler would.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (store, stop, writes) = (store.clone(), stop.clone(), writes.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            let mut round = 1;
            while !stop.load(Ordering::SeqCst) {
                for i in 0..SCOPES {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let e = evaluation(i, per_scope, round);
                    let t = Instant::now();
                    store.record_evaluation(&e).unwrap();
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    writes.fetch_add(1, Ordering::SeqCst);
                }
                round += 1;
            }
            latencies
        })
    };
    for uri in [METRICS, PAGE] {
        report("write", uri, &hammer(app.clone(), uri, secs).await);
    }
    stop.store(true, Ordering::SeqCst);
    let mut write_ms = writer.join().unwrap();
    write_ms.sort_by(f64::total_cmp);
    println!(
        "writer: {} evaluations of {per_scope} findings, p50={:.1} ms p99={:.1} ms",
        writes.load(Ordering::SeqCst),
        percentile(&write_ms, 50.0),
        percentile(&write_ms, 99.0)
    );
}
