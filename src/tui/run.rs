//! The run loop: the only place that touches the terminal, the clock and the
//! channels. It turns terminal input, worker events and a 1 s tick into
//! messages, hands them to `update`, sends what `update` returns, and draws
//! when `update` marked the screen dirty.
//!
//! Commands go out with `try_send`: the channel is bounded, and the screen
//! must never wait on a worker that is behind. A full channel becomes a
//! "worker busy" line instead of a frozen screen.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::time::{Interval, MissedTickBehavior};

use crate::domain::{Connection, ProviderKind, UnixTime, User};
use crate::worker::scheduler::Schedule;
use crate::worker::{Command, Event};

use super::app::{App, TerminalAsk};
use super::hangup::HangupAware;
use super::msg::{Msg, SendFailure};
use super::render::render;
use super::terminal;

/// Countdowns show seconds; nothing on screen changes faster on its own.
pub const TICK: Duration = Duration::from_secs(1);
/// How long worker events already queued may be applied before a frame.
const EVENT_BATCH: Duration = Duration::from_millis(8);
/// After a frame, worker events wait this long before the loop takes them:
/// a bulk refresh sends thousands a second, and taking each as it came woke
/// the loop (a thread hand-off each) and drew a frame per handful. Input is
/// never held back; events queue meanwhile (the channel holds 1 024, a tenth
/// of a second of the fastest bulk) and are applied together.
const FRAME: Duration = Duration::from_millis(16);

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Refuse every operation that changes anything.
    pub readonly: bool,
    /// The data dir or profile, shown in the header.
    pub data_label: String,
    /// The config's `[keys]`: action name → key spec.
    pub keys: BTreeMap<String, String>,
    /// A token within this many seconds of expiry reads "expiring".
    pub warn_secs: i64,
    /// `NO_COLOR` was set (the caller reads the environment).
    pub no_color: bool,
    /// Configured providers, for the add and client-credentials forms.
    pub providers: Vec<(String, ProviderKind)>,
    /// Each provider's automatic work, where a scheduler runs beside the
    /// screen (none when read-only): the detail pane says when it comes.
    pub schedules: HashMap<String, Schedule>,
    /// Data to show before the first `Loaded` arrives.
    pub initial: Option<(Vec<Connection>, Vec<User>)>,
}

/// How the dashboard ended, for its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Quit by the operator, or its terminal went away (nobody is left to
    /// read a status then).
    Quit,
    /// SIGTERM: a script or a service manager stopped it, and hears so.
    Stopped,
}

/// What the screen leaves once it closes: the worker's events still to come
/// for what was sent, and the screen's own reading of them, so that the
/// requests still out when it closed end in the same words on the terminal.
pub struct Afterwards {
    app: App,
    events: Receiver<Event>,
    /// The activity's writes when the screen closed.
    mark: u64,
}

impl Afterwards {
    /// Runs `until` to its end, reading the worker's events meanwhile as the
    /// screen would have.
    pub async fn reading<F: std::future::Future>(&mut self, until: F) -> F::Output {
        tokio::pin!(until);
        let mut open = true;
        loop {
            tokio::select! {
                out = &mut until => {
                    // What came with the last answer is read too.
                    while let Ok(event) = self.events.try_recv() {
                        self.read(event);
                    }
                    return out;
                }
                event = self.events.recv(), if open => match event {
                    Some(event) => self.read(event),
                    None => open = false,
                },
            }
        }
    }

    fn read(&mut self, event: Event) {
        // Nothing is sent any more: the commands it asks for (a detail to
        // load again) are dropped.
        let _ = self.app.update(Msg::Worker(event), UnixTime::now());
    }

    /// The activity lines written since the screen closed, as the pane
    /// would show them: "✓ refresh mei.chen / everifin: access token …".
    pub fn lines(&self) -> Vec<String> {
        (self.app.activity.since(self.mark))
            .map(|l| format!("{} {}", l.level.mark(), l.text))
            .collect()
    }
}

