//! Unit tests for `inspector2-associations` against an in-memory SSM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use blindspot_aws::ssm::{AssociationFilter, AssociationOverview, ManagedInstance, Target};
use blindspot_aws::{AwsError, AwsErrorKind, Page};
use blindspot_core::NoPeers;
use chrono::TimeZone;
use std::sync::{Arc, Mutex};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const DISTRIBUTOR: &str = "InspectorDistributor-do-not-delete";
const INVOKE: &str = "InvokeInspectorSsmPlugin-do-not-delete";
const LINUX_DISTRIBUTOR: &str = "InspectorLinuxDistributor-do-not-delete";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn ago(minutes: i64) -> DateTime<Utc> {
    now() - chrono::Duration::minutes(minutes)
}

fn all_instances() -> Vec<Target> {
    vec![Target {
        key: "InstanceIds".into(),
        values: vec!["*".into()],
    }]
}

fn success(count: i64) -> Option<AssociationOverview> {
    Some(AssociationOverview {
        status: Some("Success".into()),
        detailed_status: Some("Success".into()),
        aggregated_count: BTreeMap::from([("Success".to_owned(), count)]),
    })
}

/// A healthy association as DescribeAssociation returns it.
fn assoc(
    id: &str,
    name: Option<&str>,
    document: &str,
    schedule: &str,
    last_run: i64,
) -> Association {
    Association {
        association_id: id.into(),
        association_name: name.map(str::to_owned),
        document_name: document.into(),
        document_version: Some("$DEFAULT".into()),
        targets: all_instances(),
        instance_id: None,
        schedule_expression: Some(schedule.into()),
        schedule_offset: None,
        last_execution_date: Some(ago(last_run)),
        last_successful_execution_date: Some(ago(last_run)),
        created_date: Some(ago(60 * 24 * 30)),
        overview: success(4),
    }
}

fn inventory() -> Association {
    assoc(
        "11111111-aaaa-4000-8000-000000000001",
        Some(INVENTORY_ASSOCIATION),
        INVENTORY_DOCUMENT,
        "rate(30 minutes)",
        10,
    )
}

fn distributor() -> Association {
    assoc(
        "11111111-aaaa-4000-8000-000000000002",
        Some(DISTRIBUTOR),
        "AmazonInspector2-ConfigureInspectorSsmPlugin",
        "rate(12 hours)",
        60,
    )
}

fn invoke() -> Association {
    assoc(
        "11111111-aaaa-4000-8000-000000000003",
        Some(INVOKE),
        "AmazonInspector2-InvokeInspectorSsmPlugin",
        "rate(6 hours)",
        90,
    )
}

fn healthy() -> Vec<Association> {
    vec![inventory(), distributor(), invoke()]
}

/// An in-memory SSM: ListAssociations leaves out what only
/// DescribeAssociation returns, and pages its answer.
#[derive(Default)]
struct FakeSsm {
    associations: Vec<Association>,
    executions: BTreeMap<String, Vec<AssociationExecution>>,
    page_size: usize,
    list_error: Option<AwsError>,
    describe_error: Option<AwsError>,
    /// Hand out the same token forever.
    loop_token: bool,
    calls: Mutex<Vec<String>>,
}

impl FakeSsm {
    fn with(associations: Vec<Association>) -> Self {
        FakeSsm {
            associations,
            page_size: 50,
            ..FakeSsm::default()
        }
    }

    fn calls(&self, prefix: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }
}

#[async_trait]
impl SsmApi for FakeSsm {
    async fn list_associations(
        &self,
        filters: &[AssociationFilter],
        next_token: Option<String>,
    ) -> Result<Page<Association>, AwsError> {
        self.calls.lock().unwrap().push("list".into());
        assert!(filters.is_empty());
        if let Some(err) = &self.list_error {
            return Err(err.clone());
        }
        if self.loop_token {
            return Ok(Page {
                items: Vec::new(),
                next_token: Some("again".into()),
            });
        }
        let start: usize = next_token.map(|t| t.parse().unwrap()).unwrap_or(0);
        let size = self
            .page_size
            .clamp(1, blindspot_aws::ssm::LIST_ASSOCIATIONS_MAX as usize);
        let end = (start + size).min(self.associations.len());
        let items = self.associations[start..end]
            .iter()
            .map(|a| Association {
                // ListAssociations has neither field.
                last_successful_execution_date: None,
                created_date: None,
                ..a.clone()
            })
            .collect();
        Ok(Page {
            items,
            next_token: (end < self.associations.len()).then(|| end.to_string()),
        })
    }

