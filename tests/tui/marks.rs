//! Marked rows: space marks (and moves on), ctrl-space marks a range, and
//! `e`, `r`, `l`, `D` then act on the marked rows shown, saying which they
//! left out and why; Esc clears the marks once no filter is left.

use bankdeck::domain::{ConnectionId, Ending, OpKind, Untouched};
use bankdeck::tui::{Ends, Mode, Msg};
use bankdeck::worker::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::fixtures::*;
use super::screens::text_at;

fn ctrl_space() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(' '), KeyModifiers::CONTROL))
}

fn marks(app: &bankdeck::tui::App) -> Vec<i64> {
    app.marked().iter().map(|id| id.0).collect()
}

/// Every line of the activity pane.
fn said(app: &bankdeck::tui::App) -> Vec<String> {
    app.activity().map(|l| l.text.clone()).collect()
}

/// Marks each of `rows`, by selecting it and pressing space.
fn mark(app: &mut bankdeck::tui::App, rows: &[i64]) {
    for &id in rows {
        select(app, id);
        app.update(key(' '), NOW);
    }
}

#[test]
fn space_marks_the_row_and_moves_on_and_again_unmarks_it() {
    let mut app = app();
    select(&mut app, 5);
    app.update(key(' '), NOW);
    assert_eq!(marks(&app), [5]);
    assert_eq!(
        app.selected_id(),
        Some(ConnectionId(9)),
        "on to the next row"
    );
    app.update(key(' '), NOW);
    assert_eq!(marks(&app), [5, 9]);
    app.update(key('k'), NOW);
    app.update(key(' '), NOW);
    assert_eq!(marks(&app), [5], "space on a marked row unmarks it");
    let screen = text_at(&mut app, 120, 40, NOW);
    assert!(screen.contains("· 1 marked"), "{screen}");
    let erin = screen.lines().find(|l| l.contains("erin")).unwrap();
    assert!(erin.starts_with("│ * erin"), "{erin}");
    let ivan = screen.lines().find(|l| l.contains("ivan")).unwrap();
    assert!(ivan.starts_with("│   ivan"), "{ivan}");
    assert!(
        screen.contains("r refresh marked") && screen.contains("esc clear marks"),
        "the key bar says what acts on the marks: {screen}"
    );
}

/// `r` with rows marked refreshes the marked rows, not the selected one,
/// in one bulk as `R` sends; a marked row the rule refuses is named and
/// stays marked, those sent are unmarked.
#[test]
fn r_refreshes_the_marked_rows_in_one_bulk_and_leaves_the_refused_marked() {
    let mut app = app();
    mark(&mut app, &[2, 4, 5]);
    select(&mut app, 3);
    let cmd = one(app.update(key('r'), NOW));
    let Command::RefreshMany { conns, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(conns, ids(&[5, 4]), "the marked rows, in the table's order");
    assert!(app.is_busy(ConnectionId(5)) && app.is_busy(ConnectionId(4)));
    assert!(!app.is_busy(ConnectionId(3)), "the selection is not marked");
    assert_eq!(marks(&app), [2]);
    let said = said(&app);
    assert!(
        said.iter().any(|l| l
            == "refresh: left out 1 marked row, still marked: bob / ADCB: Dapi tokens \
                are permanent: there is nothing to refresh"),
        "{said:#?}"
    );
    assert!(
        said.iter().any(|l| l == "refresh 2 marked rows: sent"),
        "{said:#?}"
    );
}

/// A marked row the filter hides is never acted on out of sight: it is
/// left out, counted, and stays marked. Esc clears the filter first (as
/// the line says), then the marks.
#[test]
fn a_marked_row_the_filter_hides_is_left_out_and_said() {
    let mut app = app();
    mark(&mut app, &[4, 5]);
    filter_by(&mut app, "erin");
    let cmd = one(app.update(key('r'), NOW));
    assert!(
        matches!(&cmd, Command::RefreshMany { conns, .. } if *conns == ids(&[5])),
        "{cmd:?}"
    );
    let said = said(&app);
    assert!(
        said.iter().any(|l| l
            == "refresh: left out 1 marked row, still marked: 1 hidden by the filter (Esc \
                clears it)"),
        "{said:#?}"
    );
    assert_eq!(marks(&app), [4]);
    let bar = |app: &mut bankdeck::tui::App| {
        let screen = text_at(app, 160, 40, NOW);
        screen.lines().last().unwrap_or_default().to_owned()
    };
    let said = bar(&mut app);
    assert!(
        said.contains("esc clear filter") && !said.contains("clear marks"),
        "Esc is offered as what it does first: {said}"
    );
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.filter(), "");
    assert_eq!(marks(&app), [4], "the first Esc clears the filter");
    let said = bar(&mut app);
    assert!(said.contains("esc clear marks"), "{said}");
    app.update(code(KeyCode::Esc), NOW);
    assert!(app.marked().is_empty());
    assert_eq!(last_text(&app), "marks cleared: 1 row");
    assert!(!bar(&mut app).contains("esc"));
}

