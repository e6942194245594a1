//! The detail pane's countdowns: access code, access token, refresh token,
//! each a line gauge of the time left over the token's whole life.
//!
//! Computed from the connection's lifetimes alone, so they tick even before
//! (or without) the detail's secrets arriving from the worker.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::LineGauge;

use crate::domain::time::{format_ago, format_left};
use crate::domain::{AccessExpiry, Connection, UnixTime};

use super::theme::Theme;

/// Dapi's documented access code life, when the code says nothing itself.
const DEFAULT_CODE_SECS: i64 = 30 * 60;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Countdown {
    pub name: &'static str,
    pub ratio: f64,
    pub label: String,
}

fn timed(name: &'static str, until: UnixTime, total: Option<i64>, now: UnixTime) -> Countdown {
    let left = now.secs_until(until);
    let label = match left > 0 {
        true => format!("{} left", format_left(left)),
        false => format!("expired {} ago", format_ago(-left)),
    };
    let total = total.filter(|t| *t > 0).unwrap_or(left.max(1));
    let ratio = (left as f64 / total as f64).clamp(0.0, 1.0);
    Countdown { name, ratio, label }
}

/// The countdowns that apply to this connection, in life order.
pub(crate) fn countdowns(c: &Connection, now: UnixTime) -> Vec<Countdown> {
    if c.flags.delinked_at.is_some() {
        return Vec::new();
    }
    let l = &c.lifetimes;
    let mut out = Vec::new();
    if let (Some(t), None) = (l.code_expires_at, l.access) {
        let total = Some(t.0 - c.created_at.0).filter(|s| *s > 0);
        out.push(timed("code", t, total.or(Some(DEFAULT_CODE_SECS)), now));
    }
    match l.access {
        Some(AccessExpiry::Permanent) => out.push(Countdown {
            name: "access",
            ratio: 1.0,
            label: "permanent".into(),
        }),
        Some(AccessExpiry::At(t)) => out.push(timed("access", t, l.access_lifetime_secs(), now)),
        None => {}
    }
    if c.flags.logged_out_at.is_some() && l.has_refresh {
        out.push(Countdown {
            name: "refresh",
            ratio: 0.0,
            label: "revoked".into(),
        });
    } else if c.flags.reauth_required && l.has_refresh {
        // Its expiry still reads ahead, but the provider refused it: a
        // full bar said it had half an hour left.
        out.push(Countdown {
            name: "refresh",
            ratio: 0.0,
            label: "rejected".into(),
        });
    } else if let (true, Some(t)) = (l.has_refresh, l.refresh_expires_at) {
        let from = l.access_received_at.unwrap_or(c.created_at);
        out.push(timed("refresh", t, Some(t.0 - from.0), now));
    }
    out
}

pub(super) fn render(frame: &mut Frame, area: Rect, gauges: &[Countdown], theme: Theme) {
    for (i, g) in gauges.iter().enumerate() {
        let Ok(dy) = u16::try_from(i) else { break };
        if dy >= area.height {
            break;
        }
        let row = Rect {
            y: area.y + dy,
            height: 1,
            ..area
        };
        // Thick and thin lines keep the fill readable without colour.
        let gauge = LineGauge::default()
            .ratio(g.ratio)
            .filled_symbol("━")
            .unfilled_symbol("─")
            .label(format!("{:<8}{:>18} ", g.name, g.label))
            .filled_style(theme.gauge(g.ratio))
            .unfilled_style(theme.dim());
        frame.render_widget(gauge, row);
    }
}
