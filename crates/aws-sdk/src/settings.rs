//! What the daemon's configuration tells the adapter: endpoint, profile,
//! timeouts and retries, and the accounts to watch.

use std::fmt;
use std::time::Duration;

use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;

/// The default deadline of one call, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// The default deadline of one attempt of a call.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// The default number of attempts per call (the SDK's standard mode).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// SDK-wide settings, shared by every account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// An endpoint that replaces every service's default (e.g. the simulated
    /// AWS). `AWS_ENDPOINT_URL` works too; this setting wins over it.
    pub endpoint_url: Option<String>,
    /// The shared-config profile of the base credentials.
    pub profile: Option<String>,
    /// The deadline of one call, retries included.
    pub operation_timeout: Duration,
    /// The deadline of one attempt.
    pub attempt_timeout: Duration,
    /// Attempts per call, in the SDK's standard retry mode; at least 1.
    pub max_attempts: u32,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            endpoint_url: None,
            profile: None,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl AwsSettings {
    /// Rejects settings the SDK would accept but that make no sense for a daemon.
    pub fn validate(&self) -> Result<(), AwsSetupError> {
        let invalid = |setting: &'static str, reason: String| {
            Err(AwsSetupError::InvalidSetting { setting, reason })
        };
        if let Some(url) = &self.endpoint_url {
            // The SDK panics later on some malformed endpoints; say so up front.
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.starts_with('/') => {}
                _ => {
                    return invalid(
                        "endpoint_url",
                        format!("{url:?} is not an http:// or https:// URL with a host"),
                    )
                }
            }
        }
        if let Some(profile) = &self.profile {
            if profile.trim().is_empty() {
                return invalid("profile", "must not be empty".to_owned());
            }
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1".to_owned());
        }
        if self.operation_timeout.is_zero() {
            return invalid("operation_timeout", "must be greater than zero".to_owned());
        }
        if self.attempt_timeout.is_zero() {
            return invalid("attempt_timeout", "must be greater than zero".to_owned());
        }
        if self.attempt_timeout > self.operation_timeout {
            return invalid(
                "attempt_timeout",
                format!(
                    "{:?} exceeds operation_timeout {:?}, so it would never apply",
                    self.attempt_timeout, self.operation_timeout
                ),
            );
        }
        Ok(())
    }

    /// The SDK timeouts: the SDK sets none but connect by default, and a
    /// hanging endpoint must not hang an evaluation forever.
    pub(crate) fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.operation_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .build()
    }

    /// The SDK's standard retry mode with the configured attempts.
    pub(crate) fn retry_config(&self, initial_backoff: Option<Duration>) -> RetryConfig {
        let retry = RetryConfig::standard().with_max_attempts(self.max_attempts);
        match initial_backoff {
            Some(backoff) => retry.with_initial_backoff(backoff),
            None => retry,
        }
    }
}

/// One account to watch.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// The name used in config, logs and findings.
    pub name: String,
    /// The role to assume; `None` means the base credentials' own account.
    pub role_arn: Option<String>,
    /// The `ExternalId` of AssumeRole.
    pub external_id: Option<String>,
    /// A shared-config profile whose credentials replace the base ones (and
    /// are the source credentials of `role_arn`, when both are set).
    pub profile: Option<String>,
}

impl fmt::Debug for AccountSpec {
    // The external ID is a shared secret between the account owner and us.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("name", &self.name)
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("profile", &self.profile)
            .finish()
    }
}

/// Why the adapter could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsSetupError {
    /// A setting is out of range or malformed.
    #[error("invalid AWS setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's name in the config file.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let s = AwsSettings::default();
        s.validate().unwrap();
        assert_eq!(s.operation_timeout, Duration::from_secs(60));
        assert_eq!(s.attempt_timeout, Duration::from_secs(20));
        assert_eq!(s.max_attempts, 3);
        let t = s.timeout_config();
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(60)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(20)));
        assert_eq!(s.retry_config(None).max_attempts(), 3);
    }

    #[test]
    fn rejects_bad_settings() {
        let cases = [
            AwsSettings {
                max_attempts: 0,
                ..Default::default()
            },
            AwsSettings {
                operation_timeout: Duration::ZERO,
                ..Default::default()
            },
            AwsSettings {
                attempt_timeout: Duration::ZERO,
                ..Default::default()
            },
            AwsSettings {
                attempt_timeout: Duration::from_secs(61),
                ..Default::default()
            },
            AwsSettings {
                endpoint_url: Some("localhost:4566".into()),
                ..Default::default()
            },
            AwsSettings {
                endpoint_url: Some("http://".into()),
                ..Default::default()
            },
            AwsSettings {
                profile: Some(" ".into()),
                ..Default::default()
            },
        ];
        for s in cases {
            let err = s.validate().unwrap_err();
            assert!(err.to_string().starts_with("invalid AWS setting"), "{err}");
        }
        let ok = AwsSettings {
            endpoint_url: Some("http://127.0.0.1:4566".into()),
            ..Default::default()
        };
        ok.validate().unwrap();
    }

    #[test]
    fn account_debug_hides_external_id() {
        let a = AccountSpec {
            name: "prod".into(),
            role_arn: Some("arn:aws:iam::111122223333:role/x".into()),
            external_id: Some("s3cr3t-ext".into()),
            profile: None,
        };
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("s3cr3t-ext"), "{dbg}");
        assert!(dbg.contains("prod"), "{dbg}");
    }
}
