//! `update` for every worker event: results merged, spinners stopped,
//! messages shown, stale answers dropped.

use bankdeck::domain::{
    AccessExpiry, ConnectionId, ErrorKind, LastOp, OpError, OpKind, StateKind, User, UserId,
};
use bankdeck::tui::{Level, Mode, Msg, SendFailure};
use bankdeck::worker::{Command, Event, NextTry, RequestId};

use super::fixtures::*;

fn worker(e: Event) -> Msg {
    Msg::Worker(e)
}

/// The activity pane's last line: its level and its text.
fn last_line(app: &bankdeck::tui::App) -> (Level, &str) {
    let line = app.last_activity().unwrap();
    (line.level, line.text.as_str())
}

fn exchange_alice(app: &mut bankdeck::tui::App) -> RequestId {
    select(app, 1);
    match one(app.update(key('e'), NOW)) {
        Command::Exchange { id, .. } => id,
        other => panic!("{other:?}"),
    }
}

#[test]
fn succeeded_replaces_the_row_stops_the_spinner_and_says_so() {
    let mut app = app();
    let id = exchange_alice(&mut app);
    app.update(started(id, OpKind::Exchange, 1), NOW);
    assert!(app.is_busy(ConnectionId(1)));
    let mut done = dapi_pending(1, "alice");
    done.lifetimes.access = Some(AccessExpiry::Permanent);
    done.last_op = Some(LastOp {
        op: OpKind::Exchange,
        at: NOW,
        ok: true,
    });
    let cmds = app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: OpKind::Exchange,
            conn: Box::new(done),
            message: "exchanged".into(),
        }),
        // A second after the load: the first result of a second re-sorts at once.
        NOW.plus_secs(1),
    );
    assert!(cmds.is_empty());
    assert!(!app.is_busy(ConnectionId(1)));
    assert_eq!(app.in_flight(), 0);
    assert_eq!(app.count(StateKind::CodePending), 0);
    assert_eq!(
        app.selected_id(),
        Some(ConnectionId(1)),
        "the selection follows the row"
    );
    // Now permanent, alice sorts after the timed tokens.
    assert_eq!(app.visible_ids(), ids(&[6, 10, 5, 9, 4, 7, 3, 11, 1, 2, 8]));
    let line = app.last_activity().unwrap();
    assert_eq!(line.level, Level::Ok);
    assert_eq!(line.text, "exchange alice / Emirates NBD: exchanged");
}

/// The filter reads a row's provider ids as they now are: an exchange that
/// brings a `tokenID` makes the row findable by it, with the filter typed
/// before the answer came.
#[test]
fn a_filter_by_a_provider_id_finds_the_row_the_id_came_to() {
    let mut app = app();
    let id = exchange_alice(&mut app);
    app.update(key('/'), NOW);
    type_text(&mut app, "16AE93EE-c29c");
    app.update(code(crossterm::event::KeyCode::Enter), NOW);
    assert_eq!(app.visible_ids(), ids(&[]));
    let mut done = dapi_pending(1, "alice");
    done.lifetimes.access = Some(AccessExpiry::Permanent);
    done.remote.token_id = Some("16ae93ee-c29c-4173-87e7-21454ba1ae61".into());
    app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: OpKind::Exchange,
            conn: Box::new(done.clone()),
            message: "exchanged".into(),
        }),
        NOW.plus_secs(1),
    );
    assert_eq!(app.visible_ids(), ids(&[1]));
    // Seven characters are too few to read ids by.
    app.update(key('/'), NOW);
    for _ in 0..6 {
        app.update(code(crossterm::event::KeyCode::Backspace), NOW);
    }
    assert_eq!(app.visible_ids(), ids(&[]), "16ae93e reads no ids");
}

#[test]
fn success_of_the_selected_row_reloads_its_open_detail() {
    let mut app = app();
    let id = exchange_alice(&mut app);
    let detail_id = load_detail_id(&one(app.update(key('d'), NOW)), 1);
    app.update(detail_event(detail_id, 1), NOW);
    let done = dapi_active(1, "alice");
    let cmds = app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: OpKind::Exchange,
            conn: Box::new(done),
            message: String::new(),
        }),
        NOW,
    );
    load_detail_id(&one(cmds), 1);
}

