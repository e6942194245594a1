//! Connections in every state, built by hand around a fixed `NOW`, and
//! helpers to drive `App::update` like a keyboard would.

#![allow(dead_code)]

use bankdeck::domain::{
    AccessExpiry, AuditEntry, Connection, ConnectionId, Flags, Grant, LastOp, Lifetimes, OpKind,
    ProviderKind, RemoteIds, Scopes, Secret, Secrets, UnixTime, User, UserId,
};
use bankdeck::tui::{App, DelinkDialog, Mode, Msg, RunOptions};
use bankdeck::worker::scheduler::Schedule;
use bankdeck::worker::{Command, Detail, Event, RequestId};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

/// 2023-11-14T22:13:20Z.
pub const NOW: UnixTime = UnixTime(1_700_000_000);
pub const WARN: i64 = 60;

fn at(secs: i64) -> UnixTime {
    NOW.plus_secs(secs)
}

fn base(id: i64, user: &str, label: &str, provider: &str, kind: ProviderKind) -> Connection {
    let grant = match kind {
        ProviderKind::Dapi => Grant::DapiConnect,
        _ => Grant::AuthorizationCode,
    };
    Connection {
        id: ConnectionId(id),
        user_id: UserId(id),
        user: user.into(),
        provider: provider.into(),
        kind,
        grant,
        label: label.into(),
        remote: RemoteIds::default(),
        lifetimes: Lifetimes::default(),
        scopes: Scopes::default(),
        flags: Flags::default(),
        last_op: None,
        created_at: at(-3600),
        version: 1,
    }
}

fn dapi(id: i64, user: &str, label: &str) -> Connection {
    let mut c = base(id, user, label, "dapi-sandbox", ProviderKind::Dapi);
    // As long as Dapi's own: a 40-character connectionID, a 48-character
    // userID and a UUID tokenID.
    c.remote.connection_id = Some(format!("e9271a7adc39a5afe3b0982732c92fddaa20d{id:03}"));
    c.remote.user_id = Some(format!(
        "user-iYzutZvO5lZSbJoYontLA2FuZm48ILZfcEd4NkDv{id:03}"
    ));
    c.remote.token_id = Some(format!("32896801-0342-4331-9d22-1ac3dac4b{id:03}"));
    c
}

fn oidc(id: i64, user: &str, access_in: i64) -> Connection {
    let mut c = base(id, user, "Keycloak demo", "keycloak", ProviderKind::Oidc);
    c.lifetimes = Lifetimes {
        access: Some(AccessExpiry::At(at(access_in))),
        access_received_at: Some(at(access_in - 300)),
        has_refresh: true,
        refresh_expires_at: Some(at(access_in + 1500)),
        ..Lifetimes::default()
    };
    c.scopes = Scopes::granted(vec!["openid".into(), "accounts".into()]);
    c
}

fn oauth(id: i64, user: &str, access_in: i64) -> Connection {
    let mut c = oidc(id, user, access_in);
    c.provider = "bank-oauth".into();
    c.kind = ProviderKind::OAuth2;
    c.label = "Bank OAuth".into();
    c.scopes = Scopes {
        granted: vec!["accounts".into()].into(),
        denied: vec!["payments".into()].into(),
        products: Default::default(),
    };
    c
}

pub fn dapi_pending(id: i64, user: &str) -> Connection {
    let mut c = dapi(id, user, "Emirates NBD");
    c.created_at = at(-48);
    c.lifetimes.code_expires_at = Some(at(252));
    c
}

pub fn dapi_active(id: i64, user: &str) -> Connection {
    let mut c = dapi(id, user, "ADCB");
    c.lifetimes.access = Some(AccessExpiry::Permanent);
    c.lifetimes.access_received_at = Some(at(-86_400));
    c.scopes = Scopes {
        granted: vec![
            "accounts.get".into(),
            "balance.get".into(),
            "identity.get".into(),
        ]
        .into(),
        denied: vec!["transfer.create".into()].into(),
        products: vec!["data".into()].into(),
    };
    c.last_op = Some(LastOp {
        op: OpKind::Exchange,
        at: at(-120),
        ok: true,
    });
    c
}

