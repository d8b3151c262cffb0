//! Tests of `inspector2-coverage`. The judge is tested as data: a header, the
//! resources of each pass and the peer findings in, a report out. The fetch
//! and the wiring are tested against the shared scripted fake of Inspector v2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fetch::{self, Header, ManagedNodes, Pass, Presence};
use super::judge::{finding_id, Judge};
use super::*;
use blindspot_aws::inspector2::{
    AccountStatus, AccountStatusBatch, CoveredResource, Ec2DeepInspectionConfiguration,
    EnablementState, FailedAccount, Inspector2Configuration,
};
use blindspot_aws::testing::{FakeInspector2, Fakes};
use blindspot_aws::{AwsError, AwsErrorKind};
use blindspot_core::{Finding, NoPeers, PeerError, PeerFindings, Scope};
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use reasons::Disposition;
use std::sync::Arc;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

fn scope() -> Scope {
    Scope::new(ACCOUNT, REGION)
}

fn state(status: &str) -> EnablementState {
    EnablementState {
        status: status.to_owned(),
        error_code: None,
        error_message: None,
    }
}

fn enabled() -> AccountStatus {
    AccountStatus {
        account_id: ACCOUNT.to_owned(),
        state: state("ENABLED"),
        ec2: Some(state("ENABLED")),
        ecr: Some(state("ENABLED")),
        lambda: Some(state("ENABLED")),
        lambda_code: Some(state("ENABLED")),
    }
}

fn agent_based() -> Inspector2Configuration {
    Inspector2Configuration {
        ec2_scan_mode: Some("EC2_SSM_AGENT_BASED".into()),
        ec2_scan_mode_status: Some("SUCCESS".into()),
    }
}

fn hybrid(status: &str) -> Inspector2Configuration {
    Inspector2Configuration {
        ec2_scan_mode: Some("EC2_HYBRID".into()),
        ec2_scan_mode_status: Some(status.into()),
    }
}

fn ec2(id: &str, status: &str, reason: &str) -> CoveredResource {
    CoveredResource {
        resource_type: "AWS_EC2_INSTANCE".into(),
        resource_id: id.into(),
        account_id: ACCOUNT.into(),
        scan_type: "PACKAGE".into(),
        status_code: Some(status.into()),
        reason: Some(reason.into()),
        last_scanned_at: None,
        scan_mode: Some("EC2_SSM_AGENT_BASED".into()),
        platform: Some("AMAZON_LINUX_2".into()),
        ami_id: Some("ami-0abcdef1234567890".into()),
        tags: [("Name".to_owned(), format!("web-{id}"))]
            .into_iter()
            .collect(),
    }
}

fn inactive(id: &str, reason: &str) -> CoveredResource {
    ec2(id, "INACTIVE", reason)
}

fn active(id: &str, scanned_days_ago: i64) -> CoveredResource {
    CoveredResource {
        last_scanned_at: Some(now() - chrono::Duration::days(scanned_days_ago)),
        ..ec2(id, "ACTIVE", "SUCCESSFUL")
    }
}

fn association_finding(code: &str, resource: &str, document: Option<&str>) -> Finding {
    let mut f = Finding::new(
        ASSOCIATIONS_RULE,
        code,
        Severity::High,
        &scope(),
        resource,
        format!("{code} on {resource}"),
    );
    if let Some(doc) = document {
        f = f.detail("document", doc);
    }
    f
}

// ---------------------------------------------------------------------------
// The judge, as data.

/// One judgement's input: what the fetch read, and the peer findings.
struct Case {
    config: CoverageConfig,
    status: AccountStatusBatch,
    configuration: Option<Inspector2Configuration>,
    inactive: Vec<CoveredResource>,
    active: Vec<CoveredResource>,
    peers: Vec<Finding>,
    at: DateTime<Utc>,
    /// What the presence calls and deep inspection read; by default some of
    /// everything and deep inspection on.
    lambda_functions: Option<Presence>,
    ecr_repositories: Option<Presence>,
    managed_nodes: Option<Result<ManagedNodes, String>>,
    deep_inspection: Option<Result<Ec2DeepInspectionConfiguration, String>>,
}

fn some(count: u64) -> Option<Presence> {
    Some(Presence::Found {
        count,
        exact: false,
    })
}

fn deep(status: &str) -> Option<Result<Ec2DeepInspectionConfiguration, String>> {
    Some(Ok(Ec2DeepInspectionConfiguration {
        status: Some(status.to_owned()),
        ..Ec2DeepInspectionConfiguration::default()
    }))
}

impl Case {
    fn new() -> Self {
        Case {
            config: CoverageConfig::default(),
            status: AccountStatusBatch {
                accounts: vec![enabled()],
                failed: vec![],
            },
            configuration: Some(agent_based()),
            inactive: vec![],
            active: vec![],
            peers: vec![],
            at: now(),
            lambda_functions: some(1),
            ecr_repositories: some(1),
            managed_nodes: Some(Ok(ManagedNodes { total: 2, linux: 2 })),
            deep_inspection: deep("ACTIVATED"),
        }
    }

    fn status(mut self, status: AccountStatus) -> Self {
        // As the fetch does: no configuration where Inspector is not enabled.
        if status.state.status != "ENABLED" {
            self.configuration = None;
        }
        self.status.accounts = vec![status];
        self
    }

    fn inactive(mut self, resources: Vec<CoveredResource>) -> Self {
        self.inactive = resources;
        self
    }

    fn active(mut self, resources: Vec<CoveredResource>) -> Self {
        self.active = resources;
        self
    }

    /// Runs the judge as the rule does: the passes it asks for, in order.
    fn judge(&self) -> Result<RuleReport, RuleError> {
        let scope = scope();
        let header = Header {
            status: self.status.clone(),
            configuration: self.configuration.clone(),
            lambda_functions: self.lambda_functions.clone(),
            ecr_repositories: self.ecr_repositories.clone(),
            managed_nodes: self.managed_nodes.clone(),
            deep_inspection: self.deep_inspection.clone(),
            node_pages: 0,
        };
        let mut judge = Judge::new(&self.config, &scope, self.at, &header, self.peers.clone())?;
        for &pass in judge.passes() {
            let resources = match pass {
                Pass::Inactive => &self.inactive,
                Pass::Active => &self.active,
            };
            for resource in resources {
                judge.observe(pass, resource.clone());
            }
        }
        Ok(judge.finish())
    }

    fn report(&self) -> RuleReport {
        self.judge().unwrap()
    }

    fn error(&self) -> String {
        match self.judge() {
            Err(RuleError::Failed(message)) => message,
            other => panic!("expected a failed evaluation, got {other:?}"),
        }
    }
}

fn codes(report: &RuleReport) -> Vec<&str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

fn measured(report: &RuleReport, reason: &str) -> Option<f64> {
    report
        .measurements
        .iter()
        .find(|m| {
            m.name == "coverage_resources"
                && m.labels.get("reason").map(String::as_str) == Some(reason)
        })
        .map(|m| m.value)
}

#[test]
fn all_enabled_and_covered_is_clean() {
    let report = Case::new()
        .active(vec![active("i-1", 1), active("i-2", 0)])
        .report();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.counts["resources.active"], 2);
    assert_eq!(measured(&report, "SUCCESSFUL"), Some(2.0));
    assert_eq!(measured(&report, "NO_INVENTORY"), Some(0.0));
}

