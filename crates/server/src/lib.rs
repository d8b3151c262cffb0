//! blindspot-server owns the daemon's HTTP face: liveness (`/healthz`),
//! readiness (`/readyz`), Prometheus metrics (`/metrics`), the JSON API under
//! `/api/v1` and the on-call dashboard (`/`).
//!
//! It is the only crate that knows axum and HTML. It reads through the
//! [`Store`] and [`Control`] traits only, so it never knows SQL or how the
//! scheduler works, and every handler is testable with in-memory fakes.
//!
//! [`serve`] runs its own accept loop on hyper rather than `axum::serve`,
//! because `axum::serve` has neither a header-read timeout nor a connection
//! cap: it holds at most [`ServerConfig::max_connections`] connections and
//! closes any that sends no complete request head within
//! [`ServerConfig::header_read_timeout`] (idle keep-alive connections too).
//! Every request's Host must be one of this server's names (see `host`).
//!
//! # Layout
//! - [`ServerConfig`], [`AppState`], [`app`], [`serve`]: the entry points the
//!   binary calls.
//! - [`AccountNames`] (`accounts`): the directory of account names the binary
//!   feeds and the API, dashboard and `blindspot_account_info` read.
//! - `host`: the Host allow-list against DNS rebinding (421 otherwise).
//! - `routes`: the route table; the OpenAPI test reads it, so the document
//!   (`docs/openapi.json`) and the router cannot drift apart.
//! - `api`: the JSON API handlers, readiness and health.
//! - `error`: [`ApiError`], the one JSON error shape, and the middleware that
//!   turns any non-JSON error response (404, 405, 413, timeouts) into it.
//! - `auth`: bearer-token checks for the one mutating endpoint.
//! - [`metrics`]: the Prometheus exposition, built per scrape from the store
//!   (and still served, without the store's families, when the store cannot
//!   be read), the [`EvaluationCounter`] the scheduler feeds and the
//!   [`StoreErrorCounter`] it carries.
//! - `dashboard.html`: the self-contained dashboard, embedded at compile time.

mod accounts;
mod api;
mod auth;
mod error;
mod host;
pub mod metrics;
mod routes;

use axum::http::{Request, StatusCode};
use axum::Router;
use blindspot_core::CallCounter;
use blindspot_engine::Control;
use blindspot_store::Store;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use accounts::AccountNames;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use host::{check_allowed_host, InvalidAllowedHost};
pub use metrics::{EvaluationCounter, StoreErrorCounter};
pub use routes::{route_table, RouteSpec};

/// The default listen address: loopback only, because the API is unauthenticated
/// for reads and the operator must opt in to exposing it.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9477);

/// How the HTTP server listens and what it tolerates.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; default `127.0.0.1:9477`.
    pub listen: SocketAddr,
    /// The bearer token for `POST` endpoints, already read from file or
    /// environment by the binary. `None` (or empty) disables `POST`.
    pub api_token: Option<String>,
    /// A request taking longer is answered with a JSON 503.
    pub request_timeout: Duration,
    /// Larger request bodies are answered with a JSON 413.
    pub max_body_bytes: usize,
    /// Host names (or IP addresses) this server answers to besides
    /// `localhost`, loopback IPs and the IP a connection arrived on; default
    /// empty. Requests naming any other host get a JSON 421, which stops web
    /// pages from reading the API through DNS rebinding. Entries are names
    /// or IPs without scheme or port (any port matches); names compare
    /// case-insensitively. List every name clients use, e.g. the DNS name
    /// Prometheus scrapes or the name a reverse proxy forwards.
    pub allowed_hosts: Vec<String>,
    /// A connection that has not sent a complete request head this long after
    /// it opened, or after its previous response, is closed; default 10 s.
    /// This bounds both slow clients (half a request line) and idle
    /// keep-alive connections, so a held connection frees its slot of
    /// [`max_connections`](Self::max_connections) within this time.
    pub header_read_timeout: Duration,
    /// At most this many connections are served at once; default 1024. At the
    /// cap the server stops accepting until a connection closes: new clients
    /// wait in the kernel's listen backlog instead of being refused, and are
    /// served as soon as a slot frees (idle ones free theirs within
    /// [`header_read_timeout`](Self::header_read_timeout)). Keep the process's
    /// open-file limit well above it (the systemd unit sets 4096).
    pub max_connections: usize,
}

/// A [`ServerConfig`] that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerConfigError {
    /// An `allowed_hosts` entry is not a host name or IP address.
    #[error(transparent)]
    AllowedHost(#[from] InvalidAllowedHost),
    /// `max_connections` is zero, which would never accept a connection.
    #[error("max_connections must be at least 1")]
    NoConnections,
    /// `header_read_timeout` is zero, which would close every connection.
    #[error("header_read_timeout must be longer than zero")]
    NoHeaderReadTimeout,
}

