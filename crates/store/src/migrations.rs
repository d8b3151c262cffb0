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
];

/// Brings the schema up to the newest version, refusing newer databases.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    apply(conn, MIGRATIONS)
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

    #[test]
    fn scripts_apply_once_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn, MIGRATIONS).unwrap(), 1);
        // Re-running applies nothing: script 1 would fail on existing tables.
        assert_eq!(apply(&mut conn, MIGRATIONS).unwrap(), 1);
        let v2 = [MIGRATIONS[0], "CREATE TABLE extra (x INTEGER)"];
        assert_eq!(apply(&mut conn, &v2).unwrap(), 2);
        assert_eq!(version(&conn), 2);
        assert_eq!(apply(&mut conn, &v2).unwrap(), 2);
    }

    #[test]
    fn a_failing_script_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, MIGRATIONS).unwrap();
        let bad = [
            MIGRATIONS[0],
            "CREATE TABLE half (x INTEGER); THIS IS NOT SQL",
        ];
        let err = apply(&mut conn, &bad).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        assert_eq!(version(&conn), 1);
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
        conn.execute_batch("PRAGMA user_version = 7").unwrap();
        let err = apply(&mut conn, MIGRATIONS).unwrap_err();
        assert!(matches!(
            err,
            StoreError::NewerSchema { found: 7, known: 1 }
        ));
    }
}
