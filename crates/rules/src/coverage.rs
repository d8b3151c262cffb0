//! Rule `inspector2-coverage`. Placeholder until the rule lands: it reports nothing.

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{EvalContext, Rule, RuleError, RuleMeta, RuleReport, Severity};
use serde::Deserialize;
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector2-coverage";

/// `[rules.inspector2-coverage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            enabled: true,
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(300),
        }
    }
}

/// The rule.
pub struct CoverageRule {
    meta: RuleMeta,
}

impl CoverageRule {
    /// Builds the rule from its config.
    pub fn new(_config: &CoverageConfig) -> Self {
        CoverageRule {
            meta: RuleMeta {
                id: ID,
                aliases: &[],
                severity: Severity::Medium,
                summary: "placeholder",
            },
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for CoverageRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, _cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        Err(RuleError::Failed("not implemented yet".into()))
    }
}
