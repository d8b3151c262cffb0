//! The real SDK clients over HTTP against the simulated AWS: wire shapes,
//! pagination, error classification, retries, timeouts and call counting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use blindspot_aws::classic::RunQuery;
use blindspot_aws::inspector2::{CoverageFilter, StringFilter};
use blindspot_aws::ssm::AssociationFilter;
use blindspot_aws::{AwsClients, AwsError, AwsErrorKind, Page, StsApi};
use blindspot_aws_sdk::{AccountSpec, AwsFactory, AwsSettings, ResolvedAccount};
use blindspot_core::{CallCounter, RuleError};
use blindspot_sim::faults::{RateLimit, RetiredShape};
use blindspot_sim::{AccessDenied, Faults, Scenario, SimHandle, SimServer};

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";
const DEFAULT_ACCOUNT: &str = "999999999999";
const KEY_A: &str = "AKIDSIMACCOUNTA";
const KEY_B: &str = "AKIDSIMACCOUNTB";

/// Settings for the simulator: short timeouts so a broken test fails fast.
fn settings(sim: &SimHandle) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(sim.endpoint()),
        profile: None,
        operation_timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(5),
        max_attempts: 3,
        // Pacing is tested on its own; elsewhere it would only slow sweeps.
        calls_per_second: 1000.0,
        ..AwsSettings::default()
    }
}

/// A base config with static credentials and a region, so aws-config never
/// probes the instance metadata service.
async fn base(access_key: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key,
            "sim-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

async fn factory_with(
    access_key: &str,
    settings: AwsSettings,
    counter: &CallCounter,
) -> AwsFactory {
    AwsFactory::from_sdk_config(settings, base(access_key).await, counter.clone())
        .unwrap()
        // Milliseconds instead of the default 1 s keep retry tests fast.
        .with_retry_initial_backoff(Duration::from_millis(5))
}

fn spec(name: &str) -> AccountSpec {
    AccountSpec {
        name: name.to_owned(),
        role_arn: None,
        external_id: None,
        profile: None,
    }
}

async fn start(toml: &str) -> SimHandle {
    SimServer::start(Scenario::from_toml_str(toml).unwrap())
        .await
        .unwrap()
}

/// A simulator, a counter, and account A's resolved identity.
struct World {
    sim: SimHandle,
    counter: CallCounter,
    factory: AwsFactory,
    account: ResolvedAccount,
}

impl World {
    async fn new(toml: &str) -> World {
        let sim = start(toml).await;
        let counter = CallCounter::default();
        let factory = factory_with(KEY_A, settings(&sim), &counter).await;
        let account = factory.resolve_account(&spec("a")).await.unwrap();
        World {
            sim,
            counter,
            factory,
            account,
        }
    }

    fn clients(&self, region: &str) -> AwsClients {
        self.factory.clients(&self.account, region)
    }

    /// The adapter's own count for one (service, operation, outcome).
    fn count(&self, service: &str, operation: &str, outcome: &str) -> u64 {
        self.counter
            .snapshot()
            .into_iter()
            .find(|((s, o, out), _)| s == service && o == operation && out == outcome)
            .map_or(0, |(_, n)| n)
    }
}

fn header() -> String {
    format!(
        "default_account = \"{DEFAULT_ACCOUNT}\"\n[access_keys]\n{KEY_A} = \"{ACCOUNT_A}\"\n{KEY_B} = \"{ACCOUNT_B}\"\n"
    )
}

/// Collects every page of a page-level listing, counting the pages.
async fn all_pages<T, F, Fut>(mut next: F) -> (Vec<T>, usize)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AwsError>>,
{
    let mut items = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = next(token).await.unwrap();
        pages += 1;
        items.extend(page.items);
        match page.next_token {
            Some(t) => token = Some(t),
            None => return (items, pages),
        }
        assert!(pages < 100, "pagination does not end");
    }
}

fn run_arn(i: usize) -> String {
    format!("arn:aws:inspector:us-east-1:{ACCOUNT_A}:target/0-t/template/0-tpl/run/0-{i:08}")
}

/// 1001 runs; the first has 1201 exclusions: three pages of 500 each way.
fn classic_scenario() -> String {
    let mut s = header();
    s.push_str("[[region]]\nregion = \"us-east-1\"\naccount = \"111111111111\"\n");
    for i in 0..1001 {
        let _ = writeln!(
            s,
            "[[region.assessment_run]]\narn = \"{}\"\ncompleted_at = \"-{}h\"",
            run_arn(i),
            i + 1
        );
        if i == 0 {
            for e in 0..1201 {
                let _ = writeln!(
                    s,
                    "[[region.assessment_run.exclusion]]\nid = \"0-ex{e:06}\"\ntitle = \"Agent not found\"\ninstance = \"i-{e:017}\""
                );
            }
        }
    }
    s
}

#[tokio::test]
async fn sts_learns_the_account_of_each_access_key() {
    let sim = start(&header()).await;
    let counter = CallCounter::default();
    for (key, want) in [
        (KEY_A, ACCOUNT_A),
        (KEY_B, ACCOUNT_B),
        ("AKIDUNKNOWN", DEFAULT_ACCOUNT),
    ] {
        let factory = factory_with(key, settings(&sim), &counter).await;
        let account = factory.resolve_account(&spec("acct")).await.unwrap();
        assert_eq!(account.account_id, want, "{key}");
        assert_eq!(account.name, "acct");
        // The STS port itself, in another region, agrees.
        let sts = factory.sts(&account, "eu-west-1");
        assert_eq!(sts.caller_account().await.unwrap(), want);
        // Debug output names the account but never the credentials.
        let dbg = format!("{account:?} {factory:?}");
        assert!(
            dbg.contains(want) && !dbg.contains("sim-secret") && !dbg.contains(key),
            "{dbg}"
        );
    }
    assert_eq!(counter.total("sts", "GetCallerIdentity"), 6);
    assert_eq!(sim.call_count("sts", "GetCallerIdentity"), 6);
}

#[tokio::test]
async fn classic_lists_page_through_runs_and_exclusions() {
    let w = World::new(&classic_scenario()).await;
    let classic = w.clients("us-east-1").classic;
    let query = RunQuery::default();
    let (runs, pages) = all_pages(|t| classic.list_assessment_runs(&query, t)).await;
    assert_eq!(pages, 3);
    assert_eq!(runs.len(), 1001);
    let want: BTreeSet<String> = (0..1001).map(run_arn).collect();
    assert_eq!(runs.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(w.sim.call_count("inspector", "ListAssessmentRuns"), 3);
    assert_eq!(w.count("inspector", "ListAssessmentRuns", "ok"), 3);

    let run0 = run_arn(0);
    let (exclusions, pages) = all_pages(|t| classic.list_exclusions(&run0, t)).await;
    assert_eq!(pages, 3);
    assert_eq!(exclusions.len(), 1201);
    assert_eq!(exclusions.iter().collect::<BTreeSet<_>>().len(), 1201);

    // DescribeExclusions at the API's limit of 100 ARNs.
    let batch = classic
        .describe_exclusions(&exclusions[..100])
        .await
        .unwrap();
    assert_eq!(batch.exclusions.len(), 100);
    assert!(batch.failed.is_empty());
    let described: BTreeSet<&String> = batch.exclusions.iter().map(|e| &e.arn).collect();
    assert_eq!(described, exclusions[..100].iter().collect::<BTreeSet<_>>());
    assert!(batch
        .exclusions
        .iter()
        .all(|e| e.title == "Agent not found"));
    // One more than the limit is refused before any request is made.
    let before = w.sim.call_count("inspector", "DescribeExclusions");
    let err = classic
        .describe_exclusions(&exclusions[..101])
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::InvalidRequest);
    assert_eq!(w.sim.call_count("inspector", "DescribeExclusions"), before);

    // DescribeAssessmentRuns at its limit of 10.
    let described = classic.describe_assessment_runs(&runs[..10]).await.unwrap();
    assert_eq!(described.len(), 10);
    for run in &described {
        assert_eq!(run.state, "COMPLETED");
        assert!(run.arn.starts_with("arn:aws:inspector:us-east-1:"));
        assert!(run.template_arn.ends_with("template/0-tpl"));
        assert!(run.completed_at.is_some() && run.started_at.is_some());
        assert!(!run.rules_package_arns.is_empty());
    }
    assert!(classic.describe_assessment_runs(&runs[..11]).await.is_err());
}

