//! The state of the dialogs and forms that sit over the table.
//!
//! A [`Mode`] is the one thing that decides where a key goes: to the table's
//! actions, to a text field, or to a dialog's yes/no. Keeping it one enum
//! makes "typing in a field never fires an action" a matter of matching.

use crate::domain::{ConnectPayload, ConnectionId, Ending, OpKind, ProviderKind, UnixTime};
use crate::worker::RequestId;

use super::line_edit::LineEdit;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Typing the filter; Enter keeps it, Esc clears it.
    Filter,
    /// Typing an action's name after `:`; Enter runs it, Esc drops it.
    Command(LineEdit),
    Help {
        scroll: u16,
    },
    /// Logout asks y/N; No is the default.
    ConfirmLogout {
        conn: ConnectionId,
        what: String,
        /// An app token (client credentials): its access token is revoked,
        /// as it has no refresh token.
        app_token: bool,
    },
    /// Delink asks for the user's name typed exactly.
    ConfirmDelink(DelinkDialog),
    /// Quit while operations are in flight; the dialog counts them as
    /// they end.
    ConfirmQuit,
    Add(AddForm),
    ClientCreds(CredsForm),
    /// A browser login is waiting; the URL is shown to be copied, and `x`
    /// cancels request `id`.
    LoginUrl {
        id: RequestId,
        url: String,
    },
}

impl Mode {
    /// Whether keys go to a text field, where no action may fire.
    pub fn is_typing(&self) -> bool {
        matches!(
            self,
            Mode::Filter
                | Mode::Command(_)
                | Mode::ConfirmDelink(_)
                | Mode::Add(_)
                | Mode::ClientCreds(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelinkDialog {
    /// The rows it ends and how: one Dapi row for `D` in the table; every
    /// connection of the user for `D` in the users view (a user leaving);
    /// the marked rows for `l` or `D` while rows are marked.
    pub plan: Vec<(ConnectionId, Ending)>,
    /// What must be typed: the user's name, or the marked rows' count.
    pub user: String,
    pub what: String,
    pub ends: Ends,
    /// No token was ever issued: the row is closed here, nothing is sent.
    pub unissued: bool,
    pub typed: LineEdit,
    /// Said when Enter was pressed with the wrong name.
    pub error: Option<String>,
}

/// What a [`DelinkDialog`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// `D` on a row of the table: that Dapi row.
    Row,
    /// `D` in the users view: every connection of the user.
    User,
    /// `l` or `D` while rows are marked: that operation on each of them.
    Marked(OpKind),
}

impl Ends {
    /// The dialog's verb, as its title, key bar and "cancelled" line say it.
    pub fn verb(self) -> &'static str {
        match self {
            Ends::Row | Ends::Marked(OpKind::Delink) => "delink",
            Ends::User => "disconnect",
            Ends::Marked(_) => "log out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddField {
    Provider,
    User,
    Label,
    Payload,
}

/// Add a connection: Dapi from a pasted Connect payload, OAuth/OIDC by a
/// browser login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddForm {
    pub providers: Vec<(String, ProviderKind)>,
    pub provider: usize,
    pub focus: AddField,
    pub user: LineEdit,
    pub label: LineEdit,
    /// The pasted payload. Never drawn as typed: it holds the access code and
    /// user secret; the form shows what parsing made of it, masked.
    pub payload: String,
    pub error: Option<String>,
}

impl AddForm {
    pub fn new(providers: Vec<(String, ProviderKind)>) -> Self {
        Self {
            providers,
            provider: 0,
            focus: AddField::Provider,
            user: LineEdit::default(),
            label: LineEdit::default(),
            payload: String::new(),
            error: None,
        }
    }

    pub fn kind(&self) -> Option<ProviderKind> {
        self.providers.get(self.provider).map(|(_, k)| *k)
    }

    pub fn provider_name(&self) -> &str {
        self.providers
            .get(self.provider)
            .map_or("", |(n, _)| n.as_str())
    }

    /// The fields the chosen provider's family asks for, in Tab order.
    pub fn fields(&self) -> &'static [AddField] {
        match self.kind() {
            Some(ProviderKind::Dapi) => &[
                AddField::Provider,
                AddField::User,
                AddField::Label,
                AddField::Payload,
            ],
            _ => &[AddField::Provider, AddField::User],
        }
    }

    pub fn parsed(&self) -> Option<Result<ConnectPayload, String>> {
        (!self.payload.trim().is_empty()).then(|| ConnectPayload::parse(&self.payload))
    }

    /// [`AddForm::parsed`], and refused if its code has expired by `now`
    /// by its own `exp`. (One with only an `iat` is judged by the worker,
    /// which knows the provider's code lifetime.)
    pub fn checked(&self, now: UnixTime) -> Option<Result<ConnectPayload, String>> {
        self.parsed()
            .map(|p| p.and_then(|p| p.check_fresh(now, None).map(|()| p)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredsField {
    Provider,
    User,
}

/// A client-credentials token: which provider, and which user it files under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredsForm {
    pub providers: Vec<String>,
    pub provider: usize,
    pub focus: CredsField,
    pub user: LineEdit,
    pub error: Option<String>,
}
