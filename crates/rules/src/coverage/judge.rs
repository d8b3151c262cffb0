//! The judgement of `inspector2-coverage`: synchronous and pure. A [`Judge`]
//! is made from the config, the scope, `now`, the [`Header`] and the peer
//! findings, is shown the covered resources one at a time, and turns into a
//! [`RuleReport`]. It keeps findings and counters, never resources, so memory
//! does not grow with the number of resources it is shown.

use blindspot_aws::inspector2::{
    AccountStatus, AccountStatusBatch, CoveredResource, EnablementState,
};
use blindspot_core::{fingerprint, Finding, Measurement, RuleError, RuleReport, Scope, Severity};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::config::{is_reason_like, CoverageConfig, Level};
use super::fetch::{Header, Pass, Presence};
use super::reasons::{self, Disposition, ReasonSpec};
use super::{
    ASSOCIATIONS_RULE, EC2_DEEP_INSPECTION_OFF, EC2_DEEP_INSPECTION_UNKNOWN, EC2_SCANNING_DISABLED,
    ECR_SCANNING_DISABLED, ID, INSPECTOR_DISABLED, INVENTORY_ASSOCIATION, INVENTORY_DOCUMENT,
    LAMBDA_CODE_SCANNING_DISABLED, LAMBDA_SCANNING_DISABLED, ROOT_CAUSE_CODES, SCAN_STALE,
    TRANSIENT_CODES, UNSPECIFIED_REASON,
};
use crate::text::duration;

/// The coverage reasons a broken inventory association explains.
const ROOT_CAUSE_REASONS: &[&str] = &["NO_INVENTORY", "STALE_INVENTORY"];

/// The passes worth listing once Inspector is enabled, with and without the
/// recency check.
const BOTH_PASSES: &[Pass] = &[Pass::Inactive, Pass::Active];
const INACTIVE_PASS: &[Pass] = &[Pass::Inactive];

/// The account's enablement, judged from BatchGetAccountStatus alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Enablement {
    /// Whether Inspector itself is `ENABLED`, so that coverage is worth listing.
    pub inspector_enabled: bool,
    /// The enablement findings, gauges and counters.
    pub report: RuleReport,
}

/// Judges BatchGetAccountStatus for the scope's account: a finding per
/// disabled scan type (or one for Inspector as a whole), and an error where
/// the answer cannot be trusted: the account failed, is missing, a state was
/// denied or has no status, or a state the model requires is absent. A denied
/// answer must never read as "enabled" or as "nothing to report".
///
/// A disabled scan type is weighed by the presence of its resources in the
/// header: its configured level where some exist or presence is unknown,
/// `unused_services` where none were found.
pub fn enablement(
    config: &CoverageConfig,
    scope: &Scope,
    header: &Header,
) -> Result<Enablement, RuleError> {
    let batch: &AccountStatusBatch = &header.status;
    if let Some(failed) = batch.failed.iter().find(|f| f.account_id == scope.account) {
        return Err(RuleError::Failed(format!(
            "inspector2:BatchGetAccountStatus could not read account {}: {}: {}",
            failed.account_id, failed.error_code, failed.error_message
        )));
    }
    let status = batch
        .accounts
        .iter()
        .find(|a| a.account_id == scope.account)
        .ok_or_else(|| {
            RuleError::Failed(format!(
                "inspector2:BatchGetAccountStatus returned no status for account {}",
                scope.account
            ))
        })?;
    trusted(scope, status)?;

    let mut tally = Tally::default();
    let inspector_on = status.state.status == "ENABLED";
    tally.enabled_gauge("inspector", inspector_on);
    if !inspector_on {
        tally.disabled_finding(
            scope,
            INSPECTOR_DISABLED,
            config.inspector_disabled,
            "Amazon Inspector",
            &status.state,
            None,
            "Enable Amazon Inspector in this region (from the delegated administrator for an \
             organization member), for EC2, ECR and Lambda.",
            "aws inspector2 enable --region {region} --resource-types EC2 ECR LAMBDA LAMBDA_CODE \
             --account-ids {account}",
        );
        return Ok(Enablement {
            inspector_enabled: false,
            report: tally.into_report(),
        });
    }

    for check in scan_checks(config, status, header) {
        let gauge = check.api_type.to_ascii_lowercase();
        match check.state {
            Some(state) => {
                tally.enabled_gauge(&gauge, state.status == "ENABLED");
                if state.status != "ENABLED" {
                    let weight = Weight {
                        presence: check.presence.clone(),
                        kind: check.kind,
                        one: check.one,
                        unused: config.unused_services,
                        ec2: check.api_type == "EC2",
                    };
                    tally.disabled_finding(
                        scope,
                        check.code,
                        check.level,
                        check.what,
                        state,
                        Some(weight),
                        &format!(
                            "Enable {} in Amazon Inspector for this account and region.",
                            check.what
                        ),
                        &format!(
                            "aws inspector2 enable --region {{region}} --resource-types {} \
                             --account-ids {{account}}",
                            check.api_type
                        ),
                    );
                }
            }
            // EC2 and ECR states are required by the model: their absence means
            // the answer is malformed, not that scanning is fine.
            None if check.required => {
                return Err(RuleError::Failed(format!(
                    "inspector2:BatchGetAccountStatus: no {gauge} state for account {}",
                    scope.account
                )));
            }
            // Lambda states are optional in the model: regions without Lambda
            // scanning leave them out. Counted, so it is visible.
            None => tally.count(&format!("enablement.{gauge}.absent"), 1),
        }
    }
    Ok(Enablement {
        inspector_enabled: true,
        report: tally.into_report(),
    })
}