/// Runs the screen until it is quit or stopped; however it ended, the
/// [`Afterwards`] reads what the requests it sent still bring.
pub async fn run(
    opts: RunOptions,
    cmd_tx: Sender<Command>,
    events: Receiver<Event>,
) -> (color_eyre::Result<Ended>, Afterwards) {
    let mut app = App::new(&opts, UnixTime::now());
    let (ended, events) = on_screen(&mut app, events, &cmd_tx).await;
    let mark = app.activity.writes();
    let after = Afterwards { app, events, mark };
    (ended, after)
}

/// The screen's whole life, the worker's events handed back at its end.
async fn on_screen(
    app: &mut App,
    events: Receiver<Event>,
    cmd_tx: &Sender<Command>,
) -> (color_eyre::Result<Ended>, Receiver<Event>) {
    let entered = (|| -> color_eyre::Result<_> {
        let guard = terminal::enter()?;
        let size = guard.terminal.size()?;
        Ok((guard, size, Stop::new()?))
    })();
    let (mut guard, size, mut stop) = match entered {
        Ok(entered) => entered,
        Err(e) => return (Err(e), events),
    };
    app.update(Msg::Resize(size.width, size.height), UnixTime::now());
    let start = app.start();
    send_all(app, cmd_tx, start);
    let input = HangupAware::on_stdin(EventStream::new());
    let mut sources = Sources::new(input, events);
    let ended = drive(app, &mut guard, &mut sources, &mut stop, cmd_tx).await;
    // A hung-up terminal answers every read and write with EIO; closing a
    // window sends SIGHUP too, and whichever comes first ends the loop.
    let gone = match &ended {
        Ok(Ending::Quit | Ending::Signal(Signal::Terminate)) => false,
        Ok(Ending::Signal(Signal::Hangup) | Ending::InputClosed) => true,
        Err(e) => e.raw_os_error() == Some(libc::EIO),
    };
    if gone {
        if let Err(e) = &ended {
            tracing::info!(error = %e, "the terminal is gone");
        }
        detach_stdio();
    }
    drop(guard);
    let ended = match ended {
        Err(e) if !gone => Err(e.into()),
        Ok(Ending::Signal(Signal::Terminate)) => Ok(Ended::Stopped),
        _ => Ok(Ended::Quit),
    };
    (ended, sources.events)
}

/// Why the loop ended.
enum Ending {
    /// `update` asked to quit.
    Quit,
    Signal(Signal),
    /// The terminal closed its input.
    InputClosed,
}

async fn drive(
    app: &mut App,
    guard: &mut terminal::TerminalGuard,
    sources: &mut Sources<HangupAware<EventStream>>,
    stop: &mut Stop,
    cmd_tx: &Sender<Command>,
) -> std::io::Result<Ending> {
    while !app.should_quit() {
        if app.needs_redraw() {
            let now = UnixTime::now();
            guard.terminal.draw(|frame| render(app, frame, now))?;
            app.mark_drawn();
            sources.drawn();
        }
        let next = tokio::select! {
            next = sources.next() => next?,
            heard = stop.recv() => match heard {
                Heard::Suspend => {
                    terminal::suspend(guard).or_else(hung_up)?;
                    app.repaint();
                    continue;
                }
                Heard::Continue => {
                    terminal::resume(guard).or_else(hung_up)?;
                    app.repaint();
                    continue;
                }
                Heard::End(signal) => {
                    tracing::info!(?signal, "stopping the dashboard");
                    return Ok(Ending::Signal(signal));
                }
            }
        };
        let Some(msg) = next else {
            return Ok(Ending::InputClosed);
        };
        let commands = sources.apply(app, msg);
        send_all(app, cmd_tx, commands);
        match app.take_terminal_ask() {
            Some(TerminalAsk::Repaint) => terminal::repaint(guard)?,
            Some(TerminalAsk::Suspend) => terminal::suspend(guard)?,
            None => {}
        }
        if let Some(text) = app.take_clipboard() {
            use crossterm::clipboard::CopyToClipboard;
            crossterm::execute!(
                guard.terminal.backend_mut(),
                CopyToClipboard::to_clipboard_from(text)
            )?;
        }
        for message in terminal::take_kept_panics() {
            // A Notice never produces commands.
            let _ = app.update(Msg::Worker(Event::Notice { message }), UnixTime::now());
        }
    }
    Ok(Ending::Quit)
}

