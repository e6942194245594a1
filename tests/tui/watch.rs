//! Other processes' writes reach the screen: the asks on the tick, and what
//! an answer changes and says.

use bankdeck::domain::{ConnectionId, ErrorKind, Flags, OpError, OpKind, User, UserId};
use bankdeck::store::{Changes, Lease};
use bankdeck::tui::{App, Level, Msg, SendFailure};
use bankdeck::worker::{Command, Event, NextTry, RequestId};

use super::fixtures::*;
use super::screens::{auto_line, open_detail, scheduled_failure, text_at};

/// A screen as the real binary starts one: empty, then a load whose newest
/// audit line was `mark`.
fn loaded(mark: i64) -> App {
    let mut opts = options();
    let (conns, users) = opts.initial.take().unwrap();
    let mut app = app_with(&opts);
    let Command::Reload { id } = one(app.start()) else {
        panic!("the screen starts with a Reload")
    };
    app.update(
        Msg::Worker(Event::Loaded {
            id,
            connections: conns,
            users,
            audit_mark: mark,
        }),
        NOW,
    );
    app
}

/// The asks among `cmds`, as (id, after, users_after).
fn asks(cmds: &[Command]) -> Vec<(RequestId, i64, UserId)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Changes {
                id,
                after,
                users_after,
            } => Some((*id, *after, *users_after)),
            _ => None,
        })
        .collect()
}

fn ticks(app: &mut App, n: usize) -> Vec<(RequestId, i64, UserId)> {
    (0..n)
        .flat_map(|_| asks(&app.update(Msg::Tick, NOW)))
        .collect()
}

fn answer(app: &mut App, id: RequestId, changes: Changes) -> Vec<Command> {
    app.update(
        Msg::Worker(Event::Changed {
            id,
            changes: Ok(changes),
        }),
        NOW,
    )
}

#[test]
fn the_screen_asks_from_its_load_one_ask_at_a_time() {
    // A screen given its data without a load has no place in the log.
    let mut unloaded = app();
    assert!(ticks(&mut unloaded, 4).is_empty());

    let mut app = loaded(40);
    let first = ticks(&mut app, 2);
    let [(id, after, users_after)] = first[..] else {
        panic!("one ask in two ticks, got {first:?}")
    };
    // The fixtures' users have the connections' ids, 1 to 11.
    assert_eq!((after, users_after), (40, UserId(11)));
    assert!(ticks(&mut app, 6).is_empty(), "never two asks at once");
    answer(
        &mut app,
        id,
        Changes {
            last: 45,
            ..Changes::default()
        },
    );
    let next = ticks(&mut app, 2);
    assert_eq!(
        next.iter().map(|a| a.1).collect::<Vec<_>>(),
        [45],
        "{next:?}"
    );

    // While a bulk refresh of ours writes its thousands of lines, nothing
    // is asked: they wait in the log.
    answer(
        &mut app,
        next[0].0,
        Changes {
            last: 45,
            ..Changes::default()
        },
    );
    app.update(key('R'), NOW);
    assert!(ticks(&mut app, 6).is_empty());
}

/// A cron job's run of minutes, seen an answer every two seconds, is one
/// activity line that counts on while it is the last line; a line of
/// anything else below it starts a new count. A line each pushed the
/// operator's own results out of the pane.
#[test]
fn other_processes_changes_count_on_one_line_while_it_is_the_last() {
    let mut app = loaded(40);
    let before = app.activity().len();
    let mut mark = 40;
    let mut changed = |app: &mut App, at: bankdeck::domain::UnixTime, id: i64| {
        let [(ask, ..)] = ticks(app, 2)[..] else {
            panic!("an ask")
        };
        mark += 1;
        let mut row = sample_connections()[(id - 1) as usize].clone();
        row.version += mark;
        app.update(
            Msg::Worker(Event::Changed {
                id: ask,
                changes: Ok(Changes {
                    last: mark,
                    connections: vec![row],
                    users: vec![],
                    users_complete: false,
                    leases: Vec::new(),
                }),
            }),
            at,
        );
    };
    changed(&mut app, NOW, 2);
    changed(&mut app, NOW.plus_secs(2), 3);
    changed(&mut app, NOW.plus_secs(4), 4);
    assert_eq!(app.activity().len(), before + 1, "one line");
    let line = app.last_activity().unwrap();
    assert_eq!(
        line.text,
        format!(
            "by another process: 3 connections changed (since {}, latest {})",
            NOW.clock(),
            NOW.plus_secs(4).clock()
        )
    );
    app.update(key('y'), NOW.plus_secs(5));
    changed(&mut app, NOW.plus_secs(6), 5);
    assert_eq!(
        app.activity().len(),
        before + 3,
        "a new count after another line"
    );
    assert_eq!(
        app.last_activity().unwrap().text,
        "by another process: 1 connection changed"
    );
}

