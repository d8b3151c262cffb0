//! Everything the rule reads from Systems Manager in one region, read once
//! and kept as plain data. Nothing here decides what is wrong: which
//! associations to describe and whose executions to read are the judge's
//! own functions ([`judge::examined`], [`judge::shows_failure`]), so the
//! two never disagree.

use super::config::ExpectedAssociation;
use super::judge;
use blindspot_aws::paginate::{collect_all, pages, Listing};
use blindspot_aws::ssm::{Association, AssociationExecution, ManagedInstance};
use blindspot_aws::{AwsError, SsmApi};
use blindspot_core::RuleError;
use futures::TryStreamExt;
use std::collections::BTreeMap;

const LIST_ASSOCIATIONS: Listing = Listing::new("ssm", "ListAssociations");
const DESCRIBE_INSTANCE_INFORMATION: Listing = Listing::new("ssm", "DescribeInstanceInformation");

/// What one evaluation read in one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Every association in the region, as ListAssociations returned them.
    pub associations: Vec<Association>,
    /// By association ID, for each association the judge examines:
    /// DescribeAssociation's answer, with anything it left out taken from the
    /// listing. ListAssociations lacks the creation date and the last
    /// successful execution, and its overview may be older.
    pub described: BTreeMap<String, Association>,
    /// By association ID, for each examined association whose overview shows
    /// failure: its newest execution, `None` when it has none.
    pub latest_executions: BTreeMap<String, Option<AssociationExecution>>,
    /// The region's managed nodes, or why they could not be listed.
    pub managed_nodes: ManagedNodes,
    /// How many calls of each kind were made.
    pub calls: Calls,
}

/// The managed nodes (DescribeInstanceInformation). Could not list is kept
/// apart from listed none: the first must never read as "no Windows nodes".
#[derive(Debug, Clone, PartialEq)]
pub enum ManagedNodes {
    /// Node counts by `PlatformType` as SSM spelt it (`Windows`, `Linux`,
    /// `MacOS`...); nodes without one are counted under `""`.
    Listed(BTreeMap<String, u64>),
    /// The listing failed with this error.
    Unlisted(AwsError),
}

/// The calls behind a [`Snapshot`], reported as the evaluation's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    /// ListAssociations pages.
    pub list_pages: u64,
    /// DescribeAssociation calls.
    pub describe_calls: u64,
    /// DescribeAssociationExecutions pages.
    pub execution_pages: u64,
    /// DescribeInstanceInformation pages, including one that failed.
    pub node_pages: u64,
}

/// Reads what the judge needs about the associations `expectations` name.
///
/// A failure to list, describe or read executions fails the evaluation: the
/// judge would otherwise take an unread association for a missing or healthy
/// one. A failure to list managed nodes does not; it is kept in the snapshot
/// as [`ManagedNodes::Unlisted`] because the associations were read fine and
/// only the weighing of missing ones is affected.
pub async fn fetch(
    ssm: &dyn SsmApi,
    expectations: &[ExpectedAssociation],
) -> Result<Snapshot, RuleError> {
    let mut calls = Calls::default();
    let associations = collect_all(LIST_ASSOCIATIONS, |token| {
        calls.list_pages += 1;
        ssm.list_associations(&[], token)
    })
    .await?;

    let examined = judge::examined(&associations, expectations);
    let mut described = BTreeMap::new();
    for item in &examined {
        let id = &item.listed.association_id;
        // One association can play two roles (found by name and standing in).
        if described.contains_key(id) {
            continue;
        }
        let answer = ssm.describe_association(id).await?;
        calls.describe_calls += 1;
        described.insert(id.clone(), merge(item.listed, answer));
    }

    let mut latest_executions = BTreeMap::new();
    for item in &examined {
        let id = &item.listed.association_id;
        let Some(assoc) = described.get(id) else {
            continue;
        };
        if latest_executions.contains_key(id) || !judge::shows_failure(assoc) {
            continue;
        }
        // The first page is enough: it holds the newest executions.
        let page = ssm.describe_association_executions(id, None).await?;
        calls.execution_pages += 1;
        let latest = page.items.into_iter().max_by_key(|e| e.created_time);
        latest_executions.insert(id.clone(), latest);
    }

    let managed_nodes = match count_nodes(ssm, &mut calls.node_pages).await {
        Ok(counts) => ManagedNodes::Listed(counts),
        Err(err) => {
            tracing::warn!(error = %err, "managed nodes could not be listed");
            ManagedNodes::Unlisted(err)
        }
    };

    Ok(Snapshot {
        associations,
        described,
        latest_executions,
        managed_nodes,
        calls,
    })
}

/// Managed nodes by `PlatformType`, counted page by page so that a large
/// fleet is never held in memory.
async fn count_nodes(
    ssm: &dyn SsmApi,
    node_pages: &mut u64,
) -> Result<BTreeMap<String, u64>, AwsError> {
    pages(DESCRIBE_INSTANCE_INFORMATION, |token| {
        *node_pages += 1;
        ssm.describe_instance_information(token)
    })
    .try_fold(
        BTreeMap::new(),
        |mut counts, nodes: Vec<ManagedInstance>| {
            for node in nodes {
                *counts
                    .entry(node.platform_type.unwrap_or_default())
                    .or_default() += 1;
            }
            std::future::ready(Ok(counts))
        },
    )
    .await
}

/// DescribeAssociation's answer, with anything it left out taken from the
/// ListAssociations entry.
pub(super) fn merge(listed: &Association, described: Association) -> Association {
    Association {
        association_id: if described.association_id.is_empty() {
            listed.association_id.clone()
        } else {
            described.association_id
        },
        association_name: described
            .association_name
            .or_else(|| listed.association_name.clone()),
        document_name: if described.document_name.is_empty() {
            listed.document_name.clone()
        } else {
            described.document_name
        },
        document_version: described
            .document_version
            .or_else(|| listed.document_version.clone()),
        targets: if described.targets.is_empty() && described.instance_id.is_none() {
            listed.targets.clone()
        } else {
            described.targets
        },
        instance_id: described.instance_id.or_else(|| listed.instance_id.clone()),
        schedule_expression: described
            .schedule_expression
            .or_else(|| listed.schedule_expression.clone()),
        schedule_offset: described.schedule_offset.or(listed.schedule_offset),
        last_execution_date: described.last_execution_date.or(listed.last_execution_date),
        last_successful_execution_date: described
            .last_successful_execution_date
            .or(listed.last_successful_execution_date),
        created_date: described.created_date.or(listed.created_date),
        overview: described.overview.or_else(|| listed.overview.clone()),
    }
}
