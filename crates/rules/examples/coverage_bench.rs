//! Memory and throughput benchmark of rule `inspector2-coverage`.
//!
//! Evaluates the rule against an in-memory Inspector v2 whose ListCoverage
//! *generates* each page on request, so the fake holds no resources and the
//! process's peak RSS reflects the rule alone. The fleet has a fixed number of
//! INACTIVE resources (each a finding) and of stale ACTIVE ones, and everything
//! else is freshly scanned ACTIVE: the only thing that grows with N is the
//! number of resources streamed through the rule (fetch, one page at a time,
//! into the judge), so peak RSS should stay flat.
//!
//! This is the one Inspector v2 fake outside `blindspot_aws::testing`, on
//! purpose: the shared `FakeInspector2` is data-backed, so it would hold all N
//! resources, and each ListCoverage call clones every matching resource before
//! cutting out a page. Both grow with N and would be measured instead of the
//! rule. The services the rule never calls come from the shared fakes.
//!
//! Usage:
//!   cargo run -p blindspot-rules --release --example coverage_bench            # 10k and 100k
//!   cargo run -p blindspot-rules --release --example coverage_bench -- 100000  # one size
//!
//! With no argument each size runs in its own child process, so that one size's
//! peak does not mask the other's (VmHWM only ever grows). Figures only; nothing
//! here asserts on time.
// A benchmark measures wall time; the rules it runs never read the clock (clippy.toml).
#![allow(clippy::disallowed_methods)]

use async_trait::async_trait;
use blindspot_aws::inspector2::{
    AccountStatus, AccountStatusBatch, CoverageFilter, CoveredResource,
    Ec2DeepInspectionConfiguration, EnablementState, Inspector2Configuration, LIST_COVERAGE_MAX,
};
use blindspot_aws::testing::Fakes;
use blindspot_aws::{AwsClients, AwsError, Inspector2Api, Page};
use blindspot_core::{EvalContext, NoPeers, Rule, Scope};
use blindspot_rules::coverage::{CoverageConfig, CoverageRule};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::BTreeMap;
use std::error::Error;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const ACCOUNT: &str = "111122223333";
/// INACTIVE resources in every fleet, whatever N: these become findings.
const INACTIVE: usize = 500;
/// ACTIVE resources whose last scan is too old: these become SCAN_STALE findings.
const STALE: usize = 500;
/// The INACTIVE reasons the generator cycles through.
const REASONS: &[&str] = &[
    "NO_INVENTORY",
    "UNMANAGED_EC2_INSTANCE",
    "STALE_INVENTORY",
    "UNSUPPORTED_OS",
    "EC2_INSTANCE_STOPPED",
    "EXCLUDED_BY_TAG",
];

fn now() -> DateTime<Utc> {
    // A fixed time: the figures must not depend on when the benchmark runs.
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A fleet of `total` resources, generated page by page.
struct Generated {
    total: usize,
    calls: AtomicU64,
}

impl Generated {
    fn resource(&self, status: &str, n: usize) -> CoveredResource {
        let inactive = status == "INACTIVE";
        let scanned_days_ago = if !inactive && n < STALE { 10 } else { 1 };
        CoveredResource {
            resource_type: "AWS_EC2_INSTANCE".into(),
            resource_id: format!("i-{}{n:016x}", if inactive { "0" } else { "a" }),
            account_id: ACCOUNT.into(),
            scan_type: "PACKAGE".into(),
            status_code: Some(status.into()),
            reason: Some(if inactive {
                REASONS[n % REASONS.len()].into()
            } else {
                "SUCCESSFUL".into()
            }),
            last_scanned_at: (!inactive).then(|| now() - Duration::days(scanned_days_ago)),
            scan_mode: Some("EC2_SSM_AGENT_BASED".into()),
            platform: Some("AMAZON_LINUX_2023".into()),
            ami_id: Some(format!("ami-{:017x}", n % 50)),
            tags: BTreeMap::from([
                ("Name".to_owned(), format!("worker-{n}")),
                ("team".to_owned(), "platform".to_owned()),
            ]),
        }
    }
}

#[async_trait]
impl Inspector2Api for Generated {
    async fn batch_get_account_status(
        &self,
        _account_ids: &[String],
    ) -> Result<AccountStatusBatch, AwsError> {
        let on = || EnablementState {
            status: "ENABLED".into(),
            error_code: None,
            error_message: None,
        };
        Ok(AccountStatusBatch {
            accounts: vec![AccountStatus {
                account_id: ACCOUNT.into(),
                state: on(),
                ec2: Some(on()),
                ecr: Some(on()),
                lambda: Some(on()),
                lambda_code: Some(on()),
            }],
            failed: vec![],
        })
    }

    async fn list_coverage(
        &self,
        filter: &CoverageFilter,
        next_token: Option<String>,
    ) -> Result<Page<CoveredResource>, AwsError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let status = filter
            .scan_status_code
            .first()
            .map(|f| f.value.clone())
            .unwrap_or_default();
        let count = if status == "INACTIVE" {
            INACTIVE.min(self.total)
        } else {
            self.total.saturating_sub(INACTIVE)
        };
        let start: usize = match next_token {
            None => 0,
            Some(token) => token.parse().map_err(|_| {
                AwsError::from_code("inspector2", "ListCoverage", "ValidationException", token)
            })?,
        };
        let end = (start + LIST_COVERAGE_MAX as usize).min(count);
        let items = (start..end).map(|n| self.resource(&status, n)).collect();
        Ok(Page {
            items,
            next_token: (end < count).then(|| end.to_string()),
        })
    }

    async fn get_configuration(&self) -> Result<Inspector2Configuration, AwsError> {
        Ok(Inspector2Configuration {
            ec2_scan_mode: Some("EC2_SSM_AGENT_BASED".into()),
            ec2_scan_mode_status: Some("SUCCESS".into()),
        })
    }

    async fn get_ec2_deep_inspection_configuration(
        &self,
    ) -> Result<Ec2DeepInspectionConfiguration, AwsError> {
        Ok(Ec2DeepInspectionConfiguration {
            status: Some("ACTIVATED".into()),
            ..Ec2DeepInspectionConfiguration::default()
        })
    }

    // The coverage rule never asks for the organisation's view.
    async fn list_members(
        &self,
        _only_associated: bool,
        _next_token: Option<String>,
    ) -> Result<Page<blindspot_aws::inspector2::Member>, AwsError> {
        Ok(Page::last(Vec::new()))
    }

    async fn describe_organization_configuration(
        &self,
    ) -> Result<blindspot_aws::inspector2::OrganizationConfiguration, AwsError> {
        Ok(Default::default())
    }

    async fn get_delegated_admin_account(
        &self,
    ) -> Result<Option<blindspot_aws::inspector2::DelegatedAdmin>, AwsError> {
        Ok(None)
    }
}

