//! Keys inside the confirmation dialogs: logout and quit (y/N), delink, a
//! user's disconnect and the marked rows' logout or delink (the user's name,
//! or the rows' count, typed exactly), and the login URL note.
//!
//! "No" is the default everywhere: Enter, Esc and any other key cancel a
//! y/N question; only `y` confirms.

use crossterm::event::{KeyCode, KeyEvent};

use crate::domain::{OpKind, UnixTime};
use crate::worker::Command;

use super::super::activity::Level;
use super::super::app::{App, Sent};
use super::super::forms::{Ends, Mode};
use super::{marks, ops};

pub(super) fn confirm_key(app: &mut App, key: &KeyEvent, now: UnixTime) -> Vec<Command> {
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y'));
    let mode = std::mem::take(&mut app.mode);
    app.dirty = true;
    match mode {
        Mode::ConfirmLogout { conn, .. } if yes => {
            vec![ops::send_on(app, now, OpKind::Logout, conn, Sent::Alone)]
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
            let text = format!("{} {}: cancelled", dialog.ends.verb(), dialog.what);
            app.mode = Mode::Normal;
            app.note(now, Level::Info, text);
            Vec::new()
        }
        KeyCode::Enter if dialog.typed.text() == dialog.user => {
            let (plan, ends) = (std::mem::take(&mut dialog.plan), dialog.ends);
            app.mode = Mode::Normal;
            match ends {
                Ends::Marked(op) => {
                    let rows: Vec<_> = plan.iter().map(|(id, _)| *id).collect();
                    marks::confirmed(app, now, op, &rows)
                }
                Ends::Row | Ends::User => ops::end(app, now, plan),
            }
        }
        KeyCode::Enter => {
            let what = match dialog.ends {
                Ends::Marked(_) => "count",
                Ends::Row | Ends::User => "name",
            };
            dialog.error = Some(format!(
                "the {what} does not match: type {} exactly, or Esc to cancel",
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
