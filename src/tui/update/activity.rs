//! Scrolling the activity pane back through older lines: by half the pane
//! from the keys, a few lines a wheel notch.

use super::super::app::App;
use super::super::layout;
use super::super::render::activity_rows;
use crate::worker::Command;

/// Scrolls `by` lines towards older ones (negative: newer).
pub(super) fn scroll(app: &mut App, by: i64) -> Vec<Command> {
    let rows = activity_rows(layout::on_screen(app).activity);
    app.activity.scroll_back(by, rows);
    app.dirty = true;
    Vec::new()
}

/// Half the pane older (`towards` 1) or newer (-1), at least a line.
pub(super) fn scroll_half(app: &mut App, towards: i64) -> Vec<Command> {
    let rows = activity_rows(layout::on_screen(app).activity);
    let half = i64::try_from(rows / 2).unwrap_or(1).max(1);
    scroll(app, towards * half)
}
