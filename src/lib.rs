//! vault-ci's modules, as a library for the `vault-ci` binary (`main.rs`), its
//! tests and the fuzz targets under `fuzz/`. It is not a stable API: anything
//! here may change in any release.
//!
//! identity (CI OIDC token or static keys) → hops (STS) → sinks, or a server
//! that keeps the credentials fresh.

pub mod arn;
pub mod cli;
pub mod cmd;
pub mod env;
pub mod error;
pub mod exit;
pub(crate) mod files;
pub(crate) mod hop;
pub(crate) mod identity;
pub(crate) mod ini;
pub(crate) mod job;
pub mod net;
pub(crate) mod partition;
pub(crate) mod plan;
pub mod platform;
pub(crate) mod retry;
pub(crate) mod sdk;
pub mod secret;
pub mod server;
pub(crate) mod signals;
pub mod sink;
pub mod text;
pub(crate) mod time;
pub mod token;
pub mod trust;
pub(crate) mod validate;
pub mod workflow;
