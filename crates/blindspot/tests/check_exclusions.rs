//! `blindspot check` end to end for the `inspector-exclusions` rule: the real
//! binary and the real SDK clients against the simulated AWS over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    command, config_file, run, run_with_config, sim, sim_file, NOWHERE, TWO_CLASSIC_REGIONS,
};
use serde_json::Value;

const RUN: &str =
    "arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234/run/0-aabbccdd";

/// `blindspot check --rule inspector-exclusions --format json` in `regions`.
async fn check_json(sim: &blindspot_sim::SimHandle, regions: &str) -> common::Run {
    common::check_json(sim, "inspector-exclusions", regions).await
}

fn findings(json: &Value) -> &Vec<Value> {
    json["findings"].as_array().expect("findings array")
}

fn statuses(json: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["region"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_scenario_reports_agent_not_found_with_its_fix() {
    let sim = sim_file("seed.toml").await;
    let out = common::check_json(&sim, "Inspector-003", "us-east-1").await;
    assert_eq!(out.code, 1, "findings mean exit 1; stderr:\n{}", out.stderr);
    let json = out.json();
    let agent = findings(&json)
        .iter()
        .find(|f| f["resource"] == "i-0abcd1234abcd1234")
        .expect("the seed's instance is reported");
    assert_eq!(agent["title"], "Agent not found");
    assert_eq!(agent["severity"], "medium");
    assert_eq!(agent["account"], "123456789012");
    assert_eq!(agent["region"], "us-east-1");
    assert_eq!(
        agent["description"],
        "The Inspector agent was not found on this instance. You can run agentless Network \
         Reachability assessments on this instance but cannot run any assessments that need the agent."
    );
    assert_eq!(
        agent["recommendation"],
        "Install or re-install the Inspector Agent on this instance."
    );
    assert_eq!(
        agent["remediation"],
        "aws ssm send-command --document-name AmazonInspector-ManageAWSAgent --parameters \
         '{\"Operation\":[\"Install\"]}' --targets Key=InstanceIds,Values=i-0abcd1234abcd1234 --region us-east-1"
    );
    assert_eq!(agent["details"]["assessment_run_arn"], RUN);
    assert_eq!(statuses(&json), [("us-east-1".to_owned(), "ok".to_owned())]);

    // Everything but times, which the scenario sets relative to now.
    insta::assert_json_snapshot!("seed_findings", json["findings"], {
        "[].details.run_completed_at" => "[time]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_scenario_table_output_shows_the_fix() {
    let sim = sim_file("seed.toml").await;
    let mut cmd = command(&sim.endpoint());
    cmd.args([
        "check",
        "--rule",
        "inspector-exclusions",
        "--regions",
        "us-east-1",
    ]);
    let out = run(cmd).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("Agent not found"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Recommendation: Install or re-install the Inspector Agent"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Fix: aws ssm send-command --document-name AmazonInspector-ManageAWSAgent"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retired_classic_region_is_unavailable_not_an_error() {
    let sim = sim(&format!(
        "[faults]\nclassic_retired = [\"eu-west-1\"]\n{TWO_CLASSIC_REGIONS}"
    ))
    .await;
    let out = check_json(&sim, "us-east-1,eu-west-1").await;
    assert_eq!(
        out.code, 1,
        "unavailable alone is not exit 3; stderr:\n{}",
        out.stderr
    );
    let json = out.json();
    assert_eq!(
        statuses(&json),
        [
            ("eu-west-1".to_owned(), "unavailable".to_owned()),
            ("us-east-1".to_owned(), "ok".to_owned())
        ]
    );
    let resources: Vec<&str> = findings(&json)
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources, ["i-east"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn retired_everywhere_exits_zero() {
    let sim = sim(&format!(
        "[faults]\nclassic_retired = [\"*\"]\n{TWO_CLASSIC_REGIONS}"
    ))
    .await;
    let out = check_json(&sim, "us-east-1,eu-west-1").await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(findings(&out.json()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_in_one_region_does_not_stop_the_other() {
    let faults =
        "[faults]\naccess_denied = [{ region = \"eu-west-1\", service = \"inspector\" }]\n";
    let sim = sim(&format!("{faults}{TWO_CLASSIC_REGIONS}")).await;
    let out = check_json(&sim, "us-east-1,eu-west-1").await;
    assert_eq!(
        out.code, 3,
        "an error makes results incomplete; stderr:\n{}",
        out.stderr
    );
    let json = out.json();
    assert_eq!(
        statuses(&json),
        [
            ("eu-west-1".to_owned(), "error".to_owned()),
            ("us-east-1".to_owned(), "ok".to_owned())
        ]
    );
    let west = json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["region"] == "eu-west-1")
        .unwrap();
    let error = west["error"].as_str().unwrap();
    assert!(
        error.contains("access_denied") && error.contains("inspector:"),
        "{error}"
    );
    assert_eq!(findings(&json).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried() {
    let faults =
        "[faults]\nthrottle_first_n = { ListAssessmentRuns = 1, DescribeExclusions = 1 }\n";
    let sim = sim(&format!("{faults}{TWO_CLASSIC_REGIONS}")).await;
    let out = check_json(&sim, "us-east-1").await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        statuses(&out.json()),
        [("us-east-1".to_owned(), "ok".to_owned())]
    );
    // Two listings (completed and failed runs) plus the one retried attempt.
    assert_eq!(sim.call_count("inspector", "ListAssessmentRuns"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_exclusions_are_paged_and_described_in_batches_of_100() {
    let mut toml = String::from(
        "[[region]]\nregion = \"us-east-1\"\n[[region.assessment_run]]\n\
         arn = \"arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-a/run/0-big\"\n\
         completed_at = \"-2h\"\n",
    );
    for i in 0..1050 {
        toml.push_str(&format!(
            "[[region.assessment_run.exclusion]]\ntitle = \"Agent not found\"\ndescription = \"d\"\n\
             recommendation = \"r\"\nscopes = [{{ key = \"{}\", value = \"i-{i:05}\" }}]\n{}",
            if i % 2 == 0 { "instanceId" } else { "INSTANCE_ID" },
            if i == 7 { "fail_once = true\n" } else { "" },
        ));
    }
    let sim = sim(&toml).await;
    let out = check_json(&sim, "us-east-1").await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json = out.json();
    assert_eq!(
        findings(&json).len(),
        1050,
        "both scope key spellings name instances"
    );
    // 1050 ARNs make eleven batches, plus one retry of the failed-once item.
    assert_eq!(sim.call_count("inspector", "DescribeExclusions"), 12);
    // ListExclusions answers at most 500 per page: 500 + 500 + 50.
    assert_eq!(sim.call_count("inspector", "ListExclusions"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_superseded_run_of_the_seed_is_not_reported() {
    let sim = sim_file("seed.toml").await;
    let json = check_json(&sim, "us-east-1").await.json();
    for f in findings(&json) {
        assert_eq!(
            f["details"]["assessment_run_arn"], RUN,
            "only the latest run of the template counts"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_errors_exit_4_and_usage_errors_exit_2() {
    let (_dir, path) = config_file(
        "[aws]\nregions = [\"us-east-1\"]\n\n[rules.inspector-exclusions]\nlookbak = \"3d\"\n",
    );
    let out = run_with_config("check", &path).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains("line 5") && out.stderr.contains("lookbak"),
        "{}",
        out.stderr
    );

    let mut cmd = command(NOWHERE);
    cmd.args(["check", "--rule", "no-such-rule"]);
    let out = run(cmd).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no-such-rule"), "{}", out.stderr);

    let mut cmd = command(NOWHERE);
    cmd.args(["check", "--format", "xml"]);
    assert_eq!(run(cmd).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_lists_ids_aliases_and_severity() {
    let out = run({
        let mut cmd = command(NOWHERE);
        cmd.arg("rules");
        cmd
    })
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("inspector-exclusions"))
        .expect("listed");
    assert!(
        line.contains("Inspector-003") && line.contains("medium"),
        "{line}"
    );
    assert!(
        out.stdout.contains("inspector2-associations")
            && out.stdout.contains("inspector2-coverage")
    );
}
