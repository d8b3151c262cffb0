//! The fetch: lists and describes the assessment runs in the lookback window,
//! then lists and describes the exclusions of the runs the judge will
//! evaluate. It talks only to [`InspectorClassicApi`] and decides nothing but
//! what to ask for; it fails as a whole rather than return a partial
//! snapshot, because a partial one would resolve findings that still exist.

use super::config::ExclusionsConfig;
use super::judge::{select_runs, COMPLETED_STATES, FAILED_STATES};
use blindspot_aws::classic::{
    AssessmentRun, Exclusion, RunQuery, DESCRIBE_EXCLUSIONS_MAX, DESCRIBE_RUNS_MAX,
};
use blindspot_aws::paginate::{collect_all, Listing};
use blindspot_aws::InspectorClassicApi;
use blindspot_core::RuleError;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// How often `failedItems` marked retryable are asked for again.
pub(super) const DESCRIBE_RETRIES: usize = 3;
/// A failure code that only means the exclusion vanished between list and
/// describe; it is not a gap in what we saw.
pub(super) const ITEM_GONE: &str = "ITEM_DOES_NOT_EXIST";

const LIST_RUNS: Listing = Listing::new("inspector", "ListAssessmentRuns");
const LIST_EXCLUSIONS: Listing = Listing::new("inspector", "ListExclusions");

/// What one region's Inspector Classic holds for the rule, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The start of the lookback window: completed runs were listed from
    /// here to the evaluation's time, failed runs regardless of time.
    pub window_start: DateTime<Utc>,
    /// How many distinct run ARNs the listings returned.
    pub runs_listed: usize,
    /// The listed runs as described; a run deleted in between is absent.
    pub runs: Vec<AssessmentRun>,
    /// The described exclusions of each run the judge selects, by run ARN.
    pub exclusions: BTreeMap<String, Vec<Exclusion>>,
}

/// Reads everything [`judge`](super::judge::judge) needs at `now`.
pub async fn fetch(
    api: &dyn InspectorClassicApi,
    config: &ExclusionsConfig,
    now: DateTime<Utc>,
) -> Result<Snapshot, RuleError> {
    let window_start = chrono::Duration::from_std(config.lookback)
        .ok()
        .and_then(|lookback| now.checked_sub_signed(lookback))
        .ok_or_else(|| {
            RuleError::Failed(format!(
                "lookback of {} reaches before the earliest representable time",
                crate::text::duration(config.lookback)
            ))
        })?;

    // Completed runs are filtered by completion time on the server. Failed runs
    // may never get a completion time, so they are listed by state and their
    // state-change time is checked by the judge.
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
    let mut run_arns = list_runs(api, &completed_query).await?;
    run_arns.extend(list_runs(api, &failed_query).await?);
    run_arns.sort();
    run_arns.dedup();

    let mut runs = Vec::with_capacity(run_arns.len());
    for batch in run_arns.chunks(DESCRIBE_RUNS_MAX) {
        runs.extend(api.describe_assessment_runs(batch).await?);
    }

    // Only the exclusions the judge will look at are worth the calls.
    let selected: Vec<String> = select_runs(&runs, config.runs, window_start)
        .current
        .iter()
        .map(|run| run.arn.clone())
        .collect();
    let mut exclusions = BTreeMap::new();
    for run_arn in selected {
        let described = describe_run_exclusions(api, &run_arn).await?;
        exclusions.insert(run_arn, described);
    }

    Ok(Snapshot {
        window_start,
        runs_listed: run_arns.len(),
        runs,
        exclusions,
    })
}

async fn list_runs(
    api: &dyn InspectorClassicApi,
    query: &RunQuery,
) -> Result<Vec<String>, RuleError> {
    Ok(collect_all(LIST_RUNS, |token| api.list_assessment_runs(query, token)).await?)
}

/// Lists and describes every exclusion of a run, retrying retryable failures.
async fn describe_run_exclusions(
    api: &dyn InspectorClassicApi,
    run_arn: &str,
) -> Result<Vec<Exclusion>, RuleError> {
    let arns = collect_all(LIST_EXCLUSIONS, |token| api.list_exclusions(run_arn, token)).await?;

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
