//! Marked rows (k9s's space): rows picked by hand for `e`, `r`, `l` and `D`
//! to act on at once, where no filter says which.
//!
//! Marks stay on their rows through sorting, filtering and reloads (see
//! `marked.rs`). An action takes only the marked rows shown: one
//! the filter hides is left out and said, never acted on out of sight. The
//! rows an action is sent for are unmarked; those it refuses stay marked,
//! to be seen and dealt with.

use crate::domain::text::counted;
use crate::domain::{ConnectionId, Ending, OpKind, UnixTime};
use crate::worker::Command;

use super::super::action::Action;
use super::super::activity::Level;
use super::super::app::{App, Sent};
use super::super::forms::{DelinkDialog, Ends, Mode};
use super::super::line_edit::LineEdit;
use super::ops::{self, Rule};
use super::{actions, nav};

/// How many refused rows the activity line names before it counts the rest.
const NAMED: usize = 2;

/// Space: marks the selected row, or unmarks it, and moves on to the next,
/// so that marking a run of rows is one key each.
pub(super) fn toggle(app: &mut App, now: UnixTime) -> Vec<Command> {
    let (Some(id), Some(&at)) = (app.selected_id(), app.order.get(app.cursor)) else {
        app.note(now, Level::Warn, "mark: no connection selected");
        return Vec::new();
    };
    if !app.marks.remove(at) {
        app.marks.insert(at);
        app.mark_anchor = Some(id);
    }
    app.dirty = true;
    match app.cursor + 1 < app.order.len() {
        true => nav::select(app, app.cursor + 1, now),
        false => Vec::new(),
    }
}

/// Ctrl-space: marks every row shown from the last one marked to the
/// selected one; with none marked, or that one hidden now, the selected
/// row alone.
pub(super) fn range(app: &mut App, now: UnixTime) -> Vec<Command> {
    let Some(here) = app.selected_id() else {
        app.note(now, Level::Warn, "mark_range: no connection selected");
        return Vec::new();
    };
    let from = (app.mark_anchor)
        .and_then(|id| app.by_id.get(&id))
        .and_then(|&at| app.order.iter().position(|&i| i == at))
        .unwrap_or(app.cursor);
    let (first, last) = (from.min(app.cursor), from.max(app.cursor));
    let before = app.marks.len();
    for &i in &app.order[first..=last] {
        app.marks.insert(i);
    }
    app.mark_anchor = Some(here);
    let text = format!(
        "mark_range: {} more marked, {} in all",
        app.marks.len() - before,
        app.marks.len()
    );
    app.note(now, Level::Info, text);
    app.dirty = true;
    Vec::new()
}

/// The marked rows shown, in the table's order.
fn shown(app: &App) -> Vec<ConnectionId> {
    (app.order.iter())
        .filter(|&&i| app.marks.contains(i))
        .filter_map(|&i| app.conns.get(i))
        .map(|c| c.id)
        .collect()
}

/// How many marks the key bar reads to decide whether to offer a key: it
/// is drawn each frame, and 100 000 rows marked that the rule refuses
/// would cost tens of milliseconds a frame to read every time.
const OFFER_LOOKS: usize = 256;

/// Whether the key bar offers `rule`'s key for the marked rows shown: if
/// one of the first [`OFFER_LOOKS`] takes it, or some are left unread (the
/// key then says what it leaves out, as every key does). Which rows are
/// shown is as of the table's last rebuild.
pub(super) fn any_takes(app: &App, now: UnixTime, rule: Rule) -> bool {
    let shown = |at: usize| app.kept.as_ref().is_none_or(|k| k.get(at) == Some(&true));
    app.marks.len() > OFFER_LOOKS
        || (app.marks.rows())
            .filter(|&at| shown(at))
            .filter_map(|at| app.conns.get(at))
            .any(|c| ops::refusal(app, c, now, rule).is_none())
}

/// What `action` does while rows are marked, if it acts on them.
pub(super) fn act_for(app: &mut App, now: UnixTime, action: Action) -> Option<Vec<Command>> {
    if app.marks.is_empty() {
        return None;
    }
    let (op, rule) = ops::row_op(action)?;
    Some(act(app, now, op, rule))
}

/// `op` (exchange, refresh, logout or delink) on the marked rows shown
/// that its rule lets it start on: a refresh is one bulk, as `R` sends,
/// an exchange one operation a row, and a logout or delink asks first.
fn act(app: &mut App, now: UnixTime, op: OpKind, rule: Rule) -> Vec<Command> {
    let shown = shown(app);
    let hidden = app.marks.len().saturating_sub(shown.len());
    let (go, refused) = sort_out(app, now, rule, &shown);
    if let Some(line) = left_out(op, &refused, hidden, app) {
        app.note(now, Level::Warn, line);
    }
    if go.is_empty() {
        if refused.is_empty() && hidden == 0 {
            app.note(now, Level::Info, format!("{op}: no row marked"));
        }
        return Vec::new();
    }
    match op {
        OpKind::Refresh => {
            unmark(app, &go);
            let what = counted(go.len(), "marked row", "marked rows");
            let id = ops::track(app, now, op, go.clone(), what, Sent::Bulk);
            vec![Command::RefreshMany { id, conns: go }]
        }
        OpKind::Logout | OpKind::Delink => ask(app, now, op, go),
        _ => {
            unmark(app, &go);
            (go.into_iter())
                .map(|conn| ops::send_on(app, now, op, conn, Sent::Together))
                .collect()
        }
    }
}

