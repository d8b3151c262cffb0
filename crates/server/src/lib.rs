//! blindspot-server owns the daemon's HTTP face: liveness (`/healthz`),
//! readiness (`/readyz`), Prometheus metrics (`/metrics`), the JSON API under
//! `/api/v1` and the on-call dashboard (`/`).
//!
//! It is the only crate that knows axum and HTML. It reads through the
//! [`Store`] and [`Control`] traits only, so it never knows SQL or how the
//! scheduler works, and every handler is testable with in-memory fakes.
//!
//! # Layout
//! - [`ServerConfig`], [`AppState`], [`app`], [`serve`]: the entry points the
//!   binary calls.
//! - `routes`: the route table; the OpenAPI test reads it, so the document
//!   (`docs/openapi.json`) and the router cannot drift apart.
//! - `api`: the JSON API handlers, readiness and health.
//! - `error`: [`ApiError`], the one JSON error shape, and the middleware that
//!   turns any non-JSON error response (404, 405, 413, timeouts) into it.
//! - `auth`: bearer-token checks for the one mutating endpoint.
//! - [`metrics`]: the Prometheus exposition, built per scrape from the store,
//!   and the [`EvaluationCounter`] the scheduler feeds.
//! - `dashboard.html`: the self-contained dashboard, embedded at compile time.

mod api;
mod auth;
mod error;
pub mod metrics;
mod routes;

use axum::http::StatusCode;
use axum::Router;
use blindspot_core::CallCounter;
use blindspot_engine::Control;
use blindspot_store::Store;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use metrics::EvaluationCounter;
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            api_token: None,
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
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
    pub evaluations: EvaluationCounter,
    /// The bearer token for `POST` endpoints; `None` or empty disables them.
    pub api_token: Option<String>,
    /// The daemon's version, exported as `blindspot_build_info{version}`.
    pub version: &'static str,
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

/// The router with the default limits (64 KiB bodies, 10 s per request).
/// Testable without a socket through `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    app_with_config(state, &ServerConfig::default())
}

/// The router with the limits from `config`. `config.api_token` is not read
/// here: the token is the one in `state` (see [`serve`]).
pub fn app_with_config(state: AppState, config: &ServerConfig) -> Router {
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
        // The default span records method and URI only, never headers, so
        // bearer tokens never reach the log.
        .layer(TraceLayer::new_for_http())
}

/// Serves the app on `listener` until `shutdown` completes, then lets in-flight
/// requests finish (the caller bounds that with its own grace limit).
///
/// The token is `config.api_token` when set, otherwise `state.api_token`, so a
/// binary may set either.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
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
