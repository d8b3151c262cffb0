//! Test helpers shared by the rules' unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use blindspot_aws::classic::{AssessmentRun, ExclusionBatch, RunQuery};
use blindspot_aws::inspector2::{
    AccountStatusBatch, CoverageFilter, CoveredResource, Inspector2Configuration,
};
use blindspot_aws::ssm::{Association, AssociationExecution, AssociationFilter, ManagedInstance};
use blindspot_aws::{AwsError, Inspector2Api, InspectorClassicApi, Page, SsmApi};

/// A client for the services a rule under test never calls: any call is a
/// bug in the rule, so it panics and fails the test.
pub(crate) struct Unused;

#[async_trait]
impl InspectorClassicApi for Unused {
    async fn list_assessment_runs(
        &self,
        _query: &RunQuery,
        _next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        panic!("not used")
    }
    async fn describe_assessment_runs(
        &self,
        _arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError> {
        panic!("not used")
    }
    async fn list_exclusions(
        &self,
        _run_arn: &str,
        _next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        panic!("not used")
    }
    async fn describe_exclusions(&self, _arns: &[String]) -> Result<ExclusionBatch, AwsError> {
        panic!("not used")
    }
}

#[async_trait]
impl SsmApi for Unused {
    async fn list_associations(
        &self,
        _filters: &[AssociationFilter],
        _next_token: Option<String>,
    ) -> Result<Page<Association>, AwsError> {
        panic!("not used")
    }
    async fn describe_association(&self, _association_id: &str) -> Result<Association, AwsError> {
        panic!("not used")
    }
    async fn describe_association_executions(
        &self,
        _association_id: &str,
        _next_token: Option<String>,
    ) -> Result<Page<AssociationExecution>, AwsError> {
        panic!("not used")
    }
    async fn describe_instance_information(
        &self,
        _next_token: Option<String>,
    ) -> Result<Page<ManagedInstance>, AwsError> {
        panic!("not used")
    }
}

#[async_trait]
impl Inspector2Api for Unused {
    async fn batch_get_account_status(
        &self,
        _account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        panic!("not used")
    }
    async fn list_coverage(
        &self,
        _filter: &CoverageFilter,
        _next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        panic!("not used")
    }
    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        panic!("not used")
    }
}
