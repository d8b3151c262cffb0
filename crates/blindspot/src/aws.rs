//! Turns `[aws]` into evaluation targets: one per (account, region), whose
//! clients come from the account's [`Account`] source.
//!
//! An account is resolved (STS GetCallerIdentity, after AssumeRole when it
//! has a role) when an evaluation first needs it, at most
//! `aws.concurrency` accounts at a time, and only once however many regions
//! and rules ask together. One that fails is not given up: its evaluations
//! read `error` with the reason, and the next activation that needs it tries
//! again, after a backoff that doubles per failure from [`RETRY_FIRST`] up to
//! [`RETRY_MAX`], so an STS blip at start-up costs minutes of monitoring, not
//! everything until the next restart. `check` resolves every account once,
//! concurrently, and keeps the outcome.

use blindspot_aws::{AwsClients, AwsError};
use blindspot_aws_sdk::factory::role_arn_account_id;
use blindspot_aws_sdk::{AccountSpec, AwsFactory, AwsSettings};
use blindspot_core::{CallCounter, Scope};
use blindspot_engine::{ClientSource, Resolved, Target};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::config::AwsConfig;

/// The wait after an account's first failed resolution; it doubles with each
/// further failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(5);
/// The longest wait between two resolutions of a failing account: shorter
/// than any sensible rule interval, so once it is reached every activation
/// tries again.
pub const RETRY_MAX: Duration = Duration::from_secs(5 * 60);

/// Builds the adapter settings from the config.
pub fn settings(config: &AwsConfig) -> AwsSettings {
    AwsSettings {
        endpoint_url: config.endpoint_url.clone(),
        profile: config.profile.clone(),
        operation_timeout: config.operation_timeout,
        attempt_timeout: config.attempt_timeout,
        max_attempts: config.max_attempts,
        retry_mode: config.retry_mode,
        max_backoff: config.max_backoff,
    }
}

/// The accounts of `[aws]` (the credentials' own account when none is
/// listed), not yet resolved.
pub struct Accounts {
    accounts: Vec<Arc<Account>>,
    regions: Vec<String>,
}

impl Accounts {
    /// Loads the SDK's credential chain; contacts no AWS service.
    pub async fn new(config: &AwsConfig, counter: CallCounter) -> anyhow::Result<Accounts> {
        let factory = AwsFactory::new(settings(config), counter).await?;
        let specs: Vec<AccountSpec> = if config.accounts.is_empty() {
            vec![AccountSpec {
                name: "default".to_owned(),
                role_arn: None,
                external_id: None,
                profile: None,
            }]
        } else {
            config
                .accounts
                .iter()
                .map(|a| AccountSpec {
                    name: a.name.clone(),
                    role_arn: a.role_arn.clone(),
                    external_id: a.external_id.as_ref().map(|id| id.expose().clone()),
                    profile: a.profile.clone(),
                })
                .collect()
        };
        let resolving = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let accounts = specs
            .into_iter()
            .map(|spec| {
                Arc::new(Account::new(
                    spec,
                    factory.clone(),
                    &config.regions,
                    &resolving,
                ))
            })
            .collect();
        Ok(Accounts {
            accounts,
            regions: config.regions.clone(),
        })
    }

    /// The daemon's targets, every account in every region: an account is
    /// resolved when an evaluation first needs it, and retried until it is.
    pub fn targets(&self) -> Vec<Target<AwsClients>> {
        self.accounts
            .iter()
            .flat_map(|account| {
                self.regions.iter().map(|region| {
                    Target::new(Arc::new(AccountRegion {
                        account: Arc::clone(account),
                        region: region.clone(),
                    }))
                })
            })
            .collect()
    }

    /// Every configured (account ID, region), once every account has
    /// resolved; `None` while any has not, because an account that has not
    /// answered yet cannot be told apart from one that is no longer
    /// configured.
    pub fn configured_scopes(&self) -> Option<Vec<Scope>> {
        let mut scopes = Vec::new();
        for account in &self.accounts {
            let ready = account.resolved.get()?;
            for region in &self.regions {
                scopes.push(Scope::new(ready.account_id.clone(), region));
            }
        }
        Some(scopes)
    }