#[test]
fn inspector_not_enabled_is_reported_and_coverage_is_not_asked_for() {
    for (status, severity) in [
        ("DISABLED", Severity::Critical),
        ("DISABLING", Severity::Critical),
        ("SUSPENDING", Severity::Critical),
        ("SUSPENDED", Severity::Critical),
        ("SOMETHING_NEW", Severity::Critical),
        ("ENABLING", Severity::Low),
    ] {
        let mut status_of = enabled();
        status_of.state = state(status);
        let case = Case::new()
            .status(status_of)
            .inactive(vec![inactive("i-1", "NO_INVENTORY")]);
        let report = case.report();
        assert_eq!(codes(&report), [INSPECTOR_DISABLED], "{status}");
        let finding = &report.findings[0];
        assert_eq!(finding.severity, severity, "{status}");
        assert_eq!(finding.resource, ACCOUNT);
        assert_eq!(finding.details["status"], status);
        assert!(finding
            .remediation
            .as_deref()
            .unwrap()
            .contains("--region eu-west-1"));
        assert!(
            !report.counts.contains_key("resources.inactive"),
            "{status}"
        );
        assert_eq!(measured(&report, "NO_INVENTORY"), None, "{status}");
    }
}

#[test]
fn each_disabled_scan_type_is_its_own_finding() {
    let mut status = enabled();
    status.ec2 = Some(state("DISABLED"));
    status.ecr = Some(state("SUSPENDED"));
    status.lambda = Some(state("DISABLED"));
    status.lambda_code = Some(state("DISABLED"));
    let report = Case::new().status(status).report();
    let got: Vec<(&str, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect();
    assert_eq!(
        got,
        [
            (EC2_SCANNING_DISABLED, Severity::High),
            (ECR_SCANNING_DISABLED, Severity::Medium),
            (LAMBDA_CODE_SCANNING_DISABLED, Severity::Low),
            (LAMBDA_SCANNING_DISABLED, Severity::Medium),
        ]
    );
    let ec2_gauge = report
        .measurements
        .iter()
        .find(|m| m.name == "coverage_scanning_enabled" && m.labels["scan"] == "ec2")
        .unwrap();
    assert_eq!(ec2_gauge.value, 0.0);
}

#[test]
fn scan_type_checks_follow_their_configured_severity_or_off() {
    let mut status = enabled();
    status.ec2 = Some(state("DISABLED"));
    status.lambda = Some(state("DISABLED"));
    status.lambda_code = Some(state("DISABLED"));
    let mut case = Case::new().status(status);
    case.config = CoverageConfig {
        ec2_disabled: Level::On(Severity::Critical),
        lambda_disabled: Level::Off,
        lambda_code_disabled: Level::Off,
        ..CoverageConfig::default()
    };
    let report = case.report();
    assert_eq!(codes(&report), [EC2_SCANNING_DISABLED]);
    assert_eq!(report.findings[0].severity, Severity::Critical);
    assert_eq!(report.counts["suppressed"], 2);
}

#[test]
fn a_scan_type_still_enabling_is_reported_low() {
    let mut status = enabled();
    status.ec2 = Some(state("ENABLING"));
    let report = Case::new().status(status).report();
    assert_eq!(codes(&report), [EC2_SCANNING_DISABLED]);
    assert_eq!(report.findings[0].severity, Severity::Low);
    assert!(report.findings[0].title.contains("still being enabled"));
}

#[test]
fn absent_lambda_states_are_counted() {
    let mut status = enabled();
    status.lambda = None;
    status.lambda_code = None;
    let report = Case::new().status(status).report();
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["enablement.lambda.absent"], 1);
    assert_eq!(report.counts["enablement.lambda_code.absent"], 1);
}

/// Headers that cannot be trusted fail the evaluation: a denial must never
/// read as "enabled" or as "nothing to report" (Prowler #7597 read the
/// account in failedAccounts as a pass).
#[test]
fn untrustworthy_headers_are_errors_never_a_pass() {
    let denied_ecr = AccountStatus {
        // Denied, even next to a plausible status.
        ecr: Some(EnablementState {
            status: "DISABLED".into(),
            error_code: Some("ACCESS_DENIED".into()),
            error_message: Some("denied".into()),
        }),
        ..enabled()
    };
    let no_status = AccountStatus {
        lambda: Some(state("")),
        ..enabled()
    };
    let no_ec2 = AccountStatus {
        ec2: None,
        ..enabled()
    };
    let failed = AccountStatusBatch {
        accounts: vec![],
        failed: vec![FailedAccount {
            account_id: ACCOUNT.into(),
            error_code: "ACCESS_DENIED".into(),
            error_message: "not authorized".into(),
        }],
    };
    let only_another_account = AccountStatusBatch {
        accounts: vec![AccountStatus {
            account_id: "444455556666".into(),
            ..enabled()
        }],
        failed: vec![],
    };
    let one = |status: AccountStatus| AccountStatusBatch {
        accounts: vec![status],
        failed: vec![],
    };
    let cases: [(AccountStatusBatch, Option<Inspector2Configuration>, &str); 7] = [
        (failed, None, "ACCESS_DENIED"),
        (AccountStatusBatch::default(), None, "no status for account"),
        (only_another_account, None, "no status for account"),
        (
            one(denied_ecr),
            Some(agent_based()),
            "access denied to the ecr state",
        ),
        (
            one(no_status),
            Some(agent_based()),
            "lambda state of account",
        ),
        (one(no_ec2), Some(agent_based()), "no ec2 state"),
        (one(enabled()), None, "GetConfiguration was not read"),
    ];
    for (status, configuration, message) in cases {
        let case = Case {
            status,
            configuration,
            ..Case::new()
        };
        let error = case.error();
        assert!(error.contains(message), "{message}: {error}");
    }
}

#[test]
fn every_reported_reason_becomes_a_finding_with_its_code() {
    let resources: Vec<CoveredResource> = reasons::REASONS
        .iter()
        .filter(|s| s.disposition == Disposition::Report)
        .enumerate()
        .map(|(i, s)| inactive(&format!("i-{i:03}"), s.code))
        .collect();
    let expected = resources.len();
    let report = Case::new().inactive(resources).report();
    assert_eq!(report.findings.len(), expected);
    for finding in &report.findings {
        let spec = reasons::lookup(&finding.code);
        assert_eq!(spec.code, finding.code);
        assert_eq!(finding.severity, spec.severity, "{}", finding.code);
        assert_eq!(
            finding.recommendation, spec.recommendation,
            "{}",
            finding.code
        );
        assert_eq!(finding.details["reason"], finding.code);
        assert_eq!(finding.details["platform"], "AMAZON_LINUX_2");
        assert_eq!(finding.details["ami_id"], "ami-0abcdef1234567890");
        assert_eq!(finding.details["resource_type"], "AWS_EC2_INSTANCE");
        assert_eq!(finding.details["account"], ACCOUNT);
        assert_eq!(finding.details["region"], REGION);
        assert!(finding.details["tags"]["Name"]
            .as_str()
            .unwrap()
            .starts_with("web-"));
    }
}

