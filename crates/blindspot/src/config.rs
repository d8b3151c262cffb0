//! The configuration file: TOML, every key documented in
//! `config/blindspot.example.toml`, unknown keys rejected.
//!
//! Errors name the file, the line and the key: `toml` reports the span of the
//! offending value or key, and `deny_unknown_fields` turns a typo into an error
//! instead of a silently ignored setting.
//!
//! `Debug` of every type here is safe to log: a secret (an external ID) is a
//! [`Redacted`] value, which prints as `<redacted>`.

use blindspot_rules::RulesConfig;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `config/blindspot.example.toml`: every key, commented, with its default
/// value; `blindspot config example` prints it. Its live keys equal
/// [`Config::default`] (a test compares them).
pub const EXAMPLE: &str = include_str!("../../../config/blindspot.example.toml");

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[aws]`.
    #[serde(default)]
    pub aws: AwsConfig,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSection,
    /// `[scheduler]`.
    #[serde(default)]
    pub scheduler: SchedulerSection,
    /// `[rules.<id>]`.
    #[serde(default)]
    pub rules: RulesConfig,
}

/// `[aws]`: where and how to reach AWS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// Regions to watch.
    pub regions: Vec<String>,
    /// Accounts to watch; empty means the default credential chain's account.
    pub accounts: Vec<AccountConfig>,
    /// An endpoint override for every service (also `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config files.
    pub profile: Option<String>,
    /// The limit for one API call including retries.
    #[serde(with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// The limit for one attempt of an API call.
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
    /// Attempts per API call, including the first.
    pub max_attempts: u32,
    /// `standard` or `adaptive` (the SDK's client-side rate limiter).
    pub retry_mode: blindspot_aws_sdk::RetryMode,
    /// The longest wait between two attempts of an API call.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How many (account, region) evaluations may run at once, across all
    /// rules; also how many accounts are resolved at once.
    pub concurrency: usize,
    /// AWS calls in flight at once, across every account, region and service.
    pub max_in_flight_calls: usize,
    /// Calls started per second to one service in one account and region.
    pub calls_per_second: f64,
    /// `[aws.organization]`: every account of the organisation, discovered.
    pub organization: Option<OrganizationConfig>,
}

/// `[aws.organization]`: the accounts of an AWS Organization, read with
/// Organizations ListAccounts from the account blindspot runs in (the
/// management account or a delegated administrator) and re-read every
/// `refresh`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationConfig {
    /// The role assumed in each member: `arn:<partition>:iam::<id>:role/<role_name>`.
    pub role_name: String,
    /// The external ID the role's trust policy requires: a shared secret.
    #[serde(default)]
    pub external_id: Option<Redacted<String>>,
    /// Only these account IDs (empty: every ACTIVE account).
    #[serde(default)]
    pub include: Vec<String>,
    /// Never these account IDs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How often the account list is re-read.
    #[serde(with = "humantime_serde", default = "default_refresh")]
    pub refresh: Duration,
}

fn default_refresh() -> Duration {
    Duration::from_secs(3600)
}

/// Whether `id` is a 12-digit AWS account ID.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `name` can be an IAM role name (1 to 64 of `\w+=,.@-`).
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            regions: vec!["us-east-1".to_owned()],
            accounts: Vec::new(),
            endpoint_url: None,
            profile: None,
            operation_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(20),
            max_attempts: blindspot_aws_sdk::settings::DEFAULT_MAX_ATTEMPTS,
            retry_mode: blindspot_aws_sdk::settings::DEFAULT_RETRY_MODE,
            max_backoff: blindspot_aws_sdk::settings::DEFAULT_MAX_BACKOFF,
            concurrency: 4,
            max_in_flight_calls: blindspot_aws_sdk::settings::DEFAULT_MAX_IN_FLIGHT_CALLS,
            calls_per_second: blindspot_aws_sdk::settings::DEFAULT_CALLS_PER_SECOND,
            organization: None,
        }
    }
}

/// `[[aws.accounts]]`: one account, reached by assuming a role or through a profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// A label for logs.
    pub name: String,
    /// The role to assume; absent means the default credentials' own account.
    pub role_arn: Option<String>,
    /// The external ID the role's trust policy requires: a shared secret.
    pub external_id: Option<Redacted<String>>,
    /// A profile to use instead of the default chain.
    pub profile: Option<String>,
}

