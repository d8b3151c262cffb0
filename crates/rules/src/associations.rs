//! Rule `inspector2-associations`. Placeholder until the rule lands: it reports nothing.

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{EvalContext, Rule, RuleError, RuleMeta, RuleReport, Severity};
use serde::Deserialize;
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector2-associations";

/// `[rules.inspector2-associations]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssociationsConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for AssociationsConfig {
    fn default() -> Self {
        AssociationsConfig {
            enabled: true,
            interval: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(300),
        }
    }
}

/// The rule.
pub struct AssociationsRule {
    meta: RuleMeta,
}

impl AssociationsRule {
    /// Builds the rule from its config.
    pub fn new(_config: &AssociationsConfig) -> Self {
        AssociationsRule {
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
impl Rule<AwsClients> for AssociationsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, _cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        Err(RuleError::Failed("not implemented yet".into()))
    }
}