#[test]
fn benign_reasons_are_counted_not_reported_unless_configured() {
    let benign = [
        "EC2_INSTANCE_STOPPED",
        "RESOURCE_TERMINATED",
        "PENDING_DISABLE",
        "EXCLUDED_BY_TAG",
    ];
    let resources: Vec<CoveredResource> = benign
        .iter()
        .enumerate()
        .map(|(i, r)| inactive(&format!("i-{i}"), r))
        .collect();
    let report = Case::new().inactive(resources.clone()).report();
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    for reason in benign {
        assert_eq!(measured(&report, reason), Some(1.0), "{reason}");
        assert_eq!(report.counts[&format!("reason.{reason}")], 1);
    }
    assert_eq!(report.counts["suppressed"], 4);

    // An operator may report one, and silence a reported one.
    let mut with_os = resources;
    with_os.push(inactive("i-9", "UNSUPPORTED_OS"));
    let mut case = Case::new().inactive(with_os);
    case.config.reasons = [
        ("EXCLUDED_BY_TAG".to_owned(), Level::On(Severity::Low)),
        ("UNSUPPORTED_OS".to_owned(), Level::Off),
    ]
    .into_iter()
    .collect();
    let report = case.report();
    assert_eq!(codes(&report), ["EXCLUDED_BY_TAG"]);
    assert_eq!(report.findings[0].severity, Severity::Low);
    assert_eq!(measured(&report, "UNSUPPORTED_OS"), Some(1.0));
}

#[test]
fn unknown_and_missing_reasons_are_reported_never_dropped() {
    let mut no_reason = inactive("i-2", "");
    no_reason.reason = None;
    let report = Case::new()
        .inactive(vec![inactive("i-1", "QUANTUM_FLUX"), no_reason])
        .report();
    assert_eq!(codes(&report), ["QUANTUM_FLUX", UNSPECIFIED_REASON]);
    for finding in &report.findings {
        assert_eq!(finding.severity, reasons::UNKNOWN.severity);
        assert_eq!(finding.recommendation, reasons::UNKNOWN.recommendation);
    }
    assert!(report.findings[0].title.contains("QUANTUM_FLUX"));
    assert_eq!(measured(&report, "QUANTUM_FLUX"), Some(1.0));
    assert_eq!(measured(&report, UNSPECIFIED_REASON), Some(1.0));
}

#[test]
fn metric_labels_stay_bounded_for_malformed_reasons() {
    let report = Case::new()
        .inactive(vec![inactive("i-1", "i-0123 is broken!")])
        .report();
    // Still reported, under its own code, but labelled INVALID in metrics.
    assert_eq!(codes(&report), ["i-0123 is broken!"]);
    assert_eq!(measured(&report, "INVALID"), Some(1.0));
    assert_eq!(measured(&report, "i-0123 is broken!"), None);
    let labels: Vec<&str> = report
        .measurements
        .iter()
        .filter(|m| m.name == "coverage_resources")
        .map(|m| m.labels["reason"].as_str())
        .collect();
    // The 39 known reasons (zeros included) plus INVALID.
    assert_eq!(labels.len(), reasons::REASONS.len() + 1);
}

/// The rule's own open finding for a transient state, as the store hands it
/// back: only its identity and `details.first_seen` matter.
fn own_finding(reason: &str, resource: &CoveredResource, first_seen: &str) -> Finding {
    Finding::new(
        ID,
        reason,
        Severity::Info,
        &scope(),
        &resource.resource_id,
        "t",
    )
    .distinguished_by(&resource.scan_type)
    .detail("first_seen", first_seen)
}

/// A transient state's finding by how long ago its own open finding says it
/// was first seen (`None`: no open finding, e.g. the first sighting, or the
/// state cleared and its finding resolved). With the default 24h grace.
#[test]
fn transient_states_are_info_within_the_grace_and_their_reasons_severity_after() {
    let cases: [(&str, &str, Option<i64>, Severity, i64); 9] = [
        // (reason, status code, first seen hours ago, severity, reported first seen hours ago)
        ("PENDING_INITIAL_SCAN", "INACTIVE", None, Severity::Info, 0),
        (
            "PENDING_INITIAL_SCAN",
            "INACTIVE",
            Some(23),
            Severity::Info,
            23,
        ),
        (
            "PENDING_INITIAL_SCAN",
            "INACTIVE",
            Some(24),
            Severity::Medium,
            24,
        ),
        // Inspector may list it as ACTIVE too (the simulator does).
        (
            "PENDING_INITIAL_SCAN",
            "ACTIVE",
            Some(48),
            Severity::Medium,
            48,
        ),
        ("SCAN_IN_PROGRESS", "ACTIVE", Some(2), Severity::Info, 2),
        ("SCAN_IN_PROGRESS", "ACTIVE", Some(25), Severity::Low, 25),
        (
            "PENDING_REVIVAL_SCAN",
            "INACTIVE",
            Some(30),
            Severity::Low,
            30,
        ),
        // A first_seen from the future is capped at now.
        (
            "PENDING_REVIVAL_SCAN",
            "INACTIVE",
            Some(-5),
            Severity::Info,
            0,
        ),
        ("PENDING_REVIVAL_SCAN", "INACTIVE", None, Severity::Info, 0),
    ];
    for (reason, status, seen_ago, severity, reported_ago) in cases {
        let resource = ec2("i-1", status, reason);
        let mut case = if status == "ACTIVE" {
            Case::new().active(vec![resource.clone()])
        } else {
            Case::new().inactive(vec![resource.clone()])
        };
        if let Some(ago) = seen_ago {
            let since = (now() - hours(ago)).to_rfc3339();
            case.peers = vec![own_finding(reason, &resource, &since)];
        }
        let label = format!("{reason} {status} {seen_ago:?}");
        let report = case.report();
        assert_eq!(codes(&report), [reason], "{label}");
        let finding = &report.findings[0];
        assert_eq!(finding.severity, severity, "{label}");
        assert_eq!(
            finding.id,
            finding_id(&scope(), reason, &resource),
            "{label}"
        );
        assert_eq!(
            finding.details["first_seen"],
            (now() - hours(reported_ago)).to_rfc3339(),
            "{label}"
        );
        let within = severity == Severity::Info;
        assert_eq!(
            report.counts.get("transient_within_grace").copied(),
            within.then_some(1),
            "{label}"
        );
        assert_eq!(
            finding.title.contains("within the 1day grace"),
            within,
            "{label}: {}",
            finding.title
        );
        assert_eq!(measured(&report, reason), Some(1.0), "{label}");
    }
}

/// Two evaluations, the second given the first's findings as the store would
/// hand them back: the first sighting is kept, the finding escalates once the
/// grace is over under the same ID, and a fresh judge (a restarted daemon)
/// given the same peer findings says exactly the same.
#[test]
fn the_grace_is_carried_by_the_rules_own_findings_across_evaluations_and_restarts() {
    let t0 = now();
    let resource = inactive("i-1", "PENDING_INITIAL_SCAN");
    let first = Case {
        at: t0,
        ..Case::new()
    }
    .inactive(vec![resource.clone()])
    .report();
    assert_eq!(first.findings.len(), 1);
    assert_eq!(first.findings[0].severity, Severity::Info);
    assert_eq!(first.findings[0].details["first_seen"], t0.to_rfc3339());
    assert_eq!(
        first.findings[0].details["grace_ends"],
        (t0 + hours(24)).to_rfc3339()
    );

    let second = Case {
        at: t0 + hours(12),
        peers: first.findings.clone(),
        ..Case::new()
    }
    .inactive(vec![resource.clone()]);
    let second_report = second.report();
    assert_eq!(second_report.findings[0].severity, Severity::Info);
    assert_eq!(second_report.findings[0].id, first.findings[0].id);
    assert_eq!(
        second_report.findings[0].details["first_seen"],
        t0.to_rfc3339()
    );
    assert!(
        second_report.findings[0].title.contains("for 12h"),
        "{}",
        second_report.findings[0].title
    );

    let third = Case {
        at: t0 + hours(25),
        peers: second_report.findings.clone(),
        ..Case::new()
    }
    .inactive(vec![resource]);
    let third_report = third.report();
    let escalated = &third_report.findings[0];
    assert_eq!(escalated.severity, Severity::Medium);
    assert_eq!(escalated.id, first.findings[0].id);
    assert_eq!(escalated.details["first_seen"], t0.to_rfc3339());
    assert!(escalated.details.get("grace_ends").is_none());
    assert!(escalated.description.contains("longer than the 1day grace"));
    assert!(!third_report.counts.contains_key("transient_within_grace"));

    // A restart: a new judge, the same inputs, the same answer.
    assert_eq!(third.report(), third_report);
    assert_eq!(second.report(), second_report);
}

