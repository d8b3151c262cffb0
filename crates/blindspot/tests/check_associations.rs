//! `blindspot check` end to end for `inspector2-associations`: the real binary
//! and SDK against the simulated AWS, one scenario file per problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_json, sim, sim_file};
use serde_json::Value;
use std::collections::BTreeSet;

async fn check(file: &str, regions: &str) -> (i32, Value, String) {
    let sim = sim_file(file).await;
    let out = check_json(&sim, "inspector2-associations", regions).await;
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
async fn a_missing_windows_association_is_info_where_the_region_has_no_windows_nodes() {
    let (_, json, stderr) = check("associations-missing.toml", "us-east-1,eu-west-1").await;
    let weighed = |region: &str| {
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["region"] == region && f["resource"] == "InvokeInspectorSsmPlugin-do-not-delete"
            })
            .unwrap_or_else(|| panic!("no finding in {region}; {stderr}"))
            .clone()
    };
    // us-east-1 has two Windows nodes: the configured severity.
    let with_windows = weighed("us-east-1");
    assert_eq!(with_windows["severity"], "high", "{with_windows}");
    assert_eq!(with_windows["details"]["managed_nodes"], 2);
    // eu-west-1 has Linux nodes only: nothing loses scanning yet.
    let without_windows = weighed("eu-west-1");
    assert_eq!(without_windows["severity"], "info", "{without_windows}");
    assert_eq!(without_windows["details"]["managed_nodes"], 0);
    assert!(
        without_windows["description"]
            .as_str()
            .unwrap()
            .contains("no Windows instances managed by SSM"),
        "{without_windows}"
    );
    // The inventory association serves every node: never weighed.
    let inventory = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"] == "InspectorInventoryCollection-do-not-delete")
        .unwrap();
    assert_eq!(inventory["severity"], "high");
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_nodes_that_cannot_be_listed_never_read_as_none() {
    let sim = sim(r#"
[faults]
access_denied = [{ operation = "DescribeInstanceInformation" }]

[[region]]
region = "eu-west-1"

[[region.association]]
association_name = "InspectorInventoryCollection-do-not-delete"
name = "AWS-GatherSoftwareInventory"
schedule_expression = "rate(30 minutes)"
[[region.association.execution]]
created_time = "-10m"
status = "Success"
"#)
    .await;
    let out = check_json(&sim, "inspector2-associations", "eu-west-1").await;
    let json = out.json();
    // The associations were read: the evaluation stands.
    assert_eq!(json["evaluations"][0]["status"], "ok", "{}", out.stderr);
    assert_eq!(
        json["evaluations"][0]["counts"]["managed_nodes_unlisted"],
        1
    );
    assert_eq!(
        problems(&json),
        set(&[
            (
                "InspectorDistributor-do-not-delete",
                "ASSOCIATION_MISSING",
                "high"
            ),
            (
                "InvokeInspectorSsmPlugin-do-not-delete",
                "ASSOCIATION_MISSING",
                "high"
            ),
        ])
    );
    for f in json["findings"].as_array().unwrap() {
        assert!(f["details"]["managed_nodes"].is_null(), "{f}");
        assert!(
            f["description"]
                .as_str()
                .unwrap()
                .contains("managed nodes could not be listed"),
            "{f}"
        );
    }
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
