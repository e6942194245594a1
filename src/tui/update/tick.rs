//! The 1 s tick: countdowns move, the spinner turns, a reveal runs out.
//!
//! The header clock shows seconds, so a tick redraws whenever the panes are
//! on screen; when only the "too small" note shows, nothing on it changes
//! and the tick leaves the screen alone.

use crate::domain::UnixTime;
use crate::worker::Command;

use super::super::app::App;
use super::super::layout;
use super::{data, detail, watch};

pub(super) fn on_tick(app: &mut App, now: UnixTime) -> Vec<Command> {
    app.ticks = app.ticks.wrapping_add(1);
    detail::expire_reveal(app, now);
    let mut commands = data::refresh_counts(app, now);
    commands.extend(data::catch_up(app, now));
    commands.extend(watch::ask(app));
    if !layout::too_small_app(app) {
        app.dirty = true;
    }
    commands
}
