//! Scenario files: what the simulated AWS holds, written as TOML.
//!
//! A scenario names the accounts, the faults to inject, and per (account,
//! region) the data the three services answer with. Every table is
//! `deny_unknown_fields`, so a typo is an error that names the key and the
//! line. Defaults are generous so that files stay short.
//!
//! ```toml
//! name = "example"
//! default_account = "123456789012"     # account for unmapped access keys
//!
//! [access_keys]                         # access key ID -> account
//! AKIDPROD = "123456789012"
//! AKIDDEV = "210987654321"
//!
//! [faults]                              # see `faults::Faults`
//! classic_retired = ["eu-west-1"]
//!
//! [sts]
//! credential_lifetime = "20s"           # AssumeRole credentials; default the
//!                                       # requested DurationSeconds (3600)
//!
//! [organization]                        # absent: not in an organisation
//! management_account = "123456789012"   # must be one of the accounts below
//! delegated_admin = "123456789012"      # Inspector2's; absent: none
//! auto_enable = { ec2 = true, ecr = true, lambda = false, lambda_code = false }
//! auto_enable_by_region = { "eu-west-1" = { lambda = true } }
//! max_account_limit_reached = false
//! legacy_status = false                 # true: ListAccounts also sends the retired Status
//! # id = "o-a1b2c3d4e5"                 # default derived from the management account
//!
//! [[organization.account]]
//! id = "123456789012"
//! name = "security-tooling"             # default account-<id>
//! [[organization.account]]
//! id = "210987654321"
//! email = "payments@example.com"        # default aws+<id>@example.com
//! state = "ACTIVE"                      # AccountState; default ACTIVE
//! joins_after = "20s"                   # listed only from 20 s after loading
//! leaves_after = "5m"                   # ... and only until 5 min after
//! inspector_member = "ENABLED"          # Inspector2 relationshipStatus; "none": no member
//! deny_assume_role = true               # AssumeRole into this account: AccessDenied
//!
//! [[region]]
//! region = "us-east-1"
//! account = "123456789012"             # default: default_account
//! lambda_functions = 3                  # Lambda functions: a count or ["billing", ...]; default none
//! ecr_repositories = ["web", "worker"]  # ECR repositories: names or a count; default none
//!
//! [[region.assessment_run]]             # Inspector classic
//! arn = "arn:aws:inspector:us-east-1:123456789012:target/0-a/template/0-b/run/0-c"
//! state = "COMPLETED"                   # default COMPLETED
//! completed_at = "-3d"                  # RFC 3339 or relative: -30m, -2h, -3d, -45s, now
//! # name, template_arn, created_at, started_at, duration_seconds,
//! # rules_packages, data_collected, finding_counts all default sensibly.
//!
//! [[region.assessment_run.exclusion]]
//! id = "0-1234abcd"                     # or a full `arn`; default generated
//! title = "Agent not found"
//! description = "..."
//! recommendation = "..."
//! scopes = [{ key = "instanceId", value = "i-0abcd1234abcd1234" }]
//! attributes = [{ key = "INSTANCE_ID", value = "i-0abcd1234abcd1234" }]
//! instance = "i-..."                    # shortcut: adds an INSTANCE_ID scope and attribute
//! fail_once = true                      # first DescribeExclusions answers INTERNAL_ERROR, retryable
//!
//! [[region.association]]                # SSM State Manager
//! association_name = "InspectorInventoryCollection-do-not-delete"
//! name = "AWS-GatherSoftwareInventory"  # the document
//! schedule_expression = "rate(30 minutes)"
//! last_execution_date = "-20m"
//! overview = { status = "Success", detailed_status = "Success", counts = { Success = 3 } }
//! [[region.association.execution]]
//! status = "Success"
//! created_time = "-20m"
//!
//! [[region.instance]]                   # SSM managed instances
//! instance_id = "i-0abcd1234abcd1234"
//! ping_status = "Online"
//!
//! [region.inspector2]                   # absent: Inspector2 not enabled here
//! status = "ENABLED"
//! ec2 = "ENABLED"                       # ecr, lambda, lambda_code default to `status`
//! scan_mode = "EC2_SSM_AGENT_BASED"
//! deep_inspection = "DEACTIVATED"       # ACTIVATED (default), DEACTIVATED, PENDING, FAILED
//! package_paths = ["/opt/app/lib"]      # and org_package_paths; at most 5 each
//!
//! [[region.coverage]]
//! resource_id = "i-0abcd1234abcd1234"
//! reason = "SUCCESSFUL"                 # status_code defaults from reason
//! ```
//!
//! # The organisation
//! Organizations `ListAccounts` answers the management account and the
//! delegated administrator (others: `AccessDeniedException`; an account
//! outside the organisation, or a scenario without one:
//! `AWSOrganizationsNotInUseException`). Inspector2's organisation view
//! belongs to the delegated administrator: `ListMembers` (also the
//! management account), `DescribeOrganizationConfiguration`,
//! `BatchGetAccountStatus` of members (their `[region.inspector2]` in the
//! called region) and `ListCoverage` over the members' coverage;
//! `GetDelegatedAdminAccount` is the management account's. A member's
//! request for another account's status is answered `ACCESS_DENIED` in
//! `failedAccounts`. Members are the accounts whose `inspector_member` is
//! not `none`, except the administrator itself; only `ENABLED` ones are
//! associated. An account outside its `joins_after`/`leaves_after` window
//! is in none of these answers, but its own data still answer its own
//! credentials. Without an `[organization]`, BatchGetAccountStatus and
//! GetConfiguration answer for any account the scenario knows, as a single
//! administrator's view.
//!
//! Relative timestamps are resolved against the clock when the file is
//! loaded, because tests run on arbitrary dates and a fixed date would age.
//! Missing defaults (association IDs, run names, default times) are filled in
//! by [`Scenario::finalize`], which loading calls; a scenario built in code
//! is finalized when the server receives it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer};

use crate::faults::Faults;

/// The account used when a scenario names none.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading scenario {path}: {source}")]
    Io {
        /// The path that was read.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key; the message names the line.
    #[error("parsing scenario: {0}")]
    Parse(String),
    /// The TOML is well formed but describes something AWS would not return.
    #[error("invalid scenario: {0}")]
    Invalid(String),
}

/// A point in time, written in a scenario as RFC 3339 or relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses `"2026-11-20T10:00:00Z"`, `"now"`, or `"-30m"`, `"-2h"`,
    /// `"-3d"`, `"-45s"` (a leading `+` means the future) against `now`.
    pub fn parse(s: &str, now: DateTime<Utc>) -> Result<Timestamp, String> {
        let s = s.trim();
        if s == "now" {
            return Ok(Timestamp(now));
        }
        if let Some(rest) = s.strip_prefix('-').or_else(|| s.strip_prefix('+')) {
            let sign = if s.starts_with('-') { -1 } else { 1 };
            let unit = rest
                .chars()
                .last()
                .ok_or_else(|| format!("empty relative time {s:?}"))?;
            let number: i64 = rest[..rest.len() - unit.len_utf8()]
                .parse()
                .map_err(|_| format!("bad relative time {s:?}: expected e.g. -30m, -2h, -3d"))?;
            let d = match unit {
                's' => Duration::try_seconds(number),
                'm' => Duration::try_minutes(number),
                'h' => Duration::try_hours(number),
                'd' => Duration::try_days(number),
                _ => None,
            }
            .ok_or_else(|| format!("bad relative time {s:?}: unit must be s, m, h or d"))?;
            return now
                .checked_add_signed(d * sign)
                .map(Timestamp)
                .ok_or_else(|| format!("relative time {s:?} out of range"));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| format!("bad timestamp {s:?} ({e}): use RFC 3339 or e.g. -2h"))
    }

    /// Epoch seconds with millisecond precision, as JSON protocols send them.
    pub fn epoch(&self) -> f64 {
        self.0.timestamp_millis() as f64 / 1000.0
    }

    /// `self` shifted by `secs` seconds.
    pub fn plus_secs(&self, secs: i64) -> Timestamp {
        Timestamp(self.0 + Duration::seconds(secs))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s, Utc::now()).map_err(serde::de::Error::custom)
    }
}

