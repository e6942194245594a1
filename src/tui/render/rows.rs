//! Table rows painted straight into the buffer, as ratatui's `Table` lays
//! out columns of fixed widths, one space apart from the left. `Table`
//! builds a `Text` for every cell and styles every cell of every row three
//! times over, even with no style to give, and sends each character through
//! grapheme segmentation: on an idle screen, that was over half of each
//! second's frame (BENCHMARKS.md).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

use super::theme::Theme;

/// Cells between two columns, as `Table` spaces them by default.
pub(super) const GAP: u16 = 1;

/// A table in `inner`, its columns `widths` wide: the header in the title
/// style, then the rows under it while there is room, the one marked
/// selected in the selection's style. Rows past the bottom are not taken
/// from `rows`, so their cells are never made.
pub(super) fn paint_table<'a, H, R>(
    buf: &mut Buffer,
    inner: Rect,
    widths: &[u16],
    header: H,
    rows: impl IntoIterator<Item = (bool, R)>,
    theme: Theme,
) where
    H: IntoIterator<Item = Line<'a>>,
    R: IntoIterator<Item = Line<'a>>,
{
    paint_row(buf, inner, inner.y, widths, header, theme.title());
    let below = inner.y.saturating_add(1)..inner.bottom();
    for (y, (selected, cells)) in below.zip(rows) {
        let style = match selected {
            true => theme.selected(),
            false => Style::default(),
        };
        paint_row(buf, inner, y, widths, cells, style);
    }
}

/// One row at `y` of a table drawn in `inner`: `style` under the whole row
/// (the selection's), then each cell in its column of `widths`, cut there.
fn paint_row<'a>(
    buf: &mut Buffer,
    inner: Rect,
    y: u16,
    widths: &[u16],
    cells: impl IntoIterator<Item = Line<'a>>,
    style: Style,
) {
    if y >= inner.bottom() {
        return;
    }
    if style != Style::default() {
        buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
    }
    let mut x = inner.x;
    for (width, cell) in widths.iter().zip(cells) {
        let width = (*width).min(inner.right().saturating_sub(x));
        if width == 0 {
            break;
        }
        put_line(buf, x, y, &cell, width);
        x = x.saturating_add(width).saturating_add(GAP);
    }
}

/// What `Buffer::set_line` paints, at most `width` cells from `x`. A span of
/// ASCII alone (names, times, counts: nearly every cell) is one cell per
/// byte, so it skips the grapheme segmentation `set_line` runs on every
/// character, which was most of a row's cost; any other span goes through
/// `set_stringn` itself.
fn put_line(buf: &mut Buffer, mut x: u16, y: u16, line: &Line<'_>, width: u16) {
    let end = x.saturating_add(width).min(buf.area.right());
    for span in line {
        let style = line.style.patch(span.style);
        let text = span.content.as_ref();
        if !text.is_ascii() {
            let room = usize::from(end.saturating_sub(x));
            x = buf.set_stringn(x, y, text, room, style).0;
            continue;
        }
        // `set_stringn` leaves out control characters; so does this.
        for byte in text.bytes().filter(|b| !b.is_ascii_control()) {
            if x >= end {
                return;
            }
            buf[(x, y)].set_char(char::from(byte)).set_style(style);
            x += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Modifier, Style};
    use ratatui::text::{Line, Span};

    /// Text of the kinds cells hold, and of those they should not:
    /// ASCII, controls, accents, CJK and emoji (two cells wide), a
    /// combining mark.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "a", "Z", "0", " ", "-", "~", "\t", "\n", "\x7f", "\x1b", "é", "漢", "🙂", "e\u{301}",
        ]);
        prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
    }

    fn style() -> impl Strategy<Value = Style> {
        prop::sample::select(vec![
            Style::default(),
            Style::default().fg(Color::Red),
            Style::default()
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD),
        ])
    }

    fn line() -> impl Strategy<Value = Line<'static>> {
        (prop::collection::vec((text(), style()), 0..4), style()).prop_map(|(spans, s)| {
            let spans: Vec<Span> = spans
                .into_iter()
                .map(|(t, st)| Span::styled(t, st))
                .collect();
            Line::from(spans).style(s)
        })
    }

    proptest! {
        /// The fast path paints exactly what ratatui's own `set_line`
        /// does, over a row that already has a style and text, with the
        /// cell cut anywhere, up to the buffer's edge.
        #[test]
        fn paints_what_set_line_paints(line in line(), x in 0u16..12, width in 0u16..16, under in style()) {
            let area = Rect::new(0, 0, 14, 1);
            let mut base = Buffer::empty(area);
            base.set_string(0, 0, "..............", Style::default());
            base.set_style(area, under);
            let (mut want, mut got) = (base.clone(), base);
            want.set_line(x, 0, &line, width);
            super::put_line(&mut got, x, 0, &line, width);
            prop_assert_eq!(got, want);
        }
    }
}
