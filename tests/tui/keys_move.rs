//! `update` for the keys that move, sort, filter, open panes and quit,
//! without a terminal.

use bankdeck::domain::ConnectionId;
use bankdeck::tui::{App, Mode, Msg, SortKey, TerminalAsk};
use bankdeck::worker::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEventKind};

use super::fixtures::*;

#[test]
fn starts_by_asking_for_everything() {
    let mut app = app();
    assert!(matches!(one(app.start()), Command::Reload { .. }));
}

#[test]
fn default_order_is_soonest_deadline_first() {
    let app = app();
    assert_eq!(app.visible_ids(), ids(&TIME_ORDER));
    assert_eq!(app.selected_id(), Some(ConnectionId(6)));
}

#[test]
fn vim_keys_and_arrows_move_the_selection() {
    let mut app = app();
    for (msg, pos) in [
        (key('j'), 1),
        (code(KeyCode::Down), 2),
        (key('k'), 1),
        (code(KeyCode::Up), 0),
        (key('k'), 0),
        (key('G'), 10),
        (key('g'), 0),
        (code(KeyCode::End), 10),
        (code(KeyCode::Home), 0),
        (code(KeyCode::PageDown), 10),
        (code(KeyCode::PageUp), 0),
        (ctrl('d'), 10),
        (ctrl('u'), 0),
    ] {
        let cmds = app.update(msg.clone(), NOW);
        assert!(cmds.is_empty(), "{msg:?} sent {cmds:?}");
        assert_eq!(app.cursor(), pos, "after {msg:?}");
    }
}

#[test]
fn half_page_moves_half_of_what_is_visible() {
    let mut app = app();
    app.update(Msg::Resize(200, 16), NOW);
    // 16 rows: header 1, activity 5, key bar 1 → table 9 → body 6 rows.
    app.update(ctrl('d'), NOW);
    assert_eq!(app.cursor(), 3);
    app.update(code(KeyCode::PageDown), NOW);
    assert_eq!(app.cursor(), 9);
    assert_eq!(app.offset(), 4, "the selection is scrolled into view");
    // At 120 columns the nine state counts take a second header line,
    // and the page shrinks to 5 rows with it.
    app.update(key('g'), NOW);
    app.update(Msg::Resize(120, 16), NOW);
    app.update(ctrl('d'), NOW);
    assert_eq!(app.cursor(), 2);
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut app = app();
    // Body starts below the two header lines (nine counts do not fit on
    // one at 120 columns), the border and the column header.
    app.update(click(10, 4 + 4), NOW);
    assert_eq!(app.cursor(), 4);
    app.update(mouse(MouseEventKind::ScrollDown, 10, 10), NOW);
    assert_eq!(app.cursor(), 7);
    app.update(mouse(MouseEventKind::ScrollUp, 10, 10), NOW);
    assert_eq!(app.cursor(), 4);
    app.update(click(10, 4 + 30), NOW);
    assert_eq!(
        app.cursor(),
        4,
        "a click below the last row selects nothing"
    );
}