#[test]
fn failed_shows_the_providers_message_and_the_changed_row() {
    let mut app = app();
    select(&mut app, 4);
    let Command::Refresh { id, .. } = one(app.update(key('r'), NOW)) else {
        panic!()
    };
    let mut now_reauth = sample_connections()[3].clone();
    now_reauth.flags.reauth_required = true;
    let error = OpError::new(
        ErrorKind::ReauthRequired,
        "invalid_grant: Token is not active",
    );
    app.update(
        worker(Event::Failed {
            id,
            op: OpKind::Refresh,
            conn_id: Some(ConnectionId(4)),
            conn: Some(Box::new(now_reauth)),
            error,
            next_try: None,
        }),
        NOW.plus_secs(1),
    );
    assert!(!app.is_busy(ConnectionId(4)));
    assert_eq!(app.count(StateKind::ReauthRequired), 2);
    let line = app.last_activity().unwrap();
    assert_eq!(line.level, Level::Error);
    assert_eq!(
        line.text,
        "refresh dave / Keycloak demo failed: invalid_grant: Token is not active"
    );
}

/// A row another process logged out while this screen's operation waited
/// for its lease: a logout finds what it was for done, which is not a
/// failure; a refresh asked of that row is one, as the command line says.
#[test]
fn a_logout_another_process_ended_first_is_not_a_failure_a_refresh_is() {
    let mut app = app();
    select(&mut app, 3);
    app.update(key('l'), NOW);
    let Command::Logout { id, .. } = one(app.update(key('y'), NOW)) else {
        panic!()
    };
    let ended = |op| {
        worker(Event::Failed {
            id,
            op,
            conn_id: Some(ConnectionId(3)),
            conn: None,
            error: OpError::new(ErrorKind::Ended, "cannot log out: already logged out"),
            next_try: None,
        })
    };
    app.update(ended(OpKind::Logout), NOW);
    assert_eq!(
        last_line(&app),
        (
            Level::Info,
            "logout carol / Keycloak demo: ended meanwhile (cannot log out: already logged out)"
        )
    );
    assert_eq!(app.in_flight(), 0);

    let Command::Refresh { id, .. } = one(app.update(key('r'), NOW)) else {
        panic!()
    };
    let error = OpError::new(ErrorKind::Ended, "cannot refresh: already logged out");
    app.update(refresh_failed(id, 3, error, None), NOW);
    assert_eq!(
        last_line(&app),
        (
            Level::Error,
            "refresh carol / Keycloak demo failed: cannot refresh: already logged out"
        )
    );
    // The scheduler's, which nobody asked of the row, had nothing left to do.
    let scheduled = RequestId(RequestId::SCHEDULED_FROM + 3);
    let error = OpError::new(ErrorKind::Ended, "cannot refresh: already logged out");
    app.update(refresh_failed(scheduled, 3, error, None), NOW);
    assert_eq!(
        last_line(&app),
        (
            Level::Info,
            "refresh carol / Keycloak demo: ended meanwhile (cannot refresh: already logged out) \
             (scheduled)"
        )
    );
}

/// A bulk's row another process logged out meanwhile is counted apart from
/// its failures, as `refresh --due` counts it, and does not make the bulk's
/// line a warning.
#[test]
fn a_bulk_counts_rows_ended_meanwhile_apart_from_failures() {
    let mut app = app();
    let (id, progress) = bulk_of_two(&mut app);
    let error = OpError::new(ErrorKind::Ended, "cannot refresh: already logged out");
    app.update(refresh_failed(id, 4, error, None), NOW);
    let line = app.last_activity().unwrap();
    assert_eq!(line.level, Level::Info);
    assert!(
        line.text
            .ends_with(": ended meanwhile (cannot refresh: already logged out)"),
        "{}",
        line.text
    );
    app.update(progress(1, 1), NOW);
    app.update(progress(2, 1), NOW);
    assert_eq!(
        last_line(&app),
        (Level::Ok, "refreshed 1 of 2, 1 ended meanwhile")
    );

    // Beside a real failure, each is counted for what it is.
    let (id, progress) = bulk_of_two(&mut app);
    let error = OpError::new(ErrorKind::Ended, "cannot refresh: already logged out");
    app.update(refresh_failed(id, 4, error, None), NOW);
    app.update(rejected(id, 5), NOW);
    app.update(progress(2, 2), NOW);
    assert_eq!(
        last_line(&app),
        (Level::Warn, "refreshed 0 of 2, 1 failed, 1 ended meanwhile")
    );
}

