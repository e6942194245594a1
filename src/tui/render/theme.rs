//! Colours and emphasis, in one place so `NO_COLOR` is one switch.
//!
//! Colour only ever repeats what the text already says (the state in words,
//! ✓/✗ marks), so with `no_color` every style drops its colour and keeps
//! only bold and reverse, which are not colours.

use ratatui::style::{Color, Modifier, Style};

use crate::domain::StateKind;

use super::super::activity::Level;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(no_color: bool) -> Self {
        Self { color: !no_color }
    }

    fn fg(self, c: Color) -> Style {
        match self.color {
            true => Style::new().fg(c),
            false => Style::new(),
        }
    }

    pub fn state(self, kind: StateKind) -> Style {
        self.fg(match kind {
            StateKind::Active => Color::Green,
            StateKind::Expiring | StateKind::CodePending => Color::Yellow,
            StateKind::Expired
            | StateKind::Failed
            | StateKind::ReauthRequired
            | StateKind::CodeExpired => Color::Red,
            StateKind::LoggedOut | StateKind::Delinked => Color::DarkGray,
        })
    }

    pub fn level(self, level: Level) -> Style {
        match level {
            Level::Info => Style::new(),
            Level::Ok => self.fg(Color::Green),
            Level::Warn => self.fg(Color::Yellow),
            Level::Error => self.fg(Color::Red),
        }
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn bad(self) -> Style {
        self.fg(Color::Red)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn alert(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn gauge(self, ratio: f64) -> Style {
        self.fg(match ratio {
            r if r <= 0.1 => Color::Red,
            r if r <= 0.3 => Color::Yellow,
            _ => Color::Green,
        })
    }
}
