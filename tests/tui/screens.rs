//! Whole screens on `TestBackend`, as insta snapshots, with a fixed `now`.

use bankdeck::domain::{
    AuditEntry, Claims, Connection, ConnectionId, ErrorKind, OpError, OpKind, ProviderWait, Secret,
    UnixTime,
};
use bankdeck::tui::{App, Mode, Msg, RunOptions, render};
use bankdeck::worker::{Command, Detail, Event, NextTry, RequestId};
use crossterm::event::{KeyCode, MouseEventKind};
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Position;
use serde_json::json;

use super::fixtures::*;

/// Draws `app` on a `w`×`h` terminal (after telling it the size, as the run
/// loop does).
pub fn screen(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    app.update(Msg::Resize(w, h), NOW);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(app, f, NOW)).unwrap();
    terminal
}

/// The text of `app` drawn on a `w`×`h` terminal at `now`, a line a row.
pub fn text_at(app: &mut App, w: u16, h: u16, now: UnixTime) -> String {
    drawn(app, w, h, now).0
}

/// The screen's text and where the terminal's cursor was left.
fn drawn(app: &mut App, w: u16, h: u16, now: UnixTime) -> (String, Position) {
    app.update(Msg::Resize(w, h), now);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(app, f, now)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let text = (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n");
    (text, terminal.get_cursor_position().unwrap())
}

/// The character under the cursor `drawn` left.
fn under_cursor((text, at): &(String, Position)) -> Option<char> {
    let line = text.lines().nth(usize::from(at.y))?;
    line.chars().nth(usize::from(at.x))
}

/// The cursor's row left of the cursor `drawn` left: what was typed up to
/// it.
fn before_cursor((text, at): &(String, Position)) -> String {
    let line = text.lines().nth(usize::from(at.y)).unwrap_or_default();
    line.chars().take(usize::from(at.x)).collect()
}

/// Some history in the activity pane, as a morning's work would leave.
fn with_activity(app: &mut App) {
    app.update(
        Msg::Worker(Event::Loaded {
            id: RequestId(0),
            connections: sample_connections(),
            users: users_for(&sample_connections()),
            audit_mark: 0,
        }),
        NOW.plus_secs(-60),
    );
    let carol = sample_connections()[2].clone();
    let ok = Event::Succeeded {
        by: bankdeck::worker::DoneBy::This,
        id: RequestId(900),
        op: OpKind::Refresh,
        conn: Box::new(carol),
        message: "access token valid for 05:00".into(),
    };
    app.update(Msg::Worker(ok), NOW.plus_secs(-10));
    let failed = Event::Failed {
        id: RequestId(901),
        op: OpKind::Refresh,
        conn_id: Some(ConnectionId(6)),
        conn: None,
        error: OpError::new(
            ErrorKind::ReauthRequired,
            "invalid_grant: Token is not active",
        ),
        next_try: None,
    };
    app.update(Msg::Worker(failed), NOW.plus_secs(-5));
}

#[test]
fn main_screen() {
    let mut app = app();
    with_activity(&mut app);
    app.update(key('R'), NOW);
    assert_snapshot!(screen(&mut app, 150, 30).backend());
}

#[test]
fn main_screen_narrow() {
    let mut app = app();
    with_activity(&mut app);
    select(&mut app, 4);
    assert_snapshot!(screen(&mut app, 80, 24).backend());
}

#[test]
fn readonly_header_and_key_bar() {
    let mut app = readonly_app();
    assert_snapshot!(screen(&mut app, 100, 16).backend());
}

/// A read-only dashboard's detail bar leaves out `v`, which it refuses:
/// the tokens show only once the reveal is in the audit log.
#[test]
fn a_readonly_detail_bar_offers_no_reveal() {
    let bar = |readonly: bool| {
        let mut app = app_with(&RunOptions {
            readonly,
            ..options()
        });
        open_detail(&mut app, 3, None);
        let terminal = screen(&mut app, 160, 30);
        let buf = terminal.backend().buffer();
        (0..160)
            .map(|x| buf[(x, 29)].symbol().to_owned())
            .collect::<String>()
    };
    assert!(bar(false).contains("v reveal tokens"), "{}", bar(false));
    assert!(!bar(true).contains("reveal"), "{}", bar(true));
    assert!(bar(true).contains("J scroll detail"), "{}", bar(true));
    // Nor does the pane promise one.
    let mut app = app_with(&RunOptions {
        readonly: true,
        ..options()
    });
    open_detail(&mut app, 3, None);
    let shown = text_at(&mut app, 160, 30, NOW);
    assert!(
        shown.contains("masked (read-only: not revealed)"),
        "{shown}"
    );
    assert!(!shown.contains("reveals them"), "{shown}");
}

fn carol_claims() -> Claims {
    let payload = json!({
        "iss": "https://127.0.0.1:8443/realms/demo",
        "sub": "5f0c-carol",
        "azp": "bankdeck",
        "scope": "openid accounts",
        "iat": NOW.0 - 10,
        "exp": NOW.0 + 290,
    });
    Claims {
        header: serde_json::Map::new(),
        payload: payload.as_object().cloned().unwrap(),
    }
}

pub(super) fn open_detail(app: &mut App, conn: i64, claims: Option<Claims>) {
    open_detail_with(app, conn, |d| d.access_claims = claims);
}

/// [`open_detail`] with the loaded detail changed by `change` first.
fn open_detail_with(app: &mut App, conn: i64, change: impl FnOnce(&mut Detail)) {
    select(app, conn);
    let id = load_detail_id(&one(app.update(key('d'), NOW)), conn);
    let mut d = detail();
    if conn != 1 {
        d.secrets.access_code = None;
        d.secrets.user_secret = None;
        d.secrets.access_token = Some(Secret::new("eyJhbGciOiJSUzI1NiJ9.access.tokenXyZ"));
        d.secrets.refresh_token = Some(Secret::new("eyJhbGciOiJIUzI1NiJ9.refresh.tokenQ7k"));
    }
    change(&mut d);
    app.update(
        Msg::Worker(Event::Detail {
            id,
            conn: ConnectionId(conn),
            detail: d,
        }),
        NOW,
    );
}

/// An audit line longer than the pane is cut with a mark where it was cut:
/// cut at the pane's edge, "…was rejected (…): t" read as the whole line.
#[test]
fn a_long_audit_line_in_the_detail_is_cut_with_a_mark() {
    let mut app = app();
    open_detail_with(&mut app, 3, |d| {
        d.audit = vec![AuditEntry {
            id: 1,
            at: NOW,
            actor: "ops".into(),
            connection: Some(ConnectionId(3)),
            op: OpKind::Refresh,
            ok: false,
            message: format!("the refresh token was rejected ({}) END", "x".repeat(200)),
        }];
    });
    let shown = text_at(&mut app, 160, 50, NOW);
    let line = shown
        .lines()
        .find(|l| l.contains("the refresh token was rejected"));
    let line = line.unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("x…"), "{line}");
    assert!(!shown.contains("END"), "{shown}");
}

/// The pane shows the newest of the lines it was given (they come newest
/// first), and, when the log holds no other line of the connection and has
/// been archived, says from when the log holds lines.
#[test]
fn the_detail_shows_the_newest_audit_lines_and_where_older_ones_went() {
    let line = |n: i64| AuditEntry {
        id: n,
        at: NOW.plus_secs(n - 100),
        actor: "ops".into(),
        connection: Some(ConnectionId(3)),
        op: OpKind::Refresh,
        ok: true,
        message: format!("refresh number {n}"),
    };
    let mut app = app();
    let read = Detail::AUDIT_READ as i64;
    open_detail_with(&mut app, 3, |d| {
        d.audit = (1..=read).rev().map(line).collect();
    });
    let shown = text_at(&mut app, 160, 50, NOW);
    for n in 2..=read {
        assert!(shown.contains(&format!("refresh number {n} ")), "{shown}");
    }
    assert!(!shown.contains("refresh number 1 "), "{shown}");
    assert!(!shown.contains("archived"), "{shown}");

    let begins = UnixTime(1_767_225_600);
    let mut app = super::fixtures::app();
    open_detail_with(&mut app, 3, |d| {
        d.audit = vec![line(1)];
        d.archived_before = Some(begins);
    });
    let shown = text_at(&mut app, 160, 50, NOW);
    assert!(shown.contains("refresh number 1 "), "{shown}");
    assert!(
        shown.contains("before 2026-01-01T00:00:00Z: archived (`bankdeck audit`"),
        "{shown}"
    );
}

#[test]
fn detail_beside_the_table_for_an_oidc_token() {
    let mut app = app();
    open_detail(&mut app, 3, Some(carol_claims()));
    assert_snapshot!(screen(&mut app, 160, 40).backend());
}

#[test]
fn detail_below_the_table_for_a_dapi_code() {
    let mut app = app();
    open_detail(&mut app, 1, None);
    assert_snapshot!(screen(&mut app, 100, 44).backend());
}

