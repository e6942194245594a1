//! Operations on connections: the checks, the confirmation dialogs they
//! open, and the commands they send.
//!
//! Every command gets a fresh id and an entry in `pending`, and its rows
//! show a spinner until the result arrives; a row already busy refuses a
//! second operation here (the worker would queue it behind the first).

use crate::domain::text::counted;
use crate::domain::{
    ConnState, Connection, ConnectionId, DueForRefresh, Ending, OpKind, ProviderKind, UnixTime,
    UserId,
};
use crate::worker::{Command, RequestId, not_configured};

use super::super::action::Action;
use super::super::activity::Level;
use super::super::app::{App, InFlight, Sent};
use super::super::forms::{AddForm, CredsField, CredsForm, DelinkDialog, Ends, Mode};
use super::super::line_edit::LineEdit;
use super::{marks, rules};

pub(super) type Rule = fn(&Connection, &ConnState, UnixTime) -> Result<(), String>;

/// The keys that start an operation on a row (the selected one, or the
/// marked ones), the operation each sends, and the rule a row must pass:
/// one table for the key, the key bar's offer, and the marks' dialog,
/// which checks every row again by its operation.
const ROW_OPS: [(Action, OpKind, Rule); 4] = [
    (Action::Exchange, OpKind::Exchange, rules::exchange),
    (Action::Refresh, OpKind::Refresh, rules::refresh),
    (Action::Logout, OpKind::Logout, rules::logout),
    (Action::Delink, OpKind::Delink, rules::delink),
];

/// The operation `action` starts on a row, and its rule.
pub(super) fn row_op(action: Action) -> Option<(OpKind, Rule)> {
    let &(_, op, rule) = ROW_OPS.iter().find(|(a, ..)| *a == action)?;
    Some((op, rule))
}

/// The rule a row must pass for `op`.
pub(super) fn rule_of(op: OpKind) -> Option<Rule> {
    let &(.., rule) = ROW_OPS.iter().find(|(_, o, _)| *o == op)?;
    Some(rule)
}

pub(super) fn run(app: &mut App, action: Action, now: UnixTime) -> Vec<Command> {
    if let Some(cmds) = marks::act_for(app, now, action) {
        return cmds;
    }
    if let Some((op, rule)) = row_op(action) {
        return match op {
            // Ends for good: asked first.
            OpKind::Logout | OpKind::Delink => ask(app, now, op, rule),
            _ => single(app, now, op, rule),
        };
    }
    match action {
        Action::Login => login_again(app, now),
        Action::RefreshAll => refresh_all(app, now),
        Action::Add => open_add(app, now),
        Action::ClientCredentials => open_creds(app, now),
        Action::CancelOp => cancel(app, now),
        Action::LiftWait => lift_wait(app, now),
        _ => Vec::new(),
    }
}

impl App {
    /// Whether the key bar offers `action` for the selected row: an
    /// operation only where its rule lets it start (no exchange on an OAuth
    /// row), a cancel only where something runs, a reveal only where a
    /// secret is held (as far as is known). `None` for an action that
    /// does not depend on the row. The keys still work either way, and say
    /// why they refuse.
    pub(crate) fn offers(&self, action: Action, now: UnixTime) -> Option<bool> {
        let rule: Rule = match action {
            // In the users view, `D` ends the selected user's connections,
            // as Enter shows and `a` adds for them: with none, nothing to act on.
            Action::Delink | Action::ToggleDetail | Action::Add if self.users_view.is_some() => {
                return Some(super::users::selected(self).is_some());
            }
            Action::Login => rules::login,
            Action::CancelOp => {
                let rowless_login = self.pending.values().any(InFlight::rowless_login);
                return Some(
                    rowless_login
                        || self
                            .selected()
                            .is_some_and(|c| self.busy.contains_key(&c.id)),
                );
            }
            // With no row to move to or open, the key bar offers neither;
            // on the last row it offers up, not down.
            Action::Down if self.users_view.is_none() => {
                return Some(self.cursor + 1 < self.order.len());
            }
            Action::Up if self.users_view.is_none() => {
                return Some(self.order.len() > 1 && self.cursor + 1 == self.order.len());
            }
            Action::LiftWait => {
                return Some((self.selected()).is_some_and(|c| self.waiting(&c.provider, now)));
            }
            Action::ToggleDetail
            | Action::RefreshAll
            | Action::CopyIds
            | Action::Mark
            | Action::MarkRange
                if self.users_view.is_none() =>
            {
                return Some(self.selected().is_some());
            }
            // Until the row's secrets are read, offered: most rows hold some.
            // Not where the screen leaves the pane no room to show them.
            Action::Reveal => {
                let selected = self.selected().map(|c| c.id);
                let none_held = (self.detail.loaded.as_ref())
                    .is_some_and(|(id, d)| Some(*id) == selected && d.secrets.none_held());
                let room = super::super::layout::on_screen(self).detail.is_some();
                return Some(selected.is_some() && !none_held && room);
            }
            // In the table, Esc is offered as what it clears; with nothing
            // to clear it does nothing there.
            Action::Back if self.users_view.is_none() && matches!(self.mode, Mode::Normal) => {
                return Some(self.esc_clears().is_some());
            }
            _ => row_op(action)?.1,
        };
        if !self.marks.is_empty() && action != Action::Login {
            return Some(marks::any_takes(self, now, rule));
        }
        Some(
            self.selected()
                .is_some_and(|c| refusal(self, c, now, rule).is_none()),
        )
    }
}

