//! Unit tests for `inspector2-coverage` against an in-memory Inspector v2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use blindspot_aws::inspector2::{AccountStatusBatch, FailedAccount, Inspector2Configuration};
use blindspot_aws::{AwsError, AwsErrorKind, Page};
use blindspot_core::{NoPeers, PeerError, PeerFindings};
use chrono::TimeZone;
use std::sync::Arc;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
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

fn active(id: &str, scanned_days_ago: i64) -> CoveredResource {
    CoveredResource {
        last_scanned_at: Some(now() - chrono::Duration::days(scanned_days_ago)),
        ..ec2(id, "ACTIVE", "SUCCESSFUL")
    }
}

fn denied(operation: &'static str) -> AwsError {
    AwsError::from_code(
        "inspector2",
        operation,
        "AccessDeniedException",
        "not allowed",
    )
}

/// An in-memory Inspector v2 whose ListCoverage serves pages by status code.
struct Fake {
    status: Result<AccountStatusBatch, AwsError>,
    configuration: Result<Inspector2Configuration, AwsError>,
    inactive: Vec<Vec<CoveredResource>>,
    active: Vec<Vec<CoveredResource>>,
    coverage_error: Option<AwsError>,
    /// A token the fake returns forever, to test loop protection.
    stuck_token: bool,
    requests: Mutex<Vec<(CoverageFilter, Option<String>)>>,
}

impl Fake {
    fn new() -> Self {
        Fake {
            status: Ok(AccountStatusBatch {
                accounts: vec![enabled()],
                failed: vec![],
            }),
            configuration: Ok(Inspector2Configuration {
                ec2_scan_mode: Some("EC2_SSM_AGENT_BASED".into()),
                ec2_scan_mode_status: Some("SUCCESS".into()),
            }),
            inactive: vec![],
            active: vec![],
            coverage_error: None,
            stuck_token: false,
            requests: Mutex::new(vec![]),
        }
    }

    fn with_status(mut self, status: AccountStatus) -> Self {
        self.status = Ok(AccountStatusBatch {
            accounts: vec![status],
            failed: vec![],
        });
        self
    }

    fn with_inactive(mut self, resources: Vec<CoveredResource>) -> Self {
        self.inactive = vec![resources];
        self
    }

    fn with_active(mut self, resources: Vec<CoveredResource>) -> Self {
        self.active = vec![resources];
        self
    }

    fn hybrid(mut self, status: &str) -> Self {
        self.configuration = Ok(Inspector2Configuration {
            ec2_scan_mode: Some("EC2_HYBRID".into()),
            ec2_scan_mode_status: Some(status.into()),
        });
        self
    }

    fn requests(&self) -> Vec<(CoverageFilter, Option<String>)> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl Inspector2Api for Fake {
    async fn batch_get_account_status(
        &self,
        account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        assert_eq!(account_ids, [ACCOUNT.to_owned()]);
        self.status.clone()
    }

    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        self.requests
            .lock()
            .unwrap()
            .push((filter.clone(), next_token.clone()));
        if let Some(err) = &self.coverage_error {
            return Err(err.clone());
        }
        if self.stuck_token {
            return Ok(Page {
                items: vec![],
                next_token: Some("again".into()),
            });
        }
        let pages = match filter.scan_status_code.first().map(|f| f.value.as_str()) {
            Some("INACTIVE") => &self.inactive,
            Some("ACTIVE") => &self.active,
            other => panic!("unexpected status filter {other:?}"),
        };
        let index: usize = next_token.map_or(0, |t| t.trim_start_matches('p').parse().unwrap());
        let items = pages.get(index).cloned().unwrap_or_default();
        let next_token = (index + 1 < pages.len()).then(|| format!("p{}", index + 1));
        Ok(Page { items, next_token })
    }

    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        self.configuration.clone()
    }
}

use crate::testing::Unused;

/// Peer findings held in memory.
struct Peers(Vec<Finding>);

impl PeerFindings for Peers {
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, PeerError> {
        Ok(self
            .0
            .iter()
            .filter(|f| f.rule == rule && f.account == scope.account && f.region == scope.region)
            .cloned()
            .collect())
    }
}

async fn evaluate_with(
    rule: &CoverageRule,
    fake: Arc<Fake>,
    peers: &dyn PeerFindings,
    at: DateTime<Utc>,
) -> Result<RuleReport, RuleError> {
    let clients = AwsClients {
        classic: Arc::new(Unused),
        ssm: Arc::new(Unused),
        inspector2: fake,
    };
    let scope = scope();
    let cx = EvalContext {
        clients: &clients,
        scope: &scope,
        now: at,
        peers,
    };
    rule.evaluate(&cx).await
}

