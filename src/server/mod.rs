//! The credentials server: instead of keys, consumers get
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN`,
//! the convention every AWS SDK and both AWS CLIs follow, and credentials that
//! are refreshed before they expire: they outlive a long deploy.
//!
//! - `endpoint`: the HTTP server on 127.0.0.1 and its refresher;
//! - `command`: `--refresh -- COMMAND`, one command for as long as it runs;
//! - `daemon`: `--serve`, every later step of a job, from a background vault-ci.
//!
//! Beside the sinks, not among them: a sink writes the final credentials once;
//! the server keeps them fresh, and hands the sinks its address
//! ([`daemon::Served::delivery`]).

pub mod command;
pub mod daemon;
pub mod endpoint;

pub use daemon::{Limits, Served};
