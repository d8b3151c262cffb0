//! Rule `inspector-exclusions`: Inspector Classic assessment exclusions
//! (Trend Micro Conformity rule Inspector-003, Medium).
//!
//! An exclusion is what an assessment run could not check ("Agent not found",
//! "Unsupported OS version", ...). The rule reads the current runs of each
//! assessment template, lists and describes their exclusions, and reports one
//! finding per exclusion and scoped instance. Runs that FAILED or ended in
//! ERROR are findings of their own.
//!
//! "Current" means: the most recent completed run of each template within the
//! lookback window. An older run of the same template is superseded and its
//! exclusions are no longer current (`runs = "all"` evaluates every run in the
//! window instead). A FAILED or ERROR run older than its template's latest
//! completed run is superseded the same way.
//!
//! AWS ended Inspector Classic on 2026-05-20; where its API no longer answers,
//! the port reports `Unavailable` and the evaluation reads as `unavailable`.

use async_trait::async_trait;
use blindspot_aws::classic::{
    AssessmentRun, Exclusion, KeyValue, RunQuery, DESCRIBE_EXCLUSIONS_MAX, DESCRIBE_RUNS_MAX,
};
use blindspot_aws::{AwsClients, InspectorClassicApi};
use blindspot_core::{EvalContext, Finding, Rule, RuleError, RuleMeta, RuleReport, Severity};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector-exclusions";

/// Run states whose exclusions are meaningful.
const COMPLETED_STATES: [&str; 2] = ["COMPLETED", "COMPLETED_WITH_ERRORS"];
/// Run states that are findings in their own right.
const FAILED_STATES: [&str; 2] = ["FAILED", "ERROR"];
/// How often `failedItems` marked retryable are asked for again.
const DESCRIBE_RETRIES: usize = 3;
/// A failure code that only means the exclusion vanished between list and
/// describe; it is not a gap in what we saw.
const ITEM_GONE: &str = "ITEM_DOES_NOT_EXIST";

/// Which runs of a template to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunSelection {
    /// The most recent completed run of each template (the default).
    Latest,
    /// Every completed run in the window.
    All,
}

/// `[rules.inspector-exclusions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExclusionsConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How far back to look for completed runs.
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
    /// `latest` or `all`.
    pub runs: RunSelection,
    /// Severity of exclusion and failed-run findings (Conformity rates them Medium).
    pub severity: Severity,
}

impl Default for ExclusionsConfig {
    fn default() -> Self {
        ExclusionsConfig {
            enabled: true,
            // Classic runs are hours to days apart; hourly is plenty.
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(300),
            lookback: Duration::from_secs(30 * 24 * 3600),
            runs: RunSelection::Latest,
            severity: Severity::Medium,
        }
    }
}

impl crate::RuleConfig for ExclusionsConfig {
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

/// The registration of `inspector-exclusions`.
pub struct Exclusions;

impl crate::Registration for Exclusions {
    const ID: &'static str = ID;
    // Classic runs are hours apart; a minute shows the lifecycle in the demo.
    const DEMO_INTERVAL: Duration = Duration::from_secs(60);
    type Config = ExclusionsConfig;