/// A whole simulated world: accounts, faults and per-region data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, shown by the admin surface.
    #[serde(default)]
    pub name: String,
    /// Free text for humans.
    #[serde(default)]
    pub description: String,
    /// The account for access keys not listed in `access_keys`.
    #[serde(default = "default_account")]
    pub default_account: String,
    /// Access key ID → account ID.
    #[serde(default)]
    pub access_keys: BTreeMap<String, String>,
    /// Faults in force when the scenario is loaded.
    #[serde(default)]
    pub faults: Faults,
    /// Per (account, region) data.
    #[serde(default, rename = "region")]
    pub regions: Vec<RegionScenario>,
    /// The AWS Organization the accounts belong to; absent: none, and
    /// Organizations answers `AWSOrganizationsNotInUseException`.
    #[serde(default)]
    pub organization: Option<OrganizationSpec>,
    /// How STS issues credentials.
    #[serde(default)]
    pub sts: StsSpec,
}

/// STS settings (`[sts]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsSpec {
    /// How long the credentials `AssumeRole` issues live, e.g. `"20s"`;
    /// default: the requested `DurationSeconds` (3600 when none). May be
    /// below the API's 900 s minimum, so that a test can watch a refresh.
    #[serde(default, with = "humantime_serde")]
    pub credential_lifetime: Option<std::time::Duration>,
}

/// An AWS Organization (`[organization]`), with Inspector2's organisation
/// view: its delegated administrator and auto-enable settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSpec {
    /// The organisation ID, `o-` and 10 to 32 lowercase letters or digits;
    /// default derived from the management account.
    #[serde(default)]
    pub id: Option<String>,
    /// The management account; must be one of the accounts.
    pub management_account: String,
    /// Inspector2's delegated administrator; must be one of the accounts.
    /// Absent: GetDelegatedAdminAccount answers `{}`.
    #[serde(default)]
    pub delegated_admin: Option<String>,
    /// What DescribeOrganizationConfiguration reports as `autoEnable`.
    #[serde(default)]
    pub auto_enable: AutoEnableSpec,
    /// Region → the members of `auto_enable` that differ there.
    #[serde(default)]
    pub auto_enable_by_region: BTreeMap<String, AutoEnableOverride>,
    /// DescribeOrganizationConfiguration's `maxAccountLimitReached`.
    #[serde(default)]
    pub max_account_limit_reached: bool,
    /// ListAccounts also sends the `Status` AWS retired on 2026-09-09
    /// (derived from `state`); by default only `State`.
    #[serde(default)]
    pub legacy_status: bool,
    /// The accounts, in ListAccounts order.
    #[serde(default, rename = "account")]
    pub accounts: Vec<OrgAccountSpec>,
}

/// Inspector2's `AutoEnable`: which scan types new members get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoEnableSpec {
    /// `ec2`; default true.
    pub ec2: bool,
    /// `ecr`; default true.
    pub ecr: bool,
    /// `lambda`; default true.
    pub lambda: bool,
    /// `lambdaCode`; default false.
    pub lambda_code: bool,
}

impl Default for AutoEnableSpec {
    fn default() -> Self {
        AutoEnableSpec {
            ec2: true,
            ecr: true,
            lambda: true,
            lambda_code: false,
        }
    }
}

/// The members of [`AutoEnableSpec`] that differ in one region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoEnableOverride {
    /// `ec2` in this region.
    #[serde(default)]
    pub ec2: Option<bool>,
    /// `ecr` in this region.
    #[serde(default)]
    pub ecr: Option<bool>,
    /// `lambda` in this region.
    #[serde(default)]
    pub lambda: Option<bool>,
    /// `lambdaCode` in this region.
    #[serde(default)]
    pub lambda_code: Option<bool>,
}

impl OrganizationSpec {
    /// The auto-enable settings in force in `region`.
    pub fn auto_enable_in(&self, region: &str) -> AutoEnableSpec {
        let base = self.auto_enable;
        match self.auto_enable_by_region.get(region) {
            None => base,
            Some(o) => AutoEnableSpec {
                ec2: o.ec2.unwrap_or(base.ec2),
                ecr: o.ecr.unwrap_or(base.ecr),
                lambda: o.lambda.unwrap_or(base.lambda),
                lambda_code: o.lambda_code.unwrap_or(base.lambda_code),
            },
        }
    }

    /// The organisation ID: `id`, or one derived from the management account.
    pub fn org_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            format!(
                "o-{:010x}",
                crate::paging::fingerprint(&self.management_account) & 0xff_ffff_ffff
            )
        })
    }
}

/// What `inspector_member` says when the account is not an Inspector
/// member at all.
pub const NOT_A_MEMBER: &str = "none";

/// One account of the organisation (`[[organization.account]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgAccountSpec {
    /// `Id`: 12 digits.
    pub id: String,
    /// `Name`; default `account-<id>`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Email`; default `aws+<id>@example.com`.
    #[serde(default)]
    pub email: Option<String>,
    /// `State` (`AccountState`); default ACTIVE.
    #[serde(default)]
    pub state: Option<String>,
    /// `JoinedMethod`: INVITED or CREATED; default CREATED.
    #[serde(default)]
    pub joined_method: Option<String>,
    /// `JoinedTimestamp`; default a year ago, or the moment the account
    /// joins for `joins_after`.
    #[serde(default)]
    pub joined_at: Option<Timestamp>,
    /// The account joins this long after the scenario is loaded (e.g.
    /// `"20s"`): before that, nothing of the organisation lists it.
    #[serde(default, with = "humantime_serde")]
    pub joins_after: Option<std::time::Duration>,
    /// The account leaves this long after the scenario is loaded.
    #[serde(default, with = "humantime_serde")]
    pub leaves_after: Option<std::time::Duration>,
    /// Its `relationshipStatus` in Inspector2 (ListMembers); default
    /// ENABLED; `"none"`: not an Inspector member at all.
    #[serde(default)]
    pub inspector_member: Option<String>,
    /// AssumeRole into any role of this account answers `AccessDenied`.
    #[serde(default)]
    pub deny_assume_role: bool,
}

impl OrgAccountSpec {
    /// Whether the account belongs to the organisation `elapsed` after the
    /// scenario was loaded.
    pub fn present_at(&self, elapsed: std::time::Duration) -> bool {
        self.joins_after.is_none_or(|d| elapsed >= d)
            && self.leaves_after.is_none_or(|d| elapsed < d)
    }

    /// The Inspector2 relationship, or `None` when not a member.
    pub fn relationship(&self) -> Option<&str> {
        match self.inspector_member.as_deref() {
            Some(NOT_A_MEMBER) => None,
            Some(s) => Some(s),
            None => Some("ENABLED"),
        }
    }

    /// The retired `Status` (`AccountStatus`: ACTIVE, SUSPENDED,
    /// PENDING_CLOSURE) that stood for `State`: a closed account read
    /// SUSPENDED, one pending activation ACTIVE.
    pub fn legacy_status(&self) -> &'static str {
        match self.state.as_deref().unwrap_or("ACTIVE") {
            "SUSPENDED" | "CLOSED" => "SUSPENDED",
            "PENDING_CLOSURE" => "PENDING_CLOSURE",
            _ => "ACTIVE",
        }
    }
}

fn default_account() -> String {
    DEFAULT_ACCOUNT.to_string()
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: String::new(),
            description: String::new(),
            default_account: default_account(),
            access_keys: BTreeMap::new(),
            faults: Faults::default(),
            regions: Vec::new(),
            organization: None,
            sts: StsSpec::default(),
        }
    }
}