/// The detail pane's `auto` line as drawn on 160×40 at `NOW`, when it fits
/// on one line.
pub(super) fn auto_line(app: &mut App) -> String {
    let text = text_at(app, 160, 40, NOW);
    let line = text
        .lines()
        .find_map(|l| l.split_once("│auto    ").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_default();
    line.trim_end().trim_end_matches('│').trim_end().to_owned()
}

/// The scheduler's refresh of `conn` failed on the network; it is tried
/// again as `next_try` says.
pub(super) fn scheduled_failure(conn: i64, next_try: Option<NextTry>) -> Msg {
    Msg::Worker(Event::Failed {
        id: RequestId(RequestId::SCHEDULED_FROM),
        op: OpKind::Refresh,
        conn_id: Some(ConnectionId(conn)),
        conn: None,
        error: OpError::new(ErrorKind::Network, "connection refused"),
        next_try,
    })
}

/// The detail pane says what the scheduler will do with the row next: when
/// it refreshes, when it tries again after a failure (as the failure said),
/// that it stopped on a configuration error, or that the provider's rows are
/// refreshed by hand; nothing where no scheduler runs (read-only).
#[test]
fn the_detail_pane_says_when_the_scheduler_works_on_the_row() {
    // The pane stays open as the selection moves.
    let auto = |app: &mut App, id: i64| -> String {
        select(app, id);
        auto_line(app)
    };
    let mut app = app();
    open_detail(&mut app, 3, None);
    // carol (keycloak, auto-refresh) expires at NOW + 290; a 300 s token is
    // refreshed 30–33 s before (the margin and its jitter).
    let said = auto(&mut app, 3);
    assert!(said.starts_with("refresh at "), "{said}");
    assert!(said.ends_with(" (in 04:19)"), "{said}");
    // erin's bank refreshes only by hand; grace is logged out: nothing to do.
    assert_eq!(auto(&mut app, 5), "off for bank-oauth: refresh by hand");
    assert_eq!(auto(&mut app, 7), "");

    let failed = |next_try| scheduled_failure(3, next_try);
    app.update(failed(Some(NextTry::After(NOW.plus_secs(60)))), NOW);
    assert_eq!(
        auto(&mut app, 3),
        format!(
            "retry at {} (in 01:00): the last refresh failed",
            NOW.plus_secs(60).clock()
        )
    );
    app.update(failed(Some(NextTry::AfterRestart)), NOW);
    assert_eq!(
        auto(&mut app, 3),
        "stopped: fix the configuration and restart"
    );
    // A success, the operator's or the scheduler's, ends the back-off.
    app.update(
        Msg::Worker(Event::Succeeded {
            by: bankdeck::worker::DoneBy::This,
            id: RequestId(RequestId::SCHEDULED_FROM + 1),
            op: OpKind::Refresh,
            conn: Box::new(sample_connections()[2].clone()),
            message: String::new(),
        }),
        NOW,
    );
    assert!(auto(&mut app, 3).starts_with("refresh at "));

    let mut readonly = app_with(&RunOptions {
        readonly: true,
        schedules: Default::default(),
        ..options()
    });
    open_detail(&mut readonly, 3, None);
    assert_eq!(auto(&mut readonly, 3), "");
}

/// Dapi's three remote ids do not fit one line of the pane; wrapped at a
/// space, a name and its id ended up on two lines, the id at the pane's
/// edge. Each now has a line of its own, and an id too long for its name's
/// line goes on the next, indented under the name.
#[test]
fn each_remote_id_stays_with_its_name() {
    // Below the table at 100 columns; beside it, 62 wide, at 230.
    for width in [100, 230] {
        let mut app = app();
        open_detail(&mut app, 1, None);
        let text = text_at(&mut app, width, 44, NOW);
        let lines: Vec<&str> = text.lines().collect();
        for (name, id) in [
            ("connectionID", "e9271a7adc39a5afe3b0982732c92fddaa20d001"),
            ("userID", "user-iYzutZvO5lZSbJoYontLA2FuZm48ILZfcEd4NkDv001"),
            ("tokenID", "32896801-0342-4331-9d22-1ac3dac4b001"),
        ] {
            let at = lines.iter().position(|l| l.contains(id));
            let at = at.unwrap_or_else(|| panic!("{id} at {width}:\n{text}"));
            let (line, above) = (lines[at], lines[at - 1]);
            let together = line.contains(&format!("{name} {id}"));
            let under = above
                .trim_end_matches([' ', '│'])
                .ends_with(&format!("        {name}"))
                && line.contains(&format!("          {id}"));
            assert!(together || under, "{name} at {width}:\n{text}");
        }
    }
}

/// The last-op column cuts a long operation's name, never its outcome or
/// age: `client_credentials ✓ 50m ago` lost its age to the column's edge.
#[test]
fn the_last_op_column_keeps_the_outcome_and_age() {
    let mut app = app();
    let text = text_at(&mut app, 120, 30, NOW);
    let row = text.lines().find(|l| l.contains("app token")).unwrap();
    assert!(row.contains("client_cr… ✓ 50m ago"), "{row}");
    let row = text.lines().find(|l| l.contains("frank")).unwrap();
    assert!(row.contains("refresh ✗ 10m ago"), "{row}");
}

/// The delink dialog of a code that never became a token says that nothing
/// goes to Dapi, where the usual one says the provider forgets the link.
#[test]
fn the_delink_dialog_says_when_nothing_is_sent() {
    let mut app = app();
    select(&mut app, 10);
    app.update(key('D'), NOW);
    let text = text_at(&mut app, 120, 40, NOW);
    assert!(
        text.contains("No token is held here: nothing is sent; secrets are erased."),
        "{text}"
    );
    app.update(code(KeyCode::Esc), NOW);
    select(&mut app, 2);
    app.update(key('D'), NOW);
    let text = text_at(&mut app, 120, 40, NOW);
    assert!(text.contains("The provider forgets the link"), "{text}");
    assert!(!text.contains("nothing is sent"), "{text}");
}

/// A form grows with a long value typed into it: the box was sized by its
/// line count, so a wrapped 201-character user name pushed the form's error
/// out of sight and Enter seemed to do nothing.
#[test]
fn a_long_value_in_a_form_leaves_its_error_in_sight() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, &"x".repeat(201));
    app.update(code(KeyCode::Enter), NOW);
    let text = text_at(&mut app, 120, 40, NOW);
    assert!(
        text.contains("✗ a user name must be 1 to 200 printable characters"),
        "{text}"
    );
}

/// Short ids share the pane's one line.
/// A row that holds no secret (a delink erased them) offers nothing to
/// reveal: its pane used to say "masked (v reveals them for 10 s)" over
/// "no secrets held".
#[test]
fn a_row_without_secrets_offers_none_to_reveal() {
    let mut app = app();
    open_detail_with(&mut app, 8, |d| d.secrets = Default::default());
    let text = text_at(&mut app, 100, 44, NOW);
    assert!(text.contains("│tokens    "), "{text}");
    assert!(text.contains("│  no secrets held"), "{text}");
    assert!(!text.contains("reveals them"), "{text}");
    assert!(!text.contains("v reveal tokens"), "the key bar: {text}");
    // Nor does `v` ask: the audit log would record "tokens shown".
    assert!(app.update(key('v'), NOW).is_empty());
    assert!(
        last_text(&app).contains("holds no secrets"),
        "{}",
        last_text(&app)
    );
}

/// `app` holding `c` alone, as a reload would leave it.
fn load_only(app: &mut App, c: Connection) {
    load(app, RequestId(0), vec![c]);
}

/// An exchanged Dapi token's session is its `tokenID`: the pane says it
/// once, where it used to list the same id twice.
#[test]
fn a_session_that_is_the_token_id_is_said_once() {
    let mut app = app();
    let mut c = sample_connections().remove(1);
    c.remote.session = c.remote.token_id.clone();
    let token = c.remote.token_id.clone().unwrap();
    load_only(&mut app, c);
    open_detail(&mut app, 2, None);
    let text = text_at(&mut app, 100, 44, NOW);
    assert_eq!(text.matches(token.as_str()).count(), 1, "{text}");
    assert!(!text.contains("session"), "{text}");
}

/// A failure's message wraps under the value column, as the labels above
/// it: the pane's own wrap ran it back under `state` and `error`.
#[test]
fn a_long_state_and_error_wrap_under_their_values() {
    let mut app = app();
    let mut c = sample_connections().remove(0);
    let error = "Dapi refused the access code (INVALID_TOKEN: Invalid token): link the user \
                 again through Connect, then exchange the new code";
    c.flags.last_error = Some(error.into());
    c.lifetimes.code_expires_at = None;
    load_only(&mut app, c);
    open_detail(&mut app, 1, None);
    let text = text_at(&mut app, 80, 40, NOW);
    let lines: Vec<&str> = text.lines().collect();
    let value = |l: &str| l.trim_end_matches(['│', ' ']).to_owned();
    // The label's row, then the rows under its value column.
    let rows = |label: &str| -> Vec<String> {
        let head = format!("│{label:<8}");
        let at = (lines.iter().position(|l| l.starts_with(&head)))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        let mut rows = vec![value(&lines[at][head.len()..])];
        let under = (lines[at + 1..].iter())
            .map_while(|l| l.strip_prefix("│        "))
            .take_while(|rest| !rest.starts_with(' ') && !value(rest).is_empty());
        rows.extend(under.map(value));
        rows
    };
    for label in ["state", "error"] {
        let rows = rows(label);
        assert!(rows.len() > 1, "{label}: {rows:?} in {text}");
        assert!(
            rows.join(" ").ends_with("then exchange the new code"),
            "{label}: {rows:?}"
        );
    }
}

