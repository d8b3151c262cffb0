//! The Prometheus exposition at `/metrics`.
//!
//! The exposition is rebuilt on every scrape from the store (open finding
//! counts, each scope's health and the latest evaluation of every rule,
//! account and region) rather than kept in long-lived gauges. The store is the
//! source of truth and survives restarts, so a restarted daemon exports the
//! same gauges before its first evaluation, and there is no second copy that
//! could drift from what the API shows. Status and last success come from the
//! store's scope health, which retention never prunes: a scope that has
//! failed for weeks still exports when it last succeeded, and one that never
//! did still exports its status. A scrape costs a handful of indexed queries.
//!
//! # Cardinality
//!
//! An organisation of 300 accounts in 17 regions has about 15k (rule,
//! account, region) scopes, and the exposition must stay under 50k series
//! (docs/dashboard.md has the arithmetic). So only what an alert must see
//! per region is exported per scope: one `blindspot_evaluation_status` series
//! (its `status` label is the latest status) and the last success. Findings,
//! duration and consecutive failures are per (rule, account), folded over
//! regions; findings also per (rule, region), folded over accounts; rule
//! measurements per (rule, account) as each measurement's
//! [`Aggregation`] says. The per-region detail stays in the API. Labels never
//! carry instance IDs or finding IDs.
//!
//! A scrape never fails. When the store cannot be read, the families that
//! come from it are left out, `blindspot_store_up` is 0, and the in-process
//! families are still served: [`EvaluationCounter`] (fed by the binary from
//! the scheduler, including evaluations the store could not record),
//! [`StoreErrorCounter`] (failed store operations),
//! [`blindspot_core::CallCounter`] (fed by the AWS adapter) and
//! `blindspot_account_info` from the binary's [`crate::AccountNames`]. The
//! counters restart at zero with the process, which Prometheus' `rate()`
//! handles.
//!
//! Series are written in sorted order through a prometheus-client
//! [`Collector`], so the output is deterministic and diffable against a golden
//! file.

use blindspot_core::rule::Aggregation;
use blindspot_core::{EvaluationStatus, Scope, Severity};
use blindspot_store::{EvaluationRecord, ScopeHealth, Store, StoreError};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The content type of the OpenMetrics text exposition prometheus-client writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of the classic Prometheus text format (0.0.4), for
/// scrapers that do not ask for OpenMetrics: `curl`, `promtool check metrics`,
/// older Prometheus servers.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric name prefix.
const PREFIX: &str = "blindspot";

/// The status `blindspot_evaluations_total` counts an evaluation under when
/// the store could not record it, whatever the evaluation's own status.
pub const WRITE_FAILED: &str = "write_failed";

