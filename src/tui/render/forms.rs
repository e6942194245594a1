//! The add form and the client-credentials form.
//!
//! The pasted Connect payload is never drawn as pasted: it carries the
//! access code and the user secret. The form shows what parsing made of
//! it (the connection id, the masked code) or the parser's error.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::domain::ProviderKind;

use super::super::forms::{AddField, AddForm, CredsField, CredsForm};
use super::text_box;
use super::theme::Theme;

fn label(name: &str, focused: bool, theme: Theme) -> Span<'static> {
    let text = format!("{} {name:<10}", if focused { "›" } else { " " });
    match focused {
        true => Span::styled(text, theme.key()),
        false => Span::raw(text),
    }
}

/// `‹ keycloak (oidc) ›  2 of 3`: one line whatever the number of choices.
fn choice(names: &[&str], at: usize) -> String {
    let name = names.get(at).copied().unwrap_or("—");
    format!("‹ {name} ›  {} of {}", at + 1, names.len())
}

fn draw(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>, theme: Theme) {
    text_box(frame, area, 72, title, lines, theme);
}

pub(super) fn add(frame: &mut Frame, area: Rect, f: &AddForm, theme: Theme) {
    let names: Vec<String> = f
        .providers
        .iter()
        .map(|(n, k)| format!("{n} ({k})"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut lines = vec![Line::from(vec![
        label("provider", f.focus == AddField::Provider, theme),
        Span::raw(choice(&names, f.provider)),
    ])];
    lines.push(Line::from(vec![
        label("user", f.focus == AddField::User, theme),
        Span::raw(f.user.text().to_owned()),
    ]));
    if f.kind() == Some(ProviderKind::Dapi) {
        lines.extend(dapi_lines(f, theme));
    } else {
        lines.push(Line::styled(
            "  Enter starts a browser login; the URL shows here too.",
            theme.dim(),
        ));
    }
    if let Some(e) = &f.error {
        lines.push(Line::styled(format!("  ✗ {e}"), theme.bad()));
    }
    draw(frame, area, "add a connection", lines, theme);
}

/// The label and payload rows only Dapi asks for.
fn dapi_lines(f: &AddForm, theme: Theme) -> [Line<'static>; 2] {
    let hint = if f.label.is_empty() {
        "(bank name)"
    } else {
        ""
    };
    [
        Line::from(vec![
            label("label", f.focus == AddField::Label, theme),
            Span::raw(f.label.text().to_owned()),
            Span::styled(hint, theme.dim()),
        ]),
        Line::from(vec![
            label("payload", f.focus == AddField::Payload, theme),
            payload_summary(f, theme),
        ]),
    ]
}

fn payload_summary(f: &AddForm, theme: Theme) -> Span<'static> {
    match f.parsed() {
        None => Span::styled("paste the Connect success payload", theme.dim()),
        Some(Ok(p)) => Span::styled(
            format!(
                "✓ connectionID {} · accessCode {}",
                p.connection_id,
                p.access_code.masked()
            ),
            theme.ok(),
        ),
        Some(Err(e)) => Span::styled(format!("✗ {e}"), theme.bad()),
    }
}

pub(super) fn creds(frame: &mut Frame, area: Rect, f: &CredsForm, theme: Theme) {
    let names: Vec<&str> = f.providers.iter().map(String::as_str).collect();
    let mut lines = vec![
        Line::from(vec![
            label("provider", f.focus == CredsField::Provider, theme),
            Span::raw(choice(&names, f.provider)),
        ]),
        Line::from(vec![
            label("user", f.focus == CredsField::User, theme),
            Span::raw(f.user.text().to_owned()),
        ]),
        Line::styled(
            "  Enter asks the provider for an app-level token.",
            theme.dim(),
        ),
    ];
    if let Some(e) = &f.error {
        lines.push(Line::styled(format!("  ✗ {e}"), theme.bad()));
    }
    draw(frame, area, "client credentials", lines, theme);
}