#[test]
fn short_remote_ids_share_a_line() {
    let mut app = app();
    let mut c = sample_connections().remove(0);
    c.remote.user_id = None;
    c.remote.token_id = None;
    c.remote.connection_id = Some("c-1".into());
    c.remote.session = Some("s-1".into());
    load_only(&mut app, c);
    open_detail(&mut app, 1, None);
    let text = text_at(&mut app, 100, 44, NOW);
    assert!(
        text.contains("remote  connectionID c-1 · session s-1 "),
        "{text}"
    );
}

#[test]
fn detail_scope_grid_for_dapi_and_revealed_tokens() {
    let mut app = app();
    open_detail(&mut app, 2, None);
    let asked = reveal_id(&one(app.update(key('v'), NOW)), 2);
    app.update(revealed_event(asked, 2, Ok(())), NOW);
    app.update(Msg::Tick, NOW.plus_secs(3));
    let mut terminal = Terminal::new(TestBackend::new(160, 40)).unwrap();
    app.update(Msg::Resize(160, 40), NOW);
    terminal
        .draw(|f| render(&app, f, NOW.plus_secs(3)))
        .unwrap();
    assert_snapshot!(terminal.backend());
}

#[test]
fn the_detail_names_the_reveal_key_as_bound_and_says_so_when_it_has_none() {
    let detail_with = |action: &str, keys: &str| {
        let mut opts = options();
        opts.keys.insert(action.into(), keys.into());
        let mut app = app_with(&opts);
        open_detail(&mut app, 2, None);
        let text = text_at(&mut app, 120, 40, NOW);
        (app, text)
    };
    let (mut app, text) = detail_with("reveal", "ctrl-t");
    assert!(
        text.contains("tokens  masked (ctrl-t reveals them for 10 s)"),
        "{text}"
    );
    assert!(text.contains("ctrl-t reveal tokens"), "the key bar: {text}");
    let asked = reveal_id(&one(app.update(ctrl('t'), NOW)), 2);
    app.update(revealed_event(asked, 2, Ok(())), NOW);
    let text = text_at(&mut app, 120, 40, NOW.plus_secs(2));
    assert!(
        text.contains("masked again in 8 s (ctrl-t masks now)"),
        "{text}"
    );

    // Another action took its only key: the pane says how to get one back.
    let (_, text) = detail_with("refresh", "v");
    assert!(
        text.contains("reveal has no key: bind one in [keys]"),
        "{text}"
    );
    assert!(
        !text.contains("reveal tokens"),
        "no key, not in the bar: {text}"
    );
}

#[test]
fn help_lists_every_binding_including_overrides() {
    let mut opts = options();
    opts.keys.insert("refresh".into(), "ctrl-r f5".into());
    let mut app = app_with(&opts);
    app.update(key('?'), NOW);
    assert_snapshot!(screen(&mut app, 100, 44).backend());
}

/// On a short screen the help is cut off: the title says so, `j`/`k`
/// scroll it no further than its last line (one `k` after many `j`s moves
/// at once), and `G`/`g` go to either end. Every line fits 80 columns.
/// Below 80 columns the help gives the action names' room to what each
/// key does, which was cut at the right edge; every description is whole.
#[test]
fn a_narrow_help_drops_the_action_names_and_keeps_every_description() {
    let mut app = app();
    app.update(key('?'), NOW);
    let mut seen = String::new();
    for _ in 0..40 {
        seen.push_str(&text_at(&mut app, 62, 20, NOW));
        app.update(key('j'), NOW);
    }
    for action in bankdeck::tui::Action::ALL {
        assert!(
            seen.contains(action.describe()),
            "{action:?}'s line is cut at 62 columns: {seen}"
        );
    }
    assert!(!seen.contains("half_page_down"), "{seen}");
    assert!(
        seen.contains("Override keys in [keys]: a wider help shows their names."),
        "{seen}"
    );
    let wide = text_at(&mut app, 100, 60, NOW);
    assert!(wide.contains("half_page_down"), "{wide}");
}

#[test]
fn a_cut_off_help_scrolls_to_its_last_line_and_back() {
    let mut app = app();
    app.update(key('?'), NOW);
    let text = |app: &mut App| text_at(app, 80, 24, NOW);
    let top = text(&mut app);
    assert!(top.contains("more below: j"), "{top}");
    let last = "Override keys in [keys] by the names above.";
    assert!(!top.contains(last), "cut off: {top}");
    for _ in 0..100 {
        app.update(key('j'), NOW);
    }
    let bottom = text(&mut app);
    assert!(bottom.contains(last), "{bottom}");
    assert!(bottom.contains("8+ characters, provider ids."), "{bottom}");
    assert!(bottom.contains("end, k back"), "{bottom}");
    app.update(key('k'), NOW);
    let one_up = text(&mut app);
    assert!(!one_up.contains(last), "one k moves at once");
    assert!(one_up.contains("j/k scroll"), "{one_up}");
    app.update(key('g'), NOW);
    assert_eq!(text(&mut app), top);
    app.update(key('G'), NOW);
    assert_eq!(text(&mut app), bottom);
    let wheel = |kind| mouse(kind, 40, 10);
    app.update(wheel(crossterm::event::MouseEventKind::ScrollUp), NOW);
    assert!(
        text(&mut app).contains("j/k scroll"),
        "the wheel scrolls it"
    );
    for _ in 0..20 {
        app.update(wheel(crossterm::event::MouseEventKind::ScrollDown), NOW);
    }
    assert_eq!(text(&mut app), bottom, "and stops at its end");
    let whole = format!("{top}{bottom}");
    for action in bankdeck::tui::Action::ALL {
        assert!(
            whole.contains(action.describe()),
            "{:?}'s line is cut at 80 columns: {whole}",
            action
        );
    }
    assert!(
        !text_at(&mut app, 120, 60, NOW).contains("more below"),
        "a tall screen shows it whole"
    );
}

/// The users view's `D` asks once for the whole user, and says what each
/// of their connections gets.
#[test]
fn the_disconnect_dialog_says_what_ends_and_how() {
    let mut app = alice_holding_three();
    app.update(key('u'), NOW);
    app.update(key('D'), NOW);
    let text = text_at(&mut app, 100, 30, NOW);
    for said in [
        "┌ disconnect ",
        "Disconnect alice: end 2 connections. This is final.",
        "It will exchange 1 pending code, then delink it, log out 1",
        "Type the user's name (alice) and press Enter:",
    ] {
        assert!(text.contains(said), "{said:?} in {text}");
    }
    // It logs an OAuth row out as well: its keys and its end say disconnect.
    let bar = text.lines().last().unwrap_or_default().to_owned();
    assert!(bar.starts_with("enter disconnect · esc cancel"), "{bar}");
    app.update(code(KeyCode::Esc), NOW);
    assert_eq!(last_text(&app), "disconnect alice: cancelled");
}

#[test]
fn delink_dialog_with_a_wrong_name() {
    let mut app = app();
    select(&mut app, 2);
    app.update(key('D'), NOW);
    type_text(&mut app, "Bob");
    app.update(code(KeyCode::Enter), NOW);
    assert_snapshot!(screen(&mut app, 100, 30).backend());
}

