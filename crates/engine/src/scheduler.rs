//! The interval scheduler behind `blindspot run`, after omicron's background
//! task driver.
//!
//! Each rule is a task "activated" with no other input: on its own
//! [`tokio::time::interval`], a random jitter after each tick, or early through
//! a [`Notify`] ("run now"). An activation evaluates the rule over every target,
//! sharing one semaphore with all other rules so the AWS APIs see bounded
//! concurrency, and records each evaluation in the store as one transaction.
//! No rule may hold more than its share of that semaphore
//! ([`SchedulerOptions::per_rule_concurrency`]): a rule with many slow targets
//! would otherwise queue ahead of every other rule, which then waits for all
//! of them.
//!
//! Before each evaluation the target's [`ClientSource`](crate::ClientSource)
//! is asked for its clients, outside the semaphore, so an account still being
//! resolved holds no slot while STS answers. A source that failed is asked
//! again at the next activation: that is how an account that could not be
//! resolved at start-up recovers without a restart.
//!
//! The interval is reset when an activation ends, so `interval` is the time
//! between the end of one activation and the next tick: a slow activation
//! never stacks up behind itself. There is no retry inside an activation; the
//! next activation is the retry, and the AWS SDK already retries single calls.
//!
//! On shutdown no new evaluation starts; in-flight ones may finish and be
//! recorded for up to `shutdown_grace`, after which they are aborted and not
//! recorded.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use blindspot_core::{Evaluation, Finding, PeerError, PeerFindings, PeerRead, Rule, Scope};
use blindspot_store::{LifecycleChange, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use rand::Rng;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::runner::evaluate;
use crate::{Control, EngineError, RuleSchedule, RuleState, Target, TargetSet};

/// The longest interval, jitter or grace the scheduler accepts.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A rule and when it runs.
pub struct ScheduledRule<C: ?Sized> {
    /// The rule.
    pub rule: Arc<dyn Rule<C>>,
    /// Its interval and timeout.
    pub schedule: RuleSchedule,
}

impl<C: ?Sized> Clone for ScheduledRule<C> {
    fn clone(&self) -> Self {
        ScheduledRule {
            rule: Arc::clone(&self.rule),
            schedule: self.schedule,
        }
    }
}

/// Called after each evaluation is recorded (or failed to be), for logs and
/// metrics. It runs on the scheduler's tasks, so it must be quick; a panic in
/// it is caught and logged.
pub type EvaluationHook =
    Arc<dyn Fn(&Evaluation, &Result<LifecycleChange, StoreError>) + Send + Sync>;

/// How long history is kept, and how often it is pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Resolved findings older than this (since resolution) are deleted.
    pub resolved_findings: Duration,
    /// Evaluations older than this (since they finished) are deleted.
    pub evaluations: Duration,
    /// Time between two prunes; the first runs at start-up.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Retention {
            resolved_findings: Duration::from_secs(30 * DAY),
            evaluations: Duration::from_secs(14 * DAY),
            every: Duration::from_secs(60 * 60),
        }
    }
}

/// Options of the [`Scheduler`].
#[derive(Clone)]
pub struct SchedulerOptions {
    /// Evaluations running at once, across all rules (at least 1).
    pub concurrency: usize,
    /// Evaluations one rule may run at once, out of `concurrency` (1 to
    /// `concurrency`); `None` means all of them when one rule is scheduled,
    /// else half of `concurrency`, at least 1.
    pub per_rule_concurrency: Option<usize>,
    /// Evaluations of one account that may run at once, across all rules and
    /// regions (at least 1; more than `concurrency` means `concurrency`);
    /// `None` means half of `concurrency`, at least 1. An account that answers slowly (throttled, far away) then
    /// never holds every permit while the other accounts wait.
    pub per_account_concurrency: Option<usize>,
    /// The most random delay added after each interval tick, so rules and
    /// replicas do not hit the AWS APIs in lockstep.
    pub jitter: Duration,
    /// How long in-flight evaluations may finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// Pruning of old history; `None` keeps everything.
    pub retention: Option<Retention>,
    /// Observer of every finished evaluation.
    pub on_evaluation: Option<EvaluationHook>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            concurrency: 4,
            per_rule_concurrency: None,
            per_account_concurrency: None,
            jitter: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            retention: Some(Retention::default()),
            on_evaluation: None,
        }
    }
}