#[test]
fn s_cycles_the_sort() {
    let mut app = app();
    select(&mut app, 4);
    app.update(key('s'), NOW);
    assert_eq!(app.sort(), SortKey::User);
    assert_eq!(app.visible_ids(), ids(&[1, 11, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    assert_eq!(
        app.selected_id(),
        Some(ConnectionId(4)),
        "selection follows its row"
    );
    app.update(key('s'), NOW);
    assert_eq!(app.sort(), SortKey::Provider);
    assert_eq!(
        app.visible_ids()[0],
        ConnectionId(6),
        "bank-oauth first, by time"
    );
    app.update(key('s'), NOW);
    assert_eq!(app.sort(), SortKey::State);
    assert_eq!(app.visible_ids()[0], ConnectionId(1), "code pending first");
    app.update(key('s'), NOW);
    assert_eq!(app.sort(), SortKey::TimeLeft);
}

#[test]
fn filter_types_text_that_never_fires_actions() {
    let mut app = app();
    app.update(key('/'), NOW);
    assert_eq!(app.mode(), &Mode::Filter);
    let cmds = type_text(&mut app, "KEYCLOAK r");
    assert!(cmds.is_empty(), "typing sent {cmds:?}");
    assert_eq!(app.filter(), "KEYCLOAK r");
    app.update(code(KeyCode::Backspace), NOW);
    app.update(code(KeyCode::Backspace), NOW);
    assert_eq!(app.visible_ids(), ids(&[4, 7, 3]));
    app.update(code(KeyCode::Enter), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(app.filter(), "KEYCLOAK");
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.filter(), "");
    assert_eq!(app.visible_ids().len(), 11);
}

#[test]
fn filter_matches_state_words_and_esc_while_typing_clears() {
    let mut app = app();
    app.update(key('/'), NOW);
    type_text(&mut app, "re-consent");
    assert_eq!(app.visible_ids(), ids(&[6]));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    assert_eq!(app.filter(), "");
}

#[test]
fn a_filter_after_an_exclamation_mark_keeps_the_rows_that_do_not_hold_it() {
    let mut app = app();
    app.update(key('/'), NOW);
    type_text(&mut app, "!");
    assert_eq!(app.visible_ids().len(), 11, "a lone ! hides nothing yet");
    type_text(&mut app, "keycloak");
    let shown = app.visible_ids();
    assert_eq!(shown.len(), 11 - 3);
    for hidden in ids(&[4, 7, 3]) {
        assert!(!shown.contains(&hidden), "{hidden:?} holds keycloak");
    }
    app.update(code(KeyCode::Esc), NOW);
    app.update(key('/'), NOW);
    type_text(&mut app, "! RE-CONSENT");
    assert_eq!(app.visible_ids().len(), 10);
    assert!(!app.visible_ids().contains(&ConnectionId(6)));
}

#[test]
fn enter_and_d_toggle_the_detail_and_load_it() {
    let mut app = app();
    let id = load_detail_id(&one(app.update(code(KeyCode::Enter), NOW)), 6);
    assert!(app.detail_open());
    app.update(detail_event(id, 6), NOW);
    assert_eq!(app.detail_loaded_for(), Some(ConnectionId(6)));
    assert!(app.update(key('d'), NOW).is_empty());
    assert!(!app.detail_open());
}

#[test]
fn detail_requests_are_debounced_to_one_in_flight() {
    let mut app = app();
    let first = load_detail_id(&one(app.update(key('d'), NOW)), 6);
    for _ in 0..3 {
        assert!(
            app.update(key('j'), NOW).is_empty(),
            "one request at a time"
        );
    }
    assert_eq!(app.selected_id(), Some(ConnectionId(9)));
    // The answer is for a row no longer selected: dropped, and the
    // selected row is asked for instead.
    let second = load_detail_id(&one(app.update(detail_event(first, 6), NOW)), 9);
    assert_eq!(app.detail_loaded_for(), None);
    // A late duplicate of the first answer is recognised and dropped.
    assert!(app.update(detail_event(first, 6), NOW).is_empty());
    app.update(detail_event(second, 9), NOW);
    assert_eq!(app.detail_loaded_for(), Some(ConnectionId(9)));
}

#[test]
fn v_reveals_for_ten_seconds_then_a_tick_masks_again() {
    let mut app = app();
    app.update(key('v'), NOW);
    assert!(!app.revealed());
    assert!(last_text(&app).contains("open the detail pane"));
    let id = load_detail_id(&one(app.update(key('d'), NOW)), 6);
    app.update(detail_event(id, 6), NOW);
    // Shown only once the audit log has the line: pressed again meanwhile,
    // nothing more is asked.
    let asked = reveal_id(&one(app.update(key('v'), NOW)), 6);
    assert!(!app.revealed());
    assert!(app.update(key('v'), NOW).is_empty());
    // Read again, to show the audit line that says so.
    let again = load_detail_id(&one(app.update(revealed_event(asked, 6, Ok(())), NOW)), 6);
    assert!(app.revealed());
    app.update(detail_event(again, 6), NOW);
    assert!(app.revealed());
    app.update(Msg::Tick, NOW.plus_secs(9));
    assert!(app.revealed());
    app.update(Msg::Tick, NOW.plus_secs(10));
    assert!(!app.revealed());
    let asked = reveal_id(&one(app.update(key('v'), NOW)), 6);
    app.update(revealed_event(asked, 6, Ok(())), NOW);
    assert!(app.update(key('v'), NOW).is_empty());
    assert!(!app.revealed(), "v again masks at once");
    // A late duplicate of an answer shows nothing.
    app.update(revealed_event(asked, 6, Ok(())), NOW);
    assert!(!app.revealed());
}

/// At the smallest screen the stacked detail pane had no room: `v` there
/// was recorded as "tokens shown on the screen" though none showed, and
/// was then refused. The pane has room there now, so `v` is offered and
/// asks for the tokens.
#[test]
fn reveal_works_at_the_smallest_screen() {
    let mut app = app();
    app.update(Msg::Resize(60, 15), NOW);
    let id = load_detail_id(&one(app.update(key('d'), NOW)), 6);
    app.update(detail_event(id, 6), NOW);
    assert!(key_bar(&app, 60, 15).contains("reveal"));
    reveal_id(&one(app.update(key('v'), NOW)), 6);
}

/// The bottom line of `app` drawn at `w`×`h`.
fn key_bar(app: &App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| bankdeck::tui::render(app, f, NOW)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..w).map(|x| buf[(x, h - 1)].symbol()).collect()
}

/// A reveal the audit log could not record (a read-only run, a store that
/// refuses the write) shows nothing and says why; one answered after the
/// selection moved on shows nothing either.
#[test]
fn a_reveal_shows_nothing_unless_recorded_for_the_row_still_shown() {
    let mut app = app();
    let id = load_detail_id(&one(app.update(key('d'), NOW)), 6);
    app.update(detail_event(id, 6), NOW);
    let asked = reveal_id(&one(app.update(key('v'), NOW)), 6);
    let why = "read-only mode: nothing may be changed";
    app.update(revealed_event(asked, 6, Err(why)), NOW);
    assert!(!app.revealed());
    assert_eq!(
        last_text(&app),
        format!("reveal: tokens not shown, since the audit log could not record it: {why}")
    );
    let asked = reveal_id(&one(app.update(key('v'), NOW)), 6);
    app.update(key('j'), NOW);
    app.update(revealed_event(asked, 6, Ok(())), NOW);
    assert!(!app.revealed(), "the row shown is another");
}

#[test]
fn u_shows_users_and_enter_shows_that_users_connections_alone() {
    // "bob.2" holds "bob": picking bob must not bring in his rows.
    let mut opts = options();
    let (conns, users) = opts.initial.as_mut().unwrap();
    conns.push(dapi_active(12, "bob.2"));
    *users = users_for(conns);
    let mut app = app_with(&opts);
    app.update(key('u'), NOW);
    assert!(app.users_view_open());
    app.update(key('j'), NOW);
    app.update(key('j'), NOW);
    assert_eq!(app.cursor(), 0, "the table's selection stays");
    assert!(app.update(code(KeyCode::Enter), NOW).is_empty());
    assert!(!app.users_view_open());
    assert_eq!(app.user_scope(), Some("bob"));
    assert_eq!(app.filter(), "", "the user is picked by id, not typed");
    assert_eq!(app.visible_ids(), ids(&[2]));

    // A new row of bob's joins; one of bob.2's does not.
    for (id, user) in [(13, "bob"), (14, "bob.2")] {
        let mut c = dapi_active(id, user);
        c.user_id = bankdeck::domain::UserId(if user == "bob" { 2 } else { 12 });
        c.label = "FAB".into();
        app.update(
            Msg::Worker(bankdeck::worker::Event::Succeeded {
                by: bankdeck::worker::DoneBy::This,
                id: bankdeck::worker::RequestId(9_000 + id as u64),
                op: bankdeck::domain::OpKind::Link,
                conn: Box::new(c),
                message: String::new(),
            }),
            NOW,
        );
    }
    assert_eq!(app.visible_ids(), ids(&[2, 13]));

    // The filter narrows within bob's rows (judy's FAB stays out); Esc
    // peels it, then bob.
    filter_by(&mut app, "fab");
    assert_eq!(app.visible_ids(), ids(&[13]));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.user_scope(), Some("bob"));
    assert_eq!(app.visible_ids(), ids(&[2, 13]));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.user_scope(), None);
    assert_eq!(app.visible_ids().len(), 14);

    // The view opens again on the user picked last.
    for keys in ["ujj", "u", "uj"] {
        for c in keys.chars() {
            app.update(key(c), NOW);
        }
        app.update(code(KeyCode::Enter), NOW);
    }
    assert_eq!(app.user_scope(), Some("bob.2"));

    app.update(key('u'), NOW);
    app.update(code(KeyCode::Esc), NOW);
    assert!(!app.users_view_open());
}