#[test]
fn logout_dialog() {
    let mut app = app();
    select(&mut app, 3);
    app.update(key('l'), NOW);
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

#[test]
fn quit_dialog_with_operations_in_flight() {
    let mut app = app();
    app.update(key('R'), NOW);
    select(&mut app, 1);
    app.update(key('e'), NOW);
    app.update(key('q'), NOW);
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

/// A bulk refresh is one operation of many rows: the dialog says how many
/// of its rows quitting leaves undone, as "1 operation in flight" did not.
#[test]
fn the_quit_dialog_says_how_much_of_a_bulk_is_left() {
    let mut app = app();
    let Command::RefreshMany { id, .. } = one(app.update(key('R'), NOW)) else {
        panic!("R refreshes the rows due")
    };
    let progress = Event::Progress {
        id,
        done: 1,
        total: 3,
        failed: 0,
        stopped: 0,
    };
    app.update(Msg::Worker(progress), NOW);
    app.update(key('q'), NOW);
    let shown = text_at(&mut app, 100, 24, NOW);
    assert!(
        shown.contains("The refresh of 3 rows has 2 left, not refreshed if you quit."),
        "{shown}"
    );
}

/// The dialog counts what is in flight as it ends: asked with one
/// operation out, it still said so after that one had ended.
#[test]
fn the_quit_dialog_counts_operations_as_they_end() {
    let mut app = app();
    select(&mut app, 1);
    let Command::Exchange { id, conn } = one(app.update(key('e'), NOW)) else {
        panic!("e on a pending code exchanges it");
    };
    app.update(key('q'), NOW);
    let shown = text_at(&mut app, 100, 24, NOW);
    assert!(
        shown.contains("1 operation in flight: quit anyway?"),
        "{shown}"
    );
    app.update(
        Msg::Worker(Event::Failed {
            id,
            op: OpKind::Exchange,
            conn_id: Some(conn),
            conn: None,
            error: OpError::new(ErrorKind::Server, "told by the test"),
            next_try: None,
        }),
        NOW,
    );
    let shown = text_at(&mut app, 100, 24, NOW);
    assert!(
        shown.contains("Nothing is in flight any more: quit?"),
        "{shown}"
    );
}

#[test]
fn filter_while_typing() {
    let mut app = app();
    app.update(key('/'), NOW);
    type_text(&mut app, "oauth");
    assert_snapshot!(screen(&mut app, 120, 24).backend());
}

/// A filter longer than the screen is wide scrolls along as it is typed,
/// its end and the cursor in sight; Home goes back to its start.
#[test]
fn a_filter_longer_than_the_screen_shows_what_is_being_typed() {
    let mut app = app();
    app.update(key('/'), NOW);
    type_text(&mut app, &format!("start{}end", "x".repeat(100)));
    let last = |app: &mut App| {
        let (shown, cursor) = drawn(app, 80, 24, NOW);
        (
            shown.lines().last().unwrap_or_default().to_owned(),
            cursor.x,
        )
    };
    let (line, x) = last(&mut app);
    assert!(
        line.starts_with('/') && line.trim_end().ends_with("xend"),
        "{line}"
    );
    assert_eq!(x, 79, "the cursor in the last column, after the text");
    app.update(code(KeyCode::Home), NOW);
    let (line, x) = last(&mut app);
    assert!(line.starts_with("/startxxx"), "{line}");
    assert_eq!(x, 1);
}

/// A form's text field shows the terminal's cursor where typing goes, and
/// a value longer than the field scrolls along with it.
#[test]
fn a_form_field_shows_where_typing_goes() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    app.update(code(KeyCode::Left), NOW);
    assert_eq!(under_cursor(&drawn(&mut app, 100, 24, NOW)), Some('e'));
    app.update(code(KeyCode::End), NOW);
    type_text(&mut app, &format!("{}END", "n".repeat(80)));
    let shown = drawn(&mut app, 100, 24, NOW);
    let before = before_cursor(&shown);
    assert!(before.ends_with("nnnEND"), "{}", shown.0);
    assert!(!before.contains("zoe"), "{}", shown.0);
    assert_eq!(under_cursor(&shown), Some(' '), "just after the text");
}

#[test]
fn add_form_with_a_parsed_payload() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    app.update(Msg::Paste(CONNECT_PAYLOAD.into()), NOW);
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

/// A form nearly as wide as the screen takes all of it, its borders over
/// the panes' own rather than a column beside them.
#[test]
fn a_form_nearly_as_wide_as_the_screen_takes_its_whole_width() {
    let mut app = app();
    app.update(key('a'), NOW);
    for w in 72..=76 {
        let shown = text_at(&mut app, w, 17, NOW);
        let doubled = ["│┌", "┐│", "└└", "┘┘", "││"];
        let bad = shown
            .lines()
            .find(|l| doubled.iter().any(|d| l.contains(d)));
        assert!(bad.is_none(), "{w}×17:\n{shown}");
        assert!(shown.contains("add a connection"), "{w}×17:\n{shown}");
    }
}

/// A user name that differs from a user's only in case is flagged in the
/// form, as the store will refuse it, with the name to use instead.
#[test]
fn add_form_flags_a_user_name_that_differs_only_in_case() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "Carol");
    let text = text_at(&mut app, 120, 40, NOW);
    assert!(
        text.contains(r#"Carol  ✗ "carol" exists: use that name"#),
        "{text}"
    );
    for _ in 0..5 {
        app.update(code(KeyCode::Backspace), NOW);
    }
    type_text(&mut app, "carl");
    let text = text_at(&mut app, 120, 40, NOW);
    assert!(
        text.contains("carl  (new: added with the connection)"),
        "{text}"
    );
}

/// The code's `exp` is ten minutes before NOW: the form says so at the paste.
#[test]
fn add_form_with_an_expired_code() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "zoe");
    let expired = expired_connect_payload();
    app.update(Msg::Paste(expired), NOW);
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

