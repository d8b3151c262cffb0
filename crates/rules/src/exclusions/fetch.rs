//! The fetch: lists and describes the assessment runs in the lookback window,
//! then lists and describes the exclusions of the runs the judge will
//! evaluate. It talks only to [`InspectorClassicApi`] and decides nothing but
//! what to ask for; it fails as a whole rather than return a partial
//! snapshot, because a partial one would resolve findings that still exist.
//!
//! Calls that do not depend on each other run side by side, at most
//! `concurrency` at once: the two run listings, the DescribeAssessmentRuns
//! batches, each selected run's exclusions, and the DescribeExclusions
//! batches of a run. A sweep then takes about its critical path (list runs,
//! describe them, list a run's exclusions, describe them) instead of the sum
//! of its calls; the adapter paces what one region's service is sent.

use super::config::ExclusionsConfig;
use super::judge::{select_runs, COMPLETED_STATES, FAILED_STATES};
use blindspot_aws::classic::{
    AssessmentRun, Exclusion, RunQuery, DESCRIBE_EXCLUSIONS_MAX, DESCRIBE_RUNS_MAX,
};
use blindspot_aws::paginate::{collect_all, Listing};
use blindspot_aws::InspectorClassicApi;
use blindspot_core::RuleError;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
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
    let width = config.concurrency.max(1);
    let (mut run_arns, failed) = if width > 1 {
        futures::try_join!(
            list_runs(api, &completed_query),
            list_runs(api, &failed_query)
        )?
    } else {
        (
            list_runs(api, &completed_query).await?,
            list_runs(api, &failed_query).await?,
        )
    };
    run_arns.extend(failed);
    run_arns.sort();
    run_arns.dedup();

    // `buffered` keeps the batches' order, so the snapshot is the same
    // however the answers interleave.
    // Owned batches: a stream of futures borrowing the slices does not
    // satisfy the `Send` bound of the rule's boxed future.
    let batches: Vec<Vec<String>> = run_arns
        .chunks(DESCRIBE_RUNS_MAX)
        .map(<[String]>::to_vec)
        .collect();
    let described: Vec<Vec<AssessmentRun>> = futures::stream::iter(batches)
        .map(|batch| async move { api.describe_assessment_runs(&batch).await })
        .buffered(width)
        .try_collect()
        .await?;
    let runs: Vec<AssessmentRun> = described.into_iter().flatten().collect();

    // Only the exclusions the judge will look at are worth the calls.
    let selected: Vec<String> = select_runs(&runs, config.runs, window_start)
        .current
        .iter()
        .map(|run| run.arn.clone())
        .collect();
    let exclusions: BTreeMap<String, Vec<Exclusion>> = futures::stream::iter(selected)
        .map(|run_arn| async move {
            let described = describe_run_exclusions(api, &run_arn, width).await?;
            Ok::<_, RuleError>((run_arn, described))
        })
        .buffer_unordered(width)
        .try_collect()
        .await?;

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

/// Lists and describes every exclusion of a run, its batches side by side
/// (at most `width` at once), retrying retryable failures.
async fn describe_run_exclusions(
    api: &dyn InspectorClassicApi,
    run_arn: &str,
    width: usize,
) -> Result<Vec<Exclusion>, RuleError> {
    let arns = collect_all(LIST_EXCLUSIONS, |token| api.list_exclusions(run_arn, token)).await?;
    let batches: Vec<Vec<String>> = arns
        .chunks(DESCRIBE_EXCLUSIONS_MAX)
        .map(<[String]>::to_vec)
        .collect();
    let described: Vec<Vec<Exclusion>> = futures::stream::iter(batches)
        .map(|batch| async move { describe_batch(api, &batch).await })
        .buffered(width)
        .try_collect()
        .await?;
    Ok(described.into_iter().flatten().collect())
}

/// Describes one batch of exclusions, asking again for those AWS marks
/// retryable.
async fn describe_batch(
    api: &dyn InspectorClassicApi,
    batch: &[String],
) -> Result<Vec<Exclusion>, RuleError> {
    let mut exclusions = Vec::with_capacity(batch.len());
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
    Ok(exclusions)
}
