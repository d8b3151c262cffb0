//! The server over the real SQLite store: lifecycle results, real cursors and
//! the store's own cursor validation reach the API as documented.

use crate::support::*;
use axum::http::{Method, StatusCode};
use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use blindspot_store::{SqliteStore, Store};
use chrono::Duration;
use std::sync::Arc;

fn evaluation(
    scope: &Scope,
    findings: Vec<Finding>,
    status: EvaluationStatus,
    at: i64,
) -> Evaluation {
    Evaluation {
        rule: "inspector-exclusions".into(),
        scope: scope.clone(),
        status,
        error: (status != EvaluationStatus::Ok).then(|| "AccessDeniedException".to_owned()),
        started_at: t0() + Duration::seconds(at - 2),
        finished_at: t0() + Duration::seconds(at),
        findings,
        // A distinct value per evaluation shows which one metrics export.
        measurements: vec![Measurement::new("exclusions_read", &[], at as f64)],
        counts: Default::default(),
    }
}

#[tokio::test]
async fn api_and_metrics_over_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("blindspot.db")).unwrap();
    let scope = Scope::new(ACCOUNT, "eu-west-1");
    let findings: Vec<Finding> = (0..5)
        .map(|i| {
            Finding::new(
                "inspector-exclusions",
                "AGENT_NOT_FOUND",
                if i < 2 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                &scope,
                &format!("i-{i:04}"),
                "Agent not found",
            )
        })
        .collect();
    store
        .record_evaluation(&evaluation(
            &scope,
            findings.clone(),
            EvaluationStatus::Ok,
            0,
        ))
        .unwrap();
    // The second evaluation no longer sees i-0004: it is resolved.
    store
        .record_evaluation(&evaluation(
            &scope,
            findings[..4].to_vec(),
            EvaluationStatus::Ok,
            60,
        ))
        .unwrap();

    let mut fx = fixture();
    fx.state.store = Arc::new(store);

    // Page through open findings two at a time with the store's cursors.
    let mut ids = Vec::new();
    let mut uri = "/api/v1/findings?status=open&limit=2".to_owned();
    loop {
        let reply = get(fx.app(), &uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let page = reply.json();
        for f in page["findings"].as_array().unwrap() {
            assert_eq!(f["status"], "open");
            ids.push(f["resource"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/findings?status=open&limit=2&cursor={c}"),
            None => break,
        }
    }
    ids.sort();
    assert_eq!(ids, vec!["i-0000", "i-0001", "i-0002", "i-0003"]);

    let resolved = get(fx.app(), "/api/v1/findings?status=resolved")
        .await
        .json();
    assert_eq!(resolved["findings"][0]["resource"], "i-0004");
    assert!(resolved["findings"][0]["resolved_at"].is_string());

    let reply = get(fx.app(), "/api/v1/findings?cursor=not-a-cursor").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (code, message) = reply.error();
    assert_eq!(code, "invalid_parameter");
    assert!(message.contains("`cursor`"));

    let evaluations = get(
        fx.app(),
        "/api/v1/evaluations?rule=inspector-exclusions&limit=1",
    )
    .await
    .json();
    assert_eq!(evaluations["evaluations"].as_array().unwrap().len(), 1);
    assert_eq!(evaluations["evaluations"][0]["resolved"], 1);

    let text = request(
        fx.app(),
        Method::GET,
        "/metrics",
        &[("accept", "application/openmetrics-text")],
        Vec::new(),
    )
    .await
    .text();
    let high = format!(
        "blindspot_findings{{rule=\"inspector-exclusions\",severity=\"high\",account=\"{ACCOUNT}\",region=\"eu-west-1\"}} 2"
    );
    let medium = format!(
        "blindspot_findings{{rule=\"inspector-exclusions\",severity=\"medium\",account=\"{ACCOUNT}\",region=\"eu-west-1\"}} 2"
    );
    assert!(text.contains(&high), "{text}");
    assert!(text.contains(&medium), "{text}");
    assert!(text.contains(&format!(
        "blindspot_exclusions_read{{account=\"{ACCOUNT}\",region=\"eu-west-1\"}} 60.0"
    )));

    let ready = get(fx.app(), "/readyz").await.json();
    assert_eq!(ready["store_writable"], true);
}
