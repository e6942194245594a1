//! Where each pane sits for a terminal size: one function used by `render`
//! to draw and by `update` to know the page size and what a click hit.
//!
//! Sharing it means a mouse click and the row drawn under it can never
//! disagree about geometry.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::App;
use super::render::header_height;

/// Below this the screen shows a "too small" note instead of panes.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// From this width the detail pane sits to the right of the table.
const SIDE_BY_SIDE: u16 = 140;
const DETAIL_WIDTH: u16 = 64;
/// A table's border, its column header and one row.
const TABLE_LEAST: u16 = 4;
/// A pane's border and one line.
const DETAIL_LEAST: u16 = 3;
/// What a stacked detail pane is given room for on a short screen, taken
/// from the activity pane: its border and three lines.
const DETAIL_ROOM: u16 = 5;
/// The activity pane at its smallest: its border and its newest line.
const ACTIVITY_LEAST: u16 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    /// The table or the users view, with its border.
    pub main: Rect,
    pub detail: Option<Rect>,
    pub activity: Rect,
    pub keybar: Rect,
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// Whether the screen `update` last heard of shows only the "too small"
/// note: then no key or click acts on what is not drawn.
pub(crate) fn too_small_app(app: &App) -> bool {
    let (w, h) = app.size;
    too_small(Rect::new(0, 0, w, h))
}

/// [`for_app`] on the screen `update` last heard of (`Msg::Resize`): what
/// a key or a click in `update` acts on is what was drawn.
pub(crate) fn on_screen(app: &App) -> Areas {
    let (w, h) = app.size;
    for_app(app, Rect::new(0, 0, w, h))
}

/// The panes for this app on a screen of `area`: the header takes more
/// lines when its counts do not fit on one.
pub(crate) fn for_app(app: &App, area: Rect) -> Areas {
    areas(area, app.detail.open, header_height(app, area.width))
}

/// The panes for a screen of `area`, given the header's height.
pub fn areas(area: Rect, detail_open: bool, header_h: u16) -> Areas {
    let side_by_side = area.width >= SIDE_BY_SIDE;
    let mut activity_h = if area.height >= 30 { 8 } else { 5 };
    if detail_open && !side_by_side {
        // On a short screen the detail the operator opened had no room
        // beside the table's row, and was not drawn at all: the activity
        // pane, which says the same in fewer lines, gives way first.
        let room = area.height.saturating_sub(header_h + 1);
        let spare = room.saturating_sub(TABLE_LEAST + DETAIL_ROOM);
        activity_h = activity_h.min(spare).max(ACTIVITY_LEAST);
    }
    let [header, body, activity, keybar] = Layout::vertical([
        Constraint::Length(header_h),
        Constraint::Fill(1),
        Constraint::Length(activity_h),
        Constraint::Length(1),
    ])
    .areas(area);
    let (main, detail) = match detail_open {
        false => (body, None),
        true if side_by_side => {
            let [m, d] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(DETAIL_WIDTH)])
                    .areas(body);
            (m, Some(d))
        }
        // Stacked, the table keeps a row at least: at 60×15 its 40 % was
        // its border alone, and the selected row was nowhere. A detail
        // pane with no room for a line inside its border (below the
        // smallest screen) is left out.
        true => {
            let table_h = (body.height * 2)
                .div_ceil(5)
                .max(TABLE_LEAST)
                .min(body.height);
            let [m, d] =
                Layout::vertical([Constraint::Length(table_h), Constraint::Fill(1)]).areas(body);
            (m, (d.height >= DETAIL_LEAST).then_some(d))
        }
    };
    Areas {
        header,
        main,
        detail,
        activity,
        keybar,
    }
}

/// The rows of the table body: inside the border, below the column header.
pub fn table_body(main: Rect) -> Rect {
    let inner = Rect {
        x: main.x.saturating_add(1),
        y: main.y.saturating_add(2),
        width: main.width.saturating_sub(2),
        height: main.height.saturating_sub(3),
    };
    inner.intersection(main)
}

/// The smallest scroll that shows `cursor` in a window of `page` rows out of
/// `len`, never leaving empty rows below the end when there is more above.
pub fn keep_visible(offset: usize, cursor: usize, page: usize, len: usize) -> usize {
    let page = page.max(1);
    let offset = if cursor < offset {
        cursor
    } else if cursor >= offset + page {
        cursor + 1 - page
    } else {
        offset
    };
    offset.min(len.saturating_sub(page))
}
