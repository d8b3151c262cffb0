//! The embedded SQLite implementation of [`Store`].
//!
//! Connections: one writer behind a mutex, and a small pool of read-only
//! connections ([`READERS`]) for every read. In WAL mode a reader sees the
//! last committed state and never waits for the writer, so the API, the
//! dashboard and `/metrics` keep answering while an evaluation of 100k
//! findings is being recorded; only writes queue behind each other, and the
//! scheduler makes few of those.
//!
//! Durability: the database runs in WAL mode with `synchronous = NORMAL`. In WAL
//! mode a commit is appended to the log before `COMMIT` returns, so a killed
//! process (kill -9, OOM, panic) never loses or half-applies a committed
//! evaluation; only a power loss or kernel crash can drop the last few
//! commits, never corrupt the file. Those evaluations are re-derived by the
//! next activation, so the fsync per commit that `FULL` would add buys nothing
//! a monitoring daemon needs. The log is checkpointed and truncated on every
//! [`Store::prune`] (the scheduler's retention tick), and `journal_size_limit`
//! bounds what it keeps between checkpoints.
//!
//! The file is created with mode 0600 on Unix (SQLite gives the `-wal` and
//! `-shm` files the same mode): findings name accounts, instances and
//! remediation commands.
//!
//! Writes touch only what changed: a finding seen again with the same text
//! gets its `last_seen` and nothing else, so no index is rewritten for it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use blindspot_core::{Evaluation, EvaluationStatus, Finding, Measurement, Scope, Severity};
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::types::Value;
use rusqlite::{
    params, params_from_iter, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior,
};

use crate::migrations;
use crate::{
    EvaluationRecord, FindingEvent, FindingEventKind, FindingPage, FindingQuery, FindingStatus,
    LifecycleChange, ScopeHealth, Store, StoreError, StoredFinding,
};

/// Page size when a query asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page [`Store::findings`] and [`Store::evaluations`] return.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Read-only connections in the pool. Reads are short (a page, a scrape), so
/// a few cover the API, the dashboard and Prometheus at once on a small host.
pub const READERS: usize = 4;
/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The WAL file is truncated to at most this after a checkpoint.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
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
    writer: Mutex<Connection>,
    readers: ReaderPool,
    /// The file of a throwaway store. Declared last, so it is removed only
    /// after every connection above has closed.
    _temporary: Option<RemoveOnDrop>,
}

/// Read-only connections, handed out one per read and returned on drop.
#[derive(Debug)]
struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl ReaderPool {
    /// Waits until a connection is free. Reads run on blocking threads, so
    /// waiting here parks one of those, never an async worker.
    fn get(&self) -> Reader<'_> {
        // A panic while holding this lock cannot corrupt a Vec push or pop.
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = idle.pop() {
                return Reader {
                    pool: self,
                    conn: Some(conn),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A pooled read-only connection; goes back to the pool when dropped, also
/// during a panic.
struct Reader<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a pooled connection is present until dropped"),
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.push(conn);
            self.pool.returned.notify_one();
        }
    }
}

/// Removes a throwaway database and its WAL files.
#[derive(Debug)]
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

