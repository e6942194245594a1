//! What the worker reports: results merged into the data, lines in the
//! activity pane, spinners stopped, and stale answers dropped.
//!
//! A result for a request the screen did not send (the scheduler's) is still
//! applied: the connection it carries is the truth as stored.

use crate::domain::text::{counted, nonzero_counts};
use crate::domain::{Connection, ConnectionId, OpError, OpKind, ProviderWait, UnixTime, User};
use crate::store::Lease;
use crate::worker::{Command, DoneBy, Event, NextTry, RequestId};

use super::super::activity::Level;
use super::super::app::{App, InFlight, Progress, Sent};
use super::super::forms::Mode;
use super::super::msg::SendFailure;
use super::{data, detail, users, watch};

pub(super) fn on_event(app: &mut App, event: Event, now: UnixTime) -> Vec<Command> {
    match event {
        Event::Started { id, op, conn } => started(app, id, op, conn, now),
        Event::Succeeded {
            id,
            op,
            conn,
            message,
            by,
        } => {
            if by != DoneBy::This {
                in_bulk(app, id, |b| b.elsewhere += 1);
            }
            succeeded(app, id, op, *conn, &message, now)
        }
        Event::Failed {
            id,
            op,
            conn_id,
            conn,
            error,
            next_try,
        } => {
            if error.ended_meanwhile(op, false) {
                in_bulk(app, id, |b| b.ended += 1);
            }
            let failure = Failure {
                conn_id,
                conn: conn.map(|c| *c),
                error,
                next_try,
            };
            failed(app, id, op, failure, now)
        }
        Event::HeldElsewhere { op, lease } => held_elsewhere(app, op, lease, now),
        Event::Progress {
            id,
            done,
            total,
            failed,
            stopped,
        } => progress(
            app,
            Progress {
                id,
                done,
                total,
                failed,
                elsewhere: 0,
                ended: 0,
            },
            stopped,
            now,
        ),
        Event::LoginUrl { id, url } => login_url(app, id, url, now),
        Event::UserAdded { id: _, user } => user_added(app, user, now),
        Event::Detail { id, conn, detail } => detail::on_detail(app, id, conn, detail, now),
        Event::Revealed { id, conn, recorded } => detail::on_revealed(app, id, conn, recorded, now),
        Event::Loaded {
            id,
            connections,
            users,
            audit_mark,
        } => loaded(app, id, connections, users, audit_mark, now),
        Event::Changed { id, changes } => watch::changed(app, id, changes, now),
        Event::ProviderPaused {
            provider,
            until,
            message,
        } => {
            let level = match until {
                Some(until) => {
                    app.paused.insert(provider, until);
                    Level::Warn
                }
                None => {
                    app.paused.remove(&provider);
                    Level::Ok
                }
            };
            app.note(now, level, message);
            Vec::new()
        }
        Event::ProviderWaiting { wait, elsewhere } => provider_waiting(app, wait, elsewhere, now),
        Event::WaitLifted {
            id,
            lift,
            set_aside,
        } => wait_lifted(app, id, lift, set_aside, now),
        Event::Notice { message } => {
            app.note(now, Level::Warn, message);
            Vec::new()
        }
    }
}

/// A provider's asked wait stays on the activity pane's title until it
/// ends. The pane says it as it begins, not each time a burst of 429s moves
/// its end on: each refusal has its own line already.
fn provider_waiting(
    app: &mut App,
    wait: ProviderWait,
    elsewhere: bool,
    now: UnixTime,
) -> Vec<Command> {
    if !wait.holds(now) {
        return Vec::new();
    }
    let ProviderWait {
        provider,
        until,
        why,
        ..
    } = wait;
    let known = app.waiting(&provider, now);
    let held = app.waits.entry(provider.clone()).or_insert(until);
    *held = (*held).max(until);
    app.dirty = true;
    if !known {
        let asked = match elsewhere {
            true => format!("another bankdeck process heard {provider} ask"),
            false => format!("{provider} asked"),
        };
        let message = format!(
            "{asked} to be sent nothing until {} ({why}): nothing goes to it until then, \
             by hand or automatically",
            until.clock_from(now)
        );
        app.note(now, Level::Warn, message);
    }
    Vec::new()
}

