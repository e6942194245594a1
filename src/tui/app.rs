//! The screen's whole state, plain data, and the queries render and tests ask.
//!
//! Nothing here touches a terminal, a channel or the clock: `update` (in
//! `update/`) changes this state and returns commands, `render` reads it.
//! Fields are crate-private so the index stays consistent with the data; the
//! public accessors are what the screen shows, which is what tests check.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{
    Connection, ConnectionId, OpKind, ProviderKind, StateKind, UnixTime, User, UserId,
};
use crate::worker::scheduler::Schedule;
use crate::worker::{Detail, NextTry, RequestId};

use super::activity::{Activity, ActivityLine, Level};
use super::counts::{StateCounts, kind_index};
use super::forms::Mode;
use super::keymap::Keymap;
use super::line_edit::LineEdit;
use super::marked::Marked;
use super::run::RunOptions;
use super::view::{Haystacks, SortKey, Sorted};
use super::widths::TextWidths;

/// An operation sent to the worker and not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InFlight {
    pub op: OpKind,
    /// The rows that show a spinner until their result arrives.
    pub conns: Vec<ConnectionId>,
    /// `refresh alice / Emirates NBD`, for the activity pane.
    pub what: String,
    /// How it was sent: a bulk refresh ends with its last progress, not
    /// its first result, and its lines and those of one sent together with
    /// others fold.
    pub sent: Sent,
    /// Its lines have said whom it waits for (another process at work on
    /// its row, or on some of a bulk's): said once.
    pub told_whom: bool,
}

/// How a command was sent, for its lines in the activity pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// By itself: a line each for its start and its outcome.
    Alone,
    /// One command for many rows (`R`): a progress line, and failures.
    Bulk,
    /// One of many commands a key sent at once, a row each (marked rows, a
    /// user's disconnect): their lines fold ("logout ×5: sent · latest
    /// …"), so that fifty marked rows do not push a hundred lines through
    /// the pane.
    Together,
}

impl InFlight {
    pub(crate) fn bulk(&self) -> bool {
        self.sent == Sent::Bulk
    }

    /// A login for a user with no row yet (the add form's): no row shows
    /// it busy, so `x` on any idle row is what stops it.
    pub(crate) fn rowless_login(&self) -> bool {
        self.op == OpKind::Login && self.conns.is_empty()
    }
}

/// A bulk refresh's progress, for the header and activity pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub id: RequestId,
    pub done: usize,
    pub total: usize,
    pub failed: usize,
    /// Of those done, how many another process had done while this one
    /// waited for the row's lease: nothing was sent for them.
    pub elsewhere: usize,
    /// Of those failed, how many another process had logged out or
    /// delinked meanwhile: not failures, as `refresh --due` counts them.
    pub ended: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DetailPane {
    pub open: bool,
    /// The loaded detail and the connection it belongs to.
    pub loaded: Option<(ConnectionId, Box<Detail>)>,
    /// The one LoadDetail in flight: at most one at a time, which is the
    /// debounce (holding `j` does not queue a request per row).
    pub in_flight: Option<(RequestId, ConnectionId)>,
    /// Tokens show in full until then; a tick past it masks them again.
    pub revealed_until: Option<(ConnectionId, UnixTime)>,
    /// The reveal asked of the worker, which shows nothing until the audit
    /// log has recorded it.
    pub reveal_asked: Option<(RequestId, ConnectionId)>,
    /// Lines of the pane's text scrolled past, for the connection shown.
    pub scroll: u16,
}

/// What a screen without providers lacks and where it goes: a first run
/// has no config file at all, and nothing on the screen said so.
pub(crate) const NO_PROVIDERS: &str = "no providers configured: add a [providers.NAME] table to \
    the config file (`bankdeck config check` says where), or try `bankdeck --demo`";

#[derive(Debug, Clone, Default)]
pub(crate) struct UsersView {
    /// Position in `shown`.
    pub cursor: usize,
    pub offset: usize,
    /// Typed after `/` in the view: part of a name or an email, any case.
    pub filter: LineEdit,
    /// The positions in `App::users` the filter keeps, in the view's order.
    pub shown: Vec<usize>,
}

