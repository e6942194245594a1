//! Where a key goes: the mode decides between a text field, a dialog and
//! the keymap's actions.
//!
//! Text fields see their keys first and only Enter/Esc (and Tab in forms)
//! mean anything else there, so typing `r` in the filter never refreshes.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use crate::domain::{ConnectionId, UnixTime};
use crate::worker::Command;

use super::super::action::{Action, ColonLine};
use super::super::app::App;
use super::super::forms::Mode;
use super::super::layout;
use super::super::line_edit::LineEdit;
use super::super::view::SortKey;
use super::{actions, data, dialogs, forms, nav, users};

/// The key typed right after Esc, when `key` is the two of them read as
/// one. A terminal sends Esc as a lone ESC byte, and an ESC with a key
/// close behind it (Esc then `/` typed quickly, or inside tmux's
/// escape-time) reads as that key with Alt. Read so, the Esc was lost: a
/// filter it should have cleared stayed, and the keys typed for the next
/// one ran as actions on the row. A control key behind it too: Esc then
/// ctrl-space (a NUL byte) read as alt-ctrl-space, and both were lost. No
/// Alt key is bound unless `[keys]` binds it.
fn esc_then(app: &App, key: &KeyEvent) -> Option<KeyEvent> {
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let unbound = || app.keymap.action_for(key).is_none();
    (alt && matches!(key.code, KeyCode::Char(_)) && unbound()).then(|| KeyEvent {
        modifiers: key.modifiers - KeyModifiers::ALT,
        ..*key
    })
}

pub(super) fn on_key(app: &mut App, key: KeyEvent, now: UnixTime) -> Vec<Command> {
    // Terminals with the kitty protocol report releases too; a key acts once.
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if let Some(plain) = esc_then(app, &key) {
        let mut commands = on_key(app, KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), now);
        commands.extend(on_key(app, plain, now));
        return commands;
    }
    let quit = app.keymap.action_for(&key) == Some(Action::Quit);
    // A second ctrl-c answers the question the first asked: an operator
    // pressing it to get out gets out, even on a screen too small to show
    // the question. Leaving still waits for what was sent.
    if quit && key.modifiers.contains(KeyModifiers::CONTROL) && app.mode == Mode::ConfirmQuit {
        app.mode = Mode::Normal;
        app.quit = true;
        app.dirty = true;
        return Vec::new();
    }
    // A control key is never text: ctrl-c quits from a field or a dialog
    // as the help says it does, where `q` is typed.
    let quits_anywhere = quit && key.modifiers.contains(KeyModifiers::CONTROL);
    if quits_anywhere && !matches!(app.mode, Mode::Normal) {
        app.mode = Mode::Normal;
        return actions::run(app, Action::Quit, now);
    }
    // As a click or a paste (`update`), no key acts on what is not drawn,
    // but quit.
    if layout::too_small_app(app) {
        return match (&app.mode, quit) {
            (Mode::Normal, true) => actions::run(app, Action::Quit, now),
            _ => Vec::new(),
        };
    }
    match &app.mode {
        Mode::Normal => match app.keymap.action_for(&key) {
            Some(action) => actions::run(app, action, now),
            None => Vec::new(),
        },
        Mode::Filter => filter_key(app, &key, now),
        Mode::Command(_) => command_key(app, &key, now),
        Mode::Help { .. } => help_key(app, &key),
        Mode::ConfirmLogout { .. } | Mode::ConfirmQuit | Mode::LoginUrl { .. } => {
            dialogs::confirm_key(app, &key, now)
        }
        Mode::ConfirmDelink(_) => dialogs::delink_key(app, &key, now),
        Mode::Add(_) => forms::add_key(app, &key, now),
        Mode::ClientCreds(_) => forms::creds_key(app, &key, now),
    }
}

fn filter_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    use crossterm::event::KeyCode;
    if app.users_view.is_some() {
        return users::filter_key(app, key);
    }
    match key.code {
        KeyCode::Enter => {
            app.mode = Mode::Normal;
            app.filter_anchor = None;
        }
        KeyCode::Esc => {
            app.mode = Mode::Normal;
            app.filter.clear();
            // The row the filter found stays selected, with the rows around it.
            app.filter_anchor = None;
            return data::reindex(app, now);
        }
        _ if app.filter.handle_key(key) => return data::refilter(app, now),
        _ => return Vec::new(),
    }
    app.dirty = true;
    Vec::new()
}

/// `:` then an action's config name (`refresh`, `toggle_users`), or `q`.
fn command_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    use crossterm::event::KeyCode;
    let Mode::Command(line) = &mut app.mode else {
        return Vec::new();
    };
    app.dirty = true;
    match key.code {
        // As vim's: a backspace with nothing left to erase closes the line,
        // where the next `:` was typed into it (`::`).
        KeyCode::Esc => app.mode = Mode::Normal,
        KeyCode::Backspace if line.text().is_empty() => app.mode = Mode::Normal,
        KeyCode::Enter => {
            let typed = line.text().trim().to_owned();
            app.mode = Mode::Normal;
            return run_command(app, &typed, now);
        }
        KeyCode::Tab => {
            let completed = match line.text().trim_start().split_once(' ') {
                None => Action::complete(line.text()),
                Some((name, word)) => complete_word(name, word),
            };
            if let Some(longer) = completed {
                *line = LineEdit::new(&longer);
            }
        }
        _ => {
            line.handle_key(key);
        }
    }
    Vec::new()
}