    /// After [`resolve_once`](Self::resolve_once): the one problem to report
    /// when no account could be resolved because the credentials themselves
    /// are missing or rejected by STS, instead of an `error` per scope. An
    /// account whose role cannot be assumed is that account's problem, not
    /// this one, and leaves its evaluations to say so.
    pub async fn credentials_problem(&self) -> Option<CredentialsProblem> {
        let mut problem = None;
        for account in &self.accounts {
            if account.resolved.get().is_some() {
                return None;
            }
            let retry = account.retry.lock().await;
            let assumes_role = account.spec.role_arn.is_some();
            let found = retry
                .last_error
                .as_ref()
                .and_then(|err| CredentialsProblem::of(err, assumes_role))?;
            problem.get_or_insert(found);
        }
        problem
    }

    /// `check`'s targets: every account resolved once, concurrently, and
    /// that outcome kept. An account that cannot be resolved still yields
    /// targets, whose evaluations read `error` with the reason: one
    /// unreachable account must neither stop the others nor pass silently.
    pub async fn resolve_once(&self) -> Vec<Target<AwsClients>> {
        let outcomes =
            futures::future::join_all(self.accounts.iter().map(|account| account.resolve(false)))
                .await;
        let mut targets = Vec::new();
        for (account, outcome) in self.accounts.iter().zip(outcomes) {
            for region in &self.regions {
                let resolved = account.in_region(outcome.clone(), region);
                targets.push(Target::fixed(resolved.scope, resolved.clients));
            }
        }
        targets
    }
}

/// One configured account: resolved once, or retried with a backoff until it
/// is. Shared by the targets of all its regions.
struct Account {
    spec: AccountSpec,
    /// The account its evaluations are recorded under until STS has answered:
    /// the role ARN's account ID, else `unresolved:<name>`.
    provisional_id: String,
    factory: AwsFactory,
    regions: Vec<String>,
    /// Resolutions in flight across all accounts.
    resolving: Arc<Semaphore>,
    resolved: OnceLock<Ready>,
    /// Held during an attempt, so the regions and rules asking at the same
    /// time share one STS call and its outcome.
    retry: Mutex<Retry>,
}

/// A resolved account: its ID and one client bundle per region.
struct Ready {
    account_id: String,
    clients: BTreeMap<String, Arc<AwsClients>>,
}

/// The failures so far of an account that is not resolved yet.
#[derive(Default)]
struct Retry {
    failures: u32,
    /// Why the last attempt failed, already phrased for an evaluation.
    reason: String,
    /// No attempt before this.
    not_before: Option<Instant>,
    /// The last attempt's error, to tell a setup problem (no credentials)
    /// from one account's.
    last_error: Option<AwsError>,
}

impl Account {
    fn new(
        spec: AccountSpec,
        factory: AwsFactory,
        regions: &[String],
        resolving: &Arc<Semaphore>,
    ) -> Account {
        let provisional_id = spec
            .role_arn
            .as_deref()
            .and_then(role_arn_account_id)
            .map_or_else(|| format!("unresolved:{}", spec.name), str::to_owned);
        Account {
            spec,
            provisional_id,
            factory,
            regions: regions.to_vec(),
            resolving: Arc::clone(resolving),
            resolved: OnceLock::new(),
            retry: Mutex::new(Retry::default()),
        }
    }

    /// The resolved account, trying STS unless the last failure is too
    /// recent; or why it cannot be used yet.
    /// `log`: the daemon logs each failure; `check` logs them too, except
    /// missing or rejected credentials, which it explains once itself.
    async fn resolve(&self, log: bool) -> Result<&Ready, String> {
        if let Some(ready) = self.resolved.get() {
            return Ok(ready);
        }
        let mut retry = self.retry.lock().await;
        // Resolved, or failed, while this caller waited for the one attempt.
        if let Some(ready) = self.resolved.get() {
            return Ok(ready);
        }
        if retry.not_before.is_some_and(|t| Instant::now() < t) {
            return Err(retry.reason.clone());
        }
        let attempt = {
            // The semaphore is never closed; without a permit, resolve anyway.
            let _permit = self.resolving.acquire().await;
            self.factory.resolve_account(&self.spec).await
        };
        match attempt {
            Ok(account) => {
                if retry.failures > 0 {
                    tracing::info!(
                        account = %self.spec.name,
                        account_id = %account.account_id,
                        failed_attempts = retry.failures,
                        "account resolved after failing"
                    );
                }
                if let Some(from_arn) = self.spec.role_arn.as_deref().and_then(role_arn_account_id)
                {
                    if from_arn != account.account_id {
                        tracing::warn!(
                            account = %self.spec.name,
                            role_account_id = from_arn,
                            account_id = %account.account_id,
                            "the role's credentials belong to another account than its ARN names; \
                             recording under the one STS reports"
                        );
                    }
                }
                let clients = self
                    .regions
                    .iter()
                    .map(|region| {
                        let clients = Arc::new(self.factory.clients(&account, region));
                        (region.clone(), clients)
                    })
                    .collect();
                Ok(self.resolved.get_or_init(|| Ready {
                    account_id: account.account_id,
                    clients,
                }))
            }
            Err(err) => {
                retry.failures = retry.failures.saturating_add(1);
                let wait = backoff(retry.failures);
                retry.not_before = Some(Instant::now() + wait);
                retry.reason = format!("account `{}` could not be resolved: {err}", self.spec.name);
                let setup_problem =
                    CredentialsProblem::of(&err, self.spec.role_arn.is_some()).is_some();
                if log || !setup_problem {
                    log_failure(&self.spec.name, &err, retry.failures, wait);
                }
                retry.last_error = Some(err.clone());
                Err(retry.reason.clone())
            }
        }
    }

