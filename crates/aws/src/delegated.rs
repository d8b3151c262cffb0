//! The delegated administrator's view: Inspector2 run from the organisation's
//! delegated administrator answers BatchGetAccountStatus for any member, up
//! to [`BATCH_GET_ACCOUNT_STATUS_MAX`] accounts per call. One sweep of the
//! members in batches of [`BATCH_GET_ACCOUNT_STATUS_BATCH`] replaces one call
//! per member and region: 300 members are 30 calls instead of 300.
//!
//! A member's own client is wrapped in [`ViaAdministrator`], which answers
//! the member's status from the sweep and falls back to the member's own
//! call whenever the sweep has nothing for it (the sweep failed, the
//! administrator was refused, the member is new since the last sweep, or the
//! blindspot account is not the administrator at all). The sweep is never
//! the only source: it can save calls, never lose an answer.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::inspector2::{
    AccountStatus, AccountStatusBatch, CoverageFilter, CoveredResource, DelegatedAdmin,
    Ec2DeepInspectionConfiguration, Inspector2Configuration, Member, OrganizationConfiguration,
    BATCH_GET_ACCOUNT_STATUS_BATCH,
};
use crate::{AwsError, Inspector2Api, Page};

/// Member statuses of one region, read through the administrator and kept
/// for `ttl`.
pub struct StatusSweep {
    /// The administrator's client in this region, once its account resolved.
    admin: OnceLock<Arc<dyn Inspector2Api>>,
    /// The member account IDs to sweep.
    members: RwLock<Vec<String>>,
    ttl: Duration,
    /// The last sweep: when it finished, and what it found.
    last: tokio::sync::Mutex<Option<(Instant, Found)>>,
}

/// What one sweep found, by member account ID.
type Found = Arc<HashMap<String, AccountStatus>>;

impl StatusSweep {
    /// A sweep whose answers are reused for `ttl`.
    pub fn new(ttl: Duration) -> StatusSweep {
        StatusSweep {
            admin: OnceLock::new(),
            members: RwLock::new(Vec::new()),
            ttl,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// The administrator's client; the first one given is kept.
    pub fn set_admin(&self, admin: Arc<dyn Inspector2Api>) {
        let _ = self.admin.set(admin);
    }

    /// The members to sweep from now on.
    pub fn set_members(&self, members: Vec<String>) {
        *self.members.write().unwrap_or_else(|e| e.into_inner()) = members;
    }

    /// `account`'s status from the current sweep, sweeping first when the
    /// last one is older than the ttl; `None` when the sweep has nothing
    /// for it.
    pub async fn status_of(&self, account: &str) -> Option<AccountStatus> {
        let admin = self.admin.get()?;
        let mut last = self.last.lock().await;
        let fresh = last
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, found)| Arc::clone(found));
        let found = match fresh {
            Some(found) => found,
            None => {
                // One caller sweeps while the others of this region wait for
                // it: they would all ask for the same batches.
                let members = self
                    .members
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let found = Arc::new(sweep(admin.as_ref(), &members).await);
                *last = Some((Instant::now(), Arc::clone(&found)));
                found
            }
        };
        found.get(account).cloned()
    }
}

/// Every member's status the administrator could give, batch by batch; a
/// failed batch leaves its members out, to be asked directly.
async fn sweep(admin: &dyn Inspector2Api, members: &[String]) -> HashMap<String, AccountStatus> {
    let mut found = HashMap::with_capacity(members.len());
    for batch in members.chunks(BATCH_GET_ACCOUNT_STATUS_BATCH) {
        match admin.batch_get_account_status(batch).await {
            Ok(answer) => {
                for status in answer.accounts {
                    if batch.contains(&status.account_id) {
                        found.insert(status.account_id.clone(), status);
                    }
                }
            }
            Err(err) => tracing::debug!(
                error = %err,
                accounts = batch.len(),
                "the administrator's BatchGetAccountStatus failed; members will be asked directly"
            ),
        }
    }
    found
}

/// A member's Inspector2 client whose own status comes from the
/// administrator's sweep when it can.
pub struct ViaAdministrator {
    inner: Arc<dyn Inspector2Api>,
    account: String,
    sweep: Arc<StatusSweep>,
}

impl ViaAdministrator {
    /// Wraps the client of member `account`.
    pub fn new(inner: Arc<dyn Inspector2Api>, account: String, sweep: Arc<StatusSweep>) -> Self {
        ViaAdministrator {
            inner,
            account,
            sweep,
        }
    }
}