#[test]
fn add_form_with_a_broken_payload() {
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(
        Msg::Paste("{\"accessCode\": \"abc\", \"connectionID\": ".into()),
        NOW,
    );
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

#[test]
fn login_url_note() {
    let mut app = app();
    let url = "http://127.0.0.1:8400/realms/demo/protocol/openid-connect/auth?response_type=code&client_id=bankdeck&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&state=af0ifjsldkj";
    app.update(
        Msg::Worker(Event::LoginUrl {
            id: RequestId(7),
            url: url.into(),
        }),
        NOW,
    );
    assert_snapshot!(screen(&mut app, 100, 30).backend());
}

#[test]
fn users_view() {
    let mut app = app();
    app.update(key('u'), NOW);
    app.update(key('j'), NOW);
    assert_snapshot!(screen(&mut app, 100, 24).backend());
}

/// The table's title names the user picked in the users view, and a user
/// with no connection yet says so, with the way back.
#[test]
fn a_picked_user_is_named_in_the_title() {
    let mut app = app();
    app.update(key('u'), NOW);
    app.update(key('j'), NOW);
    app.update(key('j'), NOW);
    app.update(code(KeyCode::Enter), NOW);
    let text = text_at(&mut app, 120, 30, NOW);
    assert!(
        text.contains("connections 1 of 11 · sort: time left · user: bob "),
        "{text}"
    );

    // The users view's own filter, in its title and on the bottom line.
    app.update(key('u'), NOW);
    app.update(key('/'), NOW);
    type_text(&mut app, "ra");
    let text = text_at(&mut app, 120, 30, NOW);
    assert!(text.contains("users 2 of 11 · filter: \"ra\" "), "{text}");
    assert!(text.contains("frank") && text.contains("grace"), "{text}");
    assert!(!text.contains("alice"), "{text}");
    assert!(text.contains("/ra   enter keeps · esc clears"), "{text}");
    app.update(code(KeyCode::Esc), NOW);
    app.update(code(KeyCode::Esc), NOW);

    app.update(
        Msg::Worker(Event::UserAdded {
            id: RequestId(60),
            user: bankdeck::domain::User {
                id: bankdeck::domain::UserId(100),
                name: "Aaron".into(),
                email: None,
                created_at: NOW,
            },
        }),
        NOW,
    );
    // The view opens on bob, the user picked last; Aaron sorts first.
    app.update(key('u'), NOW);
    app.update(key('g'), NOW);
    app.update(code(KeyCode::Enter), NOW);
    let text = text_at(&mut app, 120, 30, NOW);
    assert!(text.contains("user: Aaron"), "{text}");
    assert!(
        text.contains("this user has no connections yet (Esc shows every user's)"),
        "{text}"
    );
}

#[test]
fn too_small() {
    let mut app = app();
    assert_snapshot!(screen(&mut app, 50, 12).backend());
}

#[test]
fn any_size_draws_without_panicking() {
    let mut app = app();
    open_detail(&mut app, 3, Some(carol_claims()));
    for (w, h) in [
        (1, 1),
        (0, 0),
        (2, 40),
        (300, 2),
        (60, 15),
        (61, 15),
        (60, 16),
        (139, 15),
    ] {
        screen(&mut app, w, h);
    }
    for mode_key in ['?', 'a', 'l'] {
        app.update(key(mode_key), NOW);
        for (w, h) in [(1, 1), (60, 15), (20, 60)] {
            screen(&mut app, w, h);
        }
        app.update(code(KeyCode::Esc), NOW);
    }
}

#[test]
fn empty_and_loading_table() {
    let mut opts = options();
    opts.initial = None;
    let mut app = App::new(&opts, NOW);
    assert!(matches!(one(app.start()), Command::Reload { .. }));
    assert_snapshot!(screen(&mut app, 80, 16).backend());
    let _ = UnixTime(0);
}

/// On any screen wide enough for the table, the key bar shows whole
/// entries and never loses `? help`: what does not fit is dropped from
/// the right, before help and quit.
#[test]
fn key_bar_keeps_whole_entries_and_help_at_every_width() {
    // What the first row (frank: re-consent required) takes.
    let all = "j down · L log in again · l logout · / filter · s sort · enter detail · \
               R refresh all · a add · ? help · q quit";
    let entries: Vec<&str> = all.split(" · ").collect();
    let mut app = app();
    for w in 60..=140u16 {
        let terminal = screen(&mut app, w, 24);
        let buf = terminal.backend().buffer();
        let bar: String = (0..w).map(|x| buf[(x, 23)].symbol().to_owned()).collect();
        let bar = bar.trim_end();
        assert!(bar.ends_with("? help · q quit"), "width {w}: {bar:?}");
        let shown: Vec<&str> = bar.split(" · ").collect();
        let kept: Vec<&str> = entries
            .iter()
            .copied()
            .filter(|e| shown.contains(e))
            .collect();
        assert_eq!(shown, kept, "width {w}: only whole entries, in order");
        let dropped = entries.len() - shown.len();
        let fits = |n: usize| {
            let mut e = entries[..entries.len() - 2 - n].to_vec();
            e.extend(["? help", "q quit"]);
            e.join(" · ").chars().count() <= usize::from(w)
        };
        assert!(fits(dropped), "width {w}: {bar:?} is too wide");
        assert!(
            dropped == 0 || !fits(dropped - 1),
            "width {w}: dropped more than needed"
        );
    }
}

/// The key bar offers the operations the selected row takes, and a cancel
/// where one runs: it used to offer exchange on an OAuth row and delink on
/// an OIDC one, and never the `x` that stops a hung refresh.
#[test]
fn the_key_bar_offers_what_the_selected_row_takes() {
    let mut app = app();
    let line = |app: &mut App| {
        let terminal = screen(app, 160, 24);
        let buf = terminal.backend().buffer();
        (0..160)
            .map(|x| buf[(x, 23)].symbol().to_owned())
            .collect::<String>()
    };
    let bar = |app: &mut App, id: i64| {
        select(app, id);
        let bar = line(app);
        let keys: Vec<String> = (bar.split(" · "))
            .map(|e| e.trim().split(' ').next().unwrap().to_owned())
            .collect();
        keys.join(" ")
    };
    // alice: a Dapi code pending; bob: a Dapi token; carol: OIDC, active;
    // heidi: delinked; grace: logged out; frank: re-consent required; the
    // app token: client credentials.
    assert_eq!(bar(&mut app, 1), "j e D / s enter R a ? q");
    assert_eq!(bar(&mut app, 2), "j D / s enter R a ? q");
    assert_eq!(bar(&mut app, 3), "j r l / s enter R a ? q");
    // Heidi's is the last row: up is offered there, not down.
    assert_eq!(bar(&mut app, 8), "k / s enter R a ? q");
    assert_eq!(bar(&mut app, 7), "j L / s enter R a ? q");
    assert_eq!(bar(&mut app, 6), "j L l / s enter R a ? q");
    assert_eq!(bar(&mut app, 11), "j r l / s enter R a ? q");
    select(&mut app, 3);
    app.update(key('r'), NOW);
    assert_eq!(
        bar(&mut app, 3),
        "j x / s enter R a ? q",
        "busy: cancel only"
    );
    // The detail pane's bar follows the row too.
    app.update(key('d'), NOW);
    let detail = line(&mut app);
    assert!(detail.contains("x cancel"), "{detail}");
    assert!(!detail.contains("r refresh"), "{detail}");
    // A filter that keeps no row: nothing the bar offers acts on one.
    filter_by(&mut app, "nobody at all");
    let empty = line(&mut app);
    for key in ["v reveal", "y copy", "j down", "k up", "R refresh"] {
        assert!(!empty.contains(key), "{key}: {empty}");
    }
    // Nor in the users view, with no user found.
    app.update(key('u'), NOW);
    filter_by(&mut app, "nobody at all");
    let users = line(&mut app);
    for key in ["D disconnect", "a add for", "enter show"] {
        assert!(!users.contains(key), "{key}: {users}");
    }
}

/// A provider the scheduler paused stays named on the activity pane's
/// title while the lines below scroll on: paused until when, then trying
/// one, then gone once it answers again.
#[test]
fn a_paused_provider_stays_in_sight_until_it_answers() {
    let mut app = app();
    let until = NOW.plus_secs(30);
    let paused = |until| {
        Msg::Worker(Event::ProviderPaused {
            provider: "bank".into(),
            until,
            message: "bank: 5 automatic operations in a row failed".into(),
        })
    };
    app.update(paused(Some(until)), NOW);
    for i in 0..20 {
        let message = format!("later line {i}");
        app.update(Msg::Worker(Event::Notice { message }), NOW);
    }
    let screen_text = |app: &mut App, now: UnixTime| text_at(app, 120, 30, now);
    let shown = screen_text(&mut app, NOW);
    assert!(
        shown.contains(&format!("bank paused until {}", until.clock())),
        "{shown}"
    );
    assert!(!shown.contains("5 automatic operations"), "scrolled away");
    let shown = screen_text(&mut app, until.plus_secs(1));
    assert!(shown.contains("bank: trying one"), "{shown}");
    app.update(paused(None), until.plus_secs(2));
    let shown = screen_text(&mut app, until.plus_secs(2));
    assert!(
        !shown.contains("bank paused") && !shown.contains("trying one"),
        "{shown}"
    );
}

/// A provider's asked wait, heard here or by another process on the store,
/// stays on the activity pane's title until it ends and is said once in the
/// pane however often it grows; a row due before it ends says in the
/// detail pane that it waits for it, as it does for a scheduler's pause.
#[test]
fn a_provider_s_asked_wait_stays_in_sight_and_holds_its_rows_auto_line() {
    // The detail pane's text, its lines joined as they wrap: the `auto`
    // line of a held row is longer than the pane is wide.
    let pane = |app: &mut App, now: UnixTime| -> String {
        let text = text_at(app, 160, 40, now);
        let lines = (text.lines()).filter_map(|l| l.rsplit_once("││").map(|(_, r)| r));
        let joined: Vec<&str> = lines.map(|l| l.trim_end_matches('│')).collect();
        joined
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut app = app();
    // carol's keycloak token is refreshed automatically at NOW + 260 or so.
    open_detail(&mut app, 3, None);
    let before = pane(&mut app, NOW);
    assert!(before.contains("auto refresh at "), "{before}");
    let waiting = |until: UnixTime, elsewhere| {
        Msg::Worker(Event::ProviderWaiting {
            wait: ProviderWait::asked("keycloak", NOW, until, "429 Too Many Requests".into()),
            elsewhere,
        })
    };
    let until = NOW.plus_secs(600);
    let from = app.activity().count();
    app.update(waiting(until, true), NOW);
    app.update(waiting(until.plus_secs(5), false), NOW);
    let said: Vec<String> = (app.activity().skip(from))
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(
        said,
        [format!(
            "another bankdeck process heard keycloak ask to be sent nothing until {} (429 Too \
             Many Requests): nothing goes to it until then, by hand or automatically",
            until.clock()
        )]
    );
    let until = until.plus_secs(5);
    for i in 0..20 {
        let message = format!("later line {i}");
        app.update(Msg::Worker(Event::Notice { message }), NOW);
    }
    let shown = text_at(&mut app, 160, 40, NOW);
    assert!(
        shown.contains(&format!(
            "keycloak asked for nothing until {}",
            until.clock()
        )),
        "{shown}"
    );
    let held = pane(&mut app, NOW);
    let says = format!(
        "auto refresh not before {} (in 10:05): keycloak asked to be sent nothing until then ",
        until.clock()
    );
    assert!(held.contains(&says), "{held}");
    // Its end passed: the title lets it go, the row is due again.
    let after = until.plus_secs(1);
    let shown = text_at(&mut app, 160, 40, after);
    assert!(!shown.contains("asked for nothing"), "{shown}");
    let due = pane(&mut app, after);
    assert!(due.contains("auto refresh due now "), "{due}");

    // A scheduler's pause holds the row's line the same way; the later of
    // the two is said.
    let paused = NOW.plus_secs(900);
    app.update(
        Msg::Worker(Event::ProviderPaused {
            provider: "keycloak".into(),
            until: Some(paused),
            message: "keycloak: 5 automatic operations in a row failed".into(),
        }),
        NOW,
    );
    let held = pane(&mut app, NOW);
    let says = format!(
        "auto refresh not before {} (in 15:00): keycloak stopped answering; its automatic work \
         is paused ",
        paused.clock()
    );
    assert!(held.contains(&says), "{held}");
}

/// `W` lifts the wait the selected row's provider asked for. The key bar
/// offers it only while one holds; with none it says there is nothing to
/// lift and sends nothing. The worker's answer, or a lift another process
/// made, ends the wait on the title and in the pane, and says who lifted
/// it. Read-only refuses it, as it does every change.
#[test]
fn w_lifts_the_wait_the_row_s_provider_asked_for() {
    let wait = |until| ProviderWait::asked("keycloak", NOW, until, "429".into());
    let waiting = |until| {
        Msg::Worker(Event::ProviderWaiting {
            wait: wait(until),
            elsewhere: false,
        })
    };
    let mut app = app();
    select(&mut app, 3);
    assert!(!text_at(&mut app, 160, 40, NOW).contains("lift wait"));
    assert!(app.update(key('W'), NOW).is_empty());
    assert_eq!(
        last_text(&app),
        "lift_wait: keycloak asks for no wait now: nothing to lift"
    );

    let until = NOW.plus_secs(3600);
    app.update(waiting(until), NOW);
    let shown = text_at(&mut app, 160, 40, NOW);
    assert!(shown.contains("W lift wait"), "{shown}");
    // A refresh would be held unsent: refused here, with the way past it,
    // where it used to say "sent" and then "not sent".
    assert!(!shown.contains("r refresh"), "{shown}");
    assert!(app.update(key('r'), NOW).is_empty());
    let refused = last_text(&app);
    assert!(
        refused.starts_with("refresh ")
            && refused.ends_with(&format!(
                " refused: keycloak asked to be sent nothing until {} (W lifts the wait)",
                until.clock()
            )),
        "{refused}"
    );
    let Command::LiftWait { id, provider } = one(app.update(key('W'), NOW)) else {
        panic!("a lift");
    };
    assert_eq!(provider, "keycloak");
    let lifted = |id, by: &str| {
        Msg::Worker(Event::WaitLifted {
            id,
            lift: ProviderWait::lift("keycloak", NOW, by),
            set_aside: Some(wait(until)),
        })
    };
    app.update(lifted(Some(id), "amira"), NOW);
    assert_eq!(
        last_text(&app),
        format!(
            "lifted the wait keycloak asked for (until {}): it is sent to again, by hand and \
             automatically; a refusal from it asks for the wait anew",
            until.clock()
        )
    );
    let shown = text_at(&mut app, 160, 40, NOW);
    assert!(
        !shown.contains("asked for nothing until") && !shown.contains("lift wait"),
        "{shown}"
    );
    assert!(matches!(
        one(app.update(key('r'), NOW)),
        Command::Refresh { .. }
    ));

    // Another process's lift, read from the store.
    app.update(waiting(until), NOW);
    app.update(lifted(None, "omar"), NOW);
    assert!(
        last_text(&app).starts_with(
            "omar lifted, in another bankdeck process, the wait keycloak asked for (until "
        ),
        "{}",
        last_text(&app)
    );
    assert!(!text_at(&mut app, 160, 40, NOW).contains("asked for nothing until"));

    // A wait that ends on another day says its date: "until 17:44:43"
    // read as a time already past.
    let later = NOW.plus_secs(86_400);
    app.update(waiting(later), NOW);
    let shown = text_at(&mut app, 160, 40, NOW);
    let dated = format!("asked for nothing until {} ", later.clock_from(NOW));
    assert!(dated.contains(&later.rfc3339()[..10]), "{dated}");
    assert!(shown.contains(&dated), "{shown}");
    app.update(lifted(None, "omar"), NOW);

    // By name on the `:` line, for the row it names.
    app.update(waiting(until), NOW);
    select(&mut app, 1);
    type_text(&mut app, ":lift_wait 3");
    let cmds = app.update(code(KeyCode::Enter), NOW);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::LiftWait { provider, .. } if provider == "keycloak")),
        "{cmds:?}"
    );

    // judy's expired Dapi code is closed without a call: no wait holds it;
    // bob's delink would call Dapi, and is refused.
    let dapi_wait = ProviderWait::asked("dapi-sandbox", NOW, until, "429".into());
    app.update(
        Msg::Worker(Event::ProviderWaiting {
            wait: dapi_wait,
            elsewhere: false,
        }),
        NOW,
    );
    select(&mut app, 10);
    app.update(key('D'), NOW);
    assert!(
        matches!(app.mode(), Mode::ConfirmDelink(_)),
        "{}",
        last_text(&app)
    );
    app.update(code(KeyCode::Esc), NOW);
    select(&mut app, 2);
    app.update(key('D'), NOW);
    assert_eq!(app.mode(), &Mode::Normal);
    assert!(last_text(&app).contains(" refused: dapi-sandbox asked to be sent nothing until "));

    let mut app = readonly_app();
    select(&mut app, 3);
    app.update(waiting(until), NOW);
    assert!(app.update(key('W'), NOW).is_empty());
    assert!(
        last_text(&app).contains("read-only: lift_wait refused"),
        "{}",
        last_text(&app)
    );
}

