//! `update`: the one place the screen's state changes.
//!
//! Each message kind is handed to a small module; each returns the commands
//! the worker must run, as data. Nothing here reads the clock (`now` comes in),
//! draws, or sends: the run loop does that with what `update` returns.

mod actions;
mod activity;
mod data;
mod detail;
mod dialogs;
mod events;
mod forms;
mod keys;
mod marks;
mod mouse;
mod nav;
mod ops;
mod rules;
mod tick;
mod users;
mod watch;

pub(crate) use detail::REVEAL_SECS;

use crate::domain::UnixTime;
use crate::worker::Command;

use super::app::App;
use super::msg::Msg;

impl App {
    /// The commands to send when the screen starts: load everything.
    pub fn start(&mut self) -> Vec<Command> {
        vec![data::reload(self)]
    }

    pub fn update(&mut self, msg: Msg, now: UnixTime) -> Vec<Command> {
        match msg {
            // With only the "too small" note on screen, input would act on
            // rows, dialogs and forms nobody can see (`l` then `y` logged a
            // row out blind); the quit key alone still acts (`keys`).
            Msg::Mouse(_) | Msg::Paste(_) if super::layout::too_small_app(self) => Vec::new(),
            Msg::Key(key) => keys::on_key(self, key, now),
            Msg::Mouse(mouse) => mouse::on_mouse(self, mouse, now),
            Msg::Resize(w, h) => nav::resize(self, w, h),
            Msg::Tick => tick::on_tick(self, now),
            Msg::Worker(event) => events::on_event(self, event, now),
            Msg::Paste(text) => forms::on_paste(self, &text, now),
            Msg::NotSent(cmd, why) => events::not_sent(self, &cmd, why, now),
        }
    }
}

/// `from` moved `by` lines, kept within `0..=most`: a pane scrolled past its
/// end would need as many presses back before it moved.
fn scrolled(from: u16, by: i64, most: u16) -> u16 {
    let to = i64::from(from).saturating_add(by).clamp(0, i64::from(most));
    u16::try_from(to).unwrap_or(0)
}
