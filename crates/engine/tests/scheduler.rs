//! The scheduler on a paused clock: intervals, jitter, Delay behaviour, run
//! now, timeouts, failure isolation, failed peer reads, graceful shutdown and
//! retention.
//!
//! Time only moves when every task is idle (tokio's auto-advance), so
//! `tokio::time::sleep` in these tests costs no wall-clock time and is exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Scope, Severity};
use blindspot_engine::{EngineError, Retention, ScheduledRule, Scheduler, SchedulerOptions};
use blindspot_store::{
    EvaluationRecord, FindingEvent, FindingPage, FindingQuery, LifecycleChange, ScopeHealth,
    SqliteStore, Store, StoreError, StoredFinding,
};
use chrono::{DateTime, Utc};
use common::{quiet_options, scheduled, secs, targets, Fake, Started, Step};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{sleep, Instant};

/// Four evaluations at once, no jitter, retention or hook.
fn options() -> SchedulerOptions {
    quiet_options(4)
}

fn start(rules: Vec<ScheduledRule<()>>, regions: &[&str], options: SchedulerOptions) -> Started {
    Started::start(rules, targets(regions), options)
}

fn start_with(
    rules: Vec<ScheduledRule<()>>,
    regions: &[&str],
    options: SchedulerOptions,
    store: Arc<SqliteStore>,
) -> Started {
    Started::start_with_store(rules, targets(regions), options, store)
}

/// Seconds since `t0`, rounded to the millisecond for readable asserts.
fn at(t0: Instant, t: Instant) -> f64 {
    ((t - t0).as_millis() as f64) / 1000.0
}

