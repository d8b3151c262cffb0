//! In-memory fakes of the store and the scheduler, and request helpers.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use blindspot_core::{
    CallCounter, Evaluation, EvaluationStatus, Finding, Measurement, MeasurementMeta, RuleMeta,
    Scope, Severity,
};
use blindspot_engine::{Control, EngineError, RuleSchedule, RuleState};
use blindspot_server::{AccountNames, AppState, EvaluationCounter};
use blindspot_store::{
    EvaluationRecord, FindingEvent, FindingEventKind, FindingPage, FindingQuery, FindingStatus,
    LifecycleChange, ScopeHealth, Store, StoreError, StoredFinding,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

pub const ACCOUNT: &str = "111111111111";
/// `ACCOUNT`'s name in the fixture's directory.
pub const ACCOUNT_NAME: &str = "production";
/// An account the directory names but nothing has evaluated yet.
pub const NEW_ACCOUNT: &str = "222222222222";
pub const TOKEN: &str = "s3cret-token-value";

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap()
}

/// A store over vectors. Cursors are `o:<offset>`; anything else is invalid,
/// as a real store's foreign cursor would be.
#[derive(Default)]
pub struct FakeStore {
    pub findings: Mutex<Vec<StoredFinding>>,
    pub evaluations: Mutex<Vec<EvaluationRecord>>,
    pub read_only: AtomicBool,
    pub broken: AtomicBool,
    pub slow: AtomicBool,
}

impl FakeStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(600));
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Database(
                "disk I/O error at /var/lib/blindspot/secret.db".into(),
            ));
        }
        Ok(())
    }
}

impl Store for FakeStore {
    fn record_evaluation(&self, evaluation: &Evaluation) -> Result<LifecycleChange, StoreError> {
        self.check()?;
        let mut evaluations = self.evaluations.lock().unwrap();
        let id = evaluations.len() as i64 + 1;
        evaluations.push(EvaluationRecord {
            id,
            rule: evaluation.rule.clone(),
            scope: evaluation.scope.clone(),
            status: evaluation.status,
            error: evaluation.error.clone(),
            started_at: evaluation.started_at,
            finished_at: evaluation.finished_at,
            findings_seen: evaluation.findings.len() as u64,
            opened: 0,
            resolved: 0,
            measurements: evaluation.measurements.clone(),
            counts: evaluation.counts.clone(),
        });
        Ok(LifecycleChange::default())
    }

    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        self.check()?;
        let offset = match &query.cursor {
            None => 0,
            Some(c) => c
                .strip_prefix("o:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or(StoreError::InvalidCursor)?,
        };
        let mut all: Vec<StoredFinding> = self
            .findings
            .lock()
            .unwrap()
            .iter()
            .filter(|f| query.status.is_none_or(|s| f.status == s))
            .filter(|f| query.severity.is_none_or(|s| f.finding.severity == s))
            .filter(|f| query.rule.as_ref().is_none_or(|r| &f.finding.rule == r))
            .filter(|f| query.region.as_ref().is_none_or(|r| &f.finding.region == r))
            .filter(|f| {
                query
                    .account
                    .as_ref()
                    .is_none_or(|a| &f.finding.account == a)
            })
            .cloned()
            .collect();
        all.sort_by(|a, b| a.finding.id.cmp(&b.finding.id));
        let page: Vec<StoredFinding> = all.iter().skip(offset).take(query.limit).cloned().collect();
        let next = offset + page.len();
        Ok(FindingPage {
            next_cursor: (next < all.len()).then(|| format!("o:{next}")),
            findings: page,
        })
    }

    fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        self.check()?;
        Ok(self
            .findings
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.finding.id == id)
            .cloned())
    }

    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError> {
        self.check()?;
        // The fake keeps no event log: derive the opening and the latest
        // resolution from the finding itself.
        let findings = self.findings.lock().unwrap();
        let Some(f) = findings.iter().find(|f| f.finding.id == id) else {
            return Ok(Vec::new());
        };
        let mut events = vec![FindingEvent {
            kind: FindingEventKind::Opened,
            at: f.first_seen,
            evaluation_id: None,
            reason: None,
        }];
        if let Some(at) = f.resolved_at {
            events.push(FindingEvent {
                kind: FindingEventKind::Resolved,
                at,
                evaluation_id: None,
                reason: None,
            });
        }
        if let Some(at) = f.withdrawn_at {
            events.push(FindingEvent {
                kind: FindingEventKind::Withdrawn,
                at,
                evaluation_id: None,
                reason: f.withdrawn_reason.clone(),
            });
        }
        Ok(events)
    }

    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, StoreError> {
        self.check()?;
        Ok(self
            .findings
            .lock()
            .unwrap()
            .iter()
            .filter(|f| f.status == FindingStatus::Open && f.finding.rule == rule)
            .filter(|f| f.finding.account == scope.account && f.finding.region == scope.region)
            .map(|f| f.finding.clone())
            .collect())
    }

    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.check()?;
        let mut all: Vec<EvaluationRecord> = self
            .evaluations
            .lock()
            .unwrap()
            .iter()
            .filter(|e| rule.is_none_or(|r| e.rule == r))
            .cloned()
            .collect();
        all.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(b.id.cmp(&a.id)));
        all.truncate(limit);
        Ok(all)
    }

    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.check()?;
        let mut latest: BTreeMap<(String, Scope), EvaluationRecord> = BTreeMap::new();
        for e in self.evaluations.lock().unwrap().iter() {
            let key = (e.rule.clone(), e.scope.clone());
            if latest
                .get(&key)
                .is_none_or(|cur| cur.finished_at < e.finished_at)
            {
                latest.insert(key, e.clone());
            }
        }
        Ok(latest.into_values().collect())
    }

    /// Derived from the evaluations, in the order they were recorded.
    fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError> {
        self.check()?;
        let mut evaluations = self.evaluations.lock().unwrap().clone();
        evaluations.sort_by_key(|e| e.id);
        let mut health: BTreeMap<(String, Scope), ScopeHealth> = BTreeMap::new();
        for e in evaluations {
            let key = (e.rule.clone(), e.scope.clone());
            let previous = health.remove(&key);
            let failures = previous.as_ref().map_or(0, |p| p.consecutive_failures);
            let still_unavailable = previous
                .as_ref()
                .filter(|p| p.status == EvaluationStatus::Unavailable)
                .and_then(|p| p.unavailable_since);
            health.insert(
                key,
                ScopeHealth {
                    last_success_at: match e.status {
                        EvaluationStatus::Ok => Some(e.finished_at),
                        _ => previous.and_then(|p| p.last_success_at),
                    },
                    consecutive_failures: match e.status {
                        EvaluationStatus::Ok => 0,
                        EvaluationStatus::Error => failures + 1,
                        EvaluationStatus::Unavailable => failures,
                    },
                    unavailable_since: match e.status {
                        EvaluationStatus::Unavailable => still_unavailable.or(Some(e.finished_at)),
                        _ => None,
                    },
                    rule: e.rule,
                    scope: e.scope,
                    status: e.status,
                    error: e.error,
                    started_at: e.started_at,
                    finished_at: e.finished_at,
                },
            );
        }
        Ok(health.into_values().collect())
    }

    fn withdraw_unconfigured(
        &self,
        configured: &BTreeSet<(String, Scope)>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.check()?;
        let known = |rule: &str, account: &str, region: &str| {
            configured.contains(&(rule.to_owned(), Scope::new(account, region)))
        };
        // The fake's health is derived from evaluations: forget those.
        self.evaluations
            .lock()
            .unwrap()
            .retain(|e| known(&e.rule, &e.scope.account, &e.scope.region));
        let mut n = 0;
        for f in self.findings.lock().unwrap().iter_mut() {
            let g = &f.finding;
            if f.status == FindingStatus::Open && !known(&g.rule, &g.account, &g.region) {
                f.status = FindingStatus::Withdrawn;
                f.withdrawn_at = Some(now);
                f.withdrawn_reason = Some(reason.to_owned());
                n += 1;
            }
        }
        Ok(n)
    }

    fn withdraw_unavailable(
        &self,
        longer_than: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let before = now - Duration::from_std(longer_than).unwrap();
        let gone: BTreeSet<(String, Scope)> = self
            .scope_health()?
            .into_iter()
            .filter(|h| h.unavailable_since.is_some_and(|since| since < before))
            .map(|h| (h.rule, h.scope))
            .collect();
        let mut n = 0;
        for f in self.findings.lock().unwrap().iter_mut() {
            let g = &f.finding;
            let key = (
                g.rule.clone(),
                Scope::new(g.account.clone(), g.region.clone()),
            );
            if f.status == FindingStatus::Open && gone.contains(&key) {
                f.status = FindingStatus::Withdrawn;
                f.withdrawn_at = Some(now);
                f.withdrawn_reason = Some("unavailable".to_owned());
                n += 1;
            }
        }
        Ok(n)
    }

    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError> {
        self.check()?;
        let mut counts: BTreeMap<(String, Severity, Scope), u64> = BTreeMap::new();
        for f in self.findings.lock().unwrap().iter() {
            if f.status == FindingStatus::Open {
                let scope = Scope::new(f.finding.account.clone(), f.finding.region.clone());
                *counts
                    .entry((f.finding.rule.clone(), f.finding.severity, scope))
                    .or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|((r, s, sc), n)| (r, s, sc, n))
            .collect())
    }

    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        self.check()?;
        let mut findings = self.findings.lock().unwrap();
        let before = findings.len();
        findings.retain(|f| {
            let closed = f.resolved_at.or(f.withdrawn_at);
            closed.is_none_or(|at| at >= resolved_before)
        });
        let mut evaluations = self.evaluations.lock().unwrap();
        let before_e = evaluations.len();
        evaluations.retain(|e| e.finished_at >= evaluations_before);
        Ok((
            (before - findings.len()) as u64,
            (before_e - evaluations.len()) as u64,
        ))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        self.check()?;
        if self.read_only.load(Ordering::SeqCst) {
            return Err(StoreError::Database(
                "attempt to write a readonly database".into(),
            ));
        }
        Ok(())
    }
}

