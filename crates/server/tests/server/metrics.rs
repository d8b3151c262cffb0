//! `/metrics`: a golden exposition, and a parser that checks every line
//! against the exposition format. Regenerate the golden file on purpose with
//! `UPDATE_GOLDEN=1 cargo test -p blindspot-server --test server metrics`.

use crate::support::*;
use axum::http::{Method, StatusCode};
use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use blindspot_store::{SqliteStore, Store};
use chrono::Duration;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/server/golden/metrics.txt")
}

/// Samples by metric name: each with its labels and value.
type Samples = BTreeMap<String, Vec<(Vec<(String, String)>, f64)>>;

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Parses `{k="v",...}` honouring escapes; returns the labels and the rest.
fn parse_labels(s: &str) -> (Vec<(String, String)>, &str) {
    let mut labels = Vec::new();
    let body = s.strip_prefix('{').unwrap();
    let mut rest = body;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after_key) = rest.split_once("=\"").unwrap();
        let mut value = String::new();
        let mut chars = after_key.char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("unterminated label value");
            match c {
                '\\' => {
                    let (_, e) = chars.next().unwrap();
                    assert!(matches!(e, '\\' | '"' | 'n'), "bad escape \\{e}");
                    value.push(e);
                }
                '"' => break i,
                '\n' => panic!("raw newline in label value"),
                c => value.push(c),
            }
        };
        labels.push((key.to_owned(), value));
        rest = &after_key[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Checks each line against the OpenMetrics text format and returns the
/// samples as `name -> [(labels, value)]`.
fn parse_exposition(text: &str) -> Samples {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    let mut helped = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples: Samples = BTreeMap::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(valid_metric_name(name), "{line}");
            assert!(help.len() > 10 && help.ends_with('.'), "{line}");
            assert!(
                helped.insert(name.to_owned()),
                "HELP once per family: {line}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(helped.contains(name), "HELP before TYPE: {line}");
            assert!(matches!(kind, "gauge" | "counter"), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
        } else if let Some(rest) = line.strip_prefix("# UNIT ") {
            let (name, unit) = rest.split_once(' ').unwrap();
            assert!(name.ends_with(&format!("_{unit}")), "{line}");
        } else {
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let split = line.find(['{', ' ']).unwrap();
            let name = &line[..split];
            assert!(valid_metric_name(name), "{line}");
            let (labels, rest) = if line[split..].starts_with('{') {
                parse_labels(&line[split..])
            } else {
                (Vec::new(), &line[split..])
            };
            for (k, _) in &labels {
                assert!(valid_label_name(k), "label {k} in {line}");
            }
            let value: f64 = rest.strip_prefix(' ').unwrap().parse().unwrap();
            let family_type = match types.get(name) {
                Some(t) => t.clone(),
                None => {
                    let base = name.strip_suffix("_total").expect("counters end in _total");
                    types[base].clone()
                }
            };
            if family_type == "counter" {
                assert!(name.ends_with("_total"), "{line}");
            }
            samples
                .entry(name.to_owned())
                .or_default()
                .push((labels, value));
        }
    }
    samples
}

/// The exposition with the one value that differs between runs, the time
/// the scrape took, replaced by a placeholder.
fn stable(text: &str) -> String {
    text.lines()
        .map(
            |line| match line.strip_prefix("blindspot_scrape_duration_seconds ") {
                Some(value) => {
                    assert!(value.parse::<f64>().unwrap() >= 0.0);
                    "blindspot_scrape_duration_seconds <elapsed>".to_owned()
                }
                None => line.to_owned(),
            },
        )
        .map(|line| line + "\n")
        .collect()
}

/// `promtool check metrics` on the classic text format, when promtool is
/// installed (it is in CI).
fn promtool_check(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is required in CI: {err}"
            );
            eprintln!("promtool not found ({err}); skipping `promtool check metrics`");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The labels of `blindspot_build_info` in the fixture's state.
const BUILD_INFO: &[(&str, &str)] = &[
    ("version", "0.1.0-test"),
    ("commit", "0123456789ab"),
    ("build_date", "2026-11-30"),
];

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples.get(name)?.iter().find_map(|(l, v)| {
        let want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        (*l == want).then_some(*v)
    })
}

/// `blindspot_evaluations_total` of `rule` with `status`.
fn evaluations_total(samples: &Samples, rule: &str, status: &str) -> Option<f64> {
    value(
        samples,
        "blindspot_evaluations_total",
        &[("rule", rule), ("status", status)],
    )
}

