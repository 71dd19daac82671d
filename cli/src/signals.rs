//! Signals in exec mode (SPEC 5): forwarding SIGINT and SIGTERM to the
//! wrapped command, and keeping the dispositions logmask's caller chose.
//!
//! **Ignored signals.** A signal that was ignored when logmask started
//! (`trap '' INT`, a job started with `&` by a non-interactive shell,
//! `nohup`) gets no handler, so it stays ignored for logmask and, because
//! an ignored disposition survives `exec`, for the command. The
//! dispositions are read by [`record_dispositions`] from `.init_array`,
//! before the Rust runtime sets SIGPIPE to ignored; [`keep_dispositions`]
//! then gives the command the dispositions logmask was started with (std
//! resets SIGPIPE to the default in every child).
//!
//! **Forwarding.** The handler does the least a handler may: it writes one
//! byte to a self-pipe, the signal number with a flag saying whether a
//! process sent it (`kill`, `sigqueue`: `si_code <= 0`) or the kernel did
//! (the terminal's Ctrl-C, which already reached the whole foreground
//! process group, the command included). A thread reads the pipe and:
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
//!
//! Crates: `signal-hook-registry` installs the handlers (it chains to any
//! handler already there and saves `errno`), `rustix` makes the pipe and
//! does `write`, `kill` and `waitid`. `libc` remains only where neither
//! reaches: reading a disposition without changing it (`sigaction` with no
//! new action, which the crates do not expose) and setting one in the child
//! between `fork` and `exec`.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};

/// Set in the pipe byte when a process, not the kernel, sent the signal.
const FROM_PROCESS: u8 = 0x80;

/// The signals forwarded to the command.
const FORWARDED: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

/// Bit `n` set when signal `n` was ignored as logmask started.
static IGNORED_AT_START: AtomicU64 = AtomicU64::new(0);

/// Reads every signal's disposition as the process starts.
///
/// This runs from `.init_array`, before `main` and before the Rust runtime
/// sets SIGPIPE to ignored (std's start-up code does so before calling
/// `main`), so it sees the dispositions logmask's caller left, SIGPIPE
/// included. Only async-signal-safe calls: nothing of std is set up yet.
extern "C" fn record_dispositions() {
    let mut ignored = 0u64;
    for signal in 1..64 {
        // SAFETY: a zeroed sigaction for the kernel to fill; with a null
        // new action, sigaction only reads the current one.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
        if rc == 0 && current.sa_sigaction == libc::SIG_IGN {
            ignored |= 1 << signal;
        }
    }
    IGNORED_AT_START.store(ignored, Ordering::Relaxed);
}

/// Places [`record_dispositions`] among the constructors the loader runs
/// before `main` (ELF `.init_array`; Mach-O's equivalent on macOS).
#[used]
#[cfg_attr(
    any(target_os = "macos", target_os = "ios"),
    unsafe(link_section = "__DATA,__mod_init_func")
)]
#[cfg_attr(
    not(any(target_os = "macos", target_os = "ios")),
    unsafe(link_section = ".init_array")
)]
static RECORD_DISPOSITIONS: extern "C" fn() = record_dispositions;

/// Whether `signal` was ignored when logmask started (by its caller).
///
/// A mode that installs a handler for a signal must not do so when this is
/// true: the caller's choice stays (SPEC 5).
pub fn ignored_at_start(signal: libc::c_int) -> bool {
    (1..64).contains(&signal) && IGNORED_AT_START.load(Ordering::Relaxed) & (1 << signal) != 0
}

/// Makes `command` start with the dispositions logmask's caller left:
/// every signal ignored when logmask started is ignored again just before
/// `exec` (std resets SIGPIPE to the default in every child), and no other
/// signal is ignored.
///
/// The hook is installed even when nothing was ignored: with a `pre_exec`
/// hook std forks and execs, while without one it uses `posix_spawn`,
/// whose glibc implementation sets glibc's own signals (32 and 33, which
/// the threads of logmask have handlers for) to ignored in the child, and
/// `exec` keeps them so: the command would start with them ignored.
pub fn keep_dispositions(command: &mut Command) {
    // SAFETY: between fork and exec only async-signal-safe calls are
    // allowed; `signal` is one, and an atomic load touches no lock. std's
    // hooks run after its own reset.
    unsafe {
        command.pre_exec(|| {
            for signal in 1..64 {
                if ignored_at_start(signal)
                    && libc::signal(signal, libc::SIG_IGN) == libc::SIG_ERR
                    && signal == libc::SIGPIPE
                {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The write end of the self-pipe, for the handlers.
static WAKE: OnceLock<OwnedFd> = OnceLock::new();

/// Runs in the signal handler: only async-signal-safe work (one `write`
/// system call through rustix, which does not touch `errno`).
fn on_signal(info: &libc::siginfo_t) {
    let from_process = info.si_code <= 0;
    let byte = (info.si_signo as u8 & !FROM_PROCESS) | if from_process { FROM_PROCESS } else { 0 };
    if let Some(fd) = WAKE.get() {
        // Non-blocking: if the pipe is somehow full, the signal is lost
        // rather than the handler hanging.
        let _ = rustix::io::write(fd, &[byte]);
    }
}

/// Signals caught and queued, waiting for a command to forward them to.
pub struct Signals {
    queue: File,
}

/// Installs the handlers for the forwarded signals that the caller did not
/// leave ignored. Signals that arrive before [`Signals::forward_to`] are
/// queued and forwarded once the command runs. Once per process: a second
/// call is an error.
pub fn install() -> io::Result<Signals> {
    use rustix::pipe::{PipeFlags, pipe_with};
    let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    // The read end blocks: the forwarding thread sleeps on it.
    rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::empty())?;
    // The write end lives as long as the process: the handler may run at
    // any time. The handlers write to one pipe only, so a second queue
    // would never hear of a signal: refuse it rather than lose signals.
    if WAKE.set(write).is_err() {
        return Err(io::Error::other("signal handlers are already installed"));
    }
    for signal in FORWARDED {
        if ignored_at_start(signal) {
            continue;
        }
        // SAFETY: `on_signal` only makes an async-signal-safe system call.
        unsafe { signal_hook_registry::register_sigaction(signal, on_signal) }?;
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
    pid: Pid,
    reaped: Mutex<bool>,
}

impl Child {
    pub fn new(pid: u32) -> Child {
        Child {
            pid: Pid::from_raw(pid as i32).expect("a child's pid is positive"),
            reaped: Mutex::new(false),
        }
    }

    fn deliver(&self, byte: u8) {
        let number = libc::c_int::from(byte & !FROM_PROCESS);
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        if !*reaped {
            if byte & FROM_PROCESS != 0 {
                // The pid is not reaped (we hold the lock), so it is still
                // our child, possibly a zombie.
                if let Some(signal) = Signal::from_named_raw(number) {
                    let _ = rustix::process::kill_process(self.pid, signal);
                }
            }
            return;
        }
        drop(reaped);
        die_of(number);
    }

    /// Waits for the command to exit, then reaps it.
    pub fn wait(&self, child: &mut std::process::Child) -> io::Result<ExitStatus> {
        loop {
            match rustix::process::waitid(
                WaitId::Pid(self.pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => {}
                Err(err) => return Err(err.into()),
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
    let _ = signal_hook::low_level::emulate_default_handler(signal);
    // The signal is delivered to some thread almost at once; this is only
    // a fallback with the status a shell would report.
    std::thread::sleep(Duration::from_secs(1));
    std::process::exit(128 + signal)
}
