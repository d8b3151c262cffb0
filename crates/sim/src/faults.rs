//! Fault injection: latency, throttling, server errors, access denial and
//! the retirement of Inspector classic.
//!
//! Probabilistic faults draw from a seedable `StdRng` so a run with `seed`
//! set is reproducible; deterministic faults (`throttle_first_n`) exist
//! because tests that depend on chance are flaky.
//!
//! AWS ended Inspector Classic on 2026-05-20. A retired region answers every
//! classic call with HTTP 400 `UnknownOperationException`, which is what an
//! endpoint that no longer knows the operation returns in awsJson; clients
//! must tell that apart from a transient failure.

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
        Ok(())
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
            "latency_ms = 5\nclassic_retired = [\"eu-west-1\"]\n[throttle_first_n]\nListCoverage = 2\n[[access_denied]]\nservice = \"ssm\"\n",
        )
        .unwrap();
        assert_eq!(f.latency_ms, 5);
        assert_eq!(f.throttle_first_n["ListCoverage"], 2);
        assert!(f.classic_retired_in("eu-west-1"));
        assert!(!f.classic_retired_in("us-east-1"));
        assert!(f.access_denied[0].matches("x", "ssm", "1", "Op"));
        assert!(!f.access_denied[0].matches("x", "inspector", "1", "Op"));
        let json = serde_json::to_string(&f).unwrap();
        let back: Faults = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<Faults>("{\"latncy_ms\":1}").is_err());
    }

    #[test]
    fn probabilities_are_checked() {
        let f = Faults {
            throttle_probability: 1.5,
            ..Faults::default()
        };
        assert!(f.validate().is_err());
        assert!(Faults::default().validate().is_ok());
    }
}