#[test]
fn rows_another_process_wrote_are_merged_and_said_once() {
    let mut app = loaded(40);
    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    // frank (6) was re-consented elsewhere; bob (2) comes back at the
    // version shown (a write of ours); zoe's connection is new.
    let mut frank = sample_connections()[5].clone();
    frank.flags = Flags::default();
    frank.version += 1;
    let bob = sample_connections()[1].clone();
    let mut zoe = dapi_pending(12, "zoe");
    zoe.user_id = UserId(12);
    let zoe_user = User {
        id: UserId(12),
        name: "zoe".into(),
        email: None,
        created_at: NOW,
    };
    let before = app.activity().len();
    answer(
        &mut app,
        id,
        Changes {
            last: 44,
            connections: vec![bob, frank, zoe],
            users: vec![zoe_user],
            users_complete: false,
            leases: Vec::new(),
        },
    );
    assert_eq!(
        app.connection(ConnectionId(6)).unwrap().flags,
        Flags::default()
    );
    assert!(app.visible_ids().contains(&ConnectionId(12)));
    assert!(app.users().iter().any(|u| u.name == "zoe"));
    assert_eq!(app.activity().len(), before + 1, "one line for the lot");
    let line = app.last_activity().unwrap();
    assert_eq!(line.level, Level::Info);
    assert_eq!(
        line.text,
        "by another process: 1 connection added, 1 connection changed, 1 user added"
    );

    // The same answer again (an ask that overlapped a reload) changes
    // nothing and says nothing.
    let [(id, after, _)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    assert_eq!(after, 44);
    let again = sample_connections()[5].clone();
    answer(
        &mut app,
        id,
        Changes {
            last: 44,
            connections: vec![again],
            users: vec![],
            users_complete: false,
            leases: Vec::new(),
        },
    );
    assert_eq!(app.activity().len(), before + 1);
    assert_eq!(
        app.connection(ConnectionId(6)).unwrap().flags,
        Flags::default(),
        "older is ignored"
    );
}

#[test]
fn a_row_of_ours_still_running_is_merged_but_not_called_anothers() {
    let mut app = loaded(40);
    select(&mut app, 4);
    let Command::Refresh { id: ours, .. } = one(app.update(key('r'), NOW)) else {
        panic!()
    };
    app.update(started(ours, OpKind::Refresh, 4), NOW);
    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    // Our refresh is written, and the log is read before its result comes.
    let mut dave = sample_connections()[3].clone();
    dave.version += 1;
    let before = app.activity().len();
    answer(
        &mut app,
        id,
        Changes {
            last: 41,
            connections: vec![dave],
            users: vec![],
            users_complete: false,
            leases: Vec::new(),
        },
    );
    assert_eq!(app.connection(ConnectionId(4)).unwrap().version, 2);
    assert_eq!(app.activity().len(), before, "no line for our own write");
}

#[test]
fn a_failed_ask_is_said_once_and_an_unsent_one_not_at_all() {
    let mut app = loaded(40);
    let before = app.activity().len();
    for _ in 0..3 {
        let [(id, after, _)] = ticks(&mut app, 2)[..] else {
            panic!()
        };
        assert_eq!(after, 40, "asked again from the same line");
        app.update(
            Msg::Worker(Event::Changed {
                id,
                changes: Err("the store is locked".into()),
            }),
            NOW,
        );
    }
    assert_eq!(app.activity().len(), before + 1);
    assert!(
        last_text(&app).contains("the store is locked"),
        "{}",
        last_text(&app)
    );

    let [(id, after, users_after)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    let cmd = Command::Changes {
        id,
        after,
        users_after,
    };
    app.update(Msg::NotSent(cmd, SendFailure::Busy), NOW);
    assert_eq!(app.activity().len(), before + 1, "a full queue is no news");
    assert_eq!(ticks(&mut app, 2).len(), 1, "asked again");
}

/// A user removed by another process leaves the screen: the answer then
/// holds every user, and the store may have given the removed one's id to
/// a user added after, so names count as well as ids.
#[test]
fn a_user_removed_elsewhere_leaves_the_screen_even_when_its_id_is_reused() {
    let mut app = loaded(40);
    let user = |id, name: &str| User {
        id: UserId(id),
        name: name.into(),
        email: None,
        created_at: NOW,
    };
    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    answer(
        &mut app,
        id,
        Changes {
            last: 41,
            users: vec![user(12, "zoe")],
            ..Changes::default()
        },
    );
    assert!(app.users().iter().any(|u| u.name == "zoe"));
    app.update(key('u'), NOW);
    let kept = app.users()[2].clone();
    for _ in 0..2 {
        app.update(key('j'), NOW);
    }
    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!()
    };
    // zoe (12) removed, then yan added under the id she had.
    let mut every = options().initial.unwrap().1;
    every.push(user(12, "yan"));
    let before = app.users().len();
    answer(
        &mut app,
        id,
        Changes {
            last: 43,
            users: every,
            users_complete: true,
            ..Changes::default()
        },
    );
    let names: Vec<&str> = app.users().iter().map(|u| u.name.as_str()).collect();
    assert!(
        !names.contains(&"zoe") && names.contains(&"yan"),
        "{names:?}"
    );
    assert_eq!(app.users().len(), before);
    // Counted on the line that said zoe came, still the last.
    assert_eq!(
        last_text(&app),
        "by another process: 2 users added, 1 user removed"
    );
    app.update(code(crossterm::event::KeyCode::Enter), NOW);
    assert_eq!(
        app.user_scope(),
        Some(kept.name.as_str()),
        "the users view's selection stays on its user"
    );
}

/// A row the scheduler backs off is renewed by another process: its detail
/// pane's `auto` line lets the back-off go, as the scheduler does. A failure
/// elsewhere leaves it standing.
#[test]
fn a_row_renewed_elsewhere_lets_its_back_off_go_on_the_detail_pane() {
    let mut app = loaded(40);
    open_detail(&mut app, 3, None);
    let retry = NOW.plus_secs(600);
    app.update(scheduled_failure(3, Some(NextTry::After(retry))), NOW);
    let backing_off = format!(
        "retry at {} (in 10:00): the last refresh failed",
        retry.clock()
    );
    assert_eq!(auto_line(&mut app), backing_off);
    let mut theirs = app.connection(ConnectionId(3)).unwrap().clone();
    let mut mark = 40;
    let mut written = |app: &mut App, row: &bankdeck::domain::Connection| {
        let [(ask, ..)] = ticks(app, 2)[..] else {
            panic!("an ask")
        };
        mark += 1;
        let changes = Changes {
            last: mark,
            connections: vec![row.clone()],
            users: vec![],
            users_complete: false,
            leases: Vec::new(),
        };
        answer(app, ask, changes);
    };
    theirs.version += 1;
    theirs.flags.last_error = Some("timed out".into());
    written(&mut app, &theirs);
    assert_eq!(auto_line(&mut app), backing_off, "failed elsewhere too");
    theirs.version += 1;
    theirs.flags.last_error = None;
    written(&mut app, &theirs);
    let said = auto_line(&mut app);
    assert!(said.starts_with("refresh at "), "{said}");
}

/// A lease another process holds (a cron job at work on the row) shows as
/// the row's spinner, and in words whose it is: in the last-op column and
/// on the detail pane. It goes with the next answer that lacks it, or once
/// its term is over; a row of ours at work shows as ours alone.
#[test]
fn a_row_another_process_works_on_shows_busy_and_whose() {
    let mut app = loaded(40);
    let held = |conn: i64| Lease {
        conn: ConnectionId(conn),
        holder: "host|4242/7|00ab|cron".into(),
        until: NOW.plus_secs(30),
    };
    select(&mut app, 9);
    assert!(
        !app.update(key('r'), NOW).is_empty(),
        "ivan's refresh, ours"
    );
    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!("an ask")
    };
    let changes = Changes {
        last: 40,
        leases: vec![held(6), held(9)],
        ..Changes::default()
    };
    answer(&mut app, id, changes);
    let screen = text_at(&mut app, 140, 40, NOW);
    let frank = screen.lines().find(|l| l.contains("frank")).unwrap();
    assert!(frank.contains("busy: pid 4242 "), "{frank}");
    assert!(!frank.starts_with("│  "), "the spinner: {frank}");
    let ivan = screen.lines().find(|l| l.contains("ivan")).unwrap();
    assert!(!ivan.contains("busy:"), "ours, not another's: {ivan}");
    assert!(
        app.busy_elsewhere(ConnectionId(6), NOW.plus_secs(29))
            .is_some()
    );
    assert!(
        app.busy_elsewhere(ConnectionId(6), NOW.plus_secs(30))
            .is_none(),
        "past its term"
    );

    open_detail(&mut app, 6, None);
    let screen = text_at(&mut app, 140, 50, NOW);
    let until = NOW.plus_secs(30).clock();
    assert!(
        screen.contains(&format!(
            "busy    process 4242 of cron, its lease until {until}"
        )),
        "{screen}"
    );

    let [(id, ..)] = ticks(&mut app, 2)[..] else {
        panic!("the next ask")
    };
    answer(
        &mut app,
        id,
        Changes {
            last: 40,
            ..Changes::default()
        },
    );
    let screen = text_at(&mut app, 140, 50, NOW);
    assert!(!screen.contains("busy"), "released: {screen}");
}

