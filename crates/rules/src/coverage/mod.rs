//! Rule `inspector2-coverage`: whether Inspector v2 is enabled, and which
//! resources it knows but does not scan (Security Hub Inspector.1–4, Prowler
//! `inspector2_is_enabled` and `inspector2_coverage_recently_scanned`).
//!
//! What Inspector Classic called exclusions, Inspector v2 reports as coverage:
//! every resource it knows, with a scan status of `ACTIVE` or `INACTIVE` and a
//! reason. One evaluation of one account and region makes these calls:
//!
//! 1. `BatchGetAccountStatus` for the scope's account: Inspector itself and
//!    EC2, ECR, Lambda and Lambda code scanning. A denied answer (an
//!    `AccessDenied` error, the account in `failedAccounts`, or a state whose
//!    `errorCode` is `ACCESS_DENIED`) fails the evaluation: it must never read
//!    as "enabled" or as "nothing to report". When Inspector is not enabled in
//!    the region, that is the one finding and coverage is not listed.
//! 2. `GetConfiguration`, for the EC2 scan mode: in `EC2_HYBRID` mode agentless
//!    scanning covers unmanaged instances and missing or stale inventory, so
//!    those findings are lowered to `hybrid_severity`.
//! 3. `ListCoverage` filtered server-side to `scanStatusCode EQUALS INACTIVE` and
//!    the configured resource types: one finding per resource and scan type,
//!    coded with the reason, graded by the table in [`reasons`].
//! 4. `ListCoverage` filtered to `ACTIVE` and the same types, for recency:
//!    a resource whose `lastScannedAt` is older than `scan_stale_after` gets
//!    `SCAN_STALE`. Two filtered passes rather than one unfiltered pass cost at
//!    most one extra call (each pass's last page is partial) and let an operator
//!    who sets `scan_stale = "off"` skip the ACTIVE resources, the bulk of a
//!    large account, entirely.
//!
//! Both passes stream: a page is processed and dropped before the next is
//! requested, and only findings are kept, so memory does not grow with the
//! number of covered resources.
//!
//! # Transient reasons and the grace period
//! `PENDING_INITIAL_SCAN` (and `SCAN_IN_PROGRESS`, `PENDING_REVIVAL_SCAN`) is
//! normal for a while. The API gives no "since" timestamp for it, so the rule
//! tracks when it first saw each (resource, scan type, reason) in memory, and
//! also reads its own open findings from the peers port, whose
//! `details.first_seen` survives a daemon restart once a finding was reported.
//! A transient state becomes a finding once it has lasted `pending_grace`.
//! After a restart, a state not yet reported starts its grace again: the rule
//! errs towards reporting late, never towards reporting a resource that was
//! only briefly pending.
//!
//! # Contract with `inspector2-associations`
//! For `NO_INVENTORY` and `STALE_INVENTORY` the rule names an open finding of
//! rule [`ASSOCIATIONS_RULE`] in the same scope as the likely cause, when that
//! finding has one of the codes in [`ROOT_CAUSE_CODES`] and is about the
//! inventory association: its resource is [`INVENTORY_ASSOCIATION`] or its
//! `details.document` is [`INVENTORY_DOCUMENT`]. These strings are the whole
//! coupling between the two rules.

pub mod reasons;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use blindspot_aws::inspector2::{
    AccountStatus, CoverageFilter, CoveredResource, EnablementState, StringFilter,
};
use blindspot_aws::{AwsClients, Inspector2Api};
use blindspot_core::{
    fingerprint, EvalContext, Finding, Measurement, MeasurementMeta, PeerRead, Rule, RuleError,
    RuleMeta, RuleReport, Scope, Severity,
};
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use reasons::{Disposition, ReasonSpec};

/// The rule ID.
pub const ID: &str = "inspector2-coverage";

/// The rule whose open findings may explain missing inventory.
pub const ASSOCIATIONS_RULE: &str = "inspector2-associations";

/// Codes of the transient reasons, whose first-seen time the rule keeps in its
/// own open findings (`details.first_seen`) so the grace survives a restart.
pub const TRANSIENT_CODES: &[&str] = &[
    "PENDING_INITIAL_SCAN",
    "SCAN_IN_PROGRESS",
    "PENDING_REVIVAL_SCAN",
];

