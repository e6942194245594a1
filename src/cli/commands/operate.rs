//! One operation on connections the operator names: `exchange`, `refresh`,
//! `logout` and `delink` of one id or several, and `users disconnect`. Several
//! run in turn, a line each, and a failure does not stop the rest; what cannot
//! be undone asks for the user's name first.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::{named, print_conn, stored};
use crate::cli::args::Target;
use crate::cli::context::Context;
use crate::cli::interrupt::{self, finish_through_interrupt};
use crate::domain::text::counted;
use crate::domain::{
    ConnState, Connection, ConnectionId, Ending, ErrorKind, OpError, OpKind, StateKind, UnixTime,
    Untouched,
};
use crate::worker::{Done, Worker};

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
    // Every id is looked up first, so a mistyped one does nothing at all.
    let conns = (ids.iter())
        .map(|&id| stored(ctx, id))
        .collect::<Result<Vec<_>>>()?;
    // Said once, not once a row, and as the store or config would be: no
    // operation was tried.
    if readonly {
        bail!("{op} failed: read-only mode: nothing may be changed");
    }
    match <[Connection; 1]>::try_from(conns) {
        Ok([conn]) => operate_one(ctx, op, conn, target.yes).await,
        Err(conns) => operate_many(ctx, op, conns, target.yes).await,
    }
}

