//! Copying logmask's stdin to the command's terminal (SPEC 5).
//!
//! - A terminal stdin is in raw mode ([`super::raw_mode`]): bytes go
//!   through as typed, Ctrl-D included, and the command's terminal does
//!   the line editing, echo and signals.
//! - Any other stdin (a pipe, a file, /dev/null, a closed descriptor) is
//!   copied as it is, unechoed, and its end is passed on as the
//!   terminal's end-of-file character: once after a line break or no
//!   input, twice after a last line without one (the first ends the
//!   pending line, the second is the end a reading command sees). The
//!   terminal stays open, so the command can still write.
//!
//!   A command that discards pending input (a password prompt flushes it)
//!   would lose that end and wait for ever: after the end of stdin, each
//!   such flush (reported by packet mode, see `drain`) is answered with
//!   one more end-of-file character.
//!
//! The copy runs on its own thread and is never waited for: a command
//! that never reads leaves it blocked on a full terminal, and logmask's
//! end does not depend on it. A stdin left non-blocking by another
//! process is waited on with poll, never an error.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use rustix::io::Errno;
use rustix::termios::{SpecialCodeIndex, tcgetattr};

use crate::output::{PollFlags, wait_ready};

/// The command's side of a copy: where the end of stdin is passed on.
pub struct Input {
    primary: OwnedFd,
    /// The end of a non-terminal stdin has been (or is being) passed on.
    ended: AtomicBool,
}

impl Input {
    /// Where stdin will be copied to.
    pub fn new(primary: OwnedFd) -> Arc<Input> {
        Arc::new(Input {
            primary,
            ended: AtomicBool::new(false),
        })
    }

    /// Starts copying stdin to the terminal.
    pub fn start(self: &Arc<Self>, stdin_is_terminal: bool) {
        let copier = self.clone();
        thread::spawn(move || {
            let last = copy(&copier.primary);
            if !stdin_is_terminal {
                // Set first: a flush from now on may have discarded what
                // follows, and one character too many is only one more end.
                copier.ended.store(true, Ordering::SeqCst);
                let count = match last {
                    Some(b'\n' | b'\r') | None => 1,
                    Some(_) => 2,
                };
                send_end(&copier.primary, count);
            }
        });
    }

    /// The command discarded its pending input, an end-of-file character
    /// perhaps with it: pass the end on again if stdin has ended.
    pub fn flushed(&self) {
        if self.ended.load(Ordering::SeqCst) {
            send_end(&self.primary, 1);
        }
    }
}

/// Copies until the end of stdin (or a read error, which ends it too);
/// returns the last byte copied.
fn copy(primary: &OwnedFd) -> Option<u8> {
    let stdin = rustix::stdio::stdin();
    let mut buffer = [0u8; 4096];
    let mut last = None;
    loop {
        let n = match rustix::io::read(stdin, &mut buffer) {
            Ok(0) => return last,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                wait_ready(stdin, PollFlags::IN);
                continue;
            }
            // EBADF (no stdin at all), EIO (a hung-up terminal): the end.
            Err(_) => return last,
        };
        if write_all(primary, &buffer[..n]).is_err() {
            // The terminal is gone: nothing more can reach the command.
            return None;
        }
        last = Some(buffer[n - 1]);
    }
}

/// Passes the end of a non-terminal stdin on as `count` end-of-file
/// characters.
fn send_end(primary: &OwnedFd, count: usize) {
    // Read now: the command may have changed it.
    let Ok(modes) = tcgetattr(primary) else {
        return;
    };
    let eof = modes.special_codes[SpecialCodeIndex::VEOF];
    // 0 is _POSIX_VDISABLE: the command turned the character off.
    if eof == 0 {
        return;
    }
    let _ = write_all(primary, &[eof, eof][..count]);
}

fn write_all(primary: &OwnedFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(primary, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}