/// Why an operation under `rule` may not start on `c` now, if it may not:
/// the rule's own reason, a provider the configuration lacks, or one
/// already running on the row.
pub(super) fn refusal(app: &App, c: &Connection, now: UnixTime, rule: Rule) -> Option<String> {
    let state = ConnState::derive(c, now, app.warn_secs);
    match rule(c, &state, now) {
        Err(why) => Some(why),
        Ok(()) if !app.configured(&c.provider) => Some(not_configured(
            &c.provider,
            app.providers.iter().map(|(name, _)| name.as_str()),
        )),
        Ok(()) if app.busy.contains_key(&c.id) => Some("an operation is already running".into()),
        // The worker would hold it unsent; said here, the key bar offers
        // the lift instead, and no "sent" line comes before "not sent". A
        // close that asks the provider nothing goes through.
        Ok(()) if !Ending::sends_nothing(c, now) => {
            (held_by_wait(app, &c.provider, now)).map(|why| {
                let lift = app.keymap.describe_keys(Action::LiftWait);
                format!("{why} ({lift} lifts the wait)")
            })
        }
        Ok(()) => None,
    }
}

/// The wait `provider` asked for, while it holds: the worker would keep
/// anything asked of it unsent, so it is said before a "sent" line.
pub(super) fn held_by_wait(app: &App, provider: &str, now: UnixTime) -> Option<String> {
    app.waiting(provider, now).then(|| {
        format!(
            "{provider} asked to be sent nothing until {}",
            app.waits[provider].clock_from(now)
        )
    })
}

/// The selected connection, if an operation may start on it.
fn checked(app: &mut App, now: UnixTime, op: OpKind, rule: Rule) -> Option<ConnectionId> {
    let Some(c) = app.selected() else {
        app.note(now, Level::Warn, format!("{op}: no connection selected"));
        return None;
    };
    let (id, name) = (c.id, c.name());
    match refusal(app, c, now, rule) {
        // A key held down refuses as often as it repeats: one counted
        // line, not two hundred that push everything else off the pane.
        Some(why) => {
            let tail = format!(" refused: {why}");
            app.note_about(now, Level::Warn, &op.to_string(), &name, &tail);
            None
        }
        None => Some(id),
    }
}

fn single(app: &mut App, now: UnixTime, op: OpKind, rule: Rule) -> Vec<Command> {
    let Some(conn) = checked(app, now, op, rule) else {
        return Vec::new();
    };
    vec![send_on(app, now, op, conn, Sent::Alone)]
}

/// Sends a one-connection operation and marks its row busy.
pub(super) fn send_on(
    app: &mut App,
    now: UnixTime,
    op: OpKind,
    conn: ConnectionId,
    sent: Sent,
) -> Command {
    let what = app
        .connection(conn)
        .map(Connection::name)
        .unwrap_or_default();
    let id = track(app, now, op, vec![conn], what, sent);
    match op {
        OpKind::Exchange => Command::Exchange { id, conn },
        OpKind::Logout => Command::Logout { id, conn },
        OpKind::Delink => Command::Delink { id, conn },
        _ => Command::Refresh { id, conn },
    }
}