/// Creates `path` readable and writable by its owner only, unless it exists.
/// SQLite would create it with 0644 less the umask.
fn create_private(path: &Path, must_be_new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if must_be_new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// A fresh, private file for a throwaway store in the temporary directory.
fn temporary_file() -> Result<RemoveOnDrop, StoreError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last_error = None;
    for _ in 0..16 {
        let path = std::env::temp_dir().join(format!(
            "blindspot-{}-{}-{nanos:08x}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // create_new: a leftover of a killed process is never reused.
        match create_private(&path, true) {
            Ok(()) => return Ok(RemoveOnDrop(path)),
            Err(err) => last_error = Some(err),
        }
    }
    Err(StoreError::Database(format!(
        "cannot create a temporary database in {}: {}",
        std::env::temp_dir().display(),
        last_error.map_or_else(String::new, |e| e.to_string())
    )))
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|err| {
        StoreError::Database(format!("cannot open {} for reading: {err}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed, mode 0600 on Unix) the database at `path`,
    /// creating its parent directories, and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| {
                StoreError::Database(format!("cannot create {}: {err}", parent.display()))
            })?;
        }
        create_private(path, false).map_err(|err| {
            StoreError::Database(format!("cannot create {}: {err}", path.display()))
        })?;
        Self::init(path, None)
    }

    /// An empty throwaway store, for tests and one-off runs.
    ///
    /// It lives in a private file in the temporary directory, removed when
    /// the store is dropped, rather than in `:memory:`: an in-memory
    /// database is one connection's alone, and this store's readers and
    /// writer must be separate connections, exactly as with [`open`](Self::open).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let file = temporary_file()?;
        let path = file.0.clone();
        Self::init(&path, Some(file))
    }

    fn init(path: &Path, temporary: Option<RemoveOnDrop>) -> Result<SqliteStore, StoreError> {
        let mut writer = Connection::open(path).map_err(|err| {
            StoreError::Database(format!("cannot open {}: {err}", path.display()))
        })?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        // A throwaway store needs no durability at all. Set first, so that
        // switching to WAL below does not sync either.
        writer.execute_batch(if temporary.is_some() {
            "PRAGMA synchronous = OFF"
        } else {
            "PRAGMA synchronous = NORMAL"
        })?;
        // journal_mode answers with the mode actually in effect; a file
        // system without shared memory would silently stay in DELETE mode,
        // where readers wait for the writer's commits.
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                mode,
                "SQLite refused WAL mode; commits will be slower and block readers"
            );
        }
        // Answers with the limit in effect, so it is read as a row.
        let _: i64 = writer.query_row(
            &format!("PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}"),
            [],
            |r| r.get(0),
        )?;
        migrations::migrate(&mut writer)?;
        // Readers open after the migration, so they see the current schema.
        let readers = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers: ReaderPool {
                idle: Mutex::new(readers),
                returned: Condvar::new(),
            },
            _temporary: temporary,
        })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .reader()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Runs `PRAGMA integrity_check` and returns its report (`["ok"]` when sound).
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied change:
        // an unfinished rusqlite Transaction rolls back when dropped. So the
        // connection is sound and the poison can be ignored.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reader(&self) -> Reader<'_> {
        self.readers.get()
    }

    /// The finding rows `sql` selects (its columns [`FINDING_COLUMNS`]),
    /// read on a reader connection that is released before they are
    /// converted.
    fn raw_findings(&self, sql: &str, args: Vec<Value>) -> Result<Vec<RawFinding>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(sql)?;
        let raws = stmt
            .query_map(params_from_iter(args), RawFinding::from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(raws)
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
     status, reopen_count, withdrawn_at, withdrawn_reason";

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
    withdrawn_at: Option<i64>,
    withdrawn_reason: Option<String>,
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
            withdrawn_at: r.get(17)?,
            withdrawn_reason: r.get(18)?,
        })
    }

    fn into_stored(self) -> Result<StoredFinding, StoreError> {
        let severity = severity_from_rank(self.severity).ok_or_else(|| {
            StoreError::Corrupt(format!("finding {}: severity {}", self.id, self.severity))
        })?;
        let status = match self.status.as_str() {
            "open" => FindingStatus::Open,
            "resolved" => FindingStatus::Resolved,
            "withdrawn" => FindingStatus::Withdrawn,
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
            withdrawn_at: self.withdrawn_at.map(from_micros).transpose()?,
            withdrawn_reason: self.withdrawn_reason,
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

/// The query of one page of [`Store::findings`]: SQL and parameters, built
/// per filter so that every condition can use an index. Apart so that its
/// query plan can be tested.
fn findings_statement(
    query: &FindingQuery,
    limit: usize,
) -> Result<(String, Vec<Value>), StoreError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut bind = |clause: &str, value: Value| {
        args.push(value);
        clauses.push(clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(status) = query.status {
        bind("status = ?", status.as_str().to_owned().into());
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
        // The leading `severity <= r` lets the index scan start at the
        // cursor's severity instead of the most severe finding.
        clauses.push(format!(
            "severity <= ?{r} AND (severity < ?{r} OR id > ?{i})"
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
    Ok((sql, args))
}

/// Open finding counts, answered from the `findings_counts` index alone.
const OPEN_COUNTS_SQL: &str = "SELECT rule, severity, account, region, COUNT(*) FROM findings \
     WHERE status = 'open' GROUP BY rule, severity, account, region \
     ORDER BY rule, severity DESC, account, region";

fn evaluations_statement(rule: Option<&str>, limit: usize) -> (String, Vec<Value>) {
    let limit: Value = to_i64(page_size(limit) as u64).into();
    match rule {
        Some(rule) => (
            format!(
                "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE rule = ?1 \
                 ORDER BY id DESC LIMIT ?2"
            ),
            vec![rule.to_owned().into(), limit],
        ),
        None => (
            format!("SELECT {EVALUATION_COLUMNS} FROM evaluations ORDER BY id DESC LIMIT ?1"),
            vec![limit],
        ),
    }
}

fn open_findings_statement(rule: &str, scope: &Scope, codes: &[&str]) -> (String, Vec<Value>) {
    let mut args: Vec<Value> = vec![
        rule.to_owned().into(),
        scope.account.clone().into(),
        scope.region.clone().into(),
    ];
    let codes_clause = if codes.is_empty() {
        ""
    } else {
        // The codes travel as one JSON array parameter, read with
        // json_each, so the statement text never depends on the data.
        let json = serde_json::Value::from(codes.to_vec()).to_string();
        args.push(json.into());
        "AND code IN (SELECT value FROM json_each(?4))"
    };
    (
        format!(
            "SELECT {FINDING_COLUMNS} FROM findings WHERE rule = ?1 AND account = ?2 \
             AND region = ?3 AND status = 'open' {codes_clause} \
             ORDER BY severity DESC, id ASC"
        ),
        args,
    )
}

/// The columns of a stored finding that a later report may change.
struct CurrentFinding {
    status: String,
    code: String,
    severity: i64,
    resource: String,
    title: String,
    description: String,
    recommendation: String,
    remediation: Option<String>,
    details: String,
}

impl CurrentFinding {
    const SQL: &'static str = "SELECT status, code, severity, resource, title, description, \
         recommendation, remediation, details FROM findings WHERE id = ?1";

    fn from_row(r: &Row<'_>) -> rusqlite::Result<CurrentFinding> {
        Ok(CurrentFinding {
            status: r.get(0)?,
            code: r.get(1)?,
            severity: r.get(2)?,
            resource: r.get(3)?,
            title: r.get(4)?,
            description: r.get(5)?,
            recommendation: r.get(6)?,
            remediation: r.get(7)?,
            details: r.get(8)?,
        })
    }

    /// The columns whose value differs from the report, with the new values.
    fn changes(&self, f: &Finding, details: &str) -> Vec<(&'static str, Value)> {
        let mut out: Vec<(&'static str, Value)> = Vec::new();
        let mut text = |column, old: &str, new: &str| {
            if old != new {
                out.push((column, Value::Text(new.to_owned())));
            }
        };
        text("code", &self.code, &f.code);
        text("resource", &self.resource, &f.resource);
        text("title", &self.title, &f.title);
        text("description", &self.description, &f.description);
        text("recommendation", &self.recommendation, &f.recommendation);
        text("details", &self.details, details);
        let rank = severity_rank(f.severity);
        if self.severity != rank {
            out.push(("severity", Value::Integer(rank)));
        }
        if self.remediation != f.remediation {
            out.push((
                "remediation",
                f.remediation.clone().map_or(Value::Null, Value::Text),
            ));
        }
        out
    }
}

/// Inserts a new finding, or updates a known one: only the columns that
/// changed, plus `last_seen`, and the lifecycle columns when it reopens.
/// Returns the previous status, if the finding was known.
fn upsert_finding(
    tx: &rusqlite::Transaction<'_>,
    f: &Finding,
    at: i64,
) -> Result<Option<String>, StoreError> {
    let details = serde_json::to_string(&f.details)
        .map_err(|err| StoreError::InvalidEvaluation(format!("finding {}: {err}", f.id)))?;
    let current = tx
        .prepare_cached(CurrentFinding::SQL)?
        .query_row([&f.id], CurrentFinding::from_row)
        .optional()?;
    let Some(current) = current else {
        tx.prepare_cached(
            "INSERT INTO findings (id, rule, code, severity, account, region, resource, \
             title, description, recommendation, remediation, details, first_seen, \
             last_seen, status, reopen_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 'open', 0)",
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
        return Ok(None);
    };
    let changed = current.changes(f, &details);
    let reopen = current.status != "open";
    if changed.is_empty() && !reopen {
        // The common case: the same problem, seen again.
        tx.prepare_cached("UPDATE findings SET last_seen = ?2 WHERE id = ?1 AND last_seen != ?2")?
            .execute(params![f.id, at])?;
        return Ok(Some(current.status));
    }
    // Text fields follow the latest report; identity columns cannot change
    // because the id is a hash of them. A resolved or withdrawn finding
    // reopens here, keeping first_seen.
    let mut args: Vec<Value> = vec![Value::Text(f.id.clone()), Value::Integer(at)];
    let mut sets = vec!["last_seen = ?2".to_owned()];
    for (column, value) in changed {
        args.push(value);
        sets.push(format!("{column} = ?{}", args.len()));
    }
    if reopen {
        sets.push(
            "status = 'open', resolved_at = NULL, withdrawn_at = NULL, \
             withdrawn_reason = NULL, reopen_count = reopen_count + 1"
                .to_owned(),
        );
    }
    // The statement text depends on which columns changed, never on data.
    tx.prepare_cached(&format!(
        "UPDATE findings SET {} WHERE id = ?1",
        sets.join(", ")
    ))?
    .execute(params_from_iter(args))?;
    Ok(Some(current.status))
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

/// Keeps the scope's health row in step with the evaluation just recorded.
/// In an UPDATE every expression sees the row as it was, so `status` on the
/// right-hand side is the previous status.
const UPDATE_HEALTH_SQL: &str = "INSERT INTO scope_health (rule, account, region, status, \
     error, started_at, finished_at, evaluation_id, last_success_at, consecutive_failures, \
     unavailable_since) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
        CASE WHEN ?4 = 'ok' THEN ?7 END, \
        CASE WHEN ?4 = 'error' THEN 1 ELSE 0 END, \
        CASE WHEN ?4 = 'unavailable' THEN ?7 END) \
     ON CONFLICT (rule, account, region) DO UPDATE SET \
        status = excluded.status, \
        error = excluded.error, \
        started_at = excluded.started_at, \
        finished_at = excluded.finished_at, \
        evaluation_id = excluded.evaluation_id, \
        last_success_at = CASE WHEN excluded.status = 'ok' THEN excluded.finished_at \
            ELSE last_success_at END, \
        consecutive_failures = CASE excluded.status WHEN 'ok' THEN 0 \
            WHEN 'error' THEN consecutive_failures + 1 ELSE consecutive_failures END, \
        unavailable_since = CASE WHEN excluded.status != 'unavailable' THEN NULL \
            WHEN status = 'unavailable' THEN unavailable_since ELSE excluded.finished_at END";

/// Withdraws the open findings of one scope, with an event each; returns
/// how many.
fn withdraw_scope(
    tx: &rusqlite::Transaction<'_>,
    rule: &str,
    scope: &Scope,
    reason: &str,
    at: i64,
) -> Result<u64, StoreError> {
    let key = params![rule, scope.account, scope.region, at, reason];
    tx.prepare_cached(
        "INSERT INTO finding_events (finding_id, evaluation_id, kind, at, reason) \
         SELECT id, NULL, 'withdrawn', ?4, ?5 FROM findings \
         WHERE rule = ?1 AND account = ?2 AND region = ?3 AND status = 'open' ORDER BY id",
    )?
    .execute(key)?;
    let n = tx
        .prepare_cached(
            "UPDATE findings SET status = 'withdrawn', withdrawn_at = ?4, withdrawn_reason = ?5 \
             WHERE rule = ?1 AND account = ?2 AND region = ?3 AND status = 'open'",
        )?
        .execute(key)?;
    Ok(n as u64)
}

fn health_from_row(r: &Row<'_>) -> rusqlite::Result<RawHealth> {
    Ok(RawHealth {
        rule: r.get(0)?,
        account: r.get(1)?,
        region: r.get(2)?,
        status: r.get(3)?,
        error: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        last_success_at: r.get(7)?,
        consecutive_failures: r.get(8)?,
        unavailable_since: r.get(9)?,
    })
}

struct RawHealth {
    rule: String,
    account: String,
    region: String,
    status: String,
    error: Option<String>,
    started_at: i64,
    finished_at: i64,
    last_success_at: Option<i64>,
    consecutive_failures: i64,
    unavailable_since: Option<i64>,
}

impl RawHealth {
    fn into_health(self) -> Result<ScopeHealth, StoreError> {
        Ok(ScopeHealth {
            status: eval_status_from(&self.status)?,
            error: self.error,
            started_at: from_micros(self.started_at)?,
            finished_at: from_micros(self.finished_at)?,
            last_success_at: self.last_success_at.map(from_micros).transpose()?,
            consecutive_failures: u64::try_from(self.consecutive_failures).map_err(|_| {
                StoreError::Corrupt(format!(
                    "health of {}: consecutive_failures {}",
                    self.rule, self.consecutive_failures
                ))
            })?,
            unavailable_since: self.unavailable_since.map(from_micros).transpose()?,
            scope: Scope::new(self.account, self.region),
            rule: self.rule,
        })
    }
}

impl Store for SqliteStore {
    fn finding_history(&self, id: &str) -> Result<Vec<FindingEvent>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT kind, at, evaluation_id, reason FROM finding_events WHERE finding_id = ?1 \
             ORDER BY id",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        rows.into_iter()
            .map(|(kind, at, evaluation_id, reason)| {
                let kind = match kind.as_str() {
                    "opened" => FindingEventKind::Opened,
                    "reopened" => FindingEventKind::Reopened,
                    "resolved" => FindingEventKind::Resolved,
                    "withdrawn" => FindingEventKind::Withdrawn,
                    other => {
                        return Err(StoreError::Corrupt(format!("event kind `{other}`")));
                    }
                };
                Ok(FindingEvent {
                    kind,
                    at: from_micros(at)?,
                    evaluation_id,
                    reason,
                })
            })
            .collect()
    }

    /// Applies the lifecycle at the evaluation's `finished_at`, and updates
    /// the scope's health, in one transaction.
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

        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "INSERT INTO evaluations (rule, account, region, started_at, finished_at, status, \
             error, measurements, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            evaluation.rule,
            evaluation.scope.account,
            evaluation.scope.region,
            micros(evaluation.started_at),
            at,
            evaluation.status.as_str(),
            evaluation.error,
            measurements,
            counts
        ])?;
        let eval_id = tx.last_insert_rowid();

        let mut change = LifecycleChange::default();
        for (id, f) in &seen {
            match upsert_finding(&tx, f, at)?.as_deref() {
                None => {
                    change.opened += 1;
                    add_event(&tx, id, eval_id, "opened", at)?;
                }
                Some("open") => change.updated += 1,
                Some(_) => {
                    change.reopened += 1;
                    add_event(&tx, id, eval_id, "reopened", at)?;
                }
            }
        }

        if evaluation.status.may_resolve() {
            let open: Vec<String> = {
                let mut stmt = tx.prepare_cached(
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
                tx.prepare_cached(
                    "UPDATE findings SET status = 'resolved', resolved_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id, at])?;
                add_event(&tx, id, eval_id, "resolved", at)?;
                change.resolved += 1;
            }
        }

        tx.prepare_cached(UPDATE_HEALTH_SQL)?.execute(params![
            evaluation.rule,
            evaluation.scope.account,
            evaluation.scope.region,
            evaluation.status.as_str(),
            evaluation.error,
            micros(evaluation.started_at),
            at,
            eval_id
        ])?;
        tx.prepare_cached(
            "UPDATE evaluations SET findings_seen = ?2, opened = ?3, resolved = ?4 WHERE id = ?1",
        )?
        .execute(params![
            eval_id,
            to_i64(seen.len() as u64),
            to_i64(change.opened + change.reopened),
            to_i64(change.resolved)
        ])?;
        tx.commit()?;
        Ok(change)
    }

    /// Most severe first, then by id; the cursor is the last key returned.
    fn findings(&self, query: &FindingQuery) -> Result<FindingPage, StoreError> {
        let limit = page_size(query.limit);
        let (sql, args) = findings_statement(query, limit)?;
        let raws = self.raw_findings(&sql, args)?;
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
        let conn = self.reader();
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {FINDING_COLUMNS} FROM findings WHERE id = ?1"
            ))?
            .query_row([id], RawFinding::from_row)
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
        let (sql, args) = open_findings_statement(rule, scope, codes);
        self.raw_findings(&sql, args)?
            .into_iter()
            .map(|raw| raw.into_stored().map(|s| s.finding))
            .collect()
    }

    fn evaluations(
        &self,
        rule: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EvaluationRecord>, StoreError> {
        let (sql, args) = evaluations_statement(rule, limit);
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&sql)?;
        collect_evaluations(&mut stmt, params_from_iter(args))
    }

    fn latest_evaluations(&self) -> Result<Vec<EvaluationRecord>, StoreError> {
        let conn = self.reader();
        // The health table names each scope's latest evaluation: latest means
        // last recorded, as the scheduler never runs one rule twice at once
        // in a scope.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE id IN \
             (SELECT evaluation_id FROM scope_health) \
             ORDER BY rule, account, region"
        ))?;
        collect_evaluations(&mut stmt, [])
    }

    fn scope_health(&self) -> Result<Vec<ScopeHealth>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT rule, account, region, status, error, started_at, finished_at, \
             last_success_at, consecutive_failures, unavailable_since FROM scope_health \
             ORDER BY rule, account, region",
        )?;
        let raws = stmt
            .query_map([], health_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        raws.into_iter().map(RawHealth::into_health).collect()
    }

    fn open_counts(&self) -> Result<Vec<(String, Severity, Scope, u64)>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(OPEN_COUNTS_SQL)?;
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
        drop(stmt);
        drop(conn);
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

    fn withdraw_unconfigured(
        &self,
        configured: &BTreeSet<(String, Scope)>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let at = micros(now);
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let scopes = |sql: &str| -> Result<Vec<(String, Scope)>, StoreError> {
            let mut stmt = tx.prepare(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        Scope::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows
                .into_iter()
                .filter(|key| !configured.contains(key))
                .collect())
        };
        let with_open =
            scopes("SELECT DISTINCT rule, account, region FROM findings WHERE status = 'open'")?;
        let with_health = scopes("SELECT rule, account, region FROM scope_health")?;
        let mut withdrawn = 0;
        for (rule, scope) in &with_open {
            let n = withdraw_scope(&tx, rule, scope, reason, at)?;
            tracing::info!(rule, scope = %scope, findings = n, reason, "withdrew the findings of an unconfigured scope");
            withdrawn += n;
        }
        for (rule, scope) in &with_health {
            tx.prepare_cached(
                "DELETE FROM scope_health WHERE rule = ?1 AND account = ?2 AND region = ?3",
            )?
            .execute(params![rule, scope.account, scope.region])?;
        }
        tx.commit()?;
        Ok(withdrawn)
    }

    fn withdraw_unavailable(
        &self,
        longer_than: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let Some(before) = TimeDelta::from_std(longer_than)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
        else {
            // Longer than the calendar reaches: nothing can qualify.
            return Ok(0);
        };
        let at = micros(now);
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let scopes: Vec<(String, Scope, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT rule, account, region, unavailable_since FROM scope_health \
                 WHERE status = 'unavailable' AND unavailable_since < ?1",
            )?;
            let rows = stmt.query_map([micros(before)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Scope::new(r.get::<_, String>(1)?, r.get::<_, String>(2)?),
                    r.get::<_, i64>(3)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut withdrawn = 0;
        for (rule, scope, since) in &scopes {
            let reason = format!(
                "every evaluation since {} was unavailable",
                from_micros(*since)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let n = withdraw_scope(&tx, rule, scope, &reason, at)?;
            if n > 0 {
                tracing::info!(rule, scope = %scope, findings = n, reason, "withdrew the findings of an unavailable scope");
            }
            withdrawn += n;
        }
        tx.commit()?;
        Ok(withdrawn)
    }

    /// Deletes findings resolved or withdrawn before `resolved_before` (with
    /// their history) and evaluations finished before `evaluations_before`;
    /// events of kept findings lose only their link to a pruned evaluation.
    /// Scope health is kept. Then checkpoints and truncates the WAL.
    fn prune(
        &self,
        resolved_before: DateTime<Utc>,
        evaluations_before: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let resolved = tx.execute(
            "DELETE FROM findings WHERE status = 'resolved' AND resolved_at < ?1",
            [micros(resolved_before)],
        )?;
        let withdrawn = tx.execute(
            "DELETE FROM findings WHERE status = 'withdrawn' AND withdrawn_at < ?1",
            [micros(resolved_before)],
        )?;
        let evaluations = tx.execute(
            "DELETE FROM evaluations WHERE finished_at < ?1",
            [micros(evaluations_before)],
        )?;
        tx.commit()?;
        // Pruning is the hourly maintenance point: fold the WAL back into
        // the database and truncate it. A checkpoint that readers keep from
        // finishing is not an error; the next one catches up.
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        }) {
            Ok((busy, frames)) => tracing::debug!(busy, frames, "WAL checkpoint"),
            Err(err) => tracing::warn!("WAL checkpoint failed: {err}"),
        }
        Ok(((resolved + withdrawn) as u64, evaluations as u64))
    }

    /// Takes the write lock and writes a row, then rolls back: this fails when
    /// the file is read-only, the disk is full or another process holds the lock
    /// past the busy timeout.
    fn check_writable(&self) -> Result<(), StoreError> {
        let mut conn = self.writer();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn plan(store: &SqliteStore, sql: &str, args: Vec<Value>) -> Vec<String> {
        let conn = store.reader();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Asserts the plan reads `index` and sorts nothing in a temporary B-tree.
    fn assert_indexed(plan: &[String], index: &str) {
        assert!(
            plan.iter()
                .any(|step| step.contains(&format!("INDEX {index}"))),
            "{index} is not used: {plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "a temporary B-tree sorts or groups: {plan:?}"
        );
        assert!(
            !plan
                .iter()
                .any(|step| step.starts_with("SCAN findings") && !step.contains("INDEX")),
            "a full table scan: {plan:?}"
        );
    }

    #[test]
    fn the_dashboard_listing_and_the_metrics_use_indexes_without_sorting() {
        let store = SqliteStore::open_in_memory().unwrap();
        let open = FindingQuery {
            status: Some(FindingStatus::Open),
            limit: 500,
            ..Default::default()
        };
        let (sql, args) = findings_statement(&open, 500).unwrap();
        assert_indexed(&plan(&store, &sql, args), "findings_status_order");
        // The next pages too.
        let next = FindingQuery {
            cursor: Some(encode_cursor(3, "some-id")),
            ..open.clone()
        };
        let (sql, args) = findings_statement(&next, 500).unwrap();
        assert_indexed(&plan(&store, &sql, args), "findings_status_order");
        // Without a status filter the listing walks the plain order index.
        let (sql, args) = findings_statement(&FindingQuery::default(), 100).unwrap();
        assert_indexed(&plan(&store, &sql, args), "findings_order");

        let counts = plan(&store, OPEN_COUNTS_SQL, Vec::new());
        assert_indexed(&counts, "findings_counts");
        assert!(
            counts.iter().any(|s| s.contains("COVERING INDEX")),
            "{counts:?}"
        );

        let (sql, args) = evaluations_statement(Some("rule-a"), 50);
        assert_indexed(&plan(&store, &sql, args), "evaluations_rule");
        let scope = Scope::new("111111111111", "eu-west-1");
        for codes in [&[][..], &["A", "B"][..]] {
            let (sql, args) = open_findings_statement("rule-a", &scope, codes);
            let steps = plan(&store, &sql, args);
            assert!(
                steps.iter().any(|s| s.contains("INDEX findings_scope")),
                "{steps:?}"
            );
        }
    }

    #[test]
    fn readers_do_not_wait_for_the_writer() {
        let store = std::sync::Arc::new(SqliteStore::open_in_memory().unwrap());
        // Hold the writer as a long evaluation would.
        let writing = store.writer();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::sync::Arc::clone(&store);
        std::thread::spawn(move || {
            let page = reader
                .findings(&FindingQuery::default())
                .map(|p| p.findings.len());
            let counts = reader.open_counts().map(|c| c.len());
            let _ = tx.send((page.ok(), counts.ok()));
        });
        let answered = rx.recv_timeout(Duration::from_secs(10));
        drop(writing);
        assert_eq!(answered.unwrap(), (Some(0), Some(0)));
    }

    #[cfg(unix)]
    #[test]
    fn a_throwaway_store_is_a_private_file_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let store = SqliteStore::open_in_memory().unwrap();
        let path = store._temporary.as_ref().unwrap().0.clone();
        store.check_writable().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (journal, limit): (String, i64) = {
            let writer = store.writer();
            (
                writer
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .unwrap(),
                writer
                    .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
                    .unwrap(),
            )
        };
        assert_eq!((journal.as_str(), limit), ("wal", JOURNAL_SIZE_LIMIT));
        drop(store);
        assert!(!path.exists());
        let mut wal = path.into_os_string();
        wal.push("-wal");
        assert!(!std::path::Path::new(&wal).exists());
    }

    #[test]
    fn pooled_connections_are_read_only_and_shared_by_many_threads() {
        let store = std::sync::Arc::new(SqliteStore::open_in_memory().unwrap());
        let err = store
            .reader()
            .execute("DELETE FROM findings", [])
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        // More threads than connections: each waits its turn, none fails.
        let threads: Vec<_> = (0..3 * READERS)
            .map(|_| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        store.scope_health().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.readers.idle.lock().unwrap().len(), READERS);
    }
}
