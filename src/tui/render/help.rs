//! The `?` overlay: every action with every key bound to it, straight from
//! the keymap, so a `[keys]` override is what the help shows.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::super::action::Action;
use super::super::app::App;
use super::super::view::ID_NEEDLE_MIN;
use super::theme::Theme;
use super::{popup, scroll_hint};

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, scroll: u16, theme: Theme) {
    let lines = lines(app, theme);
    let (rect, most) = placed(&lines, area);
    let scroll = scroll.min(most);
    let mut title = vec![Span::styled(" help: every key ", theme.title())];
    // A short screen cuts the list with nothing else to show there is more.
    title.extend(scroll_hint(
        app,
        (Action::Down, Action::Up),
        scroll,
        most,
        theme,
    ));
    let text = Paragraph::new(lines)
        .block(Block::bordered().title(Line::from(title)))
        .scroll((scroll, 0));
    frame.render_widget(Clear, rect);
    frame.render_widget(text, rect);
}

/// How far the help can scroll on a screen of `area`: `update` keeps the
/// scroll within it, so one press back always moves.
pub(crate) fn max_scroll(app: &App, area: Rect) -> u16 {
    placed(&lines(app, Theme::new(true)), area).1
}

/// The overlay's box on `area` and how many of `lines` fall below it.
fn placed(lines: &[Line], area: Rect) -> (Rect, u16) {
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = popup(area, 84, height);
    (rect, height.saturating_sub(rect.height))
}

fn lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
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
        format!(
            "A filter of {ID_NEEDLE_MIN} characters or more finds provider ids too (connectionID…)."
        ),
        theme.dim(),
    ));
    lines.push(Line::styled(
        "Mouse: click selects a row, the wheel scrolls. Override keys in [keys].",
        theme.dim(),
    ));
    lines
}