#[tokio::test]
async fn classic_filters_runs_by_completion_time() {
    let w = World::new(&classic_scenario()).await;
    let classic = w.clients("us-east-1").classic;
    // Runs complete 1..=1001 hours ago; ask for those within the last 10.5 h.
    let query = RunQuery {
        completed_after: Some(chrono::Utc::now() - chrono::Duration::minutes(630)),
        states: vec!["COMPLETED".into()],
        ..RunQuery::default()
    };
    let (runs, _) = all_pages(|t| classic.list_assessment_runs(&query, t)).await;
    let want: BTreeSet<String> = (0..10).map(run_arn).collect();
    assert_eq!(runs.into_iter().collect::<BTreeSet<_>>(), want);
}

#[tokio::test]
async fn scope_keys_outside_the_enum_are_preserved() {
    let sim = SimServer::start(Scenario::embedded_seed()).await.unwrap();
    let counter = CallCounter::default();
    let factory = factory_with(KEY_A, settings(&sim), &counter).await;
    let account = factory.resolve_account(&spec("seed")).await.unwrap();
    assert_eq!(account.account_id, "123456789012");
    let classic = factory.clients(&account, "us-east-1").classic;
    let query = RunQuery::default();
    let (runs, _) = all_pages(|t| classic.list_assessment_runs(&query, t)).await;
    let newest = runs.iter().find(|r| r.ends_with("0-aabbccdd")).unwrap();
    let (arns, _) = all_pages(|t| classic.list_exclusions(newest, t)).await;
    let batch = classic.describe_exclusions(&arns).await.unwrap();
    assert_eq!(batch.exclusions.len(), 2);
    let agent = batch
        .exclusions
        .iter()
        .find(|e| e.arn.ends_with("exclusion/0-1234abcd"))
        .unwrap();
    assert_eq!(agent.title, "Agent not found");
    assert_eq!(
        agent.recommendation,
        "Install or re-install the Inspector Agent on this instance."
    );
    // The seed sends `instanceId` as the scope key; the enum says INSTANCE_ID.
    assert_eq!(agent.scopes.len(), 1);
    assert_eq!(agent.scopes[0].key, "instanceId");
    assert_eq!(
        agent.scopes[0].value.as_deref(),
        Some("i-0abcd1234abcd1234")
    );
    assert_eq!(agent.attributes[0].key, "INSTANCE_ID");
}

#[tokio::test]
async fn enum_scope_keys_and_failed_items_come_through() {
    let toml = format!(
        "{}[[region]]\nregion = \"us-east-1\"\naccount = \"{ACCOUNT_A}\"\n[[region.assessment_run]]\narn = \"{}\"\n\
         [[region.assessment_run.exclusion]]\nid = \"0-enum\"\ntitle = \"Agent not found\"\ninstance = \"i-0123\"\n\
         [[region.assessment_run.exclusion]]\nid = \"0-flaky\"\ntitle = \"Unsupported OS version\"\nfail_once = true\ninstance = \"i-0456\"\n",
        header(),
        run_arn(7)
    );
    let w = World::new(&toml).await;
    let classic = w.clients("us-east-1").classic;
    let run7 = run_arn(7);
    let (arns, _) = all_pages(|t| classic.list_exclusions(&run7, t)).await;
    assert_eq!(arns.len(), 2);
    let first = classic.describe_exclusions(&arns).await.unwrap();
    assert_eq!(first.exclusions.len(), 1);
    assert_eq!(first.exclusions[0].scopes[0].key, "INSTANCE_ID");
    assert_eq!(first.failed.len(), 1);
    assert!(first.failed[0].arn.ends_with("0-flaky"));
    assert_eq!(first.failed[0].code, "INTERNAL_ERROR");
    assert!(first.failed[0].retryable);
    let second = classic.describe_exclusions(&arns).await.unwrap();
    assert_eq!(second.exclusions.len(), 2);
    assert!(second.failed.is_empty());
}

/// 120 associations (the first with 120 executions) and 120 instances.
fn ssm_scenario() -> String {
    let mut s = header();
    s.push_str("[[region]]\nregion = \"us-east-1\"\naccount = \"111111111111\"\n");
    for i in 0..120 {
        let doc = if i % 2 == 0 {
            "AmazonInspector2-InvokeInspectorSsmPlugin"
        } else {
            "AWS-GatherSoftwareInventory"
        };
        let _ = writeln!(
            s,
            "[[region.association]]\nassociation_id = \"{i:08}-0000-4000-8000-000000000000\"\nassociation_name = \"assoc-{i}\"\nname = \"{doc}\"\nschedule_expression = \"rate(12 hours)\"\ntargets = [{{ key = \"tag:Env\", values = [\"prod\"] }}]"
        );
        if i == 0 {
            for e in 0..120 {
                let status = if e == 0 { "Failed" } else { "Success" };
                let _ = writeln!(
                    s,
                    "[[region.association.execution]]\nstatus = \"{status}\"\ncreated_time = \"-{}h\"",
                    e * 12 + 1
                );
            }
        }
    }
    for i in 0..120 {
        let ping = if i == 5 { "ConnectionLost" } else { "Online" };
        let _ = writeln!(
            s,
            "[[region.instance]]\ninstance_id = \"i-{i:017}\"\nping_status = \"{ping}\"\nplatform_type = \"Linux\""
        );
    }
    s
}

