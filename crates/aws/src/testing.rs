//! Scripted in-memory fakes of the ports, one per port, for the rules' fetch
//! tests (feature `testing`; never in a release build).
//!
//! A fake holds plain data (the runs, associations or resources a region
//! has), answers list calls in pages of a chosen size with opaque tokens, and
//! applies the API's batch limits and filters the way the service does, so a
//! fetch under test meets the same shapes as against the simulator. What
//! cannot be expressed as data is scripted: [`Script::fail_next`] makes the
//! next calls of an operation fail, and every call is recorded for
//! assertions ([`Script::calls`]).
//!
//! The judges need none of this: they are tested on snapshots built by hand.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::classic::{
    AssessmentRun, Exclusion, ExclusionBatch, FailedItem, RunQuery, DESCRIBE_EXCLUSIONS_MAX,
    DESCRIBE_RUNS_MAX,
};
use crate::ecr::DESCRIBE_REPOSITORIES_MAX;
use crate::inspector2::{
    AccountStatus, AccountStatusBatch, CoverageFilter, CoveredResource, DelegatedAdmin,
    Ec2DeepInspectionConfiguration, FailedAccount, Inspector2Configuration, Member,
    OrganizationConfiguration, StringFilter, BATCH_GET_ACCOUNT_STATUS_MAX, LIST_COVERAGE_MAX,
    LIST_MEMBERS_MAX,
};
use crate::lambda::LIST_FUNCTIONS_MAX;
use crate::organizations::{OrgAccount, LIST_ACCOUNTS_MAX};
use crate::ssm::{
    Association, AssociationExecution, AssociationFilter, ManagedInstance, LIST_ASSOCIATIONS_MAX,
};
use crate::{
    AwsClients, AwsError, AwsErrorKind, EcrApi, Inspector2Api, InspectorClassicApi, LambdaApi,
    OrganizationsApi, Page, SsmApi,
};

/// A recorded call: the operation and its main argument (a token, an ID...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation, e.g. `ListAssociations`.
    pub operation: &'static str,
    /// The argument that tells calls apart, rendered as text.
    pub argument: String,
}

