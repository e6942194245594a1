//! What the store says, read only: `status` for people and scripts, `check`
//! for monitors (an exit code and the rows needing action within a window).

use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use super::{at_work, kept, named};
use crate::cli::context::Context;
use crate::cli::output::{self, table};
use crate::domain::text::counted;
use crate::domain::{Connection, UnixTime};
use crate::tui::SortKey;

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
        let held = held_by(filter, &kept.conns);
        for w in waits.iter().filter(|w| w.holds(now) && held(w)) {
            tell!("{}", wait_line(w, now));
        }
    }
    let at_work = at_work(ctx, now)?;
    if json {
        let rows = output::StatusRows {
            conns: &kept.conns,
            now,
            warn_secs: warn,
            at_work: &at_work,
        };
        output::out_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<output::TableRow> = (kept.conns.into_iter())
        .map(|c| output::TableRow::new(c, now, warn).at_work(&at_work))
        .collect();
    if !rows.is_empty() {
        // No header over nothing: what is missing was said on stderr, as
        // `users list` does.
        output::out_stream(|out| table(&rows, out))?;
    }
    Ok(ExitCode::SUCCESS)
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
    let (kept, matching) =
        kept(&conns, filter, None, now, ctx.config.warn_secs()).or_refuse("nothing was checked")?;
    let records = ctx.store.renewals().map_err(|e| eyre!("{e}"))?;
    let waits = ctx.store.waits().map_err(|e| eyre!("{e}"))?;
    let held = held_by(filter, &kept);
    let waits = waits.into_iter().filter(|w| held(w)).collect();
    let renewers = crate::cli::check::Renewers::new(records, &conns, now, ctx.config.warn_secs())
        .with_waits(waits, now);
    let found: Vec<(&Connection, crate::cli::check::Reason)> = kept
        .into_iter()
        .filter_map(|c| {
            crate::cli::check::reason(c, &ctx.config, &renewers, now, secs).map(|r| (c, r))
        })
        .collect();
    let code = match found.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    };
    let counts = crate::cli::check::counts(found.iter().map(|(_, r)| r.need));
    if json {
        let warn = ctx.config.warn_secs();
        let report = output::CheckReport {
            ok: found.is_empty(),
            within_secs: secs,
            counts,
            needs_action: output::CheckRows {
                found: &found,
                now,
                warn_secs: warn,
                at_work: &at_work(ctx, now)?,
            },
            renewers: (renewers.records())
                .map(|r| output::RenewerRow::new(r, now))
                .collect(),
            waits: (renewers.waits().iter())
                .map(|w| output::WaitRow::new(w, now))
                .collect(),
        };
        output::out_json(&report)?;
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
    let tally = format!(": {}", crate::cli::check::tally(&counts));
    // Written as one stream: at scale most rows need action, and a flushed
    // write a line was 65 000 system calls.
    output::out_stream(|out| {
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

/// Whether a provider's asked wait bears on the rows a `filter` kept:
/// `check dapi` is not told of the bank's. Without one, every wait does.
fn held_by(
    filter: Option<&str>,
    kept: &[&Connection],
) -> impl Fn(&crate::domain::ProviderWait) -> bool + use<> {
    let providers: Option<std::collections::HashSet<String>> =
        filter.map(|_| kept.iter().map(|c| c.provider.clone()).collect());
    move |w| providers.as_ref().is_none_or(|p| p.contains(&w.provider))
}

/// A line for each provider's asked wait that holds: why a due token is
/// not renewed until it ends, whatever runs.
fn wait_lines(renewers: &crate::cli::check::Renewers, now: UnixTime) -> Vec<String> {
    (renewers.waits().iter())
        .map(|w| wait_line(w, now))
        .collect()
}

pub(in crate::cli) fn wait_line(w: &crate::domain::ProviderWait, now: UnixTime) -> String {
    format!(
        "WAIT: {} asked to be sent nothing until {} ({} more): {}",
        w.provider,
        w.until.rfc3339(),
        crate::domain::time::format_left(now.secs_until(w.until)),
        w.why
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Grant, ProviderKind, ProviderWait};

    /// `check dapi` and `status dapi` say the waits of the rows they show,
    /// not the bank's; unfiltered, every wait.
    #[test]
    fn a_filter_hears_only_the_waits_of_its_rows_providers() {
        let conn = Connection::sample(1, "dapi", ProviderKind::Dapi, Grant::DapiConnect);
        let wait = |p: &str| ProviderWait::asked(p, UnixTime(0), UnixTime(100), "429".into());
        let held = held_by(Some("dapi"), &[&conn]);
        assert!(held(&wait("dapi")));
        assert!(!held(&wait("bank")));
        assert!(held_by(None, &[&conn])(&wait("bank")));
    }
}
