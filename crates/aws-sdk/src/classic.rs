//! [`InspectorClassicApi`] over `aws-sdk-inspector`.

use async_trait::async_trait;
use aws_sdk_inspector::types::{AssessmentRunFilter, AssessmentRunState, Locale, TimestampRange};
use aws_sdk_inspector::Client;
use blindspot_aws::classic::{
    AssessmentRun, Exclusion, ExclusionBatch, FailedItem, KeyValue, RunQuery,
    DESCRIBE_EXCLUSIONS_MAX, DESCRIBE_RUNS_MAX,
};
use blindspot_aws::{AwsError, InspectorClassicApi, Page};

use crate::convert::{opt_chrono, to_chrono, to_smithy};
use crate::error::Calls;

/// The service label of Inspector Classic calls.
pub const SERVICE: &str = "inspector";

/// ListAssessmentRuns and ListExclusions take up to 500 (`maxResults`); asking
/// for the most keeps the number of calls per evaluation low.
const LIST_MAX_RESULTS: i32 = 500;

/// Inspector Classic for one account and region.
#[derive(Clone)]
pub struct SdkInspectorClassic {
    client: Client,
    calls: Calls,
}

impl SdkInspectorClassic {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkInspectorClassic { client, calls }
    }

    fn check_batch(
        &self,
        operation: &'static str,
        arns: &[String],
        max: usize,
    ) -> Result<(), AwsError> {
        if arns.len() > max {
            return Err(self.calls.invalid_request(
                operation,
                format!("{} ARNs given, the API takes at most {max}", arns.len()),
            ));
        }
        Ok(())
    }
}

fn run_filter(query: &RunQuery) -> Option<AssessmentRunFilter> {
    let range = (query.completed_after.is_some() || query.completed_before.is_some()).then(|| {
        TimestampRange::builder()
            .set_begin_date(query.completed_after.as_ref().map(to_smithy))
            .set_end_date(query.completed_before.as_ref().map(to_smithy))
            .build()
    });
    if query.states.is_empty() && range.is_none() {
        return None;
    }
    let states = query
        .states
        .iter()
        .map(|s| AssessmentRunState::from(s.as_str()))
        .collect::<Vec<_>>();
    Some(
        AssessmentRunFilter::builder()
            .set_states((!states.is_empty()).then_some(states))
            .set_completion_time_range(range)
            .build(),
    )
}

fn convert_run(run: &aws_sdk_inspector::types::AssessmentRun) -> Result<AssessmentRun, String> {
    Ok(AssessmentRun {
        arn: run.arn().to_owned(),
        name: run.name().to_owned(),
        template_arn: run.assessment_template_arn().to_owned(),
        state: run.state().as_str().to_owned(),
        rules_package_arns: run.rules_package_arns().to_vec(),
        created_at: Some(to_chrono(run.created_at())?),
        started_at: opt_chrono(run.started_at())?,
        completed_at: opt_chrono(run.completed_at())?,
        state_changed_at: Some(to_chrono(run.state_changed_at())?),
    })
}

fn convert_exclusion(e: &aws_sdk_inspector::types::Exclusion) -> Exclusion {
    Exclusion {
        arn: e.arn().to_owned(),
        title: e.title().to_owned(),
        description: e.description().to_owned(),
        recommendation: e.recommendation().to_owned(),
        scopes: e
            .scopes()
            .iter()
            .map(|s| KeyValue {
                // `as_str` keeps keys outside the model's enum (`instanceId`).
                key: s.key().map(|k| k.as_str().to_owned()).unwrap_or_default(),
                value: s.value().map(str::to_owned),
            })
            .collect(),
        attributes: e
            .attributes()
            .iter()
            .map(|a| KeyValue {
                key: a.key().to_owned(),
                value: a.value().map(str::to_owned),
            })
            .collect(),
    }
}

#[async_trait]
impl InspectorClassicApi for SdkInspectorClassic {
    async fn list_assessment_runs(
        &self,
        query: &RunQuery,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListAssessmentRuns";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_assessment_runs()
                    .set_assessment_template_arns(
                        (!query.template_arns.is_empty()).then(|| query.template_arns.clone()),
                    )
                    .set_filter(run_filter(query))
                    .set_next_token(next_token)
                    .max_results(LIST_MAX_RESULTS)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                Ok(Page {
                    items: out.assessment_run_arns().to_vec(),
                    next_token: out.next_token().map(str::to_owned),
                })
            })
            .await
    }

    async fn describe_assessment_runs(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError> {
        const OP: &str = "DescribeAssessmentRuns";
        self.check_batch(OP, arns, DESCRIBE_RUNS_MAX)?;
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_assessment_runs()
                    .set_assessment_run_arns(Some(arns.to_vec()))
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                out.assessment_runs()
                    .iter()
                    .map(convert_run)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| self.calls.invalid_response(OP, m))
            })
            .await
    }

    async fn list_exclusions(
        &self,
        run_arn: &str,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListExclusions";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_exclusions()
                    .assessment_run_arn(run_arn)
                    .set_next_token(next_token)
                    .max_results(LIST_MAX_RESULTS)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                Ok(Page {
                    items: out.exclusion_arns().to_vec(),
                    next_token: out.next_token().map(str::to_owned),
                })
            })
            .await
    }

    async fn describe_exclusions(&self, arns: &[String]) -> Result<ExclusionBatch, AwsError> {
        const OP: &str = "DescribeExclusions";
        self.check_batch(OP, arns, DESCRIBE_EXCLUSIONS_MAX)?;
        if arns.is_empty() {
            return Ok(ExclusionBatch::default());
        }
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_exclusions()
                    .set_exclusion_arns(Some(arns.to_vec()))
                    // Titles and recommendations become finding text; ask for
                    // English explicitly rather than rely on a server default.
                    .locale(Locale::EnUs)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                let mut exclusions: Vec<Exclusion> =
                    out.exclusions().values().map(convert_exclusion).collect();
                // The answer is a map; sort so callers see a stable order.
                exclusions.sort_by(|a, b| a.arn.cmp(&b.arn));
                let mut failed: Vec<FailedItem> = out
                    .failed_items()
                    .iter()
                    .map(|(arn, f)| FailedItem {
                        arn: arn.clone(),
                        code: f.failure_code().as_str().to_owned(),
                        retryable: f.retryable(),
                    })
                    .collect();
                failed.sort_by(|a, b| a.arn.cmp(&b.arn));
                Ok(ExclusionBatch { exclusions, failed })
            })
            .await
    }
}