/// The dialog for a logout or delink of marked rows: the count typed, as a
/// user's disconnect wants the name typed, since it ends them all for good.
/// Its words are each row's own ending, which the rule that let `op` start
/// leaves one of: a delink, a pending code's exchange then delink, a
/// logout, or an app token's revocation.
fn ask(app: &mut App, now: UnixTime, op: OpKind, go: Vec<ConnectionId>) -> Vec<Command> {
    let plan = (go.into_iter())
        .filter_map(|id| app.connection(id))
        .map(|c| (c.id, Ending::of(c, now)))
        .collect::<Vec<_>>();
    let count = plan.len().to_string();
    app.mode = Mode::ConfirmDelink(DelinkDialog {
        what: counted(plan.len(), "marked connection", "marked connections"),
        plan,
        user: count,
        ends: Ends::Marked(op),
        unissued: false,
        typed: LineEdit::default(),
        error: None,
    });
    app.dirty = true;
    Vec::new()
}

/// Sends `op` on the dialog's rows once their count is typed, each checked
/// again as it stands now: one delinked or logged out elsewhere meanwhile
/// is said and left, not sent to.
pub(super) fn confirmed(
    app: &mut App,
    now: UnixTime,
    op: OpKind,
    rows: &[ConnectionId],
) -> Vec<Command> {
    let Some(rule) = ops::rule_of(op) else {
        return Vec::new();
    };
    let (go, refused) = sort_out(app, now, rule, rows);
    if let Some(line) = left_out(op, &refused, 0, app) {
        app.note(now, Level::Warn, line);
    }
    unmark(app, &go);
    (go.into_iter())
        .map(|conn| ops::send_on(app, now, op, conn, Sent::Together))
        .collect()
}

/// `rows` split into those `rule` lets an operation start on now, and
/// each of the others named with the reason ("amira / bank: no refresh
/// token held…").
fn sort_out(
    app: &App,
    now: UnixTime,
    rule: Rule,
    rows: &[ConnectionId],
) -> (Vec<ConnectionId>, Vec<String>) {
    let mut go = Vec::new();
    let mut refused = Vec::new();
    for c in rows.iter().filter_map(|&id| app.connection(id)) {
        match ops::refusal(app, c, now, rule) {
            Some(why) => refused.push(format!("{}: {why}", c.name())),
            None => go.push(c.id),
        }
    }
    (go, refused)
}

/// The most text `y` hands the terminal for the marked rows: OSC 52 sends
/// it base64'd in one escape sequence, and terminals drop one past their
/// limit without a word (hterm's is 100 000 bytes, and tmux's buffer
/// limits are of that order), so a long copy would paste nothing at all.
const COPY_BYTES: usize = 64 * 1024;

/// `y` while rows are marked: the ids of the marked rows shown, a line
/// each in the table's order, as many as [`COPY_BYTES`] holds (the first
/// whatever its length: there is no shorter way to copy it). The marks
/// stay: nothing was done to the rows.
pub(super) fn copy_ids(app: &mut App, now: UnixTime) -> Vec<Command> {
    let shown = shown(app);
    let hidden = app.marks.len().saturating_sub(shown.len());
    if shown.is_empty() {
        let why = format!(
            "copy_ids: no marked row shown, {hidden} {}",
            ops::hidden_by(app)
        );
        app.note(now, Level::Warn, why);
        return Vec::new();
    }
    let mut text = String::new();
    let mut copied = 0;
    for c in shown.iter().filter_map(|&id| app.connection(id)) {
        let line = actions::ids_line(c);
        if copied > 0 && text.len() + line.len() + 1 > COPY_BYTES {
            break;
        }
        if copied > 0 {
            text.push('\n');
        }
        text.push_str(&line);
        copied += 1;
    }
    let mut said = format!(
        "copied the ids of {} to the terminal's clipboard (OSC 52), a line each",
        counted(copied, "marked row", "marked rows")
    );
    if copied < shown.len() {
        said.push_str(&format!(
            "; not the last {}: a terminal drops a longer copy whole (copy them with a narrower filter)",
            shown.len() - copied
        ));
    }
    if hidden > 0 {
        said.push_str(&format!("; left out {hidden} {}", ops::hidden_by(app)));
    }
    app.clipboard = Some(text);
    app.note(now, Level::Info, said);
    Vec::new()
}

fn unmark(app: &mut App, sent: &[ConnectionId]) {
    for id in sent {
        if let Some(&at) = app.by_id.get(id) {
            app.marks.remove(at);
        }
    }
    app.dirty = true;
}

/// The marks of the rows `old` held, moved to where `app.conns` (just
/// replaced by a reload) holds the same connections.
pub(super) fn carry_over(app: &mut App, old: &[ConnectionId]) {
    app.marks.clear();
    for id in old {
        if let Some(&at) = app.by_id.get(id) {
            app.marks.insert(at);
        }
    }
}

/// "refresh: left out 3 marked rows, still marked: amira / bank: no refresh
/// token held…; omar / ADCB: …; and 1 more; 2 hidden by the filter (Esc
/// clears it)".
fn left_out(op: OpKind, refused: &[String], hidden: usize, app: &App) -> Option<String> {
    if refused.is_empty() && hidden == 0 {
        return None;
    }
    let mut why: Vec<String> = refused.iter().take(NAMED).cloned().collect();
    if refused.len() > NAMED {
        why.push(format!("and {} more", refused.len() - NAMED));
    }
    if hidden > 0 {
        why.push(format!("{hidden} {}", ops::hidden_by(app)));
    }
    Some(format!(
        "{op}: left out {}, still marked: {}",
        counted(refused.len() + hidden, "marked row", "marked rows"),
        why.join("; ")
    ))
}