/// A value that must never reach a log: `Debug` prints `<redacted>`, and the
/// value itself is only handed out by [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// The secret, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[server]`: the HTTP endpoint of `blindspot run`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address to bind; loopback by default so nothing is exposed by accident.
    pub listen: SocketAddr,
    /// A file holding the bearer token for POST endpoints.
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Requests taking longer are cut off and answered 503 with the JSON
    /// error shape (see `blindspot_server::ServerConfig::request_timeout`).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Host names (or IPs) clients reach the server by, besides loopback and
    /// the address a connection arrives on; any other `Host` is answered 421
    /// (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// A connection that sends no complete request head this long after it
    /// opened, or after its last response, is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// At most this many connections at once; beyond it new clients wait.
    pub max_connections: usize,
}

impl Default for ServerSection {
    fn default() -> Self {
        let server = blindspot_server::ServerConfig::default();
        ServerSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 9477)),
            token_file: None,
            token_env: None,
            request_timeout: Duration::from_secs(30),
            allowed_hosts: server.allowed_hosts,
            header_read_timeout: server.header_read_timeout,
            max_connections: server.max_connections,
        }
    }
}

/// `[store]`: where findings live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// The SQLite file; default `$STATE_DIRECTORY/blindspot.db` under systemd,
    /// else `./blindspot.db`.
    pub path: Option<PathBuf>,
    /// Resolved findings older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub retain_resolved: Duration,
    /// Evaluation records older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub retain_evaluations: Duration,
    /// The open findings of a scope whose evaluations have been `unavailable`
    /// for longer than this (Inspector Classic, retired) are withdrawn.
    #[serde(with = "humantime_serde")]
    pub withdraw_unavailable_after: Duration,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: None,
            retain_resolved: Duration::from_secs(30 * 24 * 3600),
            retain_evaluations: Duration::from_secs(14 * 24 * 3600),
            withdraw_unavailable_after: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `[scheduler]`: how `blindspot run` paces evaluations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSection {
    /// The most random delay added to a tick, so rules do not hit AWS together.
    #[serde(with = "humantime_serde")]
    pub jitter: Duration,
    /// How long in-flight evaluations may finish after SIGTERM before abort.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How many of the `aws.concurrency` evaluations one rule may hold;
    /// absent: all of them when only one rule is enabled, else half of them,
    /// at least one.
    pub per_rule_concurrency: Option<usize>,
    /// How many of the `aws.concurrency` evaluations one account may hold,
    /// across its regions and rules; absent: half of them, at least one.
    pub per_account_concurrency: Option<usize>,
}

