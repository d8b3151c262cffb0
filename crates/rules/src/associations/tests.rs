//! Tests of `inspector2-associations`: the judge on snapshots built by hand
//! (a table of verdicts, then the wording and details of each problem), and
//! the fetch against the scripted SSM of `blindspot_aws::testing`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fetch::{Calls, ManagedNodes};
use super::*;
use blindspot_aws::ssm::{
    Association, AssociationExecution, AssociationOverview, ManagedInstance, Target,
};
use blindspot_aws::testing::{FakeSsm, Fakes};
use blindspot_aws::{AwsError, AwsErrorKind};
use blindspot_core::{Finding, NoPeers, RuleError, Scope};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

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

fn scope() -> Scope {
    Scope::new(ACCOUNT, REGION)
}

// ---------------------------------------------------------------- the data

fn all_instances() -> Vec<Target> {
    vec![Target {
        key: "InstanceIds".into(),
        values: vec!["*".into()],
    }]
}

fn tagged(key: &str, value: &str) -> Vec<Target> {
    vec![Target {
        key: key.into(),
        values: vec![value.into()],
    }]
}

fn overview(status: &str, counts: &[(&str, i64)]) -> Option<AssociationOverview> {
    Some(AssociationOverview {
        status: Some(status.into()),
        detailed_status: Some(status.into()),
        aggregated_count: counts.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
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
        overview: overview("Success", &[("Success", 4)]),
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

/// `CompanyInventory`: a user's inventory association on all instances.
fn company_inventory(schedule: &str) -> Association {
    let mut custom = assoc(
        "33333333-cccc-4000-8000-000000000005",
        Some("CompanyInventory"),
        INVENTORY_DOCUMENT,
        schedule,
        120,
    );
    custom.targets = tagged("instanceids", "*");
    custom
}

/// Inspector's inventory association silent for 20 hours, and an unnamed
/// user association gathering inventory daily from tagged instances.
fn duplicated() -> Vec<Association> {
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
    user.targets = tagged("tag:Env", "prod");
    vec![own, user, distributor(), invoke()]
}

fn failing_invoke() -> Association {
    let mut failing = invoke();
    failing.overview = overview("Failed", &[("Failed", 3), ("Success", 7)]);
    failing
}

fn executions_of(id: &str) -> Vec<AssociationExecution> {
    let exec =
        |execution_id: &str, status: &str, minutes: i64, counts: &str| AssociationExecution {
            association_id: id.into(),
            execution_id: execution_id.into(),
            status: Some(status.into()),
            detailed_status: Some(status.into()),
            created_time: Some(ago(minutes)),
            resource_count_by_status: Some(counts.into()),
        };
    // Not newest first: the fetch picks the newest by creation time.
    vec![
        exec("exec-old", "Success", 450, "{Success=10}"),
        exec("exec-new", "Failed", 90, "{Success=7,Failed=3}"),
    ]
}

/// Node counts by `PlatformType`, as the fetch keeps them.
fn nodes(counts: &[(&str, u64)]) -> ManagedNodes {
    ManagedNodes::Listed(counts.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect())
}

fn denied(operation: &'static str) -> AwsError {
    AwsError::from_code("ssm", operation, "AccessDeniedException", "not allowed")
}

/// The snapshot of a region holding `associations` (already described) and
/// two Windows and three Linux nodes, read with one call of each kind.
fn snapshot(associations: Vec<Association>) -> Snapshot {
    let failing: Vec<String> = associations
        .iter()
        .filter(|a| judge::shows_failure(a))
        .map(|a| a.association_id.clone())
        .collect();
    let examined = judge::examined(&associations, &default_expectations()).len();
    Snapshot {
        calls: Calls {
            list_pages: 1,
            describe_calls: examined as u64,
            execution_pages: failing.len() as u64,
            node_pages: 1,
        },
        latest_executions: failing.into_iter().map(|id| (id, None)).collect(),
        associations,
        described: BTreeMap::new(),
        managed_nodes: nodes(&[("Windows", 2), ("Linux", 3)]),
    }
}

fn config(json: serde_json::Value) -> AssociationsConfig {
    serde_json::from_value(json).unwrap()
}

fn judge_at(snapshot: &Snapshot, config: &AssociationsConfig, at: DateTime<Utc>) -> RuleReport {
    judge::judge(snapshot, config, &scope(), at)
}

fn judged(snapshot: &Snapshot) -> RuleReport {
    judge_at(snapshot, &AssociationsConfig::default(), now())
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

fn of<'a>(report: &'a RuleReport, resource: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.resource == resource)
        .unwrap_or_else(|| panic!("{resource} in {:?}", codes(report)))
}

fn insta_snapshot(name: &str, value: &impl serde::Serialize) {
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!(name, value);
    });
}

// ------------------------------------------------------ the judge: verdicts

/// One judge case: a region's associations and nodes, a config, and every
/// finding expected, in order.
struct Case {
    name: &'static str,
    associations: Vec<Association>,
    nodes: ManagedNodes,
    config: serde_json::Value,
    expected: Vec<(&'static str, &'static str, Severity)>,
}

impl Case {
    fn new(name: &'static str, associations: Vec<Association>) -> Self {
        Case {
            name,
            associations,
            nodes: nodes(&[("Windows", 2), ("Linux", 3)]),
            config: serde_json::json!({}),
            expected: Vec::new(),
        }
    }

    fn nodes(mut self, nodes: ManagedNodes) -> Self {
        self.nodes = nodes;
        self
    }

    fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    fn expect(mut self, expected: &[(&'static str, &'static str, Severity)]) -> Self {
        self.expected = expected.to_vec();
        self
    }
}

fn cases() -> Vec<Case> {
    use Severity::{Critical, High, Info, Low, Medium};
    let with = |f: fn(&mut Association), base: Association| {
        let mut a = base;
        f(&mut a);
        a
    };
    let mut linux = assoc(
        "22222222-bbbb-4000-8000-000000000004",
        Some(LINUX_DISTRIBUTOR),
        "AWS-ConfigureAWSPackage",
        "rate(1 day)",
        30,
    );
    linux.targets = tagged("tag:DeepInspection", "on");
    let mut failing_linux = linux.clone();
    failing_linux.overview = overview("Failed", &[("Failed", 2)]);
    let mut unnamed_stand_in = assoc(
        "66666666-ffff-4000-8000-000000000008",
        None,
        INVENTORY_DOCUMENT,
        "rate(30 minutes)",
        10,
    );
    unnamed_stand_in.overview = overview("Failed", &[("Failed", 5)]);
    let mut narrow_user = assoc(
        "33333333-cccc-4000-8000-000000000006",
        None,
        INVENTORY_DOCUMENT,
        "rate(30 minutes)",
        10,
    );
    narrow_user.targets = tagged("tag:Team", "payments");
    let mut fresh_never_run = invoke();
    fresh_never_run.last_execution_date = None;
    fresh_never_run.last_successful_execution_date = None;
    fresh_never_run.created_date = Some(ago(20));
    let mut weekly = distributor();
    weekly.schedule_expression = Some("cron(0 3 ? * SUN *)".into());
    weekly.schedule_offset = Some(2);
    let mut single = distributor();
    single.targets = Vec::new();
    single.instance_id = Some("i-0123456789abcdef0".into());
    let slow_invoke = with(
        |a| a.schedule_expression = Some("rate(12 hours)".into()),
        invoke(),
    );
    let required_linux = serde_json::json!({ "expected": [
        { "name": LINUX_DISTRIBUTOR, "required": true, "platform": "linux" }
    ]});
    let windows_plugin = [
        (ASSOCIATION_MISSING, DISTRIBUTOR, High),
        (ASSOCIATION_MISSING, INVOKE, High),
    ];

    vec![
        Case::new("healthy", healthy()),
        Case::new("optional Linux association, narrowed, own document", {
            let mut a = healthy();
            a.push(linux.clone());
            a
        }),
        Case::new("optional Linux association failing", {
            let mut a = healthy();
            a.push(failing_linux);
            a
        })
        .expect(&[(EXECUTION_FAILED, LINUX_DISTRIBUTOR, High)]),
        // ---- missing, weighed by platform
        Case::new("distributor missing", vec![inventory(), invoke()])
            .expect(&[(ASSOCIATION_MISSING, DISTRIBUTOR, High)]),
        Case::new("empty region with Windows nodes", Vec::new()).expect(&[
            (ASSOCIATION_MISSING, INVENTORY_ASSOCIATION, High),
            windows_plugin[0],
            windows_plugin[1],
        ]),
        Case::new("empty region without nodes", Vec::new())
            .nodes(nodes(&[]))
            .expect(&[
                (ASSOCIATION_MISSING, INVENTORY_ASSOCIATION, High),
                (ASSOCIATION_MISSING, DISTRIBUTOR, Info),
                (ASSOCIATION_MISSING, INVOKE, Info),
            ]),
        Case::new("Linux and macOS nodes only", vec![inventory()])
            .nodes(nodes(&[("Linux", 4), ("MacOS", 1), ("", 2)]))
            .expect(&[
                (ASSOCIATION_MISSING, DISTRIBUTOR, Info),
                (ASSOCIATION_MISSING, INVOKE, Info),
            ]),
        Case::new("platform types in any case", vec![inventory()])
            .nodes(nodes(&[("WINDOWS", 1), ("Linux", 4)]))
            .expect(&windows_plugin),
        Case::new("nodes that could not be listed", vec![inventory()])
            .nodes(ManagedNodes::Unlisted(denied("DescribeInstanceInformation")))
            .expect(&windows_plugin),
        Case::new("configured severity, Windows nodes", vec![inventory(), invoke()])
            .config(serde_json::json!({ "severities": { "association_missing": "medium" } }))
            .expect(&[(ASSOCIATION_MISSING, DISTRIBUTOR, Medium)]),
        Case::new("configured severity, no Windows nodes", vec![inventory(), invoke()])
            .nodes(nodes(&[("Linux", 1)]))
            .config(serde_json::json!({ "severities": { "association_missing": "critical" } }))
            .expect(&[(ASSOCIATION_MISSING, DISTRIBUTOR, Info)]),
        Case::new("required Linux association, Linux nodes", healthy())
            .config(required_linux.clone())
            .expect(&[(ASSOCIATION_MISSING, LINUX_DISTRIBUTOR, High)]),
        Case::new("required Linux association, Windows nodes only", healthy())
            .nodes(nodes(&[("Windows", 5)]))
            .config(required_linux)
            .expect(&[(ASSOCIATION_MISSING, LINUX_DISTRIBUTOR, Info)]),
        Case::new("an operator's platform-less association is not weighed", healthy())
            .nodes(nodes(&[]))
            .config(serde_json::json!({ "expected": [{ "name": "PatchBaseline", "required": true }] }))
            .expect(&[(ASSOCIATION_MISSING, "PatchBaseline", High)]),
        // ---- the effective inventory association
        Case::new("a user's 12-hour inventory association stands in", vec![
            company_inventory("rate(12 hours)"),
            distributor(),
            invoke(),
        ])
        .expect(&[(SCHEDULE_TOO_SLOW, "CompanyInventory", Medium)]),
        Case::new("a narrow user inventory association does not stand in", vec![
            narrow_user,
            distributor(),
            invoke(),
        ])
        .expect(&[(ASSOCIATION_MISSING, INVENTORY_ASSOCIATION, High)]),
        Case::new("an unnamed stand-in is reported by its ID", vec![
            unnamed_stand_in,
            distributor(),
            invoke(),
        ])
        .expect(&[(EXECUTION_FAILED, "66666666-ffff-4000-8000-000000000008", High)]),
        Case::new("duplicate inventory association", duplicated()).expect(&[
            (DUPLICATE_INVENTORY_ASSOCIATION, INVENTORY_DOCUMENT, High),
            (EXECUTION_STALE, INVENTORY_ASSOCIATION, High),
        ]),
        // ---- health
        Case::new("failed invoke plugin", vec![inventory(), distributor(), failing_invoke()])
            .expect(&[(EXECUTION_FAILED, INVOKE, High)]),
        Case::new("failed targets alone", vec![
            inventory(),
            with(
                |a| a.overview = overview("Success", &[("Failed", 1), ("Success", 9)]),
                distributor(),
            ),
            invoke(),
        ])
        .expect(&[(EXECUTION_FAILED, DISTRIBUTOR, High)]),
        // ---- documents and targets
        Case::new("document outside the accepted set; ARNs compared by name", vec![
            inventory(),
            with(
                |a| {
                    a.document_name =
                        "arn:aws:ssm:eu-west-1::document/AWS-ConfigureAWSPackage".into()
                },
                distributor(),
            ),
            with(|a| a.document_name = "AWS-RunPowerShellScript".into(), invoke()),
        ])
        .expect(&[(DOCUMENT_MISMATCH, INVOKE, High)]),
        Case::new("narrowed targets", vec![
            with(|a| a.targets = tagged("tag:Env", "prod"), inventory()),
            single,
            invoke(),
        ])
        .expect(&[
            (TARGETS_NARROWED, INVENTORY_ASSOCIATION, Low),
            (TARGETS_NARROWED, DISTRIBUTOR, Low),
        ]),
        // ---- schedules
        Case::new("unparseable schedule", vec![
            inventory(),
            with(|a| a.schedule_expression = Some("rate(1 hours)".into()), distributor()),
            invoke(),
        ])
        .expect(&[(SCHEDULE_UNPARSEABLE, DISTRIBUTOR, Medium)]),
        Case::new("slow cron, weekly cron with offset, one-shot", vec![
            with(
                |a| a.schedule_expression = Some("cron(0 0/12 * * ? *)".into()),
                inventory(),
            ),
            weekly,
            with(
                |a| a.schedule_expression = Some("at(2026-11-01T10:00:00)".into()),
                invoke(),
            ),
        ])
        .expect(&[
            (SCHEDULE_TOO_SLOW, INVENTORY_ASSOCIATION, Medium),
            (SCHEDULE_TOO_SLOW, DISTRIBUTOR, Medium),
            (SCHEDULE_TOO_SLOW, INVOKE, Medium),
        ]),
        Case::new("no schedule at all is too slow", vec![
            inventory(),
            distributor(),
            with(|a| a.schedule_expression = None, invoke()),
        ])
        .expect(&[(SCHEDULE_TOO_SLOW, INVOKE, Medium)]),
        Case::new("operator allows the invoke plugin a day", vec![
            inventory(),
            distributor(),
            slow_invoke.clone(),
        ])
        .config(serde_json::json!({
            "expected": [{ "name": INVOKE, "documents": ["AmazonInspector2-InvokeInspectorSsmPlugin"],
                           "max_interval": "24h", "required": true, "platform": "windows" }],
            "severities": { "schedule_too_slow": "low" }
        })),
        Case::new("12-hour invoke plugin by default", vec![
            inventory(),
            distributor(),
            slow_invoke.clone(),
        ])
        .expect(&[(SCHEDULE_TOO_SLOW, INVOKE, Medium)]),
        Case::new("operator's stricter limit and severity", vec![
            inventory(),
            distributor(),
            slow_invoke,
        ])
        .config(serde_json::json!({
            "expected": [{ "name": DISTRIBUTOR, "max_interval": "6h", "required": true }],
            "severities": { "schedule_too_slow": "critical" }
        }))
        .expect(&[
            (SCHEDULE_TOO_SLOW, DISTRIBUTOR, Critical),
            (SCHEDULE_TOO_SLOW, INVOKE, Critical),
        ]),
        // ---- staleness
        Case::new("stale by last success; never run counts from creation", vec![
            with(
                |a| {
                    a.last_execution_date = None;
                    a.last_successful_execution_date = Some(ago(5 * 60));
                },
                inventory(),
            ),
            distributor(),
            with(
                |a| {
                    a.last_execution_date = None;
                    a.last_successful_execution_date = None;
                    a.created_date = Some(ago(3 * 24 * 60));
                },
                invoke(),
            ),
        ])
        .expect(&[
            (EXECUTION_STALE, INVENTORY_ASSOCIATION, High),
            (EXECUTION_STALE, INVOKE, High),
        ]),
        Case::new("within twice the interval plus grace", vec![
            inventory(),
            distributor(),
            with(|a| a.last_execution_date = Some(ago(12 * 60 + 50)), invoke()),
        ]),
        Case::new("never run, but created only 20 minutes ago", vec![
            inventory(),
            distributor(),
            fresh_never_run,
        ]),
        Case::new("a shorter grace makes it stale", vec![
            inventory(),
            distributor(),
            with(|a| a.last_execution_date = Some(ago(12 * 60 + 50)), invoke()),
        ])
        .config(serde_json::json!({ "stale_grace": "30m" }))
        .expect(&[(EXECUTION_STALE, INVOKE, High)]),
    ]
}

