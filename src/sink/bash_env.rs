//! `$BASH_ENV`: CircleCI sources this file before every later step.

use std::path::PathBuf;

use super::{Output, env_target, shell};
use crate::error::Result;

pub fn target() -> Result<PathBuf> {
    env_target(
        "BASH_ENV",
        "--bash-env",
        "CircleCI sets it in every job; elsewhere use --env-file PATH",
    )
}

pub fn render(out: &Output) -> String {
    shell::export_lines(out)
}