#[tokio::test]
async fn ssm_lists_page_and_convert() {
    let w = World::new(&ssm_scenario()).await;
    let ssm = w.clients("us-east-1").ssm;

    let (all, pages) = all_pages(|t| ssm.list_associations(&[], t)).await;
    assert_eq!((all.len(), pages), (120, 3));
    let filter = [AssociationFilter {
        key: "Name".into(),
        value: "AmazonInspector2-InvokeInspectorSsmPlugin".into(),
    }];
    let (inspector, _) = all_pages(|t| ssm.list_associations(&filter, t)).await;
    assert_eq!(inspector.len(), 60);
    assert!(inspector
        .iter()
        .all(|a| a.document_name == "AmazonInspector2-InvokeInspectorSsmPlugin"));

    let first = "00000000-0000-4000-8000-000000000000";
    let listed = all.iter().find(|a| a.association_id == first).unwrap();
    assert_eq!(listed.association_name.as_deref(), Some("assoc-0"));
    assert_eq!(
        listed.schedule_expression.as_deref(),
        Some("rate(12 hours)")
    );
    assert_eq!(listed.targets[0].key, "tag:Env");
    assert_eq!(listed.targets[0].values, vec!["prod".to_owned()]);
    let described = ssm.describe_association(first).await.unwrap();
    assert_eq!(described.association_id, first);
    assert!(described.created_date.is_some());
    let last = described.last_execution_date.unwrap();
    assert!(
        (chrono::Utc::now() - last).num_minutes().abs() < 65,
        "{last}"
    );
    // The newest execution failed; the newest success is 12 hours older.
    let success = described.last_successful_execution_date.unwrap();
    // Relative times are resolved one by one at load, so allow a little skew.
    let gap = (last - success).num_seconds();
    assert!((gap - 12 * 3600).abs() <= 5, "{last} {success}");
    assert_eq!(
        described.overview.as_ref().unwrap().status.as_deref(),
        Some("Failed")
    );

    let (executions, pages) = all_pages(|t| ssm.describe_association_executions(first, t)).await;
    assert_eq!((executions.len(), pages), (120, 3));
    assert_eq!(executions[0].status.as_deref(), Some("Failed"));
    assert!(
        executions
            .windows(2)
            .all(|p| p[0].created_time >= p[1].created_time),
        "newest first"
    );

    let (instances, pages) = all_pages(|t| ssm.describe_instance_information(t)).await;
    assert_eq!((instances.len(), pages), (120, 3));
    let lost = instances
        .iter()
        .find(|i| i.instance_id == format!("i-{:017}", 5))
        .unwrap();
    assert_eq!(lost.ping_status.as_deref(), Some("ConnectionLost"));
    assert_eq!(lost.platform_type.as_deref(), Some("Linux"));
    assert!(lost.last_ping.is_some());

    let missing = ssm
        .describe_association("ffffffff-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(missing.code.as_deref(), Some("AssociationDoesNotExist"));
    assert_eq!(w.count("ssm", "DescribeAssociation", "service_error"), 1);
    assert_eq!(w.count("ssm", "ListAssociations", "ok"), 3 + 2);
}

/// 450 EC2 instances spread over 150 accounts, some without inventory.
fn inspector2_scenario() -> String {
    let mut s = header();
    s.push_str("[[region]]\nregion = \"us-east-1\"\naccount = \"111111111111\"\n[region.inspector2]\nstatus = \"ENABLED\"\nlambda = \"DISABLED\"\nscan_mode = \"EC2_HYBRID\"\n");
    for i in 0..450 {
        let reason = if i % 3 == 0 {
            "NO_INVENTORY"
        } else {
            "SUCCESSFUL"
        };
        let _ = writeln!(
            s,
            "[[region.coverage]]\nresource_id = \"i-{i:017}\"\naccount_id = \"{:012}\"\nreason = \"{reason}\"\nami_id = \"ami-0123\"\nlast_scanned_at = \"-2h\"\ntags = {{ Name = \"web-{i}\" }}",
            100_000_000_000u64 + (i % 150) as u64
        );
    }
    s
}

#[tokio::test]
async fn inspector2_status_coverage_and_configuration() {
    let w = World::new(&inspector2_scenario()).await;
    let i2 = w.clients("us-east-1").inspector2;

    let status = i2.batch_get_account_status(&[]).await.unwrap();
    assert_eq!(status.accounts.len(), 1);
    let own = &status.accounts[0];
    assert_eq!(own.account_id, ACCOUNT_A);
    assert_eq!(own.state.status, "ENABLED");
    // The status error code (the sim sends ALREADY_ENABLED) passes through.
    assert!(own
        .state
        .error_code
        .as_deref()
        .is_none_or(|c| !c.is_empty()));
    assert_eq!(own.lambda.as_ref().unwrap().status, "DISABLED");
    assert_eq!(own.ec2.as_ref().unwrap().status, "ENABLED");
    let other = i2
        .batch_get_account_status(&["333333333333".to_owned()])
        .await
        .unwrap();
    assert_eq!(other.failed.len(), 1);
    assert_eq!(other.failed[0].account_id, "333333333333");
    assert!(!other.failed[0].error_code.is_empty());

    let none = CoverageFilter::default();
    let (all, pages) = all_pages(|t| i2.list_coverage(&none, t)).await;
    assert_eq!((all.len(), pages), (450, 3));
    let r = all
        .iter()
        .find(|r| r.resource_id == format!("i-{:017}", 3))
        .unwrap();
    assert_eq!(r.resource_type, "AWS_EC2_INSTANCE");
    assert_eq!(r.scan_type, "PACKAGE");
    assert_eq!(r.reason.as_deref(), Some("NO_INVENTORY"));
    assert_eq!(r.status_code.as_deref(), Some("INACTIVE"));
    assert_eq!(r.ami_id.as_deref(), Some("ami-0123"));
    assert_eq!(r.tags.get("Name").map(String::as_str), Some("web-3"));
    assert!(r.last_scanned_at.is_some());

    let no_inventory = CoverageFilter {
        scan_status_reason: vec![StringFilter {
            comparison: "EQUALS".into(),
            value: "NO_INVENTORY".into(),
        }],
        ..CoverageFilter::default()
    };
    let (filtered, _) = all_pages(|t| i2.list_coverage(&no_inventory, t)).await;
    assert_eq!(filtered.len(), 150);
    assert!(filtered
        .iter()
        .all(|r| r.reason.as_deref() == Some("NO_INVENTORY")));

    let config = i2.get_configuration().await.unwrap();
    assert_eq!(config.ec2_scan_mode.as_deref(), Some("EC2_HYBRID"));
    assert_eq!(config.ec2_scan_mode_status.as_deref(), Some("SUCCESS"));
    assert_eq!(w.count("inspector2", "ListCoverage", "ok"), 3 + 1);
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let w = World::new(&ssm_scenario()).await;
    let mut faults = Faults::default();
    faults.throttle_first_n.insert("ListAssociations".into(), 2);
    faults.throttle_first_n.insert("ListCoverage".into(), 2);
    w.sim.set_faults(faults);
    let clients = w.clients("us-east-1");
    let page = clients.ssm.list_associations(&[], None).await.unwrap();
    assert_eq!(page.items.len(), 50);
    assert_eq!(w.sim.call_count("ssm", "ListAssociations"), 3);
    assert_eq!(w.count("ssm", "ListAssociations", "ok"), 1);
    assert_eq!(w.count("ssm", "ListAssociations", "retried_attempt"), 2);
    // The same over restJson1.
    clients
        .inspector2
        .list_coverage(&CoverageFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(w.sim.call_count("inspector2", "ListCoverage"), 3);
    assert_eq!(w.count("inspector2", "ListCoverage", "retried_attempt"), 2);
}

#[tokio::test]
async fn exhausted_throttling_is_throttled() {
    let w = World::new(&ssm_scenario()).await;
    let mut faults = Faults::default();
    for op in ["ListAssociations", "ListCoverage", "ListAssessmentRuns"] {
        faults.throttle_first_n.insert(op.into(), 100);
    }
    w.sim.set_faults(faults);
    let clients = w.clients("us-east-1");
    // SSM's throttling is an unhandled error: classified by its code.
    let err = clients.ssm.list_associations(&[], None).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Throttled, "{err}");
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!((err.service, err.operation), ("ssm", "ListAssociations"));
    assert_eq!(w.sim.call_count("ssm", "ListAssociations"), 3);
    assert_eq!(w.count("ssm", "ListAssociations", "throttled"), 1);

    let err = clients
        .inspector2
        .list_coverage(&CoverageFilter::default(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Throttled, "{err}");
    let err = clients
        .classic
        .list_assessment_runs(&RunQuery::default(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Throttled, "{err}");
    assert!(matches!(RuleError::from(err), RuleError::Failed(_)));
}

#[tokio::test]
async fn access_denied_in_one_region_while_another_works() {
    let mut toml = inspector2_scenario();
    toml.push_str(
        "[[region]]\nregion = \"eu-west-1\"\naccount = \"111111111111\"\n[region.inspector2]\n",
    );
    let w = World::new(&toml).await;
    w.sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            region: Some("eu-west-1".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    });
    let denied = w
        .clients("eu-west-1")
        .inspector2
        .list_coverage(&CoverageFilter::default(), None)
        .await
        .unwrap_err();
    assert_eq!(denied.kind, AwsErrorKind::AccessDenied, "{denied}");
    let denied_ssm = w
        .clients("eu-west-1")
        .ssm
        .list_associations(&[], None)
        .await
        .unwrap_err();
    assert_eq!(denied_ssm.kind, AwsErrorKind::AccessDenied, "{denied_ssm}");
    // Access denial is not retried.
    assert_eq!(w.sim.call_count("ssm", "ListAssociations"), 1);
    let fine = w
        .clients("us-east-1")
        .inspector2
        .list_coverage(&CoverageFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(fine.items.len(), 200);
    assert_eq!(w.count("inspector2", "ListCoverage", "access_denied"), 1);
    assert_eq!(w.count("inspector2", "ListCoverage", "ok"), 1);
}

#[tokio::test]
async fn retired_classic_is_unavailable() {
    let w = World::new(&classic_scenario()).await;
    w.sim.set_faults(Faults {
        classic_retired: vec!["eu-west-1".into()],
        ..Faults::default()
    });
    let err = w
        .clients("eu-west-1")
        .classic
        .list_assessment_runs(&RunQuery::default(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Unavailable, "{err}");
    assert_eq!(err.code.as_deref(), Some("UnknownOperationException"));
    assert!(matches!(RuleError::from(err), RuleError::Unavailable(_)));
    assert_eq!(w.count("inspector", "ListAssessmentRuns", "unavailable"), 1);
    // Not retried: one request.
    assert_eq!(w.sim.call_count("inspector", "ListAssessmentRuns"), 1);
    // us-east-1 still answers.
    let page = w
        .clients("us-east-1")
        .classic
        .list_assessment_runs(&RunQuery::default(), None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 500);
}

#[tokio::test]
async fn slow_answers_time_out() {
    let sim = start(&ssm_scenario()).await;
    let counter = CallCounter::default();
    let fast = AwsSettings {
        attempt_timeout: Duration::from_millis(200),
        operation_timeout: Duration::from_millis(700),
        max_attempts: 2,
        ..settings(&sim)
    };
    let factory = factory_with(KEY_A, fast, &counter).await;
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = factory
        .clients(&account, "us-east-1")
        .ssm
        .list_associations(&[], None)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind, AwsErrorKind::Timeout, "{err}");
    assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
    let outcomes: Vec<String> = counter
        .snapshot()
        .into_iter()
        .filter(|((s, o, _), _)| s == "ssm" && o == "ListAssociations")
        .map(|((_, _, out), _)| out)
        .collect();
    assert!(outcomes.contains(&"timeout".to_owned()), "{outcomes:?}");
}

#[tokio::test]
async fn factory_reads_the_environment_and_explicit_endpoint_wins() {
    let sim = start(&header()).await;
    // The only test that touches the environment; every other test passes
    // an explicit endpoint and credentials, which the variables cannot override.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_ACCESS_KEY_ID", KEY_B);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "sim-secret");
    std::env::set_var("AWS_ENDPOINT_URL", sim.endpoint());
    let counter = CallCounter::default();
    let from_env = AwsSettings {
        endpoint_url: None,
        ..settings(&sim)
    };
    let factory = AwsFactory::new(from_env, counter.clone()).await.unwrap();
    let account = factory.resolve_account(&spec("env")).await.unwrap();
    assert_eq!(account.account_id, ACCOUNT_B);

    // An explicit endpoint beats a wrong AWS_ENDPOINT_URL.
    std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let factory = AwsFactory::new(settings(&sim), counter.clone())
        .await
        .unwrap();
    let account = factory.resolve_account(&spec("explicit")).await.unwrap();
    assert_eq!(account.account_id, ACCOUNT_B);
    std::env::remove_var("AWS_ENDPOINT_URL");
    assert_eq!(sim.call_count("sts", "GetCallerIdentity"), 2);

    // A per-account profile replaces the base credentials. The files are
    // named through the environment, so this stays in this one test.
    let dir = std::env::temp_dir().join(format!("blindspot-aws-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        format!("[member-a]\naws_access_key_id = {KEY_A}\naws_secret_access_key = sim-secret\n"),
    )
    .unwrap();
    std::fs::write(dir.join("config"), "").unwrap();
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    std::env::set_var("AWS_CONFIG_FILE", dir.join("config"));
    let account = factory
        .resolve_account(&AccountSpec {
            profile: Some("member-a".into()),
            ..spec("member")
        })
        .await
        .unwrap();
    assert_eq!(account.account_id, ACCOUNT_A);
    let missing = factory
        .resolve_account(&AccountSpec {
            profile: Some("no-such-profile".into()),
            ..spec("missing")
        })
        .await
        .unwrap_err();
    assert_eq!(missing.service, "sts");
    // A named source that is not defined is a credentials problem (161a521).
    assert_eq!(missing.kind, AwsErrorKind::NoCredentials, "{missing}");
    assert!(missing.message.contains("no-such-profile"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();

    let bad = AwsSettings {
        max_attempts: 0,
        ..settings(&sim)
    };
    assert!(AwsFactory::new(bad, counter).await.is_err());
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let w = World::new(&ssm_scenario()).await;
    w.sim.set_faults(Faults {
        seed: Some(7),
        server_error_probability: 1.0,
        ..Faults::default()
    });
    let err = w
        .clients("us-east-1")
        .ssm
        .describe_instance_information(None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Service, "{err}");
    assert_eq!(w.sim.call_count("ssm", "DescribeInstanceInformation"), 3);
    assert_eq!(
        w.count("ssm", "DescribeInstanceInformation", "retried_attempt"),
        2
    );
    assert_eq!(
        w.count("ssm", "DescribeInstanceInformation", "service_error"),
        1
    );
}

#[tokio::test]
async fn a_closed_endpoint_is_a_transport_failure() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let counter = CallCounter::default();
    let closed = AwsSettings {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        profile: None,
        operation_timeout: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(2),
        max_attempts: 2,
        ..AwsSettings::default()
    };
    let factory = AwsFactory::from_sdk_config(closed, base(KEY_A).await, counter.clone())
        .unwrap()
        .with_retry_initial_backoff(Duration::from_millis(5));
    let err = factory.resolve_account(&spec("a")).await.unwrap_err();
    // A configured endpoint that refuses is a transport failure, never
    // "the service does not exist here".
    assert_eq!(err.kind, AwsErrorKind::Transport, "{err}");
    assert_eq!((err.service, err.operation), ("sts", "GetCallerIdentity"));
    assert_eq!(counter.total("sts", "GetCallerIdentity"), 1 + 1);
}

/// What could reach a finding's text: never the SDK's stand-in for an
/// absent member.
fn assert_no_stand_ins(values: &str) {
    assert!(!values.contains("no value was set"), "{values}");
    assert!(!values.contains("1970-01-01"), "{values}");
}

/// What people read: one line, no `Debug` braces, no SDK internals.
fn assert_for_people(text: &str) {
    assert!(!text.contains('{') && !text.contains('}'), "{text}");
    assert!(!text.contains('\n'), "{text}");
    for internal in [
        "no value was set",
        "DispatchFailure",
        "ServiceError",
        "ErrorMetadata",
        "Some(",
    ] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }
}

/// One run with a failed-once exclusion, Inspector2 and coverage.
fn omissions_scenario() -> String {
    let mut s = header();
    let _ = writeln!(
        s,
        "[[region]]\nregion = \"us-east-1\"\naccount = \"{ACCOUNT_A}\"\n\
         [region.inspector2]\nstatus = \"ENABLED\"\n\
         [[region.coverage]]\nresource_id = \"i-00000000000000001\"\nreason = \"NO_INVENTORY\"\n\
         [[region.assessment_run]]\narn = \"{}\"\ncompleted_at = \"-1d\"\n\
         [[region.assessment_run.exclusion]]\nid = \"0-ex000001\"\ntitle = \"Agent not found\"\n\
         instance = \"i-00000000000000001\"\nfail_once = true",
        run_arn(0)
    );
    s
}

#[tokio::test]
async fn omitted_required_members_are_absent_never_sdk_stand_ins() {
    let w = World::new(&omissions_scenario()).await;
    let omit = |ops: &[(&str, &[&str])]| {
        ops.iter()
            .map(|(op, members)| {
                (
                    (*op).to_owned(),
                    members.iter().map(|m| (*m).to_owned()).collect(),
                )
            })
            .collect()
    };
    w.sim.set_faults(Faults {
        omit_members: omit(&[
            (
                "BatchGetAccountStatus",
                &["errorCode", "errorMessage", "status"],
            ),
            (
                "ListCoverage",
                &["scanType", "resourceType", "statusCode", "reason"],
            ),
            (
                "DescribeAssessmentRuns",
                &["state", "createdAt", "stateChangedAt", "name"],
            ),
            ("DescribeExclusions", &["failureCode", "description"]),
        ]),
        ..Faults::default()
    });
    let clients = w.clients("us-east-1");

    let status = clients
        .inspector2
        .batch_get_account_status(&[])
        .await
        .unwrap();
    let account = &status.accounts[0];
    for state in [Some(&account.state), account.ec2.as_ref()] {
        let state = state.unwrap();
        assert_eq!(state.status, "");
        assert_eq!(state.error_code, None);
        assert_eq!(state.error_message, None);
    }
    assert_no_stand_ins(&format!("{status:?}"));

    let coverage = clients
        .inspector2
        .list_coverage(&CoverageFilter::default(), None)
        .await
        .unwrap();
    let resource = &coverage.items[0];
    assert_eq!(resource.resource_id, "i-00000000000000001");
    assert_eq!(
        (resource.scan_type.as_str(), resource.resource_type.as_str()),
        ("", "")
    );
    assert_eq!(
        (resource.status_code.as_deref(), resource.reason.as_deref()),
        (None, None)
    );
    assert_no_stand_ins(&format!("{coverage:?}"));

    let runs = clients
        .classic
        .describe_assessment_runs(&[run_arn(0)])
        .await
        .unwrap();
    assert_eq!(runs[0].arn, run_arn(0));
    assert_eq!((runs[0].state.as_str(), runs[0].name.as_str()), ("", ""));
    assert_eq!((runs[0].created_at, runs[0].state_changed_at), (None, None));
    assert!(runs[0].completed_at.is_some());
    assert_no_stand_ins(&format!("{runs:?}"));

    let arn = format!("{}/exclusion/0-ex000001", run_arn(0));
    let first = clients
        .classic
        .describe_exclusions(std::slice::from_ref(&arn))
        .await
        .unwrap();
    assert_eq!(first.failed.len(), 1, "{first:?}");
    assert_eq!(first.failed[0].code, "");
    let second = clients.classic.describe_exclusions(&[arn]).await.unwrap();
    assert_eq!(second.exclusions[0].title, "Agent not found");
    assert_eq!(second.exclusions[0].description, "");
    assert_no_stand_ins(&format!("{first:?} {second:?}"));
}

#[tokio::test]
async fn every_shape_of_a_retired_classic_is_unavailable() {
    let w = World::new(&classic_scenario()).await;
    for shape in [
        RetiredShape::UnknownOperation,
        RetiredShape::UnrecognizedClient,
        RetiredShape::Message,
    ] {
        w.sim.set_faults(Faults {
            classic_retired: vec!["*".into()],
            retired_shape: shape,
            ..Faults::default()
        });
        let before = w.sim.call_count("inspector", "ListAssessmentRuns");
        let err = w
            .clients("us-east-1")
            .classic
            .list_assessment_runs(&RunQuery::default(), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::Unavailable, "{shape:?}: {err}");
        assert!(
            matches!(RuleError::from(err.clone()), RuleError::Unavailable(_)),
            "{err}"
        );
        assert_for_people(&err.to_string());
        // Not retried: one request per call.
        assert_eq!(
            w.sim.call_count("inspector", "ListAssessmentRuns"),
            before + 1
        );
    }
    // The same codes from another service are what they say.
    w.sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            service: Some("inspector".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    });
    let denied = w
        .clients("us-east-1")
        .classic
        .list_assessment_runs(&RunQuery::default(), None)
        .await
        .unwrap_err();
    assert_eq!(denied.kind, AwsErrorKind::AccessDenied, "{denied}");
}

#[tokio::test]
async fn failures_read_as_one_line_with_code_and_message() {
    let w = World::new(&ssm_scenario()).await;
    let mut faults = Faults {
        access_denied: vec![AccessDenied {
            operation: Some("DescribeInstanceInformation".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    };
    faults
        .throttle_first_n
        .insert("ListAssociations".into(), 100);
    w.sim.set_faults(faults);
    let clients = w.clients("us-east-1");
    let throttled = clients.ssm.list_associations(&[], None).await.unwrap_err();
    assert_eq!(
        throttled.to_string(),
        "ssm:ListAssociations failed (throttled, ThrottlingException): Rate exceeded"
    );
    let denied = clients
        .ssm
        .describe_instance_information(None)
        .await
        .unwrap_err();
    assert_eq!(
        denied.to_string(),
        "ssm:DescribeInstanceInformation failed (access_denied, AccessDeniedException): \
         User is not authorized to perform: ssm:DescribeInstanceInformation (simulated)"
    );

    // Transport failures and timeouts: the chain on one line.
    let hurried = AwsSettings {
        attempt_timeout: Duration::from_millis(100),
        operation_timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..settings(&w.sim)
    };
    let factory = factory_with(KEY_A, hurried, &w.counter).await;
    // An account's clients use the timeouts it was resolved with.
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    w.sim.set_faults(Faults {
        latency_ms: 1500,
        ..Faults::default()
    });
    let late = factory
        .clients(&account, "us-east-1")
        .ssm
        .list_associations(&[], None)
        .await
        .unwrap_err();
    assert_eq!(late.kind, AwsErrorKind::Timeout, "{late}");
    assert_for_people(&late.to_string());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = AwsSettings {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        max_attempts: 1,
        ..settings(&w.sim)
    };
    let refused = factory_with(KEY_A, closed, &w.counter)
        .await
        .resolve_account(&spec("a"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, AwsErrorKind::Transport, "{refused}");
    assert_for_people(&refused.to_string());
}

#[tokio::test]
async fn a_refused_assume_role_reads_as_one_line_with_code_and_message() {
    let sim = start(&header()).await;
    sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            operation: Some("AssumeRole".into()),
            ..AccessDenied::default()
        }],
        ..Faults::default()
    });
    let counter = CallCounter::default();
    let factory = factory_with(KEY_A, settings(&sim), &counter).await;
    let err = factory
        .resolve_account(&AccountSpec {
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT_B}:role/blindspot-audit")),
            ..spec("member")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
    assert_eq!(err.code.as_deref(), Some("AccessDenied"), "{err}");
    assert!(
        err.message.starts_with(
            "AssumeRole was refused: AccessDenied: User is not authorized to perform: sts:AssumeRole"
        ),
        "{err}"
    );
    assert_for_people(&err.to_string());
}

#[tokio::test]
async fn a_sweep_under_a_rate_limit_completes() {
    let w = World::new(&inspector2_scenario()).await;
    // 450 resources: three pages; a bucket of one token, refilled at 20/s.
    let mut faults = Faults::default();
    faults.rate_limit.insert(
        "ListCoverage".into(),
        RateLimit {
            rate: 20.0,
            burst: 1.0,
        },
    );
    w.sim.set_faults(faults);
    let patient = AwsSettings {
        max_attempts: blindspot_aws_sdk::settings::DEFAULT_MAX_ATTEMPTS,
        ..settings(&w.sim)
    };
    let factory = factory_with(KEY_A, patient, &w.counter).await;
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    let clients = factory.clients(&account, "us-east-1");
    let all = CoverageFilter::default();
    for _ in 0..3 {
        let (items, pages) = all_pages(|token| clients.inspector2.list_coverage(&all, token)).await;
        assert_eq!((items.len(), pages), (450, 3));
    }
    let throttled: u64 = w.sim.calls().iter().map(|c| c.faults).sum();
    assert!(throttled > 0, "the limit never applied");
    assert_eq!(
        w.count("inspector2", "ListCoverage", "retried_attempt"),
        throttled
    );
}

fn presence_scenario() -> String {
    let mut s = header();
    s.push_str(
        "[[region]]\nregion = \"us-east-1\"\naccount = \"111111111111\"\n\
         lambda_functions = 120\necr_repositories = [\"web\", \"worker\", \"batch\"]\n\
         [region.inspector2]\ndeep_inspection = \"DEACTIVATED\"\n\
         package_paths = [\"/opt/app/lib\"]\norg_package_paths = [\"/srv/java\"]\n\
         [[region]]\nregion = \"eu-west-1\"\naccount = \"111111111111\"\n[region.inspector2]\n",
    );
    s
}

#[tokio::test]
async fn lambda_and_ecr_list_and_page_over_their_own_protocols() {
    let w = World::new(&presence_scenario()).await;
    let clients = w.clients("us-east-1");
    // MaxItems=1: one function and a marker for more.
    let first = clients.lambda.list_functions(1, None).await.unwrap();
    assert_eq!(first.items, ["function-1"]);
    assert!(first.next_token.is_some());
    // Lambda answers at most 50 a page, whatever MaxItems asks.
    let (all, pages) = all_pages(|m| clients.lambda.list_functions(1000, m)).await;
    assert_eq!((all.len(), pages), (120, 3));
    let (repos, pages) = all_pages(|t| clients.ecr.describe_repositories(1, t)).await;
    assert_eq!(
        (repos, pages),
        (vec!["web".to_owned(), "worker".into(), "batch".into()], 3)
    );
    // None in another region: an empty page and no token.
    let empty = w.clients("eu-west-1");
    let none = empty.lambda.list_functions(1, None).await.unwrap();
    assert_eq!((none.items.len(), none.next_token), (0, None));
    let none = empty.ecr.describe_repositories(1, None).await.unwrap();
    assert_eq!((none.items.len(), none.next_token), (0, None));
    // Out of the model's range is refused by the service.
    let refused = clients
        .ecr
        .describe_repositories(1001, None)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, AwsErrorKind::InvalidRequest, "{refused}");
    assert_eq!(w.count("lambda", "ListFunctions", "ok"), 5);
}

#[tokio::test]
async fn deep_inspection_configuration_comes_through() {
    let w = World::new(&presence_scenario()).await;
    let deep = w
        .clients("us-east-1")
        .inspector2
        .get_ec2_deep_inspection_configuration()
        .await
        .unwrap();
    assert_eq!(deep.status.as_deref(), Some("DEACTIVATED"));
    assert_eq!(deep.package_paths, ["/opt/app/lib"]);
    assert_eq!(deep.org_package_paths, ["/srv/java"]);
    assert_eq!(deep.error_message, None);
    let default = w
        .clients("eu-west-1")
        .inspector2
        .get_ec2_deep_inspection_configuration()
        .await
        .unwrap();
    assert_eq!(default.status.as_deref(), Some("ACTIVATED"));
}

#[tokio::test]
async fn new_operations_can_be_denied_and_throttled_like_the_others() {
    let w = World::new(&presence_scenario()).await;
    let mut faults = Faults {
        access_denied: [
            "ListFunctions",
            "DescribeRepositories",
            "GetEc2DeepInspectionConfiguration",
        ]
        .iter()
        .map(|op| AccessDenied {
            operation: Some((*op).into()),
            ..AccessDenied::default()
        })
        .collect(),
        ..Faults::default()
    };
    w.sim.set_faults(faults.clone());
    let clients = w.clients("us-east-1");
    let e = clients.lambda.list_functions(1, None).await.unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
    let e = clients
        .ecr
        .describe_repositories(1, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
    let e = clients
        .inspector2
        .get_ec2_deep_inspection_configuration()
        .await
        .unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
    assert_eq!(w.count("lambda", "ListFunctions", "access_denied"), 1);

    faults.access_denied.clear();
    faults.throttle_first_n.insert("ListFunctions".into(), 1);
    faults
        .throttle_first_n
        .insert("DescribeRepositories".into(), 1);
    w.sim.set_faults(faults);
    clients.lambda.list_functions(1, None).await.unwrap();
    clients.ecr.describe_repositories(1, None).await.unwrap();
    assert_eq!(w.count("lambda", "ListFunctions", "retried_attempt"), 1);
    assert_eq!(w.count("ecr", "DescribeRepositories", "retried_attempt"), 1);
}

const ACCOUNT_C: &str = "333333333333";

/// An organisation managed by account A, which is also Inspector's
/// delegated administrator: A, B, C (which denies AssumeRole), a member not
/// yet associated, and 42 more; 46 accounts in all. Each of A and B has
/// coverage in us-east-1.
fn organization_scenario(tail: &str) -> String {
    let mut s = header();
    let _ = writeln!(
        s,
        "[organization]\nmanagement_account = \"{ACCOUNT_A}\"\ndelegated_admin = \"{ACCOUNT_A}\"\n\
         auto_enable = {{ ec2 = true, ecr = true, lambda = false, lambda_code = false }}\n\
         [[organization.account]]\nid = \"{ACCOUNT_A}\"\nname = \"security-tooling\"\n\
         [[organization.account]]\nid = \"{ACCOUNT_B}\"\nname = \"payments\"\nemail = \"payments@example.com\"\n\
         [[organization.account]]\nid = \"{ACCOUNT_C}\"\nname = \"analytics\"\ndeny_assume_role = true\n\
         [[organization.account]]\nid = \"444444444444\"\ninspector_member = \"CREATED\"\nstate = \"SUSPENDED\""
    );
    for i in 1..=42u64 {
        let _ = writeln!(
            s,
            "[[organization.account]]\nid = \"{:012}\"",
            500_000_000_000 + i
        );
    }
    for (account, n) in [(ACCOUNT_A, 3), (ACCOUNT_B, 5)] {
        let _ = writeln!(
            s,
            "[[region]]\nregion = \"us-east-1\"\naccount = \"{account}\"\n[region.inspector2]\nstatus = \"ENABLED\""
        );
        for i in 0..n {
            let _ = writeln!(
                s,
                "[[region.coverage]]\nresource_id = \"i-{account}{i:05}\""
            );
        }
    }
    s.push_str(tail);
    s
}

#[tokio::test]
async fn organizations_lists_every_account_over_pages() {
    let w = World::new(&organization_scenario("")).await;
    let orgs = w.clients("us-east-1").organizations;
    let (accounts, pages) = all_pages(|t| orgs.list_accounts(t)).await;
    // ListAccounts answers at most 20 a page.
    assert_eq!((accounts.len(), pages), (46, 3));
    assert_eq!(w.sim.call_count("organizations", "ListAccounts"), 3);
    assert_eq!(w.count("organizations", "ListAccounts", "ok"), 3);
    let payments = &accounts[1];
    assert_eq!(payments.id, ACCOUNT_B);
    assert_eq!(payments.name.as_deref(), Some("payments"));
    assert_eq!(payments.email.as_deref(), Some("payments@example.com"));
    assert_eq!(payments.state.as_deref(), Some("ACTIVE"));
    assert_eq!(payments.status, None, "Status is retired");
    assert!(payments.is_active());
    assert!(payments
        .arn
        .as_deref()
        .is_some_and(|a| a.starts_with(&format!("arn:aws:organizations::{ACCOUNT_A}:account/o-"))));
    assert!(payments.joined_at.is_some());
    let suspended = &accounts[3];
    assert_eq!(
        (suspended.id.as_str(), suspended.is_active()),
        ("444444444444", false)
    );
    let ids: BTreeSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 46);

    // The retired Status still reads when an answer has no State.
    let mut faults = Faults::default();
    faults
        .omit_members
        .insert("ListAccounts".into(), vec!["State".into()]);
    w.sim.set_scenario(
        Scenario::from_toml_str(
            &organization_scenario("")
                .replace("[organization]\n", "[organization]\nlegacy_status = true\n"),
        )
        .unwrap(),
    );
    w.sim.set_faults(faults);
    let page = orgs.list_accounts(None).await.unwrap();
    let suspended = &page.items[3];
    assert_eq!(
        (suspended.state.as_deref(), suspended.status.as_deref()),
        (None, Some("SUSPENDED"))
    );
    assert!(!suspended.is_active());
    assert!(page.items[0].is_active());
}

#[tokio::test]
async fn organizations_refuses_members_and_accounts_outside_one() {
    let sim = start(&organization_scenario("")).await;
    let counter = CallCounter::default();
    let member = factory_with(KEY_B, settings(&sim), &counter).await;
    let account = member.resolve_account(&spec("b")).await.unwrap();
    let e = member
        .clients(&account, "us-east-1")
        .organizations
        .list_accounts(None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
    assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));

    let lone = start(&header()).await;
    let factory = factory_with(KEY_A, settings(&lone), &counter).await;
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    let e = factory
        .clients(&account, "us-east-1")
        .organizations
        .list_accounts(None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::InvalidRequest, "{e}");
    assert_eq!(e.code.as_deref(), Some("AWSOrganizationsNotInUseException"));
    assert_eq!(
        e.to_string(),
        "organizations:ListAccounts failed (invalid_request, AWSOrganizationsNotInUseException): \
         Your account is not a member of an organization."
    );
    assert_eq!(
        counter.total("organizations", "ListAccounts"),
        2,
        "both failures are counted"
    );
}

#[tokio::test]
async fn the_delegated_administrator_sees_the_organisation_in_inspector2() {
    let w = World::new(&organization_scenario("")).await;
    let i2 = w.clients("us-east-1").inspector2;

    // 44 associated members (the administrator is not its own member), at
    // most 50 a page; 45 with the one not associated yet.
    let (members, pages) = all_pages(|t| i2.list_members(true, t)).await;
    assert_eq!((members.len(), pages), (44, 1));
    let (all, pages) = all_pages(|t| i2.list_members(false, t)).await;
    assert_eq!((all.len(), pages), (45, 1));
    let b = &members[0];
    assert_eq!(b.account_id, ACCOUNT_B);
    assert_eq!(b.relationship_status.as_deref(), Some("ENABLED"));
    assert_eq!(b.delegated_admin_account_id.as_deref(), Some(ACCOUNT_A));
    assert!(b.updated_at.is_some());
    assert!(all
        .iter()
        .any(|m| m.account_id == "444444444444"
            && m.relationship_status.as_deref() == Some("CREATED")));

    let config = i2.describe_organization_configuration().await.unwrap();
    let auto = config.auto_enable.unwrap();
    assert_eq!(
        (auto.ec2, auto.ecr, auto.lambda, auto.lambda_code),
        (Some(true), Some(true), Some(false), Some(false))
    );
    assert_eq!(config.max_account_limit_reached, Some(false));

    let admin = i2.get_delegated_admin_account().await.unwrap().unwrap();
    assert_eq!(admin.account_id.as_deref(), Some(ACCOUNT_A));
    assert_eq!(admin.relationship_status.as_deref(), Some("ENABLED"));

    // Statuses of several members in one call; a non-member fails alone.
    let batch = i2
        .batch_get_account_status(&[
            ACCOUNT_B.to_owned(),
            "500000000001".to_owned(),
            "999988887777".to_owned(),
        ])
        .await
        .unwrap();
    let ok: Vec<(&str, &str)> = batch
        .accounts
        .iter()
        .map(|a| (a.account_id.as_str(), a.state.status.as_str()))
        .collect();
    assert_eq!(ok, [(ACCOUNT_B, "ENABLED"), ("500000000001", "DISABLED")]);
    assert_eq!(batch.failed.len(), 1);
    assert_eq!(batch.failed[0].account_id, "999988887777");
    assert_eq!(batch.failed[0].error_code, "RESOURCE_NOT_FOUND");
    let too_many: Vec<String> = (0..101)
        .map(|i| format!("{:012}", 600_000_000_000u64 + i))
        .collect();
    let before = w.sim.call_count("inspector2", "BatchGetAccountStatus");
    let e = i2.batch_get_account_status(&too_many).await.unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::InvalidRequest, "{e}");
    assert_eq!(
        w.sim.call_count("inspector2", "BatchGetAccountStatus"),
        before,
        "refused before sending"
    );

    // Coverage across the members, and one member's by accountId.
    let none = CoverageFilter::default();
    let (everything, _) = all_pages(|t| i2.list_coverage(&none, t)).await;
    assert_eq!(everything.len(), 8);
    let only_b = CoverageFilter {
        account_id: vec![StringFilter {
            comparison: "EQUALS".into(),
            value: ACCOUNT_B.into(),
        }],
        ..CoverageFilter::default()
    };
    let (items, _) = all_pages(|t| i2.list_coverage(&only_b, t)).await;
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|r| r.account_id == ACCOUNT_B));

    // Without a delegated administrator: Ok(None), not an error.
    w.sim.set_scenario(
        Scenario::from_toml_str(
            &organization_scenario("").replace(&format!("delegated_admin = \"{ACCOUNT_A}\"\n"), ""),
        )
        .unwrap(),
    );
    assert_eq!(i2.get_delegated_admin_account().await.unwrap(), None);
    let e = i2.describe_organization_configuration().await.unwrap_err();
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
}

