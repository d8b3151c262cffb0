//! The server over the real SQLite store: lifecycle results, real cursors and
//! the store's own cursor validation reach the API as documented.

use crate::support::*;
use axum::http::{Method, StatusCode};
use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use blindspot_store::{SqliteStore, Store};
use chrono::Duration;
use std::sync::Arc;

/// The `/metrics` page in the OpenMetrics format.
async fn openmetrics(app: axum::Router) -> String {
    request(
        app,
        Method::GET,
        "/metrics",
        &[("accept", "application/openmetrics-text")],
        Vec::new(),
    )
    .await
    .text()
}

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

    let text = openmetrics(fx.app()).await;
    for severity in ["high", "medium"] {
        let by_account = format!(
            "blindspot_findings{{rule=\"inspector-exclusions\",severity=\"{severity}\",account=\"{ACCOUNT}\"}} 2\n"
        );
        let by_region = format!(
            "blindspot_findings_by_region{{rule=\"inspector-exclusions\",severity=\"{severity}\",region=\"eu-west-1\"}} 2\n"
        );
        assert!(text.contains(&by_account), "{text}");
        assert!(text.contains(&by_region), "{text}");
    }
    assert!(text.contains(&format!(
        "blindspot_exclusions_read{{account=\"{ACCOUNT}\"}} 60.0"
    )));

    let ready = get(fx.app(), "/readyz").await.json();
    assert_eq!(ready["store_writable"], true);
}

/// Withdrawn findings over the API: listed under `status=withdrawn` with
/// their reason, their history says so, and `/metrics` does not count them
/// as open.
#[tokio::test]
async fn withdrawn_findings_are_served_but_not_counted_as_open() {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let kept = Scope::new(ACCOUNT, "eu-west-1");
    let retired = Scope::new(ACCOUNT, "us-east-1");
    let removed = Scope::new(ACCOUNT, "ap-south-1");
    let one = |scope: &Scope| {
        vec![Finding::new(
            "inspector-exclusions",
            "AGENT_NOT_FOUND",
            Severity::High,
            scope,
            "i-0001",
            "Agent not found",
        )]
    };
    for scope in [&kept, &retired, &removed] {
        store
            .record_evaluation(&evaluation(scope, one(scope), EvaluationStatus::Ok, 0))
            .unwrap();
    }
    // us-east-1 turns unavailable and stays so for a day.
    for at in [60, 86_400] {
        store
            .record_evaluation(&evaluation(
                &retired,
                vec![],
                EvaluationStatus::Unavailable,
                at,
            ))
            .unwrap();
    }
    let configured = [&kept, &retired]
        .into_iter()
        .map(|s| ("inspector-exclusions".to_owned(), s.clone()))
        .collect();
    let now = t0() + Duration::days(1);
    assert_eq!(
        store
            .withdraw_unconfigured(&configured, "no longer configured", now)
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .withdraw_unavailable(std::time::Duration::from_secs(3600), now)
            .unwrap(),
        1
    );
    let mut fx = fixture();
    fx.state.store = store;

    let withdrawn = get(fx.app(), "/api/v1/findings?status=withdrawn").await;
    assert_eq!(withdrawn.status, StatusCode::OK);
    let withdrawn = withdrawn.json();
    let list = withdrawn["findings"].as_array().unwrap();
    let regions: Vec<&str> = list.iter().map(|f| f["region"].as_str().unwrap()).collect();
    assert_eq!(regions, ["ap-south-1", "us-east-1"]);
    for f in list {
        assert_eq!(f["status"], "withdrawn");
        assert!(f["withdrawn_at"].is_string());
        assert!(f["resolved_at"].is_null());
    }
    assert_eq!(list[0]["withdrawn_reason"], "no longer configured");
    let reason = list[1]["withdrawn_reason"].as_str().unwrap();
    assert!(reason.contains("unavailable"), "{reason}");

    let id = list[0]["id"].as_str().unwrap();
    let detail = get(fx.app(), &format!("/api/v1/findings/{id}"))
        .await
        .json();
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["kind"], "withdrawn");
    assert_eq!(history[1]["reason"], "no longer configured");
    assert!(history[1]["evaluation_id"].is_null());
    assert!(history[0]["reason"].is_null());

    let open = get(fx.app(), "/api/v1/findings?status=open").await.json();
    assert_eq!(open["findings"].as_array().unwrap().len(), 1);

    let text = openmetrics(fx.app()).await;
    let high = |region: &str| {
        format!(
            "blindspot_findings_by_region{{rule=\"inspector-exclusions\",severity=\"high\",region=\"{region}\"}} "
        )
    };
    assert!(
        text.contains(&format!("{}1\n", high("eu-west-1"))),
        "{text}"
    );
    // Still configured: its series stays, at zero.
    assert!(
        text.contains(&format!("{}0\n", high("us-east-1"))),
        "{text}"
    );
    // No longer configured: forgotten.
    assert!(!text.contains("ap-south-1"), "{text}");
}
