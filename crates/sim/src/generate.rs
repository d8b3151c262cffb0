//! Synthetic fleets for benchmarks and load tests: many accounts, regions
//! and instances, with a chosen mix of coverage reasons, exclusions and
//! association health, reproducible from a seed; optionally an
//! organisation of all the accounts ([`FleetSpec::organization`]).
//!
//! Each (account, region) holds the five associations Inspector creates
//! (inventory, the Windows distributor and invoke-plugin pair, the Linux
//! pair), varied by [`AssociationHealth`].

use std::collections::BTreeMap;

use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::scenario::{
    AssessmentRunSpec, AssociationSpec, CoverageSpec, ExclusionSpec, ExecutionSpec, Inspector2Spec,
    InstanceSpec, OrgAccountSpec, OrganizationSpec, OverviewSpec, RegionScenario, Scenario,
    Timestamp,
};

/// How the Inspector2 State Manager associations of one (account, region)
/// look; weights, not probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationHealth {
    /// All three Inspector associations present and succeeding.
    pub healthy: u32,
    /// The invoke-plugin association fails.
    pub failed: u32,
    /// A user's 12-hour inventory association replaced Inspector's.
    pub replaced_by_user: u32,
    /// A duplicate inventory association starves Inspector's.
    pub duplicate: u32,
}

impl Default for AssociationHealth {
    fn default() -> Self {
        AssociationHealth {
            healthy: 6,
            failed: 2,
            replaced_by_user: 1,
            duplicate: 1,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// Regions each account is present in.
    pub regions: Vec<String>,
    /// 12-digit account IDs; access key `AKIDGEN<n>` maps to the n-th.
    pub accounts: Vec<String>,
    /// EC2 instances per (account, region).
    pub instances_per_region: usize,
    /// Share (0–1) of instances with an Inspector classic exclusion.
    pub exclusion_share: f64,
    /// Weighted mix of coverage `ScanStatusReason`s.
    pub coverage_reasons: Vec<(String, u32)>,
    /// Weighted mix of association health per (account, region).
    pub association_health: AssociationHealth,
    /// Share (0–1) of Windows instances.
    pub windows_share: f64,
    /// RNG seed: the same spec gives the same fleet (times aside).
    pub seed: u64,
    /// Whether the accounts form an organisation: the first is the
    /// management account and Inspector's delegated administrator, all are
    /// ACTIVE Inspector members (ENABLED), named `account-0001`..., and
    /// auto-enable is on for all but Lambda code.
    pub organization: bool,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            accounts: vec!["123456789012".into()],
            instances_per_region: 100,
            exclusion_share: 0.1,
            coverage_reasons: vec![
                ("SUCCESSFUL".into(), 80),
                ("UNMANAGED_EC2_INSTANCE".into(), 8),
                ("UNSUPPORTED_OS".into(), 4),
                ("STALE_INVENTORY".into(), 3),
                ("NO_INVENTORY".into(), 2),
                ("PENDING_INITIAL_SCAN".into(), 2),
                ("EC2_INSTANCE_STOPPED".into(), 1),
            ],
            association_health: AssociationHealth::default(),
            windows_share: 0.2,
            seed: 1,
            organization: false,
        }
    }
}

/// `n` distinct 12-digit account IDs, `100000000001` upwards.
pub fn account_ids(n: usize) -> Vec<String> {
    (1..=n as u64)
        .map(|i| format!("{:012}", 100_000_000_000 + i))
        .collect()
}

/// The organisation of `accounts`: the first manages it and is
/// Inspector's delegated administrator.
fn organization(accounts: &[String]) -> Option<OrganizationSpec> {
    let first = accounts.first()?;
    Some(OrganizationSpec {
        management_account: first.clone(),
        delegated_admin: Some(first.clone()),
        accounts: accounts
            .iter()
            .enumerate()
            .map(|(i, id)| OrgAccountSpec {
                id: id.clone(),
                name: Some(format!("account-{:04}", i + 1)),
                ..OrgAccountSpec::default()
            })
            .collect(),
        ..OrganizationSpec::default()
    })
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [(T, u32)]) -> Option<&'a T> {
    let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.gen_range(0..total);
    for (item, w) in items {
        if x < u64::from(*w) {
            return Some(item);
        }
        x -= u64::from(*w);
    }
    None
}

