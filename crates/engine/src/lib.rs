//! blindspot-engine owns *when* rules run: the one-shot runner behind
//! `blindspot check` and the interval scheduler behind `blindspot run`.
//!
//! It is generic over the client bundle `C`, so it never names an AWS type, and
//! it never decides a finding's lifecycle: it hands each finished
//! [`blindspot_core::Evaluation`] to the store.
//!
//! # Layout
//! - this file: the boundary types ([`Target`] and its [`ClientSource`],
//!   [`RuleSchedule`], [`RuleState`], [`Control`], [`EngineError`]).
//! - [`runner`]: evaluating one rule in one scope safely (timeout, panic
//!   isolation) and [`run_once`], every rule over every target once.
//! - [`scheduler`]: [`Scheduler`], each rule on its own interval until shutdown.

use async_trait::async_trait;
use blindspot_core::{Reach, RuleMeta, Scope};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

pub mod runner;
pub mod scheduler;

pub use runner::{run_once, RunOptions};
pub use scheduler::{
    EvaluationHook, Retention, ScheduledRule, Scheduler, SchedulerOptions, SchedulerReport,
};
pub use targets::TargetSet;

mod targets;

/// What a target's clients are at one moment: the scope its evaluations are
/// recorded under, and the clients, or why there are none (e.g. the account's
/// identity could not be learned): then the evaluation is recorded as `error`
/// with that reason.
pub struct Resolved<C: ?Sized> {
    /// Account and region.
    pub scope: Scope,
    /// The clients for the scope.
    pub clients: Result<Arc<C>, String>,
}

impl<C: ?Sized> Clone for Resolved<C> {
    fn clone(&self) -> Self {
        Resolved {
            scope: self.scope.clone(),
            clients: self.clients.clone(),
        }
    }
}

/// Where a target's clients come from. The engine asks before every
/// evaluation, so a source that cannot give clients now (an account whose
/// credentials STS refused at start-up) may give them later, without a
/// restart. A source decides itself how often it really retries (a backoff)
/// and answers at once while it backs off; it may also name a different scope
/// once it knows better (the account ID behind a profile).
#[async_trait]
pub trait ClientSource<C: ?Sized>: Send + Sync {
    /// The clients for an evaluation starting now.
    async fn resolve(&self) -> Resolved<C>;

    /// Whether the target is no longer watched (its account left the
    /// organisation): an activation that began before it left skips it
    /// rather than record it again after its findings were withdrawn.
    fn retired(&self) -> bool {
        false
    }
}

/// Clients known up front are a source that always gives the same answer.
#[async_trait]
impl<C: ?Sized + Send + Sync> ClientSource<C> for Resolved<C> {
    async fn resolve(&self) -> Resolved<C> {
        self.clone()
    }
}

/// One (account, region) to evaluate: a [`ClientSource`], asked before each
/// evaluation, and its [`Reach`]: whether it also sees the organisation.
pub struct Target<C: ?Sized> {
    source: Arc<dyn ClientSource<C>>,
    reach: Reach,
    /// Unique for the process's life (a counter, never reused), shared by
    /// clones: how the scheduler tells a target it has seen from a new one.
    id: u64,
}

/// The next [`Target`] ID.
static NEXT_TARGET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<C: ?Sized + Send + Sync + 'static> Target<C> {
    /// A target whose clients come from `source`; it sees its own account.
    pub fn new(source: Arc<dyn ClientSource<C>>) -> Self {
        Target {
            source,
            reach: Reach::Account,
            id: NEXT_TARGET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// This target also sees the whole organisation (the account blindspot
    /// runs in, when it watches an organisation): rules of
    /// [`Reach::Organization`] evaluate it too.
    #[must_use]
    pub fn seeing_organization(mut self) -> Self {
        self.reach = Reach::Organization;
        self
    }

    /// Whether a rule of `reach` evaluates this target: an account rule
    /// evaluates every target, an organisation rule only those that see the
    /// organisation.
    pub fn evaluated_by(&self, reach: Reach) -> bool {
        reach == Reach::Account || self.reach == Reach::Organization
    }

    /// This target's identity, kept by its clones and never given to
    /// another target: how the scheduler tells a target it has evaluated
    /// before from a new one when the set changes.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether its source says it is no longer watched.
    pub fn is_retired(&self) -> bool {
        self.source.retired()
    }

    /// A target whose clients (or the reason there are none) never change,
    /// as in `blindspot check`, which resolves every account once.
    pub fn fixed(scope: Scope, clients: Result<Arc<C>, String>) -> Self {
        Target::new(Arc::new(Resolved { scope, clients }))
    }

    /// Asks the source for the clients of an evaluation starting now.
    pub async fn resolve(&self) -> Resolved<C> {
        self.source.resolve().await
    }
}

impl<C: ?Sized> Clone for Target<C> {
    fn clone(&self) -> Self {
        Target {
            source: Arc::clone(&self.source),
            reach: self.reach,
            id: self.id,
        }
    }
}

/// When and how long a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleSchedule {
    /// Time between the end of one activation and the start of the next tick.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// An evaluation running longer is cancelled and recorded as `error`.
    #[serde(with = "secs")]
    pub timeout: Duration,
}

mod secs {
    use serde::Serializer;
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

/// The scheduler's view of one rule, for `/api/v1/rules` and readiness.
#[derive(Debug, Clone, Serialize)]
pub struct RuleState {
    /// Static facts.
    pub meta: RuleMeta,
    /// Its schedule.
    pub schedule: RuleSchedule,
    /// Whether an activation is running now.
    pub running: bool,
    /// When the last activation started.
    pub last_started: Option<DateTime<Utc>>,
    /// When the last activation finished (all targets evaluated).
    pub last_finished: Option<DateTime<Utc>>,
    /// When the next activation is due.
    pub next_run: Option<DateTime<Utc>>,
}

/// Errors of the engine's control surface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// No enabled rule has this ID.
    #[error("unknown or disabled rule `{0}`")]
    UnknownRule(String),
    /// The scheduler is shutting down.
    #[error("the scheduler is shutting down")]
    ShuttingDown,
    /// Two scheduled rules share an ID, so "run now" and the API could not
    /// tell them apart.
    #[error("rule `{0}` is scheduled twice")]
    DuplicateRule(String),
    /// A schedule or option that cannot work, e.g. a zero interval.
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(String),
}

/// What the HTTP server may ask of the running scheduler.
pub trait Control: Send + Sync {
    /// Every enabled rule's state.
    fn rules(&self) -> Vec<RuleState>;
    /// Wakes a rule now ("run now"); it runs once even if asked twice.
    fn run_now(&self, rule_id: &str) -> Result<(), EngineError>;
}