/// What a fake was told to do beyond its data, and what it was asked.
#[derive(Debug, Default)]
pub struct Script {
    failures: Mutex<HashMap<&'static str, VecDeque<AwsError>>>,
    calls: Mutex<Vec<Call>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has failed already.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Script {
    /// The next call of `operation` fails with `error` (queued after any
    /// failure already scripted for it).
    pub fn fail_next(&self, operation: &'static str, error: AwsError) {
        lock(&self.failures)
            .entry(operation)
            .or_default()
            .push_back(error);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// How many calls of `operation` were made.
    pub fn count(&self, operation: &str) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    fn enter(&self, operation: &'static str, argument: impl Into<String>) -> Result<(), AwsError> {
        lock(&self.calls).push(Call {
            operation,
            argument: argument.into(),
        });
        match lock(&self.failures)
            .get_mut(operation)
            .and_then(VecDeque::pop_front)
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// One page of `items` at the offset `token` names; tokens are offsets, as
/// opaque to the caller as AWS's.
fn page<T: Clone>(
    service: &'static str,
    operation: &'static str,
    items: &[T],
    token: Option<String>,
    size: usize,
) -> Result<Page<T>, AwsError> {
    let start = match token {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                AwsError::from_code(
                    service,
                    operation,
                    "InvalidNextToken",
                    format!("invalid token `{token}`"),
                )
            })?,
    };
    let end = (start + size.max(1)).min(items.len());
    Ok(Page {
        items: items[start..end].to_vec(),
        next_token: (end < items.len()).then(|| format!("page-{end}")),
    })
}

/// Items per page: a fake's configured `page_size`, where 0 means the API's
/// own page size for the operation.
fn page_size(configured: usize, default: usize) -> usize {
    if configured == 0 {
        default
    } else {
        configured
    }
}

fn too_many(service: &'static str, operation: &'static str, n: usize, max: usize) -> AwsError {
    AwsError::from_code(
        service,
        operation,
        "ValidationException",
        format!("{n} items; at most {max} are allowed"),
    )
}

/// A fake Inspector Classic region.
#[derive(Debug, Default)]
pub struct FakeClassic {
    /// Every assessment run.
    pub runs: Vec<AssessmentRun>,
    /// The exclusions of each run, by run ARN.
    pub exclusions: BTreeMap<String, Vec<Exclusion>>,
    /// Items per list page; 0 means the API's default (10 runs, 100 exclusions).
    pub page_size: usize,
    /// Failures, in order, that DescribeExclusions reports for ARNs it was
    /// asked for: each call takes the next list and reports those ARNs as
    /// `failedItems` instead of describing them.
    pub failed_items: Mutex<VecDeque<Vec<FailedItem>>>,
    /// A broken service: every list page that has more to come names the
    /// same next token (the first page's), so a walk that does not guard
    /// against a repeated token never ends.
    pub repeat_tokens: bool,
    /// Scripted failures and the call log.
    pub script: Script,
}

impl FakeClassic {
    /// `page`, with the next token pinned to the first page's when
    /// [`FakeClassic::repeat_tokens`] is set.
    fn listed<T: Clone>(
        &self,
        operation: &'static str,
        items: &[T],
        token: Option<String>,
        size: usize,
    ) -> Result<Page<T>, AwsError> {
        let mut answer = page("inspector", operation, items, token, size)?;
        if self.repeat_tokens && answer.next_token.is_some() {
            answer.next_token = Some(format!("page-{}", size.max(1)));
        }
        Ok(answer)
    }
}

fn run_matches(run: &AssessmentRun, query: &RunQuery) -> bool {
    (query.states.is_empty() || query.states.contains(&run.state))
        && (query.template_arns.is_empty() || query.template_arns.contains(&run.template_arn))
        && query
            .completed_after
            .is_none_or(|after| run.completed_at.is_some_and(|t| t >= after))
        && query
            .completed_before
            .is_none_or(|before| run.completed_at.is_some_and(|t| t <= before))
}

#[async_trait]
impl InspectorClassicApi for FakeClassic {
    async fn list_assessment_runs(
        &self,
        query: &RunQuery,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListAssessmentRuns";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        let arns: Vec<String> = self
            .runs
            .iter()
            .filter(|run| run_matches(run, query))
            .map(|run| run.arn.clone())
            .collect();
        self.listed(OP, &arns, next_token, page_size(self.page_size, 10))
    }

    async fn describe_assessment_runs(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentRun>, AwsError> {
        const OP: &str = "DescribeAssessmentRuns";
        self.script.enter(OP, arns.join(","))?;
        if arns.is_empty() || arns.len() > DESCRIBE_RUNS_MAX {
            return Err(too_many("inspector", OP, arns.len(), DESCRIBE_RUNS_MAX));
        }
        Ok(self
            .runs
            .iter()
            .filter(|run| arns.contains(&run.arn))
            .cloned()
            .collect())
    }

    async fn list_exclusions(
        &self,
        run_arn: &str,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListExclusions";
        self.script.enter(OP, run_arn)?;
        let arns: Vec<String> = self
            .exclusions
            .get(run_arn)
            .map(|list| list.iter().map(|e| e.arn.clone()).collect())
            .unwrap_or_default();
        self.listed(OP, &arns, next_token, page_size(self.page_size, 100))
    }

    async fn describe_exclusions(&self, arns: &[String]) -> Result<ExclusionBatch, AwsError> {
        const OP: &str = "DescribeExclusions";
        self.script.enter(OP, arns.join(","))?;
        if arns.is_empty() || arns.len() > DESCRIBE_EXCLUSIONS_MAX {
            return Err(too_many(
                "inspector",
                OP,
                arns.len(),
                DESCRIBE_EXCLUSIONS_MAX,
            ));
        }
        let scripted = lock(&self.failed_items).pop_front().unwrap_or_default();
        let mut batch = ExclusionBatch::default();
        for arn in arns {
            if let Some(item) = scripted.iter().find(|f| &f.arn == arn) {
                batch.failed.push(item.clone());
                continue;
            }
            match self.exclusions.values().flatten().find(|e| &e.arn == arn) {
                Some(exclusion) => batch.exclusions.push(exclusion.clone()),
                None => batch.failed.push(FailedItem {
                    arn: arn.clone(),
                    code: "ITEM_DOES_NOT_EXIST".into(),
                    retryable: false,
                }),
            }
        }
        Ok(batch)
    }
}

/// A fake Systems Manager region.
#[derive(Debug, Default)]
pub struct FakeSsm {
    /// What ListAssociations returns.
    pub associations: Vec<Association>,
    /// What DescribeAssociation returns, by association ID; an association
    /// listed but absent here is described as listed.
    pub described: HashMap<String, Association>,
    /// Executions by association ID, newest first as SSM returns them.
    pub executions: HashMap<String, Vec<AssociationExecution>>,
    /// The managed nodes (DescribeInstanceInformation).
    pub instances: Vec<ManagedInstance>,
    /// Items per list page; 0 means the API's maximum.
    pub page_size: usize,
    /// Scripted failures and the call log.
    pub script: Script,
}

#[async_trait]
impl SsmApi for FakeSsm {
    async fn list_associations(
        &self,
        filters: &[AssociationFilter],
        next_token: Option<String>,
    ) -> Result<Page<Association>, AwsError> {
        const OP: &str = "ListAssociations";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        let matching: Vec<Association> = self
            .associations
            .iter()
            .filter(|a| {
                filters.iter().all(|f| match f.key.as_str() {
                    "Name" => a.document_name == f.value,
                    "AssociationName" => a.association_name.as_deref() == Some(&f.value),
                    "AssociationId" => a.association_id == f.value,
                    _ => true,
                })
            })
            .cloned()
            .collect();
        page(
            "ssm",
            OP,
            &matching,
            next_token,
            page_size(self.page_size, LIST_ASSOCIATIONS_MAX as usize),
        )
    }

    async fn describe_association(&self, association_id: &str) -> Result<Association, AwsError> {
        const OP: &str = "DescribeAssociation";
        self.script.enter(OP, association_id)?;
        self.described
            .get(association_id)
            .or_else(|| {
                self.associations
                    .iter()
                    .find(|a| a.association_id == association_id)
            })
            .cloned()
            .ok_or_else(|| {
                AwsError::new(
                    "ssm",
                    OP,
                    AwsErrorKind::InvalidRequest,
                    format!("AssociationDoesNotExist: {association_id}"),
                )
            })
    }

    async fn describe_association_executions(
        &self,
        association_id: &str,
        next_token: Option<String>,
    ) -> Result<Page<AssociationExecution>, AwsError> {
        const OP: &str = "DescribeAssociationExecutions";
        self.script.enter(OP, association_id)?;
        let executions = self
            .executions
            .get(association_id)
            .cloned()
            .unwrap_or_default();
        page(
            "ssm",
            OP,
            &executions,
            next_token,
            page_size(self.page_size, 50),
        )
    }

    async fn describe_instance_information(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<ManagedInstance>, AwsError> {
        const OP: &str = "DescribeInstanceInformation";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        page(
            "ssm",
            OP,
            &self.instances,
            next_token,
            page_size(self.page_size, 50),
        )
    }
}

/// A fake Inspector v2 region.
#[derive(Debug, Default)]
pub struct FakeInspector2 {
    /// What BatchGetAccountStatus reports, by account.
    pub statuses: Vec<AccountStatus>,
    /// Accounts BatchGetAccountStatus lists in `failedAccounts`.
    pub failed_accounts: Vec<FailedAccount>,
    /// Every resource in coverage; ListCoverage applies its filter to these.
    pub coverage: Vec<CoveredResource>,
    /// What GetConfiguration returns.
    pub configuration: Inspector2Configuration,
    /// What GetEc2DeepInspectionConfiguration returns.
    pub deep_inspection: Ec2DeepInspectionConfiguration,
    /// The members ListMembers lists (with `onlyAssociated`, those whose
    /// relationship is `ENABLED`).
    pub members: Vec<Member>,
    /// What DescribeOrganizationConfiguration returns.
    pub organization_configuration: OrganizationConfiguration,
    /// What GetDelegatedAdminAccount returns.
    pub delegated_admin: Option<DelegatedAdmin>,
    /// Items per ListCoverage and ListMembers page; 0 means the API's maximum.
    pub page_size: usize,
    /// Scripted failures and the call log.
    pub script: Script,
}

/// Whether `value` passes a string filter list: no filters pass everything;
/// otherwise any EQUALS (or NOT_EQUALS, negated) that matches.
fn passes(filters: &[StringFilter], value: Option<&str>) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.comparison.as_str() {
            "NOT_EQUALS" => value != Some(f.value.as_str()),
            _ => value == Some(f.value.as_str()),
        })
}

#[async_trait]
impl Inspector2Api for FakeInspector2 {
    async fn batch_get_account_status(
        &self,
        account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        const OP: &str = "BatchGetAccountStatus";
        self.script.enter(OP, account_ids.join(","))?;
        if account_ids.len() > BATCH_GET_ACCOUNT_STATUS_MAX {
            return Err(too_many(
                "inspector2",
                OP,
                account_ids.len(),
                BATCH_GET_ACCOUNT_STATUS_MAX,
            ));
        }
        let wanted = |id: &String| account_ids.is_empty() || account_ids.contains(id);
        Ok(AccountStatusBatch {
            accounts: self
                .statuses
                .iter()
                .filter(|s| wanted(&s.account_id))
                .cloned()
                .collect(),
            failed: self
                .failed_accounts
                .iter()
                .filter(|f| wanted(&f.account_id))
                .cloned()
                .collect(),
        })
    }

    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        const OP: &str = "ListCoverage";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        let matching: Vec<CoveredResource> = self
            .coverage
            .iter()
            .filter(|r| {
                passes(&filter.scan_status_code, r.status_code.as_deref())
                    && passes(&filter.scan_status_reason, r.reason.as_deref())
                    && passes(&filter.resource_type, Some(&r.resource_type))
                    && passes(&filter.resource_id, Some(&r.resource_id))
                    && passes(&filter.account_id, Some(&r.account_id))
            })
            .cloned()
            .collect();
        let size = page_size(self.page_size, LIST_COVERAGE_MAX as usize);
        page("inspector2", OP, &matching, next_token, size)
    }

    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        const OP: &str = "GetConfiguration";
        self.script.enter(OP, "")?;
        Ok(self.configuration.clone())
    }