/// Esc in the table takes away the narrowing last added, and the key bar
/// says which before it is pressed: the filter, then the user picked;
/// with nothing to clear it is not offered.
#[test]
fn the_key_bar_offers_esc_as_what_it_would_clear() {
    let mut app = app();
    let bar = |app: &App| key_bar(app, 200, 40);
    assert!(!bar(&app).contains("esc"), "{}", bar(&app));
    filter_by(&mut app, "erin");
    assert!(
        bar(&app).contains("/ filter · esc clear filter ·"),
        "{}",
        bar(&app)
    );
    app.update(code(KeyCode::Esc), NOW);
    assert!(!bar(&app).contains("esc"), "{}", bar(&app));

    app.update(key('u'), NOW);
    assert!(
        bar(&app).contains("esc back"),
        "the users view's own: {}",
        bar(&app)
    );
    app.update(code(KeyCode::Enter), NOW);
    assert!(app.user_scope().is_some());
    assert!(bar(&app).contains("esc all users"), "{}", bar(&app));
    filter_by(&mut app, "a");
    assert!(bar(&app).contains("esc clear filter"), "{}", bar(&app));
    app.update(code(KeyCode::Esc), NOW);
    assert!(bar(&app).contains("esc all users"), "{}", bar(&app));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.user_scope(), None);
    assert!(!bar(&app).contains("esc"), "{}", bar(&app));
}