impl fmt::Debug for SchedulerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerOptions")
            .field("concurrency", &self.concurrency)
            .field("per_rule_concurrency", &self.per_rule_concurrency)
            .field("per_account_concurrency", &self.per_account_concurrency)
            .field("jitter", &self.jitter)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("retention", &self.retention)
            .field("on_evaluation", &self.on_evaluation.is_some())
            .finish()
    }
}

/// What the scheduler did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// Rule activations started.
    pub activations: u64,
    /// Evaluations written to the store.
    pub evaluations_recorded: u64,
    /// Evaluations the store failed to write.
    pub store_errors: u64,
    /// Evaluations still in flight when the shutdown grace expired; they were
    /// aborted and not recorded (unless already being written).
    pub aborted: u64,
    /// Resolved findings deleted by retention.
    pub pruned_findings: u64,
    /// Evaluations deleted by retention.
    pub pruned_evaluations: u64,
}

/// State shared by the scheduler's tasks and its [`Control`] handle.
struct Shared {
    states: Mutex<Vec<RuleState>>,
    wake: HashMap<String, Arc<Notify>>,
    stopping: AtomicBool,
    activations: AtomicU64,
    recorded: AtomicU64,
    store_errors: AtomicU64,
    in_flight: AtomicU64,
    pruned_findings: AtomicU64,
    pruned_evaluations: AtomicU64,
}

impl Shared {
    fn states(&self) -> MutexGuard<'_, Vec<RuleState>> {
        // The states are plain values written whole; a panic elsewhere cannot
        // leave one half-updated, so poison is ignored.
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut RuleState)) {
        if let Some(state) = self.states().get_mut(index) {
            f(state);
        }
    }
}

struct ControlHandle(Arc<Shared>);

impl Control for ControlHandle {
    fn rules(&self) -> Vec<RuleState> {
        self.0.states().clone()
    }

    fn run_now(&self, rule_id: &str) -> Result<(), EngineError> {
        if self.0.stopping.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let notify = self
            .0
            .wake
            .get(rule_id)
            .ok_or_else(|| EngineError::UnknownRule(rule_id.to_owned()))?;
        // notify_one stores at most one permit, so two requests before the
        // rule wakes still make one activation.
        notify.notify_one();
        Ok(())
    }
}

/// Everything an activation needs, shared by all rule tasks.
struct Runtime<C: ?Sized> {
    targets: TargetSet<C>,
    store: Arc<dyn Store>,
    permits: Semaphore,
    /// The most of `permits` one rule may hold.
    per_rule: usize,
    /// The most of `permits` one account may hold.
    per_account: usize,
    /// The size of `permits`.
    permits_total: usize,
    /// Each account's share of `permits`, by the account ID its evaluations
    /// are recorded under.
    accounts: Mutex<HashMap<String, Arc<Semaphore>>>,
    stop: CancellationToken,
    hook: Option<EvaluationHook>,
    jitter: Duration,
    shared: Arc<Shared>,
}

/// Runs rules on their intervals until shutdown; see the module docs.
pub struct Scheduler<C: ?Sized> {
    rules: Vec<ScheduledRule<C>>,
    runtime: Arc<Runtime<C>>,
    shutdown_grace: Duration,
    retention: Option<Retention>,
}

