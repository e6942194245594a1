//! How connections and users arrive without a screen: `users`, `link`
//! (a Connect payload), `login` (a browser consent) and `token` (an app's
//! client credentials). Each is checked against the config before the store
//! is opened, so a typo never makes one.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::operate::disconnect;
use super::{print_conn, stored, to_the_end};
use crate::cli::args::{LinkCmd, UsersCmd};
use crate::cli::context::Context;
use crate::cli::{interrupt, output};
use crate::config::{Config, Family};
use crate::domain::filter::FilterTerms;
use crate::domain::{
    ConnectPayload, Connection, ConnectionId, Grant, OpKind, ProviderKind, UnixTime, User,
};
use crate::worker::{RequestId, WorkerOptions};

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
                output::out_json(&users)?;
            } else if !users.is_empty() {
                output::out_stream(|out| {
                    output::text_table(
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
        // A terminal echoes what is pasted: the access code and user secret
        // would stand on the screen and in its scrollback.
        "-" if std::io::stdin().is_terminal() => bail!(
            "--payload - reads standard input, which is a terminal here, where a pasted payload \
             would show its access code and user secret: pipe it in (`… | bankdeck link dapi \
             --payload -`), name a file, or paste it into the dashboard's add form, which hides it"
        ),
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
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("{named} is empty: {what}");
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
                other => crate::cli::context::tell_notice(&other),
            }
        }
    });
    let login = (handle.worker).login_renewing(RequestId(1), provider, user, renew);
    let conn = to_the_end(&handle.worker, login, |e| eyre!("{e}")).await;
    printer.abort();
    let Some(conn) = conn? else {
        return Ok(interrupt::stopped());
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
    let Some(done) = to_the_end(&worker, grant, |e| eyre!("{e}")).await? else {
        return Ok(interrupt::stopped());
    };
    let conn = &done.conn;
    say_user_added(new_user, conn)?;
    // An app token already held is renewed in place (see the worker).
    let what = match (conn.last_op.as_ref().map(|l| l.op), done.by_whom()) {
        (Some(OpKind::Refresh), Some(who)) => format!("token renewed, {who}"),
        (Some(OpKind::Refresh), None) => "token renewed".to_owned(),
        _ => "token issued".to_owned(),
    };
    print_conn(&what, conn, worker.now(), ctx.config.warn_secs())?;
    Ok(ExitCode::SUCCESS)
}
