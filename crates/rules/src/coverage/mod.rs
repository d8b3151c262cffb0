//! Rule `inspector2-coverage`: whether Inspector v2 is enabled, and which
//! resources it knows but does not scan (Security Hub Inspector.1–4, Prowler
//! `inspector2_is_enabled` and `inspector2_coverage_recently_scanned`).
//!
//! What Inspector Classic called exclusions, Inspector v2 reports as coverage:
//! every resource it knows, with a scan status of `ACTIVE` or `INACTIVE` and a
//! reason. One evaluation of one account and region reads its peer findings,
//! then makes these calls ([`fetch`]), which the [`judge::Judge`] turns into
//! findings:
//!
//! 1. `BatchGetAccountStatus` for the scope's account: Inspector itself and
//!    EC2, ECR, Lambda and Lambda code scanning. A denied answer (an
//!    `AccessDenied` error, the account in `failedAccounts`, or a state whose
//!    `errorCode` is `ACCESS_DENIED`) fails the evaluation: it must never read
//!    as "enabled" or as "nothing to report". When Inspector is not enabled in
//!    the region, that is the one finding and nothing else is called.
//! 2. `GetConfiguration`, for the EC2 scan mode: in `EC2_HYBRID` mode agentless
//!    scanning covers unmanaged instances and missing or stale inventory, so
//!    those findings are lowered to `hybrid_severity`.
//!    Then, as Prowler's `inspector2_is_enabled` does, each scan type that is
//!    not `ENABLED` is weighed by what it would scan in the region: Lambda
//!    `ListFunctions` with `MaxItems=1` (both Lambda scan types), ECR
//!    `DescribeRepositories` with `maxResults=1`, and for EC2 the SSM managed
//!    nodes (`DescribeInstanceInformation`, paged through and counted). Lambda
//!    and ECR therefore say "none found" or "at least 1", EC2 an exact count
//!    of managed nodes. EC2 itself is not asked (no EC2 SDK), so an instance
//!    without the SSM Agent is not counted: in a region with EC2 scanning
//!    disabled and only unmanaged instances, the finding reads "no managed
//!    nodes found" at `unused_services` and says so. Where none are found, the
//!    finding takes `unused_services` (default `info`); where some are, or a
//!    presence call failed, the type's own level. A failed presence call is
//!    counted (`presence.unchecked`) and said in the finding, never read as
//!    "none found" (Prowler #7597), and leaves the evaluation `ok`.
//!    Where EC2 scanning is enabled, `GetEc2DeepInspectionConfiguration`:
//!    DEACTIVATED or FAILED in a region with Linux managed nodes is
//!    `EC2_DEEP_INSPECTION_OFF` (an unreadable answer `..._UNKNOWN`), at
//!    `deep_inspection_off`, with the fix and the custom package paths.
//!    Members' deep inspection (`BatchGetMemberEc2DeepInspectionStatus`) is
//!    not read: each account is its own scope, read with its own credentials.
//! 3. `ListCoverage` filtered server-side to `scanStatusCode EQUALS INACTIVE` and
//!    the configured resource types: one finding per resource and scan type,
//!    coded with the reason, graded by the table in [`reasons`].
//! 4. `ListCoverage` filtered to `ACTIVE` and the same types, for recency:
//!    a resource whose `lastScannedAt` is older than `scan_stale_after` gets
//!    `SCAN_STALE`. Two filtered passes rather than one unfiltered pass cost at
//!    most one extra call (each pass's last page is partial) and let an operator
//!    who sets `scan_stale = "off"` skip the ACTIVE resources, the bulk of a
//!    large account, entirely.
//!
//! Both passes stream: each page from the pagination helper is handed to the
//! judge item by item and dropped before the next is requested, and the judge
//! keeps only findings and counters, so memory does not grow with the number
//! of covered resources.
//!
//! # Transient reasons and the grace period
//! `PENDING_INITIAL_SCAN` (and `SCAN_IN_PROGRESS`, `PENDING_REVIVAL_SCAN`) is
//! normal for a while, and the API gives no "since" timestamp for it. The rule
//! keeps no memory of its own between evaluations: a transient state is
//! reported from the first sighting, as an `info` finding with
//! `details.first_seen`, under the fingerprint it keeps for good. The next
//! evaluation reads that open finding back through the peers port (its own
//! [`TRANSIENT_CODES`] are in [`READS`]) and keeps the earliest `first_seen`;
//! once the state has lasted `pending_grace`, the same finding takes the
//! reason's severity. The store therefore holds the clock, and a restart of
//! the daemon changes nothing. A state that clears resolves its finding, so a
//! later recurrence starts a new grace.
//!
//! # Contract with `inspector2-associations`
//! For `NO_INVENTORY` and `STALE_INVENTORY` the rule names an open finding of
//! rule [`ASSOCIATIONS_RULE`] in the same scope as the likely cause, when that
//! finding has one of the codes in [`ROOT_CAUSE_CODES`] and is about the
//! inventory association: its resource is [`INVENTORY_ASSOCIATION`] or its
//! `details.document` is [`INVENTORY_DOCUMENT`]. These strings are the whole
//! coupling between the two rules.
//!
//! # Layout
//! - [`config`] is the `[rules.inspector2-coverage]` table.
//! - [`fetch`] makes the calls: a [`fetch::Header`] and a stream per pass.
//! - [`judge`] judges enablement and each resource, purely.
//! - [`reasons`] is the table of every `ScanStatusReason`.

