//! When a connection's derived state can next change by itself, with nobody
//! writing: the first instant after `now` that `ConnState::derive` compares
//! the clock with.
//!
//! The screen counts 100 000 connections by state every second. Knowing each
//! row's next such instant lets it re-derive only the rows whose instant has
//! come, instead of all of them. The answer may be early (an instant where
//! nothing turns out to change, which only costs a re-derive) but never late:
//! `derive` returns the same state at every instant in `[now, next)`.

use super::model::{AccessExpiry, Connection};
use super::time::UnixTime;

/// The first instant after `now` at which `ConnState::derive(c, _, warn_secs)`
/// may differ from its value at `now`; `None` when it never will.
pub fn next_change(c: &Connection, now: UnixTime, warn_secs: i64) -> Option<UnixTime> {
    let f = &c.flags;
    // This wins over every expiry in `derive`, and no clock moves it.
    if f.delinked_at.is_some() {
        return None;
    }
    let l = &c.lifetimes;
    let access = l.access.and_then(AccessExpiry::at);
    // These two read only whether the access token is still valid.
    if f.reauth_required || f.logged_out_at.is_some() {
        return access.filter(|t| *t > now);
    }
    // Every instant `derive` compares `now` with: the code's expiry, the
    // token's expiry, the start of its warning window, and the refresh
    // token's expiry (which decides "refreshable").
    [
        l.code_expires_at,
        access,
        access.map(|t| UnixTime(t.0.saturating_sub(warn_secs))),
        l.refresh_expires_at,
    ]
    .into_iter()
    .flatten()
    .filter(|t| *t > now)
    .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::*;
    use crate::domain::state::ConnState;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn conn() -> Connection {
        Connection::sample(1, "bank", ProviderKind::OAuth2, Grant::AuthorizationCode)
    }

    /// Every combination of flags and instants a few seconds around `NOW`,
    /// so each comparison in `derive` is crossed in both directions.
    fn variety() -> Vec<Connection> {
        let at = |d: i64| Some(NOW.plus_secs(d));
        let instants = [None, at(-3), at(0), at(2), at(5)];
        let mut out = Vec::new();
        for code in instants {
            for access in [
                None,
                Some(AccessExpiry::Permanent),
                Some(AccessExpiry::At(NOW.plus_secs(1))),
                Some(AccessExpiry::At(NOW.plus_secs(6))),
            ] {
                for refresh in instants {
                    for flags in 0..6 {
                        for grant in [
                            Grant::AuthorizationCode,
                            Grant::DapiConnect,
                            Grant::ClientCredentials,
                        ] {
                            let mut c = conn();
                            c.grant = grant;
                            c.lifetimes.code_expires_at = code;
                            c.lifetimes.access = access;
                            c.lifetimes.has_refresh = refresh.is_some() || flags == 5;
                            c.lifetimes.refresh_expires_at = refresh;
                            match flags {
                                1 => c.flags.last_error = Some("timed out".into()),
                                2 => c.flags.logged_out_at = at(-10),
                                3 => c.flags.reauth_required = true,
                                4 => c.flags.delinked_at = at(-10),
                                _ => {}
                            }
                            out.push(c);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_state_holds_until_the_next_change_and_moves_there() {
        let mut moved = 0;
        for warn in [0, 3] {
            for c in variety() {
                for start in -5..8 {
                    let now = NOW.plus_secs(start);
                    let here = ConnState::derive(&c, now, warn);
                    let next = next_change(&c, now, warn);
                    let end = next.map_or(now.plus_secs(20), |t| t);
                    assert!(end > now, "{c:?} at {now:?}: {next:?} is not ahead");
                    let mut s = now;
                    while s < end {
                        assert_eq!(
                            ConnState::derive(&c, s, warn),
                            here,
                            "{c:?}: changed at {s:?}, before {next:?} (from {now:?}, warn {warn})"
                        );
                        s = s.plus_secs(1);
                    }
                    if next.is_some_and(|t| ConnState::derive(&c, t, warn) != here) {
                        moved += 1;
                    }
                }
            }
        }
        assert!(moved > 1000, "the sweep crossed too few changes: {moved}");
    }
}
