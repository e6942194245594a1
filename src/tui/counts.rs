//! Counts by state, for the header and the users view, kept current as the
//! clock runs without re-deriving every row each second.
//!
//! A row's state moves only when the clock crosses one of its own instants
//! (`domain::next_change`) or when the row is written. So each row's kind and
//! next instant are kept, the instants in an ordered set, and a tick takes
//! only the rows whose instant has come: with 100 000 rows a tick costs the
//! rows that change, not all of them.

use std::collections::BTreeSet;

use crate::domain::next_change::next_change;
use crate::domain::{ConnState, Connection, StateKind, UnixTime, UserId};

pub(crate) type Counts = [usize; StateKind::ALL.len()];

/// Position of `kind` in `StateKind::ALL`, the order the counts are kept in.
pub(crate) fn kind_index(kind: StateKind) -> usize {
    StateKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default()
}

/// A row with no instant ahead: its state changes only by a write.
const NEVER: i64 = i64::MAX;

#[derive(Debug)]
pub(crate) struct StateCounts {
    warn_secs: i64,
    /// Every kept kind is the row's kind at this instant.
    at: UnixTime,
    /// Per row (as positioned in the app's `conns`): its state and user, as
    /// counted, and its next instant (`NEVER` for none).
    rows: Vec<Row>,
    /// `(next instant, row)` for every row with an instant ahead.
    due: BTreeSet<(i64, usize)>,
    total: Counts,
    per_user: rustc_hash::FxHashMap<UserId, Counts>,
    /// See [`StateCounts::moved`].
    moved: Option<Vec<usize>>,
}

#[derive(Debug, Clone)]
struct Row {
    /// Kept whole, not just its kind: the filter reads its words.
    state: ConnState,
    user: UserId,
    next: i64,
}

impl Row {
    fn kind(&self) -> usize {
        kind_index(self.state.kind())
    }
}

impl StateCounts {
    pub(crate) fn new(now: UnixTime, warn_secs: i64) -> StateCounts {
        StateCounts {
            warn_secs,
            at: now,
            rows: Vec::new(),
            due: BTreeSet::new(),
            total: [0; StateKind::ALL.len()],
            per_user: rustc_hash::FxHashMap::default(),
            moved: None,
        }
    }

    /// Counts `conns` from scratch at `now`.
    pub(crate) fn rebuild(&mut self, conns: &[Connection], now: UnixTime) {
        self.at = now;
        self.total = [0; StateKind::ALL.len()];
        self.per_user.clear();
        self.rows = conns.iter().map(|c| self.derive(c)).collect();
        for r in &self.rows {
            self.total[r.kind()] += 1;
            self.per_user.entry(r.user).or_default()[r.kind()] += 1;
        }
        // Built from a sorted list, the set is filled in one pass.
        let mut due: Vec<(i64, usize)> = (self.rows.iter().enumerate())
            .filter(|(_, r)| r.next != NEVER)
            .map(|(i, r)| (r.next, i))
            .collect();
        due.sort_unstable();
        self.due = due.into_iter().collect();
    }

    /// Row `i` of `conns` was replaced, or added at the end: count it anew.
    pub(crate) fn row_changed(&mut self, conns: &[Connection], i: usize) {
        let Some(c) = conns.get(i) else {
            return;
        };
        let row = self.derive(c);
        if i < self.rows.len() {
            self.replace(i, row);
        } else if i > self.rows.len() {
            // Rows added behind our back: count them all again.
            let at = self.at;
            self.rebuild(conns, at);
        } else {
            self.count(i, (row.kind(), row.user, row.next));
            self.rows.push(row);
        }
    }

    /// Moves the counts to `now`: only the rows whose next instant has come
    /// are derived again. Returns whether any count changed;
    /// [`StateCounts::moved`] then names the rows whose state changed.
    pub(crate) fn advance(&mut self, conns: &[Connection], now: UnixTime) -> bool {
        let before = self.total;
        self.moved = Some(Vec::new());
        if now < self.at {
            // The clock went back: the kept states may be ahead of it.
            self.rebuild(conns, now);
            self.moved = None;
            return self.total != before;
        }
        self.at = now;
        while let Some(&(t, i)) = self.due.first() {
            if t > now.0 {
                break;
            }
            self.due.pop_first();
            if let Some(c) = conns.get(i).filter(|_| i < self.rows.len()) {
                let row = self.derive(c);
                // Its words, not only its kind: "logged out (access valid)"
                // becomes "logged out" within one kind.
                if row.state != self.rows[i].state
                    && let Some(moved) = self.moved.as_mut()
                {
                    moved.push(i);
                }
                self.replace(i, row);
            }
        }
        self.total != before
    }

    /// The rows whose state the last [`StateCounts::advance`] changed;
    /// `None` when it may have changed any (the clock went back).
    pub(crate) fn moved(&self) -> Option<&[usize]> {
        self.moved.as_deref()
    }

    /// Row `i`'s state at `now`, when that is the instant the counts are at.
    pub(crate) fn state_at(&self, i: usize, now: UnixTime) -> Option<&ConnState> {
        self.rows
            .get(i)
            .filter(|_| self.at == now)
            .map(|r| &r.state)
    }

    pub(crate) fn total(&self) -> &Counts {
        &self.total
    }

    pub(crate) fn of_user(&self, user: UserId) -> Option<&Counts> {
        self.per_user.get(&user)
    }

    fn derive(&self, c: &Connection) -> Row {
        Row {
            state: ConnState::derive(c, self.at, self.warn_secs),
            user: c.user_id,
            next: next_change(c, self.at, self.warn_secs).map_or(NEVER, |t| t.0),
        }
    }

    fn replace(&mut self, i: usize, row: Row) {
        let new = (row.kind(), row.user, row.next);
        let old = std::mem::replace(&mut self.rows[i], row);
        self.uncount(i, (old.kind(), old.user, old.next));
        self.count(i, new);
    }

    /// Adds a row's `(kind, user, next)` to the counts and the instants.
    fn count(&mut self, i: usize, (k, user, next): (usize, UserId, i64)) {
        self.total[k] += 1;
        self.per_user.entry(user).or_default()[k] += 1;
        if next != NEVER {
            self.due.insert((next, i));
        }
    }

    fn uncount(&mut self, i: usize, (k, user, next): (usize, UserId, i64)) {
        self.total[k] = self.total[k].saturating_sub(1);
        if let Some(counts) = self.per_user.get_mut(&user) {
            counts[k] = counts[k].saturating_sub(1);
            // A user with no connections left shows as such, as on a recount.
            if counts.iter().all(|n| *n == 0) {
                self.per_user.remove(&user);
            }
        }
        self.due.remove(&(next, i));
    }
}

#[cfg(test)]
#[path = "counts_tests.rs"]
mod tests;
