//! blindspot-sim: the simulated AWS. An HTTP server that the real
//! aws-sdk-rust clients reach through the standard endpoint override
//! (`AWS_ENDPOINT_URL=http://127.0.0.1:PORT`), answering Inspector classic,
//! SSM, Inspector2 and STS from a scenario file, with injectable faults and
//! call counters. This crate owns the wire protocols' *server* side; it
//! links no AWS SDK, and every shape it serves comes from the botocore
//! models in `shared/aws-models` (Lambda, ECR and the deep inspection calls
//! of Inspector2: `tests/aws-models/`).
//!
//! # Layout
//! - [`scenario`]: the TOML scenario format ([`Scenario`]) and its defaults.
//! - [`faults`]: latency, throttling, 5xx, access denial, classic retirement.
//! - `server`: routing by protocol and SigV4 credential scope (region,
//!   service; account from the access key, or from the role an `AssumeRole`
//!   key was issued for), fault injection, counters, the
//!   `/_sim/*` admin surface, [`SimServer`] and [`SimHandle`].
//! - `wire`: protocol rendering of answers and errors, shared by services.
//! - `classic`, `ssm`, `inspector2`, `lambda`, `ecr`, `sts`: one handler
//!   function per operation and one dispatch line per operation (Lambda and
//!   ECR answer only the presence calls blindspot makes).
//! - `paging`: opaque `nextToken`s bound to the listing's filter.
//! - [`generate`]: synthetic fleets for load tests.
//!
//! # Admin surface
//! `GET /_sim/healthz`, `GET /_sim/calls` (JSON [`CallCount`]s),
//! `PUT /_sim/scenario` (TOML body; 400 JSON `{"error": …}` naming the line),
//! `PUT /_sim/faults` and `GET /_sim/faults` (JSON [`Faults`]).

pub mod faults;
pub mod generate;
pub mod scenario;

mod classic;
mod ecr;
mod inspector2;
mod lambda;
mod paging;
mod server;
mod ssm;
mod sts;
mod wire;

pub use faults::{AccessDenied, Faults};
pub use scenario::{Scenario, ScenarioError};
pub use server::{CallCount, SimHandle, SimServer};

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
