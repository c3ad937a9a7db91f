//! One file per command; what several commands share lives here.

pub mod assume;
pub mod stop;
pub mod token;
pub mod trust_policy;

use crate::error::{Error, Result};

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::sink(format!("cannot start the async runtime: {e}")))
}

pub use crate::net::within_timeout;
