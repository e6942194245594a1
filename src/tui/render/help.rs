//! The `?` overlay: every action with every key bound to it, straight from
//! the keymap, so a `[keys]` override is what the help shows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::app::App;
use super::popup;
use super::theme::Theme;

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, scroll: u16, theme: Theme) {
    let mut lines: Vec<Line> = app
        .keymap
        .bindings()
        .map(|(action, _)| {
            Line::from(vec![
                Span::styled(
                    format!("{:<14}", app.keymap.describe_keys(action)),
                    theme.key(),
                ),
                Span::styled(format!("{:<20}", action.name()), theme.dim()),
                Span::raw(action.describe()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "In text fields every key is text; Enter and Esc end the field.",
        theme.dim(),
    ));
    lines.push(Line::styled(
        "Mouse: click selects a row, the wheel scrolls. Override keys in [keys].",
        theme.dim(),
    ));
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = popup(area, 84, height);
    let block = Block::bordered().title(Span::styled(" help: every key ", theme.title()));
    let max_scroll = height.saturating_sub(rect.height);
    let text = Paragraph::new(lines)
        .block(block)
        .scroll((scroll.min(max_scroll), 0));
    frame.render_widget(Clear, rect);
    frame.render_widget(text, rect);
}