/// Where the screen stands in the store's audit log, so that it can ask
/// for what other processes wrote (see `update/watch.rs`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch {
    /// The last audit line taken in; `None` until the first load says.
    pub seen: Option<i64>,
    /// The one ask in flight: never two at once.
    pub in_flight: Option<RequestId>,
    /// The last ask failed: said once in the activity pane, not every time.
    pub failing: bool,
    /// What the activity pane's last line counts of other processes'
    /// changes, while it is the last line: a cron job's run of minutes is
    /// one line counting on, not a line every two seconds.
    pub told: Option<Told>,
    /// The rows other processes hold leases on, as of the last ask: a cron
    /// job or a script at work on them.
    pub elsewhere: HashMap<ConnectionId, crate::store::Lease>,
}

/// Other processes' changes, counted since `since` on the activity line of
/// request `line`: connections added and changed, users added and removed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Told {
    pub line: RequestId,
    pub since: UnixTime,
    pub counts: [usize; 4],
}

pub struct App {
    pub(crate) readonly: bool,
    pub(crate) data_label: String,
    pub(crate) warn_secs: i64,
    pub(crate) no_color: bool,
    pub(crate) providers: Vec<(String, ProviderKind)>,
    pub(crate) schedules: HashMap<String, Schedule>,
    /// When the scheduler tries again the rows whose automatic operation
    /// failed, as its failures said.
    pub(crate) retries: HashMap<ConnectionId, NextTry>,
    pub(crate) keymap: Keymap,

    pub(crate) conns: Vec<Connection>,
    /// Fx, not SipHash: built over every row at load, keys are our own ids.
    pub(crate) by_id: rustc_hash::FxHashMap<ConnectionId, usize>,
    /// The filter's lower-cased words and ids of every row, built with each
    /// load (`None` after a row's words changed, until next needed).
    pub(crate) haystacks: Option<Haystacks>,
    /// What the table's text columns hold at their widest.
    pub(crate) widths: TextWidths,
    pub(crate) users: Vec<User>,
    /// Counts by state, overall and per user: see `counts.rs`.
    pub(crate) states: StateCounts,

    /// Positions in `conns`, filtered and sorted: see `view.rs`.
    pub(crate) order: Vec<usize>,
    /// Every row in the order of `sort`, kept until the data or sort changes.
    pub(crate) sorted: Option<Sorted>,
    /// Per row of `conns`, whether the filter and the user picked keep it,
    /// as of the last rebuild (`None` with neither): a tick that moves a few
    /// rows to another state reads those rows again, not all 100 000.
    pub(crate) kept: Option<Vec<bool>>,
    pub(crate) sort: SortKey,
    pub(crate) filter: LineEdit,
    /// When `order` was last rebuilt, and whether data changed since
    /// without a rebuild (see `update/data.rs`: at most one per second).
    pub(crate) rebuilt_at: Option<UnixTime>,
    pub(crate) index_stale: bool,
    /// Rows moved to another state by time alone since the state sort was
    /// last made (see `update/data.rs`: it is made at most every 5 s).
    pub(crate) resort_due: bool,
    /// Position of the selection in `order`.
    pub(crate) cursor: usize,
    /// First row of `order` on screen.
    pub(crate) offset: usize,

    pub(crate) mode: Mode,
    pub(crate) detail: DetailPane,
    pub(crate) users_view: Option<UsersView>,
    /// The user picked in the users view: only their connections are shown
    /// (by id, so `amira` does not bring in `amira.2`), and the filter
    /// narrows within them.
    pub(crate) user_scope: Option<(UserId, String)>,

    pub(crate) watch: Watch,
    pub(crate) pending: BTreeMap<RequestId, InFlight>,
    /// The Reload in flight: a `Loaded` for any other id is stale.
    pub(crate) reload: Option<RequestId>,
    /// Rows with an operation running, ours or the scheduler's.
    pub(crate) busy: HashMap<ConnectionId, RequestId>,
    pub(crate) bulk: Option<Progress>,
    /// Providers whose automatic work the scheduler paused, and until when.
    pub(crate) paused: BTreeMap<String, UnixTime>,
    /// Providers that asked to be sent nothing (a 429 or 503), and until
    /// when: heard here or by another process on the store.
    pub(crate) waits: BTreeMap<String, UnixTime>,
    pub(crate) activity: Activity,
    /// The row selected when `/` opened the filter: the filter goes back
    /// to it whenever the text typed so far shows it again, so that a
    /// start on the way to `!dapi` (`!d`) does not lose it.
    pub(crate) filter_anchor: Option<ConnectionId>,
    /// Rows marked (space), by position in `conns`: while any is, `e`,
    /// `r`, `l` and `D` act on the marked rows shown instead of the
    /// selection (`update/marks.rs`).
    pub(crate) marks: Marked,
    /// The row last marked, where a range (ctrl-space) starts.
    pub(crate) mark_anchor: Option<ConnectionId>,