    async fn describe_association(&self, association_id: &str) -> Result<Association, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("describe {association_id}"));
        if let Some(err) = &self.describe_error {
            return Err(err.clone());
        }
        self.associations
            .iter()
            .find(|a| a.association_id == association_id)
            .cloned()
            .ok_or_else(|| {
                AwsError::from_code(
                    "ssm",
                    "DescribeAssociation",
                    "AssociationDoesNotExist",
                    "no such association",
                )
            })
    }

    async fn describe_association_executions(
        &self,
        association_id: &str,
        _next_token: Option<String>,
    ) -> Result<Page<AssociationExecution>, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("executions {association_id}"));
        Ok(Page::last(
            self.executions
                .get(association_id)
                .cloned()
                .unwrap_or_default(),
        ))
    }

    async fn describe_instance_information(
        &self,
        _next_token: Option<String>,
    ) -> Result<Page<ManagedInstance>, AwsError> {
        panic!("not used")
    }
}

use crate::testing::Unused;

async fn evaluate_at(
    config: &AssociationsConfig,
    fake: Arc<FakeSsm>,
    at: DateTime<Utc>,
) -> Result<RuleReport, RuleError> {
    let clients = AwsClients {
        classic: Arc::new(Unused),
        ssm: fake,
        inspector2: Arc::new(Unused),
    };
    let scope = Scope::new(ACCOUNT, REGION);
    let cx = EvalContext {
        clients: &clients,
        scope: &scope,
        now: at,
        peers: &NoPeers,
    };
    AssociationsRule::new(config).evaluate(&cx).await
}

async fn run(fake: FakeSsm) -> RuleReport {
    evaluate_at(&AssociationsConfig::default(), Arc::new(fake), now())
        .await
        .unwrap()
}

fn codes(report: &RuleReport) -> Vec<(&str, &str)> {
    report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.resource.as_str()))
        .collect()
}

fn only<'a>(report: &'a RuleReport, code: &str) -> &'a Finding {
    let matching: Vec<&Finding> = report.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(matching.len(), 1, "{code} in {:?}", codes(report));
    matching[0]
}

fn snapshot(name: &str, report: &RuleReport) {
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!(name, report);
    });
}

#[tokio::test]
async fn healthy_account_has_no_findings_and_measures_each_association() {
    let report = run(FakeSsm::with(healthy())).await;
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    let interval = |name: &str| {
        report
            .measurements
            .iter()
            .find(|m| m.name == "association_interval_seconds" && m.labels["association"] == name)
            .map(|m| m.value)
    };
    assert_eq!(interval(INVENTORY_ASSOCIATION), Some(1_800.0));
    assert_eq!(interval(DISTRIBUTOR), Some(43_200.0));
    assert_eq!(interval(INVOKE), Some(21_600.0));
    let last_runs: Vec<f64> = report
        .measurements
        .iter()
        .filter(|m| m.name == "association_last_execution_timestamp_seconds")
        .map(|m| m.value)
        .collect();
    assert_eq!(last_runs.len(), 3);
    assert!(last_runs.contains(&(ago(10).timestamp() as f64)));
    assert_eq!(report.counts["associations_listed"], 3);
    assert_eq!(report.counts["associations_examined"], 3);
    assert_eq!(report.counts["inventory_associations"], 1);
    snapshot("associations_healthy", &report);
}

