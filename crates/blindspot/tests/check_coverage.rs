//! `blindspot check` end to end for `inspector2-coverage` (with
//! `inspector2-associations` for the root-cause link): the real binary and SDK
//! against the simulated AWS. Expectations are derived from the scenario data
//! itself, not written down twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::{AccessDenied, Faults, Scenario};
use common::{command, run, scenario_file};
use serde_json::Value;
use std::collections::BTreeSet;

/// Reasons the rule counts but does not report (deliberate states).
const BENIGN: [&str; 4] = [
    "EC2_INSTANCE_STOPPED",
    "RESOURCE_TERMINATED",
    "PENDING_DISABLE",
    "EXCLUDED_BY_TAG",
];

/// Reasons that are normal for a while: reported from the first sighting at
/// `info`, within their grace, whatever the scan status they are listed with
/// (the simulator lists PENDING_INITIAL_SCAN and SCAN_IN_PROGRESS as ACTIVE).
const TRANSIENT: [&str; 3] = [
    "PENDING_INITIAL_SCAN",
    "SCAN_IN_PROGRESS",
    "PENDING_REVIVAL_SCAN",
];

/// Both Inspector2 rules, so coverage findings can name their root cause.
const BOTH_RULES_IN_US_EAST_1: [&str; 6] = [
    "--rule",
    "inspector2-associations",
    "--rule",
    "inspector2-coverage",
    "--regions",
    "us-east-1",
];

async fn check(scenario: Scenario, args: &[&str]) -> (i32, Value, String) {
    let sim = blindspot_sim::SimServer::start(scenario).await.unwrap();
    let mut cmd = command(&sim.endpoint());
    cmd.arg("check").args(args).args(["--format", "json"]);
    let out = run(cmd).await;
    let json = out.json();
    (out.code, json, out.stderr)
}

