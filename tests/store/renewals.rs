//! The records that `check` weighs: one per renewer, replaced each time it
//! runs, read newest first; and one asked wait per provider.

use bankdeck::domain::{OpKind, ProviderWait, Renewal, UnixTime};
use bankdeck::store::{SqliteStore, Store};

use crate::common::Env;

fn refresh_due(at: i64, matching: Option<&str>) -> Renewal {
    Renewal::RefreshDue {
        at: UnixTime(at),
        providers: vec!["bank".into(), "everifin".into()],
        within_secs: 600,
        matching: matching.map(Into::into),
    }
}

#[test]
fn each_renewer_keeps_its_last_record_and_records_read_newest_first() {
    let env = Env::new();
    let store = env.open();
    assert_eq!(store.renewals().unwrap(), vec![]);
    let beat = |at| Renewal::Scheduler {
        at: UnixTime(at),
        providers: vec!["everifin".into(), "bank".into()],
        paused: vec!["bank".into()],
        ended: false,
        process: String::new(),
    };
    store.note_renewal(&beat(100)).unwrap();
    store.note_renewal(&refresh_due(200, None)).unwrap();
    store.note_renewal(&refresh_due(150, Some("dapi"))).unwrap();
    store.note_renewal(&beat(300)).unwrap();
    let reopened: SqliteStore = env.open();
    assert_eq!(
        reopened.renewals().unwrap(),
        vec![
            beat(300),
            refresh_due(200, None),
            refresh_due(150, Some("dapi"))
        ]
    );
    let read_only = SqliteStore::open(env.opts().read_only()).unwrap();
    assert_eq!(read_only.renewals().unwrap().len(), 3, "`check` reads them");
    assert!(read_only.note_renewal(&beat(400)).is_err());
}

/// A record a newer bankdeck wrote in a shape this one does not know, and
/// the meta rows that are not records at all, are not read as records.
#[test]
fn records_of_an_unknown_shape_and_other_meta_rows_are_left_out() {
    let env = Env::new();
    let store = env.open();
    store.note_renewal(&refresh_due(200, None)).unwrap();
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    raw.execute(
        "INSERT INTO meta (key, value) VALUES ('renewal:daemon', ?1), ('renewak', ?2)",
        [
            r#"{"by":"daemon","at":300}"#,
            r#"{"by":"refresh_due","at":400,"providers":[],"within_secs":1}"#,
        ],
    )
    .unwrap();
    assert_eq!(store.renewals().unwrap(), vec![refresh_due(200, None)]);
}

fn wait(provider: &str, until: i64, why: &str) -> ProviderWait {
    ProviderWait::asked(provider, UnixTime(0), UnixTime(until), why.into())
}

/// A provider's asked wait, kept for every process: the longest heard
/// stands, one per provider, and a record of another kind or shape is not
/// read as one.
#[test]
fn a_provider_s_longest_asked_wait_is_kept_for_every_process() {
    let env = Env::new();
    let store = env.open();
    assert_eq!(store.waits().unwrap(), vec![]);
    store.note_wait(&wait("bank", 500, "429 first")).unwrap();
    store.note_wait(&wait("bank", 400, "429 shorter")).unwrap();
    store.note_wait(&wait("everifin", 300, "503")).unwrap();
    store.note_renewal(&refresh_due(200, None)).unwrap();
    let other: SqliteStore = env.open();
    assert_eq!(
        other.waits().unwrap(),
        vec![wait("bank", 500, "429 first"), wait("everifin", 300, "503")]
    );
    other.note_wait(&wait("bank", 900, "429 later")).unwrap();
    assert_eq!(store.waits().unwrap()[0], wait("bank", 900, "429 later"));
    assert_eq!(store.renewals().unwrap().len(), 1, "no wait is a renewal");
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    raw.execute(
        "INSERT INTO meta (key, value) VALUES ('wait:dapi', '{\"until\":\"soon\"}')",
        [],
    )
    .unwrap();
    assert_eq!(store.waits().unwrap().len(), 2, "a shape it does not know");
    let read_only = SqliteStore::open(env.opts().read_only()).unwrap();
    assert_eq!(read_only.waits().unwrap().len(), 2, "`check` reads them");
}