pub mod config;
pub mod fetch;
pub mod judge;
pub mod reasons;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{
    EvalContext, MeasurementMeta, PeerRead, Rule, RuleError, RuleMeta, RuleReport, Severity,
};
use futures::TryStreamExt;
use std::time::Duration;

pub use config::{CoverageConfig, Level, RESOURCE_TYPES};

/// The rule ID.
pub const ID: &str = "inspector2-coverage";

/// The rule whose open findings may explain missing inventory.
pub const ASSOCIATIONS_RULE: &str = "inspector2-associations";

/// Codes of the transient reasons, whose first-seen time the rule keeps in its
/// own open findings (`details.first_seen`) and reads back next time.
pub const TRANSIENT_CODES: &[&str] = &[
    "PENDING_INITIAL_SCAN",
    "SCAN_IN_PROGRESS",
    "PENDING_REVIVAL_SCAN",
];

/// What the rule reads through `PeerFindings`: the association rule's
/// findings that can explain missing inventory, and its own transient ones.
pub const READS: &[PeerRead] = &[
    PeerRead {
        rule: ASSOCIATIONS_RULE,
        codes: ROOT_CAUSE_CODES,
    },
    PeerRead {
        rule: ID,
        codes: TRANSIENT_CODES,
    },
];
/// The association Inspector creates to gather software inventory.
pub const INVENTORY_ASSOCIATION: &str = "InspectorInventoryCollection-do-not-delete";
/// The SSM document that association runs.
pub const INVENTORY_DOCUMENT: &str = "AWS-GatherSoftwareInventory";
/// The association finding codes that explain missing or stale inventory.
pub const ROOT_CAUSE_CODES: &[&str] = &[
    "ASSOCIATION_MISSING",
    "DUPLICATE_INVENTORY_ASSOCIATION",
    "EXECUTION_STALE",
    "SCHEDULE_TOO_SLOW",
    "EXECUTION_FAILED",
];

/// Finding code: Inspector v2 is not enabled in the region.
pub const INSPECTOR_DISABLED: &str = "INSPECTOR_DISABLED";
/// Finding code: EC2 scanning is off.
pub const EC2_SCANNING_DISABLED: &str = "EC2_SCANNING_DISABLED";
/// Finding code: ECR scanning is off.
pub const ECR_SCANNING_DISABLED: &str = "ECR_SCANNING_DISABLED";
/// Finding code: Lambda standard scanning is off.
pub const LAMBDA_SCANNING_DISABLED: &str = "LAMBDA_SCANNING_DISABLED";
/// Finding code: Lambda code scanning is off.
pub const LAMBDA_CODE_SCANNING_DISABLED: &str = "LAMBDA_CODE_SCANNING_DISABLED";
/// Finding code: EC2 deep inspection is DEACTIVATED or FAILED where EC2
/// scanning is enabled and Linux managed nodes exist.
pub const EC2_DEEP_INSPECTION_OFF: &str = "EC2_DEEP_INSPECTION_OFF";
/// Finding code: EC2 deep inspection could not be read (denied, failed, no
/// status), reported like `EC2_DEEP_INSPECTION_OFF` rather than as a pass.
pub const EC2_DEEP_INSPECTION_UNKNOWN: &str = "EC2_DEEP_INSPECTION_UNKNOWN";
/// Finding code: an ACTIVE resource whose last scan is too old.
pub const SCAN_STALE: &str = "SCAN_STALE";
/// The code used for a resource Inspector reports without any reason.
pub const UNSPECIFIED_REASON: &str = "UNSPECIFIED";

