//! The detail pane of the selected connection: countdown gauges, ids,
//! masked tokens, decoded claims, the scope grid and recent audit entries.
//!
//! Tokens are masked unless the operator revealed them (and the reveal has
//! not run out); the pane never shows a secret by default.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use serde_json::Value;

use crate::domain::text::{columns, cut_owned};
use crate::domain::time::format_left;
use crate::domain::{Claims, ConnState, Connection, ProviderKind, Secret, StateKind, UnixTime};
use crate::worker::{Detail, NextTry};

use super::super::action::Action;
use super::super::activity::Level;
use super::super::app::App;
use super::super::update::REVEAL_SECS;
use super::theme::Theme;
use super::{gauges, hanging, scope_grid, scroll_hint};

/// The lines of facts and tokens a detail pane keeps before its gauges
/// and audit get any.
const TEXT_LEAST: usize = 3;

/// Claims worth a line, in reading order; the rest stay in the token.
const CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "scope",
    "iat",
    "exp",
    "auth_time",
    "tokenID",
    "sid",
];

pub(super) fn render(app: &App, frame: &mut Frame, area: Rect, now: UnixTime, theme: Theme) {
    let Some(c) = app.selected() else {
        let empty = Paragraph::new("no connection selected").block(Block::bordered());
        frame.render_widget(empty, area);
        return;
    };
    let pane = Pane::new(app, c, area, now, theme);
    let most = pane.max_scroll();
    let scroll = app.detail.scroll.min(most);
    let mut title = vec![Span::styled(
        format!(" detail · {} ", c.name()),
        theme.title(),
    )];
    // Said where it is cut, since nothing else shows there is more.
    title.extend(scroll_hint(
        app,
        (Action::DetailDown, Action::DetailUp),
        scroll,
        most,
        theme,
    ));
    frame.render_widget(Block::bordered().title(Line::from(title)), area);
    gauges::render(frame, pane.gauges, &pane.countdowns, theme);
    frame.render_widget(pane.text.scroll((scroll, 0)), pane.text_area);
    frame.render_widget(Paragraph::new(pane.audit), pane.audit_area);
}

/// How far the selected row's detail text can scroll in a pane of `area`:
/// `update` keeps the scroll within it, so a press back always moves.
pub(crate) fn max_scroll(app: &App, area: Rect, now: UnixTime) -> u16 {
    app.selected().map_or(0, |c| {
        Pane::new(app, c, area, now, Theme::new(true)).max_scroll()
    })
}

/// The pane's parts and where each goes; one for drawing and for measuring.
struct Pane {
    countdowns: Vec<gauges::Countdown>,
    gauges: Rect,
    text: Paragraph<'static>,
    text_area: Rect,
    audit: Vec<Line<'static>>,
    audit_area: Rect,
}

impl Pane {
    fn new(app: &App, c: &Connection, area: Rect, now: UnixTime, theme: Theme) -> Pane {
        let inner = Block::bordered().inner(area);
        let detail = app
            .detail
            .loaded
            .as_ref()
            .filter(|(id, _)| *id == c.id)
            .map(|(_, d)| d.as_ref());
        let countdowns = gauges::countdowns(c, now);
        let audit = audit_lines(detail, usize::from(inner.width), theme);
        // The facts and tokens first, as the pane's height allows, then
        // the gauges, then the audit: on a short screen the audit's lines
        // took the whole pane, and the facts a key scrolled were not drawn.
        let mut left = inner.height;
        let mut take = |wanted: usize| {
            let got = u16::try_from(wanted).unwrap_or(u16::MAX).min(left);
            left -= got;
            got
        };
        take(TEXT_LEAST);
        let gauges_h = take(countdowns.len());
        // Its heading alone would say nothing.
        let audit_h = Some(take(audit.len())).filter(|&h| h >= 2).unwrap_or(0);
        let [gauges, text_area, audit_area] = Layout::vertical([
            Constraint::Length(gauges_h),
            Constraint::Fill(1),
            Constraint::Length(audit_h),
        ])
        .areas(inner);
        let text = Paragraph::new(text_lines(app, c, detail, text_area, now, theme))
            .wrap(Wrap { trim: false });
        Pane {
            countdowns,
            gauges,
            text,
            text_area,
            audit,
            audit_area,
        }
    }