/// Registers a command about to be sent: fresh id, pending entry, busy rows.
pub(super) fn track(
    app: &mut App,
    now: UnixTime,
    op: OpKind,
    conns: Vec<ConnectionId>,
    what: String,
    sent: Sent,
) -> RequestId {
    // Asked before the row is ours: the worker waits for another
    // process's lease before it sends anything, and may send nothing at
    // all when that process's answer already did the work.
    let elsewhere = match conns.as_slice() {
        [c] => (app.busy_elsewhere(*c, now)).map(|l| crate::store::holder::waiting_for(&l.holder)),
        many => {
            let held = (many.iter())
                .filter(|c| app.busy_elsewhere(**c, now).is_some())
                .count();
            let (waits, them) = if held == 1 {
                ("waits", "it")
            } else {
                ("wait", "them")
            };
            (held > 0).then(|| {
                let rows = counted(held, "row", "rows");
                format!("sent; {rows} {waits} first for another process at work on {them}")
            })
        }
    };
    let id = app.next_request();
    for c in &conns {
        app.busy.insert(*c, id);
    }
    // A login sends nothing until the browser comes back with a code: the
    // first thing it does is wait. A pending code's delink begins with the
    // exchange the worker runs first, whose request is the one that goes.
    let pending = |c: &ConnectionId| {
        app.connection(*c)
            .is_some_and(|c| Ending::of(c, now) == Ending::ExchangeThenDelink)
    };
    let unissued = |c: &ConnectionId| {
        app.connection(*c)
            .is_some_and(|c| Ending::sends_nothing(c, now))
    };
    let begun = match (op, elsewhere.as_deref()) {
        (OpKind::Login, _) => "waiting for the browser",
        (_, Some(waiting)) => waiting,
        // A link stores the payload and asks no provider anything.
        (OpKind::Link, _) => "storing",
        (OpKind::Delink, _) if conns.iter().any(pending) => {
            "sent (its pending code is exchanged first)"
        }
        (OpKind::Delink, _) if conns.iter().all(unissued) => "closing (nothing is sent to Dapi)",
        _ => "sent",
    };
    app.note_sent(sent, now, Level::Info, op, &what, &format!(": {begun}"));
    let entry = InFlight {
        op,
        conns,
        what,
        sent,
        told_whom: elsewhere.is_some(),
    };
    app.pending.insert(id, entry);
    id
}

/// `W`: the selected row's provider is sent to again before the wait it
/// asked for ends, by every process on the store. No dialog: should the
/// provider still refuse, its next 429 asks for the wait again.
fn lift_wait(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(provider) = app.selected().map(|c| c.provider.clone()) else {
        app.note(now, Level::Warn, "lift_wait: no connection selected");
        return Vec::new();
    };
    if !app.waiting(&provider, now) {
        let text = format!(
            "lift_wait: {}",
            crate::domain::ProviderWait::nothing_to_lift(&provider)
        );
        app.note(now, Level::Warn, text);
        return Vec::new();
    }
    vec![Command::LiftWait {
        id: app.next_request(),
        provider,
    }]
}

/// `L`: the browser login the add form would start for the row's user and
/// provider. The same account's consent renews the row in place, so it
/// shows busy until the login has an outcome.
fn login_again(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(conn) = checked(app, now, OpKind::Login, rules::login) else {
        return Vec::new();
    };
    let Some(c) = app.connection(conn) else {
        return Vec::new();
    };
    let (provider, user) = (c.provider.clone(), c.user.clone());
    let what = format!("{user} at {provider}");
    let id = track(app, now, OpKind::Login, vec![conn], what, Sent::Alone);
    vec![Command::Login {
        id,
        provider,
        user,
        renewing: Some(conn),
    }]
}

/// Sends what ends each row of `plan`, once its dialog is confirmed (a
/// pending Dapi code's delink exchanges it first: the worker's rule).
pub(super) fn end(app: &mut App, now: UnixTime, plan: Vec<(ConnectionId, Ending)>) -> Vec<Command> {
    let mut cmds = Vec::new();
    let sent = match plan.len() {
        1 => Sent::Alone,
        _ => Sent::Together,
    };
    for (conn, asked) in plan {
        // As the row stands now: it may have been delinked or logged out
        // elsewhere while the name was typed.
        let ending = app.connection(conn).map_or(asked, |c| Ending::of(c, now));
        match (ending.op(), ending, asked.op()) {
            (Some(op), _, _) => cmds.push(send_on(app, now, op, conn, sent)),
            // Said, or the dialog closed on nothing at all.
            (None, Ending::Nothing(why), Some(op)) => {
                let what = app
                    .connection(conn)
                    .map(Connection::name)
                    .unwrap_or_default();
                let text = format!(
                    "{op} {what}: nothing sent: {}, by another process since the dialog opened",
                    why.describe()
                );
                app.note(now, Level::Info, text);
            }
            _ => {}
        }
    }
    cmds
}

