//! The activity pane: the newest worker reports at the bottom, timestamped,
//! each with a text mark (✓ ✗ !) so the outcome reads without colour.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::super::Action;
use super::super::activity::{ActivityLine, Level};
use super::super::app::App;
use super::theme::Theme;
use super::wrapped_rows;
use crate::domain::UnixTime;

/// Lines of text the pane at `area` shows, inside its border.
pub(crate) fn activity_rows(area: Rect) -> usize {
    usize::from(Block::bordered().inner(area).height)
}

/// The rows `line` wraps to in the pane at `area`, right of its time and
/// mark.
pub(crate) fn activity_line_rows(line: &ActivityLine, area: Rect) -> usize {
    let width = Block::bordered().inner(area).width.saturating_sub(PREFIX);
    wrapped_rows(&[Line::raw(line.text.clone())], width)
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let scroll = Scroll::of(app, area);
    let block = Block::bordered().title(title(app, &scroll, now, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let shown = fit(app, &scroll, area, theme);
    draw(frame, inner, shown);
}

/// Where the pane stands in the log: how many lines newer than those shown
/// wait below, and how far into the last line shown, when it is taller
/// than the pane, it has been scrolled.
struct Scroll {
    /// Lines of the pane, inside its border.
    rows: usize,
    /// Newer lines below the last one shown.
    back: usize,
    /// The log's lines up to this one are shown, from the newest back.
    end: usize,
    /// The rows the last line shown wraps to.
    last_rows: Option<usize>,
    /// Rows of the last line shown beyond the pane's height.
    over: usize,
    /// Rows of it scrolled past, at most `over`.
    within: usize,
}

impl Scroll {
    fn of(app: &App, area: Rect) -> Scroll {
        let rows = activity_rows(area);
        let back = app.activity.back(rows);
        let end = app.activity.lines().len().saturating_sub(back);
        // The last line shown, when taller than the pane, is read a part at
        // a time: how far into it the pane is, and how much of it is left
        // below.
        let last_rows = (app.activity.last_shown(rows)).map(|l| activity_line_rows(l, area));
        let over = last_rows.map_or(0, |n| n.saturating_sub(rows));
        let within = app.activity.within(over);
        Scroll {
            rows,
            back,
            end,
            last_rows,
            over,
            within,
        }
    }
}

/// The pane's title: a bulk's progress, the providers paused or waited
/// for, what is in flight, and what lies below the lines shown.
fn title(app: &App, scroll: &Scroll, now: UnixTime, theme: Theme) -> Line<'static> {
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
            true => format!("· {provider} paused until {} ", until.clock_from(now)),
            false => format!("· {provider}: trying one "),
        };
        title.push(Span::styled(text, theme.level(Level::Warn)));
    }
    for (provider, until) in app.waits.iter().filter(|(_, until)| now < **until) {
        let text = format!(
            "· {provider} asked for nothing until {} ",
            until.clock_from(now)
        );
        title.push(Span::styled(text, theme.level(Level::Warn)));
    }
    if app.in_flight() > 0 {
        title.push(Span::styled(
            format!("· {} in flight ", app.in_flight()),
            theme.dim(),
        ));
    }
    let Scroll {
        back, over, within, ..
    } = *scroll;
    // Said, since a pane that stopped following looks like a quiet one.
    let below = match (within < over, back > 0) {
        (true, true) => Some(format!("· more below, then {back} newer")),
        (true, false) => Some("· more below".to_owned()),
        (false, true) => Some(format!("· {back} newer below")),
        (false, false) => None,
    };
    if let Some(below) = below {
        let text = match app.keymap.first_key(Action::ActivityDown) {
            Some(key) => format!("{below}: {key} "),
            None => format!("{below} "),
        };
        title.push(Span::styled(text, theme.level(Level::Warn)));
    }
    Line::from(title)
}

/// One log line as the pane shows it.
struct Shown {
    /// Its time and mark.
    prefix: Line<'static>,
    text: Line<'static>,
    /// The rows it takes in the pane.
    height: u16,
    /// Its rows scrolled past at the top.
    skip: u16,
    /// Cut short at the pane's top, for want of room.
    cut: bool,
}

/// The newest lines that fit, newest first, each wrapped whole under its
/// own text, the time and mark standing out to its left: a provider's
/// error or a refusal's reason is read in full here (a link or login that
/// failed has no row whose detail pane would say it). Scrolling still
/// counts lines.
fn fit(app: &App, scroll: &Scroll, area: Rect, theme: Theme) -> Vec<Shown> {
    let mut shown: Vec<Shown> = Vec::new();
    let mut used = 0;
    for l in app.activity.lines().take(scroll.end).rev() {
        let room = scroll.rows - used;
        if room == 0 {
            break;
        }
        let prefix = Line::from(vec![
            Span::styled(format!("{} ", l.at.clock()), theme.dim()),
            Span::styled(format!("{} ", l.level.mark()), theme.level(l.level)),
        ]);
        let text = Line::styled(l.text.clone(), theme.level(l.level));
        // The last line's rows are known from the title's reckoning.
        let needs = match (shown.is_empty(), scroll.last_rows) {
            (true, Some(n)) => n,
            _ => activity_line_rows(l, area),
        };
        // Only the last line can be scrolled into: any other is shown
        // whole, or cut at the top of the pane.
        let skip = match shown.is_empty() {
            true => u16::try_from(scroll.within).unwrap_or(u16::MAX),
            false => 0,
        };
        // An older line with too little room shows its start, its time
        // first, as far as the room goes.
        let height = needs.min(room);
        used += height;
        shown.push(Shown {
            prefix,
            text,
            height: u16::try_from(height).unwrap_or(u16::MAX),
            skip,
            cut: needs > room,
        });
        if needs > room {
            break;
        }
    }
    shown
}

/// Draws `shown` (newest first) into `inner`. Lines that all fit start at
/// the top, as they always did; an older line cut short sits at the top
/// with the newer ones under it.
fn draw(frame: &mut Frame, inner: Rect, shown: Vec<Shown>) {
    let mut y = inner.y;
    for line in shown.into_iter().rev() {
        let row = Rect::new(inner.x, y, inner.width, line.height);
        let [left, right] =
            Layout::horizontal([Constraint::Length(PREFIX), Constraint::Fill(1)]).areas(row);
        frame.render_widget(Paragraph::new(line.prefix), left);
        let text = Paragraph::new(line.text)
            .wrap(Wrap { trim: false })
            .scroll((line.skip, 0));
        frame.render_widget(text, right);
        // Else a cut line reads as a whole one that ends mid-sentence.
        if line.cut && right.width > 0 && line.height > 0 {
            let at = (right.right() - 1, right.bottom() - 1);
            if let Some(cell) = frame.buffer_mut().cell_mut(at) {
                cell.set_symbol("…");
            }
        }
        y += line.height;
    }
}

/// The columns of a line's time and mark ("12:04:05 ✓ "), left of its text.
const PREFIX: u16 = 11;
