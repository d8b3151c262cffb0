//! What the daemon's configuration tells the adapter: endpoint, profile,
//! timeouts and retries, and the accounts to watch.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use aws_sdk_sts::config::retry::{RetryConfig, RetryMode as SdkRetryMode, RetryPartition};
use aws_sdk_sts::config::timeout::TimeoutConfig;

/// The default deadline of one call, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// The default deadline of one attempt of a call.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// The default number of attempts per call. The SDK's 3 left a one-shot
/// check incomplete under 30% throttling (a call fails with probability
/// 0.3³ ≈ 3%); with 10 it is 0.3¹⁰ ≈ 6·10⁻⁶, and with
/// [`DEFAULT_MAX_BACKOFF`] all 10 attempts fit in [`DEFAULT_OPERATION_TIMEOUT`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// The default cap of one backoff between attempts. The SDK's 20 s would let
/// ten attempts outlive the operation timeout, which would turn "still
/// throttled" into a misleading timeout; with 5 s the waits add up to at
/// most 1 + 2 + 4 + 6 × 5 = 37 s.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The default retry mode. Adaptive mode was measured against the simulated
/// AWS: a 100-page ListCoverage sweep under a 5 calls/s limit took 52 s
/// adaptive and 21 s standard (the limit allows 20 s), and a check under
/// 30% random throttling 12–18 s adaptive and 0.3 s standard; its client
/// rate limiter falls to 0.5 calls/s and recovers with time, not successes.
pub const DEFAULT_RETRY_MODE: RetryMode = RetryMode::Standard;
/// The default cap on AWS calls in flight at once, over every account,
/// region and service: enough to keep a few hundred accounts' evaluations
/// moving, few enough that a burst of evaluations never opens hundreds of
/// connections or trips every service's rate limit at once.
pub const DEFAULT_MAX_IN_FLIGHT_CALLS: usize = 64;
/// The default pace of each client (one service in one account and
/// region): 10 calls a second on average, in bursts of 10. AWS's own
/// limits for the calls blindspot makes are of this order per account and
/// region (Inspector2 list calls, SSM Describe calls), so one evaluation
/// sweeping thousands of pages leaves room for the others.
pub const DEFAULT_CALLS_PER_SECOND: f64 = 10.0;

/// How the SDK retries (`aws.retry_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    /// Jittered exponential backoff, and a retry quota per retry partition
    /// that stops retries when most attempts fail.
    Standard,
    /// Standard, plus a client-side rate limiter per retry partition that
    /// slows every call down after throttling and speeds up again over time
    /// (the SDK's adaptive mode): fewer throttled attempts, slower checks.
    Adaptive,
}

impl RetryMode {
    /// The name used in config files: `standard` or `adaptive`.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryMode::Standard => "standard",
            RetryMode::Adaptive => "adaptive",
        }
    }

    fn sdk(self) -> SdkRetryMode {
        match self {
            RetryMode::Standard => SdkRetryMode::Standard,
            RetryMode::Adaptive => SdkRetryMode::Adaptive,
        }
    }
}

impl fmt::Display for RetryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetryMode {
    type Err = AwsSetupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(RetryMode::Standard),
            "adaptive" => Ok(RetryMode::Adaptive),
            other => Err(AwsSetupError::InvalidSetting {
                setting: "retry_mode",
                reason: format!("`{other}` is neither `standard` nor `adaptive`"),
            }),
        }
    }
}

/// SDK-wide settings, shared by every account and region.
#[derive(Debug, Clone, PartialEq)]
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
    /// Attempts per call, the first included; at least 1.
    pub max_attempts: u32,
    /// Standard or adaptive retries.
    pub retry_mode: RetryMode,
    /// The longest wait between two attempts (the SDK's backoff starts at
    /// 1 s, doubles per attempt and is jittered); more than zero.
    pub max_backoff: Duration,
    /// The most AWS calls in flight at once over every client the factory
    /// builds (`aws.max_in_flight_calls`); at least 1. A call waits for a
    /// permit after its pacing, so a paced client holds none while it waits.
    pub max_in_flight_calls: usize,
    /// Calls per second each client may start on average, with bursts of
    /// `ceil(rate)` (`aws.calls_per_second`); a client is one service in one
    /// account and region. A finite number above zero.
    pub calls_per_second: f64,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            endpoint_url: None,
            profile: None,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_mode: DEFAULT_RETRY_MODE,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_in_flight_calls: DEFAULT_MAX_IN_FLIGHT_CALLS,
            calls_per_second: DEFAULT_CALLS_PER_SECOND,
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
        if self.max_backoff.is_zero() {
            return invalid("max_backoff", "must be greater than zero".to_owned());
        }
        if self.operation_timeout.is_zero() {
            return invalid("operation_timeout", "must be greater than zero".to_owned());
        }
        if self.attempt_timeout.is_zero() {
            return invalid("attempt_timeout", "must be greater than zero".to_owned());
        }
        if self.max_in_flight_calls == 0 {
            return invalid("max_in_flight_calls", "must be at least 1".to_owned());
        }
        // A semaphore holds at most this many permits.
        if self.max_in_flight_calls > tokio::sync::Semaphore::MAX_PERMITS {
            return invalid(
                "max_in_flight_calls",
                format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            );
        }
        if !(self.calls_per_second.is_finite() && self.calls_per_second > 0.0) {
            return invalid(
                "calls_per_second",
                format!("{} must be a number above zero", self.calls_per_second),
            );
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

    /// The SDK retry configuration: the mode, attempts and backoff cap
    /// configured. The first backoff stays the SDK's 1 s unless a test
    /// replaces it; it never exceeds the cap.
    pub(crate) fn retry_config(&self, initial_backoff: Option<Duration>) -> RetryConfig {
        let retry = RetryConfig::standard()
            .with_retry_mode(self.retry_mode.sdk())
            .with_max_attempts(self.max_attempts)
            .with_max_backoff(self.max_backoff);
        let initial = initial_backoff.unwrap_or_else(|| retry.initial_backoff());
        retry.with_initial_backoff(initial.min(self.max_backoff))
    }
}