/// `blindspot_aws_requests_total` of one AWS operation with `outcome`.
fn aws_requests(samples: &Samples, service: &str, operation: &str, outcome: &str) -> Option<f64> {
    value(
        samples,
        "blindspot_aws_requests_total",
        &[
            ("service", service),
            ("operation", operation),
            ("outcome", outcome),
        ],
    )
}

/// `/metrics` as Prometheus asks for it.
async fn openmetrics(app: axum::Router) -> Reply {
    request(
        app,
        Method::GET,
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
        Vec::new(),
    )
    .await
}

#[tokio::test]
async fn without_openmetrics_in_accept_the_classic_text_format_is_served() {
    let fx = fixture();
    let om = openmetrics(fx.app()).await.text();
    let reply = get(fx.app(), "/metrics").await;
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE blindspot_aws_requests_total counter"),
        "{text}"
    );
    promtool_check(&text);
    // The samples themselves are the same in both formats.
    let samples = |t: &str| -> Vec<String> {
        stable(t)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(samples(&text), samples(&om));
}

#[tokio::test]
async fn metrics_match_the_golden_exposition() {
    let reply = openmetrics(fixture().app()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = stable(&reply.text());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path(), &text).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path()).unwrap();
    assert_eq!(
        text, golden,
        "rerun with UPDATE_GOLDEN=1 to accept a change"
    );
}

#[tokio::test]
async fn metrics_parse_and_carry_the_store_data() {
    let fx = fixture();
    let text = openmetrics(fx.app()).await.text();
    let s = parse_exposition(&text);
    let eu = ("region", "eu-west-1");
    let us = ("region", "us-east-1");
    let acct = ("account", ACCOUNT);
    let exclusions = ("rule", "inspector-exclusions");

    assert_eq!(value(&s, "blindspot_build_info", BUILD_INFO), Some(1.0));
    // Names come from the directory, also for an account never evaluated;
    // other families keep the ID.
    assert_eq!(
        value(
            &s,
            "blindspot_account_info",
            &[acct, ("name", ACCOUNT_NAME)]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "blindspot_account_info",
            &[("account", NEW_ACCOUNT), ("name", "staging \"new\"")]
        ),
        Some(1.0)
    );
    // Open findings per account, over its regions: the resolved us-east-1
    // finding is not counted, and every severity is there, zeros included.
    let findings = |severity| {
        value(
            &s,
            "blindspot_findings",
            &[exclusions, ("severity", severity), acct],
        )
    };
    assert_eq!(findings("high"), Some(1.0));
    assert_eq!(findings("low"), Some(0.0));
    assert_eq!(findings("critical"), Some(0.0));
    // ... and per region, over accounts.
    let by_region = |severity, region| {
        value(
            &s,
            "blindspot_findings_by_region",
            &[exclusions, ("severity", severity), region],
        )
    };
    assert_eq!(by_region("high", eu), Some(1.0));
    assert_eq!(by_region("high", us), Some(0.0));
    assert_eq!(by_region("low", us), Some(0.0));
    assert_eq!(
        s["blindspot_findings"].len(),
        3 * 5,
        "(rule, account) × severity"
    );
    assert_eq!(
        s["blindspot_findings_by_region"].len(),
        4 * 5,
        "(rule, region) × severity"
    );
    // The latest us-east-1 evaluation failed: the last success is the older one.
    let at = value(
        &s,
        "blindspot_evaluation_last_success_timestamp_seconds",
        &[exclusions, acct, us],
    )
    .unwrap();
    assert_eq!(at, (t0().timestamp() - 900) as f64);
    assert_eq!(
        value(
            &s,
            "blindspot_evaluation_last_success_timestamp_seconds",
            &[("rule", "inspector2-coverage"), acct, eu]
        ),
        None,
        "never succeeded: no timestamp"
    );
    assert_eq!(
        value(
            &s,
            "blindspot_evaluation_duration_seconds",
            &[exclusions, acct]
        ),
        Some(1.5)
    );
    assert_eq!(
        value(
            &s,
            "blindspot_evaluation_consecutive_failures",
            &[exclusions, acct]
        ),
        Some(1.0),
        "the most over the account's regions"
    );
    // One status series per scope, labelled with its latest status.
    let status = |rule, region, status| {
        value(
            &s,
            "blindspot_evaluation_status",
            &[("rule", rule), acct, region, ("status", status)],
        )
    };
    assert_eq!(status("inspector2-coverage", eu, "unavailable"), Some(1.0));
    assert_eq!(status("inspector2-coverage", eu, "ok"), None);
    assert_eq!(status("inspector-exclusions", us, "error"), Some(1.0));
    assert_eq!(status("inspector-exclusions", eu, "ok"), Some(1.0));
    assert_eq!(s["blindspot_evaluation_status"].len(), 4, "one per scope");
    assert_eq!(
        evaluations_total(&s, "inspector-exclusions", "error"),
        Some(1.0)
    );
    assert_eq!(
        evaluations_total(&s, "inspector2-coverage", "ok"),
        Some(0.0),
        "known rules start at zero"
    );
    assert_eq!(aws_requests(&s, "ssm", "ListAssociations", "ok"), Some(2.0));
    assert_eq!(
        aws_requests(&s, "inspector2", "ListCoverage", "throttled"),
        Some(1.0)
    );
    // Measurements per account, their regions folded.
    let association = ("association", "InspectorLinuxDistributor-do-not-delete");
    assert_eq!(
        value(
            &s,
            "blindspot_association_interval_seconds",
            &[association, acct]
        ),
        Some(43200.0)
    );
    assert_eq!(
        value(
            &s,
            "blindspot_association_last_execution_timestamp_seconds",
            &[association, acct]
        ),
        Some(1_795_000_000.5)
    );
    // Unknown names and labels are sanitized; values are escaped.
    assert_eq!(
        value(&s, "blindspot_custom_thing", &[("odd_label", "a\"b"), acct]),
        Some(7.0)
    );
    // The HELP text comes from the rule's declared MeasurementMeta, and
    // says how regions are folded.
    assert!(text.contains(
        "# HELP blindspot_association_interval_seconds Effective interval between scheduled runs of an Inspector v2 SSM State Manager association, in seconds. Cached from the last evaluation. The largest value over each account's regions.\n"
    ));
    assert!(text.contains(
        "# HELP blindspot_custom_thing Measurement custom_thing reported by a blindspot rule. Cached from the last evaluation. The largest value over each account's regions.\n"
    ));
    for line in text.lines().filter(|l| l.starts_with("# HELP")) {
        let help_ok = line.contains("last evaluation")
            || line.contains("since the daemon started")
            || line.contains("this scrape")
            || line.contains("version");
        assert!(help_ok, "HELP says where the value comes from: {line}");
    }
    // Region labels only where the family is per region.
    for (name, series) in &s {
        let per_region = matches!(
            name.as_str(),
            "blindspot_findings_by_region"
                | "blindspot_evaluation_status"
                | "blindspot_evaluation_last_success_timestamp_seconds"
        );
        for (labels, _) in series {
            assert_eq!(
                labels.iter().any(|(k, _)| k == "region"),
                per_region,
                "{name} {labels:?}"
            );
        }
    }
    // No per-instance or per-finding labels.
    assert!(!text.contains("i-0abc"));
}

