//! Counts in words, as the activity pane and dialogs say them.

/// `n` with its noun in the number it takes: "1 row", "0 rows", "2 rows".
pub(crate) fn counted(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(counted(1, "user", "users"), "1 user");
        assert_eq!(counted(0, "user", "users"), "0 users");
        assert_eq!(counted(2, "user added", "users added"), "2 users added");
    }
}
