//! Reading the command's merged output from the terminal (SPEC 5).
//!
//! [`TerminalOutput`] is an [`io::Read`] over the primary side that ends
//! (returns 0) at the first of:
//! - the terminal's end: `EIO` once no process holds the secondary side
//!   (Linux reports the end of a pseudo-terminal so, never as 0 bytes);
//! - after the command has exited, 100 ms without output: a background
//!   process that still holds the terminal does not keep logmask waiting
//!   (when logmask then closes the primary side, the kernel hangs up on
//!   it, as at the end of a terminal session);
//! - after the command has exited, [`WAIT_AFTER_EXIT`] spent waiting for
//!   output in all, or [`READ_AFTER_EXIT`] bytes read: a background process
//!   that never falls silent for 100 ms (a watcher printing every 50 ms, a
//!   `yes`) would otherwise keep a finished step running for ever.
//!
//! The primary side is in packet mode: each read brings one status byte
//! first, 0 before output; a status with `TIOCPKT_FLUSHREAD` (the command
//! discarded its pending input) is handed to a callback and not read as
//! output.
//!
//! Invariant: what the command wrote before it exited is read before the
//! end is reported (the kernel hands out buffered output before `EIO`,
//! and the idle timer only runs once the command has exited). The two
//! caps keep it: what the terminal holds at the exit (its buffers take
//! well under [`READ_AFTER_EXIT`]) is there to read without waiting, so
//! only time spent in `poll` counts, never time the caller spent writing
//! to a slow reader between two reads.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

/// Packet mode's status bytes (`<asm-generic/ioctls.h>`; the libc crate
/// has them for the BSDs only, and they are the same everywhere).
const TIOCPKT_DATA: u8 = 0;
const TIOCPKT_FLUSHREAD: u8 = 1;

/// How long the terminal may stay silent after the command has exited.
pub const IDLE_AFTER_EXIT: Duration = Duration::from_millis(100);

/// How long, in all, the reader waits for output once the command has
/// exited.
pub const WAIT_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How much it reads once the command has exited: far above what a
/// terminal buffers (about 68 KiB on Linux: the line discipline's 4 KiB and
/// the pseudo-terminal's 64 KiB).
pub const READ_AFTER_EXIT: u64 = 1 << 20;

pub struct TerminalOutput {
    primary: OwnedFd,
    /// Called when the command has discarded its pending input.
    on_input_flushed: Box<dyn FnMut() + Send>,
    /// Becomes readable (hung up) when the command has exited.
    exited: OwnedFd,
    command_exited: bool,
    /// Since the command exited: time spent in `poll`, bytes read.
    waited_after_exit: Duration,
    read_after_exit: u64,
}

/// Tells the reader that the command has exited (by being dropped).
pub struct ExitNotice(#[allow(dead_code)] OwnedFd);

/// A reader of `primary` and the notice that arms its idle timer.
pub fn reader(
    primary: OwnedFd,
    on_input_flushed: Box<dyn FnMut() + Send>,
) -> io::Result<(TerminalOutput, ExitNotice)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((
        TerminalOutput {
            primary,
            on_input_flushed,
            exited: read,
            command_exited: false,
            waited_after_exit: Duration::ZERO,
            read_after_exit: 0,
        },
        ExitNotice(write),
    ))
}

/// For the pump's wait on a non-blocking input: never needed here (this
/// reader polls and reads a blocking descriptor), but honest.
impl AsFd for TerminalOutput {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.primary.as_fd()
    }
}

impl io::Read for TerminalOutput {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() {
            return Ok(0);
        }
        loop {
            if self.command_exited
                && (self.waited_after_exit >= WAIT_AFTER_EXIT
                    || self.read_after_exit >= READ_AFTER_EXIT)
            {
                return Ok(0);
            }
            let ready = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
            let mut fds = [
                PollFd::new(&self.primary, PollFlags::IN),
                PollFd::new(&self.exited, PollFlags::IN),
            ];
            let watched = if self.command_exited { 1 } else { 2 };
            let idle = IDLE_AFTER_EXIT.min(WAIT_AFTER_EXIT - self.waited_after_exit);
            let idle = Timespec::try_from(idle).expect("at most 100 ms fits a timespec");
            let timeout = self.command_exited.then_some(&idle);
            let polled = Instant::now();
            let ready_count = poll(&mut fds[..watched], timeout);
            if self.command_exited {
                self.waited_after_exit += polled.elapsed();
            }
            match ready_count {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(err) => return Err(err.into()),
            }
            if watched == 2 && fds[1].revents().intersects(ready) {
                self.command_exited = true;
            }
            if !fds[0].revents().intersects(ready) {
                continue;
            }
            // A status byte and at least one byte of output fit.
            let mut small = [0u8; 2];
            let into: &mut [u8] = if buffer.len() < 2 {
                &mut small
            } else {
                &mut *buffer
            };
            match rustix::io::read(&self.primary, &mut *into) {
                Ok(0) => return Ok(0),
                Ok(n) if into[0] == TIOCPKT_DATA => {
                    if n == 1 {
                        continue;
                    }
                    if self.command_exited {
                        self.read_after_exit += n as u64 - 1;
                    }
                    into.copy_within(1..n, 0);
                    if buffer.len() < 2 {
                        buffer.copy_from_slice(&small[..buffer.len()]);
                        return Ok(buffer.len());
                    }
                    return Ok(n - 1);
                }
                Ok(_) => {
                    if into[0] & TIOCPKT_FLUSHREAD != 0 {
                        (self.on_input_flushed)();
                    }
                }
                // Every holder of the secondary side has closed it.
                Err(Errno::IO) => return Ok(0),
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(err) => return Err(err.into()),
            }
        }
    }
}