/// Other open findings of the rule never lend their clock: another resource,
/// another scan type, a finding without a readable first_seen.
#[test]
fn only_the_same_fingerprint_carries_a_first_seen() {
    let resource = inactive("i-1", "PENDING_INITIAL_SCAN");
    let long_ago = (now() - hours(100)).to_rfc3339();
    let mut other_scan_type = resource.clone();
    other_scan_type.scan_type = "NETWORK".into();
    let case = Case {
        peers: vec![
            own_finding("PENDING_INITIAL_SCAN", &inactive("i-2", "x"), &long_ago),
            own_finding("PENDING_INITIAL_SCAN", &other_scan_type, &long_ago),
            own_finding("SCAN_IN_PROGRESS", &resource, &long_ago),
            own_finding("PENDING_INITIAL_SCAN", &resource, "yesterday"),
        ],
        ..Case::new()
    }
    .inactive(vec![resource]);
    let report = case.report();
    assert_eq!(report.findings[0].severity, Severity::Info);
    assert_eq!(report.findings[0].details["first_seen"], now().to_rfc3339());
}

#[test]
fn pending_grace_is_configurable_and_a_silenced_reason_stays_silent() {
    let resource = inactive("i-1", "PENDING_INITIAL_SCAN");
    let mut case = Case::new().inactive(vec![resource]);
    case.config.pending_grace = std::time::Duration::ZERO;
    let report = case.report();
    assert_eq!(codes(&report), ["PENDING_INITIAL_SCAN"]);
    assert_eq!(report.findings[0].severity, Severity::Medium);

    // A grace too long for any date never ends, and never panics.
    case.config.pending_grace = std::time::Duration::from_secs(u64::MAX);
    let report = case.report();
    assert_eq!(report.findings[0].severity, Severity::Info);
    assert!(report.findings[0].details["grace_ends"].is_null());

    case.config = CoverageConfig::default();
    case.config
        .reasons
        .insert("PENDING_INITIAL_SCAN".into(), Level::Off);
    let report = case.report();
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["transient_within_grace"], 1);
}

#[test]
fn hybrid_mode_lowers_what_agentless_scanning_covers() {
    let resources = vec![
        inactive("i-1", "UNMANAGED_EC2_INSTANCE"),
        inactive("i-2", "NO_INVENTORY"),
        inactive("i-3", "STALE_INVENTORY"),
        inactive("i-4", "UNSUPPORTED_OS"),
    ];
    let case = Case {
        configuration: Some(hybrid("SUCCESS")),
        ..Case::new()
    }
    .inactive(resources.clone());
    let report = case.report();
    for finding in &report.findings {
        if finding.code == "UNSUPPORTED_OS" {
            assert_eq!(finding.severity, Severity::Medium);
            assert!(finding.details.get("severity_lowered_from").is_none());
        } else {
            assert_eq!(finding.severity, Severity::Low, "{}", finding.code);
            assert_eq!(finding.details["severity_lowered_from"], "high");
            assert!(
                finding.description.contains("EC2_HYBRID"),
                "{}",
                finding.description
            );
        }
    }
    let hybrid_gauge = report
        .measurements
        .iter()
        .find(|m| m.name == "coverage_ec2_hybrid_scan_mode")
        .unwrap();
    assert_eq!(hybrid_gauge.value, 1.0);

    // A switch to hybrid that is still PENDING has not taken effect.
    let report = Case {
        configuration: Some(hybrid("PENDING")),
        ..Case::new()
    }
    .inactive(resources)
    .report();
    let unmanaged = report
        .findings
        .iter()
        .find(|f| f.code == "UNMANAGED_EC2_INSTANCE")
        .unwrap();
    assert_eq!(unmanaged.severity, Severity::High);
}

#[test]
fn root_cause_names_the_inventory_association_finding() {
    let cause = association_finding("EXECUTION_FAILED", INVENTORY_ASSOCIATION, None);
    let by_document = association_finding(
        "ASSOCIATION_MISSING",
        "custom-inventory",
        Some(INVENTORY_DOCUMENT),
    );
    let unrelated = association_finding(
        "EXECUTION_FAILED",
        "InspectorDistributor-do-not-delete",
        Some("AmazonInspector2-ConfigureInspectorSsmPlugin"),
    );
    let wrong_code = association_finding("SOMETHING_ELSE", INVENTORY_ASSOCIATION, None);
    let mut other_scope = cause.clone();
    other_scope.region = "us-east-1".into();
    let resources = vec![
        inactive("i-1", "NO_INVENTORY"),
        inactive("i-2", "STALE_INVENTORY"),
        inactive("i-3", "UNMANAGED_EC2_INSTANCE"),
    ];
    let with_peers = |peers: Vec<Finding>| {
        Case {
            peers,
            ..Case::new()
        }
        .inactive(resources.clone())
        .report()
    };

    let report = with_peers(vec![cause.clone(), unrelated.clone(), wrong_code.clone()]);
    for finding in &report.findings {
        if finding.code == "UNMANAGED_EC2_INSTANCE" {
            assert!(finding.details.get("root_cause").is_none());
            continue;
        }
        assert_eq!(finding.details["root_cause"], cause.id, "{}", finding.code);
        assert!(finding.recommendation.contains(&cause.id));
        assert!(finding.recommendation.contains("EXECUTION_FAILED"));
        assert!(finding.recommendation.contains(&cause.title));
    }

    // Matched by the document too.
    let report = with_peers(vec![by_document.clone()]);
    let no_inventory = report
        .findings
        .iter()
        .find(|f| f.code == "NO_INVENTORY")
        .unwrap();
    assert_eq!(no_inventory.details["root_cause"], by_document.id);

    // Nothing relevant in this scope: no link.
    for peers in [vec![], vec![unrelated, wrong_code], vec![other_scope]] {
        for finding in &with_peers(peers).findings {
            assert!(
                finding.details.get("root_cause").is_none(),
                "{}",
                finding.code
            );
            assert!(!finding.recommendation.contains("Likely cause"));
        }
    }
}

#[test]
fn scan_stale_reports_old_active_scans_only() {
    let mut never = active("i-never", 0);
    never.last_scanned_at = None;
    let case = Case::new().active(vec![active("i-fresh", 2), active("i-old", 4), never]);
    let report = case.report();
    assert_eq!(codes(&report), [SCAN_STALE]);
    let finding = &report.findings[0];
    assert_eq!(finding.resource, "i-old");
    assert_eq!(finding.severity, Severity::Medium);
    assert_eq!(finding.details["age_days"], 4.0);
    assert!(
        finding.description.contains("more than 3days ago"),
        "{}",
        finding.description
    );
    assert_eq!(report.counts["resources.active_never_scanned"], 1);

    // Off: the judge does not even ask for the ACTIVE pass.
    let mut case = case;
    case.config.scan_stale = Level::Off;
    let report = case.report();
    assert!(report.findings.is_empty());
    assert!(!report.counts.contains_key("resources.active"));
}

