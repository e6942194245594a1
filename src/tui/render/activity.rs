//! The activity pane: the newest worker reports at the bottom, timestamped,
//! each with a text mark (✓ ✗ !) so the outcome reads without colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::super::activity::Level;
use super::super::app::App;
use super::theme::Theme;
use crate::domain::UnixTime;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let mut title = vec![Span::styled(" activity ", theme.title())];
    if let Some(p) = app.bulk {
        title.push(Span::raw(format!(
            "· refreshing {} of {} ",
            p.done, p.total
        )));
    }
    // Kept in sight: the line saying so scrolls away under the failures
    // of what was already in flight.
    for (provider, until) in &app.paused {
        let text = match now < *until {
            true => format!("· {provider} paused until {} ", until.clock()),
            false => format!("· {provider}: trying one "),
        };
        title.push(Span::styled(text, theme.level(Level::Warn)));
    }
    if app.in_flight() > 0 {
        title.push(Span::styled(
            format!("· {} in flight ", app.in_flight()),
            theme.dim(),
        ));
    }
    let block = Block::bordered().title(Line::from(title));
    let rows = usize::from(block.inner(area).height);
    let skip = app.activity.lines().len().saturating_sub(rows);
    let lines: Vec<Line> = app
        .activity
        .lines()
        .skip(skip)
        .map(|l| {
            Line::from(vec![
                Span::styled(format!("{} ", l.at.clock()), theme.dim()),
                Span::styled(format!("{} ", l.level.mark()), theme.level(l.level)),
                Span::styled(l.text.clone(), theme.level(l.level)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
