//! Versioned schema migrations.
//!
//! `PRAGMA user_version` holds the number of scripts applied. Scripts are only
//! ever appended: an existing script never changes once released, because
//! databases in the field already ran it. Each script runs in the same
//! transaction as the version bump, so a crash mid-migration leaves the
//! previous version intact.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// The schema scripts, oldest first; script `i` takes the schema to version `i + 1`.
///
/// Times are integer microseconds since the Unix epoch (UTC): they compare and
/// index as integers, and microseconds are finer than anything AWS reports.
/// Severity is stored as its rank (info = 0 … critical = 4) so that "most
/// severe first" is a plain index order.
pub(crate) const MIGRATIONS: &[&str] = &[
    // Version 1: findings with their lifecycle, the history of every
    // transition, and the evaluations that caused them.
    "
    CREATE TABLE evaluations (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        rule           TEXT    NOT NULL,
        account        TEXT    NOT NULL,
        region         TEXT    NOT NULL,
        started_at     INTEGER NOT NULL,
        finished_at    INTEGER NOT NULL,
        status         TEXT    NOT NULL CHECK (status IN ('ok', 'error', 'unavailable')),
        error          TEXT,
        findings_seen  INTEGER NOT NULL DEFAULT 0,
        opened         INTEGER NOT NULL DEFAULT 0,
        resolved       INTEGER NOT NULL DEFAULT 0,
        measurements   TEXT    NOT NULL DEFAULT '[]',
        counts         TEXT    NOT NULL DEFAULT '{}'
    );
    CREATE INDEX evaluations_scope ON evaluations (rule, account, region, id);
    CREATE INDEX evaluations_finished ON evaluations (finished_at);

    CREATE TABLE findings (
        id             TEXT    PRIMARY KEY NOT NULL,
        rule           TEXT    NOT NULL,
        code           TEXT    NOT NULL,
        severity       INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 4),
        account        TEXT    NOT NULL,
        region         TEXT    NOT NULL,
        resource       TEXT    NOT NULL,
        title          TEXT    NOT NULL,
        description    TEXT    NOT NULL,
        recommendation TEXT    NOT NULL,
        remediation    TEXT,
        details        TEXT    NOT NULL,
        first_seen     INTEGER NOT NULL,
        last_seen      INTEGER NOT NULL,
        resolved_at    INTEGER,
        status         TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
        reopen_count   INTEGER NOT NULL DEFAULT 0,
        CHECK ((status = 'open') = (resolved_at IS NULL))
    );
    CREATE INDEX findings_scope ON findings (rule, account, region, status);
    CREATE INDEX findings_order ON findings (severity DESC, id);
    CREATE INDEX findings_resolved ON findings (status, resolved_at);

    CREATE TABLE finding_events (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        finding_id     TEXT    NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
        evaluation_id  INTEGER REFERENCES evaluations (id) ON DELETE SET NULL,
        kind           TEXT    NOT NULL CHECK (kind IN ('opened', 'reopened', 'resolved')),
        at             INTEGER NOT NULL
    );
    CREATE INDEX finding_events_finding ON finding_events (finding_id, id);
    CREATE INDEX finding_events_evaluation ON finding_events (evaluation_id);
    ",
    // Version 2: withdrawn findings, the health of every scope, and indexes
    // for the dashboard's default listing and the metrics aggregation.
    //
    // SQLite cannot change a CHECK constraint, so `findings` and
    // `finding_events` are rebuilt (the documented 12-step procedure; `migrate`
    // turns foreign keys off around it, so dropping the old `findings` does
    // not cascade into the history, and checks them before committing).
    "
    CREATE TABLE findings_v2 (
        id               TEXT    PRIMARY KEY NOT NULL,
        rule             TEXT    NOT NULL,
        code             TEXT    NOT NULL,
        severity         INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 4),
        account          TEXT    NOT NULL,
        region           TEXT    NOT NULL,
        resource         TEXT    NOT NULL,
        title            TEXT    NOT NULL,
        description      TEXT    NOT NULL,
        recommendation   TEXT    NOT NULL,
        remediation      TEXT,
        details          TEXT    NOT NULL,
        first_seen       INTEGER NOT NULL,
        last_seen        INTEGER NOT NULL,
        resolved_at      INTEGER,
        status           TEXT    NOT NULL CHECK (status IN ('open', 'resolved', 'withdrawn')),
        reopen_count     INTEGER NOT NULL DEFAULT 0,
        withdrawn_at     INTEGER,
        withdrawn_reason TEXT,
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
        CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL)),
        CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL))
    );
    INSERT INTO findings_v2 (id, rule, code, severity, account, region, resource, title,
        description, recommendation, remediation, details, first_seen, last_seen,
        resolved_at, status, reopen_count)
    SELECT id, rule, code, severity, account, region, resource, title, description,
        recommendation, remediation, details, first_seen, last_seen, resolved_at, status,
        reopen_count
    FROM findings;

    CREATE TABLE finding_events_v2 (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        finding_id     TEXT    NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
        evaluation_id  INTEGER REFERENCES evaluations (id) ON DELETE SET NULL,
        kind           TEXT    NOT NULL
                       CHECK (kind IN ('opened', 'reopened', 'resolved', 'withdrawn')),
        at             INTEGER NOT NULL,
        reason         TEXT,
        CHECK ((kind = 'withdrawn') = (reason IS NOT NULL))
    );
    INSERT INTO finding_events_v2 (id, finding_id, evaluation_id, kind, at)
    SELECT id, finding_id, evaluation_id, kind, at FROM finding_events;

    DROP TABLE finding_events;
    DROP TABLE findings;
    ALTER TABLE findings_v2 RENAME TO findings;
    ALTER TABLE finding_events_v2 RENAME TO finding_events;

    -- A scope's open findings (resolution, peer reads) in listing order.
    CREATE INDEX findings_scope ON findings (rule, account, region, status, severity DESC, id);
    CREATE INDEX findings_order ON findings (severity DESC, id);
    CREATE INDEX findings_resolved ON findings (status, resolved_at);
    -- The dashboard's default listing: open findings, most severe first.
    CREATE INDEX findings_status_order ON findings (status, severity DESC, id);
    -- The metrics aggregation (open counts by rule, severity and scope),
    -- answered from the index alone, already grouped and ordered.
    CREATE INDEX findings_counts ON findings (status, rule, severity DESC, account, region);
    CREATE INDEX finding_events_finding ON finding_events (finding_id, id);
    CREATE INDEX finding_events_evaluation ON finding_events (evaluation_id);
    -- Recent evaluations of one rule, newest first.
    CREATE INDEX evaluations_rule ON evaluations (rule, id);

    -- One row per (rule, account, region), updated with every evaluation and
    -- never pruned. Times are microseconds, like everywhere else.
    CREATE TABLE scope_health (
        rule                 TEXT    NOT NULL,
        account              TEXT    NOT NULL,
        region               TEXT    NOT NULL,
        status               TEXT    NOT NULL CHECK (status IN ('ok', 'error', 'unavailable')),
        error                TEXT,
        started_at           INTEGER NOT NULL,
        finished_at          INTEGER NOT NULL,
        evaluation_id        INTEGER NOT NULL,
        last_success_at      INTEGER,
        consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
        unavailable_since    INTEGER,
        PRIMARY KEY (rule, account, region),
        CHECK ((status = 'unavailable') = (unavailable_since IS NOT NULL))
    ) WITHOUT ROWID;

    -- Backfilled from the evaluations retention has kept: a success older
    -- than those is not known any more.
    INSERT INTO scope_health (rule, account, region, status, error, started_at, finished_at,
        evaluation_id, last_success_at, consecutive_failures, unavailable_since)
    SELECT e.rule, e.account, e.region, e.status, e.error, e.started_at, e.finished_at, e.id,
        (SELECT o.finished_at FROM evaluations o
         WHERE o.rule = e.rule AND o.account = e.account AND o.region = e.region
           AND o.status = 'ok'
         ORDER BY o.id DESC LIMIT 1),
        (SELECT COUNT(*) FROM evaluations f
         WHERE f.rule = e.rule AND f.account = e.account AND f.region = e.region
           AND f.status = 'error'
           AND f.id > COALESCE((SELECT MAX(o.id) FROM evaluations o
                                WHERE o.rule = e.rule AND o.account = e.account
                                  AND o.region = e.region AND o.status = 'ok'), 0)),
        CASE WHEN e.status = 'unavailable' THEN
            (SELECT u.finished_at FROM evaluations u
             WHERE u.rule = e.rule AND u.account = e.account AND u.region = e.region
               AND u.id > COALESCE((SELECT MAX(n.id) FROM evaluations n
                                    WHERE n.rule = e.rule AND n.account = e.account
                                      AND n.region = e.region
                                      AND n.status != 'unavailable'), 0)
             ORDER BY u.id LIMIT 1)
        END
    FROM evaluations e
    WHERE e.id IN (SELECT MAX(id) FROM evaluations GROUP BY rule, account, region);
    ",
];

