//! The cardinality budget at organisation scale: a SQLite store seeded with
//! the latest evaluations of 300 accounts × 17 regions (the three per-account
//! rules everywhere, the organisation rule in the home account's regions),
//! with findings at several severities and the measurements the rules
//! report, then `/metrics` scraped as Prometheus would. It prints the series
//! count against the 50k budget, the body size and the scrape time, and the
//! size and time of the JSON the dashboard loads (`/api/v1/rules`,
//! `/api/v1/accounts`).
//!
//! `cargo run --release -p blindspot-server --example org_metrics_bench [accounts] [regions] [scrapes] [serve-seconds]`
//!
//! With `serve-seconds`, it then serves the seeded store on a free loopback
//! port for that long, to look at the dashboard at that scale.
//!
//! The shape is `tests/server/org.rs`, the one the series-count test checks
//! against the formula at a small size. Requests go through the router with
//! `oneshot` (no socket).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/server/org.rs"]
mod org;

use axum::body::Body;
use axum::http::Request;
use blindspot_core::CallCounter;
use blindspot_server::{AppState, EvaluationCounter};
use blindspot_store::SqliteStore;
use org::Shape;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

const BUDGET: usize = 50_000;

/// One request: (body, milliseconds).
async fn fetch(app: &axum::Router, uri: &str, accept: &str) -> (Vec<u8>, f64) {
    let t = Instant::now();
    let response = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("accept", accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{uri}: {}",
        response.status()
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (body, t.elapsed().as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let arg = |n: usize, default: usize| {
        std::env::args()
            .nth(n)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let shape = Shape {
        accounts: arg(1, Shape::ORGANISATION.accounts),
        regions: arg(2, Shape::ORGANISATION.regions),
    };
    let scrapes = arg(3, 10).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).unwrap());

    let t = Instant::now();
    let evaluations = org::seed(store.as_ref(), shape).unwrap();
    println!(
        "seeded {} accounts × {} regions: {} scopes, {evaluations} evaluations in {:.1} s",
        shape.accounts,
        shape.regions,
        shape.scopes(),
        t.elapsed().as_secs_f64()
    );

    let state = AppState {
        store,
        control: Arc::new(org::OrgControl),
        calls: CallCounter::default(),
        evaluations: EvaluationCounter::default(),
        api_token: None,
        accounts: org::account_names(shape),
        version: "bench",
        commit: "bench",
        build_date: "bench",
    };
    let app = blindspot_server::app(state.clone());

    let openmetrics = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let mut ms = Vec::new();
    let mut body = Vec::new();
    for _ in 0..scrapes {
        let (b, elapsed) = fetch(&app, "/metrics", openmetrics).await;
        ms.push(elapsed);
        body = b;
    }
    ms.sort_by(f64::total_cmp);
    let text = String::from_utf8(body).unwrap();
    let series = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    let expected = shape.expected_series();
    println!(
        "series={series} ({:.0}% of {BUDGET}; formula {expected}) body={:.2} MB scrape p50={:.0} ms max={:.0} ms (n={scrapes})",
        100.0 * series as f64 / BUDGET as f64,
        mb(text.len()),
        percentile(&ms, 50.0),
        ms[ms.len() - 1],
    );
    let store_read = text
        .lines()
        .find_map(|l| l.strip_prefix("blindspot_scrape_duration_seconds "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    println!(
        "  of the last scrape, reading the store took {:.0} ms",
        store_read * 1000.0
    );
    let mut families: Vec<(String, usize)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or("").to_owned();
        match families.last_mut() {
            Some((last, n)) if *last == name => *n += 1,
            _ => families.push((name, 1)),
        }
    }
    families.sort_by_key(|f| std::cmp::Reverse(f.1));
    for (name, n) in &families {
        println!("  {n:>6}  {name}");
    }
    assert_eq!(series, expected, "the exposition left the formula");

    for uri in [
        "/api/v1/rules",
        "/api/v1/rules?evaluations=problems",
        "/api/v1/accounts",
    ] {
        let (body, elapsed) = fetch(&app, uri, "application/json").await;
        println!("{uri:<36} body={:.2} MB in {elapsed:.0} ms", mb(body.len()));
    }

    let serve_for = arg(4, 0);
    if serve_for > 0 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = blindspot_server::ServerConfig {
            listen: addr,
            ..Default::default()
        };
        println!("serving http://{addr}/ for {serve_for} s");
        let stop = tokio::time::sleep(std::time::Duration::from_secs(serve_for as u64));
        blindspot_server::serve(listener, state, &config, stop)
            .await
            .unwrap();
    }
}
