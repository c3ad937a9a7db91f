//! An env file of `export` lines, like the `aws-env.sh` a hand-written
//! assume_role.sh writes, but readable only by its owner and replaced
//! atomically: a reader sees the old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::{Output, shell};
use crate::error::{Error, Result};

pub struct Staged {
    temp: NamedTempFile,
    path: PathBuf,
}

/// Writes the new content next to the target (same filesystem, so the final
/// rename is atomic) without touching the target yet.
pub fn stage(path: &Path, out: &Output) -> Result<Staged> {
    let fail =
        |e: std::io::Error| Error::sink(format!("cannot write --env-file {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates the file 0600 on Unix, before any secret is written to it.
    let mut temp = tempfile::Builder::new()
        .prefix(".vault-ci-")
        .tempfile_in(dir)
        .map_err(fail)?;
    // No fsync: the rename is atomic for the next step, which is what matters; an
    // fsync would guard only against power loss, at a millisecond per run.
    temp.write_all(shell::export_lines(out).as_bytes())
        .map_err(fail)?;
    Ok(Staged {
        temp,
        path: path.to_path_buf(),
    })
}

impl Staged {
    pub fn commit(self) -> Result<()> {
        self.temp.persist(&self.path).map_err(|e| {
            Error::sink(format!(
                "cannot replace --env-file {}: {}",
                self.path.display(),
                e.error
            ))
        })?;
        Ok(())
    }
}
