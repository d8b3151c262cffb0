//! `inspector-exclusions` across runs of one template, end to end: the real
//! daemon against the simulated AWS, the new run added through the
//! simulator's admin surface, the findings observed through the HTTP API.
//!
//! An exclusion that names no instance is reported on its assessment
//! template, so the template's next run keeps the finding (same ID, same
//! `first_seen`) instead of resolving it and opening another.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{aws_config, exclusions_daemon_config, finding, history_kinds, wait_for, Daemon};
use serde_json::Value;
use std::path::Path;

const TEMPLATE: &str = "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-a";
const PACKAGE: &str = "arn:aws:inspector:us-east-1:316112463485:rulespackage/0-gEjTy7T7";

/// A run of the template with one exclusion scoped to a rules package only
/// and one scoped to an instance.
fn run_toml(id: &str, completed_at: &str) -> String {
    format!(
        r#"
[[region.assessment_run]]
arn = "{TEMPLATE}/run/{id}"
completed_at = "{completed_at}"

[[region.assessment_run.exclusion]]
id = "{id}-package"
title = "No potential instances found"
description = "The assessment target has no instances this rules package can assess."
recommendation = "Check the assessment target's tags."
scopes = [{{ key = "RULES_PACKAGE_ARN", value = "{PACKAGE}" }}]

[[region.assessment_run.exclusion]]
id = "{id}-agent"
title = "Agent not found"
description = "d"
recommendation = "r"
instance = "i-0abcd1234abcd1234"
"#
    )
}

fn scenario(runs: &[(&str, &str)]) -> String {
    let mut toml = String::from("name = \"fingerprint\"\n[[region]]\nregion = \"us-east-1\"\n");
    for (id, completed_at) in runs {
        toml.push_str(&run_toml(id, completed_at));
    }
    toml
}

fn config(endpoint: &str, db: &Path) -> String {
    aws_config(endpoint, r#"["us-east-1"]"#, "10s", "5s") + &exclusions_daemon_config("", db)
}

/// The findings with `status`, up to 1000.
async fn findings(base: &str, status: &str) -> Vec<Value> {
    common::findings(base, &format!("status={status}&limit=1000")).await
}

/// The open findings ordered by code, once there are two and both come from
/// `run` (what the rule reports does not depend on how it keys them).
async fn open_from_run(base: &str, run: &str) -> Option<Vec<Value>> {
    let mut open = findings(base, "open").await;
    open.sort_by_key(|f| f["code"].as_str().unwrap().to_owned());
    let from_run = open
        .iter()
        .all(|f| f["details"]["assessment_run_arn"] == run);
    (open.len() == 2 && from_run).then_some(open)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_run_of_the_template_keeps_the_finding_and_its_first_seen() {
    let first_run = format!("{TEMPLATE}/run/0-first");
    let second_run = format!("{TEMPLATE}/run/0-second");
    let sim = common::sim(&scenario(&[("0-first", "-2d")])).await;
    let dir = tempfile::tempdir().unwrap();
    let (_cfg_dir, config_path) =
        common::config_file(&config(&sim.endpoint(), &dir.path().join("blindspot.db")));
    let daemon = Daemon::run(&sim.endpoint(), &config_path);
    let base = daemon.base.clone();

    let before = wait_for("the first run's findings", || {
        open_from_run(&base, &first_run)
    })
    .await;

    // The template runs again: the simulator's admin surface replaces the
    // scenario with one holding both runs, the newer one current.
    let resp = reqwest::Client::new()
        .put(format!("{}/_sim/scenario", sim.endpoint()))
        .body(scenario(&[("0-first", "-2d"), ("0-second", "-1h")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );

    let after = wait_for("the second run's findings", || {
        open_from_run(&base, &second_run)
    })
    .await;

    for (before, after) in before.iter().zip(&after) {
        let code = &after["code"];
        assert_eq!(before["id"], after["id"], "{code}: same finding");
        assert_eq!(
            before["first_seen"], after["first_seen"],
            "{code}: first seen with the first run"
        );
        assert_eq!(after["reopen_count"], 0, "{code}");
        let id = after["id"].as_str().unwrap();
        let detail = finding(&base, id).await;
        assert_eq!(
            history_kinds(&detail),
            ["opened"],
            "{code}: never resolved: {detail}"
        );
    }
    let (agent, package) = (&after[0], &after[1]);
    assert_eq!(agent["code"], "AGENT_NOT_FOUND");
    assert_eq!(agent["resource"], "i-0abcd1234abcd1234");
    assert_eq!(package["code"], "NO_POTENTIAL_INSTANCES_FOUND");
    assert_eq!(package["resource"], TEMPLATE, "keyed on the template");
    assert_eq!(
        package["details"]["exclusion_arn"],
        format!("{second_run}/exclusion/0-second-package")
    );
    assert!(
        findings(&base, "resolved").await.is_empty(),
        "nothing resolved"
    );
}
