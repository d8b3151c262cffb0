//! An organisation-shaped store: `accounts` × `regions` scopes of the three
//! per-account rules, and the organisation rule in the home account's
//! regions only, each with findings at several severities and the
//! measurements the real rules report (five associations with an interval
//! and a last execution; five scan types, the hybrid mode flag and one count
//! per each of the 39 scan status reasons, most of them zero). The series
//! count test and `examples/org_metrics_bench.rs` (which includes this file)
//! build the same shape, at a small and at the full 300 × 17 scale.
//!
//! The rules' measurement declarations are copied here rather than taken
//! from `blindspot-rules`, so the server's tests do not build the rules; the
//! end-to-end figure comes from the daemon against the simulated
//! organisation.
#![allow(dead_code)]

use blindspot_core::rule::Aggregation;
use blindspot_core::{
    Evaluation, EvaluationStatus, Finding, Measurement, MeasurementMeta, Reach, RuleMeta, Scope,
    Severity,
};
use blindspot_engine::{Control, EngineError, RuleSchedule, RuleState};
use blindspot_server::AccountNames;
use blindspot_store::{Store, StoreError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;

pub const EXCLUSIONS: &str = "inspector-exclusions";
pub const ASSOCIATIONS: &str = "inspector2-associations";
pub const COVERAGE: &str = "inspector2-coverage";
pub const ORGANIZATION: &str = "inspector2-organization";

/// The per-account rules, then the organisation rule.
pub const RULES: [&str; 4] = [EXCLUSIONS, ASSOCIATIONS, COVERAGE, ORGANIZATION];

/// The associations the associations rule expects (its built-in five).
pub const ASSOCIATION_NAMES: [&str; 5] = [
    "InspectorInventoryCollection-do-not-delete",
    "InspectorLinuxDistributor-do-not-delete",
    "InspectorWindowsDistributor-do-not-delete",
    "InspectorDistributor-do-not-delete",
    "InvokeInspectorLinuxSsmPlugin-do-not-delete",
];

/// The scan types the coverage rule reports as enabled or not.
pub const SCANS: [&str; 5] = ["inspector", "ec2", "ecr", "lambda", "lambda_code"];

/// As many reasons as the model's `ScanStatusReason` enum has; the coverage
/// rule reports every one, zeros included, in every region.
pub const REASON_COUNT: usize = 39;

/// Reasons with resources in every scope, and the ones that rotate through
/// an account's regions: every account ends with 2 + 4 non-zero reasons.
const EVERYWHERE: [&str; 2] = ["SUCCESSFUL", "UNMANAGED_EC2_INSTANCE"];
const ROTATING: [&str; 4] = [
    "PENDING_INITIAL_SCAN",
    "NO_INVENTORY",
    "EXCLUDED_BY_TAG",
    "UNSUPPORTED_OS",
];

/// Distinct non-zero reason counts per account, once an account has at
/// least as many regions as there are rotating reasons.
pub const NONZERO_REASONS_PER_ACCOUNT: usize = EVERYWHERE.len() + ROTATING.len();

const ASSOCIATION_MEASUREMENTS: &[MeasurementMeta] = &[
    MeasurementMeta {
        name: "association_interval_seconds",
        help: "Effective interval between scheduled runs of an Inspector v2 SSM State Manager association, in seconds. Cached from the last evaluation",
        across_regions: Aggregation::Max,
    },
    MeasurementMeta {
        name: "association_last_execution_timestamp_seconds",
        help: "Unix time of the last execution of an Inspector v2 SSM State Manager association. Cached from the last evaluation",
        across_regions: Aggregation::Min,
    },
];

const COVERAGE_MEASUREMENTS: &[MeasurementMeta] = &[
    MeasurementMeta {
        name: "coverage_resources",
        help: "Resources in Inspector v2 coverage by scan status reason. Cached from the last evaluation",
        across_regions: Aggregation::Sum,
    },
    MeasurementMeta {
        name: "coverage_scanning_enabled",
        help: "Whether Inspector v2 (scan=inspector) or one of its scan types is ENABLED (1) or not (0). Cached from the last evaluation",
        across_regions: Aggregation::Min,
    },
    MeasurementMeta {
        name: "coverage_ec2_hybrid_scan_mode",
        help: "Whether the account scans EC2 in hybrid mode (1) or not (0). Cached from the last evaluation",
        across_regions: Aggregation::Min,
    },
];

/// The size of the organisation.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub accounts: usize,
    pub regions: usize,
}

impl Shape {
    /// 300 accounts × 17 regions: the scale the budget is set for.
    pub const ORGANISATION: Shape = Shape {
        accounts: 300,
        regions: 17,
    };

