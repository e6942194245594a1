//! The screen: a terminal dashboard over the worker, shaped as a small Elm loop.
//!
//! `App` (plain state) changes only in `App::update(msg, now)`, which returns
//! the worker commands to send; `render(&app, frame, now)` draws it and
//! changes nothing; `run` owns the terminal, the clock and the channels.
//! Keybindings are data (`keymap`), so the config can override them and
//! the help overlay shows what is really bound.

mod action;
mod activity;
mod app;
mod counts;
mod forms;
mod hangup;
mod keymap;
mod keyspec;
mod layout;
mod line_edit;
mod marked;
mod msg;
mod render;
mod run;
mod terminal;
mod update;
mod view;
mod widths;

pub use action::Action;
pub use activity::{ActivityLine, Level};
pub use app::{App, Progress, TerminalAsk};
pub use forms::{AddField, AddForm, CredsField, CredsForm, DelinkDialog, Ends, Mode};
pub use keymap::{Keymap, KeymapError};
pub use keyspec::KeySpec;
pub use layout::{MIN_HEIGHT, MIN_WIDTH};
pub use line_edit::LineEdit;
pub use msg::{Msg, SendFailure};
pub use render::render;
pub use run::{Afterwards, Ended, RunOptions, Sources, TICK, run};
pub use view::SortKey;
pub use view::{ID_NEEDLE_MIN, filtered};
