//! vault-ci's integration tests: one binary, one module per part of the story.

mod harness;

mod act;
#[cfg(unix)]
mod bitbucket;
#[cfg(unix)]
mod buildkite;
mod compat;
mod deploy_user;
mod diagnostics;
mod dropin;
mod exec;
mod faults;
mod github;
#[cfg(unix)]
mod gitlab;
#[cfg(unix)] // /proc, signals, FIFOs and modes: what these attacks use.
mod hostile;
mod leaks;
mod machine;
mod network;
mod packaging;
mod platforms;
mod providers;
mod refresh;
mod serve;
mod shared_files;
mod sinks;
mod token_endpoints;
mod token_file;
mod trust;
mod usage;
