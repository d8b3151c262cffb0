//! The route table. The router is built from it and the OpenAPI test reads it,
//! so a route cannot be added without being documented.

use crate::{api, AppState};
use axum::routing::{get, post, MethodRouter};

/// One route: its path (axum and OpenAPI share the `{param}` syntax), the
/// methods it answers and its handler.
pub struct RouteSpec {
    /// The path template, e.g. `/api/v1/findings/{id}`.
    pub path: &'static str,
    /// The upper-case HTTP methods the route answers.
    pub methods: &'static [&'static str],
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSpec")
            .field("path", &self.path)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// Every route the server answers.
pub fn route_table() -> Vec<RouteSpec> {
    vec![
        RouteSpec {
            path: "/",
            methods: &["GET"],
            handler: get(api::dashboard),
        },
        RouteSpec {
            path: "/healthz",
            methods: &["GET"],
            handler: get(api::healthz),
        },
        RouteSpec {
            path: "/readyz",
            methods: &["GET"],
            handler: get(api::readyz),
        },
        RouteSpec {
            path: "/metrics",
            methods: &["GET"],
            handler: get(api::metrics),
        },
        RouteSpec {
            path: "/api/v1/findings",
            methods: &["GET"],
            handler: get(api::list_findings),
        },
        RouteSpec {
            path: "/api/v1/findings/{id}",
            methods: &["GET"],
            handler: get(api::get_finding),
        },
        RouteSpec {
            path: "/api/v1/rules",
            methods: &["GET"],
            handler: get(api::list_rules),
        },
        RouteSpec {
            path: "/api/v1/rules/{id}/run",
            methods: &["POST"],
            handler: post(api::run_rule),
        },
        RouteSpec {
            path: "/api/v1/accounts",
            methods: &["GET"],
            handler: get(api::list_accounts),
        },
        RouteSpec {
            path: "/api/v1/evaluations",
            methods: &["GET"],
            handler: get(api::list_evaluations),
        },
    ]
}
