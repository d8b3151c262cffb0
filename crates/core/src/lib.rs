//! blindspot-core owns the vocabulary every other crate speaks: [`Finding`],
//! [`Severity`], the [`Rule`] trait, evaluation outcomes and SSM schedule
//! expressions.
//!
//! It knows nothing about AWS, SQL or HTTP: rules reach AWS through the ports in
//! `blindspot-aws`, the store persists what this crate defines, and the server
//! renders it. Keeping this crate free of those dependencies keeps it quick to
//! compile and lets every layer be tested on its own.
//!
//! # Layout
//! - [`finding`]: findings, severities and their stable fingerprints.
//! - [`rule`]: the rule trait, its evaluation context and outcome.
//! - [`schedule`]: SSM `rate()`, `cron()` and `at()` expressions and their effective interval.

pub mod finding;
pub mod rule;
pub mod schedule;

pub use finding::{fingerprint, Finding, Severity, SeverityParseError};
pub use rule::{
    Aggregation, EvalContext, Evaluation, EvaluationStatus, Measurement, MeasurementMeta, NoPeers,
    PeerError, PeerFindings, PeerRead, Reach, Rule, RuleError, RuleMeta, RuleReport, Scope,
};
pub use schedule::{CronSchedule, Schedule, ScheduleError};
pub mod telemetry;
pub use telemetry::CallCounter;
