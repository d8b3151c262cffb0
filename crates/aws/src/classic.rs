//! Inspector Classic (API version 2016-02-16): assessment runs and exclusions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AwsError, Page};

/// DescribeAssessmentRuns takes 1 to 10 ARNs (`BatchDescribeArnList`).
pub const DESCRIBE_RUNS_MAX: usize = 10;
/// DescribeExclusions takes 1 to 100 ARNs (`BatchDescribeExclusionsArnList`).
pub const DESCRIBE_EXCLUSIONS_MAX: usize = 100;

/// The server-side filter of ListAssessmentRuns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunQuery {
    /// `assessmentTemplateArns`; empty means all templates.
    pub template_arns: Vec<String>,
    /// `filter.states`; empty means any state.
    pub states: Vec<String>,
    /// `filter.completionTimeRange.beginDate`.
    pub completed_after: Option<DateTime<Utc>>,
    /// `filter.completionTimeRange.endDate`.
    pub completed_before: Option<DateTime<Utc>>,
}

/// An assessment run (`AssessmentRun`), reduced to what rules use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentRun {
    /// `arn`.
    pub arn: String,
    /// `name`.
    pub name: String,
    /// `assessmentTemplateArn`.
    pub template_arn: String,
    /// `state`, e.g. `COMPLETED`, `FAILED`; may be a value outside the enum.
    pub state: String,
    /// `rulesPackageArns`.
    pub rules_package_arns: Vec<String>,
    /// `createdAt`.
    pub created_at: Option<DateTime<Utc>>,
    /// `startedAt`.
    pub started_at: Option<DateTime<Utc>>,
    /// `completedAt`.
    pub completed_at: Option<DateTime<Utc>>,
    /// `stateChangedAt`.
    pub state_changed_at: Option<DateTime<Utc>>,
}

/// A key/value pair: a `Scope` or an `Attribute` of an exclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key as AWS sent it (`INSTANCE_ID`, `instanceId`, ...).
    pub key: String,
    /// The value, when present.
    pub value: Option<String>,
}

/// An exclusion (`Exclusion`): something a run could not check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    /// `arn`.
    pub arn: String,
    /// `title`, e.g. "Agent not found".
    pub title: String,
    /// `description`.
    pub description: String,
    /// `recommendation`.
    pub recommendation: String,
    /// `scopes`.
    pub scopes: Vec<KeyValue>,
    /// `attributes`.
    pub attributes: Vec<KeyValue>,
}

/// One entry of `failedItems`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedItem {
    /// The ARN that could not be described.
    pub arn: String,
    /// `failureCode`, e.g. `INTERNAL_ERROR`.
    pub code: String,
    /// `retryable`.
    pub retryable: bool,
}

/// The answer of one DescribeExclusions call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExclusionBatch {
    /// `exclusions`, in no particular order.
    pub exclusions: Vec<Exclusion>,
    /// `failedItems`.
    pub failed: Vec<FailedItem>,
}

/// The Inspector Classic calls blindspot makes.
#[async_trait]
pub trait InspectorClassicApi: Send + Sync {
    /// ListAssessmentRuns: one page of run ARNs.
    async fn list_assessment_runs(
        &self,
        query: &RunQuery,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError>;

    /// DescribeAssessmentRuns for 1 to [`DESCRIBE_RUNS_MAX`] ARNs.
    async fn describe_assessment_runs(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError>;

    /// ListExclusions: one page of exclusion ARNs of a run.
    async fn list_exclusions(
        &self,
        run_arn: &str,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError>;

    /// DescribeExclusions for 1 to [`DESCRIBE_EXCLUSIONS_MAX`] ARNs.
    async fn describe_exclusions(&self, arns: &[String]) -> Result<ExclusionBatch, AwsError>;
}
