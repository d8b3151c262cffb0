//! Organisation-wide operation through the real binary against the simulated
//! AWS (tests/scenarios/organization.toml): three accounts, the first of
//! which blindspot runs in (management account and Inspector's delegated
//! administrator); one denies AssumeRole, one joins after start-up, and
//! auto-enable is off for Lambda.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{command, config_file, findings, get, run, sim_file, wait_for, wait_until, Daemon};
use serde_json::Value;
use std::path::Path;

const HOME: &str = "111111111111";
const DENIED: &str = "222222222222";
const JOINING: &str = "333333333333";

/// `[aws]` with the organisation, re-read every second.
fn aws(endpoint: &str) -> String {
    format!(
        r#"
[aws]
regions = ["us-east-1", "eu-west-1"]
endpoint_url = "{endpoint}"
operation_timeout = "20s"
attempt_timeout = "10s"
max_attempts = 2
concurrency = 8

[aws.organization]
role_name = "blindspot-audit"
external_id = "org-ext-5ecret"
refresh = "1s"
"#
    )
}

/// Every rule once an hour: whatever is evaluated after the first
/// activation was brought by a change of the organisation, not by a tick.
fn daemon_config(endpoint: &str, db: &Path) -> String {
    aws(endpoint)
        + &format!(
            r#"
[server]
listen = "127.0.0.1:0"

[store]
path = "{db}"

[scheduler]
jitter = "0s"
shutdown_grace = "2s"

[rules.inspector-exclusions]
interval = "1h"
[rules.inspector2-associations]
interval = "1h"
[rules.inspector2-coverage]
interval = "1h"
[rules.inspector2-organization]
interval = "1h"
"#,
            db = db.display()
        )
}

