//! The exit codes a CI pipeline relies on, through the real binary: the table
//! in `--help` and the README, a bad config file (4), findings (1) and a
//! failure of blindspot itself (5). Exit 0, 2 and 3 are covered next to the
//! rules' own tests (`check_exclusions.rs`, `check_associations.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_command, command, config_file, run, run_with_config, sim_file, NOWHERE};

/// The table as `--help` prints it: one `  <code>  <meaning>` line per code.
const CODES: [(u8, &str); 6] = [
    (0, "no findings"),
    (1, "findings"),
    (2, "usage error"),
    (3, "incomplete"),
    (4, "config error"),
    (5, "blindspot could not run"),
];

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_every_exit_code() {
    for args in [
        &["--help"][..],
        &["check", "--help"],
        &["check", "-h"],
        &["help", "check"],
    ] {
        let mut cmd = command(NOWHERE);
        cmd.args(args);
        let out = run(cmd).await;
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("Exit codes"),
            "{args:?}:\n{}",
            out.stdout
        );
        for (code, meaning) in CODES {
            let line = format!("  {code}  {meaning}");
            assert!(
                out.stdout.lines().any(|l| l.starts_with(&line)),
                "{args:?} lacks `{line}`:\n{}",
                out.stdout
            );
        }
    }
    // `demo --once` exits like `check`, and says so.
    let mut cmd = command(NOWHERE);
    cmd.args(["demo", "--help"]);
    assert!(run(cmd).await.stdout.contains("exits like `check`"));
}

#[test]
fn the_readme_lists_every_exit_code() {
    let readme = include_str!("../../../README.md");
    let use_section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Use"))
        .expect("README has a Use section");
    for (code, meaning) in CODES {
        let row = format!("| {code} | {meaning}");
        assert!(
            use_section.lines().any(|l| l.starts_with(&row)),
            "the README's Use section lacks `{row}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_file_exits_4_and_names_the_line() {
    // A value of the wrong type on line 3.
    let (_dir, path) = config_file("[aws]\nregions = [\"us-east-1\"]\nconcurrency = \"four\"\n");
    for subcommand in ["check", "rules", "run"] {
        let out = run_with_config(subcommand, &path).await;
        assert_eq!(out.code, 4, "{subcommand}: {}", out.stderr);
        assert!(
            out.stderr.contains("line 3") && out.stderr.contains("concurrency"),
            "{subcommand}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{subcommand}: {}", out.stdout);
    }

    // A check the AWS adapter makes, reported like every other config error.
    let (_dir, path) =
        config_file("[aws]\nregions = [\"us-east-1\"]\nendpoint_url = \"sim:4566\"\n");
    let out = run_with_config("check", &path).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("line 3") && out.stderr.contains("aws.endpoint_url"),
        "{}",
        out.stderr
    );

    // A file that is not there.
    let mut cmd = command(NOWHERE);
    cmd.args(["check", "--config", "/nonexistent/blindspot.toml"]);
    let out = run(cmd).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot read config file /nonexistent/blindspot.toml"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_the_config_names_but_cannot_be_read_exits_4() {
    let (_dir, path) = config_file(
        "[server]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"BLINDSPOT_TEST_UNSET_TOKEN\"\n",
    );
    let mut cmd = command(NOWHERE);
    cmd.env_remove("BLINDSPOT_TEST_UNSET_TOKEN")
        .args(["run", "--config"])
        .arg(&path);
    let out = run(cmd).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("server.token_env")
            && out.stderr.contains("BLINDSPOT_TEST_UNSET_TOKEN"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_demo_scenario_exits_4() {
    let (_dir, path) = config_file("[[region]]\nregion = \"us-east-1\"\nbogus = 1\n");
    let mut cmd = command(NOWHERE);
    cmd.args(["demo", "--once", "--scenario"]).arg(&path);
    let out = run(cmd).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("bogus"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_exit_1_in_both_formats() {
    let sim = sim_file("seed.toml").await;
    for format in ["table", "json"] {
        let cmd = check_command(&sim.endpoint(), "inspector-exclusions", "us-east-1", format);
        let out = run(cmd).await;
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        assert!(out.stdout.contains("Agent not found"), "{}", out.stdout);
    }
}

/// `/dev/full` refuses every write: the report cannot be written, which is
/// blindspot failing, not a finding and not a panic.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn output_that_cannot_be_written_exits_5() {
    let sim = sim_file("seed.toml").await;
    for format in ["table", "json"] {
        let mut cmd = check_command(&sim.endpoint(), "inspector-exclusions", "us-east-1", format);
        cmd.stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        );
        let out = run(cmd).await;
        assert_eq!(out.code, 5, "{format}: {}", out.stderr);
        assert!(
            out.stderr.contains("cannot write the report"),
            "{format}: {}",
            out.stderr
        );
    }
}

/// A region whose only problem is a resource still within its first-scan
/// grace has an `info` finding: listed, but not a failed pipeline, unless
/// `--fail-on info` asks for it; `--fail-on` takes severity names only.
#[tokio::test(flavor = "multi_thread")]
async fn info_findings_are_listed_but_fail_only_when_asked() {
    let sim = common::sim(
        "default_account = \"123456789012\"\n\
         [[region]]\nregion = \"us-east-1\"\n\
         [region.inspector2]\nstatus = \"ENABLED\"\nlambda_code = \"ENABLED\"\n\
         [[region.coverage]]\nresource_id = \"i-0a1b2c3d4e5f60718\"\nreason = \"PENDING_INITIAL_SCAN\"\n",
    )
    .await;
    let check = |extra: &'static [&'static str]| {
        let mut cmd = command(&sim.endpoint());
        cmd.args([
            "check",
            "--regions",
            "us-east-1",
            "--rule",
            "inspector2-coverage",
        ])
        .args(["--format", "json"])
        .args(extra);
        run(cmd)
    };
    let out = check(&[]).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let findings: Vec<serde_json::Value> = out.json()["findings"].as_array().unwrap().clone();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["severity"], "info");
    assert_eq!(findings[0]["code"], "PENDING_INITIAL_SCAN");

    assert_eq!(check(&["--fail-on", "info"]).await.code, 1);
    let out = check(&["--fail-on", "severe"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("severe"), "{}", out.stderr);
}
