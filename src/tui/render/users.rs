//! The users view: each user with their connections counted by state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::domain::{StateKind, User};

use super::super::app::App;
use super::super::layout;
use super::theme::Theme;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let Some(view) = &app.users_view else {
        return;
    };
    let mut title = vec![
        Span::styled(" users ", theme.title()),
        Span::raw(format!("{} of {} ", view.shown.len(), app.users.len())),
    ];
    if !view.filter.is_empty() {
        title.push(Span::raw(format!("· filter: \"{}\" ", view.filter.text())));
    }
    let block = Block::bordered().title(Line::from(title));
    let rows_on_screen = usize::from(layout::table_body(area).height).max(1);
    let offset = layout::keep_visible(view.offset, view.cursor, rows_on_screen, view.shown.len());
    // Already in the view's order (see `update::data::sort_users`).
    let rows: Vec<Row> = (view.shown.iter())
        .enumerate()
        .skip(offset)
        .take(rows_on_screen)
        .filter_map(|(pos, &i)| Some((pos, app.users.get(i)?)))
        .map(|(pos, u)| user_row(app, u, pos == view.cursor, theme))
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Fill(3),
    ];
    let header = Row::new(["", "user", "email", "conns", "by state"]).style(theme.title());
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn user_row(app: &App, u: &User, selected: bool, theme: Theme) -> Row<'static> {
    let counts = app.states.of_user(u.id);
    let total: usize = counts.map_or(0, |c| c.iter().sum());
    let row = Row::new(vec![
        Cell::from(if selected { "›" } else { " " }),
        Cell::from(u.name.clone()),
        Cell::from(u.email.clone().unwrap_or_else(|| "—".into())),
        Cell::from(total.to_string()),
        Cell::from(by_state(counts, theme)),
    ]);
    match selected {
        true => row.style(theme.selected()),
        false => row,
    }
}

fn by_state(counts: Option<&[usize; StateKind::ALL.len()]>, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let Some(counts) = counts else {
        return Line::styled("no connections", theme.dim());
    };
    for (kind, n) in StateKind::ALL.iter().zip(counts) {
        if *n == 0 {
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::styled(
            format!("{n} {}", kind.label()),
            theme.state(*kind),
        ));
    }
    Line::from(spans)
}
