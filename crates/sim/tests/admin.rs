//! The `/_sim/*` admin surface and the handle's lifecycle, as a separate
//! process would drive them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::{CallCount, Faults, Scenario, SimServer};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// GET `url`, its body as JSON.
async fn get_json<T: serde::de::DeserializeOwned>(c: &reqwest::Client, url: &str) -> T {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// PUT `body` to `url`.
async fn put(c: &reqwest::Client, url: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    c.put(url).body(body).send().await.unwrap()
}

#[tokio::test]
async fn admin_surface_drives_the_sim() {
    let h = SimServer::start(Scenario::embedded_seed()).await.unwrap();
    let c = reqwest::Client::new();
    let base = h.endpoint();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert_eq!(
        h.addr().port(),
        base.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    );

    let v: Value = get_json(&c, &format!("{base}/_sim/healthz")).await;
    assert_eq!(v, json!({"status": "ok", "scenario": "seed"}));

    classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    let calls: Vec<CallCount> = get_json(&c, &format!("{base}/_sim/calls")).await;
    assert_eq!(
        calls,
        vec![CallCount {
            service: "inspector".into(),
            operation: "ListAssessmentRuns".into(),
            region: "us-east-1".into(),
            calls: 1,
            faults: 0
        }]
    );

    // Bad TOML: 400 with the line named.
    let r = put(
        &c,
        &format!("{base}/_sim/scenario"),
        "name = \"x\"\n[[region]]\nregion = \"us-east-1\"\nbogus = true\n",
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("line 4") && msg.contains("bogus"), "{msg}");

    // Replace the scenario.
    let r = put(&c, &format!("{base}/_sim/scenario"), "name = \"empty\"\n").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({}))
        .await
        .json();
    assert_eq!(v["assessmentRunArns"], json!([]));

    // Faults over HTTP.
    let r = put(
        &c,
        &format!("{base}/_sim/faults"),
        json!({"classic_retired": ["*"]}).to_string(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let f: Faults = get_json(&c, &format!("{base}/_sim/faults")).await;
    assert_eq!(f.classic_retired, vec!["*".to_string()]);
    let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.error_type(), "UnknownOperationException");
    for bad in [json!({"throttle_probability": 2.0}), json!({"latency": 5})] {
        let r = put(&c, &format!("{base}/_sim/faults"), bad.to_string()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(h.call_count("inspector", "ListAssessmentRuns"), 3);
}

#[tokio::test]
async fn demo_faults_and_scripted_failures() {
    let h = SimServer::start(Scenario::embedded_demo()).await.unwrap();
    // Classic is retired in eu-west-1 only.
    let a = classic(&h, "eu-west-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.error_type(), "UnknownOperationException");
    let v = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({}))
        .await
        .json();
    // The seed's run plus the web fleet's two runs and the database hosts' run.
    assert_eq!(v["assessmentRunArns"].as_array().unwrap().len(), 4);
    let v = classic(&h, "ap-southeast-2", "ListAssessmentRuns", &json!({}))
        .await
        .json();
    assert_eq!(v["assessmentRunArns"].as_array().unwrap().len(), 1);

    let flaky = "arn:aws:inspector:us-east-1:123456789012:target/0-web00001/template/0-tmpl0001/run/0-run00002/exclusion/0-exc00003";
    let body = json!({"exclusionArns": [flaky], "locale": "EN_US"});
    let v = classic(&h, "us-east-1", "DescribeExclusions", &body)
        .await
        .json();
    assert_eq!(v["failedItems"][flaky]["retryable"], true);
    let v = classic(&h, "us-east-1", "DescribeExclusions", &body)
        .await
        .json();
    assert_eq!(
        v["exclusions"][flaky]["scopes"][1]["key"],
        "RULES_PACKAGE_ARN"
    );
    // Replacing the scenario re-arms the scripted failure.
    h.set_scenario(Scenario::embedded_demo());
    let v = classic(&h, "us-east-1", "DescribeExclusions", &body)
        .await
        .json();
    assert_eq!(v["failedItems"][flaky]["failureCode"], "INTERNAL_ERROR");
}

#[tokio::test]
async fn dropping_or_shutting_down_stops_the_server() {
    let h = SimServer::start(Scenario::default()).await.unwrap();
    let url = format!("{}/_sim/healthz", h.endpoint());
    assert!(reqwest::get(&url).await.is_ok());
    h.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());

    let h = SimServer::start(Scenario::default()).await.unwrap();
    let url = format!("{}/_sim/healthz", h.endpoint());
    drop(h);
    // Graceful shutdown runs on the server task; give it a moment.
    let mut stopped = false;
    for _ in 0..50 {
        if reqwest::Client::new()
            .get(&url)
            .header("connection", "close")
            .send()
            .await
            .is_err()
        {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stopped);

    // Binding an address in use is an error, not a panic.
    let h = SimServer::start(Scenario::default()).await.unwrap();
    assert!(SimServer::start_on(h.addr(), Scenario::default())
        .await
        .is_err());
}

/// Every scenario file in the repository loads: a typo in one that another
/// test relies on shows up here with its file name and line.
#[test]
fn every_scenario_file_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = Scenario::from_path(&path) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 2, "found only {n} scenario files in {}", dir.display());
}
