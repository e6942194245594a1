//! Moving the selection in the table (or the users view) and keeping it on
//! screen.
//!
//! The page size comes from the same layout function render uses, fed with
//! the last terminal size, so `ctrl-d` moves exactly half of what is visible.

use crate::domain::UnixTime;
use crate::worker::Command;

use super::super::action::Action;
use super::super::app::App;
use super::super::layout;
use super::detail;

/// Rows of the table body on screen now (at least one).
pub(crate) fn page_rows(app: &App) -> usize {
    usize::from(layout::table_body(layout::on_screen(app).main).height).max(1)
}

pub(super) fn on_move(app: &mut App, action: Action, now: UnixTime) -> Vec<Command> {
    let page = page_rows(app);
    let delta: i64 = match action {
        Action::Up => -1,
        Action::Down => 1,
        Action::Top => i64::MIN / 2,
        Action::Bottom => i64::MAX / 2,
        Action::HalfPageDown => (page / 2).max(1) as i64,
        Action::HalfPageUp => -((page / 2).max(1) as i64),
        Action::PageDown => page as i64,
        Action::PageUp => -(page as i64),
        _ => 0,
    };
    move_by(app, delta, now)
}

/// Moves the cursor of whichever list is showing by `delta` rows, clamped.
pub(super) fn move_by(app: &mut App, delta: i64, now: UnixTime) -> Vec<Command> {
    let (len, cur) = match &app.users_view {
        Some(v) => (v.shown.len(), v.cursor),
        None => (app.order.len(), app.cursor),
    };
    if len == 0 {
        return Vec::new();
    }
    let target = (cur as i64).saturating_add(delta).clamp(0, len as i64 - 1) as usize;
    select(app, target, now)
}

/// Selects row `pos` of the showing list; a new table selection asks for
/// its detail when the pane is open.
pub(super) fn select(app: &mut App, pos: usize, now: UnixTime) -> Vec<Command> {
    let page = page_rows(app);
    if let Some(v) = &mut app.users_view {
        if v.cursor != pos {
            v.cursor = pos;
            v.offset = layout::keep_visible(v.offset, pos, page, v.shown.len());
            app.dirty = true;
        }
        return Vec::new();
    }
    if pos == app.cursor {
        return Vec::new();
    }
    app.cursor = pos;
    app.offset = layout::keep_visible(app.offset, pos, page, app.order.len());
    app.dirty = true;
    detail::selection_changed(app, now)
}

pub(super) fn resize(app: &mut App, w: u16, h: u16) -> Vec<Command> {
    app.size = (w, h);
    let page = page_rows(app);
    app.offset = layout::keep_visible(app.offset, app.cursor, page, app.order.len());
    app.dirty = true;
    Vec::new()
}
