//! What each keymap [`Action`] does in the normal mode: one line each,
//! handing off to the module that owns the concern.

use crate::domain::{Connection, UnixTime};
use crate::worker::Command;

use super::super::action::Action;
use super::super::activity::Level;
use super::super::app::{App, TerminalAsk};
use super::super::forms::Mode;
use super::super::view::SortKey;
use super::{activity, data, detail, marks, nav, ops, users};

pub(super) fn run(app: &mut App, action: Action, now: UnixTime) -> Vec<Command> {
    if app.readonly && action.writes() {
        return refuse_readonly(app, action, now);
    }
    // The users view lists users; the table's selection is out of sight
    // behind it, and a row's key would act on that hidden row.
    let for_rows = action.on_row() || action == Action::RefreshAll;
    if app.users_view.is_some() && for_rows && action != Action::Delink {
        let why = format!("{}: {}", action.name(), users::HIDES_THE_TABLE);
        app.note(now, Level::Warn, why);
        return Vec::new();
    }
    match action {
        Action::Quit => quit(app),
        Action::Help => open(app, Mode::Help { scroll: 0 }),
        Action::Back => back(app, now),
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::HalfPageDown
        | Action::HalfPageUp
        | Action::PageDown
        | Action::PageUp => nav::on_move(app, action, now),
        Action::Filter => {
            app.filter_anchor = app.selected_id();
            open(app, Mode::Filter)
        }
        Action::Command => open(app, Mode::Command(Default::default())),
        Action::CycleSort => cycle_sort(app, now),
        Action::ToggleDetail if app.users_view.is_some() => users::pick(app, now),
        Action::Delink if app.users_view.is_some() => users::disconnect(app, now),
        Action::ToggleDetail => detail::toggle(app, now),
        Action::DetailDown => detail::scroll(app, 1, now),
        Action::DetailUp => detail::scroll(app, -1, now),
        Action::ActivityUp => activity::scroll_half(app, 1),
        Action::ActivityDown => activity::scroll_half(app, -1),
        Action::Reveal => detail::reveal(app, now),
        Action::CopyIds => copy_ids(app, now),
        Action::Mark => marks::toggle(app, now),
        Action::MarkRange => marks::range(app, now),
        Action::ToggleUsers => users::toggle(app, now),
        Action::Reload => {
            app.terminal_ask = Some(TerminalAsk::Repaint);
            vec![data::reload(app)]
        }
        Action::Suspend => suspend(app, now),
        Action::Exchange
        | Action::Refresh
        | Action::RefreshAll
        | Action::Logout
        | Action::Login
        | Action::Delink
        | Action::Add
        | Action::ClientCredentials
        | Action::CancelOp
        | Action::LiftWait => ops::run(app, action, now),
    }
}

/// `y`: the row's ids on one line, named as the detail pane names them,
/// for a ticket or the provider's console; the mouse selects no text while
/// the dashboard holds it. Ids only, never a token. While rows are
/// marked, theirs, a line each.
fn copy_ids(app: &mut App, now: UnixTime) -> Vec<Command> {
    if !app.marks.is_empty() {
        return marks::copy_ids(app, now);
    }
    let Some(c) = app.selected() else {
        app.note(now, Level::Warn, "copy_ids: no connection selected");
        return Vec::new();
    };
    let text = ids_line(c);
    let said = format!("copied to the terminal's clipboard (OSC 52): {text}");
    app.clipboard = Some(text);
    app.note(now, Level::Info, said);
    Vec::new()
}

/// "connection 2 · bob · ADCB (dapi) · connectionID …": what `y` copies of
/// a row.
pub(super) fn ids_line(c: &Connection) -> String {
    let mut text = format!(
        "connection {} · {} · {} ({})",
        c.id, c.user, c.label, c.provider
    );
    for (name, id) in c.remote.labelled() {
        text.push_str(&format!(" · {name} {id}"));
    }
    // The ids are the provider's words: an escape or a line break in one
    // would run in whatever the clipboard is pasted into, unseen here.
    crate::domain::text::visible(&text)
}