/// The registration of `inspector2-coverage`.
pub struct Coverage;

impl crate::Registration for Coverage {
    const ID: &'static str = ID;
    const DEMO_INTERVAL: Duration = Duration::from_secs(45);
    type Config = CoverageConfig;

    fn build(config: &CoverageConfig) -> crate::DynRule {
        std::sync::Arc::new(CoverageRule::new(config))
    }
}

/// The rule: its config, and nothing carried between evaluations.
pub struct CoverageRule {
    meta: RuleMeta,
    config: CoverageConfig,
}

impl CoverageRule {
    /// Builds the rule from its config.
    pub fn new(config: &CoverageConfig) -> Self {
        CoverageRule {
            meta: RuleMeta {
                id: ID,
                aliases: &["Inspector.1", "Inspector.2", "Inspector.3", "Inspector.4"],
                severity: Severity::High,
                summary: "Inspector v2 is enabled for EC2, ECR and Lambda, and scans every \
                          resource it knows, recently",
                reads: READS,
                measurements: &[
                    MeasurementMeta {
                        name: "coverage_resources",
                        help: "Resources in Inspector v2 coverage by scan status reason. Cached \
                               from the last evaluation",
                        across_regions: blindspot_core::rule::Aggregation::Sum,
                    },
                    MeasurementMeta {
                        name: "coverage_scanning_enabled",
                        help: "Whether Inspector v2 (scan=inspector) or one of its scan types is \
                               ENABLED (1) or not (0). Cached from the last evaluation",
                        // 0 when any region has it off: that region is blind.
                        across_regions: blindspot_core::rule::Aggregation::Min,
                    },
                    MeasurementMeta {
                        name: "coverage_ec2_hybrid_scan_mode",
                        help: "Whether the account scans EC2 in hybrid mode (1) or not (0). \
                               Cached from the last evaluation",
                        // 1 only when every region scans in hybrid mode.
                        across_regions: blindspot_core::rule::Aggregation::Min,
                    },
                ],
                reach: blindspot_core::Reach::Account,
            },
            config: config.clone(),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for CoverageRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        // Read before any call, and never read as empty on failure: judging
        // without them would restart every grace period and drop root causes
        // on the strength of data that was never seen.
        let mut peers = cx.peers.open_findings(ASSOCIATIONS_RULE, cx.scope)?;
        peers.extend(cx.peers.open_findings(ID, cx.scope)?);

        let api = cx.clients.inspector2.as_ref();
        let header = fetch::header(cx.clients, &cx.scope.account).await?;
        let mut judge = judge::Judge::new(&self.config, cx.scope, cx.now, &header, peers)?;
        let mut list_calls = 0u64;
        for &pass in judge.passes() {
            let mut pages = std::pin::pin!(fetch::coverage(api, &self.config.resource_types, pass));
            while let Some(page) = pages.try_next().await? {
                list_calls += 1;
                for resource in page {
                    judge.observe(pass, resource);
                }
            }
        }

        // Calls are the fetch's facts, not the judge's: counted here.
        let mut report = judge.finish();
        let calls = header
            .calls()
            .into_iter()
            .chain([("ListCoverage", list_calls)]);
        for (operation, n) in calls.filter(|(_, n)| *n > 0) {
            report.counts.insert(format!("calls.{operation}"), n);
        }
        Ok(report)
    }
}
