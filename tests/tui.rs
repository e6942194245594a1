//! The screen, driven without a terminal: `update` for every key and worker
//! event, whole screens as insta snapshots on `TestBackend`, and a render of
//! 100 000 rows.

#[path = "tui/fixtures.rs"]
mod fixtures;

#[path = "tui/keys_move.rs"]
mod keys_move;

#[path = "tui/keys_ops.rs"]
mod keys_ops;

#[path = "tui/events.rs"]
mod events;

#[path = "tui/screens.rs"]
mod screens;

#[path = "tui/widgets.rs"]
mod widgets;

#[path = "tui/big.rs"]
mod big;

#[path = "tui/watch.rs"]
mod watch;

#[path = "tui/marks.rs"]
mod marks;
