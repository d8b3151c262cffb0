//! Rule `inspector2-associations`: the SSM State Manager associations that
//! Inspector v2 scans EC2 through.
//!
//! Inspector v2 learns what software an instance runs only as often as its
//! State Manager associations run: `InspectorInventoryCollection-do-not-delete`
//! gathers the software inventory, and the distributor and plugin associations
//! install and invoke the Inspector SSM plugin on Windows (and, with deep
//! inspection, on Linux). When one is deleted, slowed down, duplicated or keeps
//! failing, Inspector goes on reporting "covered" while its view of the
//! instances ages. This rule reads the associations and reports each way they
//! can degrade scanning.
//!
//! # Expectations are data
//! [`AssociationsConfig::expected`] adds to or overrides (by name) the built-in
//! table in [`default_expectations`]. Platform is descriptive: Inspector
//! creates every required association when EC2 scanning is enabled, whatever
//! instances the account has, so a missing one is reported regardless and the
//! platform only says which instances lose scanning.
//!
//! # Problems
//! [`ASSOCIATION_MISSING`], [`SCHEDULE_TOO_SLOW`],
//! [`DUPLICATE_INVENTORY_ASSOCIATION`], [`EXECUTION_FAILED`],
//! [`EXECUTION_STALE`], [`DOCUMENT_MISMATCH`], [`TARGETS_NARROWED`] and
//! [`SCHEDULE_UNPARSEABLE`]. Every finding about an association carries
//! `details.document`, which the coverage rule uses to recognise the inventory
//! association as a root cause.
//!
//! # The effective inventory association
//! Inspector does not create its own inventory association when the account
//! already gathers inventory from all instances with `AWS-GatherSoftwareInventory`;
//! it relies on that one. So when Inspector's is absent and such an association
//! exists, that association is checked in Inspector's place (schedule, health)
//! instead of reporting it missing.

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use blindspot_aws::ssm::{Association, AssociationExecution};
use blindspot_aws::{AwsClients, SsmApi};
use blindspot_core::{
    EvalContext, Finding, Measurement, MeasurementMeta, Rule, RuleError, RuleMeta, RuleReport,
    Schedule, Scope, Severity,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector2-associations";

/// Finding code: a required association is absent.
pub const ASSOCIATION_MISSING: &str = "ASSOCIATION_MISSING";
/// Finding code: the schedule fires less often than allowed.
pub const SCHEDULE_TOO_SLOW: &str = "SCHEDULE_TOO_SLOW";
/// Finding code: more than one `AWS-GatherSoftwareInventory` association.
pub const DUPLICATE_INVENTORY_ASSOCIATION: &str = "DUPLICATE_INVENTORY_ASSOCIATION";
/// Finding code: the association's executions fail.
pub const EXECUTION_FAILED: &str = "EXECUTION_FAILED";
/// Finding code: the association has not run for far longer than its schedule.
pub const EXECUTION_STALE: &str = "EXECUTION_STALE";
/// Finding code: a known association runs a document outside its accepted set.
pub const DOCUMENT_MISMATCH: &str = "DOCUMENT_MISMATCH";
/// Finding code: an Inspector association no longer targets all instances.
pub const TARGETS_NARROWED: &str = "TARGETS_NARROWED";
/// Finding code: the schedule expression does not parse.
pub const SCHEDULE_UNPARSEABLE: &str = "SCHEDULE_UNPARSEABLE";

/// The SSM document that gathers software inventory.
pub const INVENTORY_DOCUMENT: &str = "AWS-GatherSoftwareInventory";
/// The association Inspector creates to gather software inventory.
pub const INVENTORY_ASSOCIATION: &str = "InspectorInventoryCollection-do-not-delete";

/// A bound on ListAssociations pages, so a service (or fake) that keeps
/// handing out tokens fails the evaluation instead of looping forever:
/// 10,000 pages of 50 is ten times SSM's association quota.
const MAX_LIST_PAGES: usize = 10_000;

/// Which instances an association serves; it names what loses scanning.
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
    fn instances(self) -> &'static str {
        match self {
            Platform::All => "managed instances",
            Platform::Windows => "Windows instances",
            Platform::Linux => "Linux instances",
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
    /// [`ASSOCIATION_MISSING`].
    pub association_missing: Severity,
    /// [`SCHEDULE_TOO_SLOW`].
    pub schedule_too_slow: Severity,
    /// [`DUPLICATE_INVENTORY_ASSOCIATION`].
    pub duplicate_inventory_association: Severity,
    /// [`EXECUTION_FAILED`].
    pub execution_failed: Severity,
    /// [`EXECUTION_STALE`].
    pub execution_stale: Severity,
    /// [`DOCUMENT_MISMATCH`].
    pub document_mismatch: Severity,
    /// [`TARGETS_NARROWED`].
    pub targets_narrowed: Severity,
    /// [`SCHEDULE_UNPARSEABLE`].
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

/// A configuration the rule cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssociationsConfigError {
    /// An expected association without a name.
    #[error("rules.inspector2-associations.expected[{index}]: name must not be empty")]
    EmptyName {
        /// The entry's position.
        index: usize,
    },
    /// The same name twice in `expected`.
    #[error("rules.inspector2-associations.expected: `{name}` is listed twice")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A maximum interval below SSM's one-minute granularity.
    #[error(
        "rules.inspector2-associations.expected `{name}`: max_interval must be at least 1 minute"
    )]
    IntervalTooShort {
        /// The entry's name.
        name: String,
    },
}