#[tokio::test]
async fn members_are_denied_the_organisation_view() {
    let sim = start(&organization_scenario("")).await;
    let counter = CallCounter::default();
    let member = factory_with(KEY_B, settings(&sim), &counter).await;
    let account = member.resolve_account(&spec("b")).await.unwrap();
    let i2 = member.clients(&account, "us-east-1").inspector2;
    for e in [
        i2.list_members(true, None).await.unwrap_err(),
        i2.describe_organization_configuration().await.unwrap_err(),
        i2.get_delegated_admin_account().await.unwrap_err(),
    ] {
        assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
        assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));
    }
    let batch = i2
        .batch_get_account_status(&[ACCOUNT_B.to_owned(), ACCOUNT_A.to_owned()])
        .await
        .unwrap();
    assert_eq!(batch.accounts.len(), 1);
    assert_eq!(batch.failed[0].account_id, ACCOUNT_A);
    assert_eq!(batch.failed[0].error_code, "ACCESS_DENIED");
    // Its own coverage only.
    let none = CoverageFilter::default();
    let (items, _) = all_pages(|t| i2.list_coverage(&none, t)).await;
    assert_eq!(items.len(), 5);
}

#[tokio::test]
async fn an_omitted_auto_enable_member_is_absent_not_false() {
    let w = World::new(&organization_scenario("")).await;
    let mut faults = Faults::default();
    faults.omit_members.insert(
        "DescribeOrganizationConfiguration".into(),
        vec![
            "ec2".into(),
            "lambdaCode".into(),
            "maxAccountLimitReached".into(),
        ],
    );
    w.sim.set_faults(faults);
    let config = w
        .clients("us-east-1")
        .inspector2
        .describe_organization_configuration()
        .await
        .unwrap();
    let auto = config.auto_enable.unwrap();
    // The SDK reads a missing required `ec2` as false; blindspot must not.
    assert_eq!(
        (auto.ec2, auto.ecr, auto.lambda, auto.lambda_code),
        (None, Some(true), Some(false), None)
    );
    assert_eq!(config.max_account_limit_reached, None);
}

