//! Browser login (placeholder signature while the real listener lands).
use std::time::Duration;

use super::{Provider, TokenGrant};
use crate::domain::OpError;

#[derive(Debug, Clone)]
pub struct LoginOptions {
    pub redirect_port: Option<u16>,
    pub timeout: Duration,
    pub open_browser: bool,
}

pub async fn browser_login(
    _provider: &dyn Provider,
    _opts: LoginOptions,
    _on_url: impl FnOnce(&str) + Send,
) -> Result<TokenGrant, OpError> {
    Err(OpError::not_allowed("browser login is not available yet"))
}