fn of_rule<'a>(json: &'a Value, rule: &str) -> Vec<&'a Value> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_exactly_the_uncovered_resources() {
    let data = scenario_file("coverage-all-reasons.toml");
    let region = data
        .regions
        .iter()
        .find(|r| r.region == "us-east-1")
        .unwrap();
    let expected: BTreeSet<(String, String)> = region
        .coverage
        .iter()
        .filter_map(|c| {
            let reason = c.reason.clone()?;
            let reported = if TRANSIENT.contains(&reason.as_str()) {
                true
            } else {
                c.status_code.as_deref() == Some("INACTIVE") && !BENIGN.contains(&reason.as_str())
            };
            reported.then(|| (c.resource_id.clone(), reason))
        })
        .collect();
    assert!(expected.len() >= 30, "the scenario holds every reason");
    for reason in TRANSIENT {
        assert!(
            expected.iter().any(|(_, r)| r == reason),
            "the scenario holds {reason}"
        );
    }

    let (code, json, stderr) = check(data, &BOTH_RULES_IN_US_EAST_1).await;
    assert_eq!(code, 1, "{stderr}");
    let coverage = of_rule(&json, "inspector2-coverage");
    let reported: BTreeSet<(String, String)> = coverage
        .iter()
        .filter(|f| f["code"] != "SCAN_STALE")
        .map(|f| {
            (
                f["resource"].as_str().unwrap().to_owned(),
                f["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reported, expected);
    // Nothing else: the resource findings and the one SCAN_STALE.
    assert_eq!(coverage.len(), expected.len() + 1);
    assert!(coverage
        .iter()
        .any(|f| f["code"] == "SCAN_STALE" && f["resource"] == "i-0c0ffee00000beef"));

    // A single check is a first sighting: every transient state is within its
    // grace, so `info`, with the first_seen its next evaluation will read back.
    for f in coverage
        .iter()
        .filter(|f| TRANSIENT.contains(&f["code"].as_str().unwrap()))
    {
        assert_eq!(f["severity"], "info", "{f}");
        assert!(f["details"]["first_seen"].is_string(), "{f}");
        assert!(
            f["title"]
                .as_str()
                .unwrap()
                .contains("within the 1day grace"),
            "{f}"
        );
    }

    let unmanaged = coverage
        .iter()
        .find(|f| f["code"] == "UNMANAGED_EC2_INSTANCE")
        .unwrap();
    assert_eq!(unmanaged["severity"], "high");
    assert_eq!(unmanaged["details"]["resource_type"], "AWS_EC2_INSTANCE");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_inventory_association_is_named_as_the_root_cause() {
    let (_, json, stderr) = check(
        scenario_file("coverage-all-reasons.toml"),
        &BOTH_RULES_IN_US_EAST_1,
    )
    .await;
    let associations = of_rule(&json, "inspector2-associations");
    let cause_ids: BTreeSet<&str> = associations
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(
        !cause_ids.is_empty(),
        "the scenario's inventory association fails; {stderr}"
    );
    let coverage = of_rule(&json, "inspector2-coverage");
    for reason in ["NO_INVENTORY", "STALE_INVENTORY"] {
        let f = coverage.iter().find(|f| f["code"] == reason).unwrap();
        let cause = f["details"]["root_cause"]
            .as_str()
            .unwrap_or_else(|| panic!("{reason} has no root cause: {f}"));
        assert!(
            cause_ids.contains(cause),
            "{cause} is an association finding"
        );
        assert!(f["recommendation"].as_str().unwrap().contains(cause), "{f}");
    }

    // Without the association rule's findings, there is no link to make.
    let (_, json, _) = check(
        scenario_file("coverage-all-reasons.toml"),
        &["--rule", "inspector2-coverage", "--regions", "us-east-1"],
    )
    .await;
    for f in of_rule(&json, "inspector2-coverage") {
        assert!(f["details"].get("root_cause").is_none(), "{f}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_call_is_an_error_never_a_pass() {
    let mut data = scenario_file("coverage-all-reasons.toml");
    data.faults = Faults {
        access_denied: vec![AccessDenied {
            service: Some("inspector2".into()),
            operation: Some("BatchGetAccountStatus".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (code, json, stderr) = check(
        data,
        &["--rule", "inspector2-coverage", "--regions", "us-east-1"],
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    let evaluation = &json["evaluations"][0];
    assert_eq!(evaluation["status"], "error");
    assert!(
        evaluation["error"]
            .as_str()
            .unwrap()
            .contains("access_denied"),
        "{evaluation}"
    );
    assert!(of_rule(&json, "inspector2-coverage").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_regions_and_scan_types_are_reported() {
    let (code, json, stderr) = check(
        scenario_file("coverage-disabled.toml"),
        &[
            "--rule",
            "inspector2-coverage",
            "--regions",
            "us-east-1,eu-west-1,ap-southeast-2",
        ],
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    let codes = |region: &str| -> BTreeSet<String> {
        of_rule(&json, "inspector2-coverage")
            .iter()
            .filter(|f| f["region"] == region)
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(codes("us-east-1").is_empty());
    assert_eq!(
        codes("eu-west-1"),
        BTreeSet::from(["INSPECTOR_DISABLED".to_owned()])
    );
    assert!(codes("ap-southeast-2").contains("EC2_SCANNING_DISABLED"));
    let ec2 = of_rule(&json, "inspector2-coverage")
        .into_iter()
        .find(|f| f["code"] == "EC2_SCANNING_DISABLED")
        .unwrap();
    assert_eq!(ec2["severity"], "high");
}

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_mode_lowers_what_agentless_scanning_covers() {
    let (_, json, stderr) = check(
        scenario_file("coverage-hybrid.toml"),
        &[
            "--rule",
            "inspector2-coverage",
            "--regions",
            "us-east-1,eu-west-1",
        ],
    )
    .await;
    let find = |region: &str, code: &str| {
        of_rule(&json, "inspector2-coverage")
            .into_iter()
            .find(|f| f["region"] == region && f["code"] == code)
            .unwrap_or_else(|| panic!("{code} in {region}; {stderr}"))
            .clone()
    };
    let lowered = find("us-east-1", "UNMANAGED_EC2_INSTANCE");
    assert_eq!(lowered["severity"], "low");
    assert_eq!(lowered["details"]["ec2_scan_mode"], "EC2_HYBRID");
    assert_eq!(
        find("eu-west-1", "UNMANAGED_EC2_INSTANCE")["severity"],
        "high"
    );
}
