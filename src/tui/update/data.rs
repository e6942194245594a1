//! The connection list: loading it, merging a changed connection in, and
//! rebuilding the sorted index and the counts.
//!
//! The selection follows its connection across a rebuild (by id, not by
//! position), so a refresh that moves a row does not move the operator.

use crate::domain::{Connection, ConnectionId, UnixTime, User};
use crate::worker::Command;

use super::super::app::App;
use super::super::view;
use super::{detail, nav, users};

pub(super) fn reload(app: &mut App) -> Command {
    let id = app.next_request();
    app.reload = Some(id);
    Command::Reload { id }
}

impl App {
    /// Takes a whole new data set (start-up, reload).
    pub(crate) fn replace_data(&mut self, conns: Vec<Connection>, users: Vec<User>, now: UnixTime) {
        // Read the selections before `order` and `users` stop matching.
        let keep = self.selected_id();
        let keep_user = users::selected(self).map(|u| u.id);
        let marked = self.marked();
        self.order.clear();
        self.widths = super::super::widths::TextWidths::of(&conns);
        self.conns = conns;
        self.users = users;
        sort_users(&mut self.users);
        // The sort and the states are independent passes over every row:
        // at 100 000 rows, running them side by side on the second core is
        // a good part of the time to the first frame. Pure work, no I/O.
        // The filter's buffers are built here too, while the sort runs:
        // left to the first filter keystroke, they made it 25 ms long.
        let (sort, warn_secs) = (self.sort, self.warn_secs);
        let (conns, states) = (&self.conns, &mut self.states);
        let (sorted, by_id, haystacks) = std::thread::scope(|scope| {
            let sorted = scope.spawn(move || view::Sorted::new(conns, sort, now, warn_secs));
            let by_id = conns.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
            states.rebuild(conns, now);
            let haystacks = view::Haystacks::new(conns);
            // A panic in the sort is a bug; it reaches the panic hook like any other.
            let sorted = sorted
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (sorted, by_id, haystacks)
        });
        self.by_id = by_id;
        super::marks::carry_over(self, &marked);
        self.sorted = Some(sorted);
        self.haystacks = Some(haystacks);
        rebuild(self, keep, now);
        users::refilter(self, keep_user);
        self.dirty = true;
    }
}

/// The users view's order (by name, ignoring case), kept in `App::users` so
/// that drawing the view never sorts 10 000 names.
pub(super) fn sort_users(users: &mut [User]) {
    users.sort_by_cached_key(|u| (u.name.to_lowercase(), u.id.0));
}

/// Replaces or adds one connection as the worker now reports it.
///
/// The row itself and the counts change at once. The order follows at once
/// too, unless it was already rebuilt in this second: then the next tick
/// rebuilds it, so a bulk refresh of thousands of rows re-sorts 100 000
/// rows once a second rather than once per result.
pub(super) fn upsert(app: &mut App, conn: Connection, now: UnixTime) -> Vec<Command> {
    app.widths.take(&conn);
    match app.by_id.get(&conn.id).copied() {
        Some(i) if i < app.conns.len() => {
            if !view::Haystacks::same_words(&app.conns[i], &conn) {
                // Names and ids rarely change (a refresh keeps the session);
                // the buffers are built again when next needed.
                app.haystacks = None;
            }
            app.conns[i] = conn;
            app.states.row_changed(&app.conns, i);
        }
        _ => {
            let i = app.conns.len();
            app.by_id.insert(conn.id, i);
            app.conns.push(conn);
            app.states.row_changed(&app.conns, i);
            if let Some(hay) = &mut app.haystacks {
                hay.push(&app.conns[i]);
            }
            // A new row shows at the end until the next rebuild sorts it.
            if keeps(app, i, now) {
                app.order.push(i);
            }
        }
    }
    app.sorted = None;
    app.states.advance(&app.conns, now);
    app.dirty = true;
    if app.rebuilt_at == Some(now) {
        app.index_stale = true;
        return Vec::new();
    }
    reindex(app, now)
}

/// Whether the user picked and the filter keep row `i`.
fn keeps(app: &mut App, i: usize, now: UnixTime) -> bool {
    if let Some((user, _)) = &app.user_scope
        && app.conns.get(i).is_some_and(|c| c.user_id != *user)
    {
        return false;
    }
    let Some(mut needle) = view::Needle::new(app.filter.text(), now, app.warn_secs) else {
        return true;
    };
    let hay = haystacks(&mut app.haystacks, &app.conns);
    needle.keeps(&app.conns, hay, i)
}

