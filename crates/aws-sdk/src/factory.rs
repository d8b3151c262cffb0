//! The factory: one base SDK configuration, per-account credentials and
//! per-(account, region) client bundles, all bounded by one cap on calls in
//! flight and paced per client (see [`crate::error`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::SharedCredentialsProvider;
use blindspot_aws::{AwsClients, AwsError, StsApi};
use blindspot_core::CallCounter;

use crate::classic::SdkInspectorClassic;
use crate::ecr::SdkEcr;
use crate::error::{pacer, CallLimits, Calls, RetryCounter};
use crate::inspector2::SdkInspector2;
use crate::lambda::SdkLambda;
use crate::organizations::SdkOrganizations;
use crate::settings::{AccountSpec, AwsSettings, AwsSetupError};
use crate::ssm::SdkSsm;
use crate::sts::SdkSts;
use crate::{classic, ecr, inspector2, lambda, organizations, ssm, sts};

/// The region of STS calls when the caller names none. Account identity is
/// global, but STS must be called in *some* region of the account's partition.
pub const DEFAULT_IDENTITY_REGION: &str = "us-east-1";

/// The `RoleSessionName` of assumed roles, so CloudTrail shows who called.
pub const ROLE_SESSION_NAME: &str = "blindspot";

/// How long before its expiry an account's credentials are refreshed: the
/// identity cache treats them as expired this long before they are, less a
/// random jitter of up to half of it, so an assumed role is re-assumed 5 to
/// 10 s before its session ends, and no call is signed with credentials
/// that expire while it is in flight. aws-config's own default, written
/// down because the refresh-before-expiry tests depend on it.
pub const CREDENTIALS_REFRESH_BUFFER: Duration = Duration::from_secs(10);

/// The account ID a role ARN names (`arn:<partition>:iam::<12 digits>:role/…`),
/// if it is one: the account a role's evaluations belong to before STS has
/// confirmed it, for example while AssumeRole keeps failing.
pub fn role_arn_account_id(role_arn: &str) -> Option<&str> {
    let mut parts = role_arn.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource))
            if !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.starts_with("role/") =>
        {
            Some(account)
        }
        _ => None,
    }
}

/// The one HTTP client of every SDK client the factory builds: the SDK's
/// default (hyper 1.x, rustls with aws-lc, proxy settings from the
/// environment), made once. Left to itself, each service client makes its
/// own, with its own connection pool and TLS configuration: measured at
/// about 180 KiB per client after its first call, 1 GiB for the 1,700
/// (account, region) bundles of 100 accounts × 17 regions
/// (`examples/client_memory.rs`).
fn shared_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Builds SDK clients for every (account, region) blindspot watches.
#[derive(Clone)]
pub struct AwsFactory {
    settings: AwsSettings,
    /// The base configuration: default credential chain, timeouts, retries.
    base: SdkConfig,
    counter: CallCounter,
    /// The cap on calls in flight, shared by every client this factory (and
    /// its clones) builds.
    limits: Arc<CallLimits>,
}

