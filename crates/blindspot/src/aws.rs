//! Turns `[aws]` into evaluation targets: one per (account, region), with the
//! SDK-backed client bundle, or the reason an account could not be reached.

use blindspot_aws::AwsClients;
use blindspot_aws_sdk::{AccountSpec, AwsFactory, AwsSettings};
use blindspot_core::{CallCounter, Scope};
use blindspot_engine::Target;
use std::sync::Arc;

use crate::config::AwsConfig;

/// Builds the adapter settings from the config.
pub fn settings(config: &AwsConfig) -> AwsSettings {
    AwsSettings {
        endpoint_url: config.endpoint_url.clone(),
        profile: config.profile.clone(),
        operation_timeout: config.operation_timeout,
        attempt_timeout: config.attempt_timeout,
        max_attempts: config.max_attempts,
    }
}

/// Resolves every configured account and pairs it with every region.
///
/// An account whose identity cannot be learned still yields targets, whose
/// evaluations all read `error` with the reason: one unreachable account must
/// neither stop the others nor pass silently.
pub async fn targets(
    config: &AwsConfig,
    counter: CallCounter,
) -> anyhow::Result<Vec<Target<AwsClients>>> {
    let factory = AwsFactory::new(settings(config), counter).await?;
    let accounts: Vec<AccountSpec> = if config.accounts.is_empty() {
        vec![AccountSpec {
            name: "default".to_owned(),
            role_arn: None,
            external_id: None,
            profile: None,
        }]
    } else {
        config
            .accounts
            .iter()
            .map(|a| AccountSpec {
                name: a.name.clone(),
                role_arn: a.role_arn.clone(),
                external_id: a.external_id.clone(),
                profile: a.profile.clone(),
            })
            .collect()
    };
    let mut targets = Vec::new();
    for spec in &accounts {
        match factory.resolve_account(spec).await {
            Ok(account) => {
                for region in &config.regions {
                    targets.push(Target {
                        scope: Scope::new(account.account_id.clone(), region.clone()),
                        clients: Ok(Arc::new(factory.clients(&account, region))),
                    });
                }
            }
            Err(err) => {
                tracing::error!(account = %spec.name, error = %err, "cannot learn the account's identity");
                for region in &config.regions {
                    targets.push(Target {
                        scope: Scope::new(format!("unresolved:{}", spec.name), region.clone()),
                        clients: Err(format!(
                            "account `{}` could not be resolved: {err}",
                            spec.name
                        )),
                    });
                }
            }
        }
    }
    Ok(targets)
}
