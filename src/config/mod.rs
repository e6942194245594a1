//! Configuration: layered TOML, every key checked, secrets only by reference.
//!
//! This layer sits just above `domain`: it reads files but talks to no
//! provider. `config.example.toml` at the top of the repository documents
//! every key; its test keeps it loadable.

mod load;
pub mod model;
pub mod secret_ref;

pub use load::checks::{PROVIDER_NAME_RULE, check_transport, is_loopback, is_provider_name};
pub use load::{ConfigError, config_path, load, parse_layers};
pub use model::*;
pub use secret_ref::{KeptSecret, SecretRef};

#[cfg(test)]
mod tests;