#[tokio::test]
async fn optional_linux_associations_are_never_missing_but_are_checked() {
    // Absent: no finding (the healthy account above has neither).
    let mut associations = healthy();
    // Present with a document and targets of its own choosing: taken as found.
    let mut linux = assoc(
        "22222222-bbbb-4000-8000-000000000004",
        Some(LINUX_DISTRIBUTOR),
        "AWS-ConfigureAWSPackage",
        "rate(1 day)",
        30,
    );
    linux.targets = vec![Target {
        key: "tag:DeepInspection".into(),
        values: vec!["on".into()],
    }];
    associations.push(linux.clone());
    let report = run(FakeSsm::with(associations.clone())).await;
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    assert_eq!(report.counts["associations_examined"], 4);

    // Present and failing: reported.
    linux.overview = Some(AssociationOverview {
        status: Some("Failed".into()),
        detailed_status: Some("Failed".into()),
        aggregated_count: BTreeMap::from([("Failed".to_owned(), 2)]),
    });
    *associations.last_mut().unwrap() = linux;
    let report = run(FakeSsm::with(associations)).await;
    assert_eq!(codes(&report), vec![(EXECUTION_FAILED, LINUX_DISTRIBUTOR)]);
}

#[tokio::test]
async fn missing_required_associations_are_reported() {
    let report = run(FakeSsm::with(vec![inventory(), invoke()])).await;
    let finding = only(&report, ASSOCIATION_MISSING);
    assert_eq!(finding.resource, DISTRIBUTOR);
    assert_eq!(finding.severity, Severity::High);
    assert!(finding.description.contains("Windows instances"));
    let fix = finding.remediation.as_deref().unwrap();
    assert!(
        fix.contains("--association-name InspectorDistributor-do-not-delete")
            && fix.contains("--name AmazonInspector2-ConfigureInspectorSsmPlugin")
            && fix.contains("rate(12 hours)")
            && fix.contains("--region eu-west-1"),
        "{fix}"
    );
    assert_eq!(finding.details["expected_interval_seconds"], 43_200);

    // An empty account misses the three required ones, not the Linux pair.
    let report = run(FakeSsm::with(Vec::new())).await;
    let mut missing: Vec<&str> = report
        .findings
        .iter()
        .map(|f| {
            assert_eq!(f.code, ASSOCIATION_MISSING);
            f.resource.as_str()
        })
        .collect();
    missing.sort();
    assert_eq!(missing, vec![DISTRIBUTOR, INVENTORY_ASSOCIATION, INVOKE]);
    let inventory_missing = report
        .findings
        .iter()
        .find(|f| f.resource == INVENTORY_ASSOCIATION)
        .unwrap();
    // The coverage rule recognises the inventory association by this detail.
    assert_eq!(inventory_missing.details["document"], INVENTORY_DOCUMENT);
}

#[tokio::test]
async fn a_users_12_hour_inventory_association_replaces_inspectors_and_is_too_slow() {
    let mut custom = assoc(
        "33333333-cccc-4000-8000-000000000005",
        Some("CompanyInventory"),
        INVENTORY_DOCUMENT,
        "rate(12 hours)",
        120,
    );
    custom.targets = vec![Target {
        key: "instanceids".into(),
        values: vec!["*".into()],
    }];
    let report = run(FakeSsm::with(vec![custom, distributor(), invoke()])).await;
    assert_eq!(
        codes(&report),
        vec![(SCHEDULE_TOO_SLOW, "CompanyInventory")]
    );
    let finding = &report.findings[0];
    assert_eq!(finding.details["actual_interval_seconds"], 43_200);
    assert_eq!(finding.details["expected_interval_seconds"], 1_800);
    assert_eq!(finding.details["stands_in_for"], INVENTORY_ASSOCIATION);
    assert_eq!(finding.details["document"], INVENTORY_DOCUMENT);
    assert!(finding.description.contains("instead of its own"));
    assert_eq!(
        finding.remediation.as_deref(),
        Some(
            "aws ssm update-association --association-id 33333333-cccc-4000-8000-000000000005 \
             --schedule-expression \"rate(30 minutes)\" --region eu-west-1"
        )
    );
    // Measured under the role it plays.
    assert!(report
        .measurements
        .iter()
        .any(|m| m.name == "association_interval_seconds"
            && m.labels["association"] == INVENTORY_ASSOCIATION
            && m.value == 43_200.0));
    snapshot("associations_replaced_12h", &report);
}

