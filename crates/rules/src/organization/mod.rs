//! Rule `inspector2-organization`: the blind spots that only show at the
//! level of the organisation. Inspector is enabled account by account, and
//! an estate of hundreds of accounts stays covered only if its organisation
//! is set up to keep it so: a delegated administrator manages Inspector for
//! every account, every ACTIVE account is its member, and new accounts get
//! scanning automatically. Each of these can be missing while every account
//! that *is* enabled looks fine.
//!
//! The rule has [`Reach::Organization`](blindspot_core::Reach): the engine
//! runs it only on the targets that see the whole organisation (the account
//! blindspot runs in, in each configured region). Its findings are recorded
//! under that account and region; a finding about a member account has the
//! member's account ID as its resource.
//!
//! # What it reads ([`fetch`])
//! Organizations `ListAccounts` (every page; ACTIVE accounts kept, the others
//! counted by state), then Inspector's `GetDelegatedAdminAccount`,
//! `ListMembers` with `onlyAssociated` false (every page) and
//! `DescribeOrganizationConfiguration`, once each per region.
//!
//! # What cannot be seen is neither reported nor resolved
//! AWS answers these calls in different accounts: GetDelegatedAdminAccount
//! only in the management account, ListMembers and
//! DescribeOrganizationConfiguration only in the delegated administrator. A
//! denied call is kept as such in the snapshot, never as "nothing there", and
//! the [`judge`] decides:
//! - ListAccounts failing, for any reason, is an `error` evaluation: without
//!   the organisation's accounts nothing can be judged.
//! - ListMembers denied is an `error` evaluation (the message names the
//!   delegated administrator when known), since "missing from Inspector"
//!   cannot be judged, except where GetDelegatedAdminAccount says the
//!   organisation has no delegated administrator: then there is no
//!   Inspector organisation and no account is a member of one, which is
//!   judged as such. An empty ListMembers answer while GetDelegatedAdminAccount
//!   names another account as administrator is an `error` too: only the
//!   administrator lists the members.
//! - GetDelegatedAdminAccount denied (the usual case in the delegated
//!   administrator): the administrator is the one the members'
//!   `delegatedAdminAccountId` names, else the account blindspot runs in
//!   (ListMembers answered there); `details.delegated_admin_source` and the
//!   count `delegated_admin_inferred` say so.
//! - DescribeOrganizationConfiguration denied: one
//!   [`CONFIGURATION_UNREADABLE`] finding; the rest of the evaluation stands.
//!   An answer without `autoEnable`, or without one of its members, is
//!   [`AUTO_ENABLE_UNKNOWN`] for that scan type, never "off".
//!
//! In both last cases the rule's own open [`AUTO_ENABLE_OFF`] and
//! [`MAX_ACCOUNT_LIMIT_REACHED`] findings about what could not be read are
//! reported again as they were, with `details.unverified` saying why: an `ok`
//! evaluation resolves every finding it does not report, and a setting that
//! was not seen has not been fixed. They come from the rule's own findings
//! ([`READS`]), as the coverage rule's grace periods do.
//!
//! # Assumption: the delegated administrator is not its own member
//! AWS does not document the delegated administrator among the members its
//! own ListMembers lists, so the administrator's account is never reported
//! as [`ACCOUNT_NOT_MEMBER`] or [`MEMBER_NOT_ENABLED`]; whether Inspector
//! scans it is the coverage rule's question, in its own scope. Any other
//! account, the management account included, is judged like every member.
//!
//! # Problems
//! [`AUTO_ENABLE_OFF`] (per scan type), [`AUTO_ENABLE_UNKNOWN`],
//! [`CONFIGURATION_UNREADABLE`], [`MAX_ACCOUNT_LIMIT_REACHED`],
//! [`ACCOUNT_NOT_MEMBER`], [`MEMBER_NOT_ENABLED`], [`NO_DELEGATED_ADMIN`]
//! and [`DELEGATED_ADMIN_MISMATCH`].
//!
//! # Layout
//! - [`config`] is the `[rules.inspector2-organization]` table;
//! - [`fetch`] makes the four calls into a [`Snapshot`];
//! - [`judge`] gives the verdict, or says why there can be none.

pub mod config;
pub mod fetch;
pub mod judge;
#[cfg(test)]
mod tests;

pub use config::{OrganizationConfig, Severities};
pub use fetch::{Seen, Snapshot};

use async_trait::async_trait;
use blindspot_aws::AwsClients;
use blindspot_core::rule::Aggregation;
use blindspot_core::{
    EvalContext, MeasurementMeta, PeerRead, Reach, Rule, RuleError, RuleMeta, RuleReport, Severity,
};
use std::time::Duration;

/// The rule ID.
pub const ID: &str = "inspector2-organization";

