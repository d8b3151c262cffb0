//! The embedded SQLite implementation of [`Store`].
//!
//! One connection behind a mutex: the daemon writes a few evaluations a minute
//! and the API reads small pages, so a pool would add nothing but lock
//! contention inside SQLite itself.
//!
//! Durability: the database runs in WAL mode with `synchronous = NORMAL`. In WAL
//! mode a commit is appended to the log before `COMMIT` returns, so a killed
//! process (kill -9, OOM, panic) never loses or half-applies a committed
//! evaluation; only a power loss or kernel crash can drop the last few
//! commits, never corrupt the file. Those evaluations are re-derived by the
//! next activation, so the fsync per commit that `FULL` would add buys nothing
//! a monitoring daemon needs.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::migrations;
use crate::{
    EvaluationRecord, FindingEvent, FindingEventKind, FindingPage, FindingQuery, FindingStatus,
    LifecycleChange, Store, StoreError, StoredFinding,
};

/// Page size when a query asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page [`Store::findings`] and [`Store::evaluations`] return.
pub const MAX_PAGE_SIZE: usize = 1000;
/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The database file name inside a state directory.
const DB_FILE: &str = "blindspot.db";

/// The default database path: `$STATE_DIRECTORY/blindspot.db` under systemd
/// (`StateDirectory=` sets it), else `./blindspot.db`.
pub fn default_db_path() -> PathBuf {
    default_db_path_from(std::env::var_os("STATE_DIRECTORY").as_deref())
}

/// [`default_db_path`] for a given `STATE_DIRECTORY` value.
///
/// systemd joins several state directories with `:`; the first is ours.
pub fn default_db_path_from(state_directory: Option<&OsStr>) -> PathBuf {
    let first = state_directory
        .and_then(|dirs| dirs.to_str())
        .and_then(|dirs| dirs.split(':').next())
        .filter(|dir| !dir.is_empty());
    match first {
        Some(dir) => Path::new(dir).join(DB_FILE),
        None => PathBuf::from(DB_FILE),
    }
}

/// The SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, creating its parent
    /// directories, and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| {
                StoreError::Database(format!("cannot create {}: {err}", parent.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|err| {
            StoreError::Database(format!("cannot open {}: {err}", path.display()))
        })?;
        Self::init(conn, true)
    }

    /// An empty store in memory, for tests and `blindspot check`.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(mut conn: Connection, file: bool) -> Result<SqliteStore, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if file {
            // journal_mode answers with the mode actually in effect; a file
            // system without shared memory would silently stay in DELETE mode.
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode, "SQLite refused WAL mode; commits will be slower");
            }
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        migrations::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `PRAGMA integrity_check` and returns its report (`["ok"]` when sound).
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied change:
        // an unfinished rusqlite Transaction rolls back when dropped. So the
        // connection is sound and the poison can be ignored.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(v)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {v} out of range")))
}

fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn severity_from_rank(rank: i64) -> Option<Severity> {
    usize::try_from(rank)
        .ok()
        .and_then(|i| Severity::ALL.get(i).copied())
}

fn finding_status_str(s: FindingStatus) -> &'static str {
    match s {
        FindingStatus::Open => "open",
        FindingStatus::Resolved => "resolved",
    }
}

fn eval_status_from(s: &str) -> Result<EvaluationStatus, StoreError> {
    match s {
        "ok" => Ok(EvaluationStatus::Ok),
        "error" => Ok(EvaluationStatus::Error),
        "unavailable" => Ok(EvaluationStatus::Unavailable),
        other => Err(StoreError::Corrupt(format!(
            "unknown evaluation status `{other}`"
        ))),
    }
}

const FINDING_COLUMNS: &str = "id, rule, code, severity, account, region, resource, title, \
     description, recommendation, remediation, details, first_seen, last_seen, resolved_at, \
     status, reopen_count";

/// A finding row as read, before the fallible conversions that need
/// [`StoreError`] rather than [`rusqlite::Error`].
struct RawFinding {
    id: String,
    rule: String,
    code: String,
    severity: i64,
    account: String,
    region: String,
    resource: String,
    title: String,
    description: String,
    recommendation: String,
    remediation: Option<String>,
    details: String,
    first_seen: i64,
    last_seen: i64,
    resolved_at: Option<i64>,
    status: String,
    reopen_count: i64,
}

