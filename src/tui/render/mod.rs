//! `render`: a pure function from `&App` to a frame.
//!
//! It reads state and draws; it never changes the state (scroll positions
//! are clamped into locals, not written back). Each pane is its own module;
//! this one lays them out and puts the overlay of the current mode on top.

mod activity;
mod detail;
mod dialogs;
mod forms;
mod gauges;
mod header;

pub(crate) use activity::{activity_line_rows, activity_rows};
pub(crate) use detail::max_scroll as detail_max_scroll;
pub(crate) use header::height as header_height;
pub(crate) use help::max_scroll as help_max_scroll;
mod help;
mod keybar;
mod rows;
mod scope_grid;
mod table;
mod theme;
mod users;

#[cfg(test)]
mod tests;

use crossterm::event::KeyModifiers;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::domain::UnixTime;
use crate::domain::text::columns;

use super::action::Action;
use super::app::App;
use super::forms::Mode;
use super::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use theme::Theme;

pub fn render(app: &App, frame: &mut Frame, now: UnixTime) {
    let area = frame.area();
    if layout::too_small(area) {
        return too_small(app, frame, area);
    }
    let theme = Theme::new(app.no_color);
    let areas = layout::for_app(app, area);
    header::render(app, frame, areas.header, now, theme);
    match app.users_view {
        Some(_) => users::render(app, frame, areas.main, theme),
        None => table::render(app, frame, areas.main, now, theme),
    }
    if let Some(d) = areas.detail {
        detail::render(app, frame, d, now, theme);
    }
    activity::render(app, frame, areas.activity, now, theme);
    keybar::render(app, frame, areas.keybar, now, theme);
    overlay(app, frame, area, now, theme);
}

fn overlay(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    match &app.mode {
        Mode::Normal | Mode::Filter | Mode::Command(_) => {}
        Mode::Help { scroll } => help::render(app, frame, area, *scroll, theme),
        Mode::ConfirmLogout {
            what, app_token, ..
        } => dialogs::logout(frame, area, what, *app_token, theme),
        Mode::ConfirmDelink(d) => dialogs::delink(frame, area, d, theme),
        Mode::ConfirmQuit => dialogs::quit(frame, area, app.in_flight(), app.bulk, theme),
        Mode::LoginUrl { url, .. } => dialogs::login_url(frame, area, url, theme),
        Mode::Add(f) => forms::add(frame, area, app, f, now, theme),
        Mode::ClientCreds(f) => forms::creds(frame, area, app, f, theme),
    }
}

/// The note in place of the panes. No other key acts until they are back,
/// so it says which one does.
fn too_small(app: &App, frame: &mut Frame, area: Rect) {
    let mut text = vec![Line::raw(format!(
        "terminal too small: {}×{}, bankdeck needs {MIN_WIDTH}×{MIN_HEIGHT}",
        area.width, area.height
    ))];
    // In a field or a dialog only a control key quits: `q` is typed there.
    let keys = app.keymap.keys_for(Action::Quit);
    let key = match app.mode {
        Mode::Normal => keys.first(),
        _ => keys.iter().find(|k| k.mods.contains(KeyModifiers::CONTROL)),
    };
    if let Some(key) = key {
        text.push(Line::raw(format!("{key} quits")));
    }
    let p = Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    frame.render_widget(p, area);
}

/// A bordered box of `lines`, `width` wide, centred in `area` and as tall as
/// its lines wrap to: a URL, or a long name typed into a form, takes several
/// rows, and a box sized by its line count cut off what came after them.
pub(crate) fn text_box(
    frame: &mut Frame,
    area: Rect,
    width: u16,
    title: &str,
    lines: Vec<ratatui::text::Line<'static>>,
    theme: theme::Theme,
) -> Rect {
    use ratatui::widgets::{Block, Clear};
    let width = width.min(area.width);
    let rows = wrapped_rows(&lines, width.saturating_sub(2));
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let rect = popup(area, width, height);
    let block = Block::bordered().title(Span::styled(format!(" {title} "), theme.title()));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
    rect
}

/// [`text_box`] with the terminal's cursor where a field in it is typed
/// into: at `column` (inside the border) of its line `at`, below however
/// many rows the lines above it wrap into.
pub(crate) fn text_box_with_cursor(
    frame: &mut Frame,
    area: Rect,
    width: u16,
    title: &str,
    lines: Vec<ratatui::text::Line<'static>>,
    cursor: Option<(usize, usize)>,
    theme: theme::Theme,
) -> Rect {
    let above = cursor.map(|(at, column)| (lines[..at].to_vec(), column));
    let rect = text_box(frame, area, width, title, lines, theme);
    if let Some((above, column)) = above {
        let rows = wrapped_rows(&above, rect.width.saturating_sub(2));
        let x = usize::from(rect.x) + 1 + column;
        let y = usize::from(rect.y) + 1 + rows;
        if let (Ok(x), Ok(y)) = (u16::try_from(x), u16::try_from(y))
            && x < rect.right().saturating_sub(1)
            && y < rect.bottom().saturating_sub(1)
        {
            frame.set_cursor_position(ratatui::layout::Position::new(x, y));
        }
    }
    rect
}

/// How many rows `lines` take wrapped at word boundaries into `width`
/// columns, as `text_box` draws them: a character count would miss the
/// row a word pushed down.
pub(crate) fn wrapped_rows(lines: &[ratatui::text::Line<'static>], width: u16) -> usize {
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1))
}

/// The title's note of a pane cut short (`most` lines below its top),
/// naming the keys that scroll it.
fn scroll_hint(
    app: &App,
    (down, up): (Action, Action),
    scroll: u16,
    most: u16,
    theme: Theme,
) -> Option<Span<'static>> {
    if most == 0 {
        return None;
    }
    let key = |a| {
        app.keymap
            .first_key(a)
            .map_or(String::new(), |k| k.to_string())
    };
    let (down, up) = (key(down), key(up));
    let hint = match (scroll > 0, scroll < most) {
        (false, _) => format!("· more below: {down} "),
        (true, true) => format!("· {down}/{up} scroll "),
        (true, false) => format!("· end, {up} back "),
    };
    Some(Span::styled(hint, theme.dim()))
}

/// `text` after `lead`, wrapped at spaces into rows of `room` columns, the
/// rows after the first indented by `indent`: under the value, where a
/// paragraph's own wrap runs back under the label. A word wider than `room`
/// is left to the paragraph.
fn hanging(
    lead: Span<'static>,
    indent: usize,
    room: usize,
    text: &str,
    style: Style,
) -> Vec<Line<'static>> {
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        if !row.is_empty() && columns(&row) + 1 + columns(word) > room {
            rows.push(std::mem::take(&mut row));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        row.push_str(word);
    }
    rows.push(row);
    let mut first = Some(lead);
    rows.into_iter()
        .map(|row| {
            let lead = first
                .take()
                .unwrap_or_else(|| Span::raw(" ".repeat(indent)));
            Line::from(vec![lead, Span::styled(row, style)])
        })
        .collect()
}

/// A centred rectangle of at most `w`×`h` inside `area`. A box that would
/// leave a column or two beside it takes the whole width:
/// centred with one column to spare, its borders ran beside the panes'
/// own, `││` and `└└`, a second frame a column off the first.
pub(crate) fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = if area.width.saturating_sub(w) < 4 {
        area.width
    } else {
        w
    };
    let [row] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    rect
}
