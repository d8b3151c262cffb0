//! Rule `inspector-exclusions`: Inspector Classic assessment exclusions
//! (Trend Micro Conformity rule Inspector-003, Medium).
//!
//! An exclusion is what an assessment run could not check ("Agent not found",
//! "Unsupported OS version", ...). The rule reads the current runs of each
//! assessment template, lists and describes their exclusions, and reports one
//! finding per exclusion and scoped instance. Runs that FAILED or ended in
//! ERROR are findings of their own.
//!
//! "Current" means: the most recent completed run of each template within the
//! lookback window. An older run of the same template is superseded and its
//! exclusions are no longer current (`runs = "all"` evaluates every run in the
//! window instead). A FAILED or ERROR run older than its template's latest
//! completed run is superseded the same way.
//!
//! A finding's resource is the scoped instance; an exclusion that names no
//! instance is reported on the assessment template, so that the next run of
//! the template keeps the finding rather than opening a new one. A failed run
//! is reported on the run: the run itself is the problem.
//!
//! AWS ended Inspector Classic on 2026-05-20; where its API no longer answers,
//! the port reports `Unavailable` and the evaluation reads as `unavailable`.
//!
//! # Layout
//! - [`config`]: [`ExclusionsConfig`], [`RunSelection`].
//! - [`fetch`]: [`fetch::fetch`] reads the runs and the selected runs'
//!   exclusions into a [`Snapshot`], paging through the one helper,
//!   `blindspot_aws::paginate`.
//! - [`judge`]: [`judge::judge`] turns a snapshot into findings;
//!   [`judge::select_runs`] decides which runs are current (the fetch asks it
//!   whose exclusions to read).

pub mod config;
pub mod fetch;
pub mod judge;

pub use config::{ExclusionsConfig, RunSelection};
pub use fetch::Snapshot;
pub use judge::{install_agent_command, title_code};

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{EvalContext, Rule, RuleError, RuleMeta, RuleReport};
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector-exclusions";

/// The registration of `inspector-exclusions`.
pub struct Exclusions;

impl crate::Registration for Exclusions {
    const ID: &'static str = ID;
    // Classic runs are hours apart; a minute shows the lifecycle in the demo.
    const DEMO_INTERVAL: Duration = Duration::from_secs(60);
    type Config = ExclusionsConfig;

    fn build(config: &ExclusionsConfig) -> crate::DynRule {
        std::sync::Arc::new(ExclusionsRule::new(config))
    }
}

/// The rule.
pub struct ExclusionsRule {
    meta: RuleMeta,
    config: ExclusionsConfig,
}

impl ExclusionsRule {
    /// Builds the rule from its config.
    pub fn new(config: &ExclusionsConfig) -> Self {
        ExclusionsRule {
            meta: RuleMeta {
                id: ID,
                aliases: &["Inspector-003"],
                severity: config.severity,
                summary: "Inspector Classic assessment exclusions: what runs could not check",
                reads: &[],
                measurements: &[],
                reach: blindspot_core::Reach::Account,
            },
            config: config.clone(),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for ExclusionsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        let snapshot = fetch::fetch(cx.clients.classic.as_ref(), &self.config, cx.now).await?;
        Ok(judge::judge(&snapshot, &self.config, cx.scope))
    }
}

#[cfg(test)]
mod tests;