/// The data one account holds in one region.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionScenario {
    /// The region name, e.g. `us-east-1`.
    pub region: String,
    /// The owning account; defaults to the scenario's `default_account`.
    #[serde(default)]
    pub account: Option<String>,
    /// Inspector classic assessment runs, with their exclusions.
    #[serde(default, rename = "assessment_run")]
    pub assessment_runs: Vec<AssessmentRunSpec>,
    /// SSM State Manager associations.
    #[serde(default, rename = "association")]
    pub associations: Vec<AssociationSpec>,
    /// SSM managed instances.
    #[serde(default, rename = "instance")]
    pub instances: Vec<InstanceSpec>,
    /// Inspector2 account status and configuration; absent means not enabled.
    #[serde(default)]
    pub inspector2: Option<Inspector2Spec>,
    /// Inspector2 coverage resources, in listing order.
    #[serde(default)]
    pub coverage: Vec<CoverageSpec>,
    /// Lambda functions (ListFunctions): a count (`3`, named `function-1`...)
    /// or a list of names; default none.
    #[serde(default)]
    pub lambda_functions: Names,
    /// ECR repositories (DescribeRepositories): a count (`2`, named
    /// `repository-1`...) or a list of names; default none.
    #[serde(default)]
    pub ecr_repositories: Names,
}

/// Resources that exist only as names: a count, or the names themselves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Names {
    /// This many, named `<prefix>-1`, `<prefix>-2`...
    Count(usize),
    /// These names, in listing order.
    List(Vec<String>),
}

impl Default for Names {
    fn default() -> Self {
        Names::Count(0)
    }
}

impl Names {
    /// The names, generated from `prefix` for a count.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        match self {
            Names::Count(n) => (1..=*n).map(|i| format!("{prefix}-{i}")).collect(),
            Names::List(names) => names.clone(),
        }
    }
}

/// Key/value tags, a list sorted by key with one value per key. Most
/// resources carry one or two tags, and a `BTreeMap` allocates a node of
/// over 500 bytes for even one: 50 MB over a fleet of 100k resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v.as_str())
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, String)> for Tags {
    /// Sorted by key; of two values for one key, the last wins.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let map: BTreeMap<String, String> = iter.into_iter().collect();
        let mut tags: Vec<(String, String)> = map.into_iter().collect();
        tags.shrink_to_fit();
        Tags(tags)
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(|m| m.into_iter().collect())
    }
}

impl serde::Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// A key/value pair as Inspector classic writes scopes and attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// The key. Scope keys are free strings: the seed shows `instanceId`
    /// while the model's enum says `INSTANCE_ID`, and both must be servable.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: Option<String>,
}

/// An Inspector classic assessment run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentRunSpec {
    /// The run ARN (`.../template/<id>/run/<id>`).
    pub arn: String,
    /// The run name; default `Run <last ARN segment>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The template ARN; default: the run ARN up to `/run/`.
    #[serde(default)]
    pub template_arn: Option<String>,
    /// An `AssessmentRunState`; default `COMPLETED`.
    #[serde(default)]
    pub state: Option<String>,
    /// Creation time; default shortly before `started_at`.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Start time; default derived from `completed_at` or one day ago.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Completion time; default `started_at + duration` for finished states.
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Duration, 180–86400 seconds; default 3600.
    #[serde(default)]
    pub duration_seconds: Option<i64>,
    /// Rules package ARNs; default one CVE package ARN for the region.
    #[serde(default)]
    pub rules_packages: Vec<String>,
    /// Whether data was collected; default true.
    #[serde(default)]
    pub data_collected: Option<bool>,
    /// Severity → finding count; missing severities count 0.
    #[serde(default)]
    pub finding_counts: BTreeMap<String, i64>,
    /// The exclusions this run produced.
    #[serde(default, rename = "exclusion")]
    pub exclusions: Vec<ExclusionSpec>,
}

/// An Inspector classic exclusion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionSpec {
    /// The full ARN; default `<run arn>/exclusion/<id>`.
    #[serde(default)]
    pub arn: Option<String>,
    /// The last ARN segment; used when `arn` is absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The title, e.g. "Agent not found".
    pub title: String,
    /// The description.
    #[serde(default)]
    pub description: String,
    /// The recommendation.
    #[serde(default)]
    pub recommendation: String,
    /// Scopes (at least one after `instance` is applied).
    #[serde(default)]
    pub scopes: Vec<KeyValue>,
    /// Attributes.
    #[serde(default)]
    pub attributes: Vec<KeyValue>,
    /// Shortcut: adds scope and attribute `INSTANCE_ID` = this value.
    #[serde(default)]
    pub instance: Option<String>,
    /// The first DescribeExclusions for this ARN lists it in `failedItems`
    /// with `INTERNAL_ERROR`, retryable; later calls succeed.
    #[serde(default)]
    pub fail_once: bool,
}

/// An SSM association target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// e.g. `InstanceIds` or `tag:Env`.
    pub key: String,
    /// The values, e.g. `["*"]`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// An SSM association's overview.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewSpec {
    /// `Overview.Status`, e.g. `Success`, `Failed`, `Pending`.
    #[serde(default)]
    pub status: Option<String>,
    /// `Overview.DetailedStatus`; default = status.
    #[serde(default)]
    pub detailed_status: Option<String>,
    /// `Overview.AssociationStatusAggregatedCount`.
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
}

/// An SSM State Manager association.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssociationSpec {
    /// The association ID; default a stable UUID derived from the position.
    #[serde(default)]
    pub association_id: Option<String>,
    /// `AssociationName`.
    #[serde(default)]
    pub association_name: Option<String>,
    /// `Name`: the SSM document.
    pub name: String,
    /// `DocumentVersion`; default `$DEFAULT`.
    #[serde(default)]
    pub document_version: Option<String>,
    /// `AssociationVersion`; default `1`.
    #[serde(default)]
    pub association_version: Option<String>,
    /// Targets; default `InstanceIds = ["*"]`.
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
    /// `ScheduleExpression`, e.g. `rate(12 hours)`.
    #[serde(default)]
    pub schedule_expression: Option<String>,
    /// `ScheduleOffset` (1–6), only with cron expressions.
    #[serde(default)]
    pub schedule_offset: Option<i32>,
    /// Document parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, Vec<String>>,
    /// `Date` (creation); default 30 days ago.
    #[serde(default)]
    pub created: Option<Timestamp>,
    /// `LastExecutionDate`; default the newest execution's time.
    #[serde(default)]
    pub last_execution_date: Option<Timestamp>,
    /// `LastSuccessfulExecutionDate`; default the newest successful execution.
    #[serde(default)]
    pub last_successful_execution_date: Option<Timestamp>,
    /// `Overview`; default from the newest execution, else Pending.
    #[serde(default)]
    pub overview: Option<OverviewSpec>,
    /// Executions, any order (served newest first).
    #[serde(default, rename = "execution")]
    pub executions: Vec<ExecutionSpec>,
}

/// One execution of an association.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionSpec {
    /// `ExecutionId`; default a stable UUID.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// `Status`; default `Success`.
    #[serde(default)]
    pub status: Option<String>,
    /// `DetailedStatus`; default = status.
    #[serde(default)]
    pub detailed_status: Option<String>,
    /// `CreatedTime`.
    pub created_time: Timestamp,
    /// `LastExecutionDate`; default `created_time`.
    #[serde(default)]
    pub last_execution_date: Option<Timestamp>,
    /// `ResourceCountByStatus`, e.g. `{Success=3}`; default `{<status>=1}`.
    #[serde(default)]
    pub resource_count_by_status: Option<String>,
}

