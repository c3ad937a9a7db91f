//! Reading files a user points vault-ci at (a token file, a CA bundle, a
//! policy): only regular files, and only so much of them. A FIFO would block
//! forever and `/dev/zero` would never end; both are refused at once.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The file's contents, if it is a regular file of at most `limit` bytes.
pub fn read_capped(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let file = open_without_blocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a FIFO, a device or a directory)",
        ));
    }
    if meta.len() > limit as u64 {
        return Err(too_large(limit));
    }
    let mut contents = Vec::with_capacity(meta.len() as usize);
    file.take(limit as u64 + 1).read_to_end(&mut contents)?;
    if contents.len() > limit {
        return Err(too_large(limit));
    }
    Ok(contents)
}

/// As [`read_capped`], as UTF-8 text.
pub fn read_text(path: &Path, limit: usize) -> io::Result<String> {
    String::from_utf8(read_capped(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn too_large(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("it is larger than {limit} bytes"),
    )
}

/// Opening a FIFO for reading waits for a writer; O_NONBLOCK does not, and
/// changes nothing for a regular file.
#[cfg(unix)]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

/// Whether `path` is this process's stdout or stderr (`/dev/stdout`, a
/// `/proc/self/fd/1`, or the very file a `>` redirection opened).
#[cfg(unix)]
pub fn is_own_output(path: &Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(path) else {
        return false;
    };
    let same = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map(File::from)
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
    };
    same(std::io::stdout().as_fd()) || same(std::io::stderr().as_fd())
}

#[cfg(not(unix))]
pub fn is_own_output(_path: &Path) -> bool {
    false
}

/// Creates a new file, owner-only, that must not exist yet and is not reached
/// through a symbolic link (O_EXCL, O_NOFOLLOW): for files of the run's own.
pub fn create_private(path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    }
    #[cfg(windows)]
    {
        crate::platform::create_owner_only(path, false)
    }
}

/// Opens a file to append to, creating it owner-only (0600 on Unix) when it is
/// new. A FIFO or device is written through as it is.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking only to open: a FIFO without a reader is an error, not a hang.
        options.mode(0o600).custom_flags(libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        // An existing file is appended to as it is; a new one is owner-only.
        match OpenOptions::new().append(true).open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match crate::platform::create_owner_only(path, true) {
                    // Another process created it in between: append to theirs.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    other => return other,
                }
            }
            other => return other,
        }
    }
    let file = options.open(path);
    // A FIFO or socket that nobody reads: ENXIO, with O_NONBLOCK.
    #[cfg(unix)]
    let file = file.map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => io::Error::new(
            e.kind(),
            "nothing reads it (a FIFO or socket without a reader)",
        ),
        _ => e,
    });
    let file = file?;
    #[cfg(unix)]
    blocking(&file)?;
    Ok(file)
}

#[cfg(unix)]
fn blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a file descriptor this function's caller owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// New contents for a file, staged next to it and put in place in one step:
/// a reader sees the old file or the new one, never half of one, and the
/// staged contents are private (0600) from the first byte.
///
/// On Linux the staged file has no name until it is put in place (O_TMPFILE),
/// so not even SIGKILL can leave a copy of the credentials behind. A
/// destination that is not a regular file (a FIFO, a terminal), or is one
/// some process holds open (`/dev/stdout`, `/dev/fd/N`), is written through
/// and appended to, never replaced; a symlink to a regular file keeps
/// pointing at it.
pub struct Replacement {
    target: std::path::PathBuf,
    how: How,
    before: Before,
}

/// What a replaced file held, to put it back if a later destination fails.
enum Before {
    Nothing,
    Contents(Vec<u8>),
    /// Written through, or not readable: what is done stays done.
    Unknown,
}

/// The most of a file's old contents kept to put back.
const KEPT: usize = 1 << 20;

enum How {
    Through(Vec<u8>),
    Named(tempfile::NamedTempFile),
    #[cfg(target_os = "linux")]
    Unnamed(File),
}

pub fn stage_replacement(path: &Path, contents: &[u8]) -> io::Result<Replacement> {
    use std::io::Write;
    let target = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() || names_an_open_file(path) => {
            return Ok(Replacement {
                target: path.to_path_buf(),
                how: How::Through(contents.to_vec()),
                before: Before::Unknown,
            });
        }
        // A symlink to a regular file: the file it points at gets the contents.
        Ok(_) if path.is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let before = match read_capped(&target, KEPT) {
        Ok(old) => Before::Contents(old),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Before::Nothing,
        Err(_) => Before::Unknown,
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    #[cfg(target_os = "linux")]
    if let Some(mut file) = unnamed_in(&dir) {
        file.write_all(contents)?;
        return Ok(Replacement {
            target,
            how: How::Unnamed(file),
            before,
        });
    }
    // tempfile creates the file 0600 on Unix, before anything is written to it;
    // on Windows it gets an owner-only ACL as it is created.
    let builder = {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".vault-ci-");
        builder
    };
    #[cfg(not(windows))]
    let mut temp = builder.tempfile_in(&dir)?;
    #[cfg(windows)]
    let mut temp = builder.make_in(&dir, |path| crate::platform::create_owner_only(path, false))?;
    temp.write_all(contents)?;
    Ok(Replacement {
        target,
        how: How::Named(temp),
        before,
    })
}

