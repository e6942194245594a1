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
//!
//! The scheduler and a bulk report row after row: at 100 000 connections,
//! hundreds a second that mostly say the same thing ("the refresh token was
//! rejected"). Such a line folds into a recent one that says the same of
//! another row, which then counts them and names the latest row, as syslog's
//! "repeated N times" does; each row's own outcome stays in its table row,
//! its detail pane and the audit log.

use std::collections::VecDeque;

use crate::domain::UnixTime;
use crate::worker::RequestId;

const KEEP: usize = 500;

/// How many of the newest lines a foldable line looks through for one that
/// says the same: enough for a burst's "started" and its outcomes, which
/// interleave, to each keep one line.
const FOLD_LINES: usize = 8;

/// A fold counts one burst: a line that has not grown for this long starts a
/// new one, so its count and time do not span an afternoon.
const FOLD_SECS: i64 = 60;

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
    /// Set on a line about one row that others' alike fold into.
    fold: Option<Fold>,
    /// [`Activity::writes`] when the line was last written (added, folded
    /// into, or its progress rewritten).
    written: u64,
}

/// A foldable line's text as "{head} {row}{tail}", kept apart so that the
/// same head and tail for another row is recognised and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fold {
    head: String,
    tail: String,
    count: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Activity {
    lines: VecDeque<ActivityLine>,
    /// Lines below the pane's last one: 0 follows the newest.
    back: usize,
    /// Rows of the pane's last line scrolled past its top, when that line
    /// wraps to more rows than the pane has (a login's URL in a short
    /// pane): without it, the end of such a line could never be read.
    within: usize,
    /// Lines written so far: what was written after an instant (the
    /// screen closing, with requests still out) is told apart by it.
    writes: u64,
}

impl Activity {
    pub fn push(&mut self, at: UnixTime, level: Level, text: impl Into<String>) {
        self.add(ActivityLine {
            at,
            level,
            text: text.into(),
            progress_of: None,
            fold: None,
            written: 0,
        });
    }

    /// A line "{head} {row}{tail}" ("refresh amira / ADCB failed: …"), or,
    /// when one of the last few lines says the same of other rows within a
    /// minute, that line counting one more: "refresh ×3 failed: … · latest
    /// amira / ADCB at 12:00:05". The folded line stays where it is, with
    /// its first time, so the pane does not jump while a burst goes on and
    /// its times still run in order. Only lines of the burst itself may
    /// stand below it: past a line of anything else (the operator's own
    /// operation, say), a line folded above it would put a newer time
    /// above older ones, where nobody watching the bottom sees it change.
    pub fn push_about(&mut self, at: UnixTime, level: Level, head: &str, row: &str, tail: &str) {
        let alike = |l: &ActivityLine| {
            l.level == level
                && l.at.secs_until(at) <= FOLD_SECS
                && l.fold
                    .as_ref()
                    .is_some_and(|f| f.head == head && f.tail == tail)
        };
        let recent = self.lines.len().saturating_sub(FOLD_LINES);
        let burst = (self.lines.range_mut(recent..).rev()).take_while(|l| l.fold.is_some());
        if let Some(line) = burst.into_iter().find(|l| alike(l))
            && let Some(fold) = &mut line.fold
        {
            // The line keeps its first time, so that times run down the
            // pane in order; the latest is in its text.
            fold.count += 1;
            self.writes += 1;
            line.written = self.writes;
            line.text = format!(
                "{head} ×{}{tail} · latest {row} at {}",
                fold.count,
                at.clock()
            );
            return;
        }
        self.add(ActivityLine {
            at,
            level,
            text: format!("{head} {row}{tail}"),
            progress_of: None,
            fold: Some(Fold {
                head: head.to_owned(),
                tail: tail.to_owned(),
                count: 1,
            }),
            written: 0,
        });
    }