    pub(crate) next_id: u64,
    pub(crate) size: (u16, u16),
    pub(crate) ticks: u64,
    pub(crate) dirty: bool,
    pub(crate) quit: bool,
    /// Text for the terminal's clipboard, which the run loop sends on
    /// (OSC 52): `update` writes to no terminal.
    pub(crate) clipboard: Option<String>,
    /// What `update` asked of the terminal itself, which the run loop does.
    pub(crate) terminal_ask: Option<TerminalAsk>,
}

/// Asks of the terminal that only the run loop can carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalAsk {
    /// Clear it and draw every cell again: what another program or a
    /// miscounted wide character left on it goes.
    Repaint,
    /// Give it back to the shell and stop, as Ctrl-Z does elsewhere; on
    /// `fg`, take it again and repaint.
    Suspend,
}

impl App {
    /// A screen with no data yet (or `opts.initial`), keymap errors already
    /// shown in the activity pane.
    pub fn new(opts: &RunOptions, now: UnixTime) -> App {
        let (keymap, errors) = Keymap::with_overrides(&opts.keys);
        let mut app = App {
            readonly: opts.readonly,
            data_label: opts.data_label.clone(),
            warn_secs: opts.warn_secs,
            no_color: opts.no_color,
            providers: opts.providers.clone(),
            schedules: opts.schedules.clone(),
            retries: HashMap::new(),
            keymap,
            conns: Vec::new(),
            by_id: rustc_hash::FxHashMap::default(),
            haystacks: None,
            widths: TextWidths::default(),
            users: Vec::new(),
            states: StateCounts::new(now, opts.warn_secs),
            order: Vec::new(),
            sorted: None,
            kept: None,
            sort: SortKey::default(),
            filter: LineEdit::default(),
            rebuilt_at: None,
            index_stale: false,
            resort_due: false,
            cursor: 0,
            offset: 0,
            mode: Mode::Normal,
            detail: DetailPane::default(),
            users_view: None,
            user_scope: None,
            watch: Watch::default(),
            pending: BTreeMap::new(),
            reload: None,
            busy: HashMap::new(),
            bulk: None,
            paused: BTreeMap::new(),
            waits: BTreeMap::new(),
            activity: Activity::default(),
            filter_anchor: None,
            marks: Marked::default(),
            mark_anchor: None,
            next_id: 1,
            size: (80, 24),
            ticks: 0,
            dirty: true,
            quit: false,
            clipboard: None,
            terminal_ask: None,
        };
        for e in errors {
            app.activity.push(now, Level::Warn, e.to_string());
        }
        if let Some((conns, users)) = &opts.initial {
            app.replace_data(conns.clone(), users.clone(), now);
        }
        app
    }

