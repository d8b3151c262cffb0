//! [`InspectorClassicApi`] over `aws-sdk-inspector`.

use async_trait::async_trait;
use aws_sdk_inspector::config::http::HttpResponse;
use aws_sdk_inspector::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_inspector::types::{AssessmentRunFilter, AssessmentRunState, Locale, TimestampRange};
use aws_sdk_inspector::Client;
use blindspot_aws::classic::{
    AssessmentRun, Exclusion, ExclusionBatch, FailedItem, KeyValue, RunQuery,
    DESCRIBE_EXCLUSIONS_MAX, DESCRIBE_RUNS_MAX,
};
use blindspot_aws::{AwsError, AwsErrorKind, InspectorClassicApi, Page};

use crate::convert::{opt_chrono, required, required_chrono, to_smithy};
use crate::error::Calls;

/// The service label of Inspector Classic calls.
pub const SERVICE: &str = "inspector";

/// Phrases (lowercase) of an error message that says the service itself is
/// gone, whatever the error's code.
const RETIRED_PHRASES: &[&str] = &[
    "retired",
    "no longer available",
    "end of life",
    "end-of-life",
    "end of support",
    "end-of-support",
];

/// Codes with which an endpoint rejects the caller's credentials themselves
/// (not the action): the security token or access key is unknown to it.
const CREDENTIALS_REJECTED: &[&str] = &["UnrecognizedClientException", "InvalidClientTokenId"];