/// `R` pressed over two due rows, and its first progress in: its id, and
/// its progress of `done` and `failed` of those two.
fn bulk_of_two(app: &mut bankdeck::tui::App) -> (RequestId, impl Fn(usize, usize) -> Msg + use<>) {
    let Command::RefreshMany { id, .. } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    let progress = move |done, failed| {
        worker(Event::Progress {
            id,
            done,
            total: 2,
            failed,
            stopped: 0,
        })
    };
    app.update(progress(0, 0), NOW);
    (id, progress)
}

#[test]
fn failed_without_a_connection_names_the_request_and_says_the_wait_once() {
    let mut app = app();
    app.update(key('c'), NOW);
    let Command::ClientCredentials { id, .. } =
        one(app.update(code(crossterm::event::KeyCode::Enter), NOW))
    else {
        panic!()
    };
    let said = "idp.example is busy or rate limiting (429 Too Many Requests): it asks to wait 30s";
    let mut error = OpError::new(ErrorKind::RateLimited, said);
    error.retry_after = Some(30);
    app.update(
        worker(Event::Failed {
            id,
            op: OpKind::ClientCredentials,
            conn_id: None,
            conn: None,
            error,
            next_try: None,
        }),
        NOW,
    );
    assert_eq!(app.in_flight(), 0);
    assert_eq!(
        last_text(&app),
        format!("client_credentials app at keycloak failed: {said}"),
        "the server's wait is said once, and as the server's: nothing here retries it"
    );
}

/// The scheduler's failures say they were its own, and when it tries again:
/// as a clock time, since the line stays in the pane after the moment.
#[test]
fn a_scheduled_failure_says_when_the_scheduler_tries_again() {
    let mut app = app();
    let id = RequestId(RequestId::SCHEDULED_FROM + 3);
    let fail = |next_try| {
        let error = OpError::new(ErrorKind::Network, "connection refused");
        refresh_failed(id, 4, error, next_try)
    };
    let name = app.connection(ConnectionId(4)).unwrap().name();
    app.update(fail(Some(NextTry::After(NOW.plus_secs(30)))), NOW);
    assert_eq!(
        last_text(&app),
        format!(
            "refresh {name} failed: connection refused (scheduled; tried again after {})",
            NOW.plus_secs(30).clock()
        )
    );
    app.update(fail(Some(NextTry::AfterRestart)), NOW);
    assert!(
        last_text(&app).ends_with(
            "(scheduled; not tried again automatically until bankdeck restarts with the \
             configuration fixed)"
        ),
        "{}",
        last_text(&app)
    );
    app.update(fail(None), NOW);
    assert_eq!(
        last_text(&app),
        format!("refresh {name} failed: connection refused (scheduled)")
    );
}

#[test]
fn progress_rewrites_one_line_and_the_end_stops_every_spinner() {
    let mut app = app();
    let Command::RefreshMany { id, .. } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    let lines_before = app.activity().len();
    app.update(
        worker(Event::Progress {
            id,
            done: 0,
            total: 2,
            failed: 0,
            stopped: 0,
        }),
        NOW,
    );
    app.update(
        worker(Event::Progress {
            id,
            done: 1,
            total: 2,
            failed: 1,
            stopped: 0,
        }),
        NOW,
    );
    assert_eq!(
        app.activity().len(),
        lines_before + 1,
        "one line per bulk operation"
    );
    assert_eq!(last_text(&app), "refreshing 1 of 2, 1 failed");
    assert_eq!(app.progress().map(|p| (p.done, p.total)), Some((1, 2)));
    assert_eq!(app.in_flight(), 1);
    app.update(
        worker(Event::Progress {
            id,
            done: 2,
            total: 2,
            failed: 1,
            stopped: 0,
        }),
        NOW,
    );
    assert_eq!(last_text(&app), "refreshed 1 of 2, 1 failed");
    assert_eq!(app.progress(), None);
    assert_eq!(app.in_flight(), 0);
    assert!(!app.is_busy(ConnectionId(4)) && !app.is_busy(ConnectionId(5)));
}

