#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use blindspot_aws::classic::{ExclusionBatch, FailedItem};
use blindspot_aws::{AwsError, AwsErrorKind, Page};
use blindspot_core::Scope;
use std::collections::HashSet;
use std::sync::Mutex;

const TEMPLATE: &str =
    "arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234";

/// An in-memory Inspector Classic that enforces the API's batch limits and
/// pages its lists, so the rule's batching and paging are exercised.
#[derive(Default)]
struct FakeClassic {
    runs: Vec<AssessmentRun>,
    exclusions: BTreeMap<String, Vec<Exclusion>>,
    page_size: usize,
    fail_once: Mutex<HashSet<String>>,
    never_describable: Vec<String>,
    error: Option<AwsError>,
    describe_batches: Mutex<Vec<usize>>,
}

fn paged(items: Vec<String>, size: usize, token: Option<String>) -> Page<String> {
    let start: usize = token.map(|t| t.parse().unwrap()).unwrap_or(0);
    let end = (start + size).min(items.len());
    Page {
        items: items[start..end].to_vec(),
        next_token: (end < items.len()).then(|| end.to_string()),
    }
}

#[async_trait]
impl InspectorClassicApi for FakeClassic {
    async fn list_assessment_runs(
        &self,
        query: &RunQuery,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        let arns = self
            .runs
            .iter()
            .filter(|r| query.states.is_empty() || query.states.contains(&r.state))
            .filter(|r| match (query.completed_after, r.completed_at) {
                (Some(after), Some(done)) => done >= after,
                (Some(_), None) => false,
                _ => true,
            })
            .map(|r| r.arn.clone())
            .collect();
        Ok(paged(arns, self.page_size.max(1), next_token))
    }

    async fn describe_assessment_runs(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError> {
        assert!(
            !arns.is_empty() && arns.len() <= DESCRIBE_RUNS_MAX,
            "batch of {}",
            arns.len()
        );
        Ok(self
            .runs
            .iter()
            .filter(|r| arns.contains(&r.arn))
            .cloned()
            .collect())
    }

    async fn list_exclusions(
        &self,
        run_arn: &str,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        let arns = self
            .exclusions
            .get(run_arn)
            .map(|list| list.iter().map(|e| e.arn.clone()).collect())
            .unwrap_or_default();
        Ok(paged(arns, self.page_size.max(1), next_token))
    }

    async fn describe_exclusions(&self, arns: &[String]) -> Result<ExclusionBatch, AwsError> {
        assert!(
            !arns.is_empty() && arns.len() <= DESCRIBE_EXCLUSIONS_MAX,
            "batch of {}",
            arns.len()
        );
        self.describe_batches.lock().unwrap().push(arns.len());
        let mut batch = ExclusionBatch::default();
        let mut fail_once = self.fail_once.lock().unwrap();
        for arn in arns {
            if fail_once.remove(arn) || self.never_describable.contains(arn) {
                batch.failed.push(FailedItem {
                    arn: arn.clone(),
                    code: "INTERNAL_ERROR".into(),
                    retryable: true,
                });
                continue;
            }
            let found = self.exclusions.values().flatten().find(|e| &e.arn == arn);
            match found {
                Some(e) => batch.exclusions.push(e.clone()),
                None => batch.failed.push(FailedItem {
                    arn: arn.clone(),
                    code: ITEM_GONE.into(),
                    retryable: false,
                }),
            }
        }
        Ok(batch)
    }
}

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
        rules_package_arns: vec![
            "arn:aws:inspector:us-east-1:316112463485:rulespackage/0-gEjTy7T7".into(),
        ],
        created_at: Some(at),
        started_at: Some(at),
        completed_at: COMPLETED_STATES.contains(&state).then_some(at),
        state_changed_at: Some(at),
    }
}

fn exclusion(
    run: &AssessmentRun,
    id: &str,
    title: &str,
    scope_key: &str,
    instance: &str,
) -> Exclusion {
    Exclusion {
        arn: format!("{}/exclusion/{id}", run.arn),
        title: title.to_owned(),
        description: format!("{title} description"),
        recommendation: format!("{title} recommendation"),
        scopes: vec![KeyValue {
            key: scope_key.to_owned(),
            value: Some(instance.to_owned()),
        }],
        attributes: vec![],
    }
}

async fn eval(fake: &FakeClassic, config: &ExclusionsConfig) -> Result<RuleReport, RuleError> {
    evaluate(config, fake, &scope(), now()).await
}