/// `/` in the users view narrows it by name or email, any case (`!` first:
/// those that do not hold it), without touching the table's own filter;
/// Esc clears it before closing the view.
#[test]
fn slash_in_the_users_view_finds_users_by_name_or_email() {
    let mut opts = options();
    let (conns, users) = opts.initial.as_mut().unwrap();
    conns.push(dapi_active(12, "bob.2"));
    *users = users_for(conns);
    users[0].email = Some("ops@bank.example".into());
    assert_eq!(users[0].name, "alice");
    let mut app = app_with(&opts);
    let pick = |app: &mut bankdeck::tui::App, find: &str, down: usize| {
        app.update(key('u'), NOW);
        app.update(key('/'), NOW);
        type_text(app, find);
        assert_eq!(app.mode(), &Mode::Filter, "j and k are text here");
        app.update(code(KeyCode::Enter), NOW);
        assert!(app.users_view_open(), "Enter keeps the filter");
        for _ in 0..down {
            app.update(key('j'), NOW);
        }
        app.update(code(KeyCode::Enter), NOW);
    };
    pick(&mut app, "BOB", 1);
    assert_eq!(app.user_scope(), Some("bob.2"));
    pick(&mut app, "! .COM", 0);
    assert_eq!(
        app.user_scope(),
        Some("alice"),
        "every other email is at .com"
    );
    pick(&mut app, "BOB", 0);
    assert_eq!(app.user_scope(), Some("bob"));
    pick(&mut app, "ops@", 0);
    assert_eq!(app.user_scope(), Some("alice"));

    pick(&mut app, "zzz", 0);
    assert!(app.users_view_open(), "nobody to pick");
    app.update(code(KeyCode::Esc), NOW);
    assert!(app.users_view_open(), "Esc clears the filter first");
    app.update(key('j'), NOW);
    app.update(code(KeyCode::Enter), NOW);
    assert_eq!(
        app.user_scope(),
        Some("app"),
        "all users again, from the top"
    );
    assert_eq!(app.filter(), "", "the table's filter is untouched");
    app.update(key('u'), NOW);
    app.update(code(KeyCode::Esc), NOW);
    assert!(!app.users_view_open());
}

