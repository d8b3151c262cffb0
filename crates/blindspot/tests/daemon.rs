//! `blindspot run` as an operator runs it: the real binary on `127.0.0.1:0`
//! against the simulated AWS, observed only through HTTP and the store file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::{AccessDenied, Faults, Scenario};
use blindspot_store::Store as _;
use common::{
    aws_config, command, exclusions_daemon_config, finding, findings, get, history_kinds,
    wait_until, Daemon,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-0123456789";

fn scenario(east: bool, west: bool) -> Scenario {
    let mut toml = String::new();
    for (region, instance, present) in
        [("us-east-1", "i-east", east), ("eu-west-1", "i-west", west)]
    {
        toml.push_str(&format!(
            "[[region]]\nregion = \"{region}\"\n[[region.assessment_run]]\n\
             arn = \"arn:aws:inspector:{region}:123456789012:target/0-t/template/0-a/run/0-r\"\n\
             completed_at = \"-1d\"\n"
        ));
        if present {
            toml.push_str(&format!(
                "[[region.assessment_run.exclusion]]\ntitle = \"Agent not found\"\n\
                 description = \"d\"\nrecommendation = \"r\"\ninstance = \"{instance}\"\n"
            ));
        }
    }
    Scenario::from_toml_str(&toml).unwrap()
}

fn config(endpoint: &str, db: &Path) -> String {
    aws_config(endpoint, r#"["us-east-1", "eu-west-1"]"#, "10s", "5s")
        + &exclusions_daemon_config("token_env = \"BLINDSPOT_TEST_TOKEN\"\n", db)
}

/// `blindspot run` with the API token the config's `token_env` names.
fn start(endpoint: &str, config: &Path) -> Daemon {
    let mut cmd = command(endpoint);
    cmd.env("BLINDSPOT_TEST_TOKEN", TOKEN).stderr(Stdio::null());
    Daemon::spawn(cmd, config)
}

fn resources(findings: &[Value]) -> Vec<String> {
    let mut r: Vec<String> = findings
        .iter()
        .map(|f| f["resource"].as_str().unwrap().to_owned())
        .collect();
    r.sort();
    r
}

/// The daemon's `/metrics` page.
async fn metrics_text(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Parses the text exposition into (name{labels}) → value, checking every
/// sample line is well formed.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        out.insert(series.to_owned(), value);
    }
    out
}

/// `promtool check metrics`, the Prometheus project's own linter. `.ci/run`
/// installs it; without it the check cannot run, which fails under CI and is
/// only reported on a developer's machine.
fn promtool_check(text: &str) {
    use std::io::Write as _;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required in CI: {err}"
            );
            eprintln!("promtool not found ({err}); skipping `promtool check metrics`");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn metric(metrics: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .iter()
        .find(|(series, _)| {
            series.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_tracks_findings_through_fixes_failures_and_kill_9() {
    let sim = blindspot_sim::SimServer::start(scenario(true, true))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state").join("blindspot.db");
    let (_cfg_dir, config_path) = common::config_file(&config(&sim.endpoint(), &db));

    let mut daemon = start(&sim.endpoint(), &config_path);
    let base = daemon.base.clone();

    // Liveness at once; readiness once every enabled rule has evaluated.
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    wait_until("readiness", || async {
        get(&format!("{base}/readyz")).await.0 == 200
    })
    .await;
    assert_eq!(
        resources(&findings(&base, "status=open").await),
        ["i-east", "i-west"]
    );

    // Metrics: parseable, with the open findings per region and AWS calls.
    let text = metrics_text(&base).await;
    let metrics = parse_metrics(&text);
    for region in ["us-east-1", "eu-west-1"] {
        let labels = [
            ("rule", "inspector-exclusions"),
            ("severity", "medium"),
            ("region", region),
        ];
        assert_eq!(
            metric(&metrics, "blindspot_findings_by_region", &labels),
            Some(1.0),
            "{text}"
        );
    }
    assert!(
        metric(
            &metrics,
            "blindspot_aws_requests_total",
            &[
                ("service", "inspector"),
                ("operation", "ListAssessmentRuns"),
                ("outcome", "ok")
            ]
        )
        .is_some_and(|v| v >= 2.0),
        "{text}"
    );
    // The build: the version, and the commit and date `--version` prints.
    let mut cmd = command(&sim.endpoint());
    cmd.arg("--version");
    let version = common::run(cmd).await.stdout;
    let (commit, date) = version
        .trim()
        .strip_prefix(concat!("blindspot ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once(' '))
        .unwrap_or_else(|| panic!("--version printed {version:?}"));
    assert_eq!(
        metric(
            &metrics,
            "blindspot_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("commit", commit),
                ("build_date", date)
            ]
        ),
        Some(1.0),
        "{text}"
    );
    promtool_check(&text);

    // Run now: the token is required, and the rule must exist.
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/rules/inspector-exclusions/run");
    assert_eq!(
        client.post(&url).send().await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        client
            .post(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        202
    );
    let missing = format!("{base}/api/v1/rules/no-such-rule/run");
    assert_eq!(
        client
            .post(&missing)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // Fix the east problem: its finding resolves.
    sim.set_scenario(scenario(false, true));
    wait_until("the fixed finding to resolve", || async {
        resources(&findings(&base, "status=resolved").await) == ["i-east"]
    })
    .await;

    // The resolved finding keeps its history.
    let east = findings(&base, "status=resolved").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = finding(&base, &east).await;
    assert_eq!(history_kinds(&detail), ["opened", "resolved"], "{detail}");

    // Break the west region, with its problem also gone from the data: a
    // denied evaluation must not resolve what it could not see.
    sim.set_scenario(scenario(false, false));
    sim.set_faults(Faults {
        access_denied: vec![AccessDenied {
            region: Some("eu-west-1".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    wait_until("an error evaluation in eu-west-1", || async {
        let (_, body) = get(&format!(
            "{base}/api/v1/evaluations?rule=inspector-exclusions&limit=20"
        ))
        .await;
        body["evaluations"].as_array().is_some_and(|list| {
            list.iter()
                .any(|e| e["region"] == "eu-west-1" && e["status"] == "error")
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(resources(&findings(&base, "status=open").await), ["i-west"]);

    // kill -9 while evaluations are in flight (the simulator is slow now).
    sim.set_faults(Faults {
        latency_ms: 300,
        access_denied: vec![AccessDenied {
            region: Some("eu-west-1".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        daemon.kill9();
        daemon = start(&sim.endpoint(), &config_path);
    }
    let base = daemon.base.clone();
    wait_until("readiness after restart", || async {
        get(&format!("{base}/readyz")).await.0 == 200
    })
    .await;
    let open = findings(&base, "status=open").await;
    let resolved = findings(&base, "status=resolved").await;
    assert_eq!(resources(&open), ["i-west"], "no lost findings");
    assert_eq!(resources(&resolved), ["i-east"], "history kept");
    let all = findings(&base, "limit=1000").await;
    let mut ids: Vec<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "no duplicates");

    // Graceful stop, then the store file itself is intact.
    drop(daemon);
    let store = blindspot_store::SqliteStore::open(&db).unwrap();
    assert_eq!(store.integrity_check().unwrap(), ["ok"]);
    assert!(store.check_writable().is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_stops_the_daemon_with_exit_4() {
    let (_dir, path) = common::config_file("[server]\nlisten = \"not an address\"\n");
    let out = common::run_with_config("run", &path).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("listen"),
        "{}",
        out.stderr
    );
}

/// A region removed from the config: its open findings are withdrawn at the
/// next start (not resolved: nothing was fixed), kept in history with the
/// reason, and no longer exported as open; the remaining region's stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_of_a_removed_region_are_withdrawn_not_resolved() {
    let sim = blindspot_sim::SimServer::start(scenario(true, true))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blindspot.db");
    let both = config(&sim.endpoint(), &db);
    let (_both_dir, both_path) = common::config_file(&both);
    let daemon = start(&sim.endpoint(), &both_path);
    let base = daemon.base.clone();
    wait_until("both findings", || async {
        resources(&findings(&base, "status=open").await) == ["i-east", "i-west"]
    })
    .await;
    drop(daemon);

    let east_only = both.replace(
        r#"regions = ["us-east-1", "eu-west-1"]"#,
        r#"regions = ["us-east-1"]"#,
    );
    assert_ne!(east_only, both);
    let (_east_dir, east_path) = common::config_file(&east_only);
    let daemon = start(&sim.endpoint(), &east_path);
    let base = daemon.base.clone();
    wait_until("the removed region's finding to be withdrawn", || async {
        resources(&findings(&base, "status=withdrawn").await) == ["i-west"]
    })
    .await;
    assert_eq!(resources(&findings(&base, "status=open").await), ["i-east"]);
    assert!(findings(&base, "status=resolved").await.is_empty());

    let withdrawn = &findings(&base, "status=withdrawn").await[0];
    let reason = withdrawn["withdrawn_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no longer configured"), "{withdrawn}");
    let id = withdrawn["id"].as_str().unwrap();
    let detail = finding(&base, id).await;
    assert_eq!(history_kinds(&detail), ["opened", "withdrawn"], "{detail}");

    let text = metrics_text(&base).await;
    let metrics = parse_metrics(&text);
    let west = [
        ("rule", "inspector-exclusions"),
        ("severity", "medium"),
        ("region", "eu-west-1"),
    ];
    assert_ne!(
        metric(&metrics, "blindspot_findings_by_region", &west),
        Some(1.0)
    );
}

/// A scope that stays `unavailable` (Inspector Classic retired) longer than
/// `store.withdraw_unavailable_after` has its open findings withdrawn with
/// the reason; until then they stay open, since `unavailable` resolves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_of_a_long_unavailable_scope_are_withdrawn() {
    let sim = blindspot_sim::SimServer::start(scenario(true, false))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blindspot.db");
    let text = config(&sim.endpoint(), &db)
        .replace(
            r#"regions = ["us-east-1", "eu-west-1"]"#,
            r#"regions = ["us-east-1"]"#,
        )
        .replace(
            "[store]\n",
            "[store]\nwithdraw_unavailable_after = \"3s\"\n",
        );
    let (_dir, path) = common::config_file(&text);
    let daemon = start(&sim.endpoint(), &path);
    let base = daemon.base.clone();
    wait_until("the finding", || async {
        resources(&findings(&base, "status=open").await) == ["i-east"]
    })
    .await;

    sim.set_faults(Faults {
        classic_retired: vec!["us-east-1".into()],
        ..Faults::default()
    });
    let retired = Instant::now();
    wait_until("the finding to be withdrawn", || async {
        resources(&findings(&base, "status=withdrawn").await) == ["i-east"]
    })
    .await;
    // Not before the limit: an unavailable evaluation alone withdraws nothing.
    assert!(
        retired.elapsed() >= Duration::from_secs(3),
        "{:?}",
        retired.elapsed()
    );
    let withdrawn = &findings(&base, "status=withdrawn").await[0];
    let reason = withdrawn["withdrawn_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("unavailable"), "{withdrawn}");
    assert!(findings(&base, "status=open").await.is_empty());
}
