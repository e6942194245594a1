//! One key as the config file spells it (`ctrl-r`, `R`, `pgdn`, `?`) and as
//! a terminal reports it.
//!
//! Key specs live apart from the keymap because both directions matter: the
//! config's text is parsed into a spec, and the help overlay and key bar print
//! a spec back, so an override shows on screen exactly as the operator wrote it.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key plus the modifiers that change its meaning (ctrl, alt). Shift is
/// folded into the character (`R`), except for non-character keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const NAMED: [(&str, KeyCode); 17] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
    ("escape", KeyCode::Esc),
];

const ALIASES: [(&str, &str); 4] = [
    ("pageup", "pgup"),
    ("pagedown", "pgdn"),
    ("del", "delete"),
    ("return", "enter"),
];

impl KeySpec {
    pub const fn plain(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: KeyModifiers::NONE,
        }
    }

    pub const fn code(code: KeyCode) -> Self {
        Self {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// The spec a terminal key event matches. Terminals disagree on whether
    /// `R` carries SHIFT, so shift is dropped for characters.
    pub fn from_event(ev: &KeyEvent) -> Self {
        let mut mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(ev.code, KeyCode::Char(_)) {
            mods |= ev.modifiers & KeyModifiers::SHIFT;
        }
        let code = match ev.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Self { code, mods }
    }

    /// Parses `ctrl-r`, `alt-x`, `shift-tab`, `R`, `?`, `-`, `pgdn`, `f5`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rest = text.trim();
        let mut mods = KeyModifiers::NONE;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (flag, len) = if lower.starts_with("ctrl-") && rest.len() > 5 {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") && rest.len() > 6 {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            if mods.contains(flag) {
                let name = &rest[..len - 1];
                return Err(format!(
                    "'{name}' given twice in '{}' (write it once, as in ctrl-alt-x)",
                    text.trim()
                ));
            }
            mods |= flag;
            rest = &rest[len..];
        }
        let code = parse_code(rest)?;
        Ok(Self::normalise(code, mods))
    }

    fn normalise(code: KeyCode, mods: KeyModifiers) -> Self {
        match code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::SHIFT) => Self {
                code: KeyCode::Char(c.to_ascii_uppercase()),
                mods: mods - KeyModifiers::SHIFT,
            },
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => Self {
                code: KeyCode::Char(c.to_ascii_lowercase()),
                mods,
            },
            KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => Self::code(KeyCode::BackTab),
            _ => Self { code, mods },
        }
    }
}

fn parse_code(name: &str) -> Result<KeyCode, String> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next()) {
        return Ok(KeyCode::Char(c));
    }
    let lower = name.to_ascii_lowercase();
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.as_str(), |(_, to)| to);
    if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == canonical) {
        return Ok(*code);
    }
    if let Some(n) = canonical
        .strip_prefix('f')
        .and_then(|d| d.parse::<u8>().ok())
        && (1..=12).contains(&n)
    {
        return Ok(KeyCode::F(n));
    }
    if name.is_empty() {
        return Err("empty key".into());
    }
    Err(format!(
        "unknown key name '{name}' (try a character, ctrl-x, alt-x, enter, esc, tab, up, pgdn, f5)"
    ))
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => {
                let name = NAMED.iter().find(|(_, c)| *c == code).map(|(n, _)| *n);
                f.write_str(name.unwrap_or("?"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for text in [
            "ctrl-r", "R", "?", "-", "pgdn", "f5", "enter", "alt-x", "space",
        ] {
            let spec = KeySpec::parse(text).unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!(KeySpec::parse("shift-r").unwrap(), KeySpec::plain('R'));
        assert_eq!(KeySpec::parse("Ctrl-R").unwrap(), KeySpec::ctrl('r'));
        assert_eq!(KeySpec::parse("PageDown").unwrap().to_string(), "pgdn");
        assert!(KeySpec::parse("hyper-x").is_err());
        assert!(KeySpec::parse("").is_err());
        assert!(KeySpec::parse("f13").is_err());
        assert_eq!(
            KeySpec::parse("ctrl-alt-x").unwrap().to_string(),
            "ctrl-alt-x"
        );
    }

    #[test]
    fn a_modifier_given_twice_is_refused_with_what_to_write() {
        for text in ["ctrl-ctrl-x", "alt-ctrl-ALT-x", "shift-shift-tab"] {
            let error = KeySpec::parse(text).unwrap_err();
            assert!(error.contains("given twice"), "{text}: {error}");
            assert!(error.contains(text), "{text}: {error}");
        }
    }

    #[test]
    fn events_match_specs_whatever_the_terminal_says_about_shift() {
        let shifted = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(KeySpec::from_event(&shifted), KeySpec::plain('R'));
        let ctrl = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL);
        assert_eq!(KeySpec::from_event(&ctrl), KeySpec::ctrl('d'));
    }
}
