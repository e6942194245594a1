//! The audit log's oldest lines leave it only once an archive file holds
//! them: the store's side of `bankdeck audit archive`.

use bankdeck::domain::{OpKind, UnixTime};
use bankdeck::store::{ArchivePlan, AuditDraft, SqliteStore, Store, StoreError};

use crate::common::{Env, audit};

/// A line written at `at` (seconds).
fn line_at(store: &SqliteStore, at: i64, message: &str) {
    let draft = AuditDraft {
        at: UnixTime(at),
        ..audit(OpKind::AddUser, message)
    };
    store.append_audit(None, draft).unwrap();
}

fn messages(store: &SqliteStore) -> Vec<String> {
    let mut all = store.audit(None, 100).unwrap();
    all.reverse();
    all.into_iter().map(|e| e.message).collect()
}

fn raw_delete(env: &Env, id: i64) -> Result<usize, String> {
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    raw.execute("DELETE FROM audit WHERE id = ?1", [id])
        .map_err(|e| e.to_string())
}

#[test]
fn an_archive_takes_the_oldest_lines_in_order_and_stops_at_the_first_newer_one() {
    let env = Env::new();
    let store = env.open();
    for (at, m) in [(100, "a"), (200, "b"), (900, "c"), (300, "d"), (950, "e")] {
        line_at(&store, at, m);
    }
    let plan = store.audit_archive_plan(UnixTime(500)).unwrap();
    // "d" is old too, but comes after "c": a line is never moved before
    // one written earlier that stays.
    assert_eq!(
        plan,
        ArchivePlan {
            archived: 0,
            left_behind: 0,
            upto: 2
        }
    );
    let lines = store.audit_between(0, plan.upto, 10).unwrap();
    let got: Vec<_> = lines.iter().map(|e| (e.id, e.message.as_str())).collect();
    assert_eq!(got, [(1, "a"), (2, "b")], "oldest first, up to the mark");
    let paged = store.audit_between(1, 5, 2).unwrap();
    assert_eq!(paged.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
    // Nothing older than the first line: nothing to move.
    let none = store.audit_archive_plan(UnixTime(50)).unwrap();
    assert_eq!(none.upto, none.archived);
    // Everything is older: up to the last line.
    assert_eq!(store.audit_archive_plan(UnixTime(10_000)).unwrap().upto, 5);
}

#[test]
fn lines_leave_only_once_marked_and_the_mark_is_itself_a_line() {
    let env = Env::new();
    let store = env.open();
    for (at, m) in [(100, "a"), (200, "b"), (300, "c")] {
        line_at(&store, at, m);
    }
    assert_eq!(store.remove_archived_audit(10).unwrap(), 0, "none marked");
    let err = raw_delete(&env, 1).unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(store.audit_log_begins().unwrap(), None, "never archived");

    store
        .mark_audit_archived(0, 2, audit(OpKind::ArchiveAudit, "moved 2 lines"))
        .unwrap();
    let plan = store.audit_archive_plan(UnixTime(10_000)).unwrap();
    assert_eq!((plan.archived, plan.left_behind, plan.upto), (2, 2, 3));
    // The log begins after the mark, even while marked lines are still in it.
    assert_eq!(store.audit_log_begins().unwrap(), Some(UnixTime(300)));
    // Above the mark, even raw SQL is refused; the mark's own line stays.
    let err = raw_delete(&env, 3).unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(store.remove_archived_audit(1).unwrap(), 1, "one at a time");
    assert_eq!(store.remove_archived_audit(10).unwrap(), 1);
    assert_eq!(store.remove_archived_audit(10).unwrap(), 0);
    assert_eq!(messages(&store), ["c", "moved 2 lines"]);
    let raw = rusqlite::Connection::open(env.db()).unwrap();
    let upd = raw.execute("UPDATE audit SET message = 'x' WHERE id = 3", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));

    // Reopened (the schema's tune-up runs again), the rule holds.
    drop(store);
    let store = env.open();
    let err = raw_delete(&env, 3).unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert_eq!(
        store.audit_archive_plan(UnixTime(10_000)).unwrap().archived,
        2
    );
}

#[test]
fn a_second_archive_from_the_same_start_is_refused_and_changes_nothing() {
    let env = Env::new();
    let store = env.open();
    for (at, m) in [(100, "a"), (200, "b")] {
        line_at(&store, at, m);
    }
    let first = audit(OpKind::ArchiveAudit, "first");
    store.mark_audit_archived(0, 1, first).unwrap();
    let second = audit(OpKind::ArchiveAudit, "second");
    match store.mark_audit_archived(0, 2, second) {
        Err(StoreError::Refused(why)) => assert!(why.contains("another archive"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.audit_archive_plan(UnixTime(0)).unwrap().archived, 1);
    assert_eq!(messages(&store), ["a", "b", "first"]);
    let behind = audit(OpKind::ArchiveAudit, "behind");
    assert!(matches!(
        store.mark_audit_archived(1, 0, behind),
        Err(StoreError::Invalid(_))
    ));
}