impl Replacement {
    /// Puts the contents in place, keeping what was there to [`Placed::undo`].
    pub fn commit(self) -> io::Result<Placed> {
        use std::io::Write;
        match self.how {
            // Appended: a log that stdout appends to keeps what it holds.
            How::Through(contents) => open_append(&self.target)?.write_all(&contents)?,
            How::Named(temp) => persist(temp, &self.target)?,
            #[cfg(target_os = "linux")]
            How::Unnamed(file) => link_into_place(&file, &self.target)?,
        }
        Ok(Placed {
            target: self.target,
            before: self.before,
        })
    }
}

/// Contents put in place, and what the file held before.
pub struct Placed {
    target: std::path::PathBuf,
    before: Before,
}

impl Placed {
    /// After a later destination failed: the file as it was, or no file if
    /// there was none. What was written through (a FIFO, stdout) stays written.
    pub fn undo(self) -> io::Result<()> {
        match self.before {
            Before::Nothing => std::fs::remove_file(&self.target),
            Before::Contents(old) => stage_replacement(&self.target, &old)?.commit().map(drop),
            Before::Unknown => Ok(()),
        }
    }
}

/// `/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/1`: a name, through /proc, for
/// a file a process holds open. Replacing the file it leads to would replace,
/// say, the log stdout appends to, under its writer.
fn names_an_open_file(path: &Path) -> bool {
    let mut current = path.to_path_buf();
    for _ in 0..8 {
        if current.starts_with("/proc") || current.starts_with("/dev/fd") {
            return true;
        }
        match std::fs::read_link(&current) {
            Ok(target) => {
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[cfg(not(windows))]
fn persist(temp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    temp.persist(target).map(drop).map_err(|e| e.error)
}

/// Windows refuses to replace a file another process has open; such a reader
/// (an editor, a virus scanner) usually lets go within moments.
#[cfg(windows)]
fn persist(mut temp: tempfile::NamedTempFile, target: &Path) -> io::Result<()> {
    for attempt in 0.. {
        match temp.persist(target) {
            Ok(_) => return Ok(()),
            Err(e) if e.error.kind() == io::ErrorKind::PermissionDenied && attempt < 10 => {
                temp = e.file;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) if e.error.kind() == io::ErrorKind::PermissionDenied => {
                return Err(io::Error::new(
                    e.error.kind(),
                    format!(
                        "{} (another program keeps the file open: close it, or write elsewhere)",
                        e.error
                    ),
                ));
            }
            Err(e) => return Err(e.error),
        }
    }
    unreachable!("the loop returns")
}

/// An O_TMPFILE in `dir`, if the filesystem and /proc allow linking it later.
#[cfg(target_os = "linux")]
fn unnamed_in(dir: &Path) -> Option<File> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    if !Path::new("/proc/self/fd").is_dir() {
        return None;
    }
    let dir = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: open with a valid NUL-terminated path; the descriptor is owned by the File.
    let fd = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
}

/// Gives the unnamed file a name next to `target`, then renames it over
/// `target`: the name lives for two system calls.
#[cfg(target_os = "linux")]
fn link_into_place(file: &File, target: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let name = target.with_file_name(format!(".vault-ci-{}", hex::encode(random)));
    let source = std::ffi::CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let linked = std::ffi::CString::new(name.as_os_str().as_bytes())?;
    // SAFETY: linkat with valid NUL-terminated paths.
    let done = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            libc::AT_FDCWD,
            linked.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::rename(&name, target).inspect_err(|_| {
        let _ = std::fs::remove_file(&name);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("token");
        std::fs::write(&small, "abc").unwrap();
        assert_eq!(read_text(&small, 3).unwrap(), "abc");
        let err = read_capped(&small, 2).unwrap_err();
        assert_eq!(err.to_string(), "it is larger than 2 bytes");
        let err = read_capped(dir.path(), 10).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn a_replacement_can_be_undone_to_the_old_file_or_to_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aws.env");
        let placed = stage_replacement(&path, b"new").unwrap().commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        placed.undo().unwrap();
        assert!(!path.exists());
        std::fs::write(&path, "old").unwrap();
        let placed = stage_replacement(&path, b"new").unwrap().commit().unwrap();
        placed.undo().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn names_through_proc_are_told_apart() {
        assert!(names_an_open_file(Path::new("/dev/stdout")));
        assert!(names_an_open_file(Path::new("/dev/fd/1")));
        assert!(names_an_open_file(Path::new("/proc/self/fd/1")));
        assert!(!names_an_open_file(Path::new("aws.env")));
        assert!(!names_an_open_file(Path::new("/etc/hostname")));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_and_an_endless_device_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let err = read_capped(&fifo, 10).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_capped(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
