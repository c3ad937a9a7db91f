//! What differs between operating systems, kept small and in one place.

use std::ffi::{OsStr, OsString};

/// The program to start for `-- NAME`. Windows' process API finds only
/// `NAME.exe` on PATH, while npm tools (`npx`, `cdk`) are `NAME.cmd` shims that
/// `cmd` finds through PATHEXT: vault-ci looks the same way.
pub fn program(name: &OsStr) -> OsString {
    #[cfg(windows)]
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let pathext = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
        if let Some(found) = search_pathext(name, &path, &pathext, |p| p.is_file()) {
            return found.into_os_string();
        }
    }
    name.to_os_string()
}

/// `name` as `cmd` would find it: if it has no directory part and no
/// extension, each directory of `path` in order, with each of `pathext`'s
/// extensions in order.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn search_pathext(
    name: &OsStr,
    path: &OsStr,
    pathext: &str,
    exists: impl Fn(&std::path::Path) -> bool,
) -> Option<std::path::PathBuf> {
    let as_path = std::path::Path::new(name);
    let bare = as_path.components().count() == 1 && as_path.extension().is_none();
    if !bare {
        return None;
    }
    for dir in std::env::split_paths(path) {
        for ext in pathext
            .split(';')
            .map(str::trim)
            .filter(|e| e.starts_with('.'))
        {
            let mut file = name.to_os_string();
            file.push(ext.to_ascii_lowercase());
            let candidate = dir.join(&file);
            if exists(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

/// Whether `name` is a program on the environment's PATH.
/// Whether a command (`--`'s program) can be found where starting it would
/// look: the path itself when it names a directory, else PATH (with PATHEXT
/// on Windows); on Unix the file must be executable by someone.
pub fn findable(program: &OsStr, env: &crate::env::Env) -> bool {
    let as_path = std::path::Path::new(program);
    let runnable = |candidate: &std::path::Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            candidate.is_file()
        }
    };
    if as_path.components().count() > 1 {
        return runnable(as_path);
    }
    let path = env.path("PATH").unwrap_or_default();
    #[cfg(windows)]
    {
        let pathext = env.get("PATHEXT").unwrap_or(".COM;.EXE;.BAT;.CMD");
        if search_pathext(program, path.as_os_str(), pathext, |p| p.is_file()).is_some() {
            return true;
        }
    }
    std::env::split_paths(&path).any(|dir| runnable(&dir.join(program)))
}

pub fn on_path(name: &str, env: &crate::env::Env) -> bool {
    let Some(path) = env.path("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(name);
        #[cfg(windows)]
        let candidate = candidate.with_extension("exe");
        candidate.is_file()
    })
}

/// While vault-ci waits for the command, a Ctrl-C or Ctrl-Break goes to the
/// command (every process of the console gets it) and vault-ci stays to pass
/// the command's status on.
#[cfg(windows)]
pub fn outlive_ctrl_c() {
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler,
    };
    unsafe extern "system" fn handler(event: u32) -> windows_sys::core::BOOL {
        // Handled (TRUE) only for the keyboard's events: closing the console
        // or logging off still ends vault-ci.
        (event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT) as windows_sys::core::BOOL
    }
    // SAFETY: registers a handler function with the signature the API expects.
    unsafe {
        SetConsoleCtrlHandler(Some(handler), 1);
    }
}

/// vault-ci's own stdin, stdout and stderr are not inherited by the processes
/// it starts from now on (Windows passes every inheritable handle to a child,
/// not only the standard handles it is given).
#[cfg(windows)]
pub fn keep_std_handles_from_children() {
    use windows_sys::Win32::Foundation::{HANDLE_FLAG_INHERIT, SetHandleInformation};
    use windows_sys::Win32::System::Console::{
        GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };
    for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
        // SAFETY: GetStdHandle has no preconditions; SetHandleInformation on
        // a null or invalid handle fails without effect.
        unsafe {
            let handle = GetStdHandle(which);
            if !handle.is_null() {
                SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0);
            }
        }
    }
}

/// A child that must not outlive vault-ci (the command under `--refresh`,
/// whose credentials vault-ci serves) is killed when vault-ci dies.
#[cfg(target_os = "linux")]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: prctl and getppid are async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // vault-ci died before the line above ran.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_command: &mut std::process::Command) {}

/// Whether the process `pid` still runs.
pub fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with signal 0 only checks for the process.
        let gone = unsafe { libc::kill(pid as libc::pid_t, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        !gone && !zombie(pid)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// A process that has ended but not been reaped still answers kill(2).
#[cfg(unix)]
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// A running process as the system shows it: its program's name (Linux's
/// `comm`, at most 15 bytes) and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub args: Vec<String>,
}

/// The ancestors of `pid`, its parent first, up to but not including init
/// (Linux; elsewhere none): the runner's process tree as the job sees it.
pub fn ancestors(pid: u32) -> Vec<Process> {
    let mut ancestors = Vec::new();
    let mut current = pid;
    while let Some(parent) = parent_of(current).filter(|p| *p > 1) {
        let read = |what: &str| std::fs::read(format!("/proc/{parent}/{what}")).unwrap_or_default();
        ancestors.push(Process {
            pid: parent,
            name: String::from_utf8_lossy(&read("comm"))
                .trim_end()
                .to_string(),
            args: read("cmdline")
                .split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect(),
        });
        // A loop in a table read piecemeal while processes come and go.
        if ancestors.len() > 64 {
            break;
        }
        current = parent;
    }
    ancestors
}

/// The parent of process `pid` (Linux), to watch the job's runner process.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid …; comm may hold spaces and parentheses.
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// No core dump (and no ptrace by other users' processes) of a process whose
/// memory holds credentials.
pub fn not_dumpable() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_DUMPABLE and a constant argument.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    // SAFETY: setrlimit with a valid, fully initialised struct.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
}