/// A lift ends the wait on the title and in the detail pane, whoever made
/// it; the scheduler sends to the provider again on its next pass.
fn wait_lifted(
    app: &mut App,
    id: Option<RequestId>,
    lift: ProviderWait,
    set_aside: Option<ProviderWait>,
    now: UnixTime,
) -> Vec<Command> {
    let provider = &lift.provider;
    app.waits.remove(provider);
    app.dirty = true;
    let Some(was) = set_aside else {
        if id.is_some() {
            let text = format!("lift_wait: {}", ProviderWait::nothing_to_lift(provider));
            app.note(now, Level::Warn, text);
        }
        return Vec::new();
    };
    let who = match id {
        Some(_) => "lifted".to_owned(),
        None => format!(
            "{} lifted, in another bankdeck process,",
            lift.lifted_by.as_deref().unwrap_or("an operator")
        ),
    };
    let text = format!(
        "{who} the wait {provider} asked for (until {}): it is sent to again, by hand and \
         automatically; a refusal from it asks for the wait anew",
        was.until.clock_from(now)
    );
    app.note(now, Level::Ok, text);
    Vec::new()
}

/// Ours are already in the activity pane ("sent"); the scheduler's are news.
fn started(
    app: &mut App,
    id: RequestId,
    op: OpKind,
    conn: Option<ConnectionId>,
    now: UnixTime,
) -> Vec<Command> {
    let Some(conn) = conn else {
        return Vec::new();
    };
    app.busy.insert(conn, id);
    app.dirty = true;
    if !app.pending.contains_key(&id) {
        let what = app
            .connection(conn)
            .map(Connection::name)
            .unwrap_or_default();
        let op = op.to_string();
        app.note_about(now, Level::Info, &op, &what, ": started (scheduled)");
    }
    Vec::new()
}

/// An `op` on `lease.conn` waits for another process at work on the
/// row before it sends anything. The line that sent it said so only if
/// the screen's watch, which looks every other second, had seen the lease
/// already: this one says it otherwise, once per operation (a bulk's rows
/// each, folded), the scheduler's too, as its start is said.
fn held_elsewhere(app: &mut App, op: OpKind, lease: Lease, now: UnixTime) -> Vec<Command> {
    let Some(&id) = app.busy.get(&lease.conn) else {
        return Vec::new();
    };
    let tail = format!(": {}", crate::store::holder::waiting_for(&lease.holder));
    let row = (app.connection(lease.conn))
        .map(Connection::name)
        .unwrap_or_default();
    let conn = lease.conn;
    // Known now, not at the next look: shown if ours is cancelled first.
    app.watch.elsewhere.insert(conn, lease);
    match app.pending.get_mut(&id) {
        None if id.is_scheduled() => {
            let tail = format!("{tail} (scheduled)");
            app.note_about(now, Level::Info, &op.to_string(), &row, &tail);
        }
        None => {}
        Some(entry) if entry.told_whom => {}
        // Named as asked (a delink's first step may be an exchange).
        Some(entry) if entry.bulk() => {
            let op = entry.op.to_string();
            app.note_about(now, Level::Info, &op, &row, &tail);
        }
        Some(entry) => {
            entry.told_whom = true;
            let (sent, op, what) = (entry.sent, entry.op, entry.what.clone());
            app.note_sent(sent, now, Level::Info, op, &what, &tail);
        }
    }
    Vec::new()
}

fn succeeded(
    app: &mut App,
    id: RequestId,
    op: OpKind,
    conn: Connection,
    message: &str,
    now: UnixTime,
) -> Vec<Command> {
    let (conn_id, what) = (conn.id, conn.name());
    // Whether this screen asked for it (`None`: the scheduler did), and
    // whether as one of a bulk, or of many sent together.
    let asked = app.pending.get(&id).map(|e| e.sent);
    // `L` on a row whose login another account answered: a new row, and
    // the old one still waits for its own user.
    let other_account = (op == OpKind::Login)
        .then(|| app.pending.get(&id))
        .flatten()
        .and_then(|entry| entry.conns.first().copied())
        .filter(|&started| started != conn_id);
    // Whoever's it was, the row's next automatic operation is its plan's
    // again: the scheduler's back-off only ever delays to a time before it.
    app.retries.remove(&conn_id);
    finish(app, id, Some(conn_id));
    close_login_note(app, op);
    // A bulk's successes are counted in its progress line and shown in their
    // rows; a line each would bury its failures under thousands of them.
    let outcome = match message.is_empty() {
        true => "done",
        false => message,
    };
    match asked {
        Some(Sent::Bulk) => {}
        Some(sent) => app.note_sent(sent, now, Level::Ok, op, &what, &format!(": {outcome}")),
        // As its start said: nobody on this screen asked for it.
        None => {
            let tail = format!(": {outcome} (scheduled)");
            app.note_about(now, Level::Ok, &op.to_string(), &what, &tail);
        }
    }
    if let Some(started) = other_account {
        let text = format!(
            "login {what}: the account that consented is not connection {started}'s, so it is \
             a new connection ({conn_id}); connection {started} still needs its own user's consent"
        );
        app.note(now, Level::Warn, text);
    }
    let mut cmds = data::upsert(app, conn, now);
    // A connection this screen asked for just now is selected, so the next
    // key (exchange, say) acts on it.
    let added = matches!(op, OpKind::Link | OpKind::Login | OpKind::ClientCredentials);
    let moved = match asked.is_some() && added {
        true => data::reindex_onto(app, conn_id, now),
        false => Vec::new(),
    };
    match moved.is_empty() {
        true => cmds.extend(detail::reload_if_selected(app, conn_id)),
        // The move already asked for the new row's detail.
        false => cmds.extend(moved),
    }
    cmds
}

