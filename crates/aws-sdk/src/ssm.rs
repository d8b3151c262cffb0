//! [`SsmApi`] over `aws-sdk-ssm`.

use async_trait::async_trait;
use aws_sdk_ssm::types::{AssociationFilter as SdkFilter, AssociationFilterKey};
use aws_sdk_ssm::Client;
use blindspot_aws::ssm::{
    Association, AssociationExecution, AssociationFilter, AssociationOverview, ManagedInstance,
    Target, LIST_ASSOCIATIONS_MAX,
};
use blindspot_aws::{AwsError, Page, SsmApi};

use crate::convert::opt_chrono;
use crate::error::Calls;

/// The service label of Systems Manager calls.
pub const SERVICE: &str = "ssm";

/// DescribeAssociationExecutions and DescribeInstanceInformation take at most
/// 50 (`MaxResults`, `MaxResultsEC2Compatible`).
const DESCRIBE_MAX_RESULTS: i32 = 50;

/// Systems Manager for one account and region.
#[derive(Clone)]
pub struct SdkSsm {
    client: Client,
    calls: Calls,
}

impl SdkSsm {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkSsm { client, calls }
    }
}

fn targets(list: &[aws_sdk_ssm::types::Target]) -> Vec<Target> {
    list.iter()
        .map(|t| Target {
            key: t.key().unwrap_or_default().to_owned(),
            values: t.values().to_vec(),
        })
        .collect()
}

fn overview(o: &aws_sdk_ssm::types::AssociationOverview) -> AssociationOverview {
    AssociationOverview {
        status: o.status().map(str::to_owned),
        detailed_status: o.detailed_status().map(str::to_owned),
        aggregated_count: o
            .association_status_aggregated_count()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), i64::from(*v))).collect())
            .unwrap_or_default(),
    }
}

fn listed_association(a: &aws_sdk_ssm::types::Association) -> Result<Association, String> {
    Ok(Association {
        association_id: a
            .association_id()
            .ok_or("an association without AssociationId")?
            .to_owned(),
        association_name: a.association_name().map(str::to_owned),
        document_name: a.name().unwrap_or_default().to_owned(),
        document_version: a.document_version().map(str::to_owned),
        targets: targets(a.targets()),
        instance_id: a.instance_id().map(str::to_owned),
        schedule_expression: a.schedule_expression().map(str::to_owned),
        schedule_offset: a.schedule_offset(),
        last_execution_date: opt_chrono(a.last_execution_date())?,
        last_successful_execution_date: None,
        created_date: None,
        overview: a.overview().map(overview),
    })
}

fn described_association(
    a: &aws_sdk_ssm::types::AssociationDescription,
) -> Result<Association, String> {
    Ok(Association {
        association_id: a
            .association_id()
            .ok_or("an association without AssociationId")?
            .to_owned(),
        association_name: a.association_name().map(str::to_owned),
        document_name: a.name().unwrap_or_default().to_owned(),
        document_version: a.document_version().map(str::to_owned),
        targets: targets(a.targets()),
        instance_id: a.instance_id().map(str::to_owned),
        schedule_expression: a.schedule_expression().map(str::to_owned),
        schedule_offset: a.schedule_offset(),
        last_execution_date: opt_chrono(a.last_execution_date())?,
        last_successful_execution_date: opt_chrono(a.last_successful_execution_date())?,
        created_date: opt_chrono(a.date())?,
        overview: a.overview().map(overview),
    })
}

fn execution(e: &aws_sdk_ssm::types::AssociationExecution) -> Result<AssociationExecution, String> {
    Ok(AssociationExecution {
        association_id: e.association_id().unwrap_or_default().to_owned(),
        execution_id: e
            .execution_id()
            .ok_or("an association execution without ExecutionId")?
            .to_owned(),
        status: e.status().map(str::to_owned),
        detailed_status: e.detailed_status().map(str::to_owned),
        created_time: opt_chrono(e.created_time())?,
        resource_count_by_status: e.resource_count_by_status().map(str::to_owned),
    })
}

fn instance(i: &aws_sdk_ssm::types::InstanceInformation) -> Result<ManagedInstance, String> {
    Ok(ManagedInstance {
        instance_id: i
            .instance_id()
            .ok_or("a managed instance without InstanceId")?
            .to_owned(),
        ping_status: i.ping_status().map(|s| s.as_str().to_owned()),
        platform_type: i.platform_type().map(|p| p.as_str().to_owned()),
        platform_name: i.platform_name().map(str::to_owned),
        last_ping: opt_chrono(i.last_ping_date_time())?,
        agent_version: i.agent_version().map(str::to_owned),
    })
}

#[async_trait]
impl SsmApi for SdkSsm {
    async fn list_associations(
        &self,
        filters: &[AssociationFilter],
        next_token: Option<String>,
    ) -> Result<Page<Association>, AwsError> {
        const OP: &str = "ListAssociations";
        let sdk_filters = filters
            .iter()
            .map(|f| {
                SdkFilter::builder()
                    .key(AssociationFilterKey::from(f.key.as_str()))
                    .value(&f.value)
                    .build()
                    .map_err(|e| self.calls.invalid_request(OP, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_associations()
                    // AssociationFilterList has a minimum length of 1.
                    .set_association_filter_list((!sdk_filters.is_empty()).then_some(sdk_filters))
                    .set_next_token(next_token)
                    .max_results(LIST_ASSOCIATIONS_MAX)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                self.calls
                    .page(OP, out.associations(), listed_association, out.next_token())
            })
            .await
    }

    async fn describe_association(&self, association_id: &str) -> Result<Association, AwsError> {
        const OP: &str = "DescribeAssociation";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_association()
                    .association_id(association_id)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                let description = out.association_description().ok_or_else(|| {
                    self.calls
                        .invalid_response(OP, "the answer has no AssociationDescription")
                })?;
                described_association(description).map_err(|m| self.calls.invalid_response(OP, m))
            })
            .await
    }

    async fn describe_association_executions(
        &self,
        association_id: &str,
        next_token: Option<String>,
    ) -> Result<Page<AssociationExecution>, AwsError> {
        const OP: &str = "DescribeAssociationExecutions";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_association_executions()
                    .association_id(association_id)
                    .set_next_token(next_token)
                    .max_results(DESCRIBE_MAX_RESULTS)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                self.calls.page(
                    OP,
                    out.association_executions(),
                    execution,
                    out.next_token(),
                )
            })
            .await
    }

    async fn describe_instance_information(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<ManagedInstance>, AwsError> {
        const OP: &str = "DescribeInstanceInformation";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_instance_information()
                    .set_next_token(next_token)
                    .max_results(DESCRIBE_MAX_RESULTS)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                self.calls.page(
                    OP,
                    out.instance_information_list(),
                    instance,
                    out.next_token(),
                )
            })
            .await
    }
}