impl<C> Scheduler<C>
where
    C: ?Sized + Send + Sync + 'static,
{
    /// Builds a scheduler; rejects duplicate rule IDs, zero intervals or
    /// timeouts, and a concurrency or per-rule concurrency out of range.
    pub fn new(
        rules: Vec<ScheduledRule<C>>,
        targets: impl Into<TargetSet<C>>,
        store: Arc<dyn Store>,
        options: SchedulerOptions,
    ) -> Result<Self, EngineError> {
        let targets = targets.into();
        let mut seen = HashSet::new();
        for r in &rules {
            let id = r.rule.meta().id;
            if !seen.insert(id) {
                return Err(EngineError::DuplicateRule(id.to_owned()));
            }
            // tokio's interval panics on a zero period, and a zero timeout
            // would fail every evaluation: both are configuration mistakes.
            if r.schedule.interval.is_zero() {
                return Err(EngineError::InvalidConfig(format!(
                    "rule `{id}` has a zero interval"
                )));
            }
            if r.schedule.timeout.is_zero() {
                return Err(EngineError::InvalidConfig(format!(
                    "rule `{id}` has a zero timeout"
                )));
            }
        }
        if options.concurrency == 0 || options.concurrency > Semaphore::MAX_PERMITS {
            return Err(EngineError::InvalidConfig(format!(
                "concurrency must be between 1 and {}",
                Semaphore::MAX_PERMITS
            )));
        }
        let per_rule = match options.per_rule_concurrency {
            // A rule alone has nobody to starve: it may use every permit.
            None if rules.len() <= 1 => options.concurrency,
            None => (options.concurrency / 2).max(1),
            Some(n) if (1..=options.concurrency).contains(&n) => n,
            Some(n) => {
                return Err(EngineError::InvalidConfig(format!(
                    "per-rule concurrency {n} must be between 1 and the concurrency, {}",
                    options.concurrency
                )))
            }
        };
        // A share larger than the whole is the whole.
        let per_account = match options.per_account_concurrency {
            None => (options.concurrency / 2).max(1),
            Some(0) => {
                return Err(EngineError::InvalidConfig(
                    "per-account concurrency must be at least 1".to_owned(),
                ))
            }
            Some(n) => n.min(options.concurrency),
        };
        // Timer arithmetic (`now + interval`) panics on overflow; no real
        // schedule comes near a year.
        let mut durations = vec![
            ("jitter", options.jitter),
            ("shutdown grace", options.shutdown_grace),
        ];
        durations.extend(rules.iter().map(|r| ("interval", r.schedule.interval)));
        if let Some(retention) = &options.retention {
            durations.push(("retention interval", retention.every));
        }
        for (what, d) in durations {
            if d > MAX_DURATION {
                return Err(EngineError::InvalidConfig(format!(
                    "{what} of {d:?} is longer than a year"
                )));
            }
        }
        if let Some(retention) = &options.retention {
            if retention.every.is_zero() {
                return Err(EngineError::InvalidConfig(
                    "the retention interval must not be zero".to_owned(),
                ));
            }
            for d in [retention.resolved_findings, retention.evaluations] {
                if TimeDelta::from_std(d).is_err() {
                    return Err(EngineError::InvalidConfig(format!(
                        "retention of {d:?} is too long"
                    )));
                }
            }
        }
        let states = rules
            .iter()
            .map(|r| RuleState {
                meta: r.rule.meta().clone(),
                schedule: r.schedule,
                running: false,
                last_started: None,
                last_finished: None,
                next_run: None,
            })
            .collect();
        let wake = rules
            .iter()
            .map(|r| (r.rule.meta().id.to_owned(), Arc::new(Notify::new())))
            .collect();
        let shared = Arc::new(Shared {
            states: Mutex::new(states),
            wake,
            stopping: AtomicBool::new(false),
            activations: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            store_errors: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            pruned_findings: AtomicU64::new(0),
            pruned_evaluations: AtomicU64::new(0),
        });
        let runtime = Arc::new(Runtime {
            targets,
            store,
            permits: Semaphore::new(options.concurrency),
            per_rule,
            per_account,
            permits_total: options.concurrency,
            accounts: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
            hook: options.on_evaluation,
            jitter: options.jitter,
            shared,
        });
        Ok(Scheduler {
            rules,
            runtime,
            shutdown_grace: options.shutdown_grace,
            retention: options.retention,
        })
    }

    /// The control surface for the HTTP server; valid for the scheduler's life
    /// and after (then `run_now` answers [`EngineError::ShuttingDown`]).
    pub fn control(&self) -> Arc<dyn Control> {
        Arc::new(ControlHandle(Arc::clone(&self.runtime.shared)))
    }

    /// Runs every rule until `shutdown` resolves, then stops gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> SchedulerReport {
        let Scheduler {
            rules,
            runtime,
            shutdown_grace,
            retention,
        } = self;
        let mut tasks = JoinSet::new();
        for (index, scheduled) in rules.into_iter().enumerate() {
            tasks.spawn(rule_loop(index, scheduled, Arc::clone(&runtime)));
        }
        if let Some(retention) = retention {
            tasks.spawn(retention_loop(retention, Arc::clone(&runtime)));
        }

        shutdown.await;
        tracing::info!("scheduler stopping: no new evaluations will start");
        let shared = Arc::clone(&runtime.shared);
        shared.stopping.store(true, Ordering::SeqCst);
        runtime.stop.cancel();

        let mut aborted = 0;
        let drained = tokio::time::timeout(shutdown_grace, drain(&mut tasks)).await;
        if drained.is_err() {
            aborted = shared.in_flight.load(Ordering::SeqCst);
            tracing::warn!(
                aborted,
                grace = ?shutdown_grace,
                "shutdown grace expired; aborting in-flight evaluations"
            );
            tasks.abort_all();
            drain(&mut tasks).await;
        }
        for state in shared.states().iter_mut() {
            state.next_run = None;
            state.running = false;
        }
        SchedulerReport {
            activations: shared.activations.load(Ordering::SeqCst),
            evaluations_recorded: shared.recorded.load(Ordering::SeqCst),
            store_errors: shared.store_errors.load(Ordering::SeqCst),
            aborted,
            pruned_findings: shared.pruned_findings.load(Ordering::SeqCst),
            pruned_evaluations: shared.pruned_evaluations.load(Ordering::SeqCst),
        }
    }
}

