//! The grid of granted and denied scopes: `✓ accounts.get  ✗ transfer.create`.
//!
//! For Dapi every documented permission is listed: one the bank denied is
//! marked so, and one the connection never asked for is listed as that
//! (`·`), not as denied, which the table's `granted/asked` count would
//! contradict. A connection with no scopes recorded at all says so instead.

use ratatui::text::{Line, Span};

use crate::domain::scopes::DAPI_SCOPES;
use crate::domain::{Connection, ProviderKind};

use super::theme::Theme;

/// What a scope's mark says of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Granted,
    Denied,
    NotAsked,
}

fn entries(c: &Connection) -> Vec<(Mark, String)> {
    let s = &c.scopes;
    let mut out: Vec<(Mark, String)> = Vec::new();
    if c.kind == ProviderKind::Dapi {
        for name in DAPI_SCOPES {
            let mark = match (
                s.granted.iter().any(|g| g == name),
                s.denied.iter().any(|d| d == name),
            ) {
                (true, _) => Mark::Granted,
                (false, true) => Mark::Denied,
                (false, false) => Mark::NotAsked,
            };
            out.push((mark, name.to_owned()));
        }
        let extra = |list: &[String], mark| {
            list.iter()
                .filter(|g| !DAPI_SCOPES.contains(&g.as_str()))
                .map(move |g| (mark, g.clone()))
                .collect::<Vec<_>>()
        };
        out.extend(extra(&s.granted, Mark::Granted));
        out.extend(extra(&s.denied, Mark::Denied));
        return out;
    }
    out.extend(s.granted.iter().map(|g| (Mark::Granted, g.clone())));
    out.extend(s.denied.iter().map(|d| (Mark::Denied, d.clone())));
    out
}

/// The grid laid out in as many columns as `width` allows.
pub(crate) fn lines(c: &Connection, width: u16, theme: Theme) -> Vec<Line<'static>> {
    // Nothing recorded is unknown, not "all denied" (a Dapi code before its
    // exchange carries no scopes yet).
    if c.scopes.granted.is_empty() && c.scopes.denied.is_empty() {
        return vec![Line::styled("  no scopes recorded yet", theme.dim())];
    }
    let entries = entries(c);
    let cell = entries
        .iter()
        .map(|(_, n)| n.chars().count())
        .max()
        .unwrap_or(0)
        + 4;
    let per_line = (usize::from(width.saturating_sub(2)) / cell).max(1);
    let mut out: Vec<Line> = entries
        .chunks(per_line)
        .map(|chunk| {
            let mut spans = vec![Span::raw("  ")];
            for (mark, name) in chunk {
                let (mark, style) = match mark {
                    Mark::Granted => ("✓", theme.ok()),
                    Mark::Denied => ("✗", theme.bad()),
                    Mark::NotAsked => ("·", theme.dim()),
                };
                spans.push(Span::styled(mark, style));
                spans.push(Span::raw(format!(" {name:<w$}", w = cell - 2)));
            }
            Line::from(spans)
        })
        .collect();
    if !c.scopes.products.is_empty() {
        out.push(Line::raw(format!(
            "  products: {}",
            c.scopes.products.join(", ")
        )));
    }
    out
}