/// Fails on any state that was denied or has no status: denial anywhere means
/// the answer cannot be trusted as a whole.
fn trusted(scope: &Scope, status: &AccountStatus) -> Result<(), RuleError> {
    let states = [
        ("inspector", Some(&status.state)),
        ("ec2", status.ec2.as_ref()),
        ("ecr", status.ecr.as_ref()),
        ("lambda", status.lambda.as_ref()),
        ("lambda_code", status.lambda_code.as_ref()),
    ];
    for (name, state) in states {
        let Some(state) = state else { continue };
        if state.error_code.as_deref() == Some("ACCESS_DENIED") {
            return Err(RuleError::Failed(format!(
                "inspector2:BatchGetAccountStatus: access denied to the {name} state of account \
                 {}: {}",
                scope.account,
                state.error_message.as_deref().unwrap_or("no message")
            )));
        }
        if state.status.is_empty() {
            return Err(RuleError::Failed(format!(
                "inspector2:BatchGetAccountStatus: the {name} state of account {} has no status",
                scope.account
            )));
        }
    }
    Ok(())
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
    /// The resources the scan type would scan, as counted.
    kind: &'static str,
    /// One of them.
    one: &'static str,
    /// Whether the region holds any (`None`: not asked).
    presence: Option<Presence>,
}

/// How a disabled scan type is weighed: by what it would scan.
struct Weight {
    presence: Option<Presence>,
    /// The resources, plural: "Lambda functions".
    kind: &'static str,
    /// One of them: "Lambda function".
    one: &'static str,
    /// The level where none exist.
    unused: Level,
    /// EC2 counts SSM managed nodes, which miss unmanaged instances.
    ec2: bool,
}

/// What an EC2 finding says about counting managed nodes instead of instances.
const EC2_CAVEAT: &str = "blindspot counts SSM managed nodes (DescribeInstanceInformation), not \
                          EC2 instances: an instance without a working SSM Agent is not counted, \
                          so an unmanaged instance in this region can be missed.";

fn scan_checks<'s>(
    config: &CoverageConfig,
    status: &'s AccountStatus,
    header: &Header,
) -> [ScanCheck<'s>; 4] {
    [
        ScanCheck {
            code: EC2_SCANNING_DISABLED,
            what: "EC2 scanning",
            level: config.ec2_disabled,
            state: status.ec2.as_ref(),
            required: true,
            api_type: "EC2",
            kind: "SSM managed nodes",
            one: "SSM managed node",
            presence: header.ec2_presence(),
        },
        ScanCheck {
            code: ECR_SCANNING_DISABLED,
            what: "ECR scanning",
            level: config.ecr_disabled,
            state: status.ecr.as_ref(),
            required: true,
            api_type: "ECR",
            kind: "ECR repositories",
            one: "ECR repository",
            presence: header.ecr_repositories.clone(),
        },
        ScanCheck {
            code: LAMBDA_SCANNING_DISABLED,
            what: "Lambda standard scanning",
            level: config.lambda_disabled,
            state: status.lambda.as_ref(),
            required: false,
            api_type: "LAMBDA",
            kind: "Lambda functions",
            one: "Lambda function",
            presence: header.lambda_functions.clone(),
        },
        ScanCheck {
            code: LAMBDA_CODE_SCANNING_DISABLED,
            what: "Lambda code scanning",
            level: config.lambda_code_disabled,
            state: status.lambda_code.as_ref(),
            required: false,
            api_type: "LAMBDA_CODE",
            kind: "Lambda functions",
            one: "Lambda function",
            presence: header.lambda_functions.clone(),
        },
    ]
}