#[test]
fn ctrl_l_reloads_and_question_mark_opens_help() {
    let mut app = app();
    assert!(matches!(
        one(app.update(ctrl('l'), NOW)),
        Command::Reload { .. }
    ));
    assert_eq!(
        app.take_terminal_ask(),
        Some(TerminalAsk::Repaint),
        "and the terminal is cleared for a whole new frame"
    );
    assert_eq!(app.take_terminal_ask(), None, "once");
    app.update(Msg::Resize(120, 44), NOW);
    app.update(key('?'), NOW);
    assert_eq!(app.mode(), &Mode::Help { scroll: 0 });
    app.update(key('j'), NOW);
    assert_eq!(
        app.mode(),
        &Mode::Help { scroll: 0 },
        "the whole help fits: nothing to scroll"
    );
    assert!(
        app.update(key('r'), NOW).is_empty(),
        "help swallows actions"
    );
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
}

/// Ctrl-Z suspends when nothing is in flight; with an operation out it
/// says why not, since a stopped dashboard would not hear the answer.
#[test]
fn ctrl_z_suspends_only_with_nothing_in_flight() {
    let mut app = app();
    assert!(app.update(ctrl('z'), NOW).is_empty());
    assert_eq!(app.take_terminal_ask(), Some(TerminalAsk::Suspend));
    assert!(!app.should_quit());
    app.update(key('R'), NOW);
    app.update(ctrl('z'), NOW);
    assert_eq!(app.take_terminal_ask(), None);
    let said = app.activity().next_back().unwrap().text.clone();
    assert!(
        said.starts_with("not suspended: 1 operation in flight, whose answers"),
        "{said}"
    );
}

#[test]
fn q_quits_at_once_when_idle() {
    let mut app = app();
    app.update(key('q'), NOW);
    assert!(app.should_quit());
}

#[test]
fn q_asks_when_operations_are_in_flight() {
    let mut app = app();
    app.update(key('R'), NOW);
    select(&mut app, 1);
    app.update(key('e'), NOW);
    app.update(key('q'), NOW);
    assert_eq!(app.mode(), &Mode::ConfirmQuit);
    assert_eq!(app.in_flight(), 2);
    app.update(key('n'), NOW);
    assert!(!app.should_quit());
    app.update(ctrl('c'), NOW);
    app.update(key('y'), NOW);
    assert!(app.should_quit());
}

/// `R` with nothing left to send said "nothing expiring or expired to
/// refresh" while the rows due were hidden by the filter, or were being
/// refreshed already (a second `R`): read as "every token is fresh". It
/// says which.
#[test]
fn r_with_nothing_to_send_says_why() {
    let mut app = app();
    filter_by(&mut app, "no-such-row");
    assert!(app.update(key('R'), NOW).is_empty());
    assert_eq!(
        last_text(&app),
        "refresh all: nothing to send among the rows shown: 3 rows due hidden by the filter \
         (Esc clears it)"
    );
    app.update(code(KeyCode::Esc), NOW);
    r_twice(&mut app, 3, "3 rows due already being refreshed");
    let mut app = super::fixtures::app();
    app.update(key('u'), NOW);
    app.update(code(KeyCode::Enter), NOW);
    assert_eq!(app.user_scope(), Some("alice"));
    assert!(app.update(key('R'), NOW).is_empty());
    assert_eq!(
        last_text(&app),
        "refresh all: nothing to send among the rows shown: 3 rows due hidden by the user picked \
         (Esc clears it)"
    );
    let mut app = super::fixtures::app();
    select(&mut app, 4);
    app.update(key('l'), NOW);
    assert!(matches!(
        one(app.update(key('y'), NOW)),
        Command::Logout { .. }
    ));
    r_twice(
        &mut app,
        2,
        "2 rows due already being refreshed; 1 row due busy with another operation",
    );
}

/// `R` sends a bulk of `rows`; a second `R` sends nothing and says `why`.
fn r_twice(app: &mut App, rows: usize, why: &str) {
    let Command::RefreshMany { conns, .. } = one(app.update(key('R'), NOW)) else {
        panic!()
    };
    assert_eq!(conns.len(), rows, "{conns:?}");
    assert!(app.update(key('R'), NOW).is_empty());
    assert_eq!(
        last_text(app),
        format!("refresh all: nothing to send among the rows shown: {why}")
    );
}

