//! The subcommands that run without a screen. Each prints what happened in
//! words (never a secret) and returns the process exit code.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::args::{ConfigCmd, LinkCmd, Target, UsersCmd};
use super::context::Context;
use super::interrupt::finish_through_interrupt;
use super::output::{StatusRow, fit, table};
use crate::config::{Config, Family};
use crate::domain::filter::FilterTerms;
use crate::domain::text::{columns, counted};
use crate::domain::{
    AuditEntry, ConnState, ConnectPayload, Connection, ConnectionId, DueForRefresh, Ending,
    ErrorKind, Grant, OpError, OpKind, ProviderKind, Renewal, UnixTime, User,
};
use crate::tui::{ID_NEEDLE_MIN, SortKey};
use crate::worker::{Command, Event, NextTry, RequestId, Worker, WorkerOptions};

/// `println!` that ends the command quietly when its reader has gone (see
/// [`super::output::out_bytes`]), where `println!` panics.
macro_rules! say {
    ($($arg:tt)*) => {
        super::output::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub fn config_check(
    cfg: &Config,
    _cmd: &ConfigCmd,
    data_dir: Option<&std::path::Path>,
) -> Result<ExitCode> {
    use std::os::unix::fs::PermissionsExt;
    match &cfg.source {
        Some(p) => say!("config: {}", p.display())?,
        // Only the default place can be missing: a named file that is not
        // there fails to load. Saying where it was looked for is what a first
        // run needs to create it.
        None => match crate::config::config_path(None) {
            Some(p) => say!(
                "config: none at {}: embedded defaults only, no providers (config.example.toml shows every key)",
                p.display()
            )?,
            None => {
                say!("config: no home folder to look in: embedded defaults only, no providers")?
            }
        },
    }
    say!(
        "warn_within: {}",
        humantime::format_duration(cfg.warn_within)
    )?;
    let mut missing = 0;
    // Counted once each, though two providers may name one file.
    let mut exposed = std::collections::BTreeSet::new();
    // Whoever can write it chooses where the client secret is sent.
    if let Some(p) = &cfg.source
        && let Ok(meta) = std::fs::metadata(p)
        && meta.permissions().mode() & 0o022 != 0
    {
        exposed.insert(p.display().to_string());
        let mode = meta.permissions().mode() & 0o777;
        say!("  warning: the config is writable by other users (mode {mode:04o}): chmod go-w it")?;
    }
    let mut unusable = 0;
    for p in cfg.providers.values() {
        say!("provider {} ({})", p.name, p.kind())?;
        for (key, url) in endpoints(&p.family) {
            say!("  {key:<15} {url}")?;
        }
        // What every command and the dashboard do first with it: a
        // `ca_file` that is missing or holds no certificate stops them all.
        if let Err(e) = crate::providers::build(p) {
            unusable += 1;
            say!("  error: {}", e.message)?;
        }
        for (key, r) in p.secret_refs() {
            let state = if r.is_set() { "[set]" } else { "[missing]" };
            missing += usize::from(!r.is_set());
            say!("  {key:<15} {r} {state}")?;
            if let Some(exposure) = r.exposure() {
                say!("  warning: {key} file {exposure}")?;
                exposed.insert(r.to_string());
            }
        }
        for line in settings(p) {
            say!("  {line}")?;
        }
    }
    let store = store_beyond_config(cfg, data_dir)?;
    // The screen reports these in its activity pane and goes on without
    // them; a check of the file should not be the one place that is silent.
    let (_, problems) = crate::tui::Keymap::with_overrides(&cfg.keys);
    if !cfg.keys.is_empty() {
        say!("keys: {}", counted(cfg.keys.len(), "override", "overrides"))?;
        for p in &problems {
            say!("  warning: {p}")?;
        }
    }
    // As `check` does: 0 when nothing needs doing, 1 when something does,
    // so that a deployment script can stop on a secret not yet in place.
    let mut action = Vec::new();
    if unusable > 0 {
        action.push(counted(
            unusable,
            "provider that cannot be used",
            "providers that cannot be used",
        ));
    }
    if missing > 0 {
        action.push(format!("{} missing", counted(missing, "secret", "secrets")));
    }
    if !problems.is_empty() {
        action.push(counted(problems.len(), "[keys] problem", "[keys] problems"));
    }
    match store {
        // Every command would stop at it, as `status` does: a deployment
        // gated on this check must not go on.
        None => action.push("the store cannot be read".to_owned()),
        Some(0) => {}
        Some(orphans) => action.push(format!(
            "{} of providers not in the configuration",
            counted(orphans, "connection", "connections")
        )),
    }
    if !exposed.is_empty() {
        let n = exposed.len();
        action.push(counted(
            n,
            "file open to other users",
            "files open to other users",
        ));
    }
    if action.is_empty() {
        say!("OK: nothing missing")?;
        return Ok(ExitCode::SUCCESS);
    }
    say!("ACTION: {}", action.join(", "))?;
    Ok(ExitCode::from(1))
}

/// Says which store this config serves, and how many of its live rows
/// belong to providers the config lacks: each would fail at its next
/// operation, and the config is where that is mended. Returns that count,
/// or `None` for a store that is there but cannot be read (a wrong key, a
/// damaged file), which is said, not an error: the check goes on.
fn store_beyond_config(cfg: &Config, data_dir: Option<&std::path::Path>) -> Result<Option<usize>> {
    use crate::domain::StateKind;
    let Ok(opts) = crate::store::default_paths(data_dir.map(std::path::Path::to_path_buf)) else {
        return Ok(Some(0));
    };
    let dir = opts.data_dir.display().to_string();
    if !opts.db_path().exists() {
        say!("store: none yet at {dir}")?;
        return Ok(Some(0));
    }
    let opened = match crate::store::open(data_dir, crate::store::Access::Read) {
        Ok(opened) => opened,
        Err(e) => {
            say!("store: {dir}: not read ({e})")?;
            return Ok(None);
        }
    };
    let now = UnixTime::now();
    let (mut rows, mut beyond) = (0usize, std::collections::BTreeMap::<String, usize>::new());
    let read = opened.store.each_connection(&mut |c| {
        rows += 1;
        let finished = matches!(
            ConnState::derive(&c, now, cfg.warn_secs()).kind(),
            StateKind::LoggedOut | StateKind::Delinked
        );
        if !finished && cfg.provider(&c.provider).is_none() {
            *beyond.entry(c.provider).or_default() += 1;
        }
    });
    if let Err(e) = read {
        say!("store: {dir}: not read ({e})")?;
        return Ok(None);
    }
    say!(
        "store: {dir} ({})",
        counted(rows, "connection", "connections")
    )?;
    for (provider, n) in &beyond {
        say!(
            "  warning: {} of provider '{provider}', which the config lacks: add \
             [providers.{provider}] to act on them",
            counted(*n, "live connection", "live connections")
        )?;
    }
    Ok(Some(beyond.values().sum()))
}

fn endpoints(f: &Family) -> Vec<(&'static str, String)> {
    let s = |u: &Option<url::Url>| u.as_ref().map(ToString::to_string);
    let list = match f {
        Family::Dapi(d) => vec![("base_url", Some(d.base_url.to_string()))],
        Family::OAuth2(o) => vec![
            ("authorize_url", s(&o.authorize_url)),
            ("token_url", Some(o.token_url.to_string())),
            ("revocation_url", s(&o.revocation_url)),
            ("client_id", Some(o.client.id.clone())),
        ],
        Family::Oidc(o) => vec![
            ("issuer", s(&o.issuer)),
            ("authorize_url", s(&o.authorize_url)),
            ("token_url", s(&o.token_url)),
            ("revocation_url", s(&o.revocation_url)),
            ("logout_url", s(&o.logout_url)),
            ("userinfo_url", s(&o.userinfo_url)),
            ("client_id", Some(o.client.id.clone())),
        ],
    };
    list.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// What the provider is asked for and how it is worked, after its secrets:
/// a wrong scope or client auth is behind many a refused login, and the
/// defaults a key falls back to are not in the file to be read.
fn settings(p: &crate::config::ProviderConfig) -> Vec<String> {
    let mut lines = Vec::new();
    let client = match &p.family {
        Family::Dapi(d) => {
            lines.push(format!(
                "{:<15} {} when the code is not a JWT with exp",
                "access_code_ttl",
                humantime::format_duration(d.access_code_ttl)
            ));
            None
        }
        Family::OAuth2(o) => Some(&o.client),
        Family::Oidc(o) => Some(&o.client),
    };
    if let Some(client) = client {
        let scopes = if client.scopes.is_empty() {
            "none asked: the provider's default".to_owned()
        } else {
            client.scopes.join(" ")
        };
        lines.push(format!("{:<15} {scopes}", "scopes"));
        let auth = match (&client.secret, client.auth) {
            (None, _) => "none: a public client (no client_secret)",
            (_, crate::config::ClientAuth::Basic) => "basic (client_secret_basic)",
            (_, crate::config::ClientAuth::Post) => "post (client_secret_post)",
        };
        lines.push(format!("{:<15} {auth}", "client_auth"));
        if let Some(port) = client.redirect_port {
            lines.push(format!("{:<15} {port}", "redirect_port"));
        }
    }
    let c = &p.common;
    let renewal = match (&p.family, c.refresh_margin) {
        (Family::Dapi(_), _) => format!("auto_exchange {}", c.auto_exchange),
        (_, Some(m)) => format!(
            "auto_refresh {} · refresh_margin {}",
            c.auto_refresh,
            humantime::format_duration(m)
        ),
        (_, None) => format!(
            "auto_refresh {} · refresh_margin max(30s, 10% of the token's lifetime)",
            c.auto_refresh
        ),
    };
    lines.push(format!(
        "timeout {} (connect {}) · {renewal} · max_in_flight {}",
        humantime::format_duration(c.timeout),
        humantime::format_duration(c.connect_timeout),
        c.max_in_flight,
    ));
    if let Some(f) = &c.ca_file {
        lines.push(format!("{:<15} {}", "ca_file", f.display()));
    }
    lines
}

pub async fn users(ctx: &Context, cmd: UsersCmd, readonly: bool) -> Result<ExitCode> {
    match cmd {
        UsersCmd::Add { name, email } => {
            let worker = ctx.worker(readonly)?;
            let user = worker
                .add_user(&name, email.as_deref())
                .await
                .map_err(|e| eyre!("{e}"))?;
            say!("added user {} (id {})", user.name, user.id.0)?;
        }
        UsersCmd::Remove { name } => {
            let worker = ctx.worker(readonly)?;
            let user = worker.remove_user(&name).await.map_err(|e| eyre!("{e}"))?;
            say!("removed user {} (id {})", user.name, user.id.0)?;
        }
        UsersCmd::Disconnect { name, yes } => return disconnect(ctx, &name, yes, readonly).await,
        UsersCmd::List { filter, json } => {
            let mut users = ctx.store.users().map_err(|e| eyre!("{e}"))?;
            if users.is_empty() && !json {
                tell!("no users yet: `bankdeck users add NAME` adds one, as link and login do");
            }
            if let Some(terms) = FilterTerms::parse(filter.as_deref().unwrap_or_default()) {
                let all = users.len();
                users.retain(|u| u.kept_by(&terms));
                if users.is_empty() && all > 0 {
                    tell!(
                        "no user of {all} matches '{}': the filter reads the name and email",
                        filter.unwrap_or_default()
                    );
                }
            }
            if json {
                super::output::out_json(&users)?;
            } else if !users.is_empty() {
                super::output::out_stream(|out| {
                    super::output::text_table(
                        out,
                        &users,
                        |u| u.id.0,
                        &[
                            ("USER", 24, |u| u.name.as_str().into()),
                            ("EMAIL", 60, |u| u.email.as_deref().unwrap_or("").into()),
                        ],
                    )
                })?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `link` was given, checked against the config before the store is
/// opened (a first link makes it): the provider, and the payload read whole.
pub struct LinkPlan {
    user: String,
    provider: String,
    label: String,
    payload: ConnectPayload,
}

pub fn plan_link(cfg: &Config, cmd: LinkCmd) -> Result<LinkPlan> {
    let LinkCmd::Dapi {
        user,
        payload,
        provider,
        label,
    } = cmd;
    let provider = match provider {
        Some(p) => match configured(cfg, &p)?.kind() {
            ProviderKind::Dapi => p,
            kind => bail!(
                "provider '{p}' is {kind}, not Dapi: name a Dapi provider with --provider, or \
                 leave --provider out where only one is configured"
            ),
        },
        None => only_dapi_provider(cfg)?,
    };
    Connection::check_label(&label).map_err(|e| eyre!("{e}"))?;
    let text = read_payload(&payload)?;
    let payload = ConnectPayload::parse(&text).map_err(|e| eyre!("{e}"))?;
    // A stale code is refused by the worker too; here it is refused before
    // a first link has made a store for nothing.
    let ttl = configured(cfg, &provider)?.access_code_ttl();
    payload
        .check_fresh(UnixTime::now(), ttl)
        .map_err(|why| eyre!("{why}; nothing was added"))?;
    Ok(LinkPlan {
        user,
        provider,
        label,
        payload,
    })
}

pub async fn link(ctx: &Context, plan: LinkPlan, readonly: bool) -> Result<ExitCode> {
    let LinkPlan {
        user,
        provider,
        label,
        payload,
    } = plan;
    let new_user = is_new_user(ctx, &user)?;
    let worker = ctx.worker(readonly)?;
    let conn = worker
        .link_dapi(RequestId(1), &provider, &user, &label, payload)
        .await
        .map_err(|e| eyre!("{e}"))?;
    say_user_added(new_user, &conn)?;
    print_conn("linked", &conn, worker.now(), ctx.config.warn_secs())?;
    Ok(ExitCode::SUCCESS)
}

/// The provider a command names, for one that checks it before it makes a
/// store; said as the worker would say it, which checks again when it runs.
fn configured<'a>(cfg: &'a Config, name: &str) -> Result<&'a crate::config::ProviderConfig> {
    cfg.providers.get(name).ok_or_else(|| {
        eyre!(
            "{}",
            crate::worker::not_configured(name, cfg.providers.keys().map(String::as_str))
        )
    })
}

/// `login` and `token` name an OAuth 2.0 or OpenID provider: checked before
/// the store is made, as `link` checks its own.
pub fn check_grant_provider(cfg: &Config, name: &str, grant: Grant) -> Result<()> {
    if configured(cfg, name)?.kind() != ProviderKind::Dapi {
        return Ok(());
    }
    match grant {
        Grant::ClientCredentials => bail!(
            "provider '{name}' is Dapi, which has no client-credentials grant: its tokens come \
             from the Connect layer, filed by `bankdeck link dapi`"
        ),
        _ => bail!(
            "provider '{name}' is Dapi, which has no browser login: the user connects again \
             through the Connect layer, and `bankdeck link dapi` files the new payload"
        ),
    }
}

/// Whether `name` is not a user yet, read as the worker reads it (trimmed).
/// `link`, `login` and `token` add a new one rather than refuse (linking is
/// how end users arrive), so the operator is told: a mistyped name would
/// otherwise add a second user without a word. A name that cannot be one
/// is the worker's to refuse, with why.
fn is_new_user(ctx: &Context, name: &str) -> Result<bool> {
    let Ok(name) = User::check_name(name) else {
        return Ok(false);
    };
    let held = ctx.store.user_by_name(name).map_err(|e| eyre!("{e}"))?;
    Ok(held.is_none())
}

fn say_user_added(new_user: bool, conn: &Connection) -> Result<()> {
    if new_user {
        say!("added user {} (id {})", conn.user, conn.user_id.0)?;
    }
    Ok(())
}

fn only_dapi_provider(cfg: &Config) -> Result<String> {
    let dapi: Vec<&String> = cfg
        .providers
        .iter()
        .filter(|(_, p)| matches!(p.family, Family::Dapi(_)))
        .map(|(n, _)| n)
        .collect();
    match dapi.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no Dapi provider in the configuration: add a [providers.NAME] with kind = \"dapi\""
        ),
        _ => bail!("several Dapi providers are configured: choose one with --provider"),
    }
}

/// A Connect payload's text from a file or standard input (`-`). Read whole
/// up to one byte past the cap, so that an input too large is refused as
/// such rather than cut short and refused as broken JSON.
fn read_payload(source: &str) -> Result<String> {
    let most = crate::domain::payload::MAX_PAYLOAD;
    let past = u64::try_from(most).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    let (named, read) = match source {
        "-" => (
            "standard input".to_owned(),
            (std::io::stdin().take(past)).read_to_end(&mut bytes),
        ),
        // The payload pasted in place of a file name: every message below
        // would print its access code and user secret.
        pasted if looks_like_a_payload(pasted) => bail!(
            "--payload takes a file name or -, and this looks like the payload itself: \
             secrets are never taken on the command line; put the payload in a file, or pipe \
             it to --payload -"
        ),
        path => (
            format!("payload file {path}"),
            std::fs::File::open(path).and_then(|file| file.take(past).read_to_end(&mut bytes)),
        ),
    };
    read.map_err(|e| eyre!("cannot read {named}: {e}"))?;
    let what = "a Connect payload is the few hundred bytes of JSON that the Connect layer's \
                onSuccess hands over";
    if bytes.len() > most {
        bail!("{named} holds more than {} KiB: {what}", most / 1024);
    }
    String::from_utf8(bytes).map_err(|_| eyre!("{named} is not UTF-8 text: {what}"))
}

fn looks_like_a_payload(arg: &str) -> bool {
    let arg = arg.trim();
    arg.starts_with(['{', '['])
        || ["accessCode", "userSecret"]
            .iter()
            .any(|key| arg.contains(key))
}

pub async fn login(
    ctx: &Context,
    provider: &str,
    user: &str,
    renew: Option<ConnectionId>,
    no_browser: bool,
    readonly: bool,
) -> Result<ExitCode> {
    // Checked before the browser step: a consent given for the wrong row
    // would make a new connection the operator did not ask for.
    if let Some(id) = renew {
        let c = stored(ctx, id)?;
        if c.provider != provider || c.user != user {
            bail!(
                "--renew {id} is {}'s at {}, not {user}'s at {provider}: name that provider and \
                 user",
                c.user,
                c.provider
            );
        }
        if c.grant != Grant::AuthorizationCode || c.flags.delinked_at.is_some() {
            bail!(
                "--renew {id}: only a connection made by a browser login, not ended, is renewed by one"
            );
        }
    }
    let new_user = is_new_user(ctx, user)?;
    let mut handle = ctx.spawn_worker(WorkerOptions {
        readonly,
        open_browser: !no_browser,
        ..WorkerOptions::default()
    })?;
    // The URL arrives as an event while the login waits for the browser,
    // once the provider and the name have passed the worker's checks.
    let named = user.to_owned();
    let printer = tokio::spawn(async move {
        while let Some(ev) = handle.events.recv().await {
            match ev {
                crate::worker::Event::LoginUrl { url, .. } => {
                    if new_user {
                        // Said before the browser step, while a typo can still be stopped.
                        tell!(
                            "no user '{named}' yet: the login adds it once it completes (`users list` shows who exists)"
                        );
                    }
                    tell!("Open this URL to log in (waiting up to 5 minutes):\n  {url}");
                }
                other => super::context::tell_notice(&other),
            }
        }
    });
    let login = (handle.worker).login_renewing(RequestId(1), provider, user, renew);
    let conn = to_the_end(&handle.worker, login, |e| eyre!("{e}")).await;
    printer.abort();
    let Some(conn) = conn? else {
        return Ok(super::interrupt::stopped());
    };
    say_user_added(new_user, &conn)?;
    if let Some(id) = renew.filter(|id| *id != conn.id) {
        // An OpenID login goes by the account the provider names, whatever
        // row it was started for.
        tell!(
            "--renew {id} was not used: the provider named another account than connection \
             {id}'s, so the login went to connection {}",
            conn.id
        );
    }
    print_conn(
        "logged in",
        &conn,
        handle.worker.now(),
        ctx.config.warn_secs(),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub async fn token(ctx: &Context, provider: &str, user: &str, readonly: bool) -> Result<ExitCode> {
    let new_user = is_new_user(ctx, user)?;
    let worker = ctx.worker(readonly)?;
    let grant = worker.client_credentials(RequestId(1), provider, user);
    let Some(conn) = to_the_end(&worker, grant, |e| eyre!("{e}")).await? else {
        return Ok(super::interrupt::stopped());
    };
    say_user_added(new_user, &conn)?;
    // An app token already held is renewed in place (see the worker).
    let what = match conn.last_op.as_ref().map(|l| l.op) {
        Some(OpKind::Refresh) => "token renewed",
        _ => "token issued",
    };
    print_conn(what, &conn, worker.now(), ctx.config.warn_secs())?;
    Ok(ExitCode::SUCCESS)
}

pub async fn operate(
    ctx: &Context,
    op: OpKind,
    target: Target,
    readonly: bool,
) -> Result<ExitCode> {
    let mut ids: Vec<ConnectionId> = Vec::new();
    for id in target.connections.into_iter().map(ConnectionId) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if let [id] = ids[..] {
        return operate_one(ctx, op, id, target.yes, readonly).await;
    }
    operate_many(ctx, op, &ids, target.yes, readonly).await
}

async fn operate_one(
    ctx: &Context,
    op: OpKind,
    id: ConnectionId,
    yes: bool,
    readonly: bool,
) -> Result<ExitCode> {
    let conn = stored(ctx, id)?;
    if matches!(op, OpKind::Logout | OpKind::Delink) && !yes {
        confirm(op, &conn)?;
    }
    let worker = ctx.worker(readonly)?;
    let done = done_as(op, &conn, worker.now());
    if !readonly {
        say_if_at_work(ctx, op, &conn, worker.now());
    }
    let run = worker.operate(op, id);
    let Some(conn) = to_the_end(&worker, run, |e| eyre!("{op} failed: {e}")).await? else {
        return Ok(super::interrupt::stopped());
    };
    print_conn(&done, &conn, worker.now(), ctx.config.warn_secs())?;
    Ok(ExitCode::SUCCESS)
}

/// What the line of a connection `op` was done on begins with.
fn done_as(op: OpKind, conn: &Connection, now: UnixTime) -> String {
    // The worker's delink of a pending code exchanges it first.
    match Ending::of(conn, now) {
        Ending::ExchangeThenDelink if op == OpKind::Delink => "exchanged, then delinked".into(),
        _ => format!("{op} done"),
    }
}

/// `refresh 4 7 9` (or exchange, logout, delink): each connection in turn,
/// a line each, as `users disconnect` goes: a failure does not stop the
/// rest, and makes the exit 1. Every id is looked up first, so a mistyped
/// one does nothing at all; a signal stops what is not sent yet.
async fn operate_many(
    ctx: &Context,
    op: OpKind,
    ids: &[ConnectionId],
    yes: bool,
    readonly: bool,
) -> Result<ExitCode> {
    let conns = (ids.iter())
        .map(|&id| stored(ctx, id))
        .collect::<Result<Vec<_>>>()?;
    // Said once, as for one id, not once a row.
    if readonly {
        bail!("{op} failed: read-only mode: nothing may be changed");
    }
    if matches!(op, OpKind::Logout | OpKind::Delink) && !yes {
        let names: Vec<String> = conns.iter().map(named).collect();
        let count = conns.len().to_string();
        let what = format!("{op} {count} connections: {}", names.join(", "));
        confirm_typed(&what, &count, "the number of connections")?;
    }
    let worker = ctx.worker(readonly)?;
    let ops: Vec<(OpKind, &Connection)> = conns.iter().map(|c| (op, c)).collect();
    let outcomes = in_turn(
        ctx,
        &worker,
        &ops,
        &op.to_string(),
        |conn, op, outcome, began| match outcome {
            InTurn::Done(after) => print_conn(
                &done_as(op, conn, began),
                &after,
                worker.now(),
                ctx.config.warn_secs(),
            ),
            InTurn::EndedMeanwhile(e) => Ok(say!("{}: ended meanwhile ({e})", named(conn))?),
            InTurn::Failed(e) => Ok(say!("{}: {op} failed: {e}", named(conn))?),
        },
    )
    .await?;
    match outcomes {
        None => Ok(super::interrupt::stopped()),
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(failed) => {
            say!(
                "{} of {} failed: `bankdeck status` shows where each stands",
                failed,
                ids.len()
            )?;
            Ok(ExitCode::from(1))
        }
    }
}

/// How one of several operations run in turn came out.
enum InTurn {
    Done(Box<Connection>),
    /// Logged out or delinked meanwhile by another process: what the
    /// logout or delink was for, so not a failure.
    EndedMeanwhile(OpError),
    Failed(OpError),
}

/// Runs `ops` one at a time, each through Ctrl-C and SIGTERM as one
/// operation is, and hands each outcome to `each` with the time it began.
/// A failure does not stop the rest. A signal lets the operation out be
/// answered, written and told, sends no more, and names under `what` the
/// connections not sent. How many failed, or `None` when a signal stopped
/// the run.
async fn in_turn(
    ctx: &Context,
    worker: &Worker,
    ops: &[(OpKind, &Connection)],
    what: &str,
    mut each: impl FnMut(&Connection, OpKind, InTurn, UnixTime) -> Result<()>,
) -> Result<Option<usize>> {
    let mut failed = 0;
    for (at, &(op, conn)) in ops.iter().enumerate() {
        let began = worker.now();
        say_if_at_work(ctx, op, conn, began);
        let run = worker.operate(op, conn.id);
        let (result, interrupted) = finish_through_interrupt(worker, run).await?;
        let stopped = match result {
            Ok(after) => {
                each(conn, op, InTurn::Done(Box::new(after)), began)?;
                interrupted
            }
            // Stopped before it was sent: the signal's doing, said as it is.
            Err(e) if e.kind == ErrorKind::Cancelled => {
                tell!("{e}");
                true
            }
            Err(e)
                if e.kind == ErrorKind::Ended && matches!(op, OpKind::Logout | OpKind::Delink) =>
            {
                each(conn, op, InTurn::EndedMeanwhile(e), began)?;
                interrupted
            }
            Err(e) => {
                failed += 1;
                each(conn, op, InTurn::Failed(e), began)?;
                interrupted
            }
        };
        if stopped {
            let rest: Vec<String> = ops[at + 1..]
                .iter()
                .map(|(_, c)| c.id.to_string())
                .collect();
            if !rest.is_empty() {
                tell!("{what}: not sent, stopped first: {}", rest.join(", "));
            }
            return Ok(None);
        }
    }
    Ok(Some(failed))
}

/// Says on stderr that `op` on `conn` waits for another process at work on
/// it (a cron job's refresh holding its lease), which may take up to that
/// lease's term: without a word, the command seemed to hang. The worker
/// may then send nothing, that process's answer having done the work.
pub(super) fn say_if_at_work(ctx: &Context, op: OpKind, conn: &Connection, now: UnixTime) {
    let Ok(Some((holder, until))) = ctx.store.lease_holder(conn.id) else {
        return;
    };
    let lease = crate::store::Lease {
        conn: conn.id,
        holder,
        until,
    };
    if lease.at_work(now) {
        tell!(
            "{op} {}: {} (its lease until {})",
            named(conn),
            crate::store::holder::waiting_for(&lease.holder),
            until.clock_from(now)
        );
    }
}

/// Says on stderr how many of `ids` another process is at work on, and
/// which: each waits for that process's answer, up to its lease's term,
/// which a run over rows a second cron job is refreshing spends in silence
/// otherwise. A store that cannot say only loses the line: the run goes on.
fn say_held_elsewhere(ctx: &Context, ids: &[ConnectionId], now: UnixTime) {
    let at_work = match at_work(ctx, now) {
        Ok(at_work) => at_work,
        Err(e) => {
            tracing::warn!(error = %e, "could not read which rows other processes hold");
            return;
        }
    };
    let mut holders: Vec<String> = (ids.iter())
        .filter_map(|id| at_work.get(id))
        .map(|l| crate::store::holder::described(&l.holder))
        .collect();
    let held = holders.len();
    if held == 0 {
        return;
    }
    holders.sort();
    holders.dedup();
    let is = if holders.len() == 1 { "is" } else { "are" };
    let answers = if held == 1 {
        "that answer"
    } else {
        "those answers"
    };
    tell!(
        "{} {is} at work on {}: this run waits for {answers} first",
        holders.join(", "),
        counted(held, "due connection", "due connections"),
    );
}

/// `users disconnect`: each of the user's connections ended as
/// [`Ending`] says, one at a time (a user has a handful), a line each. A
/// failure does not stop the rest; it makes the exit 1.
async fn disconnect(ctx: &Context, name: &str, yes: bool, readonly: bool) -> Result<ExitCode> {
    if readonly {
        bail!("read-only mode: nothing was ended");
    }
    // As `users remove` answers: a name in another case is a typo.
    let user = match ctx.store.user_any_case(name).map_err(|e| eyre!("{e}"))? {
        Some(user) if user.name == name => user,
        Some(held) => bail!("no user named {name:?}: did you mean {:?}?", held.name),
        None => bail!("no user named {name:?}: `bankdeck users list` shows who exists"),
    };
    let conns = ctx
        .store
        .user_connections(user.id)
        .map_err(|e| eyre!("{e}"))?;
    let now = UnixTime::now();
    let plan: Vec<(Connection, Ending)> = conns
        .into_iter()
        .map(|c| {
            let ending = Ending::of(&c, now);
            (c, ending)
        })
        .collect();
    let ending = plan
        .iter()
        .filter(|(_, e)| !matches!(e, Ending::Nothing(_)))
        .count();
    if ending == 0 {
        say!(
            "{name} holds {}, none to end",
            counted(plan.len(), "connection", "connections")
        )?;
        for (c, e) in &plan {
            if let Ending::Nothing(why) = e {
                say!("  {}: {}", named(c), why.describe())?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        confirm_user(
            &format!(
                "disconnect {name}: end {}",
                counted(ending, "connection", "connections")
            ),
            name,
        )?;
    }
    // The rows left as they are first, then those ended, in turn.
    for (c, e) in &plan {
        if let Ending::Nothing(why) = e {
            say!("  {}: {}", named(c), why.describe())?;
        }
    }
    let ops: Vec<(OpKind, &Connection)> = (plan.iter())
        .filter_map(|(c, e)| Some((e.op()?, c)))
        .collect();
    let endings: HashMap<ConnectionId, &Ending> = plan.iter().map(|(c, e)| (c.id, e)).collect();
    let worker = ctx.worker(readonly)?;
    let what = format!("disconnect {name}");
    let outcomes = in_turn(
        ctx,
        &worker,
        &ops,
        &what,
        |c, op, outcome, _| match outcome {
            InTurn::Done(conn) => {
                let done = endings[&c.id].done();
                // "logged out (access valid 04:59)": the state says what a
                // logout leaves behind, an access token that still works.
                let state = ConnState::derive(&conn, worker.now(), ctx.config.warn_secs());
                let state = state.describe(worker.now());
                let done = match state.starts_with(done) {
                    true => state.as_str(),
                    false => done,
                };
                Ok(say!("  {}: {done}", named(c))?)
            }
            InTurn::EndedMeanwhile(err) => Ok(say!("  {}: ended meanwhile ({err})", named(c))?),
            InTurn::Failed(err) => Ok(say!("  {}: {op} failed: {err}", named(c))?),
        },
    )
    .await?;
    let Some(failed) = outcomes else {
        return Ok(super::interrupt::stopped());
    };
    if failed > 0 {
        say!(
            "{} not ended: `bankdeck status {}` shows where each stands; run it again once fixed",
            counted(failed, "connection", "connections"),
            super::output::shell_word(name)
        )?;
        return Ok(ExitCode::from(1));
    }
    say!("{name}: every connection ended")?;
    Ok(ExitCode::SUCCESS)
}

/// Connection `id` as the store holds it, or what to do about an id that
/// names none.
pub(super) fn stored(ctx: &Context, id: ConnectionId) -> Result<Connection> {
    (ctx.store.connection(id).map_err(|e| eyre!("{e}"))?)
        .ok_or_else(|| eyre!("no connection {id}: see `bankdeck status`"))
}

/// Runs one operation through Ctrl-C and SIGTERM (see `interrupt`): what
/// it sent is waited for and written. `None` when the signal stopped it
/// before anything was sent, the operator told so; `failed` words any
/// other failure.
pub(super) async fn to_the_end(
    worker: &Worker,
    op: impl std::future::Future<Output = Result<Connection, OpError>>,
    failed: impl FnOnce(OpError) -> color_eyre::eyre::Report,
) -> Result<Option<Connection>> {
    match finish_through_interrupt(worker, op).await? {
        (Ok(conn), _) => Ok(Some(conn)),
        (Err(e), true) if e.kind == ErrorKind::Cancelled => {
            tell!("{e}");
            Ok(None)
        }
        (Err(e), _) => Err(failed(e)),
    }
}

/// Every connection due for a refresh within `within` (the config's warning
/// window by default), through the worker's bulk refresh, as the screen's
/// `R` runs it: each provider's `max_in_flight` at a time, one lease each, a
/// line for every failure and a count at the end. For cron, where nobody
/// has the dashboard open to refresh them.
pub async fn refresh_due(
    ctx: &Context,
    within: Option<std::time::Duration>,
    filter: Option<&str>,
    quiet: bool,
    readonly: bool,
) -> Result<ExitCode> {
    if readonly {
        bail!("read-only mode: nothing was refreshed");
    }
    let within = within.unwrap_or(ctx.config.warn_within);
    let secs = i64::try_from(within.as_secs()).unwrap_or(i64::MAX);
    let now = UnixTime::now();
    let conns = ctx.store.connections().map_err(|e| eyre!("{e}"))?;
    let Kept {
        conns: kept,
        matching,
        none,
    } = kept(&conns, filter, None, now, ctx.config.warn_secs());
    if let Some(none) = none {
        bail!("{none}; nothing was refreshed");
    }
    let configured = |p: &str| ctx.config.providers.contains_key(p);
    let pick = DueForRefresh::pick(kept, now, secs, configured);
    let skipped: usize = pick.unconfigured.values().sum();
    if skipped > 0 {
        tell!(
            "{} left out: their providers are not in the configuration (add {})",
            counted(skipped, "due connection", "due connections"),
            pick.missing_tables()
        );
    }
    let window = humantime::format_duration(within);
    // What `check` weighs: this run, and so the cron job that starts it,
    // renews what expires within the window. Recorded once the run has
    // done its work, as of when it chose what was due.
    let providers = ctx.config.providers.keys().cloned().collect();
    let ran = Renewal::RefreshDue {
        at: now,
        providers,
        within_secs: secs,
        matching: filter.and_then(FilterTerms::parse).map(|t| t.to_string()),
    };
    let note_ran = || {
        if let Err(e) = ctx.store.note_renewal(&ran) {
            tell!("this run is not recorded, so `check` will take it as not run: {e}");
        }
    };
    // A cron job's exit status is all it is watched by: due tokens left to
    // lapse are a failure, as a refresh that failed is.
    let outcome = |failed: usize| match failed + skipped {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    };
    if pick.due.is_empty() {
        note_ran();
        if skipped > 0 {
            say!("nothing{matching} refreshed: every connection due within {window} was left out")?;
        } else if !quiet {
            say!("nothing{matching} expiring within {window} or expired to refresh")?;
        }
        return Ok(outcome(0));
    }
    let ids: Vec<ConnectionId> = pick.due.iter().map(|c| c.id).collect();
    let names: HashMap<ConnectionId, String> =
        (pick.due.iter()).map(|c| (c.id, named(c))).collect();
    let total = ids.len();
    if !quiet {
        say_held_elsewhere(ctx, &ids, now);
    }
    let mut handle = ctx.spawn_worker(WorkerOptions::default())?;
    let worker = handle.worker.clone();
    let mut tally = Tally::default();
    let bulk = async {
        let run = worker.execute(Command::RefreshMany {
            id: RequestId(1),
            conns: ids,
        });
        tokio::pin!(run);
        loop {
            tokio::select! {
                biased;
                Some(event) = handle.events.recv() => tally.take(event, &names)?,
                () = &mut run => break,
            }
        }
        // What the bulk said last is still queued.
        while let Ok(event) = handle.events.try_recv() {
            tally.take(event, &names)?;
        }
        Ok::<_, color_eyre::Report>(())
    };
    let (ran, stopped) = finish_through_interrupt(&worker, bulk).await?;
    ran?;
    let Tally {
        refreshed,
        failed,
        ended,
        ref reasons,
    } = tally;
    let mut counts = format!("refreshed {refreshed} of {total}{matching} due within {window}");
    if failed > 0 {
        counts.push_str(&format!(", {failed} failed"));
    }
    if ended > 0 {
        counts.push_str(&format!(", {ended} ended meanwhile"));
    }
    if skipped > 0 {
        counts.push_str(&format!(", {skipped} left out"));
    }
    let unsent = total - refreshed - failed - ended;
    if stopped {
        say!("stopped: {counts}, {unsent} not sent")?;
        say_reasons(reasons)?;
        return Ok(super::interrupt::stopped());
    }
    note_ran();
    // Left unsent by a provider that asked for a longer wait than the run
    // gives it (its notice said so): due tokens left to lapse, as failures are.
    if unsent > 0 {
        counts.push_str(&format!(", {unsent} not sent"));
    }
    if quiet && failed + skipped + unsent == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    say!("{counts}")?;
    say_reasons(reasons)?;
    Ok(outcome(failed + unsent))
}

/// `12 amira / Emirates NBD (dapi)`: a connection as a line of `check` or
/// `refresh --due` names it, whom to call and at which bank. The provider
/// is left out where the label already is its name (`12 app / bank`).
fn named(c: &Connection) -> String {
    if c.label == c.provider {
        format!("{} {}", c.id, c.name())
    } else {
        format!("{} {} ({})", c.id, c.name(), c.provider)
    }
}

/// What `refresh --due` has heard of its bulk so far.
#[derive(Default)]
struct Tally {
    refreshed: usize,
    failed: usize,
    /// Logged out or delinked meanwhile, by another process: not failures.
    ended: usize,
    /// How many failed for each reason, in words.
    reasons: HashMap<String, usize>,
}

/// The most common reasons a bulk's refreshes failed, under its count: in a
/// cron mail, thousands of lines above read at a glance as a few causes.
/// Nothing when at most one failed (its own line says it).
fn say_reasons(reasons: &HashMap<String, usize>) -> Result<()> {
    const SHOWN: usize = 5;
    if reasons.values().sum::<usize>() < 2 {
        return Ok(());
    }
    let mut by_count: Vec<(&String, &usize)> = reasons.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (reason, n) in by_count.iter().take(SHOWN) {
        say!("  {n}× {reason}")?;
    }
    if by_count.len() > SHOWN {
        let rest: usize = by_count[SHOWN..].iter().map(|(_, n)| **n).sum();
        let kinds = by_count.len() - SHOWN;
        say!(
            "  {rest} more for {}",
            counted(kinds, "other reason", "other reasons")
        )?;
    }
    Ok(())
}

impl Tally {
    /// Counts an outcome and names a failure. One stopped before it was sent
    /// (Ctrl-C) is neither: it is counted as not sent at the end.
    fn take(&mut self, event: Event, names: &HashMap<ConnectionId, String>) -> Result<()> {
        let name = |c: ConnectionId| names.get(&c).map_or_else(|| c.to_string(), Clone::clone);
        match event {
            Event::Succeeded { .. } => self.refreshed += 1,
            Event::Failed { error, .. } if error.kind == ErrorKind::Cancelled => {}
            // Refused for its provider's wait: the run sends it again after,
            // or sets it aside with the provider's rows, counted as not sent.
            Event::Failed {
                conn_id: Some(c),
                error,
                next_try: Some(next @ (NextTry::After(at) | NextTry::SetAside(at))),
                ..
            } => {
                let at = at.clock_from(UnixTime::now());
                let then = match next {
                    NextTry::SetAside(_) => {
                        format!("left for a run after {at}, or for this one if the wait is lifted")
                    }
                    _ => format!("tried again after {at}"),
                };
                say!("  {}: refused for now: {}; {then}", name(c), error.message)?;
            }
            Event::Failed {
                conn_id: Some(c),
                error,
                ..
            } => {
                let name = name(c);
                // Logged out or delinked by another process meanwhile.
                if error.kind == ErrorKind::Ended {
                    self.ended += 1;
                    say!(
                        "  {name}: not refreshed, ended meanwhile: {}",
                        error.message
                    )?;
                    return Ok(());
                }
                self.failed += 1;
                say!("  {name}: refresh failed: {}", error.message)?;
                *self.reasons.entry(error.message).or_default() += 1;
            }
            other => super::context::tell_notice(&other),
        }
        Ok(())
    }
}

/// Logout and delink cannot be undone: on a terminal the operator types the
/// user's name; elsewhere `--yes` is required, so a script never does it by accident.
fn confirm(op: OpKind, conn: &Connection) -> Result<()> {
    confirm_user(
        &format!(
            "{op} connection {} of {} ({})",
            conn.id, conn.user, conn.label
        ),
        &conn.user,
    )
}

/// Asks on the terminal to type `user` before `what` is done: a change for
/// good needs the name, not a reflex `y`.
fn confirm_user(what: &str, user: &str) -> Result<()> {
    confirm_typed(what, user, "the user's name")
}

/// Asks on the terminal to type `answer` (which the prompt calls `asked`)
/// before `what` is done.
fn confirm_typed(what: &str, answer: &str, asked: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("{what} needs --yes when standard input is not a terminal");
    }
    tell!(partial: "{what}? Type {asked} to confirm: ");
    std::io::stderr().flush()?;
    let mut typed = String::new();
    std::io::stdin().read_line(&mut typed)?;
    if typed.trim() != answer {
        bail!("not confirmed: nothing was changed");
    }
    Ok(())
}

fn print_conn(what: &str, c: &Connection, now: UnixTime, warn: i64) -> Result<()> {
    say!("{}", conn_line(what, c, now, warn))?;
    Ok(())
}

/// `linked: connection 3 · amira / ENBD · dapi · code pending (29:59 left)`: the
/// time left in brackets unless the state's words already say it
/// ("code pending (29:59 left) (29:59)") or there is none ("(—)").
fn conn_line(what: &str, c: &Connection, now: UnixTime, warn: i64) -> String {
    let row = StatusRow::new(c, now, warn);
    let left = row.time_left.as_str();
    let said = left == "—" || row.state_text.contains(left);
    let left = if said {
        String::new()
    } else {
        format!(" ({left})")
    };
    format!(
        "{what}: connection {} · {} · {} · {}{left}",
        c.id,
        c.name(),
        c.provider,
        row.state_text
    )
}

/// The connections a command's filter keeps, as the dashboard's `/` keeps
/// them.
struct Kept<'c> {
    conns: Vec<&'c Connection>,
    /// " matching 'x'" for the command's summary; empty without a filter.
    matching: String,
    /// Why nothing is kept, when a filter kept nothing.
    none: Option<String>,
}

fn kept<'c>(
    conns: &'c [Connection],
    filter: Option<&str>,
    sort: Option<SortKey>,
    now: UnixTime,
    warn: i64,
) -> Kept<'c> {
    let f = filter.map(str::trim).filter(|f| !f.is_empty());
    let kept = crate::tui::filtered(conns, f.unwrap_or_default(), sort, now, warn);
    let Some(f) = f else {
        return Kept {
            conns: kept,
            matching: String::new(),
            none: None,
        };
    };
    let none = kept.is_empty().then(|| {
        format!(
            "no connection of {} matches '{f}': the filter reads the id (a number), the user, \
             label, provider, kind and state, and from {ID_NEEDLE_MIN} characters on the \
             provider's ids",
            conns.len()
        )
    });
    Kept {
        conns: kept,
        matching: format!(" matching '{f}'"),
        none,
    }
}

pub fn status(
    ctx: &Context,
    filter: Option<&str>,
    sort: Option<SortKey>,
    json: bool,
) -> Result<ExitCode> {
    let conns = ctx.store.connections().map_err(|e| eyre!("{e}"))?;
    let now = UnixTime::now();
    let warn = ctx.config.warn_secs();
    if conns.is_empty() && !json {
        tell!("no connections yet: `bankdeck link dapi` or `bankdeck login` adds one");
    }
    let kept = kept(&conns, filter, sort, now, warn);
    if let Some(none) = kept.none.filter(|_| !conns.is_empty()) {
        tell!("{none}");
    }
    // Why rows due for a refresh stand still, whatever renews them; a store
    // that cannot say leaves the table to speak for itself.
    if !json {
        let waits = ctx.store.waits().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read the providers' asked waits");
            Vec::new()
        });
        for w in waits.iter().filter(|w| w.holds(now)) {
            tell!("{}", wait_line(w, now));
        }
    }
    let at_work = at_work(ctx, now)?;
    if json {
        let rows = super::output::StatusRows {
            conns: &kept.conns,
            now,
            warn_secs: warn,
            at_work: &at_work,
        };
        super::output::out_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<super::output::TableRow> = (kept.conns.into_iter())
        .map(|c| super::output::TableRow::new(c, now, warn).at_work(&at_work))
        .collect();
    if !rows.is_empty() {
        // No header over nothing: what is missing was said on stderr, as
        // `users list` does.
        super::output::out_stream(|out| table(&rows, out))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows another process is at work on at `now`: a cron job's refresh,
/// a script's delink, each holding its row's lease until it answers.
fn at_work(ctx: &Context, now: UnixTime) -> Result<super::output::AtWork> {
    let leases = ctx.store.leases().map_err(|e| eyre!("{e}"))?;
    Ok((leases.into_iter())
        .filter(|l| l.at_work(now))
        .map(|l| (l.conn, l))
        .collect())
}

/// Reads `--within` before anything is opened, so a typo is the error shown.
pub fn parse_within(within: Option<&str>) -> Result<Option<std::time::Duration>> {
    let Some(text) = within else {
        return Ok(None);
    };
    let window = duration("within", text, "10m")?;
    // A window past every token's life takes them all, and a `refresh
    // --due` records it as its own, which `check` trusts for as long.
    if window > LONGEST_WINDOW {
        bail!(
            "--within '{text}' is longer than a year: write the window tokens are renewed in, e.g. 10m"
        );
    }
    Ok(Some(window))
}

const LONGEST_WINDOW: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

/// A duration flag's value, or what to write instead.
pub fn duration(flag: &str, text: &str, example: &str) -> Result<std::time::Duration> {
    // Read as months, `10M` looks like ten minutes; `1H` is refused anyway.
    if text.contains(|c: char| c.is_ascii_uppercase()) {
        bail!(
            "--{flag} '{text}': units are lower case (m minutes, h hours, d days): write e.g. \
             {example}"
        );
    }
    humantime::parse_duration(text)
        .map_err(|_| eyre!("--{flag} '{text}' is not a duration: write e.g. {example}"))
}

pub fn check(
    ctx: &Context,
    filter: Option<&str>,
    within: Option<std::time::Duration>,
    json: bool,
    quiet: bool,
) -> Result<ExitCode> {
    let within = within.unwrap_or(ctx.config.warn_within);
    let secs = i64::try_from(within.as_secs()).unwrap_or(i64::MAX);
    let now = UnixTime::now();
    let conns = ctx.store.connections().map_err(|e| eyre!("{e}"))?;
    // A check of nothing would say OK for ever: a typo must not.
    let Kept {
        conns: kept,
        matching,
        none,
    } = kept(&conns, filter, None, now, ctx.config.warn_secs());
    if let Some(none) = none {
        bail!("{none}; nothing was checked");
    }
    let records = ctx.store.renewals().map_err(|e| eyre!("{e}"))?;
    let waits = ctx.store.waits().map_err(|e| eyre!("{e}"))?;
    let renewers = super::check::Renewers::new(records, &conns, now, ctx.config.warn_secs())
        .with_waits(waits, now);
    let found: Vec<(&Connection, super::check::Reason)> = kept
        .into_iter()
        .filter_map(|c| super::check::reason(c, &ctx.config, &renewers, now, secs).map(|r| (c, r)))
        .collect();
    let code = match found.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    };
    let counts = super::check::counts(found.iter().map(|(_, r)| r.need));
    if json {
        let warn = ctx.config.warn_secs();
        let report = super::output::CheckReport {
            ok: found.is_empty(),
            within_secs: secs,
            counts,
            needs_action: super::output::CheckRows {
                found: &found,
                now,
                warn_secs: warn,
                at_work: &at_work(ctx, now)?,
            },
            renewers: (renewers.records())
                .map(|r| super::output::RenewerRow::new(r, now))
                .collect(),
            waits: (renewers.waits().iter())
                .map(|w| super::output::WaitRow::new(w, now))
                .collect(),
        };
        super::output::out_json(&report)?;
        return Ok(code);
    }
    if found.is_empty() {
        if quiet {
            return Ok(code);
        }
        say!(
            "OK: nothing{matching} needs action within {}",
            humantime::format_duration(within)
        )?;
        for line in wait_lines(&renewers, now) {
            say!("{line}")?;
        }
        return Ok(code);
    }
    // A monitor shows the first line alone: it says what the rows need,
    // one row's need too.
    let tally = format!(": {}", super::check::tally(&counts));
    // Written as one stream: at scale most rows need action, and a flushed
    // write a line was 65 000 system calls.
    super::output::out_stream(|out| {
        writeln!(
            out,
            "ACTION: {}{matching} {} action within {}{tally}",
            counted(found.len(), "connection", "connections"),
            if found.len() == 1 { "needs" } else { "need" },
            humantime::format_duration(within)
        )?;
        for line in wait_lines(&renewers, now) {
            writeln!(out, "{line}")?;
        }
        for (c, reason) in &found {
            writeln!(out, "  {}: {}", named(c), reason.text)?;
        }
        Ok(())
    })?;
    Ok(code)
}

/// A line for each provider's asked wait that holds: why a due token is
/// not renewed until it ends, whatever runs.
fn wait_lines(renewers: &super::check::Renewers, now: UnixTime) -> Vec<String> {
    (renewers.waits().iter())
        .map(|w| wait_line(w, now))
        .collect()
}

pub(super) fn wait_line(w: &crate::domain::ProviderWait, now: UnixTime) -> String {
    format!(
        "WAIT: {} asked to be sent nothing until {} ({} more): {}",
        w.provider,
        w.until.rfc3339(),
        crate::domain::time::format_left(now.secs_until(w.until)),
        w.why
    )
}

pub fn audit(
    ctx: &Context,
    json: bool,
    mut query: crate::store::AuditQuery,
    matching: Option<&str>,
) -> Result<ExitCode> {
    let mut kept_by = String::new();
    if let Some(filter) = matching {
        let conns = ctx.store.connections().map_err(|e| eyre!("{e}"))?;
        let kept = kept(
            &conns,
            Some(filter),
            None,
            UnixTime::now(),
            ctx.config.warn_secs(),
        );
        // As `status` and `users list` do: nothing listed, and why.
        if let Some(none) = kept.none {
            tell!("{none}");
            if json {
                super::output::out_json(&[] as &[AuditEntry])?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        query.among = Some(kept.conns.iter().map(|c| c.id).collect());
        kept_by = kept.matching;
    }
    // One line past the limit says whether the limit cut the answer: a
    // script reading `audit --since 1h --failed` must not take fifty for all.
    let limit = query.limit;
    query.limit = limit.saturating_add(1);
    let query = &query;
    let mut entries = ctx.store.audit_query(query).map_err(|e| eyre!("{e}"))?;
    if entries.len() > limit {
        entries.truncate(limit);
        tell!("the newest {limit} lines are shown and more match: --limit N shows more");
    }
    // A mistyped id is not a connection without history: say which it is.
    if let (Some(id), true) = (query.connection, entries.is_empty()) {
        stored(ctx, id)?;
    }
    if entries.is_empty() && !json {
        tell!("{}", no_audit_lines(query, &kept_by));
    }
    if json {
        // The same objects as the archive's lines: `status --json` has the names.
        super::output::out_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    let names = whose(ctx, &entries);
    // `-` for a connection the store could not name; nothing for a line
    // about no connection (a user added), whose id is `-` already.
    let who = |e: &AuditEntry| match e.connection {
        Some(c) => names.get(&c).map_or("-", String::as_str),
        None => "",
    };
    let width = (entries.iter())
        .map(|e| columns(who(e)))
        .max()
        .unwrap_or(0)
        .min(WHO_WIDTH);
    for e in &entries {
        say!("{}", audit_line(e, &fit(who(e), width)).trim_end())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why `audit` printed nothing, in the words of the query: an empty output
/// alone does not say whether the filters or the log left nothing.
fn no_audit_lines(query: &crate::store::AuditQuery, matching: &str) -> String {
    if query.connection.is_none()
        && query.among.is_none()
        && query.since.is_none()
        && !query.failed_only
        && query.op.is_none()
    {
        return "the audit log is empty".to_string();
    }
    let mut said = match (query.failed_only, &query.op) {
        (true, Some(op)) => format!("no failed {op}{matching}"),
        (true, None) => format!("no failed operation{matching}"),
        (false, Some(op)) => format!("no {op} line{matching}"),
        (false, None) => format!("no audit line{matching}"),
    };
    if let Some(id) = query.connection {
        said.push_str(&format!(" for connection {id}"));
    }
    if let Some(t) = query.since {
        said.push_str(&format!(" since {}", t.rfc3339()));
    }
    said
}

/// The widest `user / label` column `audit` gives.
const WHO_WIDTH: usize = 36;

/// `user / label` of every connection the entries name: a
/// connection's id alone does not say whom to call. A connection the store
/// cannot read is left out (its lines show `-`) rather than failing the log.
fn whose(ctx: &Context, entries: &[AuditEntry]) -> HashMap<ConnectionId, String> {
    let mut ids: Vec<ConnectionId> = entries.iter().filter_map(|e| e.connection).collect();
    ids.sort_unstable();
    ids.dedup();
    // In slices: a long listing names tens of thousands of connections, and
    // only their names need to stay, not every row read whole at once.
    let mut names = HashMap::with_capacity(ids.len());
    for slice in ids.chunks(1_000) {
        let read = ctx.store.connections_by_id(slice);
        names.extend(
            (slice.iter().zip(read))
                .filter_map(|(&id, c)| Some((id, c.ok()??)))
                .map(|(id, c)| (id, c.name())),
        );
    }
    names
}

/// One entry as `audit` prints it: time, actor, connection and whose it is,
/// operation, result and message, in columns.
fn audit_line(e: &AuditEntry, who: &str) -> String {
    let conn = e
        .connection
        .map_or_else(|| "-".to_string(), |c| c.to_string());
    let result = if e.ok { "ok" } else { "FAILED" };
    format!(
        "{}  {:<12} {:>6} {who}  {:<18} {:<6} {}",
        e.at, e.actor, conn, e.op, result, e.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessExpiry, Grant, ProviderKind};

    /// A row another process logged out or delinked while a cron
    /// `refresh --due` waited for its turn is not a failure: the run's exit
    /// code stays 0 for it.
    #[test]
    fn a_row_ended_meanwhile_is_counted_apart_from_failures() {
        let failed = |id: i64, kind: ErrorKind| Event::Failed {
            id: RequestId(1),
            op: OpKind::Refresh,
            conn_id: Some(ConnectionId(id)),
            conn: None,
            error: OpError::new(kind, "told by the test"),
            next_try: None,
        };
        let mut tally = Tally::default();
        let names = HashMap::new();
        tally.take(failed(1, ErrorKind::Ended), &names).unwrap();
        tally.take(failed(2, ErrorKind::Server), &names).unwrap();
        tally.take(failed(3, ErrorKind::Cancelled), &names).unwrap();
        assert_eq!((tally.ended, tally.failed, tally.refreshed), (1, 1, 0));
        assert_eq!(tally.reasons.values().sum::<usize>(), 1);
    }

    #[test]
    fn audit_lines_keep_their_columns_whatever_the_operation() {
        let entry = |op, ok, connection| AuditEntry {
            id: 1,
            at: UnixTime(1_700_000_000),
            actor: "root".into(),
            connection,
            op,
            ok,
            message: "m".into(),
        };
        let lines = [
            audit_line(
                &entry(OpKind::Link, true, Some(ConnectionId(1))),
                "amira / FAB",
            ),
            audit_line(
                &entry(OpKind::ClientCredentials, false, Some(ConnectionId(12))),
                "app / bank ",
            ),
            audit_line(&entry(OpKind::AddUser, true, None), "           "),
        ];
        assert_eq!(
            lines,
            [
                "2023-11-14T22:13:20Z  root              1 amira / FAB  link               ok     m",
                "2023-11-14T22:13:20Z  root             12 app / bank   client_credentials FAILED m",
                "2023-11-14T22:13:20Z  root              -              add_user           ok     m",
            ]
        );
    }

    #[test]
    fn a_connection_line_says_the_time_left_once() {
        let now = UnixTime(1_700_000_000);
        let mut dapi = Connection::sample(3, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        dapi.lifetimes.code_expires_at = Some(now.plus_secs(1800));
        let line = conn_line("linked", &dapi, now, 120);
        assert_eq!(
            line,
            "linked: connection 3 · amira / ENBD · dapi · code pending (30:00 left)"
        );
        let mut bank =
            Connection::sample(4, "bank", ProviderKind::OAuth2, Grant::AuthorizationCode);
        bank.lifetimes.access = Some(AccessExpiry::At(now.plus_secs(300)));
        let line = conn_line("refresh done", &bank, now, 120);
        assert_eq!(
            line,
            "refresh done: connection 4 · amira / ENBD · bank · active (05:00)"
        );
        bank.flags.reauth_required = true;
        let line = conn_line("refresh failed", &bank, now, 120);
        assert!(line.ends_with("· re-consent required"), "{line}");
    }
}
