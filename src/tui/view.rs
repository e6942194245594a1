//! Which connections the table shows and in what order: a sorted, filtered
//! index into the connection list.
//!
//! The index is rebuilt when the data, the sort or the filter changes, never
//! on a tick: the time-left sort orders by the absolute deadline instant, and
//! instants do not move as the clock runs, so the order a second later is the
//! same order. With 100 000 rows that keeps the 1 s tick cheap. The sorted
//! list of all rows is kept too, so a filter keystroke only picks from it.

use memchr::memmem::Finder;

use crate::domain::filter::FilterTerms;
use crate::domain::{AccessExpiry, ConnState, Connection, ConnectionId, StateKind, UnixTime};

use super::counts::kind_index;

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

    /// The words `:sort WORD` takes, as `status --sort` names the keys.
    pub const WORDS: &'static str = "time-left, user, provider or state";

    /// The key a word names, in any case: `time-left` (or `left`), `user`,
    /// `provider`, `state`, or the start of one (`u`, `prov`, `time`).
    pub fn from_word(word: &str) -> Option<SortKey> {
        let word = word.to_ascii_lowercase().replace('_', "-");
        if word.is_empty() {
            return None;
        }
        let keys = [
            ("time-left", SortKey::TimeLeft),
            ("left", SortKey::TimeLeft),
            ("user", SortKey::User),
            ("provider", SortKey::Provider),
            ("state", SortKey::State),
        ];
        // The four keys start with four different letters, so any start
        // names one.
        (keys.iter())
            .find(|(name, _)| name.starts_with(&word))
            .map(|&(_, key)| key)
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

/// The filter's lower-cased words of every row (user, label, provider,
/// family) and, apart, its provider ids, none of which move with the clock:
/// one buffer for all rows rather than a `String` each, built with each load
/// (and for `status`, `check` and `refresh --due` with each filter).
#[derive(Debug, Clone, Default)]
pub(crate) struct Haystacks {
    words: Lines,
    /// Dapi's `connectionID`, `userID` and `tokenID`, the OIDC `sub` and
    /// session: read only by a needle of [`ID_NEEDLE_MIN`] characters.
    ids: Lines,
}

/// A needle at least this long also reads the provider's ids. A shorter
/// one would turn up in random ids by chance ("ab" in most hex ids, "fab"
/// in one row in a hundred); eight is a UUID's first group and as little of
/// an id as a support ticket is likely to quote.
pub const ID_NEEDLE_MIN: usize = 8;

/// One line of bytes per row, each followed by `END`.
#[derive(Debug, Clone, Default)]
struct Lines {
    bytes: Vec<u8>,
    /// Where each row's `END` sits in `bytes`.
    ends: Vec<usize>,
}

/// Ends a row's words. No UTF-8 text holds this byte, so no needle can
/// match across two rows.
const END: u8 = 0xFF;

/// Follows each field of a row's line.
const SEPARATOR: u8 = 0x01;

impl Haystacks {
    pub(crate) fn new(conns: &[Connection]) -> Haystacks {
        let mut hay = Haystacks {
            words: Lines::with_capacity(conns.len(), 48),
            ids: Lines::with_capacity(conns.len(), 96),
        };
        for c in conns {
            hay.push(c);
        }
        hay
    }

    /// Adds the words of the row after the last one.
    pub(crate) fn push(&mut self, c: &Connection) {
        let words = [
            c.user.as_str(),
            c.label.as_str(),
            c.provider.as_str(),
            c.kind.as_str(),
        ];
        self.words.push(words);
        let r = &c.remote;
        let ids = [&r.connection_id, &r.user_id, &r.token_id, &r.session];
        self.ids.push(ids.into_iter().flatten().map(String::as_str));
    }

    /// Whether two versions of a row read the same words and ids, so a
    /// rewrite of the row leaves the buffers as they are.
    pub(crate) fn same_words(a: &Connection, b: &Connection) -> bool {
        a.user == b.user
            && a.label == b.label
            && a.provider == b.provider
            && a.kind == b.kind
            && a.remote == b.remote
    }

    pub(crate) fn len(&self) -> usize {
        self.words.ends.len()
    }

    /// The rows whose words, or with `ids` whose ids, contain the needle.
    fn hits(&self, finder: &Finder<'_>, ids: bool) -> Vec<bool> {
        let mut hit = vec![false; self.len()];
        self.words.mark(finder, &mut hit);
        if ids {
            self.ids.mark(finder, &mut hit);
        }
        hit
    }

    /// Whether row `i`'s words, or with `ids` its ids, contain the needle;
    /// a row past the buffers holds nothing.
    fn holds(&self, finder: &Finder<'_>, ids: bool, i: usize) -> bool {
        let found = |lines: &Lines| lines.line(i).is_some_and(|l| finder.find(l).is_some());
        found(&self.words) || (ids && found(&self.ids))
    }
}

impl Lines {
    fn with_capacity(rows: usize, per_row: usize) -> Lines {
        Lines {
            bytes: Vec::with_capacity(rows * per_row),
            ends: Vec::with_capacity(rows),
        }
    }

    /// Adds a row's line: its fields lower-cased, each followed by a
    /// separator no one types, which keeps a match inside one field. Copied
    /// field by field rather than formatted: this runs for every row on a
    /// screen's first filter keystroke, which `write!` made a tenth slower.
    fn push<'f>(&mut self, fields: impl IntoIterator<Item = &'f str>) {
        for field in fields {
            if field.is_ascii() {
                let start = self.bytes.len();
                self.bytes.extend_from_slice(field.as_bytes());
                self.bytes[start..].make_ascii_lowercase();
            } else {
                self.bytes
                    .extend_from_slice(field.to_lowercase().as_bytes());
            }
            self.bytes.push(SEPARATOR);
        }
        self.ends.push(self.bytes.len());
        self.bytes.push(END);
    }

    /// Marks the rows whose line contains the needle: one pass over the
    /// buffer, jumping to the next row after each hit.
    fn mark(&self, finder: &Finder<'_>, hit: &mut [bool]) {
        let (mut pos, mut row) = (0, 0);
        while let Some(found) = finder.find(&self.bytes[pos..]) {
            let at = pos + found;
            row += self.ends[row..].partition_point(|&end| end < at);
            let Some(flag) = hit.get_mut(row) else {
                break;
            };
            *flag = true;
            pos = self.ends[row] + 1;
            row += 1;
        }
    }

    fn line(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] + 1,
        };
        Some(&self.bytes[start..end])
    }
}