/// The cardinality budget: the series of an organisation-shaped store,
/// counted in the real exposition at two small sizes, follow the formula of
/// docs/dashboard.md exactly, and that formula at 300 accounts × 17 regions
/// stays under 50k series.
#[tokio::test]
async fn the_series_count_follows_the_budget_formula() {
    use crate::org::{self, Shape};
    const BUDGET: usize = 50_000;
    for shape in [
        Shape {
            accounts: 5,
            regions: 4,
        },
        Shape {
            accounts: 9,
            regions: 6,
        },
    ] {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        org::seed(store.as_ref(), shape).unwrap();
        let mut fx = fixture();
        fx.state.store = store;
        fx.state.control = Arc::new(org::OrgControl);
        fx.state.accounts = org::account_names(shape);
        fx.state.calls = blindspot_core::CallCounter::default();
        fx.state.evaluations = blindspot_server::EvaluationCounter::default();
        let text = openmetrics(fx.app()).await.text();
        let s = parse_exposition(&text);
        let series: usize = s.values().map(Vec::len).sum();
        assert_eq!(series, shape.expected_series(), "{shape:?}:\n{text}");
        promtool_check(&get(fx.app(), "/metrics").await.text());

        // What the folding kept: sums over regions, the worst region, and
        // no zero counts.
        let first = shape.account(1);
        let acct = ("account", first.as_str());
        let regions = shape.regions as f64;
        let reason = |r| value(&s, "blindspot_coverage_resources", &[("reason", r), acct]);
        assert_eq!(reason("SUCCESSFUL"), Some(17.0 * regions));
        assert_eq!(reason("OTHER_REASON_00"), None, "a zero count");
        assert_eq!(
            value(
                &s,
                "blindspot_coverage_scanning_enabled",
                &[("scan", "lambda_code"), acct]
            ),
            Some(0.0),
            "off in one region is off"
        );
        assert_eq!(
            value(
                &s,
                "blindspot_findings",
                &[("rule", org::COVERAGE), ("severity", "high"), acct]
            ),
            Some(2.0 * regions)
        );
        assert_eq!(
            value(
                &s,
                "blindspot_findings_by_region",
                &[
                    ("rule", org::COVERAGE),
                    ("severity", "high"),
                    ("region", &shape.region(0))
                ]
            ),
            Some(2.0 * shape.accounts as f64)
        );
        assert_eq!(
            value(
                &s,
                "blindspot_account_info",
                &[acct, ("name", "workload-001")]
            ),
            Some(1.0)
        );
        let home = shape.account(0);
        assert_eq!(
            value(
                &s,
                "blindspot_evaluation_consecutive_failures",
                &[("rule", org::EXCLUSIONS), ("account", &home)]
            ),
            Some(1.0)
        );
    }
    let full = Shape::ORGANISATION.expected_series();
    assert!(
        full <= BUDGET,
        "{full} series at 300 accounts × 17 regions, over the {BUDGET} budget"
    );
}