/// Reads an Inspector Classic service error as "retired" where it says so.
///
/// AWS ended Inspector Classic on 2026-05-20, and a retired endpoint is not
/// known to answer in one shape. Each of these is `Unavailable`:
/// - `UnknownOperationException` (the endpoint no longer knows the
///   operation; already `Unavailable` by its code);
/// - a rejection of the credentials (`UnrecognizedClientException`,
///   `InvalidClientTokenId`, or an access-denied code whose message says the
///   security token or access key is invalid). blindspot builds clients only
///   for accounts whose identity STS confirmed with these very credentials,
///   in this run, so an endpoint that does not recognise them no longer
///   knows the account: the service is gone, not the credentials. A denied
///   *action* ("not authorized to perform") stays `AccessDenied`;
/// - any error whose message says the service is retired, no longer
///   available, or past its end of life or support.
///
/// Only answers of the classic endpoint itself are read this way: a failure
/// to load credentials (a refused AssumeRole) is the account's problem and
/// keeps its classification.
fn recognise_retirement<E>(mut classified: AwsError, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata,
{
    if classified.kind == AwsErrorKind::Unavailable || !matches!(err, SdkError::ServiceError(_)) {
        return classified;
    }
    let code = err.code().unwrap_or_default();
    let message = err.message().unwrap_or_default().to_lowercase();
    let credentials_rejected = CREDENTIALS_REJECTED.contains(&code)
        || (classified.kind == AwsErrorKind::AccessDenied
            && (message.contains("security token included in the request is invalid")
                || message.contains("access key id you provided does not exist")));
    let says_retired = RETIRED_PHRASES.iter().any(|p| message.contains(p));
    if credentials_rejected || says_retired {
        classified.kind = AwsErrorKind::Unavailable;
    }
    classified
}

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

    /// Classifies an SDK error of `operation`, recognising retirement.
    fn error<E>(&self, operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        recognise_retirement(self.calls.error(operation, err), err)
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

/// Every member the model requires may still be missing from an answer;
/// see [`crate::convert`] for how absence is kept.
fn convert_run(run: &aws_sdk_inspector::types::AssessmentRun) -> Result<AssessmentRun, String> {
    Ok(AssessmentRun {
        arn: run.arn().to_owned(),
        name: run.name().to_owned(),
        template_arn: run.assessment_template_arn().to_owned(),
        state: required(run.state().as_str()),
        rules_package_arns: run.rules_package_arns().to_vec(),
        created_at: required_chrono(run.created_at())?,
        started_at: opt_chrono(run.started_at())?,
        completed_at: opt_chrono(run.completed_at())?,
        state_changed_at: required_chrono(run.state_changed_at())?,
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
                key: s.key().map(|k| required(k.as_str())).unwrap_or_default(),
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
                    .map_err(|e| self.error(OP, &e))?;
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
                    .map_err(|e| self.error(OP, &e))?;
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
                    .map_err(|e| self.error(OP, &e))?;
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
                    .map_err(|e| self.error(OP, &e))?;
                let mut exclusions: Vec<Exclusion> =
                    out.exclusions().values().map(convert_exclusion).collect();
                // The answer is a map; sort so callers see a stable order.
                exclusions.sort_by(|a, b| a.arn.cmp(&b.arn));
                let mut failed: Vec<FailedItem> = out
                    .failed_items()
                    .iter()
                    .map(|(arn, f)| FailedItem {
                        arn: arn.clone(),
                        code: required(f.failure_code().as_str()),
                        retryable: f.retryable(),
                    })
                    .collect();
                failed.sort_by(|a, b| a.arn.cmp(&b.arn));
                Ok(ExclusionBatch { exclusions, failed })
            })
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_sdk_inspector::error::ErrorMetadata;
    use aws_sdk_inspector::operation::list_assessment_runs::ListAssessmentRunsError;
    use aws_smithy_types::body::SdkBody;
    use blindspot_core::CallCounter;

    fn answer(code: &str, message: &str) -> SdkError<ListAssessmentRunsError, HttpResponse> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(
            ListAssessmentRunsError::generic(meta),
            HttpResponse::new(400.try_into().unwrap(), SdkBody::from("{}")),
        )
    }

    fn kind(err: &SdkError<ListAssessmentRunsError, HttpResponse>) -> AwsErrorKind {
        let limits = std::sync::Arc::new(crate::error::CallLimits::new(1));
        let calls = Calls::new(SERVICE, CallCounter::default(), true, limits, None);
        recognise_retirement(calls.error("ListAssessmentRuns", err), err).kind
    }

    #[test]
    fn every_shape_of_a_retired_endpoint_is_unavailable() {
        for (code, message) in [
            ("UnknownOperationException", ""),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            (
                "AccessDeniedException",
                "The security token included in the request is invalid.",
            ),
            (
                "AccessDeniedException",
                "Amazon Inspector Classic is no longer available.",
            ),
            ("InvalidInputException", "This service has been RETIRED."),
            ("InternalException", "Inspector Classic reached End-of-Life"),
            (
                "AccessDeniedException",
                "Past end of support since 2026-05-20",
            ),
        ] {
            assert_eq!(
                kind(&answer(code, message)),
                AwsErrorKind::Unavailable,
                "{code}: {message}"
            );
        }
    }

    #[test]
    fn denied_actions_and_other_failures_keep_their_kind() {
        assert_eq!(
            kind(&answer(
                "AccessDeniedException",
                "User: arn:aws:iam::111122223333:user/x is not authorized to perform: inspector:ListAssessmentRuns"
            )),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(
            kind(&answer(
                "ExpiredTokenException",
                "The security token included in the request is expired"
            )),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(
            kind(&answer("ThrottlingException", "Rate exceeded")),
            AwsErrorKind::Throttled
        );
        // Credentials that could not be loaded are not the endpoint's answer.
        let sts = aws_sdk_sts::operation::assume_role::AssumeRoleError::generic(
            ErrorMetadata::builder()
                .code("InvalidClientTokenId")
                .message("The security token included in the request is invalid.")
                .build(),
        );
        let refused = SdkError::<ListAssessmentRunsError, HttpResponse>::dispatch_failure(
            aws_sdk_inspector::error::ConnectorError::other(
                Box::new(
                    aws_credential_types::provider::error::CredentialsError::provider_error(
                        SdkError::service_error(
                            sts,
                            HttpResponse::new(403.try_into().unwrap(), SdkBody::from("")),
                        ),
                    ),
                ),
                None,
            ),
        );
        assert_eq!(kind(&refused), AwsErrorKind::AccessDenied);
    }
}
