//! Keybindings as data: the default key of every [`Action`], and the
//! `[keys]` overrides of the config merged over them.
//!
//! `update` never matches on raw keys outside text fields; it asks the keymap
//! for an [`Action`]. That keeps one source of truth for the help overlay,
//! the key bar and the handling, so an override shows everywhere it acts.

use std::collections::BTreeMap;
use std::fmt;

use super::action::Action;
use super::keyspec::KeySpec;
use crossterm::event::{KeyCode, KeyEvent};

fn default_keys(action: Action) -> Vec<KeySpec> {
    use KeySpec as K;
    match action {
        Action::Quit => vec![K::plain('q'), K::ctrl('c')],
        Action::Help => vec![K::plain('?')],
        Action::Back => vec![K::code(KeyCode::Esc)],
        Action::Up => vec![K::plain('k'), K::code(KeyCode::Up)],
        Action::Down => vec![K::plain('j'), K::code(KeyCode::Down)],
        Action::Top => vec![K::plain('g'), K::code(KeyCode::Home)],
        Action::Bottom => vec![K::plain('G'), K::code(KeyCode::End)],
        Action::HalfPageDown => vec![K::ctrl('d')],
        Action::HalfPageUp => vec![K::ctrl('u')],
        Action::PageDown => vec![K::code(KeyCode::PageDown)],
        Action::PageUp => vec![K::code(KeyCode::PageUp)],
        Action::Filter => vec![K::plain('/')],
        Action::CycleSort => vec![K::plain('s')],
        Action::ToggleDetail => vec![K::code(KeyCode::Enter), K::plain('d')],
        Action::DetailDown => vec![K::plain('J'), K::ctrl('e')],
        Action::DetailUp => vec![K::plain('K'), K::ctrl('y')],
        Action::ActivityUp => vec![K::plain('[')],
        Action::ActivityDown => vec![K::plain(']')],
        Action::Reveal => vec![K::plain('v')],
        Action::CopyIds => vec![K::plain('y')],
        Action::Mark => vec![K::plain(' ')],
        Action::MarkRange => vec![K::ctrl(' ')],
        Action::Exchange => vec![K::plain('e')],
        Action::Refresh => vec![K::plain('r')],
        Action::RefreshAll => vec![K::plain('R')],
        Action::Logout => vec![K::plain('l')],
        Action::Login => vec![K::plain('L')],
        Action::Delink => vec![K::plain('D')],
        Action::Add => vec![K::plain('a')],
        Action::ClientCredentials => vec![K::plain('c')],
        Action::ToggleUsers => vec![K::plain('u')],
        Action::CancelOp => vec![K::plain('x')],
        Action::Reload => vec![K::ctrl('l')],
        Action::Suspend => vec![K::ctrl('z')],
        Action::Command => vec![K::plain(':')],
        Action::LiftWait => vec![K::plain('W')],
    }
}

/// A `[keys]` entry that could not be applied; the rest still are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeymapError {
    UnknownAction {
        action: String,
        key: String,
    },
    BadKey {
        action: String,
        key: String,
        reason: String,
    },
    /// Two overrides claim the same key; the first (by action name) keeps it.
    Conflict {
        key: String,
        kept: Action,
        dropped: Action,
    },
    /// An override took the only key of an action left at its default;
    /// the action now has no key (the help shows it unbound).
    Unbound {
        action: Action,
        key: String,
        taken_by: Action,
    },
    /// An override took one key of an action that keeps others: `j` given
    /// to delink no longer moves down, which nobody would guess.
    Taken {
        action: Action,
        key: String,
        taken_by: Action,
        kept: String,
    },
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeymapError::UnknownAction { action, key } => {
                write!(f, "[keys] {action} = \"{key}\": no action named '{action}'")
            }
            KeymapError::BadKey {
                action,
                key,
                reason,
            } => write!(f, "[keys] {action} = \"{key}\": {reason}"),
            KeymapError::Conflict { key, kept, dropped } => write!(
                f,
                "[keys] '{key}' is given to both {} and {}; {} keeps it",
                kept.name(),
                dropped.name(),
                kept.name()
            ),
            KeymapError::Unbound {
                action,
                key,
                taken_by,
            } => write!(
                f,
                "[keys] {} takes '{key}' from {}, which now has no key",
                taken_by.name(),
                action.name()
            ),
            KeymapError::Taken {
                action,
                key,
                taken_by,
                kept,
            } => write!(
                f,
                "[keys] {} takes '{key}' from {}, which keeps '{kept}'",
                taken_by.name(),
                action.name()
            ),
        }
    }
}

/// Every action with its keys, in [`Action::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<KeySpec>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::defaults()
    }
}

impl Keymap {
    pub fn defaults() -> Keymap {
        let bindings = Action::ALL.iter().map(|&a| (a, default_keys(a))).collect();
        Keymap { bindings }
    }

