//! Everything the rule reads about the organisation in one region, read once
//! and kept as plain data: the accounts of Organizations, Inspector's members,
//! its organisation configuration and its delegated administrator.
//!
//! Nothing here decides what is wrong. A call that AWS denied to this account
//! is kept as [`Seen::Denied`], because it says where blindspot runs, not
//! what the organisation holds: the judge decides what can still be judged
//! without it. Any other failure (throttled, timed out, a 5xx, a broken
//! pagination) fails the evaluation.

use blindspot_aws::inspector2::{DelegatedAdmin, Member, OrganizationConfiguration};
use blindspot_aws::organizations::OrgAccount;
use blindspot_aws::paginate::{collect_all, Listing};
use blindspot_aws::{AwsError, AwsErrorKind, Inspector2Api, OrganizationsApi};
use blindspot_core::RuleError;
use std::collections::BTreeMap;

const LIST_ACCOUNTS: Listing = Listing::new("organizations", "ListAccounts");
const LIST_MEMBERS: Listing = Listing::new("inspector2", "ListMembers");

/// The answer to one call, or the denial that kept it from this account.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen<T> {
    /// The call answered.
    Read(T),
    /// AWS denied the call to this account (`AccessDenied` and kin): not
    /// visible from here, which is never the same as "nothing there".
    Denied(AwsError),
}

impl<T> Seen<T> {
    /// The answer, when there is one.
    pub fn read(&self) -> Option<&T> {
        match self {
            Seen::Read(value) => Some(value),
            Seen::Denied(_) => None,
        }
    }
}

/// What one evaluation read in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The ACTIVE accounts of the organisation (ListAccounts), in listing order.
    pub accounts: Vec<OrgAccount>,
    /// How many accounts are not ACTIVE, by lifecycle state (`SUSPENDED`,
    /// `PENDING_CLOSURE`...; `""` for an account that reports none).
    pub inactive_accounts: BTreeMap<String, u64>,
    /// Every member Inspector knows (ListMembers with `onlyAssociated` false).
    pub members: Seen<Vec<Member>>,
    /// DescribeOrganizationConfiguration.
    pub organization_configuration: Seen<OrganizationConfiguration>,
    /// GetDelegatedAdminAccount: `None` when the organisation has none.
    pub delegated_admin: Seen<Option<DelegatedAdmin>>,
    /// How many calls of each kind were made.
    pub calls: Calls,
}

/// The calls behind a [`Snapshot`], reported as the evaluation's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// ListAccounts pages.
    pub list_accounts: u64,
    /// ListMembers pages, including one that was denied.
    pub list_members: u64,
    /// DescribeOrganizationConfiguration calls.
    pub describe_organization_configuration: u64,
    /// GetDelegatedAdminAccount calls.
    pub get_delegated_admin_account: u64,
}

impl Calls {
    /// Each operation with its number of calls, for the report's counts.
    pub fn by_operation(&self) -> [(&'static str, u64); 4] {
        [
            ("ListAccounts", self.list_accounts),
            ("ListMembers", self.list_members),
            (
                "DescribeOrganizationConfiguration",
                self.describe_organization_configuration,
            ),
            ("GetDelegatedAdminAccount", self.get_delegated_admin_account),
        ]
    }
}

/// A denied call kept as such; every other failure is the evaluation's.
fn visible<T>(answer: Result<T, AwsError>) -> Result<Seen<T>, RuleError> {
    match answer {
        Ok(value) => Ok(Seen::Read(value)),
        Err(err) if err.kind == AwsErrorKind::AccessDenied => Ok(Seen::Denied(err)),
        Err(err) => Err(err.into()),
    }
}

/// Reads the organisation as this account sees it.
///
/// ListAccounts must answer: without the organisation's accounts nothing can
/// be judged, so any failure of it, a denial included, fails the evaluation.
/// The Inspector calls are each made once, whatever the others answered:
/// GetDelegatedAdminAccount answers only in the management account and
/// DescribeOrganizationConfiguration and ListMembers only in the delegated
/// administrator, and which of them a denial matters to is the judge's call.
pub async fn fetch(
    organizations: &dyn OrganizationsApi,
    inspector2: &dyn Inspector2Api,
) -> Result<Snapshot, RuleError> {
    let mut calls = Calls::default();
    let listed = collect_all(LIST_ACCOUNTS, |token| {
        calls.list_accounts += 1;
        organizations.list_accounts(token)
    })
    .await?;
    let mut accounts = Vec::new();
    let mut inactive_accounts: BTreeMap<String, u64> = BTreeMap::new();
    for account in listed {
        if account.is_active() {
            accounts.push(account);
        } else {
            let state = account.lifecycle().unwrap_or_default().to_owned();
            *inactive_accounts.entry(state).or_default() += 1;
        }
    }

    calls.get_delegated_admin_account += 1;
    let delegated_admin = visible(inspector2.get_delegated_admin_account().await)?;

    // Every member, not only the associated ones: a member whose relationship
    // is not ENABLED is exactly what the rule reports.
    let members = visible(
        collect_all(LIST_MEMBERS, |token| {
            calls.list_members += 1;
            inspector2.list_members(false, token)
        })
        .await,
    )?;

    calls.describe_organization_configuration += 1;
    let organization_configuration =
        visible(inspector2.describe_organization_configuration().await)?;

    Ok(Snapshot {
        accounts,
        inactive_accounts,
        members,
        organization_configuration,
        delegated_admin,
        calls,
    })
}
