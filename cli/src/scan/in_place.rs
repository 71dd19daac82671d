//! `logmask scan --in-place`: rewrite a file with findings exactly as
//! filter mode would write it, never leaving half of one (SPEC 8).
//!
//! The new content goes to a temporary file in the same directory: an
//! unnamed one (`O_TMPFILE`) where the system offers it, linked in under a
//! `.logmask-*` name only once it is complete and synced; otherwise a
//! `.logmask-*` file from the start, removed on every error. It gets the
//! original's owner and permission bits, is synced, renamed over the
//! original, and the directory is synced. So an interrupted run leaves the
//! old file or the new one, and only SIGKILL or a power loss in the short
//! window between the link and the rename can leave a `.logmask-*` file.
//!
//! A link named on the command line is followed: the file it leads to is
//! rewritten and the link stays a link.
//!
//! Refused (an error for that PATH, whose findings are still printed):
//! files with more than one hard link, files that changed while they were
//! scanned (size, modification or change time, or identity differ between
//! the scan and the rewrite, or while rewriting), and files whose owner
//! could not be kept.
//!
//! Test hook: with `LOGMASK_TEST_PAUSE_BEFORE_LINK` set, the process says
//! so on stderr once the temporary file is complete and waits there a
//! minute, so a test can kill it at the worst moment.

use std::ffi::CString;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What identifies a file's content for "did it change while scanned".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    nlink: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Snapshot {
    pub fn of(meta: &Metadata) -> Snapshot {
        Snapshot {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            nlink: meta.nlink(),
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }

    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
}

fn io_text(what: &str, err: io::Error) -> String {
    format!("cannot rewrite: {what}: {err}")
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::other("path holds a NUL byte"))
}

/// An unnamed file in `dir` (gone when closed), or, where the system has
/// no `O_TMPFILE`, a named one unlinked at once.
pub fn unnamed_temp_file(dir: &Path) -> io::Result<File> {
    match open_tmpfile(dir) {
        Ok(file) => Ok(file),
        Err(_) => {
            let (file, path) = create_named(dir)?;
            std::fs::remove_file(&path)?;
            Ok(file)
        }
    }
}

fn open_tmpfile(dir: &Path) -> io::Result<File> {
    let dir = cstring(dir)?;
    // SAFETY: a valid C string; the descriptor is owned by the File.
    let fd = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn temp_name(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(".logmask-{}-{n}-{nanos:08x}", std::process::id()))
}

fn create_named(dir: &Path) -> io::Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = None;
    for _ in 0..16 {
        let path = temp_name(dir);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Removes a named temporary file unless it was renamed into place.
struct Named(Option<PathBuf>);

impl Drop for Named {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether `path` may be rewritten at all (checked before the second read).
pub fn check_rewritable(before: &Snapshot) -> Result<(), String> {
    if !before.is_regular() {
        return Err("cannot rewrite: not a regular file".into());
    }
    if before.nlink > 1 {
        return Err("cannot rewrite: the file has more than one hard link".into());
    }
    Ok(())
}

/// Rewrites `path`, whose scan saw `before`, with `mask(original, new)`.
pub fn rewrite(
    path: &Path,
    before: &Snapshot,
    mask: &mut dyn FnMut(&mut dyn Read, &mut dyn Write) -> io::Result<()>,
) -> Result<(), String> {
    check_rewritable(before)?;
    let changed = || "cannot rewrite: the file changed while it was scanned".to_string();
    // A link named on the command line was followed to be read (SPEC 8):
    // the file it leads to is rewritten, in its own directory, and the
    // link stays.
    let resolved = std::fs::canonicalize(path).map_err(|e| io_text("cannot resolve", e))?;
    let path = resolved.as_path();
    let mut original = File::open(path).map_err(|e| io_text("cannot open", e))?;
    let now = |file: &File| file.metadata().map(|m| Snapshot::of(&m));
    if now(&original).map_err(|e| io_text("cannot stat", e))? != *before {
        return Err(changed());
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (temp, mut named) = match open_tmpfile(&dir) {
        Ok(file) => (file, Named(None)),
        Err(_) => {
            let (file, name) =
                create_named(&dir).map_err(|e| io_text("cannot create a temporary file", e))?;
            (file, Named(Some(name)))
        }
    };
    let mut out = BufWriter::with_capacity(1 << 20, temp);
    mask(&mut original, &mut out).map_err(|e| io_text("cannot write", e))?;
    let temp = out
        .into_inner()
        .map_err(|e| io_text("cannot write", e.into_error()))?;
    if now(&original).map_err(|e| io_text("cannot stat", e))? != *before {
        return Err(changed());
    }
    // Owner first: changing it clears set-id bits, which the mode restores.
    // SAFETY: fchown and fchmod on a descriptor we own.
    if unsafe { libc::fchown(temp.as_raw_fd(), before.uid, before.gid) } != 0 {
        return Err(io_text("cannot keep its owner", io::Error::last_os_error()));
    }
    if unsafe { libc::fchmod(temp.as_raw_fd(), (before.mode & 0o7777) as libc::mode_t) } != 0 {
        return Err(io_text(
            "cannot keep its permissions",
            io::Error::last_os_error(),
        ));
    }
    temp.sync_all().map_err(|e| io_text("cannot sync", e))?;
    if std::env::var_os("LOGMASK_TEST_PAUSE_BEFORE_LINK").is_some() {
        let _ = io::stderr().write_all(b"logmask: test: paused before link\n");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
    let temp_path = match named.0.clone() {
        Some(name) => name,
        None => {
            let name = temp_name(&dir);
            link_unnamed(&temp, &name).map_err(|e| io_text("cannot link the new file", e))?;
            named.0 = Some(name.clone());
            name
        }
    };
    // The path must still be the file that was scanned.
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.dev() == before.dev && meta.ino() == before.ino => {}
        _ => return Err(changed()),
    }
    std::fs::rename(&temp_path, path).map_err(|e| io_text("cannot rename", e))?;
    named.0 = None;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_text("cannot sync the directory", e))?;
    Ok(())
}

/// Gives an `O_TMPFILE` file the name `name`.
fn link_unnamed(file: &File, name: &Path) -> io::Result<()> {
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL");
    let to = cstring(name)?;
    // SAFETY: valid C strings.
    let done = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