async fn drain(tasks: &mut JoinSet<()>) {
    while let Some(joined) = tasks.join_next().await {
        if let Err(err) = joined {
            if err.is_panic() {
                tracing::error!("a scheduler task panicked: {err}");
            }
        }
    }
}

fn sample_jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
}

fn wall_clock_after(d: Duration) -> Option<DateTime<Utc>> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| Utc::now().checked_add_signed(delta))
}

/// One rule's life: wait for a tick (plus jitter) or a wake-up, activate, repeat.
async fn rule_loop<C>(index: usize, scheduled: ScheduledRule<C>, rt: Arc<Runtime<C>>)
where
    C: ?Sized + Send + Sync + 'static,
{
    let ScheduledRule { rule, schedule } = scheduled;
    let id = rule.meta().id;
    let Some(wake) = rt.shared.wake.get(id).cloned() else {
        return;
    };
    // This rule's share of the shared permits, held across its activations.
    let slots = Semaphore::new(rt.per_rule);
    // The share of targets that appear while an activation runs: their own,
    // so they queue for the shared permits behind at most the rule's share
    // of the activation's evaluations rather than behind all of them.
    let fresh = Semaphore::new(rt.per_rule);
    // The targets this rule has been given so far; one that appears later
    // (an account that joined) is evaluated at once, not at the next tick,
    // also while an activation over the others is running.
    let mut changes = Some(rt.targets.subscribe());
    let mut known: HashSet<u64> = rt.targets.current().iter().map(Target::id).collect();
    let mut interval = tokio::time::interval(schedule.interval);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick completes at once: every rule runs at start-up, spread
    // by the jitter.
    let mut delay = sample_jitter(rt.jitter);
    let next = wall_clock_after(delay);
    rt.shared.update(index, |s| s.next_run = next);
    loop {
        let woken = tokio::select! {
            biased;
            _ = rt.stop.cancelled() => break,
            _ = wake.notified() => true,
            _ = interval.tick() => false,
            changed = next_change(&mut changes) => {
                if let Some(current) = changed {
                    let new = newcomers(&current, &mut known);
                    if !new.is_empty() {
                        tracing::info!(rule = id, targets = new.len(), "evaluating new targets");
                        evaluate_targets(&rule, schedule, &new, &slots, &rt).await;
                    }
                }
                continue;
            }
        };
        // "Run now" means now; only timer ticks are jittered. A wake-up during
        // the jitter cuts it short.
        if !woken && !delay.is_zero() {
            tokio::select! {
                biased;
                _ = rt.stop.cancelled() => break,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(delay) => {}
            }
        }
        // A "run now" that arrived since the wake-up is served by this
        // activation: drop its stored permit so it does not cause a second,
        // back-to-back run. One that arrives during the activation still
        // counts, because it may ask about a state the activation missed.
        let _ = wake.notified().now_or_never();
        // The activation's targets are the current set, marked seen; a target
        // that appears while it runs is evaluated beside it.
        let snapshot = match &mut changes {
            Some(rx) => Arc::clone(&rx.borrow_and_update()),
            None => rt.targets.current(),
        };
        known = snapshot.iter().map(Target::id).collect();
        let activation = activate(index, &rule, schedule, &snapshot, &slots, &rt);
        tokio::pin!(activation);
        let mut beside = futures::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                () = &mut activation => break,
                changed = next_change(&mut changes) => {
                    if let Some(current) = changed {
                        let new = newcomers(&current, &mut known);
                        if !new.is_empty() {
                            tracing::info!(rule = id, targets = new.len(), "evaluating new targets");
                            beside.push(evaluate_owned(&rule, schedule, new, &fresh, &rt));
                        }
                    }
                }
                Some(()) = futures::StreamExt::next(&mut beside), if !beside.is_empty() => {}
            }
        }
        while futures::StreamExt::next(&mut beside).await.is_some() {}
        if rt.stop.is_cancelled() {
            break;
        }
        interval.reset();
        delay = sample_jitter(rt.jitter);
        let next = wall_clock_after(schedule.interval.saturating_add(delay));
        rt.shared.update(index, |s| s.next_run = next);
    }
}