async fn evaluate(
    config: &CoverageConfig,
    fake: Fake,
) -> (Result<RuleReport, RuleError>, Arc<Fake>) {
    let fake = Arc::new(fake);
    let rule = CoverageRule::new(config);
    let result = evaluate_with(&rule, fake.clone(), &NoPeers, now()).await;
    (result, fake)
}

async fn run_ok(config: &CoverageConfig, fake: Fake) -> RuleReport {
    evaluate(config, fake).await.0.unwrap()
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

#[tokio::test]
async fn all_enabled_and_covered_is_clean_and_sends_the_filters() {
    let fake = Fake::new().with_active(vec![active("i-1", 1), active("i-2", 0)]);
    let (result, fake) = evaluate(&CoverageConfig::default(), fake).await;
    let report = result.unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.counts["resources.active"], 2);
    assert_eq!(report.counts["calls.ListCoverage"], 2);
    assert_eq!(report.counts["calls.BatchGetAccountStatus"], 1);
    assert_eq!(report.counts["calls.GetConfiguration"], 1);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let types: Vec<StringFilter> = [
        "AWS_EC2_INSTANCE",
        "AWS_ECR_CONTAINER_IMAGE",
        "AWS_ECR_REPOSITORY",
        "AWS_LAMBDA_FUNCTION",
        "CODE_REPOSITORY",
    ]
    .iter()
    .map(|t| equals(t))
    .collect();
    assert_eq!(
        requests[0].0,
        CoverageFilter {
            scan_status_code: vec![equals("INACTIVE")],
            resource_type: types.clone(),
            ..CoverageFilter::default()
        }
    );
    assert_eq!(requests[0].0.scan_status_code[0].comparison, "EQUALS");
    assert_eq!(requests[1].0.scan_status_code, vec![equals("ACTIVE")]);
    assert_eq!(requests[1].0.resource_type, types);
    assert_eq!(measured(&report, "SUCCESSFUL"), Some(2.0));
    assert_eq!(measured(&report, "NO_INVENTORY"), Some(0.0));
}

#[tokio::test]
async fn inspector_not_enabled_is_reported_and_coverage_is_skipped() {
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
        let (result, fake) = evaluate(
            &CoverageConfig::default(),
            Fake::new().with_status(status_of),
        )
        .await;
        let report = result.unwrap();
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
        assert!(fake.requests().is_empty(), "{status}: coverage listed");
        assert!(!report.counts.contains_key("calls.GetConfiguration"));
    }
}

#[tokio::test]
async fn each_disabled_scan_type_is_its_own_finding() {
    let mut status = enabled();
    status.ec2 = Some(state("DISABLED"));
    status.ecr = Some(state("SUSPENDED"));
    status.lambda = Some(state("DISABLED"));
    status.lambda_code = Some(state("DISABLED"));
    let report = run_ok(&CoverageConfig::default(), Fake::new().with_status(status)).await;
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

#[tokio::test]
async fn scan_type_checks_follow_their_configured_severity_or_off() {
    let mut status = enabled();
    status.ec2 = Some(state("DISABLED"));
    status.lambda = Some(state("DISABLED"));
    status.lambda_code = Some(state("DISABLED"));
    let config = CoverageConfig {
        ec2_disabled: Level::On(Severity::Critical),
        lambda_disabled: Level::Off,
        lambda_code_disabled: Level::Off,
        ..CoverageConfig::default()
    };
    let report = run_ok(&config, Fake::new().with_status(status)).await;
    assert_eq!(codes(&report), [EC2_SCANNING_DISABLED]);
    assert_eq!(report.findings[0].severity, Severity::Critical);
    assert_eq!(report.counts["suppressed"], 2);
}

#[tokio::test]
async fn absent_lambda_states_are_counted_but_absent_ec2_is_an_error() {
    let mut status = enabled();
    status.lambda = None;
    status.lambda_code = None;
    let report = run_ok(&CoverageConfig::default(), Fake::new().with_status(status)).await;
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["enablement.lambda.absent"], 1);

    let mut status = enabled();
    status.ec2 = None;
    let (result, _) = evaluate(&CoverageConfig::default(), Fake::new().with_status(status)).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("no ec2 state")));
}

