//! Reading the command's merged output from the terminal (SPEC 5).
//!
//! [`TerminalOutput`] is an [`io::Read`] over the primary side that ends
//! (returns 0) at the first of:
//! - the terminal's end: `EIO` once no process holds the secondary side
//!   (Linux reports the end of a pseudo-terminal so, never as 0 bytes);
//! - after the command has exited, 100 ms without output: a background
//!   process that still holds the terminal does not keep logmask waiting
//!   (when logmask then closes the primary side, the kernel hangs up on
//!   it, as at the end of a terminal session).
//!
//! Invariant: what the command wrote before it exited is read before the
//! end is reported (the kernel hands out buffered output before `EIO`,
//! and the idle timer only runs once the command has exited).

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

/// How long the terminal may stay silent after the command has exited.
pub const IDLE_AFTER_EXIT: Duration = Duration::from_millis(100);

pub struct TerminalOutput {
    primary: OwnedFd,
    /// Becomes readable (hung up) when the command has exited.
    exited: OwnedFd,
    command_exited: bool,
}

/// Tells the reader that the command has exited (by being dropped).
pub struct ExitNotice(#[allow(dead_code)] OwnedFd);

/// A reader of `primary` and the notice that arms its idle timer.
pub fn reader(primary: OwnedFd) -> io::Result<(TerminalOutput, ExitNotice)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((
        TerminalOutput {
            primary,
            exited: read,
            command_exited: false,
        },
        ExitNotice(write),
    ))
}

impl io::Read for TerminalOutput {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let idle = Timespec::try_from(IDLE_AFTER_EXIT).expect("100 ms fits a timespec");
        loop {
            let ready = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
            let mut fds = [
                PollFd::new(&self.primary, PollFlags::IN),
                PollFd::new(&self.exited, PollFlags::IN),
            ];
            let watched = if self.command_exited { 1 } else { 2 };
            let timeout = self.command_exited.then_some(&idle);
            match poll(&mut fds[..watched], timeout) {
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
            match rustix::io::read(&self.primary, &mut *buffer) {
                Ok(n) => return Ok(n),
                // Every holder of the secondary side has closed it.
                Err(Errno::IO) => return Ok(0),
                Err(Errno::INTR | Errno::AGAIN) => continue,
                Err(err) => return Err(err.into()),
            }
        }
    }
}