impl AssociationsConfig {
    /// Checks what serde cannot: names present and unique, intervals sane.
    pub fn validate(&self) -> Result<(), AssociationsConfigError> {
        let mut seen = BTreeSet::new();
        for (index, entry) in self.expected.iter().enumerate() {
            if entry.name.trim().is_empty() {
                return Err(AssociationsConfigError::EmptyName { index });
            }
            if !seen.insert(entry.name.as_str()) {
                return Err(AssociationsConfigError::DuplicateName {
                    name: entry.name.clone(),
                });
            }
            if entry
                .max_interval
                .is_some_and(|d| d < Duration::from_secs(60))
            {
                return Err(AssociationsConfigError::IntervalTooShort {
                    name: entry.name.clone(),
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
    fn scheduling(&self) -> crate::Scheduling {
        crate::Scheduling {
            enabled: self.enabled,
            interval: self.interval,
            timeout: self.timeout,
        }
    }

    fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    fn validate(&self) -> Result<(), crate::ConfigIssue> {
        AssociationsConfig::validate(self).map_err(|e| {
            let key = match &e {
                AssociationsConfigError::EmptyName { index } => format!("expected[{index}].name"),
                _ => "expected".to_owned(),
            };
            crate::ConfigIssue::new(key, e.to_string())
        })
    }
}

/// The registration of `inspector2-associations`.
pub struct Associations;

impl crate::Registration for Associations {
    const ID: &'static str = ID;
    const DEMO_INTERVAL: Duration = Duration::from_secs(30);
    type Config = AssociationsConfig;

    fn build(config: &AssociationsConfig) -> crate::DynRule {
        std::sync::Arc::new(AssociationsRule::new(config))
    }
}

/// The rule.
pub struct AssociationsRule {
    meta: RuleMeta,
    expectations: Vec<ExpectedAssociation>,
    stale_grace: Duration,
    severities: Severities,
}

impl AssociationsRule {
    /// Builds the rule from its config. Call [`AssociationsConfig::validate`]
    /// first to reject a bad config with a message; an unvalidated duplicate
    /// name simply applies its last entry.
    pub fn new(config: &AssociationsConfig) -> Self {
        AssociationsRule {
            meta: RuleMeta {
                id: ID,
                aliases: &[],
                severity: Severity::High,
                summary: "Inspector v2's SSM associations exist, run on schedule, succeed and \
                          target all instances",
                reads: &[],
                measurements: &[
                    MeasurementMeta {
                        name: "association_interval_seconds",
                        help: "Effective interval between scheduled runs of an Inspector v2 SSM \
                               State Manager association, in seconds. Cached from the last \
                               evaluation",
                    },
                    MeasurementMeta {
                        name: "association_last_execution_timestamp_seconds",
                        help: "Unix time of the last execution of an Inspector v2 SSM State \
                               Manager association. Cached from the last evaluation",
                    },
                ],
            },
            expectations: config.expectations(),
            stale_grace: config.stale_grace,
            severities: config.severities.clone(),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for AssociationsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        self.check(cx.clients.ssm.as_ref(), cx.scope, cx.now).await
    }
}

/// The document name of `Name`, which may be an ARN (`...:document/<name>`).
fn document_name(name: &str) -> &str {
    if name.starts_with("arn:") {
        name.rsplit('/').next().unwrap_or(name)
    } else {
        name
    }
}

/// How the association is referred to: its name, or its ID when unnamed.
fn label(assoc: &Association) -> &str {
    match assoc.association_name.as_deref() {
        Some(name) if !name.is_empty() => name,
        _ => &assoc.association_id,
    }
}

fn targets_all_instances(assoc: &Association) -> bool {
    assoc.instance_id.is_none()
        && assoc
            .targets
            .iter()
            .any(|t| t.key.eq_ignore_ascii_case("InstanceIds") && t.values.iter().any(|v| v == "*"))
}

fn targets_text(assoc: &Association) -> String {
    if let Some(instance) = &assoc.instance_id {
        return format!("InstanceId={instance}");
    }
    let parts: Vec<String> = assoc
        .targets
        .iter()
        .map(|t| format!("{}={}", t.key, t.values.join(",")))
        .collect();
    if parts.is_empty() {
        "(none)".into()
    } else {
        parts.join("; ")
    }
}

/// A duration as an SSM rate expression, e.g. `rate(30 minutes)`.
fn rate_expression(every: Duration) -> String {
    let minutes = (every.as_secs() / 60).max(1);
    let (n, unit) = if minutes.is_multiple_of(24 * 60) {
        (minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    format!("rate({n} {unit}{})", if n == 1 { "" } else { "s" })
}

/// A duration for people, e.g. `12h` or `1day 6h` (humantime's format).
fn human(every: Duration) -> String {
    // Whole minutes are precise enough here and keep titles short.
    let minutes = Duration::from_secs(every.as_secs() / 60 * 60);
    if minutes.is_zero() {
        return humantime_serde::re::humantime::format_duration(every).to_string();
    }
    humantime_serde::re::humantime::format_duration(minutes).to_string()
}

/// What the rule learned about one examined association.
struct Examined {
    assoc: Association,
    /// The expectation it is checked against.
    expected: ExpectedAssociation,
    /// Whether it stands in for a missing Inspector association.
    stand_in: bool,
}

/// One evaluation's accumulating output.
struct Report<'a> {
    scope: &'a Scope,
    findings: Vec<Finding>,
    measurements: Vec<Measurement>,
    counts: BTreeMap<String, u64>,
}

impl Report<'_> {
    fn finding(&self, code: &str, severity: Severity, resource: &str, title: String) -> Finding {
        Finding::new(ID, code, severity, self.scope, resource, title)
    }

    fn count(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_owned()).or_default() += n;
    }
}

impl AssociationsRule {
    async fn check(
        &self,
        ssm: &dyn SsmApi,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<RuleReport, RuleError> {
        let mut report = Report {
            scope,
            findings: Vec::new(),
            measurements: Vec::new(),
            counts: BTreeMap::new(),
        };
        let all = list_all(ssm, &mut report).await?;
        report.count("associations_listed", all.len() as u64);

        let inventory: Vec<&Association> = all
            .iter()
            .filter(|a| document_name(&a.document_name) == INVENTORY_DOCUMENT)
            .collect();
        report.count("inventory_associations", inventory.len() as u64);

        let mut examined = Vec::new();
        for expected in &self.expectations {
            let found = all
                .iter()
                .find(|a| a.association_name.as_deref() == Some(expected.name.as_str()));
            if let Some(assoc) = found {
                examined.push(Examined {
                    assoc: assoc.clone(),
                    expected: expected.clone(),
                    stand_in: false,
                });
                continue;
            }
            // Inspector relies on an existing inventory association that covers
            // every instance instead of creating its own.
            let gathers_inventory = expected
                .documents
                .iter()
                .any(|d| document_name(d) == INVENTORY_DOCUMENT);
            let stand_in = gathers_inventory
                .then(|| inventory.iter().find(|a| targets_all_instances(a)))
                .flatten();
            match stand_in {
                Some(assoc) => examined.push(Examined {
                    assoc: (*assoc).clone(),
                    expected: expected.clone(),
                    stand_in: true,
                }),
                None if expected.required => self.missing(&mut report, expected),
                None => {}
            }
        }

        if inventory.len() > 1 {
            self.duplicates(&mut report, &inventory, &examined);
        }

        for item in &mut examined {
            // ListAssociations lacks the creation date and the last successful
            // execution; DescribeAssociation has both and fresher overview data.
            let described = ssm.describe_association(&item.assoc.association_id).await?;
            report.count("describe_calls", 1);
            item.assoc = merge(&item.assoc, described);
        }
        report.count("associations_examined", examined.len() as u64);

        for item in &examined {
            self.examine(ssm, &mut report, item, now).await?;
        }

        Ok(RuleReport {
            findings: report.findings,
            measurements: report.measurements,
            counts: report.counts,
        })
    }

    fn missing(&self, report: &mut Report<'_>, expected: &ExpectedAssociation) {
        let region = &report.scope.region;
        let document = expected
            .documents
            .first()
            .cloned()
            .unwrap_or_else(|| INVENTORY_DOCUMENT.to_owned());
        let schedule = expected
            .max_interval
            .map(rate_expression)
            .unwrap_or_else(|| "rate(30 minutes)".into());
        let impact = if document_name(&document) == INVENTORY_DOCUMENT {
            "Without it no software inventory is collected, so Inspector cannot see new or \
             changed packages on any instance and its EC2 findings go stale."
                .to_owned()
        } else {
            format!(
                "Without it Inspector's SSM plugin is not installed or not run on {}, so they are \
                 not scanned for vulnerabilities.",
                expected.platform.instances()
            )
        };
        let finding = report
            .finding(
                ASSOCIATION_MISSING,
                self.severities.association_missing,
                &expected.name,
                format!("SSM association {} is missing", expected.name),
            )
            .description(format!(
                "The State Manager association {} does not exist in this region. {impact}",
                expected.name
            ))
            .recommendation(
                "Recreate the association. Deactivating and reactivating Amazon EC2 scanning in \
                 Inspector also recreates its associations.",
            )
            .remediation(format!(
                "aws ssm create-association --association-name {} --name {document} --targets \
                 Key=InstanceIds,Values=* --schedule-expression \"{schedule}\" --region {region}",
                expected.name
            ))
            .detail("association_name", &expected.name)
            .detail("document", &document)
            .detail("accepted_documents", &expected.documents)
            .detail("platform", expected.platform)
            .detail(
                "expected_interval_seconds",
                expected.max_interval.map(|d| d.as_secs()),
            );
        report.findings.push(finding);
    }

    fn duplicates(
        &self,
        report: &mut Report<'_>,
        inventory: &[&Association],
        examined: &[Examined],
    ) {
        let region = report.scope.region.clone();
        // The one Inspector uses: its own, or the stand-in checked in its place.
        let kept = examined
            .iter()
            .find(|e| document_name(&e.assoc.document_name) == INVENTORY_DOCUMENT)
            .map(|e| e.assoc.association_id.clone());
        let names: Vec<String> = inventory
            .iter()
            .map(|a| match a.association_name.as_deref() {
                Some(name) if !name.is_empty() => format!("{name} ({})", a.association_id),
                _ => format!("unnamed association {}", a.association_id),
            })
            .collect();
        let extra: Vec<&&Association> = inventory
            .iter()
            .filter(|a| Some(&a.association_id) != kept.as_ref())
            .collect();
        let remediation: Vec<String> = extra
            .iter()
            .map(|a| {
                format!(
                    "aws ssm delete-association --association-id {} --region {region}",
                    a.association_id
                )
            })
            .collect();
        let listed: Vec<serde_json::Value> = inventory
            .iter()
            .map(|a| {
                serde_json::json!({
                    "association_id": a.association_id,
                    "association_name": a.association_name,
                    "schedule": a.schedule_expression,
                    "targets": targets_text(a),
                })
            })
            .collect();
        let finding = report
            .finding(
                DUPLICATE_INVENTORY_ASSOCIATION,
                self.severities.duplicate_inventory_association,
                INVENTORY_DOCUMENT,
                format!("{} associations run {INVENTORY_DOCUMENT}", inventory.len()),
            )
            .description(format!(
                "{} State Manager associations run {INVENTORY_DOCUMENT}: {}. An instance runs \
                 only one inventory association, so a second one (often user-created) can stop \
                 Inspector's own from running, and Inspector then sees the software inventory \
                 only as often as the other association collects it.",
                inventory.len(),
                names.join(", ")
            ))
            .recommendation(
                "Keep one inventory association that targets all instances at least every 30 \
                 minutes (Inspector's own) and delete the others.",
            )
            .detail("document", INVENTORY_DOCUMENT)
            .detail("associations", listed)
            .detail("kept_association_id", &kept);
        // With no association Inspector relies on, deleting "the others" would
        // delete them all: leave the choice to the operator.
        let finding = if remediation.is_empty() || kept.is_none() {
            finding
        } else {
            finding.remediation(remediation.join(" && "))
        };
        report.findings.push(finding);
    }

    async fn examine(
        &self,
        ssm: &dyn SsmApi,
        report: &mut Report<'_>,
        item: &Examined,
        now: DateTime<Utc>,
    ) -> Result<(), RuleError> {
        let assoc = &item.assoc;
        let expected = &item.expected;
        let resource = label(assoc).to_owned();
        let region = report.scope.region.clone();
        let document = document_name(&assoc.document_name).to_owned();
        let base = |f: Finding| {
            f.detail("association_id", &assoc.association_id)
                .detail("association_name", &assoc.association_name)
                .detail("document", &document)
                .detail("schedule", &assoc.schedule_expression)
                .detail("schedule_offset", assoc.schedule_offset)
                .detail("targets", targets_text(assoc))
                .detail("platform", expected.platform)
                .detail(
                    "expected_interval_seconds",
                    expected.max_interval.map(|d| d.as_secs()),
                )
                .detail("last_execution", assoc.last_execution_date)
                .detail(
                    "last_successful_execution",
                    assoc.last_successful_execution_date,
                )
                .detail(
                    "stands_in_for",
                    item.stand_in.then_some(expected.name.as_str()),
                )
        };
        let role = if item.stand_in {
            format!(
                "{resource}, which Inspector uses instead of its own {},",
                expected.name
            )
        } else {
            resource.clone()
        };

        if !expected.documents.is_empty()
            && !expected
                .documents
                .iter()
                .any(|d| document_name(d) == document)
        {
            let finding = report
                .finding(
                    DOCUMENT_MISMATCH,
                    self.severities.document_mismatch,
                    &resource,
                    format!("SSM association {resource} runs {document}"),
                )
                .description(format!(
                    "The association {role} runs the document {document}, not one of {}. \
                     Inspector depends on what that document does on {}; with another document \
                     they may not be inventoried or scanned.",
                    expected.documents.join(", "),
                    expected.platform.instances()
                ))
                .recommendation("Point the association back at the document Inspector expects.")
                .remediation(format!(
                    "aws ssm update-association --association-id {} --name {} --region {region}",
                    assoc.association_id, expected.documents[0]
                ))
                .detail("accepted_documents", &expected.documents);
            report.findings.push(base(finding));
        }

        if expected.all_instances && !targets_all_instances(assoc) {
            let finding = report
                .finding(
                    TARGETS_NARROWED,
                    self.severities.targets_narrowed,
                    &resource,
                    format!("SSM association {resource} does not target all instances"),
                )
                .description(format!(
                    "The association {role} targets {} instead of all instances \
                     (InstanceIds=*). {} outside those targets are not inventoried or scanned \
                     by Inspector.",
                    targets_text(assoc),
                    capitalise(expected.platform.instances())
                ))
                .recommendation("Target all instances again.")
                .remediation(format!(
                    "aws ssm update-association --association-id {} --targets \
                     Key=InstanceIds,Values=* --region {region}",
                    assoc.association_id
                ));
            report.findings.push(base(finding));
        }

        let interval = match &assoc.schedule_expression {
            Some(expr) => {
                match Schedule::parse_with_offset(expr, assoc.schedule_offset) {
                    Ok(schedule) => schedule.effective_interval(now),
                    Err(err) => {
                        let mut finding = report
                        .finding(
                            SCHEDULE_UNPARSEABLE,
                            self.severities.schedule_unparseable,
                            &resource,
                            format!("SSM association {resource} has a schedule blindspot cannot read"),
                        )
                        .description(format!(
                            "The schedule of the association {role} could not be understood \
                             ({err}), so blindspot cannot tell how often Inspector's data is \
                             refreshed by it, nor whether it is overdue."
                        ))
                        .recommendation(
                            "Check the schedule expression; set a plain rate() expression.",
                        )
                        .detail("error", err.to_string());
                        if let Some(max) = expected.max_interval {
                            finding = finding.remediation(format!(
                                "aws ssm update-association --association-id {} \
                             --schedule-expression \"{}\" --region {region}",
                                assoc.association_id,
                                rate_expression(max)
                            ));
                        }
                        report.findings.push(base(finding));
                        // Without an interval neither the speed nor the staleness
                        // can be judged; health is still checked below.
                        self.failed(ssm, report, item, &resource, &role).await?;
                        return Ok(());
                    }
                }
            }
            // No schedule: the association ran once when it was created.
            None => None,
        };

        if let Some(every) = interval {
            report.measurements.push(Measurement::new(
                "association_interval_seconds",
                &[("association", &expected.name)],
                every.as_secs() as f64,
            ));
        }

        if let Some(max) = expected.max_interval {
            if interval.is_none_or(|every| every > max) {
                let actual = interval.map(human).unwrap_or_else(|| "never again".into());
                let delay = if document == INVENTORY_DOCUMENT {
                    "new or changed software on an instance reaches Inspector"
                } else {
                    "Inspector's plugin is installed or run, and so instances are scanned,"
                };
                let finding = report
                    .finding(
                        SCHEDULE_TOO_SLOW,
                        self.severities.schedule_too_slow,
                        &resource,
                        format!(
                            "SSM association {resource} runs every {actual}, expected every {}",
                            human(max)
                        ),
                    )
                    .description(format!(
                        "The association {role} fires at most every {actual} ({}), but should \
                         fire at least every {}: {delay} up to {actual} late.",
                        assoc
                            .schedule_expression
                            .as_deref()
                            .unwrap_or("no schedule"),
                        human(max)
                    ))
                    .recommendation(format!(
                        "Set the schedule back to {}.",
                        rate_expression(max)
                    ))
                    .remediation(format!(
                        "aws ssm update-association --association-id {} --schedule-expression \
                         \"{}\" --region {region}",
                        assoc.association_id,
                        rate_expression(max)
                    ))
                    .detail("actual_interval_seconds", interval.map(|d| d.as_secs()))
                    .detail("expected_interval_seconds", max.as_secs());
                report.findings.push(base(finding));
            }
        }

        self.failed(ssm, report, item, &resource, &role).await?;

        let last = assoc
            .last_execution_date
            .or(assoc.last_successful_execution_date);
        if let Some(last) = last {
            report.measurements.push(Measurement::new(
                "association_last_execution_timestamp_seconds",
                &[("association", &expected.name)],
                last.timestamp() as f64,
            ));
        }
        if let Some(every) = interval {
            self.stale(report, item, &resource, &role, every, last, now, &base);
        }
        Ok(())
    }

    /// EXECUTION_FAILED from the overview, with the latest execution named.
    async fn failed(
        &self,
        ssm: &dyn SsmApi,
        report: &mut Report<'_>,
        item: &Examined,
        resource: &str,
        role: &str,
    ) -> Result<(), RuleError> {
        let assoc = &item.assoc;
        let overview = assoc.overview.clone().unwrap_or_default();
        let failed_targets = overview
            .aggregated_count
            .iter()
            .filter(|(status, _)| status.eq_ignore_ascii_case("Failed"))
            .map(|(_, n)| *n)
            .sum::<i64>();
        let status_failed = overview
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Failed"));
        if !status_failed && failed_targets <= 0 {
            return Ok(());
        }
        let latest = latest_execution(ssm, &assoc.association_id).await?;
        report.count("execution_pages", 1);
        let region = &report.scope.region;
        let document = document_name(&assoc.document_name);
        let remediation = match &latest {
            Some(exec) => format!(
                "aws ssm describe-association-execution-targets --association-id {} \
                 --execution-id {} --filters Key=Status,Value=Failed --region {region}",
                assoc.association_id, exec.execution_id
            ),
            None => format!(
                "aws ssm describe-association-executions --association-id {} --region {region}",
                assoc.association_id
            ),
        };
        let finding = report
            .finding(
                EXECUTION_FAILED,
                self.severities.execution_failed,
                resource,
                format!("SSM association {resource} is failing"),
            )
            .description(format!(
                "The association {role} reports status {} with {failed_targets} failed target(s). \
                 On those {} the document {document} does not complete, so Inspector gets no \
                 fresh {} from them.",
                overview.status.as_deref().unwrap_or("unknown"),
                item.expected.platform.instances(),
                if document == INVENTORY_DOCUMENT {
                    "software inventory"
                } else {
                    "plugin installation or scan"
                }
            ))
            .recommendation(
                "Look at the failed targets' output (SSM Agent running, instance profile \
                 permissions, network access to SSM), fix the cause, then run the association \
                 again.",
            )
            .remediation(remediation)
            .detail("association_id", &assoc.association_id)
            .detail("association_name", &assoc.association_name)
            .detail("document", document)
            .detail("schedule", &assoc.schedule_expression)
            .detail("targets", targets_text(assoc))
            .detail("last_execution", assoc.last_execution_date)
            .detail(
                "last_successful_execution",
                assoc.last_successful_execution_date,
            )
            .detail("status", &overview.status)
            .detail("detailed_status", &overview.detailed_status)
            .detail("failed_targets", failed_targets)
            .detail("status_counts", &overview.aggregated_count)
            .detail(
                "latest_execution",
                latest.as_ref().map(|e| {
                    serde_json::json!({
                        "execution_id": e.execution_id,
                        "status": e.status,
                        "created_time": e.created_time,
                        "resource_count_by_status": e.resource_count_by_status,
                    })
                }),
            )
            .detail(
                "stands_in_for",
                item.stand_in.then_some(item.expected.name.as_str()),
            );
        report.findings.push(finding);
        Ok(())
    }

    /// EXECUTION_STALE: no execution within twice the association's own
    /// interval plus the grace period; never run counts from creation.
    #[allow(clippy::too_many_arguments)]
    fn stale(
        &self,
        report: &mut Report<'_>,
        item: &Examined,
        resource: &str,
        role: &str,
        every: Duration,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        base: &dyn Fn(Finding) -> Finding,
    ) {
        let assoc = &item.assoc;
        let Some(bound) = every
            .checked_mul(2)
            .and_then(|d| d.checked_add(self.stale_grace))
            .and_then(|d| chrono::Duration::from_std(d).ok())
        else {
            return;
        };
        let (since, never_ran) = match (last, assoc.created_date) {
            (Some(last), _) => (last, false),
            (None, Some(created)) => (created, true),
            // Neither date: nothing to measure staleness from.
            (None, None) => return,
        };
        let age = now - since;
        if age <= bound {
            return;
        }
        let region = &report.scope.region;
        let what = if never_ran {
            format!(
                "has never run since it was created {} ago",
                human(age.to_std().unwrap_or_default())
            )
        } else {
            format!("last ran {} ago", human(age.to_std().unwrap_or_default()))
        };
        let finding = report
            .finding(
                EXECUTION_STALE,
                self.severities.execution_stale,
                resource,
                format!("SSM association {resource} {what}"),
            )
            .description(format!(
                "The association {role} should run every {} but {what}, longer than twice its \
                 interval plus {} of grace. Inspector's data from it is that old; a duplicate \
                 inventory association, a paused or throttled State Manager or unreachable \
                 instances are the usual causes.",
                human(every),
                human(self.stale_grace)
            ))
            .recommendation(
                "Find out why it does not run (duplicate associations, failed executions), then \
                 run it once to refresh Inspector's data.",
            )
            .remediation(format!(
                "aws ssm start-associations-once --association-ids {} --region {region}",
                assoc.association_id
            ))
            .detail("last_execution", last)
            .detail(
                "last_successful_execution",
                assoc.last_successful_execution_date,
            )
            .detail("created", assoc.created_date)
            .detail("age_seconds", age.num_seconds())
            .detail("interval_seconds", every.as_secs())
            .detail("stale_after_seconds", bound.num_seconds());
        report.findings.push(base(finding));
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Every association in the region, page by page.
async fn list_all(
    ssm: &dyn SsmApi,
    report: &mut Report<'_>,
) -> Result<Vec<Association>, RuleError> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let mut seen_tokens = BTreeSet::new();
    for _ in 0..MAX_LIST_PAGES {
        let page = ssm.list_associations(&[], token.take()).await?;
        report.count("list_pages", 1);
        all.extend(page.items);
        match page.next_token {
            Some(next) if !next.is_empty() => {
                // A token handed out twice would loop forever.
                if !seen_tokens.insert(next.clone()) {
                    return Err(RuleError::Failed(format!(
                        "ssm:ListAssociations returned the token `{next}` twice; the listing \
                         cannot complete"
                    )));
                }
                token = Some(next);
            }
            _ => return Ok(all),
        }
    }
    Err(RuleError::Failed(format!(
        "ssm:ListAssociations did not finish within {MAX_LIST_PAGES} pages"
    )))
}

/// The newest execution (DescribeAssociationExecutions is newest first).
async fn latest_execution(
    ssm: &dyn SsmApi,
    association_id: &str,
) -> Result<Option<AssociationExecution>, RuleError> {
    let page = ssm
        .describe_association_executions(association_id, None)
        .await?;
    Ok(page.items.into_iter().max_by_key(|e| e.created_time))
}

/// DescribeAssociation's answer, with anything it left out taken from the
/// ListAssociations entry.
fn merge(listed: &Association, described: Association) -> Association {
    Association {
        association_id: if described.association_id.is_empty() {
            listed.association_id.clone()
        } else {
            described.association_id
        },
        association_name: described
            .association_name
            .or_else(|| listed.association_name.clone()),
        document_name: if described.document_name.is_empty() {
            listed.document_name.clone()
        } else {
            described.document_name
        },
        document_version: described
            .document_version
            .or_else(|| listed.document_version.clone()),
        targets: if described.targets.is_empty() && described.instance_id.is_none() {
            listed.targets.clone()
        } else {
            described.targets
        },
        instance_id: described.instance_id.or_else(|| listed.instance_id.clone()),
        schedule_expression: described
            .schedule_expression
            .or_else(|| listed.schedule_expression.clone()),
        schedule_offset: described.schedule_offset.or(listed.schedule_offset),
        last_execution_date: described.last_execution_date.or(listed.last_execution_date),
        last_successful_execution_date: described
            .last_successful_execution_date
            .or(listed.last_successful_execution_date),
        created_date: described.created_date.or(listed.created_date),
        overview: described.overview.or_else(|| listed.overview.clone()),
    }
}