#[tokio::test]
async fn a_narrow_user_inventory_association_does_not_stand_in() {
    let mut custom = assoc(
        "33333333-cccc-4000-8000-000000000006",
        None,
        INVENTORY_DOCUMENT,
        "rate(30 minutes)",
        10,
    );
    custom.targets = vec![Target {
        key: "tag:Team".into(),
        values: vec!["payments".into()],
    }];
    let report = run(FakeSsm::with(vec![custom, distributor(), invoke()])).await;
    assert_eq!(
        codes(&report),
        vec![(ASSOCIATION_MISSING, INVENTORY_ASSOCIATION)]
    );
}

#[tokio::test]
async fn a_duplicate_inventory_association_starves_inspectors_own() {
    // Inspector's own has not run for 20 hours; an unnamed user association
    // gathers inventory once a day from tagged instances.
    let mut own = inventory();
    own.last_execution_date = Some(ago(20 * 60));
    own.last_successful_execution_date = Some(ago(20 * 60));
    let mut user = assoc(
        "44444444-dddd-4000-8000-000000000007",
        None,
        "arn:aws:ssm:eu-west-1::document/AWS-GatherSoftwareInventory",
        "rate(1 day)",
        60,
    );
    user.targets = vec![Target {
        key: "tag:Env".into(),
        values: vec!["prod".into()],
    }];
    let report = run(FakeSsm::with(vec![own, user, distributor(), invoke()])).await;
    assert_eq!(
        codes(&report),
        vec![
            (DUPLICATE_INVENTORY_ASSOCIATION, INVENTORY_DOCUMENT),
            (EXECUTION_STALE, INVENTORY_ASSOCIATION),
        ]
    );
    let dup = &report.findings[0];
    assert!(dup
        .description
        .contains("InspectorInventoryCollection-do-not-delete"));
    assert!(dup
        .description
        .contains("44444444-dddd-4000-8000-000000000007"));
    assert_eq!(dup.details["associations"].as_array().unwrap().len(), 2);
    assert_eq!(
        dup.remediation.as_deref(),
        Some(
            "aws ssm delete-association --association-id 44444444-dddd-4000-8000-000000000007 \
             --region eu-west-1"
        )
    );
    let stale = &report.findings[1];
    assert_eq!(stale.details["age_seconds"], 20 * 3_600);
    assert_eq!(stale.details["stale_after_seconds"], 2 * 1_800 + 3_600);
    assert!(stale.title.contains("last ran 20h ago"), "{}", stale.title);
    snapshot("associations_duplicate", &report);
}

#[tokio::test]
async fn a_failed_invoke_plugin_association_names_its_latest_execution() {
    let mut failing = invoke();
    failing.overview = Some(AssociationOverview {
        status: Some("Failed".into()),
        detailed_status: Some("Failed".into()),
        aggregated_count: BTreeMap::from([("Failed".to_owned(), 3), ("Success".to_owned(), 7)]),
    });
    let id = failing.association_id.clone();
    let mut fake = FakeSsm::with(vec![inventory(), distributor(), failing]);
    fake.executions.insert(
        id.clone(),
        vec![
            AssociationExecution {
                association_id: id.clone(),
                execution_id: "exec-old".into(),
                status: Some("Success".into()),
                detailed_status: Some("Success".into()),
                created_time: Some(ago(450)),
                resource_count_by_status: Some("{Success=10}".into()),
            },
            AssociationExecution {
                association_id: id.clone(),
                execution_id: "exec-new".into(),
                status: Some("Failed".into()),
                detailed_status: Some("Failed".into()),
                created_time: Some(ago(90)),
                resource_count_by_status: Some("{Success=7,Failed=3}".into()),
            },
        ],
    );
    let fake = Arc::new(fake);
    let report = evaluate_at(&AssociationsConfig::default(), fake.clone(), now())
        .await
        .unwrap();
    assert_eq!(codes(&report), vec![(EXECUTION_FAILED, INVOKE)]);
    let finding = &report.findings[0];
    assert_eq!(finding.details["failed_targets"], 3);
    assert_eq!(
        finding.details["latest_execution"]["execution_id"],
        "exec-new"
    );
    assert!(finding
        .remediation
        .as_deref()
        .unwrap()
        .contains("--execution-id exec-new --filters Key=Status,Value=Failed"));
    assert!(finding.description.contains("Windows instances"));
    // Executions are read only for the failing association.
    assert_eq!(fake.calls("executions"), 1);
    snapshot("associations_failed_invoke", &report);
}