    fn build(config: &ExclusionsConfig) -> crate::DynRule {
        std::sync::Arc::new(ExclusionsRule::new(config))
    }
}

/// The rule.
pub struct ExclusionsRule {
    meta: RuleMeta,
    config: ExclusionsConfig,
}

impl ExclusionsRule {
    /// Builds the rule from its config.
    pub fn new(config: &ExclusionsConfig) -> Self {
        ExclusionsRule {
            meta: RuleMeta {
                id: ID,
                aliases: &["Inspector-003"],
                severity: config.severity,
                summary: "Inspector Classic assessment exclusions: what runs could not check",
                reads: &[],
                measurements: &[],
            },
            config: config.clone(),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for ExclusionsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        evaluate(&self.config, cx.clients.classic.as_ref(), cx.scope, cx.now).await
    }
}

/// The evaluation, on the port alone so tests can drive it with a fake.
async fn evaluate(
    config: &ExclusionsConfig,
    api: &dyn InspectorClassicApi,
    scope: &blindspot_core::Scope,
    now: DateTime<Utc>,
) -> Result<RuleReport, RuleError> {
    let lookback = chrono::Duration::from_std(config.lookback)
        .map_err(|e| RuleError::Failed(format!("lookback out of range: {e}")))?;
    let window_start = now - lookback;

    // Completed runs are filtered by completion time on the server. Failed runs
    // may never get a completion time, so they are listed by state and their
    // state-change time is checked here.
    let completed_query = RunQuery {
        states: COMPLETED_STATES.iter().map(|s| (*s).to_owned()).collect(),
        completed_after: Some(window_start),
        completed_before: Some(now),
        ..RunQuery::default()
    };
    let failed_query = RunQuery {
        states: FAILED_STATES.iter().map(|s| (*s).to_owned()).collect(),
        ..RunQuery::default()
    };
    let mut run_arns = list_all_runs(api, &completed_query).await?;
    run_arns.extend(list_all_runs(api, &failed_query).await?);
    run_arns.sort();
    run_arns.dedup();

    let mut runs = Vec::with_capacity(run_arns.len());
    for batch in run_arns.chunks(DESCRIBE_RUNS_MAX) {
        runs.extend(api.describe_assessment_runs(batch).await?);
    }

    let selection = select_runs(runs, config.runs, window_start);
    let mut report = RuleReport::default();
    report
        .counts
        .insert("runs_listed".into(), run_arns.len() as u64);
    report
        .counts
        .insert("runs_evaluated".into(), selection.current.len() as u64);
    report
        .counts
        .insert("runs_superseded".into(), selection.superseded as u64);

    // Keyed by fingerprint: with `runs = "all"` the same exclusion on the same
    // instance shows up once per run, and it is one problem.
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut exclusion_count = 0u64;
    for run in &selection.current {
        let exclusions = describe_run_exclusions(api, &run.arn).await?;
        exclusion_count += exclusions.len() as u64;
        for exclusion in &exclusions {
            for finding in exclusion_findings(config, scope, run, exclusion) {
                merge_finding(&mut findings, finding, &run.arn);
            }
        }
    }
    for run in &selection.failed {
        let finding = failed_run_finding(config, scope, run);
        findings.insert(finding.id.clone(), finding);
    }
    report.counts.insert("exclusions".into(), exclusion_count);
    report
        .counts
        .insert("failed_runs".into(), selection.failed.len() as u64);
    report.findings = findings.into_values().collect();
    Ok(report)
}

async fn list_all_runs(
    api: &dyn InspectorClassicApi,
    query: &RunQuery,
) -> Result<Vec<String>, RuleError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = api.list_assessment_runs(query, token).await?;
        arns.extend(page.items);
        match page.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(arns),
        }
    }
}

/// The runs to evaluate, and the failed runs to report.
struct Selection {
    current: Vec<AssessmentRun>,
    failed: Vec<AssessmentRun>,
    superseded: usize,
}

fn select_runs(
    runs: Vec<AssessmentRun>,
    mode: RunSelection,
    window_start: DateTime<Utc>,
) -> Selection {
    let finished_at =
        |run: &AssessmentRun| run.completed_at.or(run.state_changed_at).or(run.created_at);
    let (mut completed, mut failed): (Vec<_>, Vec<_>) = runs
        .into_iter()
        .filter(|run| finished_at(run).is_some_and(|t| t >= window_start))
        .partition(|run| COMPLETED_STATES.contains(&run.state.as_str()));
    failed.retain(|run| FAILED_STATES.contains(&run.state.as_str()));

    // Newest first, ties broken by ARN so the choice is deterministic.
    let newest_first = |a: &AssessmentRun, b: &AssessmentRun| {
        finished_at(b)
            .cmp(&finished_at(a))
            .then_with(|| a.arn.cmp(&b.arn))
    };
    completed.sort_by(newest_first);
    failed.sort_by(newest_first);

    let mut latest_completed: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
    let mut current = Vec::new();
    let mut superseded = 0;
    for run in completed {
        match latest_completed.get(&run.template_arn) {
            Some(_) if mode == RunSelection::Latest => superseded += 1,
            _ => {
                latest_completed
                    .entry(run.template_arn.clone())
                    .or_insert(finished_at(&run));
                current.push(run);
            }
        }
    }
    let failed = match mode {
        RunSelection::All => failed,
        RunSelection::Latest => failed
            .into_iter()
            .filter(|run| match latest_completed.get(&run.template_arn) {
                Some(latest) => {
                    let keep = finished_at(run) > *latest;
                    if !keep {
                        superseded += 1;
                    }
                    keep
                }
                None => true,
            })
            .collect(),
    };
    Selection {
        current,
        failed,
        superseded,
    }
}

/// Lists and describes every exclusion of a run, retrying retryable failures.
async fn describe_run_exclusions(
    api: &dyn InspectorClassicApi,
    run_arn: &str,
) -> Result<Vec<Exclusion>, RuleError> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = api.list_exclusions(run_arn, token).await?;
        arns.extend(page.items);
        match page.next_token {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => break,
        }
    }

    let mut exclusions = Vec::with_capacity(arns.len());
    for batch in arns.chunks(DESCRIBE_EXCLUSIONS_MAX) {
        let mut pending: Vec<String> = batch.to_vec();
        for attempt in 0..=DESCRIBE_RETRIES {
            let answer = api.describe_exclusions(&pending).await?;
            exclusions.extend(answer.exclusions);
            let mut retry = Vec::new();
            for item in answer.failed {
                if item.code == ITEM_GONE {
                    continue;
                }
                if !item.retryable || attempt == DESCRIBE_RETRIES {
                    // An exclusion we could not read is a gap: reporting the
                    // rest as complete could resolve a finding that still exists.
                    return Err(RuleError::Failed(format!(
                        "inspector:DescribeExclusions could not describe {} ({}{})",
                        item.arn,
                        item.code,
                        if item.retryable {
                            ", still failing after retries"
                        } else {
                            ""
                        }
                    )));
                }
                retry.push(item.arn);
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
    }
    Ok(exclusions)
}

/// Normalises a scope or attribute key: AWS documents `INSTANCE_ID` but real
/// output also says `instanceId`.
fn key_is(key: &str, wanted: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    norm(key) == norm(wanted)
}

fn values_with_key<'a>(pairs: &'a [KeyValue], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|kv| key_is(&kv.key, key))
        .filter_map(|kv| kv.value.as_deref())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A stable code from an exclusion title: "Agent not found" → `AGENT_NOT_FOUND`.