/// A short detail pane cuts its text off; `J`/`K` scroll it, the title
/// says there is more, and the scroll stops at the last line, so one `K`
/// after many `J`s moves at once. Another row starts at the top.
#[test]
fn a_cut_off_detail_pane_scrolls_to_its_last_line_and_back() {
    let mut app = app();
    open_detail(&mut app, 2, None);
    let text = |app: &mut App| text_at(app, 120, 34, NOW);
    let top = text(&mut app);
    assert!(top.contains("more below: J"), "{top}");
    assert!(
        !top.contains("statements.get"),
        "the grid is cut off: {top}"
    );
    for _ in 0..100 {
        app.update(key('J'), NOW);
    }
    let bottom = text(&mut app);
    assert!(bottom.contains("statements.get"), "{bottom}");
    assert!(bottom.contains("end, K back"), "{bottom}");
    app.update(key('K'), NOW);
    let one_up = text(&mut app);
    assert_ne!(one_up, bottom, "one K moves at once");
    assert!(one_up.contains("J/K scroll"), "{one_up}");
    select(&mut app, 1);
    select(&mut app, 2);
    assert!(
        text(&mut app).contains("more below"),
        "a row shown anew starts at the top"
    );
    // The wheel over the pane scrolls it and leaves the selection alone;
    // over the table it still moves the selection.
    let wheel = || mouse(crossterm::event::MouseEventKind::ScrollDown, 10, 18);
    for _ in 0..10 {
        app.update(wheel(), NOW);
    }
    assert!(text(&mut app).contains("end, K back"));
    assert_eq!(app.selected_id(), Some(ConnectionId(2)));
    app.update(
        mouse(crossterm::event::MouseEventKind::ScrollDown, 10, 6),
        NOW,
    );
    assert_ne!(app.selected_id(), Some(ConnectionId(2)));
}

