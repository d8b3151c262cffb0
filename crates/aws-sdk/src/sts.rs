//! [`StsApi`] over `aws-sdk-sts`: learning which account a set of
//! credentials belongs to.

use async_trait::async_trait;
use aws_sdk_sts::Client;
use blindspot_aws::{AwsError, StsApi};

use crate::error::Calls;

/// The service label of STS calls.
pub const SERVICE: &str = "sts";

/// STS for one set of credentials.
#[derive(Clone)]
pub struct SdkSts {
    client: Client,
    calls: Calls,
}

impl SdkSts {
    pub(crate) fn new(client: Client, calls: Calls) -> Self {
        SdkSts { client, calls }
    }
}

/// Whether `id` looks like an AWS account ID (12 ASCII digits).
fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

#[async_trait]
impl StsApi for SdkSts {
    async fn caller_account(&self) -> Result<String, AwsError> {
        const OP: &str = "GetCallerIdentity";
        self.calls
            .run(OP, async {
                let out = self
                    .client
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| self.calls.error(OP, &e))?;
                match out.account() {
                    Some(id) if is_account_id(id) => Ok(id.to_owned()),
                    Some(other) => Err(self
                        .calls
                        .invalid_response(OP, format!("`{other}` is not a 12-digit account ID"))),
                    None => Err(self.calls.invalid_response(OP, "the answer has no Account")),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
        assert!(!is_account_id("11112222333x"));
        assert!(!is_account_id(""));
    }
}
