//! Inspector v2 (API version 2020-06-08): account status, coverage and
//! configuration.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{AwsError, Page};

/// ListCoverage returns at most 200 per page (`ListCoverageMaxResults`).
pub const LIST_COVERAGE_MAX: i32 = 200;

/// ListMembers returns at most 50 per page (`ListMembersMaxResults`).
pub const LIST_MEMBERS_MAX: i32 = 50;

/// The account IDs blindspot puts in one BatchGetAccountStatus. The model's
/// `AccountIdSet` allows 100; 10 keeps one answer small and one failed call
/// cheap to retry, and still makes a 300-account sweep 30 calls.
pub const BATCH_GET_ACCOUNT_STATUS_BATCH: usize = 10;

/// The most account IDs one BatchGetAccountStatus takes (`AccountIdSet`).
pub const BATCH_GET_ACCOUNT_STATUS_MAX: usize = 100;

/// `State`: whether something is enabled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnablementState {
    /// `status`: `ENABLING`, `ENABLED`, `DISABLING`, `DISABLED`, `SUSPENDING`, `SUSPENDED`.
    pub status: String,
    /// `errorCode`, e.g. `ACCESS_DENIED`, `ALREADY_ENABLED`.
    pub error_code: Option<String>,
    /// `errorMessage`.
    pub error_message: Option<String>,
}

/// `AccountState`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountStatus {
    /// `accountId`.
    pub account_id: String,
    /// `state`: Inspector as a whole.
    pub state: EnablementState,
    /// `resourceState.ec2`.
    pub ec2: Option<EnablementState>,
    /// `resourceState.ecr`.
    pub ecr: Option<EnablementState>,
    /// `resourceState.lambda`.
    pub lambda: Option<EnablementState>,
    /// `resourceState.lambdaCode`.
    pub lambda_code: Option<EnablementState>,
}

/// The answer of BatchGetAccountStatus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountStatusBatch {
    /// `accounts`.
    pub accounts: Vec<AccountStatus>,
    /// `failedAccounts`: (accountId, errorCode, errorMessage).
    pub failed: Vec<FailedAccount>,
}

/// `FailedAccount`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedAccount {
    /// `accountId`.
    pub account_id: String,
    /// `errorCode`.
    pub error_code: String,
    /// `errorMessage`.
    pub error_message: String,
}

/// `CoverageStringFilter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringFilter {
    /// `comparison`: `EQUALS` or `NOT_EQUALS`.
    pub comparison: String,
    /// `value`.
    pub value: String,
}

/// The parts of `CoverageFilterCriteria` blindspot uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageFilter {
    /// `scanStatusCode`.
    pub scan_status_code: Vec<StringFilter>,
    /// `scanStatusReason`.
    pub scan_status_reason: Vec<StringFilter>,
    /// `resourceType`.
    pub resource_type: Vec<StringFilter>,
    /// `resourceId`.
    pub resource_id: Vec<StringFilter>,
    /// `accountId`: from the delegated administrator, which sees every member.
    pub account_id: Vec<StringFilter>,
}

/// `CoveredResource`, with EC2 metadata flattened in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoveredResource {
    /// `resourceType`: `AWS_EC2_INSTANCE`, `AWS_ECR_REPOSITORY`, ...
    pub resource_type: String,
    /// `resourceId`.
    pub resource_id: String,
    /// `accountId`.
    pub account_id: String,
    /// `scanType`: `NETWORK`, `PACKAGE`, `CODE`.
    pub scan_type: String,
    /// `scanStatus.statusCode`: `ACTIVE` or `INACTIVE`.
    pub status_code: Option<String>,
    /// `scanStatus.reason`, e.g. `NO_INVENTORY`; may be outside the enum.
    pub reason: Option<String>,
    /// `lastScannedAt`.
    pub last_scanned_at: Option<DateTime<Utc>>,
    /// `scanMode`: `EC2_SSM_AGENT_BASED` or `EC2_AGENTLESS`.
    pub scan_mode: Option<String>,
    /// `resourceMetadata.ec2.platform`.
    pub platform: Option<String>,
    /// `resourceMetadata.ec2.amiId`.
    pub ami_id: Option<String>,
    /// `resourceMetadata.ec2.tags` (or the ECR/Lambda equivalents).
    pub tags: BTreeMap<String, String>,
}