/// The rows of `conns` the dashboard's `/` filter keeps, for a caller that
/// filters once (`bankdeck status FILTER`) and so keeps no haystacks: in
/// the order of `sort` as the screen's `s` gives it, or as they are.
pub fn filtered<'c>(
    conns: &'c [Connection],
    filter: &str,
    sort: Option<SortKey>,
    now: UnixTime,
    warn_secs: i64,
) -> Vec<&'c Connection> {
    let kept = Needle::new(filter, now, warn_secs)
        .map(|mut needle| needle.scan(conns, &Haystacks::new(conns), |_| None));
    let order = match sort {
        Some(sort) => Sorted::new(conns, sort, now, warn_secs).order(kept.as_deref()),
        None => (0..conns.len())
            .filter(|&i| kept.as_ref().is_none_or(|k| k[i]))
            .collect(),
    };
    order.into_iter().map(|i| &conns[i]).collect()
}

/// A filter as typed, ready to test rows against: case-insensitive over
/// user, label, provider and the state in words, and from
/// [`ID_NEEDLE_MIN`] characters on over the provider's ids too. A number
/// keeps the connection it is the id of, and the rows whose names or ids
/// hold it, but not those whose state does: digits in a state are a
/// countdown ("12:53 left"), and a row would come and go as it ran. A
/// leading `!` keeps the rows that do not hold the rest (`!delinked`), as
/// k9s's filter does.
pub(crate) struct Needle {
    finder: Finder<'static>,
    invert: bool,
    /// Whether the needle is long enough to read the ids.
    ids: bool,
    /// The connection a needle of digits names: `check` prints "bankdeck
    /// refresh 12", and `status 12` is what an operator types next. Such a
    /// needle reads no state.
    id: Option<ConnectionId>,
    now: UnixTime,
    warn_secs: i64,
    /// Per state kind, whether its header label holds the needle.
    label: [bool; StateKind::ALL.len()],
    /// Per kind of words shared by all rows in a state (see `shared_words`),
    /// whether they hold the needle, once known.
    shared: [Option<bool>; SHARED_SLOTS],
}

impl Needle {
    /// `None` for a filter that keeps every row.
    pub(crate) fn new(filter: &str, now: UnixTime, warn_secs: i64) -> Option<Needle> {
        let FilterTerms { invert, needle } = FilterTerms::parse(filter)?;
        let finder = Finder::new(needle.as_bytes()).into_owned();
        let label = StateKind::ALL.map(|k| finder.find(k.label().as_bytes()).is_some());
        Some(Needle {
            finder,
            invert,
            ids: needle.chars().count() >= ID_NEEDLE_MIN,
            id: needle_id(&needle),
            now,
            warn_secs,
            label,
            shared: [None; SHARED_SLOTS],
        })
    }

