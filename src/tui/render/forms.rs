//! The add form and the client-credentials form.
//!
//! The pasted Connect payload is never drawn as pasted: it carries the
//! access code and the user secret. The form shows what parsing made of
//! it (the connection id, the masked code) or the parser's error.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::domain::{ProviderKind, UnixTime};

use super::super::app::App;
use super::super::forms::{AddField, AddForm, CredsField, CredsForm};
use super::super::line_edit::LineEdit;
use super::theme::Theme;
use super::{hanging, text_box_with_cursor};

/// Where a field's value starts: the focus mark, a space and the label.
const VALUE_COLUMN: usize = 12;

fn label(name: &str, focused: bool, theme: Theme) -> Span<'static> {
    let mark = if focused { "›" } else { " " };
    let text = format!("{mark} {name:<w$}", w = VALUE_COLUMN - 2);
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

const FORM_WIDTH: u16 = 72;

/// Draws the form's `lines`, with the terminal's cursor in the text field
/// that has focus: `cursor` is that field's line and the cursor's column in
/// its value.
fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    cursor: Option<(usize, usize)>,
    theme: Theme,
) {
    let cursor = cursor.map(|(at, col)| (at, VALUE_COLUMN + col));
    text_box_with_cursor(frame, area, FORM_WIDTH, title, lines, cursor, theme);
}

/// The columns a field's value has in a form on `area`.
fn value_room(area: Rect) -> usize {
    usize::from(FORM_WIDTH.min(area.width).saturating_sub(2)).saturating_sub(VALUE_COLUMN)
}

/// The user field with, for a name no user has, that the connection adds
/// one: a typo would otherwise make a second user without a word.
fn user_line(
    field: &LineEdit,
    room: usize,
    focused: bool,
    app: &App,
    theme: Theme,
) -> Line<'static> {
    let name = field.text().trim();
    let (shown, _) = field.view(room);
    let mut spans = vec![label("user", focused, theme), Span::raw(shown.to_owned())];
    if name.is_empty() || app.users.iter().any(|u| u.name == name) {
        return Line::from(spans);
    }
    // The store refuses a name that differs from a user's only in case.
    match app.users.iter().find(|u| u.name.eq_ignore_ascii_case(name)) {
        Some(u) => spans.push(Span::styled(
            format!("  ✗ {:?} exists: use that name", u.name),
            theme.bad(),
        )),
        None => spans.push(Span::styled(
            "  (new: added with the connection)",
            theme.dim(),
        )),
    }
    Line::from(spans)
}

pub(super) fn add(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    f: &AddForm,
    now: UnixTime,
    theme: Theme,
) {
    let names: Vec<String> = f
        .providers
        .iter()
        .map(|(n, k)| format!("{n} ({k})"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let room = value_room(area);
    let mut lines = vec![Line::from(vec![
        label("provider", f.focus == AddField::Provider, theme),
        Span::raw(choice(&names, f.provider)),
    ])];
    // The user's line comes second, the label's (Dapi's alone) third.
    let cursor = match f.focus {
        AddField::User => Some((1, f.user.view(room).1)),
        AddField::Label => Some((2, f.label.view(room).1)),
        _ => None,
    };
    let focused = f.focus == AddField::User;
    lines.push(user_line(&f.user, room, focused, app, theme));
    if f.kind() == Some(ProviderKind::Dapi) {
        lines.extend(dapi_lines(f, room, now, theme));
    } else {
        lines.push(Line::styled(
            "  Enter starts a browser login; the URL shows here too.",
            theme.dim(),
        ));
    }
    if let Some(e) = &f.error {
        lines.push(Line::styled(format!("  ✗ {e}"), theme.bad()));
    }
    draw(frame, area, "add a connection", lines, cursor, theme);
}

/// The label and payload rows only Dapi asks for.
fn dapi_lines(f: &AddForm, room: usize, now: UnixTime, theme: Theme) -> Vec<Line<'static>> {
    let hint = if f.label.is_empty() {
        "(bank name)"
    } else {
        ""
    };
    let label_line = Line::from(vec![
        label("label", f.focus == AddField::Label, theme),
        Span::raw(f.label.view(room).0.to_owned()),
        Span::styled(hint, theme.dim()),
    ]);
    let payload = label("payload", f.focus == AddField::Payload, theme);
    match f.checked(now) {
        None => vec![
            label_line,
            Line::from(vec![
                payload,
                Span::styled("paste the Connect success payload", theme.dim()),
            ]),
        ],
        // Dapi's connection ids are 40 hex digits: with the code beside it
        // the line ran past the box and wrapped to its edge, so the code
        // has a line of its own under the value column.
        Some(Ok(p)) => vec![
            label_line,
            Line::from(vec![
                payload,
                Span::styled(format!("✓ connectionID {}", p.connection_id), theme.ok()),
            ]),
            Line::from(vec![
                Span::raw(" ".repeat(VALUE_COLUMN)),
                Span::styled(
                    format!("  accessCode {}", p.access_code.masked()),
                    theme.ok(),
                ),
            ]),
        ],
        Some(Err(e)) => {
            let mut lines = vec![label_line];
            // Wrapped by the box instead, it ran back to the box's edge under the
            // labels.
            lines.extend(hanging(
                payload,
                VALUE_COLUMN,
                INNER - VALUE_COLUMN,
                &format!("✗ {e}"),
                theme.bad(),
            ));
            lines
        }
    }
}

/// The form's inner width: its box less the borders.
const INNER: usize = FORM_WIDTH as usize - 2;

pub(super) fn creds(frame: &mut Frame, area: Rect, app: &App, f: &CredsForm, theme: Theme) {
    let names: Vec<&str> = f.providers.iter().map(String::as_str).collect();
    let room = value_room(area);
    let focused = f.focus == CredsField::User;
    let cursor = focused.then(|| (1, f.user.view(room).1));
    let mut lines = vec![
        Line::from(vec![
            label("provider", f.focus == CredsField::Provider, theme),
            Span::raw(choice(&names, f.provider)),
        ]),
        user_line(&f.user, room, focused, app, theme),
        Line::styled(
            "  Enter asks the provider for an app-level token.",
            theme.dim(),
        ),
    ];
    if let Some(e) = &f.error {
        lines.push(Line::styled(format!("  ✗ {e}"), theme.bad()));
    }
    draw(frame, area, "client credentials", lines, cursor, theme);
}
