//! `blindspot check` end to end for `inspector2-associations`: the real binary
//! and SDK against the simulated AWS, one scenario file per problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{command, run, sim_file};
use serde_json::Value;
use std::collections::BTreeSet;

async fn check(file: &str, regions: &str) -> (i32, Value, String) {
    let sim = sim_file(file).await;
    let mut cmd = command(&sim.endpoint());
    cmd.args([
        "check",
        "--rule",
        "inspector2-associations",
        "--regions",
        regions,
        "--format",
        "json",
    ]);
    let out = run(cmd).await;
    let json = out.json();
    (out.code, json, out.stderr)
}

/// (resource, code, severity) of every finding.
fn problems(json: &Value) -> BTreeSet<(String, String, String)> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["resource"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_region_has_no_findings() {
    let (code, json, stderr) = check("associations-healthy.toml", "us-east-1").await;
    assert_eq!(code, 0, "{stderr}\n{json}");
    assert_eq!(json["evaluations"][0]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_12_hour_inventory_association_stands_in_and_is_too_slow() {
    let (code, json, stderr) = check("associations-replaced-12h.toml", "eu-west-1").await;
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        problems(&json),
        set(&[("CompanyInventory", "SCHEDULE_TOO_SLOW", "medium")])
    );
    let f = &json["findings"][0];
    assert_eq!(f["details"]["actual_interval_seconds"], 43200);
    assert_eq!(f["details"]["expected_interval_seconds"], 1800);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_inventory_association_starves_inspectors_own() {
    let (_, json, stderr) = check("associations-duplicate.toml", "ap-southeast-2").await;
    let codes: BTreeSet<String> = problems(&json).into_iter().map(|(_, c, _)| c).collect();
    assert_eq!(
        codes,
        BTreeSet::from([
            "DUPLICATE_INVENTORY_ASSOCIATION".to_owned(),
            "EXECUTION_STALE".to_owned()
        ]),
        "{stderr}"
    );
    let dup = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DUPLICATE_INVENTORY_ASSOCIATION")
        .unwrap();
    assert!(
        dup["description"]
            .as_str()
            .unwrap()
            .contains("InspectorInventoryCollection-do-not-delete"),
        "{dup}"
    );
    assert!(
        dup["remediation"]
            .as_str()
            .unwrap()
            .starts_with("aws ssm delete-association"),
        "{dup}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_invoke_plugin_association_is_reported() {
    let (_, json, stderr) = check("associations-failed-invoke.toml", "us-east-1").await;
    assert_eq!(
        problems(&json),
        set(&[(
            "InvokeInspectorSsmPlugin-do-not-delete",
            "EXECUTION_FAILED",
            "high"
        )]),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_associations_are_reported_per_region_but_never_the_optional_ones() {
    let (_, json, stderr) = check("associations-missing.toml", "us-east-1,eu-west-1").await;
    let missing: BTreeSet<(String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "ASSOCIATION_MISSING")
        .map(|f| {
            (
                f["region"].as_str().unwrap().to_owned(),
                f["resource"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("us-east-1", "InspectorInventoryCollection-do-not-delete"),
        ("us-east-1", "InspectorDistributor-do-not-delete"),
        ("us-east-1", "InvokeInspectorSsmPlugin-do-not-delete"),
        ("eu-west-1", "InvokeInspectorSsmPlugin-do-not-delete"),
    ]
    .iter()
    .map(|(r, n)| ((*r).to_owned(), (*n).to_owned()))
    .collect();
    assert_eq!(missing, expected, "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_other_problem_is_found_once() {
    let (_, json, stderr) = check("associations-misconfigured.toml", "us-east-2").await;
    let codes: BTreeSet<String> = problems(&json).into_iter().map(|(_, c, _)| c).collect();
    for code in [
        "TARGETS_NARROWED",
        "SCHEDULE_TOO_SLOW",
        "DOCUMENT_MISMATCH",
        "SCHEDULE_UNPARSEABLE",
        "EXECUTION_STALE",
    ] {
        assert!(
            codes.contains(code),
            "{code} missing from {codes:?}; {stderr}"
        );
    }
}
