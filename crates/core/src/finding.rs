//! Findings: one problem on one resource, with a fingerprint that stays the
//! same every time the same problem is seen again.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::rule::Scope;

/// How urgently a finding needs attention. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is blind yet.
    Info,
    /// A narrowing of what Inspector sees.
    Low,
    /// Inspector cannot check something it was asked to check.
    Medium,
    /// A whole class of resources is not scanned.
    High,
    /// Inspector is effectively blind in the scope.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase name used in config, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of `info`, `low`, `medium`, `high`, `critical`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}`; expected one of info, low, medium, high, critical")]
pub struct SeverityParseError(pub String);

impl FromStr for Severity {
    type Err = SeverityParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| SeverityParseError(s.to_owned()))
    }
}

/// One problem on one resource in one account and region.
///
/// `id` is the fingerprint: it is derived from the rule, code, account, region,
/// resource and an optional discriminator, never from values that change every
/// run (such as assessment run ARNs), so the store can follow a problem over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable fingerprint; see [`fingerprint`].
    pub id: String,
    /// The rule that found it, e.g. `inspector-exclusions`.
    pub rule: String,
    /// A stable machine-readable problem code, e.g. `AGENT_NOT_FOUND`.
    pub code: String,
    /// How urgent it is.
    pub severity: Severity,
    /// The AWS account ID.
    pub account: String,
    /// The AWS region.
    pub region: String,
    /// The affected resource: an instance ID, an association name, an ARN.
    pub resource: String,
    /// A short human title.
    pub title: String,
    /// What is wrong and why it matters.
    pub description: String,
    /// What to do about it.
    pub recommendation: String,
    /// A concrete command that fixes it, where one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Rule-specific structured details (ARNs, intervals, platform...).
    #[serde(default)]
    pub details: serde_json::Value,
}

impl Finding {
    /// Starts a finding whose identity is (rule, code, scope, resource).
    pub fn new(
        rule: &str,
        code: &str,
        severity: Severity,
        scope: &Scope,
        resource: &str,
        title: impl Into<String>,
    ) -> Self {
        Finding {
            id: fingerprint(rule, code, &scope.account, &scope.region, resource, None),
            rule: rule.to_owned(),
            code: code.to_owned(),
            severity,
            account: scope.account.clone(),
            region: scope.region.clone(),
            resource: resource.to_owned(),
            title: title.into(),
            description: String::new(),
            recommendation: String::new(),
            remediation: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Adds a discriminator to the identity, for rules that can report the same
    /// code twice on one resource (e.g. two association names with one problem).
    pub fn distinguished_by(mut self, discriminator: &str) -> Self {
        self.id = fingerprint(
            &self.rule,
            &self.code,
            &self.account,
            &self.region,
            &self.resource,
            Some(discriminator),
        );
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Sets the recommendation.
    pub fn recommendation(mut self, text: impl Into<String>) -> Self {
        self.recommendation = text.into();
        self
    }

    /// Sets the concrete remediation command.
    pub fn remediation(mut self, command: impl Into<String>) -> Self {
        self.remediation = Some(command.into());
        self
    }

    /// Adds one detail; `details` is always a JSON object.
    pub fn detail(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value);
        }
        self
    }
}

/// The stable fingerprint of a finding: a hex SHA-256 prefix over its identity.
///
/// Fields are separated by a NUL byte so that `("a", "bc")` and `("ab", "c")`
/// never collide.
pub fn fingerprint(
    rule: &str,
    code: &str,
    account: &str,
    region: &str,
    resource: &str,
    discriminator: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        rule,
        code,
        account,
        region,
        resource,
        discriminator.unwrap_or(""),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    digest[..10].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("123456789012", "us-east-1")
    }

    #[test]
    fn fingerprint_ignores_text_but_not_identity() {
        let a = Finding::new("r", "C", Severity::Low, &scope(), "i-1", "t1").description("x");
        let b = Finding::new("r", "C", Severity::High, &scope(), "i-1", "t2").description("y");
        assert_eq!(a.id, b.id);
        let c = Finding::new("r", "C", Severity::Low, &scope(), "i-2", "t1");
        assert_ne!(a.id, c.id);
        assert_ne!(a.id, a.clone().distinguished_by("z").id);
        assert_eq!(a.id.len(), 20);
    }

    #[test]
    fn fingerprint_separates_fields() {
        assert_ne!(
            fingerprint("a", "bc", "", "", "", None),
            fingerprint("ab", "c", "", "", "", None)
        );
    }

    #[test]
    fn severity_parses_and_orders() {
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
        assert!("severe".parse::<Severity>().is_err());
        assert!(Severity::Critical > Severity::Medium);
    }
}
