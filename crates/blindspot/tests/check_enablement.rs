//! `blindspot check` end to end for the enablement half of
//! `inspector2-coverage`: a disabled scan type weighed by what the region
//! holds, a denied presence call that must never read as "none found", and
//! EC2 deep inspection. The real binary and SDK against the simulated AWS
//! serving `tests/scenarios/enablement.toml`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{check_json, sim_file};
use serde_json::Value;

const REGIONS: &str = "us-east-1,eu-west-1,ap-southeast-2";

/// The run's findings and evaluations; every evaluation must be `ok`, since
/// a failed presence call does not fail the enablement it weighs.
async fn check() -> (i32, Vec<Value>, Vec<Value>) {
    let sim = sim_file("enablement.toml").await;
    let out = check_json(&sim, "inspector2-coverage", REGIONS).await;
    let json = out.json();
    let findings = json["findings"].as_array().unwrap().clone();
    let evaluations = json["evaluations"].as_array().unwrap().clone();
    (out.code, findings, evaluations)
}

fn one<'a>(findings: &'a [Value], region: &str, code: &str) -> &'a Value {
    let matching: Vec<&Value> = findings
        .iter()
        .filter(|f| f["region"] == region && f["code"] == code)
        .collect();
    assert_eq!(matching.len(), 1, "{region} {code}: {findings:#?}");
    matching[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn no_lambda_functions_make_a_disabled_lambda_scan_an_info_finding() {
    let (_, findings, _) = check().await;
    for code in ["LAMBDA_SCANNING_DISABLED", "LAMBDA_CODE_SCANNING_DISABLED"] {
        let f = one(&findings, "us-east-1", code);
        assert_eq!(f["severity"], "info", "{f:#}");
        assert!(
            f["title"]
                .as_str()
                .unwrap()
                .contains("no Lambda functions found"),
            "{f:#}"
        );
        assert!(f["description"]
            .as_str()
            .unwrap()
            .contains("No Lambda functions were found"));
        assert_eq!(f["details"]["resources_found"], 0);
        assert_eq!(f["details"]["resources_exact"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_functions_keep_the_configured_severity_with_at_least_one() {
    let (code, findings, _) = check().await;
    let standard = one(&findings, "eu-west-1", "LAMBDA_SCANNING_DISABLED");
    assert_eq!(standard["severity"], "medium", "{standard:#}");
    let code_scan = one(&findings, "eu-west-1", "LAMBDA_CODE_SCANNING_DISABLED");
    assert_eq!(code_scan["severity"], "low", "{code_scan:#}");
    for f in [standard, code_scan] {
        // MaxItems=1 learns "some", not how many: said as a lower bound.
        assert!(
            f["title"]
                .as_str()
                .unwrap()
                .contains("at least 1 Lambda function"),
            "{f:#}"
        );
        assert_eq!(f["details"]["resources_found"], 1);
        assert_eq!(f["details"]["resources_exact"], false);
    }
    // Medium findings fail the check (exit 1), and nothing is incomplete.
    assert_eq!(code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_presence_call_keeps_the_severity_and_says_so() {
    let (code, findings, evaluations) = check().await;
    let f = one(&findings, "ap-southeast-2", "LAMBDA_SCANNING_DISABLED");
    assert_eq!(f["severity"], "medium", "{f:#}");
    let description = f["description"].as_str().unwrap();
    assert!(
        description.contains("could not be checked"),
        "{description}"
    );
    assert!(!description.contains("were found"), "{description}");
    assert!(f["details"]["resources_found"].is_null(), "{f:#}");
    let error = f["details"]["presence_error"].as_str().unwrap();
    assert!(
        error.contains("lambda:ListFunctions") && error.contains("access_denied"),
        "{error}"
    );
    assert_eq!(
        one(&findings, "ap-southeast-2", "LAMBDA_CODE_SCANNING_DISABLED")["severity"],
        "low"
    );
    // The enablement itself was read: every evaluation is ok, the denial counted.
    assert_eq!(evaluations.len(), 3);
    assert!(
        evaluations.iter().all(|e| e["status"] == "ok"),
        "{evaluations:#?}"
    );
    let denied = evaluations
        .iter()
        .find(|e| e["region"] == "ap-southeast-2")
        .unwrap();
    assert_eq!(denied["counts"]["presence.unchecked"], 2, "{denied:#}");
    assert_ne!(code, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_inspection_deactivated_with_linux_nodes_is_a_finding() {
    let (_, findings, _) = check().await;
    let f = one(&findings, "eu-west-1", "EC2_DEEP_INSPECTION_OFF");
    assert_eq!(f["severity"], "medium", "{f:#}");
    assert_eq!(
        f["remediation"],
        "aws inspector2 update-ec2-deep-inspection-configuration --activate-deep-inspection \
         --region eu-west-1"
    );
    assert_eq!(f["details"]["status"], "DEACTIVATED");
    assert_eq!(f["details"]["linux_managed_nodes"], 1);
    assert_eq!(
        f["details"]["package_paths"],
        serde_json::json!(["/opt/app/lib"])
    );
    assert_eq!(
        f["details"]["org_package_paths"],
        serde_json::json!(["/usr/local/share/java"])
    );
    // ACTIVATED (us-east-1) and a region without nodes report nothing.
    let deep: Vec<&Value> = findings
        .iter()
        .filter(|f| {
            f["code"]
                .as_str()
                .unwrap()
                .starts_with("EC2_DEEP_INSPECTION")
        })
        .collect();
    assert_eq!(deep.len(), 1, "{deep:#?}");
}