#[tokio::test]
async fn a_denied_assume_role_is_access_denied_and_names_its_account() {
    let sim = start(&organization_scenario("")).await;
    let counter = CallCounter::default();
    let factory = factory_with(KEY_A, settings(&sim), &counter).await;
    let role = format!("arn:aws:iam::{ACCOUNT_C}:role/blindspot-audit");
    let err = factory
        .resolve_account(&AccountSpec {
            role_arn: Some(role.clone()),
            external_id: Some("shared-secret".into()),
            ..spec("analytics")
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
    assert_eq!(err.code.as_deref(), Some("AccessDenied"), "{err}");
    assert_eq!(
        err.message,
        format!(
            "AssumeRole was refused: AccessDenied: User: arn:aws:iam::{ACCOUNT_A}:user/blindspot-sim-{KEY_A} \
             is not authorized to perform: sts:AssumeRole on resource: {role}"
        )
    );
    assert_for_people(&err.to_string());
    // The account the failure belongs to, before STS ever confirmed it.
    assert_eq!(
        blindspot_aws_sdk::factory::role_arn_account_id(&role),
        Some(ACCOUNT_C)
    );
    assert!(sim
        .assume_role_counts()
        .iter()
        .any(|c| c.account == ACCOUNT_C && c.denied >= 1));
    // Another member's role is granted.
    let b = factory
        .resolve_account(&AccountSpec {
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT_B}:role/blindspot-audit")),
            ..spec("payments")
        })
        .await
        .unwrap();
    assert_eq!(b.account_id, ACCOUNT_B);
    assert_eq!(sim.credentials_issued(ACCOUNT_B), 1);
}

#[tokio::test]
async fn assumed_role_credentials_are_refreshed_before_they_expire() {
    // Sessions of 15 s: the identity cache refreshes 5 to 10 s before the
    // end (CREDENTIALS_REFRESH_BUFFER with its jitter), so over 2.2
    // lifetimes the role is assumed at least 3 times and no call is ever
    // signed with expired credentials, which the simulator would refuse.
    let lifetime = Duration::from_secs(15);
    let sim = start(&organization_scenario(
        "[sts]\ncredential_lifetime = \"15s\"\n",
    ))
    .await;
    let counter = CallCounter::default();
    let factory = factory_with(KEY_A, settings(&sim), &counter).await;
    let account = factory
        .resolve_account(&AccountSpec {
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT_B}:role/blindspot-audit")),
            ..spec("payments")
        })
        .await
        .unwrap();
    assert_eq!(account.account_id, ACCOUNT_B);
    // One credentials cache for every regional client of the account.
    let east = factory.clients(&account, "us-east-1").inspector2;
    let west = factory.clients(&account, "eu-west-1").inspector2;
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < lifetime * 22 / 10 {
        for i2 in [&east, &west] {
            let status = i2.batch_get_account_status(&[]).await;
            let status = status
                .unwrap_or_else(|e| panic!("call {calls} at {:?} failed: {e}", started.elapsed()));
            assert_eq!(status.accounts[0].account_id, ACCOUNT_B);
            calls += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let issued = sim.credentials_issued(ACCOUNT_B);
    eprintln!(
        "{calls} calls over {:?}: {issued} sessions of {lifetime:?}",
        started.elapsed()
    );
    assert!(issued >= 3, "{issued} sessions for {calls} calls");
    // Cached, not assumed per call.
    assert!(issued * 10 < calls, "{issued} sessions for {calls} calls");
    assert_eq!(
        sim.calls()
            .iter()
            .filter(|c| c.service == "inspector2")
            .map(|c| c.calls)
            .sum::<u64>(),
        calls,
        "every call reached Inspector2 and none was refused as expired"
    );
}

#[tokio::test]
async fn calls_in_flight_never_exceed_the_global_cap() {
    let sim = start(&format!("{}[[region]]\nregion = \"us-east-1\"\naccount = \"{ACCOUNT_A}\"\n[[region]]\nregion = \"eu-west-1\"\naccount = \"{ACCOUNT_A}\"\n", header())).await;
    let mut faults = Faults::default();
    faults.service_latency_ms.insert("ssm".into(), 300);
    sim.set_faults(faults);
    let counter = CallCounter::default();
    let capped = AwsSettings {
        max_in_flight_calls: 3,
        ..settings(&sim)
    };
    let factory = factory_with(KEY_A, capped, &counter).await;
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    // Two clients share the one cap.
    let clients = [
        factory.clients(&account, "us-east-1"),
        factory.clients(&account, "eu-west-1"),
    ];
    assert_eq!(factory.in_flight(), 0);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..12 {
        let ssm = clients[i % 2].ssm.clone();
        set.spawn(async move { ssm.list_associations(&[], None).await.map(|_| ()) });
    }
    let calls = async move {
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            results.push(r.expect("call task panicked"));
        }
        results
    };
    let watch = async {
        let mut peak = 0;
        while started.elapsed() < Duration::from_secs(5) {
            peak = peak.max(factory.in_flight());
            tokio::time::sleep(Duration::from_millis(10)).await;
            if factory.in_flight() == 0 && peak > 0 {
                break;
            }
        }
        peak
    };
    let (results, peak) = tokio::join!(calls, watch);
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    eprintln!(
        "12 calls of 300 ms under a cap of 3: {elapsed:?}, peak in flight {peak}, \
         waited for permits {:?} in all",
        factory.permit_wait()
    );
    assert!(peak <= 3, "{peak} calls in flight");
    assert!(peak >= 2, "the calls never overlapped: {peak}");
    // Four rounds of 300 ms at the least.
    assert!(elapsed >= Duration::from_millis(1100), "{elapsed:?}");
    assert!(factory.permit_wait() > Duration::ZERO);
    assert_eq!(factory.in_flight(), 0);
}

#[tokio::test]
async fn each_client_is_paced() {
    let sim = start(&format!(
        "{}[[region]]\nregion = \"us-east-1\"\naccount = \"{ACCOUNT_A}\"\n",
        header()
    ))
    .await;
    let counter = CallCounter::default();
    let paced = AwsSettings {
        calls_per_second: 5.0,
        ..settings(&sim)
    };
    let factory = factory_with(KEY_A, paced, &counter).await;
    let account = factory.resolve_account(&spec("a")).await.unwrap();
    let ssm = factory.clients(&account, "us-east-1").ssm;
    // 15 calls at 5/s with bursts of 5: (15 - 5) / 5 = 2 s at the least.
    let started = Instant::now();
    for _ in 0..15 {
        ssm.list_associations(&[], None).await.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "15 calls paced at 5/s (burst 5): {elapsed:?}; pacing waits {:?} in all",
        factory.pacing_wait()
    );
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(factory.pacing_wait() >= Duration::from_millis(1500));
    // Another client (another region) has its own, untouched burst.
    let other = factory.clients(&account, "eu-west-1").ssm;
    let before = factory.pacing_wait();
    for _ in 0..5 {
        other.list_associations(&[], None).await.unwrap();
    }
    assert!(
        factory.pacing_wait() - before < Duration::from_millis(100),
        "{:?}",
        factory.pacing_wait() - before
    );
}

#[tokio::test]
async fn expired_session_credentials_are_refused_as_access_denied() {
    let sim = start(&organization_scenario(
        "[sts]\ncredential_lifetime = \"1s\"\n",
    ))
    .await;
    // A session of one second, assumed with the SDK's own STS client.
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base(KEY_A).await)
            .endpoint_url(sim.endpoint())
            .build(),
    );
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT_B}:role/blindspot-audit"))
        .role_session_name("test")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let session = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "session",
    );
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(session)
        .load()
        .await;
    let counter = CallCounter::default();
    let factory = AwsFactory::from_sdk_config(settings(&sim), config, counter).unwrap();
    // Still valid: the calls act as the role's account.
    let account = factory.resolve_account(&spec("b")).await.unwrap();
    assert_eq!(account.account_id, ACCOUNT_B);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The SDK sends the session token; the simulator reads its expiry.
    let e = factory
        .sts(&account, "us-east-1")
        .caller_account()
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ExpiredToken"), "{e}");
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
    let e = factory
        .clients(&account, "us-east-1")
        .inspector2
        .batch_get_account_status(&[])
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ExpiredTokenException"), "{e}");
    assert_eq!(e.kind, AwsErrorKind::AccessDenied, "{e}");
}
