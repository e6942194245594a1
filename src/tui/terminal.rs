//! Owning the terminal: raw mode, alternate screen, mouse capture and
//! bracketed paste on the way in, all undone on the way out — on a normal
//! exit (the guard's `Drop`), on an error, and on a panic.
//!
//! The panic hook is thread-aware. A panic on the screen's own thread ends
//! the screen: the hook restores the terminal first so the message prints on
//! a normal screen. A panic in a background task (the worker catches those
//! and carries on) must not tear the live screen down, nor print over it:
//! its message is kept and shown in the activity pane, and printed after
//! the terminal is restored if the screen ends first. No message is lost.

use std::io::{self, BufWriter, Stdout, stdout};
use std::sync::{Mutex, Once};
use std::thread::{self, ThreadId};

use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Buffered so that a frame goes to the terminal in one write, flushed at
/// the end of each draw: `Stdout` alone writes every 1 KiB, and a terminal
/// (tmux, a slow link) could show a frame half drawn, its top new and its
/// bottom old, besides the dozens of writes a whole frame took.
pub(crate) type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Enough for a whole frame of a large, styled screen.
const FRAME_BYTES: usize = 256 * 1024;

/// The thread drawing the screen, while a screen is up.
static SCREEN: Mutex<Option<ThreadId>> = Mutex::new(None);
/// Panic messages from other threads while the screen was up.
static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Restores the terminal when dropped.
pub(crate) struct TerminalGuard {
    pub terminal: Term,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        set_screen(None);
        // Nothing better to do if restoring fails while leaving.
        let _ = restore();
        for message in take_kept_panics() {
            tell!("{message}");
        }
    }
}

pub(crate) fn enter() -> io::Result<TerminalGuard> {
    install_panic_hook();
    let entered = take_over().and_then(|()| {
        let out = BufWriter::with_capacity(FRAME_BYTES, stdout());
        Terminal::new(CrosstermBackend::new(out))
    });
    match entered {
        Ok(terminal) => {
            set_screen(Some(thread::current().id()));
            Ok(TerminalGuard { terminal })
        }
        Err(e) => {
            // Half-entered is the worst state to leave a terminal in.
            let _ = restore();
            Err(e)
        }
    }
}

/// Raw mode, the alternate screen, mouse capture and bracketed paste.
fn take_over() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(
        stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )
}

/// Gives the terminal back to the shell and stops the process, as Ctrl-Z
/// does to a program in cooked mode (in raw mode the key is only a key);
/// on `fg`, takes the terminal again and clears it for a whole new frame.
pub(crate) fn suspend(guard: &mut TerminalGuard) -> io::Result<()> {
    restore()?;
    stop_for_the_shell();
    resume(guard)
}

/// Stops the process as Ctrl-Z in a shell does: SIGTSTP with its default
/// action, the dashboard's own handler set aside meanwhile. Not SIGSTOP:
/// where no shell could continue the process (run without job control, its
/// process group orphaned) the kernel ignores SIGTSTP, and the dashboard
/// goes on, where SIGSTOP would stop it for good.
fn stop_for_the_shell() {
    // SAFETY: sigaction swaps this one signal's disposition and puts the
    // one it saved back; raise only signals this process. Stopped, the
    // process runs nothing until continued.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        let mut ours: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGTSTP, &default, &mut ours) != 0 {
            return;
        }
        libc::raise(libc::SIGTSTP);
        libc::sigaction(libc::SIGTSTP, &ours, std::ptr::null_mut());
    }
}

/// After a stop (`kill -STOP`, then `fg` or SIGCONT): the shell that ran
/// the job meanwhile set the terminal back to its own modes, and drew over
/// the screen. Takes it again and clears it for a whole new frame.
pub(crate) fn resume(guard: &mut TerminalGuard) -> io::Result<()> {
    // Continued in the background (`bg`, or a SIGCONT the shell did not
    // send: it took the terminal back at the stop): a screen there would
    // draw over the shell and lose its keys to it. Stopped again, as the
    // kernel stops a background reader of the terminal, until `fg` (and
    // setting raw mode from the background stops it too, by SIGTTOU).
    if !in_foreground() {
        stop_for_the_shell();
    }
    // The shell set its own modes at the stop, but crossterm still counts
    // raw mode as on and would not set it again: keys then waited for
    // Enter. Off first, so that on is done.
    disable_raw_mode()?;
    take_over()?;
    repaint(guard)
}

/// Whether this process's group has the terminal. A failed ask, or a
/// terminal with no foreground group (0: hung up, which sends SIGCONT with
/// its SIGHUP), counts as having it: there is no shell to yield to, and a
/// process that stopped itself then would never be continued.
fn in_foreground() -> bool {
    // SAFETY: both only read the process's and the terminal's state.
    let (tty, ours) = unsafe { (libc::tcgetpgrp(libc::STDIN_FILENO), libc::getpgrp()) };
    tty <= 0 || tty == ours
}

/// Clears the terminal, so that the next frame draws every cell.
///
/// Not `Terminal::clear`: it first asks the terminal where its cursor is
/// and fails the screen when the answer takes two seconds (a terminal
/// busy, or one the process was just handed back), and its answer can be
/// read as keys by the screen's own input stream.
pub(crate) fn repaint(guard: &mut TerminalGuard) -> io::Result<()> {
    let size = guard.terminal.size()?;
    guard
        .terminal
        .resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
}

/// Undoes everything `enter` did; safe to call twice.
pub(crate) fn restore() -> io::Result<()> {
    // Raw mode first: it has the widest effect if the rest fails.
    let raw = disable_raw_mode();
    execute!(
        stdout(),
        DisableBracketedPaste,
        DisableMouseCapture,
        LeaveAlternateScreen,
        Show
    )?;
    raw
}

/// Background panics kept since the last call, for the activity pane.
pub(crate) fn take_kept_panics() -> Vec<String> {
    KEPT.lock()
        .map(|mut k| std::mem::take(&mut *k))
        .unwrap_or_default()
}

fn set_screen(thread: Option<ThreadId>) {
    if let Ok(mut s) = SCREEN.lock() {
        *s = thread;
    }
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let screen = SCREEN.lock().ok().and_then(|s| *s);
            match screen {
                Some(t) if t != thread::current().id() => {
                    if let Ok(mut kept) = KEPT.lock() {
                        let text = info.to_string().replace('\n', " ");
                        kept.push(format!("a background task panicked: {text}"));
                    }
                }
                Some(_) => {
                    // The message must land on a normal screen to be read.
                    let _ = restore();
                    previous(info);
                }
                None => previous(info),
            }
        }));
    });
}
