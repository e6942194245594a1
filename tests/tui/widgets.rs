//! Cell-level checks on the rendered buffer: what colour carries, and that
//! `NO_COLOR` removes all of it while the words stay.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use bankdeck::tui::{Msg, render};

use super::fixtures::*;

fn draw(no_color: bool) -> Buffer {
    let mut opts = options();
    opts.no_color = no_color;
    let mut app = app_with(&opts);
    app.update(Msg::Resize(150, 30), NOW);
    let mut terminal = Terminal::new(TestBackend::new(150, 30)).unwrap();
    terminal.draw(|f| render(&app, f, NOW)).unwrap();
    terminal.backend().buffer().clone()
}

/// The first cell of the first occurrence of `text` on screen.
fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            let x = row[..byte].chars().count();
            return (u16::try_from(x).unwrap(), y);
        }
    }
    panic!("{text:?} not on screen");
}

#[test]
fn states_are_coloured_by_meaning() {
    let buf = draw(false);
    for (text, colour) in [
        ("re-consent required", Color::Red),
        ("expired (refreshable)", Color::Red),
        ("expiring ", Color::Yellow),
        ("code pending", Color::Yellow),
        ("active   ", Color::Green),
        ("delinked ", Color::DarkGray),
        ("logged out (", Color::DarkGray),
    ] {
        let at = find(&buf, text);
        assert_eq!(buf[at].fg, colour, "{text}");
    }
    let failed_mark = find(&buf, "✗ 10m ago");
    assert_eq!(buf[failed_mark].fg, Color::Red);
}

#[test]
fn the_selection_is_reversed_and_marked_not_only_coloured() {
    let buf = draw(true);
    let (x, y) = find(&buf, "›");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let (ux, uy) = find(&buf, "frank");
    assert_eq!(uy, y, "the first row is selected");
    assert!(buf[(ux, uy)].modifier.contains(Modifier::REVERSED));
}

/// The users view: the selected user reversed across the whole row, up to
/// the border, and each count in its state's colour under it too.
#[test]
fn the_users_view_reverses_its_selection_and_colours_its_counts() {
    let mut app = app();
    app.update(Msg::Resize(120, 30), NOW);
    app.update(key('u'), NOW);
    app.update(key('j'), NOW);
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| render(&app, f, NOW)).unwrap();
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "›");
    assert_eq!(find(buf, "app ").1, y, "the second user is selected");
    for col in x..119 {
        assert!(
            buf[(col, y)].modifier.contains(Modifier::REVERSED),
            "column {col} of the selected row"
        );
    }
    assert!(
        !buf[(119, y)].modifier.contains(Modifier::REVERSED),
        "the border"
    );
    let (_, below) = find(buf, "bob ");
    assert!(!buf[(x + 2, below)].modifier.contains(Modifier::REVERSED));
    let active = find(buf, "1 active");
    assert_eq!(active.1, y);
    assert_eq!(buf[active].fg, Color::Green);
    assert_eq!(buf[find(buf, "1 expiring")].fg, Color::Yellow);
}

#[test]
fn no_color_means_no_colour_at_all_but_the_same_words() {
    let plain = draw(true);
    for cell in plain.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    let coloured = draw(false);
    let words = |b: &Buffer| {
        b.content()
            .iter()
            .map(|c| c.symbol().to_string())
            .collect::<String>()
    };
    assert_eq!(words(&plain), words(&coloured));
}