    /// Whether the filter keeps each row, by position in `conns`. `known`
    /// gives a row's state at this needle's instant when it is kept
    /// elsewhere, which spares reading the row itself.
    pub(crate) fn scan<'s>(
        &mut self,
        conns: &[Connection],
        hay: &Haystacks,
        known: impl Fn(usize) -> Option<&'s ConnState>,
    ) -> Vec<bool> {
        let mut hit = hay.hits(&self.finder, self.ids);
        // Rows past the haystacks (none when they are kept in step) read
        // as if their words held nothing, so only their state can match.
        hit.resize(conns.len(), false);
        if let Some(id) = self.id {
            for (c, h) in conns.iter().zip(hit.iter_mut()) {
                *h |= c.id == id;
            }
            return self.inverted(hit);
        }
        // A row's own words are a function of its state (and the instant),
        // and rows share many states (one error text, one deadline): each
        // distinct state is read once.
        // Fx, not SipHash: this is hashed for most rows on every keystroke,
        // and SipHash alone was a tenth of a keystroke over 100 000 rows.
        let mut seen: rustc_hash::FxHashMap<OwnWords<'s>, bool> = Default::default();
        for (i, (c, h)) in conns.iter().zip(hit.iter_mut()).enumerate() {
            if *h {
                continue;
            }
            *h = match known(i) {
                Some(state) => match own_words(state) {
                    Some(key) if !self.label[kind_index(state.kind())] => match seen.get(&key) {
                        Some(&keep) => keep,
                        None => {
                            let keep = self.state_matches(state);
                            seen.insert(key, keep);
                            keep
                        }
                    },
                    _ => self.state_matches(state),
                },
                None => self.state_matches(&ConnState::derive(c, self.now, self.warn_secs)),
            };
        }
        self.inverted(hit)
    }

    /// `hit` as kept: turned over for a filter that starts with `!`.
    fn inverted(&self, mut hit: Vec<bool>) -> Vec<bool> {
        if self.invert {
            hit.iter_mut().for_each(|h| *h = !*h);
        }
        hit
    }

    /// Whether the filter keeps row `i` of `conns`.
    pub(crate) fn keeps(&mut self, conns: &[Connection], hay: &Haystacks, i: usize) -> bool {
        let holds = hay.holds(&self.finder, self.ids, i)
            || conns.get(i).is_some_and(|c| match self.id {
                Some(id) => c.id == id,
                None => self.state_matches(&ConnState::derive(c, self.now, self.warn_secs)),
            });
        holds != self.invert
    }

    fn state_matches(&mut self, state: &ConnState) -> bool {
        if self.label[kind_index(state.kind())] {
            return true;
        }
        let (now, finder) = (self.now, &self.finder);
        let words = || {
            let mut text = state.describe(now);
            match text.is_ascii() {
                true => text.make_ascii_lowercase(),
                false => text = text.to_lowercase(),
            }
            finder.find(text.as_bytes()).is_some()
        };
        match shared_words(state) {
            Some(slot) => *self.shared[slot].get_or_insert_with(words),
            None => words(),
        }
    }
}

/// The connection id a needle of digits alone names ("12", "0012").
fn needle_id(needle: &str) -> Option<ConnectionId> {
    // Digits alone: `parse` also takes a sign, and "" is no number.
    let digits = needle.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| needle.parse().ok().map(ConnectionId))
        .flatten()
}

/// What the words of a state that reads its own words depend on: the whole
/// state, since `describe` reads nothing else but the instant.
#[derive(Debug, PartialEq, Eq, Hash)]
enum OwnWords<'s> {
    CodePending(UnixTime),
    LoggedOut(UnixTime),
    Failed(&'s str),
}

fn own_words(state: &ConnState) -> Option<OwnWords<'_>> {
    match state {
        ConnState::CodePending { expires_at } => Some(OwnWords::CodePending(*expires_at)),
        ConnState::LoggedOut {
            access_until: Some(t),
        } => Some(OwnWords::LoggedOut(*t)),
        ConnState::Failed { error, .. } => Some(OwnWords::Failed(error)),
        _ => None,
    }
}

/// Slots for the words of states whose text is the same for every row in
/// that state: one per kind, and one more for "expired (refreshable)".
const SHARED_SLOTS: usize = StateKind::ALL.len() + 1;

/// Kinds whose every state reads the same words, whatever its instants.
const SAME_WORDS: [StateKind; 5] = [
    StateKind::CodeExpired,
    StateKind::Active,
    StateKind::Expiring,
    StateKind::ReauthRequired,
    StateKind::Delinked,
];