/// `r` on a row another process is at work on says whom the refresh
/// waits for, not "sent": the worker sends nothing until that lease goes,
/// and the other's answer may leave nothing to send. A row nobody else
/// holds says "sent" as before.
#[test]
fn an_operation_on_a_row_another_process_holds_says_it_waits_for_it() {
    let mut app = loaded(40);
    watch_sees(&mut app, &[5]);

    select(&mut app, 5);
    let cmds = app.update(key('r'), NOW);
    assert!(
        matches!(cmds[..], [Command::Refresh { .. }]),
        "still sent to the worker, which waits: {cmds:?}"
    );
    let said = &app.last_activity().unwrap().text;
    assert!(
        said.ends_with(": waiting for process 4242 of cron, at work on it"),
        "{said}"
    );
    assert!(
        app.busy_elsewhere(ConnectionId(5), NOW).is_none(),
        "ours now"
    );

    select(&mut app, 4);
    app.update(key('r'), NOW);
    let said = &app.last_activity().unwrap().text;
    assert!(said.ends_with(": sent"), "{said}");
}

/// `R` over rows another process is at work on says how many wait for it
/// first, in the line that says the bulk was sent.
#[test]
fn a_bulk_over_rows_another_process_holds_says_how_many_wait_for_it() {
    for (held, said) in [
        (
            vec![5],
            "sent; 1 row waits first for another process at work on it",
        ),
        (
            vec![5, 9],
            "sent; 2 rows wait first for another process at work on them",
        ),
        (vec![], "sent"),
    ] {
        let mut app = loaded(40);
        watch_sees(&mut app, &held);
        let cmds = app.update(key('R'), NOW);
        assert!(
            matches!(&cmds[..], [Command::RefreshMany { conns, .. }] if conns.len() == 3),
            "{cmds:?}"
        );
        let line = &app.last_activity().unwrap().text;
        assert_eq!(
            line,
            &format!("refresh 3 rows expiring or expired: {said}"),
            "{held:?}"
        );
    }
}

