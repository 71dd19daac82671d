//! Making the pseudo-terminal and starting the command on it (SPEC 5).
//!
//! The command becomes a session leader whose controlling terminal is the
//! terminal's secondary side, which is also its stdin, stdout and stderr;
//! logmask keeps only the primary side (the "master").
//!
//! Invariants:
//! - Both sides are opened close-on-exec and without becoming logmask's
//!   controlling terminal; the command gets the secondary side only
//!   through its three standard descriptors.
//! - Output processing is off, so the command's `\n` arrives as `\n`
//!   (no CR added); echo is off when logmask's stdin is not a terminal,
//!   so piped input does not reappear in the log.
//! - The primary side is in packet mode (see [`packet_mode`]).
//! - The caller drops its copy of the secondary side right after the
//!   spawn, so the primary side reports the end (EIO) once the command
//!   and everything it started have closed it.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use rustix::fs::{Mode, OFlags};
#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::pty::ioctl_tiocgptpeer;
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{
    LocalModes, OptionalActions, OutputModes, tcgetattr, tcsetattr, tcsetwinsize,
};

use super::size::Size;

/// Both sides of a new pseudo-terminal.
pub struct Terminal {
    pub primary: OwnedFd,
    pub secondary: OwnedFd,
}

/// Opens and sets up a terminal; the error names the step that failed.
pub fn open(size: Size, echo: bool) -> Result<Terminal, String> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let primary = openpt(flags).map_err(|e| format!("cannot open /dev/ptmx: {e}"))?;
    grantpt(&primary).map_err(|e| format!("grantpt failed: {e}"))?;
    unlockpt(&primary).map_err(|e| format!("unlockpt failed: {e}"))?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let peer = ioctl_tiocgptpeer(&primary, flags);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let peer: rustix::io::Result<OwnedFd> = Err(rustix::io::Errno::NOSYS);
    let secondary = match peer {
        Ok(fd) => fd,
        // Older kernels, other systems: open it by name.
        Err(_) => {
            let name = ptsname(&primary, Vec::new()).map_err(|e| format!("ptsname failed: {e}"))?;
            rustix::fs::open(
                name.as_c_str(),
                OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("cannot open the terminal's secondary side: {e}"))?
        }
    };
    let mut modes = tcgetattr(&secondary).map_err(|e| format!("tcgetattr failed: {e}"))?;
    modes.output_modes.remove(OutputModes::OPOST);
    if !echo {
        modes
            .local_modes
            .remove(LocalModes::ECHO | LocalModes::ECHOE | LocalModes::ECHOK | LocalModes::ECHONL);
    }
    tcsetattr(&secondary, OptionalActions::Now, &modes)
        .map_err(|e| format!("tcsetattr failed: {e}"))?;
    tcsetwinsize(&secondary, size.winsize()).map_err(|e| format!("cannot set its size: {e}"))?;
    packet_mode(&primary).map_err(|e| format!("cannot turn packet mode on: {e}"))?;
    Ok(Terminal { primary, secondary })
}

/// Packet mode: reads of the primary side carry a leading status byte,
/// which also reports when the command discards its pending input
/// (`TIOCPKT_FLUSHREAD`; see `drain` and `input`). rustix names no
/// function for `TIOCPKT`, so its typed ioctl pattern is used.
fn packet_mode(primary: &OwnedFd) -> rustix::io::Result<()> {
    type On = rustix::ioctl::Setter<{ libc::TIOCPKT as rustix::ioctl::Opcode }, libc::c_int>;
    // SAFETY: TIOCPKT takes a pointer to an int; non-zero turns it on.
    unsafe { rustix::ioctl::ioctl(primary, On::new(1)) }
}

/// Starts `command` (program, arguments and environment already set) as
/// a session leader on the terminal whose secondary side is `secondary`.
pub fn spawn(command: &mut Command, secondary: &OwnedFd) -> io::Result<Child> {
    let side = || secondary.try_clone().map(Stdio::from);
    command.stdin(side()?).stdout(side()?).stderr(side()?);
    // SAFETY: only async-signal-safe system calls run between fork and
    // exec: setsid and an ioctl, on descriptors already in place (the
    // standard streams are set up before this closure runs).
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()?;
            let stdin = BorrowedFd::borrow_raw(0);
            rustix::process::ioctl_tiocsctty(stdin)?;
            Ok(())
        });
    }
    command.spawn()
}