    fn max_scroll(&self) -> u16 {
        let lines = self.text.line_count(self.text_area.width);
        u16::try_from(lines.saturating_sub(usize::from(self.text_area.height))).unwrap_or(u16::MAX)
    }
}

fn text_lines(
    app: &App,
    c: &Connection,
    detail: Option<&Detail>,
    text: Rect,
    now: UnixTime,
    theme: Theme,
) -> Vec<Line<'static>> {
    let mut lines = facts(app, c, text.width, now, theme);
    lines.push(Line::raw(""));
    lines.extend(tokens(app, c, detail, now, theme));
    lines.push(Line::raw(""));
    let claims = claims(detail, now, theme);
    if !claims.is_empty() {
        lines.extend(claims);
        lines.push(Line::raw(""));
    }
    let legend = match c.kind {
        ProviderKind::Dapi => "scopes  ✓ granted  ✗ denied  · not asked",
        _ => "scopes  ✓ granted  ✗ denied",
    };
    lines.push(Line::styled(legend, theme.title()));
    lines.extend(scope_grid::lines(c, text.width, theme));
    lines
}

/// The width of a fact's name column (`state   `, `remote  `).
const LABEL: usize = 8;

fn field(name: &str, value: String) -> Line<'static> {
    Line::from(vec![Span::raw(format!("{name:<LABEL$}")), Span::raw(value)])
}

fn facts(app: &App, c: &Connection, width: u16, now: UnixTime, theme: Theme) -> Vec<Line<'static>> {
    let state = ConnState::derive(c, now, app.warn_secs);
    let remote = c.remote.labelled();
    // A failure's message runs long: wrapped under the value, not the label.
    let room = usize::from(width).saturating_sub(LABEL);
    let mut out = hanging(
        Span::raw(format!("{:<LABEL$}", "state")),
        LABEL,
        room,
        &state.describe(now),
        theme.state(state.kind()),
    );
    out.push(field(
        "ids",
        format!(
            "connection {} · {} ({}, {})",
            c.id,
            c.provider,
            c.kind,
            c.grant.as_str()
        ),
    ));
    if let Some(lease) = app.busy_elsewhere(c.id, now) {
        let who = crate::store::holder::described(&lease.holder);
        let until = lease.until.clock_from(now);
        let text = format!("{who}, its lease until {until}");
        let lead = Span::raw(format!("{:<LABEL$}", "busy"));
        out.extend(hanging(
            lead,
            LABEL,
            room,
            &text,
            ratatui::style::Style::default(),
        ));
    }
    out.extend(automatic(app, c, &state, now, theme));
    out.extend(remote_lines(&remote, usize::from(width)));
    if let Some(e) = &c.flags.last_error {
        let lead = Span::styled(format!("{:<LABEL$}", "error"), theme.bad());
        out.extend(hanging(lead, LABEL, room, e, theme.bad()));
    }
    out
}