/// The activity pane scrolls back: `[` shows older lines, new ones arrive
/// below without moving what is being read (the title counts them), `]`
/// at the end follows the newest again, and the wheel over the pane
/// scrolls it without moving the selection.
#[test]
fn the_activity_pane_scrolls_back_and_stays_while_new_lines_arrive() {
    let mut app = app();
    let notice = |i: usize| {
        Msg::Worker(Event::Notice {
            message: format!("notice number {i:03}"),
        })
    };
    for i in 0..40 {
        app.update(notice(i), NOW);
    }
    let text = |app: &mut App| text_at(app, 120, 34, NOW);
    let newest = text(&mut app);
    assert!(newest.contains("notice number 039"), "{newest}");
    assert!(!newest.contains("newer below"), "{newest}");
    app.update(key('['), NOW);
    let back = text(&mut app);
    assert!(!back.contains("notice number 039"), "{back}");
    let (_, title) = back
        .split_once(" activity ")
        .expect("the pane's title is on screen");
    let count: usize = title
        .split_once(" newer below: ]")
        .and_then(|(before, _)| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the title counts what is below: {back}"));
    assert!(count > 0);
    let oldest_shown = |s: &str| {
        s.lines()
            .find_map(|l| {
                l.split_once("notice number ")
                    .map(|(_, n)| n[..3].to_owned())
            })
            .unwrap()
    };
    let reading = oldest_shown(&back);
    app.update(notice(40), NOW);
    let after = text(&mut app);
    assert_eq!(oldest_shown(&after), reading, "a new line does not move it");
    assert!(
        after.contains(&format!("{} newer below", count + 1)),
        "{after}"
    );
    for _ in 0..20 {
        app.update(key(']'), NOW);
    }
    let end = text(&mut app);
    assert!(end.contains("notice number 040"), "{end}");
    assert!(!end.contains("newer below"), "{end}");
    app.update(notice(41), NOW);
    assert!(
        text(&mut app).contains("notice number 041"),
        "follows again"
    );
    // The wheel over the pane: up is older.
    let row = end
        .lines()
        .position(|l| l.contains(" activity "))
        .expect("the pane's title");
    let selected = app.selected_id();
    let row = u16::try_from(row + 2).unwrap();
    app.update(
        mouse(crossterm::event::MouseEventKind::ScrollUp, 10, row),
        NOW,
    );
    let wheeled = text(&mut app);
    assert!(wheeled.contains("3 newer below"), "{wheeled}");
    assert_eq!(app.selected_id(), selected, "the table's selection stays");
    app.update(
        mouse(crossterm::event::MouseEventKind::ScrollDown, 10, row),
        NOW,
    );
    assert!(!text(&mut app).contains("newer below"));
}

/// A line taller than the activity pane (a login's URL in a short pane)
/// is read whole: `]` scrolls on into it as far as its end, the title
/// saying there is more below until then, and `[` goes back to its start.
#[test]
fn a_line_taller_than_the_activity_pane_reads_to_its_end() {
    let mut app = app();
    let long = format!("START {} END", "0123456789".repeat(150));
    app.update(Msg::Worker(Event::Notice { message: long }), NOW);
    let text = |app: &mut App| text_at(app, 120, 34, NOW);
    let head = text(&mut app);
    assert!(head.contains("START") && !head.contains("END"), "{head}");
    assert!(head.contains("· more below: ]"), "{head}");
    for _ in 0..20 {
        app.update(key(']'), NOW);
    }
    let end = text(&mut app);
    assert!(end.contains("END") && !end.contains("START"), "{end}");
    assert!(!end.contains("more below"), "{end}");
    for _ in 0..20 {
        app.update(key('['), NOW);
    }
    assert!(text(&mut app).contains("START"));
}

/// On the `:` line the key bar lists what the typed start could become,
/// and Tab completes it as far as those names agree.
#[test]
fn tab_completes_an_action_name_on_the_colon_line() {
    let mut app = app();
    select(&mut app, 4);
    let bottom = |app: &mut App| {
        let shown = text_at(app, 120, 30, NOW);
        shown.lines().last().unwrap_or_default().to_owned()
    };
    app.update(key(':'), NOW);
    type_text(&mut app, "ref");
    let line = bottom(&mut app);
    assert!(line.starts_with(":ref "), "{line}");
    assert!(line.contains("refresh · refresh_all"), "{line}");
    assert!(line.contains("tab completes"), "{line}");
    app.update(code(KeyCode::Tab), NOW);
    let line = bottom(&mut app);
    assert!(line.starts_with(":refresh "), "{line}");
    let cmd = app.update(code(KeyCode::Enter), NOW);
    assert!(
        matches!(
            cmd.as_slice(),
            [Command::Refresh {
                conn: ConnectionId(4),
                ..
            }]
        ),
        "{cmd:?}"
    );
    // A word Enter takes by itself says which action it runs.
    app.update(key(':'), NOW);
    type_text(&mut app, "sort");
    let line = bottom(&mut app);
    assert!(line.starts_with(":sort   enter runs cycle_sort "), "{line}");
    app.update(code(KeyCode::Esc), NOW);
    app.update(key(':'), NOW);
    type_text(&mut app, "zz");
    assert!(bottom(&mut app).contains("no such action"));
    app.update(code(KeyCode::Tab), NOW);
    assert!(
        bottom(&mut app).starts_with(":zz "),
        "Tab leaves what matches nothing"
    );
    // After the name, Tab completes a sort key, and leaves any other word:
    // `:sort ` became `:cycle_sort`, the name completed over the line.
    for (typed, tabbed) in [
        ("sort u", ":sort user "),
        ("sort LEFT", ":sort time-left "),
        ("sort ", ":sort "),
        ("sort x", ":sort x "),
        ("refresh 4", ":refresh 4 "),
    ] {
        app.update(code(KeyCode::Esc), NOW);
        app.update(key(':'), NOW);
        type_text(&mut app, typed);
        app.update(code(KeyCode::Tab), NOW);
        let line = bottom(&mut app);
        assert!(line.starts_with(tabbed), "{typed:?}: {line}");
    }
}

/// The key bar reads a `:` line with an id as `update` will run it, where
/// it used to say "no such action" for `:refresh 42`.
#[test]
fn the_colon_line_says_what_an_id_will_do() {
    let mut app = app();
    for (typed, says) in [
        ("42", "go to connection 42"),
        ("refresh 42", "refresh connection 42"),
        ("delink 7", "delink connection 7"),
        ("cycle-sort 3", "sort by time-left, user, provider or state"),
        ("sort user", "sort by user"),
        ("sort prov", "sort by provider"),
        ("toggle-users 3", "toggle_users takes no connection id"),
        ("frob 3", "no such action"),
        ("refresh 4 2", "one action and at most one connection id"),
    ] {
        app.update(key(':'), NOW);
        type_text(&mut app, typed);
        let shown = text_at(&mut app, 120, 30, NOW);
        let line = shown.lines().last().unwrap_or_default();
        assert!(line.starts_with(&format!(":{typed} ")), "{line}");
        assert!(line.contains(says), ":{typed}: {line}");
        app.update(code(KeyCode::Esc), NOW);
    }
}

#[test]
fn delink_cursor_follows_the_typed_name_when_the_prompt_wraps() {
    // A name long enough to wrap "Type the user's name (…)" moves the
    // answer's line down: the cursor has to go with it.
    for name in ["bob", "bob.the.builder.of.many.connections@example.com"] {
        let mut conns = sample_connections();
        conns[1].user = name.into();
        let users = users_for(&conns);
        let mut opts = options();
        opts.initial = Some((conns, users));
        let mut app = app_with(&opts);
        select(&mut app, 2);
        app.update(key('D'), NOW);
        type_text(&mut app, "bo");
        let (text, at) = drawn(&mut app, 100, 30, NOW);
        let rows: Vec<&str> = text.lines().collect();
        let answer = rows
            .iter()
            .position(|r| r.contains("│> bo "))
            .unwrap_or_else(|| panic!("no answer line for {name}:\n{}", rows.join("\n")));
        let col = rows[answer].find("│> bo ").unwrap();
        let col = rows[answer][..col].chars().count() + "│> bo".chars().count();
        assert_eq!((at.x, at.y), (col as u16, answer as u16), "name {name}");
    }
}

/// An answer longer than the delink dialog scrolls on its one line, the
/// cursor after its end, rather than wrapping the box past the cursor.
#[test]
fn a_long_answer_in_the_delink_dialog_keeps_the_cursor_at_its_end() {
    let mut app = app();
    select(&mut app, 2);
    app.update(key('D'), NOW);
    type_text(&mut app, &format!("{}END", "x".repeat(100)));
    let shown = drawn(&mut app, 100, 30, NOW);
    assert!(before_cursor(&shown).ends_with("xxxEND"), "{}", shown.0);
}

#[test]
fn a_long_activity_line_wraps_whole_and_the_newest_stays_in_sight() {
    let mut app = app();
    with_activity(&mut app);
    // A link that failed has no row whose detail pane would say why: the
    // activity pane is the only place its reason is shown.
    let reason = "this Connect payload is already connection 14 (zoe.haddad@example.com): \
                  nothing was added";
    app.update(
        Msg::Worker(Event::Failed {
            id: RequestId(902),
            op: OpKind::Link,
            conn_id: None,
            conn: None,
            error: OpError::new(ErrorKind::NotAllowed, reason),
            next_try: None,
        }),
        NOW,
    );
    let text = text_at(&mut app, 80, 30, NOW);
    let pane: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("activity"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| l.trim_matches('│').trim_end())
        .collect();
    let joined = pane.join(" ");
    assert!(
        joined.contains("(zoe.haddad@example.com): nothing was added"),
        "{text}"
    );
    assert!(
        pane.last().unwrap().ends_with("nothing was added"),
        "{pane:?}"
    );
}

/// An older line with too little room left shows its start and ends in `…`
/// where the newer lines below cut it; a line shown whole has no mark.
#[test]
fn an_older_activity_line_cut_short_ends_in_a_mark() {
    let pane = |app: &mut App| -> Vec<String> {
        let text = text_at(app, 80, 30, NOW);
        (text.lines())
            .skip_while(|l| !l.contains("activity"))
            .skip(1)
            .take_while(|l| !l.starts_with('└'))
            .map(|l| {
                l.trim_start_matches('│')
                    .trim_end_matches('│')
                    .trim_end()
                    .to_owned()
            })
            .collect()
    };
    let mut app = app();
    let long = format!("the start of a long line {}", "and its words ".repeat(20));
    app.update(Msg::Worker(Event::Notice { message: long }), NOW);
    let whole = pane(&mut app);
    assert!(whole[0].contains("the start of a long line"), "{whole:?}");
    assert!(whole.iter().all(|l| !l.ends_with('…')), "{whole:?}");
    let rows = whole.len();
    for i in 0..rows - 2 {
        let message = format!("newer line {i}");
        app.update(Msg::Worker(Event::Notice { message }), NOW);
    }
    let cut = pane(&mut app);
    assert!(cut[0].contains("the start of a long line"), "{cut:?}");
    assert!(cut[1].ends_with('…'), "{cut:?}");
    assert!(cut[2].contains("newer line 0"), "{cut:?}");
}

/// A name longer than its column ends in `…`, wide characters counted as the
/// two cells they take, and the columns after it stay in line.
#[test]
fn long_and_wide_names_are_cut_with_a_mark_and_keep_the_columns_in_line() {
    let mut conns = sample_connections();
    conns[0].user = "an.operator.with.a.rather.long.name".into();
    conns[1].user = "山田太郎".into();
    conns[1].label = "みずほ銀行 本店営業部 法人口座".into();
    let mut app = app();
    load(&mut app, RequestId(0), conns);
    // A cell a char: a wide char's second cell reads as a space here.
    let text = text_at(&mut app, 160, 40, NOW);
    let long = text.lines().find(|l| l.contains("an.operator")).unwrap();
    assert!(long.contains("an.operator.with.a.rath… "), "{long}");
    let wide = text.lines().find(|l| l.contains("山 田 太 郎 ")).unwrap();
    // 23 cells of the 24 the label may have, the cut marked: 法 would not fit.
    assert!(
        wide.contains("み ず ほ 銀 行  本 店 営 業 部  … "),
        "{wide}"
    );
    // The columns after them start where their headers do.
    let header = text.lines().find(|l| l.contains("bank / label")).unwrap();
    let column_of = |line: &str, needle: &str| line[..line.find(needle).unwrap()].chars().count();
    let left = column_of(header, "time left");
    for (line, needle) in [(long, "04:12            —"), (wide, "permanent")] {
        assert_eq!(column_of(line, needle), left, "{line}");
    }
}

/// A name no user has is marked as new in the forms, so that a typo does
/// not add a second user unseen; a known name is not.
#[test]
fn the_forms_mark_a_user_name_that_is_new() {
    const NEW: &str = "(new: added with the connection)";
    let mut app = app();
    app.update(key('a'), NOW);
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "alice");
    let text = text_at(&mut app, 100, 24, NOW);
    assert!(
        text.contains("user      alice ") && !text.contains(NEW),
        "{text}"
    );
    app.update(code(KeyCode::Backspace), NOW);
    let text = text_at(&mut app, 100, 24, NOW);
    assert!(text.contains(&format!("user      alic  {NEW}")), "{text}");

    // The client-credentials form comes with `app`, which the fixture has.
    let mut app = self::app();
    app.update(key('c'), NOW);
    let text = text_at(&mut app, 100, 24, NOW);
    assert!(
        text.contains("user      app ") && !text.contains(NEW),
        "{text}"
    );
    app.update(code(KeyCode::Tab), NOW);
    type_text(&mut app, "2");
    let text = text_at(&mut app, 100, 24, NOW);
    assert!(text.contains(&format!("user      app2  {NEW}")), "{text}");
}

