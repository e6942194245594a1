//! `bankdeck waits`: the waits providers asked for (a 429 or 503 with
//! `Retry-After`) that still hold, and `waits lift` to set one aside.
//!
//! A provider's ask holds for every process on the store, up to a day: a
//! quota that resets overnight is honoured. An operator who knows the
//! provider takes requests again (its support said so, the limit was
//! raised) lifts the wait instead of waiting it out.

use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::commands::wait_line;
use super::context::Context;
use super::output::{WaitRow, out, out_json};
use crate::domain::time::format_left;
use crate::domain::{ProviderWait, UnixTime};

/// Each wait that holds, one `WAIT:` line each (`check`'s and `status`'s
/// words), or `--json` rows; a line saying there is none otherwise.
pub fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let now = UnixTime::now();
    let mut waits = ctx.store.waits().map_err(|e| eyre!("{e}"))?;
    waits.retain(|w| w.holds(now));
    waits.sort_by(|a, b| a.provider.cmp(&b.provider));
    if json {
        let rows: Vec<WaitRow> = waits.iter().map(|w| WaitRow::new(w, now)).collect();
        out_json(&rows)?;
    } else if waits.is_empty() {
        out(format_args!("no provider asks for a wait now\n"))?;
    } else {
        for w in &waits {
            out(format_args!("{}\n", wait_line(w, now)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets aside `provider`'s asked wait for every process, with an audit
/// line. Nothing to lift is no failure: a script may lift to be sure.
pub async fn lift(ctx: &Context, provider: &str, readonly: bool) -> Result<ExitCode> {
    let worker = ctx.worker(readonly)?;
    let (lift, set_aside) = match worker.lift_wait(provider).await {
        Ok(lifted) => lifted,
        Err(e) => bail!("{}", e.message),
    };
    match set_aside {
        Some(was) => out(format_args!(
            "lifted the wait {provider} asked for until {} ({} more: {}): every bankdeck \
             process sends to it again, and a refusal from it asks for the wait anew\n",
            was.until.rfc3339(),
            format_left(lift.heard.secs_until(was.until)),
            was.why
        ))?,
        None => out(format_args!(
            "{}\n",
            ProviderWait::nothing_to_lift(provider)
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}
