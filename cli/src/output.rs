//! [`Downstream`]: logmask's own stdout or stderr, as the inner writer of a
//! `MaskWriter`.
//!
//! Invariants:
//! - `write` and `flush` never fail. The first error is recorded instead
//!   and every later byte is discarded, so the engine keeps running (an
//!   `::add-mask::` on a stream nobody reads still registers for the other
//!   stream) and the caller decides what the error means: filter mode
//!   stops, exec mode keeps draining the command's pipe (SPEC 5).
//! - Bytes are buffered only until the next `flush`; the callers flush
//!   after every read, so decided bytes reach the reader at once.
//! - The file descriptor is borrowed, never closed. One that was closed
//!   when logmask started fails its first write with EBADF.

use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, RawFd};

pub use rustix::event::PollFlags;

use super::closed_at_start;

const BUFFER: usize = 1 << 20;

/// Slices at least this long are written without being buffered.
const WRITE_THROUGH: usize = 8 * 1024;

/// What happened to the stream so far.
#[derive(Debug)]
pub enum State {
    Open,
    /// The reader went away (EPIPE): not an error for logmask.
    Closed,
    /// Any other write error.
    Failed(io::Error),
}

/// A buffered writer to fd 1 or 2 that records errors instead of returning
/// them.
pub struct Downstream {
    file: ManuallyDrop<File>,
    buffer: Vec<u8>,
    state: State,
    /// Bytes handed to this writer, written or discarded.
    received: u64,
    /// The descriptor was closed when logmask started: the first write
    /// fails as it would have (see [`closed_at_start`]).
    closed_at_start: bool,
}

impl Downstream {
    /// Logmask's stdout.
    pub fn stdout() -> Downstream {
        Downstream::borrow_fd(1)
    }

    /// Logmask's stderr.
    pub fn stderr() -> Downstream {
        Downstream::borrow_fd(2)
    }

    fn borrow_fd(fd: RawFd) -> Downstream {
        Downstream {
            // SAFETY: fd 1 and 2 stay open for the life of the process and
            // ManuallyDrop keeps this File from closing them.
            file: ManuallyDrop::new(unsafe { File::from_raw_fd(fd) }),
            buffer: Vec::with_capacity(BUFFER),
            state: State::Open,
            received: 0,
            closed_at_start: closed_at_start::was_closed(fd),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Ends the writer: its state and the number of bytes it received.
    pub fn into_parts(self) -> (State, u64) {
        (self.state, self.received)
    }

    fn push(&mut self, data: &[u8]) {
        if !matches!(self.state, State::Open) || data.is_empty() {
            return;
        }
        if self.closed_at_start {
            self.state = State::Failed(closed_at_start::error());
            return;
        }
        if let Err(err) = write_all_blocking(&mut self.file, data) {
            self.state = if err.kind() == io::ErrorKind::BrokenPipe {
                State::Closed
            } else {
                State::Failed(err)
            };
        }
    }

    fn drain_buffer(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        self.push(&buffer);
        self.buffer = buffer;
        self.buffer.clear();
    }
}

impl Write for Downstream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.received += data.len() as u64;
        if !matches!(self.state, State::Open) {
            return Ok(data.len());
        }
        if data.len() >= WRITE_THROUGH {
            // Large slices (the engine writes the text between masked
            // regions straight from the read buffer) skip the copy.
            self.drain_buffer();
            self.push(data);
        } else {
            if self.buffer.len() + data.len() > BUFFER {
                self.drain_buffer();
            }
            self.buffer.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain_buffer();
        Ok(())
    }
}

/// `write_all` that also copes with a non-blocking descriptor (a terminal
/// or pipe shared with a program that set O_NONBLOCK) by waiting until it
/// is writable.
fn write_all_blocking(file: &mut File, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match file.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(file.as_fd(), PollFlags::OUT)
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Waits until `fd` is ready for `events` (or has hung up or failed: the
/// next read or write then reports it). An interrupted wait just returns,
/// and the caller tries again.
pub fn wait_ready(fd: BorrowedFd<'_>, events: PollFlags) {
    let mut fds = [rustix::event::PollFd::from_borrowed_fd(fd, events)];
    let _ = rustix::event::poll(&mut fds, None);
}

/// Asks for a 1 MiB pipe buffer where `fd` is a pipe, so that a fast
/// writer and logmask wake each other far less often than every 64 KiB.
/// Failure (not a pipe, over the system limit, not Linux) changes nothing.
pub fn enlarge_pipe(fd: BorrowedFd<'_>) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::pipe::fcntl_setpipe_size(fd, BUFFER);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = fd;
}
