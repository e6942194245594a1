//! The mouse: a click selects the row under it, the wheel moves the
//! selection, or scrolls the detail or activity pane when it is over it.
//!
//! Dialogs own the screen while open, so the mouse does nothing under them;
//! over the help the wheel scrolls it.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use crate::domain::UnixTime;
use crate::worker::Command;

use super::super::app::App;
use super::super::forms::Mode;
use super::super::layout;
use super::{activity, detail, keys, nav};

/// Rows one wheel notch moves.
const WHEEL_ROWS: i64 = 3;

pub(super) fn on_mouse(app: &mut App, m: MouseEvent, now: UnixTime) -> Vec<Command> {
    if matches!(app.mode, Mode::Help { .. }) {
        match m.kind {
            MouseEventKind::ScrollDown => keys::scroll_help(app, WHEEL_ROWS),
            MouseEventKind::ScrollUp => keys::scroll_help(app, -WHEEL_ROWS),
            _ => {}
        }
        return Vec::new();
    }
    if app.mode != Mode::Normal {
        return Vec::new();
    }
    match m.kind {
        MouseEventKind::ScrollDown => wheel(app, m, WHEEL_ROWS, now),
        MouseEventKind::ScrollUp => wheel(app, m, -WHEEL_ROWS, now),
        MouseEventKind::Down(MouseButton::Left) => click(app, m.column, m.row, now),
        _ => Vec::new(),
    }
}

/// A wheel notch `by` rows down (negative: up), to the pane under it.
fn wheel(app: &mut App, m: MouseEvent, by: i64, now: UnixTime) -> Vec<Command> {
    let at = Position::new(m.column, m.row);
    let panes = layout::on_screen(app);
    match panes.detail.filter(|d| d.contains(at)) {
        Some(pane) => detail::scroll_in(app, pane, by, now),
        // Down is towards the newest line, as in any log.
        None if panes.activity.contains(at) => activity::scroll(app, panes.activity, -by),
        None => nav::move_by(app, by, now),
    }
}

fn click(app: &mut App, column: u16, row: u16, now: UnixTime) -> Vec<Command> {
    let body = layout::table_body(layout::on_screen(app).main);
    if !body.contains(Position::new(column, row)) {
        return Vec::new();
    }
    let (offset, cursor, len) = match &app.users_view {
        Some(v) => (v.offset, v.cursor, v.shown.len()),
        None => (app.offset, app.cursor, app.order.len()),
    };
    // The scroll exactly as render draws it, so the click hits the row seen.
    let offset = layout::keep_visible(offset, cursor, usize::from(body.height), len);
    let pos = offset + usize::from(row - body.y);
    if pos >= len {
        return Vec::new();
    }
    nav::select(app, pos, now)
}