#[tokio::test]
async fn failed_targets_alone_are_a_failure() {
    let mut partial = distributor();
    partial.overview = Some(AssociationOverview {
        status: Some("Success".into()),
        detailed_status: Some("Success".into()),
        aggregated_count: BTreeMap::from([("Failed".to_owned(), 1), ("Success".to_owned(), 9)]),
    });
    let report = run(FakeSsm::with(vec![inventory(), partial, invoke()])).await;
    assert_eq!(codes(&report), vec![(EXECUTION_FAILED, DISTRIBUTOR)]);
    assert!(report.findings[0]
        .remediation
        .as_deref()
        .unwrap()
        .contains("describe-association-executions"));
}

#[tokio::test]
async fn a_document_outside_the_accepted_set_is_a_mismatch() {
    let mut wrong = invoke();
    wrong.document_name = "AWS-RunPowerShellScript".into();
    // A document given as an ARN is compared by name.
    let mut arn = distributor();
    arn.document_name = "arn:aws:ssm:eu-west-1::document/AWS-ConfigureAWSPackage".into();
    let report = run(FakeSsm::with(vec![inventory(), arn, wrong])).await;
    assert_eq!(codes(&report), vec![(DOCUMENT_MISMATCH, INVOKE)]);
    let finding = &report.findings[0];
    assert_eq!(finding.details["document"], "AWS-RunPowerShellScript");
    assert!(finding
        .remediation
        .as_deref()
        .unwrap()
        .contains("--name AmazonInspector2-InvokeInspectorSsmPlugin"));
}

#[tokio::test]
async fn narrowed_targets_are_low() {
    let mut narrow = inventory();
    narrow.targets = vec![Target {
        key: "tag:Env".into(),
        values: vec!["prod".into()],
    }];
    let mut single = distributor();
    single.targets = Vec::new();
    single.instance_id = Some("i-0123456789abcdef0".into());
    let report = run(FakeSsm::with(vec![narrow, single, invoke()])).await;
    assert_eq!(
        codes(&report),
        vec![
            (TARGETS_NARROWED, INVENTORY_ASSOCIATION),
            (TARGETS_NARROWED, DISTRIBUTOR)
        ]
    );
    assert!(report.findings.iter().all(|f| f.severity == Severity::Low));
    assert_eq!(report.findings[0].details["targets"], "tag:Env=prod");
    assert_eq!(
        report.findings[1].details["targets"],
        "InstanceId=i-0123456789abcdef0"
    );
    assert!(report.findings[0]
        .remediation
        .as_deref()
        .unwrap()
        .contains("--targets Key=InstanceIds,Values=*"));
}

#[tokio::test]
async fn an_unparseable_schedule_is_a_finding_not_a_crash() {
    let mut odd = distributor();
    odd.schedule_expression = Some("rate(1 hours)".into());
    let report = run(FakeSsm::with(vec![inventory(), odd, invoke()])).await;
    assert_eq!(codes(&report), vec![(SCHEDULE_UNPARSEABLE, DISTRIBUTOR)]);
    let finding = &report.findings[0];
    assert!(finding.details["error"]
        .as_str()
        .unwrap()
        .contains("singular"));
    assert!(finding
        .remediation
        .as_deref()
        .unwrap()
        .contains("rate(12 hours)"));
}

