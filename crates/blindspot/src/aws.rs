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

use blindspot_aws::delegated::{StatusSweep, ViaAdministrator};
use blindspot_aws::organizations::{OrgAccount, SharedListing};
use blindspot_aws::paginate::{collect_all, Listing};
use blindspot_aws::OrganizationsApi;
use blindspot_aws::{AwsClients, AwsError};
use blindspot_aws_sdk::factory::role_arn_account_id;
use blindspot_aws_sdk::{AccountSpec, AwsFactory, AwsSettings};
use blindspot_core::{CallCounter, Scope};
use blindspot_engine::{ClientSource, Resolved, Target, TargetSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{watch, Mutex, Semaphore};
use tokio::time::Instant;

use crate::config::{AwsConfig, OrganizationConfig};

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
        max_in_flight_calls: config.max_in_flight_calls,
        calls_per_second: config.calls_per_second,
    }
}

/// Called with (account ID, name) whenever an account's name becomes known
/// (from Organizations, or the config's name once STS has given the ID), and
/// with (ID, `None`) when an account is no longer watched.
pub type NameSink = Arc<dyn Fn(&str, Option<&str>) + Send + Sync>;

/// The sink that keeps `names` up to date: `check` and the daemon both keep
/// the server's directory.
pub fn name_sink(names: &blindspot_server::AccountNames) -> NameSink {
    let names = names.clone();
    Arc::new(move |id: &str, name: Option<&str>| match name {
        Some(name) => names.insert(id, name),
        None => names.remove(id),
    })
}

/// The accounts of `[aws]` (the credentials' own account when none is
/// listed), and with `[aws.organization]` those of the organisation; not
/// yet resolved.
pub struct Accounts {
    factory: AwsFactory,
    regions: Vec<String>,
    /// Resolutions in flight across all accounts.
    resolving: Arc<Semaphore>,
    /// The accounts of the config: the listed ones, or the credentials' own;
    /// with an organisation, the home account first.
    fixed: Vec<Watched>,
    organization: Option<Organization>,
    names: NameSink,
    targets: watch::Sender<Arc<Vec<Target<AwsClients>>>>,
}

/// `[aws.organization]` and what its last refresh found.
struct Organization {
    config: OrganizationConfig,
    /// The account blindspot runs in, which reads the organisation.
    home: Arc<Account>,
    /// The members being watched, by account ID.
    members: std::sync::Mutex<BTreeMap<String, Watched>>,
    /// Each region's sweep of member statuses.
    sweeps: Sweeps,
    /// Whether the account list has been read at least once: until then,
    /// no member's scope can be told to be unconfigured.
    read_once: std::sync::atomic::AtomicBool,
}

/// What one refresh of the organisation changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// ACTIVE accounts listed (before `include`/`exclude`).
    pub listed: usize,
    /// Account IDs watched from now on.
    pub added: Vec<String>,
    /// Account IDs no longer watched: they left, are no longer ACTIVE, or
    /// were excluded.
    pub removed: Vec<String>,
}

impl Accounts {
    /// Loads the SDK's credential chain; contacts no AWS service.
    pub async fn new(
        config: &AwsConfig,
        counter: CallCounter,
        names: NameSink,
    ) -> anyhow::Result<Accounts> {
        let factory = AwsFactory::new(settings(config), counter).await?;
        let resolving = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let own = || AccountSpec {
            name: "default".to_owned(),
            role_arn: None,
            external_id: None,
            profile: None,
        };
        let mut specs: Vec<AccountSpec> = config
            .accounts
            .iter()
            .map(|a| AccountSpec {
                name: a.name.clone(),
                role_arn: a.role_arn.clone(),
                external_id: a.external_id.as_ref().map(|id| id.expose().clone()),
                profile: a.profile.clone(),
            })
            .collect();
        // The home account reads the organisation and is watched with its
        // own credentials; without an organisation, it is watched only when
        // no account is listed.
        let own_first = config.organization.is_some() || specs.is_empty();
        if own_first {
            specs.insert(0, own());
        }
        let sweeps: Option<Sweeps> = config.organization.as_ref().map(|_| {
            Arc::new(
                config
                    .regions
                    .iter()
                    .map(|r| (r.clone(), Arc::new(StatusSweep::new(SWEEP_TTL))))
                    .collect(),
            )
        });
        let build = |spec: AccountSpec, sees_organization: bool, named: bool| {
            Watched::new(Account::new(
                spec,
                factory.clone(),
                &config.regions,
                &resolving,
                sees_organization,
                sees_organization.then(|| sweeps.clone()).flatten(),
                named.then(|| Arc::clone(&names)),
            ))
        };
        let mut fixed = Vec::with_capacity(specs.len());
        let mut organization = None;
        for (i, spec) in specs.into_iter().enumerate() {
            let home = i == 0 && config.organization.is_some();
            // The credentials' own account has no name of the config's.
            let account = build(spec, home, !(i == 0 && own_first));
            if home {
                if let Some(config) = &config.organization {
                    organization = Some(Organization {
                        sweeps: sweeps.clone().unwrap_or_default(),
                        config: config.clone(),
                        home: Arc::clone(&account.account),
                        members: std::sync::Mutex::new(BTreeMap::new()),
                        read_once: std::sync::atomic::AtomicBool::new(false),
                    });
                }
            }
            fixed.push(account);
        }
        let (targets, _) = watch::channel(Arc::new(Vec::new()));
        let accounts = Accounts {
            factory,
            regions: config.regions.clone(),
            resolving,
            fixed,
            organization,
            names,
            targets,
        };
        accounts.publish();
        Ok(accounts)
    }

