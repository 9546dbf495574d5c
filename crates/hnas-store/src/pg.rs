//! PostgreSQL: many studies per database, for studies shared by several processes or
//! machines.
//!
//! A study is named by its URL: `postgres://USER@HOST:PORT/DATABASE?study=NAME` (the
//! `study` parameter, default `default`, is hnas's; every other parameter goes to the
//! server connection). The schema is versioned: each migration runs once, in a transaction,
//! under an advisory lock, so that processes starting together do not race.

use crate::{Store, StoreError, StudyRecord, TrialRecord, TrialState};
use postgres::{Client, NoTls, Row};
use std::cell::RefCell;

/// Migrations, in order; the schema's version is the number applied.
const MIGRATIONS: &[&str] = &["
CREATE TABLE hnas_study (
    name        TEXT PRIMARY KEY,
    settings    TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE hnas_trial (
    study           TEXT NOT NULL REFERENCES hnas_study (name) ON DELETE CASCADE,
    number          BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending','running','complete','failed','pruned')),
    candidate       TEXT NOT NULL,
    candidate_json  TEXT NOT NULL,
    hash            TEXT NOT NULL,
    canonical_hash  TEXT NOT NULL,
    fidelity        DOUBLE PRECISION,
    metrics         TEXT NOT NULL,
    value           DOUBLE PRECISION,
    error           TEXT,
    duplicate_of    BIGINT,
    counted         BOOLEAN NOT NULL,
    cost            DOUBLE PRECISION NOT NULL,
    ask_seq         BIGINT NOT NULL,
    tell_seq        BIGINT,
    started_at      DOUBLE PRECISION NOT NULL,
    finished_at     DOUBLE PRECISION,
    worker          TEXT,
    attempt         INTEGER NOT NULL,
    PRIMARY KEY (study, number)
);
CREATE INDEX hnas_trial_canonical ON hnas_trial (study, canonical_hash);
", "
ALTER TABLE hnas_trial ADD COLUMN lease_until DOUBLE PRECISION;
"];

/// An arbitrary constant naming hnas's advisory lock for migrations.
const MIGRATION_LOCK: i64 = 0x0068_6e61_736d_6967;

/// A study in a PostgreSQL database.
pub struct PgStore {
    // `Store`'s reads take &self while the client needs &mut: a RefCell (a store is used
    // from one thread at a time; the trait asks for Send, not Sync).
    client: RefCell<Client>,
    study: String,
}

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e.to_string())
}