/// The filter's words of every row, built on first use (or anew if they
/// ever fell out of step with the rows).
fn haystacks<'a>(
    hay: &'a mut Option<view::Haystacks>,
    conns: &[Connection],
) -> &'a view::Haystacks {
    if hay.as_ref().is_some_and(|h| h.len() != conns.len()) {
        *hay = None;
    }
    hay.get_or_insert_with(|| view::Haystacks::new(conns))
}

/// The tick's half of [`upsert`]: a rebuild put off within a busy second.
pub(super) fn catch_up(app: &mut App, now: UnixTime) -> Vec<Command> {
    match app.index_stale {
        true => reindex(app, now),
        false => Vec::new(),
    }
}

/// Rebuilds the index after a data, sort or filter change, keeping the
/// selected connection selected.
pub(super) fn reindex(app: &mut App, now: UnixTime) -> Vec<Command> {
    let keep = app.selected_id();
    rebuild(app, keep, now);
    if app.selected_id() != keep {
        return detail::selection_changed(app, now);
    }
    Vec::new()
}

/// Rebuilds and selects connection `id`, if the filter shows it: a row the
/// operator just added is the one they act on next.
pub(super) fn reindex_onto(app: &mut App, id: ConnectionId, now: UnixTime) -> Vec<Command> {
    let before = app.selected_id();
    rebuild(app, Some(id), now);
    if app.selected_id() != before {
        return detail::selection_changed(app, now);
    }
    Vec::new()
}

/// Rebuilds after the filter changed: the row selected when the filter
/// opened if it shows, else the one selected if it still shows, else the
/// first match, as a search would.
pub(super) fn refilter(app: &mut App, now: UnixTime) -> Vec<Command> {
    let (before, offset) = (app.selected_id(), app.offset);
    rebuild(app, None, now);
    let shown = |id: ConnectionId| {
        let k = app.by_id.get(&id).copied()?;
        app.order.iter().position(|&i| i == k)
    };
    match [app.filter_anchor, before]
        .into_iter()
        .flatten()
        .find_map(shown)
    {
        Some(at) => {
            app.cursor = at;
            let page = nav::page_rows(app);
            app.offset = super::super::layout::keep_visible(offset, at, page, app.order.len());
        }
        None => {
            app.cursor = 0;
            app.offset = 0;
        }
    }
    if app.selected_id() != before {
        return detail::selection_changed(app, now);
    }
    Vec::new()
}

fn rebuild(app: &mut App, keep: Option<ConnectionId>, now: UnixTime) {
    let sorted = match app.sorted.take() {
        Some(s) if s.fits(app.sort, now) => s,
        _ => view::Sorted::new(&app.conns, app.sort, now, app.warn_secs),
    };
    let needle = view::Needle::new(app.filter.text(), now, app.warn_secs);
    let user = app.user_scope.as_ref().map(|(id, _)| *id);
    app.order = match (needle, user) {
        (None, None) => {
            app.kept = None;
            sorted.order(None)
        }
        (needle, user) => {
            let mut kept = match needle {
                Some(mut needle) => {
                    // Moved to `now`, the counts hold every row's state.
                    app.states.advance(&app.conns, now);
                    let hay = haystacks(&mut app.haystacks, &app.conns);
                    let states = &app.states;
                    needle.scan(&app.conns, hay, |i| states.state_at(i, now))
                }
                None => vec![true; app.conns.len()],
            };
            if let Some(user) = user {
                for (keep, c) in kept.iter_mut().zip(&app.conns) {
                    *keep &= c.user_id == user;
                }
            }
            let order = sorted.order(Some(&kept));
            app.kept = Some(kept);
            order
        }
    };
    app.sorted = Some(sorted);
    app.resort_due = false;
    place(app, keep, now);
}

/// The cursor on connection `keep` if the order shows it, else where it
/// was, and the rows around it on screen.
fn place(app: &mut App, keep: Option<ConnectionId>, now: UnixTime) {
    // By position in `conns`, so the search reads the index, not the rows.
    let keep = keep.and_then(|id| app.by_id.get(&id).copied());
    let found = keep.and_then(|k| app.order.iter().position(|&i| i == k));
    app.cursor = found.unwrap_or(app.cursor.min(app.order.len().saturating_sub(1)));
    let page = nav::page_rows(app);
    app.offset = super::super::layout::keep_visible(app.offset, app.cursor, page, app.order.len());
    app.rebuilt_at = Some(now);
    app.index_stale = false;
    app.dirty = true;
}

