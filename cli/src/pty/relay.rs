//! Signals under `--pty` (SPEC 5).
//!
//! The command leads its own session, so nothing a terminal sends reaches
//! it by itself: SIGINT, SIGTERM, SIGQUIT and SIGHUP that reach logmask
//! are forwarded to the command's process group, whoever sent them.
//! SIGWINCH sets the command's terminal to the size of logmask's own
//! (SPEC's rule again: it may come from the environment); when that
//! leaves the size as it was, the kernel sends nothing, so logmask passes
//! the SIGWINCH on itself (the command gets one either way). With a raw
//! stdin, SIGTSTP gives the terminal its modes back before logmask stops,
//! SIGCONT puts raw mode back, and the usual fatal signals (SIGUSR1,
//! SIGUSR2, SIGALRM) restore the modes before logmask dies of them.
//!
//! Invariants:
//! - A signal the caller left ignored gets no handler: it stays ignored
//!   for logmask and, inherited, for the command.
//! - A signal is never sent to a reaped process group leader, whose
//!   number the system may give to another process: [`Group::wait`] waits
//!   without reaping, then reaps under the lock the relay holds while it
//!   sends. Once the command has been reaped (logmask is only draining
//!   the terminal), a forwarded signal ends logmask itself, modes
//!   restored, as a process without a handler would end.
//! - Signals that arrive before the command runs are kept by signal-hook
//!   and handled once [`Relay::start`] runs.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread;

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use signal_hook::consts::signal::{
    SIGALRM, SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIGWINCH,
};
use signal_hook::iterator::Signals;
use signal_hook::low_level::emulate_default_handler;

use super::{raw_mode, size};
use crate::signals::ignored_at_start;

/// Forwarded to the command's process group.
const FORWARDED: [i32; 4] = [SIGINT, SIGTERM, SIGQUIT, SIGHUP];
/// Only with a raw stdin: fatal by default, so the modes are restored first.
const FATAL_WHILE_RAW: [i32; 3] = [SIGUSR1, SIGUSR2, SIGALRM];

/// Handlers installed, signals queued until [`Relay::start`].
pub struct Relay {
    signals: Signals,
}

/// Installs the handlers; call before the command starts and before
/// raw mode is entered, so that no signal is missed or fatal meanwhile.
pub fn install(raw_stdin: bool) -> io::Result<Relay> {
    let mut wanted: Vec<i32> = FORWARDED.to_vec();
    wanted.push(SIGWINCH);
    if raw_stdin {
        wanted.extend([SIGTSTP, SIGCONT]);
        wanted.extend(FATAL_WHILE_RAW);
    }
    wanted.retain(|&signal| !ignored_at_start(signal));
    Ok(Relay {
        signals: Signals::new(wanted)?,
    })
}

impl Relay {
    /// Handles queued and future signals on a thread of their own.
    pub fn start(mut self, group: Arc<Group>, primary: OwnedFd) {
        thread::spawn(move || {
            for signal in self.signals.forever() {
                match signal {
                    SIGWINCH => {
                        if !resize(&primary) {
                            // Same size: the kernel sends nothing, but a
                            // SIGWINCH sent to logmask still reaches the
                            // command (to redraw), once.
                            group.send(SIGWINCH);
                        }
                    }
                    SIGTSTP => {
                        raw_mode::suspend();
                        // Stops logmask here until SIGCONT.
                        let _ = emulate_default_handler(SIGTSTP);
                        raw_mode::resume();
                        let _ = resize(&primary);
                    }
                    SIGCONT => {
                        raw_mode::resume();
                        let _ = resize(&primary);
                    }
                    _ if FORWARDED.contains(&signal) => group.forward(signal),
                    _ => die_of(signal),
                }
            }
        });
    }
}

/// Gives the command's terminal the size logmask's rule gives now; the
/// kernel sends the command SIGWINCH when that changes it. Whether it did.
fn resize(primary: &OwnedFd) -> bool {
    let before = rustix::termios::tcgetwinsize(primary).ok();
    let now = size::current().winsize();
    let changed = before.is_none_or(|b| (b.ws_row, b.ws_col) != (now.ws_row, now.ws_col));
    let _ = rustix::termios::tcsetwinsize(primary, now);
    changed
}

/// Ends logmask by `signal`, the terminal's modes given back first.
fn die_of(signal: i32) -> ! {
    raw_mode::finish();
    let _ = emulate_default_handler(signal);
    // Not reached for a fatal signal; the status a shell would report.
    std::process::exit(128 + signal)
}

/// The command's process group (its leader's pid) and whether the leader
/// has been reaped.
pub struct Group {
    leader: Pid,
    reaped: Mutex<bool>,
}

impl Group {
    pub fn new(child: &Child) -> Group {
        Group {
            leader: Pid::from_raw(child.id() as i32).expect("a child's pid is positive"),
            reaped: Mutex::new(false),
        }
    }

    fn forward(&self, signal: i32) {
        if !self.send(signal) {
            die_of(signal);
        }
    }

    /// Sends `signal` to the group unless its leader has been reaped;
    /// whether it was sent.
    fn send(&self, signal: i32) -> bool {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if *reaped {
            return false;
        }
        if let Some(signal) = Signal::from_named_raw(signal) {
            // The leader is not reaped (we hold the lock), so the group's
            // number is still the command's. ESRCH (the whole group gone)
            // changes nothing.
            let _ = rustix::process::kill_process_group(self.leader, signal);
        }
        true
    }

    /// Waits for the command to exit, then reaps it.
    pub fn wait(&self, child: &mut Child) -> io::Result<ExitStatus> {
        loop {
            match rustix::process::waitid(
                WaitId::Pid(self.leader),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        let mut reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        let status = child.wait()?;
        *reaped = true;
        Ok(status)
    }
}
