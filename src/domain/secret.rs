//! A string that must never be printed: tokens, access codes, user and app secrets.
//!
//! `Debug` and `Display` print `[redacted]` so a secret that slips into a log
//! line, an error or a panic message shows nothing. The bytes are zeroed on drop.
//! The only ways to see the value are [`Secret::expose`] (for the wire and the
//! store) and [`Secret::masked`] (for the screen).

use serde::{Deserialize, Deserializer};
use std::fmt;
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The plain value, for the request that needs it or the cipher that seals it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `eyJhbG…R0M`: enough to tell two tokens apart, too little to use one.
    /// Short values show no characters at all, since six of eight would leak it.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 16 {
            return "•".repeat(chars.len().clamp(3, 8));
        }
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[chars.len() - 3..].iter().collect();
        format!("{head}…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("eyJhbGciOiJIUzI1NiJ9.payload.sigR0M");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
    }

    #[test]
    fn masked_keeps_head_and_tail_of_long_values_only() {
        let s = Secret::new("eyJhbGciOiJIUzI1NiJ9.payload.sigR0M");
        assert_eq!(s.masked(), "eyJhbG…R0M");
        assert_eq!(Secret::new("short-secret").masked(), "••••••••");
        assert_eq!(Secret::new("").masked(), "•••");
    }
}
