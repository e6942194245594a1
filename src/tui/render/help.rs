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
    let (rect, most) = placed(&lines(app, theme, true), area);
    let lines = lines(app, theme, names_fit(app, rect.width.saturating_sub(2)));
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
    placed(&lines(app, Theme::new(true), true), area).1
}

const KEYS_WIDTH: usize = 14;
const NAME_WIDTH: usize = 20;

/// Whether the action names fit beside every description in `width`
/// columns. The names serve only `[keys]` overrides, so on a narrow
/// screen they give their room to what each key does, which was cut.
fn names_fit(app: &App, width: u16) -> bool {
    let widest = (app.keymap.bindings())
        .map(|(action, _)| action.describe().chars().count())
        .max()
        .unwrap_or(0);
    usize::from(width) >= KEYS_WIDTH + NAME_WIDTH + widest
}

/// The overlay's box on `area` and how many of `lines` fall below it.
fn placed(lines: &[Line], area: Rect) -> (Rect, u16) {
    let height = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let rect = popup(area, 84, height);
    (rect, height.saturating_sub(rect.height))
}

/// The help's lines; with `names`, each action's name for `[keys]` too.
/// Their number does not depend on `names`.
fn lines(app: &App, theme: Theme, names: bool) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = app
        .keymap
        .bindings()
        .map(|(action, _)| {
            let keys = format!("{:<KEYS_WIDTH$}", app.keymap.describe_keys(action));
            let mut line = vec![Span::styled(keys, theme.key())];
            if names {
                let name = format!("{:<NAME_WIDTH$}", action.name());
                line.push(Span::styled(name, theme.dim()));
            }
            line.push(Span::raw(action.describe()));
            Line::from(line)
        })
        .collect();
    // The notes are dim, so told apart from the keys without a blank line
    // between (the whole help then fits 44 rows), and each is under 60
    // columns, so that a narrow help cuts none of them.
    let overrides = match names {
        true => "Override keys in [keys] by the names above.",
        false => "Override keys in [keys]: a wider help shows their names.",
    };
    let notes = [
        "In a text field every key is text; Enter or Esc ends it.",
        &format!("/ finds a connection by id; {ID_NEEDLE_MIN}+ characters, provider ids."),
        "Mouse: click selects a row, the wheel scrolls.",
        overrides,
    ];
    lines.extend(notes.map(|note| Line::styled(note.to_owned(), theme.dim())));
    lines
}
