//! blindspot-rules owns the rules: what counts as a blind spot, how it is
//! found, and how it is reported. Nothing outside this crate names a rule:
//! the binary, the engine and the server learn everything about one (its ID,
//! config table, checks of that config, measurements and their HELP texts,
//! demo interval) from the registry at the bottom of this file.
//!
//! # The shape of a rule
//! Every rule is a folder, `src/<rule>/`, split the same way:
//! - `mod.rs`: the ID, [`RuleMeta`](blindspot_core::RuleMeta), the
//!   [`Registration`] and the `Rule` impl that wires fetch to judge;
//! - `config.rs`: its `[rules.<id>]` table, with defaults and
//!   `deny_unknown_fields`, and [`RuleConfig::validate`];
//! - `fetch.rs`: async; talks to the ports in `blindspot-aws` and returns a
//!   plain snapshot (or, for coverage, a stream of items). It decides nothing;
//! - `judge.rs`: synchronous and pure; turns the snapshot, the config, `now`
//!   and the peer findings into a [`RuleReport`](blindspot_core::RuleReport).
//!   No I/O, no clock, no interior state;
//! - `tests.rs`: judge tests as data (a snapshot in, findings out) and fetch
//!   tests against the scripted fakes of `blindspot_aws::testing`.
//!
//! Rules never read the clock (`clippy.toml` bans it in this crate): `now`
//! comes from the engine, so a judge is a function of its inputs.
//!
//! # Layout
//! - [`exclusions`]: `inspector-exclusions` (Conformity Inspector-003).
//! - [`associations`]: `inspector2-associations`, the State Manager associations.
//! - [`coverage`]: `inspector2-coverage`, enablement and per-resource coverage.
//! - [`organization`]: `inspector2-organization`, the delegated administrator,
//!   membership and auto-enable of the organisation.
//! - [`text`]: wording shared by the rules' findings (durations).

pub mod associations;
pub mod coverage;
pub mod exclusions;
pub mod organization;
#[cfg(test)]
mod test_support;
pub mod text;

use blindspot_aws::AwsClients;
use blindspot_core::{Rule, RuleMeta};
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A rule as the engine sees it.
pub type DynRule = Arc<dyn Rule<AwsClients>>;

/// When and whether a rule runs: the keys every `[rules.<id>]` table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduling {
    /// `enabled`.
    pub enabled: bool,
    /// `interval`: how often the daemon runs it.
    pub interval: Duration,
    /// `timeout`: how long one evaluation may take before it is cancelled.
    pub timeout: Duration,
}

/// A problem with one key of a rule's config that serde cannot see, e.g. two
/// entries with the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigIssue {
    /// The key below `[rules.<id>]`, dotted, with `[n]` for array entries,
    /// e.g. `expected[0].name`; empty for the table as a whole.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigIssue {
    /// An issue with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Implements [`RuleConfig::scheduling`] and [`RuleConfig::set_interval`]
/// for a config struct with the common `enabled`, `interval` and `timeout`
/// fields (serde cannot flatten them into a `deny_unknown_fields` table).
macro_rules! scheduling_fields {
    () => {
        fn scheduling(&self) -> $crate::Scheduling {
            $crate::Scheduling {
                enabled: self.enabled,
                interval: self.interval,
                timeout: self.timeout,
            }
        }

        fn set_interval(&mut self, interval: std::time::Duration) {
            self.interval = interval;
        }
    };
}
pub(crate) use scheduling_fields;

/// A rule's config that the registry can work with.
pub trait RuleConfig: DeserializeOwned + Default + Clone + fmt::Debug + Send + Sync {
    /// `enabled`, `interval` and `timeout`.
    fn scheduling(&self) -> Scheduling;

    /// Sets `interval`; the demo uses it to show the lifecycle within minutes.
    fn set_interval(&mut self, interval: Duration);

    /// Checks what serde cannot; called for every rule when the config loads.
    fn validate(&self) -> Result<(), ConfigIssue> {
        Ok(())
    }
}

/// What a rule's module registers: everything outside the module needs to
/// know about it.
pub trait Registration {
    /// The rule ID: the `[rules.<id>]` table and `RuleMeta::id`.
    const ID: &'static str;
    /// How often the demo runs it.
    const DEMO_INTERVAL: Duration;
    /// The `[rules.<id>]` table.
    type Config: RuleConfig;
    /// The rule, configured.
    fn build(config: &Self::Config) -> DynRule;
}