/// `l` with rows marked asks once for all of them, wanting their count
/// typed (a wrong one is refused, the dialog stays), then logs each out;
/// an app token among them is revoked as its own `l` does.
#[test]
fn l_with_marks_asks_for_the_count_then_logs_each_out() {
    let mut app = app();
    mark(&mut app, &[3, 4, 7, 11]);
    app.update(key('l'), NOW);
    let d = delink_dialog(&app);
    assert_eq!(d.ends, Ends::Marked(OpKind::Logout));
    assert_eq!(
        d.plan,
        vec![
            (ConnectionId(4), Ending::Logout),
            (ConnectionId(3), Ending::Logout),
            (ConnectionId(11), Ending::Nothing(Untouched::AppToken)),
        ],
        "grace, logged out already, is left out"
    );
    assert!(last_text(&app).contains("grace / Keycloak demo: already logged out"));
    let screen = text_at(&mut app, 120, 40, NOW);
    assert!(
        screen.contains("Log out 3 marked connections: this is final."),
        "{screen}"
    );
    assert!(
        screen.contains("It will log out 2 (refresh token revoked), revoke 1 app token"),
        "{screen}"
    );
    assert!(
        screen.contains("Type the number of connections (3) and press Enter:"),
        "{screen}"
    );
    type_text(&mut app, "2");
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    let screen = text_at(&mut app, 120, 40, NOW);
    assert!(
        screen.contains("the count does not match: type 3 exactly"),
        "{screen}"
    );
    app.update(code(KeyCode::Backspace), NOW);
    type_text(&mut app, "3");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert_eq!(sent(&cmds), [("logout", 4), ("logout", 3), ("logout", 11)]);
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(marks(&app), [7], "the row left out stays marked");
}

#[test]
fn esc_in_the_marked_rows_dialog_sends_nothing_and_keeps_the_marks() {
    let mut app = app();
    mark(&mut app, &[3, 4]);
    app.update(key('l'), NOW);
    assert!(app.update(code(KeyCode::Esc), NOW).is_empty());
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(last_text(&app), "log out 2 marked connections: cancelled");
    assert_eq!(marks(&app), [3, 4]);
}

/// `D` with rows marked delinks the marked Dapi rows (a pending code is
/// exchanged first, as its own `D` does); the OIDC row is left out.
#[test]
fn d_with_marks_delinks_the_marked_dapi_rows() {
    let mut app = app();
    mark(&mut app, &[1, 2, 3]);
    app.update(key('D'), NOW);
    let d = delink_dialog(&app);
    assert_eq!(d.ends, Ends::Marked(OpKind::Delink));
    assert_eq!(
        d.plan,
        vec![
            (ConnectionId(1), Ending::ExchangeThenDelink),
            (ConnectionId(2), Ending::Delink),
        ]
    );
    let screen = text_at(&mut app, 120, 40, NOW);
    assert!(
        screen.contains("Delink 2 marked connections: this is final."),
        "{screen}"
    );
    type_text(&mut app, "2");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert_eq!(sent(&cmds), [("delink", 1), ("delink", 2)]);
    assert_eq!(marks(&app), [3]);
}

/// A marked row that another operation took while the dialog was open is
/// said and left, not sent to a second time.
#[test]
fn a_marked_row_busy_by_the_time_the_count_is_typed_is_left_out() {
    let mut app = app();
    mark(&mut app, &[3, 4]);
    app.update(key('l'), NOW);
    // The scheduler starts a refresh of dave's meanwhile.
    app.update(
        started(bankdeck::worker::RequestId(999), OpKind::Refresh, 4),
        NOW,
    );
    type_text(&mut app, "2");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert_eq!(sent(&cmds), [("logout", 3)]);
    let said = said(&app);
    assert!(
        said.iter().any(|l| l
            == "logout: left out 1 marked row, still marked: dave / Keycloak demo: an operation \
                is already running"),
        "{said:#?}"
    );
    assert_eq!(marks(&app), [4]);
}

