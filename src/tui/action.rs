//! The actions an operator can take outside text fields, by the names the
//! config's `[keys]` table uses.
//!
//! Kept apart from the keymap: the action list is what the screen can do,
//! the keymap is only which keys reach it.

use serde::Deserialize;
use serde::de::IntoDeserializer;

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
    /// Scroll the detail pane's text, which a short pane cuts off.
    DetailDown,
    DetailUp,
    /// Scroll the activity pane back through older lines, and forward.
    ActivityUp,
    ActivityDown,
    Reveal,
    /// Copy the row's ids, never a token, to the clipboard.
    CopyIds,
    Exchange,
    Refresh,
    RefreshAll,
    Logout,
    /// Start a browser login for the row's user and provider, which renews
    /// the row when the same account consents.
    Login,
    Delink,
    Add,
    ClientCredentials,
    ToggleUsers,
    /// Stop the operation running on the selected row.
    CancelOp,
    Reload,
    /// Stop the dashboard and return to the shell; `fg` brings it back.
    Suspend,
    /// Type an action's name (`:refresh`, `:q`), as in vim and k9s.
    Command,
    /// Send to the selected row's provider again before the wait it asked
    /// for (a 429's `Retry-After`) ends.
    LiftWait,
    /// Mark the selected row, or unmark it: `e`, `r`, `l` and `D` then act
    /// on the rows marked, as k9s's space does.
    Mark,
    /// Mark every row between the last one marked and the selected one.
    MarkRange,
}

impl Action {
    pub const ALL: [Action; 36] = [
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
        Action::DetailDown,
        Action::DetailUp,
        Action::ActivityUp,
        Action::ActivityDown,
        Action::Reveal,
        Action::CopyIds,
        Action::Mark,
        Action::MarkRange,
        Action::Exchange,
        Action::Refresh,
        Action::RefreshAll,
        Action::Logout,
        Action::Login,
        Action::Delink,
        Action::Add,
        Action::ClientCredentials,
        Action::ToggleUsers,
        Action::CancelOp,
        Action::LiftWait,
        Action::Reload,
        Action::Suspend,
        Action::Command,
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

    /// The actions the `:` line can run whose names, or one of whose later
    /// words, start with `typed` (`-` read as `_`), in [`Action::ALL`]
    /// order: `sort` finds `cycle_sort`, `users` finds `toggle_users`.
    pub fn completions(typed: &str) -> Vec<Action> {
        let typed = as_name(typed);
        let word_starts = |name: &str| {
            name.starts_with(&typed)
                || name
                    .match_indices('_')
                    .any(|(i, _)| name[i + 1..].starts_with(&typed))
        };
        Action::ALL
            .into_iter()
            .filter(|a| *a != Action::Command && word_starts(a.name()))
            .collect()
    }

    /// What Tab makes of `typed` on the `:` line: the longest start that
    /// every name starting with it shares, if it is longer than what was
    /// typed; else, for the one name a later word of which starts with it,
    /// that word where the line takes it for the name (`:so` → `sort`, as
    /// `:sort user` is written), or the name. Never one whole name while
    /// the hint offers others: `:s` Tab made `:suspend`, beside `cycle_sort`.
    pub fn complete(typed: &str) -> Option<String> {
        let all = Action::completions(typed);
        let start = as_name(typed);
        let found: Vec<Action> = (all.iter().copied())
            .filter(|a| a.name().starts_with(&start))
            .collect();
        if let ([], [only]) = (found.as_slice(), all.as_slice()) {
            let word = (only.name().split('_'))
                .find(|w| w.starts_with(&start) && Action::on_colon_line(w) == Some(*only));
            return Some(word.unwrap_or(only.name()).to_owned());
        }
        let (first, rest) = found.split_first()?;
        if rest.is_empty() && all.len() > 1 {
            return None;
        }
        let shared = rest.iter().fold(first.name(), |shared, a| {
            let len = shared
                .bytes()
                .zip(a.name().bytes())
                .take_while(|(x, y)| x == y)
                .count();
            &shared[..len]
        });
        (shared.len() > typed.trim().len()).then(|| shared.to_owned())
    }

    /// What the help overlay says the action does.
    pub fn describe(self) -> &'static str {
        self.info().1
    }

