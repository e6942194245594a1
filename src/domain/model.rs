//! Users, connections and what the store knows about their tokens.
//!
//! A [`Connection`] carries everything needed to derive its state and draw its
//! row *without* any secret: expiries, scopes, flags. The secrets themselves
//! live apart in [`Secrets`], loaded only when an operation or the detail pane
//! needs them, so listing 100 000 connections never decrypts a token.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::filter::FilterTerms;
use super::scopes::Scopes;
use super::secret::Secret;
use super::time::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(pub i64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    #[serde(with = "super::time::rfc3339")]
    pub created_at: UnixTime,
}

impl User {
    /// Whether the users view's filter (and `users list FILTER`) keeps this
    /// user: by whether their name or email holds its text.
    pub fn kept_by(&self, terms: &FilterTerms) -> bool {
        terms.keeps(self.matches(&terms.needle))
    }

    /// Whether the name or email holds `needle`, already lower-cased.
    fn matches(&self, needle: &str) -> bool {
        let holds = |text: &str| match text.is_ascii() {
            // Names are mostly ASCII: no lowercased copy per user per keystroke.
            true => text
                .as_bytes()
                .windows(needle.len().max(1))
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes())),
            false => text.to_lowercase().contains(needle),
        };
        holds(&self.name) || self.email.as_deref().is_some_and(holds)
    }

    /// A name as users are kept: trimmed, 1 to 200 printable characters. The
    /// worker refuses any other, and the screen's forms say so before asking.
    pub fn check_name(name: &str) -> Result<&str, &'static str> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > 200 || name.chars().any(char::is_control) {
            return Err("a user name must be 1 to 200 printable characters");
        }
        if name.chars().any(super::text::is_invisible) {
            return Err(INVISIBLE_IN_NAME);
        }
        // "école" typed and "e\u{301}cole" pasted read alike and would be two
        // users: a letter and an accent that compose into one character
        // (NFC) are refused apart, as keyboards type them composed. Not
        // every name outside NFC: NFC splits a few letters (Devanagari's
        // with a nukta) that keyboards type whole. A name that starts with
        // an accent shows as a blank or as part of what stands before it.
        let leading_mark = name
            .chars()
            .next()
            .is_some_and(unicode_normalization::char::is_combining_mark);
        let composes = || {
            use unicode_normalization::UnicodeNormalization;
            name.nfc().count() < chars
        };
        if leading_mark || composes() {
            return Err(
                "a user name must hold each accented letter as one character (composed, NFC), \
                 not a letter and a separate accent: it would read as another name; type it \
                 again",
            );
        }
        // `login --user -dash` is read as options: no command could name
        // such a user, nor could the hints that name one.
        if name.starts_with('-') {
            return Err(
                "a user name must not start with '-': a command line reads it as an option",
            );
        }
        Ok(name)
    }

    /// An email as the users view shows and filters it: one `@` between a
    /// name and a domain with a dot, no spaces, at most 254 characters
    /// (RFC 5321's limit). Not a proof that it reaches anyone: a typo that
    /// drops the `@` or pastes two addresses is what it catches.
    pub fn check_email(email: &str) -> Result<&str, &'static str> {
        let email = email.trim();
        let (local, domain) = email.split_once('@').unwrap_or(("", ""));
        let fine = email.len() <= 254
            && !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || super::text::is_invisible(c));
        match fine {
            true => Ok(email),
            false => Err(
                "an email must read like name@example.com (one @, a domain with a dot, no spaces)",
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Dapi,
    #[serde(rename = "oauth2")]
    OAuth2,
    Oidc,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Dapi => "dapi",
            ProviderKind::OAuth2 => "oauth2",
            ProviderKind::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dapi" => Some(Self::Dapi),
            "oauth2" => Some(Self::OAuth2),
            "oidc" => Some(Self::Oidc),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How the connection's tokens were born; it decides how they are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// Dapi Connect: an access code exchanged once for a permanent token.
    DapiConnect,
    /// User consent in a browser; renewed with the refresh token.
    AuthorizationCode,
    /// App-level token; renewed by running the grant again.
    ClientCredentials,
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::DapiConnect => "dapi_connect",
            Grant::AuthorizationCode => "authorization_code",
            Grant::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dapi_connect" => Some(Self::DapiConnect),
            "authorization_code" => Some(Self::AuthorizationCode),
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// When the access token stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessExpiry {
    /// Dapi tokens: valid until delinked or the user changes bank credentials.
    Permanent,
    At(UnixTime),
}

impl AccessExpiry {
    pub fn at(self) -> Option<UnixTime> {
        match self {
            AccessExpiry::Permanent => None,
            AccessExpiry::At(t) => Some(t),
        }
    }
}

/// The non-secret facts about a connection's tokens: enough to derive its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lifetimes {
    pub code_expires_at: Option<UnixTime>,
    /// `None` while there is no access token at all.
    pub access: Option<AccessExpiry>,
    /// When the access token was received: expiry is relative to receipt, so a
    /// skewed local clock at issue time does not matter.
    pub access_received_at: Option<UnixTime>,
    pub has_refresh: bool,
    pub refresh_expires_at: Option<UnixTime>,
    /// The last refresh moved `refresh_expires_at` forward by about the time
    /// since the one before: the end is an idle timeout that each refresh
    /// renews (Keycloak's SSO Session Idle, 30 minutes by default), not the
    /// consent's end. False until a refresh has shown it, and once the
    /// provider stops moving the end (its session's maximum reached).
    pub refresh_slides: bool,
}