    /// Merges `[keys]` over the defaults. An override replaces the action's
    /// default keys (several keys separated by spaces: `"ctrl-r f5"`), and
    /// takes its key away from any default binding that had it. Invalid
    /// entries are skipped and reported; valid ones still apply.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<KeymapError>) {
        let mut map = Keymap::defaults();
        let mut errors = Vec::new();
        let mut claimed: Vec<(KeySpec, Action)> = Vec::new();
        for (name, text) in overrides {
            let Some(action) = Action::from_name(name) else {
                errors.push(KeymapError::UnknownAction {
                    action: name.clone(),
                    key: text.clone(),
                });
                continue;
            };
            match parse_keys(text) {
                Ok(keys) => {
                    let keys = drop_claimed(keys, action, &mut claimed, &mut errors);
                    // An override that lost all its keys leaves the defaults.
                    if !keys.is_empty() {
                        map.set(action, keys);
                    }
                }
                Err(reason) => errors.push(KeymapError::BadKey {
                    action: name.clone(),
                    key: text.clone(),
                    reason,
                }),
            }
        }
        for (key, owner) in &claimed {
            for action in map.release(*key, *owner) {
                let (key, taken_by) = (key.to_string(), *owner);
                errors.push(match map.keys_for(action).is_empty() {
                    true => KeymapError::Unbound {
                        action,
                        key,
                        taken_by,
                    },
                    false => KeymapError::Taken {
                        action,
                        key,
                        taken_by,
                        kept: map.describe_keys(action),
                    },
                });
            }
        }
        (map, errors)
    }

    /// The action a key press means outside text fields.
    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        let spec = KeySpec::from_event(ev);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&spec))
            .map(|(a, _)| *a)
    }

    pub fn keys_for(&self, action: Action) -> &[KeySpec] {
        self.bindings
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// `j/down`: every key of an action, for the help overlay.
    pub fn describe_keys(&self, action: Action) -> String {
        let keys: Vec<String> = self
            .keys_for(action)
            .iter()
            .map(|k| k.to_string())
            .collect();
        if keys.is_empty() {
            "(unbound)".into()
        } else {
            keys.join("/")
        }
    }

    /// The first key of an action, for the key bar.
    pub fn first_key(&self, action: Action) -> Option<KeySpec> {
        self.keys_for(action).first().copied()
    }

    pub fn bindings(&self) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.bindings.iter().map(|(a, k)| (*a, k.as_slice()))
    }

    fn set(&mut self, action: Action, keys: Vec<KeySpec>) {
        if let Some(slot) = self.bindings.iter_mut().find(|(a, _)| *a == action) {
            slot.1 = keys;
        }
    }

    /// Takes `key` from every action but `owner`; returns the actions it
    /// was taken from.
    fn release(&mut self, key: KeySpec, owner: Action) -> Vec<Action> {
        let mut taken = Vec::new();
        for (action, keys) in &mut self.bindings {
            if *action != owner && keys.contains(&key) {
                keys.retain(|k| *k != key);
                taken.push(*action);
            }
        }
        taken
    }
}

fn parse_keys(text: &str) -> Result<Vec<KeySpec>, String> {
    let keys: Vec<KeySpec> = text
        .split_whitespace()
        .map(KeySpec::parse)
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err("no key given".into());
    }
    Ok(keys)
}

fn drop_claimed(
    keys: Vec<KeySpec>,
    action: Action,
    claimed: &mut Vec<(KeySpec, Action)>,
    errors: &mut Vec<KeymapError>,
) -> Vec<KeySpec> {
    let mut kept = Vec::new();
    for key in keys {
        match claimed.iter().find(|(k, _)| *k == key) {
            Some((_, owner)) => errors.push(KeymapError::Conflict {
                key: key.to_string(),
                kept: *owner,
                dropped: action,
            }),
            None => {
                claimed.push((key, action));
                kept.push(key);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    #[test]
    fn every_default_key_means_one_action() {
        let map = Keymap::defaults();
        let mut seen = std::collections::HashSet::new();
        for (_, keys) in map.bindings() {
            for k in keys {
                assert!(seen.insert(*k), "{k} bound twice");
            }
        }
    }

    #[test]
    fn an_override_replaces_and_steals_its_key() {
        let mut o = BTreeMap::new();
        o.insert("refresh".to_string(), "ctrl-r e".to_string());
        let (map, errors) = Keymap::with_overrides(&o);
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            vec!["[keys] refresh takes 'e' from exchange, which now has no key"]
        );
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(map.action_for(&ctrl_r), Some(Action::Refresh));
        let e = KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE);
        assert_eq!(map.action_for(&e), Some(Action::Refresh));
        let r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(map.action_for(&r), None);
        assert!(map.keys_for(Action::Exchange).is_empty());
    }

    /// `delink = "j"` left `j` meaning delink with no word: moving down
    /// opened the delink dialog. Taking a key another action keeps others
    /// of is said too, with what it keeps.
    #[test]
    fn an_override_taking_one_of_anothers_keys_says_so() {
        let mut o = BTreeMap::new();
        o.insert("delink".to_string(), "j".to_string());
        let (map, errors) = Keymap::with_overrides(&o);
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            vec!["[keys] delink takes 'j' from down, which keeps 'down'"]
        );
        assert_eq!(map.describe_keys(Action::Down), "down");
    }

    #[test]
    fn invalid_entries_are_reported_by_name_and_skipped() {
        let mut o = BTreeMap::new();
        o.insert("refresh_everything".to_string(), "x".to_string());
        o.insert("logout".to_string(), "hyper-l".to_string());
        o.insert("add".to_string(), "z".to_string());
        o.insert("delink".to_string(), "z".to_string());
        let (map, errors) = Keymap::with_overrides(&o);
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{text:?}");
        assert!(text.iter().any(|t| t.contains("refresh_everything")));
        assert!(
            text.iter()
                .any(|t| t.contains("logout") && t.contains("hyper-l"))
        );
        assert!(
            text.iter()
                .any(|t| t.contains("'z'") && t.contains("delink"))
        );
        assert_eq!(map.describe_keys(Action::Add), "z");
        assert_eq!(map.describe_keys(Action::Logout), "l");
        assert_eq!(map.describe_keys(Action::Delink), "D");
    }
}