    /// Whether the action writes to a provider or the store, which
    /// read-only mode refuses: every change of state, and a reveal, which
    /// shows the tokens only once its audit line is written.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Reveal
                | Action::Exchange
                | Action::Refresh
                | Action::RefreshAll
                | Action::Logout
                | Action::Login
                | Action::Delink
                | Action::Add
                | Action::ClientCredentials
                | Action::CancelOp
                | Action::LiftWait
        )
    }

    /// Whether the action works on the selected row, so that the `:` line
    /// may name the row it is for (`:refresh 42`).
    pub fn on_row(self) -> bool {
        matches!(
            self,
            Action::Reveal
                | Action::CopyIds
                | Action::Mark
                | Action::MarkRange
                | Action::Exchange
                | Action::Refresh
                | Action::Logout
                | Action::Login
                | Action::Delink
                | Action::CancelOp
                | Action::LiftWait
        )
    }

    fn info(self) -> (&'static str, &'static str) {
        match self {
            Action::Quit => ("quit", "quit (asks when operations are in flight)"),
            Action::Help => ("help", "this help"),
            Action::Back => ("back", "close: overlay, view, filter, user, marks"),
            Action::Up => ("up", "previous row"),
            Action::Down => ("down", "next row"),
            Action::Top => ("top", "first row"),
            Action::Bottom => ("bottom", "last row"),
            Action::HalfPageDown => ("half_page_down", "half a page down"),
            Action::HalfPageUp => ("half_page_up", "half a page up"),
            Action::PageDown => ("page_down", "a page down"),
            Action::PageUp => ("page_up", "a page up"),
            Action::Filter => ("filter", "filter rows; !text keeps the rest"),
            Action::CycleSort => ("cycle_sort", "sort: time left, user, provider, state"),
            Action::ToggleDetail => ("toggle_detail", "show or hide the detail pane"),
            Action::DetailDown => ("detail_down", "scroll the detail pane down"),
            Action::DetailUp => ("detail_up", "scroll the detail pane up"),
            Action::ActivityUp => ("activity_up", "older activity (half the pane)"),
            Action::ActivityDown => ("activity_down", "newer activity; at the end it follows"),
            Action::Reveal => ("reveal", "reveal tokens for 10 s"),
            Action::CopyIds => ("copy_ids", "copy the row's ids, or the marked (no token)"),
            Action::Mark => ("mark", "mark or unmark; e r l D act on the marked"),
            Action::MarkRange => ("mark_range", "mark the rows from the last marked to here"),
            Action::Exchange => ("exchange", "exchange the Dapi access code"),
            Action::Refresh => ("refresh", "refresh the selected token"),
            Action::RefreshAll => ("refresh_all", "refresh every expiring/expired row shown"),
            Action::Logout => ("logout", "log out (revoke the refresh token)"),
            Action::Login => ("login", "log the row's user in again (new consent)"),
            Action::Delink => ("delink", "delink a Dapi row (users view: a whole user)"),
            Action::Add => ("add", "add a connection"),
            Action::ClientCredentials => ("client_credentials", "client-credentials token"),
            Action::ToggleUsers => ("toggle_users", "users view (Enter shows one user's rows)"),
            Action::CancelOp => ("cancel_op", "cancel the selected row's operation"),
            Action::LiftWait => ("lift_wait", "lift the wait the row's provider asked for"),
            Action::Reload => ("reload", "reload everything from the store; repaint"),
            Action::Suspend => ("suspend", "back to the shell; fg returns"),
            Action::Command => ("command", "by name, word or id: :refresh 42, :sort, :42"),
        }
    }
}

/// A `:` line as typed, read the one way that `update` runs it and the key
/// bar hints at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColonLine<'a> {
    Empty,
    /// `:42`: go to connection 42.
    GoTo(&'a str),
    /// `:refresh`, or `:refresh 42` for connection 42; the name as typed.
    Run {
        name: &'a str,
        id: Option<&'a str>,
    },
    /// More words than an action and an id.
    TooMany,
}

impl<'a> ColonLine<'a> {
    /// What is wrong with [`ColonLine::TooMany`], as the key bar hints it
    /// and `update` refuses it.
    pub const TOO_MANY: &'static str = "one action and at most one connection id";

