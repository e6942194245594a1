//! The confirmation dialogs (logout, delink, quit) and the login URL note.
//!
//! Each says what will happen in words and which answer is the default, so
//! an operator who presses Enter out of habit cancels rather than deletes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::domain::text::counted;
use crate::domain::{ConnectionId, Ending, OpKind, Untouched};

use super::super::forms::{DelinkDialog, Ends};
use super::theme::Theme;
use super::{text_box, text_box_with_cursor};

fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    theme: Theme,
) -> Rect {
    text_box(frame, area, WIDTH, title, lines, theme)
}

const WIDTH: u16 = 64;

fn answer(theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled("y", theme.key()),
        Span::raw(" yes   "),
        Span::styled("N", theme.key()),
        Span::raw(" no (default)"),
    ])
}

pub(super) fn logout(frame: &mut Frame, area: Rect, what: &str, app_token: bool, theme: Theme) {
    let ends = match app_token {
        true => {
            "The app token is revoked where the provider can, and nothing renews it again; \
             `c` asks for a new one."
        }
        false => "The refresh token is revoked; the access token stays valid until it expires.",
    };
    let lines = vec![
        Line::raw(format!("Log out {what}?")),
        Line::raw(ends),
        Line::raw(""),
        answer(theme),
    ];
    draw(frame, area, "logout", lines, theme);
}

/// Counted as they end: the dialog asked with one operation in flight
/// still said so after it had ended.
///
/// A bulk refresh is one operation of many rows: how many it has left is
/// said, since those not yet sent are left undone.
pub(super) fn quit(
    frame: &mut Frame,
    area: Rect,
    in_flight: usize,
    bulk: Option<super::super::app::Progress>,
    theme: Theme,
) {
    let asked = match in_flight {
        0 => "Nothing is in flight any more: quit?".to_owned(),
        n => format!(
            "{} in flight: quit anyway?",
            counted(n, "operation", "operations")
        ),
    };
    let mut lines = vec![Line::raw(asked)];
    if let Some(p) = bulk.filter(|p| p.done < p.total) {
        lines.push(Line::raw(format!(
            "The refresh of {} has {} left, not refreshed if you quit.",
            counted(p.total, "row", "rows"),
            p.total - p.done
        )));
    }
    lines.extend([
        Line::styled(
            "Nothing more is sent; what was sent is waited for and written.",
            theme.dim(),
        ),
        Line::raw(""),
        answer(theme),
    ]);
    draw(frame, area, "quit", lines, theme);
}

pub(super) fn delink(frame: &mut Frame, area: Rect, d: &DelinkDialog, theme: Theme) {
    let (name, title, said) = match (d.ends, d.plan.as_slice()) {
        (Ends::Row, [(_, ending)]) => (
            "delink",
            format!("Delink {}: this is final.", d.what),
            match (ending, d.unissued) {
                (Ending::ExchangeThenDelink, _) => {
                    "The pending code is exchanged first: its token \
                     ends the link at Dapi. bankdeck then erases its secrets."
                        .to_owned()
                }
                (_, true) => {
                    "No token is held here: nothing is sent; secrets are erased.".to_owned()
                }
                _ => "The provider forgets the link and bankdeck erases its secrets.".to_owned(),
            },
        ),
        (Ends::Marked(op), plan) => (
            d.ends.verb(),
            match op {
                OpKind::Logout => format!("Log out {}: this is final.", d.what),
                _ => format!("Delink {}: this is final.", d.what),
            },
            ending_words(plan),
        ),
        (_, plan) => (
            "disconnect",
            format!(
                "Disconnect {}: end {}. This is final.",
                d.what,
                counted(plan.len(), "connection", "connections")
            ),
            ending_words(plan),
        ),
    };
    // The box's borders and the "> " before the answer.
    let room = usize::from(WIDTH.min(area.width).saturating_sub(4));
    let (typed, cursor) = d.typed.view(room);
    let mut lines = vec![
        Line::styled(title, theme.alert()),
        Line::raw(said),
        Line::raw(""),
        Line::raw(match d.ends {
            Ends::Marked(_) => format!(
                "Type the number of connections ({}) and press Enter:",
                d.user
            ),
            Ends::Row | Ends::User => {
                format!("Type the user's name ({}) and press Enter:", d.user)
            }
        }),
        Line::from(vec![
            Span::styled("> ", theme.key()),
            Span::raw(typed.to_owned()),
        ]),
    ];
    match &d.error {
        Some(e) => lines.push(Line::styled(e.clone(), theme.bad())),
        None => lines.push(Line::styled("Esc cancels (the default).", theme.dim())),
    }
    // The answer's line, the fifth, after its "> "; a long user name wraps
    // the lines above it.
    text_box_with_cursor(
        frame,
        area,
        WIDTH,
        name,
        lines,
        Some((4, 2 + cursor)),
        theme,
    );
}

/// "It will delink 1 (Dapi), exchange 1 pending code, then delink it, log
/// out 1 (refresh token revoked).": what ending each of `plan`'s
/// connections does, said before it is done.
fn ending_words(plan: &[(ConnectionId, Ending)]) -> String {
    let n = |e: Ending| plan.iter().filter(|(_, x)| *x == e).count();
    let pending = |k: usize| match k {
        1 => "exchange 1 pending code, then delink it".to_owned(),
        k => format!("exchange {k} pending codes, then delink them"),
    };
    // How many of a kind, and its words for that many.
    type Said = (usize, fn(usize) -> String);
    let said: [Said; 4] = [
        (n(Ending::Delink), |k| format!("delink {k} (Dapi)")),
        (n(Ending::ExchangeThenDelink), pending),
        (n(Ending::Logout), |k| {
            format!("log out {k} (refresh token revoked)")
        }),
        (n(Ending::Nothing(Untouched::AppToken)), |k| {
            format!(
                "revoke {} where the provider can",
                counted(k, "app token", "app tokens")
            )
        }),
    ];
    let parts: Vec<String> = (said.into_iter())
        .filter(|(k, _)| *k > 0)
        .map(|(k, words)| words(k))
        .collect();
    format!("It will {}.", parts.join(", "))
}

pub(super) fn login_url(frame: &mut Frame, area: Rect, url: &str, theme: Theme) {
    let lines = vec![
        Line::raw("A browser login is waiting. If no browser opened, open:"),
        Line::raw(""),
        Line::styled(url.to_owned(), theme.key()),
        Line::raw(""),
        Line::styled(
            "The URL stays in the activity pane. Shift+drag selects text.",
            theme.dim(),
        ),
    ];
    draw(frame, area, "login", lines, theme);
}