/// A terminal that hangs up sends SIGCONT with its SIGHUP, and taking it
/// again then fails, not always with EIO (crossterm asks `tput` for the size
/// of a terminal that will not say): ended as by the SIGHUP, not as an error
/// whose message would go to the dead terminal.
fn hung_up(e: std::io::Error) -> std::io::Result<()> {
    use std::io::IsTerminal;
    match std::io::stdin().is_terminal() {
        true => Err(e),
        false => Err(std::io::Error::from_raw_os_error(libc::EIO)),
    }
}

/// The terminal is gone: stdout and stderr go to `/dev/null`, so that
/// leaving cannot fail a write. ratatui's own "Failed to show the cursor"
/// line went to the dead terminal, `eprintln!` panicked, and the process
/// aborted before the demo's folder was removed.
fn detach_stdio() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            // SAFETY: both descriptors are open; dup2 only repoints `fd`.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// SIGTERM (`kill`) and SIGHUP (the terminal window closed) end the
/// dashboard as `q` does, SIGTERM with a signal's exit status. SIGTSTP
/// (`kill -TSTP`) suspends it as Ctrl-Z does, the terminal given back
/// first; SIGCONT after a stop it could not see (`kill -STOP`) takes the
/// terminal again and repaints. By default they would kill the process on
/// the spot: the terminal left in raw mode on the alternate screen, and the
/// demo's throw-away folder left behind. Leaving then waits for the
/// requests already sent, as after `q` (`cli::screen::finish_sent`).
struct Stop {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    tstp: tokio::signal::unix::Signal,
    cont: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Stop {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            tstp: signal(SignalKind::from_raw(libc::SIGTSTP))?,
            cont: signal(SignalKind::from_raw(libc::SIGCONT))?,
        })
    }

    async fn recv(&mut self) -> Heard {
        tokio::select! {
            _ = self.term.recv() => Heard::End(Signal::Terminate),
            _ = self.hup.recv() => Heard::End(Signal::Hangup),
            _ = self.tstp.recv() => Heard::Suspend,
            _ = self.cont.recv() => Heard::Continue,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    /// SIGTERM: asked to stop; the terminal is still there.
    Terminate,
    /// SIGHUP: the terminal is gone.
    Hangup,
}

enum Heard {
    End(Signal),
    /// SIGTSTP: stop until `fg`.
    Suspend,
    /// SIGCONT: back from a stop.
    Continue,
}

/// Everything the loop waits on: terminal input (`I`: the terminal's
/// [`EventStream`] on screen; a benchmark feeds its own), worker events and
/// the tick. Public so that a benchmark runs the loop's own waiting and
/// batching, not a copy that drifts from it.
pub struct Sources<I> {
    input: I,
    tick: Interval,
    events: Receiver<Event>,
    /// Once the worker's channel closes, waiting on it would spin.
    worker_open: bool,
    /// Worker events are not taken before this ([`FRAME`] after a frame).
    worker_after: tokio::time::Instant,
}

impl<I> Sources<I>
where
    I: futures::Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    pub fn new(input: I, events: Receiver<Event>) -> Self {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            input,
            tick,
            events,
            worker_open: true,
            worker_after: tokio::time::Instant::now(),
        }
    }

    /// A frame was just drawn: worker events wait a `FRAME` from now.
    pub fn drawn(&mut self) {
        self.worker_after = tokio::time::Instant::now() + FRAME;
    }

    /// Hands `msg` to `update`, then the worker events already queued, and
    /// returns the commands they asked for. A flood of worker events (a bulk
    /// refresh, the scheduler's first round at start-up) is applied before
    /// the next frame, not a frame each: thousands queued ahead of the first
    /// `Loaded` kept the table from showing for seconds. Bounded in time, so
    /// a key waits at most one batch and a frame.
    pub fn apply(&mut self, app: &mut App, msg: Msg) -> Vec<Command> {
        let mut commands = app.update(msg, UnixTime::now());
        let batch_started = std::time::Instant::now();
        while batch_started.elapsed() < EVENT_BATCH {
            let Some(event) = self.ready_event() else {
                break;
            };
            commands.extend(app.update(Msg::Worker(event), UnixTime::now()));
        }
        commands
    }

    /// The next message; `None` once the terminal closed its input, since
    /// nothing more can be asked then.
    pub async fn next(&mut self) -> std::io::Result<Option<Msg>> {
        loop {
            let held = tokio::time::Instant::now() < self.worker_after;
            let msg = tokio::select! {
                _ = self.tick.tick() => Some(Msg::Tick),
                input = self.input.next() => match input {
                    // Inputs the screen ignores (focus changes) map to None.
                    Some(event) => to_msg(event?),
                    None => return Ok(None),
                },
                // Held no longer: go round again, taking events this time.
                _ = tokio::time::sleep_until(self.worker_after), if held => None,
                event = self.events.recv(), if self.worker_open && !held => {
                    Some(self.worker(event))
                }
            };
            if msg.is_some() {
                return Ok(msg);
            }
        }
    }

    /// A worker event that is already waiting, if any.
    fn ready_event(&mut self) -> Option<Event> {
        if !self.worker_open {
            return None;
        }
        self.events.try_recv().ok()
    }

    fn worker(&mut self, event: Option<Event>) -> Msg {
        match event {
            Some(event) => Msg::Worker(event),
            None => {
                self.worker_open = false;
                let message = "the worker stopped; operations cannot run".into();
                Msg::Worker(Event::Notice { message })
            }
        }
    }
}