    pub fn parse(typed: &'a str) -> Self {
        let mut words = typed.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (None, ..) => ColonLine::Empty,
            (Some(_), Some(_), Some(_)) => ColonLine::TooMany,
            (Some(n), None, _) if n.bytes().all(|b| b.is_ascii_digit()) => ColonLine::GoTo(n),
            (Some(name), id, _) => ColonLine::Run { name, id },
        }
    }
}

impl Action {
    /// The action a name on the `:` line stands for: its config name (`-`
    /// read as `_`), or vim's `q` and `h`. Never `command` itself.
    pub fn on_colon_line(name: &str) -> Option<Action> {
        let name = match name {
            "q" | "q!" | "quit" => "quit",
            "h" | "help" => "help",
            other => other,
        };
        let name = as_name(name);
        if let Some(a) = Action::from_name(&name) {
            return (a != Action::Command).then_some(a);
        }
        // `:sort`, `:users`, `:detail`: the thing a toggle or a cycle acts
        // on names it, when only one action ends in that word; else
        // `:cancel`, `:client`: the one action that has the word at all.
        let only = |found: &mut dyn Iterator<Item = Action>| match (found.next(), found.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        };
        let ending = format!("_{name}");
        let words = |a: &Action| a.name().split('_').any(|w| w == name);
        only(
            &mut Action::ALL
                .into_iter()
                .filter(|a| a.name().ends_with(&ending)),
        )
        .or_else(|| only(&mut Action::ALL.into_iter().filter(words)))
        .filter(|a| *a != Action::Command)
    }
}

/// What the `:` line reads a typed name as: `-` is `_`, as in the config's
/// `[keys]` names, and spaces around it do not count.
fn as_name(typed: &str) -> String {
    typed.trim().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_agree_with_the_help_names() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a), "{a:?}");
        }
        assert_eq!(Action::from_name("refresh_everything"), None);
    }

    #[test]
    fn the_colon_line_takes_the_word_a_toggle_acts_on() {
        assert_eq!(Action::on_colon_line("sort"), Some(Action::CycleSort));
        assert_eq!(Action::on_colon_line("users"), Some(Action::ToggleUsers));
        assert_eq!(Action::on_colon_line("detail"), Some(Action::ToggleDetail));
        assert_eq!(Action::on_colon_line("all"), Some(Action::RefreshAll));
        assert_eq!(Action::on_colon_line("down"), Some(Action::Down), "whole");
        assert_eq!(Action::on_colon_line("cancel"), Some(Action::CancelOp));
        assert_eq!(
            Action::on_colon_line("client"),
            Some(Action::ClientCredentials)
        );
        assert_eq!(Action::on_colon_line("toggle"), None, "two toggles");
        assert_eq!(Action::on_colon_line("page"), None);
        assert_eq!(Action::on_colon_line(""), None);
        assert_eq!(Action::on_colon_line("command"), None);
        assert_eq!(Action::completions("sort"), [Action::CycleSort]);
        assert_eq!(Action::complete("sor").as_deref(), Some("sort"));
        assert_eq!(
            Action::completions("det"),
            [Action::ToggleDetail, Action::DetailDown, Action::DetailUp]
        );
        assert_eq!(
            Action::complete("det").as_deref(),
            Some("detail_"),
            "the names that start with it first"
        );
    }

    #[test]
    fn tab_completes_as_far_as_the_names_agree() {
        assert_eq!(Action::complete("del").as_deref(), Some("delink"));
        assert_eq!(Action::complete("act").as_deref(), Some("activity_"));
        assert_eq!(Action::complete("activity_").as_deref(), None);
        assert_eq!(
            Action::complete("toggle-u").as_deref(),
            Some("toggle_users")
        );
        assert_eq!(
            Action::complete("refresh").as_deref(),
            None,
            "refresh is whole"
        );
        assert_eq!(Action::complete("zzz"), None);
        // One name starts with it, and another's later word does.
        assert_eq!(
            Action::completions("s"),
            [Action::CycleSort, Action::Suspend]
        );
        assert_eq!(Action::complete("s"), None);
        assert_eq!(Action::complete("u"), None);
        assert_eq!(
            Action::completions("refresh"),
            [Action::Refresh, Action::RefreshAll]
        );
        assert_eq!(
            Action::completions("comm"),
            [],
            "the : line cannot open itself"
        );
        assert_eq!(Action::completions("").len(), Action::ALL.len() - 1);
    }
}