#[async_trait]
impl Inspector2Api for ViaAdministrator {
    async fn batch_get_account_status(
        &self,
        account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        if account_ids == [self.account.as_str()] {
            if let Some(status) = self.sweep.status_of(&self.account).await {
                return Ok(AccountStatusBatch {
                    accounts: vec![status],
                    failed: Vec::new(),
                });
            }
        }
        self.inner.batch_get_account_status(account_ids).await
    }

    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        self.inner.list_coverage(filter, next_token).await
    }

    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        self.inner.get_configuration().await
    }

    async fn get_ec2_deep_inspection_configuration(
        &self,
    ) -> Result<Ec2DeepInspectionConfiguration, AwsError> {
        self.inner.get_ec2_deep_inspection_configuration().await
    }

    async fn list_members(
        &self,
        only_associated: bool,
        next_token: Option<String>,
    ) -> Result<Page<Member>, AwsError> {
        self.inner.list_members(only_associated, next_token).await
    }

    async fn describe_organization_configuration(
        &self,
    ) -> Result<OrganizationConfiguration, AwsError> {
        self.inner.describe_organization_configuration().await
    }

    async fn get_delegated_admin_account(&self) -> Result<Option<DelegatedAdmin>, AwsError> {
        self.inner.get_delegated_admin_account().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inspector2::{EnablementState, FailedAccount};
    use crate::testing::FakeInspector2;

    fn status(account: &str, state: &str) -> AccountStatus {
        AccountStatus {
            account_id: account.into(),
            state: EnablementState {
                status: state.into(),
                ..EnablementState::default()
            },
            ..AccountStatus::default()
        }
    }

    fn members(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
            .collect()
    }

    #[tokio::test]
    async fn thirty_members_cost_three_calls_and_each_member_none() {
        let ids = members(30);
        let admin = Arc::new(FakeInspector2 {
            statuses: ids.iter().map(|id| status(id, "ENABLED")).collect(),
            ..FakeInspector2::default()
        });
        let sweep = Arc::new(StatusSweep::new(Duration::from_secs(300)));
        sweep.set_admin(admin.clone());
        sweep.set_members(ids.clone());
        for id in &ids {
            let own = Arc::new(FakeInspector2::default());
            let client = ViaAdministrator::new(own.clone(), id.clone(), Arc::clone(&sweep));
            let answer = client
                .batch_get_account_status(std::slice::from_ref(id))
                .await
                .unwrap();
            assert_eq!(answer.accounts, vec![status(id, "ENABLED")]);
            assert_eq!(own.script.count("BatchGetAccountStatus"), 0);
        }
        let calls = admin.script.calls();
        assert_eq!(calls.len(), 3);
        assert!(calls
            .iter()
            .all(|c| c.argument.split(',').count() == BATCH_GET_ACCOUNT_STATUS_BATCH));
    }

    #[tokio::test]
    async fn a_member_the_administrator_cannot_answer_for_asks_itself() {
        let ids = members(2);
        let admin = Arc::new(FakeInspector2 {
            statuses: vec![status(&ids[0], "ENABLED")],
            failed_accounts: vec![FailedAccount {
                account_id: ids[1].clone(),
                error_code: "ACCESS_DENIED".into(),
                error_message: "not a member".into(),
            }],
            ..FakeInspector2::default()
        });
        let sweep = Arc::new(StatusSweep::new(Duration::from_secs(300)));
        sweep.set_admin(admin);
        sweep.set_members(ids.clone());
        let own = Arc::new(FakeInspector2 {
            statuses: vec![status(&ids[1], "DISABLED")],
            ..FakeInspector2::default()
        });
        let client = ViaAdministrator::new(own.clone(), ids[1].clone(), sweep);
        let answer = client
            .batch_get_account_status(&[ids[1].clone()])
            .await
            .unwrap();
        assert_eq!(answer.accounts, vec![status(&ids[1], "DISABLED")]);
        assert_eq!(own.script.count("BatchGetAccountStatus"), 1);
    }

    #[tokio::test]
    async fn without_an_administrator_or_after_a_failed_sweep_members_ask_themselves() {
        let ids = members(1);
        let sweep = Arc::new(StatusSweep::new(Duration::from_secs(300)));
        sweep.set_members(ids.clone());
        let own = Arc::new(FakeInspector2 {
            statuses: vec![status(&ids[0], "ENABLED")],
            ..FakeInspector2::default()
        });
        let client = ViaAdministrator::new(own.clone(), ids[0].clone(), Arc::clone(&sweep));
        client.batch_get_account_status(&ids).await.unwrap();
        let admin = Arc::new(FakeInspector2::default());
        admin.script.fail_next(
            "BatchGetAccountStatus",
            AwsError::from_code(
                "inspector2",
                "BatchGetAccountStatus",
                "AccessDeniedException",
                "no",
            ),
        );
        sweep.set_admin(admin);
        client.batch_get_account_status(&ids).await.unwrap();
        assert_eq!(own.script.count("BatchGetAccountStatus"), 2);
    }
}
