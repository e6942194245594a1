//! The users view: each user with their connections counted by state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::domain::text::{columns, cut};
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
    let (name_w, email_w) = text_widths(&app.users, area.width);
    // Already in the view's order (see `update::data::sort_users`).
    let rows: Vec<Row> = (view.shown.iter())
        .enumerate()
        .skip(offset)
        .take(rows_on_screen)
        .filter_map(|(pos, &i)| Some((pos, app.users.get(i)?)))
        .map(|(pos, u)| user_row(app, u, (name_w, email_w), pos == view.cursor, theme))
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Length(name_w),
        Constraint::Length(email_w),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    let header = Row::new(["", "user", "email", "conns", "by state"]).style(theme.title());
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

/// The name and email columns: as wide as the widest of every user's (not
/// only those on screen, so they hold still while scrolling), each within a
/// share of the screen; the counts by state take the rest. Measured a frame
/// rather than kept up to date: a pass over two strings per user, with no
/// allocation, for frames drawn on a key or once a second.
fn text_widths(users: &[User], width: u16) -> (u16, u16) {
    let widest = |text: &mut dyn Iterator<Item = &str>| text.map(columns).max().unwrap_or(0);
    let names = widest(&mut users.iter().map(|u| u.name.as_str()));
    let emails = widest(&mut users.iter().map(|u| u.email.as_deref().unwrap_or("—")));
    let room = usize::from(width.saturating_sub(2 + 4 + 1 + 5));
    let name = names.max("user".len()).min(32).min(room / 4);
    let email = emails.max("email".len()).min(40).min(room / 3);
    let cells = |w: usize| u16::try_from(w).unwrap_or(u16::MAX);
    (cells(name), cells(email))
}

fn user_row(app: &App, u: &User, widths: (u16, u16), selected: bool, theme: Theme) -> Row<'static> {
    let counts = app.states.of_user(u.id);
    let total: usize = counts.map_or(0, |c| c.iter().sum());
    let (name_w, email_w) = (usize::from(widths.0), usize::from(widths.1));
    let row = Row::new(vec![
        Cell::from(if selected { "›" } else { " " }),
        Cell::from(cut(&u.name, name_w)),
        Cell::from(cut(u.email.as_deref().unwrap_or("—"), email_w)),
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
