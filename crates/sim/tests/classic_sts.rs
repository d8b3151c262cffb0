//! Wire-level tests of Inspector classic, STS and the shared machinery
//! (routing, faults, errors), sending what aws-sdk-rust sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use blindspot_sim::{AccessDenied, Faults, Scenario, SimServer};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

const RUN: &str =
    "arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234/run/0-aabbccdd";
const OLD_RUN: &str =
    "arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234/run/0-aaaabbbb";

async fn seed() -> blindspot_sim::SimHandle {
    SimServer::start(Scenario::embedded_seed()).await.unwrap()
}

/// A run with `n` exclusions, plus `runs` extra runs, in us-east-1.
fn bulk(runs: usize, exclusions: usize) -> String {
    let mut s = String::from("[[region]]\nregion = \"us-east-1\"\n");
    s.push_str(&format!("[[region.assessment_run]]\narn = \"{RUN}\"\n"));
    for i in 0..exclusions {
        s.push_str(&format!(
            "[[region.assessment_run.exclusion]]\nid = \"0-{i:08x}\"\ntitle = \"Agent not found\"\ninstance = \"i-{i:017x}\"\n"
        ));
    }
    for i in 0..runs {
        s.push_str(&format!(
            "[[region.assessment_run]]\narn = \"arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-p/run/0-{i:08x}\"\ncompleted_at = \"-{}h\"\n",
            i + 1
        ));
    }
    s
}

#[tokio::test]
async fn seed_lists_and_describes_like_the_cli_output() {
    let h = seed().await;
    let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.headers["content-type"].to_str().unwrap(),
        "application/x-amz-json-1.1"
    );
    assert!(a.headers.contains_key("x-amzn-RequestId"));
    assert_eq!(a.json()["assessmentRunArns"], json!([RUN, OLD_RUN]));
    assert!(a.json().get("nextToken").is_none());

    let a = classic(
        &h,
        "us-east-1",
        "ListExclusions",
        &json!({"assessmentRunArn": RUN}),
    )
    .await;
    assert_eq!(
        a.json()["exclusionArns"],
        json!([
            format!("{RUN}/exclusion/0-1234abcd"),
            format!("{RUN}/exclusion/0-abcd1234")
        ])
    );

    let arn = format!("{RUN}/exclusion/0-1234abcd");
    let a = classic(
        &h,
        "us-east-1",
        "DescribeExclusions",
        &json!({"exclusionArns": [arn], "locale": "EN_US"}),
    )
    .await;
    let e = &a.json()["exclusions"][&arn];
    assert_eq!(e["title"], "Agent not found");
    assert_eq!(e["arn"], arn);
    assert_eq!(
        e["scopes"],
        json!([{"key": "instanceId", "value": "i-0abcd1234abcd1234"}])
    );
    assert_eq!(
        e["attributes"],
        json!([{"key": "INSTANCE_ID", "value": "i-0abcd1234abcd1234"}])
    );
    assert_eq!(e["description"], "The Inspector agent was not found on this instance. You can run agentless Network Reachability assessments on this instance but cannot run any assessments that need the agent.");
    assert_eq!(
        e["recommendation"],
        "Install or re-install the Inspector Agent on this instance."
    );
    assert_eq!(a.json()["failedItems"], json!({}));

    let a = classic(
        &h,
        "us-east-1",
        "DescribeAssessmentRuns",
        &json!({"assessmentRunArns": [RUN, OLD_RUN, "arn:aws:inspector:us-east-1:123456789012:target/0-x/template/0-y/run/0-nope"]}),
    )
    .await;
    let v = a.json();
    let runs = v["assessmentRuns"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let (new, old) = (&runs[0], &runs[1]);
    assert_eq!(new["state"], "COMPLETED");
    assert_eq!(new["assessmentTemplateArn"], old["assessmentTemplateArn"]);
    assert!(new["completedAt"].as_f64().unwrap() > old["completedAt"].as_f64().unwrap());
    for member in [
        "arn",
        "name",
        "assessmentTemplateArn",
        "state",
        "durationInSeconds",
        "rulesPackageArns",
        "userAttributesForFindings",
        "createdAt",
        "stateChangedAt",
        "dataCollected",
        "stateChanges",
        "notifications",
        "findingCounts",
    ] {
        assert!(new.get(member).is_some(), "missing required {member}");
    }
    // Completed about three days ago, as epoch seconds.
    let age = chrono::Utc::now().timestamp() as f64 - new["completedAt"].as_f64().unwrap();
    assert!((3.0 * 86400.0 - age).abs() < 120.0, "{age}");
    let failed = &v["failedItems"]
        ["arn:aws:inspector:us-east-1:123456789012:target/0-x/template/0-y/run/0-nope"];
    assert_eq!(
        failed,
        &json!({"failureCode": "ITEM_DOES_NOT_EXIST", "retryable": false})
    );
}