/// A failed operation as [`Event::Failed`] reports it.
struct Failure {
    conn_id: Option<ConnectionId>,
    conn: Option<Connection>,
    error: OpError,
    next_try: Option<NextTry>,
}

fn failed(app: &mut App, id: RequestId, op: OpKind, f: Failure, now: UnixTime) -> Vec<Command> {
    let Failure {
        conn_id,
        conn,
        error,
        next_try,
    } = f;
    let what = conn_id
        .and_then(|c| app.connection(c).map(Connection::name))
        .or_else(|| app.pending.get(&id).map(|p| p.what.clone()))
        .unwrap_or_default();
    let scheduled = id.is_scheduled();
    // One of many (a bulk's, the scheduler's, or sent together by one
    // key), that nobody waits on by name: its line may fold.
    let unasked = scheduled || app.pending.get(&id).is_some_and(|p| p.sent != Sent::Alone);
    // Not a failure, as the command line says it.
    let unattended = scheduled || app.pending.get(&id).is_some_and(InFlight::bulk);
    let ended_meanwhile = error.ended_meanwhile(op, !unattended);
    if let (true, Some(c)) = (scheduled, conn_id) {
        match next_try {
            Some(next) => app.retries.insert(c, next),
            None => app.retries.remove(&c),
        };
    }
    // A bulk's row refused for its provider's wait goes again after it:
    // still the bulk's, and busy, and not failed yet.
    let again = !scheduled && next_try.is_some();
    if !again {
        finish(app, id, conn_id);
    }
    close_login_note(app, op);
    // A server's wait is in the message already ("it asks to wait 30s"). An
    // operator's own operation is not tried again, so only the scheduler's,
    // and a bulk's row refused for a wait, say when they will be: as a
    // clock time, since the line stays.
    let after = match (scheduled, next_try) {
        (false, Some(NextTry::After(at))) => {
            format!(" (this bulk tries it again after {})", at.clock_from(now))
        }
        (false, Some(NextTry::SetAside(at))) => format!(
            " (left for a run after {}, or for this bulk if the wait is lifted)",
            at.clock_from(now)
        ),
        (false, _) => String::new(),
        (true, None) => " (scheduled)".into(),
        (true, Some(NextTry::After(at) | NextTry::SetAside(at))) => {
            format!(" (scheduled; tried again after {})", at.clock())
        }
        (true, Some(NextTry::AfterRestart)) => {
            " (scheduled; not tried again automatically until bankdeck restarts with the \
             configuration fixed)"
                .into()
        }
    };
    let message = &error.message;
    let (tail, level) = match (again, ended_meanwhile) {
        (true, _) => (format!(" refused for now: {message}{after}"), Level::Warn),
        (false, true) => (format!(": ended meanwhile ({message}){after}"), Level::Info),
        (false, false) => (format!(" failed: {message}{after}"), Level::Error),
    };
    match unasked {
        true => app.note_about(now, level, &op.to_string(), &what, &tail),
        false => app.note(now, level, format!("{op} {what}{tail}")),
    }
    let mut cmds = match conn {
        Some(c) => data::upsert(app, c, now),
        None => Vec::new(),
    };
    if let Some(c) = conn_id {
        cmds.extend(detail::reload_if_selected(app, c));
    }
    cmds
}

/// One result of request `id` is in: stop the row's spinner, and forget the
/// request unless it is a bulk one still running.
fn finish(app: &mut App, id: RequestId, conn: Option<ConnectionId>) {
    if let Some(c) = conn
        && app.busy.get(&c) == Some(&id)
    {
        app.busy.remove(&c);
    }
    let Some(entry) = app.pending.get_mut(&id) else {
        return;
    };
    if let Some(c) = conn {
        entry.conns.retain(|x| *x != c);
    }
    if !entry.bulk() || entry.conns.is_empty() {
        // A login names no row until it has one, and it may be another's
        // than the row it was started from: every row it held is free.
        if let Some(done) = app.pending.remove(&id) {
            for c in done.conns {
                if app.busy.get(&c) == Some(&id) {
                    app.busy.remove(&c);
                }
            }
        }
    }
}

/// Counts a result of request `id` in the running bulk's progress, if `id`
/// is that bulk: a row another process refreshed or ended while the bulk
/// waited for its lease, which the bulk's line counts apart.
fn in_bulk(app: &mut App, id: RequestId, count: impl FnOnce(&mut Progress)) {
    if let Some(bulk) = app.bulk.as_mut().filter(|b| b.id == id) {
        count(bulk);
    }
}