    /// Every account watched now: the fixed ones, then the members.
    fn watched(&self) -> Vec<Watched> {
        let mut all = self.fixed.clone();
        if let Some(org) = &self.organization {
            all.extend(org.members().values().cloned());
        }
        all
    }

    fn all(&self) -> Vec<Arc<Account>> {
        self.watched().into_iter().map(|w| w.account).collect()
    }

    /// Sends the current targets to the scheduler. Each account keeps its
    /// targets for life, so the scheduler recognises the ones it has seen.
    fn publish(&self) {
        let targets: Vec<Target<AwsClients>> = self
            .watched()
            .into_iter()
            .flat_map(|watched| watched.targets)
            .collect();
        self.targets.send_replace(Arc::new(targets));
    }

    /// The daemon's targets, every account in every region, updated as the
    /// organisation changes: an account is resolved when an evaluation first
    /// needs it, and retried until it is.
    pub fn targets(&self) -> TargetSet<AwsClients> {
        TargetSet::watch(self.targets.subscribe())
    }

    /// How often the organisation is re-read, if one is watched.
    pub fn refresh_every(&self) -> Option<Duration> {
        self.organization.as_ref().map(|org| org.config.refresh)
    }

    /// Re-reads the organisation's accounts (Organizations ListAccounts, every
    /// page, with the home account's credentials) and updates the targets.
    /// A failure changes nothing: an account is never dropped because the
    /// list could not be read.
    pub async fn refresh_organization(&self) -> Result<Refreshed, String> {
        let Some(org) = &self.organization else {
            return Ok(Refreshed::default());
        };
        let home = org.home.resolve(true).await?;
        let region = self.regions.first().cloned().unwrap_or_default();
        let organizations = match (&home.organizations, home.clients.get(&region)) {
            (Some(own), _) => Arc::clone(own),
            (None, Some(clients)) => Arc::clone(&clients.organizations),
            (None, None) => return Err(format!("region {region} has no clients")),
        };
        let listed: Vec<OrgAccount> =
            collect_all(Listing::new("organizations", "ListAccounts"), |token| {
                organizations.list_accounts(token)
            })
            .await
            .map_err(|err| format!("cannot list the organisation's accounts: {err}"))?;
        // An ID that is not 12 digits cannot be an account: skipped, so it
        // never stands for a role ARN nor keeps the scopes from being known.
        let active: Vec<&OrgAccount> = listed
            .iter()
            .filter(|a| a.is_active())
            .filter(|a| {
                let valid = crate::config::is_account_id(&a.id);
                if !valid {
                    tracing::warn!(id = %a.id, "ListAccounts listed an invalid account ID; skipped");
                }
                valid
            })
            .collect();
        // Accounts of the config are watched as the config says, never twice:
        // their IDs first (a profile's is known only once STS has answered).
        futures::future::join_all(self.fixed.iter().map(|w| w.account.resolve(true))).await;
        let configured: BTreeSet<String> = self
            .fixed
            .iter()
            .filter_map(|w| w.account.known_id())
            .collect();

        let wanted: BTreeMap<&str, &OrgAccount> = active
            .iter()
            .filter(|a| org.config.include.is_empty() || org.config.include.contains(&a.id))
            .filter(|a| !org.config.exclude.contains(&a.id))
            .filter(|a| !configured.contains(&a.id))
            .map(|a| (a.id.as_str(), *a))
            .collect();
        // The names of the home account and of the members watched; a
        // configured account keeps the config's name, and an excluded one
        // is not listed at all.
        let home_id = org.home.known_id();
        for account in &active {
            let watched = home_id.as_deref() == Some(account.id.as_str())
                || wanted.contains_key(account.id.as_str());
            if let (true, Some(name)) = (watched, account.name.as_deref()) {
                (self.names)(&account.id, Some(name));
            }
        }
        let mut change = Refreshed {
            listed: active.len(),
            ..Refreshed::default()
        };
        {
            let mut members = org.members();
            let gone: Vec<String> = members
                .keys()
                .filter(|id| !wanted.contains_key(id.as_str()))
                .cloned()
                .collect();
            for id in gone {
                if let Some(member) = members.remove(&id) {
                    member
                        .account
                        .retired
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if !configured.contains(&id) {
                    (self.names)(&id, None);
                }
                change.removed.push(id);
            }
            for (id, account) in &wanted {
                if members.contains_key(*id) {
                    continue;
                }
                let spec = AccountSpec {
                    name: account.name.clone().unwrap_or_else(|| (*id).to_owned()),
                    role_arn: Some(format!(
                        "arn:{}:iam::{id}:role/{}",
                        partition(account),
                        org.config.role_name
                    )),
                    external_id: org.config.external_id.as_ref().map(|e| e.expose().clone()),
                    profile: None,
                };
                let member = Watched::new(Account::new(
                    spec,
                    self.factory.clone(),
                    &self.regions,
                    &self.resolving,
                    false,
                    Some(Arc::clone(&org.sweeps)),
                    None,
                ));
                members.insert((*id).to_owned(), member);
                change.added.push((*id).to_owned());
            }
        }
        if !change.added.is_empty() || !change.removed.is_empty() {
            let ids: Vec<String> = org.members().keys().cloned().collect();
            for sweep in org.sweeps.values() {
                sweep.set_members(ids.clone());
            }
            self.publish();
        }
        org.read_once
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(change)
    }

    /// Every watched (account ID, region), when every account's ID is known
    /// (resolved, or named by its role ARN); `None` while one is not,
    /// because an account that has not answered yet cannot be told apart
    /// from one that is no longer configured.
    pub fn configured_scopes(&self) -> Option<Vec<Scope>> {
        if let Some(org) = &self.organization {
            if !org.read_once.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
        }
        let mut scopes = Vec::new();
        for account in self.all() {
            let id = account.known_id()?;
            for region in &self.regions {
                scopes.push(Scope::new(id.clone(), region));
            }
        }
        Some(scopes)
    }

    /// The (account ID, region) scopes that see the organisation: the home
    /// account's, once it has resolved.
    pub fn organization_scopes(&self) -> Vec<Scope> {
        self.all()
            .iter()
            .filter(|a| a.sees_organization)
            .filter_map(|a| a.known_id())
            .flat_map(|id| self.regions.iter().map(move |r| Scope::new(id.clone(), r)))
            .collect()
    }

    /// After [`resolve_once`](Self::resolve_once): the one problem to report
    /// when no account could be resolved because the credentials themselves
    /// are missing or rejected by STS, instead of an `error` per scope. An
    /// account whose role cannot be assumed is that account's problem, not
    /// this one, and leaves its evaluations to say so.
    pub async fn credentials_problem(&self) -> Option<CredentialsProblem> {
        let mut problem = None;
        for account in self.all() {
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

    /// `check`'s targets: the organisation read once (a failure is returned
    /// and the listed accounts are still checked), then every account
    /// resolved once, concurrently, and that outcome kept. An account that
    /// cannot be resolved still yields targets, whose evaluations read
    /// `error` with the reason: one unreachable account must neither stop the
    /// others nor pass silently.
    pub async fn resolve_once(&self) -> (Vec<Target<AwsClients>>, Option<String>) {
        let discovery = self.refresh_organization().await.err();
        let accounts = self.all();
        let outcomes =
            futures::future::join_all(accounts.iter().map(|account| account.resolve(false))).await;
        let mut targets = Vec::new();
        for (account, outcome) in accounts.iter().zip(outcomes) {
            for region in &self.regions {
                let resolved = account.in_region(outcome.clone(), region);
                let target = Target::fixed(resolved.scope, resolved.clients);
                targets.push(if account.sees_organization {
                    target.seeing_organization()
                } else {
                    target
                });
            }
        }
        (targets, discovery)
    }
}

impl Organization {
    fn members(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Watched>> {
        // Plain map updates: a panic elsewhere cannot leave one half done.
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The partition of an account's ARN (`arn:aws-us-gov:organizations::…`),
/// `aws` when it has none.
fn partition(account: &OrgAccount) -> &str {
    account
        .arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
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
    /// Whether this is the home account of an organisation.
    sees_organization: bool,
    /// Set when the account is no longer watched (it left the organisation):
    /// an activation already running skips its targets.
    retired: std::sync::atomic::AtomicBool,
    /// Told the account's (ID, name) once STS has given the ID, for an
    /// account named in the config; a member's name comes from Organizations.
    names: Option<NameSink>,
    /// With an organisation, each region's sweep of member statuses: the
    /// home account's Inspector2 client feeds them, a member's reads them.
    sweeps: Option<Sweeps>,
}

/// How long the organisation rule's evaluations in an account's regions
/// share one ListAccounts listing: they run within seconds of each other.
const SHARED_LISTING_TTL: Duration = Duration::from_secs(60);

/// Each region's [`StatusSweep`].
type Sweeps = Arc<BTreeMap<String, Arc<StatusSweep>>>;

/// How long one sweep of member statuses through the administrator is
/// reused: statuses change when someone enables or disables Inspector,
/// rarely within minutes.
const SWEEP_TTL: Duration = Duration::from_secs(300);

/// A watched account and its targets, one per region, made once: the
/// scheduler tells the targets it has evaluated from new ones by their
/// identity. The targets hold the account; dropping this (the account left)
/// ends them once any evaluation in flight has finished.
#[derive(Clone)]
struct Watched {
    account: Arc<Account>,
    targets: Vec<Target<AwsClients>>,
}

impl Watched {
    fn new(account: Account) -> Watched {
        let account = Arc::new(account);
        let targets = account
            .regions
            .iter()
            .map(|region| {
                let target = Target::new(Arc::new(AccountRegion {
                    account: Arc::clone(&account),
                    region: region.clone(),
                }));
                if account.sees_organization {
                    target.seeing_organization()
                } else {
                    target
                }
            })
            .collect();
        Watched { account, targets }
    }
}

/// A resolved account: its ID and one client bundle per region.
struct Ready {
    account_id: String,
    clients: BTreeMap<String, Arc<AwsClients>>,
    /// The home account's own Organizations client, which discovery reads
    /// (the rules' clients share a listing for a minute; discovery must
    /// see a joining account as soon as Organizations lists it).
    organizations: Option<Arc<dyn OrganizationsApi>>,
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
        sees_organization: bool,
        sweeps: Option<Sweeps>,
        names: Option<NameSink>,
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
            sees_organization,
            retired: std::sync::atomic::AtomicBool::new(false),
            sweeps,
            names,
        }
    }

    /// The account ID its evaluations are recorded under, if it is known:
    /// the one STS gave, or the one its role ARN names.
    fn known_id(&self) -> Option<String> {
        match self.resolved.get() {
            Some(ready) => Some(ready.account_id.clone()),
            None => self
                .spec
                .role_arn
                .as_deref()
                .and_then(role_arn_account_id)
                .map(str::to_owned),
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
                let mut bundles: Vec<(String, AwsClients)> = self
                    .regions
                    .iter()
                    .map(|region| (region.clone(), self.factory.clients(&account, region)))
                    .collect();
                // The home account's Organizations listing, one for all its
                // regions (Organizations is global); discovery keeps the
                // client itself.
                let organizations: Option<Arc<dyn OrganizationsApi>> = self
                    .sees_organization
                    .then(|| bundles.first().map(|(_, c)| Arc::clone(&c.organizations)))
                    .flatten();
                let shared: Option<Arc<dyn OrganizationsApi>> = organizations.as_ref().map(|own| {
                    Arc::new(SharedListing::new(Arc::clone(own), SHARED_LISTING_TTL))
                        as Arc<dyn OrganizationsApi>
                });
                for (region, clients) in &mut bundles {
                    if let Some(shared) = &shared {
                        clients.organizations = Arc::clone(shared);
                    }
                    if let Some(sweep) = self.sweeps.as_ref().and_then(|s| s.get(region)) {
                        if self.sees_organization {
                            sweep.set_admin(Arc::clone(&clients.inspector2));
                        } else {
                            clients.inspector2 = Arc::new(ViaAdministrator::new(
                                Arc::clone(&clients.inspector2),
                                account.account_id.clone(),
                                Arc::clone(sweep),
                            ));
                        }
                    }
                }
                let clients = bundles
                    .into_iter()
                    .map(|(region, clients)| (region, Arc::new(clients)))
                    .collect();
                if let Some(names) = &self.names {
                    names(&account.account_id, Some(&self.spec.name));
                }
                Ok(self.resolved.get_or_init(|| Ready {
                    account_id: account.account_id,
                    clients,
                    organizations,
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
             \x20 - give it read-only access:   deploy/iam/blindspot-policy.json (README, \"Against your AWS account\")\n\
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
pub fn backoff(failures: u32) -> Duration {
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

    fn retired(&self) -> bool {
        self.account
            .retired
            .load(std::sync::atomic::Ordering::SeqCst)
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
