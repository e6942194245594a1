//! Keys inside the confirmation dialogs: logout and quit (y/N), delink
//! (the user's name typed exactly), and the login URL note.
//!
//! "No" is the default everywhere: Enter, Esc and any other key cancel a
//! y/N question; only `y` confirms.

use crossterm::event::{KeyCode, KeyEvent};

use crate::domain::{OpKind, UnixTime};
use crate::worker::Command;

use super::super::activity::Level;
use super::super::app::App;
use super::super::forms::Mode;
use super::ops;

pub(super) fn confirm_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y'));
    let mode = std::mem::take(&mut app.mode);
    app.dirty = true;
    match mode {
        Mode::ConfirmLogout { conn, .. } if yes => {
            vec![ops::send_on(app, now, OpKind::Logout, conn)]
        }
        Mode::ConfirmLogout { what, .. } => {
            app.note(now, Level::Info, format!("logout {what}: cancelled"));
            Vec::new()
        }
        Mode::ConfirmQuit if yes => {
            app.quit = true;
            Vec::new()
        }
        Mode::LoginUrl { id, .. } if key.code == KeyCode::Char('x') => {
            app.note(now, Level::Info, "login: asked the worker to stop it");
            vec![Command::Cancel { id }]
        }
        // The login URL stays in the activity pane after the note closes.
        _ => Vec::new(),
    }
}

pub(super) fn delink_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    let Mode::ConfirmDelink(dialog) = &mut app.mode else {
        return Vec::new();
    };
    app.dirty = true;
    match key.code {
        KeyCode::Esc => {
            // A user's disconnect logs OAuth rows out too: not a "delink".
            let verb = if dialog.whole_user {
                "disconnect"
            } else {
                "delink"
            };
            let text = format!("{verb} {}: cancelled", dialog.what);
            app.mode = Mode::Normal;
            app.note(now, Level::Info, text);
            Vec::new()
        }
        KeyCode::Enter if dialog.typed.text() == dialog.user => {
            let plan = std::mem::take(&mut dialog.plan);
            app.mode = Mode::Normal;
            ops::end(app, now, plan)
        }
        KeyCode::Enter => {
            dialog.error = Some(format!(
                "the name does not match: type {} exactly, or Esc to cancel",
                dialog.user
            ));
            Vec::new()
        }
        _ => {
            if dialog.typed.handle_key(key) {
                dialog.error = None;
            }
            Vec::new()
        }
    }
}