/// A bulk's progress; `stopped` (not refreshed) is set in the last one of a
/// bulk that ended early, which ends it here too: its rows stop being busy.
/// The worker does not count what another process did: the screen does, as
/// the results come in, and carries it from one progress to the next.
fn progress(app: &mut App, mut p: Progress, stopped: usize, now: UnixTime) -> Vec<Command> {
    if let Some(before) = app.bulk.filter(|b| b.id == p.id) {
        (p.elsewhere, p.ended) = (before.elsewhere, before.ended);
    }
    // The worker counts a row ended meanwhile as failed.
    let failed = p.failed.saturating_sub(p.ended);
    let tail = nonzero_counts(&[
        (p.elsewhere, "of them by another process meanwhile"),
        (failed, "failed"),
        (p.ended, "ended meanwhile"),
    ]);
    let complete = p.done + stopped >= p.total;
    let (verb, level) = match (complete, failed + stopped) {
        (false, _) => ("refreshing", Level::Info),
        (true, 0) => ("refreshed", Level::Ok),
        (true, _) => ("refreshed", Level::Warn),
    };
    // Done, "refreshed" counts what was: as `refresh --due` says it, and
    // "refreshed 4992 of 4992, 4857 failed" read as all of them refreshed.
    let count = match complete {
        true => p.done.saturating_sub(p.failed),
        false => p.done,
    };
    let mut text = format!("{verb} {count} of {}{tail}", p.total);
    if stopped > 0 {
        text = format!("stopped: {text}, {stopped} not refreshed");
    }
    app.activity.progress(now, p.id, level, text, complete);
    app.dirty = true;
    if complete {
        app.bulk = None;
        app.pending.remove(&p.id);
        app.busy.retain(|_, id| *id != p.id);
    } else {
        app.bulk = Some(p);
    }
    Vec::new()
}

/// The "open this URL" note has done its job once the login has an outcome.
fn close_login_note(app: &mut App, op: OpKind) {
    if op == OpKind::Login && matches!(app.mode, Mode::LoginUrl { .. }) {
        app.mode = Mode::Normal;
        app.dirty = true;
    }
}

fn login_url(app: &mut App, id: RequestId, url: String, now: UnixTime) -> Vec<Command> {
    app.note(now, Level::Info, format!("login: open {url}"));
    if app.mode == Mode::Normal {
        app.mode = Mode::LoginUrl { id, url };
    }
    Vec::new()
}

fn user_added(app: &mut App, user: User, now: UnixTime) -> Vec<Command> {
    app.note(now, Level::Ok, format!("user {} added", user.name));
    let keep = users::selected(app).map(|u| u.id);
    app.users.retain(|u| u.id != user.id);
    app.users.push(user);
    data::sort_users(&mut app.users);
    users::refilter(app, keep);
    Vec::new()
}

/// Takes the data set unless a newer reload was asked for meanwhile.
fn loaded(
    app: &mut App,
    id: RequestId,
    connections: Vec<Connection>,
    users: Vec<User>,
    audit_mark: i64,
    now: UnixTime,
) -> Vec<Command> {
    if app.reload.is_some_and(|want| want != id) {
        return Vec::new();
    }
    app.reload = None;
    watch::loaded(app, audit_mark);
    let text = format!(
        "loaded {}, {}",
        counted(connections.len(), "connection", "connections"),
        counted(users.len(), "user", "users")
    );
    app.note(now, Level::Info, text);
    let keep = app.selected_id();
    app.replace_data(connections, users, now);
    // The same row stays selected: its secrets may have changed on disk.
    match (keep, app.selected_id()) {
        (Some(k), Some(s)) if k == s => detail::reload_if_selected(app, k),
        _ => detail::selection_changed(app, now),
    }
}

/// The run loop could not send `cmd`: forget it and say so.
pub(super) fn not_sent(
    app: &mut App,
    cmd: &Command,
    why: SendFailure,
    now: UnixTime,
) -> Vec<Command> {
    let id = cmd.id();
    if watch::not_sent(app, id) {
        return Vec::new();
    }
    let what = app
        .pending
        .remove(&id)
        .map_or_else(|| "request".to_string(), |p| format!("{} {}", p.op, p.what));
    app.busy.retain(|_, b| *b != id);
    detail::forget(app, id);
    if app.reload == Some(id) {
        app.reload = None;
    }
    let text = match why {
        SendFailure::Busy => format!("worker busy: {what} not sent, try again"),
        SendFailure::Closed => format!("worker stopped: {what} not sent"),
    };
    app.note(now, Level::Error, text);
    Vec::new()
}