/// The retry partition of one (service, account, region): the SDK keeps one
/// retry quota and, in adaptive mode, one client-side rate limiter per
/// partition. Its default partition is per (service, region), shared by
/// every account in the process; AWS throttles each account on its own, so
/// one throttled account must not slow the others down.
pub fn retry_partition(service: &str, account_id: &str, region: &str) -> RetryPartition {
    RetryPartition::new(format!("blindspot-{service}-{account_id}-{region}"))
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
        assert_eq!(s.max_attempts, 10);
        assert_eq!(s.retry_mode, RetryMode::Standard);
        assert_eq!(s.max_backoff, Duration::from_secs(5));
        assert_eq!(s.max_in_flight_calls, 64);
        assert_eq!(s.calls_per_second, 10.0);
        let t = s.timeout_config();
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(60)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(20)));
        let r = s.retry_config(None);
        assert_eq!(r.max_attempts(), 10);
        assert_eq!(r.mode(), SdkRetryMode::Standard);
        assert_eq!(r.max_backoff(), Duration::from_secs(5));
        assert_eq!(r.initial_backoff(), Duration::from_secs(1));
    }

    #[test]
    fn every_attempt_fits_in_the_operation_timeout_by_default() {
        // The worst case of the jittered backoff: each wait at its ceiling.
        let s = AwsSettings::default();
        let r = s.retry_config(None);
        let worst: Duration = (1..s.max_attempts)
            .map(|n| (r.initial_backoff() * 2u32.pow(n - 1)).min(r.max_backoff()))
            .sum();
        assert!(worst < s.operation_timeout, "{worst:?}");
    }

    #[test]
    fn retry_settings_reach_the_sdk() {
        let s = AwsSettings {
            retry_mode: RetryMode::Adaptive,
            max_attempts: 4,
            max_backoff: Duration::from_millis(20),
            ..Default::default()
        };
        let r = s.retry_config(None);
        assert_eq!(r.mode(), SdkRetryMode::Adaptive);
        assert_eq!(r.max_attempts(), 4);
        assert_eq!(r.max_backoff(), Duration::from_millis(20));
        // The first wait never exceeds the cap either.
        assert_eq!(r.initial_backoff(), Duration::from_millis(20));
        let r = s.retry_config(Some(Duration::from_millis(5)));
        assert_eq!(r.initial_backoff(), Duration::from_millis(5));
        assert_eq!(
            "adaptive".parse::<RetryMode>().unwrap(),
            RetryMode::Adaptive
        );
        assert_eq!(
            "standard".parse::<RetryMode>().unwrap(),
            RetryMode::Standard
        );
        let err = "legacy".parse::<RetryMode>().unwrap_err().to_string();
        assert!(err.contains("retry_mode"), "{err}");
        assert_eq!(
            retry_partition("ssm", "111122223333", "eu-west-1"),
            retry_partition("ssm", "111122223333", "eu-west-1")
        );
        assert_ne!(
            retry_partition("ssm", "111122223333", "eu-west-1"),
            retry_partition("ssm", "444455556666", "eu-west-1")
        );
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
                max_backoff: Duration::ZERO,
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
            AwsSettings {
                max_in_flight_calls: 0,
                ..Default::default()
            },
            AwsSettings {
                calls_per_second: 0.0,
                ..Default::default()
            },
            AwsSettings {
                calls_per_second: -1.0,
                ..Default::default()
            },
            AwsSettings {
                calls_per_second: f64::NAN,
                ..Default::default()
            },
            AwsSettings {
                calls_per_second: f64::INFINITY,
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
        let slow = AwsSettings {
            max_in_flight_calls: 1,
            calls_per_second: 0.2,
            ..Default::default()
        };
        slow.validate().unwrap();
        let err = AwsSettings {
            calls_per_second: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("calls_per_second"), "{err}");
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
