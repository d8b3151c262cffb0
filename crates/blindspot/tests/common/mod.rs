//! Shared helpers of the binary's black-box tests: start the simulated AWS in
//! process, run the real `blindspot` binary against it over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use blindspot_sim::{Scenario, SimHandle, SimServer};
use std::path::Path;
use std::process::{Command, Output};

/// The environment every test run gets: the simulated endpoint, made-up
/// credentials, and no instance metadata probing.
pub fn command(endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blindspot"));
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTBLINDSPOT")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("BLINDSPOT_LOG", "warn")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    cmd
}

/// Starts the simulator with a scenario given as TOML text.
pub async fn sim(toml: &str) -> SimHandle {
    let scenario = Scenario::from_toml_str(toml).expect("scenario parses");
    SimServer::start(scenario).await.expect("simulator starts")
}

/// A scenario file from tests/scenarios.
pub fn scenario_file(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(name);
    Scenario::from_path(&path).expect("scenario parses")
}

/// Starts the simulator with a scenario file from tests/scenarios.
pub async fn sim_file(name: &str) -> SimHandle {
    SimServer::start(scenario_file(name))
        .await
        .expect("simulator starts")
}

/// The result of one `blindspot` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the binary without blocking the runtime that serves the simulator.
pub async fn run(mut cmd: Command) -> Run {
    let output: Output = tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// An endpoint nothing listens on, for runs that must fail before any AWS call.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// `blindspot check --rule <rule> --regions <regions> --format <format>`
/// against `endpoint`, ready to run.
pub fn check_command(endpoint: &str, rule: &str, regions: &str, format: &str) -> Command {
    let mut cmd = command(endpoint);
    cmd.args([
        "check",
        "--rule",
        rule,
        "--regions",
        regions,
        "--format",
        format,
    ]);
    cmd
}

/// Runs `blindspot check --rule <rule> --regions <regions> --format json`
/// against the simulator.
pub async fn check_json(sim: &SimHandle, rule: &str, regions: &str) -> Run {
    run(check_command(&sim.endpoint(), rule, regions, "json")).await
}

/// Runs `blindspot <subcommand> --config <config>` against [`NOWHERE`].
pub async fn run_with_config(subcommand: &str, config: &Path) -> Run {
    let mut cmd = command(NOWHERE);
    cmd.args([subcommand, "--config"]).arg(config);
    run(cmd).await
}

/// Inspector classic in two regions, one completed run each with one
/// exclusion: "Agent not found" on `i-east` in us-east-1, "Unsupported OS
/// version" on `i-west` in eu-west-1.
pub const TWO_CLASSIC_REGIONS: &str = r#"
[[region]]
region = "us-east-1"
[[region.assessment_run]]
arn = "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-a/run/0-new"
completed_at = "-1d"
[[region.assessment_run.exclusion]]
title = "Agent not found"
description = "d"
recommendation = "r"
instance = "i-east"

[[region]]
region = "eu-west-1"
[[region.assessment_run]]
arn = "arn:aws:inspector:eu-west-1:123456789012:target/0-t/template/0-a/run/0-new"
completed_at = "-1d"
[[region.assessment_run.exclusion]]
title = "Unsupported OS version"
description = "d"
recommendation = "r"
instance = "i-west"
"#;

/// Writes a config file into a temp dir and returns both.
pub fn config_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blindspot.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// `blindspot run`, started from a prepared command and killed when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    /// `http://127.0.0.1:<port>`, from the first line the daemon prints.
    pub base: String,
}

impl Daemon {
    /// `blindspot run --config <config>` with the test environment of
    /// [`command`]; stderr is dropped.
    pub fn run(endpoint: &str, config: &Path) -> Daemon {
        let mut cmd = command(endpoint);
        cmd.stderr(std::process::Stdio::null());
        Daemon::spawn(cmd, config)
    }

    /// Appends `run --config <config>` to `cmd` (whose environment and
    /// stderr the caller chose), starts it and waits for the line that gives
    /// the server's address.
    pub fn spawn(mut cmd: Command, config: &Path) -> Daemon {
        use std::io::BufRead as _;
        cmd.args(["run", "--config"])
            .arg(config)
            .stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("blindspot listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Daemon { child, base }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it yields a value, for at most a minute.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls `check` until it is true, for at most a minute.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_for(what, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await
}

/// GET `url`: the status and the body, as JSON where it parses, else as a
/// JSON string.
pub async fn get(url: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The findings the daemon at `base` lists for `query`
/// (`GET /api/v1/findings?<query>`, which must answer 200).
pub async fn findings(base: &str, query: &str) -> Vec<serde_json::Value> {
    let (status, body) = get(&format!("{base}/api/v1/findings?{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["findings"].as_array().unwrap().clone()
}

/// The `[aws]` table of a daemon config for the simulator at `endpoint`:
/// `regions` (a TOML array), the given timeouts and one attempt per call.
pub fn aws_config(
    endpoint: &str,
    regions: &str,
    operation_timeout: &str,
    attempt_timeout: &str,
) -> String {
    format!(
        r#"
[aws]
regions = {regions}
endpoint_url = "{endpoint}"
operation_timeout = "{operation_timeout}"
attempt_timeout = "{attempt_timeout}"
max_attempts = 1
"#
    )
}

/// The rest of a daemon config after its `aws` tables: a free port (with
/// `server_extra`, whole lines, added to `[server]`), the store at `db`, no
/// jitter, and only `inspector-exclusions`, every second.
pub fn exclusions_daemon_config(server_extra: &str, db: &Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
{server_extra}
[store]
path = "{db}"

[scheduler]
jitter = "0s"
shutdown_grace = "2s"

[rules.inspector-exclusions]
interval = "1s"

[rules.inspector2-associations]
enabled = false

[rules.inspector2-coverage]
enabled = false
"#,
        db = db.display()
    )
}

/// One finding of the daemon at `base` with its history
/// (`GET /api/v1/findings/<id>`, which must answer 200).
pub async fn finding(base: &str, id: &str) -> serde_json::Value {
    let (status, detail) = get(&format!("{base}/api/v1/findings/{id}")).await;
    assert_eq!(status, 200, "GET finding {id}: {detail}");
    detail
}

/// The kinds of the events in a finding's history, oldest first.
pub fn history_kinds(detail: &serde_json::Value) -> Vec<&str> {
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}
