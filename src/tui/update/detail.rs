//! The detail pane's data: when to ask the worker for it, which answer to
//! keep, and the timed reveal of tokens.
//!
//! At most one `LoadDetail` is in flight. When the selection moves on while
//! it runs, its answer is dropped and the current row is asked for instead,
//! so scrolling fast costs one request per answer, not one per row.

use ratatui::layout::Rect;

use crate::domain::{ConnectionId, UnixTime};
use crate::worker::{Command, Detail, RequestId};

use super::super::activity::Level;
use super::super::app::App;

/// How long revealed tokens stay readable.
pub(crate) const REVEAL_SECS: i64 = 10;

pub(super) fn toggle(app: &mut App, now: UnixTime) -> Vec<Command> {
    app.detail.open = !app.detail.open;
    app.detail.revealed_until = None;
    app.detail.scroll = 0;
    app.dirty = true;
    let page = super::nav::page_rows(app);
    app.offset = super::super::layout::keep_visible(app.offset, app.cursor, page, app.order.len());
    selection_changed(app, now)
}

/// Scrolls the pane's text by `by` lines, no further than its last line
/// at the bottom of the pane (so one press back always moves it).
pub(super) fn scroll(app: &mut App, by: i64, now: UnixTime) -> Vec<Command> {
    match super::super::layout::on_screen(app).detail {
        Some(pane) => scroll_in(app, pane, by, now),
        None => Vec::new(),
    }
}

/// [`scroll`] where the caller already found the pane on screen.
pub(super) fn scroll_in(app: &mut App, pane: Rect, by: i64, now: UnixTime) -> Vec<Command> {
    let most = super::super::render::detail_max_scroll(app, pane, now);
    app.detail.scroll = super::scrolled(app.detail.scroll, by, most);
    app.dirty = true;
    Vec::new()
}

/// Asks for the selected row's detail if the pane shows and lacks it.
pub(super) fn selection_changed(app: &mut App, _now: UnixTime) -> Vec<Command> {
    let selected = app.selected_id();
    if app
        .detail
        .revealed_until
        .is_some_and(|(c, _)| Some(c) != selected)
    {
        app.detail.revealed_until = None;
    }
    if app.detail.loaded.as_ref().map(|(c, _)| *c) != selected {
        app.detail.scroll = 0;
    }
    let Some(conn) = selected.filter(|_| app.detail.open) else {
        return Vec::new();
    };
    let have = app.detail.loaded.as_ref().is_some_and(|(c, _)| *c == conn);
    if have || app.detail.in_flight.is_some() {
        return Vec::new();
    }
    vec![request(app, conn)]
}

/// Asks again for the selected row (its tokens changed).
pub(super) fn reload_if_selected(app: &mut App, conn: ConnectionId) -> Vec<Command> {
    if !app.detail.open || app.selected_id() != Some(conn) || app.detail.in_flight.is_some() {
        return Vec::new();
    }
    vec![request(app, conn)]
}

fn request(app: &mut App, conn: ConnectionId) -> Command {
    let id = app.next_request();
    app.detail.in_flight = Some((id, conn));
    Command::LoadDetail { id, conn }
}

/// Keeps the answer only if it is the one awaited and still for the selection.
pub(super) fn on_detail(
    app: &mut App,
    id: RequestId,
    conn: ConnectionId,
    detail: Box<Detail>,
    now: UnixTime,
) -> Vec<Command> {
    if app.detail.in_flight.map(|(i, _)| i) != Some(id) {
        return Vec::new();
    }
    app.detail.in_flight = None;
    if app.detail.open && app.selected_id() == Some(conn) {
        app.detail.loaded = Some((conn, detail));
        app.dirty = true;
        return Vec::new();
    }
    selection_changed(app, now)
}

/// `v`: show tokens in full for [`REVEAL_SECS`], or mask them again.
pub(super) fn reveal(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(conn) = app.selected_id() else {
        return Vec::new();
    };
    if app.detail.revealed_until.take().is_some() {
        app.dirty = true;
        return Vec::new();
    }
    if !app.detail.open || app.detail_loaded_for() != Some(conn) {
        app.note(now, Level::Warn, "reveal: open the detail pane first");
        return Vec::new();
    }
    // Asked, it would be recorded in the audit log as "tokens shown".
    if (app.detail.loaded.as_ref()).is_some_and(|(_, d)| d.secrets.none_held()) {
        app.note(now, Level::Info, "reveal: this connection holds no secrets");
        return Vec::new();
    }
    // Recorded as shown, the tokens must be: with no room for the pane
    // they were not, and an enlarged window showed them later, unasked.
    if super::super::layout::on_screen(app).detail.is_none() {
        let says = "reveal: the detail pane has no room on this screen; enlarge the terminal";
        app.note(now, Level::Warn, says);
        return Vec::new();
    }
    if app.detail.reveal_asked.is_some() {
        return Vec::new();
    }
    let id = app.next_request();
    app.detail.reveal_asked = Some((id, conn));
    vec![Command::Reveal { id, conn }]
}

/// The worker's answer to a reveal: the tokens show once it is recorded,
/// if their row is still the one shown, and the pane is read again for its
/// audit lines, the new one among them; else the pane says why not.
pub(super) fn on_revealed(
    app: &mut App,
    id: RequestId,
    conn: ConnectionId,
    recorded: Result<(), String>,
    now: UnixTime,
) -> Vec<Command> {
    if app.detail.reveal_asked.map(|(i, _)| i) != Some(id) {
        return Vec::new();
    }
    app.detail.reveal_asked = None;
    match recorded {
        Ok(())
            if app.detail.open
                && app.selected_id() == Some(conn)
                && app.detail_loaded_for() == Some(conn) =>
        {
            app.detail.revealed_until = Some((conn, now.plus_secs(REVEAL_SECS)));
            app.dirty = true;
            return reload_if_selected(app, conn);
        }
        Ok(()) => {}
        Err(why) => app.note(
            now,
            Level::Warn,
            format!("reveal: tokens not shown, since the audit log could not record it: {why}"),
        ),
    }
    Vec::new()
}

/// A tick past the reveal deadline masks the tokens again.
pub(super) fn expire_reveal(app: &mut App, now: UnixTime) {
    if app.detail.revealed_until.is_some_and(|(_, t)| now >= t) {
        app.detail.revealed_until = None;
        app.dirty = true;
    }
}

/// The worker will not answer this detail request: stop waiting for it.
pub(super) fn forget(app: &mut App, id: RequestId) {
    if app.detail.in_flight.map(|(i, _)| i) == Some(id) {
        app.detail.in_flight = None;
    }
    if app.detail.reveal_asked.map(|(i, _)| i) == Some(id) {
        app.detail.reveal_asked = None;
    }
}
