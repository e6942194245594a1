//! The bottom line: the most useful keys for the current mode, read from
//! the keymap so an override shows here too. While filtering it is the
//! filter's input line.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::{Action, ColonLine};
use super::super::app::App;
use super::super::forms::Mode;
use super::super::line_edit::LineEdit;
use super::super::view::SortKey;
use super::theme::Theme;
use crate::domain::UnixTime;

/// The row's own keys come first after moving, so a narrow screen keeps
/// them over the general ones; those the selected row does not take are
/// left out (see [`App::offers`]). Esc is offered as what it clears, the
/// filter first: a narrowed table says how to widen it.
const TABLE_KEYS: [(Action, &str); 17] = [
    (Action::Down, "down"),
    (Action::Up, "up"),
    (Action::CancelOp, "cancel"),
    (Action::Exchange, "exchange"),
    (Action::Refresh, "refresh"),
    (Action::LiftWait, "lift wait"),
    (Action::Login, "log in again"),
    (Action::Logout, "logout"),
    (Action::Delink, "delink"),
    (Action::Filter, "filter"),
    (Action::Back, CLEARS),
    (Action::CycleSort, "sort"),
    (Action::ToggleDetail, "detail"),
    (Action::RefreshAll, "refresh all"),
    (Action::Add, "add"),
    (Action::Help, "help"),
    (Action::Quit, "quit"),
];

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let line = match &app.mode {
        Mode::Filter => return filter_line(app, frame, area, theme),
        Mode::Command(line) => return command_line(line, frame, area, theme),
        Mode::Normal if app.users_view.is_some() => from_keymap(app, &USERS_KEYS, area, now, theme),
        Mode::Normal if !app.marks.is_empty() => from_keymap(app, &MARKED_KEYS, area, now, theme),
        Mode::Normal if app.detail_open() => from_keymap(app, &DETAIL_KEYS, area, now, theme),
        Mode::Normal => from_keymap(app, &TABLE_KEYS, area, now, theme),
        Mode::Help { .. } => from_keymap(app, &HELP_KEYS, area, now, theme),
        Mode::ConfirmLogout { .. } | Mode::ConfirmQuit => {
            fixed(&[("y", "yes"), ("n/enter/esc", "no")], theme)
        }
        Mode::ConfirmDelink(d) => fixed(&[("enter", d.ends.verb()), ("esc", "cancel")], theme),
        Mode::Add(_) | Mode::ClientCreds(_) => fixed(
            &[
                ("tab", "next field"),
                ("←/→", "provider"),
                ("enter", "submit"),
                ("esc", "cancel"),
            ],
            theme,
        ),
        Mode::LoginUrl { .. } => fixed(&[("x", "cancel the login"), ("esc", "close")], theme),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// With the detail pane open, what it adds: the reveal its masked tokens
/// need, which was found only in the help before, and its scroll; the row's
/// own keys before the pane's scroll, as in the table's.
const DETAIL_KEYS: [(Action, &str); 15] = [
    (Action::Down, "down"),
    (Action::Up, "up"),
    (Action::CancelOp, "cancel"),
    (Action::Reveal, "reveal tokens"),
    (Action::Exchange, "exchange"),
    (Action::Refresh, "refresh"),
    (Action::LiftWait, "lift wait"),
    (Action::Login, "log in again"),
    (Action::Logout, "logout"),
    (Action::Delink, "delink"),
    (Action::DetailDown, "scroll detail"),
    (Action::ToggleDetail, "hide detail"),
    (Action::CopyIds, "copy ids"),
    (Action::Help, "help"),
    (Action::Quit, "quit"),
];

/// While rows are marked, what acts on them, with their count said in the
/// table's title; a key none of them takes is left out.
const MARKED_KEYS: [(Action, &str); 12] = [
    (Action::Exchange, "exchange marked"),
    (Action::Refresh, "refresh marked"),
    (Action::Logout, "logout marked"),
    (Action::Delink, "delink marked"),
    (Action::Back, CLEARS),
    (Action::Mark, "mark"),
    (Action::MarkRange, "mark to here"),
    (Action::CopyIds, "copy marked ids"),
    (Action::Down, "down"),
    (Action::Filter, "filter"),
    (Action::Help, "help"),
    (Action::Quit, "quit"),
];

/// Esc's entry in the table, said as what it would clear now
/// ([`App::esc_clears`]): a filter hiding marked rows goes before them.
const CLEARS: &str = "clear";

/// `a` adds for the selected user (the form opens with the name filled in).
const USERS_KEYS: [(Action, &str); 7] = [
    (Action::Down, "down"),
    (Action::Filter, "find"),
    (Action::ToggleDetail, "show connections"),
    (Action::Add, "add for this user"),
    (Action::Delink, "disconnect user"),
    (Action::ToggleUsers, "table"),
    (Action::Back, "back"),
];

const HELP_KEYS: [(Action, &str); 3] = [
    (Action::Down, "scroll"),
    (Action::Up, "up"),
    (Action::Back, "close"),
];

/// Kept on a narrow screen when the keys before them are dropped: with
/// `?` in sight every other key is one press away.
const PINNED: [Action; 2] = [Action::Help, Action::Quit];

/// The first key of each action, so a `[keys]` override shows here too.
/// Whole entries only: when they do not all fit, the last unpinned ones
/// go first, never half a label.
fn from_keymap(
    app: &App,
    keys: &[(Action, &str)],
    area: Rect,
    now: UnixTime,
    theme: Theme,
) -> Line<'static> {
    let mut shown: Vec<(Action, String, &str)> = keys
        .iter()
        .filter(|(action, _)| !(app.readonly && action.writes()))
        .filter(|(action, _)| app.offers(*action, now) != Some(false))
        .filter_map(|&(action, label)| {
            let key = app.keymap.first_key(action)?;
            let label = match app.esc_clears() {
                Some(clears) if action == Action::Back && label == CLEARS => clears.label(),
                _ => label,
            };
            Some((action, key.to_string(), label))
        })
        .collect();
    let width = |shown: &[(Action, String, &str)]| -> usize {
        let items: usize = shown
            .iter()
            .map(|(_, key, label)| Line::from(format!("{key} {label}")).width())
            .sum();
        items + Span::raw(SEPARATOR).width() * shown.len().saturating_sub(1)
    };
    while width(&shown) > usize::from(area.width) {
        let Some(last) = shown.iter().rposition(|(a, ..)| !PINNED.contains(a)) else {
            break;
        };
        shown.remove(last);
    }
    let mut spans = Vec::new();
    for (_, key, label) in shown {
        push(&mut spans, key, label, theme);
    }
    Line::from(spans)
}