/// Findings, measurements and counters as they accumulate.
#[derive(Default)]
struct Tally {
    findings: Vec<Finding>,
    measurements: Vec<Measurement>,
    counts: BTreeMap<String, u64>,
}

impl Tally {
    fn count(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_owned()).or_default() += n;
    }

    fn enabled_gauge(&mut self, scan: &str, on: bool) {
        self.measurements.push(Measurement::new(
            "coverage_scanning_enabled",
            &[("scan", scan)],
            if on { 1.0 } else { 0.0 },
        ));
    }

    #[allow(clippy::too_many_arguments)] // Each is one column of the scan-type table.
    fn disabled_finding(
        &mut self,
        scope: &Scope,
        code: &str,
        level: Level,
        what: &str,
        state: &EnablementState,
        weight: Option<Weight>,
        recommendation: &str,
        remediation: &str,
    ) {
        // What the scan type would scan: none found lowers the level; some, or
        // an unknown count, keeps it. A failed presence call never reads as none.
        let mut level = level;
        let mut presence_text = String::new();
        let mut title_note = String::new();
        let mut found: Option<(u64, bool)> = None;
        let mut presence_error: Option<String> = None;
        if let Some(w) = &weight {
            match &w.presence {
                Some(Presence::Found { count: 0, .. }) => {
                    level = w.unused;
                    found = Some((0, true));
                    self.count("presence.none_found", 1);
                    title_note = format!(" (no {} found)", w.kind);
                    presence_text = format!(
                        " No {} were found in the region, so nothing is unscanned today; any \
                         created later will not be scanned either (unused_services).",
                        w.kind
                    );
                }
                Some(Presence::Found { count, exact }) => {
                    found = Some((*count, *exact));
                    self.count("presence.found", 1);
                    let noun = if *count == 1 { w.one } else { w.kind };
                    let how_many = if *exact {
                        format!("{count} {noun}")
                    } else {
                        format!("at least {count} {noun}")
                    };
                    title_note = format!(" ({how_many})");
                    presence_text =
                        format!(" The region holds {how_many}, which Inspector does not scan.");
                }
                Some(Presence::Unchecked(error)) => {
                    presence_error = Some(error.clone());
                    self.count("presence.unchecked", 1);
                    title_note = format!(" ({} could not be counted)", w.kind);
                    presence_text = format!(
                        " Whether the region holds {} could not be checked ({error}), so the \
                         finding keeps the severity of a region that has some.",
                        w.kind
                    );
                }
                None => {
                    self.count("presence.unchecked", 1);
                    title_note = format!(" ({} not counted)", w.kind);
                    presence_text = format!(
                        " Whether the region holds {} was not checked, so the finding keeps \
                         the severity of a region that has some.",
                        w.kind
                    );
                }
            }
            if w.ec2 {
                presence_text.push(' ');
                presence_text.push_str(EC2_CAVEAT);
            }
        }
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
            format!(
                "{what} is still being enabled in {}{title_note}",
                scope.region
            )
        } else {
            format!("{what} is not enabled in {}{title_note}", scope.region)
        };
        let description = format!(
            "BatchGetAccountStatus reports {what} as {} for account {} in {}{}. Until it is \
             ENABLED, Inspector does not scan these resources and reports no vulnerabilities \
             for them.{presence_text}",
            state.status,
            scope.account,
            scope.region,
            state
                .error_code
                .as_deref()
                .map(|c| format!(" (error {c})"))
                .unwrap_or_default(),
        );
        let remediation = remediation
            .replace("{region}", &scope.region)
            .replace("{account}", &scope.account);
        let mut finding = Finding::new(ID, code, severity, scope, &scope.account, title)
            .description(description)
            .recommendation(recommendation)
            .remediation(remediation)
            .detail("status", &state.status)
            .detail("error_code", &state.error_code)
            .detail("error_message", &state.error_message)
            .detail("account", &scope.account)
            .detail("region", &scope.region);
        if let Some(w) = &weight {
            // `resources_found` is a count (a lower bound unless
            // `resources_exact`), or null where it could not be checked.
            finding = finding
                .detail("resource_kind", w.kind)
                .detail("resources_found", found.map(|(n, _)| n))
                .detail("resources_exact", found.map(|(_, exact)| exact))
                .detail("presence_error", &presence_error);
        }
        self.findings.push(finding);
    }

    /// EC2 deep inspection, where EC2 scanning is enabled: off (DEACTIVATED,
    /// FAILED) or unreadable, in a region with Linux managed nodes, is a
    /// blind spot for application packages.
    fn deep_inspection(&mut self, config: &CoverageConfig, scope: &Scope, header: &Header) {
        let Some(answer) = &header.deep_inspection else {
            return;
        };
        let status = match answer {
            Ok(d) => d.status.as_deref(),
            Err(_) => None,
        };
        if status.is_some_and(|s| s == "ACTIVATED" || s == "PENDING") {
            self.count("deep_inspection.on", 1);
            return;
        }
        let linux = match &header.managed_nodes {
            Some(Ok(nodes)) => Some(nodes.linux),
            _ => None,
        };
        if linux == Some(0) {
            // Nothing deep inspection would look at.
            self.count("deep_inspection.off_without_linux_nodes", 1);
            return;
        }
        let Some(severity) = config.deep_inspection_off.severity() else {
            self.count("suppressed", 1);
            return;
        };
        let nodes_text = match (&header.managed_nodes, linux) {
            (_, Some(1)) => "The region has 1 Linux SSM managed node.".to_owned(),
            (_, Some(n)) => format!("The region has {n} Linux SSM managed nodes."),
            (Some(Err(e)), None) => format!(
                "The Linux managed nodes could not be counted ({e}), so the finding is reported \
                 as if there were some."
            ),
            _ => "The Linux managed nodes were not counted, so the finding is reported as if \
                  there were some."
                .to_owned(),
        };
        let (code, title, what) = match (answer, status) {
            (Ok(_), Some(s)) => (
                EC2_DEEP_INSPECTION_OFF,
                format!("EC2 deep inspection is {s} in {}", scope.region),
                format!(
                    "GetEc2DeepInspectionConfiguration reports deep inspection as {s} for \
                     account {} in {}.",
                    scope.account, scope.region
                ),
            ),
            (Ok(_), None) => (
                EC2_DEEP_INSPECTION_UNKNOWN,
                format!("EC2 deep inspection status unknown in {}", scope.region),
                "GetEc2DeepInspectionConfiguration answered without a status.".to_owned(),
            ),
            (Err(e), _) => (
                EC2_DEEP_INSPECTION_UNKNOWN,
                format!(
                    "EC2 deep inspection could not be checked in {}",
                    scope.region
                ),
                format!("GetEc2DeepInspectionConfiguration failed: {e}."),
            ),
        };
        let config_read = answer.as_ref().ok();
        let description = format!(
            "{what} {nodes_text} Without deep inspection, Inspector scans only the packages \
             of the operating system's package manager on Linux instances; application \
             packages installed outside it (Python, Java, Node.js libraries) are not scanned, \
             so their vulnerabilities go unreported.{}",
            config_read
                .and_then(|d| d.error_message.as_deref())
                .map(|m| format!(" Error: {m}."))
                .unwrap_or_default()
        );
        let recommendation = if code == EC2_DEEP_INSPECTION_OFF {
            "Activate deep inspection for this account and region (from the delegated \
             administrator for organization members). Where it FAILED, check that the \
             instances' SSM Agent and instance profile allow the Inspector SSM plugin to run."
        } else {
            "Grant inspector2:GetEc2DeepInspectionConfiguration to blindspot, then check \
             whether deep inspection is ACTIVATED."
        };
        let finding = Finding::new(ID, code, severity, scope, &scope.account, title)
            .description(description)
            .recommendation(recommendation)
            .remediation(format!(
                "aws inspector2 update-ec2-deep-inspection-configuration \
                 --activate-deep-inspection --region {}",
                scope.region
            ))
            .detail("status", status)
            .detail(
                "error_message",
                config_read.and_then(|d| d.error_message.clone()),
            )
            .detail(
                "package_paths",
                config_read.map(|d| d.package_paths.clone()),
            )
            .detail(
                "org_package_paths",
                config_read.map(|d| d.org_package_paths.clone()),
            )
            .detail("linux_managed_nodes", linux)
            .detail("call_error", answer.as_ref().err())
            .detail("account", &scope.account)
            .detail("region", &scope.region);
        self.count("deep_inspection.off", 1);
        self.findings.push(finding);
    }

    fn into_report(self) -> RuleReport {
        RuleReport {
            findings: self.findings,
            measurements: self.measurements,
            counts: self.counts,
        }
    }
}