/// An operator's lift replaces a provider's wait that holds, with one audit
/// line; a wait heard before the lift does not come back, one heard after
/// it does. With nothing holding, a lift writes nothing.
#[test]
fn a_lift_sets_a_holding_wait_aside_with_an_audit_line() {
    let env = Env::new();
    let store = env.open();
    let heard_at =
        |heard, until| ProviderWait::asked("bank", UnixTime(heard), UnixTime(until), "429".into());
    store.note_wait(&heard_at(100, 900)).unwrap();
    let lift = ProviderWait::lift("bank", UnixTime(600), "amira");
    assert_eq!(store.lift_wait(&lift).unwrap(), Some(heard_at(100, 900)));
    assert_eq!(store.waits().unwrap(), vec![lift.clone()]);
    let audit = store.audit(None, 10).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        (
            audit[0].op,
            audit[0].actor.as_str(),
            audit[0].connection,
            audit[0].ok
        ),
        (OpKind::LiftWait, "amira", None, true)
    );
    assert!(
        audit[0]
            .message
            .starts_with("lifted bank's asked wait, which held until ")
    );

    assert_eq!(store.lift_wait(&lift).unwrap(), None, "nothing holds");
    let later = ProviderWait::lift("bank", UnixTime(700), "omar");
    assert_eq!(store.lift_wait(&later).unwrap(), None, "nothing holds");
    assert_eq!(store.audit(None, 10).unwrap().len(), 1, "nothing written");
    store.note_wait(&heard_at(550, 2000)).unwrap();
    assert_eq!(store.waits().unwrap(), vec![lift], "heard before the lift");
    store.note_wait(&heard_at(650, 800)).unwrap();
    assert_eq!(
        store.waits().unwrap(),
        vec![heard_at(650, 800)],
        "heard after"
    );
    let none = ProviderWait::lift("everifin", UnixTime(700), "omar");
    assert_eq!(store.lift_wait(&none).unwrap(), None);
    assert_eq!(
        store.waits().unwrap().len(),
        1,
        "no record for a provider without a wait"
    );
}

fn scheduler(process: &str, at: i64, ended: bool) -> Renewal {
    Renewal::Scheduler {
        at: UnixTime(at),
        providers: vec!["everifin".into()],
        paused: vec![],
        ended,
        process: process.into(),
    }
}

/// Two dashboards on one store keep a record each: one quitting leaves
/// the other's running record beside its own, where it used to replace it
/// and `check` read every scheduler as stopped. A running scheduler's beat
/// removes the records of those that have stopped, an older bankdeck's
/// one-for-all record among them.
#[test]
fn each_dashboard_keeps_its_own_scheduler_record_and_a_beat_clears_stopped_ones() {
    let env = Env::new();
    let store = env.open();
    store.note_renewal(&scheduler("", 10, false)).unwrap();
    store.note_renewal(&scheduler("a", 1000, false)).unwrap();
    store.note_renewal(&scheduler("b", 1010, false)).unwrap();
    store.note_renewal(&scheduler("a", 1020, true)).unwrap();
    assert_eq!(
        store.renewals().unwrap(),
        vec![scheduler("a", 1020, true), scheduler("b", 1010, false)],
        "the older bankdeck's record, stopped long before, is cleared"
    );
    assert!(store.renewals().unwrap()[1].running(UnixTime(1030)));
    store.note_renewal(&scheduler("b", 1070, false)).unwrap();
    assert_eq!(
        store.renewals().unwrap(),
        vec![scheduler("b", 1070, false)],
        "a's quit is cleared by b's next beat"
    );
    store.note_renewal(&refresh_due(1080, None)).unwrap();
    store.note_renewal(&scheduler("b", 1100, true)).unwrap();
    store.note_renewal(&scheduler("c", 5000, false)).unwrap();
    assert_eq!(
        store.renewals().unwrap(),
        vec![scheduler("c", 5000, false), refresh_due(1080, None)],
        "a beat clears schedulers' records only"
    );
}