/// Failed store operations by operation, since the process started.
///
/// The server records its own failed reads; the binary records what the
/// scheduler and start-up could not write (through
/// [`EvaluationCounter::record_write_failure`], or [`record`](Self::record)
/// directly). Exported as `blindspot_store_errors_total{operation}`. Cheap to
/// clone; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct StoreErrorCounter {
    inner: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl StoreErrorCounter {
    /// A read for the API, the dashboard or `/metrics`.
    pub const READ: &'static str = "read";
    /// The readiness probe's write check.
    pub const CHECK_WRITABLE: &'static str = "check_writable";
    /// Recording an evaluation.
    pub const RECORD_EVALUATION: &'static str = "record_evaluation";
    /// Withdrawing findings (unconfigured or long-unavailable scopes).
    pub const WITHDRAW: &'static str = "withdraw";
    /// The operations every exposition lists, from zero, so that `rate()`
    /// sees the first failure.
    pub const OPERATIONS: [&'static str; 4] = [
        Self::CHECK_WRITABLE,
        Self::READ,
        Self::RECORD_EVALUATION,
        Self::WITHDRAW,
    ];

    /// Records one failed operation. The name is a label value, so it is a
    /// constant, never data: preferably one of [`OPERATIONS`](Self::OPERATIONS).
    pub fn record(&self, operation: &'static str) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(operation).or_default() += 1;
    }

    /// Every counter as `(operation, count)`, sorted.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// Finished evaluations by rule and status, since the process started.
///
/// The binary records every evaluation the scheduler finishes; the server
/// exports it as `blindspot_evaluations_total{rule,status}`. An evaluation
/// the store could not record is counted as [`WRITE_FAILED`], not under its
/// own status. It carries the [`StoreErrorCounter`] the server exports, so
/// that one handle feeds both. Cheap to clone; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct EvaluationCounter {
    inner: Arc<Mutex<BTreeMap<(String, &'static str), u64>>>,
    store_errors: StoreErrorCounter,
}

impl EvaluationCounter {
    /// Records one finished evaluation that the store recorded.
    pub fn record(&self, rule: &str, status: EvaluationStatus) {
        self.add(rule, status.as_str());
    }

    /// Records one finished evaluation that the store failed to record: as
    /// [`WRITE_FAILED`] (not as its own status, which nothing will show), and
    /// as a failed [`StoreErrorCounter::RECORD_EVALUATION`].
    pub fn record_write_failure(&self, rule: &str) {
        self.add(rule, WRITE_FAILED);
        self.store_errors
            .record(StoreErrorCounter::RECORD_EVALUATION);
    }

    /// The store error counter exported with these counts.
    pub fn store_errors(&self) -> StoreErrorCounter {
        self.store_errors.clone()
    }

    fn add(&self, rule: &str, status: &'static str) {
        // A poisoned lock only means another thread panicked mid-increment;
        // the counts are still meaningful, so keep counting.
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((rule.to_owned(), status)).or_default() += 1;
    }

    /// Every counter as `((rule, status), count)`, sorted.
    pub fn snapshot(&self) -> Vec<((String, &'static str), u64)> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// What a scrape reads from the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreData {
    pub open_counts: Vec<(String, Severity, Scope, u64)>,
    pub health: Vec<ScopeHealth>,
    /// Only for the rules' measurements.
    pub latest: Vec<EvaluationRecord>,
}

/// What a rule declares about one of its measurements (`MeasurementMeta`).
#[derive(Debug, Clone)]
pub(crate) struct MeasurementInfo {
    pub help: String,
    pub across_regions: Aggregation,
}

/// Everything one scrape exports, gathered before encoding.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricsInput {
    pub version: String,
    pub commit: String,
    pub build_date: String,
    pub rule_ids: Vec<String>,
    /// What the rules declare about their measurements, by sanitized
    /// measurement name (a name means one thing whichever rule reports it).
    pub measurements: BTreeMap<String, MeasurementInfo>,
    /// Account ID → name, from the binary's directory (empty: unknown).
    pub account_names: BTreeMap<String, String>,
    /// None when the store could not be read: its families are left out.
    pub store: Option<StoreData>,
    /// How long reading the store took, in seconds.
    pub scrape_seconds: f64,
    pub evaluations: Vec<((String, &'static str), u64)>,
    pub store_errors: Vec<(&'static str, u64)>,
    pub calls: Vec<((String, String, String), u64)>,
}

/// Reads what a scrape needs from the store. Synchronous: call it on a
/// blocking thread.
pub(crate) fn gather_from_store(store: &dyn Store) -> Result<StoreData, StoreError> {
    Ok(StoreData {
        open_counts: store.open_counts()?,
        health: store.scope_health()?,
        latest: store.latest_evaluations()?,
    })
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Int(i64),
    Float(f64),
    Counter(u64),
}

type LabelSet = Vec<(String, String)>;

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    unit: Option<Unit>,
    counter: bool,
    series: BTreeMap<LabelSet, Value>,
}

impl Family {
    fn gauge(name: &str, help: &str) -> Self {
        let (name, unit) = split_unit(name);
        Family {
            name,
            help: help.to_owned(),
            unit,
            counter: false,
            series: BTreeMap::new(),
        }
    }

    fn counter(name: &str, help: &str) -> Self {
        Family {
            counter: true,
            ..Family::gauge(name, help)
        }
    }

    fn set(&mut self, labels: &[(&str, &str)], value: Value) {
        self.series.insert(label_set(labels), value);
    }

    /// The exposed family name, for collision checks.
    fn full_name(&self) -> String {
        match &self.unit {
            Some(unit) => format!("{}_{}", self.name, unit.as_str()),
            None => self.name.clone(),
        }
    }
}

/// A unit suffix becomes an OpenMetrics `UNIT`; the exposed name is unchanged.
fn split_unit(name: &str) -> (String, Option<Unit>) {
    for (suffix, unit) in [("_seconds", Unit::Seconds), ("_bytes", Unit::Bytes)] {
        if let Some(base) = name.strip_suffix(suffix) {
            if !base.is_empty() {
                return (base.to_owned(), Some(unit));
            }
        }
    }
    (name.to_owned(), None)
}

fn label_set(labels: &[(&str, &str)]) -> LabelSet {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), escape_label_value(v)))
        .collect()
}

/// prometheus-client writes label values verbatim, so quotes, backslashes
/// and newlines are escaped here as the exposition format requires.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Makes a metric name component valid: `[a-zA-Z_:][a-zA-Z0-9_:]*`, lowercased.
pub(crate) fn sanitize_metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Makes a label name valid: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the
/// reserved `__`.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    while out.starts_with("__") {
        out.remove(0);
    }
    if out == "_" || out.is_empty() {
        out = "label".to_owned();
    }
    out
}