async fn operate_one(ctx: &Context, op: OpKind, conn: Connection, yes: bool) -> Result<ExitCode> {
    let id = conn.id;
    if matches!(op, OpKind::Logout | OpKind::Delink) && !yes {
        confirm(op, &conn)?;
    }
    let worker = ctx.worker(false)?;
    let began = worker.now();
    say_if_at_work(ctx, op, &conn, began);
    let run = worker.operate_done(op, id);
    let warn = ctx.config.warn_secs();
    // As one of several in turn would end, in the same words and status.
    let after = match finish_through_interrupt(&worker, run).await? {
        (Ok(after), _) => after,
        (Err(e), true) if e.kind == ErrorKind::Cancelled => {
            tell!("{e}");
            return Ok(interrupt::stopped());
        }
        (Err(e), _) if e.ended_meanwhile(op, true) => {
            let now = stored(ctx, id)?;
            let line = format!("{op}: {}", ended_before(&conn, began, &e));
            print_conn(&line, &now, worker.now(), warn)?;
            return Ok(ExitCode::SUCCESS);
        }
        (Err(e), _) => {
            tell!("bankdeck: {op} failed: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let line = done_as(ctx, op, &conn, &after, began);
    print_conn(&line, &after.conn, worker.now(), warn)?;
    Ok(ExitCode::SUCCESS)
}

/// What a logout or delink found done says: "already logged out" when
/// `conn`, as read at `began`, already was; else "ended meanwhile (…)" by
/// another process while this one waited for it.
fn ended_before(conn: &Connection, began: UnixTime, e: &OpError) -> String {
    let was = match ConnState::derive(conn, began, 0).kind() {
        StateKind::LoggedOut => Untouched::LoggedOut,
        StateKind::Delinked => Untouched::Delinked,
        _ => return format!("ended meanwhile ({e})"),
    };
    was.describe().to_owned()
}

/// What the line of a connection `op` was done on begins with: `conn` as
/// it was read at `began`, `after` as the operation left it.
fn done_as(ctx: &Context, op: OpKind, conn: &Connection, after: &Done, began: UnixTime) -> String {
    match Ending::of(conn, began) {
        Ending::ExchangeThenDelink if op == OpKind::Delink => pending_delinked(ctx, conn, began),
        _ => match after.by_whom() {
            Some(who) => format!("{op} {who}"),
            None => format!("{op} done"),
        },
    }
}

/// What the delink of `conn`, its code pending at `began`, did. The worker
/// exchanges such a code first; when Dapi refused it, the row was closed
/// without a call (Dapi issued nothing to end), as the exchange's own line
/// in the log says.
fn pending_delinked(ctx: &Context, conn: &Connection, began: UnixTime) -> String {
    let query = crate::store::AuditQuery {
        connection: Some(conn.id),
        since: Some(began),
        op: Some(OpKind::Exchange),
        limit: 1,
        ..Default::default()
    };
    let refused = (ctx.store.audit_query(&query).ok())
        .and_then(|lines| lines.into_iter().next())
        .filter(|line| !line.ok);
    match refused {
        Some(line) => format!(
            "code not exchanged ({}), so closed without a call to Dapi",
            line.message
        ),
        None => Ending::ExchangeThenDelink.done().to_owned(),
    }
}

/// `refresh 4 7 9` (or exchange, logout, delink): each connection in turn,
/// a line each, as `users disconnect` goes: a failure does not stop the
/// rest, and makes the exit 1. A signal stops what is not sent yet.
async fn operate_many(
    ctx: &Context,
    op: OpKind,
    conns: Vec<Connection>,
    yes: bool,
) -> Result<ExitCode> {
    if matches!(op, OpKind::Logout | OpKind::Delink) && !yes {
        let names: Vec<String> = conns.iter().map(named).collect();
        let count = conns.len().to_string();
        let what = format!("{op} {count} connections: {}", names.join(", "));
        confirm_typed(&what, &count, "the number of connections")?;
    }
    let worker = ctx.worker(false)?;
    let ops: Vec<(OpKind, &Connection)> = conns.iter().map(|c| (op, c)).collect();
    let outcomes = in_turn(
        ctx,
        &worker,
        &ops,
        &op.to_string(),
        |conn, op, outcome, began| match outcome {
            InTurn::Done(after) => print_conn(
                &done_as(ctx, op, conn, &after, began),
                &after.conn,
                worker.now(),
                ctx.config.warn_secs(),
            ),
            InTurn::EndedMeanwhile(e) => {
                Ok(say!("{}: {}", named(conn), ended_before(conn, began, &e))?)
            }
            InTurn::Failed(e) => Ok(say!("{}: {op} failed: {e}", named(conn))?),
        },
    )
    .await?;
    match outcomes {
        None => Ok(interrupt::stopped()),
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(failed) => {
            say!(
                "{} of {} failed: `bankdeck status` shows where each stands",
                failed,
                conns.len()
            )?;
            Ok(ExitCode::from(1))
        }
    }
}

/// How one of several operations run in turn came out.
enum InTurn {
    Done(Box<Done>),
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
        let run = worker.operate_done(op, conn.id);
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
            Err(e) if e.ended_meanwhile(op, true) => {
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
pub(in crate::cli) fn say_if_at_work(ctx: &Context, op: OpKind, conn: &Connection, now: UnixTime) {
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

/// `users disconnect`: each of the user's connections ended as
/// [`Ending`] says, one at a time (a user has a handful), a line each. A
/// failure does not stop the rest; it makes the exit 1.
pub(super) async fn disconnect(
    ctx: &Context,
    name: &str,
    yes: bool,
    readonly: bool,
) -> Result<ExitCode> {
    if readonly {
        bail!("read-only mode: nothing was ended");
    }
    let user = user_named(ctx, name)?;
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
        return say_left_alone(&plan).map(|()| ExitCode::SUCCESS);
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
    say_left_alone(&plan)?;
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
        |c, op, outcome, began| match outcome {
            InTurn::Done(after) => {
                let (now, warn) = (worker.now(), ctx.config.warn_secs());
                let done = match endings[&c.id] {
                    Ending::ExchangeThenDelink => pending_delinked(ctx, c, began),
                    ending => ended(ending, &after.conn, now, warn),
                };
                Ok(say!("  {}: {done}", named(c))?)
            }
            InTurn::EndedMeanwhile(err) => Ok(say!("  {}: ended meanwhile ({err})", named(c))?),
            InTurn::Failed(err) => Ok(say!("  {}: {op} failed: {err}", named(c))?),
        },
    )
    .await?;
    let Some(failed) = outcomes else {
        return Ok(interrupt::stopped());
    };
    if failed > 0 {
        say!(
            "{} not ended: `bankdeck status {}` shows where each stands; run it again once fixed",
            counted(failed, "connection", "connections"),
            crate::cli::output::shell_word(name)
        )?;
        return Ok(ExitCode::from(1));
    }
    say!("{name}: every connection ended")?;
    Ok(ExitCode::SUCCESS)
}

/// The user named `name` exactly. As `users remove` answers: a name in
/// another case is a typo.
fn user_named(ctx: &Context, name: &str) -> Result<crate::domain::User> {
    match ctx.store.user_any_case(name).map_err(|e| eyre!("{e}"))? {
        Some(user) if user.name == name => Ok(user),
        Some(held) => bail!("no user named {name:?}: did you mean {:?}?", held.name),
        None => bail!("no user named {name:?}: `bankdeck users list` shows who exists"),
    }
}

/// A line for each of the user's connections a disconnect leaves as it is,
/// and why.
fn say_left_alone(plan: &[(Connection, Ending)]) -> Result<()> {
    for (c, e) in plan {
        if let Ending::Nothing(why) = e {
            say!("  {}: {}", named(c), why.describe())?;
        }
    }
    Ok(())
}

/// What a disconnect says of a connection `ending` ended, `after` as it
/// now stands: "logged out (access valid 04:59)", the state saying what a
/// logout leaves behind, an access token that still works.
fn ended(ending: &Ending, after: &Connection, now: UnixTime, warn: i64) -> String {
    let done = ending.done();
    let state = ConnState::derive(after, now, warn).describe(now);
    match state.starts_with(done) {
        true => state,
        false => done.to_owned(),
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