/// An SSM managed instance (DescribeInstanceInformation).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    /// `InstanceId`.
    pub instance_id: String,
    /// `PingStatus`: Online, ConnectionLost, Inactive; default Online.
    #[serde(default)]
    pub ping_status: Option<String>,
    /// `LastPingDateTime`; default 5 minutes ago.
    #[serde(default)]
    pub last_ping: Option<Timestamp>,
    /// `AgentVersion`; default `3.3.1611.0`.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// `IsLatestVersion`; default true.
    #[serde(default)]
    pub is_latest_version: Option<bool>,
    /// `PlatformType`: Windows, Linux, MacOS; default Linux.
    #[serde(default)]
    pub platform_type: Option<String>,
    /// `PlatformName`; default `Amazon Linux`.
    #[serde(default)]
    pub platform_name: Option<String>,
    /// `PlatformVersion`; default `2023`.
    #[serde(default)]
    pub platform_version: Option<String>,
    /// `ResourceType`: ManagedInstance or EC2Instance; default EC2Instance.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// `ComputerName`.
    #[serde(default)]
    pub computer_name: Option<String>,
    /// `IPAddress`.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// `AssociationStatus`.
    #[serde(default)]
    pub association_status: Option<String>,
    /// `LastAssociationExecutionDate`.
    #[serde(default)]
    pub last_association_execution_date: Option<Timestamp>,
    /// `LastSuccessfulAssociationExecutionDate`.
    #[serde(default)]
    pub last_successful_association_execution_date: Option<Timestamp>,
}

/// Inspector2 status and configuration for one account in one region.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspector2Spec {
    /// The account-level `Status`; default ENABLED.
    #[serde(default)]
    pub status: Option<String>,
    /// EC2 scanning status; default = status.
    #[serde(default)]
    pub ec2: Option<String>,
    /// ECR scanning status; default = status.
    #[serde(default)]
    pub ecr: Option<String>,
    /// Lambda standard scanning status; default = status.
    #[serde(default)]
    pub lambda: Option<String>,
    /// Lambda code scanning status; default DISABLED.
    #[serde(default)]
    pub lambda_code: Option<String>,
    /// `Ec2ScanMode`: EC2_SSM_AGENT_BASED or EC2_HYBRID; default EC2_SSM_AGENT_BASED.
    #[serde(default)]
    pub scan_mode: Option<String>,
    /// `Ec2ScanModeStatus`: SUCCESS or PENDING; default SUCCESS.
    #[serde(default)]
    pub scan_mode_status: Option<String>,
    /// The `errorCode` to report per state, keyed `account`, `ec2`, `ecr`,
    /// `lambda` or `lambda_code` (e.g. `ec2 = "SSM_UNAVAILABLE"` for a stuck
    /// ENABLING). The model requires an error code on every state, so
    /// without an override one is derived from the status (ENABLED →
    /// ALREADY_ENABLED, ENABLING → ENABLE_IN_PROGRESS, …).
    #[serde(default)]
    pub error_codes: BTreeMap<String, String>,
    /// `Ec2DeepInspectionStatus` that GetEc2DeepInspectionConfiguration
    /// reports: ACTIVATED, DEACTIVATED, PENDING or FAILED; default ACTIVATED.
    #[serde(default)]
    pub deep_inspection: Option<String>,
    /// Its `errorMessage` (AWS sends one with FAILED).
    #[serde(default)]
    pub deep_inspection_error: Option<String>,
    /// Its `packagePaths`: the account's custom paths (at most 5).
    #[serde(default)]
    pub package_paths: Vec<String>,
    /// Its `orgPackagePaths`: the organisation's custom paths (at most 5).
    #[serde(default)]
    pub org_package_paths: Vec<String>,
}

/// One Inspector2 covered resource.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSpec {
    /// `resourceId`, e.g. an instance ID.
    pub resource_id: String,
    /// `resourceType`; default AWS_EC2_INSTANCE.
    #[serde(default)]
    pub resource_type: Option<String>,
    /// `accountId`; default the region's account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// `scanType`; default PACKAGE.
    #[serde(default)]
    pub scan_type: Option<String>,
    /// `scanStatus.statusCode`; default ACTIVE when the reason is
    /// SUCCESSFUL, PENDING_INITIAL_SCAN or SCAN_IN_PROGRESS, else INACTIVE.
    #[serde(default)]
    pub status_code: Option<String>,
    /// `scanStatus.reason`; default SUCCESSFUL.
    #[serde(default)]
    pub reason: Option<String>,
    /// `lastScannedAt`.
    #[serde(default)]
    pub last_scanned_at: Option<Timestamp>,
    /// `scanMode`; default EC2_SSM_AGENT_BASED for EC2 instances.
    #[serde(default)]
    pub scan_mode: Option<String>,
    /// `resourceMetadata.ec2.tags`.
    #[serde(default)]
    pub tags: Tags,
    /// `resourceMetadata.ec2.amiId`.
    #[serde(default)]
    pub ami_id: Option<String>,
    /// `resourceMetadata.ec2.platform`: WINDOWS, LINUX, UNKNOWN, MACOS; default LINUX for EC2.
    #[serde(default)]
    pub platform: Option<String>,
}