/// The encoded families of one scrape.
#[derive(Debug)]
struct Snapshot {
    families: Vec<Family>,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            let metric_type = if family.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut metric = encoder.encode_descriptor(
                &family.name,
                &family.help,
                family.unit.as_ref(),
                metric_type,
            )?;
            for (labels, value) in &family.series {
                // A family without labels has one series, written without
                // braces (an empty label set would render as `{}`).
                if labels.is_empty() {
                    encode_value(&mut metric, value)?;
                } else {
                    encode_value(&mut metric.encode_family(labels)?, value)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(series: &mut MetricEncoder<'_>, value: &Value) -> Result<(), std::fmt::Error> {
    match value {
        Value::Int(v) => series.encode_gauge(v),
        Value::Float(v) => series.encode_gauge(v),
        Value::Counter(v) => series.encode_counter::<NoLabelSet, u64, u64>(v, None),
    }
}

/// Builds the families of one scrape. Pure, so it is tested on its own.
fn families(input: &MetricsInput) -> Vec<Family> {
    let mut build = Family::gauge(
        "build_info",
        "Always 1; the labels are the running blindspot's version, the git commit it was \
         built from and its build date (UTC).",
    );
    build.set(
        &[
            ("version", &input.version),
            ("commit", &input.commit),
            ("build_date", &input.build_date),
        ],
        Value::Int(1),
    );

    let mut out = vec![build, account_info(input)];
    if let Some(store) = &input.store {
        out.extend(store_families(store));
    }

    let mut evaluations = Family::counter(
        "evaluations",
        &format!("Evaluations finished since the daemon started, by rule and status; {WRITE_FAILED} counts those the store could not record, whatever their own status."),
    );
    // Known rules start at zero for every status so `rate()` and `increase()`
    // see the first error instead of a series appearing from nothing.
    for rule in &input.rule_ids {
        for s in ["ok", "error", "unavailable", WRITE_FAILED] {
            evaluations.set(&[("rule", rule), ("status", s)], Value::Counter(0));
        }
    }
    for ((rule, s), n) in &input.evaluations {
        evaluations.set(&[("rule", rule), ("status", s)], Value::Counter(*n));
    }

    let mut requests = Family::counter(
        "aws_requests",
        "AWS API requests since the daemon started, by service, operation and outcome (ok, throttled, access_denied, ...).",
    );
    for ((service, operation, outcome), n) in &input.calls {
        requests.set(
            &[
                ("service", service),
                ("operation", operation),
                ("outcome", outcome),
            ],
            Value::Counter(*n),
        );
    }

    let mut store_up = Family::gauge(
        "store_up",
        "1 if this scrape read the store, 0 if it could not; the families cached from the last evaluation are then missing from this scrape.",
    );
    store_up.set(&[], Value::Int(i64::from(input.store.is_some())));

    let mut store_errors = Family::counter(
        "store_errors",
        "Failed store operations since the daemon started, by operation: read (API, dashboard and metrics), check_writable (readiness), record_evaluation (an evaluation that could not be recorded), withdraw.",
    );
    for operation in crate::StoreErrorCounter::OPERATIONS {
        store_errors.set(&[("operation", operation)], Value::Counter(0));
    }
    for (operation, n) in &input.store_errors {
        store_errors.set(&[("operation", operation)], Value::Counter(*n));
    }

    let mut scrape = Family::gauge(
        "scrape_duration_seconds",
        "Time this scrape spent reading the store, in seconds.",
    );
    scrape.set(&[], Value::Float(input.scrape_seconds));

    out.extend([evaluations, requests, store_up, store_errors, scrape]);
    if let Some(store) = &input.store {
        let reserved: BTreeSet<String> = out.iter().map(Family::full_name).collect();
        out.extend(measurement_families(store, &input.measurements, &reserved));
    }
    out
}

const CACHED: &str = "Cached from the last evaluation";

/// `blindspot_account_info`: every account the directory names, plus every
/// account the store has evaluated (with an empty name), so that a join on
/// `account` never drops a series for want of a name.
fn account_info(input: &MetricsInput) -> Family {
    let mut info = Family::gauge(
        "account_info",
        "Always 1 for each account known at this scrape (listed by AWS Organizations, configured, or evaluated); name is the account's name, empty when unknown. Other families label accounts by ID only: join on account to show names.",
    );
    let mut accounts: BTreeMap<&str, &str> = input
        .account_names
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    if let Some(store) = &input.store {
        for health in &store.health {
            accounts.entry(health.scope.account.as_str()).or_insert("");
        }
        for (_, _, scope, _) in &store.open_counts {
            accounts.entry(scope.account.as_str()).or_insert("");
        }
    }
    for (account, name) in accounts {
        info.set(&[("account", account), ("name", name)], Value::Int(1));
    }
    info
}

fn count(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The families read from the store: findings and each scope's health.
fn store_families(store: &StoreData) -> Vec<Family> {
    // Open findings per (rule, account) and per (rule, region). Every
    // evaluated pair exports all five severities, zeros included, so a
    // resolved problem shows as 0 rather than as a vanished series.
    let mut by_account: BTreeMap<(&str, &str, Severity), u64> = BTreeMap::new();
    let mut by_region: BTreeMap<(&str, &str, Severity), u64> = BTreeMap::new();
    for health in &store.health {
        for severity in Severity::ALL {
            by_account.insert((&health.rule, &health.scope.account, severity), 0);
            by_region.insert((&health.rule, &health.scope.region, severity), 0);
        }
    }
    for (rule, severity, scope, n) in &store.open_counts {
        *by_account
            .entry((rule, &scope.account, *severity))
            .or_default() += n;
        *by_region
            .entry((rule, &scope.region, *severity))
            .or_default() += n;
    }
    let mut findings = Family::gauge(
        "findings",
        &format!("Open findings by rule, severity and account, summed over the account's regions (per region: blindspot_findings_by_region); every evaluated rule and account has all five severities, zeros included. {CACHED} of each scope."),
    );
    for ((rule, account, severity), n) in by_account {
        findings.set(
            &[
                ("rule", rule),
                ("severity", severity.as_str()),
                ("account", account),
            ],
            count(n),
        );
    }
    let mut findings_by_region = Family::gauge(
        "findings_by_region",
        &format!("Open findings by rule, severity and region, summed over accounts; every evaluated rule and region has all five severities, zeros included. {CACHED} of each scope."),
    );
    for ((rule, region, severity), n) in by_region {
        findings_by_region.set(
            &[
                ("rule", rule),
                ("severity", severity.as_str()),
                ("region", region),
            ],
            count(n),
        );
    }

    let mut status = Family::gauge(
        "evaluation_status",
        &format!("Always 1, one series per rule, account and region: the status label is the status of its latest evaluation (ok, error or unavailable). {CACHED}."),
    );
    let mut last_success = Family::gauge(
        "evaluation_last_success_timestamp_seconds",
        &format!("Unix time at which the last successful (status ok) evaluation of each rule, account and region finished, however long ago; absent for a scope that never succeeded. {CACHED}."),
    );
    // The worst region of each (rule, account); which region it is, the
    // status series and the API say.
    let mut slowest: BTreeMap<(&str, &str), f64> = BTreeMap::new();
    let mut most_failures: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for health in &store.health {
        let scope = [
            ("rule", health.rule.as_str()),
            ("account", health.scope.account.as_str()),
            ("region", health.scope.region.as_str()),
        ];
        let mut labels = scope.to_vec();
        labels.push(("status", health.status.as_str()));
        status.set(&labels, Value::Int(1));
        if let Some(at) = health.last_success_at {
            last_success.set(&scope, Value::Float(at.timestamp_millis() as f64 / 1000.0));
        }
        let key = (health.rule.as_str(), health.scope.account.as_str());
        let elapsed = (health.finished_at - health.started_at)
            .to_std()
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let longest = slowest.entry(key).or_insert(elapsed);
        *longest = longest.max(elapsed);
        let most = most_failures.entry(key).or_default();
        *most = (*most).max(health.consecutive_failures);
    }
    let mut duration = Family::gauge(
        "evaluation_duration_seconds",
        &format!("Duration of the latest evaluation of each rule and account, in seconds: the longest over the account's regions. {CACHED}."),
    );
    for ((rule, account), seconds) in slowest {
        duration.set(
            &[("rule", rule), ("account", account)],
            Value::Float(seconds),
        );
    }
    let mut failures = Family::gauge(
        "evaluation_consecutive_failures",
        &format!("Evaluations of each rule and account that ended in error since their last successful one (since their first if none was), the most over the account's regions; unavailable evaluations neither count nor reset it. {CACHED}."),
    );
    for ((rule, account), n) in most_failures {
        failures.set(&[("rule", rule), ("account", account)], count(n));
    }
    vec![
        findings,
        findings_by_region,
        status,
        duration,
        last_success,
        failures,
    ]
}

/// One measurement family being folded over regions. Series are keyed by
/// borrowed (account, labels) in a hash map while folding: a scrape of an organisation
/// folds hundreds of thousands of measurements into a few thousand series,
/// so label sets are built (and sorted) once per series, not once per
/// measurement.
struct Folding<'a> {
    help: String,
    across_regions: Aggregation,
    series: HashMap<(&'a str, &'a BTreeMap<String, String>), f64>,
}

/// How a family's HELP says what its series fold.
fn fold_text(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::Sum => {
            "Summed over each account's regions; an account whose sum is 0 has no series"
        }
        Aggregation::Max => "The largest value over each account's regions",
        Aggregation::Min => "The smallest value over each account's regions",
    }
}

/// One family per measurement name in the latest evaluations, one series per
/// (account, the measurement's own labels), its regions folded as the rule
/// declared. A measurement no rule declares is folded with `max`, which
/// never adds up timestamps or flags.
fn measurement_families(
    store: &StoreData,
    declared: &BTreeMap<String, MeasurementInfo>,
    reserved: &BTreeSet<String>,
) -> Vec<Family> {
    // Rules report a handful of names over and over: sanitize each once.
    let mut names: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut measured: BTreeMap<String, Folding<'_>> = BTreeMap::new();
    for record in &store.latest {
        for m in &record.measurements {
            let name = names.entry(m.name.as_str()).or_insert_with(|| {
                let name = sanitize_metric_name(&m.name);
                if reserved.contains(&name) {
                    tracing::warn!(rule = %record.rule, measurement = %m.name, "measurement name collides with a built-in metric; not exported");
                    return None;
                }
                Some(name)
            });
            let Some(name) = name else { continue };
            if !m.value.is_finite() {
                tracing::warn!(rule = %record.rule, measurement = %m.name, "measurement is not a finite number; not exported");
                continue;
            }
            let family = measured.entry(name.clone()).or_insert_with(|| {
                let (help, across_regions) = match declared.get(name.as_str()) {
                    Some(info) => (info.help.clone(), info.across_regions),
                    None => (
                        format!("Measurement {name} reported by a blindspot rule. {CACHED}"),
                        Aggregation::Max,
                    ),
                };
                Folding {
                    help: format!("{help}. {}.", fold_text(across_regions)),
                    across_regions,
                    series: HashMap::new(),
                }
            });
            let across_regions = family.across_regions;
            family
                .series
                .entry((record.scope.account.as_str(), &m.labels))
                .and_modify(|v| {
                    *v = match across_regions {
                        Aggregation::Sum => *v + m.value,
                        Aggregation::Max => v.max(m.value),
                        Aggregation::Min => v.min(m.value),
                    }
                })
                .or_insert(m.value);
        }
    }
    measured
        .into_iter()
        .map(|(name, folding)| {
            let mut family = Family::gauge(&name, &folding.help);
            for ((account, rule_labels), value) in folding.series {
                if folding.across_regions == Aggregation::Sum && value == 0.0 {
                    continue;
                }
                // Extra labels first (sorted), then the account; a rule
                // label named like a scope label is kept under Prometheus'
                // `exported_` prefix.
                let mut extra: BTreeMap<String, &str> = BTreeMap::new();
                for (k, v) in rule_labels {
                    let mut key = sanitize_label_name(k);
                    if key == "account" || key == "region" {
                        key = format!("exported_{key}");
                    }
                    extra.insert(key, v);
                }
                let mut labels: Vec<(&str, &str)> =
                    extra.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                labels.push(("account", account));
                family.set(&labels, Value::Float(value));
            }
            family
        })
        .collect()
}

/// Encodes one scrape in the OpenMetrics text format.
pub(crate) fn render(input: &MetricsInput) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(Snapshot {
        families: families(input),
    }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Rewrites prometheus-client's OpenMetrics text as the classic Prometheus
/// text format. The two differ, for what blindspot exports, only in that
/// OpenMetrics names a counter family without its `_total` suffix in HELP and
/// TYPE, and adds `# UNIT` and `# EOF` lines; samples are identical.
pub(crate) fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(line.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use blindspot_core::Measurement;

    #[test]
    fn classic_text_names_counters_with_total_and_drops_openmetrics_lines() {
        let om = "# HELP blindspot_x Things.\n# TYPE blindspot_x counter\nblindspot_x_total{a=\"b\"} 3\n\
                  # HELP blindspot_d_seconds D.\n# TYPE blindspot_d_seconds gauge\n# UNIT blindspot_d_seconds seconds\n\
                  blindspot_d_seconds 1.5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP blindspot_x_total Things.\n# TYPE blindspot_x_total counter\nblindspot_x_total{a=\"b\"} 3\n\
             # HELP blindspot_d_seconds D.\n# TYPE blindspot_d_seconds gauge\nblindspot_d_seconds 1.5\n"
        );
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(
            sanitize_metric_name("coverage_resources"),
            "coverage_resources"
        );
        assert_eq!(sanitize_metric_name("Disk-Used.bytes"), "disk_used_bytes");
        assert_eq!(sanitize_metric_name("9lives"), "_9lives");
        assert_eq!(sanitize_metric_name(""), "_");
        assert_eq!(sanitize_label_name("association"), "association");
        assert_eq!(sanitize_label_name("__name__"), "_name__");
        assert_eq!(sanitize_label_name("a-b"), "a_b");
        assert_eq!(sanitize_label_name("1x"), "_1x");
        assert_eq!(sanitize_label_name(""), "label");
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("x\ny"), "x\\ny");
    }

    #[test]
    fn evaluation_counter_counts_by_rule_and_status() {
        let c = EvaluationCounter::default();
        c.record("r", EvaluationStatus::Ok);
        c.record("r", EvaluationStatus::Ok);
        c.record("r", EvaluationStatus::Error);
        assert_eq!(
            c.snapshot(),
            vec![(("r".to_owned(), "error"), 1), (("r".to_owned(), "ok"), 2)]
        );
    }

    #[test]
    fn a_failed_write_counts_as_write_failed_and_as_a_store_error() {
        let c = EvaluationCounter::default();
        let errors = c.store_errors();
        c.record_write_failure("r");
        errors.record(StoreErrorCounter::READ);
        assert_eq!(c.snapshot(), vec![(("r".to_owned(), WRITE_FAILED), 1)]);
        assert_eq!(
            c.store_errors().snapshot(),
            vec![("read", 1), ("record_evaluation", 1)]
        );
    }

    fn record(measurements: Vec<Measurement>) -> EvaluationRecord {
        record_in("111111111111", "eu-west-1", measurements)
    }

    fn record_in(account: &str, region: &str, measurements: Vec<Measurement>) -> EvaluationRecord {
        let now = chrono::Utc::now();
        EvaluationRecord {
            id: 1,
            rule: "r".into(),
            scope: Scope::new(account, region),
            status: EvaluationStatus::Ok,
            error: None,
            started_at: now,
            finished_at: now,
            findings_seen: 0,
            opened: 0,
            resolved: 0,
            measurements,
            counts: BTreeMap::new(),
        }
    }

    /// Regions fold into one series per account as each measurement
    /// declares; a zero sum is left out, a zero minimum is not; a
    /// measurement no rule declares takes the largest value.
    #[test]
    fn measurements_fold_regions_per_account_as_declared() {
        let declare = |help: &str, across_regions| MeasurementInfo {
            help: help.to_owned(),
            across_regions,
        };
        let input = MetricsInput {
            measurements: BTreeMap::from([
                (
                    "count".to_owned(),
                    declare(
                        "Things counted. Cached from the last evaluation",
                        Aggregation::Sum,
                    ),
                ),
                (
                    "flag".to_owned(),
                    declare(
                        "On or off. Cached from the last evaluation",
                        Aggregation::Min,
                    ),
                ),
                (
                    "age".to_owned(),
                    declare("How old. Cached from the last evaluation", Aggregation::Max),
                ),
            ]),
            store: Some(StoreData {
                latest: vec![
                    record_in(
                        "111111111111",
                        "eu-west-1",
                        vec![
                            Measurement::new("count", &[("reason", "a")], 2.0),
                            Measurement::new("count", &[("reason", "none")], 0.0),
                            Measurement::new("flag", &[], 1.0),
                            Measurement::new("age", &[], 5.0),
                            Measurement::new("undeclared", &[], 3.0),
                        ],
                    ),
                    record_in(
                        "111111111111",
                        "us-east-1",
                        vec![
                            Measurement::new("count", &[("reason", "a")], 3.0),
                            Measurement::new("count", &[("reason", "none")], 0.0),
                            Measurement::new("flag", &[], 0.0),
                            Measurement::new("age", &[], 9.0),
                            Measurement::new("undeclared", &[], 8.0),
                        ],
                    ),
                    record_in(
                        "222222222222",
                        "eu-west-1",
                        vec![
                            Measurement::new("count", &[("reason", "a")], 0.0),
                            Measurement::new("flag", &[], 1.0),
                        ],
                    ),
                ],
                ..StoreData::default()
            }),
            ..MetricsInput::default()
        };
        let text = render(&input).unwrap();
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| {
                !l.starts_with('#')
                    && !l.starts_with("blindspot_build_info")
                    && !l.contains("store")
                    && !l.contains("scrape")
            })
            .collect();
        assert_eq!(
            samples,
            [
                "blindspot_age{account=\"111111111111\"} 9.0",
                "blindspot_count{reason=\"a\",account=\"111111111111\"} 5.0",
                "blindspot_flag{account=\"111111111111\"} 0.0",
                "blindspot_flag{account=\"222222222222\"} 1.0",
                "blindspot_undeclared{account=\"111111111111\"} 8.0",
            ],
            "{text}"
        );
        assert!(text.contains("# HELP blindspot_count Things counted. Cached from the last evaluation. Summed over each account's regions; an account whose sum is 0 has no series.\n"), "{text}");
        assert!(text.contains("# HELP blindspot_flag On or off. Cached from the last evaluation. The smallest value over each account's regions.\n"), "{text}");
        assert!(text.contains("# HELP blindspot_undeclared Measurement undeclared reported by a blindspot rule. Cached from the last evaluation. The largest value over each account's regions.\n"), "{text}");
    }

