//! How every filter reads what was typed: the dashboard's and the users
//! view's `/`, and the commands that take the same text.

/// A filter as typed, as every `/` filter and the commands that share one
/// read it: trimmed, lower-cased, and with a leading `!` keeping what does
/// not hold the rest (`!delinked`), as k9s's filter does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTerms {
    pub invert: bool,
    pub needle: String,
}

impl FilterTerms {
    /// `None` for a filter that keeps everything, a lone `!` too: a filter
    /// on its way to `!delinked` hides nothing yet.
    pub fn parse(filter: &str) -> Option<FilterTerms> {
        let filter = filter.trim();
        let (invert, rest) = match filter.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, filter),
        };
        (!rest.is_empty()).then(|| FilterTerms {
            invert,
            needle: rest.to_lowercase(),
        })
    }

    /// Whether a row whose words do (or do not) hold the needle is kept.
    pub fn keeps(&self, holds: bool) -> bool {
        holds != self.invert
    }
}

/// The filter as it reads, however it was typed: `!delinked` for
/// `" ! Delinked"`, so that one filter is one name.
impl std::fmt::Display for FilterTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bang = if self.invert { "!" } else { "" };
        write!(f, "{bang}{}", self.needle)
    }
}

#[cfg(test)]
mod tests {
    use super::FilterTerms;

    #[test]
    fn a_leading_exclamation_mark_inverts_and_a_lone_one_keeps_everything() {
        let terms = |invert, needle: &str| {
            Some(FilterTerms {
                invert,
                needle: needle.into(),
            })
        };
        assert_eq!(
            FilterTerms::parse("  Re-Consent "),
            terms(false, "re-consent")
        );
        assert_eq!(FilterTerms::parse("! RAV"), terms(true, "rav"));
        assert_eq!(FilterTerms::parse("!!x"), terms(true, "!x"));
        assert_eq!(FilterTerms::parse("a!b"), terms(false, "a!b"));
        for everything in ["", "  ", "!", " ! "] {
            assert_eq!(FilterTerms::parse(everything), None, "{everything:?}");
        }
        assert_eq!(
            FilterTerms::parse(" ! Delinked").unwrap().to_string(),
            "!delinked"
        );
        let not_bank = FilterTerms::parse("!bank").unwrap();
        assert!(not_bank.keeps(false) && !not_bank.keeps(true));
    }
}