#[tokio::test]
async fn slow_cron_and_one_shot_schedules_are_too_slow() {
    let mut cron = inventory();
    cron.schedule_expression = Some("cron(0 0/12 * * ? *)".into());
    let mut once = invoke();
    once.schedule_expression = Some("at(2026-11-01T10:00:00)".into());
    let mut weekly = distributor();
    weekly.schedule_expression = Some("cron(0 3 ? * SUN *)".into());
    weekly.schedule_offset = Some(2);
    let report = run(FakeSsm::with(vec![cron, weekly, once])).await;
    assert_eq!(
        codes(&report),
        vec![
            (SCHEDULE_TOO_SLOW, INVENTORY_ASSOCIATION),
            (SCHEDULE_TOO_SLOW, DISTRIBUTOR),
            (SCHEDULE_TOO_SLOW, INVOKE),
        ]
    );
    assert_eq!(
        report.findings[0].details["actual_interval_seconds"],
        43_200
    );
    assert_eq!(
        report.findings[1].details["actual_interval_seconds"],
        7 * 86_400
    );
    assert_eq!(report.findings[1].details["schedule_offset"], 2);
    assert!(report.findings[2].details["actual_interval_seconds"].is_null());
    assert!(report.findings[2].title.contains("never again"));
}

#[tokio::test]
async fn staleness_uses_describe_and_counts_never_run_from_creation() {
    // ListAssociations has no date at all; DescribeAssociation has the last
    // successful execution, 5 hours ago for a 30-minute schedule.
    let mut quiet = inventory();
    quiet.last_execution_date = None;
    quiet.last_successful_execution_date = Some(ago(5 * 60));
    // Never ran, created three days ago, on a 6-hour schedule.
    let mut never = invoke();
    never.last_execution_date = None;
    never.last_successful_execution_date = None;
    never.created_date = Some(ago(3 * 24 * 60));
    let report = run(FakeSsm::with(vec![quiet, distributor(), never])).await;
    assert_eq!(
        codes(&report),
        vec![
            (EXECUTION_STALE, INVENTORY_ASSOCIATION),
            (EXECUTION_STALE, INVOKE)
        ]
    );
    assert_eq!(report.findings[0].details["age_seconds"], 5 * 3_600);
    assert!(
        report.findings[1].title.contains("never run"),
        "{}",
        report.findings[1].title
    );

    // Within twice the interval plus grace (2 x 6h + 1h): not stale.
    let mut recent = invoke();
    recent.last_execution_date = Some(ago(12 * 60 + 50));
    let mut fresh = invoke();
    fresh.association_id = "11111111-aaaa-4000-8000-000000000009".into();
    fresh.last_execution_date = None;
    fresh.last_successful_execution_date = None;
    fresh.created_date = Some(ago(20));
    let report = run(FakeSsm::with(vec![inventory(), distributor(), recent])).await;
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    let report = run(FakeSsm::with(vec![inventory(), distributor(), fresh])).await;
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
}

#[tokio::test]
async fn listing_pages_through_every_association() {
    let mut associations = Vec::new();
    for i in 0..5 {
        associations.push(assoc(
            &format!("55555555-eeee-4000-8000-00000000001{i}"),
            Some(&format!("Other-{i}")),
            "AWS-RunPatchBaseline",
            "rate(1 day)",
            60,
        ));
    }
    // Inspector's associations land on the last pages.
    associations.extend(healthy());
    let mut fake = FakeSsm::with(associations);
    fake.page_size = 2;
    let fake = Arc::new(fake);
    let report = evaluate_at(&AssociationsConfig::default(), fake.clone(), now())
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    assert_eq!(report.counts["list_pages"], 4);
    assert_eq!(report.counts["associations_listed"], 8);
    assert_eq!(fake.calls("list"), 4);
    // Only the associations that matter are described.
    assert_eq!(fake.calls("describe"), 3);
}

