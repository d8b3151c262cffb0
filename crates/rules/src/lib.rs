//! blindspot-rules owns the rules: what counts as a blind spot and how it is
//! reported. One module per rule; each has its own config struct with defaults
//! and `deny_unknown_fields`, so a typo in a key is an error, not a silently
//! ignored setting.
//!
//! Rules see AWS only through the ports in `blindspot-aws`, so every rule is
//! unit-tested with in-memory fakes and never links the SDK.
//!
//! # Layout
//! - [`exclusions`]: `inspector-exclusions` (Conformity Inspector-003).
//! - [`associations`]: `inspector2-associations`, the State Manager associations.
//! - [`coverage`]: `inspector2-coverage`, enablement and per-resource coverage.

pub mod associations;
pub mod coverage;
pub mod exclusions;
#[cfg(test)]
mod testing;

use blindspot_aws::AwsClients;
use blindspot_core::Rule;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// A rule as the engine sees it: the trait object plus its schedule settings.
pub type DynRule = Arc<dyn Rule<AwsClients>>;

/// The `[rules]` table of the config file: one sub-table per rule ID.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// `[rules.inspector-exclusions]`.
    #[serde(rename = "inspector-exclusions", default)]
    pub exclusions: exclusions::ExclusionsConfig,
    /// `[rules.inspector2-associations]`.
    #[serde(rename = "inspector2-associations", default)]
    pub associations: associations::AssociationsConfig,
    /// `[rules.inspector2-coverage]`.
    #[serde(rename = "inspector2-coverage", default)]
    pub coverage: coverage::CoverageConfig,
}

/// One configured rule.
#[derive(Clone)]
pub struct RuleEntry {
    /// The rule.
    pub rule: DynRule,
    /// Whether it runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    pub interval: Duration,
    /// How long one evaluation may take before it is cancelled.
    pub timeout: Duration,
}

/// Every rule, configured, in evaluation order: a rule that reads another's
/// findings (coverage names broken associations as root causes) comes after it.
pub fn all_rules(config: &RulesConfig) -> Vec<RuleEntry> {
    vec![
        RuleEntry {
            rule: Arc::new(exclusions::ExclusionsRule::new(&config.exclusions)),
            enabled: config.exclusions.enabled,
            interval: config.exclusions.interval,
            timeout: config.exclusions.timeout,
        },
        RuleEntry {
            rule: Arc::new(associations::AssociationsRule::new(&config.associations)),
            enabled: config.associations.enabled,
            interval: config.associations.interval,
            timeout: config.associations.timeout,
        },
        RuleEntry {
            rule: Arc::new(coverage::CoverageRule::new(&config.coverage)),
            enabled: config.coverage.enabled,
            interval: config.coverage.interval,
            timeout: config.coverage.timeout,
        },
    ]
}