impl RawFinding {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawFinding> {
        Ok(RawFinding {
            id: r.get(0)?,
            rule: r.get(1)?,
            code: r.get(2)?,
            severity: r.get(3)?,
            account: r.get(4)?,
            region: r.get(5)?,
            resource: r.get(6)?,
            title: r.get(7)?,
            description: r.get(8)?,
            recommendation: r.get(9)?,
            remediation: r.get(10)?,
            details: r.get(11)?,
            first_seen: r.get(12)?,
            last_seen: r.get(13)?,
            resolved_at: r.get(14)?,
            status: r.get(15)?,
            reopen_count: r.get(16)?,
        })
    }

    fn into_stored(self) -> Result<StoredFinding, StoreError> {
        let severity = severity_from_rank(self.severity).ok_or_else(|| {
            StoreError::Corrupt(format!("finding {}: severity {}", self.id, self.severity))
        })?;
        let status = match self.status.as_str() {
            "open" => FindingStatus::Open,
            "resolved" => FindingStatus::Resolved,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "finding {}: status `{other}`",
                    self.id
                )))
            }
        };
        let details = serde_json::from_str(&self.details)
            .map_err(|err| StoreError::Corrupt(format!("finding {}: details: {err}", self.id)))?;
        let reopen_count = u32::try_from(self.reopen_count)
            .map_err(|_| StoreError::Corrupt(format!("finding {}: reopen_count", self.id)))?;
        Ok(StoredFinding {
            status,
            first_seen: from_micros(self.first_seen)?,
            last_seen: from_micros(self.last_seen)?,
            resolved_at: self.resolved_at.map(from_micros).transpose()?,
            reopen_count,
            finding: Finding {
                id: self.id,
                rule: self.rule,
                code: self.code,
                severity,
                account: self.account,
                region: self.region,
                resource: self.resource,
                title: self.title,
                description: self.description,
                recommendation: self.recommendation,
                remediation: self.remediation,
                details,
            },
        })
    }
}

const EVALUATION_COLUMNS: &str = "id, rule, account, region, started_at, finished_at, status, \
     error, findings_seen, opened, resolved, measurements, counts";

struct RawEvaluation {
    id: i64,
    rule: String,
    account: String,
    region: String,
    started_at: i64,
    finished_at: i64,
    status: String,
    error: Option<String>,
    findings_seen: i64,
    opened: i64,
    resolved: i64,
    measurements: String,
    counts: String,
}

impl RawEvaluation {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawEvaluation> {
        Ok(RawEvaluation {
            id: r.get(0)?,
            rule: r.get(1)?,
            account: r.get(2)?,
            region: r.get(3)?,
            started_at: r.get(4)?,
            finished_at: r.get(5)?,
            status: r.get(6)?,
            error: r.get(7)?,
            findings_seen: r.get(8)?,
            opened: r.get(9)?,
            resolved: r.get(10)?,
            measurements: r.get(11)?,
            counts: r.get(12)?,
        })
    }

    fn into_record(self) -> Result<EvaluationRecord, StoreError> {
        let id = self.id;
        let count = |v: i64| {
            u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("evaluation {id}: count {v}")))
        };
        let measurements: Vec<Measurement> = serde_json::from_str(&self.measurements)
            .map_err(|err| StoreError::Corrupt(format!("evaluation {id}: measurements: {err}")))?;
        let counts: BTreeMap<String, u64> = serde_json::from_str(&self.counts)
            .map_err(|err| StoreError::Corrupt(format!("evaluation {id}: counts: {err}")))?;
        Ok(EvaluationRecord {
            id,
            rule: self.rule,
            scope: Scope::new(self.account, self.region),
            status: eval_status_from(&self.status)?,
            error: self.error,
            started_at: from_micros(self.started_at)?,
            finished_at: from_micros(self.finished_at)?,
            findings_seen: count(self.findings_seen)?,
            opened: count(self.opened)?,
            resolved: count(self.resolved)?,
            measurements,
            counts,
        })
    }
}