#[test]
fn the_passes_asked_for_follow_enablement_and_scan_stale() {
    let scope = scope();
    let mut disabled = enabled();
    disabled.state = state("DISABLED");
    let off = CoverageConfig {
        scan_stale: Level::Off,
        ..CoverageConfig::default()
    };
    let default = CoverageConfig::default();
    let cases: [(
        &CoverageConfig,
        AccountStatus,
        Option<Inspector2Configuration>,
        &[Pass],
    ); 3] = [
        (
            &default,
            enabled(),
            Some(agent_based()),
            &[Pass::Inactive, Pass::Active],
        ),
        (&off, enabled(), Some(agent_based()), &[Pass::Inactive]),
        (&default, disabled, None, &[]),
    ];
    for (config, status, configuration, passes) in cases {
        let header = Header {
            status: AccountStatusBatch {
                accounts: vec![status],
                failed: vec![],
            },
            configuration,
            ..Header::default()
        };
        let judge = Judge::new(config, &scope, now(), &header, vec![]).unwrap();
        assert_eq!(judge.passes(), passes);
    }
}

#[test]
fn other_accounts_resources_are_left_to_their_own_scope() {
    let mut member = inactive("i-m", "NO_INVENTORY");
    member.account_id = "444455556666".into();
    let report = Case::new().inactive(vec![member]).report();
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["resources.other_account"], 1);
}

#[test]
fn lambda_package_and_code_entries_are_distinct_findings() {
    let lambda = |scan_type: &str| CoveredResource {
        resource_type: "AWS_LAMBDA_FUNCTION".into(),
        resource_id: "arn:aws:lambda:eu-west-1:111122223333:function:f".into(),
        account_id: ACCOUNT.into(),
        scan_type: scan_type.into(),
        status_code: Some("INACTIVE".into()),
        reason: Some("UNSUPPORTED_RUNTIME".into()),
        ..CoveredResource::default()
    };
    let report = Case::new()
        .inactive(vec![lambda("PACKAGE"), lambda("CODE")])
        .report();
    assert_eq!(report.findings.len(), 2);
    assert_ne!(report.findings[0].id, report.findings[1].id);
}

/// The main outputs: one of every reason (the three transient ones within
/// their grace, so `info`), disabled Lambda code scanning, a stale scan and a
/// root cause, in hybrid mode.
#[test]
fn snapshot_of_a_mixed_account() {
    let mut status = enabled();
    status.lambda_code = Some(state("DISABLED"));
    let mut resources: Vec<CoveredResource> = reasons::REASONS
        .iter()
        .enumerate()
        .map(|(i, s)| inactive(&format!("i-{i:03}"), s.code))
        .collect();
    resources.push(inactive("i-new", "FUTURE_REASON"));
    let case = Case {
        configuration: Some(hybrid("SUCCESS")),
        peers: vec![association_finding(
            "EXECUTION_STALE",
            INVENTORY_ASSOCIATION,
            Some(INVENTORY_DOCUMENT),
        )],
        ..Case::new()
    }
    .status(status)
    .inactive(resources)
    .active(vec![active("i-fresh", 1), active("i-stale", 10)]);
    let report = case.report();
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("coverage_mixed_account", report);
    });
}

#[test]
fn snapshot_of_a_disabled_region() {
    let mut status = enabled();
    status.state = EnablementState {
        status: "DISABLED".into(),
        error_code: Some("BLOCKED_BY_ORGANIZATION_POLICY".into()),
        error_message: Some("An SCP blocks Inspector".into()),
    };
    let report = Case::new().status(status).report();
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("coverage_disabled_region", report);
    });
}

// ---------------------------------------------------------------------------
// The config and the contract.

