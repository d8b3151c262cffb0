//! Organisation scale: targets that change while the scheduler runs, rules
//! that only the organisation's own account evaluates, and one account's
//! share of the permits; on a paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_core::Scope;
use blindspot_engine::{RunOptions, Scheduler, Target, TargetSet};
use common::{quiet_options, scheduled, secs, Fake, Step};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::{sleep, Instant};

fn target(account: &str, region: &str) -> Target<()> {
    Target::fixed(Scope::new(account, region), Ok(Arc::new(())))
}

fn quick() -> Step {
    Step::Report(secs(1), vec![1])
}

type Targets = Arc<Vec<Target<()>>>;

/// A scheduler of `rule` over a target set the test changes through the
/// returned sender; stop it with the returned one.
fn watching(
    rule: blindspot_engine::ScheduledRule<()>,
    first: &[Target<()>],
    concurrency: usize,
) -> (
    watch::Sender<Targets>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<blindspot_engine::SchedulerReport>,
) {
    let (tx, rx) = watch::channel(Arc::new(first.to_vec()));
    let store = Arc::new(blindspot_store::SqliteStore::open_in_memory().unwrap());
    let scheduler = Scheduler::new(
        vec![rule],
        TargetSet::watch(rx),
        store,
        quiet_options(concurrency),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(scheduler.run(async move {
        let _ = stopped.await;
    }));
    (tx, stop, handle)
}

#[tokio::test(start_paused = true)]
async fn an_organization_rule_evaluates_only_the_targets_that_see_the_organization() {
    let members = Fake::new("members", |_, _| quick());
    let org = Fake::organization("org", |_, _| quick());
    let targets = vec![
        target("111111111111", "us-east-1").seeing_organization(),
        target("222222222222", "us-east-1"),
        target("333333333333", "us-east-1"),
    ];
    // The scheduler...
    let run = common::Started::start(
        vec![scheduled(&members, 3600, 60), scheduled(&org, 3600, 60)],
        targets.clone(),
        quiet_options(4),
    );
    sleep(secs(10)).await;
    let accounts = |fake: &Fake| {
        let mut a: Vec<String> = fake.calls().into_iter().map(|c| c.scope.account).collect();
        a.sort();
        a
    };
    assert_eq!(
        accounts(&members),
        ["111111111111", "222222222222", "333333333333"]
    );
    assert_eq!(accounts(&org), ["111111111111"]);
    run.stop().await;
    // ...and `check` agree.
    let members = Fake::new("members", |_, _| quick());
    let org = Fake::organization("org", |_, _| quick());
    let rules: Vec<Arc<dyn blindspot_core::Rule<()>>> = vec![members.clone(), org.clone()];
    let evaluations = blindspot_engine::run_once(&rules, &targets, &RunOptions::default()).await;
    assert_eq!(evaluations.len(), 4);
    assert_eq!(accounts(&org), ["111111111111"]);
}

#[tokio::test(start_paused = true)]
async fn a_target_that_appears_is_evaluated_at_once_and_only_it() {
    let t0 = Instant::now();
    let rule = Fake::new("rule", |_, _| quick());
    let first = vec![target("111111111111", "us-east-1")];
    let (tx, stop, handle) = watching(scheduled(&rule, 3600, 60), &first, 4);
    sleep(secs(100)).await;
    assert_eq!(rule.calls().len(), 1);
    // An account joins, an hour before the rule's next tick.
    let mut second = first.clone();
    second.push(target("222222222222", "us-east-1"));
    tx.send_replace(Arc::new(second));
    sleep(secs(5)).await;
    let calls = rule.calls();
    assert_eq!(
        calls.len(),
        2,
        "only the new target is evaluated: {calls:?}"
    );
    assert_eq!(calls[1].scope.account, "222222222222");
    assert_eq!((calls[1].start - t0).as_secs(), 100);
    // The next tick evaluates both, once each.
    sleep(secs(3600)).await;
    assert_eq!(rule.calls().len(), 4);
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_slow_account_never_holds_every_permit() {
    let t0 = Instant::now();
    // Twenty slow regions of one account, listed first, and one quick
    // evaluation of another account behind them.
    let rule = Fake::new("rule", |scope, _| {
        if scope.account == "111111111111" {
            Step::Report(secs(100), vec![])
        } else {
            quick()
        }
    });
    let mut targets: Vec<Target<()>> = (0..20)
        .map(|i| target("111111111111", &format!("r{i:02}")))
        .collect();
    targets.push(target("222222222222", "r00"));
    let options = blindspot_engine::SchedulerOptions {
        per_account_concurrency: None,
        ..quiet_options(4)
    };
    let run = common::Started::start(vec![scheduled(&rule, 3600, 600)], targets, options);
    sleep(secs(10)).await;
    let other: Vec<_> = rule
        .calls()
        .into_iter()
        .filter(|c| c.scope.account == "222222222222")
        .collect();
    assert_eq!(other.len(), 1, "the other account was not starved");
    assert_eq!((other[0].start - t0).as_secs(), 0);
    // The slow account ran two at a time: half of the four permits.
    let slow_started = rule
        .calls()
        .iter()
        .filter(|c| c.scope.account == "111111111111")
        .count();
    assert_eq!(slow_started, 2);
    run.stop.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_target_that_appears_during_an_activation_does_not_wait_for_its_end() {
    let t0 = Instant::now();
    let rule = Fake::new("rule", |scope, _| {
        if scope.account == "111111111111" {
            Step::Report(secs(100), vec![])
        } else {
            quick()
        }
    });
    // Ten slow regions, two at a time: the activation takes 500 s.
    let first: Vec<Target<()>> = (0..10)
        .map(|i| target("111111111111", &format!("r{i:02}")))
        .collect();
    let (tx, stop, handle) = watching(scheduled(&rule, 3600, 600), &first, 2);
    sleep(secs(10)).await;
    let mut second = first.clone();
    second.push(target("222222222222", "r00"));
    tx.send_replace(Arc::new(second));
    sleep(secs(120)).await;
    let joined: Vec<_> = rule
        .calls()
        .into_iter()
        .filter(|c| c.scope.account == "222222222222")
        .collect();
    assert_eq!(joined.len(), 1, "evaluated beside the activation");
    // It waited for a shared permit (the first pair ends at 100 s), not for
    // the activation's other eight evaluations.
    assert_eq!((joined[0].start - t0).as_secs(), 100);
    stop.send(()).unwrap();
    handle.await.unwrap();
}