/// A real store whose reads can be made to fail, as a locked, corrupt or
/// vanished database would; writes, withdrawals and pruning pass through.
pub struct FailingReads<S> {
    pub inner: S,
    pub failing: AtomicBool,
}

impl<S> FailingReads<S> {
    pub fn new(inner: S) -> Self {
        FailingReads {
            inner,
            failing: AtomicBool::new(false),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&S) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Database(
                "database disk image is malformed".into(),
            ));
        }
        f(&self.inner)
    }
}

impl<S: Store> Store for FailingReads<S> {
    fn record_evaluation(&self, evaluation: &Evaluation) -> Result<LifecycleChange, StoreError> {
        self.inner.record_evaluation(evaluation)
    }
    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        self.read(|s| s.findings(query))
    }
    fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        self.read(|s| s.finding(id))
    }
    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError> {
        self.read(|s| s.finding_history(id))
    }
    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, StoreError> {
        self.read(|s| s.open_findings(rule, scope))
    }
    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.read(|s| s.evaluations(rule, limit))
    }
    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError> {
        self.read(|s| s.latest_evaluations())
    }
    fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError> {
        self.read(|s| s.scope_health())
    }
    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError> {
        self.read(|s| s.open_counts())
    }
    fn withdraw_unconfigured(
        &self,
        configured: &BTreeSet<(String, Scope)>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.inner.withdraw_unconfigured(configured, reason, now)
    }
    fn withdraw_unavailable(
        &self,
        longer_than: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.inner.withdraw_unavailable(longer_than, now)
    }
    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        self.inner.prune(resolved_before, evaluations_before)
    }
    fn check_writable(&self) -> Result<(), StoreError> {
        self.inner.check_writable()
    }
}

