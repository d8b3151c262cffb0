//! ECR (API version 2015-09-21): only whether a region has repositories,
//! which weighs a disabled ECR scan type.

use async_trait::async_trait;

use crate::{AwsError, Page};

/// DescribeRepositories takes `maxResults` from 1 to 1000 (`MaxResults`).
pub const DESCRIBE_REPOSITORIES_MAX: i32 = 1000;

/// The ECR calls blindspot makes.
#[async_trait]
pub trait EcrApi: Send + Sync {
    /// DescribeRepositories of the caller's own registry: one page of at most
    /// `max_results` repository names.
    async fn describe_repositories(
        &self,
        max_results: i32,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError>;
}