#[tokio::test]
async fn access_denied_is_an_error_never_a_pass() {
    // The call itself denied.
    let mut fake = Fake::new();
    fake.status = Err(denied("BatchGetAccountStatus"));
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("access_denied")));

    // The account in failedAccounts (Prowler #7597 read this as a pass).
    let mut fake = Fake::new();
    fake.status = Ok(AccountStatusBatch {
        accounts: vec![],
        failed: vec![FailedAccount {
            account_id: ACCOUNT.into(),
            error_code: "ACCESS_DENIED".into(),
            error_message: "not authorized".into(),
        }],
    });
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("ACCESS_DENIED")));

    // A state whose errorCode is ACCESS_DENIED, even next to a plausible status.
    let mut status = enabled();
    status.ecr = Some(EnablementState {
        status: "DISABLED".into(),
        error_code: Some("ACCESS_DENIED".into()),
        error_message: Some("denied".into()),
    });
    let (result, fake) =
        evaluate(&CoverageConfig::default(), Fake::new().with_status(status)).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("ecr")));
    assert!(fake.requests().is_empty());

    // No status at all for the account.
    let mut fake = Fake::new();
    fake.status = Ok(AccountStatusBatch::default());
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("no status")));
}

#[tokio::test]
async fn later_call_failures_fail_the_evaluation() {
    let mut fake = Fake::new().with_inactive(vec![ec2("i-1", "INACTIVE", "NO_INVENTORY")]);
    fake.coverage_error = Some(denied("ListCoverage"));
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(_))));

    let mut fake = Fake::new();
    fake.configuration = Err(AwsError::new(
        "inspector2",
        "GetConfiguration",
        AwsErrorKind::Throttled,
        "slow down",
    ));
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("throttled")));

    let mut fake = Fake::new();
    fake.stuck_token = true;
    let (result, _) = evaluate(&CoverageConfig::default(), fake).await;
    assert!(matches!(result, Err(RuleError::Failed(m)) if m.contains("same next token")));
}

#[tokio::test]
async fn pagination_follows_tokens_across_pages() {
    let mut fake = Fake::new();
    fake.inactive = vec![
        vec![
            ec2("i-1", "INACTIVE", "NO_INVENTORY"),
            ec2("i-2", "INACTIVE", "UNSUPPORTED_OS"),
        ],
        vec![],
        vec![ec2("i-3", "INACTIVE", "UNMANAGED_EC2_INSTANCE")],
    ];
    fake.active = vec![vec![active("i-4", 0)], vec![active("i-5", 9)]];
    let (result, fake) = evaluate(&CoverageConfig::default(), fake).await;
    let report = result.unwrap();
    let tokens: Vec<(String, Option<String>)> = fake
        .requests()
        .into_iter()
        .map(|(f, t)| (f.scan_status_code[0].value.clone(), t))
        .collect();
    assert_eq!(
        tokens,
        [
            ("INACTIVE".to_owned(), None),
            ("INACTIVE".to_owned(), Some("p1".to_owned())),
            ("INACTIVE".to_owned(), Some("p2".to_owned())),
            ("ACTIVE".to_owned(), None),
            ("ACTIVE".to_owned(), Some("p1".to_owned())),
        ]
    );
    assert_eq!(report.counts["calls.ListCoverage"], 5);
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
async fn every_reported_reason_becomes_a_finding_with_its_code() {
    let resources: Vec<CoveredResource> = reasons::REASONS
        .iter()
        .filter(|s| s.disposition == Disposition::Report)
        .enumerate()
        .map(|(i, s)| ec2(&format!("i-{i:03}"), "INACTIVE", s.code))
        .collect();
    let expected = resources.len();
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().with_inactive(resources),
    )
    .await;
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

#[tokio::test]
async fn benign_reasons_are_counted_not_reported_unless_configured() {
    let benign = [
        "EC2_INSTANCE_STOPPED",
        "RESOURCE_TERMINATED",
        "PENDING_DISABLE",
        "EXCLUDED_BY_TAG",
    ];
    let resources = || -> Vec<CoveredResource> {
        benign
            .iter()
            .enumerate()
            .map(|(i, r)| ec2(&format!("i-{i}"), "INACTIVE", r))
            .collect()
    };
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().with_inactive(resources()),
    )
    .await;
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    for reason in benign {
        assert_eq!(measured(&report, reason), Some(1.0), "{reason}");
        assert_eq!(report.counts[&format!("reason.{reason}")], 1);
    }
    assert_eq!(report.counts["suppressed"], 4);

    // An operator may report one, and silence a reported one.
    let config = CoverageConfig {
        reasons: [
            ("EXCLUDED_BY_TAG".to_owned(), Level::On(Severity::Low)),
            ("UNSUPPORTED_OS".to_owned(), Level::Off),
        ]
        .into_iter()
        .collect(),
        ..CoverageConfig::default()
    };
    let mut resources = resources();
    resources.push(ec2("i-9", "INACTIVE", "UNSUPPORTED_OS"));
    let report = run_ok(&config, Fake::new().with_inactive(resources)).await;
    assert_eq!(codes(&report), ["EXCLUDED_BY_TAG"]);
    assert_eq!(report.findings[0].severity, Severity::Low);
    assert_eq!(measured(&report, "UNSUPPORTED_OS"), Some(1.0));
}