    /// A request's progress: one line, rewritten in place while it runs, and
    /// moved to the bottom once `finished`, so the summary ("refreshed 14 988
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
        self.writes += 1;
        let line = ActivityLine {
            at,
            level,
            text,
            progress_of: Some(id),
            fold: None,
            written: self.writes,
        };
        let old = self.lines.iter().rposition(|l| l.progress_of == Some(id));
        match old {
            Some(at) if !finished => self.lines[at] = line,
            Some(at) => {
                // Moved, not added: the lines above it keep their distance
                // from the bottom, so a scrolled-back pane stays put.
                self.lines.remove(at);
                self.lines.push_back(line);
                self.follow_new_last();
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

    /// How many lines have been written so far, for [`since`](Self::since).
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The lines written after [`writes`](Self::writes) returned `mark`, as
    /// they now read, oldest first: a line folded into or rewritten since
    /// is there once, as it ends.
    pub fn since(&self, mark: u64) -> impl Iterator<Item = &ActivityLine> {
        self.lines.iter().filter(move |l| l.written > mark)
    }

    /// How many lines lie below a pane of `rows` lines.
    pub fn back(&self, rows: usize) -> usize {
        self.back.min(self.most_back(rows))
    }

    /// Rows of the pane's last line scrolled above the pane, for a line
    /// `over` rows taller than the pane.
    pub fn within(&self, over: usize) -> usize {
        self.within.min(over)
    }

    /// Scrolls a pane of `rows` rows `by` steps towards older lines
    /// (negative: newer), no further than the oldest line at the top. A
    /// line taller than the pane, `height` telling each line's rows, is
    /// scrolled through a row a step on the way, so that it reads whole:
    /// its end first going back, its start first coming forward.
    pub fn scroll_back(&mut self, by: i64, rows: usize, height: impl Fn(&ActivityLine) -> usize) {
        let over = |a: &Self| {
            a.last_shown(rows)
                .map_or(0, |l| height(l).saturating_sub(rows.max(1)))
        };
        self.back = self.back(rows);
        self.within = self.within.min(over(self));
        for _ in 0..by.unsigned_abs() {
            if by > 0 && self.within > 0 {
                self.within -= 1;
            } else if by > 0 && self.back < self.most_back(rows) {
                self.back += 1;
                self.within = over(self);
            } else if by < 0 && self.within < over(self) {
                self.within += 1;
            } else if by < 0 && self.back > 0 {
                self.back -= 1;
                self.within = 0;
            } else {
                break;
            }
        }
    }

    /// The line at the bottom of a pane of `rows` lines, as far as it is
    /// scrolled back.
    pub fn last_shown(&self, rows: usize) -> Option<&ActivityLine> {
        let i = self.lines.len().checked_sub(self.back(rows) + 1)?;
        self.lines.get(i)
    }

    /// A new last line read from its start, when the pane follows the
    /// newest.
    fn follow_new_last(&mut self) {
        if self.back == 0 {
            self.within = 0;
        }
    }

    fn most_back(&self, rows: usize) -> usize {
        self.lines.len().saturating_sub(rows)
    }

    fn add(&mut self, mut line: ActivityLine) {
        self.writes += 1;
        line.written = self.writes;
        if self.lines.len() == KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        if self.back > 0 {
            self.back += 1;
        }
        self.follow_new_last();
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
        a.scroll_back(3, 5, |_| 1);
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
        a.scroll_back(-100, 5, |_| 1);
        assert_eq!(a.back(5), 0);
        a.push(UnixTime(0), Level::Info, "line 21");
        assert_eq!(shown(&a, 5)[4], "line 21", "at the bottom it follows again");
    }

    fn texts(a: &Activity) -> Vec<&str> {
        a.lines().map(|l| l.text.as_str()).collect()
    }

    /// What the screen closing left to say: each line written after the
    /// mark once, as it ends, and nothing written before it.
    #[test]
    fn the_lines_written_since_a_mark_are_each_there_once_as_they_end() {
        let mut a = log(3);
        let at = UnixTime(0);
        a.progress(
            at,
            RequestId(1),
            Level::Info,
            "refreshing 1 of 9".into(),
            false,
        );
        a.push_about(at, Level::Error, "refresh", "a", " failed: x");
        let mark = a.writes();
        let since =
            |a: &Activity| -> Vec<String> { a.since(mark).map(|l| l.text.clone()).collect() };
        assert!(since(&a).is_empty());
        a.push_about(at, Level::Error, "refresh", "b", " failed: x");
        a.push(at, Level::Ok, "refresh c: done");
        a.progress(
            at,
            RequestId(1),
            Level::Info,
            "refreshing 5 of 9".into(),
            false,
        );
        a.progress(at, RequestId(1), Level::Ok, "refreshed 9 of 9".into(), true);
        assert_eq!(
            since(&a),
            [
                "refresh ×2 failed: x · latest b at 00:00:00",
                "refresh c: done",
                "refreshed 9 of 9",
            ]
        );
        // Past what the pane keeps, the newest are still there.
        let mark = a.writes();
        for i in 0..KEEP + 1 {
            a.push(at, Level::Info, format!("more {i}"));
        }
        assert_eq!(a.since(mark).count(), KEEP);
    }

    const REJECTED: &str = " failed: the refresh token was rejected (scheduled)";

    #[test]
    fn the_same_outcome_for_other_rows_folds_into_one_counted_line() {
        let mut a = Activity::default();
        a.push(UnixTime(0), Level::Info, "loaded");
        a.push_about(
            UnixTime(1),
            Level::Info,
            "refresh",
            "amira / ADCB",
            ": started (scheduled)",
        );
        a.push_about(
            UnixTime(1),
            Level::Error,
            "refresh",
            "amira / ADCB",
            REJECTED,
        );
        assert_eq!(
            texts(&a)[1..],
            [
                "refresh amira / ADCB: started (scheduled)",
                "refresh amira / ADCB failed: the refresh token was rejected (scheduled)"
            ],
            "one of each reads as before"
        );
        // A burst interleaves starts and outcomes: each kind keeps its line.
        for (t, row) in [(2, "omar / FAB"), (3, "lena / bank")] {
            a.push_about(
                UnixTime(t),
                Level::Info,
                "refresh",
                row,
                ": started (scheduled)",
            );
            a.push_about(UnixTime(t), Level::Error, "refresh", row, REJECTED);
        }
        assert_eq!(
            texts(&a),
            [
                "loaded",
                "refresh ×3: started (scheduled) · latest lena / bank at 00:00:03",
                "refresh ×3 failed: the refresh token was rejected (scheduled) · latest lena / bank at 00:00:03"
            ]
        );
        assert_eq!(
            a.last().map(|l| l.at),
            Some(UnixTime(1)),
            "the first one's time, the latest one's in the text"
        );
        assert_eq!(a.back(2), 0);
    }

    #[test]
    fn only_the_same_level_head_and_tail_fold_and_never_past_another_line() {
        let mut a = Activity::default();
        a.push_about(UnixTime(0), Level::Error, "refresh", "a", REJECTED);
        a.push_about(
            UnixTime(0),
            Level::Error,
            "refresh",
            "b",
            " failed: timed out (scheduled)",
        );
        a.push_about(UnixTime(0), Level::Error, "logout", "c", REJECTED);
        a.push_about(UnixTime(0), Level::Warn, "refresh", "d", REJECTED);
        assert_eq!(a.lines().len(), 4, "{:?}", texts(&a));
        a.push_about(UnixTime(1), Level::Error, "refresh", "e", REJECTED);
        assert_eq!(
            texts(&a)[0],
            "refresh ×2 failed: the refresh token was rejected (scheduled) · latest e at 00:00:01",
            "past the burst's own lines it folds, and stays where it was"
        );
        assert_eq!(a.lines().len(), 4);
        // A line of anything else ends the burst: folded above it, the
        // newest time would sit above older ones, out of sight.
        a.push(UnixTime(2), Level::Info, "note");
        a.push_about(UnixTime(3), Level::Error, "refresh", "f", REJECTED);
        assert_eq!(a.lines().len(), 6);
        assert_eq!(
            texts(&a)[5],
            "refresh f failed: the refresh token was rejected (scheduled)"
        );
        let times: Vec<UnixTime> = a.lines().map(|l| l.at).collect();
        assert!(times.is_sorted(), "{times:?}");
    }

    #[test]
    fn an_old_or_far_line_starts_a_new_fold() {
        let mut a = Activity::default();
        a.push_about(UnixTime(0), Level::Error, "refresh", "a", REJECTED);
        a.push_about(
            UnixTime(FOLD_SECS + 1),
            Level::Error,
            "refresh",
            "b",
            REJECTED,
        );
        assert_eq!(a.lines().len(), 2, "a minute later is another burst");
        for i in 0..FOLD_LINES {
            a.push(UnixTime(FOLD_SECS + 1), Level::Info, format!("note {i}"));
        }
        a.push_about(
            UnixTime(FOLD_SECS + 1),
            Level::Error,
            "refresh",
            "c",
            REJECTED,
        );
        assert_eq!(
            a.lines().len(),
            3 + FOLD_LINES,
            "out of the last lines, a new one"
        );
        assert_eq!(
            a.last().map(|l| l.text.as_str()),
            Some("refresh c failed: the refresh token was rejected (scheduled)")
        );
    }

    #[test]
    fn a_fold_while_scrolled_back_moves_nothing() {
        let mut a = log(20);
        a.push_about(UnixTime(0), Level::Error, "refresh", "a", REJECTED);
        a.scroll_back(3, 5, |_| 1);
        let before = shown(&a, 5);
        a.push_about(UnixTime(0), Level::Error, "refresh", "b", REJECTED);
        assert_eq!(shown(&a, 5), before);
        assert_eq!(a.back(5), 3, "nothing new below");
    }

    #[test]
    fn it_scrolls_no_further_than_the_oldest_line() {
        let mut a = log(8);
        a.scroll_back(100, 5, |_| 1);
        assert_eq!(a.back(5), 3);
        assert_eq!(shown(&a, 5)[0], "line 0");
        a.scroll_back(-1, 5, |_| 1);
        assert_eq!(shown(&a, 5)[0], "line 1", "one step back moves at once");
        let mut short = log(3);
        short.scroll_back(2, 5, |_| 1);
        assert_eq!(short.back(5), 0, "nothing to scroll when all fit");
    }
    /// Rows of each line in `a` where a line "tall" takes 12.
    fn tall(l: &ActivityLine) -> usize {
        if l.text == "tall" { 12 } else { 1 }
    }

    #[test]
    fn a_line_taller_than_the_pane_is_scrolled_through_a_row_at_a_time() {
        let mut a = log(10);
        a.push(UnixTime(0), Level::Info, "tall");
        a.scroll_back(-3, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (0, 3), "newer reads on into it");
        a.scroll_back(-100, 5, tall);
        assert_eq!(a.within(7), 7, "as far as its end and no further");
        a.scroll_back(8, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (1, 0), "its start, then older");
        a.scroll_back(-1, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (0, 0), "from its start again");
        a.scroll_back(-2, 5, tall);
        a.push(UnixTime(0), Level::Info, "line 11");
        assert_eq!(a.within(7), 0, "a new last line is read from its start");
    }

    #[test]
    fn going_back_onto_a_tall_line_shows_its_end_first() {
        let mut a = log(10);
        a.push(UnixTime(0), Level::Info, "tall");
        for i in 11..14 {
            a.push(UnixTime(0), Level::Info, format!("line {i}"));
        }
        a.scroll_back(3, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (3, 7));
        a.scroll_back(1, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (3, 6));
        a.scroll_back(-2, 5, tall);
        assert_eq!((a.back(5), a.within(7)), (2, 0), "past its end, newer");
    }
}
