//! The header: counts by state in words, the data label, READ-ONLY, the clock.
//!
//! One line when everything fits; otherwise the counts move to lines of
//! their own below, since they are what an operator opens the screen for.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

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
            let counts = Paragraph::new(Line::from(counts(app, theme))).wrap(Wrap { trim: true });
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
    let counts: usize = counts(app, theme).iter().map(Span::width).sum();
    // The clock is always 8 columns, so any instant measures the same.
    let right = right_side(app, UnixTime(0), theme).width();
    let width = usize::from(width).max(1);
    match NAME.len() + counts + right <= width {
        true => 1,
        false => 1 + u16::from(counts > width) + 1,
    }
}

/// `3 pending · 1 expiring · 9 active`, needs-action states first.
fn counts(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for kind in StateKind::ALL {
        let n = app.count(kind);
        if n == 0 {
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::styled(" · ", theme.dim()));
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