/// What the rule reads through `PeerFindings`: the association rule's
/// findings that can explain missing inventory, and its own transient ones.
const READS: &[PeerRead] = &[
    PeerRead {
        rule: ASSOCIATIONS_RULE,
        codes: ROOT_CAUSE_CODES,
    },
    PeerRead {
        rule: ID,
        codes: TRANSIENT_CODES,
    },
];
/// The association Inspector creates to gather software inventory.
pub const INVENTORY_ASSOCIATION: &str = "InspectorInventoryCollection-do-not-delete";
/// The SSM document that association runs.
pub const INVENTORY_DOCUMENT: &str = "AWS-GatherSoftwareInventory";
/// The association finding codes that explain missing or stale inventory.
pub const ROOT_CAUSE_CODES: &[&str] = &[
    "ASSOCIATION_MISSING",
    "DUPLICATE_INVENTORY_ASSOCIATION",
    "EXECUTION_STALE",
    "SCHEDULE_TOO_SLOW",
    "EXECUTION_FAILED",
];
/// The coverage reasons a broken inventory association explains.
const ROOT_CAUSE_REASONS: &[&str] = &["NO_INVENTORY", "STALE_INVENTORY"];

/// Finding code: Inspector v2 is not enabled in the region.
pub const INSPECTOR_DISABLED: &str = "INSPECTOR_DISABLED";
/// Finding code: EC2 scanning is off.
pub const EC2_SCANNING_DISABLED: &str = "EC2_SCANNING_DISABLED";
/// Finding code: ECR scanning is off.
pub const ECR_SCANNING_DISABLED: &str = "ECR_SCANNING_DISABLED";
/// Finding code: Lambda standard scanning is off.
pub const LAMBDA_SCANNING_DISABLED: &str = "LAMBDA_SCANNING_DISABLED";
/// Finding code: Lambda code scanning is off.
pub const LAMBDA_CODE_SCANNING_DISABLED: &str = "LAMBDA_CODE_SCANNING_DISABLED";
/// Finding code: an ACTIVE resource whose last scan is too old.
pub const SCAN_STALE: &str = "SCAN_STALE";
/// The code used for a resource Inspector reports without any reason.
pub const UNSPECIFIED_REASON: &str = "UNSPECIFIED";

/// The `CoverageResourceType` values of the Inspector v2 model; a configured
/// type outside this list is a config error, because a misspelt type would
/// silently filter every resource out.
pub const RESOURCE_TYPES: &[&str] = &[
    "AWS_EC2_INSTANCE",
    "AWS_ECR_CONTAINER_IMAGE",
    "AWS_ECR_REPOSITORY",
    "AWS_LAMBDA_FUNCTION",
    "CODE_REPOSITORY",
    "Microsoft.Compute/virtualMachines",
    "Microsoft.ContainerRegistry/registry/containerImage",
    "Microsoft.ContainerRegistry/registry/containerRepository",
    "Microsoft.Web/sites",
    "Microsoft.ContainerRegistry/registries",
    "MACHINE_IMAGE",
    "cloudfunctions.googleapis.com/Function",
    "compute.googleapis.com/Instance",
    "artifactregistry.googleapis.com/Repository",
    "artifactregistry.googleapis.com/DockerImage",
];

/// `CoverageStringFilterList` holds 1 to 10 filters (the model's `max`).
const MAX_STRING_FILTERS: usize = 10;

/// A guard against a service that keeps returning next tokens: 10,000 pages of
/// 200 is two million resources, far beyond any real account and region.
const MAX_PAGES: u64 = 10_000;

/// A check's severity, or `off` to skip it. Written as a severity name or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The check does not report.
    Off,
    /// The check reports at this severity.
    On(Severity),
}

