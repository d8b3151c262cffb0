//! One rule cannot take every shared permit: a rule with many slow targets
//! delays another rule's evaluations by at most one slot, on a paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{quiet_options, scheduled, secs, targets, Fake, Started, Step};
use std::sync::atomic::Ordering;
use tokio::time::{sleep, Instant};

/// Twenty regions: every rule evaluates every target.
fn twenty_regions() -> Vec<String> {
    (0..20).map(|i| format!("r{i:02}")).collect()
}

/// A 100 s rule listed first, so its twenty evaluations queue first, and a
/// 1 s rule behind it.
fn slow_and_quick() -> (std::sync::Arc<Fake>, std::sync::Arc<Fake>) {
    (
        Fake::new("slow", |_, _| Step::Report(secs(100), vec![])),
        Fake::new("quick", |_, _| Step::Report(secs(1), vec![])),
    )
}

fn start(
    slow: &std::sync::Arc<Fake>,
    quick: &std::sync::Arc<Fake>,
    options: blindspot_engine::SchedulerOptions,
) -> Started {
    let regions = twenty_regions();
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    Started::start(
        vec![scheduled(slow, 3600, 300), scheduled(quick, 3600, 300)],
        targets(&regions),
        options,
    )
}

fn seconds(t0: Instant, t: Instant) -> u64 {
    (t - t0).as_secs()
}

#[tokio::test(start_paused = true)]
async fn a_rule_with_twenty_slow_targets_leaves_the_others_their_share() {
    let t0 = Instant::now();
    let (slow, quick) = slow_and_quick();
    // Four permits; by default a rule holds at most half of them.
    let run = start(&slow, &quick, quiet_options(4));
    sleep(secs(30)).await;
    let calls = quick.calls();
    assert_eq!(calls.len(), 20, "every quick evaluation ran meanwhile");
    assert_eq!(seconds(t0, calls[0].start), 0, "not queued behind `slow`");
    // Two at a time, one second each.
    let last_end = calls.iter().filter_map(|c| c.end).max().unwrap();
    assert_eq!(seconds(t0, last_end), 10);
    assert_eq!(slow.max_running.load(Ordering::SeqCst), 2);
    assert_eq!(quick.max_running.load(Ordering::SeqCst), 2);
    run.stop.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn with_one_permit_the_rules_take_turns() {
    let t0 = Instant::now();
    let (slow, quick) = slow_and_quick();
    let run = start(&slow, &quick, quiet_options(1));
    sleep(secs(5 * 101 + 1)).await;
    let starts: Vec<u64> = quick.calls().iter().map(|c| seconds(t0, c.start)).collect();
    // Each quick evaluation waits for exactly one slow one, never for all twenty.
    assert_eq!(starts, [100, 201, 302, 403, 504]);
    run.stop.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_rule_allowed_every_permit_still_queues_only_its_share() {
    // Before the cap, the slow rule's twenty evaluations all queued for the
    // shared permits ahead of the quick rule, whose first evaluation started
    // after five rounds, at 500 s. A rule now queues at most its share, so
    // even allowed all four permits it delays the other by one slot.
    let t0 = Instant::now();
    let (slow, quick) = slow_and_quick();
    let options = blindspot_engine::SchedulerOptions {
        per_rule_concurrency: Some(4),
        ..quiet_options(4)
    };
    let run = start(&slow, &quick, options);
    sleep(secs(99)).await;
    assert!(quick.calls().is_empty(), "all four permits are taken");
    sleep(secs(2)).await;
    assert_eq!(seconds(t0, quick.calls()[0].start), 100);
    run.stop.send(()).unwrap();
}

#[test]
fn a_per_rule_concurrency_out_of_range_is_rejected() {
    let store = std::sync::Arc::new(blindspot_store::SqliteStore::open_in_memory().unwrap());
    let (slow, _) = slow_and_quick();
    for bad in [0, 5] {
        let err = blindspot_engine::Scheduler::new(
            vec![scheduled(&slow, 60, 10)],
            targets(&["eu-west-1"]),
            store.clone(),
            blindspot_engine::SchedulerOptions {
                per_rule_concurrency: Some(bad),
                ..quiet_options(4)
            },
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("per-rule concurrency"), "{err}");
    }
}
