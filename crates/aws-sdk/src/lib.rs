//! blindspot-aws-sdk owns the boundary to the real AWS SDK: it implements the
//! ports of `blindspot-aws` ([`InspectorClassicApi`](blindspot_aws::InspectorClassicApi),
//! [`SsmApi`](blindspot_aws::SsmApi), [`Inspector2Api`](blindspot_aws::Inspector2Api),
//! [`LambdaApi`](blindspot_aws::LambdaApi), [`EcrApi`](blindspot_aws::EcrApi),
//! [`OrganizationsApi`](blindspot_aws::OrganizationsApi),
//! [`StsApi`](blindspot_aws::StsApi)) with `aws-sdk-*` clients and builds those
//! clients per (account, region), every call within one global cap on calls
//! in flight and paced per client.
//!
//! # Why only this crate links the SDK
//! The SDK crates take minutes and gigabytes to compile. Rules, the engine and
//! the server depend on the small port traits instead, so they compile in
//! seconds and are tested with in-memory fakes; only this crate and the binary
//! pay for the SDK. It is also the one place where SDK types become the ports'
//! plain types: enum values are passed through with `as_str()` (real AWS sends
//! values outside the models' enums, such as the scope key `instanceId`),
//! timestamps become `chrono`, and every SDK error becomes a classified
//! [`AwsError`](blindspot_aws::AwsError).
//!
//! # Timeouts and retries
//! The SDK sets no read or operation timeout by default (only a 3.1 s connect
//! timeout), so one hanging endpoint would hang an evaluation forever. Every
//! client here gets an operation timeout (default 60 s, retries included) and
//! an attempt timeout (default 20 s). Retries use the SDK's standard mode by
//! default: up to 10 attempts with a jittered exponential backoff from 1 s,
//! capped at 5 s so that every attempt fits in the operation timeout. The
//! SDK's adaptive mode (a client-side rate limiter) is a setting; it is not
//! the default because it made checks slower, not more complete (see
//! [`settings::DEFAULT_RETRY_MODE`]). The retry quota, and the adaptive
//! limiter, belong to a retry partition, which [`settings::retry_partition`]
//! makes one per (service, account, region), as AWS throttles. blindspot
//! does not retry on top, because the next scheduled evaluation is the retry.
//!
//! # Bounded calls
//! Every call first waits for its client's pace (`calls_per_second`, bursts
//! of `ceil(rate)`; a client is one service in one account and region),
//! then for one of `max_in_flight_calls` permits shared by every client of
//! the factory (see [`error`]). [`AwsFactory::in_flight`] reads the permits
//! in use; `pacing_wait` and `permit_wait` the time spent waiting.
//!
//! # Credentials
//! An assumed role's credentials are cached per account and refreshed 5 to
//! 10 s before the session ends ([`factory::CREDENTIALS_REFRESH_BUFFER`]).
//!
//! # Errors and metrics
//! Errors are classified by their AWS code (`ProvideErrorMetadata::code()`),
//! never by SDK variant. A DNS failure on a service's default endpoint means
//! the service does not exist in that region ([`Unavailable`](blindspot_aws::AwsErrorKind::Unavailable)).
//! Inspector Classic is also `Unavailable` when its endpoint rejects
//! credentials STS accepted, or says it is retired (see [`classic`]). An
//! error's text is its AWS code and message on one line, never the SDK's
//! `Debug` output ([`error::error_text`]).
//! A call whose credentials cannot be loaded (an undefined profile, a refused
//! AssumeRole) is `AccessDenied`, or the kind of the code STS answered with.
//! Every port call records `(service, operation, outcome)` in the
//! [`CallCounter`](blindspot_core::CallCounter); the outcome is `ok` or
//! [`AwsErrorKind::as_str`](blindspot_aws::AwsErrorKind::as_str). Each attempt
//! the SDK retries is also recorded, as outcome `retried_attempt`, so the
//! metric shows retry pressure that the calls' own outcomes hide.
//!
//! # Layout
//! - [`settings`]: [`AwsSettings`], [`RetryMode`], [`AccountSpec`], [`AwsSetupError`].
//! - [`factory`]: [`AwsFactory`] and [`ResolvedAccount`].
//! - [`error`]: SDK error classification and call metering.
//! - [`classic`], [`ssm`], [`inspector2`], [`lambda`], [`ecr`],
//!   [`organizations`], [`sts`]: one port implementation each.

pub mod classic;
mod convert;
pub mod ecr;
pub mod error;
pub mod factory;
pub mod inspector2;
pub mod lambda;
pub mod organizations;
pub mod settings;
pub mod ssm;
pub mod sts;

pub use classic::SdkInspectorClassic;
pub use factory::{AwsFactory, ResolvedAccount};
pub use inspector2::SdkInspector2;
pub use organizations::SdkOrganizations;
pub use settings::{AccountSpec, AwsSettings, AwsSetupError, RetryMode};
pub use ssm::SdkSsm;
pub use sts::SdkSts;
