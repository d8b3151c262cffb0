//! `[rules.inspector-exclusions]`: the rule's config table.

use blindspot_core::Severity;
use serde::Deserialize;
use std::time::Duration;

/// Which runs of a template to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunSelection {
    /// The most recent completed run of each template (the default).
    Latest,
    /// Every completed run in the window.
    All,
}

/// `[rules.inspector-exclusions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExclusionsConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How far back to look for completed runs.
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
    /// `latest` or `all`.
    pub runs: RunSelection,
    /// Severity of exclusion and failed-run findings (Conformity rates them Medium).
    pub severity: Severity,
    /// Calls of one evaluation in flight at once within its region: runs'
    /// exclusions are listed and described side by side, so a sweep takes
    /// about the longest chain of dependent calls rather than their sum.
    /// The adapter's pacing per (account, region, service) still applies.
    pub concurrency: usize,
}

impl Default for ExclusionsConfig {
    fn default() -> Self {
        ExclusionsConfig {
            enabled: true,
            // Classic runs are hours to days apart; hourly is plenty.
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(300),
            lookback: Duration::from_secs(30 * 24 * 3600),
            runs: RunSelection::Latest,
            severity: Severity::Medium,
            concurrency: 4,
        }
    }
}

impl crate::RuleConfig for ExclusionsConfig {
    crate::scheduling_fields!();

    fn validate(&self) -> Result<(), crate::ConfigIssue> {
        if self.concurrency == 0 {
            return Err(crate::ConfigIssue::new(
                "concurrency",
                "must be at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}