fn refuse_readonly(app: &mut App, action: Action, now: UnixTime) -> Vec<Command> {
    let text = format!(
        "read-only: {} refused (started with --readonly)",
        action.name()
    );
    app.note(now, Level::Warn, text);
    Vec::new()
}

fn open(app: &mut App, mode: Mode) -> Vec<Command> {
    app.mode = mode;
    app.dirty = true;
    Vec::new()
}

/// Quits at once when nothing runs; otherwise asks, since quitting drops
/// the answers of operations that may already have changed a provider.
fn quit(app: &mut App) -> Vec<Command> {
    match app.in_flight() {
        0 => app.quit = true,
        _ => app.mode = Mode::ConfirmQuit,
    }
    app.dirty = true;
    Vec::new()
}

/// Stops only with nothing in flight: stopped, the process hears no answer,
/// and a request out would run past its deadline and be taken as lost
/// (a refresh token it may have spent with it).
fn suspend(app: &mut App, now: UnixTime) -> Vec<Command> {
    match app.in_flight() {
        0 => app.terminal_ask = Some(TerminalAsk::Suspend),
        n => app.note(
            now,
            Level::Warn,
            format!(
                "not suspended: {} in flight, whose answers a stopped dashboard would not \
                 hear; suspend once {} ended (x cancels)",
                crate::domain::text::counted(n, "operation", "operations"),
                if n == 1 { "it has" } else { "they have" },
            ),
        ),
    }
    app.dirty = true;
    Vec::new()
}

/// What Esc takes away from the table, one at a time and in this order:
/// the filter, then the user picked, then the marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clears {
    Filter,
    User,
    Marks,
}

impl Clears {
    /// As the key bar offers it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Clears::Filter => "clear filter",
            Clears::User => "all users",
            Clears::Marks => "clear marks",
        }
    }
}

impl App {
    /// What Esc would clear in the table now; `None` in the users view,
    /// which Esc leaves, and where nothing narrows the table.
    pub(crate) fn esc_clears(&self) -> Option<Clears> {
        if self.users_view.is_some() {
            None
        } else if !self.filter.is_empty() {
            Some(Clears::Filter)
        } else if self.user_scope.is_some() {
            Some(Clears::User)
        } else if !self.marks.is_empty() {
            Some(Clears::Marks)
        } else {
            None
        }
    }
}

/// Esc peels one layer: the users view, then the filter, then the user
/// picked, then the marks, then the detail. The marks come after the
/// filter, so that "Esc clears it" said of a filter holds with rows marked.
fn back(app: &mut App, now: UnixTime) -> Vec<Command> {
    if app.users_view.is_some() {
        users::back(app);
        return Vec::new();
    }
    match app.esc_clears() {
        Some(Clears::Filter) => {
            app.filter.clear();
            data::reindex(app, now)
        }
        Some(Clears::User) => {
            app.user_scope = None;
            data::reindex(app, now)
        }
        Some(Clears::Marks) => {
            let text = format!(
                "marks cleared: {}",
                crate::domain::text::counted(app.marks.len(), "row", "rows")
            );
            app.marks.clear();
            app.mark_anchor = None;
            app.note(now, Level::Info, text);
            Vec::new()
        }
        None if app.detail.open => detail::toggle(app, now),
        None => Vec::new(),
    }
}

fn cycle_sort(app: &mut App, now: UnixTime) -> Vec<Command> {
    sort_by(app, app.sort.next(), now)
}

/// The table's sort, which the users view hides: there it changed out of
/// sight, and the table came back in another order.
pub(super) fn sort_by(app: &mut App, key: SortKey, now: UnixTime) -> Vec<Command> {
    if app.users_view.is_some() {
        let why = format!("sort: {}", users::HIDES_THE_TABLE);
        app.note(now, Level::Warn, why);
        return Vec::new();
    }
    app.sort = key;
    data::reindex(app, now)
}
