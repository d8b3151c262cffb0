//! Black-box tests of the HTTP server: the router through `oneshot`, and real
//! sockets for serving, connection limits and shutdown. The store and
//! scheduler are in-memory fakes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api;
mod connections;
mod hosts;
mod metrics;
mod openapi;
mod org;
mod socket;
mod sqlite;
mod support;