/// The parts of GetConfiguration blindspot uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inspector2Configuration {
    /// `ec2Configuration.scanModeState.scanMode`: `EC2_SSM_AGENT_BASED` or `EC2_HYBRID`.
    pub ec2_scan_mode: Option<String>,
    /// `ec2Configuration.scanModeState.scanModeStatus`: `SUCCESS` or `PENDING`.
    pub ec2_scan_mode_status: Option<String>,
}

/// GetEc2DeepInspectionConfiguration, for the caller's own account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ec2DeepInspectionConfiguration {
    /// `status` (`Ec2DeepInspectionStatus`): `ACTIVATED`, `DEACTIVATED`,
    /// `PENDING` or `FAILED`; absent when AWS sends none.
    pub status: Option<String>,
    /// `packagePaths`: the account's custom paths (at most 5).
    pub package_paths: Vec<String>,
    /// `orgPackagePaths`: the organisation's custom paths (at most 5).
    pub org_package_paths: Vec<String>,
    /// `errorMessage`: why the configuration could not be read or applied.
    pub error_message: Option<String>,
}

/// `Member`: a member account as the delegated administrator sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// `accountId`.
    pub account_id: String,
    /// `relationshipStatus` (`RelationshipStatus`): `ENABLED`, `CREATED`,
    /// `INVITED`, `DISABLED`, `REMOVED`, `RESIGNED`, `DELETED`,
    /// `REGION_DISABLED`, `ACCOUNT_SUSPENDED`...
    pub relationship_status: Option<String>,
    /// `delegatedAdminAccountId`.
    pub delegated_admin_account_id: Option<String>,
    /// `updatedAt`.
    pub updated_at: Option<DateTime<Utc>>,
}

/// `AutoEnable`: which scan types new members get. `ec2` and `ecr` are
/// required by the model, the others optional; absent reads as not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoEnable {
    /// `ec2`.
    pub ec2: Option<bool>,
    /// `ecr`.
    pub ecr: Option<bool>,
    /// `lambda`.
    pub lambda: Option<bool>,
    /// `lambdaCode`.
    pub lambda_code: Option<bool>,
}

/// DescribeOrganizationConfiguration (delegated administrator only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationConfiguration {
    /// `autoEnable`; `None` when the answer has none.
    pub auto_enable: Option<AutoEnable>,
    /// `maxAccountLimitReached`.
    pub max_account_limit_reached: Option<bool>,
}

/// `DelegatedAdmin` of GetDelegatedAdminAccount (management account only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedAdmin {
    /// `accountId`.
    pub account_id: Option<String>,
    /// `relationshipStatus`.
    pub relationship_status: Option<String>,
}

/// The Inspector v2 calls blindspot makes.
#[async_trait]
pub trait Inspector2Api: Send + Sync {
    /// BatchGetAccountStatus for the given accounts (empty: the caller's own).
    async fn batch_get_account_status(
        &self,
        account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError>;

    /// ListCoverage: one page.
    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError>;

    /// GetConfiguration.
    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError>;

    /// GetEc2DeepInspectionConfiguration (the caller's own account).
    async fn get_ec2_deep_inspection_configuration(
        &self,
    ) -> Result<Ec2DeepInspectionConfiguration, AwsError>;

    /// ListMembers: one page of at most [`LIST_MEMBERS_MAX`]; with
    /// `only_associated` false, every account of the organisation Inspector
    /// knows (`onlyAssociated`).
    async fn list_members(
        &self,
        only_associated: bool,
        next_token: Option<String>,
    ) -> Result<Page<Member>, AwsError>;

    /// DescribeOrganizationConfiguration.
    async fn describe_organization_configuration(
        &self,
    ) -> Result<OrganizationConfiguration, AwsError>;

    /// GetDelegatedAdminAccount; `None` when the organisation has none.
    async fn get_delegated_admin_account(&self) -> Result<Option<DelegatedAdmin>, AwsError>;
}