/// Ctrl-C asks while operations run, and a second Ctrl-C answers yes:
/// pressed twice to get out, it gets out, also where the screen is too
/// small to show the question. `q` again only closes it.
#[test]
fn a_second_ctrl_c_leaves_where_the_first_asked() {
    for (w, h) in [(120, 40), (20, 5)] {
        let mut app = app();
        app.update(key('R'), NOW);
        app.update(Msg::Resize(w, h), NOW);
        app.update(ctrl('c'), NOW);
        assert_eq!(app.mode(), &Mode::ConfirmQuit, "{w}x{h}");
        assert!(!app.should_quit(), "{w}x{h}");
        app.update(ctrl('c'), NOW);
        assert!(app.should_quit(), "{w}x{h}");
    }
    let mut app = app();
    app.update(key('R'), NOW);
    app.update(key('q'), NOW);
    app.update(key('q'), NOW);
    assert!(!app.should_quit());
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn esc_peels_filter_then_detail() {
    let mut app = app();
    filter_by(&mut app, "alice");
    app.update(key('d'), NOW);
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(app.filter(), "");
    assert!(app.detail_open());
    app.update(code(KeyCode::Esc), NOW);
    assert!(!app.detail_open());
}

/// Esc with `/` right behind it reaches the screen as Alt+`/` (one escape
/// sequence): it is read as the two keys typed, so the filter is cleared
/// and a new one started, and what is typed next goes into it. Dropped, it
/// left the filter and ran the typed letters as actions on the row.
#[test]
fn esc_read_as_alt_with_the_next_key_is_both_keys() {
    let mut app = app();
    filter_by(&mut app, "alice");
    let alt_slash = KeyEvent::new(KeyCode::Char('/'), KeyModifiers::ALT);
    assert!(app.update(Msg::Key(alt_slash), NOW).is_empty());
    for c in "real".chars() {
        assert!(app.update(key(c), NOW).is_empty(), "{c} ran as an action");
    }
    assert_eq!(app.mode(), &Mode::Filter);
    assert_eq!(app.filter(), "real");
}

/// Esc with a control key right behind it reads as Alt+Ctrl: Esc then
/// ctrl-space (a NUL byte) came as alt-ctrl-space, and both keys were
/// lost, the filter staying and nothing marked.
#[test]
fn esc_read_as_alt_with_a_control_key_behind_it_is_both_keys() {
    let mut app = app();
    filter_by(&mut app, "erin");
    let both = KeyModifiers::ALT | KeyModifiers::CONTROL;
    let alt_ctrl_space = KeyEvent::new(KeyCode::Char(' '), both);
    assert!(app.update(Msg::Key(alt_ctrl_space), NOW).is_empty());
    assert_eq!(app.filter(), "", "the Esc cleared the filter");
    assert_eq!(
        app.marked(),
        [ConnectionId(5)],
        "the ctrl-space marked the row"
    );
}

#[test]
fn unknown_keys_change_nothing_and_redraw_nothing() {
    let mut app = app();
    app.mark_drawn();
    assert!(app.update(key('Z'), NOW).is_empty());
    assert!(!app.needs_redraw());
}

#[test]
fn tick_redraws_for_the_clock_but_not_on_a_too_small_screen() {
    let mut app = app();
    app.mark_drawn();
    app.update(Msg::Tick, NOW.plus_secs(1));
    assert!(app.needs_redraw());
    app.update(Msg::Resize(40, 10), NOW);
    app.mark_drawn();
    app.update(Msg::Tick, NOW.plus_secs(2));
    assert!(!app.needs_redraw());
}

#[test]
fn the_tick_moves_states_and_counts_but_not_the_order() {
    let mut app = app();
    assert_eq!(app.count(bankdeck::domain::StateKind::Active), 3);
    app.update(Msg::Tick, NOW.plus_secs(300));
    // carol's token (290 s) ran out; the order is by instants, unchanged.
    assert_eq!(app.count(bankdeck::domain::StateKind::Active), 2);
    assert_eq!(app.visible_ids(), ids(&TIME_ORDER));
}

/// Typed on the way to `!dapi`, `!d` hides the OIDC rows (`oidc` holds a
/// d): the row selected when the filter opened is selected again as soon
/// as the text shows it, not left for the first match.
#[test]
fn a_filter_goes_back_to_the_row_it_started_from_when_it_shows_it_again() {
    let mut app = app();
    select(&mut app, 3);
    app.update(key('/'), NOW);
    type_text(&mut app, "!d");
    assert!(!app.visible_ids().contains(&ConnectionId(3)));
    type_text(&mut app, "api");
    assert_eq!(app.selected_id(), Some(ConnectionId(3)));
    // Past Enter the filter's start is forgotten: a later filter starts
    // from what is selected then.
    app.update(code(KeyCode::Enter), NOW);
    select(&mut app, 4);
    app.update(key('/'), NOW);
    type_text(&mut app, "!ke");
    type_text(&mut app, "y");
    assert_ne!(app.selected_id(), Some(ConnectionId(3)));
    app.update(code(KeyCode::Backspace), NOW);
    app.update(code(KeyCode::Backspace), NOW);
    app.update(code(KeyCode::Backspace), NOW);
    assert_eq!(app.selected_id(), Some(ConnectionId(4)));
}

#[test]
fn a_filter_that_hides_the_selection_selects_the_first_match() {
    let mut app = app();
    select(&mut app, 11);
    app.update(key('/'), NOW);
    type_text(&mut app, "Keycloak");
    assert_eq!(app.cursor(), 0);
    assert_eq!(app.selected_id(), Some(ConnectionId(4)));
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(
        app.selected_id(),
        Some(ConnectionId(4)),
        "clearing keeps the row"
    );
}

/// A state that time alone moves on is followed by a filter on state words
/// and by the state sort, as a worker's event is: `/expired` kept showing
/// what it showed when typed, and `R` on it missed the row expired since.
#[test]
fn a_filter_and_the_state_sort_follow_what_time_changes() {
    let mut app = app();
    filter_by(&mut app, "expired");
    let dave = ConnectionId(4);
    assert!(!app.visible_ids().contains(&dave), "dave has 42 s left");
    app.update(Msg::Tick, NOW.plus_secs(43));
    assert!(app.visible_ids().contains(&dave), "dave expired at 42 s");
    // And one that leaves what the filter holds leaves the table.
    let mut app = super::fixtures::app();
    filter_by(&mut app, "expiring");
    assert!(app.visible_ids().contains(&dave), "dave is expiring");
    select(&mut app, 4);
    app.update(Msg::Tick, NOW.plus_secs(43));
    assert!(!app.visible_ids().contains(&dave), "dave is expired");
    // Selected, its leaving is said, with where the selection went: a key
    // pressed now acts on another row.
    let said = app.last_activity().unwrap().text.clone();
    assert!(
        said.starts_with("dave / Keycloak demo left the filter (expired")
            && said.contains("the selection is on"),
        "{said}"
    );

    let mut app = app_sorted_by_state();
    let at = |app: &App| app.visible_ids().iter().position(|&c| c == dave);
    let before = at(&app);
    app.update(Msg::Tick, NOW.plus_secs(43));
    assert_ne!(at(&app), before, "dave's row moved to the expired ones");
}

/// The state order is a sort of every row: a tick that moves rows
/// re-sorts at most every 5 s, not each second at 100 000 rows.
#[test]
fn the_state_sort_follows_time_at_most_every_five_seconds() {
    let mut app = app();
    while app.sort() != SortKey::State {
        app.update(key('s'), NOW.plus_secs(40));
    }
    let dave = ConnectionId(4);
    let at = |app: &App| app.visible_ids().iter().position(|&c| c == dave);
    let before = at(&app);
    app.update(Msg::Tick, NOW.plus_secs(43));
    assert_eq!(at(&app), before, "3 s after the last sort");
    app.update(Msg::Tick, NOW.plus_secs(44));
    assert_eq!(at(&app), before, "4 s after");
    app.update(Msg::Tick, NOW.plus_secs(45));
    assert_ne!(at(&app), before, "5 s after, dave's move is sorted in");
}

fn app_sorted_by_state() -> App {
    let mut app = app();
    while app.sort() != SortKey::State {
        app.update(key('s'), NOW);
    }
    app
}

/// A backspace on an empty `:` line closes it, as in vim: the next `:` was
/// typed into the line left open, which then read `::`.
#[test]
fn backspace_on_an_empty_colon_line_closes_it() {
    let mut app = app();
    app.update(key(':'), NOW);
    app.update(key('r'), NOW);
    app.update(code(KeyCode::Backspace), NOW);
    assert!(matches!(app.mode(), Mode::Command(_)), "{:?}", app.mode());
    app.update(code(KeyCode::Backspace), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
}
