//! Forwarding SIGINT and SIGTERM to the wrapped command (SPEC 5).
//!
//! The handler does the least a handler may: it writes one byte to a
//! self-pipe, the signal number with a flag saying whether a process sent
//! it (`kill`, `sigqueue`: `si_code <= 0`) or the kernel did (the terminal's
//! Ctrl-C, which already reached the whole foreground process group, the
//! command included). A thread reads the pipe and:
//! - while the command has not been reaped, forwards process-sent signals
//!   to it and drops terminal ones (the command got its own copy);
//! - once it has been reaped (logmask is only draining pipes that a
//!   background grandchild holds open), dies of the signal, as a process
//!   without a handler would, so logmask can still be stopped.
//!
//! Invariant: a signal is never sent to a reaped pid, which the system may
//! have given to another process. [`Child::wait`] waits without reaping
//! (`WNOWAIT`), then reaps under the same lock the forwarder holds while it
//! sends.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Set in the pipe byte when a process, not the kernel, sent the signal.
const FROM_PROCESS: u8 = 0x80;

/// The write end of the self-pipe, for the handler.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

const FORWARDED: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

extern "C" fn on_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: only async-signal-safe calls (write) and errno save/restore.
    unsafe {
        let errno = *libc::__errno_location();
        let from_process = !info.is_null() && (*info).si_code <= 0;
        let byte = (signal as u8 & !FROM_PROCESS) | if from_process { FROM_PROCESS } else { 0 };
        let fd = WAKE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            // Non-blocking: if the pipe is somehow full, the signal is lost
            // rather than the handler hanging.
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// Signals caught and queued, waiting for a command to forward them to.
pub struct Signals {
    queue: File,
}

/// Installs the handlers. Signals that arrive before [`Signals::forward_to`]
/// are queued and forwarded once the command runs.
pub fn install() -> io::Result<Signals> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two descriptors; they are owned right below.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned only here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
    // The write end lives as long as the process: the handler may run at
    // any time.
    std::mem::forget(write);
    WAKE_FD.store(fds[1], Ordering::Relaxed);
    for signal in FORWARDED {
        // SAFETY: a zeroed sigaction with a valid handler and flags.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(Signals {
        queue: File::from(read),
    })
}

impl Signals {
    /// Starts the thread that forwards queued and future signals.
    pub fn forward_to(self, child: Arc<Child>) {
        let mut queue = self.queue;
        std::thread::spawn(move || {
            let mut byte = [0u8];
            loop {
                match queue.read(&mut byte) {
                    Ok(1) => child.deliver(byte[0]),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    _ => return,
                }
            }
        });
    }
}

/// The wrapped command's pid and whether it has been reaped.
pub struct Child {
    pid: libc::pid_t,
    reaped: Mutex<bool>,
}

impl Child {
    pub fn new(pid: u32) -> Child {
        Child {
            pid: pid as libc::pid_t,
            reaped: Mutex::new(false),
        }
    }

    fn deliver(&self, byte: u8) {
        let signal = libc::c_int::from(byte & !FROM_PROCESS);
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if !*reaped {
            if byte & FROM_PROCESS != 0 {
                // SAFETY: the pid is not reaped (we hold the lock), so it
                // is still our child, possibly a zombie.
                unsafe { libc::kill(self.pid, signal) };
            }
            return;
        }
        drop(reaped);
        die_of(signal);
    }

    /// Waits for the command to exit, then reaps it.
    pub fn wait(&self, child: &mut std::process::Child) -> io::Result<ExitStatus> {
        loop {
            // SAFETY: a zeroed siginfo for waitid to fill.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: waits for our own child without reaping it.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        let mut reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        let status = child.wait()?;
        *reaped = true;
        Ok(status)
    }
}

/// Ends logmask by `signal`, as if no handler had been installed.
fn die_of(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and signalling ourselves.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::kill(libc::getpid(), signal);
    }
    // The signal is delivered to some thread almost at once; this is only
    // a fallback with the status a shell would report.
    std::thread::sleep(Duration::from_secs(1));
    std::process::exit(128 + signal)
}