    #[test]
    fn measurements_skip_collisions_and_non_finite_values() {
        let input = MetricsInput {
            store: Some(StoreData {
                latest: vec![record(vec![
                    Measurement::new("findings", &[], 3.0),
                    Measurement::new("store_up", &[], 3.0),
                    Measurement::new("odd", &[], f64::NAN),
                    Measurement::new("fine", &[("region", "x")], 2.0),
                ])],
                ..StoreData::default()
            }),
            ..MetricsInput::default()
        };
        let text = render(&input).unwrap();
        assert!(!text.contains("blindspot_odd"));
        assert!(text.contains("blindspot_fine{exported_region=\"x\",account=\"111111111111\"} 2.0"));
        // Only the built-in families are named `findings` and `store_up`.
        assert_eq!(text.matches("# TYPE blindspot_findings gauge").count(), 1);
        assert!(!text.contains("blindspot_findings{account"));
        assert_eq!(text.matches("# TYPE blindspot_store_up gauge").count(), 1);
        assert!(text.contains("blindspot_store_up 1\n"), "{text}");
    }

    #[test]
    fn without_the_store_only_in_process_families_are_rendered() {
        let input = MetricsInput {
            version: "v".into(),
            commit: "0123456789ab".into(),
            build_date: "2026-11-30".into(),
            rule_ids: vec!["r".into()],
            store: None,
            scrape_seconds: 0.25,
            evaluations: vec![(("r".to_owned(), "ok"), 2)],
            store_errors: vec![("read", 3)],
            ..MetricsInput::default()
        };
        let text = render(&input).unwrap();
        for present in [
            "blindspot_build_info{version=\"v\",commit=\"0123456789ab\",build_date=\"2026-11-30\"} 1",
            "blindspot_evaluations_total{rule=\"r\",status=\"ok\"} 2",
            "blindspot_evaluations_total{rule=\"r\",status=\"write_failed\"} 0",
            "blindspot_store_up 0",
            "blindspot_store_errors_total{operation=\"read\"} 3",
            "blindspot_store_errors_total{operation=\"record_evaluation\"} 0",
            "blindspot_scrape_duration_seconds 0.25",
        ] {
            assert!(text.contains(present), "{present} in {text}");
        }
        for absent in [
            "blindspot_findings",
            "blindspot_evaluation_status",
            "blindspot_evaluation_last_success",
            "blindspot_evaluation_consecutive_failures",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }
}
