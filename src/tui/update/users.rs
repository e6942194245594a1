//! The users view: its list, narrowed by a filter on name or email, and
//! picking one user, whose connections alone the table then shows.
//!
//! The view keeps the positions in `App::users` its filter lets through, so
//! drawing and moving never scan 10 000 users; they are worked out again only
//! when the filter or the users change.

use crossterm::event::{KeyCode, KeyEvent};

use crate::domain::filter::FilterTerms;
use crate::domain::{UnixTime, User, UserId};
use crate::worker::Command;

use super::super::app::{App, UsersView};
use super::super::forms::Mode;
use super::super::layout;
use super::{data, nav};

/// Why a key for the table's rows does nothing while the view is open.
pub(super) const HIDES_THE_TABLE: &str =
    "the users view is open: Esc leaves it for the connections";

/// `u`: opens the view on the user picked last, or closes it.
pub(super) fn toggle(app: &mut App, now: UnixTime) -> Vec<Command> {
    if app.users_view.take().is_none() {
        app.users_view = Some(UsersView::default());
        let picked = app.user_scope.as_ref().map(|(id, _)| *id);
        refilter(app, picked);
    }
    // The view opens on counts as of now rather than as of the last tick.
    let commands = data::refresh_counts(app, now);
    app.dirty = true;
    commands
}

/// Enter in the view: the table shows that user's connections alone.
pub(super) fn pick(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(user) = selected(app).map(|u| (u.id, u.name.clone())) else {
        return Vec::new();
    };
    app.users_view = None;
    app.user_scope = Some(user);
    app.filter.clear();
    data::refilter(app, now)
}

/// `D` in the view: ends the selected user's connections (a user leaving),
/// after their name is typed.
pub(super) fn disconnect(app: &mut App, now: UnixTime) -> Vec<Command> {
    match selected(app).map(|u| (u.id, u.name.clone())) {
        Some((id, name)) => super::ops::disconnect(app, now, id, name),
        None => Vec::new(),
    }
}

/// The user under the view's cursor.
pub(super) fn selected(app: &App) -> Option<&User> {
    let view = app.users_view.as_ref()?;
    view.shown.get(view.cursor).and_then(|&i| app.users.get(i))
}

/// Works out again which users the view shows, after its filter or the
/// users changed, with the cursor on `keep` while it is still shown.
pub(super) fn refilter(app: &mut App, keep: Option<UserId>) {
    let page = nav::page_rows(app);
    let Some(view) = &mut app.users_view else {
        return;
    };
    let terms = FilterTerms::parse(view.filter.text());
    view.shown = (app.users.iter().enumerate())
        .filter(|(_, u)| terms.as_ref().is_none_or(|t| u.kept_by(t)))
        .map(|(i, _)| i)
        .collect();
    let found = keep.and_then(|id| view.shown.iter().position(|&i| app.users[i].id == id));
    view.cursor = found.unwrap_or(0);
    view.offset = layout::keep_visible(view.offset, view.cursor, page, view.shown.len());
    app.dirty = true;
}

/// A key while the view's filter is being typed.
pub(super) fn filter_key(app: &mut App, key: &KeyEvent) -> Vec<Command> {
    let keep = selected(app).map(|u| u.id);
    let Some(view) = &mut app.users_view else {
        return Vec::new();
    };
    match key.code {
        KeyCode::Enter => app.mode = Mode::Normal,
        KeyCode::Esc => {
            app.mode = Mode::Normal;
            view.filter.clear();
        }
        _ if view.filter.handle_key(key) => {}
        _ => return Vec::new(),
    }
    refilter(app, keep);
    Vec::new()
}

/// Text pasted into the view's filter.
pub(super) fn paste(app: &mut App, text: &str) {
    let keep = selected(app).map(|u| u.id);
    if let Some(view) = &mut app.users_view {
        view.filter.insert_str(text);
    }
    refilter(app, keep);
}

/// Esc in the view: clears its filter first, then closes it.
pub(super) fn back(app: &mut App) {
    let keep = selected(app).map(|u| u.id);
    match &mut app.users_view {
        Some(view) if !view.filter.is_empty() => {
            view.filter.clear();
            refilter(app, keep);
        }
        _ => app.users_view = None,
    }
    app.dirty = true;
}