/// A lease another process took since the watch last looked: the worker
/// says when an operation of ours finds it, and the screen says whom the
/// row waits for, once, where the line that sent it said "sent". One that
/// already said so says nothing more; a bulk's rows say it each, folded
/// into one line; the scheduler's, as its start is said.
#[test]
fn an_operation_that_finds_a_lease_the_watch_had_not_seen_says_whom_it_waits_for() {
    let held = |op, conn| {
        Msg::Worker(Event::HeldElsewhere {
            op,
            lease: cron_lease(conn),
        })
    };
    let waits = ": waiting for process 4242 of cron, at work on it";
    let mut app = loaded(40);
    select(&mut app, 5);
    let Command::Refresh { id, .. } = one(app.update(key('r'), NOW)) else {
        panic!()
    };
    let sent = app.last_activity().unwrap().text.clone();
    assert!(sent.ends_with(": sent"), "{sent}");
    app.update(held(OpKind::Refresh, 5), NOW);
    let said = app.last_activity().unwrap().text.clone();
    assert_eq!(said, sent.replace(": sent", waits));
    let lines = app.activity().len();
    app.update(held(OpKind::Refresh, 5), NOW);
    assert_eq!(app.activity().len(), lines, "said once");
    // Cancelled while it waits: the row is the other process's at once.
    let cancelled = Event::Failed {
        id,
        op: OpKind::Refresh,
        conn_id: Some(ConnectionId(5)),
        conn: None,
        error: OpError::new(ErrorKind::Cancelled, "cancelled"),
        next_try: None,
    };
    app.update(Msg::Worker(cancelled), NOW);
    assert!(app.busy_elsewhere(ConnectionId(5), NOW).is_some());

    // Its "sent" line said so already: nothing more.
    let mut app = loaded(40);
    watch_sees(&mut app, &[5]);
    select(&mut app, 5);
    app.update(key('r'), NOW);
    let lines = app.activity().len();
    app.update(held(OpKind::Refresh, 5), NOW);
    assert_eq!(app.activity().len(), lines, "said when it was sent");

    // A bulk's rows, each named, on one line.
    let mut app = loaded(40);
    let Command::RefreshMany { conns, .. } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    for conn in &conns {
        app.update(held(OpKind::Refresh, conn.0), NOW);
    }
    let said = &app.last_activity().unwrap().text;
    assert!(
        said.starts_with(&format!("refresh ×{}{waits}", conns.len())),
        "{said}"
    );

    // The scheduler's.
    let mut app = loaded(40);
    let scheduled = RequestId(RequestId::SCHEDULED_FROM + 1);
    app.update(started(scheduled, OpKind::Refresh, 5), NOW);
    app.update(held(OpKind::Refresh, 5), NOW);
    let said = &app.last_activity().unwrap().text;
    assert!(said.ends_with(&format!("{waits} (scheduled)")), "{said}");
}

/// The lease a cron job (process 4242) holds on `conn` for 30 s.
fn cron_lease(conn: i64) -> Lease {
    Lease {
        conn: ConnectionId(conn),
        holder: "host|4242/7|00ab|cron".into(),
        until: NOW.plus_secs(30),
    }
}

/// The screen's watch asks, and finds the cron job at work on `held`.
fn watch_sees(app: &mut App, held: &[i64]) {
    let [(id, ..)] = ticks(app, 2)[..] else {
        panic!("an ask")
    };
    let changes = Changes {
        last: 40,
        leases: held.iter().map(|&c| cron_lease(c)).collect(),
        ..Changes::default()
    };
    answer(app, id, changes);
}
