//! The command line: the front end for scripts, cron and monitoring, and the
//! launcher of the screen. It drives the same worker and store as the screen.

mod access_token;
mod archive;
pub mod args;
mod check;
mod commands;
mod context;
pub mod demo;
pub mod generate;
mod interrupt;
pub mod logging;
pub mod output;
mod screen;
mod waits;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use color_eyre::eyre::{Result, bail};

use crate::domain::{ConnectionId, Grant, OpKind};
use crate::store::Access;
use args::{Cli, Cmd};
use context::Context;

/// The process entry point. Errors print as one clear message and exit 2;
/// 1 is kept for an operation that failed and for `check` finding something.
pub fn main() -> ExitCode {
    cap_malloc_arenas();
    install_hooks();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tell!("bankdeck: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            tell!("bankdeck: {e:#}");
            match e.downcast_ref::<interrupt::Abandoned>() {
                Some(_) => interrupt::stopped(),
                None => ExitCode::from(2),
            }
        }
    };
    output::ending(code)
}

/// color-eyre's panic report, and an error report that is the chain of
/// causes alone, which is all an error here prints. color-eyre's own report
/// captured a backtrace for every error while `RUST_BACKTRACE` was set, as
/// it is in many a developer's shell: resolving its symbols took 0.1 s and
/// 120 MB for a one-line "cannot open the store", and no message showed it.
fn install_hooks() {
    let (panic, _) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    panic.install();
    let _ = color_eyre::eyre::set_hook(Box::new(|_| Box::new(Causes)));
}

struct Causes;

