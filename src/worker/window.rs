//! Work queued per provider, only a window of it started at a time.
//!
//! The scheduler's due work and the screen's bulk refresh both keep a
//! provider to [`launch_limit`](super::scheduler::launch_limit) operations at
//! once (what it may have in flight and as many again waiting their turn);
//! the rest waits here as bare items. One window per provider, so a stalled
//! provider holds up only its own work.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

struct Window<T> {
    limit: usize,
    running: usize,
    queue: VecDeque<T>,
}

/// Pure bookkeeping, so its rules are tested directly.
pub(crate) struct Windows<K, T>(HashMap<K, Window<T>>);

impl<K, T> Default for Windows<K, T> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Eq + Hash + Clone, T> Windows<K, T> {
    /// Queues `item` in `key`'s window, made with `limit` on first use.
    pub(crate) fn queue(&mut self, key: K, limit: impl FnOnce(&K) -> usize, item: T) {
        match self.0.entry(key) {
            Entry::Occupied(window) => window.into_mut(),
            Entry::Vacant(new) => {
                let limit = limit(new.key());
                new.insert(Window {
                    limit,
                    running: 0,
                    queue: VecDeque::new(),
                })
            }
        }
        .queue
        .push_back(item);
    }

    /// Drops what is queued; what runs still counts against its window.
    pub(crate) fn clear_queues(&mut self) {
        self.0.values_mut().for_each(|w| w.queue.clear());
    }

    /// Takes what `key`'s window has queued out of it, in order.
    pub(crate) fn take_queue(&mut self, key: &K) -> Vec<T> {
        self.0
            .get_mut(key)
            .map_or_else(Vec::new, |w| w.queue.drain(..).collect())
    }

    /// Puts a started item back at the front of `key`'s queue: it ended
    /// without running, and goes first when the window starts again.
    pub(crate) fn put_back(&mut self, key: K, item: T) {
        if let Some(w) = self.0.get_mut(&key) {
            w.queue.push_front(item);
        }
    }

    /// The windows that have work queued.
    pub(crate) fn queued_keys(&self) -> impl Iterator<Item = &K> {
        self.0
            .iter()
            .filter(|(_, w)| !w.queue.is_empty())
            .map(|(k, _)| k)
    }

    pub(crate) fn has_queued(&self) -> bool {
        self.0.values().any(|w| !w.queue.is_empty())
    }

    /// Whether more work could start now if it were queued: nothing is
    /// known yet, or some window has more room than it has queued. A full
    /// window's queue (a stalled provider's) does not count, so it does not
    /// stop the search for other providers' work.
    pub(crate) fn wants_more(&self) -> bool {
        self.0.is_empty()
            || self
                .0
                .values()
                .any(|w| w.limit.saturating_sub(w.running) > w.queue.len())
    }

    /// What may start now, from the front of each queue, counted as running;
    /// some windows held to fewer running than their limit for now (a paused
    /// provider to none).
    pub(crate) fn launch(&mut self, cap: impl Fn(&K) -> Option<usize>) -> Vec<(T, K)> {
        let mut start = Vec::new();
        for (key, w) in &mut self.0 {
            let limit = cap(key).map_or(w.limit, |c| c.min(w.limit));
            let room = limit.saturating_sub(w.running).min(w.queue.len());
            w.running += room;
            start.extend(w.queue.drain(..room).map(|item| (item, key.clone())));
        }
        start
    }

    /// One of `key`'s started items has ended, however it ended.
    pub(crate) fn ended(&mut self, key: &K) {
        if let Some(w) = self.0.get_mut(key) {
            w.running = w.running.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ConnectionId;

    type Bulk = Windows<Option<String>, ConnectionId>;

    fn queue(w: &mut Bulk, key: &str, limit: usize, ids: std::ops::Range<i64>) {
        for i in ids {
            w.queue(Some(key.into()), |_| limit, ConnectionId(i));
        }
    }

    #[test]
    fn a_window_starts_up_to_its_limit_and_the_next_as_each_ends() {
        let mut w = Bulk::default();
        assert!(w.wants_more(), "nothing is known yet");
        queue(&mut w, "bank", 4, 0..10);
        let first: Vec<_> = w.launch(|_| None).into_iter().map(|(c, _)| c.0).collect();
        assert_eq!(first, [0, 1, 2, 3]);
        assert!(w.launch(|_| None).is_empty(), "the window is full");
        assert!(!w.wants_more(), "six wait already");
        w.ended(&Some("bank".into()));
        assert_eq!(w.launch(|_| None), [(ConnectionId(4), Some("bank".into()))]);
    }

    #[test]
    fn a_window_with_room_left_after_a_chunk_asks_for_more() {
        // 1 000 refreshes hanging at a provider that allows 2 000: the first
        // chunk of 512 starts, and the window still wants the rest.
        let mut w = Bulk::default();
        queue(&mut w, "bank", 2000, 0..512);
        assert_eq!(w.launch(|_| None).len(), 512);
        assert!(w.wants_more());
        queue(&mut w, "bank", 2000, 512..1000);
        assert_eq!(w.launch(|_| None).len(), 488);
    }

    #[test]
    fn a_full_window_does_not_stop_the_search_for_other_providers_work() {
        let mut w = Bulk::default();
        queue(&mut w, "stalled", 2, 0..50);
        queue(&mut w, "bank", 4, 50..52);
        assert_eq!(w.launch(|_| None).len(), 4);
        // The stalled one is full with 48 queued; the bank has room for two.
        assert!(w.wants_more());
        queue(&mut w, "bank", 4, 52..60);
        assert_eq!(w.launch(|_| None).len(), 2);
        assert!(!w.wants_more(), "every window with room has enough queued");
    }

    #[test]
    fn a_capped_window_starts_no_more_than_its_cap_and_others_are_not_held() {
        let mut w = Bulk::default();
        queue(&mut w, "down", 4, 0..10);
        queue(&mut w, "bank", 4, 10..12);
        let cap = |k: &Option<String>| (k.as_deref() == Some("down")).then_some(0);
        let started: Vec<_> = w.launch(cap).into_iter().map(|(c, _)| c.0).collect();
        assert_eq!(started, [10, 11], "the paused one starts nothing");
        let probe = |k: &Option<String>| (k.as_deref() == Some("down")).then_some(1);
        assert_eq!(w.launch(probe).len(), 1, "then one alone");
        assert!(w.launch(probe).is_empty(), "while it runs, no other");
        assert_eq!(
            w.launch(|_| None).len(),
            3,
            "uncapped, the window's own limit"
        );
    }

    #[test]
    fn clearing_the_queues_keeps_what_runs_counted() {
        let mut w = Bulk::default();
        queue(&mut w, "bank", 2, 0..5);
        assert_eq!(w.launch(|_| None).len(), 2);
        w.clear_queues();
        assert!(!w.has_queued());
        queue(&mut w, "bank", 2, 5..8);
        assert!(w.launch(|_| None).is_empty(), "two still run");
        w.ended(&Some("bank".into()));
        assert_eq!(w.launch(|_| None), [(ConnectionId(5), Some("bank".into()))]);
    }
}