#[tokio::test(start_paused = true)]
async fn rules_run_on_their_intervals_and_are_recorded() {
    let t0 = Instant::now();
    let fast = Fake::new("fast", |_, _| Step::Report(secs(0), vec![1]));
    let slow = Fake::new("slow", |_, _| Step::Report(secs(0), vec![]));
    let run = start(
        vec![scheduled(&fast, 60, 10), scheduled(&slow, 100, 10)],
        &["eu-west-1", "us-east-1"],
        options(),
    );
    sleep(secs(185)).await;
    let starts: Vec<f64> = fast
        .calls_in("eu-west-1")
        .iter()
        .map(|c| at(t0, c.start))
        .collect();
    assert_eq!(starts, [0.0, 60.0, 120.0, 180.0]);
    let starts: Vec<f64> = slow
        .calls_in("us-east-1")
        .iter()
        .map(|c| at(t0, c.start))
        .collect();
    assert_eq!(starts, [0.0, 100.0]);
    let store = run.store.clone();
    let report = run.stop().await;
    assert_eq!(report.activations, 6);
    assert_eq!(report.evaluations_recorded, 12);
    assert_eq!(report.store_errors, 0);
    assert_eq!(store.evaluations(None, 100).unwrap().len(), 12);
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_tick_by_at_most_the_bound() {
    let t0 = Instant::now();
    let rule = Fake::new("r", |_, _| Step::Report(secs(1), vec![]));
    let run = start(
        vec![scheduled(&rule, 60, 10)],
        &["eu-west-1"],
        SchedulerOptions {
            jitter: secs(10),
            ..options()
        },
    );
    sleep(secs(60 * 25)).await;
    let calls = rule.calls();
    assert!(calls.len() >= 20, "{} activations", calls.len());
    assert!(at(t0, calls[0].start) <= 10.0);
    let mut jitters = Vec::new();
    for pair in calls.windows(2) {
        // The interval counts from the end of the previous activation.
        let gap = pair[1].start - pair[0].end.unwrap();
        assert!(gap >= secs(60) && gap <= secs(70), "gap {gap:?}");
        jitters.push(gap - secs(60));
    }
    // A jitter that is always zero would pass the bounds but not spread load.
    assert!(jitters.iter().any(|j| *j > Duration::from_millis(1)));
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_activation_never_runs_back_to_back() {
    let t0 = Instant::now();
    // Each evaluation takes 25 s on a 10 s interval.
    let rule = Fake::new("slow", |_, _| Step::Report(secs(25), vec![]));
    let run = start(vec![scheduled(&rule, 10, 60)], &["eu-west-1"], options());
    sleep(secs(120)).await;
    let calls = rule.calls();
    let starts: Vec<f64> = calls.iter().map(|c| at(t0, c.start)).collect();
    // 0..25, then 10 s rest: 35..60, 70..95, 105..
    assert_eq!(starts, [0.0, 35.0, 70.0, 105.0]);
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn run_now_wakes_a_rule_early_once() {
    let t0 = Instant::now();
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![]));
    let run = start(vec![scheduled(&rule, 3600, 10)], &["eu-west-1"], options());
    sleep(secs(100)).await;
    assert_eq!(rule.calls().len(), 1);
    let state = &run.control.rules()[0];
    assert_eq!(state.meta.id, "r");
    assert!(!state.running);
    assert!(state.last_started.is_some() && state.last_finished.is_some());
    assert!(state.next_run.is_some());

    // Asked twice before it wakes: one activation.
    run.control.run_now("r").unwrap();
    run.control.run_now("r").unwrap();
    sleep(secs(50)).await;
    let starts: Vec<f64> = rule.calls().iter().map(|c| at(t0, c.start)).collect();
    assert_eq!(starts, [0.0, 100.0]);
    // The interval restarts from the early run.
    sleep(secs(3600)).await;
    let starts: Vec<f64> = rule.calls().iter().map(|c| at(t0, c.start)).collect();
    assert_eq!(starts, [0.0, 100.0, 3700.0]);

    assert_eq!(
        run.control.run_now("nope"),
        Err(EngineError::UnknownRule("nope".into()))
    );
    let control = run.control.clone();
    run.stop().await;
    assert_eq!(control.run_now("r"), Err(EngineError::ShuttingDown));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_recorded_as_error_and_resolves_nothing() {
    // First activation reports two findings; the second hangs past the timeout.
    let rule = Fake::new("r", |_, call| match call {
        0 => Step::Report(secs(1), vec![1, 2]),
        _ => Step::Report(secs(600), vec![]),
    });
    let run = start(vec![scheduled(&rule, 60, 30)], &["eu-west-1"], options());
    sleep(secs(1 + 60 + 31)).await;
    let store = run.store.clone();
    run.stop().await;
    let evals = store.evaluations(Some("r"), 10).unwrap();
    assert_eq!(evals.len(), 2);
    assert_eq!(evals[0].status, EvaluationStatus::Error);
    assert_eq!(evals[0].error.as_deref(), Some("timed out after 30s"));
    assert_eq!(evals[0].resolved, 0);
    let open = store
        .open_findings("r", &Scope::new("111111111111", "eu-west-1"))
        .unwrap();
    assert_eq!(open.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_rule_does_not_stop_another() {
    let bad = Fake::new("bad", |scope, _| {
        if scope.region == "eu-west-1" {
            Step::Panic
        } else {
            Step::Fail(secs(0), "AccessDeniedException".into())
        }
    });
    let good = Fake::new("good", |_, _| Step::Report(secs(1), vec![1]));
    let run = start(
        vec![scheduled(&bad, 60, 10), scheduled(&good, 60, 10)],
        &["eu-west-1", "us-east-1"],
        options(),
    );
    sleep(secs(150)).await;
    let store = run.store.clone();
    let report = run.stop().await;
    // Three activations each (0, 60, 120), two regions each.
    assert_eq!(good.calls().len(), 6);
    assert_eq!(bad.calls().len(), 6);
    assert_eq!(report.evaluations_recorded, 12);
    let bad_evals = store.evaluations(Some("bad"), 100).unwrap();
    assert!(bad_evals
        .iter()
        .all(|e| e.status == EvaluationStatus::Error));
    assert!(bad_evals
        .iter()
        .any(|e| e.error.as_deref() == Some("rule panicked: fake rule exploded")));
    let good_evals = store.evaluations(Some("good"), 100).unwrap();
    assert!(good_evals.iter().all(|e| e.status == EvaluationStatus::Ok));
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_evaluations_finish_within_the_grace() {
    let rule = Fake::new("r", |_, _| Step::Report(secs(5), vec![1]));
    let run = start(
        vec![scheduled(&rule, 60, 30)],
        &["eu-west-1", "us-east-1"],
        options(),
    );
    sleep(secs(1)).await;
    let t_stop = Instant::now();
    let store = run.store.clone();
    let report = run.stop().await;
    assert_eq!(t_stop.elapsed(), secs(4));
    assert_eq!(report.aborted, 0);
    assert_eq!(report.evaluations_recorded, 2);
    assert_eq!(store.evaluations(None, 10).unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_what_outlives_the_grace_and_records_nothing_of_it() {
    let rule = Fake::new("r", |scope, _| {
        let delay = if scope.region == "eu-west-1" { 2 } else { 100 };
        Step::Report(secs(delay), vec![1])
    });
    let run = start(
        vec![scheduled(&rule, 60, 300)],
        &["eu-west-1", "us-east-1"],
        SchedulerOptions {
            shutdown_grace: secs(10),
            ..options()
        },
    );
    sleep(secs(1)).await;
    let t_stop = Instant::now();
    let store = run.store.clone();
    let report = run.stop().await;
    assert_eq!(t_stop.elapsed(), secs(10));
    assert_eq!(report.aborted, 1);
    assert_eq!(report.evaluations_recorded, 1);
    let evals = store.evaluations(None, 10).unwrap();
    assert_eq!(evals.len(), 1);
    assert_eq!(evals[0].scope.region, "eu-west-1");
    // The aborted evaluation is really gone: it never finishes later.
    sleep(secs(200)).await;
    assert!(rule.calls_in("us-east-1")[0].end.is_none());
    assert_eq!(store.evaluations(None, 10).unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn no_evaluation_starts_after_shutdown_begins() {
    // One permit: the second region waits behind the first.
    let rule = Fake::new("r", |_, _| Step::Report(secs(5), vec![]));
    let run = start(
        vec![scheduled(&rule, 60, 30)],
        &["eu-west-1", "us-east-1"],
        SchedulerOptions {
            concurrency: 1,
            ..options()
        },
    );
    sleep(secs(1)).await;
    let report = run.stop().await;
    assert_eq!(rule.calls().len(), 1);
    assert_eq!(report.evaluations_recorded, 1);
}

#[tokio::test(start_paused = true)]
async fn peers_come_from_the_store_and_the_hook_sees_every_evaluation() {
    let a = Fake::new("a", |_, _| Step::Report(secs(0), vec![1, 2]));
    // b starts after a has been recorded.
    let b = Fake::with_peer("b", Some("a"), |_, _| Step::Report(secs(0), vec![]));
    let seen = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let (s, o) = (seen.clone(), opened.clone());
    let run = start(
        vec![scheduled(&a, 60, 10), scheduled(&b, 60, 10)],
        &["eu-west-1"],
        SchedulerOptions {
            on_evaluation: Some(Arc::new(move |_, result| {
                s.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(result.as_ref().unwrap().opened, Ordering::SeqCst);
            })),
            ..options()
        },
    );
    sleep(secs(90)).await;
    run.stop().await;
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert_eq!(opened.load(Ordering::SeqCst), 2);
    // By the second activation a's findings are certainly in the store.
    assert_eq!(b.calls()[1].peers_seen, 2);
}

/// The real store, except that it cannot answer peer reads: as when the
/// database is locked or corrupt while a rule's peers are loaded.
struct PeerReadsFail(SqliteStore);

impl Store for PeerReadsFail {
    fn record_evaluation(&self, e: &Evaluation) -> Result<LifecycleChange, StoreError> {
        self.0.record_evaluation(e)
    }
    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        self.0.findings(query)
    }
    fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        self.0.finding(id)
    }
    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError> {
        self.0.finding_history(id)
    }
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, StoreError> {
        self.0.open_findings(rule, scope)
    }
    fn open_findings_with_codes(
        &self,
        _rule: &str,
        _scope: &Scope,
        _codes: &[&str],
    ) -> Result<Vec<Finding>, StoreError> {
        Err(StoreError::Database("database is locked".into()))
    }
    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.0.evaluations(rule, limit)
    }
    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.0.latest_evaluations()
    }
    fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError> {
        self.0.scope_health()
    }
    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError> {
        self.0.open_counts()
    }
    fn withdraw_unconfigured(
        &self,
        configured: &BTreeSet<(String, Scope)>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.0.withdraw_unconfigured(configured, reason, now)
    }
    fn withdraw_unavailable(
        &self,
        longer_than: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.0.withdraw_unavailable(longer_than, now)
    }
    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        self.0.prune(resolved_before, evaluations_before)
    }
    fn check_writable(&self) -> Result<(), StoreError> {
        self.0.check_writable()
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_peer_read_is_an_error_that_resolves_nothing() {
    let scope = Scope::new("111111111111", "eu-west-1");
    let store = Arc::new(PeerReadsFail(SqliteStore::open_in_memory().unwrap()));
    // b's earlier, complete evaluation opened a finding.
    let earlier = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    store
        .record_evaluation(&Evaluation {
            rule: "b".into(),
            scope: scope.clone(),
            status: EvaluationStatus::Ok,
            error: None,
            started_at: earlier,
            finished_at: earlier,
            findings: vec![common::finding("b", &scope, 1)],
            measurements: vec![],
            counts: Default::default(),
        })
        .unwrap();
    // Were b run, it would report nothing and so resolve that finding.
    let b = Fake::with_peer("b", Some("a"), |_, _| Step::Report(secs(0), vec![]));
    let scheduler = Scheduler::new(
        vec![scheduled(&b, 60, 10)],
        targets(&["eu-west-1"]),
        store.clone(),
        options(),
    )
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    sleep(secs(30)).await;
    stop.send(()).unwrap();
    let report = handle.await.unwrap();

    assert!(
        b.calls().is_empty(),
        "the rule must not run without its peers"
    );
    assert_eq!(report.evaluations_recorded, 1);
    let evals = store.evaluations(Some("b"), 10).unwrap();
    assert_eq!(evals.len(), 2);
    let failed = &evals[0];
    assert_eq!(failed.status, EvaluationStatus::Error);
    assert_eq!(failed.resolved, 0);
    let message = failed.error.as_deref().unwrap_or_default();
    assert!(
        message.contains("rule `a`") && message.contains("database is locked"),
        "the error names the peer and the cause: {message}"
    );
    let open = store.open_findings("b", &scope).unwrap();
    assert_eq!(open, [common::finding("b", &scope, 1)]);
}

#[tokio::test(start_paused = true)]
async fn only_declared_peers_are_loaded() {
    let a = Fake::new("a", |_, _| Step::Report(secs(0), vec![1, 2]));
    let c = Fake::reading("c", Some("a"), false, |_, _| Step::Report(secs(0), vec![]));
    let run = start(
        vec![scheduled(&a, 60, 10), scheduled(&c, 60, 10)],
        &["eu-west-1"],
        options(),
    );
    sleep(secs(90)).await;
    run.stop().await;
    // a's findings are in the store by then, but c never declared it reads them.
    assert_eq!(c.calls()[1].peers_seen, 0);
}

#[tokio::test(start_paused = true)]
async fn retention_prunes_old_history() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let scope = Scope::new("111111111111", "eu-west-1");
    let old = chrono::Utc::now() - chrono::TimeDelta::days(60);
    let f = common::finding("r", &scope, 1);
    for findings in [vec![f], vec![]] {
        store
            .record_evaluation(&blindspot_core::Evaluation {
                rule: "r".into(),
                scope: scope.clone(),
                status: EvaluationStatus::Ok,
                error: None,
                started_at: old,
                finished_at: old,
                findings,
                measurements: vec![],
                counts: Default::default(),
            })
            .unwrap();
    }
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![]));
    let run = start_with(
        vec![scheduled(&rule, 3600, 10)],
        &["eu-west-1"],
        SchedulerOptions {
            retention: Some(Retention::default()),
            ..options()
        },
        store.clone(),
    );
    sleep(secs(10)).await;
    let report = run.stop().await;
    assert_eq!(report.pruned_findings, 1);
    assert_eq!(report.pruned_evaluations, 2);
    // Only the fresh evaluation of this run remains.
    assert_eq!(store.evaluations(None, 10).unwrap().len(), 1);
}

#[test]
fn duplicate_ids_and_impossible_schedules_are_rejected() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let a = Fake::new("a", |_, _| Step::Report(secs(0), vec![]));
    let a2 = Fake::new("a", |_, _| Step::Report(secs(0), vec![]));
    let err = Scheduler::new(
        vec![scheduled(&a, 60, 10), scheduled(&a2, 60, 10)],
        targets(&["eu-west-1"]),
        store.clone(),
        options(),
    )
    .err()
    .unwrap();
    assert_eq!(err, EngineError::DuplicateRule("a".into()));

    let err = Scheduler::new(
        vec![scheduled(&a, 0, 10)],
        targets(&["eu-west-1"]),
        store.clone(),
        options(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, EngineError::InvalidConfig(_)), "{err}");

    let err = Scheduler::new(
        vec![scheduled(&a, 60, 10)],
        targets(&["eu-west-1"]),
        store,
        SchedulerOptions {
            concurrency: 0,
            ..options()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, EngineError::InvalidConfig(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_hook_does_not_stop_the_schedule() {
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![]));
    let run = start(
        vec![scheduled(&rule, 60, 10)],
        &["eu-west-1"],
        SchedulerOptions {
            on_evaluation: Some(Arc::new(|_, _| panic!("hook bug"))),
            ..options()
        },
    );
    sleep(secs(130)).await;
    let report = run.stop().await;
    assert_eq!(rule.calls().len(), 3);
    assert_eq!(report.evaluations_recorded, 3);
}

#[test]
fn durations_beyond_a_year_are_rejected() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let a = Fake::new("a", |_, _| Step::Report(secs(0), vec![]));
    let err = Scheduler::new(
        vec![scheduled(&a, u64::MAX / 2, 10)],
        targets(&["eu-west-1"]),
        store.clone(),
        options(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("interval"), "{err}");
    let err = Scheduler::new(
        vec![scheduled(&a, 60, 10)],
        targets(&["eu-west-1"]),
        store,
        SchedulerOptions {
            jitter: Duration::MAX,
            ..options()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("jitter"), "{err}");
}