    pub fn account(&self, i: usize) -> String {
        format!("{:012}", 100_000_000_000 + i)
    }

    pub fn region(&self, j: usize) -> String {
        format!("region-{j:02}")
    }

    /// (rule, account, region) scopes: the per-account rules everywhere,
    /// the organisation rule in the home account's regions.
    pub fn scopes(&self) -> usize {
        3 * self.accounts * self.regions + self.regions
    }

    /// (rule, account) pairs with at least one scope.
    pub fn rule_accounts(&self) -> usize {
        3 * self.accounts + 1
    }

    /// The series `/metrics` exports for this shape, family by family, as
    /// docs/dashboard.md counts them. Every scope has succeeded once (so it
    /// has a last success), no AWS call has been counted, and the
    /// organisation rule reports no measurement.
    pub fn expected_series(&self) -> usize {
        let (a, g) = (self.accounts, self.regions);
        let rules = RULES.len();
        let per_scope = 2 * self.scopes(); // status, last success
        let per_rule_account = (5 + 1 + 1) * self.rule_accounts(); // findings ×5, duration, failures
        let per_rule_region = 5 * rules * g; // findings_by_region ×5
        let account_info = a;
        let reasons = NONZERO_REASONS_PER_ACCOUNT.min(EVERYWHERE.len() + ROTATING.len().min(g));
        let measurements = a * (2 * ASSOCIATION_NAMES.len() + SCANS.len() + 1 + reasons);
        // build_info, evaluations_total (4 statuses per rule), store_up,
        // store_errors_total (4 operations), scrape_duration.
        let in_process = 1 + 4 * rules + 1 + 4 + 1;
        per_scope + per_rule_account + per_rule_region + account_info + measurements + in_process
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap()
}

fn meta(id: &'static str, measurements: &'static [MeasurementMeta], reach: Reach) -> RuleMeta {
    RuleMeta {
        id,
        aliases: &[],
        severity: Severity::High,
        summary: "a rule of the organisation shape",
        reads: &[],
        measurements,
        reach,
    }
}

/// The four rules, as the scheduler would list them.
pub struct OrgControl;

impl Control for OrgControl {
    fn rules(&self) -> Vec<RuleState> {
        [
            meta(EXCLUSIONS, &[], Reach::Account),
            meta(ASSOCIATIONS, ASSOCIATION_MEASUREMENTS, Reach::Account),
            meta(COVERAGE, COVERAGE_MEASUREMENTS, Reach::Account),
            meta(ORGANIZATION, &[], Reach::Organization),
        ]
        .into_iter()
        .map(|meta| RuleState {
            meta,
            schedule: RuleSchedule {
                interval: std::time::Duration::from_secs(900),
                timeout: std::time::Duration::from_secs(120),
            },
            running: false,
            last_started: Some(t0()),
            last_finished: Some(t0()),
            next_run: Some(t0() + Duration::seconds(900)),
        })
        .collect()
    }