impl Level {
    /// The severity, unless the check is off.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::On(severity) => Some(severity),
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.eq_ignore_ascii_case("off") {
            return Ok(Level::Off);
        }
        text.parse::<Severity>().map(Level::On).map_err(|_| {
            de::Error::custom(format!(
                "unknown level `{text}`; expected off, info, low, medium, high or critical"
            ))
        })
    }
}

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
    /// `INSPECTOR_DISABLED` (default critical).
    pub inspector_disabled: Level,
    /// `EC2_SCANNING_DISABLED` (default high).
    pub ec2_disabled: Level,
    /// `ECR_SCANNING_DISABLED` (default medium).
    pub ecr_disabled: Level,
    /// `LAMBDA_SCANNING_DISABLED` (default medium; `off` where Lambda is not used).
    pub lambda_disabled: Level,
    /// `LAMBDA_CODE_SCANNING_DISABLED` (default low).
    pub lambda_code_disabled: Level,
    /// The resource types whose coverage is listed (`CoverageResourceType`).
    #[serde(deserialize_with = "resource_types")]
    pub resource_types: Vec<String>,
    /// Per-reason overrides of the table: a severity reports the reason (a
    /// benign one too), `off` counts it without reporting.
    #[serde(deserialize_with = "reason_levels")]
    pub reasons: BTreeMap<String, Level>,
    /// How long a transient reason (`PENDING_INITIAL_SCAN`...) may last before
    /// it is a finding.
    #[serde(with = "humantime_serde")]
    pub pending_grace: Duration,
    /// `SCAN_STALE` (default medium); `off` also skips the ACTIVE pass.
    pub scan_stale: Level,
    /// How old an ACTIVE resource's `lastScannedAt` may be (default 3 days, as
    /// Prowler's `inspector2_coverage_recently_scanned`).
    #[serde(with = "humantime_serde")]
    pub scan_stale_after: Duration,
    /// The severity that findings agentless scanning covers are lowered to in
    /// `EC2_HYBRID` scan mode.
    pub hybrid_severity: Severity,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            enabled: true,
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(300),
            inspector_disabled: Level::On(Severity::Critical),
            ec2_disabled: Level::On(Severity::High),
            ecr_disabled: Level::On(Severity::Medium),
            lambda_disabled: Level::On(Severity::Medium),
            lambda_code_disabled: Level::On(Severity::Low),
            resource_types: [
                "AWS_EC2_INSTANCE",
                "AWS_ECR_CONTAINER_IMAGE",
                "AWS_ECR_REPOSITORY",
                "AWS_LAMBDA_FUNCTION",
                "CODE_REPOSITORY",
            ]
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
            reasons: BTreeMap::new(),
            pending_grace: Duration::from_secs(24 * 3600),
            scan_stale: Level::On(Severity::Medium),
            scan_stale_after: Duration::from_secs(3 * 24 * 3600),
            hybrid_severity: Severity::Low,
        }
    }
}

fn resource_types<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let types = Vec::<String>::deserialize(deserializer)?;
    if types.is_empty() {
        return Err(de::Error::custom(
            "resource_types is empty; list at least one CoverageResourceType",
        ));
    }
    if types.len() > MAX_STRING_FILTERS {
        return Err(de::Error::custom(format!(
            "resource_types lists {} types; ListCoverage takes at most {MAX_STRING_FILTERS} \
             filters per criterion",
            types.len()
        )));
    }
    for t in &types {
        if !RESOURCE_TYPES.contains(&t.as_str()) {
            return Err(de::Error::custom(format!(
                "unknown resource type `{t}`; expected one of {}",
                RESOURCE_TYPES.join(", ")
            )));
        }
    }
    Ok(types)
}

fn reason_levels<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Level>, D::Error> {
    let levels = BTreeMap::<String, Level>::deserialize(deserializer)?;
    // Unknown reasons are accepted, since AWS adds reasons over time, but they
    // must look like one, so that a lowercase or misspelt key stands out.
    for key in levels.keys() {
        if !is_reason_like(key) {
            return Err(de::Error::custom(format!(
                "`{key}` is not a scan status reason; reasons are UPPER_SNAKE_CASE, e.g. NO_INVENTORY"
            )));
        }
    }
    Ok(levels)
}

