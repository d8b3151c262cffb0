//! Handlers: health, readiness, metrics, the JSON API and the dashboard page.
//!
//! Store calls are synchronous (SQLite) and run on the blocking pool so a slow
//! disk never stalls the async workers that answer `/healthz`. A failed store
//! call is counted in [`StoreErrorCounter`] (exported by `/metrics`).

use crate::accounts::name_in;
use crate::auth::require_token;
use crate::error::ApiError;
use crate::metrics;
use crate::{AppState, StoreErrorCounter};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use blindspot_core::{EvaluationStatus, RuleMeta, Severity};
use blindspot_engine::{EngineError, RuleState};
use blindspot_store::{
    EvaluationRecord, FindingEvent, FindingQuery, FindingStatus, Store, StoreError, StoredFinding,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The default and maximum page sizes of list endpoints.
const DEFAULT_FINDINGS_LIMIT: usize = 100;
const DEFAULT_EVALUATIONS_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
/// Cursors are opaque but short; a longer one is not one the store issued.
const MAX_CURSOR_LEN: usize = 512;
const MAX_ID_LEN: usize = 128;

const DASHBOARD: &str = include_str!("dashboard.html");

/// How long a scrape waits for the store before it answers without the
/// store's families: below the request timeout (10 s in `ServerConfig`'s
/// default), so the scrape still gets its in-process counters and
/// `blindspot_store_up 0` rather than a timeout.
const METRICS_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a store read on the blocking pool and maps its errors.
async fn with_store<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    with_store_as(state, StoreErrorCounter::READ, f).await
}

/// Runs a store call on the blocking pool, maps its errors, and counts a
/// failure under `operation` (a bad cursor is the client's, not the store's).
async fn with_store_as<T, F>(state: &AppState, operation: &'static str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = state.store.clone();
    let joined = tokio::task::spawn_blocking(move || f(store.as_ref())).await;
    let failed = |detail: String| {
        state.evaluations.store_errors().record(operation);
        ApiError::Internal(detail)
    };
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(StoreError::InvalidCursor)) => Err(ApiError::invalid(
            "cursor",
            "not a cursor returned by a previous page",
        )),
        Ok(Err(err)) => Err(failed(err.to_string())),
        Err(join) => Err(failed(format!("store task failed: {join}"))),
    }
}

pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness body, also used for the 503.
#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    store_writable: bool,
    pending_rules: Vec<&'static str>,
    reasons: Vec<String>,
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let writable = match with_store_as(&state, StoreErrorCounter::CHECK_WRITABLE, |s| {
        s.check_writable()
    })
    .await
    {
        Ok(()) => true,
        Err(err) => {
            // The detail (a path, an SQLite message) goes to the log only.
            tracing::warn!(error = %err, "readiness: store is not writable");
            false
        }
    };
    let pending: Vec<&'static str> = state
        .control
        .rules()
        .iter()
        .filter(|r| r.last_finished.is_none())
        .map(|r| r.meta.id)
        .collect();
    let mut reasons = Vec::new();
    if !writable {
        reasons.push("the store is not writable".to_owned());
    }
    if !pending.is_empty() {
        reasons.push(format!(
            "rules without a completed evaluation: {}",
            pending.join(", ")
        ));
    }
    let ready = reasons.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        store_writable: writable,
        pending_rules: pending,
        reasons,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `/metrics` always answers 200: when the store cannot be read (an error,
/// a panic, or no answer within [`METRICS_STORE_TIMEOUT`]) it serves the
/// in-process families with `blindspot_store_up 0`, because those counters
/// matter most exactly when the store is in trouble.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    // Prometheus asks for OpenMetrics in its Accept header; everything else
    // (curl, promtool, older servers) gets the classic text format.
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let started = Instant::now();
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || metrics::gather_from_store(store.as_ref()));
    let gathered = match tokio::time::timeout(METRICS_STORE_TIMEOUT, read).await {
        Ok(Ok(Ok(data))) => Ok(data),
        Ok(Ok(Err(err))) => Err(err.to_string()),
        Ok(Err(join)) => Err(format!("the store read failed: {join}")),
        Err(_) => Err(format!(
            "the store did not answer within {}s",
            METRICS_STORE_TIMEOUT.as_secs()
        )),
    };
    let scrape_seconds = started.elapsed().as_secs_f64();
    let store_errors = state.evaluations.store_errors();
    let store = match gathered {
        Ok(data) => Some(data),
        Err(detail) => {
            tracing::warn!(error = %detail, "metrics: cannot read the store; serving in-process metrics only");
            store_errors.record(StoreErrorCounter::READ);
            None
        }
    };
    let rules = state.control.rules();
    let input = metrics::MetricsInput {
        version: state.version.to_owned(),
        commit: state.commit.to_owned(),
        build_date: state.build_date.to_owned(),
        rule_ids: rules.iter().map(|r| r.meta.id.to_owned()).collect(),
        // Rules declare their measurements' HELP texts and how their regions
        // fold into one value per account; the server names no rule. The
        // first declaration of a name wins.
        measurements: rules
            .iter()
            .flat_map(|r| r.meta.measurements)
            .rev()
            .map(|m| {
                (
                    metrics::sanitize_metric_name(m.name),
                    metrics::MeasurementInfo {
                        help: m.help.to_owned(),
                        across_regions: m.across_regions,
                    },
                )
            })
            .collect(),
        account_names: state.accounts.snapshot(),
        store,
        scrape_seconds,
        evaluations: state.evaluations.snapshot(),
        store_errors: store_errors.snapshot(),
        calls: state.calls.snapshot(),
    };
    // Writing into a String cannot fail; should the encoder ever report an
    // error, the scrape still answers rather than hiding the counters.
    let text = metrics::render(&input).unwrap_or_else(|err| {
        tracing::error!("encoding metrics failed: {err}");
        String::new()
    });
    let (content_type, text) = if openmetrics {
        (metrics::CONTENT_TYPE, text)
    } else {
        (
            metrics::TEXT_CONTENT_TYPE,
            metrics::to_prometheus_text(&text),
        )
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        text,
    )
        .into_response()
}

pub(crate) async fn dashboard() -> Response {
    let mut response = Html(DASHBOARD).into_response();
    let headers = response.headers_mut();
    // The page is self-contained: it may only talk to this origin, and loads
    // nothing else, so injected markup could not exfiltrate anything.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Query of `GET /api/v1/findings`. Values arrive as strings so each can be
/// rejected with a message naming the parameter; unknown parameters are an
/// error because a misspelt filter would otherwise silently match everything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindingsParams {
    status: Option<String>,
    rule: Option<String>,
    severity: Option<String>,
    region: Option<String>,
    account: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// An empty value (`?status=`) means "no filter", as an HTML form sends it.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn parse_limit(value: Option<String>, default: usize) -> Result<usize, ApiError> {
    let Some(raw) = present(value) else {
        return Ok(default);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "limit",
            format!("must be an integer from 1 to {MAX_LIMIT}"),
        )),
    }
}

fn parse_rule(param: &'static str, value: Option<String>) -> Result<Option<String>, ApiError> {
    present(value)
        .map(|rule| {
            let valid = rule.len() <= 64
                && rule
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if valid {
                Ok(rule)
            } else {
                Err(ApiError::invalid(
                    param,
                    "must be a rule ID of at most 64 letters, digits, '-', '_' or '.'",
                ))
            }
        })
        .transpose()
}

fn parse_account(value: Option<String>) -> Result<Option<String>, ApiError> {
    present(value)
        .map(|account| {
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
                Ok(account)
            } else {
                Err(ApiError::invalid(
                    "account",
                    "must be a 12-digit AWS account ID",
                ))
            }
        })
        .transpose()
}

fn parse_region(value: Option<String>) -> Result<Option<String>, ApiError> {
    present(value)
        .map(|region| {
            let valid = (1..=32).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if valid {
                Ok(region)
            } else {
                Err(ApiError::invalid(
                    "region",
                    "must be an AWS region name such as eu-west-1",
                ))
            }
        })
        .transpose()
}