/// Brings the schema up to the newest version, refusing newer databases.
///
/// Foreign keys are off while the scripts run, because rebuilding a table
/// (drop the old, rename the new) must not cascade into the tables that
/// reference it; `apply` checks them before it commits. They are on again
/// afterwards, also when a script failed.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    // A no-op inside a transaction, so it is set before `apply` opens one.
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let applied = apply(conn, MIGRATIONS);
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    applied
}

/// Applies `scripts` beyond the database's current version.
pub(crate) fn apply(conn: &mut Connection, scripts: &[&str]) -> Result<u32, StoreError> {
    // The list is a compile-time constant far below u32::MAX.
    let known = scripts.len() as u32;
    // IMMEDIATE takes the write lock before reading the version, so two
    // processes opening a fresh file cannot both run script 1.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for (index, script) in scripts.iter().enumerate().skip(found as usize) {
        tx.execute_batch(script).map_err(|err| {
            StoreError::Database(format!("migration to version {} failed: {err}", index + 1))
        })?;
    }
    if found < known {
        // A rebuilt table must leave every reference intact.
        let dangling: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })?;
        if dangling > 0 {
            return Err(StoreError::Database(format!(
                "migration to version {known} left {dangling} dangling references"
            )));
        }
        // PRAGMA takes no bound parameters; `known` is an integer we computed.
        tx.execute_batch(&format!("PRAGMA user_version = {known}"))?;
    }
    tx.commit()?;
    Ok(known)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn version(conn: &Connection) -> u32 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    fn latest() -> u32 {
        MIGRATIONS.len() as u32
    }

    #[test]
    fn scripts_apply_once_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn, MIGRATIONS).unwrap(), latest());
        // Re-running applies nothing: script 1 would fail on existing tables.
        assert_eq!(apply(&mut conn, MIGRATIONS).unwrap(), latest());
        let mut next = MIGRATIONS.to_vec();
        next.push("CREATE TABLE extra (x INTEGER)");
        assert_eq!(apply(&mut conn, &next).unwrap(), latest() + 1);
        assert_eq!(version(&conn), latest() + 1);
        assert_eq!(apply(&mut conn, &next).unwrap(), latest() + 1);
    }

    #[test]
    fn a_failing_script_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, MIGRATIONS).unwrap();
        let mut bad = MIGRATIONS.to_vec();
        bad.push("CREATE TABLE half (x INTEGER); THIS IS NOT SQL");
        let err = apply(&mut conn, &bad).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("version {}", latest() + 1)),
            "{err}"
        );
        assert_eq!(version(&conn), latest());
        let half: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            half, 0,
            "the failed script's first statement was rolled back"
        );
    }

    #[test]
    fn newer_versions_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        let err = apply(&mut conn, MIGRATIONS).unwrap_err();
        assert!(matches!(
            err,
            StoreError::NewerSchema { found: 99, known } if known == latest()
        ));
    }

    /// A version-1 database with history: the upgrade keeps every finding and
    /// event, and backfills each scope's health from the kept evaluations.
    #[test]
    fn version_1_upgrades_keeping_history_and_backfilling_health() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn, &MIGRATIONS[..1]).unwrap(), 1);
        // Scope a: ok, error, unavailable, error, unavailable, unavailable.
        // Scope b: only errors. Scope c: ok last.
        conn.execute_batch(
            "INSERT INTO evaluations (id, rule, account, region, started_at, finished_at, status, error) VALUES
                (1, 'r', '1', 'a', 1, 10, 'ok', NULL),
                (2, 'r', '1', 'a', 11, 20, 'error', 'x'),
                (3, 'r', '1', 'a', 21, 30, 'unavailable', 'u'),
                (4, 'r', '1', 'a', 31, 40, 'error', 'y'),
                (5, 'r', '1', 'a', 41, 50, 'unavailable', 'u'),
                (6, 'r', '1', 'b', 41, 50, 'error', 'z'),
                (7, 'r', '1', 'b', 51, 60, 'error', 'z'),
                (8, 'r', '1', 'a', 51, 60, 'unavailable', 'v'),
                (9, 'r', '1', 'c', 1, 70, 'error', 'w'),
                (10, 'r', '1', 'c', 71, 80, 'ok', NULL);
             INSERT INTO findings (id, rule, code, severity, account, region, resource, title,
                description, recommendation, remediation, details, first_seen, last_seen,
                resolved_at, status, reopen_count) VALUES
                ('f1', 'r', 'C', 3, '1', 'a', 'i-1', 't', 'd', 'r', NULL, '{}', 10, 10, NULL, 'open', 0),
                ('f2', 'r', 'C', 1, '1', 'a', 'i-2', 't', 'd', 'r', 'cmd', '{\"k\":1}', 10, 10, 20, 'resolved', 0);
             INSERT INTO finding_events (finding_id, evaluation_id, kind, at) VALUES
                ('f1', 1, 'opened', 10), ('f2', 1, 'opened', 10), ('f2', NULL, 'resolved', 20);",
        )
        .unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();

        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), latest());
        let fk: bool = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are on again after the migration");

        let events: Vec<(String, String, Option<i64>)> = conn
            .prepare("SELECT finding_id, kind, evaluation_id FROM finding_events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            events,
            [
                ("f1".to_owned(), "opened".to_owned(), Some(1)),
                ("f2".to_owned(), "opened".to_owned(), Some(1)),
                ("f2".to_owned(), "resolved".to_owned(), None),
            ],
            "the rebuild did not cascade into the history"
        );
        let f2: (String, Option<i64>, Option<String>, String) = conn
            .query_row(
                "SELECT status, resolved_at, remediation, details FROM findings WHERE id = 'f2'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            f2,
            (
                "resolved".to_owned(),
                Some(20),
                Some("cmd".to_owned()),
                "{\"k\":1}".to_owned()
            )
        );
        // Deleting a finding still cascades into its history.
        conn.execute("DELETE FROM findings WHERE id = 'f2'", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM finding_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);

        type Health = (
            String,
            String,
            Option<String>,
            i64,
            i64,
            Option<i64>,
            i64,
            Option<i64>,
        );
        let health: Vec<Health> = conn
            .prepare(
                "SELECT region, status, error, finished_at, evaluation_id, last_success_at, \
                 consecutive_failures, unavailable_since FROM scope_health ORDER BY region",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let s = |v: &str| v.to_owned();
        assert_eq!(
            health,
            [
                // Two errors since the ok at 10; unavailable since the run
                // that began with evaluation 5 (the error at 40 broke the
                // earlier run).
                (
                    s("a"),
                    s("unavailable"),
                    Some(s("v")),
                    60,
                    8,
                    Some(10),
                    2,
                    Some(50)
                ),
                (s("b"), s("error"), Some(s("z")), 60, 7, None, 2, None),
                (s("c"), s("ok"), None, 80, 10, Some(80), 0, None),
            ]
        );
    }
}
