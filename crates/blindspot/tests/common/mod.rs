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

/// Starts the simulator with a scenario file from tests/scenarios.
pub async fn sim_file(name: &str) -> SimHandle {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/scenarios")
        .join(name);
    let scenario = Scenario::from_path(&path).expect("scenario parses");
    SimServer::start(scenario).await.expect("simulator starts")
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
