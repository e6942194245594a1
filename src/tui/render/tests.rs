//! Single widgets rendered into a `Buffer`: the gauges, the scope grid and
//! the cell cut, checked cell by cell.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::domain::{AccessExpiry, Connection, Grant, Lifetimes, ProviderKind, Scopes, UnixTime};

use super::gauges::{self, Countdown};
use super::scope_grid;
use super::theme::Theme;

const NOW: UnixTime = UnixTime(1_700_000_000);

fn conn(kind: ProviderKind, lifetimes: Lifetimes, scopes: Scopes) -> Connection {
    Connection {
        user: "alice".into(),
        label: "bank".into(),
        lifetimes,
        scopes,
        created_at: NOW.plus_secs(-60),
        ..Connection::sample(1, kind.as_str(), kind, Grant::AuthorizationCode)
    }
}

fn row(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

#[test]
fn countdowns_follow_the_tokens_life() {
    let l = Lifetimes {
        access: Some(AccessExpiry::At(NOW.plus_secs(150))),
        access_received_at: Some(NOW.plus_secs(-150)),
        has_refresh: true,
        refresh_expires_at: Some(NOW.plus_secs(-10)),
        ..Lifetimes::default()
    };
    let c = conn(ProviderKind::Oidc, l, Scopes::default());
    let got = gauges::countdowns(&c, NOW);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].name, got[0].label.as_str()),
        ("access", "02:30 left")
    );
    assert!((got[0].ratio - 0.5).abs() < 1e-9);
    assert_eq!(got[1].label, "expired 10s ago");
    assert_eq!(got[1].ratio, 0.0);
}

/// A refresh token the provider refused reads "rejected", not the half
/// hour its expiry still says; the access token's time still counts.
#[test]
fn a_rejected_refresh_token_has_no_time_left() {
    let l = Lifetimes {
        access: Some(AccessExpiry::At(NOW.plus_secs(150))),
        access_received_at: Some(NOW.plus_secs(-150)),
        has_refresh: true,
        refresh_expires_at: Some(NOW.plus_secs(1800)),
        ..Lifetimes::default()
    };
    let mut c = conn(ProviderKind::Oidc, l, Scopes::default());
    c.flags.reauth_required = true;
    let got = gauges::countdowns(&c, NOW);
    let labels: Vec<(&str, &str, f64)> = (got.iter())
        .map(|g| (g.name, g.label.as_str(), g.ratio))
        .collect();
    assert_eq!(
        labels,
        [("access", "02:30 left", 0.5), ("refresh", "rejected", 0.0)]
    );
}

#[test]
fn a_half_gauge_is_half_thick_line() {
    let mut terminal = Terminal::new(TestBackend::new(60, 1)).unwrap();
    let g = [Countdown {
        name: "access",
        ratio: 0.5,
        label: "02:30 left".into(),
    }];
    terminal
        .draw(|f| gauges::render(f, Rect::new(0, 0, 60, 1), &g, Theme::new(true)))
        .unwrap();
    let line = row(terminal.backend().buffer(), 0);
    assert!(line.starts_with("access          02:30 left "), "{line}");
    let bar: Vec<char> = line.chars().skip(27).collect();
    let thick = bar.iter().filter(|c| **c == '━').count();
    let thin = bar.iter().filter(|c| **c == '─').count();
    assert!(thick.abs_diff(thin) <= 1, "{line}");
}

#[test]
fn dapi_grid_lists_every_documented_scope_with_a_mark() {
    let scopes = Scopes {
        granted: vec!["accounts.get".into()].into(),
        denied: vec!["transfer.create".into()].into(),
        products: vec!["data".into()].into(),
    };
    let c = conn(ProviderKind::Dapi, Lifetimes::default(), scopes);
    let lines = scope_grid::lines(&c, 200, Theme::new(true));
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    assert_eq!(text.matches('✓').count(), 1, "{text}");
    assert_eq!(text.matches('✗').count(), 1, "the one denied: {text}");
    assert_eq!(text.matches('·').count(), 8, "never asked for: {text}");
    assert!(text.contains("✓ accounts.get"));
    assert!(text.contains("✗ transfer.create"));
    assert!(text.contains("· identity.get"));
    assert!(text.contains("products: data"));
    let narrow = scope_grid::lines(&c, 30, Theme::new(true));
    assert_eq!(narrow.len(), 11, "one per line when narrow, then products");
}
