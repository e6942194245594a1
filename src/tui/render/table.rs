//! The connection table. Only the rows on screen are built: with 100 000
//! connections the cost of a frame is the window, not the list.
//!
//! Columns drop out on narrow terminals (the scopes or the last operation,
//! then the provider) rather than squeezing every cell unreadable, and only
//! when the screen cannot hold them: what fits is measured, not assumed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::domain::text::{columns as text_columns, cut, cut_owned};
use crate::domain::time::format_ago;
use crate::domain::{ConnState, Connection, UnixTime};

use super::super::app::App;
use super::super::layout;
use super::super::widths::TextWidths;
use super::rows::{GAP, paint_table};
use super::theme::Theme;

/// Wide enough for `logged out (access valid 04:12)`; longer states
/// (a failure's message) end in `…` and read in full in the detail pane.
const STATE_WIDTH: u16 = 31;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Mark,
    User,
    Label,
    Provider,
    State,
    Left,
    Scopes,
    LastOp,
}

/// The state's brief form fits whole (`expired (refreshable)`), whatever the
/// screen: below this the text columns give way instead.
const STATE_LEAST: u16 = 24;

/// How wide the state may grow on a wide screen: most failures then read
/// whole in the table.
const STATE_MAX: u16 = 90;

/// The least the scopes are given before they drop out: a count such as
/// `5/10 +data` (see [`Scopes::short_within`](crate::domain::Scopes::short_within)).
const SCOPES_LEAST: u16 = 8;

/// The columns that fit `width` (the table's outer width, borders
/// included), each with its width in cells.
///
/// User, label and provider are as wide as the widest such text (`text`,
/// with a cap), not a share of the screen: short provider names left
/// half-empty columns while the state beside them was cut.
///
/// A column drops out (scopes first, then the last operation in their
/// place, then both, then the provider too) only when the others would not
/// fit at the least that still says everything: the text columns whole, the
/// state at its brief form (its countdown is the time left's), the scopes as
/// a count. When the columns kept are wanted wider than the screen, the
/// state gives way first (down to its brief form), then the scopes, then
/// the widest text column. When the screen is wider than every column
/// needs, the state grows first, then the last operation (to its whole
/// name), then the text columns and the scopes share what is left.
fn columns(width: u16, text: TextWidths) -> Vec<(Col, &'static str, u16)> {
    let fitted = |widest: u16, head: &str, cap: u16| widest.max(head.len() as u16).min(cap);
    // (column, header, least, wanted)
    let cols = [
        (Col::Mark, "", 2, 2),
        (Col::User, "user", 6, fitted(text.user, "user", 24)),
        (
            Col::Label,
            "bank / label",
            6,
            fitted(text.label, "bank / label", 24),
        ),
        (
            Col::Provider,
            "provider",
            6,
            fitted(text.provider, "provider", 16),
        ),
        (Col::State, "state", STATE_LEAST, STATE_WIDTH),
        (Col::Left, "time left", 16, 16),
        (Col::Scopes, "scopes", SCOPES_LEAST, 20),
        (Col::LastOp, "last op", LAST_OP_WIDTH, LAST_OP_WIDTH),
    ];
    let room = |cols: &[(Col, &str, u16, u16)]| {
        let gaps = GAP * (cols.len() as u16 - 1);
        width.saturating_sub(2).saturating_sub(gaps)
    };
    // Text columns count whole here: a name cut to keep the scopes would
    // cost more than the scopes say.
    let whole = |c: &(Col, &str, u16, u16)| match c.0 {
        Col::State | Col::Scopes => c.2,
        _ => c.3,
    };
    // The first of these that fits: the scopes come back once the last
    // operation is out, if there is room for them then.
    let drops: [&[Col]; 5] = [
        &[],
        &[Col::Scopes],
        &[Col::LastOp],
        &[Col::Scopes, Col::LastOp],
        &[Col::Scopes, Col::LastOp, Col::Provider],
    ];
    let without = |drop: &[Col]| -> Vec<_> {
        (cols.iter().copied())
            .filter(|c| !drop.contains(&c.0))
            .collect()
    };
    let cols = (drops.iter().map(|d| without(d)))
        .find(|kept| kept.iter().map(whole).sum::<u16>() <= room(kept))
        .unwrap_or_else(|| without(drops[drops.len() - 1]));
    let room = room(&cols);
    let mut widths: Vec<u16> = cols.iter().map(|c| c.3).collect();
    let text_col = |col: Col| matches!(col, Col::User | Col::Label | Col::Provider);
    let wanted: u16 = widths.iter().sum();
    if wanted > room {
        let mut over = wanted - room;
        for col in [Col::State, Col::Scopes] {
            if let Some(i) = cols.iter().position(|c| c.0 == col) {
                let give = over.min(widths[i] - cols[i].2);
                widths[i] -= give;
                over -= give;
            }
        }
        for _ in 0..over {
            let widest = (0..cols.len())
                .filter(|&i| text_col(cols[i].0) && widths[i] > cols[i].2)
                .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
    } else {
        let mut spare = room - wanted;
        for (col, most) in [(Col::State, STATE_MAX), (Col::LastOp, LAST_OP_MAX)] {
            if let Some(i) = cols.iter().position(|c| c.0 == col) {
                let grow = spare.min(most - widths[i]);
                widths[i] += grow;
                spare -= grow;
            }
        }
        let shares: Vec<usize> = (0..cols.len())
            .filter(|&i| text_col(cols[i].0) || cols[i].0 == Col::Scopes)
            .collect();
        for (n, &i) in shares.iter().enumerate() {
            let left = (shares.len() - n) as u16;
            let grow = spare / left;
            widths[i] += grow;
            spare -= grow;
        }
    }
    cols.iter()
        .zip(widths)
        .map(|(&(col, head, ..), w)| (col, head, w))
        .collect()
}

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let block = Block::bordered().title(title(app, theme));
    let body = layout::table_body(area);
    let rows_on_screen = usize::from(body.height);
    if app.order.is_empty() {
        let text = Paragraph::new(empty_text(app))
            .style(theme.dim())
            .wrap(Wrap { trim: true })
            .block(block);
        frame.render_widget(text, area);
        return;
    }
    let cols = columns(area.width, app.widths);
    let offset = layout::keep_visible(app.offset, app.cursor, rows_on_screen, app.order.len());
    let end = (offset + rows_on_screen).min(app.order.len());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let widths: Vec<u16> = cols.iter().map(|c| c.2).collect();
    let header = cols.iter().map(|(_, h, _)| Line::from(*h));
    let rows = (offset..end)
        .filter_map(|pos| Some((pos == app.cursor, app.conns.get(*app.order.get(pos)?)?)))
        .map(|(selected, c)| (selected, cells(app, c, &cols, selected, now, theme)));
    paint_table(frame.buffer_mut(), inner, &widths, header, rows, theme);
}