#[test]
fn config_parses_levels_and_rejects_mistakes() {
    let config: CoverageConfig = serde_json::from_value(serde_json::json!({
        "lambda_disabled": "off",
        "ec2_disabled": "critical",
        "pending_grace": "6h",
        "scan_stale_after": "7days",
        "resource_types": ["AWS_EC2_INSTANCE"],
        "reasons": {"EXCLUDED_BY_TAG": "low", "UNSUPPORTED_OS": "off"},
    }))
    .unwrap();
    assert_eq!(config.lambda_disabled, Level::Off);
    assert_eq!(config.ec2_disabled, Level::On(Severity::Critical));
    assert_eq!(config.pending_grace, Duration::from_secs(6 * 3600));
    assert_eq!(config.scan_stale_after, Duration::from_secs(7 * 86400));
    assert_eq!(config.reasons["UNSUPPORTED_OS"], Level::Off);

    for (bad, message) in [
        (
            serde_json::json!({"ec2_disabled": "severe"}),
            "unknown level",
        ),
        (
            serde_json::json!({"resource_types": ["EC2"]}),
            "unknown resource type",
        ),
        (serde_json::json!({"resource_types": []}), "is empty"),
        (
            serde_json::json!({"resource_types": RESOURCE_TYPES[..11].to_vec()}),
            "at most 10",
        ),
        (
            serde_json::json!({"reasons": {"no_inventory": "low"}}),
            "UPPER_SNAKE_CASE",
        ),
        (
            serde_json::json!({"scan_stale_afer": "1d"}),
            "unknown field",
        ),
    ] {
        let err = serde_json::from_value::<CoverageConfig>(bad.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{bad}: {err}");
    }
}

#[test]
fn transient_codes_are_the_tables_transient_reasons() {
    let mut from_table: Vec<&str> = reasons::REASONS
        .iter()
        .filter(|r| r.disposition == Disposition::Transient)
        .map(|r| r.code)
        .collect();
    from_table.sort_unstable();
    let mut declared = TRANSIENT_CODES.to_vec();
    declared.sort_unstable();
    assert_eq!(declared, from_table);
}

#[test]
fn the_rule_declares_exactly_what_it_reads() {
    let rule = CoverageRule::new(&CoverageConfig::default());
    let reads = rule.meta().reads;
    assert_eq!(reads.len(), 2);
    assert!(reads
        .iter()
        .any(|r| r.rule == ASSOCIATIONS_RULE && r.codes == ROOT_CAUSE_CODES));
    assert!(reads
        .iter()
        .any(|r| r.rule == ID && r.codes == TRANSIENT_CODES));
}

// ---------------------------------------------------------------------------
// The fetch and the wiring, against the shared scripted fake.

const CONFIGURED_TYPES: [&str; 5] = [
    "AWS_EC2_INSTANCE",
    "AWS_ECR_CONTAINER_IMAGE",
    "AWS_ECR_REPOSITORY",
    "AWS_LAMBDA_FUNCTION",
    "CODE_REPOSITORY",
];

fn fake_region(
    statuses: Vec<AccountStatus>,
    coverage: Vec<CoveredResource>,
    page_size: usize,
) -> Fakes {
    Fakes {
        inspector2: Arc::new(FakeInspector2 {
            statuses,
            coverage,
            configuration: agent_based(),
            page_size,
            ..FakeInspector2::default()
        }),
        ..Fakes::default()
    }
}

async fn evaluate(
    config: &CoverageConfig,
    fakes: &Fakes,
    peers: &dyn PeerFindings,
    at: DateTime<Utc>,
) -> Result<RuleReport, RuleError> {
    crate::test_support::evaluate(&CoverageRule::new(config), fakes, &scope(), at, peers).await
}

/// (operation, argument) of every Inspector v2 call, in order.
fn calls(fakes: &Fakes) -> Vec<(&'static str, String)> {
    fakes
        .inspector2
        .script
        .calls()
        .into_iter()
        .map(|c| (c.operation, c.argument))
        .collect()
}

#[test]
fn each_pass_filters_server_side_on_its_status_and_the_configured_types() {
    let types: Vec<String> = CONFIGURED_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let equals = |value: &str| blindspot_aws::inspector2::StringFilter {
        comparison: "EQUALS".into(),
        value: value.into(),
    };
    for (pass, status) in [(Pass::Inactive, "INACTIVE"), (Pass::Active, "ACTIVE")] {
        assert_eq!(
            fetch::filter(&types, pass),
            blindspot_aws::inspector2::CoverageFilter {
                scan_status_code: vec![equals(status)],
                resource_type: CONFIGURED_TYPES.iter().map(|t| equals(t)).collect(),
                ..Default::default()
            }
        );
    }
}

#[tokio::test]
async fn the_rule_streams_each_pass_through_the_judge() {
    let mut machine_image = inactive("ami-1", "UNSUPPORTED_OS");
    machine_image.resource_type = "MACHINE_IMAGE".into();
    let fakes = fake_region(
        vec![enabled()],
        vec![
            inactive("i-1", "NO_INVENTORY"),
            active("i-4", 0),
            inactive("i-2", "UNSUPPORTED_OS"),
            machine_image,
            inactive("i-3", "UNMANAGED_EC2_INSTANCE"),
            active("i-5", 9),
        ],
        2,
    );
    let report = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    assert_eq!(
        calls(&fakes),
        [
            ("BatchGetAccountStatus", ACCOUNT.to_owned()),
            ("GetConfiguration", String::new()),
            ("GetEc2DeepInspectionConfiguration", String::new()),
            ("ListCoverage", String::new()),
            ("ListCoverage", "page-2".to_owned()),
            ("ListCoverage", String::new()),
        ]
    );
    assert_eq!(report.counts["calls.BatchGetAccountStatus"], 1);
    assert_eq!(report.counts["calls.GetConfiguration"], 1);
    assert_eq!(report.counts["calls.ListCoverage"], 3);
    // The machine image is not a configured type: filtered out server-side.
    assert_eq!(report.counts["resources.inactive"], 3);
    assert_eq!(report.counts["resources.active"], 2);
    assert_eq!(
        codes(&report),
        [
            "NO_INVENTORY",
            SCAN_STALE,
            "UNMANAGED_EC2_INSTANCE",
            "UNSUPPORTED_OS"
        ]
    );
}

#[tokio::test]
async fn nothing_past_the_status_is_called_where_inspector_is_off() {
    let mut disabled = enabled();
    disabled.state = state("DISABLED");
    let fakes = fake_region(vec![disabled], vec![inactive("i-1", "NO_INVENTORY")], 0);
    let report = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    assert_eq!(codes(&report), [INSPECTOR_DISABLED]);
    assert_eq!(
        calls(&fakes),
        [("BatchGetAccountStatus", ACCOUNT.to_owned())]
    );
    assert_eq!(report.counts["calls.BatchGetAccountStatus"], 1);
    assert!(!report.counts.contains_key("calls.GetConfiguration"));
    assert!(!report.counts.contains_key("calls.ListCoverage"));
}

#[tokio::test]
async fn scan_stale_off_lists_only_the_inactive_pass() {
    let fakes = fake_region(vec![enabled()], vec![active("i-old", 4)], 0);
    let config = CoverageConfig {
        scan_stale: Level::Off,
        ..CoverageConfig::default()
    };
    let report = evaluate(&config, &fakes, &NoPeers, now()).await.unwrap();
    assert!(report.findings.is_empty());
    assert_eq!(fakes.inspector2.script.count("ListCoverage"), 1);
}

#[tokio::test]
async fn a_failed_call_fails_the_evaluation() {
    let denied = |operation: &'static str| {
        AwsError::from_code(
            "inspector2",
            operation,
            "AccessDeniedException",
            "not allowed",
        )
    };
    let throttled = AwsError::new(
        "inspector2",
        "GetConfiguration",
        AwsErrorKind::Throttled,
        "slow down",
    );
    let cases: [(&str, AwsError, &str); 3] = [
        (
            "BatchGetAccountStatus",
            denied("BatchGetAccountStatus"),
            "access_denied",
        ),
        ("GetConfiguration", throttled, "throttled"),
        ("ListCoverage", denied("ListCoverage"), "ListCoverage"),
    ];
    for (operation, error, message) in cases {
        let fakes = fake_region(vec![enabled()], vec![inactive("i-1", "NO_INVENTORY")], 0);
        fakes.inspector2.script.fail_next(operation, error);
        let result = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now()).await;
        assert!(
            matches!(&result, Err(RuleError::Failed(m)) if m.contains(message)),
            "{operation}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_denied_state_fails_before_any_listing() {
    let status = AccountStatus {
        ecr: Some(EnablementState {
            status: "DISABLED".into(),
            error_code: Some("ACCESS_DENIED".into()),
            error_message: Some("denied".into()),
        }),
        ..enabled()
    };
    let fakes = fake_region(vec![status], vec![inactive("i-1", "NO_INVENTORY")], 0);
    let result = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now()).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("ecr")));
    assert_eq!(fakes.inspector2.script.count("ListCoverage"), 0);
}

/// Peers whose store cannot answer.
struct UnreadablePeers;

impl PeerFindings for UnreadablePeers {
    fn open_findings(&self, rule: &str, _scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        Err(PeerError {
            rule: rule.to_owned(),
            message: "database is locked".to_owned(),
        })
    }
}

#[tokio::test]
async fn a_failed_peer_read_is_an_error_never_an_empty_list() {
    let fakes = fake_region(
        vec![enabled()],
        vec![inactive("i-1", "PENDING_INITIAL_SCAN")],
        0,
    );
    let result = evaluate(&CoverageConfig::default(), &fakes, &UnreadablePeers, now()).await;
    assert!(
        matches!(&result, Err(RuleError::Failed(m)) if m.contains("database is locked")),
        "{result:?}"
    );
    assert!(
        calls(&fakes).is_empty(),
        "no call without the peer findings"
    );
}

/// The rule keeps nothing between evaluations: the same instance, a day
/// later, with no open findings to read, sees a first sighting again.
#[tokio::test]
async fn the_rule_remembers_nothing_between_evaluations() {
    let fakes = fake_region(
        vec![enabled()],
        vec![inactive("i-1", "PENDING_INITIAL_SCAN")],
        0,
    );
    let rule = CoverageRule::new(&CoverageConfig::default());
    for at in [now(), now() + hours(25)] {
        let report = crate::test_support::evaluate(&rule, &fakes, &scope(), at, &NoPeers)
            .await
            .unwrap();
        assert_eq!(report.findings[0].severity, Severity::Info, "{at}");
        assert_eq!(report.findings[0].details["first_seen"], at.to_rfc3339());
    }
}

