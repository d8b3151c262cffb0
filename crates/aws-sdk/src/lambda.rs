//! [`LambdaApi`] over `aws-sdk-lambda`.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use blindspot_aws::{AwsError, LambdaApi, Page};

use crate::error::Calls;

/// The service label of Lambda calls.
pub const SERVICE: &str = "lambda";

/// Lambda for one account and region.
#[derive(Clone)]
pub struct SdkLambda {
    client: Client,
    calls: Calls,
}

impl SdkLambda {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkLambda { client, calls }
    }
}

#[async_trait]
impl LambdaApi for SdkLambda {
    async fn list_functions(
        &self,
        max_items: i32,
        marker: Option<String>,
    ) -> Result<Page<String>, AwsError> {
        const OP: &str = "ListFunctions";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .list_functions()
                    .max_items(max_items)
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                // A function without a name is still a function: counted
                // under a stand-in rather than dropped.
                self.calls.page(
                    OP,
                    out.functions(),
                    |f| Ok(f.function_name().unwrap_or("(unnamed)").to_owned()),
                    out.next_marker(),
                )
            })
            .await
    }
}
