//! The rows marked (space), by their position in `App::conns`: a bit each,
//! so that marking all 100 000 rows at once is a key press like any other
//! (a set of ids took 28 ms to fill and empty). Positions hold until a
//! reload replaces the rows, which carries the marks over by id.
//!
//! `fixedbitset` (small, no dependencies of its own) rather than a
//! `Vec<bool>`: finding the few rows marked among 100 000, as the key bar
//! does each frame, skips a whole block of unmarked rows at a time.

use fixedbitset::FixedBitSet;

#[derive(Debug, Clone, Default)]
pub(crate) struct Marked {
    rows: FixedBitSet,
    count: usize,
}

impl Marked {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn contains(&self, row: usize) -> bool {
        self.rows.contains(row)
    }

    /// Marks `row`; false if it was marked already.
    pub(crate) fn insert(&mut self, row: usize) -> bool {
        if row >= self.rows.len() {
            self.rows.grow(row + 1);
        }
        let was = self.rows.put(row);
        self.count += usize::from(!was);
        !was
    }

    /// Unmarks `row`; false if it was not marked.
    pub(crate) fn remove(&mut self, row: usize) -> bool {
        let was = self.rows.contains(row);
        if was {
            self.rows.set(row, false);
            self.count -= 1;
        }
        was
    }

    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.count = 0;
    }

    /// The rows marked, by position, in order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows.ones()
    }
}

#[cfg(test)]
mod tests {
    use super::Marked;

    #[test]
    fn counts_what_it_holds_through_repeats_and_growth() {
        let mut m = Marked::default();
        assert!(m.insert(70_000));
        assert!(m.insert(3));
        assert!(!m.insert(3), "marked already");
        assert_eq!(m.len(), 2);
        assert!(m.contains(3) && m.contains(70_000) && !m.contains(4));
        assert!(!m.contains(1_000_000), "past the end: unmarked");
        assert!(!m.remove(4));
        assert!(m.remove(70_000));
        assert_eq!(m.rows().collect::<Vec<_>>(), [3]);
        m.clear();
        assert!(m.is_empty() && m.rows().next().is_none());
    }
}
