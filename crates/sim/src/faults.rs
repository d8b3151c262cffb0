//! Fault injection: latency, throttling (random, first-N and rate limits),
//! server errors, access denial, the retirement of Inspector classic, and
//! answers without some members.
//!
//! Probabilistic faults draw from a seedable `StdRng` so a run with `seed`
//! set is reproducible; deterministic faults (`throttle_first_n`) exist
//! because tests that depend on chance are flaky.
//!
//! `rate_limit` throttles the way AWS does: a token bucket per caller
//! account, region, service and operation, refilled at `rate` calls per
//! second up to `burst`. A call that finds the bucket empty is answered with
//! the service's throttling error and takes no token.
//!
//! AWS ended Inspector Classic on 2026-05-20. A retired region answers every
//! classic call with an error that clients must tell apart from a transient
//! failure; `retired_shape` picks which of the shapes seen from retired or
//! shut-down endpoints it is (see [`RetiredShape`]).
//!
//! `omit_members` removes members from answers, including members the model
//! marks required, to show how clients cope with answers AWS sends without
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Faults in force; `Default` means none. Serializable as TOML and JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// RNG seed for probabilistic faults and jitter; absent: from entropy.
    pub seed: Option<u64>,
    /// Fixed latency added to every AWS call, in milliseconds.
    pub latency_ms: u64,
    /// Extra uniformly random latency, 0..=jitter_ms milliseconds.
    pub jitter_ms: u64,
    /// Signing service (`sts`, `inspector`, `inspector2`, `ssm`) → latency
    /// added to its calls only, in milliseconds, e.g. a slow STS.
    pub service_latency_ms: BTreeMap<String, u64>,
    /// Probability (0–1) that a call answers `ThrottlingException`.
    pub throttle_probability: f64,
    /// Probability (0–1) that a call answers the service's 5xx error.
    pub server_error_probability: f64,
    /// Operation name → the first N calls of it (all regions, counted since
    /// these faults were set) are throttled.
    pub throttle_first_n: BTreeMap<String, u64>,
    /// Calls matching any rule are answered with access denied.
    pub access_denied: Vec<AccessDenied>,
    /// Regions where Inspector classic is retired; `"*"` means everywhere.
    pub classic_retired: Vec<String>,
    /// How a retired Inspector classic answers.
    pub retired_shape: RetiredShape,
    /// Operation name (or `"*"` for every operation without its own entry)
    /// → a token bucket per (account, region, service, operation).
    pub rate_limit: BTreeMap<String, RateLimit>,
    /// Operation name → member names removed from every object of its
    /// answers, at any depth (e.g. `BatchGetAccountStatus = ["errorCode"]`).
    pub omit_members: BTreeMap<String, Vec<String>>,
}

/// What a retired Inspector classic answers, in awsJson1_1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetiredShape {
    /// HTTP 400 `UnknownOperationException`: the endpoint no longer knows
    /// any classic operation.
    #[default]
    UnknownOperation,
    /// HTTP 400 `UnrecognizedClientException` ("The security token included
    /// in the request is invalid."): the endpoint no longer knows the
    /// caller, although STS accepts the same credentials.
    UnrecognizedClient,
    /// HTTP 400 `AccessDeniedException` whose message says the service is no
    /// longer available and past its end of support.
    Message,
}

/// A token bucket: `burst` calls at once, then `rate` calls per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Tokens added per second.
    pub rate: f64,
    /// The bucket's size, and its content when the faults are set; at least 1.
    pub burst: f64,
}

/// Which calls are denied: every given field must match; absent fields
/// match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessDenied {
    /// The region, e.g. `eu-west-1`.
    pub region: Option<String>,
    /// The signing service: `inspector`, `inspector2`, `ssm` or `sts`.
    pub service: Option<String>,
    /// The caller's account.
    pub account: Option<String>,
    /// The operation, e.g. `ListCoverage`.
    pub operation: Option<String>,
}

impl AccessDenied {
    pub(crate) fn matches(&self, region: &str, service: &str, account: &str, op: &str) -> bool {
        let m = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        m(&self.region, region)
            && m(&self.service, service)
            && m(&self.account, account)
            && m(&self.operation, op)
    }
}