impl Lifetimes {
    /// Whole lifetime of the current access token, for gauges and the
    /// scheduler's "10 % of the lifetime" margin.
    pub fn access_lifetime_secs(&self) -> Option<i64> {
        let at = self.access?.at()?;
        Some(at.0 - self.access_received_at?.0)
    }

    /// Whole lifetime of the refresh token as last granted, for the
    /// scheduler's margin before a sliding end.
    pub fn refresh_lifetime_secs(&self) -> Option<i64> {
        Some(self.refresh_expires_at?.0 - self.access_received_at?.0)
    }

    /// The end of a refresh token that a refresh moves on: the time to
    /// refresh by, so the consent does not lapse for want of use.
    pub fn sliding_refresh_end(&self) -> Option<UnixTime> {
        self.refresh_expires_at
            .filter(|_| self.has_refresh && self.refresh_slides)
    }
}

/// Facts the operator or a provider established; they outrank token expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Flags {
    /// Refresh was rejected (`invalid_grant`): only a new consent helps.
    pub reauth_required: bool,
    pub logged_out_at: Option<UnixTime>,
    pub delinked_at: Option<UnixTime>,
    /// The operator's message from the last failed operation, if the last
    /// operation failed. Never contains a secret.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Link,
    Exchange,
    Refresh,
    Logout,
    Delink,
    ClientCredentials,
    Login,
    AddUser,
    /// A user with no connection removed (`bankdeck users remove`).
    RemoveUser,
    Reveal,
    /// A row's recorded expiry set by hand, never by a provider: the demo
    /// sets two to show "expiring" and "expired" at once, and says so.
    Adjust,
    /// The audit log's oldest lines moved to a file (`bankdeck audit archive`).
    ArchiveAudit,
    /// A provider's asked wait set aside by an operator (`bankdeck waits
    /// lift`, the screen's `lift_wait`).
    LiftWait,
    /// An operation a newer bankdeck recorded in the same store, by its
    /// name: shown and filtered like the others, never performed. Reading it
    /// as damage would stop an older binary (a cron job not yet upgraded,
    /// say) at the first line or row a newer one wrote.
    Unknown(OpName),
}

impl OpKind {
    pub fn as_str(&self) -> &str {
        match self {
            OpKind::Link => "link",
            OpKind::Exchange => "exchange",
            OpKind::Refresh => "refresh",
            OpKind::Logout => "logout",
            OpKind::Delink => "delink",
            OpKind::ClientCredentials => "client_credentials",
            OpKind::Login => "login",
            OpKind::AddUser => "add_user",
            OpKind::RemoveUser => "remove_user",
            OpKind::Reveal => "reveal",
            OpKind::Adjust => "adjust",
            OpKind::ArchiveAudit => "archive_audit",
            OpKind::LiftWait => "lift_wait",
            OpKind::Unknown(name) => name.as_str(),
        }
    }

