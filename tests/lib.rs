//! vault-ci's integration tests: one binary, one module per part of the story.

mod harness;

mod deploy_user;
mod exec;
mod github;
mod network;
mod sinks;
mod token_file;
mod usage;
