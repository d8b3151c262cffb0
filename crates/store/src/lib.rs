//! blindspot-store owns persistence: the [`Store`] trait and its embedded SQLite
//! implementation, including the finding lifecycle.
//!
//! The lifecycle is applied per (rule, account, region) evaluation, in one
//! transaction, by [`Store::record_evaluation`]:
//! - a finding seen again is updated: `last_seen`, and its text only where it
//!   changed;
//! - a new one is opened;
//! - an open finding absent from an `ok` evaluation is resolved;
//! - a resolved or withdrawn one seen again reopens, keeping its history;
//! - an evaluation with status `error` or `unavailable` resolves nothing. It
//!   is still recorded, and any finding it did report is opened or updated:
//!   what a failed evaluation saw is real, only its silence means nothing.
//!
//! A finding can also end without being fixed: it is *withdrawn*
//! ([`FindingStatus::Withdrawn`], with a reason) when its scope is no longer
//! configured ([`Store::withdraw_unconfigured`]) or has been `unavailable` for
//! long enough ([`Store::withdraw_unavailable`]). `error` never resolves or
//! withdraws anything.
//!
//! Every transition is also appended to a per-finding history
//! ([`FindingEvent`]), so reopening never loses when a problem came and went.
//!
//! The same transaction keeps one [`ScopeHealth`] row per (rule, account,
//! region): the latest status, the last success and the failures since. It
//! is what `/metrics` reports. Retention ([`Store::prune`]) deletes old
//! evaluations and long-closed (resolved or withdrawn) findings, but never a
//! scope's health, so a scope that has failed for longer than evaluations are
//! kept still has its last success.
//!
//! The trait is the backend boundary: a server database could implement it
//! later for several replicas. Nothing outside this crate knows SQL.
//!
//! # Layout
//! - this file: the [`Store`] trait and the types it speaks.
//! - [`sqlite`]: [`SqliteStore`], the embedded implementation (one writer
//!   connection, a pool of read-only connections), and [`default_db_path`].
//! - `migrations`: the ordered schema scripts behind `PRAGMA user_version`.

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

mod migrations;
pub mod sqlite;

pub use sqlite::{default_db_path, default_db_path_from, SqliteStore};

/// Whether a finding is still a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// Seen in the latest complete evaluation of its scope.
    Open,
    /// Absent from a later complete evaluation: fixed.
    Resolved,
    /// Closed without being fixed, because nothing can see it any more: its
    /// scope is no longer configured, or has been unavailable for long. Seen
    /// again, it reopens.
    Withdrawn,
}

impl FindingStatus {
    /// The lower-case name, as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Resolved => "resolved",
            FindingStatus::Withdrawn => "withdrawn",
        }
    }
}

/// A finding with its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// The finding as last seen.
    #[serde(flatten)]
    pub finding: Finding,
    /// Open, resolved or withdrawn.
    pub status: FindingStatus,
    /// When it was first opened.
    pub first_seen: DateTime<Utc>,
    /// When an evaluation last saw it.
    pub last_seen: DateTime<Utc>,
    /// When it was last resolved, if it is resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was withdrawn, if it is withdrawn.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// Why it was withdrawn, if it is withdrawn.
    pub withdrawn_reason: Option<String>,
    /// How many times it reopened after being resolved or withdrawn.
    pub reopen_count: u32,
}

/// Filters and paging for [`Store::findings`]. Empty filters match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingQuery {
    /// Only this status.
    pub status: Option<FindingStatus>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this region.
    pub region: Option<String>,
    /// Only this account.
    pub account: Option<String>,
    /// At most this many (the store caps it).
    pub limit: usize,
    /// An opaque cursor from a previous page.
    pub cursor: Option<String>,
}

/// One page of findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingPage {
    /// The findings, in a stable order.
    pub findings: Vec<StoredFinding>,
    /// The cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

/// A stored evaluation: an [`Evaluation`] without its findings, plus counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    /// Row ID.
    pub id: i64,
    /// Rule ID.
    pub rule: String,
    /// Account and region.
    #[serde(flatten)]
    pub scope: Scope,
    /// Status.
    pub status: EvaluationStatus,
    /// Error, if any.
    pub error: Option<String>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// Findings the evaluation reported.
    pub findings_seen: u64,
    /// Findings it opened (new or reopened).
    pub opened: u64,
    /// Findings it resolved.
    pub resolved: u64,
    /// Measurements, kept so metrics survive a restart.
    pub measurements: Vec<Measurement>,
    /// Rule-specific counters.
    pub counts: BTreeMap<String, u64>,
}

/// A transition in a finding's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingEventKind {
    /// First seen.
    Opened,
    /// Seen again after being resolved or withdrawn.
    Reopened,
    /// Absent from a complete evaluation.
    Resolved,
    /// Closed because nothing can see it any more (see
    /// [`FindingStatus::Withdrawn`]); the event carries the reason.
    Withdrawn,
}

