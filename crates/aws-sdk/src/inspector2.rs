//! [`Inspector2Api`] over `aws-sdk-inspector2`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter,
};
use aws_sdk_inspector2::Client;
use blindspot_aws::inspector2::{
    AccountStatus, AccountStatusBatch, AutoEnable, CoverageFilter, CoveredResource, DelegatedAdmin,
    Ec2DeepInspectionConfiguration, EnablementState, FailedAccount, Inspector2Configuration,
    Member, OrganizationConfiguration, StringFilter, BATCH_GET_ACCOUNT_STATUS_MAX,
    LIST_COVERAGE_MAX, LIST_MEMBERS_MAX,
};
use blindspot_aws::{AwsError, Inspector2Api, Page};

use crate::convert::{non_empty, opt_chrono, required, PresenceProbe};
use crate::error::Calls;

/// The service label of Inspector v2 calls.
pub const SERVICE: &str = "inspector2";

/// Inspector v2 for one account and region.
#[derive(Clone)]
pub struct SdkInspector2 {
    client: Client,
    calls: Calls,
}

impl SdkInspector2 {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkInspector2 { client, calls }
    }

    fn criteria(
        &self,
        operation: &'static str,
        filter: &CoverageFilter,
    ) -> Result<Option<CoverageFilterCriteria>, AwsError> {
        let list =
            |filters: &[StringFilter]| -> Result<Option<Vec<CoverageStringFilter>>, AwsError> {
                if filters.is_empty() {
                    // The lists have a minimum length of 1: leave them out.
                    return Ok(None);
                }
                filters
                    .iter()
                    .map(|f| {
                        CoverageStringFilter::builder()
                            .comparison(CoverageStringComparison::from(f.comparison.as_str()))
                            .value(&f.value)
                            .build()
                            .map_err(|e| self.calls.invalid_request(operation, e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            };
        let criteria = CoverageFilterCriteria::builder()
            .set_scan_status_code(list(&filter.scan_status_code)?)
            .set_scan_status_reason(list(&filter.scan_status_reason)?)
            .set_resource_type(list(&filter.resource_type)?)
            .set_resource_id(list(&filter.resource_id)?)
            .set_account_id(list(&filter.account_id)?)
            .build();
        let empty = filter.scan_status_code.is_empty()
            && filter.scan_status_reason.is_empty()
            && filter.resource_type.is_empty()
            && filter.resource_id.is_empty()
            && filter.account_id.is_empty();
        Ok((!empty).then_some(criteria))
    }
}

/// Every member the model requires may still be missing from an answer;
/// see [`crate::convert`] for how absence is kept.
fn state(s: &aws_sdk_inspector2::types::State) -> EnablementState {
    EnablementState {
        status: required(s.status().as_str()),
        error_code: non_empty(s.error_code().as_str()),
        error_message: non_empty(s.error_message()),
    }
}

fn account(a: &aws_sdk_inspector2::types::AccountState) -> Result<AccountStatus, String> {
    let overall = a
        .state()
        .ok_or_else(|| format!("account {} has no state", a.account_id()))?;
    let resources = a.resource_state();
    Ok(AccountStatus {
        account_id: a.account_id().to_owned(),
        state: state(overall),
        ec2: resources.and_then(|r| r.ec2()).map(state),
        ecr: resources.and_then(|r| r.ecr()).map(state),
        lambda: resources.and_then(|r| r.lambda()).map(state),
        lambda_code: resources.and_then(|r| r.lambda_code()).map(state),
    })
}

fn covered(r: &aws_sdk_inspector2::types::CoveredResource) -> Result<CoveredResource, String> {
    let metadata = r.resource_metadata();
    let ec2 = metadata.and_then(|m| m.ec2());
    // EC2 and Lambda carry tags as maps; ECR images only as a list of image
    // tags, which are not key/value pairs.
    let tags: BTreeMap<String, String> = ec2
        .and_then(|e| e.tags())
        .or_else(|| {
            metadata
                .and_then(|m| m.lambda_function())
                .and_then(|l| l.function_tags())
        })
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(CoveredResource {
        resource_type: required(r.resource_type().as_str()),
        resource_id: r.resource_id().to_owned(),
        account_id: r.account_id().to_owned(),
        scan_type: required(r.scan_type().as_str()),
        status_code: r
            .scan_status()
            .and_then(|s| non_empty(s.status_code().as_str())),
        reason: r.scan_status().and_then(|s| non_empty(s.reason().as_str())),
        last_scanned_at: opt_chrono(r.last_scanned_at())?,
        scan_mode: r.scan_mode().map(|m| m.as_str().to_owned()),
        platform: ec2
            .and_then(|e| e.platform())
            .map(|p| p.as_str().to_owned()),
        ami_id: ec2.and_then(|e| e.ami_id()).map(str::to_owned),
        tags,
    })
}

fn member(m: &aws_sdk_inspector2::types::Member) -> Result<Member, String> {
    let account_id = m
        .account_id()
        .and_then(non_empty)
        .ok_or_else(|| "a member has no accountId".to_owned())?;
    Ok(Member {
        account_id,
        relationship_status: m.relationship_status().and_then(|s| non_empty(s.as_str())),
        delegated_admin_account_id: m.delegated_admin_account_id().and_then(non_empty),
        updated_at: opt_chrono(m.updated_at())?,
    })
}

/// The required booleans of `AutoEnable`, which the SDK reads as `false`
/// when an answer leaves them out.
const AUTO_ENABLE_REQUIRED: &[&str] = &["/autoEnable/ec2", "/autoEnable/ecr"];

#[async_trait]
impl Inspector2Api for SdkInspector2 {
    async fn batch_get_account_status(
        &self,
        account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        const OP: &str = "BatchGetAccountStatus";
        if account_ids.len() > BATCH_GET_ACCOUNT_STATUS_MAX {
            return Err(self.calls.invalid_request(
                OP,
                format!(
                    "{} account IDs in one call; AccountIdSet takes at most {BATCH_GET_ACCOUNT_STATUS_MAX}",
                    account_ids.len()
                ),
            ));
        }
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .batch_get_account_status()
                    // No IDs asks for the caller's own account.
                    .set_account_ids((!account_ids.is_empty()).then(|| account_ids.to_vec()))
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                let accounts = out
                    .accounts()
                    .iter()
                    .map(account)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| self.calls.invalid_response(OP, m))?;
                let failed = out
                    .failed_accounts()
                    .iter()
                    .map(|f| FailedAccount {
                        account_id: f.account_id().to_owned(),
                        error_code: required(f.error_code().as_str()),
                        error_message: required(f.error_message()),
                    })
                    .collect();
                Ok(AccountStatusBatch { accounts, failed })
            })
            .await
    }

    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        const OP: &str = "ListCoverage";
        let criteria = self.criteria(OP, filter)?;
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_coverage()
                    .set_filter_criteria(criteria)
                    .set_next_token(next_token)
                    .max_results(LIST_COVERAGE_MAX)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                self.calls
                    .page(OP, out.covered_resources(), covered, out.next_token())
            })
            .await
    }

    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        const OP: &str = "GetConfiguration";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .get_configuration()
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                let mode = out.ec2_configuration().and_then(|c| c.scan_mode_state());
                Ok(Inspector2Configuration {
                    ec2_scan_mode: mode
                        .and_then(|m| m.scan_mode())
                        .map(|m| m.as_str().to_owned()),
                    ec2_scan_mode_status: mode
                        .and_then(|m| m.scan_mode_status())
                        .map(|s| s.as_str().to_owned()),
                })
            })
            .await
    }

    async fn get_ec2_deep_inspection_configuration(
        &self,
    ) -> Result<Ec2DeepInspectionConfiguration, AwsError> {
        const OP: &str = "GetEc2DeepInspectionConfiguration";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .get_ec2_deep_inspection_configuration()
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                Ok(Ec2DeepInspectionConfiguration {
                    status: out.status().and_then(|s| non_empty(s.as_str())),
                    package_paths: out.package_paths().to_vec(),
                    org_package_paths: out.org_package_paths().to_vec(),
                    error_message: out.error_message().and_then(non_empty),
                })
            })
            .await
    }

    async fn list_members(
        &self,
        only_associated: bool,
        next_token: Option<String>,
    ) -> Result<Page<Member>, AwsError> {
        const OP: &str = "ListMembers";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_members()
                    .only_associated(only_associated)
                    .max_results(LIST_MEMBERS_MAX)
                    .set_next_token(next_token)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                self.calls.page(OP, out.members(), member, out.next_token())
            })
            .await
    }

    async fn describe_organization_configuration(
        &self,
    ) -> Result<OrganizationConfiguration, AwsError> {
        const OP: &str = "DescribeOrganizationConfiguration";
        self.calls
            .run(OP, async {
                let probe = PresenceProbe::new(AUTO_ENABLE_REQUIRED);
                let out = self
                    .client
                    .describe_organization_configuration()
                    .customize()
                    .interceptor(probe.clone())
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                Ok(OrganizationConfiguration {
                    auto_enable: out.auto_enable().map(|a| AutoEnable {
                        ec2: probe.present(0).then_some(a.ec2()),
                        ecr: probe.present(1).then_some(a.ecr()),
                        lambda: a.lambda(),
                        lambda_code: a.lambda_code(),
                    }),
                    max_account_limit_reached: out.max_account_limit_reached(),
                })
            })
            .await
    }

    async fn get_delegated_admin_account(&self) -> Result<Option<DelegatedAdmin>, AwsError> {
        const OP: &str = "GetDelegatedAdminAccount";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .get_delegated_admin_account()
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                Ok(out.delegated_admin().map(|d| DelegatedAdmin {
                    account_id: d.account_id().and_then(non_empty),
                    relationship_status: d
                        .relationship_status()
                        .and_then(|s| non_empty(s.as_str())),
                }))
            })
            .await
    }
}
