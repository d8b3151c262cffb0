//! Systems Manager (API version 2014-11-06): State Manager associations and
//! managed instances.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{AwsError, Page};

/// ListAssociations returns at most 50 per page (`MaxResults`).
pub const LIST_ASSOCIATIONS_MAX: i32 = 50;

/// One `AssociationFilter` of ListAssociations, e.g. key `Name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociationFilter {
    /// `key`: `Name`, `AssociationName`, `AssociationId`, ...
    pub key: String,
    /// `value`.
    pub value: String,
}

/// A `Target` of an association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `Key`, e.g. `InstanceIds` or `tag:Env`.
    pub key: String,
    /// `Values`, e.g. `["*"]`.
    pub values: Vec<String>,
}

/// `AssociationOverview`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssociationOverview {
    /// `Status`, e.g. `Success`, `Failed`, `Pending`.
    pub status: Option<String>,
    /// `DetailedStatus`.
    pub detailed_status: Option<String>,
    /// `AssociationStatusAggregatedCount`: targets per status.
    pub aggregated_count: BTreeMap<String, i64>,
}

/// An association, from ListAssociations (`Association`) or, with more fields
/// filled, from DescribeAssociation (`AssociationDescription`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// `AssociationId`.
    pub association_id: String,
    /// `AssociationName`.
    pub association_name: Option<String>,
    /// `Name`: the document name or ARN.
    pub document_name: String,
    /// `DocumentVersion`.
    pub document_version: Option<String>,
    /// `Targets`.
    pub targets: Vec<Target>,
    /// `InstanceId`, for legacy single-instance associations.
    pub instance_id: Option<String>,
    /// `ScheduleExpression`.
    pub schedule_expression: Option<String>,
    /// `ScheduleOffset`, in days.
    pub schedule_offset: Option<i32>,
    /// `LastExecutionDate`.
    pub last_execution_date: Option<DateTime<Utc>>,
    /// `LastSuccessfulExecutionDate` (DescribeAssociation only).
    pub last_successful_execution_date: Option<DateTime<Utc>>,
    /// `Date`: creation time (DescribeAssociation only).
    pub created_date: Option<DateTime<Utc>>,
    /// `Overview`.
    pub overview: Option<AssociationOverview>,
}

/// `AssociationExecution`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssociationExecution {
    /// `AssociationId`.
    pub association_id: String,
    /// `ExecutionId`.
    pub execution_id: String,
    /// `Status`.
    pub status: Option<String>,
    /// `DetailedStatus`.
    pub detailed_status: Option<String>,
    /// `CreatedTime`.
    pub created_time: Option<DateTime<Utc>>,
    /// `ResourceCountByStatus`, e.g. `{Success=3,Failed=1}`.
    pub resource_count_by_status: Option<String>,
}

/// `InstanceInformation`: a managed node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManagedInstance {
    /// `InstanceId`.
    pub instance_id: String,
    /// `PingStatus`: `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: Option<String>,
    /// `PlatformType`: `Windows`, `Linux`, `MacOS`.
    pub platform_type: Option<String>,
    /// `PlatformName`.
    pub platform_name: Option<String>,
    /// `LastPingDateTime`.
    pub last_ping: Option<DateTime<Utc>>,
    /// `AgentVersion`.
    pub agent_version: Option<String>,
}

/// The Systems Manager calls blindspot makes.
#[async_trait]
pub trait SsmApi: Send + Sync {
    /// ListAssociations: one page (at most [`LIST_ASSOCIATIONS_MAX`]).
    async fn list_associations(
        &self,
        filters: &[AssociationFilter],
        next_token: Option<String>,
    ) -> Result<Page<Association>, AwsError>;

    /// DescribeAssociation by association ID.
    async fn describe_association(&self, association_id: &str) -> Result<Association, AwsError>;

    /// DescribeAssociationExecutions: one page, newest first.
    async fn describe_association_executions(
        &self,
        association_id: &str,
        next_token: Option<String>,
    ) -> Result<Page<AssociationExecution>, AwsError>;

    /// DescribeInstanceInformation: one page of managed nodes.
    async fn describe_instance_information(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<ManagedInstance>, AwsError>;
}
