//! The widest text of the table's text columns, kept as rows change.

use crate::domain::Connection;
use crate::domain::text::columns;

/// The widest user, label and provider of every row, in terminal cells: the
/// table sizes those columns to what they hold, not to a share of the
/// screen. Over every row rather than the rows on screen, so the columns do
/// not jump as the table scrolls; they only grow between full loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextWidths {
    pub(crate) user: u16,
    pub(crate) label: u16,
    pub(crate) provider: u16,
}

impl TextWidths {
    pub(crate) fn of(conns: &[Connection]) -> TextWidths {
        let mut w = TextWidths::default();
        for c in conns {
            w.take(c);
        }
        w
    }

    pub(crate) fn take(&mut self, c: &Connection) {
        let wider = |have: &mut u16, text: &str| {
            *have = (*have).max(u16::try_from(columns(text)).unwrap_or(u16::MAX));
        };
        wider(&mut self.user, &c.user);
        wider(&mut self.label, &c.label);
        wider(&mut self.provider, &c.provider);
    }
}
