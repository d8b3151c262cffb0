//! Wire-level tests of the rate-limit fault, the shapes of a retired
//! Inspector classic, and answers with members left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use blindspot_sim::faults::{RateLimit, RetiredShape};
use blindspot_sim::{Faults, Scenario, SimServer};
use common::*;
use reqwest::StatusCode;
use serde_json::json;

async fn demo() -> blindspot_sim::SimHandle {
    SimServer::start(Scenario::embedded_demo()).await.unwrap()
}

fn limits(entries: &[(&str, f64, f64)]) -> BTreeMap<String, RateLimit> {
    entries
        .iter()
        .map(|(op, rate, burst)| {
            (
                (*op).to_string(),
                RateLimit {
                    rate: *rate,
                    burst: *burst,
                },
            )
        })
        .collect()
}

#[tokio::test]
async fn a_rate_limit_serves_the_burst_then_throttles_in_each_protocols_shape() {
    let h = demo().await;
    // A slow refill: the calls of this test take far less than one token's time.
    h.set_faults(Faults {
        rate_limit: limits(&[("*", 0.01, 2.0)]),
        ..Faults::default()
    });
    for _ in 0..2 {
        let a = ssm(&h, "us-east-1", "ListAssociations", &json!({})).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    }
    let a = ssm(&h, "us-east-1", "ListAssociations", &json!({})).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error_type(), "ThrottlingException");
    assert_eq!(a.json()["Message"], "Rate exceeded");

    for _ in 0..2 {
        assert_eq!(
            classic(&h, "us-east-1", "ListAssessmentRuns", &json!({}))
                .await
                .status,
            StatusCode::OK
        );
    }
    let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
    assert_eq!(a.json()["__type"], "ThrottlingException");

    for _ in 0..2 {
        assert_eq!(
            i2(&h, "us-east-1", "/coverage/list", &json!({}))
                .await
                .status,
            StatusCode::OK
        );
    }
    let a = i2(&h, "us-east-1", "/coverage/list", &json!({})).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.error_type(), "ThrottlingException");

    let form = "Action=GetCallerIdentity&Version=2011-06-15";
    for _ in 0..2 {
        assert_eq!(
            sts(&h, "AKIDDEMOADMIN", "us-east-1", form).await.status,
            StatusCode::OK
        );
    }
    let a = sts(&h, "AKIDDEMOADMIN", "us-east-1", form).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.text.contains("<Code>Throttling</Code>"), "{}", a.text);

    let faulted: u64 = h.calls().iter().map(|c| c.faults).sum();
    assert_eq!(faulted, 4);
}

#[tokio::test]
async fn buckets_are_per_account_region_and_operation_and_refill() {
    let h = demo().await;
    h.set_faults(Faults {
        rate_limit: limits(&[("ListAssociations", 20.0, 1.0)]),
        ..Faults::default()
    });
    let list = |region: &'static str, akid: &'static str| {
        let h = &h;
        async move {
            aws_json(
                h,
                "ssm",
                region,
                akid,
                "AmazonSSM.ListAssociations",
                &json!({}),
            )
            .await
            .status
        }
    };
    assert_eq!(list("us-east-1", "AKIDDEMOADMIN").await, StatusCode::OK);
    assert_eq!(
        list("us-east-1", "AKIDDEMOADMIN").await,
        StatusCode::BAD_REQUEST
    );
    // Another region, another account: their own buckets.
    assert_eq!(list("eu-west-1", "AKIDDEMOADMIN").await, StatusCode::OK);
    assert_eq!(list("us-east-1", "AKIDDEMOMEMBER").await, StatusCode::OK);
    // Another operation has no limit at all.
    for _ in 0..5 {
        let a = ssm(&h, "us-east-1", "DescribeInstanceInformation", &json!({})).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    // 20 tokens a second: one is back after 50 ms.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(list("us-east-1", "AKIDDEMOADMIN").await, StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_are_set_through_the_admin_api_and_checked() {
    let h = demo().await;
    let client = reqwest::Client::new();
    let url = format!("{}/_sim/faults", h.endpoint());
    let put = |body: serde_json::Value| client.put(&url).body(body.to_string()).send();
    let ok = put(json!({
        "rate_limit": {"*": {"rate": 5.0, "burst": 10.0}},
        "retired_shape": "message",
        "omit_members": {"BatchGetAccountStatus": ["errorCode"]},
    }))
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let got: Faults = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got.rate_limit["*"].burst, 10.0);
    assert_eq!(got.retired_shape, RetiredShape::Message);
    assert_eq!(got.omit_members["BatchGetAccountStatus"], ["errorCode"]);

    let bad = put(json!({"rate_limit": {"ListCoverage": {"rate": 0.0, "burst": 1.0}}}))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let text = bad.text().await.unwrap();
    assert!(
        text.contains("faults.rate_limit.ListCoverage.rate"),
        "{text}"
    );
}

#[tokio::test]
async fn a_retired_classic_answers_in_the_configured_shape() {
    let h = demo().await;
    let cases = [
        (
            RetiredShape::UnknownOperation,
            "UnknownOperationException",
            "retired",
        ),
        (
            RetiredShape::UnrecognizedClient,
            "UnrecognizedClientException",
            "security token included in the request is invalid",
        ),
        (
            RetiredShape::Message,
            "AccessDeniedException",
            "no longer available",
        ),
    ];
    for (shape, code, phrase) in cases {
        h.set_faults(Faults {
            classic_retired: vec!["*".into()],
            retired_shape: shape,
            ..Faults::default()
        });
        let a = classic(&h, "us-east-1", "ListAssessmentRuns", &json!({})).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{shape:?}");
        assert_eq!(a.error_type(), code, "{shape:?}");
        let body = a.json();
        assert_eq!(body["__type"], code);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(phrase), "{shape:?}: {message}");
        if shape == RetiredShape::Message {
            // The members the model requires of AccessDeniedException.
            assert_eq!(body["errorCode"], "ACCESS_DENIED_TO_ASSESSMENT_RUN");
            assert_eq!(body["canRetry"], false);
        }
        // Only classic is retired.
        assert_eq!(
            ssm(&h, "us-east-1", "ListAssociations", &json!({}))
                .await
                .status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn omitted_members_are_left_out_at_any_depth() {
    let h = demo().await;
    let before = i2(&h, "us-east-1", "/status/batch/get", &json!({})).await;
    let text = before.text.clone();
    assert!(text.contains("\"errorCode\""), "{text}");
    let mut omit = BTreeMap::new();
    omit.insert(
        "BatchGetAccountStatus".to_string(),
        vec!["errorCode".to_string(), "errorMessage".to_string()],
    );
    h.set_faults(Faults {
        omit_members: omit,
        ..Faults::default()
    });
    let after = i2(&h, "us-east-1", "/status/batch/get", &json!({})).await;
    assert_eq!(after.status, StatusCode::OK);
    let body = after.json();
    assert!(!after.text.contains("errorCode"), "{}", after.text);
    assert!(!after.text.contains("errorMessage"), "{}", after.text);
    // Everything else is still there.
    assert!(body["accounts"][0]["state"]["status"].is_string());
    assert!(body["accounts"][0]["resourceState"]["ec2"]["status"].is_string());
    // Other operations keep their members.
    let other = i2(&h, "us-east-1", "/coverage/list", &json!({})).await;
    assert_eq!(other.status, StatusCode::OK);
}
