//! The grid of granted and denied scopes: `✓ accounts.get  ✗ transfer.create`.
//!
//! For Dapi every documented permission is listed, so a scope that is
//! missing from the token reads as denied instead of silently absent.
//! A connection with no scopes recorded at all says so instead.

use ratatui::text::{Line, Span};

use crate::domain::scopes::DAPI_SCOPES;
use crate::domain::{Connection, ProviderKind};

use super::theme::Theme;

fn entries(c: &Connection) -> Vec<(bool, String)> {
    let s = &c.scopes;
    let mut out: Vec<(bool, String)> = Vec::new();
    if c.kind == ProviderKind::Dapi {
        for name in DAPI_SCOPES {
            out.push((s.granted.iter().any(|g| g == name), name.to_owned()));
        }
        let extra = s
            .granted
            .iter()
            .filter(|g| !DAPI_SCOPES.contains(&g.as_str()));
        out.extend(extra.map(|g| (true, g.clone())));
        return out;
    }
    out.extend(s.granted.iter().map(|g| (true, g.clone())));
    out.extend(s.denied.iter().map(|d| (false, d.clone())));
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
            for (granted, name) in chunk {
                let (mark, style) = match granted {
                    true => ("✓", theme.ok()),
                    false => ("✗", theme.bad()),
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