fn execution(ago_secs: i64, status: &str, now: Timestamp) -> ExecutionSpec {
    ExecutionSpec {
        execution_id: None,
        status: Some(status.into()),
        detailed_status: None,
        created_time: now.plus_secs(-ago_secs),
        last_execution_date: None,
        resource_count_by_status: None,
    }
}

fn association(
    name: &str,
    document: &str,
    schedule: &str,
    status: &str,
    executions: Vec<ExecutionSpec>,
) -> AssociationSpec {
    AssociationSpec {
        association_id: None,
        association_name: Some(name.into()),
        name: document.into(),
        schedule_expression: Some(schedule.into()),
        overview: Some(OverviewSpec {
            status: Some(status.into()),
            detailed_status: Some(status.into()),
            counts: BTreeMap::from([(status.to_string(), 1)]),
        }),
        executions,
        ..AssociationSpec::default()
    }
}

fn associations(kind: usize, now: Timestamp) -> Vec<AssociationSpec> {
    let inventory = |name: &str, schedule: &str, status: &str, ago: i64| {
        association(
            name,
            "AWS-GatherSoftwareInventory",
            schedule,
            status,
            vec![execution(
                ago,
                if status == "Pending" {
                    "Success"
                } else {
                    status
                },
                now,
            )],
        )
    };
    let distributor = association(
        "InspectorDistributor-do-not-delete",
        "AmazonInspector2-ConfigureInspectorSsmPlugin",
        "rate(12 hours)",
        "Success",
        vec![execution(3 * 3600, "Success", now)],
    );
    // The Linux deep-inspection pair.
    let linux_distributor = association(
        "InspectorLinuxDistributor-do-not-delete",
        "AmazonInspector2-ConfigureInspectorSsmPlugin",
        "rate(12 hours)",
        "Success",
        vec![execution(3 * 3600, "Success", now)],
    );
    let linux_invoke = association(
        "InvokeInspectorLinuxSsmPlugin-do-not-delete",
        "AmazonInspector2-InvokeInspectorLinuxSsmPlugin",
        "rate(6 hours)",
        "Success",
        vec![execution(3600, "Success", now)],
    );
    let invoke = |status: &str| {
        association(
            "InvokeInspectorSsmPlugin-do-not-delete",
            "AmazonInspector2-InvokeInspectorSsmPlugin",
            "rate(6 hours)",
            status,
            vec![execution(3600, status, now)],
        )
    };
    let mut list = match kind {
        // failed
        1 => vec![
            inventory(
                "InspectorInventoryCollection-do-not-delete",
                "rate(30 minutes)",
                "Success",
                600,
            ),
            distributor,
            invoke("Failed"),
        ],
        // replaced by a user's 12-hour inventory
        2 => vec![
            inventory("nightly-inventory", "rate(12 hours)", "Success", 5 * 3600),
            distributor,
            invoke("Success"),
        ],
        // duplicate starving Inspector's
        3 => vec![
            inventory(
                "InspectorInventoryCollection-do-not-delete",
                "rate(30 minutes)",
                "Pending",
                20 * 86400,
            ),
            inventory("team-inventory", "rate(1 day)", "Success", 4 * 3600),
            distributor,
            invoke("Success"),
        ],
        _ => vec![
            inventory(
                "InspectorInventoryCollection-do-not-delete",
                "rate(30 minutes)",
                "Success",
                600,
            ),
            distributor,
            invoke("Success"),
        ],
    };
    list.push(linux_distributor);
    list.push(linux_invoke);
    list
}