/// Creates `path`, which must not exist yet, so that only the user vault-ci
/// runs as can open it: a protected DACL with a single ACE, for that user —
/// what 0600 is on Unix. Without it a new file inherits its directory's ACL,
/// which on a runner lets every local user read it. The DACL is in place from
/// the file's first moment: no other process can open it in between.
#[cfg(windows)]
pub fn create_owner_only(path: &std::path::Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::io::Error;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::FromRawHandle;
    use windows_sys::Win32::Foundation::{
        CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::Security::{
        ACL, ACL_REVISION, AddAccessAllowedAce, GetTokenInformation, InitializeAcl,
        InitializeSecurityDescriptor, PSECURITY_DESCRIPTOR, SE_DACL_PROTECTED, SECURITY_ATTRIBUTES,
        SECURITY_DESCRIPTOR, SetSecurityDescriptorControl, SetSecurityDescriptorDacl, TOKEN_QUERY,
        TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        CREATE_NEW, CreateFileW, DELETE, FILE_ATTRIBUTE_NORMAL, FILE_GENERIC_READ,
        FILE_GENERIC_WRITE, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_WRITE_DATA,
    };
    use windows_sys::Win32::System::SystemServices::SECURITY_DESCRIPTOR_REVISION;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    let failed = |what: &str| {
        let e = Error::last_os_error();
        Error::new(e.kind(), format!("{what}: {e}"))
    };
    // Buffers of u64 for the alignment the structures need; a TOKEN_USER with
    // its SID is under 100 bytes, an ACL with one such ACE under 100.
    let mut user = [0u64; 64];
    let mut acl = [0u64; 32];
    // SAFETY: every pointer handed to the API points into a live local buffer
    // of the size given; the token handle is closed on every path.
    unsafe {
        let mut token: HANDLE = std::ptr::null_mut();
        if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
            return Err(failed("cannot read this process's user"));
        }
        let mut len = 0u32;
        let ok = GetTokenInformation(
            token,
            TokenUser,
            user.as_mut_ptr().cast(),
            std::mem::size_of_val(&user) as u32,
            &mut len,
        );
        CloseHandle(token);
        if ok == 0 {
            return Err(failed("cannot read this process's user"));
        }
        let sid = (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid;
        let dacl = acl.as_mut_ptr().cast::<ACL>();
        if InitializeAcl(dacl, std::mem::size_of_val(&acl) as u32, ACL_REVISION) == 0
            // Read, write, and delete (to be renamed into place); no execute.
            || AddAccessAllowedAce(
                dacl,
                ACL_REVISION,
                FILE_GENERIC_READ | FILE_GENERIC_WRITE | DELETE,
                sid,
            ) == 0
        {
            return Err(failed("cannot make an owner-only ACL"));
        }
        let mut sd: SECURITY_DESCRIPTOR = std::mem::zeroed();
        let psd = (&mut sd as *mut SECURITY_DESCRIPTOR).cast::<core::ffi::c_void>()
            as PSECURITY_DESCRIPTOR;
        if InitializeSecurityDescriptor(psd, SECURITY_DESCRIPTOR_REVISION) == 0
            || SetSecurityDescriptorDacl(psd, 1, dacl, 0) == 0
            || SetSecurityDescriptorControl(psd, SE_DACL_PROTECTED, SE_DACL_PROTECTED) == 0
        {
            return Err(failed("cannot make an owner-only ACL"));
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: psd,
            bInheritHandle: 0,
        };
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        // As std opens for append: every write right but overwriting.
        let access = if append {
            FILE_GENERIC_WRITE & !FILE_WRITE_DATA
        } else {
            GENERIC_READ | GENERIC_WRITE
        };
        let handle = CreateFileW(
            wide.as_ptr(),
            access,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        );
        if handle == INVALID_HANDLE_VALUE {
            return Err(Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_handle(handle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn bare_names_are_found_through_pathext_in_path_order() {
        let dirs = std::env::join_paths(["/a", "/b"]).unwrap();
        let exists = |p: &Path| p == Path::new("/b/npx.cmd") || p == Path::new("/b/npx.exe");
        assert_eq!(
            search_pathext(OsStr::new("npx"), &dirs, ".COM;.EXE;.BAT;.CMD", exists),
            Some(PathBuf::from("/b/npx.exe"))
        );
        assert_eq!(
            search_pathext(OsStr::new("npx"), &dirs, ".CMD", exists),
            Some(PathBuf::from("/b/npx.cmd"))
        );
        assert_eq!(
            search_pathext(OsStr::new("npx.cmd"), &dirs, ".CMD", exists),
            None
        );
        assert_eq!(
            search_pathext(OsStr::new("/b/npx"), &dirs, ".CMD", exists),
            None
        );
        assert_eq!(
            search_pathext(OsStr::new("git"), &dirs, ".EXE", exists),
            None
        );
    }
}