/// The likely cause of missing inventory, taken from an association finding.
#[derive(Debug, Clone)]
struct RootCause {
    id: String,
    code: String,
    title: String,
}

fn root_cause<'f>(findings: impl Iterator<Item = &'f Finding>) -> Option<RootCause> {
    findings
        .filter(|f| {
            f.rule == ASSOCIATIONS_RULE
                && ROOT_CAUSE_CODES.contains(&f.code.as_str())
                && (f.resource == INVENTORY_ASSOCIATION
                    || f.details.get("document").and_then(|d| d.as_str())
                        == Some(INVENTORY_DOCUMENT))
        })
        // The most severe explains the most; the ID breaks ties so the choice
        // does not depend on the order the store returns.
        .max_by(|a, b| a.severity.cmp(&b.severity).then_with(|| b.id.cmp(&a.id)))
        .map(|f| RootCause {
            id: f.id.clone(),
            code: f.code.clone(),
            title: f.title.clone(),
        })
}

/// When each of the rule's own open transient findings says its state was
/// first seen, by finding ID: the only memory the rule has of earlier
/// evaluations, so a restart changes nothing.
fn own_first_seen<'f>(
    findings: impl Iterator<Item = &'f Finding>,
) -> HashMap<String, DateTime<Utc>> {
    let mut first_seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    for finding in findings.filter(|f| f.rule == ID && TRANSIENT_CODES.contains(&f.code.as_str())) {
        // A value the rule did not write (edited, or from an older version) is
        // ignored: the grace then starts again, which errs towards reporting late.
        let Some(since) = finding
            .details
            .get("first_seen")
            .and_then(|v| v.as_str())
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        else {
            continue;
        };
        let since = since.with_timezone(&Utc);
        first_seen
            .entry(finding.id.clone())
            .and_modify(|t| *t = (*t).min(since))
            .or_insert(since);
    }
    first_seen
}

