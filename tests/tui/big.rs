//! 100 000 connections: the index is built once and a frame lays out only
//! the rows on screen. No timing is asserted; the test proves it works and
//! draws the right window.

use bankdeck::domain::{AccessExpiry, ConnectionId, UserId};
use bankdeck::tui::{App, Msg, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::fixtures::*;

const ROWS: i64 = 100_000;

fn big_app() -> App {
    let template = sample_connections()[2].clone();
    let conns = (0..ROWS)
        .map(|i| {
            let mut c = template.clone();
            c.id = ConnectionId(i);
            c.user_id = UserId(i);
            c.user = format!("user{i:06}");
            // Deadlines spread over a day, in an order unlike the ids.
            let left = (i * 7919) % 86_400 + 61;
            c.lifetimes.access = Some(AccessExpiry::At(NOW.plus_secs(left)));
            c
        })
        .collect::<Vec<_>>();
    let mut opts = options();
    opts.initial = Some((conns, Vec::new()));
    App::new(&opts, NOW)
}

fn frame_text(app: &mut App) -> String {
    app.update(Msg::Resize(120, 40), NOW);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| render(app, f, NOW)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn renders_a_hundred_thousand_rows_by_their_window() {
    let mut app = big_app();
    assert_eq!(app.visible_ids().len(), 100_000);
    // Soonest first: 61 s left is i = 0.
    let text = frame_text(&mut app);
    assert!(text.contains("100000 of 100000"), "{text}");
    assert!(text.contains("user000000"));
    app.update(key('G'), NOW);
    let text = frame_text(&mut app);
    let last = app.selected().unwrap().user.clone();
    assert!(text.contains(&last), "the last row is drawn after G");
    assert!(!text.contains("user000000"), "the first row scrolled away");
    app.update(key('/'), NOW);
    type_text(&mut app, "user09999");
    assert_eq!(app.visible_ids().len(), 10);
    app.update(Msg::Tick, NOW.plus_secs(1));
    frame_text(&mut app);
}