fn title(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![
        Span::styled(" connections ", theme.title()),
        Span::raw(format!("{} of {} ", app.order.len(), app.conns.len())),
        Span::styled(format!("· sort: {} ", app.sort.label()), theme.dim()),
    ];
    if let Some((_, name)) = &app.user_scope {
        spans.push(Span::raw(format!("· user: {name} ")));
    }
    if !app.marks.is_empty() {
        spans.push(Span::styled(
            format!("· {} marked ", app.marks.len()),
            theme.key(),
        ));
    }
    if !app.filter.is_empty() {
        spans.push(Span::raw(format!("· filter: \"{}\" ", app.filter.text())));
    }
    Line::from(spans)
}

fn empty_text(app: &App) -> &'static str {
    match (
        app.reload.is_some() && app.conns.is_empty(),
        app.conns.is_empty(),
    ) {
        (true, _) => "loading…",
        (false, true) if app.providers.is_empty() => super::super::app::NO_PROVIDERS,
        (false, true) => "no connections yet: `a` adds one",
        (false, false) if app.filter.is_empty() => {
            "this user has no connections yet (Esc shows every user's)"
        }
        (false, false) => "no connection matches the filter (Esc clears it)",
    }
}

fn cells(
    app: &App,
    c: &Connection,
    cols: &[(Col, &'static str, u16)],
    selected: bool,
    now: UnixTime,
    theme: Theme,
) -> Vec<Line<'static>> {
    let state = ConnState::derive(c, now, app.warn_secs);
    cols.iter()
        .map(|&(col, _, width)| match col {
            Col::Mark => Line::from(mark(app, c, selected, now)),
            Col::User => Line::from(cut(&c.user, usize::from(width))),
            Col::Label => Line::from(cut(&c.label, usize::from(width))),
            Col::Provider => Line::from(cut(&c.provider, usize::from(width))),
            Col::State => {
                let full = state.describe(now);
                let text = match text_columns(&full) <= usize::from(width) {
                    true => full,
                    false => cut_owned(state.describe_brief(now), usize::from(width)),
                };
                Line::from(Span::styled(text, theme.state(state.kind())))
            }
            Col::Left => Line::from(state.time_left(now)),
            Col::Scopes => Line::from(c.scopes.short_within(usize::from(width))),
            Col::LastOp => match app.busy_elsewhere(c.id, now) {
                Some(lease) => elsewhere(lease, width, theme),
                None => last_op(c, now, width, theme),
            },
        })
        .collect()
}

/// `›` on the selection (readable without the reverse style), a spinner
/// while an operation runs on the row, here or in another process, else
/// `*` where it is marked (as mutt tags): a row is unmarked when an
/// operation is sent for it, so the two meet only while the scheduler or
/// another process works on a marked row, and the title still counts it.
fn mark(app: &App, c: &Connection, selected: bool, now: UnixTime) -> String {
    let sel = if selected { "›" } else { " " };
    let busy = app.busy.contains_key(&c.id) || app.busy_elsewhere(c.id, now).is_some();
    let spin = match (busy, app.is_marked(c.id)) {
        (true, _) => SPINNER[(app.ticks % SPINNER.len() as u64) as usize],
        (false, true) => "*",
        (false, false) => " ",
    };
    format!("{sel}{spin}")
}

/// `busy: pid 4242`: in words, as the spinner beside it is not, whose work
/// it is, short enough for a seven-digit id in the column's 20 characters
/// (the detail pane names its user too).
fn elsewhere(lease: &crate::store::Lease, width: u16, theme: Theme) -> Line<'static> {
    let text = crate::store::holder::busy(&lease.holder);
    Line::styled(cut_owned(text, usize::from(width)), theme.dim())
}