/// The slot of `state`'s words when every row in it reads the same (so they
/// are matched once per keystroke, not once per row); `None` when the words
/// carry the row's own countdown or error.
fn shared_words(state: &ConnState) -> Option<usize> {
    match state {
        s if SAME_WORDS.contains(&s.kind()) => Some(kind_index(s.kind())),
        ConnState::Expired {
            refreshable: true, ..
        } => Some(StateKind::ALL.len()),
        ConnState::Expired { .. } | ConnState::LoggedOut { access_until: None } => {
            Some(kind_index(state.kind()))
        }
        _ => None,
    }
}

/// A row's place in a sort: primary rank, time key, exact user rank, id,
/// then the row itself.
type SortKeyOf = (u64, (u8, i64), u32, i64, usize);

/// The rows in the order of one sort, kept while the data and the sort stay
/// as they are: a filter keystroke then keeps the matches of this order
/// instead of sorting them again.
#[derive(Debug, Clone)]
pub(crate) struct Sorted {
    sort: SortKey,
    /// The state sort ranks rows by their state at this instant.
    at: Option<UnixTime>,
    rows: Vec<usize>,
}

impl Sorted {
    pub(crate) fn new(
        conns: &[Connection],
        sort: SortKey,
        now: UnixTime,
        warn_secs: i64,
    ) -> Sorted {
        // One flat key per row, compared as plain numbers: names become
        // ranks first (each distinct name handled once), so sorting 100 000
        // rows never compares a string.
        let exact = name_ranks(conns, |c| c.user_id, |c| c.user.clone());
        let primary: Vec<u64> = match sort {
            SortKey::TimeLeft => vec![0; conns.len()],
            SortKey::User => widen(name_ranks(conns, |c| c.user_id, |c| c.user.to_lowercase())),
            SortKey::Provider => widen(name_ranks(
                conns,
                |c| c.provider.as_str(),
                |c| c.provider.clone(),
            )),
            SortKey::State => conns
                .iter()
                .map(|c| kind_index(ConnState::derive(c, now, warn_secs).kind()) as u64)
                .collect(),
        };
        let mut keyed: Vec<SortKeyOf> = conns
            .iter()
            .enumerate()
            // Equal ids should not happen; if they do, the list order decides.
            .map(|(i, c)| (primary[i], time_key(c), exact[i], c.id.0, i))
            .collect();
        keyed.sort_unstable();
        let rows = keyed.into_iter().map(|k| k.4).collect();
        Sorted {
            sort,
            at: (sort == SortKey::State).then_some(now),
            rows,
        }
    }

    /// Whether this order is still the order of `sort` at `now` (for data
    /// that has not changed since it was built).
    pub(crate) fn fits(&self, sort: SortKey, now: UnixTime) -> bool {
        self.sort == sort && self.at.is_none_or(|at| at == now)
    }

    /// The rows the filter keeps (all without one), in this order.
    pub(crate) fn order(&self, kept: Option<&[bool]>) -> Vec<usize> {
        match kept {
            None => self.rows.clone(),
            Some(kept) => (self.rows.iter().copied())
                .filter(|&i| kept.get(i).copied().unwrap_or(false))
                .collect(),
        }
    }
}

/// Per row, the rank of `name(row)` among all rows' names. `name` must
/// depend only on `key(row)`: it runs once per distinct key (per user, or
/// per provider), not once per row.
fn name_ranks<'c, K: std::hash::Hash + Eq>(
    conns: &'c [Connection],
    key: impl Fn(&'c Connection) -> K,
    name: impl Fn(&Connection) -> String,
) -> Vec<u32> {
    let mut distinct: rustc_hash::FxHashMap<K, usize> = rustc_hash::FxHashMap::default();
    let mut names: Vec<(String, usize)> = Vec::new();
    let of_row: Vec<usize> = conns
        .iter()
        .map(|c| {
            *distinct.entry(key(c)).or_insert_with(|| {
                names.push((name(c), names.len()));
                names.len() - 1
            })
        })
        .collect();
    names.sort_unstable();
    let mut rank = vec![0u32; names.len()];
    let mut r = 0u32;
    for j in 0..names.len() {
        if j > 0 && names[j - 1].0 != names[j].0 {
            r += 1;
        }
        rank[names[j].1] = r;
    }
    of_row.into_iter().map(|d| rank[d]).collect()
}

fn widen(ranks: Vec<u32>) -> Vec<u64> {
    ranks.into_iter().map(u64::from).collect()
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