impl color_eyre::eyre::EyreHandler for Causes {
    fn debug(
        &self,
        error: &(dyn std::error::Error + 'static),
        f: &mut std::fmt::Formatter<'_>,
    ) -> std::fmt::Result {
        for (n, e) in color_eyre::eyre::Chain::new(error).enumerate() {
            let sep = if n == 0 { "" } else { ": " };
            write!(f, "{sep}{e}")?;
        }
        Ok(())
    }
}

/// glibc gives each thread that contends for `malloc` an arena of its own,
/// up to eight per core, and keeps the memory each arena has touched. The
/// store's calls run on tokio's blocking threads, dozens of them during a
/// bulk refresh: after one of 14 000 rows the dashboard stayed at 150 MB
/// resident, against 124 MB with two arenas, with no change in refresh
/// throughput that the noise let through. An operator's own
/// `MALLOC_ARENA_MAX` still wins.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator tunable, and no other
        // thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// The command line as completions offer it: without what `--help` hides
/// (`generate`, `--debug-panic`). clap_complete walks every subcommand and
/// argument, hidden or not, and a `clap::Command` cannot drop one, so the
/// root is put together again from its own visible parts.
fn offered() -> clap::Command {
    let full = Cli::command();
    let args = (full.get_arguments()).filter(|a| !a.is_hide_set());
    let subcommands = (full.get_subcommands()).filter(|c| !c.is_hide_set());
    clap::Command::new("bankdeck")
        .version(env!("CARGO_PKG_VERSION"))
        .args(args.cloned())
        .subcommands(subcommands.cloned())
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let global = cli.global;
    let Some(command) = cli.command else {
        return screen::dashboard(&global).await;
    };
    if global.demo {
        // Its throw-away store is the dashboard's alone: a command would act
        // on the real one, which is what --demo promises not to touch.
        color_eyre::eyre::bail!(
            "--demo opens the dashboard on a throw-away store and takes no command: run \
             `bankdeck --demo` alone, or the command without --demo (it acts on your store)"
        );
    }
    let _log = logging::init(None);
    let ro = global.readonly;
    match command {
        Cmd::Completions { shell } => {
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut offered(), "bankdeck", &mut script);
            output::out_bytes(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Sandbox {
            port,
            faults,
            write_config,
        } => screen::sandbox(port, &faults, write_config.as_deref()).await,
        Cmd::Generate { connections, users } => {
            let access = if ro { Access::Read } else { Access::Create };
            let opened = crate::store::open(global.data_dir.as_deref(), access)
                .map_err(|e| color_eyre::eyre::eyre!("cannot open the store: {e}"))?;
            generate::run(&*opened.store, connections, users)
                .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config { action } => {
            let cfg = crate::config::load(global.config.as_deref())
                .map_err(|e| color_eyre::eyre::eyre!("{e}"))?;
            commands::config_check(&cfg, &action, global.data_dir.as_deref())
        }
        Cmd::Status { filter, sort, json } => commands::status(
            &Context::open(&global, Access::Read)?,
            filter.as_deref(),
            sort.map(Into::into),
            json,
        ),
        Cmd::Check {
            filter,
            within,
            json,
            quiet,
        } => {
            let within = commands::parse_within(within.as_deref())?;
            let ctx = Context::open(&global, Access::Read)?;
            commands::check(&ctx, filter.as_deref(), within, json, quiet)
        }
        Cmd::Audit {
            action: Some(args::AuditCmd::Archive { older_than, to }),
            ..
        } => archive::run(&global, &older_than, &to).await,
        Cmd::Audit {
            action: None,
            json,
            connection,
            matching,
            limit,
            since,
            failed,
            op,
        } => {
            let query = audit_query(connection, since.as_deref(), failed, op, limit)?;
            let ctx = Context::open(&global, Access::Read)?;
            commands::audit(&ctx, json, query, matching.as_deref())
        }
        Cmd::Waits { action: None, json } => {
            waits::list(&Context::open(&global, Access::Read)?, json)
        }
        Cmd::Waits {
            action: Some(args::WaitsCmd::Lift { provider }),
            ..
        } => waits::lift(&Context::open(&global, Access::Write)?, &provider, ro).await,
        Cmd::Users { action } => {
            // Listing reads, as `status` does: it must not create a store
            // (and a key) where none was meant to be. Only adding one makes it.
            let access = match action {
                args::UsersCmd::List { .. } => Access::Read,
                args::UsersCmd::Add { .. } => Access::Create,
                _ => Access::Write,
            };
            commands::users(&Context::open(&global, access)?, action, ro).await
        }
        Cmd::Link { kind } => {
            let (ctx, plan) =
                Context::open_after(&global, Access::Create, |c| commands::plan_link(c, kind))?;
            commands::link(&ctx, plan, ro).await
        }
        Cmd::Login {
            provider,
            user,
            no_browser,
            renew,
        } => {
            let (ctx, ()) = Context::open_after(&global, Access::Create, |c| {
                commands::check_grant_provider(c, &provider, Grant::AuthorizationCode)
            })?;
            let renew = renew.map(ConnectionId);
            commands::login(&ctx, &provider, &user, renew, no_browser, ro).await
        }
        Cmd::Token { provider, user } => {
            let (ctx, ()) = Context::open_after(&global, Access::Create, |c| {
                commands::check_grant_provider(c, &provider, Grant::ClientCredentials)
            })?;
            commands::token(&ctx, &provider, &user, ro).await
        }
        Cmd::Exchange(args) => {
            let t = args::Target {
                connections: args.connections,
                yes: args.yes,
            };
            operate(&global, OpKind::Exchange, t, ro).await
        }
        Cmd::Refresh(args) => refresh(&global, args, ro).await,
        Cmd::AccessToken {
            connection,
            min_valid,
            json,
            reveal,
        } => {
            let min_valid = match min_valid {
                Some(text) => commands::duration("min-valid", &text, "5m")?,
                None => access_token::DEFAULT_MIN_VALID,
            };
            let ctx = Context::open(&global, Access::Write)?;
            let id = crate::domain::ConnectionId(connection);
            let print = access_token::Printed { json, reveal };
            access_token::access_token(&ctx, id, min_valid, print, ro).await
        }
        Cmd::Logout(t) => operate(&global, OpKind::Logout, t, ro).await,
        Cmd::Delink(t) => operate(&global, OpKind::Delink, t, ro).await,
    }
}

/// What `audit`'s flags ask of the log, `--since` read before the store is
/// opened, so a typo is the error shown.
fn audit_query(
    connection: Option<i64>,
    since: Option<&str>,
    failed: bool,
    op: Option<OpKind>,
    limit: u64,
) -> Result<crate::store::AuditQuery> {
    let since = (since.map(|s| commands::duration("since", s, "1h"))).transpose()?;
    Ok(crate::store::AuditQuery {
        connection: connection.map(ConnectionId),
        among: None,
        since: since.map(|d| crate::domain::UnixTime::now().minus(d)),
        failed_only: failed,
        op,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    })
}

/// `exchange`, `refresh`, `logout` or `delink` of the connections named.
async fn operate(
    global: &args::Global,
    op: OpKind,
    target: args::Target,
    readonly: bool,
) -> Result<ExitCode> {
    let ctx = Context::open(global, Access::Write)?;
    commands::operate(&ctx, op, target, readonly).await
}

/// `refresh`: of the connections named, or of every one due (`--due`);
/// naming neither is told how to name one.
async fn refresh(global: &args::Global, args: args::RefreshArgs, ro: bool) -> Result<ExitCode> {
    match args.connections {
        connections if !connections.is_empty() && !args.due => {
            let t = args::Target {
                connections,
                yes: args.yes,
            };
            operate(global, OpKind::Refresh, t, ro).await
        }
        _ => {
            if !args.due {
                match args.within {
                    Some(_) => {
                        bail!("--within is the window of --due: write `refresh --due --within 10m`")
                    }
                    None => bail!(
                        "which connection? Name one (`refresh 12`, ids as `status` lists \
                         them), or refresh every one due with `refresh --due`"
                    ),
                }
            }
            let within = commands::parse_within(args.within.as_deref())?;
            let ctx = Context::open(global, Access::Write)?;
            let matching = args.matching.as_deref();
            commands::refresh_due(&ctx, within, matching, args.quiet, ro).await
        }
    }
}
