//! SQLite: one study per file.
//!
//! The file runs in write-ahead-log mode with `synchronous = NORMAL`: every change is one
//! transaction, so a process killed at any moment leaves the file consistent (the last
//! committed trial is there; a half-written one is not). A power loss may drop the last
//! few commits but cannot corrupt the file.

use crate::{Store, StoreError, StudyRecord, TrialRecord, TrialState};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE study (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE trial (
    number          INTEGER PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('pending','running','complete','failed','pruned')),
    candidate       TEXT NOT NULL,
    candidate_json  TEXT NOT NULL,
    hash            TEXT NOT NULL,
    canonical_hash  TEXT NOT NULL,
    fidelity        REAL,
    metrics         TEXT NOT NULL,
    value           REAL,
    error           TEXT,
    duplicate_of    INTEGER,
    counted         INTEGER NOT NULL,
    cost            REAL NOT NULL,
    ask_seq         INTEGER NOT NULL,
    tell_seq        INTEGER,
    started_at      REAL NOT NULL,
    finished_at     REAL,
    worker          TEXT,
    attempt         INTEGER NOT NULL
);
CREATE INDEX trial_canonical ON trial (canonical_hash);
";

/// A study in an SQLite file.
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens `path`, creating the file and the schema if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, false)
    }

    /// Opens an existing study for reading only (listing, reports): a read-only file works.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, read_only: bool) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let err = |message: String| StoreError::Open {
            path: shown.clone(),
            message,
        };
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Err(err(
                    "a folder, not a study file; expected a file path such as runs/study.db".into(),
                ));
            }
            // What SQLite would say of a text file or an image ("file is not a database")
            // reads as damage; a file of another kind is simply not a study.
            let mut head = [0u8; 16];
            let n = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .map_err(|e| err(format!("cannot read it: {e}")))?;
            if n > 0 && head[..n] != b"SQLite format 3\0"[..n] {
                return Err(err(
                    "not an hnas study: the file is not an SQLite database; expected a file that 'hnas search --study FILE' wrote".into(),
                ));
            }
            // Honoured even where the process could write anyway (root): the mode says the
            // owner wants the file left alone.
            if !read_only && meta.permissions().readonly() {
                return Err(err(format!(
                    "the study file is read-only, and a search writes every trial to it; make it writable (chmod u+w {shown}) or search into a copy ('hnas trials', 'hnas report' only read it)"
                )));
            }
        } else if read_only {
            return Err(err(
                "no study file there; expected the file a 'hnas search --study FILE' wrote".into(),
            ));
        }
        if !read_only {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| err(format!("cannot create folder {}: {e}", dir.display())))?;
            }
        }
        let conn = if read_only {
            Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        } else {
            Connection::open(path)
        }
        .map_err(|e| err(e.to_string()))?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|_| err("not an hnas study: the file is not an SQLite database".into()))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|_| err("not an hnas study: the file is not an SQLite database".into()))?;
        if !read_only {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| err(e.to_string()))?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| err(e.to_string()))?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| err(e.to_string()))?;
        match (version, tables) {
            (0, 0) if !read_only => {
                conn.execute_batch(&format!("BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"))
                    .map_err(|e| err(format!("cannot create the study schema: {e}")))?;
            }
            (0, 0) => return Err(err("an empty SQLite database, not an hnas study yet".into())),
            (SCHEMA_VERSION, _) => {}
            (0, _) => return Err(err("not an hnas study: an SQLite database holding other tables".into())),
            (v, _) if v > SCHEMA_VERSION => {
                return Err(err(format!(
                    "written by a newer hnas (study schema version {v}; this hnas reads version {SCHEMA_VERSION}); open it with that hnas or a later one"
                )))
            }
            (v, _) => {
                return Err(err(format!(
                    "study schema version {v} is not supported by this hnas (it reads version {SCHEMA_VERSION})"
                )))
            }
        }
        Ok(SqliteStore { conn })
    }
}

fn row_to_trial(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrialRecord> {
    let state: String = r.get("state")?;
    let metrics: String = r.get("metrics")?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
    };
    Ok(TrialRecord {
        number: r.get::<_, i64>("number")? as u64,
        state: TrialState::parse(&state).ok_or_else(|| bad(format!("unknown state '{state}'")))?,
        candidate: r.get("candidate")?,
        candidate_json: r.get("candidate_json")?,
        hash: r.get("hash")?,
        canonical_hash: r.get("canonical_hash")?,
        fidelity: r.get("fidelity")?,
        metrics: serde_json::from_str(&metrics).map_err(|e| bad(format!("metrics: {e}")))?,
        value: r.get("value")?,
        error: r.get("error")?,
        duplicate_of: r.get::<_, Option<i64>>("duplicate_of")?.map(|x| x as u64),
        counted: r.get::<_, i64>("counted")? != 0,
        cost: r.get("cost")?,
        ask_seq: r.get::<_, i64>("ask_seq")? as u64,
        tell_seq: r.get::<_, Option<i64>>("tell_seq")?.map(|x| x as u64),
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        worker: r.get("worker")?,
        attempt: r.get::<_, i64>("attempt")? as u32,
    })
}

fn metrics_json(t: &TrialRecord) -> String {
    // Non-finite values are not JSON; they never reach a complete trial (the driver fails it).
    serde_json::to_string(&t.metrics).unwrap_or_else(|_| "{}".into())
}