#[tokio::test]
async fn unknown_and_missing_reasons_are_reported_never_dropped() {
    let mut no_reason = ec2("i-2", "INACTIVE", "");
    no_reason.reason = None;
    let fake = Fake::new().with_inactive(vec![ec2("i-1", "INACTIVE", "QUANTUM_FLUX"), no_reason]);
    let report = run_ok(&CoverageConfig::default(), fake).await;
    assert_eq!(codes(&report), ["QUANTUM_FLUX", UNSPECIFIED_REASON]);
    for finding in &report.findings {
        assert_eq!(finding.severity, reasons::UNKNOWN.severity);
        assert_eq!(finding.recommendation, reasons::UNKNOWN.recommendation);
    }
    assert!(report.findings[0].title.contains("QUANTUM_FLUX"));
    assert_eq!(measured(&report, "QUANTUM_FLUX"), Some(1.0));
    assert_eq!(measured(&report, UNSPECIFIED_REASON), Some(1.0));
}

#[tokio::test]
async fn pending_initial_scan_is_a_finding_only_after_the_grace_period() {
    let rule = CoverageRule::new(&CoverageConfig::default());
    let fake =
        Arc::new(Fake::new().with_inactive(vec![ec2("i-1", "INACTIVE", "PENDING_INITIAL_SCAN")]));
    let t0 = now();

    let first = evaluate_with(&rule, fake.clone(), &NoPeers, t0)
        .await
        .unwrap();
    assert!(first.findings.is_empty());
    assert_eq!(first.counts["transient_within_grace"], 1);
    assert_eq!(measured(&first, "PENDING_INITIAL_SCAN"), Some(1.0));

    let later = evaluate_with(
        &rule,
        fake.clone(),
        &NoPeers,
        t0 + chrono::Duration::hours(23),
    )
    .await
    .unwrap();
    assert!(later.findings.is_empty());

    let past = evaluate_with(
        &rule,
        fake.clone(),
        &NoPeers,
        t0 + chrono::Duration::hours(25),
    )
    .await
    .unwrap();
    assert_eq!(codes(&past), ["PENDING_INITIAL_SCAN"]);
    assert_eq!(past.findings[0].details["first_seen"], t0.to_rfc3339());
    assert_eq!(past.findings[0].severity, Severity::Medium);

    // Once the resource is no longer pending, its clock is forgotten.
    let covered = Arc::new(Fake::new());
    evaluate_with(&rule, covered, &NoPeers, t0 + chrono::Duration::hours(26))
        .await
        .unwrap();
    let again = evaluate_with(&rule, fake, &NoPeers, t0 + chrono::Duration::hours(27))
        .await
        .unwrap();
    assert!(again.findings.is_empty());
}

#[tokio::test]
async fn pending_clock_survives_a_restart_through_own_open_findings() {
    let t0 = now();
    let resource = ec2("i-1", "ACTIVE", "PENDING_INITIAL_SCAN");
    // What an earlier process reported, as the store hands it back.
    let earlier = Finding::new(
        ID,
        "PENDING_INITIAL_SCAN",
        Severity::Medium,
        &scope(),
        "i-1",
        "t",
    )
    .distinguished_by("PACKAGE")
    .detail(
        "first_seen",
        (t0 - chrono::Duration::hours(48)).to_rfc3339(),
    );
    let rule = CoverageRule::new(&CoverageConfig::default());
    let fake = Arc::new(Fake::new().with_active(vec![resource]));
    let report = evaluate_with(&rule, fake, &Peers(vec![earlier.clone()]), t0)
        .await
        .unwrap();
    assert_eq!(codes(&report), ["PENDING_INITIAL_SCAN"]);
    assert_eq!(report.findings[0].id, earlier.id);
    assert_eq!(
        report.findings[0].details["first_seen"],
        earlier.details["first_seen"]
    );
}

