//! Rule `inspector-exclusions`. Placeholder until the rule lands: it reports nothing.

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{EvalContext, Rule, RuleError, RuleMeta, RuleReport, Severity};
use serde::Deserialize;
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector-exclusions";

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
}

impl Default for ExclusionsConfig {
    fn default() -> Self {
        ExclusionsConfig {
            enabled: true,
            interval: Duration::from_secs(60 * 60),
            timeout: Duration::from_secs(300),
        }
    }
}

/// The rule.
pub struct ExclusionsRule {
    meta: RuleMeta,
}

impl ExclusionsRule {
    /// Builds the rule from its config.
    pub fn new(_config: &ExclusionsConfig) -> Self {
        ExclusionsRule {
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
impl Rule<AwsClients> for ExclusionsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, _cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        Err(RuleError::Failed("not implemented yet".into()))
    }
}
