//! Raw mode for a terminal stdin while `--pty` runs (SPEC 5).
//!
//! Keys typed into logmask's terminal go byte for byte to the command's
//! terminal, whose own line discipline then edits lines, echoes and turns
//! Ctrl-C into SIGINT for the command. Output processing of logmask's
//! terminal is left as it was: the command's terminal adds no CR (SPEC),
//! so the outer one must still turn `\n` into a line start on screen.
//!
//! Invariants:
//! - The original modes are saved once, before the first change, and are
//!   what every restore writes back.
//! - [`finish`] runs on every way out: the normal end, a fatal signal
//!   (from the relay thread, before dying), a panic on any thread (a
//!   hook installed by [`enter`]); [`suspend`] and [`resume`] wrap
//!   SIGTSTP/SIGCONT. All are idempotent and safe from any thread.
//! - The panic hook never blocks: it takes the lock only if it is free.

use std::os::fd::BorrowedFd;
use std::sync::{Mutex, Once, TryLockError};

use rustix::termios::{OptionalActions, Termios, isatty, tcgetattr, tcsetattr};

/// The terminal in raw mode and the modes it had, while raw mode is
/// wanted.
struct Saved {
    terminal: BorrowedFd<'static>,
    original: Termios,
    raw: Termios,
}

static SAVED: Mutex<Option<Saved>> = Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

/// Puts a terminal stdin in raw mode. `Ok(false)` when stdin is not a
/// terminal (nothing changed).
pub fn enter() -> std::io::Result<bool> {
    enter_on(rustix::stdio::stdin())
}

/// [`enter`] for any terminal that stays open (stdin; a test's own).
fn enter_on(stdin: BorrowedFd<'static>) -> std::io::Result<bool> {
    if !isatty(stdin) {
        return Ok(false);
    }
    let original = tcgetattr(stdin)?;
    let mut raw = original.clone();
    raw.make_raw();
    raw.output_modes = original.output_modes;
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            match SAVED.try_lock() {
                Ok(mut saved) => restore(saved.take()),
                Err(TryLockError::Poisoned(poisoned)) => restore(poisoned.into_inner().take()),
                // Held by a thread that is changing the modes right now;
                // it restores or re-enters by itself.
                Err(TryLockError::WouldBlock) => {}
            }
            previous(info);
        }));
    });
    let mut saved = lock();
    tcsetattr(stdin, OptionalActions::Now, &raw)?;
    *saved = Some(Saved {
        terminal: stdin,
        original,
        raw,
    });
    Ok(true)
}

/// Gives the terminal back for good (normal end, death, panic).
pub fn finish() {
    restore(lock().take());
}

/// Gives the terminal back while logmask is stopped (SIGTSTP).
pub fn suspend() {
    if let Some(saved) = lock().as_ref() {
        let _ = tcsetattr(saved.terminal, OptionalActions::Now, &saved.original);
    }
}

/// Raw mode again after SIGCONT, also after a SIGSTOP that logmask could
/// not see (the shell that continues a job may have reset the modes).
pub fn resume() {
    if let Some(saved) = lock().as_ref() {
        let _ = tcsetattr(saved.terminal, OptionalActions::Now, &saved.raw);
    }
}

fn restore(saved: Option<Saved>) {
    if let Some(saved) = saved {
        let _ = tcsetattr(saved.terminal, OptionalActions::Now, &saved.original);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Saved>> {
    SAVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::pty::{OpenptFlags, grantpt, ioctl_tiocgptpeer, openpt, unlockpt};
    use rustix::termios::LocalModes;

    /// The only test of this module: the modes are process-wide state.
    #[test]
    fn raw_until_suspended_resumed_finished_or_a_panic() {
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let primary = openpt(flags).unwrap();
        grantpt(&primary).unwrap();
        unlockpt(&primary).unwrap();
        let secondary: &'static _ =
            Box::leak(Box::new(ioctl_tiocgptpeer(&primary, flags).unwrap()));
        let terminal = std::os::fd::AsFd::as_fd(secondary);
        let cooked = LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG;
        let modes = || tcgetattr(terminal).unwrap();
        let before = modes();
        assert!(before.local_modes.contains(cooked));

        assert!(enter_on(terminal).unwrap());
        let raw = modes();
        assert!(!raw.local_modes.intersects(cooked));
        assert_eq!(
            raw.output_modes, before.output_modes,
            "output processing kept"
        );
        suspend();
        assert_eq!(modes().local_modes, before.local_modes);
        resume();
        assert_eq!(modes().local_modes, raw.local_modes);

        // A panic on any thread gives the terminal back.
        let panicked = std::thread::spawn(|| panic!("in a test")).join();
        assert!(panicked.is_err());
        assert_eq!(modes().local_modes, before.local_modes);
        assert_eq!(modes().input_modes, before.input_modes);

        // So does the normal end, and doing it twice is harmless.
        assert!(enter_on(terminal).unwrap());
        assert!(!modes().local_modes.intersects(cooked));
        finish();
        finish();
        resume();
        assert_eq!(modes().local_modes, before.local_modes);
    }
}
