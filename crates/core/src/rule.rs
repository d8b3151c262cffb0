//! The rule trait and what an evaluation produces.
//!
//! A rule is evaluated for one [`Scope`] (account and region) at a time, with no
//! other input than its context, and is idempotent: the engine may call it again
//! at any time, and the next activation is the retry (the AWS SDK already retries
//! single calls). A rule never panics on bad AWS data and never decides what is
//! resolved: it reports what it saw, and the store applies the lifecycle.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

use crate::finding::{Finding, Severity};

/// One AWS account in one region: the unit a rule is evaluated over.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    /// The 12-digit account ID.
    pub account: String,
    /// The region name, e.g. `eu-west-1`.
    pub region: String,
}

impl Scope {
    /// Builds a scope.
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// One kind of finding a rule reads from another rule (or from its own last
/// results) through [`PeerFindings`]. Declared in [`RuleMeta::reads`] so the
/// engine loads exactly that and nothing else: with 100k open coverage
/// findings, loading every rule's findings for every evaluation would cost
/// hundreds of megabytes per activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PeerRead {
    /// The rule whose open findings are read (may be the rule itself).
    pub rule: &'static str,
    /// Only findings with these codes; empty means every code.
    pub codes: &'static [&'static str],
}

/// A measurement a rule reports, declared so that `/metrics` can give it a
/// HELP text without the server knowing any rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MeasurementMeta {
    /// Metric name without the `blindspot_` prefix, as in [`Measurement::name`].
    pub name: &'static str,
    /// The HELP text: what the number is, in one sentence without a final period.
    pub help: &'static str,
    /// How `/metrics` folds the regions of one account into one series per
    /// (rule, account, labels). Per-region series would multiply the
    /// exposition by the number of regions (17 for an organisation in every
    /// region), so the rule says what a whole account's value means; the
    /// per-region values stay in the API's evaluations.
    pub across_regions: Aggregation,
}

/// How the values of one measurement in several regions make one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Added up: counts of things, such as resources by reason. An account
    /// whose sum is 0 exports no series: a zero count says nothing, and
    /// hundreds of accounts times dozens of label values would spend the
    /// cardinality budget on it.
    Sum,
    /// The largest: the worst of an interval, or "on in any region" of a flag.
    Max,
    /// The smallest: the oldest of a timestamp, or "off in any region" of a
    /// flag.
    Min,
}

impl Aggregation {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Max => "max",
            Aggregation::Min => "min",
        }
    }
}

/// Static facts about a rule, shown by `blindspot rules` and the API.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    /// The stable rule ID, e.g. `inspector-exclusions`.
    pub id: &'static str,
    /// Other names operators know it by, e.g. `Inspector-003`.
    pub aliases: &'static [&'static str],
    /// The usual severity of its findings.
    pub severity: Severity,
    /// One line saying what it checks.
    pub summary: &'static str,
    /// The open findings it reads through [`PeerFindings`]; the engine
    /// provides these and only these.
    pub reads: &'static [PeerRead],
    /// The measurements it reports, with their HELP texts.
    pub measurements: &'static [MeasurementMeta],
    /// Which targets it evaluates.
    pub reach: Reach,
}

/// Which targets a rule evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Every (account, region): what each account holds.
    #[default]
    Account,
    /// Only the (account, region) targets that see the whole organisation
    /// (the account blindspot runs in, when it watches an organisation):
    /// what shows only at organisation level, such as auto-enable settings
    /// or accounts Inspector does not know.
    Organization,
}

impl Reach {
    /// The lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reach::Account => "account",
            Reach::Organization => "organization",
        }
    }
}

/// The outcome of one (rule, account, region) evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationStatus {
    /// The rule saw everything it needed; absent findings may be resolved.
    Ok,
    /// The rule failed (denied, throttled, timed out...): results are incomplete.
    Error,
    /// The service does not answer in this scope (e.g. Inspector Classic retired).
    Unavailable,
}

impl EvaluationStatus {
    /// The lowercase name used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationStatus::Ok => "ok",
            EvaluationStatus::Error => "error",
            EvaluationStatus::Unavailable => "unavailable",
        }
    }

    /// Only a complete, successful evaluation may resolve findings.
    pub fn may_resolve(self) -> bool {
        self == EvaluationStatus::Ok
    }
}

/// Why a rule could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The service is not available in this scope; not the operator's error.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The evaluation failed and its results are incomplete.
    #[error("{0}")]
    Failed(String),
}