// Enumerations from the service models, checked at load so that the
// simulator never serves a value the SDK could not parse as intended.
const RUN_STATES: &[&str] = &[
    "CREATED",
    "START_DATA_COLLECTION_PENDING",
    "START_DATA_COLLECTION_IN_PROGRESS",
    "COLLECTING_DATA",
    "STOP_DATA_COLLECTION_PENDING",
    "DATA_COLLECTED",
    "START_EVALUATING_RULES_PENDING",
    "EVALUATING_RULES",
    "FAILED",
    "ERROR",
    "COMPLETED",
    "COMPLETED_WITH_ERRORS",
    "CANCELED",
];
const SEVERITIES: &[&str] = &["Low", "Medium", "High", "Informational", "Undefined"];
const PING_STATUSES: &[&str] = &["Online", "ConnectionLost", "Inactive"];
const PLATFORM_TYPES: &[&str] = &["Windows", "Linux", "MacOS"];
const SSM_RESOURCE_TYPES: &[&str] = &["ManagedInstance", "EC2Instance"];
pub(crate) const I2_STATUSES: &[&str] = &[
    "ENABLING",
    "ENABLED",
    "DISABLING",
    "DISABLED",
    "SUSPENDING",
    "SUSPENDED",
];
const I2_STATE_KEYS: &[&str] = &["account", "ec2", "ecr", "lambda", "lambda_code"];
const I2_ERROR_CODES: &[&str] = &[
    "ALREADY_ENABLED",
    "ENABLE_IN_PROGRESS",
    "DISABLE_IN_PROGRESS",
    "SUSPEND_IN_PROGRESS",
    "RESOURCE_NOT_FOUND",
    "ACCESS_DENIED",
    "INTERNAL_ERROR",
    "SSM_UNAVAILABLE",
    "SSM_THROTTLED",
    "EVENTBRIDGE_UNAVAILABLE",
    "EVENTBRIDGE_THROTTLED",
    "RESOURCE_SCAN_NOT_DISABLED",
    "DISASSOCIATE_ALL_MEMBERS",
    "ACCOUNT_IS_ISOLATED",
    "EC2_SSM_RESOURCE_DATA_SYNC_LIMIT_EXCEEDED",
    "EC2_SSM_ASSOCIATION_VERSION_LIMIT_EXCEEDED",
    "BLOCKED_BY_ORGANIZATION_POLICY",
];
const SCAN_MODES_CONFIG: &[&str] = &["EC2_SSM_AGENT_BASED", "EC2_HYBRID"];
const SCAN_MODE_STATUSES: &[&str] = &["SUCCESS", "PENDING"];
const DEEP_INSPECTION_STATUSES: &[&str] = &["ACTIVATED", "DEACTIVATED", "PENDING", "FAILED"];
const COVERAGE_RESOURCE_TYPES: &[&str] = &[
    "AWS_EC2_INSTANCE",
    "AWS_ECR_CONTAINER_IMAGE",
    "AWS_ECR_REPOSITORY",
    "AWS_LAMBDA_FUNCTION",
    "CODE_REPOSITORY",
];
const SCAN_TYPES: &[&str] = &["NETWORK", "PACKAGE", "CODE"];
const SCAN_STATUS_CODES: &[&str] = &["ACTIVE", "INACTIVE"];
/// Every `ScanStatusReason` the Inspector2 model lists.
pub const SCAN_STATUS_REASONS: &[&str] = &[
    "PENDING_INITIAL_SCAN",
    "ACCESS_DENIED",
    "INTERNAL_ERROR",
    "UNMANAGED_EC2_INSTANCE",
    "UNSUPPORTED_OS",
    "SCAN_ELIGIBILITY_EXPIRED",
    "RESOURCE_TERMINATED",
    "SUCCESSFUL",
    "NO_RESOURCES_FOUND",
    "IMAGE_SIZE_EXCEEDED",
    "SCAN_FREQUENCY_MANUAL",
    "SCAN_FREQUENCY_SCAN_ON_PUSH",
    "EC2_INSTANCE_STOPPED",
    "PENDING_DISABLE",
    "NO_INVENTORY",
    "STALE_INVENTORY",
    "EXCLUDED_BY_TAG",
    "UNSUPPORTED_RUNTIME",
    "UNSUPPORTED_MEDIA_TYPE",
    "UNSUPPORTED_CONFIG_FILE",
    "DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED",
    "DEEP_INSPECTION_DAILY_SSM_INVENTORY_LIMIT_EXCEEDED",
    "DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED",
    "DEEP_INSPECTION_NO_INVENTORY",
    "AGENTLESS_INSTANCE_STORAGE_LIMIT_EXCEEDED",
    "AGENTLESS_INSTANCE_COLLECTION_TIME_LIMIT_EXCEEDED",
    "PENDING_REVIVAL_SCAN",
    "INTEGRATION_CONNECTION_LOST",
    "ACCESS_DENIED_TO_ENCRYPTION_KEY",
    "UNSUPPORTED_LANGUAGE",
    "NO_SCAN_CONFIGURATION_ASSOCIATED",
    "SCAN_IN_PROGRESS",
    "IMAGE_ARCHIVED",
    "UNSUPPORTED_CODE_ARTIFACTS",
    "RESOURCE_UNMANAGED",
    "RESOURCE_STOPPED",
    "EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED",
    "STORAGE_LIMIT_EXCEEDED",
    "INVALID_ARTIFACT",
];
const COVERAGE_SCAN_MODES: &[&str] = &[
    "EC2_SSM_AGENT_BASED",
    "EC2_AGENTLESS",
    "EC2_INSPECTOR_AGENT_BASED",
    "VM_INSPECTOR_AGENT_BASED",
];
const EC2_PLATFORMS: &[&str] = &["WINDOWS", "LINUX", "UNKNOWN", "MACOS"];
/// Organizations' `AccountState`.
const ACCOUNT_STATES: &[&str] = &[
    "PENDING_ACTIVATION",
    "ACTIVE",
    "SUSPENDED",
    "PENDING_CLOSURE",
    "CLOSED",
];
/// Organizations' `AccountJoinedMethod`.
const JOINED_METHODS: &[&str] = &["INVITED", "CREATED"];
/// Inspector2's `RelationshipStatus`, plus `none` for "not a member".
const RELATIONSHIP_STATUSES: &[&str] = &[
    "CREATED",
    "INVITED",
    "DISABLED",
    "ENABLED",
    "REMOVED",
    "RESIGNED",
    "DELETED",
    "EMAIL_VERIFICATION_IN_PROGRESS",
    "EMAIL_VERIFICATION_FAILED",
    "REGION_DISABLED",
    "ACCOUNT_SUSPENDED",
    "CANNOT_CREATE_DETECTOR_IN_ORG_MASTER",
    NOT_A_MEMBER,
];

