//! The top line: counts by state in words, the data label, READ-ONLY, the clock.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::domain::{StateKind, UnixTime};

use super::super::app::App;
use super::theme::Theme;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let right = right_side(app, now, theme);
    let width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(width)]).areas(area);
    frame.render_widget(Paragraph::new(counts(app, theme)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
}

/// `3 pending · 1 expiring · 9 active`, needs-action states first.
pub(crate) fn counts(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("bankdeck ", theme.title())];
    let mut first = true;
    for kind in StateKind::ALL {
        let n = app.count(kind);
        if n == 0 {
            continue;
        }
        if !first {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        first = false;
        spans.push(Span::styled(
            format!("{n} {}", kind.label()),
            theme.state(kind),
        ));
    }
    if first {
        spans.push(Span::styled("no connections", theme.dim()));
    }
    Line::from(spans)
}

fn right_side(app: &App, now: UnixTime, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(format!("  {} ", app.data_label))];
    if app.readonly {
        spans.push(Span::styled("READ-ONLY ", theme.alert()));
    }
    spans.push(Span::styled(format!("{} UTC", now.clock()), theme.title()));
    Line::from(spans)
}
