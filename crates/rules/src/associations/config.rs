//! `[rules.inspector2-associations]`: the expectations, severities and
//! timings the judge applies, and the checks serde cannot make.

use super::{INVENTORY_ASSOCIATION, INVENTORY_DOCUMENT};
use blindspot_core::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which instances an association serves: it names what loses scanning, and
/// for a missing association it weighs the finding by whether the region has
/// any such managed nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Every managed instance.
    #[default]
    All,
    /// Windows instances.
    Windows,
    /// Linux instances.
    Linux,
}

impl Platform {
    /// The instances it serves, as a finding's text names them.
    pub(super) fn instances(self) -> &'static str {
        match self {
            Platform::All => "managed instances",
            Platform::Windows => "Windows instances",
            Platform::Linux => "Linux instances",
        }
    }

    /// The `PlatformType` of DescribeInstanceInformation it matches; `None`
    /// for [`Platform::All`], which is not tied to one.
    pub(super) fn platform_type(self) -> Option<&'static str> {
        match self {
            Platform::All => None,
            Platform::Windows => Some("Windows"),
            Platform::Linux => Some("Linux"),
        }
    }
}

/// One expected association, `[[rules.inspector2-associations.expected]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAssociation {
    /// The association name (`AssociationName`).
    pub name: String,
    /// The documents it may run (names, or ARNs ending in `document/<name>`);
    /// empty accepts whatever is found.
    #[serde(default)]
    pub documents: Vec<String>,
    /// The longest allowed effective interval; absent accepts whatever is found.
    #[serde(default, with = "humantime_serde::option")]
    pub max_interval: Option<Duration>,
    /// Whether its absence is a finding.
    #[serde(default)]
    pub required: bool,
    /// Which instances it serves.
    #[serde(default)]
    pub platform: Platform,
    /// Whether it must target all instances (`InstanceIds=*`).
    #[serde(default = "yes")]
    pub all_instances: bool,
}

fn yes() -> bool {
    true
}

/// Severities per problem, `[rules.inspector2-associations.severities]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Severities {
    /// [`ASSOCIATION_MISSING`](super::ASSOCIATION_MISSING); `info` instead
    /// for a Windows or Linux association in a region without such nodes.
    pub association_missing: Severity,
    /// [`SCHEDULE_TOO_SLOW`](super::SCHEDULE_TOO_SLOW).
    pub schedule_too_slow: Severity,
    /// [`DUPLICATE_INVENTORY_ASSOCIATION`](super::DUPLICATE_INVENTORY_ASSOCIATION).
    pub duplicate_inventory_association: Severity,
    /// [`EXECUTION_FAILED`](super::EXECUTION_FAILED).
    pub execution_failed: Severity,
    /// [`EXECUTION_STALE`](super::EXECUTION_STALE).
    pub execution_stale: Severity,
    /// [`DOCUMENT_MISMATCH`](super::DOCUMENT_MISMATCH).
    pub document_mismatch: Severity,
    /// [`TARGETS_NARROWED`](super::TARGETS_NARROWED).
    pub targets_narrowed: Severity,
    /// [`SCHEDULE_UNPARSEABLE`](super::SCHEDULE_UNPARSEABLE).
    pub schedule_unparseable: Severity,
}

impl Default for Severities {
    fn default() -> Self {
        Severities {
            // No inventory or no plugin: a whole class of instances goes unscanned.
            association_missing: Severity::High,
            // Scanning continues, only later than it should.
            schedule_too_slow: Severity::Medium,
            // SSM runs one inventory association per instance: Inspector's own
            // may stop running altogether.
            duplicate_inventory_association: Severity::High,
            execution_failed: Severity::High,
            execution_stale: Severity::High,
            document_mismatch: Severity::High,
            // Some instances drop out of scanning; the rest are fine.
            targets_narrowed: Severity::Low,
            schedule_unparseable: Severity::Medium,
        }
    }
}

/// `[rules.inspector2-associations]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Slack on top of twice an association's own interval before its last
    /// execution counts as stale.
    #[serde(with = "humantime_serde")]
    pub stale_grace: Duration,
    /// Whether the built-in Inspector expectations apply; `expected` entries
    /// are added to them, replacing a built-in one of the same name.
    pub builtin_expectations: bool,
    /// The operator's expectations.
    pub expected: Vec<ExpectedAssociation>,
    /// Severities per problem.
    pub severities: Severities,
}

impl Default for AssociationsConfig {
    fn default() -> Self {
        AssociationsConfig {
            enabled: true,
            interval: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(300),
            stale_grace: Duration::from_secs(3_600),
            builtin_expectations: true,
            expected: Vec::new(),
            severities: Severities::default(),
        }
    }
}