const SEPARATOR: &str = " · ";

fn fixed(keys: &[(&str, &str)], theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (k, label) in keys {
        push(&mut spans, (*k).to_string(), label, theme);
    }
    Line::from(spans)
}

fn push(spans: &mut Vec<Span<'static>>, key: String, label: &str, theme: Theme) {
    if !spans.is_empty() {
        spans.push(Span::styled(SEPARATOR, theme.dim()));
    }
    spans.push(Span::styled(key, theme.key()));
    spans.push(Span::raw(format!(" {label}")));
}

fn command_line(line: &LineEdit, frame: &mut Frame, area: Rect, theme: Theme) {
    let (shown, cursor) = line.view(usize::from(area.width.saturating_sub(1)));
    let mut spans = vec![Span::styled(":", theme.key()), Span::raw(shown.to_owned())];
    if let Some(hint) = colon_hint(line.text()) {
        spans.push(Span::styled(hint, theme.key()));
    }
    spans.push(Span::styled(
        "   tab completes · enter runs · esc drops",
        theme.dim(),
    ));
    let text = Line::from(spans);
    frame.render_widget(Paragraph::new(text), area);
    field_cursor(frame, area, cursor);
}

/// The terminal's cursor at column `cursor` of a field right of a
/// one-column prompt on `area`'s line.
fn field_cursor(frame: &mut Frame, area: Rect, cursor: usize) {
    let x = area
        .x
        .saturating_add(1 + u16::try_from(cursor).unwrap_or(u16::MAX));
    if x < area.right() {
        frame.set_cursor_position(Position::new(x, area.y));
    }
}

/// What the `:` line will do, read as `update` reads it: for a name being
/// typed, what it could become, so the names need not be known by heart;
/// nothing once it is empty (every action) or whole.
fn colon_hint(typed: &str) -> Option<String> {
    match ColonLine::parse(typed) {
        ColonLine::Empty => None,
        ColonLine::GoTo(id) => Some(format!("   go to connection {id}")),
        ColonLine::TooMany => Some(format!("   {}", ColonLine::TOO_MANY)),
        ColonLine::Run { name, id: Some(id) } => Some(match Action::on_colon_line(name) {
            Some(Action::CycleSort) => match SortKey::from_word(id) {
                Some(key) => format!("   sort by {}", key.label()),
                None => format!("   sort by {}", SortKey::WORDS),
            },
            Some(a) if a.on_row() => format!("   {} connection {id}", a.name()),
            Some(a) => format!("   {} takes no connection id", a.name()),
            None => "   no such action".into(),
        }),
        ColonLine::Run { name, id: None } => {
            // A word Enter already takes (`sort`, `q`) says what it runs.
            if let Some(a) = Action::on_colon_line(name) {
                return (a.name() != name).then(|| format!("   enter runs {}", a.name()));
            }
            let found = Action::completions(name);
            let names: Vec<&str> = found.iter().map(|a| a.name()).collect();
            Some(match names.as_slice() {
                [] => "   no such action".to_owned(),
                names => format!("   {}", names.join(" · ")),
            })
        }
    }
}

fn filter_line(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    // The users view has a filter of its own, over names and emails.
    let field = app.users_view.as_ref().map_or(&app.filter, |v| &v.filter);
    let (shown, cursor) = field.view(usize::from(area.width.saturating_sub(1)));
    let line = Line::from(vec![
        Span::styled("/", theme.key()),
        Span::raw(shown.to_owned()),
        Span::styled(
            "   enter keeps · esc clears · !text keeps the rest",
            theme.dim(),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    field_cursor(frame, area, cursor);
}