#[tokio::test]
async fn aws_errors_fail_the_evaluation() {
    let mut fake = FakeSsm::with(healthy());
    fake.list_error = Some(AwsError::from_code(
        "ssm",
        "ListAssociations",
        "AccessDeniedException",
        "not allowed",
    ));
    let err = evaluate_at(&AssociationsConfig::default(), Arc::new(fake), now())
        .await
        .unwrap_err();
    assert!(matches!(err, RuleError::Failed(_)));
    assert!(err.to_string().contains("ssm:ListAssociations"), "{err}");

    let mut fake = FakeSsm::with(healthy());
    fake.describe_error = Some(AwsError::new(
        "ssm",
        "DescribeAssociation",
        AwsErrorKind::Throttled,
        "rate exceeded",
    ));
    let err = evaluate_at(&AssociationsConfig::default(), Arc::new(fake), now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("throttled"), "{err}");

    let mut fake = FakeSsm::with(healthy());
    fake.list_error = Some(AwsError::new(
        "ssm",
        "ListAssociations",
        AwsErrorKind::Unavailable,
        "no endpoint",
    ));
    let err = evaluate_at(&AssociationsConfig::default(), Arc::new(fake), now())
        .await
        .unwrap_err();
    assert!(matches!(err, RuleError::Unavailable(_)));

    let mut fake = FakeSsm::with(healthy());
    fake.loop_token = true;
    let err = evaluate_at(&AssociationsConfig::default(), Arc::new(fake), now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[tokio::test]
async fn fingerprints_follow_the_problem_not_the_wording() {
    let mut own = inventory();
    own.last_execution_date = Some(ago(20 * 60));
    let fake = Arc::new(FakeSsm::with(vec![own, distributor(), invoke()]));
    let config = AssociationsConfig::default();
    let first = evaluate_at(&config, fake.clone(), now()).await.unwrap();
    let later = evaluate_at(&config, fake, now() + chrono::Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(first.findings.len(), 1);
    assert_ne!(first.findings[0].title, later.findings[0].title);
    assert_eq!(first.findings[0].id, later.findings[0].id);
}

#[test]
fn config_defaults_overrides_and_typos() {
    let config: AssociationsConfig = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(config, AssociationsConfig::default());
    assert_eq!(config.expectations(), default_expectations());

    let config: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "stale_grace": "30m",
        "severities": { "targets_narrowed": "medium" },
        "expected": [
            { "name": INVOKE, "documents": ["AmazonInspector2-InvokeInspectorSsmPlugin"],
              "max_interval": "1day", "required": true, "platform": "windows" },
            { "name": "PatchBaseline", "documents": ["AWS-RunPatchBaseline"],
              "max_interval": "7days", "required": true, "all_instances": false }
        ]
    }))
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.stale_grace, Duration::from_secs(1_800));
    assert_eq!(config.severities.targets_narrowed, Severity::Medium);
    assert_eq!(config.severities.association_missing, Severity::High);
    let expectations = config.expectations();
    assert_eq!(expectations.len(), 6);
    let invoke_rule = expectations.iter().find(|e| e.name == INVOKE).unwrap();
    assert_eq!(invoke_rule.max_interval, Some(Duration::from_secs(86_400)));
    let patch = expectations
        .iter()
        .find(|e| e.name == "PatchBaseline")
        .unwrap();
    assert_eq!(patch.platform, Platform::All);
    assert!(!patch.all_instances);

    let only_mine: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "builtin_expectations": false,
        "expected": [{ "name": "Mine" }]
    }))
    .unwrap();
    assert_eq!(only_mine.expectations().len(), 1);
    assert!(only_mine.expectations()[0].all_instances);

    for bad in [
        serde_json::json!({ "stale_grce": "1h" }),
        serde_json::json!({ "severities": { "missing": "high" } }),
        serde_json::json!({ "expected": [{ "name": "x", "max_intervals": "1h" }] }),
        serde_json::json!({ "expected": [{ "name": "x", "platform": "macos" }] }),
        serde_json::json!({ "expected": [{ "documents": ["x"] }] }),
    ] {
        assert!(
            serde_json::from_value::<AssociationsConfig>(bad.clone()).is_err(),
            "{bad}"
        );
    }

    let twice: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "expected": [{ "name": "A" }, { "name": "A" }]
    }))
    .unwrap();
    assert!(matches!(
        twice.validate(),
        Err(AssociationsConfigError::DuplicateName { .. })
    ));
    let empty: AssociationsConfig =
        serde_json::from_value(serde_json::json!({ "expected": [{ "name": " " }] })).unwrap();
    assert!(matches!(
        empty.validate(),
        Err(AssociationsConfigError::EmptyName { index: 0 })
    ));
    let tiny: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "expected": [{ "name": "A", "max_interval": "10s" }]
    }))
    .unwrap();
    assert!(matches!(
        tiny.validate(),
        Err(AssociationsConfigError::IntervalTooShort { .. })
    ));
}

