//! Launching the long-running front ends: the dashboard (with or without the
//! demo) and the sandbox server.

use std::process::ExitCode;

use color_eyre::eyre::{Result, bail, eyre};

use super::args::Global;
use crate::sandbox::{SandboxOptions, parse_fault, serve_forever};

pub async fn dashboard(_global: &Global) -> Result<ExitCode> {
    bail!("the dashboard is not wired yet")
}

pub async fn sandbox(port: u16, faults: &[String]) -> Result<ExitCode> {
    let faults = faults
        .iter()
        .map(|f| parse_fault(f).map_err(|e| eyre!("--fault: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let opts = SandboxOptions {
        faults,
        ..SandboxOptions::default()
    };
    serve_forever(opts, port).await?;
    Ok(ExitCode::SUCCESS)
}