/// Splits hnas's `study=NAME` parameter off a connection URL.
pub fn split_study(url: &str) -> (String, String) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), "default".into());
    };
    let mut study = "default".to_string();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("study=") {
            Some(name) => {
                study = name.to_string();
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    let conn = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (conn, study)
}

/// Whether a study location is a PostgreSQL URL rather than a file path.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let (conn, study) = split_study(url);
        if study.is_empty() {
            return Err(StoreError::Open {
                path: url.into(),
                message: "the study name (study=NAME) is empty".into(),
            });
        }
        let mut client = Client::connect(&conn, NoTls).map_err(|e| StoreError::Open {
            path: url.into(),
            message: format!(
                "cannot connect: {e}{}",
                std::error::Error::source(&e).map_or(String::new(), |s| format!(": {s}"))
            ),
        })?;
        migrate(&mut client).map_err(|e| StoreError::Open {
            path: url.into(),
            message: e.to_string(),
        })?;
        Ok(PgStore {
            client: RefCell::new(client),
            study,
        })
    }

    /// The study's name in the database.
    pub fn study_name(&self) -> &str {
        &self.study
    }

    /// Opens a transaction holding the study's lock: workers take turns to ask, to hand
    /// out expired trials and to record outcomes, so that the sequence of asks and tells
    /// stays one sequence. [`PgStore::commit`] (or dropping the connection) releases it.
    pub fn lock(&mut self) -> Result<(), StoreError> {
        let c = self.client.get_mut();
        c.batch_execute("BEGIN").map_err(pg)?;
        c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&self.study])
            .map_err(pg)?;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.client.get_mut().batch_execute("COMMIT").map_err(pg)
    }

    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.client.get_mut().batch_execute("ROLLBACK").map_err(pg)
    }

    /// Trials asked or told at sequence number `seq` or later.
    pub fn trials_since(&mut self, seq: u64) -> Result<Vec<TrialRecord>, StoreError> {
        let rows = self
            .client
            .get_mut()
            .query(
                "SELECT * FROM hnas_trial WHERE study = $1 AND (ask_seq >= $2 OR tell_seq >= $2)
                 ORDER BY number",
                &[&self.study, &(seq as i64)],
            )
            .map_err(pg)?;
        rows.iter().map(row_to_trial).collect()
    }

    /// Gives `worker` a lease on trial `number` until `until` (seconds since the epoch).
    pub fn lease(&mut self, number: u64, worker: &str, until: f64) -> Result<(), StoreError> {
        self.client
            .get_mut()
            .execute(
                "UPDATE hnas_trial SET worker = $3, lease_until = $4 WHERE study = $1 AND number = $2",
                &[&self.study, &(number as i64), &worker, &until],
            )
            .map_err(pg)?;
        Ok(())
    }

    /// Hands a running trial whose lease has expired (its worker died) to `worker`, as its
    /// next attempt: the trial with the lowest number, skipping rows another worker holds.
    pub fn claim_expired(
        &mut self,
        worker: &str,
        now: f64,
        until: f64,
    ) -> Result<Option<TrialRecord>, StoreError> {
        let row = self
            .client
            .get_mut()
            .query_opt(
                "UPDATE hnas_trial SET worker = $2, lease_until = $4, attempt = attempt + 1
                 WHERE study = $1 AND number = (
                     SELECT number FROM hnas_trial
                     WHERE study = $1 AND state = 'running' AND tell_seq IS NULL
                       AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING *",
                &[&self.study, &worker, &now, &until],
            )
            .map_err(pg)?;
        row.as_ref().map(row_to_trial).transpose()
    }

    /// Renews a lease, if `worker` still holds this attempt of the trial (a heartbeat).
    pub fn renew(
        &mut self,
        number: u64,
        attempt: u32,
        worker: &str,
        until: f64,
    ) -> Result<bool, StoreError> {
        let n = self
            .client
            .get_mut()
            .execute(
                "UPDATE hnas_trial SET lease_until = $5
                 WHERE study = $1 AND number = $2 AND attempt = $3 AND worker = $4 AND tell_seq IS NULL",
                &[&self.study, &(number as i64), &(attempt as i32), &worker, &until],
            )
            .map_err(pg)?;
        Ok(n == 1)
    }

    /// Records an outcome once: only the attempt that holds the trial, and only while the
    /// trial is unfinished, gets through, with the next number of the study's sequence.
    /// `false` when another attempt took the trial over (this one's lease had expired).
    /// Call with the lock held.
    pub fn complete(&mut self, t: &TrialRecord) -> Result<bool, StoreError> {
        let n = self
            .client
            .get_mut()
            .execute(
                "UPDATE hnas_trial SET state = $4, metrics = $5, value = $6, error = $7, cost = $8,
                    finished_at = $9, lease_until = NULL,
                    tell_seq = (SELECT COALESCE(MAX(GREATEST(ask_seq, COALESCE(tell_seq, 0))), 0) + 1
                                FROM hnas_trial WHERE study = $1)
                 WHERE study = $1 AND number = $2 AND attempt = $3 AND tell_seq IS NULL",
                &[
                    &self.study,
                    &(t.number as i64),
                    &(t.attempt as i32),
                    &t.state.as_str(),
                    &metrics_json(t),
                    &t.value,
                    &t.error,
                    &t.cost,
                    &t.finished_at,
                ],
            )
            .map_err(pg)?;
        Ok(n == 1)
    }
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS hnas_schema (version INTEGER NOT NULL)")
        .map_err(pg)?;
    let version: i32 = match tx
        .query_opt("SELECT version FROM hnas_schema", &[])
        .map_err(pg)?
    {
        Some(r) => r.get(0),
        None => {
            tx.execute("INSERT INTO hnas_schema (version) VALUES (0)", &[])
                .map_err(pg)?;
            0
        }
    };
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database's hnas schema is version {version}; this hnas reads up to version {}",
            MIGRATIONS.len()
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(m).map_err(pg)?;
        tx.execute("UPDATE hnas_schema SET version = $1", &[&(i as i32 + 1)])
            .map_err(pg)?;
    }
    tx.commit().map_err(pg)
}

