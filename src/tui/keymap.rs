//! Keybindings as data: the actions an operator can take, the default keys,
//! and the `[keys]` overrides of the config merged over them.
//!
//! `update` never matches on raw keys outside text fields; it asks the keymap
//! for an [`Action`]. That keeps one source of truth for the help overlay,
//! the key bar and the handling, so an override shows everywhere it acts.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent};
use serde::Deserialize;
use serde::de::IntoDeserializer;

use super::keyspec::KeySpec;

/// Everything a key can do outside a text field. Names are the config's
/// `[keys]` names (`refresh = "ctrl-r"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    /// Close the overlay, clear the filter, leave a view.
    Back,
    Up,
    Down,
    Top,
    Bottom,
    HalfPageDown,
    HalfPageUp,
    PageDown,
    PageUp,
    Filter,
    CycleSort,
    ToggleDetail,
    Reveal,
    Exchange,
    Refresh,
    RefreshAll,
    Logout,
    Delink,
    Add,
    ClientCredentials,
    ToggleUsers,
    /// Stop the operation running on the selected row.
    CancelOp,
    Reload,
}

impl Action {
    pub const ALL: [Action; 25] = [
        Action::Quit,
        Action::Help,
        Action::Back,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::HalfPageDown,
        Action::HalfPageUp,
        Action::PageDown,
        Action::PageUp,
        Action::Filter,
        Action::CycleSort,
        Action::ToggleDetail,
        Action::Reveal,
        Action::Exchange,
        Action::Refresh,
        Action::RefreshAll,
        Action::Logout,
        Action::Delink,
        Action::Add,
        Action::ClientCredentials,
        Action::ToggleUsers,
        Action::CancelOp,
        Action::Reload,
    ];

    /// The config name; serde reads the same names.
    pub fn from_name(name: &str) -> Option<Action> {
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.into_deserializer();
        Action::deserialize(de).ok()
    }

    pub fn name(self) -> &'static str {
        self.info().0
    }

    /// What the help overlay says the action does.
    pub fn describe(self) -> &'static str {
        self.info().1
    }

    /// Whether the action changes anything at a provider or in the store,
    /// which read-only mode refuses.
    pub fn changes_state(self) -> bool {
        matches!(
            self,
            Action::Exchange
                | Action::Refresh
                | Action::RefreshAll
                | Action::Logout
                | Action::Delink
                | Action::Add
                | Action::ClientCredentials
                | Action::CancelOp
        )
    }

    fn info(self) -> (&'static str, &'static str) {
        match self {
            Action::Quit => ("quit", "quit (asks when operations are in flight)"),
            Action::Help => ("help", "this help"),
            Action::Back => ("back", "close overlay, clear filter, leave view"),
            Action::Up => ("up", "previous row"),
            Action::Down => ("down", "next row"),
            Action::Top => ("top", "first row"),
            Action::Bottom => ("bottom", "last row"),
            Action::HalfPageDown => ("half_page_down", "half a page down"),
            Action::HalfPageUp => ("half_page_up", "half a page up"),
            Action::PageDown => ("page_down", "a page down"),
            Action::PageUp => ("page_up", "a page up"),
            Action::Filter => ("filter", "filter rows (Enter keeps, Esc clears)"),
            Action::CycleSort => ("cycle_sort", "sort: time left, user, provider, state"),
            Action::ToggleDetail => ("toggle_detail", "show or hide the detail pane"),
            Action::Reveal => ("reveal", "reveal tokens for 10 s"),
            Action::Exchange => ("exchange", "exchange the Dapi access code"),
            Action::Refresh => ("refresh", "refresh the selected token"),
            Action::RefreshAll => ("refresh_all", "refresh every expiring/expired row shown"),
            Action::Logout => ("logout", "log out (revoke the refresh token)"),
            Action::Delink => ("delink", "delink a Dapi user (typed confirmation)"),
            Action::Add => ("add", "add a connection"),
            Action::ClientCredentials => ("client_credentials", "client-credentials token"),
            Action::ToggleUsers => ("toggle_users", "users view"),
            Action::CancelOp => ("cancel_op", "cancel the selected row's operation"),
            Action::Reload => ("reload", "reload everything from the store"),
        }
    }
}

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
        Action::Reveal => vec![K::plain('v')],
        Action::Exchange => vec![K::plain('e')],
        Action::Refresh => vec![K::plain('r')],
        Action::RefreshAll => vec![K::plain('R')],
        Action::Logout => vec![K::plain('l')],
        Action::Delink => vec![K::plain('D')],
        Action::Add => vec![K::plain('a')],
        Action::ClientCredentials => vec![K::plain('c')],
        Action::ToggleUsers => vec![K::plain('u')],
        Action::CancelOp => vec![K::plain('x')],
        Action::Reload => vec![K::ctrl('l')],
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
            map.release(*key, *owner);
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

    fn release(&mut self, key: KeySpec, owner: Action) {
        for (action, keys) in &mut self.bindings {
            if *action != owner {
                keys.retain(|k| *k != key);
            }
        }
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
    fn serde_names_agree_with_the_help_names() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a), "{a:?}");
        }
        assert_eq!(Action::from_name("refresh_everything"), None);
    }

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
        assert!(errors.is_empty(), "{errors:?}");
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(map.action_for(&ctrl_r), Some(Action::Refresh));
        let e = KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE);
        assert_eq!(map.action_for(&e), Some(Action::Refresh));
        let r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE);
        assert_eq!(map.action_for(&r), None);
        assert!(map.keys_for(Action::Exchange).is_empty());
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