#[tokio::test]
async fn agent_not_found_carries_the_install_command() {
    let r = run("0-aabbccdd", TEMPLATE, "COMPLETED", 2);
    let mut fake = FakeClassic {
        page_size: 10,
        ..Default::default()
    };
    fake.exclusions.insert(
        r.arn.clone(),
        vec![exclusion(
            &r,
            "0-1234abcd",
            "Agent not found",
            "instanceId",
            "i-0abcd1234abcd1234",
        )],
    );
    fake.runs.push(r);
    let report = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(f.code, "AGENT_NOT_FOUND");
    assert_eq!(f.resource, "i-0abcd1234abcd1234");
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

#[tokio::test]
async fn both_scope_key_spellings_name_the_instance() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let mut fake = FakeClassic {
        page_size: 10,
        ..Default::default()
    };
    let mut by_attribute = exclusion(&r, "0-c", "No key", "RULES_PACKAGE_ARN", "arn:pkg");
    by_attribute.attributes = vec![KeyValue {
        key: "INSTANCE_ID".into(),
        value: Some("i-3".into()),
    }];
    fake.exclusions.insert(
        r.arn.clone(),
        vec![
            exclusion(&r, "0-a", "Unsupported OS version", "INSTANCE_ID", "i-1"),
            exclusion(&r, "0-b", "Unsupported OS version", "instanceId", "i-2"),
            by_attribute,
        ],
    );
    fake.runs.push(r);
    let report = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    let resources: Vec<_> = report
        .findings
        .iter()
        .map(|f| f.resource.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(resources, ["i-1", "i-2", "i-3"]);
    let pkg = report
        .findings
        .iter()
        .find(|f| f.resource == "i-3")
        .unwrap();
    assert_eq!(
        pkg.details["rules_package_arns"],
        serde_json::json!(["arn:pkg"])
    );
    assert!(pkg.remediation.is_none());
}

#[tokio::test]
async fn an_exclusion_without_instance_scope_is_reported_on_the_run() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let mut fake = FakeClassic {
        page_size: 10,
        ..Default::default()
    };
    let mut e = exclusion(&r, "0-a", "Agent not found", "x", "y");
    e.scopes.clear();
    fake.exclusions.insert(r.arn.clone(), vec![e]);
    fake.runs.push(r.clone());
    let report = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(report.findings[0].resource, r.arn);
    assert!(report.findings[0].remediation.is_none());
}

