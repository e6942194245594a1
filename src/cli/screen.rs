//! Launching the long-running front ends: the dashboard (on the operator's
//! store, or on the demo's) and the sandbox server.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use super::args::Global;
use super::context::Context;
use super::demo;
use crate::config::Config;
use crate::domain::OpKind;
use crate::domain::text::counted;
use crate::sandbox::{SandboxOptions, parse_fault, serve_forever};
use crate::store::Store;
use crate::tui::{self, RunOptions};
use crate::worker::scheduler::{self, Schedule};
use crate::worker::{ProviderEntry, Worker, WorkerOptions};

pub async fn dashboard(global: &Global) -> Result<ExitCode> {
    use std::io::IsTerminal;
    // Checked before anything is opened or made: drawn into a file or a
    // pipe, the screen is escape codes nobody sees.
    if !std::io::stdout().is_terminal() {
        return Err(eyre!(
            "the dashboard needs a terminal, and standard output is not one: run bankdeck in a \
             terminal, or use a subcommand in scripts (bankdeck status, check, refresh; see \
             bankdeck --help)"
        ));
    }
    // A terminal that says it cannot move its cursor (Emacs' shell, a
    // serial console) would show each frame as lines of escape codes.
    if std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return Err(eyre!(
            "the dashboard needs a terminal that can draw a screen, and TERM=dumb says this one \
             cannot: run bankdeck in a full terminal (in Emacs, M-x term or vterm; if this one \
             can, say so, e.g. TERM=xterm-256color bankdeck), or use a subcommand (bankdeck \
             status, check, refresh; see bankdeck --help)"
        ));
    }
    if global.demo {
        let demo = demo::start().await?;
        let _log = super::logging::init(Some(&demo.log_dir()));
        let providers = demo::entries(&demo.config)?;
        let label = format!("demo · {}", demo.data_dir().display());
        let ended = run_screen(&demo.config, demo.store.clone(), providers, label, global).await?;
        return Ok(exit_code(ended));
    }
    let _log = super::logging::init(None);
    let ctx = Context::open(global, crate::store::Access::Create)?;
    let providers = ctx.providers()?;
    let label = ctx.data_dir.display().to_string();
    let ended = run_screen(&ctx.config, ctx.store.clone(), providers, label, global).await?;
    Ok(exit_code(ended))
}

/// Stopped by SIGTERM, the dashboard exits as a command stopped by a signal
/// does, so that `timeout` or a wrapper script can tell it from a `q`.
fn exit_code(ended: tui::Ended) -> ExitCode {
    match ended {
        tui::Ended::Quit => ExitCode::SUCCESS,
        tui::Ended::Stopped => super::interrupt::stopped(),
    }
}

/// The worker, the scheduler (unless read-only) and the screen over them.
async fn run_screen(
    config: &Config,
    store: std::sync::Arc<dyn Store>,
    providers: Vec<ProviderEntry>,
    data_label: String,
    global: &Global,
) -> Result<tui::Ended> {
    let readonly = global.readonly;
    let panic_on = global
        .debug_panic
        .as_deref()
        .map(debug_panic_op)
        .transpose()?;
    let kinds = providers
        .iter()
        .map(|p| (p.config.name.clone(), p.config.kind()))
        .collect();
    // Read-only, no scheduler runs: no row has automatic work to show.
    let schedules = match readonly {
        true => HashMap::new(),
        false => (providers.iter())
            .map(|p| (p.config.name.clone(), Schedule::of(&p.config)))
            .collect(),
    };
    let opts = WorkerOptions {
        readonly,
        panic_on,
        ..WorkerOptions::default()
    };
    let handle = Worker::spawn(store, providers, opts);
    let worker = handle.worker.clone();
    let scheduler = (!readonly).then(|| scheduler::spawn_after_first_load(handle.worker.clone()));
    let run = RunOptions {
        readonly,
        data_label,
        keys: config.keys.clone(),
        warn_secs: config.warn_secs(),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        providers: kinds,
        schedules,
        initial: None,
    };
    let (result, mut after) = tui::run(run, handle.commands, handle.events).await;
    if let Some(s) = scheduler {
        s.abort();
        scheduler::note_ended(&worker).await;
    }
    let abandoned = finish_sent(&worker, &mut after).await;
    match result {
        // As a command whose requests a second Ctrl-C abandoned ends.
        Ok(_) if abandoned => Ok(tui::Ended::Stopped),
        result => result.map_err(|e| eyre!("{e}")),
    }
}