/// Moves the counts by state to `now`: only rows whose state can have
/// changed since are looked at (see `counts.rs`).
pub(super) fn refresh_counts(app: &mut App, now: UnixTime) -> Vec<Command> {
    let selected = app.selected_id();
    let commands = follow_time(app, now);
    // Read only when the selection moved: a scan of every row shown.
    let shown = |id| app.by_id.get(&id).is_some_and(|k| app.order.contains(k));
    if app.selected_id() != selected && selected.is_some_and(|id| !shown(id)) {
        tell_left(app, selected, now);
    }
    commands
}

/// [`refresh_counts`] but for saying what left the table.
fn follow_time(app: &mut App, now: UnixTime) -> Vec<Command> {
    if app.states.advance(&app.conns, now) {
        app.dirty = true;
    }
    // A state that time alone moved on (expiring, expired, code expired)
    // is what a filter on state words and the state sort read: the table
    // follows it as it follows a worker's event, or `/expiring` kept a row
    // renewed a minute ago and missed the one now expiring, and `R` with it.
    let Some(moved) = app.states.moved().map(<[usize]>::to_vec) else {
        return reindex(app, now);
    };
    if app.sort == view::SortKey::State {
        // The state order is a sort of every row: at 100 000 rows, once
        // every few seconds, not on every tick that moves one.
        app.resort_due |= !moved.is_empty();
        let waited = (app.rebuilt_at).is_none_or(|t| t.secs_until(now) >= STATE_SORT_EVERY);
        return match app.resort_due && waited {
            true => reindex(app, now),
            false => Vec::new(),
        };
    }
    let filtered = crate::domain::filter::FilterTerms::parse(app.filter.text()).is_some();
    match filtered && !moved.is_empty() {
        true => follow_moved(app, &moved, now),
        false => Vec::new(),
    }
}

/// How often, at most, the state sort follows what time alone changed.
const STATE_SORT_EVERY: i64 = 5;

/// A tick moved `moved` to other states under a filter: those rows alone
/// are read against it again, where a rebuild read all 100 000 each
/// second (2.6 ms a tick, over the 2 ms a tick may take).
fn follow_moved(app: &mut App, moved: &[usize], now: UnixTime) -> Vec<Command> {
    let (Some(mut kept), Some(sorted)) = (app.kept.take(), app.sorted.take()) else {
        return reindex(app, now);
    };
    if app.index_stale || kept.len() != app.conns.len() || !sorted.fits(app.sort, now) {
        app.sorted = Some(sorted);
        return reindex(app, now);
    }
    for &i in moved {
        kept[i] = keeps(app, i, now);
    }
    app.order = sorted.order(Some(&kept));
    app.sorted = Some(sorted);
    app.kept = Some(kept);
    let keep = app.selected_id();
    place(app, keep, now);
    if app.selected_id() != keep {
        return detail::selection_changed(app, now);
    }
    Vec::new()
}

/// Says that the selected row left the filter by time alone, and where the
/// selection went: a key pressed a moment later acts on another row than
/// the one the operator was looking at.
fn tell_left(app: &mut App, left: Option<ConnectionId>, now: UnixTime) {
    let Some(gone) = left.and_then(|id| app.connection(id)) else {
        return;
    };
    let state = crate::domain::ConnState::derive(gone, now, app.warn_secs).describe(now);
    let to = app.selected().map_or("no row".to_owned(), Connection::name);
    let text = format!(
        "{} left the filter ({state}): the selection is on {to}",
        gone.name()
    );
    app.note(now, super::super::activity::Level::Info, text);
}

#[cfg(test)]
mod tests {
    use super::super::super::run::RunOptions;
    use super::*;
    use crate::domain::{Grant, ProviderKind};

    /// A load builds the filter's buffers with the rows, so that the first
    /// filter keystroke only scans them (it took 25 ms at 100 000 rows when
    /// it built them itself); a reload builds them anew for the new rows.
    #[test]
    fn a_load_builds_the_filters_buffers_for_its_rows() {
        let now = UnixTime(1_700_000_000);
        let rows = |n: i64| -> Vec<Connection> {
            (1..=n)
                .map(|i| {
                    Connection::sample(i, "bank", ProviderKind::OAuth2, Grant::ClientCredentials)
                })
                .collect()
        };
        let mut app = App::new(&RunOptions::default(), now);
        assert!(app.haystacks.is_none());
        app.replace_data(rows(3), Vec::new(), now);
        assert_eq!(app.haystacks.as_ref().map(|h| h.len()), Some(3));
        app.replace_data(rows(5), Vec::new(), now);
        assert_eq!(app.haystacks.as_ref().map(|h| h.len()), Some(5));
    }
}