#[tokio::test]
async fn pages_are_fetched_one_poll_at_a_time() {
    let fakes = fake_region(
        vec![enabled()],
        (0..5)
            .map(|i| inactive(&format!("i-{i}"), "NO_INVENTORY"))
            .collect(),
        2,
    );
    let types: Vec<String> = CONFIGURED_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let api = fakes.inspector2.as_ref();
    let mut pages = std::pin::pin!(fetch::coverage(api, &types, Pass::Inactive));
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(fakes.inspector2.script.count("ListCoverage"), 1);
    let rest: Vec<usize> = pages.map(|page| page.unwrap().len()).collect().await;
    assert_eq!(rest, [2, 1]);
    assert_eq!(fakes.inspector2.script.count("ListCoverage"), 3);
}

#[tokio::test]
async fn the_header_reads_configuration_only_where_inspector_is_enabled() {
    for (status, configuration) in [("ENABLED", true), ("ENABLING", false), ("DISABLED", false)] {
        let mut account = enabled();
        account.state = state(status);
        let fakes = fake_region(vec![account], vec![], 0);
        let header = fetch::header(&fakes.clients(), ACCOUNT).await.unwrap();
        assert_eq!(header.configuration.is_some(), configuration, "{status}");
        assert_eq!(header.status.accounts.len(), 1);
        assert_eq!(
            fakes.inspector2.script.count("GetConfiguration"),
            usize::from(configuration)
        );
    }
}

// ---------------------------------------------------------------------------
// Disabled scan types weighed by what they would scan, and deep inspection.

fn unchecked() -> Option<Presence> {
    Some(Presence::Unchecked(
        "lambda:ListFunctions failed (access_denied, AccessDeniedException): not allowed".into(),
    ))
}

fn none_found() -> Option<Presence> {
    Some(Presence::Found {
        count: 0,
        exact: true,
    })
}

#[test]
fn a_disabled_scan_type_is_weighed_by_the_resources_of_its_kind() {
    let lambda_off = || {
        let mut status = enabled();
        status.lambda = Some(state("DISABLED"));
        status.lambda_code = Some(state("DISABLED"));
        status
    };
    let ec2_off = || {
        let mut status = enabled();
        status.ec2 = Some(state("DISABLED"));
        status
    };
    let nodes = |total, linux| Some(Ok(ManagedNodes { total, linux }));
    struct Row {
        name: &'static str,
        status: AccountStatus,
        lambda: Option<Presence>,
        nodes: Option<Result<ManagedNodes, String>>,
        unused: Level,
        /// (code, severity, text in the title, `details.resources_found`)
        want: Vec<(&'static str, Severity, &'static str, serde_json::Value)>,
    }
    let rows = [
        Row {
            name: "no functions: info, none found",
            status: lambda_off(),
            lambda: none_found(),
            nodes: nodes(2, 2),
            unused: Level::On(Severity::Info),
            want: vec![
                (
                    LAMBDA_CODE_SCANNING_DISABLED,
                    Severity::Info,
                    "no Lambda functions found",
                    serde_json::json!(0),
                ),
                (
                    LAMBDA_SCANNING_DISABLED,
                    Severity::Info,
                    "no Lambda functions found",
                    serde_json::json!(0),
                ),
            ],
        },
        Row {
            name: "no functions, unused_services off: nothing",
            status: lambda_off(),
            lambda: none_found(),
            nodes: nodes(2, 2),
            unused: Level::Off,
            want: vec![],
        },
        Row {
            name: "functions: the configured severities, at least one",
            status: lambda_off(),
            lambda: some(1),
            nodes: nodes(2, 2),
            unused: Level::On(Severity::Info),
            want: vec![
                (
                    LAMBDA_CODE_SCANNING_DISABLED,
                    Severity::Low,
                    "at least 1 Lambda function",
                    serde_json::json!(1),
                ),
                (
                    LAMBDA_SCANNING_DISABLED,
                    Severity::Medium,
                    "at least 1 Lambda function",
                    serde_json::json!(1),
                ),
            ],
        },
        Row {
            name: "presence denied: the configured severities, never none found",
            status: lambda_off(),
            lambda: unchecked(),
            nodes: nodes(2, 2),
            unused: Level::On(Severity::Info),
            want: vec![
                (
                    LAMBDA_CODE_SCANNING_DISABLED,
                    Severity::Low,
                    "could not be counted",
                    serde_json::json!(null),
                ),
                (
                    LAMBDA_SCANNING_DISABLED,
                    Severity::Medium,
                    "could not be counted",
                    serde_json::json!(null),
                ),
            ],
        },
        Row {
            name: "presence not asked: the configured severities",
            status: lambda_off(),
            lambda: None,
            nodes: nodes(2, 2),
            unused: Level::On(Severity::Info),
            want: vec![
                (
                    LAMBDA_CODE_SCANNING_DISABLED,
                    Severity::Low,
                    "not counted",
                    serde_json::json!(null),
                ),
                (
                    LAMBDA_SCANNING_DISABLED,
                    Severity::Medium,
                    "not counted",
                    serde_json::json!(null),
                ),
            ],
        },
        Row {
            name: "EC2 with managed nodes: high, exactly counted",
            status: ec2_off(),
            lambda: some(1),
            nodes: nodes(3, 1),
            unused: Level::On(Severity::Info),
            want: vec![(
                EC2_SCANNING_DISABLED,
                Severity::High,
                "(3 SSM managed nodes)",
                serde_json::json!(3),
            )],
        },
        Row {
            name: "EC2 without managed nodes: info",
            status: ec2_off(),
            lambda: some(1),
            nodes: nodes(0, 0),
            unused: Level::On(Severity::Info),
            want: vec![(
                EC2_SCANNING_DISABLED,
                Severity::Info,
                "no SSM managed nodes found",
                serde_json::json!(0),
            )],
        },
        Row {
            name: "EC2, nodes unreadable: high",
            status: ec2_off(),
            lambda: some(1),
            nodes: Some(Err("ssm:DescribeInstanceInformation failed".into())),
            unused: Level::On(Severity::Info),
            want: vec![(
                EC2_SCANNING_DISABLED,
                Severity::High,
                "could not be counted",
                serde_json::json!(null),
            )],
        },
    ];
    for row in rows {
        let mut case = Case::new().status(row.status);
        case.lambda_functions = row.lambda;
        case.managed_nodes = row.nodes;
        case.deep_inspection = None;
        case.config.unused_services = row.unused;
        let report = case.report();
        let got: Vec<_> = report
            .findings
            .iter()
            .map(|f| {
                (
                    f.code.as_str(),
                    f.severity,
                    f.details["resources_found"].clone(),
                )
            })
            .collect();
        let want: Vec<_> = row
            .want
            .iter()
            .map(|(code, severity, _, found)| (*code, *severity, found.clone()))
            .collect();
        assert_eq!(got, want, "{}", row.name);
        for (finding, (_, _, text, _)) in report.findings.iter().zip(&row.want) {
            assert!(
                finding.title.contains(text),
                "{}: {}",
                row.name,
                finding.title
            );
            if finding.code == EC2_SCANNING_DISABLED {
                // Counting managed nodes misses unmanaged instances: said plainly.
                assert!(
                    finding.description.contains("unmanaged instance"),
                    "{}",
                    row.name
                );
            }
            if finding.details["resources_found"].is_null() {
                assert!(!finding.description.contains("No Lambda"), "{}", row.name);
                assert!(
                    finding.description.contains("could not be checked")
                        || finding.description.contains("was not checked"),
                    "{}",
                    row.name
                );
            }
        }
    }
}