#[tokio::test]
async fn list_filters_apply() {
    let h = seed().await;
    let now = chrono::Utc::now().timestamp() as f64;
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"filter": {"completionTimeRange": {"beginDate": now - 5.0 * 86400.0, "endDate": now}}}),
    )
    .await;
    assert_eq!(a.json()["assessmentRunArns"], json!([RUN]));
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"filter": {"states": ["FAILED"]}}),
    )
    .await;
    assert_eq!(a.json()["assessmentRunArns"], json!([]));
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"assessmentTemplateArns": ["arn:aws:inspector:us-east-1:123456789012:target/0-abcdabcd/template/0-12341234"]}),
    )
    .await;
    assert_eq!(a.json()["assessmentRunArns"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pagination_uses_default_and_requested_page_sizes() {
    let h = start(&bulk(24, 250)).await;
    // 25 runs at the default page size of 10: 10, 10, 5.
    let mut sizes = Vec::new();
    let mut token: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let mut body = json!({});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let v = classic(&h, "us-east-1", "ListAssessmentRuns", &body)
            .await
            .json();
        let page = v["assessmentRunArns"].as_array().unwrap().clone();
        sizes.push(page.len());
        all.extend(page);
        match v.get("nextToken") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    all.dedup();
    assert_eq!(all.len(), 25);

    // 250 exclusions at the default of 100, then at 120.
    for (max, expect) in [(None, vec![100, 100, 50]), (Some(120), vec![120, 120, 10])] {
        let mut sizes = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"assessmentRunArn": RUN});
            if let Some(m) = max {
                body["maxResults"] = json!(m);
            }
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = classic(&h, "us-east-1", "ListExclusions", &body)
                .await
                .json();
            sizes.push(v["exclusionArns"].as_array().unwrap().len());
            match v.get("nextToken") {
                Some(Value::String(t)) => token = Some(t.clone()),
                _ => break,
            }
        }
        assert_eq!(sizes, expect);
    }

    // A token is bound to its listing: replaying it elsewhere is invalid input.
    let v = classic(
        &h,
        "us-east-1",
        "ListExclusions",
        &json!({"assessmentRunArn": RUN}),
    )
    .await
    .json();
    let t = v["nextToken"].as_str().unwrap().to_string();
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"nextToken": t}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["__type"], "InvalidInputException");
    assert_eq!(a.json()["errorCode"], "INVALID_PAGINATION_TOKEN");
    assert_eq!(a.json()["canRetry"], false);
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"nextToken": "garbage"}),
    )
    .await;
    assert_eq!(a.json()["errorCode"], "INVALID_PAGINATION_TOKEN");
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"maxResults": 501}),
    )
    .await;
    assert_eq!(a.json()["errorCode"], "INVALID_MAX_RESULTS");
}