fn is_reason_like(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl crate::RuleConfig for CoverageConfig {
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
}

/// The registration of `inspector2-coverage`.
pub struct Coverage;

impl crate::Registration for Coverage {
    const ID: &'static str = ID;
    const DEMO_INTERVAL: Duration = Duration::from_secs(45);
    type Config = CoverageConfig;

    fn build(config: &CoverageConfig) -> crate::DynRule {
        std::sync::Arc::new(CoverageRule::new(config))
    }
}

/// The rule.
pub struct CoverageRule {
    meta: RuleMeta,
    config: CoverageConfig,
    /// When each transient (resource, scan type, reason) was first seen, per
    /// scope; replaced after every successful evaluation, so it only holds
    /// what is transient now.
    first_seen: Mutex<HashMap<Scope, HashMap<String, DateTime<Utc>>>>,
}

impl CoverageRule {
    /// Builds the rule from its config.
    pub fn new(config: &CoverageConfig) -> Self {
        CoverageRule {
            meta: RuleMeta {
                id: ID,
                aliases: &["Inspector.1", "Inspector.2", "Inspector.3", "Inspector.4"],
                severity: Severity::High,
                summary: "Inspector v2 is enabled for EC2, ECR and Lambda, and scans every \
                          resource it knows, recently",
                reads: READS,
                measurements: &[
                    MeasurementMeta {
                        name: "coverage_resources",
                        help: "Resources in Inspector v2 coverage by scan status reason. Cached \
                               from the last evaluation",
                    },
                    MeasurementMeta {
                        name: "coverage_scanning_enabled",
                        help: "Whether Inspector v2 (scan=inspector) or one of its scan types is \
                               ENABLED (1) or not (0). Cached from the last evaluation",
                    },
                    MeasurementMeta {
                        name: "coverage_ec2_hybrid_scan_mode",
                        help: "Whether the account scans EC2 in hybrid mode (1) or not (0). \
                               Cached from the last evaluation",
                    },
                ],
            },
            config: config.clone(),
            first_seen: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for CoverageRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        let first_seen = {
            // A poisoned lock only means an earlier evaluation panicked; the map
            // is still a valid cache.
            let map = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
            map.get(cx.scope).cloned().unwrap_or_default()
        };
        let mut run = Evaluator::new(&self.config, cx, first_seen);
        run.run(cx.clients.inspector2.as_ref()).await?;
        let (report, seen) = run.finish();
        let mut map = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_empty() {
            map.remove(cx.scope);
        } else {
            map.insert(cx.scope.clone(), seen);
        }
        Ok(report)
    }
}

/// One scan type's enablement check.
struct ScanCheck<'s> {
    code: &'static str,
    what: &'static str,
    level: Level,
    state: Option<&'s EnablementState>,
    /// Required by the model (`ResourceState.ec2` and `.ecr`); Lambda's are optional.
    required: bool,
    /// The `ResourceScanType` name that `aws inspector2 enable` takes.
    api_type: &'static str,
}

/// The likely cause of missing inventory, taken from an association finding.
#[derive(Debug, Clone)]
struct RootCause {
    id: String,
    code: String,
    title: String,
}

fn root_cause(findings: Vec<Finding>) -> Option<RootCause> {
    findings
        .into_iter()
        .filter(|f| {
            ROOT_CAUSE_CODES.contains(&f.code.as_str())
                && (f.resource == INVENTORY_ASSOCIATION
                    || f.details.get("document").and_then(|d| d.as_str())
                        == Some(INVENTORY_DOCUMENT))
        })
        // The most severe explains the most; the ID breaks ties so the choice
        // does not depend on the order the store returns.
        .max_by(|a, b| a.severity.cmp(&b.severity).then_with(|| b.id.cmp(&a.id)))
        .map(|f| RootCause {
            id: f.id,
            code: f.code,
            title: f.title,
        })
}

/// Which ListCoverage pass a resource came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Inactive,
    Active,
}

impl Pass {
    fn status_code(self) -> &'static str {
        match self {
            Pass::Inactive => "INACTIVE",
            Pass::Active => "ACTIVE",
        }
    }
}

/// The state of one evaluation.
struct Evaluator<'a> {
    config: &'a CoverageConfig,
    scope: &'a Scope,
    now: DateTime<Utc>,
    peers: &'a dyn blindspot_core::PeerFindings,
    hybrid: bool,
    root_cause: Option<RootCause>,
    /// First-seen times remembered from earlier evaluations.
    remembered: HashMap<String, DateTime<Utc>>,
    /// First-seen times of this rule's own open transient findings, by finding ID.
    reported_since: HashMap<String, DateTime<Utc>>,
    /// First-seen times of transient states seen in this evaluation.
    seen: HashMap<String, DateTime<Utc>>,
    findings: Vec<Finding>,
    reasons: BTreeMap<String, u64>,
    counts: BTreeMap<String, u64>,
    measurements: Vec<Measurement>,
}

impl<'a> Evaluator<'a> {
    fn new(
        config: &'a CoverageConfig,
        cx: &'a EvalContext<'a, AwsClients>,
        remembered: HashMap<String, DateTime<Utc>>,
    ) -> Self {
        Evaluator {
            config,
            scope: cx.scope,
            now: cx.now,
            peers: cx.peers,
            hybrid: false,
            root_cause: None,
            remembered,
            reported_since: HashMap::new(),
            seen: HashMap::new(),
            findings: Vec::new(),
            reasons: BTreeMap::new(),
            counts: BTreeMap::new(),
            measurements: Vec::new(),
        }
    }

