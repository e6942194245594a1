//! How each of a user's connections is ended when the user leaves (`users
//! disconnect`, the users view's `D`): the one rule both front ends follow.

use super::{Connection, Grant, OpKind, ProviderKind, UnixTime};

/// What ends a connection for good, or why nothing is to be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A Dapi link: delink ends it (closed here, without a call, when its
    /// code never became a token).
    Delink,
    /// A Dapi code still pending: Dapi's side of the link is ended by the
    /// token the code becomes, so its delink exchanges it first (the
    /// worker's, for every front end).
    ExchangeThenDelink,
    /// An OAuth or OIDC consent: logout revokes its refresh token.
    Logout,
    /// Nothing to do.
    Nothing(Untouched),
}

/// Why a connection needs no ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untouched {
    Delinked,
    LoggedOut,
    /// An app token (client credentials): the application's, not the user's.
    AppToken,
    /// No refresh token to revoke: the access token lapses by itself.
    Lapses,
}

impl Ending {
    pub fn of(c: &Connection, now: UnixTime) -> Ending {
        if c.flags.delinked_at.is_some() {
            return Ending::Nothing(Untouched::Delinked);
        }
        if c.kind == ProviderKind::Dapi {
            let pending = c.lifetimes.access.is_none()
                && c.lifetimes.code_expires_at.is_some_and(|t| now < t);
            return match pending {
                true => Ending::ExchangeThenDelink,
                false => Ending::Delink,
            };
        }
        if c.grant == Grant::ClientCredentials {
            return Ending::Nothing(Untouched::AppToken);
        }
        if c.flags.logged_out_at.is_some() {
            return Ending::Nothing(Untouched::LoggedOut);
        }
        match c.lifetimes.has_refresh {
            true => Ending::Logout,
            false => Ending::Nothing(Untouched::Lapses),
        }
    }

    /// Whether `c`'s ending asks the provider nothing: a Dapi code that
    /// never became a token (expired, refused) left Dapi nothing to end, so
    /// its row is closed here, without a call.
    pub fn sends_nothing(c: &Connection, now: UnixTime) -> bool {
        Ending::of(c, now) == Ending::Delink && c.lifetimes.access.is_none()
    }
}

impl Ending {
    /// The operation that ends it; none for `Nothing`.
    pub fn op(self) -> Option<OpKind> {
        match self {
            Ending::Delink | Ending::ExchangeThenDelink => Some(OpKind::Delink),
            Ending::Logout => Some(OpKind::Logout),
            Ending::Nothing(_) => None,
        }
    }

    /// What it did, for a line that reports it done.
    pub fn done(self) -> &'static str {
        match self {
            Ending::Delink => "delinked",
            Ending::ExchangeThenDelink => "exchanged, then delinked",
            Ending::Logout => "logged out",
            Ending::Nothing(_) => "left as it is",
        }
    }
}

impl Untouched {
    pub fn describe(self) -> &'static str {
        match self {
            Untouched::Delinked => "already delinked",
            Untouched::LoggedOut => "already logged out",
            Untouched::AppToken => {
                "an app token (client credentials), not the user's: left as it is"
            }
            Untouched::Lapses => "no refresh token to revoke: its access token lapses by itself",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessExpiry, Lifetimes};

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn conn(kind: ProviderKind, grant: Grant) -> Connection {
        Connection::sample(1, "p", kind, grant)
    }

    #[test]
    fn each_family_and_state_gets_its_ending() {
        let mut dapi = conn(ProviderKind::Dapi, Grant::DapiConnect);
        dapi.lifetimes = Lifetimes {
            code_expires_at: Some(NOW.plus_secs(60)),
            ..Lifetimes::default()
        };
        assert_eq!(Ending::of(&dapi, NOW), Ending::ExchangeThenDelink);
        assert_eq!(
            Ending::of(&dapi, NOW.plus_secs(61)),
            Ending::Delink,
            "expired: closed"
        );
        dapi.lifetimes.access = Some(AccessExpiry::Permanent);
        assert_eq!(Ending::of(&dapi, NOW), Ending::Delink);
        dapi.flags.delinked_at = Some(NOW);
        assert_eq!(Ending::of(&dapi, NOW), Ending::Nothing(Untouched::Delinked));

        let mut oidc = conn(ProviderKind::Oidc, Grant::AuthorizationCode);
        oidc.lifetimes.has_refresh = true;
        assert_eq!(Ending::of(&oidc, NOW), Ending::Logout);
        oidc.flags.reauth_required = true;
        assert_eq!(
            Ending::of(&oidc, NOW),
            Ending::Logout,
            "its refresh token may still live"
        );
        oidc.flags.logged_out_at = Some(NOW);
        assert_eq!(
            Ending::of(&oidc, NOW),
            Ending::Nothing(Untouched::LoggedOut)
        );
        let mut bank = conn(ProviderKind::OAuth2, Grant::AuthorizationCode);
        bank.lifetimes.has_refresh = false;
        assert_eq!(Ending::of(&bank, NOW), Ending::Nothing(Untouched::Lapses));
        bank.grant = Grant::ClientCredentials;
        assert_eq!(Ending::of(&bank, NOW), Ending::Nothing(Untouched::AppToken));
    }
}