fn collect_evaluations(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<EvaluationRecord>, StoreError> {
    let raws = stmt
        .query_map(params, RawEvaluation::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter().map(RawEvaluation::into_record).collect()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The cursor is the last returned key, `<severity rank>:<id>`, hex-encoded so
/// that clients treat it as opaque and it survives any URL.
fn encode_cursor(rank: i64, id: &str) -> String {
    format!("{rank}:{id}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let (rank, id) = text.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let rank: i64 = rank.parse().map_err(|_| StoreError::InvalidCursor)?;
    if severity_from_rank(rank).is_none() || id.is_empty() {
        return Err(StoreError::InvalidCursor);
    }
    Ok((rank, id.to_owned()))
}

fn page_size(limit: usize) -> usize {
    match limit {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// Checks that every finding belongs to the evaluation's rule and scope: only
/// those can be resolved by a later evaluation of the same scope, so a stray
/// one would stay open forever.
fn validate(evaluation: &Evaluation) -> Result<(), StoreError> {
    for f in &evaluation.findings {
        if f.id.is_empty() {
            return Err(StoreError::InvalidEvaluation(format!(
                "a finding of rule {} has an empty id",
                f.rule
            )));
        }
        if f.rule != evaluation.rule
            || f.account != evaluation.scope.account
            || f.region != evaluation.scope.region
        {
            return Err(StoreError::InvalidEvaluation(format!(
                "finding {} belongs to {} in {}/{}, not to the evaluation of {} in {}",
                f.id, f.rule, f.account, f.region, evaluation.rule, evaluation.scope
            )));
        }
    }
    Ok(())
}

fn upsert_finding(
    tx: &rusqlite::Transaction<'_>,
    f: &Finding,
    previous: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    let details = serde_json::to_string(&f.details)
        .map_err(|err| StoreError::InvalidEvaluation(format!("finding {}: {err}", f.id)))?;
    match previous {
        None => {
            tx.prepare_cached(
                "INSERT INTO findings (id, rule, code, severity, account, region, resource, \
                 title, description, recommendation, remediation, details, first_seen, \
                 last_seen, resolved_at, status, reopen_count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, NULL, \
                 'open', 0)",
            )?
            .execute(params![
                f.id,
                f.rule,
                f.code,
                severity_rank(f.severity),
                f.account,
                f.region,
                f.resource,
                f.title,
                f.description,
                f.recommendation,
                f.remediation,
                details,
                at
            ])?;
        }
        Some(status) => {
            // Text fields follow the latest report; identity columns cannot
            // change because the id is a hash of them. A resolved finding
            // reopens here, keeping first_seen.
            let reopen = i64::from(status == "resolved");
            tx.prepare_cached(
                "UPDATE findings SET code = ?2, severity = ?3, resource = ?4, title = ?5, \
                 description = ?6, recommendation = ?7, remediation = ?8, details = ?9, \
                 last_seen = ?10, status = 'open', resolved_at = NULL, \
                 reopen_count = reopen_count + ?11 WHERE id = ?1",
            )?
            .execute(params![
                f.id,
                f.code,
                severity_rank(f.severity),
                f.resource,
                f.title,
                f.description,
                f.recommendation,
                f.remediation,
                details,
                at,
                reopen
            ])?;
        }
    }
    Ok(())
}

fn add_event(
    tx: &rusqlite::Transaction<'_>,
    finding: &str,
    evaluation: i64,
    kind: &str,
    at: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO finding_events (finding_id, evaluation_id, kind, at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![finding, evaluation, kind, at])?;
    Ok(())
}

impl Store for SqliteStore {
    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT kind, at, evaluation_id FROM finding_events WHERE finding_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(kind, at, evaluation_id)| {
                let kind = match kind.as_str() {
                    "opened" => FindingEventKind::Opened,
                    "reopened" => FindingEventKind::Reopened,
                    "resolved" => FindingEventKind::Resolved,
                    other => {
                        return Err(StoreError::Corrupt(format!("event kind `{other}`")));
                    }
                };
                Ok(FindingEvent {
                    kind,
                    at: from_micros(at)?,
                    evaluation_id,
                })
            })
            .collect()
    }

    /// Applies the lifecycle at the evaluation's `finished_at`.
    ///
    /// A non-`ok` evaluation is recorded and its findings, if any, are opened or
    /// updated (what it did see is real), but it resolves nothing: its view is
    /// incomplete. Duplicate ids within one evaluation count once, the last
    /// report winning.
    fn record_evaluation(&self, evaluation: &Evaluation) -> Result<LifecycleChange, StoreError> {
        validate(evaluation)?;
        // JSON has no NaN or infinity (serde_json writes them as null, which
        // would not read back), so such measurements are not kept.
        let finite: Vec<&Measurement> = evaluation
            .measurements
            .iter()
            .filter(|m| m.value.is_finite())
            .collect();
        if finite.len() != evaluation.measurements.len() {
            tracing::warn!(
                rule = evaluation.rule,
                scope = %evaluation.scope,
                dropped = evaluation.measurements.len() - finite.len(),
                "not storing non-finite measurements"
            );
        }
        let measurements = serde_json::to_string(&finite)
            .map_err(|err| StoreError::InvalidEvaluation(format!("measurements: {err}")))?;
        let counts = serde_json::to_string(&evaluation.counts)
            .map_err(|err| StoreError::InvalidEvaluation(format!("counts: {err}")))?;
        let at = micros(evaluation.finished_at);
        let mut seen: BTreeMap<&str, &Finding> = BTreeMap::new();
        for f in &evaluation.findings {
            seen.insert(f.id.as_str(), f);
        }

        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO evaluations (rule, account, region, started_at, finished_at, status, \
             error, measurements, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                evaluation.rule,
                evaluation.scope.account,
                evaluation.scope.region,
                micros(evaluation.started_at),
                at,
                evaluation.status.as_str(),
                evaluation.error,
                measurements,
                counts
            ],
        )?;
        let eval_id = tx.last_insert_rowid();

        let mut change = LifecycleChange::default();
        for (id, f) in &seen {
            let previous: Option<String> = tx
                .prepare_cached("SELECT status FROM findings WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            upsert_finding(&tx, f, previous.as_deref(), at)?;
            match previous.as_deref() {
                None => {
                    change.opened += 1;
                    add_event(&tx, id, eval_id, "opened", at)?;
                }
                Some("resolved") => {
                    change.reopened += 1;
                    add_event(&tx, id, eval_id, "reopened", at)?;
                }
                Some(_) => change.updated += 1,
            }
        }

        if evaluation.status.may_resolve() {
            let open: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM findings WHERE rule = ?1 AND account = ?2 AND region = ?3 \
                     AND status = 'open'",
                )?;
                let rows = stmt.query_map(
                    params![
                        evaluation.rule,
                        evaluation.scope.account,
                        evaluation.scope.region
                    ],
                    |r| r.get(0),
                )?;
                rows.collect::<Result<_, _>>()?
            };
            for id in open.iter().filter(|id| !seen.contains_key(id.as_str())) {
                tx.execute(
                    "UPDATE findings SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
                    params![id, at],
                )?;
                add_event(&tx, id, eval_id, "resolved", at)?;
                change.resolved += 1;
            }
        }

        tx.execute(
            "UPDATE evaluations SET findings_seen = ?2, opened = ?3, resolved = ?4 WHERE id = ?1",
            params![
                eval_id,
                to_i64(seen.len() as u64),
                to_i64(change.opened + change.reopened),
                to_i64(change.resolved)
            ],
        )?;
        tx.commit()?;
        Ok(change)
    }

    /// Most severe first, then by id; the cursor is the last key returned.
    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        let limit = page_size(query.limit);
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut bind = |clause: &str, value: rusqlite::types::Value| {
            args.push(value);
            clauses.push(clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(status) = query.status {
            bind("status = ?", finding_status_str(status).to_owned().into());
        }
        if let Some(rule) = &query.rule {
            bind("rule = ?", rule.clone().into());
        }
        if let Some(severity) = query.severity {
            bind("severity = ?", severity_rank(severity).into());
        }
        if let Some(region) = &query.region {
            bind("region = ?", region.clone().into());
        }
        if let Some(account) = &query.account {
            bind("account = ?", account.clone().into());
        }
        if let Some(cursor) = &query.cursor {
            let (rank, id) = decode_cursor(cursor)?;
            args.push(rank.into());
            let r = args.len();
            args.push(id.into());
            let i = args.len();
            clauses.push(format!(
                "(severity < ?{r} OR (severity = ?{r} AND id > ?{i}))"
            ));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        // One extra row tells whether there is a next page without a COUNT.
        args.push(to_i64(limit as u64 + 1).into());
        let sql = format!(
            "SELECT {FINDING_COLUMNS} FROM findings {filter} ORDER BY severity DESC, id ASC \
             LIMIT ?{}",
            args.len()
        );
        let conn = self.lock();
        let mut stmt = conn.prepare(&sql)?;
        let raws = stmt
            .query_map(params_from_iter(args), RawFinding::from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        let more = raws.len() > limit;
        let findings = raws
            .into_iter()
            .take(limit)
            .map(RawFinding::into_stored)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match findings.last() {
            Some(last) if more => Some(encode_cursor(
                severity_rank(last.finding.severity),
                &last.finding.id,
            )),
            _ => None,
        };
        Ok(FindingPage {
            findings,
            next_cursor,
        })
    }

    fn finding(&self, id: &str) -> Result<Option<StoredFinding>, StoreError> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                &format!("SELECT {FINDING_COLUMNS} FROM findings WHERE id = ?1"),
                [id],
                RawFinding::from_row,
            )
            .optional()?;
        drop(conn);
        raw.map(RawFinding::into_stored).transpose()
    }

    fn open_findings(&self, rule: &str, scope: &Scope) -> Result<Vec<Finding>, StoreError> {
        self.open_findings_with_codes(rule, scope, &[])
    }

    fn open_findings_with_codes(
        &self,
        rule: &str,
        scope: &Scope,
        codes: &[&str],
    ) -> Result<Vec<Finding>, StoreError> {
        // The codes travel as one JSON array parameter, read with json_each,
        // so the statement text never depends on the data.
        let codes = serde_json::to_string(codes)
            .map_err(|e| StoreError::Database(format!("encoding codes: {e}")))?;
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE rule = ?1 AND account = ?2 \
             AND region = ?3 AND status = 'open' \
             AND (?4 = '[]' OR code IN (SELECT value FROM json_each(?4))) \
             ORDER BY severity DESC, id ASC"
        ))?;
        let raws = stmt
            .query_map(
                params![rule, scope.account, scope.region, codes],
                RawFinding::from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter()
            .map(|raw| raw.into_stored().map(|s| s.finding))
            .collect()
    }

    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        let limit = to_i64(page_size(limit) as u64);
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {EVALUATION_COLUMNS} FROM evaluations \
             WHERE ?1 IS NULL OR rule = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        collect_evaluations(&mut stmt, params![rule, limit])
    }

    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError> {
        let conn = self.lock();
        // Latest means last recorded: the scheduler never runs one rule twice
        // at once in a scope, so insertion order is completion order.
        let mut stmt = conn.prepare(&format!(
            "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE id IN \
             (SELECT MAX(id) FROM evaluations GROUP BY rule, account, region) \
             ORDER BY rule, account, region"
        ))?;
        collect_evaluations(&mut stmt, [])
    }

    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT rule, severity, account, region, COUNT(*) FROM findings \
             WHERE status = 'open' GROUP BY rule, severity, account, region \
             ORDER BY rule, severity DESC, account, region",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(rule, rank, account, region, n)| {
                let severity = severity_from_rank(rank)
                    .ok_or_else(|| StoreError::Corrupt(format!("severity {rank}")))?;
                Ok((
                    rule,
                    severity,
                    Scope::new(account, region),
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Deletes resolved findings resolved before `resolved_before` (with their
    /// history) and evaluations finished before `evaluations_before`; events
    /// of kept findings lose only their link to a pruned evaluation.
    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let findings = tx.execute(
            "DELETE FROM findings WHERE status = 'resolved' AND resolved_at < ?1",
            [micros(resolved_before)],
        )?;
        let evaluations = tx.execute(
            "DELETE FROM evaluations WHERE finished_at < ?1",
            [micros(evaluations_before)],
        )?;
        tx.commit()?;
        Ok((findings as u64, evaluations as u64))
    }

    /// Takes the write lock and writes a row, then rolls back: this fails when
    /// the file is read-only, the disk is full or another process holds the lock
    /// past the busy timeout.
    fn check_writable(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO evaluations (rule, account, region, started_at, finished_at, status) \
             VALUES ('', '', '', 0, 0, 'error')",
            [],
        )?;
        tx.rollback()?;
        Ok(())
    }
}