/// A `VmHWM`/`VmRSS` figure from /proc/self/status, in KiB.
fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run_one(total: usize) -> Result<(), Box<dyn Error>> {
    let baseline = proc_status_kib("VmHWM:").unwrap_or(0);
    let fake = Arc::new(Generated {
        total,
        calls: AtomicU64::new(0),
    });
    // Inspector Classic and SSM are never called; the shared fakes are empty.
    let others = Fakes::default();
    let clients = AwsClients {
        inspector2: fake.clone(),
        ..others.clients()
    };
    let scope = Scope::new(ACCOUNT, "eu-west-1");
    let cx = EvalContext {
        clients: &clients,
        scope: &scope,
        now: now(),
        peers: &NoPeers,
    };
    let rule = CoverageRule::new(&CoverageConfig::default());
    let started = Instant::now();
    let report = rule.evaluate(&cx).await?;
    let secs = started.elapsed().as_secs_f64();
    let peak = proc_status_kib("VmHWM:").unwrap_or(0);
    let calls = fake.calls.load(Ordering::Relaxed);
    let per_sec = total as f64 / secs.max(f64::EPSILON);
    println!(
        "N={total}: {secs:.3}s, {per_sec:.0} resources/s, {} findings, {calls} ListCoverage calls \
         (rule counted {}), peak RSS {peak} KiB (baseline {baseline} KiB, +{} KiB)",
        report.findings.len(),
        report
            .counts
            .get("calls.ListCoverage")
            .copied()
            .unwrap_or(0),
        peak.saturating_sub(baseline),
    );
    println!(
        "RESULT n={total} secs={secs:.4} findings={} calls={calls} peak_kib={peak}",
        report.findings.len()
    );
    Ok(())
}

fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?
        .parse()
        .ok()
}

fn run_children() -> Result<(), Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for n in [10_000usize, 100_000] {
        let out = Command::new(&exe).arg(n.to_string()).output()?;
        if !out.status.success() {
            return Err(format!("N={n} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .ok_or("child printed no RESULT line")?
            .to_owned();
        results.push(line);
    }
    let (small, large) = (&results[0], &results[1]);
    let ratio = |key: &str| -> Option<f64> { Some(field(large, key)? / field(small, key)?) };
    println!(
        "100k/10k ratios: resources 10.0, time {:.2}, calls {:.2}, findings {:.2}, peak RSS {:.2}",
        ratio("secs").unwrap_or(f64::NAN),
        ratio("calls").unwrap_or(f64::NAN),
        ratio("findings").unwrap_or(f64::NAN),
        ratio("peak_kib").unwrap_or(f64::NAN),
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    match std::env::args().nth(1) {
        None => run_children(),
        Some(n) => {
            let total: usize = n
                .parse()
                .map_err(|_| format!("expected a resource count, got `{n}`"))?;
            run_one(total).await
        }
    }
}
