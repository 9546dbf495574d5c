//! One behaviour for every store: the same checks run against the in-memory store, an
//! SQLite file and PostgreSQL (`HNAS_TEST_POSTGRES`; skipped with a notice without it,
//! except under CI=true).

use hnas_store::{
    MemoryStore, SqliteStore, Store, StoreError, StudyRecord, TrialRecord, TrialState,
};
use std::collections::BTreeMap;

fn trial(n: u64) -> TrialRecord {
    TrialRecord {
        number: n,
        state: TrialState::Running,
        candidate: format!("net(k={n}, s=\"it's; $(x) — ü\")"),
        candidate_json: format!("{{\"root\":{{\"op\":\"net\",\"args\":{{\"k\":{n}}}}}}}"),
        hash: format!("{n:016x}"),
        canonical_hash: format!("{:016x}", n * 31),
        fidelity: None,
        metrics: BTreeMap::new(),
        value: None,
        error: None,
        duplicate_of: None,
        counted: true,
        cost: 0.0,
        ask_seq: 2 * n,
        tell_seq: None,
        started_at: 1_764_000_000.125 + n as f64,
        finished_at: None,
        worker: None,
        attempt: 1,
    }
}

fn finished(n: u64) -> TrialRecord {
    TrialRecord {
        state: TrialState::Complete,
        metrics: BTreeMap::from([
            ("acc".into(), 91.25),
            ("lat".into(), 1e-300),
            ("params".into(), 123_456_789.0),
            ("neg".into(), -0.1 + 0.2),
        ]),
        value: Some(91.25),
        tell_seq: Some(100 + n),
        finished_at: Some(1_764_000_500.5),
        cost: 12.5,
        fidelity: Some(200.0),
        worker: Some("host-1/42".into()),
        ..trial(n)
    }
}

/// The checks; `reopen` gives the same store again (a new connection or handle), or None
/// for a store that lives only in this handle; `study_name` is what the store calls the
/// study (PostgreSQL: its key in the URL).
fn conformance(
    name: &str,
    mut store: Box<dyn Store>,
    reopen: &dyn Fn() -> Option<Box<dyn Store>>,
    study_name: &str,
) {
    assert!(
        store.study().unwrap().is_none(),
        "{name}: a new store holds no study"
    );
    assert!(store.trials().unwrap().is_empty(), "{name}");
    store
        .put_study(&StudyRecord {
            name: "space.hnas".into(),
            settings: "{\"budget\":10}".into(),
            created_at: 2.0,
        })
        .unwrap();
    for n in 0..4 {
        store.insert_trial(&trial(n)).unwrap();
    }
    assert!(
        store.insert_trial(&trial(2)).is_err(),
        "{name}: a trial number is unique"
    );
    assert!(
        matches!(store.update_trial(&trial(9)), Err(StoreError::NoTrial(9))),
        "{name}: updating an absent trial is NoTrial"
    );
    store.update_trial(&finished(1)).unwrap();
    let failed = TrialRecord {
        state: TrialState::Failed,
        error: Some("NaN loss at step 3 \"quoted\"\nsecond line".into()),
        attempt: 2,
        tell_seq: Some(50),
        finished_at: Some(9.0),
        ..trial(2)
    };
    store.update_trial(&failed).unwrap();
    let duplicate = TrialRecord {
        duplicate_of: Some(1),
        counted: false,
        ..finished(3)
    };
    store.update_trial(&duplicate).unwrap();
    store.delete_trial(0).unwrap();
    // A larger budget rewrites the settings; the study keeps its name and creation time.
    store
        .put_study(&StudyRecord {
            name: "space.hnas".into(),
            settings: "{\"budget\":20}".into(),
            created_at: 7.0,
        })
        .unwrap();

    let check = |s: &dyn Store, how: &str| {
        let study = s.study().unwrap().expect("the study");
        assert_eq!(study.settings, "{\"budget\":20}", "{name} {how}");
        assert_eq!(study.name, study_name, "{name} {how}");
        assert_eq!(study.created_at, 2.0, "{name} {how}: created_at is kept");
        let ts = s.trials().unwrap();
        assert_eq!(
            ts.iter().map(|t| t.number).collect::<Vec<_>>(),
            vec![1, 2, 3],
            "{name} {how}: in number order, the deleted one gone"
        );
        assert_eq!(ts[0], finished(1), "{name} {how}: every field kept exactly");
        assert_eq!(ts[1], failed, "{name} {how}");
        assert_eq!(ts[2], duplicate, "{name} {how}");
    };
    check(&*store, "as written");
    if let Some(again) = reopen() {
        check(&*again, "reopened");
    }
}

#[test]
fn the_memory_store_conforms() {
    conformance(
        "memory",
        Box::new(MemoryStore::new()),
        &|| None,
        "space.hnas",
    );
}

#[test]
fn the_sqlite_store_conforms() {
    let dir = std::env::temp_dir().join(format!("hnas-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.db");
    let open = || -> Box<dyn Store> { Box::new(SqliteStore::open(&path).unwrap()) };
    conformance("sqlite", open(), &|| Some(open()), "space.hnas");
    // Through the location-based opener too.
    let via = dir.join("via.db").display().to_string();
    conformance(
        "sqlite via open()",
        hnas_store::open(&via).unwrap(),
        &|| Some(hnas_store::open(&via).unwrap()),
        "space.hnas",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "postgres")]
#[test]
fn the_postgres_store_conforms() {
    let base = match std::env::var("HNAS_TEST_POSTGRES") {
        Ok(url) => url,
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true: HNAS_TEST_POSTGRES is not set (.ci/start-postgres sets it)")
        }
        Err(_) => {
            eprintln!("notice: skipping: HNAS_TEST_POSTGRES is not set");
            return;
        }
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let key = format!("conformance-{}-{}", std::process::id(), hnas_store::now());
    let url = format!("{base}{sep}study={key}");
    conformance(
        "postgres",
        hnas_store::open(&url).unwrap(),
        &|| Some(hnas_store::open(&url).unwrap()),
        &key,
    );
}