fn parse_status(value: Option<String>) -> Result<Option<FindingStatus>, ApiError> {
    match present(value).as_deref() {
        None => Ok(None),
        Some("open") => Ok(Some(FindingStatus::Open)),
        Some("resolved") => Ok(Some(FindingStatus::Resolved)),
        Some("withdrawn") => Ok(Some(FindingStatus::Withdrawn)),
        Some(_) => Err(ApiError::invalid(
            "status",
            "must be one of open, resolved, withdrawn",
        )),
    }
}

fn parse_severity(value: Option<String>) -> Result<Option<Severity>, ApiError> {
    present(value)
        .map(|raw| {
            raw.parse::<Severity>()
                .map_err(|err| ApiError::invalid("severity", err.to_string()))
        })
        .transpose()
}

fn parse_cursor(value: Option<String>) -> Result<Option<String>, ApiError> {
    present(value)
        .map(|cursor| {
            if cursor.len() <= MAX_CURSOR_LEN {
                Ok(cursor)
            } else {
                Err(ApiError::invalid(
                    "cursor",
                    "not a cursor returned by a previous page",
                ))
            }
        })
        .transpose()
}

/// A value the API returns with `account_name` beside its `account`: names
/// live in the binary's [`crate::AccountNames`], not in the store, so they
/// are added as the answer is written.
#[derive(Debug, Serialize)]
struct Named<T> {
    #[serde(flatten)]
    inner: T,
    /// The account's name; null when the directory does not know it.
    account_name: Option<String>,
}

fn named<T>(names: &BTreeMap<String, String>, account: &str, inner: T) -> Named<T> {
    Named {
        account_name: name_in(names, account),
        inner,
    }
}

fn named_evaluations(
    names: &BTreeMap<String, String>,
    evaluations: Vec<EvaluationRecord>,
) -> Vec<Named<EvaluationRecord>> {
    evaluations
        .into_iter()
        .map(|e| {
            let account = e.scope.account.clone();
            named(names, &account, e)
        })
        .collect()
}

/// `GET /api/v1/findings`: a page of findings, each with its account name.
#[derive(Debug, Serialize)]
struct NamedFindingPage {
    findings: Vec<Named<StoredFinding>>,
    next_cursor: Option<String>,
}