    async fn get_ec2_deep_inspection_configuration(
        &self,
    ) -> Result<Ec2DeepInspectionConfiguration, AwsError> {
        const OP: &str = "GetEc2DeepInspectionConfiguration";
        self.script.enter(OP, "")?;
        Ok(self.deep_inspection.clone())
    }

    async fn list_members(
        &self,
        only_associated: bool,
        next_token: Option<String>,
    ) -> Result<Page<Member>, AwsError> {
        const OP: &str = "ListMembers";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        let members: Vec<Member> = self
            .members
            .iter()
            .filter(|m| !only_associated || m.relationship_status.as_deref() == Some("ENABLED"))
            .cloned()
            .collect();
        let size = page_size(self.page_size, LIST_MEMBERS_MAX as usize);
        page("inspector2", OP, &members, next_token, size)
    }

    async fn describe_organization_configuration(
        &self,
    ) -> Result<OrganizationConfiguration, AwsError> {
        const OP: &str = "DescribeOrganizationConfiguration";
        self.script.enter(OP, "")?;
        Ok(self.organization_configuration.clone())
    }

    async fn get_delegated_admin_account(&self) -> Result<Option<DelegatedAdmin>, AwsError> {
        const OP: &str = "GetDelegatedAdminAccount";
        self.script.enter(OP, "")?;
        Ok(self.delegated_admin.clone())
    }
}

