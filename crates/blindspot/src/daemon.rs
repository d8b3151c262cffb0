//! `blindspot run` and `blindspot demo`: the scheduler, the store and the HTTP
//! server, wired together and stopped together.

use anyhow::Context as _;
use blindspot_core::{CallCounter, Reach, Scope};
use blindspot_engine::scheduler::{Retention, ScheduledRule, Scheduler, SchedulerOptions};
use blindspot_engine::RuleSchedule;
use blindspot_server::{AppState, EvaluationCounter, ServerConfig};
use blindspot_store::{SqliteStore, Store};
use chrono::Utc;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::{Config, ConfigError, ServerSection};
use crate::Format;

/// A future that resolves when SIGTERM or Ctrl-C (SIGINT) arrives.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a caller that prints "listening" after calling it can be
/// stopped gracefully at once, instead of by the default action of a signal
/// that came before the handler (a test, or systemd, may be that quick).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        [SignalKind::terminate(), SignalKind::interrupt()].map(|kind| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(err) => {
                tracing::error!(error = %err, ?kind, "cannot listen for the signal");
                None
            }
        })
    };
    async move {
        #[cfg(unix)]
        {
            let [terminate, interrupt] = handlers;
            let wait = |handler: Option<tokio::signal::unix::Signal>| async move {
                match handler {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate) => {},
                () = wait(interrupt) => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown requested");
    }
}

/// Reads the API token from the file or variable named in `[server]`. A
/// token that cannot be read is a config error (exit 4): the daemon must not
/// start with its POST endpoints silently disabled.
fn api_token(server: &ServerSection) -> Result<Option<String>, ConfigError> {
    let unusable = |key, message| ConfigError::Unusable { key, message };
    let (key, token) = match (&server.token_file, &server.token_env) {
        (Some(path), _) => (
            "server.token_file",
            std::fs::read_to_string(path).map_err(|err| {
                unusable(
                    "server.token_file",
                    format!("cannot read {}: {err}", path.display()),
                )
            })?,
        ),
        (None, Some(var)) => (
            "server.token_env",
            std::env::var(var).map_err(|_| {
                unusable(
                    "server.token_env",
                    format!("names `{var}`, which is not set or not UTF-8"),
                )
            })?,
        ),
        (None, None) => return Ok(None),
    };
    match token.trim() {
        "" => Err(unusable(key, "the API token is empty".into())),
        token => Ok(Some(token.to_owned())),
    }
}

/// Runs the daemon on `[server] listen` until SIGTERM or Ctrl-C. `token`
/// overrides `[server]`'s token source.
pub async fn run(config: Config, token: Option<String>) -> anyhow::Result<()> {
    let token = match token {
        Some(t) => Some(t),
        None => api_token(&config.server)?,
    };
    // Bind before anything slow, so a port conflict fails fast.
    let listener = bind(config.server.listen).await?;
    run_with_listener(config, token, listener).await
}

/// Binds the HTTP listener; a failure is exit 5, with the address.
async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Runs the daemon on an already bound listener (`[server] listen` is not
/// read) until SIGTERM or Ctrl-C. `token` is the API token itself, already
/// read (`run` reads `[server]`'s; the demo makes one up).
///
/// Nothing here waits for AWS: the HTTP server (`/healthz`) answers as soon
/// as the store is open, and accounts are resolved by the first evaluations
/// that need them (see `crate::aws`); `/readyz` says not ready until every
/// rule has completed an activation.
pub async fn run_with_listener(
    config: Config,
    token: Option<String>,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let path: PathBuf = config
        .store
        .path
        .clone()
        .unwrap_or_else(blindspot_store::default_db_path);
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&path)
            .with_context(|| format!("cannot open the store at {}", path.display()))?,
    );
    tracing::info!(path = %path.display(), "store opened");

    let addr = listener.local_addr()?;

    let calls = CallCounter::default();
    // Accounts are resolved by the evaluations that need them, not here: the
    // server answers at once, and an account that fails is retried.
    let names = blindspot_server::AccountNames::default();
    let accounts = Arc::new(
        crate::aws::Accounts::new(&config.aws, calls.clone(), crate::aws::name_sink(&names))
            .await?,
    );
    let targets = accounts.targets();
    let evaluations = EvaluationCounter::default();
    let hook_counter = evaluations.clone();
    let rules: Vec<ScheduledRule<blindspot_aws::AwsClients>> =
        blindspot_rules::all_rules(&config.rules)
            .into_iter()
            .filter(|e| e.scheduling.enabled)
            .map(|e| ScheduledRule {
                rule: e.rule,
                schedule: RuleSchedule {
                    interval: e.scheduling.interval,
                    timeout: e.scheduling.timeout,
                },
            })
            .collect();
    let enabled_rules: Vec<(String, Reach)> = rules
        .iter()
        .map(|r| (r.rule.meta().id.to_owned(), r.rule.meta().reach))
        .collect();
    let options = SchedulerOptions {
        concurrency: config.aws.concurrency,
        per_rule_concurrency: config.scheduler.per_rule_concurrency,
        // One account alone has nobody to starve: all permits, unless set.
        per_account_concurrency: config.scheduler.per_account_concurrency.or((config
            .aws
            .organization
            .is_none()
            && config.aws.accounts.len() <= 1)
            .then_some(config.aws.concurrency)),
        jitter: config.scheduler.jitter,
        shutdown_grace: config.scheduler.shutdown_grace,
        retention: Some(Retention {
            resolved_findings: config.store.retain_resolved,
            evaluations: config.store.retain_evaluations,
            ..Retention::default()
        }),
        on_evaluation: Some(Arc::new(move |evaluation, change| {
            // An evaluation the store lost is not an `ok` one to anybody
            // reading the dashboard; count it as what happened.
            match change {
                Ok(_) => hook_counter.record(&evaluation.rule, evaluation.status),
                Err(_) => hook_counter.record_write_failure(&evaluation.rule),
            }
            match change {
                Ok(change) => tracing::info!(
                    rule = %evaluation.rule,
                    account = %evaluation.scope.account,
                    region = %evaluation.scope.region,
                    status = evaluation.status.as_str(),
                    error = evaluation.error.as_deref().unwrap_or(""),
                    findings = evaluation.findings.len(),
                    opened = change.opened,
                    reopened = change.reopened,
                    resolved = change.resolved,
                    "evaluation recorded"
                ),
                Err(err) => tracing::error!(
                    rule = %evaluation.rule,
                    error = %err,
                    "evaluation could not be recorded"
                ),
            }
        })),
    };
    let scheduler = Scheduler::new(rules, targets, Arc::clone(&store), options)?;
    let withdrawals = tokio::spawn(withdraw_findings(
        Arc::clone(&store),
        Arc::clone(&accounts),
        enabled_rules.clone(),
        config.store.withdraw_unavailable_after,
        evaluations.store_errors(),
    ));
    let organization = tokio::spawn(follow_organization(
        Arc::clone(&store),
        Arc::clone(&accounts),
        enabled_rules,
        evaluations.store_errors(),
    ));
    let state = AppState {
        accounts: names,
        store,
        control: scheduler.control(),
        calls,
        evaluations,
        api_token: token,
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("BLINDSPOT_GIT_COMMIT"),
        build_date: env!("BLINDSPOT_BUILD_DATE"),
    };
    let server_config = ServerConfig {
        listen: addr,
        api_token: None,
        request_timeout: config.server.request_timeout,
        allowed_hosts: config.server.allowed_hosts.clone(),
        header_read_timeout: config.server.header_read_timeout,
        max_connections: config.server.max_connections,
        ..ServerConfig::default()
    };

    // Installed before the address is printed: whoever reads it may stop us.
    let stop_signal = shutdown_signal();
    println!("blindspot listening on http://{addr}/");
    // One signal fans out to the scheduler and the server.
    let (stop_tx, stop_rx) = watch::channel(false);
    let server_stop = wait_for(stop_rx.clone());
    let server = tokio::spawn(async move {
        blindspot_server::serve(listener, state, &server_config, server_stop).await
    });
    let signal = tokio::spawn(async move {
        stop_signal.await;
        let _ = stop_tx.send(true);
    });
    let report = scheduler.run(wait_for(stop_rx)).await;
    signal.abort();
    withdrawals.abort();
    organization.abort();
    tracing::info!(?report, "scheduler stopped");
    // The server drains in-flight requests; bound it like the scheduler.
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => return Err(err).context("HTTP server failed"),
        Ok(Err(err)) => anyhow::bail!("HTTP server task failed: {err}"),
        Err(_) => tracing::warn!("HTTP server did not drain within 5s"),
    }
    Ok(())
}