const LAST_OP_WIDTH: u16 = 20;
/// `client_credentials ✓ 59m ago`, whole.
const LAST_OP_MAX: u16 = 29;

/// `refresh ✓ 2m ago`: the mark says the outcome, colour only repeats it.
/// A long name (`client_credentials`) is cut, never the outcome or its age.
fn last_op(c: &Connection, now: UnixTime, width: u16, theme: Theme) -> Line<'static> {
    let Some(op) = &c.last_op else {
        return Line::from("—");
    };
    let (mark, style) = match op.ok {
        true => ("✓", theme.ok()),
        false => ("✗", theme.bad()),
    };
    let ago = format!(" {} ago", format_ago(op.at.secs_until(now)));
    let room = usize::from(width).saturating_sub(ago.chars().count() + 2);
    Line::from(vec![
        Span::raw(format!("{} ", cut_owned(op.op.to_string(), room))),
        Span::styled(mark, style),
        Span::raw(ago),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(user: u16, label: u16, provider: u16) -> TextWidths {
        TextWidths {
            user,
            label,
            provider,
        }
    }

    fn width_of(cols: &[(Col, &'static str, u16)], col: Col) -> Option<u16> {
        cols.iter().find(|c| c.0 == col).map(|c| c.2)
    }

    /// Every cell inside the borders is given out, no more.
    fn fills(cols: &[(Col, &'static str, u16)], width: u16) {
        let used: u16 = cols.iter().map(|c| c.2).sum::<u16>() + GAP * (cols.len() as u16 - 1);
        assert_eq!(used, width - 2, "{cols:?}");
    }

    #[test]
    fn text_columns_are_as_wide_as_their_text_and_the_state_takes_the_room() {
        let cols = columns(150, text(12, 16, 8));
        fills(&cols, 150);
        assert_eq!(width_of(&cols, Col::User), Some(12));
        assert_eq!(width_of(&cols, Col::Label), Some(16));
        assert_eq!(width_of(&cols, Col::Provider), Some(8));
        let state = width_of(&cols, Col::State).unwrap();
        assert!(state > STATE_WIDTH && state <= STATE_MAX, "{state}");
        // Headers are never cut for short text.
        assert_eq!(width_of(&cols, Col::Label), Some(16));
        let cols = columns(150, text(2, 3, 3));
        assert_eq!(width_of(&cols, Col::User), Some(4), "as wide as `user`");
        assert_eq!(
            width_of(&cols, Col::Label),
            Some(12),
            "as wide as `bank / label`"
        );
    }

    #[test]
    fn past_the_states_limit_the_last_operation_grows_then_the_text_columns() {
        let cols = columns(193, text(10, 10, 10));
        fills(&cols, 193);
        assert_eq!(width_of(&cols, Col::State), Some(STATE_MAX));
        let last_op = width_of(&cols, Col::LastOp).unwrap();
        assert!((LAST_OP_WIDTH..LAST_OP_MAX).contains(&last_op), "{last_op}");
        assert_eq!(width_of(&cols, Col::User), Some(10));

        let cols = columns(270, text(10, 10, 10));
        fills(&cols, 270);
        assert_eq!(width_of(&cols, Col::State), Some(STATE_MAX));
        assert_eq!(width_of(&cols, Col::LastOp), Some(LAST_OP_MAX));
        assert!(width_of(&cols, Col::User).unwrap() > 10);
    }

    #[test]
    fn long_text_is_capped_and_on_a_narrow_screen_the_widest_gives_way_first() {
        let cols = columns(200, text(60, 40, 30));
        assert_eq!(width_of(&cols, Col::User), Some(24));
        assert_eq!(width_of(&cols, Col::Provider), Some(16));

        let cols = columns(80, text(24, 10, 16));
        fills(&cols, 80);
        assert_eq!(width_of(&cols, Col::State), Some(STATE_LEAST));
        assert_eq!(width_of(&cols, Col::Left), Some(16));
        let (user, label) = (width_of(&cols, Col::User), width_of(&cols, Col::Label));
        assert_eq!(label, Some(12), "untouched while the user is wider");
        assert!(user.unwrap() < 24 && user.unwrap() >= 12, "{user:?}");
    }

    /// The demo's rows on a 120-column terminal: every column stays, the
    /// state at its brief form.
    #[test]
    fn at_120_columns_every_column_stays_and_the_state_gives_way_first() {
        let cols = columns(120, text(12, 16, 8));
        fills(&cols, 120);
        assert_eq!(cols.len(), 8, "{cols:?}");
        assert_eq!(width_of(&cols, Col::State), Some(STATE_LEAST));
        assert_eq!(width_of(&cols, Col::Scopes), Some(13));
        assert_eq!(width_of(&cols, Col::User), Some(12));

        // Narrower, the scopes shrink to their least before any name is
        // cut; narrower still, they drop out, then the last operation.
        let cols = columns(115, text(12, 16, 8));
        fills(&cols, 115);
        assert_eq!(width_of(&cols, Col::Scopes), Some(SCOPES_LEAST));
        assert_eq!(width_of(&cols, Col::User), Some(12));
        let cols = columns(114, text(12, 16, 8));
        fills(&cols, 114);
        assert_eq!(width_of(&cols, Col::Scopes), None);
        assert_eq!(width_of(&cols, Col::LastOp), Some(LAST_OP_WIDTH));
        // Without the last operation the scopes fit again.
        let cols = columns(100, text(12, 16, 8));
        fills(&cols, 100);
        assert_eq!(width_of(&cols, Col::LastOp), None);
        assert!(width_of(&cols, Col::Scopes).unwrap() >= SCOPES_LEAST);
        assert_eq!(width_of(&cols, Col::Provider), Some(8));
        let cols = columns(92, text(12, 16, 8));
        fills(&cols, 92);
        assert_eq!(width_of(&cols, Col::Scopes), None);
        assert_eq!(width_of(&cols, Col::Provider), Some(8));
    }

    /// Long names keep their columns whole: a column drops out at a wider
    /// screen than with short ones.
    #[test]
    fn long_names_push_the_optional_columns_out_before_they_are_cut() {
        let short = columns(125, text(10, 10, 8));
        let long = columns(125, text(24, 24, 16));
        assert_eq!(short.len(), 8, "{short:?}");
        assert_eq!(long.len(), 7, "{long:?}");
        assert_eq!(width_of(&long, Col::User), Some(24));
        assert_eq!(width_of(&long, Col::Label), Some(24));
    }

    /// The narrowest screen bankdeck draws: columns drop out, the state
    /// gives way to its brief form, the text columns go down to their
    /// least, and the time left stays whole.
    #[test]
    fn on_the_narrowest_screen_every_column_left_still_fits() {
        let cols = columns(60, text(24, 24, 16));
        fills(&cols, 60);
        assert_eq!(width_of(&cols, Col::Provider), None);
        assert_eq!(width_of(&cols, Col::LastOp), None);
        assert_eq!(width_of(&cols, Col::Scopes), None);
        assert_eq!(width_of(&cols, Col::User), Some(6));
        assert_eq!(width_of(&cols, Col::Label), Some(6));
        assert_eq!(width_of(&cols, Col::Left), Some(16));
        let state = width_of(&cols, Col::State).unwrap();
        assert!((STATE_LEAST..STATE_WIDTH).contains(&state), "{state}");
    }
}
