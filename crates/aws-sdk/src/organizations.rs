//! [`OrganizationsApi`] over `aws-sdk-organizations`: the accounts of the
//! organisation (ListAccounts).

use async_trait::async_trait;
use aws_sdk_organizations::Client;
use blindspot_aws::organizations::{OrgAccount, LIST_ACCOUNTS_MAX};
use blindspot_aws::{AwsError, AwsErrorKind, OrganizationsApi, Page};

use crate::convert::{non_empty, opt_chrono};
use crate::error::Calls;

/// The service label of Organizations calls.
pub const SERVICE: &str = "organizations";

/// The code Organizations answers to an account outside any organisation.
pub const NOT_IN_USE: &str = "AWSOrganizationsNotInUseException";

/// Organizations, called from one account (in one region: the service is
/// global, the region only picks the endpoint).
#[derive(Clone)]
pub struct SdkOrganizations {
    client: Client,
    calls: Calls,
}

impl SdkOrganizations {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkOrganizations { client, calls }
    }
}

/// `Account` as the port's [`OrgAccount`]. Both `State` and the `Status`
/// AWS retired on 2026-09-09 are kept: [`OrgAccount::lifecycle`] prefers
/// `State` and reads `Status` only when an answer lacks it. An account
/// without an `Id` cannot be watched, so it makes the page invalid.
fn account(a: &aws_sdk_organizations::types::Account) -> Result<OrgAccount, String> {
    let id = a
        .id()
        .and_then(non_empty)
        .ok_or_else(|| "an account has no Id".to_owned())?;
    Ok(OrgAccount {
        arn: a.arn().and_then(non_empty),
        name: a.name().and_then(non_empty),
        email: a.email().and_then(non_empty),
        state: a.state().and_then(|s| non_empty(s.as_str())),
        status: a.status().and_then(|s| non_empty(s.as_str())),
        joined_at: opt_chrono(a.joined_timestamp())?,
        id,
    })
}

/// Classifies a failed Organizations call. An account outside any
/// organisation is a request that cannot succeed as configured (the
/// credentials' account is not in an organisation, or is not the one
/// configured), not a failure of the service: `InvalidRequest`, with the
/// code kept so that callers can name it.
fn reclassify(mut e: AwsError) -> AwsError {
    if e.code.as_deref() == Some(NOT_IN_USE) {
        e.kind = AwsErrorKind::InvalidRequest;
    }
    e
}

#[async_trait]
impl OrganizationsApi for SdkOrganizations {
    async fn list_accounts(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<OrgAccount>, AwsError> {
        const OP: &str = "ListAccounts";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_accounts()
                    .max_results(LIST_ACCOUNTS_MAX)
                    .set_next_token(next_token)
                    .send()
                    .await
                    .map_err(|e| reclassify(self.calls.error(OP, &e)))?;
                self.calls
                    .page(OP, out.accounts(), account, out.next_token())
            })
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};

    #[test]
    fn state_wins_and_the_retired_status_is_read_without_it() {
        let both = Account::builder()
            .id("111122223333")
            .state(AccountState::Suspended)
            .status(AccountStatus::Active)
            .build();
        let a = account(&both).unwrap();
        assert_eq!(a.lifecycle(), Some("SUSPENDED"));
        assert!(!a.is_active());
        let legacy = Account::builder()
            .id("111122223333")
            .status(AccountStatus::Active)
            .build();
        let a = account(&legacy).unwrap();
        assert_eq!((a.state.as_deref(), a.lifecycle()), (None, Some("ACTIVE")));
        // The SDK's stand-ins for absent members are absent.
        let bare = Account::builder()
            .id("111122223333")
            .name("")
            .state(AccountState::from("no value was set"))
            .build();
        let a = account(&bare).unwrap();
        assert_eq!((a.name, a.state, a.arn), (None, None, None));
        assert!(account(&Account::builder().build()).is_err());
        assert!(account(&Account::builder().id("").build()).is_err());
    }

    #[test]
    fn not_in_an_organisation_is_an_invalid_request() {
        let e = reclassify(AwsError::from_code(
            SERVICE,
            "ListAccounts",
            NOT_IN_USE,
            "Your account is not a member of an organization.",
        ));
        assert_eq!(e.kind, AwsErrorKind::InvalidRequest);
        assert_eq!(e.code.as_deref(), Some(NOT_IN_USE));
        let denied = reclassify(AwsError::from_code(
            SERVICE,
            "ListAccounts",
            "AccessDeniedException",
            "no",
        ));
        assert_eq!(denied.kind, AwsErrorKind::AccessDenied);
    }
}