#[test]
fn e_with_marks_exchanges_each_marked_pending_code() {
    let mut app = app();
    mark(&mut app, &[1, 10]);
    let cmds = app.update(key('e'), NOW);
    assert_eq!(sent(&cmds), [("exchange", 1)]);
    assert!(
        last_text(&app).starts_with("exchange alice"),
        "{}",
        last_text(&app)
    );
    assert_eq!(marks(&app), [10], "the expired code stays marked");
}

/// Ctrl-space marks every row from the last one marked to the selection;
/// with none marked, the selection alone.
#[test]
fn ctrl_space_marks_the_rows_from_the_last_marked_to_here() {
    let mut app = app();
    select(&mut app, 9);
    app.update(ctrl_space(), NOW);
    assert_eq!(marks(&app), [9]);
    app.update(code(KeyCode::Esc), NOW);
    select(&mut app, 5);
    app.update(key(' '), NOW);
    select(&mut app, 7);
    app.update(ctrl_space(), NOW);
    // The time order: 6, 10, 5, 9, 4, 7, …
    assert_eq!(marks(&app), [4, 5, 7, 9]);
    assert_eq!(last_text(&app), "mark_range: 3 more marked, 4 in all");
    select(&mut app, 10);
    app.update(ctrl_space(), NOW);
    assert_eq!(marks(&app), [4, 5, 7, 9, 10], "upwards, from row 7 on");
}

/// `:refresh 4` names its row: it refreshes that one, and the marks wait.
#[test]
fn a_colon_line_with_an_id_acts_on_that_row_and_leaves_the_marks() {
    let mut app = app();
    mark(&mut app, &[5]);
    app.update(key(':'), NOW);
    type_text(&mut app, "refresh 4");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert_eq!(sent(&cmds), [("refresh", 4)]);
    assert_eq!(marks(&app), [5]);
}

#[test]
fn the_users_view_takes_no_mark() {
    let mut app = app();
    app.update(key('u'), NOW);
    assert!(app.update(key(' '), NOW).is_empty());
    assert!(app.marked().is_empty());
    assert!(last_text(&app).starts_with("mark: "), "{}", last_text(&app));
}

/// Marks stay on their connections through a reload that brings the rows
/// in another order, and go with a row the reload no longer has.
#[test]
fn marks_follow_their_rows_through_a_reload() {
    let mut app = app();
    mark(&mut app, &[2, 4, 5]);
    let Command::Reload { id } = one(app.update(ctrl('l'), NOW)) else {
        panic!()
    };
    let mut conns = sample_connections();
    conns.reverse();
    conns.retain(|c| c.id != ConnectionId(2));
    load(&mut app, id, conns);
    assert_eq!(marks(&app), [4, 5]);
    let screen = text_at(&mut app, 120, 40, NOW);
    assert!(screen.contains("· 2 marked"), "{screen}");
    let erin = screen.lines().find(|l| l.contains("erin")).unwrap();
    assert!(erin.starts_with("│ * erin"), "{erin}");
    let carol = screen.lines().find(|l| l.contains("carol")).unwrap();
    assert!(carol.starts_with("│   carol"), "{carol}");
}

/// `y` with rows marked copies the ids of the marked rows shown, a line
/// each in the table's order, and keeps the marks: nothing was done to
/// the rows. A marked row the filter hides is left out and said.
#[test]
fn y_with_marks_copies_each_marked_row_shown_a_line_each() {
    let mut app = app();
    mark(&mut app, &[2, 4, 5]);
    select(&mut app, 3);
    assert!(app.update(key('y'), NOW).is_empty());
    let copied = app.take_clipboard().unwrap_or_default();
    let rows: Vec<&str> = copied
        .lines()
        .map(|l| l.split(" · ").nth(1).unwrap())
        .collect();
    assert_eq!(rows, ["erin", "dave", "bob"], "the table's order: {copied}");
    assert!(
        copied
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("connection 2 · bob · ADCB (dapi-sandbox) · connectionID "),
        "{copied}"
    );
    assert_eq!(
        last_text(&app),
        "copied the ids of 3 marked rows to the terminal's clipboard (OSC 52), a line each"
    );
    assert_eq!(marks(&app), [2, 4, 5], "the marks stay");

    filter_by(&mut app, "erin");
    app.update(key('y'), NOW);
    assert_eq!(
        app.take_clipboard().as_deref().map(|t| t.lines().count()),
        Some(1)
    );
    assert_eq!(
        last_text(&app),
        "copied the ids of 1 marked row to the terminal's clipboard (OSC 52), a line each; \
         left out 2 hidden by the filter (Esc clears it)"
    );
    filter_by(&mut app, "nobody at all");
    app.update(key('y'), NOW);
    assert_eq!(app.take_clipboard(), None);
    assert_eq!(
        last_text(&app),
        "copy_ids: no marked row shown, 3 hidden by the filter (Esc clears it)"
    );
}