fn check_enum(path: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ScenarioError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ScenarioError::Invalid(format!(
            "{path} = {v:?} is not one of {}",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Whether `s` has the shape of an AWS account ID (12 digits).
pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_account(path: &str, account: &str) -> Result<(), ScenarioError> {
    if is_account_id(account) {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(format!(
            "{path} = {account:?} is not a 12-digit account ID"
        )))
    }
}

/// A stable, UUID-shaped ID derived from `parts`, so that generated IDs are
/// the same on every load and tests can name them.
pub(crate) fn stable_uuid(parts: &[&str]) -> String {
    let mut a = DefaultHasher::new();
    let mut b = DefaultHasher::new();
    parts.hash(&mut a);
    ("salt", parts).hash(&mut b);
    let (x, y) = (a.finish(), b.finish());
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (y >> 48) & 0xfff,
        y & 0xffff_ffff_ffff
    )
}

const EMBEDDED_DEMO: &str = include_str!("../../../tests/scenarios/demo.toml");
const EMBEDDED_SEED: &str = include_str!("../../../tests/scenarios/seed.toml");

impl Scenario {
    /// Parses, validates and finalizes a TOML scenario.
    pub fn from_toml_str(s: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario =
            toml::from_str(s).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        scenario.validate()?;
        scenario.finalize();
        Ok(scenario)
    }

    /// Reads and parses a TOML scenario file.
    pub fn from_path(p: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(p).map_err(|source| ScenarioError::Io {
            path: p.display().to_string(),
            source,
        })?;
        Scenario::from_toml_str(&text)
    }

    /// The rich multi-region demo scenario compiled into the binary.
    pub fn embedded_demo() -> Scenario {
        // The file is part of the crate and covered by tests, so a parse
        // failure is a build defect; fall back to an empty world, not a panic.
        Scenario::from_toml_str(EMBEDDED_DEMO).unwrap_or_else(|e| {
            tracing::error!(error = %e, "embedded demo scenario is invalid");
            Scenario::default()
        })
    }

    /// The scenario built from the Inspector-003 seed document.
    pub fn embedded_seed() -> Scenario {
        Scenario::from_toml_str(EMBEDDED_SEED).unwrap_or_else(|e| {
            tracing::error!(error = %e, "embedded seed scenario is invalid");
            Scenario::default()
        })
    }

    /// Checks accounts, enumerations and limits against the service models.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_account("default_account", &self.default_account)?;
        for (key, account) in &self.access_keys {
            check_account(&format!("access_keys.{key}"), account)?;
        }
        self.faults.validate().map_err(ScenarioError::Invalid)?;
        if let Some(org) = &self.organization {
            validate_organization(org)?;
        }
        let mut seen = HashSet::new();
        for (ri, r) in self.regions.iter().enumerate() {
            let at = format!("region[{ri}] ({})", r.region);
            if r.region.is_empty() {
                return Err(ScenarioError::Invalid(format!("{at}: region is empty")));
            }
            let account = r.account.as_deref().unwrap_or(&self.default_account);
            check_account(&format!("{at}.account"), account)?;
            if !seen.insert((account.to_string(), r.region.clone())) {
                return Err(ScenarioError::Invalid(format!(
                    "{at}: account {account} in {} appears twice",
                    r.region
                )));
            }
            let mut arns = HashSet::new();
            for (i, run) in r.assessment_runs.iter().enumerate() {
                let at = format!("{at}.assessment_run[{i}]");
                if !run.arn.contains("/run/") {
                    return Err(ScenarioError::Invalid(format!(
                        "{at}.arn {:?} must contain /run/",
                        run.arn
                    )));
                }
                if !arns.insert(run.arn.clone()) {
                    return Err(ScenarioError::Invalid(format!("{at}: duplicate ARN")));
                }
                check_enum(&format!("{at}.state"), run.state.as_deref(), RUN_STATES)?;
                if let Some(d) = run.duration_seconds {
                    if !(180..=86400).contains(&d) {
                        return Err(ScenarioError::Invalid(format!(
                            "{at}.duration_seconds = {d} is outside 180..=86400"
                        )));
                    }
                }
                for k in run.finding_counts.keys() {
                    check_enum(&format!("{at}.finding_counts"), Some(k), SEVERITIES)?;
                }
                for (j, e) in run.exclusions.iter().enumerate() {
                    if e.scopes.is_empty() && e.instance.is_none() {
                        return Err(ScenarioError::Invalid(format!(
                            "{at}.exclusion[{j}] needs at least one scope (or `instance`)"
                        )));
                    }
                }
            }
            for (i, a) in r.associations.iter().enumerate() {
                if let Some(o) = a.schedule_offset {
                    if !(1..=6).contains(&o) {
                        return Err(ScenarioError::Invalid(format!(
                            "{at}.association[{i}].schedule_offset = {o} is outside 1..=6"
                        )));
                    }
                }
            }
            for (i, inst) in r.instances.iter().enumerate() {
                let at = format!("{at}.instance[{i}]");
                check_enum(
                    &format!("{at}.ping_status"),
                    inst.ping_status.as_deref(),
                    PING_STATUSES,
                )?;
                check_enum(
                    &format!("{at}.platform_type"),
                    inst.platform_type.as_deref(),
                    PLATFORM_TYPES,
                )?;
                check_enum(
                    &format!("{at}.resource_type"),
                    inst.resource_type.as_deref(),
                    SSM_RESOURCE_TYPES,
                )?;
            }
            if let Some(i2) = &r.inspector2 {
                let at = format!("{at}.inspector2");
                for (k, v) in [
                    ("status", &i2.status),
                    ("ec2", &i2.ec2),
                    ("ecr", &i2.ecr),
                    ("lambda", &i2.lambda),
                    ("lambda_code", &i2.lambda_code),
                ] {
                    check_enum(&format!("{at}.{k}"), v.as_deref(), I2_STATUSES)?;
                }
                check_enum(
                    &format!("{at}.scan_mode"),
                    i2.scan_mode.as_deref(),
                    SCAN_MODES_CONFIG,
                )?;
                check_enum(
                    &format!("{at}.scan_mode_status"),
                    i2.scan_mode_status.as_deref(),
                    SCAN_MODE_STATUSES,
                )?;
                for (k, v) in &i2.error_codes {
                    check_enum(&format!("{at}.error_codes"), Some(k), I2_STATE_KEYS)?;
                    check_enum(&format!("{at}.error_codes.{k}"), Some(v), I2_ERROR_CODES)?;
                }
                check_enum(
                    &format!("{at}.deep_inspection"),
                    i2.deep_inspection.as_deref(),
                    DEEP_INSPECTION_STATUSES,
                )?;
                for (k, paths) in [
                    ("package_paths", &i2.package_paths),
                    ("org_package_paths", &i2.org_package_paths),
                ] {
                    // `PathList`: at most 5 `Path`s of 1 to 512 characters.
                    if paths.len() > 5 {
                        return Err(ScenarioError::Invalid(format!(
                            "{at}.{k} lists {} paths; the model allows at most 5",
                            paths.len()
                        )));
                    }
                    if let Some(p) = paths.iter().find(|p| p.is_empty() || p.len() > 512) {
                        return Err(ScenarioError::Invalid(format!(
                            "{at}.{k}: {p:?} is not 1 to 512 characters"
                        )));
                    }
                }
            }
            for (i, c) in r.coverage.iter().enumerate() {
                let at = format!("{at}.coverage[{i}]");
                if c.resource_id.len() < 10 {
                    return Err(ScenarioError::Invalid(format!(
                        "{at}.resource_id {:?} is shorter than the model's minimum of 10",
                        c.resource_id
                    )));
                }
                if let Some(acc) = &c.account_id {
                    check_account(&format!("{at}.account_id"), acc)?;
                }
                check_enum(
                    &format!("{at}.resource_type"),
                    c.resource_type.as_deref(),
                    COVERAGE_RESOURCE_TYPES,
                )?;
                check_enum(
                    &format!("{at}.scan_type"),
                    c.scan_type.as_deref(),
                    SCAN_TYPES,
                )?;
                check_enum(
                    &format!("{at}.status_code"),
                    c.status_code.as_deref(),
                    SCAN_STATUS_CODES,
                )?;
                check_enum(
                    &format!("{at}.reason"),
                    c.reason.as_deref(),
                    SCAN_STATUS_REASONS,
                )?;
                check_enum(
                    &format!("{at}.scan_mode"),
                    c.scan_mode.as_deref(),
                    COVERAGE_SCAN_MODES,
                )?;
                check_enum(
                    &format!("{at}.platform"),
                    c.platform.as_deref(),
                    EC2_PLATFORMS,
                )?;
            }
        }
        Ok(())
    }

    /// Fills every defaulted field, so that the server answers with concrete
    /// values. Idempotent; relative defaults use the current time.
    pub fn finalize(&mut self) {
        let now = Timestamp(Utc::now());
        if let Some(org) = &mut self.organization {
            for a in &mut org.accounts {
                a.name.get_or_insert_with(|| format!("account-{}", a.id));
                a.email
                    .get_or_insert_with(|| format!("aws+{}@example.com", a.id));
                a.state.get_or_insert_with(|| "ACTIVE".into());
                a.joined_method.get_or_insert_with(|| "CREATED".into());
                a.inspector_member.get_or_insert_with(|| "ENABLED".into());
                // An account that joins later has its join time set by the
                // server, from when the scenario was loaded.
                if a.joins_after.is_none() {
                    a.joined_at.get_or_insert(now.plus_secs(-365 * 86400));
                }
            }
        }
        let default_account = self.default_account.clone();
        for r in &mut self.regions {
            let account = r.account.get_or_insert(default_account.clone()).clone();
            for run in &mut r.assessment_runs {
                finalize_run(run, &r.region, now);
            }
            for (i, a) in r.associations.iter_mut().enumerate() {
                finalize_association(a, &account, &r.region, i, now);
            }
            for inst in &mut r.instances {
                inst.ping_status.get_or_insert_with(|| "Online".into());
                inst.last_ping.get_or_insert(now.plus_secs(-300));
                inst.agent_version
                    .get_or_insert_with(|| "3.3.1611.0".into());
                inst.is_latest_version.get_or_insert(true);
                inst.platform_type.get_or_insert_with(|| "Linux".into());
                inst.platform_name
                    .get_or_insert_with(|| "Amazon Linux".into());
                inst.platform_version.get_or_insert_with(|| "2023".into());
                inst.resource_type
                    .get_or_insert_with(|| "EC2Instance".into());
            }
            if let Some(i2) = &mut r.inspector2 {
                let status = i2.status.get_or_insert_with(|| "ENABLED".into()).clone();
                i2.ec2.get_or_insert_with(|| status.clone());
                i2.ecr.get_or_insert_with(|| status.clone());
                i2.lambda.get_or_insert_with(|| status.clone());
                i2.lambda_code.get_or_insert_with(|| "DISABLED".into());
                i2.scan_mode
                    .get_or_insert_with(|| "EC2_SSM_AGENT_BASED".into());
                i2.scan_mode_status.get_or_insert_with(|| "SUCCESS".into());
                i2.deep_inspection.get_or_insert_with(|| "ACTIVATED".into());
            }
            for c in &mut r.coverage {
                finalize_coverage(c, &account);
            }
        }
    }
}