impl fmt::Debug for AwsFactory {
    // The base configuration holds the credential provider: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsFactory")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// An account whose identity has been confirmed with STS, with the
/// credentials to use for it.
#[derive(Clone)]
pub struct ResolvedAccount {
    /// The account's name from the config.
    pub name: String,
    /// The 12-digit account ID.
    pub account_id: String,
    config: SdkConfig,
}

impl ResolvedAccount {
    /// The SDK configuration (credentials, timeouts, retries) of this account.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }
}

impl fmt::Debug for ResolvedAccount {
    // The SDK configuration holds the credential provider: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedAccount")
            .field("name", &self.name)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Builds a service client from an account's configuration, in `region`,
/// with the configured endpoint (which wins over `AWS_ENDPOINT_URL*`).
macro_rules! service_client {
    ($sdk:ident, $config:expr, $region:expr, $endpoint:expr, $retries:expr) => {{
        let mut builder = $sdk::config::Builder::from($config)
            .region($region.clone())
            .interceptor($retries);
        if let Some(url) = $endpoint {
            builder = builder.endpoint_url(url.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
    ($sdk:ident, $config:expr, $region:expr, $endpoint:expr, $retries:expr, $partition:expr) => {{
        let mut builder = $sdk::config::Builder::from($config)
            .region($region.clone())
            .interceptor($retries)
            .retry_partition($partition);
        if let Some(url) = $endpoint {
            builder = builder.endpoint_url(url.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

impl AwsFactory {
    /// Loads aws-config's default chain (environment, profile, SSO, web
    /// identity, container and instance credentials) once.
    ///
    /// A base region is set so that loading never probes the instance
    /// metadata service for one: regions come from blindspot's config.
    pub async fn new(settings: AwsSettings, counter: CallCounter) -> Result<Self, AwsSetupError> {
        settings.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::from_static(DEFAULT_IDENTITY_REGION))
            .app_name(
                AppName::new("blindspot").map_err(|e| AwsSetupError::InvalidSetting {
                    setting: "app_name",
                    reason: e.to_string(),
                })?,
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.http_client(shared_http_client()).load().await;
        Self::from_sdk_config(settings, base, counter)
    }

    /// Uses `base` instead of the default chain (for tests and embedding);
    /// the settings' timeouts, retries and endpoint are applied on top.
    pub fn from_sdk_config(
        settings: AwsSettings,
        base: SdkConfig,
        counter: CallCounter,
    ) -> Result<Self, AwsSetupError> {
        settings.validate()?;
        let shared = base.http_client().is_none().then(shared_http_client);
        let mut builder = base
            .into_builder()
            .timeout_config(settings.timeout_config())
            .retry_config(settings.retry_config(None));
        if let Some(http) = shared {
            builder = builder.http_client(http);
        }
        if let Some(url) = &settings.endpoint_url {
            builder = builder.endpoint_url(url);
        }
        let limits = Arc::new(CallLimits::new(settings.max_in_flight_calls));
        Ok(AwsFactory {
            settings,
            base: builder.build(),
            counter,
            limits,
        })
    }

    /// Replaces the first retry backoff (default 1 s, doubling per attempt).
    /// Tests against the simulated AWS use milliseconds.
    pub fn with_retry_initial_backoff(mut self, backoff: Duration) -> Self {
        self.base = self
            .base
            .into_builder()
            .retry_config(self.settings.retry_config(Some(backoff)))
            .build();
        self
    }

    /// The settings this factory was built with.
    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// AWS calls holding a permit of the global cap now (at most
    /// `max_in_flight_calls`): cheap enough for a gauge read per scrape.
    pub fn in_flight(&self) -> usize {
        self.limits.in_flight()
    }

    /// The time calls have spent waiting for their client's pacing, summed
    /// over all calls since the factory was built.
    pub fn pacing_wait(&self) -> Duration {
        self.limits.pacing_wait()
    }

    /// The time calls have spent waiting for a permit of the global cap,
    /// summed over all calls since the factory was built.
    pub fn permit_wait(&self) -> Duration {
        self.limits.permit_wait()
    }

    /// The account ID behind an account spec (STS GetCallerIdentity in
    /// [`DEFAULT_IDENTITY_REGION`]), assuming the role if one is given.
    pub async fn resolve_account(
        &self,
        account: &AccountSpec,
    ) -> Result<ResolvedAccount, AwsError> {
        self.resolve_account_in(account, DEFAULT_IDENTITY_REGION)
            .await
    }

    /// [`Self::resolve_account`] with STS (and AssumeRole) called in `region`,
    /// for accounts outside the commercial partition.
    pub async fn resolve_account_in(
        &self,
        account: &AccountSpec,
        region: &str,
    ) -> Result<ResolvedAccount, AwsError> {
        let region = Region::new(region.to_owned());
        let config = self.account_config(account, &region).await;
        let sts = self.sts_for(&config, &region);
        let account_id = sts.caller_account().await?;
        tracing::info!(account = %account.name, account_id = %account_id, "resolved AWS account");
        Ok(ResolvedAccount {
            name: account.name.clone(),
            account_id,
            config,
        })
    }

    /// An STS client for an account's credentials in `region`.
    pub fn sts(&self, account: &ResolvedAccount, region: &str) -> SdkSts {
        self.sts_for(&account.config, &Region::new(region.to_owned()))
    }

    /// The client bundle for one account and region. Each client paces its
    /// own calls, so build the bundle once per (account, region) and share
    /// it: a second bundle would be paced separately.
    pub fn clients(&self, account: &ResolvedAccount, region: &str) -> AwsClients {
        let region = Region::new(region.to_owned());
        let config = &account.config;
        let endpoint = self.settings.endpoint_url.as_ref();
        // One client per service: its retry partition is this (service,
        // account, region), its metering the service's.
        macro_rules! client {
            ($wrapper:ident, $sdk:ident, $module:ident, $env_id:literal) => {
                $wrapper::new(
                    service_client!(
                        $sdk,
                        config,
                        region,
                        endpoint,
                        self.retries($module::SERVICE),
                        crate::settings::retry_partition(
                            $module::SERVICE,
                            &account.account_id,
                            region.as_ref()
                        )
                    ),
                    self.calls($module::SERVICE, config, $env_id),
                )
            };
        }
        let classic = client!(SdkInspectorClassic, aws_sdk_inspector, classic, "INSPECTOR");
        let ssm = client!(SdkSsm, aws_sdk_ssm, ssm, "SSM");
        let inspector2 = client!(SdkInspector2, aws_sdk_inspector2, inspector2, "INSPECTOR2");
        let lambda = client!(SdkLambda, aws_sdk_lambda, lambda, "LAMBDA");
        let ecr = client!(SdkEcr, aws_sdk_ecr, ecr, "ECR");
        let organizations = client!(
            SdkOrganizations,
            aws_sdk_organizations,
            organizations,
            "ORGANIZATIONS"
        );
        AwsClients {
            organizations: Arc::new(organizations),
            classic: Arc::new(classic),
            ssm: Arc::new(ssm),
            inspector2: Arc::new(inspector2),
            lambda: Arc::new(lambda),
            ecr: Arc::new(ecr),
        }
    }

    fn sts_for(&self, config: &SdkConfig, region: &Region) -> SdkSts {
        let endpoint = self.settings.endpoint_url.as_ref();
        SdkSts::new(
            service_client!(
                aws_sdk_sts,
                config,
                region,
                endpoint,
                self.retries(sts::SERVICE)
            ),
            self.calls(sts::SERVICE, config, "STS"),
        )
    }

    fn retries(&self, service: &'static str) -> RetryCounter {
        RetryCounter::new(service, self.counter.clone())
    }

    /// Metering for one service; `env_id` is the service's suffix of the
    /// `AWS_ENDPOINT_URL_<ID>` variable the SDK honours.
    fn calls(&self, service: &'static str, config: &SdkConfig, env_id: &str) -> Calls {
        let custom_endpoint = self.settings.endpoint_url.is_some()
            || config.endpoint_url().is_some()
            || std::env::var_os(format!("AWS_ENDPOINT_URL_{env_id}")).is_some();
        Calls::new(
            service,
            self.counter.clone(),
            custom_endpoint,
            Arc::clone(&self.limits),
            pacer(self.settings.calls_per_second),
        )
    }

    /// The base configuration with the account's credentials: its profile's,
    /// then the assumed role's (sourced from those), each cached once per
    /// account and shared by all its regional clients.
    async fn account_config(&self, account: &AccountSpec, region: &Region) -> SdkConfig {
        let mut config = self.base.clone();
        if let Some(profile) = &account.profile {
            let provider = ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build();
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        if let Some(role_arn) = &account.role_arn {
            let mut builder = AssumeRoleProvider::builder(role_arn)
                .session_name(ROLE_SESSION_NAME)
                .region(region.clone())
                .configure(&config);
            if let Some(external_id) = &account.external_id {
                builder = builder.external_id(external_id);
            }
            let provider = builder.build().await;
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        // One cache per account: without it every regional client would fetch
        // (and, for roles, assume) credentials on its own.
        config
            .into_builder()
            .identity_cache(
                IdentityCache::lazy()
                    .buffer_time(CREDENTIALS_REFRESH_BUFFER)
                    .build(),
            )
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::role_arn_account_id;

    #[test]
    fn the_account_of_a_role_arn() {
        for (arn, account) in [
            (
                "arn:aws:iam::111122223333:role/blindspot",
                Some("111122223333"),
            ),
            (
                "arn:aws-us-gov:iam::111122223333:role/a/b",
                Some("111122223333"),
            ),
            ("arn:aws:iam::11112222333:role/x", None),
            ("arn:aws:iam::11112222333x:role/x", None),
            ("arn:aws:iam::111122223333:user/x", None),
            ("arn:aws:sts::111122223333:role/x", None),
            ("arn::iam::111122223333:role/x", None),
            ("111122223333", None),
            ("", None),
        ] {
            assert_eq!(role_arn_account_id(arn), account, "{arn}");
        }
    }
}