/// What the scheduler will do with the row next, and when: an expiring row
/// reads the same whether a refresh is coming in 20 s or only by hand.
/// Nothing for a row it has no work for (delinked, logged out, no provider),
/// or when no scheduler runs (read-only).
fn automatic(
    app: &App,
    c: &Connection,
    state: &ConnState,
    now: UnixTime,
    theme: Theme,
) -> Option<Line<'static>> {
    let schedule = app.schedules.get(&c.provider)?;
    let Some((at, op)) = schedule.due_at(c) else {
        let by_hand = match (c.kind, state.kind()) {
            (ProviderKind::Dapi, StateKind::CodePending) if !schedule.auto_exchange => "exchange",
            (ProviderKind::Dapi, _) => return None,
            (_, StateKind::Active | StateKind::Expiring | StateKind::Expired)
                if !schedule.auto_refresh && c.renewable() =>
            {
                "refresh"
            }
            _ => return None,
        };
        return Some(field(
            "auto",
            format!("off for {}: {by_hand} by hand", c.provider),
        ));
    };
    let (when, text) = match app.retries.get(&c.id) {
        // The error line below says what is wrong with it.
        Some(NextTry::AfterRestart) => {
            return Some(Line::styled(
                "auto    stopped: fix the configuration and restart",
                theme.bad(),
            ));
        }
        Some(NextTry::After(t)) if *t > now => (
            *t,
            format!(
                "retry at {} (in {}): the last {op} failed",
                t.clock(),
                format_left(now.secs_until(*t))
            ),
        ),
        _ if at > now => (
            at,
            format!(
                "{op} at {} (in {})",
                at.clock(),
                format_left(now.secs_until(at))
            ),
        ),
        _ => (now, format!("{op} due now")),
    };
    // A row due while its provider is held reads as due, yet nothing goes.
    let held = held_until(app, &c.provider, now).filter(|(until, _)| *until > when);
    if let Some((until, why)) = held {
        let text = format!(
            "{op} not before {} (in {}): {why}",
            until.clock_from(now),
            format_left(now.secs_until(until))
        );
        return Some(Line::styled(
            format!("auto    {text}"),
            theme.level(Level::Warn),
        ));
    }
    Some(field("auto", text))
}

/// Until when the scheduler sends `provider` nothing, if it holds now, and
/// why: it asked for a wait, or it stopped answering and is paused.
fn held_until(app: &App, provider: &str, now: UnixTime) -> Option<(UnixTime, String)> {
    let asked = (app.waits.get(provider).copied())
        .map(|t| (t, format!("{provider} asked to be sent nothing until then")));
    let paused = (app.paused.get(provider).copied()).map(|t| {
        (
            t,
            format!("{provider} stopped answering; its automatic work is paused"),
        )
    });
    asked
        .into_iter()
        .chain(paused)
        .filter(|(t, _)| *t > now)
        .max_by_key(|(t, _)| *t)
}

/// The provider's ids for the connection, on one line when they fit. Real
/// ones are 36–48 characters, and a wrap at a space parted a name from its
/// id: then each gets a line, and an id too long for its name's line goes
/// on the next, indented under it.
fn remote_lines(remote: &[(&str, &str)], width: usize) -> Vec<Line<'static>> {
    let pair = |(name, id): &(&str, &str)| format!("{name} {id}");
    let joined = remote.iter().map(pair).collect::<Vec<_>>().join(" · ");
    if remote.is_empty() || LABEL + joined.chars().count() <= width {
        return remote
            .first()
            .map(|_| field("remote", joined))
            .into_iter()
            .collect();
    }
    let mut lines = Vec::new();
    for (i, &(name, id)) in remote.iter().enumerate() {
        let label = if i == 0 { "remote" } else { "" };
        if LABEL + name.chars().count() + 1 + id.chars().count() <= width {
            lines.push(field(label, pair(&(name, id))));
        } else {
            lines.push(field(label, name.to_owned()));
            lines.push(field("", format!("  {id}")));
        }
    }
    lines
}

fn tokens(
    app: &App,
    c: &Connection,
    detail: Option<&Detail>,
    now: UnixTime,
    theme: Theme,
) -> Vec<Line<'static>> {
    let reveal_left = app
        .detail
        .revealed_until
        .filter(|(id, _)| *id == c.id)
        .map(|(_, t)| now.secs_until(t).max(0));
    // The key by name, as the operator bound it: "reveal" alone sent them
    // to the help to find out how.
    let key = app.keymap.first_key(Action::Reveal);
    // Nothing held (a delinked row's were erased): nothing masked to reveal.
    if let Some(d) = detail.filter(|d| d.secrets.none_held()) {
        let mut out = vec![Line::styled("tokens", theme.title())];
        out.extend(secret_lines(d, reveal_left, theme));
        return out;
    }
    let heading = match (reveal_left, key) {
        (Some(s), Some(k)) => format!("tokens  REVEALED: masked again in {s} s ({k} masks now)"),
        (Some(s), None) => format!("tokens  REVEALED: masked again in {s} s"),
        // A reveal is recorded in the audit log, which read-only cannot write.
        (None, _) if app.readonly() => "tokens  masked (read-only: not revealed)".into(),
        (None, Some(k)) => format!("tokens  masked ({k} reveals them for {REVEAL_SECS} s)"),
        (None, None) => "tokens  masked (reveal has no key: bind one in [keys])".into(),
    };
    let mut out = vec![Line::styled(heading, theme.title())];
    match detail {
        Some(d) => out.extend(secret_lines(d, reveal_left, theme)),
        None => out.push(Line::styled("  loading…", theme.dim())),
    }
    out
}

