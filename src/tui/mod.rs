//! The screen: a terminal dashboard over the worker, shaped as a small Elm loop.
//!
//! Keybindings are data (`keymap`), so the config can override them and
//! the help overlay shows what is really bound.

mod keymap;
mod keyspec;
mod line_edit;

pub use keymap::{Action, Keymap, KeymapError};
pub use keyspec::KeySpec;
pub use line_edit::LineEdit;
