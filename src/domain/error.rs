//! The error that crosses from the worker to the front ends.
//!
//! Small, `Clone`, and explainable: the kind decides what happens next
//! (retry, re-consent, fix the config), the message is what the operator reads,
//! with the provider's own words (`msg`, `error_description`) kept. Messages
//! are built from provider text and our own words, never from a secret.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Refused, DNS, no route: the request never arrived. Tokens are kept.
    Network,
    /// The connection broke after the request went out (reset, closed
    /// early): the provider may have acted on it. Tokens are kept.
    Lost,
    /// The deadline fired. Tokens are kept.
    Timeout,
    /// 429 or 503; `retry_after` says when to try again if the server said.
    RateLimited,
    /// 5xx other than 503.
    Server,
    /// The answer was not what the protocol promises (HTML, missing fields, too large).
    Protocol,
    /// `invalid_grant` on refresh: the user must consent again.
    ReauthRequired,
    /// A Dapi access code that is unknown, used or expired: link again.
    CodeInvalid,
    /// The provider no longer accepts the access token (delinked elsewhere,
    /// credentials changed).
    TokenInvalid,
    /// `invalid_client`, `invalid_scope`, `unauthorized_client`, a missing
    /// secret: retrying cannot help until the configuration is fixed.
    Config,
    /// The end user refused consent in the browser.
    Denied,
    /// Any other failure the provider reported, with its message.
    Provider,
    /// The operator or shutdown cancelled it.
    Cancelled,
    /// The local store failed; nothing was reported as done.
    Store,
    /// A bug in bankdeck (a panic caught in a background task); the log has
    /// the details, the tokens are as they were before the operation.
    Internal,
    /// Refused locally: read-only mode, or the operation does not apply to
    /// the connection's state or family.
    NotAllowed,
    /// Not sent: the provider answered an earlier request with 429 or 503
    /// and the wait it asked for has not passed. Nothing was spent.
    Held,
    /// The connection was ended (logged out or delinked) before this
    /// operation's turn, here or by another process: nothing was sent. What
    /// a bulk or a disconnect meant to do is done or moot, not failed.
    Ended,
}

impl ErrorKind {
    /// Whether trying the same thing again later can succeed without a human.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Network
                | ErrorKind::Lost
                | ErrorKind::Timeout
                | ErrorKind::RateLimited
                | ErrorKind::Server
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpError {
    pub kind: ErrorKind,
    pub message: String,
    /// Seconds the server asked us to wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Whether the request may have reached the provider and been acted on
    /// though no answer came: a rotated refresh token or a spent code may
    /// be in the lost answer.
    pub fn may_have_acted(&self) -> bool {
        matches!(self.kind, ErrorKind::Lost | ErrorKind::Timeout)
    }

    /// Whether this failure of `op` is the row logged out or delinked by
    /// another process meanwhile, which is no failure when `op` was to end
    /// the row, or when it was not asked of this row alone (a bulk's or the
    /// scheduler's refresh): nothing was left for it to do. A refresh asked
    /// of the row itself fails: its token can no longer be renewed.
    pub fn ended_meanwhile(&self, op: super::OpKind, asked_of_the_row: bool) -> bool {
        self.kind == ErrorKind::Ended
            && (matches!(op, super::OpKind::Logout | super::OpKind::Delink) || !asked_of_the_row)
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotAllowed, message)
    }

    pub fn store(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Store, message)
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpError {}
