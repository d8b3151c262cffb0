//! The JSON API, health, readiness, the dashboard and every 4xx path.

use crate::support::*;
use axum::http::{Method, StatusCode};
use std::sync::atomic::Ordering;

#[tokio::test]
async fn healthz_is_ok() {
    let reply = get(fixture().app(), "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_turns_ready_once_every_rule_has_finished() {
    let fx = fixture();
    let reply = get(fx.app(), "/readyz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["store_writable"], true);
    assert_eq!(
        body["pending_rules"],
        serde_json::json!(["inspector2-coverage"])
    );
    assert!(body["reasons"][0]
        .as_str()
        .unwrap()
        .contains("inspector2-coverage"));

    fx.control.rules.lock().unwrap()[2].last_finished = Some(t0());
    let reply = get(fx.app(), "/readyz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ready");

    fx.store.read_only.store(true, Ordering::SeqCst);
    let reply = get(fx.app(), "/readyz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_eq!(body["store_writable"], false);
    assert_eq!(body["pending_rules"], serde_json::json!([]));
    assert_eq!(
        body["reasons"],
        serde_json::json!(["the store is not writable"])
    );
    assert!(
        !reply.text().contains("readonly database"),
        "store detail stays in the log"
    );
}

#[tokio::test]
async fn findings_list_filters() {
    let fx = fixture();
    let all = get(fx.app(), "/api/v1/findings").await;
    assert_eq!(all.status, StatusCode::OK);
    let body = all.json();
    assert_eq!(body["findings"].as_array().unwrap().len(), 3);
    assert!(body["next_cursor"].is_null());

    let open = get(fx.app(), "/api/v1/findings?status=open&severity=high")
        .await
        .json();
    let open = open["findings"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["code"], "AGENT_NOT_FOUND");
    assert_eq!(open[0]["status"], "open");
    assert_eq!(open[0]["resource"], "i-0abc");
    assert!(open[0]["remediation"]
        .as_str()
        .unwrap()
        .starts_with("aws ssm"));

    let by_region = get(
        fx.app(),
        &format!("/api/v1/findings?region=us-east-1&account={ACCOUNT}&rule=inspector-exclusions"),
    )
    .await
    .json();
    assert_eq!(by_region["findings"].as_array().unwrap().len(), 1);
    assert_eq!(by_region["findings"][0]["status"], "resolved");

    // Empty values are "no filter", as an HTML form sends them.
    let empty = get(fx.app(), "/api/v1/findings?status=&severity=&rule=")
        .await
        .json();
    assert_eq!(empty["findings"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn findings_paginate_with_the_store_cursor() {
    let fx = fixture();
    let mut seen = Vec::new();
    let mut uri = "/api/v1/findings?limit=1".to_owned();
    loop {
        let page = get(fx.app(), &uri).await.json();
        let findings = page["findings"].as_array().unwrap();
        assert_eq!(findings.len(), 1);
        seen.push(findings[0]["id"].as_str().unwrap().to_owned());
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/findings?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    seen.dedup();
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn findings_reject_bad_parameters_by_name() {
    let fx = fixture();
    let long_cursor = "x".repeat(600);
    let cases = [
        ("status=closed", "status"),
        ("severity=severe", "severity"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("cursor=bogus", "cursor"),
        (&*format!("cursor={long_cursor}"), "cursor"),
        ("account=12345", "account"),
        ("region=EU_WEST_1", "region"),
        ("rule=a%20b", "rule"),
    ];
    for (query, param) in cases {
        let reply = get(fx.app(), &format!("/api/v1/findings?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        let (code, message) = reply.error();
        assert_eq!(code, "invalid_parameter", "{query}");
        assert!(
            message.contains(&format!("`{param}`")),
            "{query}: {message}"
        );
    }
    let reply = get(fx.app(), "/api/v1/findings?stauts=open").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (code, message) = reply.error();
    assert_eq!(code, "bad_request");
    assert!(message.contains("stauts"), "{message}");
}

#[tokio::test]
async fn finding_by_id() {
    let fx = fixture();
    let id = fx.store.findings.lock().unwrap()[0].finding.id.clone();
    let reply = get(fx.app(), &format!("/api/v1/findings/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["title"], "Agent not found");
    assert_eq!(body["first_seen"], "2026-11-21T05:00:00Z");
    assert_eq!(body["history"][0]["kind"], "opened");
    assert_eq!(body["history"][0]["at"], "2026-11-21T05:00:00Z");

    let reply = get(fx.app(), "/api/v1/findings/00000000000000000000").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error().0, "not_found");

    let long = "a".repeat(200);
    let reply = get(fx.app(), &format!("/api/v1/findings/{long}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rules_show_schedule_status_and_latest_evaluations() {
    let fx = fixture();
    let reply = get(fx.app(), "/api/v1/rules").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    let rules = body["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    let exclusions = &rules[0];
    assert_eq!(exclusions["id"], "inspector-exclusions");
    assert_eq!(exclusions["interval_seconds"], 900);
    assert_eq!(exclusions["timeout_seconds"], 120);
    assert_eq!(exclusions["status"], "error");
    assert_eq!(exclusions["next_run"], "2026-11-22T05:15:03Z");
    let evaluations = exclusions["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 2, "one per region: the latest");
    assert_eq!(evaluations[0]["region"], "eu-west-1");
    assert_eq!(evaluations[1]["region"], "us-east-1");
    assert_eq!(evaluations[1]["status"], "error");
    assert_eq!(evaluations[1]["error"], "error in us-east-1");
    assert_eq!(rules[1]["status"], "ok");
    assert_eq!(rules[2]["status"], "degraded");
    assert!(rules[2]["last_finished"].is_null());
    assert_eq!(
        exclusions["scopes"],
        serde_json::json!({"total": 2, "ok": 1, "error": 1, "unavailable": 0})
    );
    assert_eq!(exclusions["measurements"][0]["across_regions"], "max");
    assert_eq!(exclusions["reach"], "account");

    // Only the scopes that are not ok, or none: the counts stay whole.
    let problems = get(fx.app(), "/api/v1/rules?evaluations=problems")
        .await
        .json();
    let listed = |body: &serde_json::Value, i: usize| -> Vec<String> {
        body["rules"][i]["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["region"].as_str().unwrap(),
                    e["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(listed(&problems, 0), ["us-east-1/error"]);
    assert!(listed(&problems, 1).is_empty());
    assert_eq!(listed(&problems, 2), ["eu-west-1/unavailable"]);
    assert_eq!(problems["rules"][0]["scopes"]["total"], 2);
    assert_eq!(problems["rules"][0]["status"], "error");
    let none = get(fx.app(), "/api/v1/rules?evaluations=none").await.json();
    assert!(listed(&none, 0).is_empty());
    assert_eq!(none["rules"][0]["scopes"]["error"], 1);
    let all = get(fx.app(), "/api/v1/rules?evaluations=all").await.json();
    assert_eq!(listed(&all, 0).len(), 2);
    for query in ["evaluations=failing", "scope=all"] {
        let reply = get(fx.app(), &format!("/api/v1/rules?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }
}

#[tokio::test]
async fn evaluations_newest_first_with_rule_and_limit() {
    let fx = fixture();
    let body = get(fx.app(), "/api/v1/evaluations").await.json();
    let all = body["evaluations"].as_array().unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0]["id"], 3);

    let body = get(
        fx.app(),
        "/api/v1/evaluations?rule=inspector-exclusions&limit=2",
    )
    .await
    .json();
    let some = body["evaluations"].as_array().unwrap();
    assert_eq!(some.len(), 2);
    assert!(some.iter().all(|e| e["rule"] == "inspector-exclusions"));

    for query in ["limit=0", "limit=5000", "rule=%3Cscript%3E"] {
        let reply = get(fx.app(), &format!("/api/v1/evaluations?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.error().0, "invalid_parameter");
    }
    let reply = get(fx.app(), "/api/v1/evaluations?status=ok").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

/// Every object with an `account` carries the name the directory gives it,
/// or null; the name follows the directory without any new evaluation.
#[tokio::test]
async fn every_account_comes_with_its_name() {
    let fx = fixture();
    let findings = get(fx.app(), "/api/v1/findings").await.json();
    for f in findings["findings"].as_array().unwrap() {
        assert_eq!(f["account"], ACCOUNT);
        assert_eq!(f["account_name"], ACCOUNT_NAME, "{f}");
    }
    let id = findings["findings"][0]["id"].as_str().unwrap().to_owned();
    let one = get(fx.app(), &format!("/api/v1/findings/{id}"))
        .await
        .json();
    assert_eq!(one["account_name"], ACCOUNT_NAME);
    assert!(one["history"].is_array());

    let rules = get(fx.app(), "/api/v1/rules").await.json();
    for rule in rules["rules"].as_array().unwrap() {
        for e in rule["evaluations"].as_array().unwrap() {
            assert_eq!(e["account_name"], ACCOUNT_NAME, "{e}");
        }
    }
    let evaluations = get(fx.app(), "/api/v1/evaluations").await.json();
    for e in evaluations["evaluations"].as_array().unwrap() {
        assert_eq!(e["account_name"], ACCOUNT_NAME, "{e}");
    }

    // Renamed, then forgotten: the next answer says so.
    fx.state.accounts.insert(ACCOUNT, "prod-renamed");
    let findings = get(fx.app(), "/api/v1/findings?limit=1").await.json();
    assert_eq!(findings["findings"][0]["account_name"], "prod-renamed");
    fx.state.accounts.replace_all(Default::default());
    let findings = get(fx.app(), "/api/v1/findings?limit=1").await.json();
    assert!(findings["findings"][0]["account_name"].is_null());
    assert_eq!(findings["findings"][0]["account"], ACCOUNT);
    let evaluations = get(fx.app(), "/api/v1/evaluations?limit=1").await.json();
    assert!(evaluations["evaluations"][0]["account_name"].is_null());
}

#[tokio::test]
async fn accounts_list_names_health_and_open_findings() {
    let fx = fixture();
    let reply = get(fx.app(), "/api/v1/accounts").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        serde_json::json!({"accounts": [
            {
                "account": ACCOUNT,
                "account_name": ACCOUNT_NAME,
                // us-east-1's latest exclusions evaluation failed.
                "status": "error",
                "scopes": {"total": 4, "ok": 2, "error": 1, "unavailable": 1},
                "open_findings": {"critical": 0, "high": 1, "medium": 1, "low": 0, "info": 0},
            },
            {
                "account": NEW_ACCOUNT,
                "account_name": "staging \"new\"",
                "status": "pending",
                "scopes": {"total": 0, "ok": 0, "error": 0, "unavailable": 0},
                "open_findings": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            },
        ]})
    );

    // An account the store has evaluated but nobody named is listed too.
    fx.state.accounts.replace_all(Default::default());
    let body = get(fx.app(), "/api/v1/accounts").await.json();
    let accounts = body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["account"], ACCOUNT);
    assert!(accounts[0]["account_name"].is_null());

    fx.store.broken.store(true, Ordering::SeqCst);
    let reply = get(fx.app(), "/api/v1/accounts").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !reply.text().contains("secret.db"),
        "detail stays in the log"
    );
}

async fn post_run(fx: &Fixture, rule: &str, auth: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    request(
        fx.app(),
        Method::POST,
        &format!("/api/v1/rules/{rule}/run"),
        &headers,
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn run_now_is_disabled_without_a_configured_token() {
    let fx = fixture();
    let reply = post_run(&fx, "inspector-exclusions", Some("Bearer anything")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error().0, "forbidden");
    assert!(fx.control.runs.lock().unwrap().is_empty());

    // An empty configured token would accept `Bearer `; it disables POST too.
    let mut fx = fixture();
    fx.state.api_token = Some("  ".into());
    let reply = post_run(&fx, "inspector-exclusions", Some("Bearer ")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn run_now_requires_the_right_bearer_token() {
    let fx = fixture().with_token();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some(&*format!("Basic {TOKEN}")),
        Some(&*format!("Bearer {TOKEN}x")),
    ] {
        let reply = post_run(&fx, "inspector-exclusions", auth).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.error().0, "unauthorized");
        assert!(reply
            .headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert!(!reply.text().contains(TOKEN));
        assert!(!reply.text().contains("wrong"));
    }
    // Unauthenticated callers cannot probe which rules exist.
    let reply = post_run(&fx, "no-such-rule", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(fx.control.runs.lock().unwrap().is_empty());

    let bearer = format!("Bearer {TOKEN}");
    let reply = post_run(&fx, "inspector-exclusions", Some(&bearer)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(
        reply.json(),
        serde_json::json!({"status": "accepted", "rule": "inspector-exclusions"})
    );
    assert!(!reply.text().contains(TOKEN));
    assert_eq!(
        *fx.control.runs.lock().unwrap(),
        vec!["inspector-exclusions".to_owned()]
    );

    let reply = post_run(&fx, "no-such-rule", Some(&bearer)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error().0, "not_found");

    let reply = post_run(&fx, "bad%20id", Some(&bearer)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (code, message) = reply.error();
    assert_eq!(code, "invalid_parameter");
    assert!(message.contains("`id`"), "{message}");

    fx.control.shutting_down.store(true, Ordering::SeqCst);
    let reply = post_run(&fx, "inspector-exclusions", Some(&bearer)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error().0, "unavailable");
}

#[tokio::test]
async fn oversized_bodies_are_rejected_with_json() {
    let fx = fixture().with_token();
    let reply = request(
        fx.app(),
        Method::POST,
        "/api/v1/rules/inspector-exclusions/run",
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-length", "70000"),
        ],
        vec![b'x'; 70_000],
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error().0, "payload_too_large");
    assert!(fx.control.runs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_json() {
    let fx = fixture();
    let reply = get(fx.app(), "/api/v1/nothing").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let (code, message) = reply.error();
    assert_eq!(code, "not_found");
    assert!(message.contains("/api/v1/nothing"));

    let reply = request(fx.app(), Method::POST, "/healthz", &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error().0, "method_not_allowed");
    assert!(reply
        .headers
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("GET"));

    let reply = get(fx.app(), "/api/v1/rules/inspector-exclusions/run").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error().0, "method_not_allowed");

    let reply = request(
        fx.app(),
        Method::DELETE,
        "/api/v1/findings",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn store_failures_are_generic_500s() {
    let fx = fixture();
    fx.store.broken.store(true, Ordering::SeqCst);
    for uri in ["/api/v1/findings", "/api/v1/rules", "/api/v1/evaluations"] {
        let reply = get(fx.app(), uri).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        let (code, message) = reply.error();
        assert_eq!(code, "internal_error");
        assert!(
            !message.contains("secret.db"),
            "detail is only logged: {message}"
        );
    }
    // Liveness does not depend on the store.
    assert_eq!(get(fx.app(), "/healthz").await.status, StatusCode::OK);
    // Metrics never fail (see tests/server/metrics.rs), and count each
    // failed read above, plus their own.
    let metrics = get(fx.app(), "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text();
    assert!(text.contains("blindspot_store_up 0\n"), "{text}");
    assert!(
        text.contains("blindspot_store_errors_total{operation=\"read\"} 4\n"),
        "{text}"
    );
    assert!(!text.contains("secret.db"));
    // The readiness probe's failed write check is counted as such.
    assert_eq!(
        get(fx.app(), "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let text = get(fx.app(), "/metrics").await.text();
    assert!(
        text.contains("blindspot_store_errors_total{operation=\"check_writable\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_json() {
    let fx = fixture();
    fx.store.slow.store(true, Ordering::SeqCst);
    let config = blindspot_server::ServerConfig {
        request_timeout: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let app = blindspot_server::app_with_config(fx.state.clone(), &config);
    let reply = get(app, "/api/v1/findings").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error().0, "unavailable");
}

#[tokio::test]
async fn dashboard_is_self_contained_html() {
    let reply = get(fixture().app(), "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("connect-src 'self'"));
    let html = reply.text();
    assert!(html.contains("/api/v1/findings"));
    assert!(html.contains("/api/v1/rules?evaluations=problems"));
    assert!(html.contains("/api/v1/accounts"));
    for external in ["src=\"http", "href=\"http", "@import", "<link"] {
        assert!(!html.contains(external), "no external assets: {external}");
    }
    assert!(
        !html.contains("innerHTML"),
        "data is never assigned as markup"
    );
}
