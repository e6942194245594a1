//! Owning the terminal: raw mode, alternate screen, mouse capture and
//! bracketed paste on the way in, all undone on the way out — on a normal
//! exit (the guard's `Drop`), on an error, and on a panic (a hook that
//! restores before the panic message prints, so the message is readable).

use std::io::{self, Stdout, stdout};
use std::sync::Once;

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

pub(crate) type Term = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
pub(crate) struct TerminalGuard {
    pub terminal: Term,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Nothing better to do if restoring fails while leaving.
        let _ = restore();
    }
}

pub(crate) fn enter() -> io::Result<TerminalGuard> {
    install_panic_hook();
    enable_raw_mode()?;
    let entered = execute!(
        stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste
    )
    .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
    match entered {
        Ok(terminal) => Ok(TerminalGuard { terminal }),
        Err(e) => {
            // Half-entered is the worst state to leave a terminal in.
            let _ = restore();
            Err(e)
        }
    }
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

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The panic message must land on a normal screen to be read.
            let _ = restore();
            previous(info);
        }));
    });
}