/// A bulk that ends early (cancelled with `x`) says how far it got, and
/// its rows stop being busy: they can be refreshed again, and quitting
/// does not ask about it.
#[test]
fn a_bulk_that_stopped_early_says_so_and_frees_its_rows() {
    let mut app = app();
    let Command::RefreshMany { id, conns } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    let progress = |done, stopped| {
        worker(Event::Progress {
            id,
            done,
            total: 2,
            failed: 0,
            stopped,
        })
    };
    app.update(progress(0, 0), NOW);
    assert!(conns.iter().all(|&c| app.is_busy(c)));
    app.update(progress(1, 1), NOW);
    assert_eq!(
        last_text(&app),
        "stopped: refreshed 1 of 2, 1 not refreshed"
    );
    assert_eq!(app.progress(), None);
    assert_eq!(app.in_flight(), 0);
    assert!(conns.iter().all(|&c| !app.is_busy(c)));
}

#[test]
fn a_finished_bulk_says_so_on_the_last_line_not_above_its_results() {
    let mut app = app();
    let (_, progress) = bulk_of_two(&mut app);
    for row in ["first row refreshed", "second row refreshed"] {
        app.update(
            worker(Event::Notice {
                message: row.into(),
            }),
            NOW,
        );
    }
    assert_eq!(last_text(&app), "second row refreshed");
    app.update(progress(2, 0), NOW);
    assert_eq!(last_text(&app), "refreshed 2 of 2");
    let summaries = app.activity().filter(|l| l.text.contains(" of 2")).count();
    assert_eq!(summaries, 1, "moved, not copied");
}

/// A row another process refreshed while the bulk waited for its lease
/// is counted as refreshed, and the bulk's line says how many were: a
/// bulk's successes get no line each to say it.
#[test]
fn a_bulk_counts_the_rows_another_process_refreshed_meanwhile() {
    let mut app = app();
    let (id, progress) = bulk_of_two(&mut app);
    let succeeded = |id, row: usize, by| {
        worker(Event::Succeeded {
            by,
            id,
            op: OpKind::Refresh,
            conn: Box::new(sample_connections()[row].clone()),
            message: "refreshed".into(),
        })
    };
    app.update(succeeded(id, 4, bankdeck::worker::DoneBy::Another), NOW);
    // Another request's result (the scheduler's) is not the bulk's.
    app.update(
        succeeded(
            RequestId(RequestId::SCHEDULED_FROM + 3),
            2,
            bankdeck::worker::DoneBy::Another,
        ),
        NOW,
    );
    app.update(progress(1, 0), NOW);
    // The bulk's one line is rewritten in place, above the scheduler's.
    let bulk_line = |app: &bankdeck::tui::App| {
        let mut lines = app.activity().filter(|l| l.text.contains(" of 2"));
        lines.next().map(|l| l.text.clone())
    };
    assert_eq!(
        bulk_line(&app).as_deref(),
        Some("refreshing 1 of 2, 1 of them by another process meanwhile")
    );
    app.update(succeeded(id, 3, bankdeck::worker::DoneBy::This), NOW);
    app.update(progress(2, 0), NOW);
    assert_eq!(
        last_text(&app),
        "refreshed 2 of 2, 1 of them by another process meanwhile"
    );
}

#[test]
fn a_bulk_result_stops_only_its_own_rows_spinner() {
    let mut app = app();
    let Command::RefreshMany { id, .. } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    let erin = sample_connections()[4].clone();
    app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id,
            op: OpKind::Refresh,
            conn: Box::new(erin),
            message: "refreshed".into(),
        }),
        NOW,
    );
    assert!(!app.is_busy(ConnectionId(5)));
    assert!(app.is_busy(ConnectionId(4)));
    assert_eq!(app.in_flight(), 1, "the bulk request still runs");
    // Its successes are counted, not written one by one; its failures are.
    let mentions = |app: &bankdeck::tui::App, who: &str| {
        app.activity().filter(|l| l.text.contains(who)).count()
    };
    assert_eq!(mentions(&app, "erin"), 0);
    let error = OpError::new(ErrorKind::ReauthRequired, "invalid_grant");
    app.update(refresh_failed(id, 4, error, None), NOW);
    assert_eq!(mentions(&app, "dave"), 1);
}