#[test]
fn the_judge_finds_each_problem_once() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut snap = snapshot(case.associations);
        snap.managed_nodes = case.nodes;
        let report = judge_at(&snap, &config(case.config), now());
        let found: Vec<(&str, &str, Severity)> = report
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.resource.as_str(), f.severity))
            .collect();
        if found != case.expected {
            failures.push(format!(
                "{}:\n  expected {:?}\n  found    {found:?}",
                case.name, case.expected
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------ the judge: what it says

#[test]
fn a_healthy_region_is_measured_per_association() {
    let report = judged(&snapshot(healthy()));
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
    assert_eq!(report.counts["managed_nodes"], 5);
    insta_snapshot("associations_healthy", &report);
}

#[test]
fn a_missing_association_says_how_to_recreate_it() {
    let report = judged(&snapshot(vec![inventory(), invoke()]));
    let finding = only(&report, ASSOCIATION_MISSING);
    assert_eq!(finding.resource, DISTRIBUTOR);
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
    assert_eq!(finding.details["platform"], "windows");

    // The coverage rule recognises the inventory association by its document.
    let report = judged(&snapshot(Vec::new()));
    let missing_inventory = of(&report, INVENTORY_ASSOCIATION);
    assert_eq!(missing_inventory.details["document"], INVENTORY_DOCUMENT);
    assert_eq!(
        missing_inventory.remediation.as_deref(),
        Some(
            "aws ssm create-association --association-name \
             InspectorInventoryCollection-do-not-delete --name AWS-GatherSoftwareInventory \
             --targets Key=InstanceIds,Values=* --schedule-expression \"rate(30 minutes)\" \
             --region eu-west-1"
        )
    );
}

#[test]
fn a_missing_platform_association_is_weighed_by_the_regions_nodes() {
    // With Windows nodes: the configured severity, and how many there are.
    let report = judged(&snapshot(vec![inventory()]));
    let with_nodes = of(&report, DISTRIBUTOR);
    assert_eq!(with_nodes.severity, Severity::High);
    assert_eq!(with_nodes.details["managed_nodes"], 2);
    assert!(
        with_nodes
            .description
            .ends_with("The region has 2 Windows instances managed by SSM."),
        "{}",
        with_nodes.description
    );
    // The inventory association serves every node: not weighed.
    let all = judged(&snapshot(Vec::new()));
    let inventory_missing = of(&all, INVENTORY_ASSOCIATION);
    assert!(inventory_missing.details.get("managed_nodes").is_none());
    assert!(!inventory_missing.description.contains("managed by SSM"));

    // Without: info, saying why.
    let mut none = snapshot(vec![inventory()]);
    none.managed_nodes = nodes(&[("Linux", 3)]);
    let report = judged(&none);
    let without = of(&report, DISTRIBUTOR);
    assert_eq!(without.severity, Severity::Info);
    assert_eq!(without.details["managed_nodes"], 0);
    assert!(
        without
            .description
            .contains("The region has no Windows instances managed by SSM"),
        "{}",
        without.description
    );
    // The same problem whatever its weight: one fingerprint.
    assert_eq!(without.id, with_nodes.id);

    // Nodes that could not be listed are not "no nodes".
    let mut unknown = snapshot(vec![inventory()]);
    unknown.managed_nodes = ManagedNodes::Unlisted(denied("DescribeInstanceInformation"));
    let report = judged(&unknown);
    let unlisted = of(&report, INVOKE);
    assert_eq!(unlisted.severity, Severity::High);
    assert!(unlisted.details["managed_nodes"].is_null());
    assert!(unlisted.details["managed_nodes_error"]
        .as_str()
        .unwrap()
        .contains("ssm:DescribeInstanceInformation"));
    assert!(
        unlisted
            .description
            .contains("The managed nodes could not be listed"),
        "{}",
        unlisted.description
    );
    assert_eq!(report.counts["managed_nodes_unlisted"], 1);
    assert!(!report.counts.contains_key("managed_nodes"));

    // The three wordings side by side.
    let weighed: BTreeMap<&str, &Finding> = [
        ("windows_nodes", with_nodes),
        ("no_windows_nodes", without),
        ("nodes_unlisted", unlisted),
    ]
    .into();
    insta_snapshot("associations_missing_weighed", &weighed);

    let mut one = snapshot(vec![inventory()]);
    one.managed_nodes = nodes(&[("Windows", 1)]);
    let report = judged(&one);
    assert!(
        of(&report, DISTRIBUTOR)
            .description
            .ends_with("The region has 1 Windows instance managed by SSM."),
        "{}",
        of(&report, DISTRIBUTOR).description
    );
}

#[test]
fn a_stand_in_is_judged_in_inspectors_place() {
    let report = judged(&snapshot(vec![
        company_inventory("rate(12 hours)"),
        distributor(),
        invoke(),
    ]));
    let finding = only(&report, SCHEDULE_TOO_SLOW);
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
    insta_snapshot("associations_replaced_12h", &report);

    let mut unnamed = snapshot(vec![
        assoc(
            "66666666-ffff-4000-8000-000000000008",
            None,
            INVENTORY_DOCUMENT,
            "rate(30 minutes)",
            10,
        ),
        distributor(),
        invoke(),
    ]);
    unnamed.associations[0].overview = overview("Failed", &[("Failed", 5)]);
    let report = judged(&unnamed);
    let finding = only(&report, EXECUTION_FAILED);
    assert_eq!(finding.details["stands_in_for"], INVENTORY_ASSOCIATION);
    assert_eq!(finding.details["document"], INVENTORY_DOCUMENT);
    assert!(finding.details["latest_execution"].is_null());
}

#[test]
fn a_duplicate_names_both_and_deletes_the_other() {
    let report = judged(&snapshot(duplicated()));
    let dup = only(&report, DUPLICATE_INVENTORY_ASSOCIATION);
    assert!(dup
        .description
        .contains("InspectorInventoryCollection-do-not-delete"));
    assert!(dup
        .description
        .contains("44444444-dddd-4000-8000-000000000007"));
    assert_eq!(dup.details["associations"].as_array().unwrap().len(), 2);
    assert_eq!(
        dup.details["kept_association_id"],
        "11111111-aaaa-4000-8000-000000000001"
    );
    assert_eq!(
        dup.remediation.as_deref(),
        Some(
            "aws ssm delete-association --association-id 44444444-dddd-4000-8000-000000000007 \
             --region eu-west-1"
        )
    );
    let stale = only(&report, EXECUTION_STALE);
    assert_eq!(stale.details["age_seconds"], 20 * 3_600);
    assert_eq!(stale.details["stale_after_seconds"], 2 * 1_800 + 3_600);
    assert!(stale.title.contains("last ran 20h ago"), "{}", stale.title);
    insta_snapshot("associations_duplicate", &report);

    // Two inventory associations, neither usable by Inspector: no deletion
    // is proposed, since "the others" would be all of them.
    let mut narrow = duplicated();
    narrow.remove(0);
    let mut second = narrow[0].clone();
    second.association_id = "44444444-dddd-4000-8000-000000000008".into();
    narrow.push(second);
    let report = judged(&snapshot(narrow));
    let dup = only(&report, DUPLICATE_INVENTORY_ASSOCIATION);
    assert!(dup.remediation.is_none());
    assert!(dup.details["kept_association_id"].is_null());
}

#[test]
fn a_failure_names_the_latest_execution() {
    let failing = failing_invoke();
    let id = failing.association_id.clone();
    let mut snap = snapshot(vec![inventory(), distributor(), failing]);
    let newest = executions_of(&id).pop();
    snap.latest_executions.insert(id, newest);
    let report = judged(&snap);
    let finding = only(&report, EXECUTION_FAILED);
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
    insta_snapshot("associations_failed_invoke", &report);

    // Without an execution to name, the remediation lists them.
    let mut partial = distributor();
    partial.overview = overview("Success", &[("Failed", 1), ("Success", 9)]);
    let report = judged(&snapshot(vec![inventory(), partial, invoke()]));
    assert!(only(&report, EXECUTION_FAILED)
        .remediation
        .as_deref()
        .unwrap()
        .contains("describe-association-executions --association-id"));
}

#[test]
fn documents_targets_and_schedules_are_explained() {
    let mut wrong = invoke();
    wrong.document_name = "AWS-RunPowerShellScript".into();
    let report = judged(&snapshot(vec![inventory(), distributor(), wrong]));
    let finding = only(&report, DOCUMENT_MISMATCH);
    assert_eq!(finding.details["document"], "AWS-RunPowerShellScript");
    assert!(finding
        .remediation
        .as_deref()
        .unwrap()
        .contains("--name AmazonInspector2-InvokeInspectorSsmPlugin"));

    let mut narrow = inventory();
    narrow.targets = tagged("tag:Env", "prod");
    let mut single = distributor();
    single.targets = Vec::new();
    single.instance_id = Some("i-0123456789abcdef0".into());
    let report = judged(&snapshot(vec![narrow, single, invoke()]));
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

    let mut odd = distributor();
    odd.schedule_expression = Some("rate(1 hours)".into());
    let report = judged(&snapshot(vec![inventory(), odd, invoke()]));
    let finding = only(&report, SCHEDULE_UNPARSEABLE);
    assert!(finding.details["error"]
        .as_str()
        .unwrap()
        .contains("singular"));
    assert!(finding
        .remediation
        .as_deref()
        .unwrap()
        .contains("rate(12 hours)"));
    // Without an interval nothing is measured for it.
    assert!(!report
        .measurements
        .iter()
        .any(|m| m.labels["association"] == DISTRIBUTOR));

    let mut cron = inventory();
    cron.schedule_expression = Some("cron(0 0/12 * * ? *)".into());
    let mut weekly = distributor();
    weekly.schedule_expression = Some("cron(0 3 ? * SUN *)".into());
    weekly.schedule_offset = Some(2);
    let mut once = invoke();
    once.schedule_expression = Some("at(2026-11-01T10:00:00)".into());
    let report = judged(&snapshot(vec![cron, weekly, once]));
    let slow = &report.findings;
    assert_eq!(slow[0].details["actual_interval_seconds"], 43_200);
    assert_eq!(slow[1].details["actual_interval_seconds"], 7 * 86_400);
    assert_eq!(slow[1].details["schedule_offset"], 2);
    assert!(slow[2].details["actual_interval_seconds"].is_null());
    assert!(slow[2].title.contains("never again"));
}

#[test]
fn staleness_reads_the_described_dates() {
    // The listing has no date at all; DescribeAssociation has the last
    // successful execution, 5 hours ago for a 30-minute schedule.
    let mut listed = inventory();
    listed.last_execution_date = None;
    listed.last_successful_execution_date = None;
    listed.created_date = None;
    let mut described = listed.clone();
    described.last_successful_execution_date = Some(ago(5 * 60));
    let mut snap = snapshot(vec![listed, distributor(), invoke()]);
    snap.described
        .insert(described.association_id.clone(), described);
    let report = judged(&snap);
    let stale = only(&report, EXECUTION_STALE);
    assert_eq!(stale.details["age_seconds"], 5 * 3_600);
    assert!(stale.details["last_execution"].is_null());

    let mut never = invoke();
    never.last_execution_date = None;
    never.last_successful_execution_date = None;
    never.created_date = Some(ago(3 * 24 * 60));
    let report = judged(&snapshot(vec![inventory(), distributor(), never]));
    let stale = only(&report, EXECUTION_STALE);
    assert!(stale.title.contains("never run"), "{}", stale.title);
    assert_eq!(
        stale.details["created"],
        serde_json::json!(ago(3 * 24 * 60))
    );
}

#[test]
fn the_examined_set_is_the_listed_one() {
    // The listing decides what is examined; a describe that narrows the
    // stand-in's targets is then reported on it, not taken as missing.
    let listed = company_inventory("rate(30 minutes)");
    let mut described = listed.clone();
    described.targets = tagged("tag:Env", "prod");
    let mut snap = snapshot(vec![listed, distributor(), invoke()]);
    snap.described
        .insert(described.association_id.clone(), described);
    let report = judged(&snap);
    assert_eq!(codes(&report), vec![(TARGETS_NARROWED, "CompanyInventory")]);
    assert_eq!(report.findings[0].details["targets"], "tag:Env=prod");

    let associations = vec![company_inventory("rate(1 hour)"), inventory(), invoke()];
    let expectations = default_expectations();
    let examined = judge::examined(&associations, &expectations);
    let roles: Vec<(&str, &str, bool)> = examined
        .iter()
        .map(|e| {
            (
                e.expected.name.as_str(),
                e.listed.association_id.as_str(),
                e.stand_in,
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (
                INVENTORY_ASSOCIATION,
                "11111111-aaaa-4000-8000-000000000001",
                false
            ),
            (INVOKE, "11111111-aaaa-4000-8000-000000000003", false),
        ]
    );
}

#[test]
fn fingerprints_follow_the_problem_not_the_wording() {
    let mut own = inventory();
    own.last_execution_date = Some(ago(20 * 60));
    let snap = snapshot(vec![own, distributor(), invoke()]);
    let config = AssociationsConfig::default();
    let first = judge_at(&snap, &config, now());
    let later = judge_at(&snap, &config, now() + chrono::Duration::hours(3));
    assert_eq!(first.findings.len(), 1);
    assert_ne!(first.findings[0].title, later.findings[0].title);
    assert_eq!(first.findings[0].id, later.findings[0].id);
}

#[test]
fn document_names_may_be_arns() {
    assert_eq!(
        judge::document_name("arn:aws:ssm:eu-west-1:111122223333:document/My-Doc"),
        "My-Doc"
    );
    assert_eq!(
        judge::document_name("AWS-GatherSoftwareInventory"),
        INVENTORY_DOCUMENT
    );
}

// ------------------------------------------------------------------ config

#[test]
fn config_defaults_overrides_and_typos() {
    let parsed = config(serde_json::json!({}));
    assert_eq!(parsed, AssociationsConfig::default());
    assert_eq!(parsed.expectations(), default_expectations());

    let parsed = config(serde_json::json!({
        "stale_grace": "30m",
        "severities": { "targets_narrowed": "medium" },
        "expected": [
            { "name": INVOKE, "documents": ["AmazonInspector2-InvokeInspectorSsmPlugin"],
              "max_interval": "1day", "required": true, "platform": "windows" },
            { "name": "PatchBaseline", "documents": ["AWS-RunPatchBaseline"],
              "max_interval": "7days", "required": true, "all_instances": false }
        ]
    }));
    parsed.validate().unwrap();
    assert_eq!(parsed.stale_grace, Duration::from_secs(1_800));
    assert_eq!(parsed.severities.targets_narrowed, Severity::Medium);
    assert_eq!(parsed.severities.association_missing, Severity::High);
    let expectations = parsed.expectations();
    assert_eq!(expectations.len(), 6);
    let invoke_rule = expectations.iter().find(|e| e.name == INVOKE).unwrap();
    assert_eq!(invoke_rule.max_interval, Some(Duration::from_secs(86_400)));
    let patch = expectations
        .iter()
        .find(|e| e.name == "PatchBaseline")
        .unwrap();
    assert_eq!(patch.platform, Platform::All);
    assert!(!patch.all_instances);

    let only_mine = config(serde_json::json!({
        "builtin_expectations": false,
        "expected": [{ "name": "Mine" }]
    }));
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
}

#[test]
fn config_issues_name_the_entry_at_fault() {
    use crate::RuleConfig;
    let cases = [
        (
            serde_json::json!([{ "name": " " }]),
            "expected[0].name",
            "must not be empty",
        ),
        (
            serde_json::json!([{ "name": "A" }, { "name": "B" }, { "name": "A" }]),
            "expected[2].name",
            "`A` is already listed at expected[0]",
        ),
        (
            serde_json::json!([{ "name": "A" }, { "name": "B", "max_interval": "10s" }]),
            "expected[1].max_interval",
            "must be at least 1 minute",
        ),
    ];
    for (expected, key, message) in cases {
        let parsed = config(serde_json::json!({ "expected": expected }));
        let issue = RuleConfig::validate(&parsed).unwrap_err();
        assert_eq!(issue.key, key);
        assert!(issue.message.contains(message), "{}", issue.message);
        // Standing alone, the error names the full key.
        let err = parsed.validate().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("rules.inspector2-associations.{key}")),
            "{err}"
        );
    }
    assert!(matches!(
        config(serde_json::json!({ "expected": [{ "name": "A" }, { "name": "A" }] })).validate(),
        Err(AssociationsConfigError::DuplicateName {
            first: 0,
            index: 1,
            ..
        })
    ));
}

// ------------------------------------------------------------------- fetch

fn fakes(ssm: FakeSsm) -> Fakes {
    Fakes {
        ssm: Arc::new(ssm),
        ..Fakes::default()
    }
}

fn windows_node(id: &str) -> ManagedInstance {
    ManagedInstance {
        instance_id: id.into(),
        platform_type: Some("Windows".into()),
        ..ManagedInstance::default()
    }
}

async fn fetched(fakes: &Fakes) -> Result<Snapshot, RuleError> {
    fetch::fetch(fakes.ssm.as_ref(), &default_expectations()).await
}

async fn evaluate(fakes: &Fakes) -> Result<RuleReport, RuleError> {
    let rule = AssociationsRule::new(&AssociationsConfig::default());
    crate::test_support::evaluate(&rule, fakes, &scope(), now(), &NoPeers).await
}

#[tokio::test]
async fn fetch_pages_through_everything_and_describes_only_the_examined() {
    let mut associations: Vec<Association> = (0..5)
        .map(|i| {
            assoc(
                &format!("55555555-eeee-4000-8000-00000000001{i}"),
                Some(&format!("Other-{i}")),
                "AWS-RunPatchBaseline",
                "rate(1 day)",
                60,
            )
        })
        .collect();
    // Inspector's associations land on the last pages.
    associations.extend(healthy());
    let fakes = fakes(FakeSsm {
        associations,
        instances: vec![
            windows_node("i-1"),
            windows_node("i-2"),
            windows_node("i-3"),
        ],
        page_size: 2,
        ..FakeSsm::default()
    });
    let snap = fetched(&fakes).await.unwrap();
    assert_eq!(snap.associations.len(), 8);
    let described: Vec<&str> = snap.described.keys().map(String::as_str).collect();
    assert_eq!(
        described,
        [
            "11111111-aaaa-4000-8000-000000000001",
            "11111111-aaaa-4000-8000-000000000002",
            "11111111-aaaa-4000-8000-000000000003"
        ]
    );
    assert!(snap.latest_executions.is_empty(), "nothing fails");
    assert_eq!(snap.managed_nodes, nodes(&[("Windows", 3)]));
    assert_eq!(
        snap.calls,
        Calls {
            list_pages: 4,
            describe_calls: 3,
            execution_pages: 0,
            node_pages: 2,
        }
    );
    let script = &fakes.ssm.script;
    assert_eq!(script.count("ListAssociations"), 4);
    assert_eq!(script.count("DescribeAssociation"), 3);
    assert_eq!(script.count("DescribeAssociationExecutions"), 0);
    assert_eq!(script.count("DescribeInstanceInformation"), 2);
    // SSM only.
    assert!(fakes.classic.script.calls().is_empty());
    assert!(fakes.inspector2.script.calls().is_empty());

    // The same region, judged: clean, with the calls as counts.
    let report = evaluate(&fakes).await.unwrap();
    assert!(report.findings.is_empty(), "{:?}", codes(&report));
    let counts: Vec<(&str, u64)> = report
        .counts
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        [
            ("associations_examined", 3),
            ("associations_listed", 8),
            ("describe_calls", 3),
            ("inventory_associations", 1),
            ("list_pages", 4),
            ("managed_node_pages", 2),
            ("managed_nodes", 3),
        ]
    );
}

#[tokio::test]
async fn fetch_merges_describe_over_the_listing() {
    // ListAssociations has neither date; DescribeAssociation has both, a
    // fresher overview, and leaves out what the listing has.
    let mut listed = inventory();
    listed.last_successful_execution_date = None;
    listed.created_date = None;
    let mut answer = inventory();
    answer.association_name = None;
    answer.document_name = String::new();
    answer.targets = Vec::new();
    answer.schedule_expression = None;
    answer.last_successful_execution_date = Some(ago(5));
    answer.created_date = Some(ago(60));
    answer.overview = overview("Failed", &[("Failed", 1)]);
    let id = listed.association_id.clone();
    let fakes = fakes(FakeSsm {
        associations: vec![listed.clone(), distributor(), invoke()],
        described: [(id.clone(), answer.clone())].into(),
        executions: [(id.clone(), executions_of(&id))].into(),
        ..FakeSsm::default()
    });
    let snap = fetched(&fakes).await.unwrap();
    let merged = &snap.described[&id];
    assert_eq!(merged.association_name, listed.association_name);
    assert_eq!(merged.document_name, INVENTORY_DOCUMENT);
    assert_eq!(merged.targets, all_instances());
    assert_eq!(merged.schedule_expression, listed.schedule_expression);
    assert_eq!(merged.last_successful_execution_date, Some(ago(5)));
    assert_eq!(merged.created_date, Some(ago(60)));
    assert_eq!(merged.overview, answer.overview);
    // The listing stays as listed: it decides what is examined.
    assert_eq!(snap.associations[0], listed);
    // Failing per the described overview: its newest execution is read.
    let latest = snap.latest_executions[&id].as_ref().unwrap();
    assert_eq!(latest.execution_id, "exec-new");
    assert_eq!(fakes.ssm.script.count("DescribeAssociationExecutions"), 1);

    // A failing association without executions is read as such.
    let failing = failing_invoke();
    let fakes_without = fakes_with_failing(failing.clone());
    let snap = fetched(&fakes_without).await.unwrap();
    assert_eq!(snap.latest_executions[&failing.association_id], None);
}

fn fakes_with_failing(failing: Association) -> Fakes {
    fakes(FakeSsm {
        associations: vec![inventory(), distributor(), failing],
        ..FakeSsm::default()
    })
}

#[tokio::test]
async fn fetch_counts_nodes_by_platform_as_spelt() {
    let node = |id: &str, platform: Option<&str>| ManagedInstance {
        instance_id: id.into(),
        platform_type: platform.map(str::to_owned),
        ..ManagedInstance::default()
    };
    let fakes = fakes(FakeSsm {
        instances: vec![
            node("i-1", Some("Windows")),
            node("i-2", Some("windows")),
            node("i-3", Some("Linux")),
            node("mi-4", Some("MacOS")),
            node("mi-5", None),
        ],
        ..FakeSsm::default()
    });
    let snap = fetched(&fakes).await.unwrap();
    assert_eq!(
        snap.managed_nodes,
        nodes(&[
            ("Windows", 1),
            ("windows", 1),
            ("Linux", 1),
            ("MacOS", 1),
            ("", 1)
        ])
    );
    // The judge reads both spellings as Windows.
    let report = judged(&Snapshot {
        associations: vec![inventory()],
        ..snap
    });
    assert_eq!(of(&report, DISTRIBUTOR).details["managed_nodes"], 2);
}

#[tokio::test]
async fn unlisted_nodes_keep_the_severity_and_say_so() {
    let fakes = fakes(FakeSsm {
        associations: vec![inventory()],
        instances: vec![windows_node("i-1"), windows_node("i-2")],
        ..FakeSsm::default()
    });
    let script = &fakes.ssm.script;
    script.fail_next(
        "DescribeInstanceInformation",
        denied("DescribeInstanceInformation"),
    );
    let snap = fetched(&fakes).await.unwrap();
    assert!(matches!(
        &snap.managed_nodes,
        ManagedNodes::Unlisted(e) if e.kind == AwsErrorKind::AccessDenied
    ));

    script.fail_next(
        "DescribeInstanceInformation",
        denied("DescribeInstanceInformation"),
    );
    let report = evaluate(&fakes).await.unwrap();
    assert_eq!(
        codes(&report),
        vec![
            (ASSOCIATION_MISSING, DISTRIBUTOR),
            (ASSOCIATION_MISSING, INVOKE)
        ]
    );
    for finding in &report.findings {
        assert_eq!(finding.severity, Severity::High);
        assert!(finding.description.contains("could not be listed"));
    }
    assert_eq!(report.counts["managed_nodes_unlisted"], 1);
}

#[tokio::test]
async fn what_the_judge_needs_failing_fails_the_evaluation() {
    let healthy_region = || {
        fakes(FakeSsm {
            associations: healthy(),
            ..FakeSsm::default()
        })
    };

    let region = healthy_region();
    region
        .ssm
        .script
        .fail_next("ListAssociations", denied("ListAssociations"));
    let err = evaluate(&region).await.unwrap_err();
    assert!(matches!(err, RuleError::Failed(_)));
    assert!(err.to_string().contains("ssm:ListAssociations"), "{err}");

    let region = healthy_region();
    region.ssm.script.fail_next(
        "DescribeAssociation",
        AwsError::new(
            "ssm",
            "DescribeAssociation",
            AwsErrorKind::Throttled,
            "rate exceeded",
        ),
    );
    let err = evaluate(&region).await.unwrap_err();
    assert!(err.to_string().contains("throttled"), "{err}");

    let region = fakes_with_failing(failing_invoke());
    region.ssm.script.fail_next(
        "DescribeAssociationExecutions",
        denied("DescribeAssociationExecutions"),
    );
    let err = evaluate(&region).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ssm:DescribeAssociationExecutions"),
        "{err}"
    );

    let region = healthy_region();
    region.ssm.script.fail_next(
        "ListAssociations",
        AwsError::new(
            "ssm",
            "ListAssociations",
            AwsErrorKind::Unavailable,
            "no endpoint",
        ),
    );
    let err = evaluate(&region).await.unwrap_err();
    assert!(matches!(err, RuleError::Unavailable(_)));
}