/// Evaluates one rule over `targets` and records each evaluation.
async fn activate<C>(
    index: usize,
    rule: &Arc<dyn Rule<C>>,
    schedule: RuleSchedule,
    targets: &[Target<C>],
    slots: &Semaphore,
    rt: &Runtime<C>,
) where
    C: ?Sized + Send + Sync + 'static,
{
    let id = rule.meta().id;
    rt.shared.activations.fetch_add(1, Ordering::SeqCst);
    rt.shared.update(index, |s| {
        s.running = true;
        s.last_started = Some(Utc::now());
        s.next_run = None;
    });
    tracing::debug!(rule = id, "activation started");
    evaluate_targets(rule, schedule, targets, slots, rt).await;
    rt.shared.update(index, |s| {
        s.running = false;
        s.last_finished = Some(Utc::now());
    });
    tracing::debug!(rule = id, "activation finished");
}

/// The targets of `current` not in `known`, which becomes `current`'s.
fn newcomers<C>(current: &[Target<C>], known: &mut HashSet<u64>) -> Vec<Target<C>>
where
    C: ?Sized + Send + Sync + 'static,
{
    let new = current
        .iter()
        .filter(|t| !known.contains(&t.id()))
        .cloned()
        .collect();
    *known = current.iter().map(Target::id).collect();
    new
}

/// [`evaluate_targets`] over targets it owns, to run beside an activation.
async fn evaluate_owned<C>(
    rule: &Arc<dyn Rule<C>>,
    schedule: RuleSchedule,
    targets: Vec<Target<C>>,
    slots: &Semaphore,
    rt: &Runtime<C>,
) where
    C: ?Sized + Send + Sync + 'static,
{
    evaluate_targets(rule, schedule, &targets, slots, rt).await;
}

/// The next version of the target set, once it changes; `None` once, when
/// its owner is gone, after which the set never changes again.
async fn next_change<C: ?Sized>(
    changes: &mut Option<tokio::sync::watch::Receiver<Arc<Vec<Target<C>>>>>,
) -> Option<Arc<Vec<Target<C>>>> {
    let rx = match changes {
        Some(rx) => rx,
        None => return std::future::pending().await,
    };
    if rx.changed().await.is_err() {
        *changes = None;
        return None;
    }
    let current = Arc::clone(&rx.borrow_and_update());
    Some(current)
}