/// Builds a finalized scenario for `spec`. Cheap enough for 100k
/// instances: one pass, no per-instance lookups.
pub fn fleet(spec: &FleetSpec) -> Scenario {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let now = Timestamp(Utc::now());
    let h = &spec.association_health;
    let health = [
        (0usize, h.healthy),
        (1, h.failed),
        (2, h.replaced_by_user),
        (3, h.duplicate),
    ];
    let mut scenario = Scenario {
        name: format!("fleet-{}", spec.seed),
        description: "generated fleet".into(),
        default_account: spec
            .accounts
            .first()
            .cloned()
            .unwrap_or_else(|| crate::scenario::DEFAULT_ACCOUNT.into()),
        organization: if spec.organization {
            organization(&spec.accounts)
        } else {
            None
        },
        ..Scenario::default()
    };
    scenario
        .regions
        .reserve(spec.accounts.len() * spec.regions.len());
    for (ai, account) in spec.accounts.iter().enumerate() {
        scenario
            .access_keys
            .insert(format!("AKIDGEN{ai}"), account.clone());
        for (ri, region) in spec.regions.iter().enumerate() {
            let n = spec.instances_per_region;
            let mut r = RegionScenario {
                region: region.clone(),
                account: Some(account.clone()),
                inspector2: Some(Inspector2Spec::default()),
                ..RegionScenario::default()
            };
            r.coverage.reserve(n);
            r.instances.reserve(n);
            let run_arn = format!(
                "arn:aws:inspector:{region}:{account}:target/0-gen{ri:05}/template/0-gen{ai:05}/run/0-{:08x}",
                rng.gen::<u32>()
            );
            let mut run = AssessmentRunSpec {
                arn: run_arn,
                completed_at: Some(now.plus_secs(-86400)),
                ..AssessmentRunSpec::default()
            };
            for i in 0..n {
                let id = format!("i-{:08x}{:09x}", (ai * 1000 + ri) as u32, i);
                let windows = rng.gen::<f64>() < spec.windows_share;
                let reason = pick(&mut rng, &spec.coverage_reasons)
                    .cloned()
                    .unwrap_or_else(|| "SUCCESSFUL".into());
                if reason != "UNMANAGED_EC2_INSTANCE" {
                    r.instances.push(InstanceSpec {
                        instance_id: id.clone(),
                        platform_type: Some(if windows { "Windows" } else { "Linux" }.into()),
                        ..InstanceSpec::default()
                    });
                }
                let scanned = reason == "SUCCESSFUL" || reason == "STALE_INVENTORY";
                r.coverage.push(CoverageSpec {
                    resource_id: id.clone(),
                    last_scanned_at: scanned.then(|| now.plus_secs(-rng.gen_range(60..86400))),
                    platform: Some(if windows { "WINDOWS" } else { "LINUX" }.into()),
                    tags: [("Name".to_string(), format!("gen-{i}"))]
                        .into_iter()
                        .collect(),
                    reason: Some(reason),
                    ..CoverageSpec::default()
                });
                if rng.gen::<f64>() < spec.exclusion_share {
                    run.exclusions.push(ExclusionSpec {
                        id: Some(format!("0-{i:08x}")),
                        title: "Agent not found".into(),
                        description: "The Inspector agent was not found on this instance.".into(),
                        recommendation:
                            "Install or re-install the Inspector Agent on this instance.".into(),
                        instance: Some(id),
                        ..ExclusionSpec::default()
                    });
                }
            }
            r.assessment_runs.push(run);
            let kind = pick(&mut rng, &health).copied().unwrap_or(0);
            r.associations = associations(kind, now);
            scenario.regions.push(r);
        }
    }
    scenario.finalize();
    scenario
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn sizes_follow_the_spec() {
        let spec = FleetSpec {
            regions: vec![
                "us-east-1".into(),
                "eu-west-1".into(),
                "ap-southeast-2".into(),
            ],
            accounts: vec!["111111111111".into(), "222222222222".into()],
            instances_per_region: 500,
            exclusion_share: 0.2,
            ..FleetSpec::default()
        };
        let s = fleet(&spec);
        assert_eq!(s.regions.len(), 6);
        for r in &s.regions {
            assert_eq!(r.coverage.len(), 500);
            let ex = r.assessment_runs[0].exclusions.len();
            assert!((60..=140).contains(&ex), "{ex}");
            assert!(r.associations.len() >= 3);
            assert!(r.coverage.iter().all(|c| c.resource_id.len() >= 10));
        }
        s.validate().unwrap();
        // Same seed, same fleet.
        let again = fleet(&spec);
        let reasons = |s: &Scenario| -> Vec<Option<String>> {
            s.regions[0]
                .coverage
                .iter()
                .map(|c| c.reason.clone())
                .collect()
        };
        assert_eq!(reasons(&s), reasons(&again));
        // The mix is honoured roughly.
        let ok = s.regions[0]
            .coverage
            .iter()
            .filter(|c| c.reason.as_deref() == Some("SUCCESSFUL"))
            .count();
        assert!((300..=480).contains(&ok), "{ok}");
    }

    /// The regions the organisation-scale measurement uses.
    const SEVENTEEN: [&str; 17] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "sa-east-1",
    ];

    #[test]
    fn an_organisation_of_300_accounts_in_17_regions() {
        let spec = FleetSpec {
            regions: SEVENTEEN.iter().map(|r| (*r).to_string()).collect(),
            accounts: account_ids(300),
            instances_per_region: 20,
            organization: true,
            association_health: AssociationHealth {
                healthy: 1,
                failed: 0,
                replaced_by_user: 0,
                duplicate: 0,
            },
            ..FleetSpec::default()
        };
        let started = std::time::Instant::now();
        let s = fleet(&spec);
        eprintln!(
            "generated 300 accounts x 17 regions in {:?}",
            started.elapsed()
        );
        s.validate().unwrap();
        assert_eq!(s.regions.len(), 300 * 17);
        for r in &s.regions {
            assert_eq!(r.coverage.len(), 20);
            let names: Vec<_> = r
                .associations
                .iter()
                .filter_map(|a| a.association_name.as_deref())
                .collect();
            assert_eq!(
                names,
                [
                    "InspectorInventoryCollection-do-not-delete",
                    "InspectorDistributor-do-not-delete",
                    "InvokeInspectorSsmPlugin-do-not-delete",
                    "InspectorLinuxDistributor-do-not-delete",
                    "InvokeInspectorLinuxSsmPlugin-do-not-delete",
                ]
            );
        }
        let org = s.organization.as_ref().unwrap();
        assert_eq!(org.accounts.len(), 300);
        assert_eq!(org.management_account, "100000000001");
        assert_eq!(org.delegated_admin.as_deref(), Some("100000000001"));
        assert_eq!(s.default_account, "100000000001");
        assert_eq!(org.accounts[299].id, "100000000300");
        assert_eq!(org.accounts[299].name.as_deref(), Some("account-0300"));
        assert!(org
            .accounts
            .iter()
            .all(|a| a.state.as_deref() == Some("ACTIVE") && a.relationship() == Some("ENABLED")));
        let auto = org.auto_enable_in("eu-west-1");
        assert!(auto.ec2 && auto.ecr && auto.lambda && !auto.lambda_code);
        // Generous for a debug build on a shared 2-core machine.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn hundred_thousand_is_quick() {
        let spec = FleetSpec {
            regions: vec!["us-east-1".into()],
            instances_per_region: 100_000,
            ..FleetSpec::default()
        };
        let started = std::time::Instant::now();
        let s = fleet(&spec);
        assert_eq!(s.regions[0].coverage.len(), 100_000);
        eprintln!("generated 100k instances in {:?}", started.elapsed());
        // Generous for a debug build on a shared 2-core machine.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
