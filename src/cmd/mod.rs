//! One file per command; what several commands share lives here.

pub mod assume;
pub mod stop;
pub mod token;
pub mod trust_policy;

use std::future::Future;

use crate::error::{Error, Result};
use crate::net::NetConfig;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::sink(format!("cannot start the async runtime: {e}")))
}

/// `work`, or an error once --timeout has passed. The retry loops inside stop
/// short of the deadline rather than start an attempt that cannot finish.
pub async fn within_timeout<T>(
    net: &NetConfig,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let total = net.total_timeout;
    if total.is_zero() {
        // --timeout 0: no limit.
        return work.await;
    }
    let deadline = tokio::time::Instant::now() + total;
    let work = crate::retry::with_deadline(deadline, work);
    tokio::time::timeout_at(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(Error::timeout(format!(
                "gave up after {} s (--timeout): STS or the token endpoint kept failing or did not answer",
                total.as_secs()
            )))
        })
}