/// The permits of one account, created when it is first seen.
fn account_slots<C: ?Sized>(rt: &Runtime<C>, account: &str) -> Arc<Semaphore> {
    let mut accounts = rt.accounts.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(
        accounts
            .entry(account.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(rt.per_account))),
    )
}

/// Evaluates one rule over `targets` (those its reach covers) and records
/// each evaluation.
async fn evaluate_targets<C>(
    rule: &Arc<dyn Rule<C>>,
    schedule: RuleSchedule,
    targets: &[Target<C>],
    slots: &Semaphore,
    rt: &Runtime<C>,
) where
    C: ?Sized + Send + Sync + 'static,
{
    let id = rule.meta().id;
    let reach = rule.meta().reach;
    let evaluations = targets
        .iter()
        .filter(|t| t.evaluated_by(reach))
        .map(|target| async move {
            // An account that left while this activation ran is skipped: its
            // findings may have been withdrawn already.
            let retired = || target.is_retired();
            if retired() {
                return;
            }
            // The clients first, holding no permit: resolving an account may wait
            // for STS, and a source that is backing off answers at once.
            let target = tokio::select! {
                biased;
                _ = rt.stop.cancelled() => return,
                resolved = target.resolve() => resolved,
            };
            // The account's slot first: one slow account queues behind its own
            // share, holding no slot of the rule's while it waits. (When an
            // account may hold every permit there is nothing to wait for.)
            let account = (rt.per_account < rt.permits_total)
                .then(|| account_slots(rt, &target.scope.account));
            let account_slot = match &account {
                Some(account) => match account.acquire().await {
                    Ok(slot) => Some(slot),
                    Err(_) => return,
                },
                None => None,
            };
            // Then this rule's slot, then a shared one: the rule queues for the
            // shared semaphore with at most its share, so other rules'
            // evaluations wait behind at most that many of its own.
            let Ok(slot) = slots.acquire().await else {
                return;
            };
            let Ok(permit) = rt.permits.acquire().await else {
                return;
            };
            // Shutdown may have begun, or the account left, while this
            // target waited for a permit.
            if rt.stop.is_cancelled() || retired() {
                return;
            }
            rt.shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let evaluation = match peer_snapshot(rt, rule.meta().reads, &target.scope).await {
                Ok(peers) => evaluate(Arc::clone(rule), &target, peers, schedule.timeout).await,
                // Judging without the findings it reads could resolve what it
                // cannot see: the evaluation is an error, and resolves nothing.
                Err(err) => {
                    let now = Utc::now();
                    Evaluation::from_result(id, &target.scope, now, now, Err(err.into()))
                }
            };
            // The shared permit first, so it goes to whoever waited longest.
            drop(permit);
            drop(account_slot);
            drop(slot);
            record(rt, evaluation).await;
            rt.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    futures::future::join_all(evaluations).await;
}

/// Writes one evaluation on a blocking thread (one transaction) and tells the hook.
async fn record<C: ?Sized>(rt: &Runtime<C>, evaluation: Evaluation) {
    let store = Arc::clone(&rt.store);
    let joined = tokio::task::spawn_blocking(move || {
        let result = store.record_evaluation(&evaluation);
        (evaluation, result)
    })
    .await;
    let (evaluation, result) = match joined {
        Ok(pair) => pair,
        Err(err) => {
            rt.shared.store_errors.fetch_add(1, Ordering::SeqCst);
            tracing::error!("recording an evaluation panicked: {err}");
            return;
        }
    };
    match &result {
        Ok(change) => {
            rt.shared.recorded.fetch_add(1, Ordering::SeqCst);
            // Debug only: the binary's hook logs each evaluation at info.
            tracing::debug!(
                rule = evaluation.rule,
                scope = %evaluation.scope,
                status = evaluation.status.as_str(),
                error = evaluation.error.as_deref(),
                findings = evaluation.findings.len(),
                opened = change.opened,
                reopened = change.reopened,
                resolved = change.resolved,
                "evaluation recorded"
            );
        }
        Err(err) => {
            rt.shared.store_errors.fetch_add(1, Ordering::SeqCst);
            tracing::error!(
                rule = evaluation.rule,
                scope = %evaluation.scope,
                "cannot record evaluation: {err}"
            );
        }
    }
    if let Some(hook) = &rt.hook {
        // The hook is the binary's code; a bug in it must not end this rule's
        // schedule, which would silently stop monitoring.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| hook(&evaluation, &result)));
        if called.is_err() {
            tracing::error!(rule = evaluation.rule, "the evaluation hook panicked");
        }
    }
}

/// The open findings a rule declared it reads, in one scope, read from the
/// store before the evaluation: rules read peers synchronously, and a SQLite
/// read must not run on an async worker thread.
#[derive(Debug, Default)]
struct PeerSnapshot {
    scope: Option<Scope>,
    findings: HashMap<String, Vec<Finding>>,
}

impl PeerFindings for PeerSnapshot {
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        let undeclared = || PeerError {
            rule: rule.to_owned(),
            message: format!("not declared in RuleMeta::reads for scope {scope}"),
        };
        if self.scope.as_ref() != Some(scope) {
            return Err(undeclared());
        }
        self.findings.get(rule).cloned().ok_or_else(undeclared)
    }
}

/// Loads the declared reads; any read that fails fails the whole snapshot.
async fn peer_snapshot<C: ?Sized>(
    rt: &Runtime<C>,
    reads: &[PeerRead],
    scope: &Scope,
) -> Result<Arc<dyn PeerFindings>, PeerError> {
    let store = Arc::clone(&rt.store);
    // Only what the rule declared it reads: loading every peer's findings for
    // every evaluation would cost memory in proportion to the largest rule.
    let reads: Vec<PeerRead> = reads.to_vec();
    let owned_scope = scope.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let mut findings: HashMap<String, Vec<Finding>> = HashMap::new();
        for read in reads {
            let list = store
                .open_findings_with_codes(read.rule, &owned_scope, read.codes)
                .map_err(|err| PeerError {
                    rule: read.rule.to_owned(),
                    message: err.to_string(),
                })?;
            findings
                .entry(read.rule.to_owned())
                .or_default()
                .extend(list);
        }
        Ok(PeerSnapshot {
            scope: Some(owned_scope),
            findings,
        })
    })
    .await;
    match loaded {
        Ok(Ok(snapshot)) => Ok(Arc::new(snapshot)),
        Ok(Err(err)) => {
            tracing::warn!(scope = %scope, "{err}");
            Err(err)
        }
        Err(join) => Err(PeerError {
            rule: "(any)".to_owned(),
            message: format!("the read panicked: {join}"),
        }),
    }
}

