//! Everything that can happen to the screen, as one message type for `update`.
//!
//! Time is not in here: `update` takes `now` alongside, so a test drives the
//! whole screen with a fixed instant and the run loop reads the clock once.

use crossterm::event::{KeyEvent, MouseEvent};

use crate::worker::{Command, Event};

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// The 1 s heartbeat: countdowns, spinner, reveal timeout.
    Tick,
    Worker(Event),
    /// Bracketed paste: a Connect payload arrives in one piece.
    Paste(String),
    /// The run loop could not hand a command to the worker; the screen must
    /// forget the request rather than wait for an answer that never comes.
    NotSent(Command, SendFailure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The bounded channel is full: the worker is behind.
    Busy,
    /// The worker is gone: nothing more can run.
    Closed,
}