impl ServerConfig {
    /// Checks the values [`serve`] cannot work with, so the binary can report
    /// them as configuration errors before starting.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        for entry in &self.allowed_hosts {
            check_allowed_host(entry)?;
        }
        if self.max_connections == 0 {
            return Err(ServerConfigError::NoConnections);
        }
        if self.header_read_timeout.is_zero() {
            return Err(ServerConfigError::NoHeaderReadTimeout);
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            api_token: None,
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
            allowed_hosts: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// What every handler shares. Cheap to clone: everything is behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    /// The findings store (synchronous; handlers call it on a blocking thread).
    pub store: Arc<dyn Store>,
    /// The running scheduler.
    pub control: Arc<dyn Control>,
    /// Outbound AWS call counters, exported as `blindspot_aws_requests_total`.
    pub calls: CallCounter,
    /// Finished evaluations by rule and status, exported as
    /// `blindspot_evaluations_total`; the binary feeds it from the scheduler.
    /// Its [`EvaluationCounter::store_errors`] is exported as
    /// `blindspot_store_errors_total`, and the server adds its own failed
    /// store reads to it.
    pub evaluations: EvaluationCounter,
    /// The bearer token for `POST` endpoints; `None` or empty disables them.
    pub api_token: Option<String>,
    /// Account names by ID, fed by the binary as it discovers and resolves
    /// accounts; shown beside every account ID in the API and the dashboard
    /// and exported as `blindspot_account_info{account,name}`.
    pub accounts: AccountNames,
    /// The daemon's version, exported as `blindspot_build_info{version}`.
    pub version: &'static str,
    /// The git commit it was built from (`unknown` outside a git checkout),
    /// exported as `blindspot_build_info{commit}`.
    pub commit: &'static str,
    /// The UTC date it was built (`YYYY-MM-DD`), exported as
    /// `blindspot_build_info{build_date}`.
    pub build_date: &'static str,
}

impl AppState {
    /// The configured token, if it is usable. An empty token would accept
    /// `Authorization: Bearer ` and is therefore treated as no token.
    pub(crate) fn token(&self) -> Option<&str> {
        self.api_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}

/// The router with the default limits (64 KiB bodies, 10 s per request) and
/// Host allow-list (loopback names only). Testable without a socket through
/// `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    app_with_config(state, &ServerConfig::default())
}

/// The router with the limits and Host allow-list from `config`.
/// `config.api_token` is not read here: the token is the one in `state` (see
/// [`serve`]). The connection limits apply only in [`serve`].
pub fn app_with_config(state: AppState, config: &ServerConfig) -> Router {
    let allowed_hosts = Arc::new(host::AllowedHosts::new(
        &config.allowed_hosts,
        config.listen,
    ));
    let mut router = Router::new();
    for route in route_table() {
        router = router.route(route.path, route.handler);
    }
    router
        .fallback(error::unknown_route)
        .with_state(state)
        // Layers wrap from the inside out: the body limit and timeout sit
        // inside the JSON-error mapping so their plain-text answers (413, the
        // timeout status) are turned into the JSON error shape as well.
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(axum::middleware::from_fn(error::json_errors))
        // Outside everything else, so a request for a foreign host does no
        // work at all; it renders its own JSON 421.
        .layer(axum::middleware::from_fn_with_state(
            allowed_hosts,
            host::check,
        ))
        // The default span records method and URI only, never headers, so
        // bearer tokens never reach the log.
        .layer(TraceLayer::new_for_http())
}

/// Serves the app on `listener` until `shutdown` completes. Then it stops
/// accepting, closes idle connections, and lets in-flight requests finish and
/// their connections close (the caller bounds that with its own grace limit).
///
/// Connections are HTTP/1.1 with keep-alive, at most
/// [`ServerConfig::max_connections`] at once, each closed when it does not
/// send a request head within [`ServerConfig::header_read_timeout`]. Fails at
/// once with `InvalidInput` if `config` does not [`validate`](ServerConfig::validate).
///
/// The token is `config.api_token` when set, otherwise `state.api_token`, so a
/// binary may set either.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    if config.api_token.is_some() {
        state.api_token = config.api_token.clone();
    }
    if state.token().is_none() {
        tracing::info!("no API token configured: POST endpoints are disabled");
    }
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP server listening");
    }
    let router = app_with_config(state, config);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut cap_warned: Option<Instant> = None;
    loop {
        // A slot first, then a connection: at the cap nothing is accepted, so
        // new clients wait in the listen backlog rather than holding a file
        // descriptor each, and are served in order as slots free.
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if cap_warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    cap_warned = Some(Instant::now());
                    tracing::warn!(
                        max_connections = config.max_connections,
                        "connection cap reached; new connections wait until one closes"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => tokio::select! {
                    () = &mut shutdown => break,
                    () = accept_error(err) => continue,
                },
            },
        };
        // The Host allow-list accepts the IP the client connected to.
        let local = stream.local_addr().ok().map(host::LocalAddr);
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                if let Some(local) = local {
                    request.extensions_mut().insert(local);
                }
                request
            });
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                // Header-read timeouts and clients that hang up mid-request.
                tracing::debug!(%peer, error = %err, "connection closed with an error");
            }
            drop(slot);
        });
    }
    // Refuse new connections from here on, then wait for the open ones:
    // idle connections close now, busy ones after their response.
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors from `accept` that concern one connection are skipped. Others, such
/// as running out of file descriptors (EMFILE), would repeat at once, so the
/// loop pauses a second; connections closing meanwhile free descriptors.
async fn accept_error(err: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept connections; retrying in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Binds `config.listen` and [`serve`]s on it.
pub async fn run(
    state: AppState,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    serve(listener, state, config, shutdown).await
}