/// One entry of a finding's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEvent {
    /// What happened.
    pub kind: FindingEventKind,
    /// When (the causing evaluation's end).
    pub at: DateTime<Utc>,
    /// The causing evaluation, unless retention has pruned it since; none
    /// for a withdrawal.
    pub evaluation_id: Option<i64>,
    /// Why, for a withdrawal; none for the other kinds.
    pub reason: Option<String>,
}

/// The evaluation health of one (rule, account, region), kept up to date by
/// [`Store::record_evaluation`] in the same transaction and never pruned by
/// retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeHealth {
    /// Rule ID.
    pub rule: String,
    /// Account and region.
    #[serde(flatten)]
    pub scope: Scope,
    /// The latest evaluation's status.
    pub status: EvaluationStatus,
    /// The latest evaluation's error, if any.
    pub error: Option<String>,
    /// When the latest evaluation started.
    pub started_at: DateTime<Utc>,
    /// When the latest evaluation finished.
    pub finished_at: DateTime<Utc>,
    /// When the last `ok` evaluation finished; none if the scope never
    /// succeeded (as far as this database remembers).
    pub last_success_at: Option<DateTime<Utc>>,
    /// `error` evaluations since the last `ok` one (since the first
    /// evaluation if none was ok). `unavailable` evaluations neither count
    /// nor reset it: the service was not there to be checked, which is not a
    /// failure of the check, but nothing was verified either.
    pub consecutive_failures: u64,
    /// When the first of the current run of `unavailable` evaluations
    /// finished; none unless the latest evaluation is `unavailable`.
    pub unavailable_since: Option<DateTime<Utc>>,
}

/// What [`Store::record_evaluation`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleChange {
    /// New findings.
    pub opened: u64,
    /// Resolved or withdrawn findings seen again.
    pub reopened: u64,
    /// Open findings seen again.
    pub updated: u64,
    /// Open findings absent from an `ok` evaluation.
    pub resolved: u64,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A cursor that this store did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// An evaluation that cannot be recorded as given, e.g. one carrying a
    /// finding of another rule or scope.
    #[error("invalid evaluation: {0}")]
    InvalidEvaluation(String),
    /// The database was written by a newer blindspot; opening it could lose data.
    #[error(
        "the database schema is version {found}, but this blindspot only knows up to \
         version {known}; upgrade blindspot or use another database file"
    )]
    NewerSchema {
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        known: u32,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

/// Persistence of findings and evaluations.
///
/// Implementations are synchronous and must be safe to share across threads;
/// async callers run them on a blocking thread.
pub trait Store: Send + Sync {
    /// Applies one evaluation's lifecycle atomically.
    fn record_evaluation(&self, evaluation: &Evaluation) -> Result<LifecycleChange, StoreError>;
    /// Lists findings.
    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError>;
    /// One finding by ID.
    fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError>;
    /// A finding's transitions (opened, resolved, reopened), oldest first;
    /// empty for an unknown ID.
    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError>;
    /// The open findings of a rule in a scope.
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, StoreError>;
    /// The open findings of a rule in a scope with one of `codes` (all codes
    /// when empty). Backends should filter in the query: a rule may hold 100k
    /// open findings of which a reader wants a handful.
    fn open_findings_with_codes(
        &self,
        rule: &str,
        scope: &Scope,
        codes: &[&str],
    ) -> Result<Vec<Finding>, StoreError> {
        let all = self.open_findings(rule, scope)?;
        Ok(if codes.is_empty() {
            all
        } else {
            all.into_iter()
                .filter(|f| codes.contains(&f.code.as_str()))
                .collect()
        })
    }
    /// Recent evaluations, newest first, optionally of one rule.
    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError>;
    /// The latest evaluation of every (rule, account, region), unless
    /// retention has pruned it.
    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError>;
    /// The health of every (rule, account, region) evaluated and not
    /// forgotten by [`Store::withdraw_unconfigured`], sorted by rule,
    /// account and region. Retention never prunes it.
    fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError>;
    /// Open finding counts by (rule, severity, account, region).
    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError>;
    /// Withdraws, with `reason` at `now`, the open findings of every (rule,
    /// account, region) that is not in `configured`, and forgets the health
    /// of those scopes (so `/metrics` stops reporting a scope nothing
    /// evaluates any more). Returns how many findings it withdrew. Meant for
    /// start-up, with every enabled rule crossed with every configured
    /// account and region. The set must be complete: a configured scope left
    /// out loses its open findings until its next evaluation reopens them.
    fn withdraw_unconfigured(
        &self,
        configured: &BTreeSet<(String, Scope)>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Withdraws the open findings of every scope whose evaluations have all
    /// been `unavailable` for longer than `longer_than` before `now` (see
    /// [`ScopeHealth::unavailable_since`]). Returns how many it withdrew.
    fn withdraw_unavailable(
        &self,
        longer_than: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Deletes findings resolved or withdrawn before `resolved_before` (with
    /// their history) and evaluations finished before `evaluations_before`.
    /// Scope health is never pruned.
    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError>;
    /// Proves the store can still write (for readiness).
    fn check_writable(&self) -> Result<(), StoreError>;
}
