//! Text for a terminal that carries no instructions to it.
//!
//! What the commands print holds text from outside: a provider's scope
//! names and error messages, a Connect payload's ids, a label. One of
//! them holding an escape sequence would set the window title, clear the
//! screen or write the operator's clipboard (OSC 52) when printed. Every
//! control character but newline and tab is shown as U+FFFD instead, one
//! column wide as most terminals show the character it replaces, so a
//! table's columns stay in line.

use std::io::{self, Write};

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// A writer that passes text on with its control characters replaced:
/// C0 (but `\n` and `\t`), DEL, and C1 (U+0080 to U+009F, which some
/// terminals read as ESC sequences too).
pub struct Printable<W: Write> {
    inner: W,
    /// A 0xC2 byte ended the last write: whether it starts a C1 character
    /// depends on the next byte.
    held: bool,
    /// Reused from write to write: a table of 100 000 rows is 100 000.
    clean: Vec<u8>,
}

impl<W: Write> Printable<W> {
    pub fn new(inner: W) -> Self {
        Printable {
            inner,
            held: false,
            clean: Vec::new(),
        }
    }
}

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.clean.clear();
        for &b in buf {
            if std::mem::take(&mut self.held) {
                if (0x80..=0x9f).contains(&b) {
                    self.clean.extend_from_slice(REPLACEMENT);
                    continue;
                }
                self.clean.push(0xc2);
            }
            match b {
                b'\n' | b'\t' => self.clean.push(b),
                0x00..=0x1f | 0x7f => self.clean.extend_from_slice(REPLACEMENT),
                0xc2 => self.held = true,
                _ => self.clean.push(b),
            }
        }
        self.inner.write_all(&self.clean)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.held) {
            self.inner.write_all(&[0xc2])?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(pieces: &[&[u8]]) -> String {
        let mut out = Printable::new(Vec::new());
        for piece in pieces {
            out.write_all(piece).unwrap();
        }
        out.flush().unwrap();
        String::from_utf8(out.inner).unwrap()
    }

    #[test]
    fn control_characters_are_shown_not_sent_and_the_rest_passes() {
        let osc52 = "x\u{1b}]52;c;aGVsbG8=\u{7} y";
        assert_eq!(printed(&[osc52.as_bytes()]), "x�]52;c;aGVsbG8=� y");
        let c1 = "a\u{9b}2Jb\u{7f}c";
        assert_eq!(printed(&[c1.as_bytes()]), "a�2Jb�c");
        let text = "naïve · 名前 é\u{a0}ok\tcol\nnext";
        assert_eq!(printed(&[text.as_bytes()]), text);
        // A character split across two writes is judged whole.
        let nbsp = "\u{a0}".as_bytes();
        let csi = "\u{9b}".as_bytes();
        assert_eq!(printed(&[&nbsp[..1], &nbsp[1..]]), "\u{a0}");
        assert_eq!(printed(&[&csi[..1], &csi[1..], b"2J"]), "�2J");
    }
}