/// However the screen ended (`q`, SIGTERM, the window closed), nothing more
/// is sent, and what was sent is waited for, up to a minute, so that leaving
/// does not drop a token a provider has just rotated; Ctrl-C abandons it.
/// How each ended is then said as the screen's activity pane would have.
/// Whether Ctrl-C abandoned them.
async fn finish_sent(worker: &Worker, after: &mut tui::Afterwards) -> bool {
    let told = async {
        let abandoned = wait_for_sent(worker).await;
        // The outcome of the last one written is told just after; it is
        // read here before the lines are said. Nothing left out lingers.
        if !abandoned && worker.sending() == 0 {
            worker.wait_for_told(TOLD_WITHIN).await;
        }
        abandoned
    };
    let abandoned = after.reading(told).await;
    for line in after.lines() {
        tell!("bankdeck: {line}");
    }
    abandoned
}

/// How long the commands still running once nothing is out have to end
/// (each stops itself: nothing more is sent).
const TOLD_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

async fn wait_for_sent(worker: &Worker) -> bool {
    worker.stop_sending();
    let out = worker.sending();
    if out == 0 {
        return false;
    }
    tell!(
        "bankdeck: waiting for {} already sent to be answered and written (Ctrl-C abandons them)",
        counted(out, "request", "requests")
    );
    let wait = async {
        let left = worker
            .wait_for_sent(std::time::Duration::from_secs(60))
            .await;
        let stored = worker.waiting_for_store();
        if left == 0 || stored == 0 {
            return left;
        }
        tell!(
            "bankdeck: {} not written yet: the store cannot take them (a \
             full disk, or another process holding it); still waiting: free the disk or end that \
             process (Ctrl-C abandons them)",
            counted(stored, "provider answer", "provider answers")
        );
        worker.wait_for_stored().await
    };
    tokio::select! {
        left = wait => {
            if left > 0 {
                worker.record_abandoned().await;
                tell!(
                    "bankdeck: {} still unanswered or unwritten: left behind",
                    counted(left, "request", "requests")
                );
            }
            false
        }
        _ = tokio::signal::ctrl_c() => {
            worker.record_abandoned().await;
            tell!("bankdeck: abandoned");
            true
        }
    }
}

/// `--debug-panic OP`: which operation's task is to panic.
fn debug_panic_op(name: &str) -> Result<OpKind> {
    [
        OpKind::Exchange,
        OpKind::Refresh,
        OpKind::Logout,
        OpKind::Delink,
    ]
    .into_iter()
    .find(|op| op.to_string() == name)
    .ok_or_else(|| eyre!("--debug-panic: expected exchange, refresh, logout or delink"))
}

pub async fn sandbox(
    port: u16,
    faults: &[String],
    write_config: Option<&Path>,
) -> Result<ExitCode> {
    let faults = faults
        .iter()
        .map(|f| parse_fault(f).map_err(|e| eyre!("--fault: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let opts = SandboxOptions {
        faults,
        ..SandboxOptions::default()
    };
    serve_forever(opts, port, |sb| -> Result<Vec<String>> {
        let Some(dir) = write_config else {
            return Ok(Vec::new());
        };
        std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
            // What is there is not a folder (a folder there is no error).
            std::io::ErrorKind::AlreadyExists => eyre!(
                "--write-config: {} is not a folder: name a folder (new or empty) to write the config into",
                dir.display()
            ),
            _ => eyre!("--write-config: cannot create {}: {e}", dir.display()),
        })?;
        let path = demo::write_config(dir, sb, "bankdeck sandbox --write-config")
            .map_err(|e| eyre!("--write-config: {e}"))?;
        Ok(vec![format!(
            "  config   {} (bankdeck --config {0} ...; good while this sandbox runs)",
            path.display()
        )])
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