fn evaluation(
    rule: &str,
    scope: &Scope,
    status: EvaluationStatus,
    at: i64,
    findings: Vec<Finding>,
) -> Evaluation {
    Evaluation {
        rule: rule.to_owned(),
        scope: scope.clone(),
        status,
        error: (status != EvaluationStatus::Ok).then(|| "ThrottlingException".to_owned()),
        started_at: t0() + Duration::seconds(at) - Duration::milliseconds(500),
        finished_at: t0() + Duration::seconds(at),
        findings,
        measurements: vec![Measurement::new("exclusions_read", &[], 1.0)],
        counts: Default::default(),
    }
}

/// Two scopes × 600 evaluations, one failing for its last 550: far more
/// than the 500 most recent evaluations of the rule an older /metrics
/// searched. Its last success is still exported, also after retention has
/// pruned every evaluation; a scope that never succeeded shows its status
/// and failures, and no made-up last success.
#[tokio::test]
async fn a_long_failing_scope_keeps_its_last_success() {
    const RULE: &str = "inspector-exclusions";
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    // One account each, as consecutive failures are the most over an
    // account's regions.
    let failing = Scope::new(ACCOUNT, "eu-west-1");
    let healthy = Scope::new("333333333333", "us-east-1");
    let never = Scope::new("444444444444", "ap-south-1");
    for i in 0..600 {
        let status = if i < 50 {
            EvaluationStatus::Ok
        } else {
            EvaluationStatus::Error
        };
        store
            .record_evaluation(&evaluation(RULE, &failing, status, i * 60, vec![]))
            .unwrap();
        store
            .record_evaluation(&evaluation(
                RULE,
                &healthy,
                EvaluationStatus::Ok,
                i * 60 + 1,
                vec![],
            ))
            .unwrap();
    }
    for i in 0..3 {
        store
            .record_evaluation(&evaluation(
                RULE,
                &never,
                EvaluationStatus::Error,
                i,
                vec![],
            ))
            .unwrap();
    }
    let mut fx = fixture();
    fx.state.store = store.clone();

    let check = |text: &str| {
        let s = parse_exposition(text);
        fn scope(sc: &Scope) -> [(&'static str, &str); 3] {
            [
                ("rule", RULE),
                ("account", sc.account.as_str()),
                ("region", sc.region.as_str()),
            ]
        }
        fn account(sc: &Scope) -> [(&'static str, &str); 2] {
            [("rule", RULE), ("account", sc.account.as_str())]
        }
        let last_success = "blindspot_evaluation_last_success_timestamp_seconds";
        let failures = "blindspot_evaluation_consecutive_failures";
        assert_eq!(
            value(&s, last_success, &scope(&failing)),
            Some((t0().timestamp() + 49 * 60) as f64)
        );
        assert_eq!(value(&s, failures, &account(&failing)), Some(550.0));
        assert_eq!(
            value(&s, last_success, &scope(&healthy)),
            Some((t0().timestamp() + 599 * 60 + 1) as f64)
        );
        assert_eq!(value(&s, failures, &account(&healthy)), Some(0.0));
        assert_eq!(value(&s, last_success, &scope(&never)), None);
        assert_eq!(value(&s, failures, &account(&never)), Some(3.0));
        let mut error = scope(&never).to_vec();
        error.push(("status", "error"));
        assert_eq!(value(&s, "blindspot_evaluation_status", &error), Some(1.0));
        assert_eq!(value(&s, "blindspot_store_up", &[]), Some(1.0));
    };
    let reply = openmetrics(fx.app()).await;
    assert_eq!(reply.status, StatusCode::OK);
    check(&reply.text());

    // Retention prunes every evaluation; the health stays.
    let far = t0() + Duration::days(365);
    store.prune(far, far).unwrap();
    assert!(store.evaluations(None, 10).unwrap().is_empty());
    let text = openmetrics(fx.app()).await.text();
    check(&text);
    // The measurements came from the pruned evaluations.
    assert!(!text.contains("blindspot_exclusions_read"), "{text}");
}

/// The store cannot be read: /metrics still answers 200 with the in-process
/// counters, says `blindspot_store_up 0`, counts the failed read, and leaves
/// out what it could not read, in a format promtool accepts.
#[tokio::test]
async fn metrics_are_served_when_the_store_cannot_be_read() {
    let store = Arc::new(FailingReads::new(SqliteStore::open_in_memory().unwrap()));
    let scope = Scope::new(ACCOUNT, "eu-west-1");
    let finding = Finding::new(
        "inspector-exclusions",
        "AGENT_NOT_FOUND",
        Severity::High,
        &scope,
        "i-0abc",
        "Agent not found",
    );
    store
        .record_evaluation(&evaluation(
            "inspector-exclusions",
            &scope,
            EvaluationStatus::Ok,
            0,
            vec![finding],
        ))
        .unwrap();
    let mut fx = fixture();
    fx.state.store = store.clone();
    // The binary's hook, after a write the store refused.
    fx.state
        .evaluations
        .record_write_failure("inspector2-coverage");

    let readable = parse_exposition(&openmetrics(fx.app()).await.text());
    assert_eq!(value(&readable, "blindspot_store_up", &[]), Some(1.0));
    assert!(readable.contains_key("blindspot_findings"));
    assert!(readable.contains_key("blindspot_exclusions_read"));

    store.failing.store(true, Ordering::SeqCst);
    let reply = openmetrics(fx.app()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text();
    let s = parse_exposition(&text);
    assert_eq!(value(&s, "blindspot_store_up", &[]), Some(0.0));
    assert_eq!(value(&s, "blindspot_build_info", BUILD_INFO), Some(1.0));
    // Names come from the daemon's directory, not from the store.
    assert_eq!(
        value(
            &s,
            "blindspot_account_info",
            &[("account", ACCOUNT), ("name", ACCOUNT_NAME)]
        ),
        Some(1.0)
    );
    assert_eq!(
        evaluations_total(&s, "inspector-exclusions", "ok"),
        Some(1.0)
    );
    assert_eq!(
        evaluations_total(&s, "inspector2-coverage", "write_failed"),
        Some(1.0),
        "a failed write is counted as such"
    );
    assert_eq!(
        evaluations_total(&s, "inspector2-coverage", "ok"),
        Some(0.0),
        "and not as a successful evaluation"
    );
    assert_eq!(aws_requests(&s, "ssm", "ListAssociations", "ok"), Some(2.0));
    let errors = |op| value(&s, "blindspot_store_errors_total", &[("operation", op)]);
    assert_eq!(errors("read"), Some(1.0));
    assert_eq!(errors("record_evaluation"), Some(1.0));
    assert_eq!(errors("check_writable"), Some(0.0));
    assert!(value(&s, "blindspot_scrape_duration_seconds", &[]).is_some());
    for absent in [
        "blindspot_findings",
        "blindspot_findings_by_region",
        "blindspot_evaluation_status",
        "blindspot_evaluation_duration_seconds",
        "blindspot_evaluation_last_success_timestamp_seconds",
        "blindspot_evaluation_consecutive_failures",
        "blindspot_exclusions_read",
    ] {
        assert!(!s.contains_key(absent), "{absent} without a store");
        assert!(!text.contains(&format!("# HELP {absent} ")), "{absent}");
    }
    assert!(!text.contains("malformed"), "the detail is only logged");

    // The classic format too, and promtool accepts it.
    let classic = get(fx.app(), "/metrics").await;
    assert_eq!(classic.status, StatusCode::OK);
    let classic = classic.text();
    assert!(classic.contains("blindspot_store_up 0\n"), "{classic}");
    assert!(classic.contains("# TYPE blindspot_store_errors_total counter"));
    promtool_check(&classic);

    // Readable again: everything is back, and the failures stay counted.
    store.failing.store(false, Ordering::SeqCst);
    let s = parse_exposition(&openmetrics(fx.app()).await.text());
    assert_eq!(value(&s, "blindspot_store_up", &[]), Some(1.0));
    assert!(s.contains_key("blindspot_findings"));
    assert_eq!(
        value(&s, "blindspot_store_errors_total", &[("operation", "read")]),
        Some(2.0),
        "the two failed scrapes"
    );
}
