//! Targets whose clients are resolved at each evaluation: one that fails is
//! an `error` under the scope its source names, is asked again at the next
//! activation and recovers without a restart; resolving holds no permit, and
//! shutdown does not wait for it. On a paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use async_trait::async_trait;
use blindspot_core::{EvaluationStatus, Scope};
use blindspot_engine::{ClientSource, Resolved, Target};
use blindspot_store::Store as _;
use common::{quiet_options, scheduled, secs, Fake, Started, Step};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// An account that STS refuses `failures` times, each answer taking `delay`.
/// While it fails it names a stand-in account, as a profile-only account
/// whose ID is not known yet does.
struct Flaky {
    failures: AtomicUsize,
    delay: Duration,
    asked: AtomicUsize,
}

impl Flaky {
    fn new(failures: usize, delay: Duration) -> Arc<Flaky> {
        Arc::new(Flaky {
            failures: AtomicUsize::new(failures),
            delay,
            asked: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl ClientSource<()> for Flaky {
    async fn resolve(&self) -> Resolved<()> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        sleep(self.delay).await;
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            Resolved {
                scope: Scope::new("unresolved:audit", "eu-west-1"),
                clients: Err("sts:AssumeRole failed (throttled, Throttling): Rate exceeded".into()),
            }
        } else {
            Resolved {
                scope: Scope::new("333333333333", "eu-west-1"),
                clients: Ok(Arc::new(())),
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_is_asked_at_every_activation_until_it_recovers() {
    let flaky = Flaky::new(2, Duration::ZERO);
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![7]));
    let run = Started::start(
        vec![scheduled(&rule, 60, 10)],
        vec![Target::new(flaky.clone())],
        quiet_options(4),
    );
    sleep(secs(150)).await;
    let store = run.store.clone();
    run.stop().await;

    assert_eq!(flaky.asked.load(Ordering::SeqCst), 3, "once per activation");
    let evals = store.evaluations(Some("r"), 10).unwrap();
    let seen: Vec<(&str, EvaluationStatus)> = evals
        .iter()
        .rev()
        .map(|e| (e.scope.account.as_str(), e.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("unresolved:audit", EvaluationStatus::Error),
            ("unresolved:audit", EvaluationStatus::Error),
            ("333333333333", EvaluationStatus::Ok),
        ]
    );
    let error = evals[2].error.as_deref().unwrap();
    assert!(
        error.starts_with("no clients for unresolved:audit/eu-west-1:")
            && error.contains("AssumeRole failed (throttled, Throttling): Rate exceeded"),
        "{error}"
    );
    // The rule runs only once it has clients, and its findings then appear.
    assert_eq!(rule.calls().len(), 1);
    let open = store
        .open_findings("r", &Scope::new("333333333333", "eu-west-1"))
        .unwrap();
    assert_eq!(open.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn resolving_holds_no_permit() {
    // One permit; one target's source takes 100 s to answer.
    let t0 = Instant::now();
    let slow = Flaky::new(0, secs(100));
    let rule = Fake::new("r", |_, _| Step::Report(secs(1), vec![]));
    let run = Started::start(
        vec![scheduled(&rule, 3600, 10)],
        vec![
            Target::new(slow),
            Target::fixed(Scope::new("111111111111", "us-east-1"), Ok(Arc::new(()))),
        ],
        quiet_options(1),
    );
    sleep(secs(110)).await;
    let starts: Vec<(String, u64)> = rule
        .calls()
        .iter()
        .map(|c| (c.scope.account.clone(), (c.start - t0).as_secs()))
        .collect();
    assert_eq!(
        starts,
        [
            ("111111111111".to_owned(), 0),
            ("333333333333".to_owned(), 100)
        ]
    );
    run.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_for_a_source() {
    let hanging = Flaky::new(0, secs(24 * 3600));
    let rule = Fake::new("r", |_, _| Step::Report(secs(0), vec![]));
    let run = Started::start(
        vec![scheduled(&rule, 60, 10)],
        vec![Target::new(hanging)],
        quiet_options(4),
    );
    sleep(secs(1)).await;
    let stopping = Instant::now();
    let report = run.stop().await;
    assert_eq!(stopping.elapsed(), Duration::ZERO);
    assert_eq!((report.evaluations_recorded, report.aborted), (0, 0));
    assert!(rule.calls().is_empty());
}