    /// An operation as the store recorded it: one this bankdeck knows, or
    /// one a newer bankdeck added. `None` for what no bankdeck writes.
    pub fn recorded(s: &str) -> Option<Self> {
        Self::parse(s).or_else(|| OpName::new(s).map(OpKind::Unknown))
    }

    /// Every operation this bankdeck performs or records itself.
    pub const KNOWN: [OpKind; 13] = [
        OpKind::Link,
        OpKind::Exchange,
        OpKind::Refresh,
        OpKind::Logout,
        OpKind::Delink,
        OpKind::ClientCredentials,
        OpKind::Login,
        OpKind::AddUser,
        OpKind::RemoveUser,
        OpKind::Reveal,
        OpKind::Adjust,
        OpKind::ArchiveAudit,
        OpKind::LiftWait,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for OpKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OpKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        OpKind::recorded(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("not an operation: {name:?}")))
    }
}

/// The name of an operation this bankdeck does not know, held inline so
/// that [`OpKind`] stays `Copy`. Only names of the shape bankdeck gives its
/// operations (`[a-z0-9_]`, at most [`OpName::MAX`] bytes) are taken: it is
/// printed to terminals, and anything else is not a name a bankdeck wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpName {
    len: u8,
    bytes: [u8; OpName::MAX],
}

impl OpName {
    pub const MAX: usize = 32;

    pub fn new(name: &str) -> Option<OpName> {
        let shaped = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_';
        if name.is_empty() || name.len() > Self::MAX || !name.bytes().all(|b| shaped(&b)) {
            return None;
        }
        let mut bytes = [0; Self::MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(OpName {
            len: name.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // `new` takes ASCII only, so this is never the default.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastOp {
    pub op: OpKind,
    pub at: UnixTime,
    pub ok: bool,
}

/// Identifiers the provider gave the connection. Not secret: Dapi's docs and
/// support tickets quote them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteIds {
    /// Dapi `connectionID`.
    pub connection_id: Option<String>,
    /// Dapi `userID`, or the OIDC `sub`.
    pub user_id: Option<String>,
    /// Dapi `tokenID`.
    pub token_id: Option<String>,
    /// OIDC `session_state` / `sid`.
    pub session: Option<String>,
}

impl RemoteIds {
    /// Each id held, by the name the provider gives it. Dapi's session is
    /// its `tokenID`: said once.
    pub fn labelled(&self) -> Vec<(&'static str, &str)> {
        let session = (self.session.as_ref()).filter(|s| Some(*s) != self.token_id.as_ref());
        [
            ("connectionID", self.connection_id.as_ref()),
            ("userID", self.user_id.as_ref()),
            ("tokenID", self.token_id.as_ref()),
            ("session", session),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.as_str())))
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub user_id: UserId,
    /// The user's name, joined in by the store for display and filtering.
    pub user: String,
    /// The `[providers.<name>]` this connection belongs to.
    pub provider: String,
    pub kind: ProviderKind,
    pub grant: Grant,
    /// Bank name or free label.
    pub label: String,
    pub remote: RemoteIds,
    pub lifetimes: Lifetimes,
    pub scopes: Scopes,
    pub flags: Flags,
    pub last_op: Option<LastOp>,
    pub created_at: UnixTime,
    /// Bumped by every write; a writer that read an older version lost a race
    /// (to another task or another process) and must re-read.
    pub version: i64,
}

impl Connection {
    /// `alice / Emirates NBD`: how the screen and the CLI name a connection
    /// to an operator, whom to call and at which bank.
    pub fn name(&self) -> String {
        format!("{} / {}", self.user, self.label)
    }

    /// A label as connections keep it: trimmed, at most 200 printable
    /// characters (empty: the provider's name stands in). Every table and
    /// listing shows it, where a control character would reach the
    /// terminal. The worker refuses any other; the add form says so first.
    pub fn check_label(label: &str) -> Result<&str, &'static str> {
        let label = label.trim();
        if label.chars().count() > 200 || label.chars().any(char::is_control) {
            return Err("a label must be at most 200 printable characters");
        }
        if label.chars().any(super::text::is_invisible) {
            return Err(
                "a label must not hold characters that cannot be seen (a zero-width space, a \
                 bidirectional override)",
            );
        }
        Ok(label)
    }

    /// Whether a new access token can be had without the end user: with the
    /// refresh token held, or by running the client-credentials grant again.
    pub fn renewable(&self) -> bool {
        self.grant == Grant::ClientCredentials || self.lifetimes.has_refresh
    }

    /// Whether a new `grant` at `provider` renews this row rather than
    /// standing beside it: a user holds one app token (client credentials)
    /// at a provider while it is not logged out, and one browser-login row
    /// per account the provider names (`subject`). A delinked row is history.
    pub fn renewed_by(&self, provider: &str, grant: Grant, subject: Option<&str>) -> bool {
        self.provider == provider
            && self.grant == grant
            && self.flags.delinked_at.is_none()
            && match grant {
                Grant::ClientCredentials => self.flags.logged_out_at.is_none(),
                Grant::AuthorizationCode => {
                    subject.is_some_and(|s| self.remote.user_id.as_deref() == Some(s))
                }
                Grant::DapiConnect => false,
            }
    }
}

#[cfg(test)]
impl Connection {
    /// A connection of `amira`'s labelled ENBD, created at 1 700 000 000, with
    /// no token, scope or flag yet: tests set what they look at.
    pub(crate) fn sample(id: i64, provider: &str, kind: ProviderKind, grant: Grant) -> Self {
        Connection {
            id: ConnectionId(id),
            user_id: UserId(1),
            user: "amira".into(),
            provider: provider.into(),
            kind,
            grant,
            label: "ENBD".into(),
            remote: RemoteIds::default(),
            lifetimes: Lifetimes::default(),
            scopes: Scopes::default(),
            flags: Flags::default(),
            last_op: None,
            created_at: UnixTime(1_700_000_000),
            version: 1,
        }
    }
}

/// The secret half of a connection. Absent fields are simply not held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub access_code: Option<Secret>,
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub user_secret: Option<Secret>,
}