#[test]
fn deep_inspection_off_is_reported_where_linux_nodes_exist() {
    let with_paths = Some(Ok(Ec2DeepInspectionConfiguration {
        status: Some("DEACTIVATED".into()),
        package_paths: vec!["/opt/app/lib".into()],
        org_package_paths: vec!["/usr/local/share/java".into()],
        error_message: None,
    }));
    let nodes = |linux| Some(Ok(ManagedNodes { total: 3, linux }));
    let nodes_failed = Some(Err(
        "ssm:DescribeInstanceInformation failed (throttled)".to_owned()
    ));
    let denied = Some(Err(
        "inspector2:GetEc2DeepInspectionConfiguration failed (access_denied)".to_owned(),
    ));
    let cases: Vec<(&str, _, _, Option<(&str, Severity)>)> = vec![
        ("activated", deep("ACTIVATED"), nodes(2), None),
        ("pending", deep("PENDING"), nodes(2), None),
        (
            "deactivated",
            with_paths.clone(),
            nodes(2),
            Some((EC2_DEEP_INSPECTION_OFF, Severity::Medium)),
        ),
        (
            "failed",
            deep("FAILED"),
            nodes(1),
            Some((EC2_DEEP_INSPECTION_OFF, Severity::Medium)),
        ),
        ("no linux nodes", deep("DEACTIVATED"), nodes(0), None),
        (
            "nodes unknown",
            deep("DEACTIVATED"),
            nodes_failed.clone(),
            Some((EC2_DEEP_INSPECTION_OFF, Severity::Medium)),
        ),
        (
            "denied",
            denied,
            nodes(2),
            Some((EC2_DEEP_INSPECTION_UNKNOWN, Severity::Medium)),
        ),
        ("not asked", None, nodes(2), None),
    ];
    for (name, deep_inspection, managed_nodes, want) in cases {
        let mut case = Case::new();
        case.deep_inspection = deep_inspection;
        case.managed_nodes = managed_nodes;
        let report = case.report();
        let got: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.severity))
            .collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{name}");
    }

    let mut case = Case::new();
    case.deep_inspection = with_paths;
    let report = case.report();
    let finding = &report.findings[0];
    assert_eq!(
        finding.remediation.as_deref(),
        Some(
            "aws inspector2 update-ec2-deep-inspection-configuration --activate-deep-inspection \
             --region eu-west-1"
        )
    );
    assert_eq!(
        finding.details["package_paths"],
        serde_json::json!(["/opt/app/lib"])
    );
    assert_eq!(
        finding.details["org_package_paths"],
        serde_json::json!(["/usr/local/share/java"])
    );
    assert_eq!(finding.details["linux_managed_nodes"], 2);
    assert!(finding.description.contains("Python, Java, Node.js"));

    case.config.deep_inspection_off = Level::Off;
    let report = case.report();
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["suppressed"], 1);
}

fn fake_with(status: AccountStatus, deep_status: &str) -> Fakes {
    let mut fakes = fake_region(vec![status], vec![], 0);
    let inspector2 = Arc::get_mut(&mut fakes.inspector2).unwrap();
    inspector2.deep_inspection.status = Some(deep_status.into());
    fakes
}

#[tokio::test]
async fn presence_is_asked_only_for_disabled_scan_types_and_one_item_at_a_time() {
    // All enabled, deep inspection on: no presence call, no node count.
    let fakes = fake_with(enabled(), "ACTIVATED");
    evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    assert_eq!(fakes.lambda.script.count("ListFunctions"), 0);
    assert_eq!(fakes.ecr.script.count("DescribeRepositories"), 0);
    assert_eq!(fakes.ssm.script.count("DescribeInstanceInformation"), 0);
    assert_eq!(
        fakes
            .inspector2
            .script
            .count("GetEc2DeepInspectionConfiguration"),
        1
    );

    // Lambda (both types) and ECR off: one call each; EC2 off: nodes, no deep inspection.
    let mut status = enabled();
    status.ec2 = Some(state("DISABLED"));
    status.ecr = Some(state("DISABLED"));
    status.lambda = Some(state("DISABLED"));
    status.lambda_code = Some(state("DISABLED"));
    let mut fakes = fake_with(status, "ACTIVATED");
    Arc::get_mut(&mut fakes.lambda).unwrap().functions = vec!["a".into(), "b".into()];
    let report = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    assert_eq!(fakes.lambda.script.count("ListFunctions"), 1);
    assert_eq!(fakes.ecr.script.count("DescribeRepositories"), 1);
    assert_eq!(fakes.ssm.script.count("DescribeInstanceInformation"), 1);
    assert_eq!(
        fakes
            .inspector2
            .script
            .count("GetEc2DeepInspectionConfiguration"),
        0
    );
    let severity = |code: &str| {
        report
            .findings
            .iter()
            .find(|f| f.code == code)
            .unwrap()
            .severity
    };
    assert_eq!(severity(LAMBDA_SCANNING_DISABLED), Severity::Medium);
    assert_eq!(severity(ECR_SCANNING_DISABLED), Severity::Info);
    assert_eq!(severity(EC2_SCANNING_DISABLED), Severity::Info);
    let lambda = report
        .findings
        .iter()
        .find(|f| f.code == LAMBDA_SCANNING_DISABLED)
        .unwrap();
    assert!(
        lambda.title.contains("at least 1 Lambda function"),
        "{}",
        lambda.title
    );
    assert_eq!(report.counts["calls.ListFunctions"], 1);
    assert_eq!(report.counts["calls.DescribeRepositories"], 1);
}

#[tokio::test]
async fn a_denied_presence_call_keeps_the_severity_and_the_evaluation_ok() {
    let mut status = enabled();
    status.lambda = Some(state("DISABLED"));
    let fakes = fake_with(status, "ACTIVATED");
    fakes.lambda.script.fail_next(
        "ListFunctions",
        AwsError::from_code(
            "lambda",
            "ListFunctions",
            "AccessDeniedException",
            "not allowed",
        ),
    );
    let report = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    let finding = &report.findings[0];
    assert_eq!(
        (finding.code.as_str(), finding.severity),
        (LAMBDA_SCANNING_DISABLED, Severity::Medium)
    );
    assert!(
        finding.description.contains("could not be checked"),
        "{}",
        finding.description
    );
    assert!(finding.details["presence_error"]
        .as_str()
        .unwrap()
        .contains("AccessDenied"));
    assert_eq!(report.counts["presence.unchecked"], 1);
}

#[tokio::test]
async fn deep_inspection_off_counts_the_linux_nodes() {
    let mut fakes = fake_with(enabled(), "DEACTIVATED");
    Arc::get_mut(&mut fakes.ssm).unwrap().instances = vec![
        blindspot_aws::ssm::ManagedInstance {
            instance_id: "i-1".into(),
            platform_type: Some("Linux".into()),
            ..Default::default()
        },
        blindspot_aws::ssm::ManagedInstance {
            instance_id: "i-2".into(),
            platform_type: Some("Windows".into()),
            ..Default::default()
        },
    ];
    let report = evaluate(&CoverageConfig::default(), &fakes, &NoPeers, now())
        .await
        .unwrap();
    assert_eq!(codes(&report), [EC2_DEEP_INSPECTION_OFF]);
    assert_eq!(report.findings[0].details["linux_managed_nodes"], 1);
    assert_eq!(report.counts["calls.DescribeInstanceInformation"], 1);
    assert_eq!(report.counts["calls.GetEc2DeepInspectionConfiguration"], 1);
}
