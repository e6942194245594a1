//! Text in terminal columns: what a table cell can hold.
//!
//! Counted in columns, not chars: a CJK name or an emoji takes two, and
//! counted as chars it would push every column after it out of line.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// `n` with its noun in the number it takes: "1 row", "0 rows", "2 rows".
pub fn counted<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    match n == N::from(1) {
        true => format!("1 {one}"),
        false => format!("{n} {many}"),
    }
}

/// The counts of `parts` that are not zero, each after a comma, as a
/// summary's tail: ", 1 failed, 2 ended meanwhile"; empty when all are.
pub fn nonzero_counts(parts: &[(usize, &str)]) -> String {
    let mut tail = String::new();
    for (n, what) in parts {
        if *n > 0 {
            tail.push_str(&format!(", {n} {what}"));
        }
    }
    tail
}

/// Whether `c` changes how the text around it reads without being seen
/// itself, or is seen as blank: a bidirectional override or isolate, a
/// zero-width space or joiner, a soft hyphen, a byte-order mark, a
/// variation selector, a tag character, a filler (Hangul's, the blank
/// Braille cell). In a name, "bob\u{200b}" and "tag\u{e0041}" read as
/// "bob" and "tag", "adm\u{202e}nim" as another word, and "\u{3164}" as
/// no name at all.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{e0100}'..='\u{e01ef}'
    )
}

/// `s` without control characters or invisible ones ([`is_invisible`]):
/// what may leave for a clipboard from a provider's ids.
pub fn visible(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect()
}

/// How many terminal columns `s` takes.
pub fn columns(s: &str) -> usize {
    match s.is_ascii() {
        // Names are mostly ASCII: no per-char lookup for them.
        true => s.len(),
        false => s.width(),
    }
}

/// `s` cut to `width` columns and padded to them.
pub fn fit(s: &str, width: usize) -> String {
    let mut t = cut(s, width);
    let pad = width.saturating_sub(t.width());
    t.extend(std::iter::repeat_n(' ', pad));
    t
}

/// `s` in at most `width` terminal columns, an ellipsis marking the cut.
pub fn cut(s: &str, width: usize) -> String {
    if columns(s) <= width {
        return s.to_string();
    }
    cut_past(s, width)
}

/// [`cut`] for text already owned, kept as it is when it fits: a table
/// cell built for the frame is not copied again.
pub fn cut_owned(s: String, width: usize) -> String {
    match columns(&s) <= width {
        true => s,
        false => cut_past(&s, width),
    }
}

fn cut_past(s: &str, width: usize) -> String {
    let room = width.saturating_sub(1);
    let mut used = 0;
    let mut t: String = s
        .chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= room
        })
        .collect();
    t.push('…');
    t
}

#[cfg(test)]
mod counted_tests {
    use super::counted;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(counted(1, "user", "users"), "1 user");
        assert_eq!(counted(0, "user", "users"), "0 users");
        assert_eq!(counted(2, "user added", "users added"), "2 users added");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonzero_counts_leaves_out_the_zeros_and_keeps_the_order() {
        let parts = [(1, "failed"), (0, "left out"), (2, "ended meanwhile")];
        assert_eq!(nonzero_counts(&parts), ", 1 failed, 2 ended meanwhile");
        assert_eq!(nonzero_counts(&[(0, "failed")]), "");
    }

    #[test]
    fn visible_drops_control_and_invisible_characters_only() {
        assert_eq!(
            visible("sub\u{1b}]0;X\u{7}\nbob\u{200b} adm\u{202e}nim é"),
            "sub]0;Xbob admnim é"
        );
    }

    #[test]
    fn wide_names_are_cut_and_padded_by_columns_not_chars() {
        assert_eq!(fit("ann", 6), "ann   ");
        // Four chars, eight columns.
        assert_eq!(fit("山田太郎", 10), "山田太郎  ");
        assert_eq!(fit("山田太郎", 6).width(), 6);
        assert_eq!(cut("山田太郎", 6), "山田…");
        assert_eq!(cut("abcdefgh", 5), "abcd…");
        assert_eq!(cut("abcde", 5), "abcde");
        assert_eq!(cut_owned("abcdefgh".into(), 5), "abcd…");
        assert_eq!(cut_owned("山田太郎".into(), 8), "山田太郎");
        for name in ["山田 太郎", "Zoë 👩\u{200d}💻 Łukasz", "a\u{301}bc", "x"] {
            for columns in 1..12 {
                assert_eq!(fit(name, columns).width(), columns, "{name:?} in {columns}");
            }
        }
    }
}