/// How often the start-up withdrawal looks whether every account has
/// resolved, and how often long-unavailable scopes are looked for.
const WITHDRAW_POLL: Duration = Duration::from_secs(2);
const WITHDRAW_UNAVAILABLE_EVERY: Duration = Duration::from_secs(3600);

/// Gives findings an end, in the background, for as long as the daemon runs:
/// once every account has resolved, the open findings of scopes no longer
/// configured (a rule disabled, an account or region removed, or an
/// account's placeholder scope from before it resolved) are withdrawn; then,
/// hourly, those of scopes `unavailable` for longer than `unavailable_after`.
/// Withdrawn is not resolved: nothing was fixed, the scope is no longer
/// watched. `error` never withdraws anything.
async fn withdraw_findings(
    store: Arc<dyn Store>,
    accounts: Arc<crate::aws::Accounts>,
    rules: Vec<(String, Reach)>,
    unavailable_after: Duration,
    errors: blindspot_server::StoreErrorCounter,
) {
    let configured = loop {
        if let Some(configured) = configured_scopes(&accounts, &rules) {
            break configured;
        }
        tokio::time::sleep(WITHDRAW_POLL).await;
    };
    withdraw_unconfigured(
        &store,
        configured,
        "no longer configured (rule disabled, or account or region removed)",
        &errors,
    )
    .await;
    // Hourly is plenty against a 7-day limit; a short limit (tests, or an
    // operator who wants it) is checked a few times within it.
    let period = (unavailable_after / 4).clamp(Duration::from_secs(1), WITHDRAW_UNAVAILABLE_EVERY);
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let writer = Arc::clone(&store);
        let withdrawn = tokio::task::spawn_blocking(move || {
            writer.withdraw_unavailable(unavailable_after, Utc::now())
        })
        .await;
        match withdrawn {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(
                withdrawn = n,
                after = %humantime::format_duration(unavailable_after),
                "withdrew the findings of long-unavailable scopes"
            ),
            Ok(Err(err)) => {
                errors.record(blindspot_server::StoreErrorCounter::WITHDRAW);
                tracing::error!(error = %err, "cannot withdraw the findings of unavailable scopes");
            }
            Err(err) => tracing::error!(error = %err, "withdrawing findings panicked"),
        }
    }
}