impl Faults {
    /// Rejects probabilities outside 0–1.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("throttle_probability", self.throttle_probability),
            ("server_error_probability", self.server_error_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("faults.{name} = {p} is outside 0..=1"));
            }
        }
        for (op, limit) in &self.rate_limit {
            if !(limit.rate.is_finite() && limit.rate > 0.0) {
                return Err(format!(
                    "faults.rate_limit.{op}.rate = {} must be a number above 0",
                    limit.rate
                ));
            }
            if !(limit.burst.is_finite() && limit.burst >= 1.0) {
                return Err(format!(
                    "faults.rate_limit.{op}.burst = {} must be at least 1",
                    limit.burst
                ));
            }
        }
        Ok(())
    }

    /// The rate limit of `operation`: its own entry, else the `"*"` entry.
    pub fn rate_limit_of(&self, operation: &str) -> Option<&RateLimit> {
        self.rate_limit
            .get(operation)
            .or_else(|| self.rate_limit.get("*"))
    }

    /// Whether Inspector classic is retired in `region`.
    pub fn classic_retired_in(&self, region: &str) -> bool {
        self.classic_retired.iter().any(|r| r == "*" || r == region)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_from_toml_and_json() {
        let f: Faults = toml::from_str(
            "latency_ms = 5\nservice_latency_ms = { sts = 7 }\nclassic_retired = [\"eu-west-1\"]\n[throttle_first_n]\nListCoverage = 2\n[[access_denied]]\nservice = \"ssm\"\n",
        )
        .unwrap();
        assert_eq!(f.latency_ms, 5);
        assert_eq!(f.service_latency_ms["sts"], 7);
        assert_eq!(f.throttle_first_n["ListCoverage"], 2);
        assert!(f.classic_retired_in("eu-west-1"));
        assert!(!f.classic_retired_in("us-east-1"));
        assert!(f.access_denied[0].matches("x", "ssm", "1", "Op"));
        assert!(!f.access_denied[0].matches("x", "inspector", "1", "Op"));
        let json = serde_json::to_string(&f).unwrap();
        let back: Faults = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<Faults>("{\"latncy_ms\":1}").is_err());
        assert_eq!(f.retired_shape, RetiredShape::UnknownOperation);
    }

    #[test]
    fn rate_limits_retired_shapes_and_omissions_parse() {
        let f: Faults = toml::from_str(
            "retired_shape = \"unrecognized_client\"\n[rate_limit]\n\"*\" = { rate = 5.0, burst = 10 }\nListCoverage = { rate = 0.5, burst = 1 }\n[omit_members]\nBatchGetAccountStatus = [\"errorCode\"]\n",
        )
        .unwrap();
        f.validate().unwrap();
        assert_eq!(f.retired_shape, RetiredShape::UnrecognizedClient);
        assert_eq!(f.rate_limit_of("ListCoverage").unwrap().rate, 0.5);
        assert_eq!(f.rate_limit_of("ListAssociations").unwrap().burst, 10.0);
        assert_eq!(f.omit_members["BatchGetAccountStatus"], ["errorCode"]);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"unrecognized_client\""), "{json}");
        assert_eq!(serde_json::from_str::<Faults>(&json).unwrap(), f);
        assert!(toml::from_str::<Faults>("retired_shape = \"gone\"").is_err());
        assert!(toml::from_str::<Faults>("[rate_limit]\nX = { rate = 1.0 }").is_err());
        assert!(Faults::default().rate_limit_of("X").is_none());
    }

    #[test]
    fn probabilities_are_checked() {
        let f = Faults {
            throttle_probability: 1.5,
            ..Faults::default()
        };
        assert!(f.validate().is_err());
        assert!(Faults::default().validate().is_ok());
        for (rate, burst) in [(0.0, 1.0), (f64::NAN, 1.0), (1.0, 0.5), (-1.0, 2.0)] {
            let mut f = Faults::default();
            f.rate_limit
                .insert("ListCoverage".into(), RateLimit { rate, burst });
            let err = f.validate().unwrap_err();
            assert!(err.contains("faults.rate_limit.ListCoverage"), "{err}");
        }
    }
}
