//! A one-line text editor for the filter, the dialogs and the forms.
//!
//! Hand-written rather than `tui-input` because the screen needs little
//! (insert, delete, move, paste) and one less dependency keeps the key
//! handling in one place: while a field has focus every printable key is
//! text, so no action can fire from inside it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::text::columns;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEdit {
    text: String,
    /// Cursor position in bytes, always between two graphemes: a key moves
    /// or deletes what reads as one character ("é" written as e and an
    /// accent, a flag), not one code point of it.
    cursor: usize,
}

impl LineEdit {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            cursor: text.len(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// What a field `width` columns wide shows of the text, and the column
    /// of the cursor in it. Text longer than the field scrolls so that the
    /// cursor stays in it: without that, typing past the edge changes
    /// nothing that can be seen.
    pub fn view(&self, width: usize) -> (&str, usize) {
        let at = self.cursor;
        let start = match columns(&self.text[..at]) < width {
            true => 0,
            // The fewest characters before the cursor that leave a column
            // for it, whole: cut inside one, the field would begin with a
            // bare accent or half a flag.
            false => {
                let mut start = at;
                let mut used = 0;
                for (i, g) in self.text[..at].grapheme_indices(true).rev() {
                    used += columns(g);
                    if used >= width {
                        break;
                    }
                    start = i;
                }
                start
            }
        };
        // And no more than the field holds, so that a box around it does
        // not wrap it.
        let mut used = 0;
        let end = self.text[start..]
            .grapheme_indices(true)
            .find(|(_, g)| {
                used += columns(g);
                used > width
            })
            .map_or(self.text.len(), |(i, _)| start + i);
        (&self.text[start..end], columns(&self.text[start..at]))
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    /// Inserts pasted or typed text; line breaks become spaces since the
    /// field is one line.
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars() {
            self.insert(if c == '\n' || c == '\r' { ' ' } else { c });
        }
    }

    /// Applies an editing key; returns whether the key was an editing key.
    pub fn handle_key(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.delete_to_start(),
            KeyCode::Char('w') if ctrl => self.delete_word(),
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.text.len(),
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => self.insert(c),
            KeyCode::Backspace => {
                let from = self.before();
                self.text.replace_range(from..self.cursor, "");
                self.cursor = from;
            }
            KeyCode::Delete => self.text.replace_range(self.cursor..self.after(), ""),
            KeyCode::Left => self.cursor = self.before(),
            KeyCode::Right => self.cursor = self.after(),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.len(),
            _ => return false,
        }
        true
    }

    /// Where the grapheme before the cursor starts (the cursor at the start).
    fn before(&self) -> usize {
        (self.text[..self.cursor].grapheme_indices(true).next_back()).map_or(0, |(i, _)| i)
    }

    /// Where the grapheme after the cursor ends (the cursor at the end).
    fn after(&self) -> usize {
        let next = self.text[self.cursor..].graphemes(true).next();
        self.cursor + next.map_or(0, str::len)
    }

    fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    fn delete_to_start(&mut self) {
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    fn delete_word(&mut self) {
        let before = self.text[..self.cursor].trim_end_matches(' ');
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_in_the_middle_of_multibyte_text() {
        let mut e = LineEdit::new("zoë");
        e.handle_key(&key(KeyCode::Left));
        e.handle_key(&key(KeyCode::Char('x')));
        assert_eq!(e.text(), "zoxë");
        e.handle_key(&key(KeyCode::Backspace));
        e.handle_key(&key(KeyCode::Delete));
        assert_eq!(e.text(), "zo");
        e.insert_str("a\nb");
        assert_eq!(e.text(), "zoa b");
        e.handle_key(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(e.text(), "zoa ");
        e.handle_key(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(e.text(), "");
    }

    /// What reads as one character is moved over and deleted as one: an
    /// accent written after its letter, a flag of two code points. Each
    /// Backspace took one code point, and left a bare letter or half a
    /// flag that drew as debris.
    #[test]
    fn a_key_moves_over_and_deletes_what_reads_as_one_character() {
        let flag = "\u{1f1eb}\u{1f1f7}";
        let mut e = LineEdit::new(&format!("ze\u{301}{flag}"));
        e.handle_key(&key(KeyCode::Backspace));
        assert_eq!(e.text(), "ze\u{301}", "the whole flag");
        e.handle_key(&key(KeyCode::Left));
        e.handle_key(&key(KeyCode::Char('x')));
        assert_eq!(
            e.text(),
            "zxe\u{301}",
            "before the accented e, not inside it"
        );
        e.handle_key(&key(KeyCode::Delete));
        assert_eq!(e.text(), "zx");
        e.insert_str(flag);
        e.handle_key(&key(KeyCode::Home));
        e.handle_key(&key(KeyCode::Right));
        e.handle_key(&key(KeyCode::Right));
        e.handle_key(&key(KeyCode::Delete));
        assert_eq!(e.text(), "zx", "the flag deleted whole from the front");
        e.handle_key(&key(KeyCode::Delete));
        e.handle_key(&key(KeyCode::Right));
        assert_eq!(e.text(), "zx", "nothing after the end");
    }

    #[test]
    fn a_field_too_short_for_the_text_keeps_the_cursor_in_sight() {
        let mut e = LineEdit::new("abcdefghij");
        assert_eq!(e.view(20), ("abcdefghij", 10), "it fits");
        assert_eq!(
            e.view(5),
            ("ghij", 4),
            "the end, a column left for the cursor"
        );
        e.handle_key(&key(KeyCode::Home));
        assert_eq!(
            e.view(5),
            ("abcde", 0),
            "from the start, as far as it holds"
        );
        let wide = LineEdit::new("名前名前名前");
        assert_eq!(wide.view(5), ("名前", 4), "counted in columns");
    }

    #[test]
    fn a_scrolled_field_begins_and_ends_on_whole_characters() {
        // "é" as e and a combining accent, and a flag of two code points.
        let text = "ab\u{65}\u{301}\u{1F1EB}\u{1F1F7}cde\u{301}\u{65}\u{301}fg";
        let mut e = LineEdit::new(text);
        for _ in 0..=text.graphemes(true).count() {
            for width in 1..=12 {
                let (shown, _) = e.view(width);
                let first = shown.chars().next();
                assert!(
                    !first.is_some_and(|c| c == '\u{301}' || c == '\u{1F1F7}'),
                    "width {width} begins inside a character: {shown:?}"
                );
                assert!(
                    text.contains(shown)
                        && shown
                            .graphemes(true)
                            .all(|g| text.graphemes(true).any(|t| t == g)),
                    "width {width} ends inside a character: {shown:?}"
                );
            }
            e.handle_key(&key(KeyCode::Left));
        }
    }

    #[test]
    fn control_keys_are_not_text() {
        let mut e = LineEdit::default();
        assert!(!e.handle_key(&KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)));
        assert!(!e.handle_key(&key(KeyCode::Enter)));
        assert!(e.is_empty());
    }
}
