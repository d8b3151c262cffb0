//! Memory of the client bundles blindspot builds: one per (account, region),
//! each with a client per service. Builds N bundles against a local endpoint
//! (no call is made) and prints the RSS before and after, per bundle.
//!
//! `cargo run --release -p blindspot-aws-sdk --example client_memory -- 1700`

use aws_config::{BehaviorVersion, Region};

// The binary's allocator, so the figures are the daemon's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use blindspot_aws_sdk::{AccountSpec, AwsFactory, AwsSettings};
use blindspot_core::CallCounter;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let sim = blindspot_sim::SimServer::start(blindspot_sim::Scenario::default()).await?;
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::from_static("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::for_tests())
        .load()
        .await;
    let settings = AwsSettings {
        endpoint_url: Some(sim.endpoint()),
        ..AwsSettings::default()
    };
    let factory = AwsFactory::from_sdk_config(settings, base, CallCounter::default())?;
    let account = factory
        .resolve_account(&AccountSpec {
            name: "bench".into(),
            role_arn: None,
            external_id: None,
            profile: None,
        })
        .await?;
    let before = rss_kib();
    let bundles: Vec<_> = (0..n)
        .map(|i| factory.clients(&account, &format!("region-{}", i % 17)))
        .collect();
    let after = rss_kib();
    println!(
        "{n} bundles: RSS {before} KiB -> {after} KiB, {:.1} KiB per bundle",
        (after - before) as f64 / n as f64
    );
    // One call on every client of every bundle, 32 at a time: what the
    // first evaluation of each scope leaves behind.
    use futures::StreamExt as _;
    futures::stream::iter(bundles.iter())
        .map(|b| async move {
            let _ = b.ssm.list_associations(&[], None).await;
            let _ = b.inspector2.get_configuration().await;
            let _ = b
                .classic
                .list_assessment_runs(&Default::default(), None)
                .await;
            let _ = b.lambda.list_functions(1, None).await;
            let _ = b.ecr.describe_repositories(1, None).await;
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let called = rss_kib();
    println!(
        "after one call per client: RSS {called} KiB, {:.1} KiB per bundle",
        (called - before) as f64 / n as f64
    );
    drop(bundles);
    Ok(())
}