pub fn sample_connections() -> Vec<Connection> {
    let mut carol = oidc(3, "carol", 290);
    carol.last_op = Some(LastOp {
        op: OpKind::Refresh,
        at: at(-10),
        ok: true,
    });
    let dave = oidc(4, "dave", 42);
    let erin = oauth(5, "erin", -180);
    let mut frank = oauth(6, "frank", -600);
    frank.flags.reauth_required = true;
    frank.last_op = Some(LastOp {
        op: OpKind::Refresh,
        at: at(-600),
        ok: false,
    });
    let mut grace = oidc(7, "grace", 120);
    grace.flags.logged_out_at = Some(at(-30));
    let mut heidi = dapi_active(8, "heidi");
    heidi.flags.delinked_at = Some(at(-7200));
    let mut ivan = oauth(9, "ivan", -60);
    ivan.flags.last_error = Some("invalid_client: client authentication failed".into());
    let mut judy = dapi(10, "judy", "FAB");
    judy.lifetimes.code_expires_at = Some(at(-300));
    let mut app = oauth(11, "app", 4320);
    app.grant = Grant::ClientCredentials;
    app.label = "app token".into();
    app.lifetimes.has_refresh = false;
    app.lifetimes.refresh_expires_at = None;
    app.lifetimes.access_received_at = Some(at(-3600 + 4320 - 3600));
    app.last_op = Some(LastOp {
        op: OpKind::ClientCredentials,
        at: at(-3000),
        ok: true,
    });
    vec![
        dapi_pending(1, "alice"),
        dapi_active(2, "bob"),
        carol,
        dave,
        erin,
        frank,
        grace,
        heidi,
        ivan,
        judy,
        app,
    ]
}

/// The time-left order of `sample_connections`, by id.
pub const TIME_ORDER: [i64; 11] = [6, 10, 5, 9, 4, 7, 1, 3, 11, 2, 8];

pub fn users_for(conns: &[Connection]) -> Vec<User> {
    conns
        .iter()
        .map(|c| User {
            id: c.user_id,
            name: c.user.clone(),
            email: Some(format!("{}@example.com", c.user)),
            created_at: at(-86_400),
        })
        .collect()
}

pub fn options() -> RunOptions {
    let conns = sample_connections();
    let users = users_for(&conns);
    RunOptions {
        readonly: false,
        data_label: "~/.local/share/bankdeck".into(),
        keys: Default::default(),
        warn_secs: WARN,
        no_color: false,
        providers: vec![
            ("dapi-sandbox".into(), ProviderKind::Dapi),
            ("keycloak".into(), ProviderKind::Oidc),
            ("bank-oauth".into(), ProviderKind::OAuth2),
        ],
        schedules: schedules(),
        initial: Some((conns, users)),
    }
}

/// The providers' automatic work: keycloak refreshes by itself, the bank and
/// Dapi wait for an operator, as the demo's do.
pub fn schedules() -> std::collections::HashMap<String, Schedule> {
    let text = "[providers.dapi-sandbox]\nkind = \"dapi\"\nbase_url = \"http://127.0.0.1:1\"\n\
                app_secret = \"env:X\"\n\
                [providers.keycloak]\nkind = \"oidc\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
                client_id = \"c\"\nauto_refresh = true\n\
                [providers.bank-oauth]\nkind = \"oauth2\"\ntoken_url = \"http://127.0.0.1:1/t\"\n\
                client_id = \"c\"\n";
    let cfg = bankdeck::config::parse_layers(None, text).unwrap();
    ["dapi-sandbox", "keycloak", "bank-oauth"]
        .into_iter()
        .map(|p| (p.to_owned(), Schedule::of(cfg.provider(p).unwrap())))
        .collect()
}

pub fn app_with(opts: &RunOptions) -> App {
    let mut app = App::new(opts, NOW);
    app.update(Msg::Resize(120, 40), NOW);
    app
}

pub fn app() -> App {
    app_with(&options())
}

/// [`app`] in read-only mode (`--readonly`).
pub fn readonly_app() -> App {
    let mut opts = options();
    opts.readonly = true;
    app_with(&opts)
}

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The worker's word that `op` (request `id`) has begun on `conn`.
pub fn started(id: RequestId, op: OpKind, conn: i64) -> Msg {
    Msg::Worker(Event::Started {
        id,
        op,
        conn: Some(ConnectionId(conn)),
    })
}

pub fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

pub fn click(column: u16, row: u16) -> Msg {
    mouse(MouseEventKind::Down(MouseButton::Left), column, row)
}

/// Presses every character of `text` as a key.
pub fn type_text(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| app.update(key(c), NOW)).collect()
}

/// `/`, `text` typed, Enter: the table filtered by `text`, the filter kept.
pub fn filter_by(app: &mut App, text: &str) {
    app.update(key('/'), NOW);
    type_text(app, text);
    app.update(code(KeyCode::Enter), NOW);
}

/// Moves the selection to connection `id` with `j`/`g`.
pub fn select(app: &mut App, id: i64) {
    app.update(key('g'), NOW);
    for _ in 0..app.visible_ids().len() {
        if app.selected_id() == Some(ConnectionId(id)) {
            return;
        }
        app.update(key('j'), NOW);
    }
    panic!("connection {id} not visible");
}

