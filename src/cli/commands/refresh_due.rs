//! `refresh --due`: every token due within a window, through the worker's
//! bulk refresh as the screen's `R` runs it, for cron, where nobody has the
//! dashboard open. It counts what it heard and the reasons refreshes failed.

use std::collections::HashMap;
use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::{at_work, kept, named};
use crate::cli::context::Context;
use crate::cli::interrupt::finish_through_interrupt;
use crate::domain::filter::FilterTerms;
use crate::domain::text::{counted, nonzero_counts};
use crate::domain::{ConnectionId, DueForRefresh, ErrorKind, OpKind, Renewal, UnixTime};
use crate::worker::{Command, DoneBy, Event, NextTry, RequestId, WorkerOptions};

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
    let (kept, matching) = kept(&conns, filter, None, now, ctx.config.warn_secs())
        .or_refuse("nothing was refreshed")?;
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
    let ran = Renewal::RefreshDue {
        at: now,
        providers: ctx.config.providers.keys().cloned().collect(),
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
    let (tally, stopped) = bulk(ctx, ids, &names).await?;
    let Tally {
        refreshed,
        elsewhere,
        failed,
        ended,
        ref reasons,
    } = tally;
    let tail = nonzero_counts(&[
        (elsewhere, "of them by another process meanwhile"),
        (failed, "failed"),
        (ended, "ended meanwhile"),
        (skipped, "left out"),
    ]);
    let mut counts =
        format!("refreshed {refreshed} of {total}{matching} due within {window}{tail}");
    let unsent = total - refreshed - failed - ended;
    // A signal that came while the last answers were awaited stopped
    // nothing: every row was done, and the run ends as any other.
    if stopped && unsent > 0 {
        say!("stopped: {counts}, {unsent} not sent")?;
        say_reasons(reasons)?;
        return Ok(crate::cli::interrupt::stopped());
    }
    note_ran();
    // Left unsent by a provider that asked for a longer wait than the run
    // gives it (its notice said so): due tokens left to lapse, as failures are.
    counts.push_str(&nonzero_counts(&[(unsent, "not sent")]));
    if quiet && failed + skipped + unsent == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    say!("{counts}")?;
    say_reasons(reasons)?;
    Ok(outcome(failed + unsent))
}

/// Refreshes `ids` as one bulk, through Ctrl-C and SIGTERM, saying each
/// failure as it is heard: what was heard, and whether a signal stopped it.
async fn bulk(
    ctx: &Context,
    ids: Vec<ConnectionId>,
    names: &HashMap<ConnectionId, String>,
) -> Result<(Tally, bool)> {
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
                Some(event) = handle.events.recv() => tally.take(event, names)?,
                () = &mut run => break,
            }
        }
        // What the bulk said last is still queued.
        while let Ok(event) = handle.events.try_recv() {
            tally.take(event, names)?;
        }
        Ok::<_, color_eyre::Report>(())
    };
    let (ran, stopped) = finish_through_interrupt(&worker, bulk).await?;
    ran?;
    Ok((tally, stopped))
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

/// What `refresh --due` has heard of its bulk so far.
#[derive(Default)]
struct Tally {
    refreshed: usize,
    /// Of those refreshed, how many another process did while this run
    /// waited for its lease: nothing of this run's was sent for them.
    elsewhere: usize,
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
            Event::Succeeded { by, .. } => {
                self.refreshed += 1;
                self.elsewhere += usize::from(by != DoneBy::This);
            }
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
                if error.ended_meanwhile(OpKind::Refresh, false) {
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
            other => crate::cli::context::tell_notice(&other),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OpError, OpKind};

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
}