/// `D` in the users view: a user leaving. Every connection of theirs that
/// something ends, in one dialog that wants the user's name; rows busy or of
/// a provider the configuration lacks are left out and named.
pub(super) fn disconnect(app: &mut App, now: UnixTime, user: UserId, name: String) -> Vec<Command> {
    let mut plan = Vec::new();
    let (mut busy, mut unconfigured) = (0, 0);
    for c in app.conns.iter().filter(|c| c.user_id == user) {
        let ending = Ending::of(c, now);
        if matches!(ending, Ending::Nothing(_)) {
            continue;
        }
        if app.busy.contains_key(&c.id) {
            busy += 1;
        } else if !app.configured(&c.provider) {
            unconfigured += 1;
        } else {
            plan.push((c.id, ending));
        }
    }
    let left = [
        (busy, "busy"),
        (unconfigured, "of a provider not in the configuration"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{} {why}", counted(*n, "connection", "connections")))
    .collect::<Vec<_>>();
    if !left.is_empty() {
        let text = format!("disconnect {name}: left out {}", left.join(", "));
        app.note(now, Level::Warn, text);
    }
    if plan.is_empty() {
        if left.is_empty() {
            let text = format!(
                "disconnect {name}: nothing to end: every connection is delinked, logged out, \
                 an app token, or holds no refresh token"
            );
            app.note(now, Level::Info, text);
        }
        return Vec::new();
    }
    app.mode = Mode::ConfirmDelink(DelinkDialog {
        plan,
        user: name.clone(),
        what: name,
        ends: Ends::User,
        unissued: false,
        typed: LineEdit::default(),
        error: None,
    });
    app.dirty = true;
    Vec::new()
}

/// Logout and delink change something for good: they ask first.
fn ask(app: &mut App, now: UnixTime, op: OpKind, rule: Rule) -> Vec<Command> {
    let Some(conn) = checked(app, now, op, rule) else {
        return Vec::new();
    };
    let Some(c) = app.connection(conn) else {
        return Vec::new();
    };
    let what = c.name();
    app.mode = match op {
        OpKind::Delink => Mode::ConfirmDelink(DelinkDialog {
            plan: vec![(conn, Ending::of(c, now))],
            ends: Ends::Row,
            user: c.user.clone(),
            what,
            unissued: Ending::sends_nothing(c, now),
            typed: LineEdit::default(),
            error: None,
        }),
        _ => Mode::ConfirmLogout {
            conn,
            what,
            app_token: c.grant == crate::domain::Grant::ClientCredentials,
        },
    };
    app.dirty = true;
    Vec::new()
}

/// `R`: one `RefreshMany` for every row shown that is expiring or expired
/// and refreshable, and not already busy.
fn refresh_all(app: &mut App, now: UnixTime) -> Vec<Command> {
    let shown = (app.order.iter())
        .filter_map(|&i| app.conns.get(i))
        .filter(|c| !app.busy.contains_key(&c.id));
    let pick = DueForRefresh::pick(shown, now, app.warn_secs, |p| app.configured(p));
    let conns: Vec<ConnectionId> = pick.due.iter().map(|c| c.id).collect();
    let skipped: usize = pick.unconfigured.values().sum();
    let missing = pick.missing_tables();
    if skipped > 0 {
        let line = format!(
            "refresh all: {} left out, of providers not in the configuration (add {missing})",
            counted(skipped, "row", "rows")
        );
        app.note(now, Level::Warn, line);
    }
    if conns.is_empty() {
        if skipped == 0 {
            let line = nothing_to_send(app, now);
            app.note(now, Level::Info, line);
        }
        return Vec::new();
    }
    let what = format!(
        "{} expiring or expired",
        counted(conns.len(), "row", "rows")
    );
    let id = track(app, now, OpKind::Refresh, conns.clone(), what, Sent::Bulk);
    vec![Command::RefreshMany { id, conns }]
}

/// What `R` says when no row shown is left to send: "nothing" read as
/// "every token is fresh" while the rows due were being refreshed already
/// (a second `R`), or were hidden by the filter or the user picked.
fn nothing_to_send(app: &App, now: UnixTime) -> String {
    let all = DueForRefresh::pick(&app.conns, now, app.warn_secs, |p| app.configured(p));
    if all.due.is_empty() {
        return "refresh all: nothing expiring or expired to refresh".to_owned();
    }
    let running = |c: &&Connection| {
        let id = app.busy.get(&c.id)?;
        Some(app.pending.get(id).map(|f| f.op))
    };
    let ops: Vec<Option<OpKind>> = all.due.iter().filter_map(running).collect();
    let refreshing = ops
        .iter()
        .filter(|&&op| op == Some(OpKind::Refresh))
        .count();
    // Every due row shown is busy, so the rest are hidden.
    let hidden = all.due.len() - ops.len();
    let mut why = Vec::new();
    if refreshing > 0 {
        why.push(format!(
            "{} already being refreshed",
            counted(refreshing, "row due", "rows due")
        ));
    }
    if ops.len() > refreshing {
        why.push(format!(
            "{} busy with another operation",
            counted(ops.len() - refreshing, "row due", "rows due")
        ));
    }
    if hidden > 0 {
        let rows = counted(hidden, "row due", "rows due");
        why.push(format!("{rows} {}", hidden_by(app)));
    }
    format!(
        "refresh all: nothing to send among the rows shown: {}",
        why.join("; ")
    )
}

/// What keeps rows out of the table, and which key brings them back.
pub(super) fn hidden_by(app: &App) -> &'static str {
    match (!app.filter.is_empty(), app.user_scope.is_some()) {
        (true, true) => "hidden by the filter and the user picked (Esc clears them)",
        (true, false) => "hidden by the filter (Esc clears it)",
        (false, true) => "hidden by the user picked (Esc clears it)",
        (false, false) => "not shown",
    }
}

fn open_add(app: &mut App, now: UnixTime) -> Vec<Command> {
    if app.providers.is_empty() {
        app.note(
            now,
            Level::Warn,
            format!("add: {}", super::super::app::NO_PROVIDERS),
        );
        return Vec::new();
    }
    let mut form = AddForm::new(app.providers.clone());
    // Adding from one user's connections, or with a user picked in the
    // users view, is adding for that user.
    let picked = (super::users::selected(app).map(|u| u.name.as_str()))
        .or(app.user_scope.as_ref().map(|(_, name)| name.as_str()));
    if let Some(name) = picked {
        form.user = LineEdit::new(name);
    }
    app.mode = Mode::Add(form);
    app.dirty = true;
    Vec::new()
}

fn open_creds(app: &mut App, now: UnixTime) -> Vec<Command> {
    let providers: Vec<String> = app
        .providers
        .iter()
        .filter(|(_, k)| *k != ProviderKind::Dapi)
        .map(|(n, _)| n.clone())
        .collect();
    if providers.is_empty() {
        let text = "client credentials: no OAuth 2.0 or OIDC provider configured: add one as a \
                    [providers.NAME] table to the config file (`bankdeck config check` says where)";
        app.note(now, Level::Warn, text);
        return Vec::new();
    }
    app.mode = Mode::ClientCreds(CredsForm {
        providers,
        provider: 0,
        focus: CredsField::Provider,
        user: LineEdit::new("app"),
        error: None,
    });
    app.dirty = true;
    Vec::new()
}

/// `x` where the selected row runs nothing: a login waiting for the
/// browser for a user with no row yet (the add form's) has no row to
/// select, and once its dialog was closed nothing on screen could end it
/// but its 5-minute timeout.
fn cancel_a_login(app: &mut App, now: UnixTime) -> Vec<Command> {
    let rowless = (app.pending.iter())
        .find(|(_, f)| f.rowless_login())
        .map(|(id, f)| (*id, f.what.clone()));
    let Some((id, what)) = rowless else {
        app.note(now, Level::Info, "cancel: nothing running on this row");
        return Vec::new();
    };
    app.note(
        now,
        Level::Info,
        format!("cancel: asked the worker to stop the login {what}"),
    );
    vec![Command::Cancel { id }]
}

/// `x`: asks the worker to stop what runs on the selected row.
fn cancel(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(conn) = app.selected_id() else {
        return Vec::new();
    };
    let Some(&id) = app.busy.get(&conn) else {
        return cancel_a_login(app, now);
    };
    // A row of a bulk is one of its many: what stops is the whole bulk,
    // which the operator reads here rather than finds out.
    let what = match (app.pending.get(&id), app.bulk) {
        (Some(f), Some(p)) if f.bulk() && p.id == id => format!(
            "cancel: stopping the refresh of {} this row is part of ({} left; those already \
             sent are left to their answers)",
            counted(p.total, "row", "rows"),
            p.total - p.done
        ),
        (Some(f), _) if f.bulk() => {
            "cancel: stopping the bulk refresh this row is part of (those already sent are left \
             to their answers)"
                .to_owned()
        }
        _ => "cancel: asked the worker to stop the operation".to_owned(),
    };
    app.note(now, Level::Info, what);
    vec![Command::Cancel { id }]
}
