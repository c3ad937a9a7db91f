//! Runs the command after `--` with the credentials in its environment, like
//! `aws-vault exec`. On Unix vault-ci replaces itself with the command (execvp),
//! so signals reach it directly and its exit status is the job's; on Windows
//! it runs the command as a child and passes its exit code on.

use std::ffi::OsString;
use std::process::Command;

use super::Delivery;
use crate::error::{Error, Kind, Result};
use crate::exit::Exit;

/// The command after `--` and what its environment goes without.
#[derive(Debug, Clone)]
pub struct Child {
    pub argv: Vec<OsString>,
    /// Variables removed besides the SDKs' credential settings
    /// ([`crate::sdk::credential_variables`]): the CIs' token variables, so a
    /// build script cannot mint roles of its own (the plan says which).
    pub withheld: Vec<String>,
}

impl Child {
    pub fn new(argv: Vec<OsString>, withheld: Vec<String>) -> Child {
        Child { argv, withheld }
    }

    pub fn is_empty(&self) -> bool {
        self.argv.is_empty()
    }

    /// The command, without the variables that would make it use other
    /// credentials than the ones vault-ci gives it, or mint its own.
    pub fn command(&self) -> Result<Command> {
        let (program, args) = self
            .argv
            .split_first()
            .ok_or_else(|| Error::usage("no command after `--`"))?;
        let mut command = Command::new(crate::platform::program(program));
        command.args(args);
        for name in crate::sdk::credential_variables() {
            command.env_remove(name);
        }
        for name in &self.withheld {
            command.env_remove(name);
        }
        tracing::debug!("running {}", program.to_string_lossy());
        Ok(command)
    }

    pub fn shown(&self) -> String {
        shown(&self.argv)
    }
}

pub fn run(child: &Child, delivery: &Delivery) -> Result<Exit> {
    let mut command = child.command()?;
    command.envs(delivery.variables.iter().map(|(name, value)| (name, value)));
    run_command(command, &child.shown())
}

pub fn shown(argv: &[OsString]) -> String {
    argv.first()
        .map(|p| crate::text::one_line(&p.to_string_lossy()).into_owned())
        .unwrap_or_default()
}

#[cfg(unix)]
fn run_command(mut command: Command, shown: &str) -> Result<Exit> {
    use std::os::unix::process::CommandExt;
    // exec only returns on failure.
    let err = command.exec();
    Err(start_error(shown, err))
}

#[cfg(not(unix))]
fn run_command(mut command: Command, shown: &str) -> Result<Exit> {
    let mut child = command.spawn().map_err(|e| start_error(shown, e))?;
    // Ctrl-C reaches every process of the console: the command decides what to
    // do with it, and vault-ci waits to pass its status on.
    crate::platform::outlive_ctrl_c();
    let status = child
        .wait()
        .map_err(|e| Error::sink(format!("lost track of `{shown}`: {e}")))?;
    Ok(Exit::of(status))
}

pub fn start_error(shown: &str, err: std::io::Error) -> Error {
    match err.kind() {
        std::io::ErrorKind::NotFound => Error::new(
            Kind::Exec(127),
            format!("cannot run `{shown}`: command not found; is it installed and on PATH?"),
        ),
        std::io::ErrorKind::PermissionDenied => Error::new(
            Kind::Exec(126),
            format!("cannot run `{shown}`: permission denied; is it executable?"),
        ),
        _ => Error::new(Kind::Exec(126), format!("cannot run `{shown}`: {err}")),
    }
}
