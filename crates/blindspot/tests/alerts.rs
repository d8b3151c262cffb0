//! The Prometheus alert rules in `deploy/` are code: `promtool check rules`
//! lints them and `promtool test rules` runs their unit tests
//! (`deploy/blindspot-alerts.test.yml`), which state when each alert fires
//! (a failing scope, a scope that never succeeded, an unreadable store, the
//! daemon down or absent) and that it keeps firing while the failure lasts.
//!
//! `.ci/run` installs promtool; without it these cannot run, which fails under
//! CI and is only reported on a developer's machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Runs promtool with `args` in `deploy/`; `None` when promtool is absent
/// outside CI.
fn promtool(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("promtool")
        .args(args)
        .current_dir(deploy_dir())
        .output()
    {
        Ok(out) => Some(out),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required in CI: {err}"
            );
            eprintln!(
                "promtool not found ({err}); skipping `promtool {}`",
                args.join(" ")
            );
            None
        }
    }
}

fn assert_success(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_lint_clean() {
    if let Some(out) = promtool(&["check", "rules", "blindspot-alerts.yml"]) {
        assert_success(&out, "promtool check rules");
    }
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    if let Some(out) = promtool(&["test", "rules", "blindspot-alerts.test.yml"]) {
        assert_success(&out, "promtool test rules");
    }
}

/// Every alert in the rules file has at least one unit test that expects it
/// to fire, so a new alert cannot land untested.
#[test]
fn every_alert_is_tested_firing() {
    let rules = std::fs::read_to_string(deploy_dir().join("blindspot-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(deploy_dir().join("blindspot-alerts.test.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    // A test block names the alert, then lists expected alerts; an empty
    // `exp_alerts: []` only proves silence.
    let blocks: Vec<&str> = tests.split("alertname: ").skip(1).collect();
    for alert in alerts {
        let fires = blocks.iter().any(|b| {
            b.starts_with(alert)
                && b[alert.len()..].starts_with('\n')
                && !b.lines().nth(1).unwrap_or("").contains("exp_alerts: []")
        });
        assert!(fires, "no unit test expects alert {alert} to fire");
    }
}
