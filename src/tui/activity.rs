//! The activity log: what the worker reported, newest at the bottom.
//!
//! Bounded so a day of scheduler refreshes cannot grow without end. A bulk
//! operation's progress rewrites its own line instead of adding one per step,
//! so "refreshing 3 of 10" does not push everything else off the pane; its
//! last step moves to the bottom.
//!
//! The pane follows the newest line unless scrolled back; then it stays on
//! the lines being read while new ones arrive below, as a terminal's
//! scrollback does, and counts them.

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
    /// Lines below the pane's last one: 0 follows the newest.
    back: usize,
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
                // Moved, not added: the lines above it keep their distance
                // from the bottom, so a scrolled-back pane stays put.
                self.lines.remove(at);
                self.lines.push_back(line);
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

    /// How many lines lie below a pane of `rows` lines.
    pub fn back(&self, rows: usize) -> usize {
        self.back.min(self.most_back(rows))
    }

    /// Scrolls a pane of `rows` lines `by` lines towards older ones
    /// (negative: newer), no further than the oldest line at the top.
    pub fn scroll_back(&mut self, by: i64, rows: usize) {
        let most = i64::try_from(self.most_back(rows)).unwrap_or(i64::MAX);
        let from = i64::try_from(self.back(rows)).unwrap_or(i64::MAX);
        self.back = usize::try_from(from.saturating_add(by).clamp(0, most)).unwrap_or(0);
    }

    fn most_back(&self, rows: usize) -> usize {
        self.lines.len().saturating_sub(rows)
    }

    fn add(&mut self, line: ActivityLine) {
        if self.lines.len() == KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        if self.back > 0 {
            self.back += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: usize) -> Activity {
        let mut a = Activity::default();
        for i in 0..n {
            a.push(UnixTime(0), Level::Info, format!("line {i}"));
        }
        a
    }

    fn shown(a: &Activity, rows: usize) -> Vec<String> {
        let skip = a.lines.len().saturating_sub(rows + a.back(rows));
        a.lines()
            .skip(skip)
            .take(rows)
            .map(|l| l.text.clone())
            .collect()
    }

    #[test]
    fn scrolled_back_it_stays_on_the_lines_read_while_new_ones_arrive() {
        let mut a = log(20);
        assert_eq!(shown(&a, 5)[4], "line 19", "follows the newest");
        a.scroll_back(3, 5);
        assert_eq!(
            shown(&a, 5),
            ["line 12", "line 13", "line 14", "line 15", "line 16"]
        );
        a.push(UnixTime(0), Level::Info, "line 20");
        a.progress(UnixTime(0), RequestId(1), Level::Info, "bulk".into(), false);
        assert_eq!(shown(&a, 5)[0], "line 12", "new lines do not move it");
        assert_eq!(a.back(5), 5, "and are counted below");
        a.progress(
            UnixTime(0),
            RequestId(1),
            Level::Ok,
            "bulk done".into(),
            true,
        );
        assert_eq!(
            shown(&a, 5)[0],
            "line 12",
            "a finished progress line only moves"
        );
        a.scroll_back(-100, 5);
        assert_eq!(a.back(5), 0);
        a.push(UnixTime(0), Level::Info, "line 21");
        assert_eq!(shown(&a, 5)[4], "line 21", "at the bottom it follows again");
    }

    #[test]
    fn it_scrolls_no_further_than_the_oldest_line() {
        let mut a = log(8);
        a.scroll_back(100, 5);
        assert_eq!(a.back(5), 3);
        assert_eq!(shown(&a, 5)[0], "line 0");
        a.scroll_back(-1, 5);
        assert_eq!(shown(&a, 5)[0], "line 1", "one step back moves at once");
        let mut short = log(3);
        short.scroll_back(2, 5);
        assert_eq!(short.back(5), 0, "nothing to scroll when all fit");
    }
}
