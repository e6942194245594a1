//! Scrolling the activity pane back through older lines: by half the pane
//! from the keys, a few lines a wheel notch.

use ratatui::layout::Rect;

use super::super::app::App;
use super::super::layout;
use super::super::render::{activity_line_rows, activity_rows};
use crate::worker::Command;

/// Scrolls the pane at `pane` `by` lines towards older ones (negative:
/// newer).
pub(super) fn scroll(app: &mut App, pane: Rect, by: i64) -> Vec<Command> {
    app.activity
        .scroll_back(by, activity_rows(pane), |l| activity_line_rows(l, pane));
    app.dirty = true;
    Vec::new()
}

/// Half the pane older (`towards` 1) or newer (-1), at least a line.
pub(super) fn scroll_half(app: &mut App, towards: i64) -> Vec<Command> {
    let pane = layout::on_screen(app).activity;
    let half = i64::try_from(activity_rows(pane) / 2).unwrap_or(1).max(1);
    scroll(app, pane, towards * half)
}
