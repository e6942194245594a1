//! A one-line text editor for the filter, the dialogs and the forms.
//!
//! Hand-written rather than `tui-input` because the screen needs little
//! (insert, delete, move, paste) and one less dependency keeps the key
//! handling in one place: while a field has focus every printable key is
//! text, so no action can fire from inside it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_width::UnicodeWidthChar;

use crate::domain::text::columns;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEdit {
    text: String,
    /// Cursor position in characters, not bytes, so multi-byte names work.
    cursor: usize,
}

impl LineEdit {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// What a field `width` columns wide shows of the text, and the column
    /// of the cursor in it. Text longer than the field scrolls so that the
    /// cursor stays in it: without that, typing past the edge changes
    /// nothing that can be seen.
    pub fn view(&self, width: usize) -> (&str, usize) {
        let at = self.byte_at(self.cursor);
        let start = match columns(&self.text[..at]) < width {
            true => 0,
            // The fewest chars before the cursor that leave a column for it.
            false => {
                let mut start = at;
                let mut used = 0;
                for (i, c) in self.text[..at].char_indices().rev() {
                    used += c.width().unwrap_or(0);
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
            .char_indices()
            .find(|(_, c)| {
                used += c.width().unwrap_or(0);
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
            KeyCode::Char('e') if ctrl => self.cursor = self.len(),
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => self.insert(c),
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.remove_at(self.cursor);
            }
            KeyCode::Delete if self.cursor < self.len() => self.remove_at(self.cursor),
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.len()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.len(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    fn remove_at(&mut self, chars: usize) {
        let at = self.byte_at(chars);
        if at < self.text.len() {
            self.text.remove(at);
        }
    }

    fn delete_to_start(&mut self) {
        let at = self.byte_at(self.cursor);
        self.text.replace_range(..at, "");
        self.cursor = 0;
    }

    fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && chars[start - 1] != ' ' {
            start -= 1;
        }
        let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(from..to, "");
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
    fn control_keys_are_not_text() {
        let mut e = LineEdit::default();
        assert!(!e.handle_key(&KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)));
        assert!(!e.handle_key(&key(KeyCode::Enter)));
        assert!(e.is_empty());
    }
}