/// Every (rule, account, region) evaluated now, once every account's ID is
/// known: a rule of [`Reach::Organization`] only where the organisation is
/// seen.
fn configured_scopes(
    accounts: &crate::aws::Accounts,
    rules: &[(String, Reach)],
) -> Option<BTreeSet<(String, Scope)>> {
    let scopes = accounts.configured_scopes()?;
    let organization = accounts.organization_scopes();
    Some(
        rules
            .iter()
            .flat_map(|(rule, reach)| {
                let scopes = match reach {
                    Reach::Account => &scopes,
                    Reach::Organization => &organization,
                };
                scopes.iter().map(move |s| (rule.clone(), s.clone()))
            })
            .collect(),
    )
}

/// Withdraws the open findings of every scope outside `configured`.
async fn withdraw_unconfigured(
    store: &Arc<dyn Store>,
    configured: BTreeSet<(String, Scope)>,
    reason: &'static str,
    errors: &blindspot_server::StoreErrorCounter,
) {
    let writer = Arc::clone(store);
    let withdrawn = tokio::task::spawn_blocking(move || {
        writer.withdraw_unconfigured(&configured, reason, Utc::now())
    })
    .await;
    match withdrawn {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(
            withdrawn = n,
            reason,
            "withdrew the findings of unconfigured scopes"
        ),
        Ok(Err(err)) => {
            errors.record(blindspot_server::StoreErrorCounter::WITHDRAW);
            tracing::error!(error = %err, "cannot withdraw the findings of unconfigured scopes");
        }
        Err(err) => tracing::error!(error = %err, "withdrawing findings panicked"),
    }
}