/// A configuration the rule cannot work with; each names the entry of
/// `expected` at fault by its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssociationsConfigError {
    /// An expected association without a name.
    #[error("rules.inspector2-associations.expected[{index}].name: must not be empty")]
    EmptyName {
        /// The entry's position.
        index: usize,
    },
    /// The same name twice in `expected`.
    #[error(
        "rules.inspector2-associations.expected[{index}].name: `{name}` is already listed at \
         expected[{first}]"
    )]
    DuplicateName {
        /// The name.
        name: String,
        /// The position of its first entry.
        first: usize,
        /// The position of the second entry, the one at fault.
        index: usize,
    },
    /// A maximum interval below SSM's one-minute granularity.
    #[error(
        "rules.inspector2-associations.expected[{index}].max_interval: `{name}` must allow at \
         least 1 minute"
    )]
    IntervalTooShort {
        /// The entry's name.
        name: String,
        /// The entry's position.
        index: usize,
    },
}

impl AssociationsConfigError {
    /// The key at fault, relative to the rule's table, e.g. `expected[1].name`.
    pub fn key(&self) -> String {
        match self {
            AssociationsConfigError::EmptyName { index }
            | AssociationsConfigError::DuplicateName { index, .. } => {
                format!("expected[{index}].name")
            }
            AssociationsConfigError::IntervalTooShort { index, .. } => {
                format!("expected[{index}].max_interval")
            }
        }
    }

    /// What is wrong with [`key`](Self::key), without repeating it.
    pub fn problem(&self) -> String {
        match self {
            AssociationsConfigError::EmptyName { .. } => "must not be empty".to_owned(),
            AssociationsConfigError::DuplicateName { name, first, .. } => {
                format!("`{name}` is already listed at expected[{first}]")
            }
            AssociationsConfigError::IntervalTooShort { .. } => {
                "must be at least 1 minute, SSM's finest schedule".to_owned()
            }
        }
    }
}

impl AssociationsConfig {
    /// Checks what serde cannot: names present and unique, intervals sane.
    pub fn validate(&self) -> Result<(), AssociationsConfigError> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, entry) in self.expected.iter().enumerate() {
            if entry.name.trim().is_empty() {
                return Err(AssociationsConfigError::EmptyName { index });
            }
            if let Some(first) = seen.insert(entry.name.as_str(), index) {
                return Err(AssociationsConfigError::DuplicateName {
                    name: entry.name.clone(),
                    first,
                    index,
                });
            }
            if entry
                .max_interval
                .is_some_and(|d| d < Duration::from_secs(60))
            {
                return Err(AssociationsConfigError::IntervalTooShort {
                    name: entry.name.clone(),
                    index,
                });
            }
        }
        Ok(())
    }

    /// The expectations in force: the built-in table (unless switched off)
    /// with the operator's entries replacing or extending it by name.
    pub fn expectations(&self) -> Vec<ExpectedAssociation> {
        let mut out = if self.builtin_expectations {
            default_expectations()
        } else {
            Vec::new()
        };
        for entry in &self.expected {
            match out.iter_mut().find(|e| e.name == entry.name) {
                Some(existing) => *existing = entry.clone(),
                None => out.push(entry.clone()),
            }
        }
        out
    }
}

/// The associations Inspector v2 creates when EC2 scanning is enabled.
pub fn default_expectations() -> Vec<ExpectedAssociation> {
    let hours = |h: u64| Some(Duration::from_secs(h * 3_600));
    vec![
        ExpectedAssociation {
            name: INVENTORY_ASSOCIATION.into(),
            documents: vec![INVENTORY_DOCUMENT.into()],
            max_interval: Some(Duration::from_secs(30 * 60)),
            required: true,
            platform: Platform::All,
            all_instances: true,
        },
        ExpectedAssociation {
            name: "InspectorDistributor-do-not-delete".into(),
            documents: vec![
                "AmazonInspector2-ConfigureInspectorSsmPlugin".into(),
                "AWS-ConfigureAWSPackage".into(),
            ],
            max_interval: hours(12),
            required: true,
            platform: Platform::Windows,
            all_instances: true,
        },
        ExpectedAssociation {
            name: "InvokeInspectorSsmPlugin-do-not-delete".into(),
            documents: vec!["AmazonInspector2-InvokeInspectorSsmPlugin".into()],
            max_interval: hours(6),
            required: true,
            platform: Platform::Windows,
            all_instances: true,
        },
        // The Linux deep-inspection pair exists only where deep inspection is
        // used: checked when present, never reported missing, and taken as found.
        ExpectedAssociation {
            name: "InspectorLinuxDistributor-do-not-delete".into(),
            documents: Vec::new(),
            max_interval: None,
            required: false,
            platform: Platform::Linux,
            all_instances: false,
        },
        ExpectedAssociation {
            name: "InvokeInspectorLinuxSsmPlugin-do-not-delete".into(),
            documents: Vec::new(),
            max_interval: None,
            required: false,
            platform: Platform::Linux,
            all_instances: false,
        },
    ]
}

impl crate::RuleConfig for AssociationsConfig {
    crate::scheduling_fields!();

    fn validate(&self) -> Result<(), crate::ConfigIssue> {
        AssociationsConfig::validate(self)
            .map_err(|e| crate::ConfigIssue::new(e.key(), e.problem()))
    }
}