impl Store for SqliteStore {
    fn study(&self) -> Result<Option<StudyRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, settings, created_at FROM study WHERE id = 1",
                [],
                |r| {
                    Ok(StudyRecord {
                        name: r.get(0)?,
                        settings: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn put_study(&mut self, s: &StudyRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO study (id, name, settings, created_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, settings = excluded.settings",
            params![s.name, s.settings, s.created_at],
        )?;
        Ok(())
    }

    fn trials(&self) -> Result<Vec<TrialRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM trial ORDER BY number")?;
        let rows = stmt.query_map([], row_to_trial)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO trial (number, state, candidate, candidate_json, hash, canonical_hash, fidelity, metrics,
                value, error, duplicate_of, counted, cost, ask_seq, tell_seq, started_at, finished_at, worker, attempt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        stmt.execute(params![
            t.number as i64,
            t.state.as_str(),
            t.candidate,
            t.candidate_json,
            t.hash,
            t.canonical_hash,
            t.fidelity,
            metrics_json(t),
            t.value,
            t.error,
            t.duplicate_of.map(|x| x as i64),
            t.counted as i64,
            t.cost,
            t.ask_seq as i64,
            t.tell_seq.map(|x| x as i64),
            t.started_at,
            t.finished_at,
            t.worker,
            t.attempt as i64,
        ])?;
        Ok(())
    }

    fn update_trial(&mut self, t: &TrialRecord) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE trial SET state = ?2, fidelity = ?3, metrics = ?4, value = ?5, error = ?6, duplicate_of = ?7,
                counted = ?8, cost = ?9, tell_seq = ?10, finished_at = ?11, worker = ?12, attempt = ?13
             WHERE number = ?1",
        )?;
        let n = stmt.execute(params![
            t.number as i64,
            t.state.as_str(),
            t.fidelity,
            metrics_json(t),
            t.value,
            t.error,
            t.duplicate_of.map(|x| x as i64),
            t.counted as i64,
            t.cost,
            t.tell_seq.map(|x| x as i64),
            t.finished_at,
            t.worker,
            t.attempt as i64,
        ])?;
        if n == 0 {
            return Err(StoreError::NoTrial(t.number));
        }
        Ok(())
    }

    fn delete_trial(&mut self, number: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM trial WHERE number = ?1",
            params![number as i64],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn trial(n: u64) -> TrialRecord {
        TrialRecord {
            number: n,
            state: TrialState::Running,
            candidate: format!("net(k={n})"),
            candidate_json: "{}".into(),
            hash: format!("{n:016x}"),
            canonical_hash: format!("{n:016x}"),
            fidelity: Some(12.0),
            metrics: BTreeMap::new(),
            value: None,
            error: None,
            duplicate_of: None,
            counted: true,
            cost: 0.0,
            ask_seq: 2 * n,
            tell_seq: None,
            started_at: 1.5,
            finished_at: None,
            worker: None,
            attempt: 1,
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hnas-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("study.db")
    }

    #[test]
    fn trials_round_trip_through_the_file() {
        let path = temp("roundtrip");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            assert!(s.study().unwrap().is_none());
            s.put_study(&StudyRecord {
                name: "x".into(),
                settings: "{\"a\":1}".into(),
                created_at: 2.0,
            })
            .unwrap();
            for n in 0..3 {
                s.insert_trial(&trial(n)).unwrap();
            }
            let mut t = trial(1);
            t.state = TrialState::Complete;
            t.metrics = BTreeMap::from([("acc".into(), 91.25), ("lat".into(), 1e-3)]);
            t.value = Some(91.25);
            t.tell_seq = Some(7);
            t.finished_at = Some(3.0);
            t.cost = 12.0;
            s.update_trial(&t).unwrap();
            let mut f = trial(2);
            f.state = TrialState::Failed;
            f.error = Some("NaN loss at step 3 \"quoted\"".into());
            s.update_trial(&f).unwrap();
            s.delete_trial(0).unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.study().unwrap().unwrap().settings, "{\"a\":1}");
        let ts = s.trials().unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].metrics["acc"], 91.25);
        assert_eq!(ts[0].tell_seq, Some(7));
        assert_eq!(ts[1].state, TrialState::Failed);
        assert_eq!(
            ts[1].error.as_deref(),
            Some("NaN loss at step 3 \"quoted\"")
        );
        let mut again = SqliteStore::open(&path).unwrap();
        assert!(
            again.insert_trial(&trial(1)).is_err(),
            "a trial number is unique"
        );
        assert!(matches!(
            again.update_trial(&trial(9)),
            Err(StoreError::NoTrial(9))
        ));
    }

    #[test]
    fn foreign_files_are_refused_with_a_reason() {
        let path = temp("foreign");
        std::fs::write(
            &path,
            "this is not a database, just text that is long enough to have a header......",
        )
        .unwrap();
        let e = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(
            e.contains("not an hnas study: the file is not an SQLite database"),
            "{e}"
        );
        let other = temp("other");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE x (a INTEGER);")
            .unwrap();
        let e = SqliteStore::open(&other).err().unwrap().to_string();
        assert!(e.contains("not an hnas study"), "{e}");
        let newer = temp("newer");
        drop(SqliteStore::open(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();
        let e = SqliteStore::open(&newer).err().unwrap().to_string();
        assert!(
            e.contains("written by a newer hnas (study schema version 7"),
            "{e}"
        );
    }

    #[test]
    fn a_read_only_file_is_read_but_not_searched_into() {
        let path = temp("readonly");
        let mut s = SqliteStore::open(&path).unwrap();
        s.insert_trial(&trial(0)).unwrap();
        drop(s);
        let mut perm = std::fs::metadata(&path).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&path, perm).unwrap();
        let e = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(e.contains("the study file is read-only"), "{e}");
        let r = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(r.trials().unwrap().len(), 1);
    }
}