#[tokio::test]
async fn pending_grace_is_configurable() {
    let config = CoverageConfig {
        pending_grace: Duration::ZERO,
        ..CoverageConfig::default()
    };
    let fake = Fake::new().with_inactive(vec![ec2("i-1", "INACTIVE", "PENDING_INITIAL_SCAN")]);
    assert_eq!(
        codes(&run_ok(&config, fake).await),
        ["PENDING_INITIAL_SCAN"]
    );
}

#[tokio::test]
async fn hybrid_mode_lowers_what_agentless_scanning_covers() {
    let resources = || {
        vec![
            ec2("i-1", "INACTIVE", "UNMANAGED_EC2_INSTANCE"),
            ec2("i-2", "INACTIVE", "NO_INVENTORY"),
            ec2("i-3", "INACTIVE", "STALE_INVENTORY"),
            ec2("i-4", "INACTIVE", "UNSUPPORTED_OS"),
        ]
    };
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().hybrid("SUCCESS").with_inactive(resources()),
    )
    .await;
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
    let hybrid = report
        .measurements
        .iter()
        .find(|m| m.name == "coverage_ec2_hybrid_scan_mode")
        .unwrap();
    assert_eq!(hybrid.value, 1.0);

    // A switch to hybrid that is still PENDING has not taken effect.
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().hybrid("PENDING").with_inactive(resources()),
    )
    .await;
    let unmanaged = report
        .findings
        .iter()
        .find(|f| f.code == "UNMANAGED_EC2_INSTANCE")
        .unwrap();
    assert_eq!(unmanaged.severity, Severity::High);
}

#[tokio::test]
async fn root_cause_names_the_inventory_association_finding() {
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
    let resources = || {
        vec![
            ec2("i-1", "INACTIVE", "NO_INVENTORY"),
            ec2("i-2", "INACTIVE", "STALE_INVENTORY"),
            ec2("i-3", "INACTIVE", "UNMANAGED_EC2_INSTANCE"),
        ]
    };

    let rule = CoverageRule::new(&CoverageConfig::default());
    let peers = Peers(vec![cause.clone(), unrelated.clone(), wrong_code.clone()]);
    let fake = Arc::new(Fake::new().with_inactive(resources()));
    let report = evaluate_with(&rule, fake, &peers, now()).await.unwrap();
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
    let fake = Arc::new(Fake::new().with_inactive(resources()));
    let report = evaluate_with(&rule, fake, &Peers(vec![by_document.clone()]), now())
        .await
        .unwrap();
    let no_inventory = report
        .findings
        .iter()
        .find(|f| f.code == "NO_INVENTORY")
        .unwrap();
    assert_eq!(no_inventory.details["root_cause"], by_document.id);

    // Nothing relevant: no link.
    for peers in [Peers(vec![]), Peers(vec![unrelated, wrong_code])] {
        let fake = Arc::new(Fake::new().with_inactive(resources()));
        let report = evaluate_with(&rule, fake, &peers, now()).await.unwrap();
        for finding in &report.findings {
            assert!(
                finding.details.get("root_cause").is_none(),
                "{}",
                finding.code
            );
            assert!(!finding.recommendation.contains("Likely cause"));
        }
    }
}

#[tokio::test]
async fn scan_stale_reports_old_active_scans_only() {
    let mut never = active("i-never", 0);
    never.last_scanned_at = None;
    let fake = Fake::new().with_active(vec![active("i-fresh", 2), active("i-old", 4), never]);
    let report = run_ok(&CoverageConfig::default(), fake).await;
    assert_eq!(codes(&report), [SCAN_STALE]);
    let finding = &report.findings[0];
    assert_eq!(finding.resource, "i-old");
    assert_eq!(finding.severity, Severity::Medium);
    assert_eq!(finding.details["age_days"], 4.0);
    assert!(
        finding.description.contains("3 days"),
        "{}",
        finding.description
    );
    assert_eq!(report.counts["resources.active_never_scanned"], 1);

    // Off: the ACTIVE pass is not even listed.
    let config = CoverageConfig {
        scan_stale: Level::Off,
        ..CoverageConfig::default()
    };
    let (result, fake) = evaluate(&config, Fake::new().with_active(vec![active("i-old", 4)])).await;
    assert!(result.unwrap().findings.is_empty());
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn other_accounts_resources_are_left_to_their_own_scope() {
    let mut member = ec2("i-m", "INACTIVE", "NO_INVENTORY");
    member.account_id = "444455556666".into();
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().with_inactive(vec![member]),
    )
    .await;
    assert!(report.findings.is_empty());
    assert_eq!(report.counts["resources.other_account"], 1);
}

