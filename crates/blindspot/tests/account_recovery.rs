//! Accounts that cannot be resolved, through the real binary against the
//! simulated AWS: the daemon answers HTTP while STS is slow, an account whose
//! role cannot be assumed at start-up is reported under its role's account ID
//! and recovers without a restart once STS lets it, `check` resolves accounts
//! concurrently and exits 3 when none can be resolved, and the logs carry the
//! AWS error code and message but never the SDK's Debug output or a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::{AccessDenied, Faults};
use common::{
    aws_config, command, config_file, exclusions_daemon_config, findings, get, run, sim, wait_until,
};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// The account of the simulator's default credentials.
const OWN: &str = "123456789012";
/// The account behind the role the daemon assumes.
const AUDIT: &str = "210987654321";
const AUDIT_ROLE: &str = "arn:aws:iam::210987654321:role/blindspot-audit";
const EXTERNAL_ID: &str = "ext-id-5ecret-7c1e";

/// One exclusion (a finding) per account in us-east-1.
fn scenario() -> String {
    let mut toml = String::new();
    for (account, instance) in [(OWN, "i-own"), (AUDIT, "i-audit")] {
        toml.push_str(&format!(
            "[[region]]\nregion = \"us-east-1\"\naccount = \"{account}\"\n\
             [[region.assessment_run]]\n\
             arn = \"arn:aws:inspector:us-east-1:{account}:target/0-t/template/0-a/run/0-r\"\n\
             completed_at = \"-1d\"\n\
             [[region.assessment_run.exclusion]]\ntitle = \"Agent not found\"\n\
             description = \"d\"\nrecommendation = \"r\"\ninstance = \"{instance}\"\n"
        ));
    }
    toml
}

