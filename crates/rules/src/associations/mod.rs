//! Rule `inspector2-associations`: the SSM State Manager associations that
//! Inspector v2 scans EC2 through.
//!
//! Inspector v2 learns what software an instance runs only as often as its
//! State Manager associations run: `InspectorInventoryCollection-do-not-delete`
//! gathers the software inventory, and the distributor and plugin associations
//! install and invoke the Inspector SSM plugin on Windows (and, with deep
//! inspection, on Linux). When one is deleted, slowed down, duplicated or keeps
//! failing, Inspector goes on reporting "covered" while its view of the
//! instances ages. This rule reads the associations and reports each way they
//! can degrade scanning.
//!
//! # Layout
//! - [`config`]: `[rules.inspector2-associations]`, the expectations and
//!   severities;
//! - [`fetch`]: reads the region into a [`Snapshot`]: every association
//!   (ListAssociations), DescribeAssociation's answer for those examined, the
//!   newest execution of those failing, and the managed nodes per platform
//!   (DescribeInstanceInformation);
//! - [`judge`]: the pure verdict on a snapshot.
//!
//! # Expectations are data
//! [`AssociationsConfig::expected`] adds to or overrides (by name) the built-in
//! table in [`default_expectations`]. Inspector creates every required
//! association when EC2 scanning is enabled, whatever instances the account
//! has, so a missing one is always reported.
//!
//! # Missing associations are weighed by platform
//! An expectation's [`Platform`] says which instances lose scanning without
//! it. A missing Windows (or Linux) association is reported at the configured
//! `association_missing` severity where the region has managed nodes of that
//! platform (`PlatformType`, any case), and as `info` where it has none: no
//! instance loses scanning yet, but the first one launched would. The finding
//! says how many nodes the region has (`details.managed_nodes`). `all`
//! associations are not weighed. The built-in Linux deep-inspection pair is
//! optional and so never reported missing; an operator's required Linux
//! expectation is weighed the same way.
//!
//! When DescribeInstanceInformation fails (for example without
//! `ssm:DescribeInstanceInformation`), the evaluation still succeeds, since
//! the associations themselves were read, but never as if there were no
//! nodes: a missing Windows or Linux association keeps the configured
//! severity, its description says the managed nodes could not be listed,
//! `details.managed_nodes` is null with the error in
//! `details.managed_nodes_error`, and the counts carry
//! `managed_nodes_unlisted = 1`.
//!
//! # Problems
//! [`ASSOCIATION_MISSING`], [`SCHEDULE_TOO_SLOW`],
//! [`DUPLICATE_INVENTORY_ASSOCIATION`], [`EXECUTION_FAILED`],
//! [`EXECUTION_STALE`], [`DOCUMENT_MISMATCH`], [`TARGETS_NARROWED`] and
//! [`SCHEDULE_UNPARSEABLE`]. Every finding about an association carries
//! `details.document`, which the coverage rule uses to recognise the inventory
//! association as a root cause.
//!
//! # The effective inventory association
//! Inspector does not create its own inventory association when the account
//! already gathers inventory from all instances with `AWS-GatherSoftwareInventory`;
//! it relies on that one. So when Inspector's is absent and such an association
//! exists, that association is checked in Inspector's place (schedule, health)
//! instead of reporting it missing.

pub mod config;
pub mod fetch;
pub mod judge;
#[cfg(test)]
mod tests;

pub use config::{
    default_expectations, AssociationsConfig, AssociationsConfigError, ExpectedAssociation,
    Platform, Severities,
};
pub use fetch::Snapshot;

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::{
    EvalContext, MeasurementMeta, Rule, RuleError, RuleMeta, RuleReport, Severity,
};
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector2-associations";

/// Finding code: a required association is absent.
pub const ASSOCIATION_MISSING: &str = "ASSOCIATION_MISSING";
/// Finding code: the schedule fires less often than allowed.
pub const SCHEDULE_TOO_SLOW: &str = "SCHEDULE_TOO_SLOW";
/// Finding code: more than one `AWS-GatherSoftwareInventory` association.
pub const DUPLICATE_INVENTORY_ASSOCIATION: &str = "DUPLICATE_INVENTORY_ASSOCIATION";
/// Finding code: the association's executions fail.
pub const EXECUTION_FAILED: &str = "EXECUTION_FAILED";
/// Finding code: the association has not run for far longer than its schedule.
pub const EXECUTION_STALE: &str = "EXECUTION_STALE";
/// Finding code: a known association runs a document outside its accepted set.
pub const DOCUMENT_MISMATCH: &str = "DOCUMENT_MISMATCH";
/// Finding code: an Inspector association no longer targets all instances.
pub const TARGETS_NARROWED: &str = "TARGETS_NARROWED";
/// Finding code: the schedule expression does not parse.
pub const SCHEDULE_UNPARSEABLE: &str = "SCHEDULE_UNPARSEABLE";

/// The SSM document that gathers software inventory.
pub const INVENTORY_DOCUMENT: &str = "AWS-GatherSoftwareInventory";
/// The association Inspector creates to gather software inventory.
pub const INVENTORY_ASSOCIATION: &str = "InspectorInventoryCollection-do-not-delete";

/// The registration of `inspector2-associations`.
pub struct Associations;

impl crate::Registration for Associations {
    const ID: &'static str = ID;
    const DEMO_INTERVAL: Duration = Duration::from_secs(30);
    type Config = AssociationsConfig;

    fn build(config: &AssociationsConfig) -> crate::DynRule {
        std::sync::Arc::new(AssociationsRule::new(config))
    }
}

/// The rule.
pub struct AssociationsRule {
    meta: RuleMeta,
    config: AssociationsConfig,
}

impl AssociationsRule {
    /// Builds the rule from its config. Call [`AssociationsConfig::validate`]
    /// first to reject a bad config with a message; an unvalidated duplicate
    /// name simply applies its last entry.
    pub fn new(config: &AssociationsConfig) -> Self {
        AssociationsRule {
            meta: RuleMeta {
                id: ID,
                aliases: &[],
                severity: Severity::High,
                summary: "Inspector v2's SSM associations exist, run on schedule, succeed and \
                          target all instances",
                reads: &[],
                measurements: &[
                    MeasurementMeta {
                        name: "association_interval_seconds",
                        help: "Effective interval between scheduled runs of an Inspector v2 SSM \
                               State Manager association, in seconds. Cached from the last \
                               evaluation",
                        // The slowest region is the one that leaves resources unscanned longest.
                        across_regions: blindspot_core::rule::Aggregation::Max,
                    },
                    MeasurementMeta {
                        name: "association_last_execution_timestamp_seconds",
                        help: "Unix time of the last execution of an Inspector v2 SSM State \
                               Manager association. Cached from the last evaluation",
                        // The oldest execution is the stalest inventory in the account.
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
impl Rule<AwsClients> for AssociationsRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        let expectations = self.config.expectations();
        let snapshot = fetch::fetch(cx.clients.ssm.as_ref(), &expectations).await?;
        Ok(judge::judge(&snapshot, &self.config, cx.scope, cx.now))
    }
}
