//! The mouse: a click selects the row under it, the wheel moves the
//! selection, or scrolls the detail pane when it is over that pane.
//!
//! Dialogs own the screen while open, so the mouse does nothing under them.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use crate::domain::UnixTime;
use crate::worker::Command;

use super::super::app::App;
use super::super::forms::Mode;
use super::super::layout;
use super::{detail, nav};

/// Rows one wheel notch moves.
const WHEEL_ROWS: i64 = 3;

pub(super) fn on_mouse(app: &mut App, m: MouseEvent, now: UnixTime) -> Vec<Command> {
    if app.mode != Mode::Normal {
        return Vec::new();
    }
    match m.kind {
        MouseEventKind::ScrollDown if over_detail(app, m) => detail::scroll(app, WHEEL_ROWS, now),
        MouseEventKind::ScrollUp if over_detail(app, m) => detail::scroll(app, -WHEEL_ROWS, now),
        MouseEventKind::ScrollDown => nav::move_by(app, WHEEL_ROWS, now),
        MouseEventKind::ScrollUp => nav::move_by(app, -WHEEL_ROWS, now),
        MouseEventKind::Down(MouseButton::Left) => click(app, m.column, m.row, now),
        _ => Vec::new(),
    }
}

fn over_detail(app: &App, m: MouseEvent) -> bool {
    layout::on_screen(app)
        .detail
        .is_some_and(|d| d.contains(Position::new(m.column, m.row)))
}

fn click(app: &mut App, column: u16, row: u16, now: UnixTime) -> Vec<Command> {
    let body = layout::table_body(layout::on_screen(app).main);
    if !body.contains(Position::new(column, row)) {
        return Vec::new();
    }
    let (offset, cursor, len) = match &app.users_view {
        Some(v) => (v.offset, v.cursor, app.users.len()),
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