/// How long a transient state has lasted, from its earliest sighting.
#[derive(Debug, Clone, Copy)]
struct Pending {
    since: DateTime<Utc>,
    lasted: chrono::Duration,
}

/// One evaluation's judgement; see the module doc.
pub struct Judge<'a> {
    config: &'a CoverageConfig,
    scope: &'a Scope,
    now: DateTime<Utc>,
    passes: &'static [Pass],
    /// EC2 scanning in `EC2_HYBRID` mode, in effect.
    hybrid: bool,
    root_cause: Option<RootCause>,
    /// `details.first_seen` of the rule's own open transient findings, by ID.
    first_seen: HashMap<String, DateTime<Utc>>,
    tally: Tally,
    /// Resources by reason label, for `coverage_resources`.
    reasons: BTreeMap<String, u64>,
}

impl<'a> Judge<'a> {
    /// Judges the header and gets ready for the resources. `peers` are the
    /// open findings the rule declared it reads, in this scope: the
    /// association rule's (root causes) and its own transient ones (when each
    /// transient state was first seen). Fails where [`enablement`] does, and
    /// on a header that says Inspector is enabled but lacks the configuration.
    pub fn new(
        config: &'a CoverageConfig,
        scope: &'a Scope,
        now: DateTime<Utc>,
        header: &Header,
        peers: Vec<Finding>,
    ) -> Result<Self, RuleError> {
        let Enablement {
            inspector_enabled,
            report,
        } = enablement(config, scope, header)?;
        let mut judge = Judge {
            config,
            scope,
            now,
            passes: &[],
            hybrid: false,
            root_cause: None,
            first_seen: HashMap::new(),
            tally: Tally {
                findings: report.findings,
                measurements: report.measurements,
                counts: report.counts,
            },
            reasons: BTreeMap::new(),
        };
        if !inspector_enabled {
            return Ok(judge);
        }
        let configuration = header.configuration.as_ref().ok_or_else(|| {
            RuleError::Failed(
                "inspector2:GetConfiguration was not read although Inspector is enabled".into(),
            )
        })?;
        // A scan mode change that is still PENDING has not taken effect yet.
        judge.hybrid = configuration.ec2_scan_mode.as_deref() == Some("EC2_HYBRID")
            && configuration.ec2_scan_mode_status.as_deref() != Some("PENDING");
        judge.tally.deep_inspection(config, scope, header);
        judge.tally.measurements.push(Measurement::new(
            "coverage_ec2_hybrid_scan_mode",
            &[],
            if judge.hybrid { 1.0 } else { 0.0 },
        ));
        let in_scope = |f: &&Finding| f.account == scope.account && f.region == scope.region;
        judge.root_cause = root_cause(peers.iter().filter(in_scope));
        judge.first_seen = own_first_seen(peers.iter().filter(in_scope));
        judge.passes = if config.scan_stale == Level::Off {
            // Off skips the ACTIVE resources, the bulk of a large account.
            INACTIVE_PASS
        } else {
            BOTH_PASSES
        };
        Ok(judge)
    }