#[tokio::test]
async fn operator_expectations_change_the_verdict() {
    // The invoke-plugin schedule is customisable: a 12-hour plugin run is too
    // slow by default and fine once the operator allows a day.
    let mut slow = invoke();
    slow.schedule_expression = Some("rate(12 hours)".into());
    let fake = Arc::new(FakeSsm::with(vec![inventory(), distributor(), slow]));
    let report = evaluate_at(&AssociationsConfig::default(), fake.clone(), now())
        .await
        .unwrap();
    assert_eq!(codes(&report), vec![(SCHEDULE_TOO_SLOW, INVOKE)]);
    let config: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "expected": [{ "name": INVOKE, "documents": ["AmazonInspector2-InvokeInspectorSsmPlugin"],
                       "max_interval": "24h", "required": true, "platform": "windows" }],
        "severities": { "schedule_too_slow": "low" }
    }))
    .unwrap();
    let report = evaluate_at(&config, fake.clone(), now()).await.unwrap();
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    // A stricter limit with a custom severity.
    let config: AssociationsConfig = serde_json::from_value(serde_json::json!({
        "expected": [{ "name": DISTRIBUTOR, "max_interval": "6h", "required": true }],
        "severities": { "schedule_too_slow": "critical" }
    }))
    .unwrap();
    let report = evaluate_at(&config, fake, now()).await.unwrap();
    let too_slow: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == SCHEDULE_TOO_SLOW)
        .map(|f| (f.resource.as_str(), f.severity))
        .collect();
    assert_eq!(
        too_slow,
        vec![
            (DISTRIBUTOR, Severity::Critical),
            (INVOKE, Severity::Critical)
        ]
    );
}

#[test]
fn rate_expressions_and_document_names() {
    assert_eq!(
        rate_expression(Duration::from_secs(1_800)),
        "rate(30 minutes)"
    );
    assert_eq!(rate_expression(Duration::from_secs(3_600)), "rate(1 hour)");
    assert_eq!(
        rate_expression(Duration::from_secs(43_200)),
        "rate(12 hours)"
    );
    assert_eq!(rate_expression(Duration::from_secs(86_400)), "rate(1 day)");
    assert_eq!(rate_expression(Duration::from_secs(5)), "rate(1 minute)");
    assert_eq!(
        document_name("arn:aws:ssm:eu-west-1:111122223333:document/My-Doc"),
        "My-Doc"
    );
    assert_eq!(
        document_name("AWS-GatherSoftwareInventory"),
        INVENTORY_DOCUMENT
    );
}

#[tokio::test]
async fn an_unnamed_stand_in_is_reported_by_its_id() {
    let mut unnamed = assoc(
        "66666666-ffff-4000-8000-000000000008",
        None,
        INVENTORY_DOCUMENT,
        "rate(30 minutes)",
        10,
    );
    unnamed.overview = Some(AssociationOverview {
        status: Some("Failed".into()),
        detailed_status: Some("Failed".into()),
        aggregated_count: BTreeMap::from([("Failed".to_owned(), 5)]),
    });
    let report = run(FakeSsm::with(vec![unnamed, distributor(), invoke()])).await;
    assert_eq!(
        codes(&report),
        vec![(EXECUTION_FAILED, "66666666-ffff-4000-8000-000000000008")]
    );
    let finding = &report.findings[0];
    assert_eq!(finding.details["stands_in_for"], INVENTORY_ASSOCIATION);
    assert_eq!(finding.details["document"], INVENTORY_DOCUMENT);
    assert!(finding.details["latest_execution"].is_null());
}