impl RuleError {
    /// The evaluation status this error maps to.
    pub fn status(&self) -> EvaluationStatus {
        match self {
            RuleError::Unavailable(_) => EvaluationStatus::Unavailable,
            RuleError::Failed(_) => EvaluationStatus::Error,
        }
    }
}

/// A number a rule measured, exported as a Prometheus gauge by the daemon,
/// e.g. `association_interval_seconds{association=...}`. Labels must have
/// bounded cardinality: never an instance ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Metric name without the `blindspot_` prefix.
    pub name: String,
    /// Extra labels besides account and region.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

impl Measurement {
    /// Builds a measurement from a name, label pairs and a value.
    pub fn new(name: &str, labels: &[(&str, &str)], value: f64) -> Self {
        Measurement {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        }
    }
}

/// What a successful evaluation reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// Every problem seen; the complete set for this scope.
    pub findings: Vec<Finding>,
    /// Measurements for metrics.
    pub measurements: Vec<Measurement>,
    /// Rule-specific counters (e.g. resources examined, runs read).
    pub counts: BTreeMap<String, u64>,
}

/// Why the findings a rule reads could not be read. The engine records the
/// evaluation as `error`: judging without them could resolve findings (or
/// restart a grace period) on the strength of data that was never seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the open findings of rule `{rule}`: {message}")]
pub struct PeerError {
    /// The rule whose findings were asked for.
    pub rule: String,
    /// What went wrong.
    pub message: String,
}

impl From<PeerError> for RuleError {
    fn from(err: PeerError) -> Self {
        RuleError::Failed(err.to_string())
    }
}

/// Read access to other rules' latest open findings (and a rule's own), so
/// that one rule can name another's finding as a root cause without the two
/// sharing code, and a rule can carry what it knew into its next evaluation.
pub trait PeerFindings: Send + Sync {
    /// The open findings of `rule` in `scope`, as last recorded, limited to
    /// the codes the reader declared in [`RuleMeta::reads`]. A read the rule
    /// did not declare, or one the store could not answer, is an error, never
    /// an empty list.
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, PeerError>;
}

/// A [`PeerFindings`] that knows nothing, for tests and isolated runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPeers;

impl PeerFindings for NoPeers {
    fn open_findings(&self, _rule: &str, _scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        Ok(Vec::new())
    }
}

/// Everything a rule gets for one evaluation.
pub struct EvalContext<'a, C: ?Sized> {
    /// The AWS clients for this scope (the ports from `blindspot-aws`).
    pub clients: &'a C,
    /// The account and region.
    pub scope: &'a Scope,
    /// The evaluation's notion of now; rules never read the clock themselves.
    pub now: DateTime<Utc>,
    /// Other rules' latest findings.
    pub peers: &'a dyn PeerFindings,
}

/// A check that blindspot runs over every account and region.
///
/// `C` is the client bundle; the engine is generic over it so this crate never
/// names an AWS type.
#[async_trait]
pub trait Rule<C: ?Sized + Sync>: Send + Sync {
    /// Static facts about the rule.
    fn meta(&self) -> &RuleMeta;

    /// Evaluates the rule in one scope.
    async fn evaluate(&self, cx: &EvalContext<'_, C>) -> Result<RuleReport, RuleError>;
}

/// The record of one (rule, account, region) evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The rule ID.
    pub rule: String,
    /// The account and region.
    #[serde(flatten)]
    pub scope: Scope,
    /// Whether the evaluation was complete.
    pub status: EvaluationStatus,
    /// The error, when status is not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// The findings seen; empty when the rule failed. Only an `ok`
    /// evaluation's set is complete enough to resolve anything.
    pub findings: Vec<Finding>,
    /// Measurements for metrics.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// Rule-specific counters.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
}

impl Evaluation {
    /// Records a finished evaluation from a rule's result.
    pub fn from_result(
        rule: &str,
        scope: &Scope,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        result: Result<RuleReport, RuleError>,
    ) -> Self {
        let (status, error, report) = match result {
            Ok(report) => (EvaluationStatus::Ok, None, report),
            Err(err) => (err.status(), Some(err.to_string()), RuleReport::default()),
        };
        Evaluation {
            rule: rule.to_owned(),
            scope: scope.clone(),
            status,
            error,
            started_at,
            finished_at,
            findings: report.findings,
            measurements: report.measurements,
            counts: report.counts,
        }
    }
}