/// A terminal drops an OSC 52 copy past its limit whole, so `y` over
/// thousands of marked rows copies as many as fit in 64 KiB and says how
/// many it left, rather than hand over a copy that would paste nothing.
#[test]
fn y_over_more_marked_rows_than_a_terminal_takes_copies_what_fits_and_says_so() {
    let mut app = app();
    let conns: Vec<_> = (1..=2000)
        .map(|i| dapi_active(i, &format!("user{i:04}")))
        .collect();
    load(&mut app, bankdeck::worker::RequestId(0), conns);
    app.update(key('g'), NOW);
    app.update(key(' '), NOW);
    app.update(key('G'), NOW);
    app.update(ctrl_space(), NOW);
    assert_eq!(app.marked().len(), 2000);
    app.update(key('y'), NOW);
    let copied = app.take_clipboard().unwrap();
    assert!(copied.len() <= 64 * 1024, "{}", copied.len());
    let lines = copied.lines().count();
    assert!((200..2000).contains(&lines), "{lines}");
    assert!(copied.lines().all(|l| l.starts_with("connection ")));
    assert_eq!(
        last_text(&app),
        format!(
            "copied the ids of {lines} marked rows to the terminal's clipboard (OSC 52), a line \
             each; not the last {}: a terminal drops a longer copy whole (copy them with a \
             narrower filter)",
            2000 - lines
        )
    );
}

/// The rows a key sends for one by one (marked rows' `l`, `e`, `D`) say
/// so in one line each for their start and their outcome, each counting
/// the rows, as the scheduler's do: fifty marked rows pushed a hundred
/// lines through the pane. A failure keeps its own line.
#[test]
fn marked_rows_sent_one_by_one_fold_their_lines() {
    use bankdeck::domain::{ErrorKind, OpError};
    use bankdeck::worker::Event;
    let mut app = app();
    mark(&mut app, &[3, 4, 11]);
    app.update(key('l'), NOW);
    type_text(&mut app, "3");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    let said_now = said(&app);
    let sent_lines: Vec<&String> = said_now.iter().filter(|l| l.contains(": sent")).collect();
    assert_eq!(sent_lines.len(), 1, "{said_now:#?}");
    assert!(
        sent_lines[0].starts_with("logout ×3: sent · latest app / "),
        "{said_now:#?}"
    );
    let mut logged_out = sample_connections();
    logged_out.retain(|c| [3, 4].contains(&c.id.0));
    for cmd in cmds {
        let Command::Logout { id, conn } = cmd else {
            panic!("{cmd:?}")
        };
        let event = match logged_out.iter().find(|c| c.id == conn) {
            Some(c) => {
                let mut c = c.clone();
                c.flags.logged_out_at = Some(NOW);
                Event::Succeeded {
                    by: bankdeck::worker::DoneBy::This,
                    id,
                    op: OpKind::Logout,
                    conn: Box::new(c),
                    message: "logged out".into(),
                }
            }
            None => Event::Failed {
                id,
                op: OpKind::Logout,
                conn_id: Some(conn),
                conn: None,
                error: OpError::new(ErrorKind::Network, "the provider did not answer"),
                next_try: None,
            },
        };
        app.update(Msg::Worker(event), NOW);
    }
    let said = said(&app);
    let tail: Vec<&str> = said
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    assert!(
        tail[0].starts_with("logout ×2: logged out · latest "),
        "{said:#?}"
    );
    assert!(
        tail[1].starts_with("logout app / ")
            && tail[1].ends_with(" failed: the provider did not answer"),
        "{said:#?}"
    );
    assert_eq!(app.in_flight(), 0);
}