/// One line per secret held, masked unless revealed.
fn secret_lines(d: &Detail, reveal_left: Option<i64>, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let s = &d.secrets;
    let rows = [
        ("access code", &s.access_code),
        ("access token", &s.access_token),
        ("refresh token", &s.refresh_token),
        ("id token", &s.id_token),
        ("user secret", &s.user_secret),
    ];
    let held: Vec<_> = rows
        .iter()
        .filter_map(|(name, s)| s.as_ref().map(|s| (name, s)))
        .collect();
    if held.is_empty() {
        out.push(Line::styled("  no secrets held", theme.dim()));
    }
    for (name, secret) in held {
        out.push(Line::raw(format!(
            "  {name:<14}{}",
            show(secret, reveal_left)
        )));
    }
    out
}

fn show(secret: &Secret, reveal_left: Option<i64>) -> String {
    match reveal_left {
        Some(_) => secret.expose().to_owned(),
        None => secret.masked(),
    }
}

fn claims(detail: Option<&Detail>, now: UnixTime, theme: Theme) -> Vec<Line<'static>> {
    let Some(d) = detail else {
        return Vec::new();
    };
    let (which, claims) = match (&d.access_claims, &d.id_claims, &d.code_claims) {
        (Some(c), _, _) => ("access token", c),
        (None, Some(c), _) => ("id token", c),
        (None, None, Some(c)) => ("access code", c),
        _ => return Vec::new(),
    };
    let mut out = vec![Line::styled(
        format!("claims  {which}, decoded, not verified"),
        theme.title(),
    )];
    for key in CLAIMS {
        if let Some(v) = claims.payload.get(key) {
            out.push(Line::raw(format!(
                "  {key:<10}{}",
                claim_text(claims, key, v, now)
            )));
        }
    }
    out
}

fn claim_text(claims: &Claims, key: &str, v: &Value, now: UnixTime) -> String {
    let instant = match key {
        "exp" => claims.exp(),
        "iat" => claims.iat(),
        _ => None,
    };
    match (instant, v) {
        (Some(t), _) if key == "exp" && t > now => {
            format!("{} (in {})", t.rfc3339(), format_left(now.secs_until(t)))
        }
        (Some(t), _) => t.rfc3339(),
        (None, Value::String(s)) => s.clone(),
        (None, other) => other.to_string(),
    }
}

/// One line a line of the log, cut to `width` with a mark where it was
/// cut: cut at the pane's edge, "(…): t" read as the whole message.
fn audit_lines(detail: Option<&Detail>, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let Some(d) = detail.filter(|d| !d.audit.is_empty() || d.archived_before.is_some()) else {
        return Vec::new();
    };
    let mut out = vec![Line::styled("audit", theme.title())];
    for e in d.audit.iter().take(Detail::AUDIT_SHOWN) {
        let (mark, style) = match e.ok {
            true => ("✓", theme.ok()),
            false => ("✗", theme.bad()),
        };
        let head = format!("  {} {} ", e.at.clock(), e.op);
        let room = width.saturating_sub(columns(&head) + columns(mark));
        let said = format!(" {}: {}", e.actor, e.message);
        out.push(Line::from(vec![
            Span::raw(head),
            Span::styled(mark, style),
            Span::raw(cut_owned(said, room)),
        ]));
    }
    // Without it, a connection whose lines were all archived showed no
    // audit at all, as if nothing had ever been done to it.
    if let Some(t) = d.archived_before {
        out.push(Line::styled(
            format!(
                "  before {}: archived (`bankdeck audit` names the file)",
                t.rfc3339()
            ),
            theme.dim(),
        ));
    }
    out
}