fn validate_organization(org: &OrganizationSpec) -> Result<(), ScenarioError> {
    let invalid = |m: String| Err(ScenarioError::Invalid(m));
    if let Some(id) = &org.id {
        let rest = id.strip_prefix("o-").unwrap_or("");
        if !(10..=32).contains(&rest.len())
            || !rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return invalid(format!(
                "organization.id = {id:?} is not o- and 10 to 32 lowercase letters or digits"
            ));
        }
    }
    let mut ids = HashSet::new();
    for (i, a) in org.accounts.iter().enumerate() {
        let at = format!("organization.account[{i}]");
        check_account(&format!("{at}.id"), &a.id)?;
        if !ids.insert(a.id.as_str()) {
            return invalid(format!("{at}: account {} appears twice", a.id));
        }
        check_enum(&format!("{at}.state"), a.state.as_deref(), ACCOUNT_STATES)?;
        check_enum(
            &format!("{at}.joined_method"),
            a.joined_method.as_deref(),
            JOINED_METHODS,
        )?;
        check_enum(
            &format!("{at}.inspector_member"),
            a.inspector_member.as_deref(),
            RELATIONSHIP_STATUSES,
        )?;
        if let Some(name) = &a.name {
            // `AccountName`: 1 to 128 characters.
            if name.is_empty() || name.chars().count() > 128 {
                return invalid(format!("{at}.name {name:?} is not 1 to 128 characters"));
            }
        }
        if let Some(email) = &a.email {
            // `Email`: 6 to 64 characters, `[^\s@]+@[^\s@]+\.[^\s@]+`.
            let shaped = email.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && !domain.contains('@')
                    && domain
                        .split_once('.')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            });
            if !(6..=64).contains(&email.len()) || !shaped || email.contains(char::is_whitespace) {
                return invalid(format!("{at}.email {email:?} is not an email address"));
            }
        }
        if let (Some(join), Some(leave)) = (a.joins_after, a.leaves_after) {
            if leave <= join {
                return invalid(format!(
                    "{at}: leaves_after ({leave:?}) is not after joins_after ({join:?})"
                ));
            }
        }
    }
    check_account("organization.management_account", &org.management_account)?;
    if !ids.contains(org.management_account.as_str()) {
        return invalid(format!(
            "organization.management_account {} is not one of [[organization.account]]",
            org.management_account
        ));
    }
    if let Some(admin) = &org.delegated_admin {
        check_account("organization.delegated_admin", admin)?;
        if !ids.contains(admin.as_str()) {
            return invalid(format!(
                "organization.delegated_admin {admin} is not one of [[organization.account]]"
            ));
        }
    }
    if org.auto_enable_by_region.keys().any(String::is_empty) {
        return invalid("organization.auto_enable_by_region has an empty region".into());
    }
    Ok(())
}

fn finalize_run(run: &mut AssessmentRunSpec, region: &str, now: Timestamp) {
    let last = run.arn.rsplit('/').next().unwrap_or("run").to_string();
    run.name.get_or_insert_with(|| format!("Run {last}"));
    if run.template_arn.is_none() {
        run.template_arn = run.arn.split("/run/").next().map(str::to_string);
    }
    let state = run.state.get_or_insert_with(|| "COMPLETED".into()).clone();
    let finished = matches!(
        state.as_str(),
        "COMPLETED" | "COMPLETED_WITH_ERRORS" | "FAILED" | "ERROR" | "CANCELED"
    );
    let duration = *run.duration_seconds.get_or_insert(3600);
    let started = match (run.started_at, run.completed_at, run.created_at) {
        (Some(s), _, _) => s,
        (None, Some(c), _) => c.plus_secs(-duration),
        (None, None, Some(c)) => c.plus_secs(60),
        (None, None, None) => now.plus_secs(-86400),
    };
    run.started_at = Some(started);
    run.created_at.get_or_insert(started.plus_secs(-60));
    if finished && run.completed_at.is_none() {
        run.completed_at = Some(started.plus_secs(duration));
    }
    if run.rules_packages.is_empty() {
        run.rules_packages.push(format!(
            "arn:aws:inspector:{region}:316112463485:rulespackage/0-gEjTy7T7"
        ));
    }
    run.data_collected.get_or_insert(true);
    for sev in SEVERITIES {
        run.finding_counts.entry((*sev).to_string()).or_insert(0);
    }
    let run_arn = run.arn.clone();
    for (i, e) in run.exclusions.iter_mut().enumerate() {
        if e.arn.is_none() {
            let id = e.id.clone().unwrap_or_else(|| {
                format!(
                    "0-{:08x}",
                    crate::paging::fingerprint(&[&run_arn, &i.to_string()]) & 0xffff_ffff
                )
            });
            e.arn = Some(format!("{run_arn}/exclusion/{id}"));
        }
        if let Some(instance) = e.instance.take() {
            let kv = |k: &str| KeyValue {
                key: k.to_string(),
                value: Some(instance.clone()),
            };
            if !e
                .scopes
                .iter()
                .any(|s| s.value.as_deref() == Some(&instance))
            {
                e.scopes.push(kv("INSTANCE_ID"));
            }
            if !e
                .attributes
                .iter()
                .any(|s| s.value.as_deref() == Some(&instance))
            {
                e.attributes.push(kv("INSTANCE_ID"));
            }
        }
    }
}

fn finalize_association(
    a: &mut AssociationSpec,
    account: &str,
    region: &str,
    index: usize,
    now: Timestamp,
) {
    let id = a
        .association_id
        .get_or_insert_with(|| stable_uuid(&[account, region, &index.to_string(), &a.name]))
        .clone();
    a.document_version.get_or_insert_with(|| "$DEFAULT".into());
    a.association_version.get_or_insert_with(|| "1".into());
    if a.targets.is_empty() {
        a.targets.push(TargetSpec {
            key: "InstanceIds".into(),
            values: vec!["*".into()],
        });
    }
    a.created.get_or_insert(now.plus_secs(-30 * 86400));
    for (i, e) in a.executions.iter_mut().enumerate() {
        e.execution_id
            .get_or_insert_with(|| stable_uuid(&[&id, "execution", &i.to_string()]));
        let status = e.status.get_or_insert_with(|| "Success".into()).clone();
        e.detailed_status.get_or_insert_with(|| status.clone());
        e.last_execution_date.get_or_insert(e.created_time);
        e.resource_count_by_status
            .get_or_insert_with(|| format!("{{{status}=1}}"));
    }
    // Newest first is how DescribeAssociationExecutions answers, so keep
    // them in that order once rather than sorting per request.
    a.executions
        .sort_by_key(|e| std::cmp::Reverse(e.created_time));
    if a.last_execution_date.is_none() {
        a.last_execution_date = a.executions.first().map(|e| e.created_time);
    }
    if a.last_successful_execution_date.is_none() {
        a.last_successful_execution_date = a
            .executions
            .iter()
            .find(|e| e.status.as_deref() == Some("Success"))
            .map(|e| e.created_time);
    }
    let newest = a.executions.first().and_then(|e| e.status.clone());
    let overview = a.overview.get_or_insert_with(OverviewSpec::default);
    let status = overview
        .status
        .get_or_insert_with(|| newest.unwrap_or_else(|| "Pending".into()))
        .clone();
    overview
        .detailed_status
        .get_or_insert_with(|| status.clone());
    if overview.counts.is_empty() && status != "Pending" {
        overview.counts.insert(status, 1);
    }
}

