//! The judge: which runs are current, and what their exclusions and the
//! failed runs mean as findings. Synchronous and pure; everything it knows
//! comes from the [`Snapshot`].

use super::config::{ExclusionsConfig, RunSelection};
use super::fetch::Snapshot;
use super::ID;
use blindspot_aws::classic::{AssessmentRun, Exclusion, KeyValue};
use blindspot_core::{Finding, RuleReport, Scope};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Run states whose exclusions are meaningful.
pub(super) const COMPLETED_STATES: [&str; 2] = ["COMPLETED", "COMPLETED_WITH_ERRORS"];
/// Run states that are findings in their own right.
pub(super) const FAILED_STATES: [&str; 2] = ["FAILED", "ERROR"];

/// The runs that count, out of every run described.
#[derive(Debug)]
pub struct Selection<'a> {
    /// The completed runs whose exclusions are current, newest first.
    pub current: Vec<&'a AssessmentRun>,
    /// The FAILED or ERROR runs to report, newest first.
    pub failed: Vec<&'a AssessmentRun>,
    /// Runs in the window that a later run of their template replaced.
    pub superseded: usize,
}

/// When a run ended, as far as its record tells: a failed run may never get
/// a completion time.
fn finished_at(run: &AssessmentRun) -> Option<DateTime<Utc>> {
    run.completed_at.or(run.state_changed_at).or(run.created_at)
}

/// Chooses the current runs of each template among `runs`: under
/// [`RunSelection::Latest`] the newest completed run of each template, and
/// the failed runs newer than it; under [`RunSelection::All`] every completed
/// and failed run. Runs that ended before `window_start` never count.
///
/// The fetch calls it too, to know whose exclusions to list.
pub fn select_runs(
    runs: &[AssessmentRun],
    mode: RunSelection,
    window_start: DateTime<Utc>,
) -> Selection<'_> {
    let (mut completed, mut failed): (Vec<_>, Vec<_>) = runs
        .iter()
        .filter(|run| finished_at(run).is_some_and(|t| t >= window_start))
        .partition(|run| COMPLETED_STATES.contains(&run.state.as_str()));
    failed.retain(|run| FAILED_STATES.contains(&run.state.as_str()));

    // Newest first, ties broken by ARN so the choice is deterministic.
    let newest_first = |a: &&AssessmentRun, b: &&AssessmentRun| {
        finished_at(b)
            .cmp(&finished_at(a))
            .then_with(|| a.arn.cmp(&b.arn))
    };
    completed.sort_by(newest_first);
    failed.sort_by(newest_first);

    let mut latest_completed: HashMap<&str, Option<DateTime<Utc>>> = HashMap::new();
    let mut current = Vec::new();
    let mut superseded = 0;
    for run in completed {
        match latest_completed.get(run.template_arn.as_str()) {
            Some(_) if mode == RunSelection::Latest => superseded += 1,
            _ => {
                latest_completed
                    .entry(&run.template_arn)
                    .or_insert(finished_at(run));
                current.push(run);
            }
        }
    }
    let failed = match mode {
        RunSelection::All => failed,
        RunSelection::Latest => failed
            .into_iter()
            .filter(
                |run| match latest_completed.get(run.template_arn.as_str()) {
                    Some(latest) => {
                        let keep = finished_at(run) > *latest;
                        if !keep {
                            superseded += 1;
                        }
                        keep
                    }
                    None => true,
                },
            )
            .collect(),
    };
    Selection {
        current,
        failed,
        superseded,
    }
}

/// The findings and counts of one evaluation.
///
/// A run of the selection without an entry in `snapshot.exclusions` has no
/// exclusions: the fetch fails as a whole rather than leave a gap.
pub fn judge(snapshot: &Snapshot, config: &ExclusionsConfig, scope: &Scope) -> RuleReport {
    let selection = select_runs(&snapshot.runs, config.runs, snapshot.window_start);

    // Keyed by fingerprint: with `runs = "all"` the same exclusion on the same
    // instance shows up once per run, and it is one problem.
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut exclusion_count = 0u64;
    for run in &selection.current {
        let exclusions = snapshot
            .exclusions
            .get(&run.arn)
            .map(Vec::as_slice)
            .unwrap_or_default();
        exclusion_count += exclusions.len() as u64;
        for exclusion in exclusions {
            for finding in exclusion_findings(config, scope, run, exclusion) {
                merge_finding(&mut findings, finding, &run.arn);
            }
        }
    }
    for run in &selection.failed {
        let finding = failed_run_finding(config, scope, run);
        findings.insert(finding.id.clone(), finding);
    }

    let mut report = RuleReport::default();
    for (name, value) in [
        ("runs_listed", snapshot.runs_listed as u64),
        ("runs_evaluated", selection.current.len() as u64),
        ("runs_superseded", selection.superseded as u64),
        ("exclusions", exclusion_count),
        ("failed_runs", selection.failed.len() as u64),
    ] {
        report.counts.insert(name.to_owned(), value);
    }
    report.findings = findings.into_values().collect();
    report
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
    let instance_id = crate::text::shell_word(instance_id);
    let region = crate::text::shell_word(region);
    format!(
        "aws ssm send-command --document-name AmazonInspector-ManageAWSAgent \
         --parameters '{{\"Operation\":[\"Install\"]}}' \
         --targets Key=InstanceIds,Values={instance_id} --region {region}"
    )
}

fn exclusion_findings(
    config: &ExclusionsConfig,
    scope: &Scope,
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
    // Without an instance, the problem belongs to what the template assesses.
    // The template, unlike the run, is the same from one run to the next, so
    // the finding keeps its identity (and its first-seen time) across runs.
    let resources: Vec<&str> = if instances.is_empty() {
        vec![run.template_arn.as_str()]
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
            // Two exclusions of one run can share a finding; the run is named once.
            if !list.iter().any(|r| r == run_arn) {
                list.push(serde_json::Value::String(run_arn.to_owned()));
            }
        }
    }
}

fn failed_run_finding(config: &ExclusionsConfig, scope: &Scope, run: &AssessmentRun) -> Finding {
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
