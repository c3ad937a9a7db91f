//! vault-ci's integration tests: one binary, one module per part of the story.

mod harness;

mod deploy_user;
mod diagnostics;
mod exec;
mod faults;
mod github;
mod leaks;
mod network;
mod packaging;
mod platforms;
mod providers;
mod refresh;
mod sinks;
mod token_file;
mod usage;