    /// The ListCoverage passes to show this judge, in order: none where
    /// Inspector is not enabled, and no ACTIVE pass when `scan_stale` is off.
    pub fn passes(&self) -> &'static [Pass] {
        self.passes
    }

    /// Judges one covered resource from `pass`.
    pub fn observe(&mut self, pass: Pass, resource: CoveredResource) {
        // A delegated administrator sees its members' resources too; they belong
        // to those accounts' own scopes.
        if !resource.account_id.is_empty() && resource.account_id != self.scope.account {
            self.tally.count("resources.other_account", 1);
            return;
        }
        self.tally.count(
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
            (Pass::Inactive, _) => self.not_scanned(&resource, &reason, spec, None),
            (Pass::Active, _) => self.recency(&resource),
        }
    }

    /// The report: findings in a stable order, whatever order the pages came in.
    pub fn finish(mut self) -> RuleReport {
        // Every known reason gets a series, zero included, so that an alert on a
        // reason's count does not go silent when the count drops to nothing.
        if !self.passes.is_empty() {
            for spec in reasons::REASONS {
                self.reasons.entry(spec.code.to_owned()).or_default();
            }
        }
        for (reason, n) in &self.reasons {
            self.tally.measurements.push(Measurement::new(
                "coverage_resources",
                &[("reason", reason)],
                *n as f64,
            ));
            self.tally.counts.insert(format!("reason.{reason}"), *n);
        }
        let mut report = self.tally.into_report();
        report
            .counts
            .insert("findings".to_owned(), report.findings.len() as u64);
        report
            .findings
            .sort_by(|a, b| (&a.code, &a.resource, &a.id).cmp(&(&b.code, &b.resource, &b.id)));
        report
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

    /// A transient state is normal for a while. Within the grace it is an
    /// `info` finding with the fingerprint it keeps afterwards, carrying
    /// `details.first_seen`; the next evaluation reads that back from its own
    /// open finding, and once the grace is over the same finding takes the
    /// reason's severity.
    fn transient(&mut self, resource: &CoveredResource, reason: &str, spec: &ReasonSpec) {
        let id = finding_id(self.scope, reason, resource);
        // The earliest sighting wins; `now` caps a first_seen from the future.
        let since = self
            .first_seen
            .get(&id)
            .map_or(self.now, |t| (*t).min(self.now));
        let pending = Pending {
            since,
            lasted: self.now.signed_duration_since(since),
        };
        let grace = grace(self.config.pending_grace);
        if pending.lasted >= grace {
            self.not_scanned(resource, reason, spec, Some(pending));
            return;
        }
        self.tally.count("transient_within_grace", 1);
        // An operator who turned the reason off hears nothing, within the grace too.
        let Some(severity) = self.level(reason, spec).severity() else {
            return;
        };
        // A grace too long to add to a date never ends (the config allows it).
        let grace_ends = since.checked_add_signed(grace).map(|t| t.to_rfc3339());
        let until = grace_ends.as_deref().unwrap_or("the grace ends");
        let title = format!(
            "{} ({}, within the {} grace): {}",
            spec.title,
            lasted_text(pending.lasted),
            duration(self.config.pending_grace),
            resource.resource_id
        );
        let description = format!(
            "{} It has been in this state since at least {}; that is normal for up to {} \
             (pending_grace), so this finding is informational until {until}, when it takes \
             severity {severity} if the state lasts.",
            self.reported_as(resource, reason),
            since.to_rfc3339(),
            duration(self.config.pending_grace),
        );
        // The table's advice is for a state that outlasted its grace; until
        // then there is nothing to do but wait.
        let recommendation = format!(
            "Nothing to do yet. If the state lasts past {until}: {}",
            spec.recommendation
        );
        let finding = self
            .resource_finding(resource, reason, Severity::Info, title)
            .description(description)
            .recommendation(recommendation)
            .detail("first_seen", since.to_rfc3339())
            .detail("grace_ends", grace_ends);
        self.tally.findings.push(finding);
    }

    /// "Amazon Inspector reports ... with reason ...": the opening of every
    /// resource finding's description.
    fn reported_as(&self, resource: &CoveredResource, reason: &str) -> String {
        format!(
            "Amazon Inspector reports {} {} ({} scan) as {} with reason {reason} in account {}, \
             region {}.",
            resource.resource_type,
            resource.resource_id,
            if resource.scan_type.is_empty() {
                "unknown"
            } else {
                &resource.scan_type
            },
            resource
                .status_code
                .as_deref()
                .unwrap_or("without a status"),
            self.scope.account,
            self.scope.region,
        )
    }

    fn not_scanned(
        &mut self,
        resource: &CoveredResource,
        reason: &str,
        spec: &ReasonSpec,
        pending: Option<Pending>,
    ) {
        let Some(mut severity) = self.level(reason, spec).severity() else {
            self.tally.count("suppressed", 1);
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
        let mut description = self.reported_as(resource, reason);
        let mut recommendation = spec.recommendation.to_owned();
        let mut hybrid_lowered = None;
        if self.hybrid && spec.agentless_covers && severity > self.config.hybrid_severity {
            hybrid_lowered = Some(severity);
            description.push_str(&format!(
                " The account scans EC2 in hybrid mode (EC2_HYBRID), so agentless scanning \
                 covers this instance; severity lowered from {severity} to {}.",
                self.config.hybrid_severity
            ));
            severity = self.config.hybrid_severity;
        }
        if let Some(pending) = pending {
            description.push_str(&format!(
                " It has been in this state since at least {} ({}), longer than the {} grace \
                 period.",
                pending.since.to_rfc3339(),
                lasted_text(pending.lasted),
                duration(self.config.pending_grace),
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
                    .replace(
                        "{resource}",
                        &crate::text::shell_word(&resource.resource_id),
                    )
                    .replace("{region}", &self.scope.region),
            );
        }
        if let Some(from) = hybrid_lowered {
            finding = finding
                .detail("ec2_scan_mode", "EC2_HYBRID")
                .detail("severity_lowered_from", from);
        }
        if let Some(pending) = pending {
            finding = finding.detail("first_seen", pending.since.to_rfc3339());
        }
        if let Some(root) = root {
            finding = finding.detail("root_cause", root.id);
        }
        self.tally.findings.push(finding);
    }

    fn recency(&mut self, resource: &CoveredResource) {
        let Some(severity) = self.config.scan_stale.severity() else {
            return;
        };
        let Some(last) = resource.last_scanned_at else {
            // ACTIVE without a scan time: nothing to measure staleness against.
            self.tally.count("resources.active_never_scanned", 1);
            return;
        };
        let age = self.now.signed_duration_since(last);
        if age <= grace(self.config.scan_stale_after) {
            return;
        }
        self.tally.count("scan_stale", 1);
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
                duration(self.config.scan_stale_after)
            ))
            .recommendation(
                "Check why Inspector stopped rescanning: for EC2, that the SSM Agent is online \
                 and the InspectorInventoryCollection-do-not-delete association runs; for ECR, \
                 the re-scan duration and scan frequency; for Lambda, that the function is \
                 still supported.",
            )
            .detail("age_days", (days * 10.0).round() / 10.0);
        self.tally.findings.push(finding);
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
}

/// A configured duration as a chrono one; one too large to represent never ends.
fn grace(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// How long a state has lasted, for finding text; "just seen" rather than
/// "for 0s" at the first sighting.
fn lasted_text(lasted: chrono::Duration) -> String {
    if lasted < chrono::Duration::minutes(1) {
        return "just seen".to_owned();
    }
    format!("for {}", duration(lasted.to_std().unwrap_or_default()))
}

/// The finding ID a resource's coverage finding gets for `code`: the same
/// within and after the grace, so the store keeps one finding and its history.
pub fn finding_id(scope: &Scope, code: &str, resource: &CoveredResource) -> String {
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
