//! Staying true to the store while other processes write to it: a cron job
//! refreshing tokens, a script linking connections, a second dashboard.
//!
//! Every write is audited, so the audit log's ids are a change feed. Every
//! other tick the screen asks for the connections named by lines after the
//! last one it took in, and merges those newer than what it shows. Its own
//! results arrive as worker events anyway; they come back through here too,
//! at the same version, and are skipped. A bulk refresh of ours writes
//! thousands of lines a second, so nothing is asked while one runs: the
//! lines wait in the log.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::text::counted;
use crate::domain::{ConnectionId, UnixTime, User, UserId};
use crate::store::{Changes, Lease};
use crate::worker::{Command, NextTry, RequestId};

use super::super::activity::Level;
use super::super::app::{App, InFlight, Told};
use super::{data, detail, users};

/// Ask every this many ticks (seconds).
const EVERY_TICKS: u64 = 2;

/// A full load read everything up to audit line `audit_mark`.
pub(super) fn loaded(app: &mut App, audit_mark: i64) {
    app.watch.seen = app.watch.seen.max(Some(audit_mark));
}

/// The tick's ask, when one is due and none is running.
pub(super) fn ask(app: &mut App) -> Option<Command> {
    let after = app.watch.seen?;
    let bulk = app.pending.values().any(InFlight::bulk);
    let idle = app.watch.in_flight.is_none() && !bulk && app.reload.is_none();
    if !idle || !app.ticks.is_multiple_of(EVERY_TICKS) {
        return None;
    }
    let id = app.next_request();
    app.watch.in_flight = Some(id);
    let users_after = app.users.iter().map(|u| u.id).max().unwrap_or(UserId(0));
    Some(Command::Changes {
        id,
        after,
        users_after,
    })
}

pub(super) fn changed(
    app: &mut App,
    id: RequestId,
    changes: Result<Changes, String>,
    now: UnixTime,
) -> Vec<Command> {
    if app.watch.in_flight != Some(id) {
        return Vec::new();
    }
    app.watch.in_flight = None;
    let changes = match changes {
        Ok(c) => c,
        Err(why) => {
            if !std::mem::replace(&mut app.watch.failing, true) {
                let text = format!("cannot see other processes' changes: {why}");
                app.note(now, Level::Warn, text);
            }
            return Vec::new();
        }
    };
    app.watch.failing = false;
    app.watch.seen = app.watch.seen.max(Some(changes.last));
    let elsewhere: std::collections::HashMap<ConnectionId, Lease> =
        (changes.leases.into_iter()).map(|l| (l.conn, l)).collect();
    if elsewhere != app.watch.elsewhere {
        app.watch.elsewhere = elsewhere;
        app.dirty = true;
    }
    let (mut added, mut changed, mut cmds) = (0, 0, Vec::new());
    let selected = app.selected_id();
    for conn in changes.connections {
        let (id, version) = (conn.id, conn.version);
        let shown = app.connection(id).map(|c| c.version);
        if shown.is_some_and(|v| v >= version) {
            continue;
        }
        // A row of ours whose result is still on its way is no news.
        if !app.busy.contains_key(&id) {
            match shown {
                None => added += 1,
                Some(_) => changed += 1,
            }
        }
        // Renewed elsewhere: the scheduler lets go of the row's back-off
        // (`BackedOff::stands`), and its `auto` line says what comes next.
        let renewed = conn.flags.last_error.is_none();
        if renewed && matches!(app.retries.get(&id), Some(NextTry::After(_))) {
            app.retries.remove(&id);
        }
        cmds.extend(data::upsert(app, conn, now));
        if selected == Some(id) {
            cmds.extend(detail::reload_if_selected(app, id));
        }
    }
    let (new_users, gone_users) = take_users(app, changes.users, changes.users_complete);
    if added + changed + new_users + gone_users > 0 {
        tell(app, [added, changed, new_users, gone_users], now);
    }
    cmds
}

/// Says what other processes changed: on the activity pane's last line when
/// it is the one counting them already, its numbers added to; else on a
/// new line.
fn tell(app: &mut App, counts: [usize; 4], now: UnixTime) {
    let last = app.activity.last().and_then(|l| l.progress_of);
    let mut told = match app.watch.told {
        Some(told) if Some(told.line) == last => told,
        _ => Told {
            line: app.next_request(),
            since: now,
            counts: [0; 4],
        },
    };
    for (total, n) in told.counts.iter_mut().zip(counts) {
        *total += n;
    }
    app.watch.told = Some(told);
    let mut text = summary(told.counts);
    if told.since != now {
        text.push_str(&format!(
            " (since {}, latest {})",
            told.since.clock(),
            now.clock()
        ));
    }
    app.activity
        .progress(told.since, told.line, Level::Info, text, false);
    app.dirty = true;
}

/// Takes in the users the screen did not know, and with `complete` (every
/// user the store keeps) lets go of those it no longer does; how many came
/// and went.
fn take_users(app: &mut App, found: Vec<User>, complete: bool) -> (usize, usize) {
    let keep = users::selected(app).map(|u| u.id);
    let (added, gone) = if complete {
        // By id and name: the store gives a removed last user's id to the
        // next one added.
        let was: FxHashMap<UserId, &str> =
            app.users.iter().map(|u| (u.id, u.name.as_str())).collect();
        let is: FxHashMap<UserId, &str> = found.iter().map(|u| (u.id, u.name.as_str())).collect();
        let new_in = |a: &FxHashMap<UserId, &str>, b: &FxHashMap<UserId, &str>| {
            a.iter()
                .filter(|(id, name)| b.get(id) != Some(name))
                .count()
        };
        let counts = (new_in(&is, &was), new_in(&was, &is));
        app.users = found;
        counts
    } else {
        // A set, not a scan per user: there may be 10 000.
        let known: FxHashSet<UserId> = app.users.iter().map(|u| u.id).collect();
        let had = app.users.len();
        app.users
            .extend(found.into_iter().filter(|u| !known.contains(&u.id)));
        (app.users.len() - had, 0)
    };
    if added + gone > 0 {
        data::sort_users(&mut app.users);
        users::refilter(app, keep);
        app.dirty = true;
    }
    (added, gone)
}

/// `counts`, as [`Told`] keeps them, in words.
fn summary(counts: [usize; 4]) -> String {
    const NOUNS: [(&str, &str); 4] = [
        ("connection added", "connections added"),
        ("connection changed", "connections changed"),
        ("user added", "users added"),
        ("user removed", "users removed"),
    ];
    let parts: Vec<String> = (counts.into_iter().zip(NOUNS))
        .filter(|(n, _)| *n > 0)
        .map(|(n, (one, many))| counted(n, one, many))
        .collect();
    format!("by another process: {}", parts.join(", "))
}

/// Whether `id` was the watch's ask, which the run loop could not send: it
/// is asked again on a later tick, without a word (a full queue is the
/// worker catching up, not news).
pub(super) fn not_sent(app: &mut App, id: RequestId) -> bool {
    if app.watch.in_flight != Some(id) {
        return false;
    }
    app.watch.in_flight = None;
    true
}