pub(crate) async fn list_findings(
    State(state): State<AppState>,
    params: Result<Query<FindingsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let query = FindingQuery {
        status: parse_status(params.status)?,
        rule: parse_rule("rule", params.rule)?,
        severity: parse_severity(params.severity)?,
        region: parse_region(params.region)?,
        account: parse_account(params.account)?,
        limit: parse_limit(params.limit, DEFAULT_FINDINGS_LIMIT)?,
        cursor: parse_cursor(params.cursor)?,
    };
    let page = with_store(&state, move |s| s.findings(&query)).await?;
    let names = state.accounts.snapshot();
    let findings = page
        .findings
        .into_iter()
        .map(|f| {
            let account = f.finding.account.clone();
            named(&names, &account, f)
        })
        .collect();
    Ok(Json(NamedFindingPage {
        findings,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

/// `GET /api/v1/findings/{id}`: the finding with its lifecycle history.
#[derive(Debug, Serialize)]
pub(crate) struct FindingDetail {
    #[serde(flatten)]
    finding: StoredFinding,
    /// The account's name; null when unknown.
    account_name: Option<String>,
    /// Opened, resolved, withdrawn and reopened, oldest first.
    history: Vec<FindingEvent>,
}

pub(crate) async fn get_finding(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<FindingDetail>, ApiError> {
    let Path(id) = id?;
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ApiError::invalid(
            "id",
            format!("must be a finding ID of 1 to {MAX_ID_LEN} characters"),
        ));
    }
    let lookup = id.clone();
    let found = with_store(&state, move |s| {
        let Some(finding) = s.finding(&lookup)? else {
            return Ok(None);
        };
        let history = s.finding_history(&lookup)?;
        Ok(Some((finding, history)))
    })
    .await?;
    match found {
        Some((finding, history)) => Ok(Json(FindingDetail {
            account_name: state.accounts.get(&finding.finding.account),
            finding,
            history,
        })),
        None => Err(ApiError::NotFound(format!("no finding with ID `{id}`"))),
    }
}

/// One rule in `GET /api/v1/rules`.
#[derive(Debug, Serialize)]
struct RuleView {
    #[serde(flatten)]
    meta: RuleMeta,
    interval_seconds: u64,
    timeout_seconds: u64,
    /// `pending` (never finished), `ok`, `degraded` (some scope unavailable)
    /// or `error` (some scope failed), from the latest evaluations.
    status: &'static str,
    running: bool,
    last_started: Option<DateTime<Utc>>,
    last_finished: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
    /// Its (account, region) scopes by the status of their latest evaluation.
    scopes: ScopeCounts,
    /// The latest evaluation per (account, region): all, or only those that
    /// are not `ok`, or none (`?evaluations=`).
    evaluations: Vec<Named<EvaluationRecord>>,
}

/// Query of `GET /api/v1/rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesParams {
    evaluations: Option<String>,
}

/// Which latest evaluations `GET /api/v1/rules` lists. An organisation has
/// thousands of scopes per rule (300 accounts × 17 regions), whose latest
/// evaluations with their measurements are tens of megabytes: the dashboard
/// asks for the `problems` only and takes the rest as counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listed {
    All,
    Problems,
    None,
}

fn parse_listed(value: Option<String>) -> Result<Listed, ApiError> {
    match present(value).as_deref() {
        None | Some("all") => Ok(Listed::All),
        Some("problems") => Ok(Listed::Problems),
        Some("none") => Ok(Listed::None),
        Some(_) => Err(ApiError::invalid(
            "evaluations",
            "must be one of all, problems, none",
        )),
    }
}

fn rule_status(state: &RuleState, latest: &[EvaluationRecord]) -> &'static str {
    if latest.iter().any(|e| e.status == EvaluationStatus::Error) {
        "error"
    } else if latest
        .iter()
        .any(|e| e.status == EvaluationStatus::Unavailable)
    {
        "degraded"
    } else if latest.is_empty() && state.last_finished.is_none() {
        "pending"
    } else {
        "ok"
    }
}

pub(crate) async fn list_rules(
    State(state): State<AppState>,
    params: Result<Query<RulesParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params?;
    let listed = parse_listed(params.evaluations)?;
    let latest = with_store(&state, |s| s.latest_evaluations()).await?;
    let names = state.accounts.snapshot();
    let mut latest_by_rule: BTreeMap<String, Vec<EvaluationRecord>> = BTreeMap::new();
    for evaluation in latest {
        latest_by_rule
            .entry(evaluation.rule.clone())
            .or_default()
            .push(evaluation);
    }
    let rules: Vec<RuleView> = state
        .control
        .rules()
        .into_iter()
        .map(|rule| {
            let mut evaluations = latest_by_rule.remove(rule.meta.id).unwrap_or_default();
            evaluations.sort_by(|a, b| a.scope.cmp(&b.scope));
            let status = rule_status(&rule, &evaluations);
            let mut scopes = ScopeCounts::default();
            for e in &evaluations {
                scopes.add(e.status);
            }
            evaluations.retain(|e| match listed {
                Listed::All => true,
                Listed::Problems => e.status != EvaluationStatus::Ok,
                Listed::None => false,
            });
            RuleView {
                status,
                scopes,
                interval_seconds: rule.schedule.interval.as_secs(),
                timeout_seconds: rule.schedule.timeout.as_secs(),
                running: rule.running,
                last_started: rule.last_started,
                last_finished: rule.last_finished,
                next_run: rule.next_run,
                meta: rule.meta,
                evaluations: named_evaluations(&names, evaluations),
            }
        })
        .collect();
    Ok(Json(json!({ "rules": rules })))
}