impl Default for SchedulerSection {
    fn default() -> Self {
        SchedulerSection {
            jitter: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            per_rule_concurrency: None,
            per_account_concurrency: None,
        }
    }
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why. Not an error `source`: the message already says it, and
        /// `{:#}` would print it twice.
        reason: std::io::Error,
    },
    /// The file is not valid TOML or has a bad key or value.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message: line, column, the key and what was expected.
        message: String,
    },
    /// The values are individually fine but do not make sense together.
    #[error("invalid config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A key names a file or an environment variable that cannot be used
    /// (found when the daemon starts, not when the file is parsed).
    #[error("config key `{key}`: {message}")]
    Unusable {
        /// The dotted key, e.g. `server.token_file`.
        key: &'static str,
        /// What is wrong with what it names.
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            path: path.to_owned(),
            reason,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: describe_toml_error(text, &e),
        })?;
        config.validate().map_err(|invalid| ConfigError::Invalid {
            path: path.to_owned(),
            message: match line_of_key(text, &invalid.key) {
                Some(line) => format!("line {line}: {}", invalid.message),
                None => invalid.message,
            },
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Invalid> {
        let invalid = |key: &str, message: String| Invalid {
            key: key.to_owned(),
            message,
        };
        if self.aws.regions.is_empty() {
            return Err(invalid(
                "aws.regions",
                "key `aws.regions` must name at least one region".into(),
            ));
        }
        if let Some((i, bad)) = self
            .aws
            .regions
            .iter()
            .enumerate()
            .find(|(_, r)| !is_region_name(r))
        {
            return Err(invalid(
                &format!("aws.regions[{i}]"),
                format!("key `aws.regions` has an invalid region name `{bad}`"),
            ));
        }
        if self.aws.concurrency == 0 {
            return Err(invalid(
                "aws.concurrency",
                "key `aws.concurrency` must be at least 1".into(),
            ));
        }
        for (key, value) in [
            (
                "scheduler.per_rule_concurrency",
                self.scheduler.per_rule_concurrency,
            ),
            (
                "scheduler.per_account_concurrency",
                self.scheduler.per_account_concurrency,
            ),
        ] {
            if let Some(n) = value {
                if n == 0 || n > self.aws.concurrency {
                    return Err(invalid(
                        key,
                        format!(
                            "key `{key}` must be between 1 and `aws.concurrency` ({}), not {n}",
                            self.aws.concurrency
                        ),
                    ));
                }
            }
        }
        // A zero here would time out every call or request at once, delete
        // history as soon as it is written, or abort every evaluation on
        // SIGTERM: never what was meant. (Zero jitter is fine.)
        for (key, duration) in [
            ("aws.operation_timeout", self.aws.operation_timeout),
            ("aws.attempt_timeout", self.aws.attempt_timeout),
            ("server.request_timeout", self.server.request_timeout),
            ("store.retain_resolved", self.store.retain_resolved),
            ("store.retain_evaluations", self.store.retain_evaluations),
            ("scheduler.shutdown_grace", self.scheduler.shutdown_grace),
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            (
                "store.withdraw_unavailable_after",
                self.store.withdraw_unavailable_after,
            ),
        ] {
            if duration.is_zero() {
                return Err(invalid(
                    key,
                    format!("key `{key}` must be longer than zero"),
                ));
            }
        }
        if self.server.max_connections == 0 {
            return Err(invalid(
                "server.max_connections",
                "key `server.max_connections` must be at least 1".into(),
            ));
        }
        if let Some((i, bad)) = self
            .server
            .allowed_hosts
            .iter()
            .enumerate()
            .find_map(|(i, h)| {
                blindspot_server::check_allowed_host(h)
                    .err()
                    .map(|e| (i, e))
            })
        {
            return Err(invalid(
                &format!("server.allowed_hosts[{i}]"),
                format!("key `server.allowed_hosts`: {bad}"),
            ));
        }
        if self.aws.attempt_timeout > self.aws.operation_timeout {
            return Err(invalid(
                "aws.attempt_timeout",
                format!(
                    "key `aws.attempt_timeout` ({}) must not exceed `aws.operation_timeout` ({})",
                    humantime::format_duration(self.aws.attempt_timeout),
                    humantime::format_duration(self.aws.operation_timeout)
                ),
            ));
        }
        if self.aws.max_attempts == 0 {
            return Err(invalid(
                "aws.max_attempts",
                "key `aws.max_attempts` must be at least 1".into(),
            ));
        }
        // The adapter's own checks (e.g. the endpoint URL), here so that they
        // name the line like every other config error.
        if let Err(blindspot_aws_sdk::AwsSetupError::InvalidSetting { setting, reason }) =
            crate::aws::settings(&self.aws).validate()
        {
            return Err(invalid(
                &format!("aws.{setting}"),
                format!("key `aws.{setting}`: {reason}"),
            ));
        }
        if let Some(org) = &self.aws.organization {
            if !is_role_name(&org.role_name) {
                return Err(invalid(
                    "aws.organization.role_name",
                    format!(
                        "key `aws.organization.role_name`: `{}` is not an IAM role name \
                         (1 to 64 letters, digits and `_+=,.@-`; the path and ARN are built from it)",
                        org.role_name
                    ),
                ));
            }
            for (key, ids) in [
                ("aws.organization.include", &org.include),
                ("aws.organization.exclude", &org.exclude),
            ] {
                if let Some((i, bad)) = ids.iter().enumerate().find(|(_, id)| !is_account_id(id)) {
                    return Err(invalid(
                        &format!("{key}[{i}]"),
                        format!("key `{key}`: `{bad}` is not a 12-digit account ID"),
                    ));
                }
            }
            if org.refresh.is_zero() {
                return Err(invalid(
                    "aws.organization.refresh",
                    "key `aws.organization.refresh` must be longer than zero".into(),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some((i, account)) = self
            .aws
            .accounts
            .iter()
            .enumerate()
            .find(|(_, a)| !seen.insert(a.name.as_str()))
        {
            return Err(invalid(
                &format!("aws.accounts[{i}].name"),
                format!("key `aws.accounts` names account `{}` twice", account.name),
            ));
        }
        self.rules.validate().map_err(|e| Invalid {
            key: e.key.clone(),
            message: e.to_string(),
        })
    }
}

/// A value that parsed but does not make sense: the dotted key it is at
/// (`[n]` for array entries), so that the message can name its line.
#[derive(Debug)]
struct Invalid {
    key: String,
    message: String,
}

/// The 1-based line of the deepest part of `key` (`a.b[2].c`) written in the
/// TOML text: the key itself where it is written, else the table or array
/// entry that holds it (a default value has no line of its own).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut table: Option<&dyn toml_edit::TableLike> = Some(doc.as_table());
    let mut span = None;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((found, item)) = table.and_then(|t| t.get_key_value(name)) else {
            break;
        };
        span = found.span().or_else(|| item.span()).or(span);
        table = item.as_table_like();
        if let Some(i) = index {
            table = None;
            match item {
                toml_edit::Item::ArrayOfTables(array) => {
                    if let Some(entry) = array.get(i) {
                        span = entry.span().or(span);
                        table = Some(entry);
                    }
                }
                toml_edit::Item::Value(toml_edit::Value::Array(array)) => {
                    if let Some(entry) = array.get(i) {
                        span = entry.span().or(span);
                        table = entry
                            .as_inline_table()
                            .map(|t| t as &dyn toml_edit::TableLike);
                    }
                }
                _ => {}
            }
        }
    }
    span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
}

/// Region names look like `us-east-1` or `us-gov-west-1`; anything else is a
/// typo that would otherwise surface as an obscure endpoint error.
fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// toml's message already names the key; make sure the line is in it too, in
/// one line that fits a terminal and a log.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().to_owned();
    match err.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let source_line = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("line {line}: {message} (at `{source_line}`)")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_config_has_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.aws.regions, ["us-east-1"]);
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9477");
        assert!(blindspot_rules::all_rules(&c.rules)
            .iter()
            .all(|e| e.scheduling.enabled));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse("[aws]\nregions = [\"eu-west-1\"]\nregoins = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("regoins"), "{err}");
    }

    #[test]
    fn unknown_rule_key_names_key_and_line() {
        let err = parse("[rules.inspector-exclusions]\nenabled = true\nlookbak = \"3d\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("lookbak"), "{err}");
    }

    #[test]
    fn bad_value_names_line() {
        let err = parse("\n[rules.inspector-exclusions]\ninterval = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let err = parse("[aws]\nregions = [\"us east\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("aws.regions"), "{err}");
        let err = parse("[rules.inspector-exclusions]\ninterval = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rules.inspector-exclusions.interval"), "{err}");
    }

    #[test]
    fn rule_specific_checks_name_the_key() {
        let err = parse("[[rules.inspector2-associations.expected]]\nname = \"\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rules.inspector2-associations.expected[0]"),
            "{err}"
        );
        let err = parse("[rules.inspector-exclusions]\nconcurrency = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("rules.inspector-exclusions.concurrency"),
            "{err}"
        );
        let err = parse("[rules.inspector2-coverage]\nresource_types = [\"AWS_EC3\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("AWS_EC3"), "{err}");
    }

    #[test]
    fn the_organisation_is_checked_key_by_key() {
        let org = |body: &str| {
            parse(&format!(
                "[aws]\nregions = [\"us-east-1\"]\n[aws.organization]\n{body}"
            ))
        };
        let ok = org("role_name = \"blindspot-audit\"\nexternal_id = \"s3cret\"\n").unwrap();
        let config = ok.aws.organization.unwrap();
        assert_eq!(config.refresh, Duration::from_secs(3600));
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
        for (body, key, line) in [
            (
                "role_name = \"role/blindspot\"\n",
                "aws.organization.role_name",
                4,
            ),
            (
                "role_name = \"r\"\ninclude = [\"111111111111\", \"12345\"]\n",
                "aws.organization.include",
                5,
            ),
            (
                "role_name = \"r\"\nexclude = [\"x11111111111\"]\n",
                "aws.organization.exclude",
                5,
            ),
            (
                "role_name = \"r\"\nrefresh = \"0s\"\n",
                "aws.organization.refresh",
                5,
            ),
        ] {
            let err = org(body).unwrap_err().to_string();
            assert!(
                err.contains(key) && err.contains(&format!("line {line}")),
                "{body}: {err}"
            );
        }
        // role_name is required; an unknown key is refused.
        let err = org("refresh = \"1h\"\n").unwrap_err().to_string();
        assert!(err.contains("role_name"), "{err}");
        let err = org("role_name = \"r\"\nroles = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("roles") && err.contains("line 5"), "{err}");
    }

    #[test]
    fn the_adapters_checks_name_the_line() {
        let err = parse("[aws]\nregions = [\"eu-west-1\"]\nendpoint_url = \"ftp://sim\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("aws.endpoint_url"),
            "{err}"
        );
    }

    #[test]
    fn zero_durations_name_the_key_and_line() {
        for (section, key) in [
            ("aws", "operation_timeout"),
            ("aws", "attempt_timeout"),
            ("server", "request_timeout"),
            ("store", "retain_resolved"),
            ("store", "retain_evaluations"),
            ("scheduler", "shutdown_grace"),
        ] {
            let text = format!("# a comment\n[{section}]\n{key} = \"0s\"\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains("line 3") && err.contains(&format!("`{section}.{key}`")),
                "{section}.{key}: {err}"
            );
            assert!(err.contains("longer than zero"), "{err}");
        }
        // Zero jitter is meaningful: no random delay.
        parse("[scheduler]\njitter = \"0s\"\n").unwrap();
    }

    #[test]
    fn negative_durations_are_rejected_with_the_line() {
        let err = parse("[server]\nlisten = \"127.0.0.1:0\"\nrequest_timeout = \"-5s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("request_timeout"),
            "{err}"
        );
    }

    #[test]
    fn per_rule_concurrency_is_between_one_and_the_concurrency() {
        let text =
            |n: usize| format!("[aws]\nconcurrency = 4\n[scheduler]\nper_rule_concurrency = {n}\n");
        for bad in [0, 5] {
            let err = parse(&text(bad)).unwrap_err().to_string();
            assert!(
                err.contains("line 4") && err.contains("scheduler.per_rule_concurrency"),
                "{err}"
            );
        }
        let c = parse(&text(4)).unwrap();
        assert_eq!(c.scheduler.per_rule_concurrency, Some(4));
        assert_eq!(parse("").unwrap().scheduler.per_rule_concurrency, None);
    }

    #[test]
    fn debug_output_redacts_the_external_id() {
        let c = parse(
            "[aws]\nregions = [\"eu-west-1\"]\n[[aws.accounts]]\nname = \"prod\"\n\
             role_arn = \"arn:aws:iam::111122223333:role/audit\"\n\
             external_id = \"s3cr3t-ext-7f3a\"\n",
        )
        .unwrap();
        let external_id = c.aws.accounts[0].external_id.as_ref().unwrap();
        assert_eq!(external_id.expose(), "s3cr3t-ext-7f3a");
        for debug in [format!("{c:?}"), format!("{c:#?}"), format!("{:?}", c.aws)] {
            assert!(!debug.contains("s3cr3t-ext-7f3a"), "{debug}");
            assert!(
                debug.contains("<redacted>") && debug.contains("prod"),
                "{debug}"
            );
        }
    }

    #[test]
    fn example_configs_are_valid() {
        parse(EXAMPLE).unwrap();
        let deploy = parse(include_str!("../../../deploy/blindspot.toml")).unwrap();
        assert!(deploy.server.token_file.is_some());
    }

    /// The example says "every key is shown with its default value": the
    /// values it sets are the defaults, key by key. `Debug` shows every
    /// field of every section and rule (the example names no account, so
    /// nothing is redacted away).
    #[test]
    fn the_example_sets_exactly_the_defaults() {
        let example = parse(EXAMPLE).unwrap();
        assert!(
            example.aws.accounts.is_empty(),
            "{:?}",
            example.aws.accounts
        );
        let (example, default) = (format!("{example:#?}"), format!("{:#?}", Config::default()));
        let differences: Vec<String> = example
            .lines()
            .zip(default.lines())
            .filter(|(e, d)| e != d)
            .map(|(e, d)| format!("example: {}\ndefault: {}", e.trim(), d.trim()))
            .collect();
        assert!(
            differences.is_empty() && example.lines().count() == default.lines().count(),
            "config/blindspot.example.toml differs from Config::default():\n{}\n\n\
             example:\n{example}\ndefault:\n{default}",
            differences.join("\n")
        );
    }
}