fn to_msg(event: TermEvent) -> Option<Msg> {
    match event {
        TermEvent::Key(key) => Some(Msg::Key(key)),
        TermEvent::Mouse(mouse) => Some(Msg::Mouse(mouse)),
        TermEvent::Resize(w, h) => Some(Msg::Resize(w, h)),
        TermEvent::Paste(text) => Some(Msg::Paste(text)),
        TermEvent::FocusGained | TermEvent::FocusLost => None,
    }
}

/// Hands commands to the worker without waiting; what does not fit is
/// reported back to `update` so the screen stops waiting for it.
fn send_all(app: &mut App, tx: &Sender<Command>, commands: Vec<Command>) {
    for cmd in commands {
        let failure = match tx.try_send(cmd) {
            Ok(()) => continue,
            Err(TrySendError::Full(cmd)) => (cmd, SendFailure::Busy),
            Err(TrySendError::Closed(cmd)) => (cmd, SendFailure::Closed),
        };
        // `NotSent` never produces commands, so nothing is lost here.
        let _ = app.update(Msg::NotSent(failure.0, failure.1), UnixTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use futures::stream;

    fn notice(n: usize) -> Event {
        Event::Notice {
            message: format!("event {n}"),
        }
    }

    fn key() -> TermEvent {
        TermEvent::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE))
    }

    // Paused time: the clock moves only when every task waits, and then
    // straight to the next timer, so the hold is measured exactly.
    #[tokio::test(start_paused = true)]
    async fn after_a_frame_worker_events_wait_a_frame_and_a_key_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let input = stream::iter([Ok(key())]).chain(stream::pending());
        let mut sources = Sources::new(input, rx);
        sources.tick.tick().await; // an interval's first tick is at once
        tx.send(notice(1)).await.unwrap();
        sources.drawn();
        let drawn = tokio::time::Instant::now();
        // Both are ready; the event is held for the frame, the key is not.
        let first = sources.next().await.unwrap();
        assert!(matches!(first, Some(Msg::Key(_))), "{first:?}");
        assert_eq!(drawn.elapsed(), Duration::ZERO);
        let second = sources.next().await.unwrap();
        assert!(
            matches!(&second, Some(Msg::Worker(Event::Notice { message })) if message == "event 1"),
            "{second:?}"
        );
        assert_eq!(drawn.elapsed(), FRAME, "held one frame, no longer");
    }

    #[tokio::test]
    async fn a_message_brings_the_worker_events_already_queued_with_it() {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let mut sources = Sources::new(stream::pending(), rx);
        for n in 0..3 {
            tx.send(notice(n)).await.unwrap();
        }
        let mut app = App::new(&RunOptions::default(), UnixTime::now());
        let _ = sources.apply(&mut app, Msg::Tick);
        assert!(
            sources.ready_event().is_none(),
            "all three applied before the next frame"
        );
    }
}