/// A scheduler that records "run now" requests.
#[derive(Default)]
pub struct FakeControl {
    pub rules: Mutex<Vec<RuleState>>,
    pub runs: Mutex<Vec<String>>,
    pub shutting_down: AtomicBool,
}

impl Control for FakeControl {
    fn rules(&self) -> Vec<RuleState> {
        self.rules.lock().unwrap().clone()
    }

    fn run_now(&self, rule_id: &str) -> Result<(), EngineError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        if !self
            .rules
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.meta.id == rule_id)
        {
            return Err(EngineError::UnknownRule(rule_id.to_owned()));
        }
        self.runs.lock().unwrap().push(rule_id.to_owned());
        Ok(())
    }
}

fn rule_state(id: &'static str, severity: Severity, finished: bool) -> RuleState {
    RuleState {
        meta: RuleMeta {
            id,
            aliases: &[],
            severity,
            summary: "checks something Inspector cannot see",
            reads: &[],
            // The server takes HELP texts from the rules' metadata.
            measurements: &[
                MeasurementMeta {
                    name: "association_interval_seconds",
                    help: "Effective interval between scheduled runs of an Inspector v2 SSM State Manager association, in seconds. Cached from the last evaluation",
                    across_regions: blindspot_core::rule::Aggregation::Max,
                },
                MeasurementMeta {
                    name: "association_last_execution_timestamp_seconds",
                    help: "Unix time of the last execution of an Inspector v2 SSM State Manager association. Cached from the last evaluation",
                    across_regions: blindspot_core::rule::Aggregation::Min,
                },
            ],
            reach: blindspot_core::Reach::Account,
        },
        schedule: RuleSchedule {
            interval: std::time::Duration::from_secs(900),
            timeout: std::time::Duration::from_secs(120),
        },
        running: false,
        last_started: Some(t0()),
        last_finished: finished.then(|| t0() + Duration::seconds(3)),
        next_run: Some(t0() + Duration::seconds(903)),
    }
}

fn stored(finding: Finding, status: FindingStatus) -> StoredFinding {
    StoredFinding {
        finding,
        status,
        first_seen: t0() - Duration::days(1),
        last_seen: t0(),
        resolved_at: (status == FindingStatus::Resolved).then(t0),
        withdrawn_at: None,
        withdrawn_reason: None,
        reopen_count: 0,
    }
}

fn record(
    id: i64,
    rule: &str,
    region: &str,
    status: EvaluationStatus,
    finished_secs: i64,
    measurements: Vec<Measurement>,
) -> EvaluationRecord {
    EvaluationRecord {
        id,
        rule: rule.to_owned(),
        scope: Scope::new(ACCOUNT, region),
        status,
        error: (status != EvaluationStatus::Ok).then(|| format!("{} in {region}", status.as_str())),
        started_at: t0() + Duration::seconds(finished_secs) - Duration::milliseconds(1500),
        finished_at: t0() + Duration::seconds(finished_secs),
        findings_seen: 0,
        opened: 0,
        resolved: 0,
        measurements,
        counts: BTreeMap::new(),
    }
}

pub struct Fixture {
    pub store: Arc<FakeStore>,
    pub control: Arc<FakeControl>,
    pub state: AppState,
}

impl Fixture {
    pub fn app(&self) -> Router {
        blindspot_server::app(self.state.clone())
    }

    pub fn with_token(mut self) -> Self {
        self.state.api_token = Some(TOKEN.to_owned());
        self
    }
}