/// The latest evaluation of every (rule, account, region), from the API.
async fn latest(base: &str) -> Vec<Value> {
    let (status, body) = get(&format!("{base}/api/v1/rules")).await;
    assert_eq!(status, 200, "{body}");
    body["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["evaluations"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn of_account<'a>(scopes: &'a [Value], account: &str) -> Vec<&'a Value> {
    scopes.iter().filter(|s| s["account"] == account).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_watches_the_whole_organisation() {
    let sim = sim_file("organization.toml").await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blindspot.db");
    let (_cfg_dir, config) = config_file(&daemon_config(&sim.endpoint(), &db));
    let daemon = Daemon::run(&sim.endpoint(), &config);
    let base = daemon.base.clone();

    // The denied account is `error`, under its own ID, in every region and
    // for every account rule, with AWS's reason; the home account is fine.
    let scopes = wait_for("the denied account's evaluations", || {
        let base = base.clone();
        async move {
            let scopes = latest(&base).await;
            (of_account(&scopes, DENIED).len() >= 6).then_some(scopes)
        }
    })
    .await;
    for scope in of_account(&scopes, DENIED) {
        assert_eq!(scope["status"], "error", "{scope}");
        let error = scope["error"].as_str().unwrap_or_default();
        assert!(error.contains("AccessDenied"), "{error}");
        assert_eq!(scope["account_name"], "payments", "{scope}");
    }
    assert!(
        of_account(&scopes, DENIED)
            .iter()
            .all(|s| s["rule"] != "inspector2-organization"),
        "the organisation rule runs only where the organisation is seen"
    );

    // The organisation rule, in the home account: Lambda's auto-enable is
    // off (standard and code scanning; EC2's and ECR's are on), in each region.
    let auto = wait_for("the auto-enable findings", || {
        let base = base.clone();
        async move {
            let found = findings(&base, "rule=inspector2-organization&limit=1000").await;
            let auto: Vec<Value> = found
                .into_iter()
                .filter(|f| f["code"] == "AUTO_ENABLE_OFF")
                .collect();
            (auto.len() >= 4).then_some(auto)
        }
    })
    .await;
    let mut off: Vec<(String, String, String)> = auto
        .iter()
        .map(|f| {
            (
                f["account"].as_str().unwrap().to_owned(),
                f["region"].as_str().unwrap().to_owned(),
                f["resource"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    off.sort();
    assert_eq!(
        off,
        [
            (HOME.into(), "eu-west-1".into(), "LAMBDA".into()),
            (HOME.into(), "eu-west-1".into(), "LAMBDA_CODE".into()),
            (HOME.into(), "us-east-1".into(), "LAMBDA".into()),
            (HOME.into(), "us-east-1".into(), "LAMBDA_CODE".into()),
        ]
    );

    // The joining account appears without a restart: evaluated (its
    // coverage finding shows) although every rule's next tick is an hour away.
    let joined = wait_for("the joining account's findings", || {
        let base = base.clone();
        async move {
            let found = findings(&base, &format!("account={JOINING}&limit=1000")).await;
            (!found.is_empty()).then_some(found)
        }
    })
    .await;
    assert!(
        joined.iter().all(|f| f["account_name"] == "analytics"),
        "{joined:?}"
    );

    // Names for people, IDs for Prometheus.
    let (status, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    for (id, name) in [(DENIED, "payments"), (JOINING, "analytics")] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("blindspot_account_info")
                    && l.contains(&format!("account=\"{id}\""))
                    && l.contains(&format!("name=\"{name}\""))),
            "no account_info for {id}:\n{metrics}"
        );
    }
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_accounts_and_reports_the_denied_one_as_incomplete() {
    let sim = sim_file("organization.toml").await;
    let (_dir, config) = config_file(&aws(&sim.endpoint()));
    let mut cmd = command(&sim.endpoint());
    cmd.args(["check", "--config"]).arg(&config);
    let out = run(cmd).await;
    // The denied account could not be checked: exit 3, never "no findings".
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let denied_lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(&format!("{DENIED} (payments)/")))
        .collect();
    assert!(!denied_lines.is_empty(), "{}", out.stdout);
    assert!(
        denied_lines
            .iter()
            .all(|l| l.contains("error") && l.contains("AccessDenied")),
        "{denied_lines:?}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("inspector2-organization") && l.contains(&format!("{HOME} ("))),
        "{}",
        out.stdout
    );
    // JSON carries the names too.
    let mut cmd = command(&sim.endpoint());
    cmd.args(["check", "--format", "json", "--config"])
        .arg(&config);
    let json = run(cmd).await.json();
    assert_eq!(json["accounts"][DENIED], "payments");
}

/// The scenario's organisation with the third account listed from the start
/// (and leaving after `leaves_after`, if given), a daemon watching it, and
/// that account's open findings once it has some.
struct Watching {
    sim: blindspot_sim::SimHandle,
    _dir: tempfile::TempDir,
    _config: (tempfile::TempDir, std::path::PathBuf),
    daemon: Daemon,
    open: Vec<Value>,
}

async fn watch_member(leaves_after: Option<std::time::Duration>) -> Watching {
    let mut scenario = common::scenario_file("organization.toml");
    for account in scenario.organization.as_mut().unwrap().accounts.iter_mut() {
        if account.id == JOINING {
            account.joins_after = None;
            account.leaves_after = leaves_after;
        }
    }
    let sim = blindspot_sim::SimServer::start(scenario).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blindspot.db");
    let config = config_file(&daemon_config(&sim.endpoint(), &db));
    let daemon = Daemon::run(&sim.endpoint(), &config.1);
    let base = daemon.base.clone();
    let open = wait_for("the member's findings", || {
        let base = base.clone();
        async move {
            let found = findings(&base, &format!("account={JOINING}&status=open")).await;
            (!found.is_empty()).then_some(found)
        }
    })
    .await;
    Watching {
        sim,
        _dir: dir,
        _config: config,
        daemon,
        open,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_leaves_has_its_findings_withdrawn() {
    // The third account, listed from the start and gone after a few seconds.
    let watching = watch_member(Some(std::time::Duration::from_secs(8))).await;
    let base = watching.daemon.base.clone();
    let open = watching.open.clone();
    let id = open[0]["id"].as_str().unwrap().to_owned();
    wait_until("the finding withdrawn", || {
        let base = base.clone();
        let id = id.clone();
        async move { common::finding(&base, &id).await["status"] == "withdrawn" }
    })
    .await;
    let detail = common::finding(&base, &id).await;
    let history = serde_json::to_string(&detail).unwrap();
    assert!(history.contains("left the organisation"), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_that_cannot_be_read_loses_no_account() {
    let watching = watch_member(None).await;
    let (sim, base, open) = (&watching.sim, watching.daemon.base.clone(), &watching.open);
    // ListAccounts is refused from now on: the refreshes (every second)
    // fail, and every account stays watched with its findings open.
    sim.set_faults(blindspot_sim::Faults {
        access_denied: vec![blindspot_sim::AccessDenied {
            operation: Some("ListAccounts".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    wait_until("three refused refreshes", || {
        let refused: u64 = sim
            .calls()
            .iter()
            .filter(|c| c.operation == "ListAccounts")
            .map(|c| c.faults)
            .sum();
        async move { refused >= 3 }
    })
    .await;
    let still = findings(&base, &format!("account={JOINING}&status=open")).await;
    // Every finding open before is open still (other rules' evaluations may
    // have added some meanwhile).
    for finding in open.iter() {
        assert!(
            still.iter().any(|f| f["id"] == finding["id"]),
            "{finding} is no longer open: {still:?}"
        );
    }
    assert!(findings(&base, "status=withdrawn").await.is_empty());
}