pub fn title_code(title: &str) -> String {
    let mut code = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            code.push(c.to_ascii_uppercase());
        } else if !code.ends_with('_') {
            code.push('_');
        }
    }
    let code = code.trim_matches('_');
    if code.is_empty() {
        "EXCLUSION".to_owned()
    } else {
        code.to_owned()
    }
}

/// The exact command that installs the Inspector agent on an instance.
pub fn install_agent_command(instance_id: &str, region: &str) -> String {
    format!(
        "aws ssm send-command --document-name AmazonInspector-ManageAWSAgent \
         --parameters '{{\"Operation\":[\"Install\"]}}' \
         --targets Key=InstanceIds,Values={instance_id} --region {region}"
    )
}

fn exclusion_findings(
    config: &ExclusionsConfig,
    scope: &blindspot_core::Scope,
    run: &AssessmentRun,
    exclusion: &Exclusion,
) -> Vec<Finding> {
    let mut instances = values_with_key(&exclusion.scopes, "INSTANCE_ID");
    if instances.is_empty() {
        instances = values_with_key(&exclusion.attributes, "INSTANCE_ID");
    }
    instances.sort_unstable();
    instances.dedup();
    let mut packages: Vec<&str> = values_with_key(&exclusion.scopes, "RULES_PACKAGE_ARN");
    packages.extend(values_with_key(&exclusion.attributes, "RULES_PACKAGE_ARN"));
    if packages.is_empty() {
        packages = run.rules_package_arns.iter().map(String::as_str).collect();
    }
    packages.sort_unstable();
    packages.dedup();

    let code = title_code(&exclusion.title);
    let agent_missing = code == "AGENT_NOT_FOUND";
    let resources: Vec<&str> = if instances.is_empty() {
        vec![run.arn.as_str()]
    } else {
        instances
    };
    resources
        .into_iter()
        .map(|resource| {
            let mut finding = Finding::new(
                ID,
                &code,
                config.severity,
                scope,
                resource,
                &exclusion.title,
            )
            .description(exclusion.description.trim())
            .recommendation(exclusion.recommendation.trim())
            .detail("assessment_run_arn", &run.arn)
            .detail("assessment_template_arn", &run.template_arn)
            .detail("exclusion_arn", &exclusion.arn)
            .detail("run_completed_at", run.completed_at);
            if !packages.is_empty() {
                finding = finding.detail("rules_package_arns", &packages);
            }
            if agent_missing && resource.starts_with("i-") {
                finding = finding.remediation(install_agent_command(resource, &scope.region));
            }
            finding
        })
        .collect()
}

/// Keeps one finding per fingerprint, remembering every run that reported it.
fn merge_finding(findings: &mut BTreeMap<String, Finding>, finding: Finding, run_arn: &str) {
    let existing = findings.entry(finding.id.clone()).or_insert(finding);
    if let serde_json::Value::Object(details) = &mut existing.details {
        let runs = details
            .entry("reported_by_runs")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = runs {
            list.push(serde_json::Value::String(run_arn.to_owned()));
        }
    }
}

fn failed_run_finding(
    config: &ExclusionsConfig,
    scope: &blindspot_core::Scope,
    run: &AssessmentRun,
) -> Finding {
    // The run itself is the problem, so its ARN is the resource.
    Finding::new(
        ID,
        "ASSESSMENT_RUN_FAILED",
        config.severity,
        scope,
        &run.arn,
        format!("Assessment run ended in state {}", run.state),
    )
    .description(format!(
        "Inspector Classic assessment run `{}` ended in state {}: none of its rules packages \
         produced results, so its targets were not assessed.",
        run.name, run.state
    ))
    .recommendation(
        "Check the run's state changes and the agents on its targets, fix the cause, \
         and start the assessment template again.",
    )
    .detail("assessment_run_arn", &run.arn)
    .detail("assessment_template_arn", &run.template_arn)
    .detail("state", &run.state)
    .detail("state_changed_at", run.state_changed_at)
    .detail("rules_package_arns", &run.rules_package_arns)
}

#[cfg(test)]
mod tests;