/// A bulk's row refused for its provider's wait goes again after it: the
/// row stays busy, the bulk runs on, and the line says when. One refused
/// for longer than the bulk waits is set aside with its provider's rows:
/// its line says it is left for a later run unless the wait is lifted.
#[test]
fn a_bulk_row_refused_for_a_wait_stays_busy_and_says_when_it_goes_again() {
    for secs in [30, 3600] {
        let mut app = app();
        let Command::RefreshMany { id, .. } = one(app.update(key('R'), NOW)) else {
            panic!()
        };
        assert!(app.is_busy(ConnectionId(4)));
        let at = NOW.plus_secs(secs);
        let (next_try, tail) = match secs {
            30 => (
                NextTry::After(at),
                format!("(this bulk tries it again after {})", at.clock()),
            ),
            _ => (
                NextTry::SetAside(at),
                format!(
                    "(left for a run after {}, or for this bulk if the wait is lifted)",
                    at.clock()
                ),
            ),
        };
        let asks = format!("429: it asks to wait {secs}s");
        let error = OpError::new(ErrorKind::RateLimited, asks.clone());
        app.update(refresh_failed(id, 4, error, Some(next_try)), NOW);
        assert!(app.is_busy(ConnectionId(4)), "still the bulk's");
        assert_eq!(app.in_flight(), 1);
        let line = last_text(&app);
        assert!(
            line.contains("dave")
                && line.contains(" refused for now: ")
                && !line.contains("failed")
                && line.ends_with(&format!("{asks} {tail}")),
            "{line}"
        );
    }
}

#[test]
fn a_scheduled_operation_shows_as_busy_and_in_the_activity() {
    let mut app = app();
    let foreign = RequestId(9_000);
    app.update(started(foreign, OpKind::Refresh, 3), NOW);
    assert!(app.is_busy(ConnectionId(3)));
    assert_eq!(
        last_text(&app),
        "refresh carol / Keycloak demo: started (scheduled)"
    );
    let carol = sample_connections()[2].clone();
    app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: foreign,
            op: OpKind::Refresh,
            conn: Box::new(carol),
            message: "access token valid for 04:59".into(),
        }),
        NOW,
    );
    assert!(!app.is_busy(ConnectionId(3)));
    assert_eq!(
        last_text(&app),
        "refresh carol / Keycloak demo: access token valid for 04:59 (scheduled)"
    );
}

fn texts(app: &bankdeck::tui::App, from: usize) -> Vec<String> {
    app.activity().skip(from).map(|l| l.text.clone()).collect()
}

fn rejected(id: RequestId, conn: i64) -> Msg {
    let error = OpError::new(ErrorKind::ReauthRequired, "the refresh token was rejected");
    refresh_failed(id, conn, error, None)
}

/// Request `id`'s refresh of connection `conn` failed, the row unchanged.
fn refresh_failed(id: RequestId, conn: i64, error: OpError, next_try: Option<NextTry>) -> Msg {
    worker(Event::Failed {
        id,
        op: OpKind::Refresh,
        conn_id: Some(ConnectionId(conn)),
        conn: None,
        error,
        next_try,
    })
}

