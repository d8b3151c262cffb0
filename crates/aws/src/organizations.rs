//! AWS Organizations (API version 2016-11-28): the accounts of the
//! organisation, which is where blindspot learns what to watch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AwsError, Page};

/// ListAccounts returns at most 20 per page (`MaxResults`: 1 to 20).
pub const LIST_ACCOUNTS_MAX: i32 = 20;

/// `Account`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAccount {
    /// `Id`: 12 digits.
    pub id: String,
    /// `Arn`.
    pub arn: Option<String>,
    /// `Name`: the friendly name.
    pub name: Option<String>,
    /// `Email`.
    pub email: Option<String>,
    /// `State` (`AccountState`): `PENDING_ACTIVATION`, `ACTIVE`, `SUSPENDED`,
    /// `PENDING_CLOSURE`, `CLOSED`.
    pub state: Option<String>,
    /// `Status` (`AccountStatus`): `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    /// Retired by AWS on 2026-09-09 in favour of `State`; read only when an
    /// answer has no `State`.
    pub status: Option<String>,
    /// `JoinedTimestamp`.
    pub joined_at: Option<DateTime<Utc>>,
}

impl OrgAccount {
    /// The account's lifecycle state: `State`, else the retired `Status`.
    pub fn lifecycle(&self) -> Option<&str> {
        self.state.as_deref().or(self.status.as_deref())
    }

    /// Whether the account is `ACTIVE`, the only state worth evaluating: a
    /// suspended or closing account cannot be scanned, and its role cannot be
    /// relied on.
    pub fn is_active(&self) -> bool {
        self.lifecycle() == Some("ACTIVE")
    }
}

/// The Organizations calls blindspot makes.
#[async_trait]
pub trait OrganizationsApi: Send + Sync {
    /// ListAccounts: one page of at most [`LIST_ACCOUNTS_MAX`].
    async fn list_accounts(&self, next_token: Option<String>)
        -> Result<Page<OrgAccount>, AwsError>;
}