/// A config key that is wrong, named in full (`rules.<id>.<key>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}` {message}")]
pub struct RulesConfigError {
    /// The full dotted key, e.g. `rules.inspector2-associations.expected[0].name`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// One configured rule.
#[derive(Clone)]
pub struct RuleEntry {
    /// The rule.
    pub rule: DynRule,
    /// Whether it runs, how often and for how long at most.
    pub scheduling: Scheduling,
    /// How often the demo runs it.
    pub demo_interval: Duration,
}

impl RuleEntry {
    fn of<R: Registration>(config: &R::Config) -> Self {
        RuleEntry {
            rule: R::build(config),
            scheduling: config.scheduling(),
            demo_interval: R::DEMO_INTERVAL,
        }
    }

    /// Static facts about the rule.
    pub fn meta(&self) -> &RuleMeta {
        self.rule.meta()
    }
}

fn validate_one<R: Registration>(config: &R::Config) -> Result<(), RulesConfigError> {
    let at = |key: &str| {
        if key.is_empty() {
            format!("rules.{}", R::ID)
        } else {
            format!("rules.{}.{key}", R::ID)
        }
    };
    let scheduling = config.scheduling();
    for (key, value) in [
        ("interval", scheduling.interval),
        ("timeout", scheduling.timeout),
    ] {
        if value.is_zero() {
            return Err(RulesConfigError {
                key: at(key),
                message: "must be greater than zero".to_owned(),
            });
        }
    }
    config.validate().map_err(|issue| RulesConfigError {
        key: at(&issue.key),
        message: issue.message,
    })
}

/// Declares the rules: one line per rule, in evaluation order (a rule that
/// reads another's findings comes after it). It generates [`RulesConfig`],
/// whose fields are the rules' config tables, and [`all_rules`].
macro_rules! registry {
    ($($module:ident :: $rule:ident),+ $(,)?) => {
        /// The `[rules]` table of the config file: one sub-table per rule ID.
        /// An unknown rule ID is an error, as is an unknown key inside a table.
        #[derive(Debug, Clone, Default)]
        pub struct RulesConfig {
            $(
                #[doc = concat!("The config of [`", stringify!($module), "`].")]
                pub(crate) $module: <$module::$rule as Registration>::Config,
            )+
        }

        /// Every rule ID, in evaluation order.
        pub const RULE_IDS: &[&str] = &[$(<$module::$rule as Registration>::ID),+];

        impl RulesConfig {
            /// Checks every rule's config; the error names the full key.
            pub fn validate(&self) -> Result<(), RulesConfigError> {
                $(validate_one::<$module::$rule>(&self.$module)?;)+
                Ok(())
            }

            /// Every rule's demo interval in place of its configured one.
            pub fn with_demo_intervals(mut self) -> Self {
                $(self.$module.set_interval(<$module::$rule as Registration>::DEMO_INTERVAL);)+
                self
            }
        }

        /// Every rule, configured, in evaluation order.
        pub fn all_rules(config: &RulesConfig) -> Vec<RuleEntry> {
            vec![$(RuleEntry::of::<$module::$rule>(&config.$module)),+]
        }

        impl<'de> Deserialize<'de> for RulesConfig {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Tables;
                impl<'de> Visitor<'de> for Tables {
                    type Value = RulesConfig;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a table of rule tables")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RulesConfig, A::Error> {
                        let mut config = RulesConfig::default();
                        // Each table is deserialized straight from the file,
                        // so an error inside it keeps its line.
                        while let Some(key) = map.next_key::<String>()? {
                            $(
                                if key == <$module::$rule as Registration>::ID {
                                    config.$module = map.next_value()?;
                                    continue;
                                }
                            )+
                            return Err(de::Error::unknown_field(&key, RULE_IDS));
                        }
                        Ok(config)
                    }
                }
                deserializer.deserialize_map(Tables)
            }
        }
    };
}

registry! {
    exclusions::Exclusions,
    associations::Associations,
    coverage::Coverage,
    organization::Organization,
}
