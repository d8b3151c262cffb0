//! blindspot-sim: the simulated AWS. An HTTP server that the real
//! aws-sdk-rust clients reach through the standard endpoint override
//! (`AWS_ENDPOINT_URL=http://127.0.0.1:PORT`), answering Inspector classic,
//! SSM, Inspector2, Lambda, ECR, Organizations and STS from a scenario file,
//! with injectable faults and call counters. This crate owns the wire
//! protocols' *server* side; it links no AWS SDK, and every shape it serves
//! comes from the botocore models in `shared/aws-models`, copied into
//! `tests/aws-models/` for the services added since (Lambda, ECR,
//! Organizations, and the current Inspector2 and STS).
//!
//! A scenario may hold an AWS Organization: ListAccounts for its management
//! account and delegated administrator, Inspector2's administrator view
//! (members, auto-enable, members' status and coverage), accounts that join
//! or leave at a set delay after loading, and accounts that deny
//! AssumeRole. AssumeRole credentials expire when the scenario says
//! (`[sts] credential_lifetime`), and a call signed with expired ones is
//! refused, so clients must refresh them in time.
//!
//! # Layout
//! - [`scenario`]: the TOML scenario format ([`Scenario`]) and its defaults.
//! - [`faults`]: latency, throttling, 5xx, access denial, classic retirement.
//! - `server`: routing by protocol and SigV4 credential scope (region,
//!   service; account from the access key, or from the role an `AssumeRole`
//!   key was issued for), expired session tokens refused, fault injection,
//!   counters, the `/_sim/*` admin surface, [`SimServer`] and [`SimHandle`].
//! - `wire`: protocol rendering of answers and errors, shared by services.
//! - `classic`, `ssm`, `inspector2`, `lambda`, `ecr`, `organizations`,
//!   `sts`: one handler function per operation and one dispatch line per
//!   operation (Lambda and ECR answer only the presence calls blindspot
//!   makes, Organizations only ListAccounts).
//! - `paging`: opaque `nextToken`s bound to the listing's filter.
//! - [`generate`]: synthetic fleets for load tests, optionally one
//!   organisation of all their accounts.
//!
//! # Admin surface
//! `GET /_sim/healthz`, `GET /_sim/calls` (JSON [`CallCount`]s),
//! `GET /_sim/assume_role` (JSON [`AssumeRoleCount`]s per target account),
//! `PUT /_sim/scenario` (TOML body; 400 JSON `{"error": …}` naming the line),
//! `PUT /_sim/faults` and `GET /_sim/faults` (JSON [`Faults`]).

pub mod faults;
pub mod generate;
pub mod scenario;

mod classic;
mod ecr;
mod inspector2;
mod lambda;
mod organizations;
mod paging;
mod server;
mod ssm;
mod sts;
mod wire;

pub use faults::{AccessDenied, Faults};
pub use scenario::{Scenario, ScenarioError};
pub use server::{AssumeRoleCount, CallCount, SimHandle, SimServer};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("binding simulated AWS to {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
}