#[tokio::test]
async fn older_runs_of_a_template_are_superseded_unless_all_runs_are_asked_for() {
    let new = run("0-new", TEMPLATE, "COMPLETED_WITH_ERRORS", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 5);
    let other = run(
        "0-other",
        "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-2",
        "COMPLETED",
        9,
    );
    let ancient = run(
        "0-ancient",
        "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-3",
        "COMPLETED",
        45,
    );
    let mut fake = FakeClassic {
        page_size: 2,
        ..Default::default()
    };
    fake.exclusions.insert(
        new.arn.clone(),
        vec![exclusion(
            &new,
            "0-a",
            "Agent not found",
            "INSTANCE_ID",
            "i-new",
        )],
    );
    fake.exclusions.insert(
        old.arn.clone(),
        vec![exclusion(
            &old,
            "0-b",
            "Agent not found",
            "INSTANCE_ID",
            "i-old",
        )],
    );
    fake.exclusions.insert(
        other.arn.clone(),
        vec![exclusion(
            &other,
            "0-c",
            "Agent not found",
            "INSTANCE_ID",
            "i-other",
        )],
    );
    fake.exclusions.insert(
        ancient.arn.clone(),
        vec![exclusion(
            &ancient,
            "0-d",
            "Agent not found",
            "INSTANCE_ID",
            "i-ancient",
        )],
    );
    fake.runs = vec![old, new, other, ancient];

    let latest = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    let resources: Vec<_> = latest
        .findings
        .iter()
        .map(|f| f.resource.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(resources, ["i-new", "i-other"]);
    assert_eq!(latest.counts["runs_superseded"], 1);

    let config = ExclusionsConfig {
        runs: RunSelection::All,
        ..Default::default()
    };
    let all = eval(&fake, &config).await.unwrap();
    assert_eq!(
        all.findings.len(),
        3,
        "every run in the window, but not the one outside it"
    );
}

#[tokio::test]
async fn the_same_exclusion_in_two_runs_is_one_finding_naming_both_runs() {
    let new = run("0-new", TEMPLATE, "COMPLETED", 1);
    let old = run("0-old", TEMPLATE, "COMPLETED", 3);
    let mut fake = FakeClassic {
        page_size: 10,
        ..Default::default()
    };
    fake.exclusions.insert(
        new.arn.clone(),
        vec![exclusion(
            &new,
            "0-a",
            "Agent not found",
            "INSTANCE_ID",
            "i-1",
        )],
    );
    fake.exclusions.insert(
        old.arn.clone(),
        vec![exclusion(
            &old,
            "0-b",
            "Agent not found",
            "INSTANCE_ID",
            "i-1",
        )],
    );
    fake.runs = vec![new, old];
    let config = ExclusionsConfig {
        runs: RunSelection::All,
        ..Default::default()
    };
    let report = eval(&fake, &config).await.unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(
        report.findings[0].details["reported_by_runs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn failed_runs_are_findings_unless_a_later_run_completed() {
    let failed = run("0-f", TEMPLATE, "FAILED", 2);
    let errored = run(
        "0-e",
        "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-9",
        "ERROR",
        3,
    );
    let later_ok = run(
        "0-ok",
        "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-9",
        "COMPLETED",
        1,
    );
    let fake = FakeClassic {
        page_size: 10,
        runs: vec![failed.clone(), errored, later_ok],
        ..Default::default()
    };
    let report = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].code, "ASSESSMENT_RUN_FAILED");
    assert_eq!(report.findings[0].resource, failed.arn);
}

#[tokio::test]
async fn describes_in_batches_of_100_and_retries_retryable_failures() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let list: Vec<_> = (0..250)
        .map(|i| {
            exclusion(
                &r,
                &format!("0-{i}"),
                "Agent not found",
                "INSTANCE_ID",
                &format!("i-{i:04}"),
            )
        })
        .collect();
    let flaky = list[7].arn.clone();
    let mut fake = FakeClassic {
        page_size: 100,
        ..Default::default()
    };
    fake.exclusions.insert(r.arn.clone(), list);
    fake.runs.push(r);
    fake.fail_once.lock().unwrap().insert(flaky);
    let report = eval(&fake, &ExclusionsConfig::default()).await.unwrap();
    assert_eq!(report.findings.len(), 250);
    assert_eq!(
        *fake.describe_batches.lock().unwrap(),
        vec![100, 1, 100, 50]
    );
}

#[tokio::test]
async fn a_persistently_failing_item_fails_the_evaluation() {
    let r = run("0-1", TEMPLATE, "COMPLETED", 1);
    let e = exclusion(&r, "0-a", "Agent not found", "INSTANCE_ID", "i-1");
    let mut fake = FakeClassic {
        page_size: 10,
        never_describable: vec![e.arn.clone()],
        ..Default::default()
    };
    fake.exclusions.insert(r.arn.clone(), vec![e]);
    fake.runs.push(r);
    let err = eval(&fake, &ExclusionsConfig::default()).await.unwrap_err();
    assert_eq!(err.status(), blindspot_core::EvaluationStatus::Error);
    assert!(
        err.to_string().contains("still failing after retries"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retired_service_is_unavailable_and_denial_is_an_error() {
    let fake = FakeClassic {
        error: Some(AwsError::from_code(
            "inspector",
            "ListAssessmentRuns",
            "UnknownOperationException",
            "retired",
        )),
        ..Default::default()
    };
    let err = eval(&fake, &ExclusionsConfig::default()).await.unwrap_err();
    assert_eq!(err.status(), blindspot_core::EvaluationStatus::Unavailable);

    let fake = FakeClassic {
        error: Some(AwsError::new(
            "inspector",
            "ListAssessmentRuns",
            AwsErrorKind::AccessDenied,
            "denied",
        )),
        ..Default::default()
    };
    let err = eval(&fake, &ExclusionsConfig::default()).await.unwrap_err();
    assert_eq!(err.status(), blindspot_core::EvaluationStatus::Error);
}

#[test]
fn title_codes_are_stable() {
    assert_eq!(title_code("Agent not found"), "AGENT_NOT_FOUND");
    assert_eq!(
        title_code("  Unsupported OS version!"),
        "UNSUPPORTED_OS_VERSION"
    );
    assert_eq!(title_code("***"), "EXCLUSION");
}
