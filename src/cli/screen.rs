//! Launching the screen, the demo and the sandbox (wired when those layers land).

use std::process::ExitCode;

use color_eyre::eyre::{Result, bail};

use super::args::Global;

pub async fn dashboard(_global: &Global) -> Result<ExitCode> {
    bail!("the dashboard is not wired yet")
}

pub async fn sandbox(_port: u16, _faults: &[String]) -> Result<ExitCode> {
    bail!("the sandbox is not wired yet")
}