impl Secrets {
    /// Every secret held, for canary searches and erasure checks.
    pub fn all(&self) -> impl Iterator<Item = &Secret> {
        [
            &self.access_code,
            &self.access_token,
            &self.refresh_token,
            &self.id_token,
            &self.user_secret,
        ]
        .into_iter()
        .flatten()
    }

    /// Whether no secret is held (a delink erases them all).
    pub fn none_held(&self) -> bool {
        self.all().next().is_none()
    }
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "super::time::rfc3339")]
    pub at: UnixTime,
    /// The OS user who ran bankdeck (or `scheduler` for automatic refreshes).
    pub actor: String,
    pub connection: Option<ConnectionId>,
    pub op: OpKind,
    pub ok: bool,
    /// What happened, for a human. Never contains a secret.
    pub message: String,
}

#[cfg(test)]
mod user_tests {
    use super::User;

    #[test]
    fn an_email_must_read_like_one() {
        for good in ["a@example.com", " amira.haddad+ops@bank.co.ae ", "x@y.z"] {
            assert_eq!(User::check_email(good), Ok(good.trim()), "{good}");
        }
        for bad in [
            "notanemail",
            "@example.com",
            "a@example",
            "a@.com",
            "a@example.",
            "a@b@example.com",
            "a b@example.com",
            "a@example.com, b@example.com",
            "ok@ex\u{202e}ample.com",
            "",
        ] {
            assert!(User::check_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(User::check_email(&long).is_err());
    }

    /// A name that reads as another, or as an option on a command line, is
    /// refused with why; so is a label that reads as another.
    #[test]
    fn a_name_or_label_that_reads_as_another_is_refused() {
        use super::Connection;
        for (name, says) in [
            ("bob\u{200b}", "cannot be seen"),
            ("adm\u{202e}nim", "cannot be seen"),
            ("-dash", "must not start with '-'"),
            // Each reads as another name, or as none.
            ("tag\u{e0041}", "cannot be seen"),
            ("vs\u{fe0e}", "cannot be seen"),
            ("\u{2800}", "cannot be seen"),
            ("\u{3164}", "cannot be seen"),
            ("e\u{301}cole", "composed, NFC"),
            ("\u{301}", "composed, NFC"),
            ("\u{301}ab", "composed, NFC"),
        ] {
            let refused = User::check_name(name).unwrap_err();
            assert!(refused.contains(says), "{name:?}: {refused}");
        }
        assert_eq!(User::check_name(" zoë-a "), Ok("zoë-a"));
        // Written as keyboards type them, names in every script are kept,
        // Devanagari's nukta letters among them, which NFC would split.
        for name in [
            "école",
            "प्रिया शर्मा",
            "ராஜேஷ்",
            "\u{0958}मल",
            "山田 太郎",
            "محمد",
        ] {
            assert_eq!(User::check_name(name), Ok(name), "{name}");
        }
        // The limit counts characters, not bytes.
        let cjk = "字".repeat(200);
        assert_eq!(User::check_name(&cjk), Ok(cjk.as_str()));
        assert!(User::check_name(&"字".repeat(201)).is_err());
        assert!(Connection::check_label("EN\u{2066}BD").is_err());
        assert_eq!(Connection::check_label("Emirates NBD"), Ok("Emirates NBD"));
    }
}

#[cfg(test)]
mod op_tests {
    use super::{OpKind, OpName};

    #[test]
    fn a_recorded_operation_is_one_this_bankdeck_knows_or_a_newer_ones_name() {
        assert_eq!(OpKind::recorded("refresh"), Some(OpKind::Refresh));
        assert_eq!(OpKind::parse("re_consent"), None, "never performed");
        let newer = OpKind::recorded("re_consent").unwrap();
        assert_eq!(
            (newer.as_str(), newer.to_string()),
            ("re_consent", "re_consent".into())
        );
        assert!(matches!(newer, OpKind::Unknown(_)));
        let longest = "x".repeat(OpName::MAX);
        assert_eq!(OpKind::recorded(&longest).unwrap().as_str(), longest);
        // What no bankdeck writes, and what would reach a terminal as is.
        for bad in [
            "",
            "Refresh",
            "re-consent",
            "a b",
            "op\x1b[2J",
            "é",
            &"x".repeat(OpName::MAX + 1),
        ] {
            assert_eq!(OpKind::recorded(bad), None, "{bad:?}");
        }
    }

    /// `KNOWN` is what `parse` reads and `audit --op` offers. This match has
    /// no wildcard, so an operation added to `OpKind` stops it building
    /// until it is named here: name it in `KNOWN` too.
    #[test]
    fn every_operation_is_known_by_its_name() {
        let performed_or_recorded = |op: OpKind| match op {
            OpKind::Link
            | OpKind::Exchange
            | OpKind::Refresh
            | OpKind::Logout
            | OpKind::Delink
            | OpKind::ClientCredentials
            | OpKind::Login
            | OpKind::AddUser
            | OpKind::RemoveUser
            | OpKind::Reveal
            | OpKind::Adjust
            | OpKind::ArchiveAudit
            | OpKind::LiftWait => true,
            OpKind::Unknown(_) => false,
        };
        assert!(OpKind::KNOWN.into_iter().all(performed_or_recorded));
        let mut names: Vec<&str> = OpKind::KNOWN.iter().map(OpKind::as_str).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OpKind::KNOWN.len(), "each once");
        for op in OpKind::KNOWN {
            assert_eq!(OpKind::parse(op.as_str()), Some(op));
        }
    }

    #[test]
    fn an_operation_is_its_name_in_json() {
        for op in [
            OpKind::ClientCredentials,
            OpKind::recorded("re_consent").unwrap(),
        ] {
            let json = serde_json::to_string(&op).unwrap();
            assert_eq!(json, format!("\"{}\"", op.as_str()));
            assert_eq!(serde_json::from_str::<OpKind>(&json).unwrap(), op);
        }
        let err = serde_json::from_str::<OpKind>("\"Not An Op\"").unwrap_err();
        assert!(
            err.to_string().contains("not an operation: \"Not An Op\""),
            "{err}"
        );
    }
}

/// Why a user name with a character that cannot be seen is refused.
const INVISIBLE_IN_NAME: &str = "a user name must not hold characters that cannot be seen (a \
                                 zero-width space, a bidirectional override): it would read as \
                                 another name";
