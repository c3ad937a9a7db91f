//! `--refresh -- COMMAND`: one command gets the endpoint instead of keys, and
//! the endpoint lives exactly as long as the command.

use std::future::Future;
use std::time::Duration;

use tracing::info;

use super::endpoint::{Endpoint, random_token};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::sdk;
use crate::sink::{Output, exec};

/// Serves the credentials to `child` until it exits, refreshing them with
/// `renew`; returns the command's exit status.
pub async fn run<F, Fut>(
    child: &exec::Child,
    first: Output,
    window: Duration,
    renew: F,
) -> Result<Exit>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Output>>,
{
    let endpoint = Endpoint::open(random_token()?).await?;
    // Listening before the command starts: a signal sent as soon as it is up
    // must reach it, not end vault-ci and orphan it.
    let mut signals = crate::signals::Forwarded::new()?;
    // exec::command leaves out every variable the SDKs would read before these.
    let mut command = child.command()?;
    crate::platform::die_with_parent(&mut command);
    command
        .envs(first.region_variables())
        .env(sdk::ENDPOINT_URI, &endpoint.uri)
        .env(sdk::ENDPOINT_TOKEN, endpoint.token.expose());
    let mut child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| exec::start_error(&child.shown(), e))?;
    info!(
        "serving refreshing credentials to the command at {}",
        endpoint.uri
    );
    let status = endpoint
        .serve(first, window, renew, |_handle| async move {
            loop {
                tokio::select! {
                    status = child.wait() => return status,
                    signal = signals.next() => signals.forward(signal, &child),
                }
            }
        })
        .await
        .map_err(|e| Error::sink(format!("lost track of the command: {e}")))?;
    Ok(Exit::of(status))
}
