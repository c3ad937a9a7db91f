//! vault-ci's exit status: 0, 1 or 2 for its own outcome, or the command's
//! status under `--`, whole where the OS allows it.

use std::process::{ExitCode, ExitStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

impl Exit {
    pub const SUCCESS: Exit = Exit(0);

    /// A finished command's status, as a shell reports it: its exit code, or
    /// 128 + the signal that ended it.
    pub fn of(status: ExitStatus) -> Exit {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                return Exit(128 + signal);
            }
        }
        Exit(status.code().unwrap_or(1))
    }

    /// Ends the process with this status. Unix keeps 8 bits of it; Windows
    /// keeps all 32, so a crash (0xC0000005) is not reported as a success.
    pub fn finish(self) -> ExitCode {
        match u8::try_from(self.0) {
            Ok(code) => ExitCode::from(code),
            #[cfg(windows)]
            Err(_) => std::process::exit(self.0),
            // A status no shell can show: any failure must stay a failure.
            #[cfg(not(windows))]
            Err(_) => ExitCode::from(match self.0.rem_euclid(256) {
                0 => 1,
                low => low as u8,
            }),
        }
    }
}