/// At scale the scheduler reports row after row; what many rows say alike
/// is one line that counts them.
#[test]
fn the_schedulers_alike_results_fold_into_one_counted_line() {
    let mut app = app();
    let name = |app: &bankdeck::tui::App, c| app.connection(ConnectionId(c)).unwrap().name();
    let from = app.activity().len();
    for (n, c) in [3, 4, 7].into_iter().enumerate() {
        let id = RequestId(RequestId::SCHEDULED_FROM + n as u64);
        let op = OpKind::Refresh;
        let conn = Some(ConnectionId(c));
        app.update(worker(Event::Started { id, op, conn }), NOW);
        app.update(rejected(id, c), NOW);
    }
    let grace = name(&app, 7);
    let at = NOW.clock();
    assert_eq!(
        texts(&app, from),
        [
            format!("refresh ×3: started (scheduled) · latest {grace} at {at}"),
            format!(
                "refresh ×3 failed: the refresh token was rejected (scheduled) · latest {grace} at {at}"
            ),
        ]
    );
    let id = RequestId(RequestId::SCHEDULED_FROM + 9);
    let mut carol = sample_connections()[2].clone();
    carol.last_op = Some(LastOp {
        op: OpKind::Refresh,
        at: NOW,
        ok: true,
    });
    let message = "access token valid for 04:59".to_string();
    for _ in 0..2 {
        let conn = Box::new(carol.clone());
        let op = OpKind::Refresh;
        let message = message.clone();
        app.update(
            worker(Event::Succeeded {
                by: bankdeck::worker::DoneBy::This,
                id,
                op,
                conn,
                message,
            }),
            NOW,
        );
    }
    assert_eq!(
        last_text(&app),
        format!(
            "refresh ×2: access token valid for 04:59 (scheduled) · latest {} at {at}",
            name(&app, 3)
        )
    );
}

/// A bulk's failures fold as the scheduler's do; an operator's own
/// operations, asked for one by one, keep a line each.
#[test]
fn a_bulks_failures_fold_and_an_operators_own_do_not() {
    let mut app = app();
    let Command::RefreshMany { id, conns } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    assert!(conns.len() >= 2, "{conns:?}");
    let from = app.activity().len();
    for c in &conns {
        app.update(rejected(id, c.0), NOW);
    }
    let latest = app.connection(*conns.last().unwrap()).unwrap().name();
    assert_eq!(
        texts(&app, from),
        [format!(
            "refresh ×{} failed: the refresh token was rejected · latest {latest} at {}",
            conns.len(),
            NOW.clock()
        )]
    );
    let from = app.activity().len();
    for c in [4, 5] {
        select(&mut app, c);
        let Command::Refresh { id, .. } = one(app.update(key('r'), NOW)) else {
            panic!()
        };
        app.update(rejected(id, c), NOW);
    }
    let failures: Vec<String> = texts(&app, from)
        .into_iter()
        .filter(|t| t.contains("failed"))
        .collect();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().all(|t| !t.contains('×')), "{failures:?}");
}

#[test]
fn user_added_and_notice() {
    let mut app = app();
    let user = User {
        id: UserId(99),
        name: "zoe".into(),
        email: None,
        created_at: NOW,
    };
    app.update(
        worker(Event::UserAdded {
            id: RequestId(50),
            user,
        }),
        NOW,
    );
    assert_eq!(app.users().len(), 12);
    assert_eq!(last_text(&app), "user zoe added");
    let aaron = User {
        id: UserId(100),
        name: "Aaron".into(),
        email: None,
        created_at: NOW,
    };
    app.update(
        worker(Event::UserAdded {
            id: RequestId(51),
            user: aaron,
        }),
        NOW,
    );
    // The users view's order, ignoring case, is kept as users arrive.
    let names: Vec<&str> = app.users().iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"Aaron"));
    assert_eq!(names.last(), Some(&"zoe"));
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    app.update(key('u'), NOW);
    app.update(code(crossterm::event::KeyCode::Enter), NOW);
    assert_eq!(app.user_scope(), Some("Aaron"));
    assert!(app.visible_ids().is_empty(), "Aaron has no connection yet");
    app.update(
        worker(Event::Notice {
            message: "scheduler: store is locked".into(),
        }),
        NOW,
    );
    assert_eq!(app.last_activity().unwrap().level, Level::Warn);
    assert_eq!(last_text(&app), "scheduler: store is locked");
}

#[test]
fn login_url_does_not_cover_a_dialog() {
    let mut app = app();
    app.update(key('?'), NOW);
    app.update(
        worker(Event::LoginUrl {
            id: RequestId(3),
            url: "http://127.0.0.1/x".into(),
        }),
        NOW,
    );
    assert_eq!(app.mode(), &Mode::Help { scroll: 0 });
    assert!(last_text(&app).contains("http://127.0.0.1/x"));
}