/// A first run, with no config and so no providers: the empty table says
/// what is missing and where it goes, and so does `a`; with providers, it
/// says which key adds a connection.
#[test]
fn an_empty_screen_says_what_a_first_run_lacks() {
    let mut opts = options();
    opts.initial = Some((Vec::new(), Vec::new()));
    let mut app = App::new(&opts, NOW);
    let text = text_at(&mut app, 100, 24, NOW);
    assert!(text.contains("no connections yet: `a` adds one"), "{text}");

    opts.providers.clear();
    let mut app = App::new(&opts, NOW);
    let text = text_at(&mut app, 80, 24, NOW);
    assert!(
        text.contains("no providers configured: add a [providers.NAME] table"),
        "{text}"
    );
    assert!(
        text.contains("or try `bankdeck --demo`"),
        "wrapped, not cut: {text}"
    );
    app.update(key('a'), NOW);
    assert_eq!(app.mode(), &bankdeck::tui::Mode::Normal);
    let text = text_at(&mut app, 200, 24, NOW);
    assert!(
        text.contains("add: no providers configured: add a [providers.NAME] table"),
        "{text}"
    );
}

/// While only the "too small" note shows, `l` then `y` logged a row out
/// through a dialog nobody saw. No key, click or paste acts then but quit,
/// and the note says which key that is.
#[test]
fn nothing_acts_blind_on_a_too_small_screen_but_quit() {
    let mut app = app();
    select(&mut app, 3);
    app.update(Msg::Resize(50, 15), NOW);
    for msg in [
        key('l'),
        key('y'),
        key('a'),
        key('/'),
        key('j'),
        Msg::Paste("zoe".into()),
        mouse(MouseEventKind::ScrollDown, 10, 10),
    ] {
        assert!(app.update(msg, NOW).is_empty());
        assert_eq!(app.mode(), &Mode::Normal);
    }
    assert_eq!(app.selected_id(), Some(ConnectionId(3)));
    let note = text_at(&mut app, 50, 15, NOW);
    let words = note.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("needs 60×15 q quits"), "{note}");
    app.update(Msg::Resize(120, 40), NOW);
    app.update(key('l'), NOW);
    assert!(
        matches!(app.mode(), Mode::ConfirmLogout { .. }),
        "{:?}",
        app.mode()
    );
    app.update(Msg::Resize(50, 15), NOW);
    assert!(
        app.update(key('y'), NOW).is_empty(),
        "the dialog is not on screen"
    );
    app.update(key('n'), NOW);
    assert!(matches!(app.mode(), Mode::ConfirmLogout { .. }));
    // `q` acts only where it is not typed: the note names the key that does.
    let note = text_at(&mut app, 50, 15, NOW);
    assert!(note.contains("ctrl-c quits"), "{note}");
    app.update(Msg::Resize(120, 40), NOW);
    app.update(code(KeyCode::Esc), NOW);
    app.update(Msg::Resize(50, 15), NOW);
    app.update(key('q'), NOW);
    assert!(app.should_quit());
}

/// Help says `q/ctrl-c quit`; in the filter, a form or the delink name
/// field `q` is typed, and ctrl-c did nothing. A control key is never text:
/// it quits from there, asking first with operations in flight.
#[test]
fn ctrl_c_quits_from_a_field_or_a_dialog() {
    for opens in [key('/'), key('a'), key(':')] {
        let mut app = app();
        app.update(opens, NOW);
        assert_ne!(app.mode(), &Mode::Normal);
        app.update(key('q'), NOW);
        assert!(!app.should_quit(), "q is typed in a field");
        app.update(ctrl('c'), NOW);
        assert!(app.should_quit(), "{:?}", app.mode());
    }
    let mut app = app();
    select(&mut app, 1);
    app.update(key('e'), NOW);
    app.update(key('/'), NOW);
    app.update(ctrl('c'), NOW);
    assert_eq!(app.mode(), &Mode::ConfirmQuit, "an exchange is in flight");
}

/// At the smallest screen, the detail pane stacked under the table took
/// all but the table's border: the selected row was nowhere. The table
/// keeps a row; then the detail pane was left out, a blank gap where it
/// should be. The activity pane gives it room.
#[test]
fn at_the_smallest_screen_the_selected_row_stays_in_sight_with_the_detail_open() {
    let mut app = app();
    select(&mut app, 3);
    app.update(code(KeyCode::Enter), NOW);
    let user = app.connection(ConnectionId(3)).unwrap().user.clone();
    for (w, h) in [(60, 15), (61, 16), (80, 18), (100, 24)] {
        let shown = text_at(&mut app, w, h, NOW);
        let row = shown.lines().find(|l| l.contains('›'));
        assert!(row.is_some_and(|r| r.contains(&user)), "{w}×{h}:\n{shown}");
        let detail = shown.lines().position(|l| l.contains("┌ detail"));
        let activity = shown.lines().position(|l| l.contains("┌ activity"));
        assert!(
            detail.zip(activity).is_some_and(|(d, a)| a - d >= 4),
            "a detail pane with lines in it, {w}×{h}:\n{shown}"
        );
        assert!(
            shown.lines().any(|l| l.starts_with('│') && l.contains(':')),
            "the activity pane keeps its newest line, {w}×{h}:\n{shown}"
        );
    }
}

/// On a short screen the detail pane's audit lines took all of it: the
/// connection's state, ids and tokens, which `J` scrolls, were not drawn,
/// and `J` seemed to do nothing. They come first; the audit where there is
/// room.
#[test]
fn a_short_detail_pane_shows_the_connection_before_its_audit() {
    let mut app = app();
    select(&mut app, 6);
    let id = load_detail_id(&one(app.update(key('d'), NOW)), 6);
    let mut detail = detail();
    let first = detail.audit[0].clone();
    for n in 2..=3 {
        detail.audit.push(AuditEntry {
            id: n,
            ..first.clone()
        });
    }
    app.update(
        Msg::Worker(Event::Detail {
            id,
            conn: ConnectionId(6),
            detail,
        }),
        NOW,
    );
    for (w, h) in [(60, 15), (80, 18), (100, 20)] {
        let shown = text_at(&mut app, w, h, NOW);
        assert!(
            shown.lines().any(|l| l.starts_with("│state ")),
            "{w}×{h}:\n{shown}"
        );
    }
    let shown = text_at(&mut app, 120, 40, NOW);
    assert!(shown.lines().any(|l| l.starts_with("│state ")), "{shown}");
    assert!(shown.lines().any(|l| l.starts_with("│audit ")), "{shown}");
}

/// `l` on an app token once said "no refresh token to revoke", and nothing
/// on the screen could end one. It asks, saying what is revoked, and `y`
/// sends the logout.
#[test]
fn l_on_an_app_token_asks_to_revoke_it() {
    let mut app = app();
    select(&mut app, 11);
    assert!(app.update(key('l'), NOW).is_empty());
    assert!(
        matches!(
            app.mode(),
            Mode::ConfirmLogout {
                app_token: true,
                ..
            }
        ),
        "{:?}",
        app.mode()
    );
    let shown = text_at(&mut app, 120, 40, NOW);
    let words = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("The app token is revoked where"), "{shown}");
    assert!(!words.contains("The refresh token is revoked"), "{shown}");
    let sent = app.update(key('y'), NOW);
    assert!(
        matches!(
            sent.as_slice(),
            [Command::Logout {
                conn: ConnectionId(11),
                ..
            }]
        ),
        "{sent:?}"
    );
}
