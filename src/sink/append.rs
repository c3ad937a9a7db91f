//! One append to a file that other programs read and may append to as well
//! ($GITHUB_ENV, $GITHUB_OUTPUT, $BASH_ENV): opened when staged, written in a
//! single call when committed, and taken back, if a later sink fails, by
//! appending a retraction — never by truncating.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct Append {
    path: PathBuf,
    /// How the destination is named in messages: `$GITHUB_ENV`.
    name: &'static str,
    file: Option<File>,
    text: String,
    /// Ends an entry a failed write left open.
    closer: String,
    /// Undoes the entry for the file's readers (`NAME=` lines, `unset …`).
    retraction: String,
    written: usize,
}

impl Append {
    pub fn new(path: &Path, name: &'static str) -> Append {
        Append {
            path: path.to_path_buf(),
            name,
            file: None,
            text: String::new(),
            closer: String::new(),
            retraction: String::new(),
            written: 0,
        }
    }

    fn fail(&self, e: std::io::Error) -> Error {
        Error::sink(format!(
            "cannot append to {} ({}): {e}",
            self.name,
            self.path.display()
        ))
    }

    pub fn stage(&mut self, text: String, closer: String, retraction: String) -> Result<()> {
        let file = crate::files::open_append(&self.path).map_err(|e| self.fail(e))?;
        self.file = Some(file);
        self.text = text;
        self.closer = closer;
        self.retraction = retraction;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let bytes = self.text.as_bytes();
        while self.written < bytes.len() {
            match file.write(&bytes[self.written..]) {
                Ok(0) => {
                    return Err(self.fail(std::io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }

    pub fn revoke(&mut self) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if self.written == 0 {
            return;
        }
        let mut undo = String::new();
        if self.written < self.text.len() {
            undo.push_str(&self.closer);
        }
        undo.push_str(&self.retraction);
        let _ = file.write_all(undo.as_bytes());
    }
}