#[tokio::test]
async fn batch_limits() {
    let h = start(&bulk(0, 101)).await;
    let arns: Vec<String> = (0..101)
        .map(|i| format!("{RUN}/exclusion/0-{i:08x}"))
        .collect();
    let a = classic(
        &h,
        "us-east-1",
        "DescribeExclusions",
        &json!({"exclusionArns": arns, "locale": "EN_US"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "InvalidInputException");
    let v = a.json();
    assert_eq!(v["__type"], "InvalidInputException");
    assert!(v["errorCode"].is_string() && v["canRetry"] == false && v["message"].is_string());

    let a = classic(
        &h,
        "us-east-1",
        "DescribeExclusions",
        &json!({"exclusionArns": arns[..100], "locale": "EN_US"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["exclusions"].as_object().unwrap().len(), 100);

    let a = classic(
        &h,
        "us-east-1",
        "DescribeExclusions",
        &json!({"exclusionArns": []}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = classic(
        &h,
        "us-east-1",
        "DescribeExclusions",
        &json!({"exclusionArns": [arns[0]], "locale": "FR_FR"}),
    )
    .await;
    assert_eq!(a.json()["errorCode"], "INVALID_LOCALE");

    let runs: Vec<String> = (0..11).map(|_| RUN.to_string()).collect();
    let a = classic(
        &h,
        "us-east-1",
        "DescribeAssessmentRuns",
        &json!({"assessmentRunArns": runs}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.json()["errorCode"],
        "INVALID_NUMBER_OF_ASSESSMENT_RUN_ARNS"
    );
    let a = classic(
        &h,
        "us-east-1",
        "DescribeAssessmentRuns",
        &json!({"assessmentRunArns": runs[..10]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_run_and_fail_once() {
    let mut toml = bulk(0, 2);
    toml.push_str("fail_once = true\n");
    let h = start(&toml).await;
    let a = classic(
        &h,
        "us-east-1",
        "ListExclusions",
        &json!({"assessmentRunArn": OLD_RUN}),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["__type"], "NoSuchEntityException");
    assert_eq!(a.json()["errorCode"], "ASSESSMENT_RUN_DOES_NOT_EXIST");

    let flaky = format!("{RUN}/exclusion/0-00000001");
    let steady = format!("{RUN}/exclusion/0-00000000");
    let body = json!({"exclusionArns": [steady, flaky], "locale": "EN_US"});
    let first = classic(&h, "us-east-1", "DescribeExclusions", &body)
        .await
        .json();
    assert_eq!(
        first["failedItems"][&flaky],
        json!({"failureCode": "INTERNAL_ERROR", "retryable": true})
    );
    assert!(first["exclusions"].get(&steady).is_some());
    let second = classic(&h, "us-east-1", "DescribeExclusions", &body)
        .await
        .json();
    assert_eq!(second["failedItems"], json!({}));
    assert_eq!(second["exclusions"].as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn region_and_account_come_from_the_credential() {
    let toml = r#"
[access_keys]
AKIDOTHER = "210987654321"
[[region]]
region = "us-east-1"
[[region.assessment_run]]
arn = "arn:aws:inspector:us-east-1:123456789012:target/0-a/template/0-b/run/0-c"
[[region]]
region = "eu-west-1"
[[region]]
region = "us-east-1"
account = "210987654321"
[[region.assessment_run]]
arn = "arn:aws:inspector:us-east-1:210987654321:target/0-a/template/0-b/run/0-d"
"#;
    let h = start(toml).await;
    let list = |akid: &'static str, region: &'static str| {
        let h = &h;
        async move {
            aws_json(
                h,
                "inspector",
                region,
                akid,
                "InspectorService.ListAssessmentRuns",
                &json!({}),
            )
            .await
            .json()["assessmentRunArns"]
                .clone()
        }
    };
    assert_eq!(
        list("AKIDANY", "us-east-1").await.as_array().unwrap().len(),
        1
    );
    assert!(list("AKIDANY", "us-east-1").await[0]
        .as_str()
        .unwrap()
        .ends_with("0-c"));
    assert!(list("AKIDOTHER", "us-east-1").await[0]
        .as_str()
        .unwrap()
        .ends_with("0-d"));
    assert_eq!(list("AKIDANY", "eu-west-1").await, json!([]));
    assert_eq!(list("AKIDANY", "ap-south-1").await, json!([]));
    assert_eq!(h.call_count("inspector", "ListAssessmentRuns"), 5);
    let per_region: Vec<_> = h
        .calls()
        .into_iter()
        .map(|c| (c.region, c.calls, c.faults))
        .collect();
    assert_eq!(
        per_region,
        vec![
            ("ap-south-1".to_string(), 1, 0),
            ("eu-west-1".to_string(), 1, 0),
            ("us-east-1".to_string(), 3, 0)
        ]
    );
}

#[tokio::test]
async fn errors_for_bad_requests() {
    let h = seed().await;
    // Unknown operation.
    let a = classic(&h, "us-east-1", "ListFindingsPlease", &json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "UnknownOperationException");
    assert_eq!(a.json()["__type"], "UnknownOperationException");
    assert!(a.json()["message"].is_string());
    // Malformed JSON.
    let a = aws_json_raw(
        &h,
        "inspector",
        "us-east-1",
        "AKID",
        "InspectorService.ListExclusions",
        "{not json".into(),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["__type"], "SerializationException");
    // Wrong member type.
    let a = classic(
        &h,
        "us-east-1",
        "ListAssessmentRuns",
        &json!({"maxResults": "ten"}),
    )
    .await;
    assert_eq!(a.json()["__type"], "SerializationException");
    // No Authorization header.
    let resp = reqwest::Client::new()
        .post(format!("{}/", h.endpoint()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "InspectorService.ListAssessmentRuns")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");
    // Garbled Authorization header.
    let resp = reqwest::Client::new()
        .post(format!("{}/", h.endpoint()))
        .header("x-amz-target", "InspectorService.ListAssessmentRuns")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=nonsense")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["__type"], "IncompleteSignatureException");
    // Credential scoped to another service.
    let a = aws_json(
        &h,
        "ssm",
        "us-east-1",
        "AKID",
        "InspectorService.ListAssessmentRuns",
        &json!({}),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json()["__type"], "InvalidSignatureException");
}

#[tokio::test]
async fn classic_retired_answers_unknown_operation() {
    let h = seed().await;
    h.set_faults(Faults {
        classic_retired: vec!["us-east-1".into()],
        ..Faults::default()
    });
    let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "UnknownOperationException");
    let a = classic(&h, "eu-west-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.status, StatusCode::OK);
    h.set_faults(Faults {
        classic_retired: vec!["*".into()],
        ..Faults::default()
    });
    let a = classic(
        &h,
        "eu-west-1",
        "DescribeExclusions",
        &json!({"exclusionArns": ["x"]}),
    )
    .await;
    assert_eq!(a.json()["__type"], "UnknownOperationException");
    let c = h.calls();
    let faulted: u64 = c.iter().map(|c| c.faults).sum();
    assert_eq!(faulted, 2);
    // STS is unaffected.
    let a = caller_identity(&h, "AKID", "eu-west-1").await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn deterministic_faults() {
    let h = seed().await;
    let mut throttle = std::collections::BTreeMap::new();
    throttle.insert("ListAssessmentRuns".to_string(), 2);
    h.set_faults(Faults {
        throttle_first_n: throttle,
        access_denied: vec![AccessDenied {
            region: Some("eu-west-1".into()),
            service: Some("inspector".into()),
            ..AccessDenied::default()
        }],
        latency_ms: 20,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let statuses = [
        classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await,
        classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await,
        classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await,
    ];
    assert!(started.elapsed() >= std::time::Duration::from_millis(60));
    assert_eq!(statuses[0].json()["__type"], "ThrottlingException");
    assert_eq!(statuses[0].status, StatusCode::BAD_REQUEST);
    assert_eq!(statuses[1].json()["__type"], "ThrottlingException");
    assert_eq!(statuses[2].status, StatusCode::OK);
    let a = classic(
        &h,
        "eu-west-1",
        "ListExclusions",
        &json!({"assessmentRunArn": RUN}),
    )
    .await;
    assert_eq!(a.json()["__type"], "AccessDeniedException");
    assert_eq!(a.json()["canRetry"], false);
    assert!(a.json()["errorCode"].is_string());
    let lar = h
        .calls()
        .into_iter()
        .find(|c| c.operation == "ListAssessmentRuns")
        .unwrap();
    assert_eq!((lar.calls, lar.faults), (3, 2));

    // Probabilities of 1 always fire; a 5xx from classic is InternalException.
    h.set_faults(Faults {
        server_error_probability: 1.0,
        seed: Some(7),
        ..Faults::default()
    });
    let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.json()["__type"], "InternalException");
    assert_eq!(a.json()["canRetry"], true);
}

#[tokio::test]
async fn seeded_probabilistic_faults_are_reproducible() {
    let h = seed().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        h.set_faults(Faults {
            throttle_probability: 0.5,
            seed: Some(42),
            ..Faults::default()
        });
        let mut pattern = Vec::new();
        for _ in 0..20 {
            pattern.push(
                classic(&h, "us-east-1", "ListAssessmentRuns", &json!({}))
                    .await
                    .status,
            );
        }
        runs.push(pattern);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&StatusCode::OK));
    assert!(runs[0].contains(&StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn sts_get_caller_identity() {
    let toml = "[access_keys]\nAKIDMEMBER = \"210987654321\"\n";
    let h = start(toml).await;
    let a = caller_identity(&h, "AKIDMEMBER", "us-east-1").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text.starts_with("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>"), "{}", a.text);
    assert!(a.text.contains("<Account>210987654321</Account>"));
    assert!(a.text.contains("<Arn>arn:aws:iam::210987654321:user/"));
    assert!(a.text.contains("<UserId>"));
    assert!(a.text.contains("<ResponseMetadata><RequestId>"));
    let a = caller_identity(&h, "AKIDX", "us-east-1").await;
    assert!(a.text.contains("<Account>123456789012</Account>"));

    let a = sts(
        &h,
        "AKIDX",
        "us-east-1",
        "Action=GetSessionToken&Version=2011-06-15",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text.starts_with("<ErrorResponse"), "{}", a.text);
    assert!(a
        .text
        .contains("<Type>Sender</Type><Code>UnknownOperationException</Code>"));
    assert!(a.text.contains("<RequestId>"));

    deny(
        &h,
        AccessDenied {
            service: Some("sts".into()),
            ..AccessDenied::default()
        },
    );
    let a = caller_identity(&h, "AKIDX", "us-east-1").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text.contains("<Code>AccessDenied</Code>"));
}

#[tokio::test]
async fn sts_assume_role_issues_a_key_of_the_roles_account() {
    let h = start("").await;
    let a = sts(
        &h,
        "AKIDX",
        "us-east-1",
        "Action=AssumeRole&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2Faudit\
         &RoleSessionName=blindspot&ExternalId=shared",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.text.starts_with("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>")
            && a.text.contains("<Credentials><AccessKeyId>ASIA210987654321SIMR</AccessKeyId>"),
        "{}",
        a.text
    );
    assert!(a.text.contains("<Expiration>"), "{}", a.text);
    assert!(
        a.text.contains(
            "<AssumedRoleUser><Arn>arn:aws:sts::210987654321:assumed-role/audit/blindspot</Arn>"
        ),
        "{}",
        a.text
    );

    // Calls signed with the temporary key act as the role's account.
    let a = caller_identity(&h, "ASIA210987654321SIMR", "eu-west-1").await;
    assert!(
        a.text.contains("<Account>210987654321</Account>"),
        "{}",
        a.text
    );

    let a = sts(
        &h,
        "AKIDX",
        "us-east-1",
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=s",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.text.contains("<Code>ValidationError</Code>"),
        "{}",
        a.text
    );

    // The fault a test uses to make an account's role unreachable.
    deny(
        &h,
        AccessDenied {
            operation: Some("AssumeRole".into()),
            ..AccessDenied::default()
        },
    );
    let a = sts(
        &h,
        "AKIDX",
        "us-east-1",
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2Faudit&RoleSessionName=s",
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text.contains("<Code>AccessDenied</Code>"), "{}", a.text);
}