#[test]
fn loaded_replaces_the_data_and_a_stale_load_is_dropped() {
    let mut app = app();
    let Command::Reload { id: old } = one(app.update(ctrl('l'), NOW)) else {
        panic!()
    };
    let Command::Reload { id: new } = one(app.update(ctrl('l'), NOW)) else {
        panic!()
    };
    let few = vec![dapi_pending(1, "alice")];
    let users = users_for(&few);
    app.update(
        worker(Event::Loaded {
            id: old,
            connections: few.clone(),
            users: users.clone(),
            audit_mark: 0,
        }),
        NOW,
    );
    assert_eq!(
        app.visible_ids().len(),
        11,
        "the older reload's answer is stale"
    );
    app.update(
        worker(Event::Loaded {
            id: new,
            connections: few,
            users,
            audit_mark: 0,
        }),
        NOW,
    );
    assert_eq!(app.visible_ids(), ids(&[1]));
    assert_eq!(app.users().len(), 1);
    assert_eq!(last_text(&app), "loaded 1 connection, 1 user");
}

#[test]
fn a_command_the_worker_could_not_take_is_forgotten_and_reported() {
    let mut app = app();
    let id = exchange_alice(&mut app);
    let cmd = Command::Exchange {
        id,
        conn: ConnectionId(1),
    };
    assert!(
        app.update(Msg::NotSent(cmd, SendFailure::Busy), NOW)
            .is_empty()
    );
    assert!(!app.is_busy(ConnectionId(1)));
    assert_eq!(app.in_flight(), 0);
    assert_eq!(
        last_text(&app),
        "worker busy: exchange alice / Emirates NBD not sent, try again"
    );
    let reload = one(app.update(ctrl('l'), NOW));
    app.update(Msg::NotSent(reload, SendFailure::Closed), NOW);
    assert!(last_text(&app).starts_with("worker stopped"));
}

#[test]
fn results_within_one_second_resort_once_on_the_next_tick() {
    let mut app = app();
    let later = NOW.plus_secs(1);
    let mut results = Vec::new();
    for (id, n) in [(5, 4), (4, 3)] {
        let mut c = sample_connections()[id - 1].clone();
        c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(3600 + n)));
        results.push(c);
    }
    let succeeded = |c| {
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: RequestId(700),
            op: OpKind::Refresh,
            conn: Box::new(c),
            message: "refreshed".into(),
        })
    };
    let mut results = results.into_iter();
    app.update(succeeded(results.next().unwrap()), later);
    assert_eq!(app.visible_ids(), ids(&[6, 10, 9, 4, 7, 1, 3, 5, 11, 2, 8]));
    // The second result in the same second changes its row, not the order.
    app.update(succeeded(results.next().unwrap()), later);
    assert_eq!(app.visible_ids(), ids(&[6, 10, 9, 4, 7, 1, 3, 5, 11, 2, 8]));
    // The counts do not wait: keeping them costs the changed row only.
    assert_eq!(app.count(StateKind::Expiring), 0);
    let dave = app.connection(ConnectionId(4)).unwrap();
    assert_eq!(
        dave.lifetimes.access,
        Some(AccessExpiry::At(NOW.plus_secs(3603)))
    );
    app.update(Msg::Tick, NOW.plus_secs(2));
    assert_eq!(app.visible_ids(), ids(&[6, 10, 9, 7, 1, 3, 4, 5, 11, 2, 8]));
}

#[test]
fn a_new_connection_shows_at_once() {
    let mut app = app();
    let zoe = dapi_pending(42, "zoe");
    app.update(
        worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: RequestId(800),
            op: OpKind::Link,
            conn: Box::new(zoe),
            message: "linked".into(),
        }),
        NOW,
    );
    assert_eq!(app.visible_ids().len(), 12);
    assert_eq!(
        app.visible_ids()[11],
        ConnectionId(42),
        "at the end until the tick"
    );
    assert_eq!(
        app.selected_id(),
        Some(ConnectionId(6)),
        "not asked for here: the selection stays"
    );
    app.update(Msg::Tick, NOW.plus_secs(1));
    // Same deadline as alice's code, so right after her (by name).
    assert_eq!(
        app.visible_ids()[7],
        ConnectionId(42),
        "sorted by its deadline"
    );
}
