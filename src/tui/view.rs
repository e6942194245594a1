//! Which connections the table shows and in what order: a sorted, filtered
//! index into the connection list.
//!
//! The index is rebuilt when the data, the sort or the filter changes, never
//! on a tick: the time-left sort orders by the absolute deadline instant, and
//! instants do not move as the clock runs, so the order a second later is the
//! same order. With 100 000 rows that keeps the 1 s tick cheap.

use std::cmp::Ordering;

use crate::domain::{AccessExpiry, ConnState, Connection, StateKind, UnixTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Soonest deadline first: needs-action first, permanent and delinked last.
    #[default]
    TimeLeft,
    User,
    Provider,
    State,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::TimeLeft => SortKey::User,
            SortKey::User => SortKey::Provider,
            SortKey::Provider => SortKey::State,
            SortKey::State => SortKey::TimeLeft,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::TimeLeft => "time left",
            SortKey::User => "user",
            SortKey::Provider => "provider",
            SortKey::State => "state",
        }
    }
}

/// The instant-based key of the time-left sort: a bucket, then the deadline.
/// It reads only stored facts, so it does not depend on `now`.
fn time_key(c: &Connection) -> (u8, i64) {
    let f = &c.flags;
    if f.delinked_at.is_some() {
        return (5, 0);
    }
    if f.reauth_required {
        return (0, 0);
    }
    let deadline = match c.lifetimes.access {
        Some(AccessExpiry::At(t)) => Some(t.0),
        Some(AccessExpiry::Permanent) => return (3, 0),
        None => c.lifetimes.code_expires_at.map(|t| t.0),
    };
    match (deadline, f.logged_out_at.is_some()) {
        (Some(t), _) => (1, t),
        (None, true) => (4, 0),
        // No token and no code: a failed link, which needs action.
        (None, false) => (0, 0),
    }
}

fn state_rank(kind: StateKind) -> usize {
    StateKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(StateKind::ALL.len())
}

/// The lower-cased words a filter searches that do not move with the clock:
/// built once per data change, so typing a filter over 100 000 rows does not
/// lower-case 100 000 names per key.
pub fn haystack(c: &Connection) -> String {
    // A separator no one types keeps matches inside one field.
    format!(
        "{}\u{1}{}\u{1}{}\u{1}{}",
        c.user, c.label, c.provider, c.kind
    )
    .to_lowercase()
}

/// Whether the filter `filter` keeps connection `c` (with its haystack).
pub fn shows(c: &Connection, hay: &str, filter: &str, now: UnixTime, warn_secs: i64) -> bool {
    let needle = filter.trim().to_lowercase();
    needle.is_empty() || matches(hay, &needle, &ConnState::derive(c, now, warn_secs), now)
}

/// Case-insensitive filter over user, label, provider and the state in words.
fn matches(hay: &str, needle_lower: &str, state: &ConnState, now: UnixTime) -> bool {
    hay.contains(needle_lower)
        || state.kind().label().contains(needle_lower)
        || state.describe(now).to_lowercase().contains(needle_lower)
}

/// Rebuilds the index: the positions in `conns` to show, in display order.
pub fn build_order(
    conns: &[Connection],
    haystacks: &[String],
    sort: SortKey,
    filter: &str,
    now: UnixTime,
    warn_secs: i64,
) -> Vec<usize> {
    let needle = filter.trim().to_lowercase();
    let mut order: Vec<usize> = (0..conns.len())
        .filter(|&i| {
            needle.is_empty() || {
                let state = ConnState::derive(&conns[i], now, warn_secs);
                let hay = haystacks.get(i).map_or("", String::as_str);
                matches(hay, &needle, &state, now)
            }
        })
        .collect();
    match sort {
        SortKey::State => {
            let ranks: Vec<usize> = conns
                .iter()
                .map(|c| state_rank(ConnState::derive(c, now, warn_secs).kind()))
                .collect();
            order.sort_by(|&a, &b| {
                ranks[a]
                    .cmp(&ranks[b])
                    .then_with(|| by_time(&conns[a], &conns[b]))
            });
        }
        _ => order.sort_by(|&a, &b| compare(&conns[a], &conns[b], sort)),
    }
    order
}

fn compare(a: &Connection, b: &Connection, sort: SortKey) -> Ordering {
    let primary = match sort {
        SortKey::User => a.user.to_lowercase().cmp(&b.user.to_lowercase()),
        SortKey::Provider => a.provider.cmp(&b.provider),
        SortKey::TimeLeft | SortKey::State => Ordering::Equal,
    };
    primary.then_with(|| by_time(a, b))
}

fn by_time(a: &Connection, b: &Connection) -> Ordering {
    time_key(a)
        .cmp(&time_key(b))
        .then_with(|| a.user.cmp(&b.user))
        .then_with(|| a.id.cmp(&b.id))
}