fn row_to_trial(r: &Row) -> Result<TrialRecord, StoreError> {
    let state: String = r.get("state");
    let metrics: String = r.get("metrics");
    Ok(TrialRecord {
        number: r.get::<_, i64>("number") as u64,
        state: TrialState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown state '{state}'")))?,
        candidate: r.get("candidate"),
        candidate_json: r.get("candidate_json"),
        hash: r.get("hash"),
        canonical_hash: r.get("canonical_hash"),
        fidelity: r.get("fidelity"),
        metrics: serde_json::from_str(&metrics)
            .map_err(|e| StoreError::Corrupt(format!("metrics: {e}")))?,
        value: r.get("value"),
        error: r.get("error"),
        duplicate_of: r.get::<_, Option<i64>>("duplicate_of").map(|x| x as u64),
        counted: r.get("counted"),
        cost: r.get("cost"),
        ask_seq: r.get::<_, i64>("ask_seq") as u64,
        tell_seq: r.get::<_, Option<i64>>("tell_seq").map(|x| x as u64),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
        worker: r.get("worker"),
        attempt: r.get::<_, i32>("attempt") as u32,
    })
}

fn metrics_json(t: &TrialRecord) -> String {
    serde_json::to_string(&t.metrics).unwrap_or_else(|_| "{}".into())
}

impl Store for PgStore {
    fn study(&self) -> Result<Option<StudyRecord>, StoreError> {
        let row = self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT name, settings, created_at FROM hnas_study WHERE name = $1",
                &[&self.study],
            )
            .map_err(pg)?;
        Ok(row.map(|r| StudyRecord {
            name: r.get(0),
            settings: r.get(1),
            created_at: r.get(2),
        }))
    }

    fn put_study(&mut self, s: &StudyRecord) -> Result<(), StoreError> {
        self.client
            .get_mut()
            .execute(
                "INSERT INTO hnas_study (name, settings, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET settings = excluded.settings",
                &[&self.study, &s.settings, &s.created_at],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, StoreError> {
        let rows = self
            .client
            .borrow_mut()
            .query(
                "SELECT * FROM hnas_trial WHERE study = $1 ORDER BY number",
                &[&self.study],
            )
            .map_err(pg)?;
        rows.iter().map(row_to_trial).collect()
    }

    fn insert_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        self.client
            .get_mut()
            .execute(
                "INSERT INTO hnas_trial (study, number, state, candidate, candidate_json, hash, canonical_hash,
                    fidelity, metrics, value, error, duplicate_of, counted, cost, ask_seq, tell_seq, started_at,
                    finished_at, worker, attempt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
                &[
                    &self.study,
                    &(t.number as i64),
                    &t.state.as_str(),
                    &t.candidate,
                    &t.candidate_json,
                    &t.hash,
                    &t.canonical_hash,
                    &t.fidelity,
                    &metrics_json(t),
                    &t.value,
                    &t.error,
                    &t.duplicate_of.map(|x| x as i64),
                    &t.counted,
                    &t.cost,
                    &(t.ask_seq as i64),
                    &t.tell_seq.map(|x| x as i64),
                    &t.started_at,
                    &t.finished_at,
                    &t.worker,
                    &(t.attempt as i32),
                ],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn update_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        let n = self
            .client
            .get_mut()
            .execute(
                "UPDATE hnas_trial SET state = $3, fidelity = $4, metrics = $5, value = $6, error = $7,
                    duplicate_of = $8, counted = $9, cost = $10, tell_seq = $11, finished_at = $12,
                    worker = $13, attempt = $14
                 WHERE study = $1 AND number = $2",
                &[
                    &self.study,
                    &(t.number as i64),
                    &t.state.as_str(),
                    &t.fidelity,
                    &metrics_json(t),
                    &t.value,
                    &t.error,
                    &t.duplicate_of.map(|x| x as i64),
                    &t.counted,
                    &t.cost,
                    &t.tell_seq.map(|x| x as i64),
                    &t.finished_at,
                    &t.worker,
                    &(t.attempt as i32),
                ],
            )
            .map_err(pg)?;
        if n == 0 {
            return Err(StoreError::NoTrial(t.number));
        }
        Ok(())
    }

    fn delete_trial(&mut self, number: u64) -> Result<(), StoreError> {
        self.client
            .get_mut()
            .execute(
                "DELETE FROM hnas_trial WHERE study = $1 AND number = $2",
                &[&self.study, &(number as i64)],
            )
            .map_err(pg)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_parameter_is_split_off() {
        assert_eq!(
            split_study("postgres://u@h/db?study=nb201&connect_timeout=5"),
            ("postgres://u@h/db?connect_timeout=5".into(), "nb201".into())
        );
        assert_eq!(
            split_study("postgres://u@h/db"),
            ("postgres://u@h/db".into(), "default".into())
        );
        assert_eq!(
            split_study("postgres://u@h/db?study=a"),
            ("postgres://u@h/db".into(), "a".into())
        );
        assert!(is_postgres_url("postgresql://x") && !is_postgres_url("runs/x.db"));
    }
}
