//! `blindspot check` under throttling, end to end: the real binary and SDK
//! against the simulated AWS serving the demo world. A one-shot check must
//! find the same as an unthrottled one, or on-call cannot trust exit 0 or 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use blindspot_sim::faults::RateLimit;
use blindspot_sim::{Faults, Scenario, SimHandle, SimServer};
use common::{command, config_file, run};
use serde_json::Value;

const REGIONS: &str = "regions = [\"us-east-1\", \"eu-west-1\", \"ap-southeast-2\"]";

/// What a check found, without what changes from run to run (times,
/// durations, counts of attempts).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: i32,
    /// (rule, finding ID, code, severity, resource).
    findings: BTreeSet<(String, String, String, String, String)>,
    /// (rule, account, region) → status.
    evaluations: BTreeMap<(String, String, String), String>,
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// Runs `check --format json` with `aws` as the `[aws]` table.
async fn check(sim: &SimHandle, aws: &str) -> (Outcome, Duration, String) {
    let (_dir, path) = config_file(&format!("[aws]\n{REGIONS}\n{aws}\n"));
    let mut cmd = command(&sim.endpoint());
    cmd.args(["check", "--format", "json", "--config"])
        .arg(&path);
    let started = Instant::now();
    let out = run(cmd).await;
    let elapsed = started.elapsed();
    let json = out.json();
    let findings = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                text(f, "rule"),
                text(f, "id"),
                text(f, "code"),
                text(f, "severity"),
                text(f, "resource"),
            )
        })
        .collect();
    let evaluations = json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                (text(e, "rule"), text(e, "account"), text(e, "region")),
                text(e, "status"),
            )
        })
        .collect();
    let outcome = Outcome {
        code: out.code,
        findings,
        evaluations,
    };
    (outcome, elapsed, out.stderr)
}

/// The demo's own faults (Inspector Classic retired in eu-west-1) plus `extra`.
fn demo_faults(extra: Faults) -> Faults {
    Faults {
        classic_retired: Scenario::embedded_demo().faults.classic_retired,
        ..extra
    }
}

fn ratio(throttled: Duration, unthrottled: Duration) -> f64 {
    throttled.as_secs_f64() / unthrottled.as_secs_f64().max(1e-3)
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_under_throttling_find_what_unthrottled_checks_find() {
    let sim = SimServer::start(Scenario::embedded_demo()).await.unwrap();
    // The defaults (attempts, retry mode), with waits short enough for a test.
    let quick = "max_backoff = \"20ms\"";

    let (baseline, unthrottled, stderr) = check(&sim, quick).await;
    assert_eq!(baseline.code, 1, "the demo has findings; stderr:\n{stderr}");
    assert!(baseline.findings.len() > 10, "{baseline:?}");
    assert!(
        baseline.evaluations.values().all(|s| s != "error"),
        "{baseline:?}"
    );

    // 30% of all calls throttled at random, 20 checks in a row.
    sim.set_faults(demo_faults(Faults {
        throttle_probability: 0.3,
        ..Faults::default()
    }));
    let mut slowest = Duration::ZERO;
    let mut total = Duration::ZERO;
    for i in 1..=20 {
        let (outcome, elapsed, stderr) = check(&sim, quick).await;
        assert_eq!(
            outcome, baseline,
            "check {i} of 20 under 30% throttling differs; stderr:\n{stderr}"
        );
        slowest = slowest.max(elapsed);
        total += elapsed;
    }
    let throttled: u64 = sim.calls().iter().map(|c| c.faults).sum();
    println!(
        "30% random throttling: 20/20 checks complete and equal; {throttled} calls throttled; \
         mean {:.2}s, slowest {:.2}s, unthrottled {:.2}s: mean/unthrottled = {:.1}",
        total.as_secs_f64() / 20.0,
        slowest.as_secs_f64(),
        unthrottled.as_secs_f64(),
        ratio(total / 20, unthrottled)
    );

    // A token bucket per (account, region, service, operation), as AWS
    // throttles: two calls at once, then two a second. The default backoff
    // (1 s doubling, at most 5 s) is what waits for the bucket to refill.
    let limited = || {
        let mut faults = Faults::default();
        faults.rate_limit.insert(
            "*".into(),
            RateLimit {
                rate: 2.0,
                burst: 2.0,
            },
        );
        demo_faults(faults)
    };
    for mode in ["standard", "adaptive"] {
        sim.set_faults(limited());
        let before: u64 = sim.calls().iter().map(|c| c.faults).sum();
        let (outcome, elapsed, stderr) = check(&sim, &format!("retry_mode = \"{mode}\"")).await;
        assert_eq!(
            outcome, baseline,
            "the {mode} sweep under a rate limit differs; stderr:\n{stderr}"
        );
        let throttled = sim.calls().iter().map(|c| c.faults).sum::<u64>() - before;
        println!(
            "rate limit 2/s, burst 2, retry_mode {mode}: complete and equal; {throttled} calls \
             throttled; {:.2}s against {:.2}s unthrottled: ratio {:.1}",
            elapsed.as_secs_f64(),
            unthrottled.as_secs_f64(),
            ratio(elapsed, unthrottled)
        );
    }
}