    /// A fresh id for the next command.
    pub(crate) fn next_request(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// The selected connection, if the table shows any.
    pub fn selected(&self) -> Option<&Connection> {
        self.order.get(self.cursor).and_then(|&i| self.conns.get(i))
    }

    pub fn selected_id(&self) -> Option<ConnectionId> {
        self.selected().map(|c| c.id)
    }

    /// The ids the table shows, in order.
    pub fn visible_ids(&self) -> Vec<ConnectionId> {
        self.order
            .iter()
            .filter_map(|&i| self.conns.get(i).map(|c| c.id))
            .collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn sort(&self) -> SortKey {
        self.sort
    }

    pub fn filter(&self) -> &str {
        self.filter.text()
    }

    pub fn detail_open(&self) -> bool {
        self.detail.open
    }

    /// The connection whose detail is loaded.
    pub fn detail_loaded_for(&self) -> Option<ConnectionId> {
        self.detail.loaded.as_ref().map(|(c, _)| *c)
    }

    pub fn revealed(&self) -> bool {
        self.detail.revealed_until.is_some()
    }

    /// Whether the config names this provider, so an operation can be sent.
    pub(crate) fn configured(&self, provider: &str) -> bool {
        self.providers.iter().any(|(name, _)| name == provider)
    }

    /// Whether `provider` asked for a wait that still holds at `now`.
    pub(crate) fn waiting(&self, provider: &str, now: UnixTime) -> bool {
        self.waits.get(provider).is_some_and(|until| *until > now)
    }

    /// The rows marked, shown or not, by id.
    pub fn marked(&self) -> Vec<ConnectionId> {
        let mut ids: Vec<_> = (self.marks.rows())
            .filter_map(|i| self.conns.get(i).map(|c| c.id))
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn is_marked(&self, id: ConnectionId) -> bool {
        self.by_id.get(&id).is_some_and(|&i| self.marks.contains(i))
    }

    pub fn users_view_open(&self) -> bool {
        self.users_view.is_some()
    }

    /// The user whose connections alone are shown, if one was picked.
    pub fn user_scope(&self) -> Option<&str> {
        self.user_scope.as_ref().map(|(_, name)| name.as_str())
    }

    pub fn activity(&self) -> impl DoubleEndedIterator<Item = &ActivityLine> + ExactSizeIterator {
        self.activity.lines()
    }

    pub fn last_activity(&self) -> Option<&ActivityLine> {
        self.activity.last()
    }

    /// Operations sent and not finished (loads of data do not count).
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    pub fn is_busy(&self, conn: ConnectionId) -> bool {
        self.busy.contains_key(&conn)
    }

    /// The lease another process holds on `conn` at `now`, as the last ask
    /// found it: that process is at work on the row. Never one of ours,
    /// which `busy` shows.
    pub fn busy_elsewhere(
        &self,
        conn: ConnectionId,
        now: UnixTime,
    ) -> Option<&crate::store::Lease> {
        (self.watch.elsewhere.get(&conn)).filter(|l| l.until > now && !self.is_busy(conn))
    }

    pub fn progress(&self) -> Option<Progress> {
        self.bulk
    }

    pub fn count(&self, kind: StateKind) -> usize {
        self.states.total()[kind_index(kind)]
    }

    pub fn connection(&self, id: ConnectionId) -> Option<&Connection> {
        self.by_id.get(&id).and_then(|&i| self.conns.get(i))
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Whether the screen must be drawn again.
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// The run loop drew the screen.
    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Every cell is drawn again at the next frame (the terminal was cleared).
    pub(crate) fn repaint(&mut self) {
        self.dirty = true;
    }

    /// What `update` asked of the terminal, once.
    pub fn take_terminal_ask(&mut self) -> Option<TerminalAsk> {
        self.terminal_ask.take()
    }

    /// Text `update` asked to copy to the clipboard, once.
    pub fn take_clipboard(&mut self) -> Option<String> {
        self.clipboard.take()
    }

    pub(crate) fn note(&mut self, now: UnixTime, level: Level, text: impl Into<String>) {
        self.activity.push(now, level, text);
        self.dirty = true;
    }

    /// A line about one row's operation that nobody waits on by name (the
    /// scheduler's, a bulk's failures): "{head} {row}{tail}", folded into a
    /// recent line that says the same of other rows (see [`Activity`]).
    pub(crate) fn note_about(
        &mut self,
        now: UnixTime,
        level: Level,
        head: &str,
        row: &str,
        tail: &str,
    ) {
        self.activity.push_about(now, level, head, row, tail);
        self.dirty = true;
    }

    /// "{op} {row}{tail}" for an operation this screen sent: folded as
    /// [`App::note_about`] folds when it went with others sent together,
    /// a line of its own otherwise.
    pub(crate) fn note_sent(
        &mut self,
        sent: Sent,
        now: UnixTime,
        level: Level,
        op: OpKind,
        row: &str,
        tail: &str,
    ) {
        match sent {
            Sent::Together => self.note_about(now, level, &op.to_string(), row, tail),
            Sent::Alone | Sent::Bulk => self.note(now, level, format!("{op} {row}{tail}")),
        }
    }
}
