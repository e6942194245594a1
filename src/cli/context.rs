//! Everything a command needs, built once from the global flags: the
//! configuration, the store, the provider clients and the worker over them.

use std::path::PathBuf;
use std::sync::Arc;

use color_eyre::eyre::{Result, WrapErr, eyre};

use super::args::Global;
use crate::config::{self, Config};
use crate::store::{self, Access, Store};
use crate::worker::{Event, ProviderEntry, Worker, WorkerHandle, WorkerOptions};

pub struct Context {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub data_dir: PathBuf,
}

impl Context {
    /// The config and the store, opened as `access` says; `--readonly`
    /// opens every store for reading.
    pub fn open(global: &Global, access: Access) -> Result<Context> {
        Ok(Context::open_after(global, access, |_| Ok(()))?.0)
    }

    /// As [`Context::open`], with `check` run on the config first: a command
    /// that makes the store (and its key) on first use refuses what it was
    /// given before there is anything to make, not after.
    pub fn open_after<T>(
        global: &Global,
        access: Access,
        check: impl FnOnce(&Config) -> Result<T>,
    ) -> Result<(Context, T)> {
        let config = config::load(global.config.as_deref()).map_err(|e| eyre!("{e}"))?;
        let checked = check(&config)?;
        let access = match global.readonly {
            true => Access::Read,
            false => access,
        };
        let opened = store::open(global.data_dir.as_deref(), access)
            .map_err(|e| eyre!("{e}"))
            .wrap_err("cannot open the store")?;
        let ctx = Context {
            config,
            store: opened.store,
            data_dir: opened.data_dir,
        };
        Ok((ctx, checked))
    }

    /// Provider clients for every configured provider. A provider that cannot
    /// be built (unreadable `ca_file`…) is an error now, not at first use.
    pub fn providers(&self) -> Result<Vec<ProviderEntry>> {
        self.config
            .providers
            .values()
            .map(|cfg| {
                let client = crate::providers::build(cfg)
                    .map_err(|e| eyre!("provider '{}': {e}", cfg.name))?;
                Ok(ProviderEntry {
                    client,
                    config: cfg.clone(),
                })
            })
            .collect()
    }

    /// A worker for one command, which prints its own result: of the
    /// events, only notices are said (on stderr, as they come).
    pub fn worker(&self, readonly: bool) -> Result<Worker> {
        let opts = WorkerOptions {
            readonly,
            ..WorkerOptions::default()
        };
        let mut handle = self.spawn_worker(opts)?;
        tokio::spawn(async move {
            while let Some(event) = handle.events.recv().await {
                tell_notice(&event);
            }
        });
        Ok(handle.worker)
    }

    pub fn spawn_worker(&self, opts: WorkerOptions) -> Result<WorkerHandle> {
        Ok(Worker::spawn(self.store.clone(), self.providers()?, opts))
    }
}

/// Says a worker's notice (a write the store cannot take yet, a panic
/// caught) on stderr, where a command without a screen says such things.
pub fn tell_notice(event: &Event) {
    if let Event::Notice { message } = event {
        tell!("{message}");
    }
}
