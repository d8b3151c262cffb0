//! The one-shot runner: order, peers, timeouts, panics, missing clients and
//! bounded concurrency. Time is paused: timeouts cost no wall-clock time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::{EvaluationStatus, Rule, Scope};
use blindspot_engine::{run_once, RunOptions, Target};
use common::{secs, targets, Fake, Step};
use std::sync::Arc;

fn options(concurrency: usize, timeout: u64) -> RunOptions {
    RunOptions {
        concurrency,
        timeout: secs(timeout),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn rules_run_in_order_and_later_rules_see_earlier_findings() {
    let a = Fake::new("a", |_, _| Step::Report(secs(1), vec![1, 2, 3]));
    let b = Fake::with_peer("b", Some("a"), |_, _| Step::Report(secs(0), vec![]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![a.clone(), b.clone()];
    let ts = targets(&["eu-west-1", "us-east-1"]);
    let out = run_once(&rules, &ts, &options(4, 60)).await;
    let order: Vec<_> = out
        .iter()
        .map(|e| (e.rule.as_str(), e.scope.region.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("a", "eu-west-1"),
            ("a", "us-east-1"),
            ("b", "eu-west-1"),
            ("b", "us-east-1")
        ]
    );
    assert!(out.iter().all(|e| e.status == EvaluationStatus::Ok));
    assert_eq!(out[0].findings.len(), 3);
    // b started after every evaluation of a ended, and saw a's findings.
    let a_end = a.calls().iter().filter_map(|c| c.end).max().unwrap();
    assert!(b.calls().iter().all(|c| c.start >= a_end));
    assert!(b.calls().iter().all(|c| c.peers_seen == 3));
}

#[tokio::test(start_paused = true)]
async fn a_rule_sees_only_the_peers_it_declares_as_in_the_daemon() {
    let a = Fake::new("a", |_, _| Step::Report(secs(0), vec![1, 2, 3]));
    let c = Fake::reading("c", Some("a"), false, |_, _| Step::Report(secs(0), vec![]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![a.clone(), c.clone()];
    let out = run_once(&rules, &targets(&["eu-west-1"]), &options(4, 60)).await;
    assert_eq!(out[0].findings.len(), 3);
    assert_eq!(c.calls()[0].peers_seen, 0);
    // An undeclared read is an error, never an empty list that could resolve.
    assert_eq!(out[1].status, EvaluationStatus::Error);
    let error = out[1].error.as_deref().unwrap_or_default();
    assert!(error.contains("not declared"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_timeout_becomes_an_error_evaluation() {
    let slow = Fake::new("slow", |scope, _| {
        let delay = if scope.region == "eu-west-1" { 120 } else { 1 };
        Step::Report(secs(delay), vec![1])
    });
    let rules: Vec<Arc<dyn Rule<()>>> = vec![slow];
    let started = tokio::time::Instant::now();
    let out = run_once(
        &rules,
        &targets(&["eu-west-1", "us-east-1"]),
        &options(2, 30),
    )
    .await;
    assert_eq!(out[0].status, EvaluationStatus::Error);
    assert_eq!(out[0].error.as_deref(), Some("timed out after 30s"));
    assert!(out[0].findings.is_empty());
    assert_eq!(out[1].status, EvaluationStatus::Ok);
    // The slow evaluation was cancelled at its timeout, not waited for.
    assert_eq!(started.elapsed(), secs(30));
}

#[tokio::test(start_paused = true)]
async fn per_rule_timeouts_override_the_default() {
    let slow = Fake::new("slow", |_, _| Step::Report(secs(45), vec![]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![slow];
    let mut opts = options(1, 30);
    opts.rule_timeouts.insert("slow".into(), secs(60));
    let out = run_once(&rules, &targets(&["eu-west-1"]), &opts).await;
    assert_eq!(out[0].status, EvaluationStatus::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_an_error_and_spares_the_others() {
    let bomb = Fake::new("bomb", |scope, _| {
        if scope.region == "eu-west-1" {
            Step::Panic
        } else {
            Step::Report(secs(1), vec![1])
        }
    });
    let after = Fake::new("after", |_, _| Step::Report(secs(0), vec![2]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![bomb, after];
    let out = run_once(
        &rules,
        &targets(&["eu-west-1", "us-east-1"]),
        &options(2, 30),
    )
    .await;
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].status, EvaluationStatus::Error);
    assert_eq!(
        out[0].error.as_deref(),
        Some("rule panicked: fake rule exploded")
    );
    assert!(out[1..].iter().all(|e| e.status == EvaluationStatus::Ok));
}

#[tokio::test(start_paused = true)]
async fn rule_errors_keep_their_status() {
    let failing = Fake::new("failing", |_, _| Step::Fail(secs(0), "AccessDenied".into()));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![failing];
    let out = run_once(&rules, &targets(&["eu-west-1"]), &options(1, 30)).await;
    assert_eq!(out[0].status, EvaluationStatus::Error);
    assert_eq!(out[0].error.as_deref(), Some("AccessDenied"));
}

#[tokio::test(start_paused = true)]
async fn a_target_without_clients_is_an_error_and_the_rule_is_not_called() {
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![1]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![rule.clone()];
    let ts = vec![Target::<()>::fixed(
        Scope::new("222222222222", "eu-west-1"),
        Err("AssumeRole denied".into()),
    )];
    let out = run_once(&rules, &ts, &options(1, 30)).await;
    assert_eq!(out[0].status, EvaluationStatus::Error);
    let error = out[0].error.as_deref().unwrap();
    assert!(error.contains("AssumeRole denied"), "{error}");
    assert!(rule.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded() {
    let rule = Fake::new("r", |_, _| Step::Report(secs(5), vec![]));
    let rules: Vec<Arc<dyn Rule<()>>> = vec![rule.clone()];
    let regions = ["r1", "r2", "r3", "r4", "r5", "r6"];
    let started = tokio::time::Instant::now();
    let out = run_once(&rules, &targets(&regions), &options(2, 30)).await;
    assert_eq!(out.len(), 6);
    assert_eq!(
        rule.max_running.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    // Six 5 s evaluations two at a time: three rounds.
    assert_eq!(started.elapsed(), secs(15));
}
