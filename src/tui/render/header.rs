//! The header: counts by state in words, the data label, READ-ONLY, the clock.
//!
//! One line when everything fits; otherwise the counts move to lines of
//! their own below, since they are what an operator opens the screen for.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::{StateKind, UnixTime};

use super::super::app::App;
use super::theme::Theme;

/// `bankdeck ` before the counts.
const NAME: &str = "bankdeck ";

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let right = right_side(app, now, theme);
    let right_w = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let [line1, line2] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_w)]).areas(line1);
    let name = Span::styled(NAME, theme.title());
    let left = match area.height {
        0 | 1 => Line::from([vec![name], counts(app, theme)].concat()),
        _ => {
            let counts = Paragraph::new(count_lines(app, theme, line2.width));
            frame.render_widget(counts, line2);
            Line::from(name)
        }
    };
    frame.render_widget(Paragraph::new(left), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

/// Rows the header needs at `width` columns: one when everything fits,
/// else a title line and the counts wrapped below it (at most two rows).
pub(crate) fn height(app: &App, width: u16) -> u16 {
    let theme = Theme::new(true);
    let counts = counts(app, theme);
    let total: usize = counts.iter().map(Span::width).sum();
    // The clock is always 8 columns, so any instant measures the same.
    let right = right_side(app, UnixTime(0), theme).width();
    match NAME.len() + total + right <= usize::from(width).max(1) {
        true => 1,
        false => 1 + u16::from(laid_out(counts, theme, width).len() > 1) + 1,
    }
}

/// The counts in lines of `width` columns, whole counts only, the `·`
/// between two only where both are on the line: wrapped as words, a `·`
/// was left at the end of the first line.
fn count_lines(app: &App, theme: Theme, width: u16) -> Vec<Line<'static>> {
    laid_out(counts(app, theme), theme, width)
}

/// [`count_lines`] of the spans [`counts`] made.
fn laid_out(counts: Vec<Span<'static>>, theme: Theme, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width).max(1);
    let sep = crate::domain::text::columns(SEPARATOR);
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut used = 0;
    for span in counts.into_iter().filter(|s| s.content != SEPARATOR) {
        let w = span.width();
        match lines.last_mut() {
            Some(line) if used + sep + w <= width => {
                line.push(Span::styled(SEPARATOR, theme.dim()));
                line.push(span);
                used += sep + w;
            }
            _ => {
                lines.push(vec![span]);
                used = w;
            }
        }
    }
    lines.into_iter().map(Line::from).collect()
}

const SEPARATOR: &str = " · ";

/// `3 pending · 1 expiring · 9 active`, needs-action states first.
fn counts(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for kind in StateKind::ALL {
        let n = app.count(kind);
        if n == 0 {
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::styled(SEPARATOR, theme.dim()));
        }
        // No-break spaces keep `1 logged out` whole when the counts wrap.
        let text = format!("{n} {}", kind.label()).replace(' ', "\u{a0}");
        spans.push(Span::styled(text, theme.state(kind)));
    }
    if spans.is_empty() {
        spans.push(Span::styled("no connections", theme.dim()));
    }
    spans
}

fn right_side(app: &App, now: UnixTime, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(format!("  {} ", app.data_label))];
    if app.readonly {
        spans.push(Span::styled("READ-ONLY ", theme.alert()));
    }
    spans.push(Span::styled(format!("{} UTC", now.clock()), theme.title()));
    Line::from(spans)
}