/// Each one-row operation in `cmds`, by name and connection.
pub fn sent(cmds: &[Command]) -> Vec<(&'static str, i64)> {
    (cmds.iter())
        .map(|c| match c {
            Command::Exchange { conn, .. } => ("exchange", conn.0),
            Command::Refresh { conn, .. } => ("refresh", conn.0),
            Command::Logout { conn, .. } => ("logout", conn.0),
            Command::Delink { conn, .. } => ("delink", conn.0),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The typed-confirmation dialog open on `app` (delink, disconnect, or the
/// marked rows' logout or delink).
pub fn delink_dialog(app: &App) -> &DelinkDialog {
    match app.mode() {
        Mode::ConfirmDelink(d) => d,
        other => panic!("no confirmation dialog open: {other:?}"),
    }
}

pub fn one(cmds: Vec<Command>) -> Command {
    assert_eq!(cmds.len(), 1, "expected one command, got {cmds:?}");
    cmds.into_iter().next().unwrap()
}

pub fn ids(raw: &[i64]) -> Vec<ConnectionId> {
    raw.iter().map(|&i| ConnectionId(i)).collect()
}

pub fn last_text(app: &App) -> String {
    app.last_activity()
        .map(|l| l.text.clone())
        .unwrap_or_default()
}

pub fn detail() -> Box<Detail> {
    Box::new(Detail {
        secrets: Secrets {
            access_code: Some(Secret::new("eyJhbGciOiJIUzI1NiJ9.code-payload.sigR0M")),
            access_token: None,
            refresh_token: None,
            id_token: None,
            user_secret: Some(Secret::new("user-secret-value-1234567890")),
        },
        access_claims: None,
        id_claims: None,
        code_claims: None,
        audit: vec![AuditEntry {
            id: 1,
            at: at(-48),
            actor: "ops".into(),
            connection: Some(ConnectionId(1)),
            op: OpKind::Link,
            ok: true,
            message: "linked from a Connect payload".into(),
        }],
        archived_before: None,
    })
}

pub fn detail_event(id: RequestId, conn: i64) -> Msg {
    Msg::Worker(Event::Detail {
        id,
        conn: ConnectionId(conn),
        detail: detail(),
    })
}

/// The id of the `Reveal` that `v` sent for `conn`.
pub fn reveal_id(cmd: &Command, conn: i64) -> RequestId {
    match cmd {
        Command::Reveal { id, conn: c } if *c == ConnectionId(conn) => *id,
        other => panic!("expected Reveal for {conn}, got {other:?}"),
    }
}

/// The worker's answer to a reveal: recorded, or why not.
pub fn revealed_event(id: RequestId, conn: i64, recorded: Result<(), &str>) -> Msg {
    Msg::Worker(Event::Revealed {
        id,
        conn: ConnectionId(conn),
        recorded: recorded.map_err(str::to_owned),
    })
}

/// The id of a `LoadDetail` for `conn`.
pub fn load_detail_id(cmd: &Command, conn: i64) -> RequestId {
    match cmd {
        Command::LoadDetail { id, conn: c } if *c == ConnectionId(conn) => *id,
        other => panic!("expected LoadDetail for {conn}, got {other:?}"),
    }
}

pub const CONNECT_PAYLOAD: &str = r#"{"success":true,"accessCode":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwMDAzMDB9.c2lnbmF0dXJlLXZhbHVl","connectionID":"2c72a336a7c09fd905f9adf3dc5ff976d58eeb20","userSecret":"Cqr4D4Ia2V6XUsvSDNdCyVoLkkFv","userID":"u-77","tokenID":"t-77"}"#;

/// [`CONNECT_PAYLOAD`] with its access code's `exp` ten minutes before NOW.
pub fn expired_connect_payload() -> String {
    CONNECT_PAYLOAD.replace("eyJleHAiOjE3MDAwMDAzMDB9", "eyJleHAiOjE2OTk5OTk0MDB9")
}

/// `conns` and their users, as the store's answer to load `id`.
pub fn load(app: &mut App, id: RequestId, conns: Vec<Connection>) {
    let users = users_for(&conns);
    app.update(
        Msg::Worker(Event::Loaded {
            id,
            connections: conns,
            users,
            audit_mark: 0,
        }),
        NOW,
    );
}

/// The sample screen where alice holds three connections: her pending code
/// (1), carol's active OIDC (3) and heidi's delinked link (8), made hers.
pub fn alice_holding_three() -> App {
    let mut app = app();
    let mut conns = sample_connections();
    let alice = (conns[0].user_id, conns[0].user.clone());
    for i in [2, 7] {
        conns[i].user_id = alice.0;
        conns[i].user = alice.1.clone();
    }
    let users = users_for(&conns[..1]);
    app.update(
        Msg::Worker(Event::Loaded {
            id: RequestId(0),
            connections: conns,
            users,
            audit_mark: 0,
        }),
        NOW,
    );
    app
}
