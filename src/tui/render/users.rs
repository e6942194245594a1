//! The users view: each user with their connections counted by state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use crate::domain::text::{columns, cut};
use crate::domain::{StateKind, User};

use super::super::app::App;
use super::super::layout;
use super::rows::{GAP, paint_table};
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
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The counts by state take what is left.
    let fixed = [1, name_w, email_w, 5];
    let used = fixed.iter().sum::<u16>() + GAP * fixed.len() as u16;
    let widths = [1, name_w, email_w, 5, inner.width.saturating_sub(used)];
    let header = ["", "user", "email", "conns", "by state"].map(Line::from);
    // Already in the view's order (see `update::data::sort_users`).
    let rows = (view.shown.iter())
        .enumerate()
        .skip(offset)
        .take(rows_on_screen)
        .filter_map(|(pos, &i)| Some((pos == view.cursor, app.users.get(i)?)))
        .map(|(selected, u)| {
            let cells = user_cells(app, u, (name_w, email_w, widths[4]), selected, theme);
            (selected, cells)
        });
    paint_table(frame.buffer_mut(), inner, &widths, header, rows, theme);
}

/// What the email column shows for a user without one.
const NO_EMAIL: &str = "—";

/// The name and email columns: as wide as the widest of every user's (not
/// only those on screen, so they hold still while scrolling), each within a
/// share of the screen; the counts by state take the rest. Measured a frame
/// rather than kept up to date: a pass over two strings per user, with no
/// allocation, for frames drawn on a key or once a second.
fn text_widths(users: &[User], width: u16) -> (u16, u16) {
    let widest = |text: &mut dyn Iterator<Item = &str>| text.map(columns).max().unwrap_or(0);
    let names = widest(&mut users.iter().map(|u| u.name.as_str()));
    // Measured once for all who have no email: the dash is not ASCII, and
    // measuring it per user was a fifth of the users view's frame.
    let emails =
        widest(&mut users.iter().filter_map(|u| u.email.as_deref())).max(columns(NO_EMAIL));
    let room = usize::from(width.saturating_sub(2 + 4 + 1 + 5));
    let name = names.max("user".len()).min(32).min(room / 4);
    let email = emails.max("email".len()).min(40).min(room / 3);
    let cells = |w: usize| u16::try_from(w).unwrap_or(u16::MAX);
    (cells(name), cells(email))
}

fn user_cells(
    app: &App,
    u: &User,
    widths: (u16, u16, u16),
    selected: bool,
    theme: Theme,
) -> [Line<'static>; 5] {
    let counts = app.states.of_user(u.id);
    let total: usize = counts.map_or(0, |c| c.iter().sum());
    let (name_w, email_w) = (usize::from(widths.0), usize::from(widths.1));
    [
        Line::from(if selected { "›" } else { " " }),
        Line::from(cut(&u.name, name_w)),
        Line::from(cut(u.email.as_deref().unwrap_or(NO_EMAIL), email_w)),
        Line::from(total.to_string()),
        by_state(counts, usize::from(widths.2), theme),
    ]
}

/// "3 active · 1 expiring", as many whole counts as fit in `width`, then
/// "…": cut by the column, the last read "2 logged o" or "1 d".
fn by_state(
    counts: Option<&[usize; StateKind::ALL.len()]>,
    width: usize,
    theme: Theme,
) -> Line<'static> {
    let mut spans = Vec::new();
    let Some(counts) = counts else {
        return Line::styled("no connections", theme.dim());
    };
    let shown: Vec<(StateKind, String)> = (StateKind::ALL.iter().zip(counts))
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| (*kind, format!("{n} {}", kind.label())))
        .collect();
    let mut used = 0;
    for (i, (kind, text)) in shown.iter().enumerate() {
        let sep = if i == 0 { 0 } else { 3 };
        // The last count needs no room for the "…" after it.
        let after = if i + 1 == shown.len() { 0 } else { 2 };
        if used + sep + columns(text) + after > width {
            spans.push(Span::raw(if i == 0 { "…" } else { " …" }));
            break;
        }
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::styled(text.clone(), theme.state(*kind)));
        used += sep + columns(text);
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    /// Whole counts as far as they fit, then "…": never "2 logged o".
    #[test]
    fn the_counts_by_state_are_cut_between_counts() {
        let mut counts = [0; StateKind::ALL.len()];
        counts[0] = 1; // pending
        counts[2] = 3; // expired
        counts[7] = 2; // logged out
        let theme = Theme::new(true);
        let at = |width| text(&by_state(Some(&counts), width, theme));
        assert_eq!(at(80), "1 pending · 3 expired · 2 logged out");
        assert_eq!(at(36), "1 pending · 3 expired · 2 logged out");
        assert_eq!(at(35), "1 pending · 3 expired …");
        assert_eq!(at(23), "1 pending · 3 expired …");
        assert_eq!(at(22), "1 pending …");
        assert_eq!(at(10), "…");
        assert_eq!(text(&by_state(None, 5, theme)), "no connections");
    }
}
