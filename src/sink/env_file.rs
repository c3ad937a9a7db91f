//! An env file of `export` lines, like the `aws-env.sh` a hand-written
//! assume_role.sh writes, but readable only by its owner and replaced
//! atomically: a reader sees the old file or the new one, never half of one.

use std::path::PathBuf;

use super::{Delivery, Order, Sink, shell};
use crate::error::{Error, Result};
use crate::files::{Placed, Replacement, stage_replacement};

pub struct EnvFile {
    path: PathBuf,
    staged: Option<Replacement>,
    placed: Option<Placed>,
}

impl EnvFile {
    pub fn new(path: PathBuf) -> EnvFile {
        EnvFile {
            path,
            staged: None,
            placed: None,
        }
    }

    fn fail(&self, what: &str, e: std::io::Error) -> Error {
        Error::sink(format!(
            "cannot {what} --env-file {}: {e}",
            self.path.display()
        ))
    }
}

impl Sink for EnvFile {
    fn order(&self) -> Order {
        Order::Replace
    }

    fn stage(&mut self, delivery: &Delivery) -> Result<()> {
        // No fsync: the rename is atomic for the next step, which is what matters;
        // an fsync would guard only against power loss, at a millisecond per run.
        let staged = stage_replacement(
            &self.path,
            shell::export_lines(&delivery.variables).as_bytes(),
        )
        .map_err(|e| self.fail("write", e))?;
        self.staged = Some(staged);
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if let Some(staged) = self.staged.take() {
            self.placed = Some(staged.commit().map_err(|e| self.fail("replace", e))?);
        }
        Ok(())
    }

    fn revoke(&mut self) {
        if let Some(placed) = self.placed.take()
            && let Err(e) = placed.undo()
        {
            tracing::warn!("{}", self.fail("put back the old", e).message());
        }
    }
}