/// Finding code: the organisation does not auto-enable a scan type for new
/// accounts (resource: the `ResourceScanType`, e.g. `LAMBDA`).
pub const AUTO_ENABLE_OFF: &str = "AUTO_ENABLE_OFF";
/// Finding code: the organisation configuration does not say whether a scan
/// type is auto-enabled.
pub const AUTO_ENABLE_UNKNOWN: &str = "AUTO_ENABLE_UNKNOWN";
/// Finding code: DescribeOrganizationConfiguration was denied to this account.
pub const CONFIGURATION_UNREADABLE: &str = "CONFIGURATION_UNREADABLE";
/// Finding code: Inspector's organisation cannot take more members.
pub const MAX_ACCOUNT_LIMIT_REACHED: &str = "MAX_ACCOUNT_LIMIT_REACHED";
/// Finding code: an ACTIVE account is not among Inspector's members
/// (resource: its account ID).
pub const ACCOUNT_NOT_MEMBER: &str = "ACCOUNT_NOT_MEMBER";
/// Finding code: a member's relationship status is not `ENABLED`
/// (resource: its account ID).
pub const MEMBER_NOT_ENABLED: &str = "MEMBER_NOT_ENABLED";
/// Finding code: the organisation has no Inspector delegated administrator.
pub const NO_DELEGATED_ADMIN: &str = "NO_DELEGATED_ADMIN";
/// Finding code: the delegated administrator is not the configured one.
pub const DELEGATED_ADMIN_MISMATCH: &str = "DELEGATED_ADMIN_MISMATCH";

/// The rule's own open findings it reads back: those about settings it may
/// be unable to read next time, which it then reports again as they were.
pub const READS: &[PeerRead] = &[PeerRead {
    rule: ID,
    codes: &[AUTO_ENABLE_OFF, MAX_ACCOUNT_LIMIT_REACHED],
}];

/// The registration of `inspector2-organization`.
pub struct Organization;

impl crate::Registration for Organization {
    const ID: &'static str = ID;
    const DEMO_INTERVAL: Duration = Duration::from_secs(30);
    type Config = OrganizationConfig;

    fn build(config: &OrganizationConfig) -> crate::DynRule {
        std::sync::Arc::new(OrganizationRule::new(config))
    }
}

/// The rule: its config, and nothing carried between evaluations.
pub struct OrganizationRule {
    meta: RuleMeta,
    config: OrganizationConfig,
}

impl OrganizationRule {
    /// Builds the rule from its config.
    pub fn new(config: &OrganizationConfig) -> Self {
        OrganizationRule {
            meta: RuleMeta {
                id: ID,
                aliases: &[],
                severity: Severity::High,
                summary: "The organisation has Inspector's delegated administrator, every ACTIVE \
                          account is an ENABLED member, and new accounts get scanning \
                          automatically",
                reads: READS,
                measurements: &[
                    MeasurementMeta {
                        name: "organization_accounts",
                        help: "Accounts of the AWS organisation by lifecycle state (ACTIVE, \
                               SUSPENDED, PENDING_CLOSURE...). Cached from the last evaluation",
                        // Organizations is global: every region reads the same.
                        across_regions: Aggregation::Max,
                    },
                    MeasurementMeta {
                        name: "organization_members",
                        help:
                            "Inspector v2 members of the organisation in a region, by relationship \
                               status (ENABLED, CREATED, REMOVED...). Cached from the last \
                               evaluation",
                        // Inspector is regional: (member, region) pairs.
                        across_regions: Aggregation::Sum,
                    },
                    MeasurementMeta {
                        name: "organization_accounts_not_members",
                        help: "ACTIVE accounts of the organisation missing from Inspector v2's \
                               members in a region, not counting the delegated administrator \
                               and ignored accounts. Cached from the last evaluation",
                        // (account, region) pairs Inspector does not know.
                        across_regions: Aggregation::Sum,
                    },
                    MeasurementMeta {
                        name: "organization_auto_enable",
                        help: "Whether Inspector v2 turns a scan type on for new accounts of the \
                               organisation (1) or not (0); absent when not known. Cached from \
                               the last evaluation",
                        // 0 when any region leaves new accounts unscanned.
                        across_regions: Aggregation::Min,
                    },
                ],
                reach: Reach::Organization,
            },
            config: config.clone(),
        }
    }
}

#[async_trait]
impl Rule<AwsClients> for OrganizationRule {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    async fn evaluate(&self, cx: &EvalContext<'_, AwsClients>) -> Result<RuleReport, RuleError> {
        // Read before any call, and never read as empty on failure: without
        // them a setting that could not be read would resolve its finding.
        let own = cx.peers.open_findings(ID, cx.scope)?;
        let snapshot = fetch::fetch(
            cx.clients.organizations.as_ref(),
            cx.clients.inspector2.as_ref(),
        )
        .await?;
        judge::judge(&snapshot, &self.config, cx.scope, &own)
    }
}
