//! A scriptable fake rule over a unit client type.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use blindspot_core::{
    EvalContext, Finding, PeerRead, Rule, RuleError, RuleMeta, RuleReport, Scope, Severity,
};
use blindspot_engine::Target;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What one call does: wait this long, then answer (or panic).
pub enum Step {
    /// Wait, then report findings `0..n` of the listed numbers.
    Report(Duration, Vec<u32>),
    /// Wait, then fail.
    Fail(Duration, String),
    /// Panic at once.
    Panic,
}

/// One call as seen by the fake.
#[derive(Debug, Clone)]
pub struct Call {
    pub scope: Scope,
    pub start: Instant,
    pub end: Option<Instant>,
    /// How many open findings of each peer rule the call saw.
    pub peers_seen: usize,
}

type Script = dyn Fn(&Scope, usize) -> Step + Send + Sync;

pub struct Fake {
    meta: RuleMeta,
    script: Box<Script>,
    /// The peer rule whose findings the fake counts, if any.
    peer: Option<&'static str>,
    pub calls: Mutex<Vec<Call>>,
    running: AtomicUsize,
    pub max_running: AtomicUsize,
}

impl Fake {
    pub fn new(
        id: &'static str,
        script: impl Fn(&Scope, usize) -> Step + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Self::with_peer(id, None, script)
    }

    /// A rule that reads `peer`'s findings and declares it in its meta.
    pub fn with_peer(
        id: &'static str,
        peer: Option<&'static str>,
        script: impl Fn(&Scope, usize) -> Step + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Self::reading(id, peer, peer.is_some(), script)
    }

    /// A rule that reads `peer`'s findings, declaring it or not.
    pub fn reading(
        id: &'static str,
        peer: Option<&'static str>,
        declared: bool,
        script: impl Fn(&Scope, usize) -> Step + Send + Sync + 'static,
    ) -> Arc<Fake> {
        // RuleMeta holds 'static slices; a test rule lives for the test binary.
        let reads: &'static [PeerRead] = match (peer, declared) {
            (Some(rule), true) => Box::leak(Box::new([PeerRead { rule, codes: &[] }])),
            _ => &[],
        };
        Arc::new(Fake {
            meta: RuleMeta {
                id,
                aliases: &[],
                severity: Severity::Medium,
                summary: "a fake rule",
                reads,
                measurements: &[],
                reach: blindspot_core::Reach::Account,
            },
            script: Box::new(script),
            peer,
            calls: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }

    /// The same rule, evaluating only targets that see the organisation.
    pub fn organization(
        id: &'static str,
        script: impl Fn(&Scope, usize) -> Step + Send + Sync + 'static,
    ) -> Arc<Fake> {
        let mut fake = Self::reading(id, None, false, script);
        if let Some(fake) = Arc::get_mut(&mut fake) {
            fake.meta.reach = blindspot_core::Reach::Organization;
        }
        fake
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Calls in one scope, in start order.
    pub fn calls_in(&self, region: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.scope.region == region)
            .collect()
    }
}

/// Decrements the running count even when the evaluation is cancelled.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Rule<()> for Fake {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, ()>) -> Result<RuleReport, RuleError> {
        let peers = self.peer.map(|p| cx.peers.open_findings(p, cx.scope));
        let peers_seen = match &peers {
            Some(Ok(list)) => list.len(),
            _ => 0,
        };
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                scope: cx.scope.clone(),
                start: Instant::now(),
                end: None,
                peers_seen,
            });
            calls.iter().filter(|c| c.scope == *cx.scope).count() - 1
        };
        if let Some(Err(err)) = peers {
            return Err(err.into());
        }
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let _running = Running(&self.running);
        let result = match (self.script)(cx.scope, index) {
            Step::Panic => panic!("fake rule exploded"),
            Step::Report(delay, ns) => {
                tokio::time::sleep(delay).await;
                Ok(RuleReport {
                    findings: ns
                        .iter()
                        .map(|n| finding(self.meta.id, cx.scope, *n))
                        .collect(),
                    ..Default::default()
                })
            }
            Step::Fail(delay, message) => {
                tokio::time::sleep(delay).await;
                Err(RuleError::Failed(message))
            }
        };
        let mut calls = self.calls.lock().unwrap();
        if let Some(call) = calls
            .iter_mut()
            .rev()
            .find(|c| c.scope == *cx.scope && c.end.is_none())
        {
            call.end = Some(Instant::now());
        }
        result
    }
}

pub fn finding(rule: &str, scope: &Scope, n: u32) -> Finding {
    Finding::new(
        rule,
        "FAKE",
        Severity::Medium,
        scope,
        &format!("r-{n}"),
        "fake",
    )
}

pub fn targets(regions: &[&str]) -> Vec<Target<()>> {
    regions
        .iter()
        .map(|r| Target::fixed(Scope::new("111111111111", *r), Ok(Arc::new(()))))
        .collect()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A scheduler running on its own task over an in-memory store.
pub struct Started {
    pub store: Arc<blindspot_store::SqliteStore>,
    pub control: Arc<dyn blindspot_engine::Control>,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub handle: tokio::task::JoinHandle<blindspot_engine::SchedulerReport>,
}

impl Started {
    /// Starts `rules` over `targets`.
    pub fn start(
        rules: Vec<blindspot_engine::ScheduledRule<()>>,
        targets: Vec<Target<()>>,
        options: blindspot_engine::SchedulerOptions,
    ) -> Started {
        let store = Arc::new(blindspot_store::SqliteStore::open_in_memory().unwrap());
        Started::start_with_store(rules, targets, options, store)
    }

    /// Starts `rules` over `targets`, recording into `store`.
    pub fn start_with_store(
        rules: Vec<blindspot_engine::ScheduledRule<()>>,
        targets: Vec<Target<()>>,
        options: blindspot_engine::SchedulerOptions,
        store: Arc<blindspot_store::SqliteStore>,
    ) -> Started {
        let scheduler =
            blindspot_engine::Scheduler::new(rules, targets, store.clone(), options).unwrap();
        let control = scheduler.control();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(scheduler.run(async move {
            let _ = stopped.await;
        }));
        Started {
            store,
            control,
            stop,
            handle,
        }
    }

    /// Asks the scheduler to stop and waits for its report.
    pub async fn stop(self) -> blindspot_engine::SchedulerReport {
        self.stop.send(()).unwrap();
        self.handle.await.unwrap()
    }
}

/// A rule on `interval` seconds with a `timeout` in seconds.
pub fn scheduled(
    rule: &Arc<Fake>,
    interval: u64,
    timeout: u64,
) -> blindspot_engine::ScheduledRule<()> {
    blindspot_engine::ScheduledRule {
        rule: rule.clone(),
        schedule: blindspot_engine::RuleSchedule {
            interval: secs(interval),
            timeout: secs(timeout),
        },
    }
}

/// Scheduler options without jitter, retention or hook.
pub fn quiet_options(concurrency: usize) -> blindspot_engine::SchedulerOptions {
    blindspot_engine::SchedulerOptions {
        concurrency,
        per_rule_concurrency: None,
        // The tests' targets share one account; the per-account share has
        // its own test.
        per_account_concurrency: Some(concurrency),
        jitter: Duration::ZERO,
        shutdown_grace: secs(30),
        retention: None,
        on_evaluation: None,
    }
}