/// A fake organisation: its accounts, in listing order.
#[derive(Debug, Default)]
pub struct FakeOrganizations {
    /// The accounts ListAccounts lists.
    pub accounts: Vec<OrgAccount>,
    /// Items per page; 0 means the API's maximum.
    pub page_size: usize,
    /// Scripted failures and the call log.
    pub script: Script,
}

#[async_trait]
impl OrganizationsApi for FakeOrganizations {
    async fn list_accounts(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<OrgAccount>, AwsError> {
        const OP: &str = "ListAccounts";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        let size = page_size(self.page_size, LIST_ACCOUNTS_MAX as usize);
        page("organizations", OP, &self.accounts, next_token, size)
    }
}

/// A fake Lambda region: the functions' names.
#[derive(Debug, Default)]
pub struct FakeLambda {
    /// The functions ListFunctions lists.
    pub functions: Vec<String>,
    /// Scripted failures and the call log.
    pub script: Script,
}

#[async_trait]
impl LambdaApi for FakeLambda {
    async fn list_functions(
        &self,
        max_items: i32,
        marker: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListFunctions";
        self.script.enter(OP, marker.clone().unwrap_or_default())?;
        if !(1..=10_000).contains(&max_items) {
            return Err(too_many("lambda", OP, max_items.max(0) as usize, 10_000));
        }
        let size = (max_items as usize).min(LIST_FUNCTIONS_MAX as usize);
        page("lambda", OP, &self.functions, marker, size)
    }
}

/// A fake ECR region: the repositories' names.
#[derive(Debug, Default)]
pub struct FakeEcr {
    /// The repositories DescribeRepositories lists.
    pub repositories: Vec<String>,
    /// Scripted failures and the call log.
    pub script: Script,
}

#[async_trait]
impl EcrApi for FakeEcr {
    async fn describe_repositories(
        &self,
        max_results: i32,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "DescribeRepositories";
        self.script
            .enter(OP, next_token.clone().unwrap_or_default())?;
        if !(1..=DESCRIBE_REPOSITORIES_MAX).contains(&max_results) {
            return Err(too_many(
                "ecr",
                OP,
                max_results.max(0) as usize,
                DESCRIBE_REPOSITORIES_MAX as usize,
            ));
        }
        page(
            "ecr",
            OP,
            &self.repositories,
            next_token,
            max_results as usize,
        )
    }
}

/// One fake of each port, shared with the clients handed to a rule so a test
/// can inspect the call logs afterwards.
#[derive(Debug, Default, Clone)]
pub struct Fakes {
    /// Inspector Classic.
    pub classic: Arc<FakeClassic>,
    /// Systems Manager.
    pub ssm: Arc<FakeSsm>,
    /// Inspector v2.
    pub inspector2: Arc<FakeInspector2>,
    /// Lambda.
    pub lambda: Arc<FakeLambda>,
    /// ECR.
    pub ecr: Arc<FakeEcr>,
    /// Organizations.
    pub organizations: Arc<FakeOrganizations>,
}

impl Fakes {
    /// The clients a rule gets, backed by these fakes.
    pub fn clients(&self) -> AwsClients {
        AwsClients {
            classic: self.classic.clone(),
            ssm: self.ssm.clone(),
            inspector2: self.inspector2.clone(),
            lambda: self.lambda.clone(),
            ecr: self.ecr.clone(),
            organizations: self.organizations.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::paginate::{collect_all, Listing};

    fn association(id: &str) -> Association {
        Association {
            association_id: id.into(),
            association_name: Some(format!("name-{id}")),
            document_name: "AWS-GatherSoftwareInventory".into(),
            document_version: None,
            targets: Vec::new(),
            instance_id: None,
            schedule_expression: None,
            schedule_offset: None,
            last_execution_date: None,
            last_successful_execution_date: None,
            created_date: None,
            overview: None,
        }
    }

    #[tokio::test]
    async fn pages_through_the_data_and_records_calls() {
        let ssm = FakeSsm {
            associations: (0..5).map(|i| association(&i.to_string())).collect(),
            page_size: 2,
            ..FakeSsm::default()
        };
        let all = collect_all(Listing::new("ssm", "ListAssociations"), |t| {
            ssm.list_associations(&[], t)
        })
        .await
        .unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(ssm.script.count("ListAssociations"), 3);
        let err = ssm
            .list_associations(&[], Some("bogus".into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::InvalidRequest);
    }

    #[tokio::test]
    async fn scripted_failures_come_once_in_order() {
        let ssm = FakeSsm::default();
        ssm.script.fail_next(
            "DescribeInstanceInformation",
            AwsError::from_code(
                "ssm",
                "DescribeInstanceInformation",
                "ThrottlingException",
                "slow",
            ),
        );
        let err = ssm.describe_instance_information(None).await.unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::Throttled);
        assert!(ssm.describe_instance_information(None).await.is_ok());
    }

    #[tokio::test]
    async fn batch_limits_are_the_apis() {
        let classic = FakeClassic::default();
        let arns: Vec<String> = (0..=DESCRIBE_RUNS_MAX).map(|i| i.to_string()).collect();
        let err = classic.describe_assessment_runs(&arns).await.unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::InvalidRequest);
    }

    #[tokio::test]
    async fn coverage_filters_apply() {
        let resource = |id: &str, status: &str| CoveredResource {
            resource_type: "AWS_EC2_INSTANCE".into(),
            resource_id: id.into(),
            account_id: "111122223333".into(),
            scan_type: "PACKAGE".into(),
            status_code: Some(status.into()),
            reason: None,
            last_scanned_at: None,
            scan_mode: None,
            platform: None,
            ami_id: None,
            tags: Default::default(),
        };
        let fake = FakeInspector2 {
            coverage: vec![resource("i-1", "ACTIVE"), resource("i-2", "INACTIVE")],
            ..FakeInspector2::default()
        };
        let filter = CoverageFilter {
            scan_status_code: vec![StringFilter {
                comparison: "EQUALS".into(),
                value: "INACTIVE".into(),
            }],
            ..CoverageFilter::default()
        };
        let page = fake.list_coverage(&filter, None).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].resource_id, "i-2");
    }
}