    /// The target of one region, given how resolving the account went.
    fn in_region(&self, outcome: Result<&Ready, String>, region: &str) -> Resolved<AwsClients> {
        match outcome {
            Ok(ready) => Resolved {
                scope: Scope::new(ready.account_id.clone(), region),
                clients: ready.clients.get(region).cloned().ok_or_else(|| {
                    format!(
                        "region {region} is not configured for account `{}`",
                        self.spec.name
                    )
                }),
            },
            Err(reason) => Resolved {
                scope: Scope::new(self.provisional_id.clone(), region),
                clients: Err(reason),
            },
        }
    }
}

/// Credentials that blindspot cannot use at all: the one problem `check`
/// reports, with where the chain looked and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// The default chain found no credentials anywhere.
    Missing(String),
    /// STS rejected the credentials that were found (`code: message`).
    Rejected(String),
}

impl CredentialsProblem {
    /// The codes with which STS rejects the caller's own credentials, as
    /// opposed to refusing one action.
    const REJECTED: &'static [&'static str] = &[
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
    ];

    /// The problem `err` shows, if it is one of the credentials rather than
    /// of an account: for an account reached by a role, a refusal is the
    /// role's (its trust policy), so only missing credentials count.
    fn of(err: &AwsError, assumes_role: bool) -> Option<CredentialsProblem> {
        if err.kind == blindspot_aws::AwsErrorKind::NoCredentials {
            return Some(CredentialsProblem::Missing(err.message.clone()));
        }
        // GetCallerIdentity needs no permission: a refusal is of the
        // credentials themselves.
        let code = err.code.as_deref()?;
        (!assumes_role
            && err.service == "sts"
            && err.operation == "GetCallerIdentity"
            && Self::REJECTED.contains(&code))
        .then(|| CredentialsProblem::Rejected(format!("{code}: {}", err.message)))
    }

    /// What `check` prints on stderr: the problem once, then the next steps.
    pub fn explain(&self) -> String {
        let problem = match self {
            CredentialsProblem::Missing(message) => {
                let looked = message
                    .strip_prefix("no AWS credentials found ")
                    .unwrap_or(message);
                format!("blindspot found no AWS credentials {looked}.")
            }
            CredentialsProblem::Rejected(message) => format!(
                "AWS rejected the credentials blindspot found (sts:GetCallerIdentity): {message}."
            ),
        };
        format!(
            "{problem}\nNothing was checked. Next steps:\n\
             \x20 - use a named profile:        AWS_PROFILE=<name> blindspot check ...\n\
             \x20 - or sign in with SSO:        aws sso login --profile <name>\n\
             \x20 - give it read-only access:   deploy/iam-policy.json (README, \"Against your AWS account\")\n\
             \x20 - or see it without AWS:      blindspot demo\n"
        )
    }
}

/// One line per failed resolution: the AWS code and message (the error's
/// Display), never the SDK's Debug output.
fn log_failure(name: &str, err: &AwsError, attempt: u32, wait: Duration) {
    tracing::error!(
        account = name,
        code = err.code.as_deref().unwrap_or("none"),
        attempt,
        retry_after = %humantime::format_duration(wait),
        "cannot resolve the AWS account: {err}"
    );
}

/// The wait after `failures` failed attempts: [`RETRY_FIRST`], doubling,
/// at most [`RETRY_MAX`].
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// The targets of one account in one region share the account.
struct AccountRegion {
    account: Arc<Account>,
    region: String,
}

#[async_trait::async_trait]
impl ClientSource<AwsClients> for AccountRegion {
    async fn resolve(&self) -> Resolved<AwsClients> {
        let outcome = self.account.resolve(true).await;
        self.account.in_region(outcome, &self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), RETRY_MAX);
    }
}