fn finalize_coverage(c: &mut CoverageSpec, account: &str) {
    let rtype = c
        .resource_type
        .get_or_insert_with(|| "AWS_EC2_INSTANCE".into())
        .clone();
    c.account_id.get_or_insert_with(|| account.to_string());
    c.scan_type.get_or_insert_with(|| "PACKAGE".into());
    let reason = c.reason.get_or_insert_with(|| "SUCCESSFUL".into()).clone();
    c.status_code.get_or_insert_with(|| {
        match reason.as_str() {
            "SUCCESSFUL" | "PENDING_INITIAL_SCAN" | "SCAN_IN_PROGRESS" => "ACTIVE",
            _ => "INACTIVE",
        }
        .into()
    });
    if rtype == "AWS_EC2_INSTANCE" {
        c.scan_mode
            .get_or_insert_with(|| "EC2_SSM_AGENT_BASED".into());
        c.platform.get_or_insert_with(|| "LINUX".into());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn relative_times_resolve_against_now() {
        let now = Utc::now();
        assert_eq!(
            Timestamp::parse("-2h", now).unwrap().0,
            now - Duration::hours(2)
        );
        assert_eq!(
            Timestamp::parse("-3d", now).unwrap().0,
            now - Duration::days(3)
        );
        assert_eq!(
            Timestamp::parse("-30m", now).unwrap().0,
            now - Duration::minutes(30)
        );
        assert_eq!(
            Timestamp::parse("+45s", now).unwrap().0,
            now + Duration::seconds(45)
        );
        assert_eq!(Timestamp::parse("now", now).unwrap().0, now);
        let fixed = Timestamp::parse("2026-05-20T00:00:00Z", now).unwrap();
        assert_eq!(fixed.epoch(), 1_779_235_200.0);
        assert!(Timestamp::parse("-2w", now).is_err());
        assert!(Timestamp::parse("-h", now).is_err());
        assert!(Timestamp::parse("yesterday", now).is_err());
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_line() {
        let err = Scenario::from_toml_str(
            "name = \"x\"\n\n[[region]]\nregion = \"us-east-1\"\nregoin_typo = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("regoin_typo"), "{err}");
        assert!(err.contains("line 5"), "{err}");
    }

    #[test]
    fn bad_timestamp_names_the_line() {
        let err = Scenario::from_toml_str(
            "[[region]]\nregion = \"us-east-1\"\n[[region.instance]]\ninstance_id = \"i-1\"\nlast_ping = \"soon\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("soon"), "{err}");
    }

    #[test]
    fn bad_enum_is_invalid() {
        let err = Scenario::from_toml_str(
            "[[region]]\nregion = \"us-east-1\"\n[[region.coverage]]\nresource_id = \"i-0123456789\"\nreason = \"NOPE\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("reason"), "{err}");
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn defaults_are_filled() {
        let s = Scenario::from_toml_str(
            r#"
[[region]]
region = "eu-west-1"
[[region.assessment_run]]
arn = "arn:aws:inspector:eu-west-1:123456789012:target/0-t/template/0-p/run/0-r"
completed_at = "-1h"
[[region.assessment_run.exclusion]]
title = "Agent not found"
instance = "i-0abc"
[[region.association]]
name = "AWS-GatherSoftwareInventory"
[[region.association.execution]]
created_time = "-2h"
status = "Failed"
[[region.association.execution]]
created_time = "-1h"
[[region.coverage]]
resource_id = "i-0123456789abcdef0"
reason = "UNSUPPORTED_OS"
"#,
        )
        .unwrap();
        let r = &s.regions[0];
        assert_eq!(r.account.as_deref(), Some(DEFAULT_ACCOUNT));
        let run = &r.assessment_runs[0];
        assert_eq!(
            run.template_arn.as_deref(),
            Some("arn:aws:inspector:eu-west-1:123456789012:target/0-t/template/0-p")
        );
        let done = run.completed_at.unwrap();
        assert_eq!(run.started_at.unwrap().plus_secs(3600), done);
        let ex = &run.exclusions[0];
        assert!(ex
            .arn
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}/exclusion/0-", run.arn)));
        assert_eq!(ex.scopes[0].key, "INSTANCE_ID");
        let a = &r.associations[0];
        assert_eq!(a.association_id.as_ref().unwrap().len(), 36);
        assert_eq!(a.executions[0].status.as_deref(), Some("Success"));
        assert_eq!(
            a.overview.as_ref().unwrap().status.as_deref(),
            Some("Success")
        );
        assert_eq!(
            a.last_successful_execution_date,
            Some(a.executions[0].created_time)
        );
        assert_eq!(r.coverage[0].status_code.as_deref(), Some("INACTIVE"));
        // Stable IDs: loading twice gives the same association ID.
        let again = Scenario::from_toml_str(
            "[[region]]\nregion = \"eu-west-1\"\n[[region.association]]\nname = \"AWS-GatherSoftwareInventory\"\n",
        )
        .unwrap();
        assert_eq!(
            again.regions[0].associations[0].association_id,
            a.association_id
        );
    }

    #[test]
    fn the_example_in_this_modules_doc_parses() {
        let source = include_str!("scenario.rs");
        let example: String = source
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .skip_while(|l| *l != "```toml")
            .skip(1)
            .take_while(|l| *l != "```")
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(example.contains("[organization]"), "{example}");
        let s = Scenario::from_toml_str(&example).unwrap();
        let org = s.organization.unwrap();
        assert_eq!(org.accounts.len(), 2);
        assert!(!org.auto_enable_in("us-east-1").lambda);
        assert!(org.auto_enable_in("eu-west-1").lambda);
        assert_eq!(
            s.sts.credential_lifetime,
            Some(std::time::Duration::from_secs(20))
        );
    }

    #[test]
    fn tags_are_a_sorted_map() {
        let s = Scenario::from_toml_str(
            "[[region]]\nregion = \"us-east-1\"\n[[region.coverage]]\nresource_id = \"i-0123456789\"\ntags = { Name = \"web\", Env = \"prod\" }\n",
        )
        .unwrap();
        let tags = &s.regions[0].coverage[0].tags;
        assert_eq!(
            tags.iter().collect::<Vec<_>>(),
            [("Env", "prod"), ("Name", "web")]
        );
        assert_eq!(tags.get("Name"), Some("web"));
        assert_eq!(tags.get("Team"), None);
        assert_eq!(
            serde_json::to_value(tags).unwrap(),
            serde_json::json!({"Env": "prod", "Name": "web"})
        );
        let last_wins: Tags = [("k".to_string(), "1".to_string()), ("k".into(), "2".into())]
            .into_iter()
            .collect();
        assert_eq!(last_wins.get("k"), Some("2"));
        assert!(Tags::default().is_empty());
    }

    #[test]
    fn organisations_are_checked() {
        let org = |tail: &str| {
            format!(
                "[organization]\nmanagement_account = \"111111111111\"\n{tail}\n[[organization.account]]\nid = \"111111111111\"\n"
            )
        };
        Scenario::from_toml_str(&org("")).unwrap();
        for (tail, named) in [
            ("delegated_admin = \"222222222222\"", "delegated_admin"),
            ("id = \"org-1\"", "organization.id"),
            ("typo = 1", "typo"),
            ("auto_enable = { ec3 = true }", "ec3"),
        ] {
            let err = Scenario::from_toml_str(&org(tail)).unwrap_err().to_string();
            assert!(err.contains(named), "{tail}: {err}");
        }
        for (account, named) in [
            ("id = \"1\"", "organization.account[1].id"),
            ("id = \"111111111111\"", "appears twice"),
            ("id = \"222222222222\"\nstate = \"GONE\"", "state"),
            (
                "id = \"222222222222\"\ninspector_member = \"MAYBE\"",
                "inspector_member",
            ),
            ("id = \"222222222222\"\nemail = \"not-an-address\"", "email"),
            (
                "id = \"222222222222\"\njoined_method = \"BORN\"",
                "joined_method",
            ),
        ] {
            let text = format!("{}[[organization.account]]\n{account}\n", org(""));
            let err = Scenario::from_toml_str(&text).unwrap_err().to_string();
            assert!(err.contains(named), "{account}: {err}");
        }
        let err =
            Scenario::from_toml_str("[organization]\nmanagement_account = \"111111111111\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("management_account"), "{err}");
    }

    #[test]
    fn embedded_scenarios_parse() {
        Scenario::from_toml_str(EMBEDDED_DEMO).unwrap();
        let seed = Scenario::from_toml_str(EMBEDDED_SEED).unwrap();
        assert_eq!(seed.regions[0].region, "us-east-1");
    }
}