/// Three rules (one never finished), three findings (two open),
/// evaluations in two regions including an error after an earlier success,
/// and two named accounts, one of which nothing has evaluated.
pub fn fixture() -> Fixture {
    let eu = Scope::new(ACCOUNT, "eu-west-1");
    let us = Scope::new(ACCOUNT, "us-east-1");
    let store = FakeStore::default();
    *store.findings.lock().unwrap() = vec![
        stored(
            Finding::new("inspector-exclusions", "AGENT_NOT_FOUND", Severity::High, &eu, "i-0abc", "Agent not found")
                .recommendation("Install the Inspector agent.")
                .remediation("aws ssm send-command --document-name AmazonInspector-ManageAWSAgent --targets Key=InstanceIds,Values=i-0abc"),
            FindingStatus::Open,
        ),
        stored(
            Finding::new("inspector2-associations", "INTERVAL_TOO_LONG", Severity::Medium, &eu, "InspectorLinuxDistributor-do-not-delete", "Association runs rarely")
                .recommendation("Shorten the schedule."),
            FindingStatus::Open,
        ),
        stored(
            Finding::new("inspector-exclusions", "NO_SUPPORTED_OS", Severity::Low, &us, "i-0def", "Unsupported OS"),
            FindingStatus::Resolved,
        ),
    ];
    *store.evaluations.lock().unwrap() = vec![
        record(
            1,
            "inspector-exclusions",
            "eu-west-1",
            EvaluationStatus::Ok,
            2,
            vec![],
        ),
        record(
            2,
            "inspector-exclusions",
            "us-east-1",
            EvaluationStatus::Ok,
            -900,
            vec![],
        ),
        record(
            3,
            "inspector-exclusions",
            "us-east-1",
            EvaluationStatus::Error,
            3,
            vec![],
        ),
        record(
            4,
            "inspector2-associations",
            "eu-west-1",
            EvaluationStatus::Ok,
            1,
            vec![
                Measurement::new(
                    "association_interval_seconds",
                    &[("association", "InspectorLinuxDistributor-do-not-delete")],
                    43200.0,
                ),
                Measurement::new(
                    "association_last_execution_timestamp_seconds",
                    &[("association", "InspectorLinuxDistributor-do-not-delete")],
                    1_795_000_000.5,
                ),
                Measurement::new("custom-thing", &[("odd\"label", "a\"b")], 7.0),
            ],
        ),
        record(
            5,
            "inspector2-coverage",
            "eu-west-1",
            EvaluationStatus::Unavailable,
            1,
            vec![],
        ),
    ];
    let control = FakeControl::default();
    *control.rules.lock().unwrap() = vec![
        rule_state("inspector-exclusions", Severity::High, true),
        rule_state("inspector2-associations", Severity::Medium, true),
        rule_state("inspector2-coverage", Severity::High, false),
    ];
    let store = Arc::new(store);
    let control = Arc::new(control);
    let calls = CallCounter::default();
    calls.record("ssm", "ListAssociations", "ok");
    calls.record("ssm", "ListAssociations", "ok");
    calls.record("inspector2", "ListCoverage", "throttled");
    let evaluations = EvaluationCounter::default();
    evaluations.record("inspector-exclusions", EvaluationStatus::Ok);
    evaluations.record("inspector-exclusions", EvaluationStatus::Error);
    let accounts = AccountNames::new();
    accounts.insert(ACCOUNT, ACCOUNT_NAME);
    accounts.insert(NEW_ACCOUNT, "staging \"new\"");
    let state = AppState {
        store: store.clone(),
        control: control.clone(),
        calls,
        evaluations,
        api_token: None,
        accounts,
        version: "0.1.0-test",
        commit: "0123456789ab",
        build_date: "2026-11-30",
    };
    Fixture {
        store,
        control,
        state,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// Asserts the JSON error shape and returns (code, message).
    pub fn error(&self) -> (String, String) {
        assert_eq!(
            self.headers.get("content-type").unwrap(),
            "application/json",
            "error responses are JSON"
        );
        let v = self.json();
        let e = &v["error"];
        assert_eq!(
            v.as_object().unwrap().len(),
            1,
            "only `error` at top level: {v}"
        );
        (
            e["code"].as_str().unwrap().to_owned(),
            e["message"].as_str().unwrap().to_owned(),
        )
    }
}

pub async fn request(
    app: Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = app
        .oneshot(builder.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn get(app: Router, uri: &str) -> Reply {
    request(app, Method::GET, uri, &[], Vec::new()).await
}