    fn count(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_owned()).or_default() += n;
    }

    async fn run(&mut self, api: &dyn Inspector2Api) -> Result<(), RuleError> {
        self.count("calls.BatchGetAccountStatus", 1);
        let batch = api
            .batch_get_account_status(std::slice::from_ref(&self.scope.account))
            .await?;
        if let Some(failed) = batch
            .failed
            .iter()
            .find(|f| f.account_id == self.scope.account)
        {
            return Err(RuleError::Failed(format!(
                "inspector2:BatchGetAccountStatus could not read account {}: {}: {}",
                failed.account_id, failed.error_code, failed.error_message
            )));
        }
        let status = batch
            .accounts
            .iter()
            .find(|a| a.account_id == self.scope.account)
            .ok_or_else(|| {
                RuleError::Failed(format!(
                    "inspector2:BatchGetAccountStatus returned no status for account {}",
                    self.scope.account
                ))
            })?;
        if !self.enablement(status)? {
            return Ok(());
        }

        self.count("calls.GetConfiguration", 1);
        let configuration = api.get_configuration().await?;
        // A scan mode change that is still PENDING has not taken effect yet.
        self.hybrid = configuration.ec2_scan_mode.as_deref() == Some("EC2_HYBRID")
            && configuration.ec2_scan_mode_status.as_deref() != Some("PENDING");
        self.measurements.push(Measurement::new(
            "coverage_ec2_hybrid_scan_mode",
            &[],
            if self.hybrid { 1.0 } else { 0.0 },
        ));

        self.root_cause = root_cause(self.peers.open_findings(ASSOCIATIONS_RULE, self.scope)?);
        self.reported_since = self
            .peers
            .open_findings(ID, self.scope)?
            .into_iter()
            .filter_map(|f| {
                let since = f.details.get("first_seen")?.as_str()?;
                let since = DateTime::parse_from_rfc3339(since).ok()?;
                Some((f.id, since.with_timezone(&Utc)))
            })
            .collect();

        self.pass(api, Pass::Inactive).await?;
        if self.config.scan_stale != Level::Off {
            self.pass(api, Pass::Active).await?;
        }
        Ok(())
    }

    /// Checks the account status; returns whether Inspector is enabled, so
    /// that coverage is worth listing.
    fn enablement(&mut self, status: &AccountStatus) -> Result<bool, RuleError> {
        let resource_states = [
            ("ec2", status.ec2.as_ref()),
            ("ecr", status.ecr.as_ref()),
            ("lambda", status.lambda.as_ref()),
            ("lambda_code", status.lambda_code.as_ref()),
        ];
        // Denial anywhere means the answer cannot be trusted as a whole.
        for (name, state) in std::iter::once(("inspector", Some(&status.state)))
            .chain(resource_states.iter().copied())
        {
            if let Some(state) = state {
                if state.error_code.as_deref() == Some("ACCESS_DENIED") {
                    return Err(RuleError::Failed(format!(
                        "inspector2:BatchGetAccountStatus: access denied to the {name} state of \
                         account {}: {}",
                        self.scope.account,
                        state.error_message.as_deref().unwrap_or("no message")
                    )));
                }
                if state.status.is_empty() {
                    return Err(RuleError::Failed(format!(
                        "inspector2:BatchGetAccountStatus: the {name} state of account {} has no status",
                        self.scope.account
                    )));
                }
            }
        }

        let inspector_on = status.state.status == "ENABLED";
        self.enabled_gauge("inspector", inspector_on);
        if !inspector_on {
            self.disabled_finding(
                INSPECTOR_DISABLED,
                self.config.inspector_disabled,
                "Amazon Inspector",
                &status.state,
                "Enable Amazon Inspector in this region (from the delegated administrator for an \
                 organization member), for EC2, ECR and Lambda.",
                "aws inspector2 enable --region {region} --resource-types EC2 ECR LAMBDA LAMBDA_CODE \
                 --account-ids {account}",
            );
            return Ok(false);
        }

        // EC2 and ECR states are required by the model: their absence means the
        // answer is malformed, not that scanning is fine.
        let checks = [
            ScanCheck {
                code: EC2_SCANNING_DISABLED,
                what: "EC2 scanning",
                level: self.config.ec2_disabled,
                state: status.ec2.as_ref(),
                required: true,
                api_type: "EC2",
            },
            ScanCheck {
                code: ECR_SCANNING_DISABLED,
                what: "ECR scanning",
                level: self.config.ecr_disabled,
                state: status.ecr.as_ref(),
                required: true,
                api_type: "ECR",
            },
            ScanCheck {
                code: LAMBDA_SCANNING_DISABLED,
                what: "Lambda standard scanning",
                level: self.config.lambda_disabled,
                state: status.lambda.as_ref(),
                required: false,
                api_type: "LAMBDA",
            },
            ScanCheck {
                code: LAMBDA_CODE_SCANNING_DISABLED,
                what: "Lambda code scanning",
                level: self.config.lambda_code_disabled,
                state: status.lambda_code.as_ref(),
                required: false,
                api_type: "LAMBDA_CODE",
            },
        ];
        for ScanCheck {
            code,
            what,
            level,
            state,
            required,
            api_type,
        } in checks
        {
            let gauge = api_type.to_ascii_lowercase();
            match state {
                Some(state) => {
                    self.enabled_gauge(&gauge, state.status == "ENABLED");
                    if state.status != "ENABLED" {
                        let command = format!(
                            "aws inspector2 enable --region {{region}} --resource-types {api_type} \
                             --account-ids {{account}}"
                        );
                        self.disabled_finding(
                            code,
                            level,
                            what,
                            state,
                            &format!(
                                "Enable {what} in Amazon Inspector for this account and region."
                            ),
                            &command,
                        );
                    }
                }
                None if required => {
                    return Err(RuleError::Failed(format!(
                        "inspector2:BatchGetAccountStatus: no {gauge} state for account {}",
                        self.scope.account
                    )));
                }
                // Lambda states are optional in the model: regions without
                // Lambda scanning leave them out. Counted, so it is visible.
                None => self.count(&format!("enablement.{gauge}.absent"), 1),
            }
        }
        Ok(true)
    }

    fn enabled_gauge(&mut self, scan: &str, on: bool) {
        self.measurements.push(Measurement::new(
            "coverage_scanning_enabled",
            &[("scan", scan)],
            if on { 1.0 } else { 0.0 },
        ));
    }

    fn disabled_finding(
        &mut self,
        code: &str,
        level: Level,
        what: &str,
        state: &EnablementState,
        recommendation: &str,
        remediation: &str,
    ) {
        let Some(mut severity) = level.severity() else {
            self.count("suppressed", 1);
            return;
        };
        // ENABLING is on its way to ENABLED: reported, so that a state stuck
        // there is seen, but not at the severity of a deliberate disablement.
        let enabling = state.status == "ENABLING";
        if enabling {
            severity = severity.min(Severity::Low);
        }
        let title = if enabling {
            format!("{what} is still being enabled in {}", self.scope.region)
        } else {
            format!("{what} is not enabled in {}", self.scope.region)
        };
        let description = format!(
            "BatchGetAccountStatus reports {what} as {} for account {} in {}{}. Until it is \
             ENABLED, Inspector does not scan these resources and reports no vulnerabilities \
             for them.",
            state.status,
            self.scope.account,
            self.scope.region,
            state
                .error_code
                .as_deref()
                .map(|c| format!(" (error {c})"))
                .unwrap_or_default(),
        );
        let remediation = remediation
            .replace("{region}", &self.scope.region)
            .replace("{account}", &self.scope.account);
        let finding = Finding::new(ID, code, severity, self.scope, &self.scope.account, title)
            .description(description)
            .recommendation(recommendation)
            .remediation(remediation)
            .detail("status", &state.status)
            .detail("error_code", &state.error_code)
            .detail("error_message", &state.error_message)
            .detail("account", &self.scope.account)
            .detail("region", &self.scope.region);
        self.findings.push(finding);
    }

    async fn pass(&mut self, api: &dyn Inspector2Api, pass: Pass) -> Result<(), RuleError> {
        let filter = CoverageFilter {
            scan_status_code: vec![equals(pass.status_code())],
            resource_type: self
                .config
                .resource_types
                .iter()
                .map(|t| equals(t))
                .collect(),
            ..CoverageFilter::default()
        };
        let mut token: Option<String> = None;
        let mut pages = 0u64;
        loop {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RuleError::Failed(format!(
                    "inspector2:ListCoverage returned more than {MAX_PAGES} pages; giving up"
                )));
            }
            self.count("calls.ListCoverage", 1);
            let page = api.list_coverage(&filter, token.clone()).await?;
            for resource in page.items {
                self.resource(pass, resource);
            }
            match page.next_token {
                Some(next) if !next.is_empty() => {
                    if token.as_deref() == Some(next.as_str()) {
                        return Err(RuleError::Failed(
                            "inspector2:ListCoverage returned the same next token twice".into(),
                        ));
                    }
                    token = Some(next);
                }
                _ => return Ok(()),
            }
        }
    }

    fn resource(&mut self, pass: Pass, resource: CoveredResource) {
        // A delegated administrator sees its members' resources too; they belong
        // to those accounts' own scopes.
        if !resource.account_id.is_empty() && resource.account_id != self.scope.account {
            self.count("resources.other_account", 1);
            return;
        }
        self.count(
            match pass {
                Pass::Inactive => "resources.inactive",
                Pass::Active => "resources.active",
            },
            1,
        );
        let reason = resource
            .reason
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| UNSPECIFIED_REASON.to_owned());
        *self.reasons.entry(reason_label(&reason)).or_default() += 1;
        let spec = reasons::lookup(&reason);

        match (pass, spec.disposition) {
            (_, Disposition::Transient) => self.transient(&resource, &reason, spec),
            (Pass::Inactive, _) => self.inactive(&resource, &reason, spec, None),
            (Pass::Active, _) => self.recency(&resource),
        }
    }

    fn level(&self, reason: &str, spec: &ReasonSpec) -> Level {
        self.config
            .reasons
            .get(reason)
            .copied()
            .unwrap_or(match spec.disposition {
                Disposition::Benign => Level::Off,
                Disposition::Report | Disposition::Transient => Level::On(spec.severity),
            })
    }

    fn transient(&mut self, resource: &CoveredResource, reason: &str, spec: &ReasonSpec) {
        let key = format!(
            "{}\u{0}{}\u{0}{reason}",
            resource.resource_id, resource.scan_type
        );
        let id = finding_id(self.scope, reason, resource);
        let first_seen = [
            self.remembered.get(&key).copied(),
            self.reported_since.get(&id).copied(),
            Some(self.now),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.now);
        self.seen.insert(key, first_seen);
        let lasted = self.now.signed_duration_since(first_seen);
        let grace =
            chrono::Duration::from_std(self.config.pending_grace).unwrap_or(chrono::Duration::MAX);
        if lasted < grace {
            self.count("transient_within_grace", 1);
            return;
        }
        self.inactive(resource, reason, spec, Some((first_seen, lasted)));
    }

    fn inactive(
        &mut self,
        resource: &CoveredResource,
        reason: &str,
        spec: &ReasonSpec,
        transient: Option<(DateTime<Utc>, chrono::Duration)>,
    ) {
        let Some(mut severity) = self.level(reason, spec).severity() else {
            self.count("suppressed", 1);
            return;
        };
        let title = if reasons::is_known(reason) {
            format!("{}: {}", spec.title, resource.resource_id)
        } else {
            format!(
                "Resource not scanned, reason {reason}: {}",
                resource.resource_id
            )
        };
        let mut description =
            format!(
            "Amazon Inspector reports {} {} ({} scan) as {} with reason {reason} in account {}, \
             region {}.",
            resource.resource_type,
            resource.resource_id,
            if resource.scan_type.is_empty() { "unknown" } else { &resource.scan_type },
            resource.status_code.as_deref().unwrap_or("without a status"),
            self.scope.account,
            self.scope.region,
        );
        let mut recommendation = spec.recommendation.to_owned();
        let mut hybrid_lowered = None;
        if self.hybrid && spec.agentless_covers && severity > self.config.hybrid_severity {
            hybrid_lowered = Some(severity);
            severity = self.config.hybrid_severity;
            description.push_str(&format!(
                " The account scans EC2 in hybrid mode (EC2_HYBRID), so agentless scanning \
                 covers this instance; severity lowered from {} to {severity}.",
                hybrid_lowered.unwrap_or(severity)
            ));
        }
        if let Some((since, lasted)) = transient {
            description.push_str(&format!(
                " It has been in this state since at least {} ({} hours).",
                since.to_rfc3339(),
                lasted.num_hours()
            ));
        }
        let root = if ROOT_CAUSE_REASONS.contains(&reason) {
            self.root_cause.clone()
        } else {
            None
        };
        if let Some(root) = &root {
            recommendation = format!(
                "Likely cause: open finding {} ({}: {}) of rule {ASSOCIATIONS_RULE}; fix that \
                 first. {recommendation}",
                root.id, root.code, root.title
            );
        }

        let mut finding = self
            .resource_finding(resource, reason, severity, title)
            .description(description)
            .recommendation(recommendation);
        if let Some(command) = spec.remediation {
            finding = finding.remediation(
                command
                    .replace("{resource}", &resource.resource_id)
                    .replace("{region}", &self.scope.region),
            );
        }
        if let Some(from) = hybrid_lowered {
            finding = finding
                .detail("ec2_scan_mode", "EC2_HYBRID")
                .detail("severity_lowered_from", from);
        }
        if let Some((since, _)) = transient {
            finding = finding.detail("first_seen", since.to_rfc3339());
        }
        if let Some(root) = root {
            finding = finding.detail("root_cause", root.id);
        }
        self.findings.push(finding);
    }

    fn recency(&mut self, resource: &CoveredResource) {
        let Some(severity) = self.config.scan_stale.severity() else {
            return;
        };
        let Some(last) = resource.last_scanned_at else {
            // ACTIVE without a scan time: nothing to measure staleness against.
            self.count("resources.active_never_scanned", 1);
            return;
        };
        let age = self.now.signed_duration_since(last);
        let limit = chrono::Duration::from_std(self.config.scan_stale_after)
            .unwrap_or(chrono::Duration::MAX);
        if age <= limit {
            return;
        }
        self.count("scan_stale", 1);
        let days = age.num_hours() as f64 / 24.0;
        let title = format!("Not scanned for {days:.1} days: {}", resource.resource_id);
        let finding = self
            .resource_finding(resource, SCAN_STALE, severity, title)
            .description(format!(
                "Amazon Inspector reports {} {} as ACTIVE, but its last scan was at {}, more \
                 than {} ago, so new vulnerabilities on it may be unseen.",
                resource.resource_type,
                resource.resource_id,
                last.to_rfc3339(),
                describe_duration(self.config.scan_stale_after)
            ))
            .recommendation(
                "Check why Inspector stopped rescanning: for EC2, that the SSM Agent is online \
                 and the InspectorInventoryCollection-do-not-delete association runs; for ECR, \
                 the re-scan duration and scan frequency; for Lambda, that the function is \
                 still supported.",
            )
            .detail("age_days", (days * 10.0).round() / 10.0);
        self.findings.push(finding);
    }

    fn resource_finding(
        &self,
        resource: &CoveredResource,
        code: &str,
        severity: Severity,
        title: String,
    ) -> Finding {
        let mut finding =
            Finding::new(ID, code, severity, self.scope, &resource.resource_id, title);
        if !resource.scan_type.is_empty() {
            // A Lambda function has a PACKAGE and a CODE entry that can fail alike.
            finding = finding.distinguished_by(&resource.scan_type);
        }
        finding = finding
            .detail("resource_type", &resource.resource_type)
            .detail("resource_id", &resource.resource_id)
            .detail("scan_type", &resource.scan_type)
            .detail("status_code", &resource.status_code)
            .detail("reason", &resource.reason)
            .detail("account", &self.scope.account)
            .detail("region", &self.scope.region);
        if let Some(at) = resource.last_scanned_at {
            finding = finding.detail("last_scanned_at", at.to_rfc3339());
        }
        if let Some(mode) = &resource.scan_mode {
            finding = finding.detail("scan_mode", mode);
        }
        if let Some(platform) = &resource.platform {
            finding = finding.detail("platform", platform);
        }
        if let Some(ami) = &resource.ami_id {
            finding = finding.detail("ami_id", ami);
        }
        if !resource.tags.is_empty() {
            finding = finding.detail("tags", &resource.tags);
        }
        finding
    }

    fn finish(mut self) -> (RuleReport, HashMap<String, DateTime<Utc>>) {
        // Every known reason gets a series, zero included, so that an alert on a
        // reason's count does not go silent when the count drops to nothing.
        let ran_coverage = self.counts.contains_key("calls.ListCoverage");
        if ran_coverage {
            for spec in reasons::REASONS {
                self.reasons.entry(spec.code.to_owned()).or_default();
            }
        }
        for (reason, n) in &self.reasons {
            self.measurements.push(Measurement::new(
                "coverage_resources",
                &[("reason", reason)],
                *n as f64,
            ));
            self.counts.insert(format!("reason.{reason}"), *n);
        }
        self.counts
            .insert("findings".to_owned(), self.findings.len() as u64);
        // Stable output order, whatever order the pages came in.
        self.findings
            .sort_by(|a, b| (&a.code, &a.resource, &a.id).cmp(&(&b.code, &b.resource, &b.id)));
        (
            RuleReport {
                findings: self.findings,
                measurements: self.measurements,
                counts: self.counts,
            },
            self.seen,
        )
    }
}

fn equals(value: &str) -> StringFilter {
    StringFilter {
        comparison: "EQUALS".to_owned(),
        value: value.to_owned(),
    }
}

/// The finding ID a resource's coverage finding gets for `code`.
fn finding_id(scope: &Scope, code: &str, resource: &CoveredResource) -> String {
    let discriminator = (!resource.scan_type.is_empty()).then_some(resource.scan_type.as_str());
    fingerprint(
        ID,
        code,
        &scope.account,
        &scope.region,
        &resource.resource_id,
        discriminator,
    )
}

/// The metric label for a reason: the reason itself when it looks like one,
/// so that label cardinality stays bounded by what AWS defines.
fn reason_label(reason: &str) -> String {
    if is_reason_like(reason) {
        reason.to_owned()
    } else {
        "INVALID".to_owned()
    }
}

/// "3 days", "36 hours" or "90 minutes": for finding text, not parsing.
fn describe_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        format!("{} days", secs / 86_400)
    } else if secs >= 3_600 && secs.is_multiple_of(3_600) {
        format!("{} hours", secs / 3_600)
    } else {
        format!("{} minutes", secs / 60)
    }
}