#[tokio::test]
async fn lambda_package_and_code_entries_are_distinct_findings() {
    let lambda = |scan_type: &str| CoveredResource {
        resource_type: "AWS_LAMBDA_FUNCTION".into(),
        resource_id: "arn:aws:lambda:eu-west-1:111122223333:function:f".into(),
        account_id: ACCOUNT.into(),
        scan_type: scan_type.into(),
        status_code: Some("INACTIVE".into()),
        reason: Some("UNSUPPORTED_RUNTIME".into()),
        ..CoveredResource::default()
    };
    let report = run_ok(
        &CoverageConfig::default(),
        Fake::new().with_inactive(vec![lambda("PACKAGE"), lambda("CODE")]),
    )
    .await;
    assert_eq!(report.findings.len(), 2);
    assert_ne!(report.findings[0].id, report.findings[1].id);
}

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

/// The main outputs: one of every reason, disabled Lambda code scanning, a
/// stale scan and a root cause, in hybrid mode.
#[tokio::test]
async fn snapshot_of_a_mixed_account() {
    let mut status = enabled();
    status.lambda_code = Some(state("DISABLED"));
    let mut resources: Vec<CoveredResource> = reasons::REASONS
        .iter()
        .enumerate()
        .map(|(i, s)| ec2(&format!("i-{i:03}"), "INACTIVE", s.code))
        .collect();
    resources.push(ec2("i-new", "INACTIVE", "FUTURE_REASON"));
    let mut fake = Fake::new().with_status(status).hybrid("SUCCESS");
    fake.inactive = resources.chunks(7).map(<[_]>::to_vec).collect();
    fake.active = vec![vec![active("i-fresh", 1), active("i-stale", 10)]];
    let peers = Peers(vec![association_finding(
        "EXECUTION_STALE",
        INVENTORY_ASSOCIATION,
        Some(INVENTORY_DOCUMENT),
    )]);
    let rule = CoverageRule::new(&CoverageConfig::default());
    let report = evaluate_with(&rule, Arc::new(fake), &peers, now())
        .await
        .unwrap();
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("coverage_mixed_account", report);
    });
}

#[tokio::test]
async fn snapshot_of_a_disabled_region() {
    let mut status = enabled();
    status.state = EnablementState {
        status: "DISABLED".into(),
        error_code: Some("BLOCKED_BY_ORGANIZATION_POLICY".into()),
        error_message: Some("An SCP blocks Inspector".into()),
    };
    let report = run_ok(&CoverageConfig::default(), Fake::new().with_status(status)).await;
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("coverage_disabled_region", report);
    });
}

#[tokio::test]
async fn a_scan_type_still_enabling_is_reported_low() {
    let mut status = enabled();
    status.ec2 = Some(state("ENABLING"));
    let report = run_ok(&CoverageConfig::default(), Fake::new().with_status(status)).await;
    assert_eq!(codes(&report), [EC2_SCANNING_DISABLED]);
    assert_eq!(report.findings[0].severity, Severity::Low);
    assert!(report.findings[0].title.contains("still being enabled"));
}

#[tokio::test]
async fn metric_labels_stay_bounded_for_malformed_reasons() {
    let fake = Fake::new().with_inactive(vec![ec2("i-1", "INACTIVE", "i-0123 is broken!")]);
    let report = run_ok(&CoverageConfig::default(), fake).await;
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

#[test]
fn transient_codes_are_the_tables_transient_reasons() {
    let mut from_table: Vec<&str> = reasons::REASONS
        .iter()
        .filter(|r| r.disposition == reasons::Disposition::Transient)
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
    assert!(reads
        .iter()
        .any(|r| r.rule == ASSOCIATIONS_RULE && r.codes == ROOT_CAUSE_CODES));
    assert!(reads
        .iter()
        .any(|r| r.rule == ID && r.codes == TRANSIENT_CODES));
}
