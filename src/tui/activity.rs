//! The activity log: what the worker reported, newest at the bottom.
//!
//! Bounded so a day of scheduler refreshes cannot grow without end. A bulk
//! operation's progress rewrites its own line instead of adding one per step,
//! so "refreshing 3 of 10" does not push everything else off the pane; its
//! last step moves to the bottom.

use std::collections::VecDeque;

use crate::domain::UnixTime;
use crate::worker::RequestId;

const KEEP: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

impl Level {
    /// A text mark, so the level reads without colour.
    pub fn mark(self) -> &'static str {
        match self {
            Level::Info => "·",
            Level::Ok => "✓",
            Level::Warn => "!",
            Level::Error => "✗",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityLine {
    pub at: UnixTime,
    pub level: Level,
    pub text: String,
    /// Set on a progress line, so the next progress of the same request
    /// replaces it.
    pub progress_of: Option<RequestId>,
}

#[derive(Debug, Clone, Default)]
pub struct Activity {
    lines: VecDeque<ActivityLine>,
}

impl Activity {
    pub fn push(&mut self, at: UnixTime, level: Level, text: impl Into<String>) {
        self.add(ActivityLine {
            at,
            level,
            text: text.into(),
            progress_of: None,
        });
    }

    /// A request's progress: one line, rewritten in place while it runs, and
    /// moved to the bottom once `finished`, so the summary ("refreshed 15 000
    /// of 15 000, 12 failed") is the newest line instead of sitting above the
    /// results it counts, or scrolled out of the pane by them.
    pub fn progress(
        &mut self,
        at: UnixTime,
        id: RequestId,
        level: Level,
        text: String,
        finished: bool,
    ) {
        let line = ActivityLine {
            at,
            level,
            text,
            progress_of: Some(id),
        };
        let old = self.lines.iter().rposition(|l| l.progress_of == Some(id));
        match old {
            Some(at) if !finished => self.lines[at] = line,
            Some(at) => {
                self.lines.remove(at);
                self.add(line);
            }
            None => self.add(line),
        }
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &ActivityLine> + ExactSizeIterator {
        self.lines.iter()
    }

    pub fn last(&self) -> Option<&ActivityLine> {
        self.lines.back()
    }

    fn add(&mut self, line: ActivityLine) {
        if self.lines.len() == KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}
