//! Which of the standard descriptors (0, 1, 2) were closed when the
//! process started (`logmask >&-`, `logmask <&-`).
//!
//! Rust's runtime puts `/dev/null` in place of a closed standard descriptor
//! before `main` runs, so that no file opened later takes its number. That
//! keeps logmask safe, but on its own it would make a closed stdout swallow
//! the masked log and exit 0, as if all had gone well. A function the
//! loader runs before the runtime (from `.init_array`, as for any C
//! constructor) notes which descriptors were closed, and the streams treat
//! those as they would the closed descriptor: reading stdin and writing
//! stdout or stderr fail with EBADF, as `cat` reports them.
//!
//! Invariant: the note is taken once, before any code of the runtime or of
//! logmask runs, and never changes afterwards.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};

/// Bit `fd` is set when descriptor `fd` was closed at start.
static CLOSED: AtomicU8 = AtomicU8::new(0);

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED: extern "C" fn() = note_closed;

#[cfg(target_os = "linux")]
extern "C" fn note_closed() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            CLOSED.fetch_or(1 << fd, Ordering::Relaxed);
        }
    }
}

/// Whether standard descriptor `fd` (0, 1 or 2) was closed at start.
pub fn was_closed(fd: i32) -> bool {
    (0..3).contains(&fd) && CLOSED.load(Ordering::Relaxed) & (1 << fd) != 0
}

/// Fails as a write to `fd` would if it was closed at start.
pub fn check(fd: i32) -> io::Result<()> {
    if was_closed(fd) { Err(error()) } else { Ok(()) }
}

/// The error a read or write of a descriptor closed at start reports.
pub fn error() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}
