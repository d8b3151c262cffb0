//! `[rules.inspector2-coverage]`: the rule's config table, its defaults and
//! the deserializers that turn a misspelt value into an error at load time.

use blindspot_core::Severity;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The `CoverageResourceType` values of the Inspector v2 model; a configured
/// type outside this list is a config error, because a misspelt type would
/// silently filter every resource out.
pub const RESOURCE_TYPES: &[&str] = &[
    "AWS_EC2_INSTANCE",
    "AWS_ECR_CONTAINER_IMAGE",
    "AWS_ECR_REPOSITORY",
    "AWS_LAMBDA_FUNCTION",
    "CODE_REPOSITORY",
    "Microsoft.Compute/virtualMachines",
    "Microsoft.ContainerRegistry/registry/containerImage",
    "Microsoft.ContainerRegistry/registry/containerRepository",
    "Microsoft.Web/sites",
    "Microsoft.ContainerRegistry/registries",
    "MACHINE_IMAGE",
    "cloudfunctions.googleapis.com/Function",
    "compute.googleapis.com/Instance",
    "artifactregistry.googleapis.com/Repository",
    "artifactregistry.googleapis.com/DockerImage",
];

/// `CoverageStringFilterList` holds 1 to 10 filters (the model's `max`).
const MAX_STRING_FILTERS: usize = 10;

/// A check's severity, or `off` to skip it. Written as a severity name or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The check does not report.
    Off,
    /// The check reports at this severity.
    On(Severity),
}

impl Level {
    /// The severity, unless the check is off.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::On(severity) => Some(severity),
        }
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.eq_ignore_ascii_case("off") {
            return Ok(Level::Off);
        }
        text.parse::<Severity>().map(Level::On).map_err(|_| {
            de::Error::custom(format!(
                "unknown level `{text}`; expected off, info, low, medium, high or critical"
            ))
        })
    }
}

/// `[rules.inspector2-coverage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// Whether the rule runs.
    pub enabled: bool,
    /// How often the daemon runs it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one evaluation may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// `INSPECTOR_DISABLED` (default critical).
    pub inspector_disabled: Level,
    /// `EC2_SCANNING_DISABLED` (default high).
    pub ec2_disabled: Level,
    /// `ECR_SCANNING_DISABLED` (default medium).
    pub ecr_disabled: Level,
    /// `LAMBDA_SCANNING_DISABLED` (default medium; `off` where Lambda is not used).
    pub lambda_disabled: Level,
    /// `LAMBDA_CODE_SCANNING_DISABLED` (default low).
    pub lambda_code_disabled: Level,
    /// A disabled scan type in a region with no resources of its kind (no
    /// Lambda functions, no ECR repositories, no SSM managed nodes): reported
    /// at this level instead of the type's own (default info; `off` hides it).
    /// A region whose resources could not be counted keeps the type's level.
    pub unused_services: Level,
    /// `EC2_DEEP_INSPECTION_OFF` and `EC2_DEEP_INSPECTION_UNKNOWN`: deep
    /// inspection DEACTIVATED or FAILED (or unreadable) where EC2 scanning is
    /// enabled and Linux managed nodes exist (default medium).
    pub deep_inspection_off: Level,
    /// The resource types whose coverage is listed (`CoverageResourceType`).
    #[serde(deserialize_with = "resource_types")]
    pub resource_types: Vec<String>,
    /// Per-reason overrides of the table: a severity reports the reason (a
    /// benign one too), `off` counts it without reporting.
    #[serde(deserialize_with = "reason_levels")]
    pub reasons: BTreeMap<String, Level>,
    /// How long a transient reason (`PENDING_INITIAL_SCAN`...) may last before
    /// its finding takes the reason's severity; until then it is `info`.
    #[serde(with = "humantime_serde")]
    pub pending_grace: Duration,
    /// `SCAN_STALE` (default medium); `off` also skips the ACTIVE pass.
    pub scan_stale: Level,
    /// How old an ACTIVE resource's `lastScannedAt` may be (default 3 days, as
    /// Prowler's `inspector2_coverage_recently_scanned`).
    #[serde(with = "humantime_serde")]
    pub scan_stale_after: Duration,
    /// The severity that findings agentless scanning covers are lowered to in
    /// `EC2_HYBRID` scan mode.
    pub hybrid_severity: Severity,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            enabled: true,
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(300),
            inspector_disabled: Level::On(Severity::Critical),
            ec2_disabled: Level::On(Severity::High),
            ecr_disabled: Level::On(Severity::Medium),
            lambda_disabled: Level::On(Severity::Medium),
            lambda_code_disabled: Level::On(Severity::Low),
            unused_services: Level::On(Severity::Info),
            deep_inspection_off: Level::On(Severity::Medium),
            resource_types: [
                "AWS_EC2_INSTANCE",
                "AWS_ECR_CONTAINER_IMAGE",
                "AWS_ECR_REPOSITORY",
                "AWS_LAMBDA_FUNCTION",
                "CODE_REPOSITORY",
            ]
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
            reasons: BTreeMap::new(),
            pending_grace: Duration::from_secs(24 * 3600),
            scan_stale: Level::On(Severity::Medium),
            scan_stale_after: Duration::from_secs(3 * 24 * 3600),
            hybrid_severity: Severity::Low,
        }
    }
}

fn resource_types<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let types = Vec::<String>::deserialize(deserializer)?;
    if types.is_empty() {
        return Err(de::Error::custom(
            "resource_types is empty; list at least one CoverageResourceType",
        ));
    }
    if types.len() > MAX_STRING_FILTERS {
        return Err(de::Error::custom(format!(
            "resource_types lists {} types; ListCoverage takes at most {MAX_STRING_FILTERS} \
             filters per criterion",
            types.len()
        )));
    }
    for t in &types {
        if !RESOURCE_TYPES.contains(&t.as_str()) {
            return Err(de::Error::custom(format!(
                "unknown resource type `{t}`; expected one of {}",
                RESOURCE_TYPES.join(", ")
            )));
        }
    }
    Ok(types)
}

fn reason_levels<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Level>, D::Error> {
    let levels = BTreeMap::<String, Level>::deserialize(deserializer)?;
    // Unknown reasons are accepted, since AWS adds reasons over time, but they
    // must look like one, so that a lowercase or misspelt key stands out.
    for key in levels.keys() {
        if !is_reason_like(key) {
            return Err(de::Error::custom(format!(
                "`{key}` is not a scan status reason; reasons are UPPER_SNAKE_CASE, e.g. NO_INVENTORY"
            )));
        }
    }
    Ok(levels)
}

/// Whether `text` has the shape of a `ScanStatusReason` (UPPER_SNAKE_CASE, at
/// most 64 bytes): config keys must, and metric labels are limited to those.
pub(super) fn is_reason_like(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl crate::RuleConfig for CoverageConfig {
    crate::scheduling_fields!();
}
