//! Black-box tests of the HTTP server: the router through `oneshot`, and one
//! real socket. The store and scheduler are in-memory fakes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api;
mod metrics;
mod openapi;
mod socket;
mod sqlite;
mod support;
