//! Terminal input that ends when the terminal hangs up.
//!
//! Once a terminal is gone, its descriptor reads as always ready, and
//! crossterm 0.29's reader retries a read that returns nothing or EIO
//! without end (crossterm-rs/crossterm#793): the loop never returned to
//! hear the SIGHUP, and a dashboard whose window closed stayed behind at
//! 100 % of a core. Each poll first asks the descriptor whether it has hung
//! up, without reading it, and ends the input then, so that the dashboard
//! leaves as it does when its input closes. A hang-up that comes within
//! one poll of crossterm's is still crossterm's to handle.

use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

/// `inner`, ended once `fd` reports a hang-up or an error.
pub struct HangupAware<S> {
    inner: S,
    fd: Option<RawFd>,
}

impl<S> HangupAware<S> {
    /// Watches `fd`; `None` watches nothing (input that is not a terminal).
    pub fn new(inner: S, fd: Option<RawFd>) -> Self {
        HangupAware { inner, fd }
    }

    /// Standard input when it is the terminal crossterm reads.
    pub fn on_stdin(inner: S) -> Self {
        // SAFETY: isatty only inspects the descriptor.
        let tty = unsafe { libc::isatty(libc::STDIN_FILENO) } == 1;
        Self::new(inner, tty.then_some(libc::STDIN_FILENO))
    }
}

/// Whether `fd` has hung up or failed: a poll that does not wait and reads
/// nothing, so no key is taken from the input.
pub fn hung_up(fd: RawFd) -> bool {
    let mut watch = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a timeout of zero.
    let ready = unsafe { libc::poll(&mut watch, 1, 0) };
    ready > 0 && watch.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

impl<S: Stream + Unpin> Stream for HangupAware<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.fd.is_some_and(hung_up) {
            return Poll::Ready(None);
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// A pseudo-terminal, as a terminal window gives: its input is the
    /// slave, and closing the window closes the master.
    fn pty() -> (RawFd, RawFd) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: out-params for two descriptors; no name, settings or size.
        let made = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(made, 0);
        (master, slave)
    }

    #[test]
    fn the_input_ends_when_the_terminal_hangs_up_and_not_before() {
        let (master, slave) = pty();
        let mut input = HangupAware::new(futures::stream::pending::<u8>(), Some(slave));
        let mut next = || {
            futures::executor::block_on(futures::future::poll_fn(|cx| {
                Poll::Ready(input.poll_next_unpin(cx))
            }))
        };
        assert!(!hung_up(slave));
        assert_eq!(next(), Poll::Pending, "a live terminal waits for input");
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(master) };
        assert!(hung_up(slave));
        assert_eq!(next(), Poll::Ready(None), "a hung-up one ends");
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(slave) };
        let mut unwatched = HangupAware::new(futures::stream::iter([7u8]), None);
        assert_eq!(futures::executor::block_on(unwatched.next()), Some(7));
    }
}
