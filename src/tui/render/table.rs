//! The connection table. Only the rows on screen are built: with 100 000
//! connections the cost of a frame is the window, not the list.
//!
//! Columns drop out on narrow terminals (scopes first, then the last
//! operation, then the provider) rather than squeezing every cell unreadable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::domain::time::format_ago;
use crate::domain::{ConnState, Connection, UnixTime};

use super::super::app::App;
use super::super::layout;
use super::theme::Theme;

/// Wide enough for `logged out (access valid 04:12)`; longer states
/// (a failure's message) end in `…` and read in full in the detail pane.
const STATE_WIDTH: u16 = 31;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Mark,
    User,
    Label,
    Provider,
    State,
    Left,
    Scopes,
    LastOp,
}

fn columns(width: u16) -> Vec<(Col, &'static str, Constraint)> {
    let mut cols = vec![
        (Col::Mark, "", Constraint::Length(2)),
        (Col::User, "user", Constraint::Fill(2)),
        (Col::Label, "bank / label", Constraint::Fill(2)),
        (Col::Provider, "provider", Constraint::Fill(2)),
        (Col::State, "state", Constraint::Length(STATE_WIDTH)),
        (Col::Left, "time left", Constraint::Length(16)),
        (Col::Scopes, "scopes", Constraint::Fill(2)),
        (Col::LastOp, "last op", Constraint::Length(LAST_OP_WIDTH)),
    ];
    let drop_order = [(150, Col::Scopes), (120, Col::LastOp), (95, Col::Provider)];
    for (min, col) in drop_order {
        if width < min {
            cols.retain(|(c, _, _)| *c != col);
        }
    }
    cols
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let block = Block::bordered().title(title(app, theme));
    let body = layout::table_body(area);
    let rows_on_screen = usize::from(body.height);
    if app.order.is_empty() {
        let text = Paragraph::new(empty_text(app))
            .style(theme.dim())
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let cols = columns(area.width);
    let offset = layout::keep_visible(app.offset, app.cursor, rows_on_screen, app.order.len());
    let end = (offset + rows_on_screen).min(app.order.len());
    let rows: Vec<Row> = (offset..end)
        .filter_map(|pos| Some((pos, app.conns.get(*app.order.get(pos)?)?)))
        .map(|(pos, c)| {
            let row = Row::new(cells(app, c, &cols, pos == app.cursor, now, theme));
            match pos == app.cursor {
                true => row.style(theme.selected()),
                false => row,
            }
        })
        .collect();
    let header = Row::new(cols.iter().map(|(_, h, _)| Cell::from(*h))).style(theme.title());
    let widths: Vec<Constraint> = cols.iter().map(|(_, _, w)| *w).collect();
    let table = Table::new(rows, widths).header(header).block(block);
    frame.render_widget(table, area);
}

fn title(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![
        Span::styled(" connections ", theme.title()),
        Span::raw(format!("{} of {} ", app.order.len(), app.conns.len())),
        Span::styled(format!("· sort: {} ", app.sort.label()), theme.dim()),
    ];
    if let Some((_, name)) = &app.user_scope {
        spans.push(Span::raw(format!("· user: {name} ")));
    }
    if !app.filter.is_empty() {
        spans.push(Span::raw(format!("· filter: \"{}\" ", app.filter.text())));
    }
    Line::from(spans)
}

fn empty_text(app: &App) -> &'static str {
    match (
        app.reload.is_some() && app.conns.is_empty(),
        app.conns.is_empty(),
    ) {
        (true, _) => "loading…",
        (false, true) => "no connections yet: add one",
        (false, false) if app.filter.is_empty() => {
            "this user has no connections yet (Esc shows every user's)"
        }
        (false, false) => "no connection matches the filter (Esc clears it)",
    }
}

fn cells(
    app: &App,
    c: &Connection,
    cols: &[(Col, &'static str, Constraint)],
    selected: bool,
    now: UnixTime,
    theme: Theme,
) -> Vec<Cell<'static>> {
    let state = ConnState::derive(c, now, app.warn_secs);
    cols.iter()
        .map(|(col, _, _)| match col {
            Col::Mark => Cell::from(mark(app, c, selected)),
            Col::User => Cell::from(c.user.clone()),
            Col::Label => Cell::from(c.label.clone()),
            Col::Provider => Cell::from(c.provider.clone()),
            Col::State => {
                let text = fit(state.describe(now), usize::from(STATE_WIDTH));
                Cell::from(Span::styled(text, theme.state(state.kind())))
            }
            Col::Left => Cell::from(state.time_left(now)),
            Col::Scopes => Cell::from(c.scopes.short()),
            Col::LastOp => last_op(c, now, theme),
        })
        .collect()
}

/// `›` on the selection (readable without the reverse style), a spinner
/// while an operation runs on the row.
fn mark(app: &App, c: &Connection, selected: bool) -> String {
    let sel = if selected { "›" } else { " " };
    let spin = match app.busy.contains_key(&c.id) {
        true => SPINNER[(app.ticks % SPINNER.len() as u64) as usize],
        false => " ",
    };
    format!("{sel}{spin}")
}

const LAST_OP_WIDTH: u16 = 20;

/// `refresh ✓ 2m ago`: the mark says the outcome, colour only repeats it.
/// A long name (`client_credentials`) is cut, never the outcome or its age.
fn last_op(c: &Connection, now: UnixTime, theme: Theme) -> Cell<'static> {
    let Some(op) = &c.last_op else {
        return Cell::from("—");
    };
    let (mark, style) = match op.ok {
        true => ("✓", theme.ok()),
        false => ("✗", theme.bad()),
    };
    let ago = format!(" {} ago", format_ago(op.at.secs_until(now)));
    let room = usize::from(LAST_OP_WIDTH).saturating_sub(ago.chars().count() + 2);
    Cell::from(Line::from(vec![
        Span::raw(format!("{} ", fit(op.op.to_string(), room))),
        Span::styled(mark, style),
        Span::raw(ago),
    ]))
}

/// Cuts `text` to `width` characters, marking the cut with `…`.
pub(super) fn fit(text: String, width: usize) -> String {
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
