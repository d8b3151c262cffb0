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

/// One Organizations client for all of an account's regions whose pages are
/// reused for `ttl`: Organizations is global, so the organisation rule's
/// evaluation in each region (17 listings of 15 pages at 300 accounts) and
/// the discovery would otherwise list the same accounts again and again.
/// Pages are kept by the token that asked for them, so a walk that starts
/// within the ttl reads the same listing throughout; a failed page is never
/// kept.
pub struct SharedListing {
    inner: std::sync::Arc<dyn OrganizationsApi>,
    ttl: std::time::Duration,
    /// Held across a page's call, so regions asking at once wait for one
    /// answer instead of each listing (walks read a page at a time anyway).
    pages: tokio::sync::Mutex<SharedPages>,
}

/// The pages of the current listing, by the token that asked for them.
#[derive(Default)]
struct SharedPages {
    started: Option<std::time::Instant>,
    by_token: std::collections::HashMap<Option<String>, Page<OrgAccount>>,
}

impl SharedListing {
    /// Reuses `inner`'s pages for `ttl`.
    pub fn new(inner: std::sync::Arc<dyn OrganizationsApi>, ttl: std::time::Duration) -> Self {
        SharedListing {
            inner,
            ttl,
            pages: tokio::sync::Mutex::new(SharedPages::default()),
        }
    }
}

#[async_trait]
impl OrganizationsApi for SharedListing {
    async fn list_accounts(
        &self,
        next_token: Option<String>,
    ) -> Result<Page<OrgAccount>, AwsError> {
        let mut pages = self.pages.lock().await;
        let fresh = pages.started.is_some_and(|t| t.elapsed() < self.ttl);
        if !fresh {
            *pages = SharedPages::default();
        } else if let Some(page) = pages.by_token.get(&next_token) {
            return Ok(page.clone());
        }
        let page = self.inner.list_accounts(next_token.clone()).await?;
        pages.started.get_or_insert_with(std::time::Instant::now);
        pages.by_token.insert(next_token, page.clone());
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::paginate::{collect_all, Listing};
    use crate::testing::FakeOrganizations;

    #[tokio::test]
    async fn seventeen_walks_within_the_ttl_cost_one() {
        let fake = std::sync::Arc::new(FakeOrganizations {
            accounts: (0..45)
                .map(|i| OrgAccount {
                    id: format!("{:012}", 100_000_000_000u64 + i),
                    state: Some("ACTIVE".into()),
                    ..OrgAccount::default()
                })
                .collect(),
            ..FakeOrganizations::default()
        });
        let shared = SharedListing::new(fake.clone(), std::time::Duration::from_secs(60));
        for _ in 0..17 {
            let all = collect_all(Listing::new("organizations", "ListAccounts"), |t| {
                shared.list_accounts(t)
            })
            .await
            .unwrap();
            assert_eq!(all.len(), 45);
        }
        // 45 accounts are 3 pages of 20, listed once.
        assert_eq!(fake.script.count("ListAccounts"), 3);
        // Once the ttl has passed, the next walk lists again.
        let stale = SharedListing::new(fake.clone(), std::time::Duration::ZERO);
        for _ in 0..2 {
            collect_all(Listing::new("organizations", "ListAccounts"), |t| {
                stale.list_accounts(t)
            })
            .await
            .unwrap();
        }
        assert_eq!(fake.script.count("ListAccounts"), 9);
    }

    #[tokio::test]
    async fn a_failed_page_is_not_kept() {
        let fake = std::sync::Arc::new(FakeOrganizations::default());
        fake.script.fail_next(
            "ListAccounts",
            AwsError::from_code(
                "organizations",
                "ListAccounts",
                "TooManyRequestsException",
                "slow",
            ),
        );
        let shared = SharedListing::new(fake.clone(), std::time::Duration::from_secs(60));
        assert!(shared.list_accounts(None).await.is_err());
        assert!(shared.list_accounts(None).await.is_ok());
        assert!(shared.list_accounts(None).await.is_ok());
        assert_eq!(fake.script.count("ListAccounts"), 2);
    }
}