/// The daemon's config: the credentials' own account and a role, one region,
/// one rule every second.
fn config(endpoint: &str, db: &Path, attempt_timeout: &str) -> String {
    let accounts = format!(
        r#"
[[aws.accounts]]
name = "own"

[[aws.accounts]]
name = "audit"
role_arn = "{AUDIT_ROLE}"
external_id = "{EXTERNAL_ID}"
"#
    );
    aws_config(endpoint, r#"["us-east-1"]"#, "30s", attempt_timeout)
        + &accounts
        + &exclusions_daemon_config("", db)
}

fn deny_assume_role() -> Faults {
    Faults {
        access_denied: vec![AccessDenied {
            operation: Some("AssumeRole".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `blindspot run`, its stderr in a file so the test can read the log.
struct Daemon {
    /// Held for its Drop, which stops the process.
    _daemon: common::Daemon,
    base: String,
    started: Instant,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(endpoint: &str, config_path: &Path, log: &Path) -> Daemon {
        let started = Instant::now();
        let mut cmd = command(endpoint);
        cmd.env("BLINDSPOT_LOG", "info")
            .stderr(std::fs::File::create(log).unwrap());
        let daemon = common::Daemon::spawn(cmd, config_path);
        Daemon {
            base: daemon.base.clone(),
            _daemon: daemon,
            started,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

async fn evaluations(base: &str) -> Vec<Value> {
    let (status, body) = get(&format!("{base}/api/v1/evaluations?limit=200")).await;
    assert_eq!(status, 200, "{body}");
    body["evaluations"].as_array().unwrap().clone()
}

/// (account, resource) of every open finding, sorted.
async fn open_findings(base: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = findings(base, "status=open")
        .await
        .iter()
        .map(|f| {
            (
                f["account"].as_str().unwrap().to_owned(),
                f["resource"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the SDK's Debug output of an error or a credentials provider looks
/// like; none of it belongs in a log line.
fn assert_no_debug_output(log: &str) {
    for marker in [
        "ServiceError {",
        "DispatchFailure",
        "ErrorMetadata",
        "SdkError",
        "raw: Response",
        "ProviderError",
    ] {
        assert!(!log.contains(marker), "`{marker}` in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_whose_role_cannot_be_assumed_at_start_recovers_without_a_restart() {
    let sim = sim(&scenario()).await;
    sim.set_faults(deny_assume_role());
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, path) = config_file(&config(
        &sim.endpoint(),
        &dir.path().join("blindspot.db"),
        "5s",
    ));
    let daemon = Daemon::start(&sim.endpoint(), &path, &dir.path().join("stderr.log"));
    let base = daemon.base.clone();

    // The role's evaluations are errors, recorded under the account its ARN
    // names (not a placeholder), with the reason; the own account works.
    let audit_errors = |evals: &[Value]| {
        evals
            .iter()
            .filter(|e| e["account"] == AUDIT && e["status"] == "error")
            .count()
    };
    wait_until("four error evaluations of the audit account", || async {
        audit_errors(&evaluations(&base).await) >= 4
    })
    .await;
    let evals = evaluations(&base).await;
    let failed = evals
        .iter()
        .find(|e| e["account"] == AUDIT && e["status"] == "error")
        .unwrap();
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("account `audit` could not be resolved")
            && error.contains("AssumeRole")
            && error.contains("AccessDenied"),
        "{error}"
    );
    assert!(
        evals
            .iter()
            .all(|e| !e["account"].as_str().unwrap().starts_with("unresolved")),
        "{evals:?}"
    );
    wait_until("the own account's finding", || async {
        open_findings(&base).await == [(OWN.to_owned(), "i-own".to_owned())]
    })
    .await;

    // STS lets the role be assumed again: the same process picks it up.
    sim.set_faults(Faults::default());
    wait_until("the audit account to recover", || async {
        evaluations(&base)
            .await
            .iter()
            .any(|e| e["account"] == AUDIT && e["status"] == "ok")
    })
    .await;
    wait_until("the audit account's finding", || async {
        open_findings(&base).await
            == [
                (OWN.to_owned(), "i-own".to_owned()),
                (AUDIT.to_owned(), "i-audit".to_owned()),
            ]
    })
    .await;

    // One log line per failed attempt, with the AWS code and message; no
    // Debug output, no external ID.
    let log = daemon.log();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot resolve the AWS account"))
        .collect();
    assert!(!failures.is_empty(), "{log}");
    for line in &failures {
        assert!(
            line.contains("account=\"audit\"") || line.contains("account=audit"),
            "{line}"
        );
        assert!(line.contains("AccessDenied"), "{line}");
        assert!(line.contains("not authorized"), "{line}");
    }
    // The backoff: an activation every second, but fewer attempts.
    let errors = audit_errors(&evaluations(&base).await);
    assert!(
        failures.len() < errors,
        "{} attempts for {errors} failed evaluations:\n{log}",
        failures.len()
    );
    assert!(log.contains("account resolved after failing"), "{log}");
    assert_no_debug_output(&log);
    assert!(!log.contains(EXTERNAL_ID), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_while_sts_is_slow_at_start_up() {
    let sim = sim(&scenario()).await;
    // Every STS call takes 8 s: resolving the role account takes 16 s.
    sim.set_faults(Faults {
        service_latency_ms: [("sts".to_owned(), 8000)].into(),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, path) = config_file(&config(
        &sim.endpoint(),
        &dir.path().join("blindspot.db"),
        "20s",
    ));
    let daemon = Daemon::start(&sim.endpoint(), &path, &dir.path().join("stderr.log"));
    let base = daemon.base.clone();

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "not ready before any evaluation: {body}");
    let (status, _) = get(&format!("{base}/api/v1/rules")).await;
    assert_eq!(status, 200);
    assert!(
        daemon.started.elapsed() < Duration::from_secs(6),
        "answered after {:?}, before STS did",
        daemon.started.elapsed()
    );

    // Once STS has answered, the daemon becomes ready on its own.
    sim.set_faults(Faults::default());
    wait_until("readiness", || async {
        get(&format!("{base}/readyz")).await.0 == 200
    })
    .await;
    let evals = evaluations(&base).await;
    assert!(
        evals
            .iter()
            .any(|e| e["account"] == AUDIT && e["status"] == "ok"),
        "{evals:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_resolves_accounts_concurrently() {
    // Four roles, STS answering each call after 3 s: one after another,
    // resolving them (AssumeRole, then GetCallerIdentity) would take 24 s.
    let mut toml = String::new();
    let accounts = [
        "210000000001",
        "210000000002",
        "210000000003",
        "210000000004",
    ];
    for account in accounts {
        toml.push_str(&format!(
            "[[region]]\nregion = \"us-east-1\"\naccount = \"{account}\"\n"
        ));
    }
    let sim = sim(&toml).await;
    sim.set_faults(Faults {
        service_latency_ms: [("sts".to_owned(), 3000)].into(),
        ..Default::default()
    });
    let mut config = format!(
        "[aws]\nregions = [\"us-east-1\"]\nendpoint_url = \"{}\"\nconcurrency = 4\n\
         [rules.inspector2-associations]\nenabled = false\n\
         [rules.inspector2-coverage]\nenabled = false\n",
        sim.endpoint()
    );
    for (i, account) in accounts.iter().enumerate() {
        config.push_str(&format!(
            "[[aws.accounts]]\nname = \"a{i}\"\nrole_arn = \"arn:aws:iam::{account}:role/audit\"\n"
        ));
    }
    let (_dir, path) = config_file(&config);
    let mut cmd = command(&sim.endpoint());
    cmd.args(["check", "--format", "json", "--config"])
        .arg(&path);
    let started = Instant::now();
    let out = run(cmd).await;
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut seen: Vec<String> = out.json()["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, accounts);
    assert!(took < Duration::from_secs(16), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_where_no_account_resolves_exits_3() {
    let sim = sim(&scenario()).await;
    // The role cannot be assumed, and the own credentials are refused too.
    sim.set_faults(Faults {
        access_denied: vec![
            AccessDenied {
                operation: Some("AssumeRole".into()),
                ..Default::default()
            },
            AccessDenied {
                operation: Some("GetCallerIdentity".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, path) = config_file(&config(
        &sim.endpoint(),
        &dir.path().join("blindspot.db"),
        "5s",
    ));
    let mut cmd = command(&sim.endpoint());
    cmd.args(["check", "--format", "json", "--config"])
        .arg(&path);
    let out = run(cmd).await;
    assert_eq!(out.code, 3, "incomplete; stderr:\n{}", out.stderr);
    let json = out.json();
    let mut seen: Vec<(String, String)> = json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(
                e["error"]
                    .as_str()
                    .unwrap()
                    .contains("could not be resolved"),
                "{e}"
            );
            (
                e["account"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    // The role's account from its ARN; only the account without one keeps
    // a placeholder.
    assert_eq!(
        seen,
        [
            (AUDIT.to_owned(), "error".to_owned()),
            ("unresolved:own".to_owned(), "error".to_owned()),
        ]
    );
    assert!(json["findings"].as_array().unwrap().is_empty());
    assert_no_debug_output(&out.stderr);
    assert!(!out.stderr.contains(EXTERNAL_ID), "{}", out.stderr);
}