/// What Tab makes of a `:` line with a word after its name: `:sort u`
/// becomes `:sort user`, as the key bar says it will sort. Any other word
/// is left as typed: an action's name, completed over it, replaced the
/// line (`:sort ` became `:cycle_sort`).
fn complete_word(name: &str, word: &str) -> Option<String> {
    let sorts = Action::on_colon_line(name) == Some(Action::CycleSort);
    let key = SortKey::from_word(word.trim()).filter(|_| sorts)?;
    Some(format!("{name} {}", key.label().replace(' ', "-")))
}

/// Runs a `:` line: an action's name (`:refresh`), a connection id to go
/// to (`:42`), or a row action with the id it is for (`:refresh 42`), as
/// the CLI takes it.
fn run_command(app: &mut App, typed: &str, now: UnixTime) -> Vec<Command> {
    use super::super::activity::Level;
    let (name, id) = match ColonLine::parse(typed) {
        ColonLine::Empty => return Vec::new(),
        ColonLine::GoTo(id) => return go_to(app, id, now).unwrap_or_default(),
        ColonLine::TooMany => {
            let text = format!("':{typed}': {}", ColonLine::TOO_MANY);
            app.note(now, Level::Warn, text);
            return Vec::new();
        }
        ColonLine::Run { name, id } => (name, id),
    };
    let Some(action) = Action::on_colon_line(name) else {
        let text = format!("no command ':{name}': ? lists every action by name");
        app.note(now, Level::Warn, text);
        return Vec::new();
    };
    let Some(id) = id else {
        return actions::run(app, action, now);
    };
    // `:sort user`: one key at once, as `status --sort user` takes it.
    if action == Action::CycleSort {
        return match SortKey::from_word(id) {
            Some(key) => actions::sort_by(app, key, now),
            None => {
                let text = format!("':sort {id}': sort by {}", SortKey::WORDS);
                app.note(now, Level::Warn, text);
                Vec::new()
            }
        };
    }
    if !action.on_row() {
        let text = format!(
            "':{}' takes no connection id: it does not act on a row",
            action.name()
        );
        app.note(now, Level::Warn, text);
        return Vec::new();
    }
    match go_to(app, id, now) {
        Some(mut cmds) => {
            // `:refresh 42` names its row: the marks wait for a key.
            let marking = matches!(action, Action::Mark | Action::MarkRange);
            let marks = (!marking).then(|| std::mem::take(&mut app.marks));
            cmds.extend(actions::run(app, action, now));
            if let Some(marks) = marks {
                app.marks = marks;
            }
            cmds
        }
        None => Vec::new(),
    }
}

/// Selects connection `id` in the table; `None`, with the reason in the
/// activity pane, when no shown row has that id.
fn go_to(app: &mut App, id: &str, now: UnixTime) -> Option<Vec<Command>> {
    use super::super::activity::Level;
    let why = match id.parse().map(ConnectionId) {
        Err(_) => {
            format!("'{id}' is no connection id: ids are the numbers `bankdeck status` lists")
        }
        Ok(_) if app.users_view.is_some() => users::HIDES_THE_TABLE.to_owned(),
        Ok(id) => match app.by_id.get(&id) {
            None => format!("no connection {id}"),
            Some(&at) => match app.order.iter().position(|&i| i == at) {
                Some(pos) => return Some(nav::select(app, pos, now)),
                None => format!("connection {id} is not shown: Esc clears the filter or user"),
            },
        },
    };
    app.note(now, Level::Warn, why);
    None
}

fn help_key(app: &mut App, key: &KeyEvent) -> Vec<Command> {
    let by = match app.keymap.action_for(key) {
        Some(Action::Down) => 1,
        Some(Action::Up) => -1,
        Some(Action::PageDown | Action::HalfPageDown) => 10,
        Some(Action::PageUp | Action::HalfPageUp) => -10,
        Some(Action::Top) => i64::MIN,
        Some(Action::Bottom) => i64::MAX,
        Some(Action::Back | Action::Help | Action::Quit) => {
            app.mode = Mode::Normal;
            app.dirty = true;
            return Vec::new();
        }
        _ => return Vec::new(),
    };
    scroll_help(app, by);
    Vec::new()
}

/// Scrolls the help `by` lines, kept within what the screen shows, so one
/// press back always moves.
pub(super) fn scroll_help(app: &mut App, by: i64) {
    let (w, h) = app.size;
    let most = super::super::render::help_max_scroll(app, Rect::new(0, 0, w, h));
    if let Mode::Help { scroll } = &mut app.mode {
        *scroll = super::scrolled(*scroll, by, most);
        app.dirty = true;
    }
}