/// Re-reads the organisation every `aws.organization.refresh` (after a
/// failure, sooner: 5 s doubling up to 5 min, never later than the refresh),
/// so a new account is watched without a restart; the findings of an
/// account that left, closed or was excluded are withdrawn with that reason.
async fn follow_organization(
    store: Arc<dyn Store>,
    accounts: Arc<crate::aws::Accounts>,
    rules: Vec<(String, Reach)>,
    errors: blindspot_server::StoreErrorCounter,
) {
    let Some(refresh) = accounts.refresh_every() else {
        return;
    };
    let mut failures: u32 = 0;
    loop {
        let wait = match accounts.refresh_organization().await {
            Ok(change) => {
                failures = 0;
                tracing::info!(
                    active = change.listed,
                    added = change.added.len(),
                    removed = change.removed.len(),
                    "organisation accounts read"
                );
                if !change.removed.is_empty() {
                    tracing::info!(accounts = ?change.removed, "accounts no longer watched");
                }
                // After every successful read, not only when an account left:
                // one whose findings came back from an evaluation that was
                // already running, or whose withdrawal failed, is withdrawn
                // at the next refresh.
                if let Some(configured) = configured_scopes(&accounts, &rules) {
                    withdraw_unconfigured(
                        &store,
                        configured,
                        "no longer watched: the account left the organisation, is no longer \
                         ACTIVE or was excluded, or its rule or region was removed",
                        &errors,
                    )
                    .await;
                }
                refresh
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let wait = crate::aws::backoff(failures).min(refresh);
                tracing::error!(
                    error = %err,
                    attempt = failures,
                    retry_after = %humantime::format_duration(wait),
                    "cannot read the organisation's accounts; watching those known so far"
                );
                wait
            }
        };
        tokio::time::sleep(wait).await;
    }
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `blindspot demo`: the simulated AWS with a scenario, and blindspot against
/// it. `listen` is the `--listen` the user gave: without one, the default
/// address, or a free port beside it when that is taken.
pub async fn demo(
    scenario: blindspot_sim::Scenario,
    listen: Option<SocketAddr>,
    once: bool,
    format: Format,
) -> anyhow::Result<u8> {
    let mut regions: Vec<String> = scenario.regions.iter().map(|r| r.region.clone()).collect();
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(
            blindspot_sim::ScenarioError::Invalid("the scenario has no regions".into()).into(),
        );
    }
    // The listener first: a port conflict is told before anything starts.
    let listener = if once {
        None
    } else {
        Some(demo_listener(listen).await?)
    };
    let sim = blindspot_sim::SimServer::start(scenario)
        .await
        .context("cannot start the simulated AWS")?;
    eprintln!("simulated AWS listening on {}", sim.endpoint());

    let mut config = Config::default();
    config.aws.regions = regions;
    config.aws.endpoint_url = Some(sim.endpoint());
    // The simulator answers at once; a short timeout keeps a bug from hanging the demo.
    config.aws.operation_timeout = Duration::from_secs(20);
    let Some(listener) = listener else {
        return crate::check::run(&config, &[], format, blindspot_core::Severity::Low).await;
    };

    config.server.listen = listener.local_addr()?;
    // Short intervals so the demo shows the lifecycle within minutes.
    config.rules = config.rules.with_demo_intervals();
    config.scheduler.jitter = Duration::from_secs(2);
    config.scheduler.shutdown_grace = Duration::from_secs(5);
    let dir = std::env::temp_dir().join(format!("blindspot-demo-{}", std::process::id()));
    config.store.path = Some(dir.join("blindspot.db"));
    let token = demo_token();
    println!("demo API token (for \"run now\"): {token}");
    println!("press Ctrl-C to stop");
    let result = run_with_listener(config, Some(token), listener).await;
    let _ = std::fs::remove_dir_all(&dir);
    sim.shutdown().await;
    result.map(|()| crate::exit::OK)
}

/// The demo's listener: `--listen` if given (a failure to bind it is exit
/// 5), else the default address, or a free port on its IP when another
/// program (say, another demo) holds it, so a newcomer's first command works.
async fn demo_listener(listen: Option<SocketAddr>) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(addr) = listen {
        return bind(addr).await;
    }
    let default = ServerSection::default().listen;
    match tokio::net::TcpListener::bind(default).await {
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            let free = bind(SocketAddr::new(default.ip(), 0)).await?;
            eprintln!(
                "port {} is in use; the demo listens on port {} instead (choose one with --listen)",
                default.port(),
                free.local_addr()?.port()
            );
            Ok(free)
        }
        bound => bound.with_context(|| format!("cannot listen on {default}")),
    }
}

/// A throwaway token for the demo's POST endpoints, unguessable enough for a
/// loopback demo without pulling in a CSPRNG dependency for the binary.
fn demo_token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for _ in 0..2 {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
