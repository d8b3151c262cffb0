//! [`EcrApi`] over `aws-sdk-ecr`.

use async_trait::async_trait;
use aws_sdk_ecr::Client;
use blindspot_aws::{AwsError, EcrApi, Page};

use crate::error::Calls;

/// The service label of ECR calls.
pub const SERVICE: &str = "ecr";

/// ECR for one account and region.
#[derive(Clone)]
pub struct SdkEcr {
    client: Client,
    calls: Calls,
}

impl SdkEcr {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkEcr { client, calls }
    }
}

#[async_trait]
impl EcrApi for SdkEcr {
    async fn describe_repositories(
        &self,
        max_results: i32,
        next_token: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "DescribeRepositories";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .describe_repositories()
                    .max_results(max_results)
                    .set_next_token(next_token)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                // A repository without a name is still a repository: counted
                // under a stand-in rather than dropped.
                self.calls.page(
                    OP,
                    out.repositories(),
                    |r| Ok(r.repository_name().unwrap_or("(unnamed)").to_owned()),
                    out.next_token(),
                )
            })
            .await
    }
}
