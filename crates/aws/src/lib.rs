//! blindspot-aws owns the *ports* between rules and AWS: small async traits, one
//! per service, and plain data types shaped after the botocore models.
//!
//! Rules depend on this crate, never on the SDK. The SDK adapter
//! (`blindspot-aws-sdk`) implements these traits against the real service APIs
//! and is the only crate that links `aws-sdk-*`; tests implement them with
//! the scripted fakes in `testing`. That keeps rules quick to compile and testable without HTTP.
//!
//! Every list call is page-level (`next_token` in, [`Page`] out) so callers can
//! stream a 100k-resource account without holding it in memory. Batch calls
//! mirror the API's own limits, which are published as constants here.
//!
//! Enum-valued fields are plain `String`s on purpose: real AWS sends values
//! outside the models' enums (the Conformity seed shows a scope key of
//! `instanceId` where the enum says `INSTANCE_ID`), and a port must carry them
//! through, not reject them.
//!
//! # Layout
//! - [`error`]: [`AwsError`] and its classification.
//! - [`classic`]: Inspector Classic (assessment runs and exclusions).
//! - [`ssm`]: Systems Manager State Manager associations and managed instances.
//! - [`inspector2`]: Inspector v2 account status, coverage and configuration
//!   (EC2 deep inspection included).
//! - [`lambda`], [`ecr`]: whether a region has Lambda functions or ECR
//!   repositories, which weighs a disabled scan type.
//! - [`delegated`]: members' statuses read through the delegated
//!   administrator, batched, with the member's own call as the fallback.
//! - [`organizations`]: the accounts of the organisation (ListAccounts).
//! - [`paginate`]: the one page walker every listing goes through, with a
//!   page cap and a repeated-token guard.
//! - `testing` (feature `testing`): one scripted in-memory fake per port.

pub mod classic;
pub mod delegated;
pub mod ecr;
pub mod error;
pub mod inspector2;
pub mod lambda;
pub mod organizations;
pub mod paginate;
pub mod ssm;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use classic::InspectorClassicApi;
pub use ecr::EcrApi;
pub use error::{AwsError, AwsErrorKind};
pub use inspector2::Inspector2Api;
pub use lambda::LambdaApi;
pub use organizations::OrganizationsApi;
pub use ssm::SsmApi;

/// One page of a paginated list call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The token for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

impl<T> Page<T> {
    /// A last page.
    pub fn last(items: Vec<T>) -> Self {
        Page {
            items,
            next_token: None,
        }
    }
}

/// The identity behind a set of credentials (STS GetCallerIdentity).
#[async_trait]
pub trait StsApi: Send + Sync {
    /// The 12-digit account ID of the caller.
    async fn caller_account(&self) -> Result<String, AwsError>;
}

/// The clients a rule gets for one (account, region).
#[derive(Clone)]
pub struct AwsClients {
    /// Inspector Classic.
    pub classic: Arc<dyn InspectorClassicApi>,
    /// Systems Manager.
    pub ssm: Arc<dyn SsmApi>,
    /// Inspector v2.
    pub inspector2: Arc<dyn Inspector2Api>,
    /// Lambda (presence of functions only).
    pub lambda: Arc<dyn LambdaApi>,
    /// ECR (presence of repositories only).
    pub ecr: Arc<dyn EcrApi>,
    /// Organizations (global; the region only picks the endpoint).
    pub organizations: Arc<dyn OrganizationsApi>,
}