/// Query of `GET /api/v1/evaluations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvaluationsParams {
    rule: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn list_evaluations(
    State(state): State<AppState>,
    params: Result<Query<EvaluationsParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(params) = params?;
    let rule = parse_rule("rule", params.rule)?;
    let limit = parse_limit(params.limit, DEFAULT_EVALUATIONS_LIMIT)?;
    let evaluations = with_store(&state, move |s| s.evaluations(rule.as_deref(), limit)).await?;
    let evaluations = named_evaluations(&state.accounts.snapshot(), evaluations);
    Ok(Json(json!({ "evaluations": evaluations })))
}

/// Scopes by the status of their latest evaluation.
#[derive(Debug, Default, Serialize)]
struct ScopeCounts {
    total: u64,
    ok: u64,
    error: u64,
    unavailable: u64,
}

impl ScopeCounts {
    fn add(&mut self, status: EvaluationStatus) {
        self.total += 1;
        match status {
            EvaluationStatus::Ok => self.ok += 1,
            EvaluationStatus::Error => self.error += 1,
            EvaluationStatus::Unavailable => self.unavailable += 1,
        }
    }
}

/// One account in `GET /api/v1/accounts`.
#[derive(Debug, Serialize)]
struct AccountView {
    account: String,
    account_name: Option<String>,
    /// `pending` (nothing evaluated yet), `ok`, `degraded` (some scope
    /// unavailable) or `error` (some scope failed), as for rules.
    status: &'static str,
    /// Its (rule, region) scopes by latest status.
    scopes: ScopeCounts,
    /// Open findings by severity, all five, over every rule and region.
    open_findings: BTreeMap<&'static str, u64>,
}

/// `GET /api/v1/accounts`: every account the directory names or the store
/// has evaluated, with its name, health and open findings. Two whole-table
/// reads (scope health and open counts), both small beside the findings.
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (health, counts) =
        with_store(&state, |s| Ok((s.scope_health()?, s.open_counts()?))).await?;
    let names = state.accounts.snapshot();
    let mut accounts: BTreeMap<String, AccountView> = BTreeMap::new();
    let view = |account: &str| AccountView {
        account: account.to_owned(),
        account_name: name_in(&names, account),
        status: "pending",
        scopes: ScopeCounts::default(),
        open_findings: Severity::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
    };
    for account in names.keys() {
        accounts.insert(account.clone(), view(account));
    }
    for h in &health {
        let entry = accounts
            .entry(h.scope.account.clone())
            .or_insert_with(|| view(&h.scope.account));
        entry.scopes.add(h.status);
    }
    for (_, severity, scope, n) in &counts {
        let entry = accounts
            .entry(scope.account.clone())
            .or_insert_with(|| view(&scope.account));
        *entry.open_findings.entry(severity.as_str()).or_default() += n;
    }
    let accounts: Vec<AccountView> = accounts
        .into_values()
        .map(|mut a| {
            a.status = if a.scopes.error > 0 {
                "error"
            } else if a.scopes.unavailable > 0 {
                "degraded"
            } else if a.scopes.total == 0 {
                "pending"
            } else {
                "ok"
            };
            a
        })
        .collect();
    Ok(Json(json!({ "accounts": accounts })))
}

pub(crate) async fn run_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // Authentication comes first so an anonymous caller learns nothing, not
    // even which rule IDs exist.
    require_token(state.token(), &headers)?;
    let Path(id) = id?;
    let rule =
        parse_rule("id", Some(id))?.ok_or_else(|| ApiError::invalid("id", "must be a rule ID"))?;
    match state.control.run_now(&rule) {
        Ok(()) => {
            tracing::info!(rule = %rule, "run requested through the API");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "status": "accepted", "rule": rule })),
            )
                .into_response())
        }
        Err(EngineError::UnknownRule(_)) => Err(ApiError::NotFound(format!(
            "no enabled rule with ID `{rule}`"
        ))),
        Err(EngineError::ShuttingDown) => Err(ApiError::Unavailable(
            "the scheduler is shutting down".to_owned(),
        )),
        // Configuration errors belong to start-up; seeing one here is a bug.
        Err(other) => Err(ApiError::Internal(other.to_string())),
    }
}