    fn run_now(&self, rule_id: &str) -> Result<(), EngineError> {
        Err(EngineError::UnknownRule(rule_id.to_owned()))
    }
}

/// Every account named, as AWS Organizations would name them.
pub fn account_names(shape: Shape) -> AccountNames {
    let names = AccountNames::new();
    names.replace_all(
        (0..shape.accounts)
            .map(|i| (shape.account(i), format!("workload-{i:03}")))
            .collect::<BTreeMap<_, _>>(),
    );
    names
}

fn finding(rule: &str, code: &str, severity: Severity, scope: &Scope, resource: &str) -> Finding {
    Finding::new(
        rule,
        code,
        severity,
        scope,
        resource,
        "a finding of the organisation shape",
    )
}

fn measurements(rule: &str, i: usize, j: usize) -> Vec<Measurement> {
    match rule {
        ASSOCIATIONS => ASSOCIATION_NAMES
            .iter()
            .flat_map(|name| {
                let labels = [("association", *name)];
                [
                    Measurement::new(
                        "association_interval_seconds",
                        &labels,
                        1800.0 * (1 + (i + j) % 3) as f64,
                    ),
                    Measurement::new(
                        "association_last_execution_timestamp_seconds",
                        &labels,
                        (t0().timestamp() - (j as i64) * 60) as f64,
                    ),
                ]
            })
            .collect(),
        COVERAGE => {
            let mut out: Vec<Measurement> = SCANS
                .iter()
                .map(|scan| {
                    // Lambda code scanning is off in one region in three.
                    let on = !(*scan == "lambda_code" && j.is_multiple_of(3));
                    Measurement::new(
                        "coverage_scanning_enabled",
                        &[("scan", scan)],
                        f64::from(u8::from(on)),
                    )
                })
                .collect();
            out.push(Measurement::new(
                "coverage_ec2_hybrid_scan_mode",
                &[],
                f64::from(u8::from(i.is_multiple_of(2))),
            ));
            // 20 resources per region, each with one reason.
            let mut reasons: BTreeMap<String, f64> =
                (0..REASON_COUNT - EVERYWHERE.len() - ROTATING.len())
                    .map(|n| (format!("OTHER_REASON_{n:02}"), 0.0))
                    .chain(
                        EVERYWHERE
                            .iter()
                            .chain(&ROTATING)
                            .map(|r| ((*r).to_owned(), 0.0)),
                    )
                    .collect();
            reasons.insert(EVERYWHERE[0].to_owned(), 17.0);
            reasons.insert(EVERYWHERE[1].to_owned(), 2.0);
            reasons.insert(ROTATING[j % ROTATING.len()].to_owned(), 1.0);
            out.extend(reasons.iter().map(|(reason, n)| {
                Measurement::new("coverage_resources", &[("reason", reason)], *n)
            }));
            out
        }
        _ => Vec::new(),
    }
}

fn findings(rule: &str, scope: &Scope, i: usize, j: usize) -> Vec<Finding> {
    match rule {
        EXCLUSIONS => vec![finding(
            rule,
            "AGENT_NOT_FOUND",
            Severity::ALL[(i + j) % 5],
            scope,
            "i-0exclusion",
        )],
        ASSOCIATIONS => vec![finding(
            rule,
            "INTERVAL_TOO_LONG",
            Severity::Medium,
            scope,
            ASSOCIATION_NAMES[0],
        )],
        COVERAGE => vec![
            finding(
                rule,
                "UNMANAGED_EC2_INSTANCE",
                Severity::High,
                scope,
                "i-0unmanaged1",
            ),
            finding(
                rule,
                "UNMANAGED_EC2_INSTANCE",
                Severity::High,
                scope,
                "i-0unmanaged2",
            ),
            finding(
                rule,
                "PENDING_INITIAL_SCAN",
                Severity::Info,
                scope,
                "i-0pending",
            ),
        ],
        _ => vec![
            finding(rule, "AUTO_ENABLE_OFF", Severity::High, scope, "lambda"),
            finding(
                rule,
                "MEMBER_NOT_ENABLED",
                Severity::Medium,
                scope,
                "222222222222",
            ),
        ],
    }
}

/// Each scope's latest evaluation, `ok`, in a stable order: account by
/// account, region by region, rule by rule.
pub fn evaluations(shape: Shape) -> impl Iterator<Item = Evaluation> {
    (0..shape.accounts).flat_map(move |i| {
        (0..shape.regions).flat_map(move |j| {
            RULES
                .iter()
                // The organisation rule runs in the home account only.
                .filter(move |rule| **rule != ORGANIZATION || i == 0)
                .map(move |rule| {
                    let scope = Scope::new(shape.account(i), shape.region(j));
                    let at = t0() + Duration::seconds((i * shape.regions + j) as i64);
                    Evaluation {
                        rule: (*rule).to_owned(),
                        findings: findings(rule, &scope, i, j),
                        measurements: measurements(rule, i, j),
                        scope,
                        status: EvaluationStatus::Ok,
                        error: None,
                        started_at: at - Duration::milliseconds(250 + (j as i64) * 10),
                        finished_at: at,
                        counts: BTreeMap::new(),
                    }
                })
        })
    })
}

/// Records the shape's evaluations; then the first scope of the home
/// account fails, after its success, so that the status and failure series
/// are not all alike.
pub fn seed(store: &dyn Store, shape: Shape) -> Result<usize, StoreError> {
    let mut n = 0;
    for evaluation in evaluations(shape) {
        store.record_evaluation(&evaluation)?;
        n += 1;
    }
    let failing = Evaluation {
        rule: EXCLUSIONS.to_owned(),
        scope: Scope::new(shape.account(0), shape.region(0)),
        status: EvaluationStatus::Error,
        error: Some("AccessDeniedException: not authorized".to_owned()),
        started_at: t0() + Duration::hours(1),
        finished_at: t0() + Duration::hours(1) + Duration::seconds(2),
        findings: Vec::new(),
        measurements: Vec::new(),
        counts: BTreeMap::new(),
    };
    store.record_evaluation(&failing)?;
    Ok(n + 1)
}