/// Prunes old history every `retention.every` until shutdown.
async fn retention_loop<C: ?Sized + Send + Sync + 'static>(
    retention: Retention,
    rt: Arc<Runtime<C>>,
) {
    let mut interval = tokio::time::interval(retention.every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = rt.stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let now = Utc::now();
        let before = |d: Duration| {
            TimeDelta::from_std(d)
                .ok()
                .and_then(|delta| now.checked_sub_signed(delta))
        };
        let (Some(resolved_before), Some(evaluations_before)) = (
            before(retention.resolved_findings),
            before(retention.evaluations),
        ) else {
            continue;
        };
        let store = Arc::clone(&rt.store);
        let pruned =
            tokio::task::spawn_blocking(move || store.prune(resolved_before, evaluations_before))
                .await;
        match pruned {
            Ok(Ok((findings, evaluations))) => {
                rt.shared
                    .pruned_findings
                    .fetch_add(findings, Ordering::SeqCst);
                rt.shared
                    .pruned_evaluations
                    .fetch_add(evaluations, Ordering::SeqCst);
                tracing::debug!(findings, evaluations, "pruned history");
            }
            Ok(Err(err)) => tracing::warn!("pruning history failed: {err}"),
            Err(err) => tracing::warn!("pruning history panicked: {err}"),
        }
    }
}
