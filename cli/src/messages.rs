//! Messages on stderr: `logmask: warning: SOURCE: REASON`,
//! `logmask: error: ...` and the `--stats` line.
//!
//! Invariants:
//! - Callers pass sources and reasons, never values: nothing here can tell
//!   a secret from anything else, so the rule is kept by construction at
//!   the call sites ([`super::secrets::Origin`], the engine's warnings).
//! - Writing a message never fails the run: if stderr is gone there is
//!   nobody to tell, so errors are ignored (unlike `eprintln!`, which
//!   panics).

use std::io::Write;

fn line(kind: &str, text: &str) {
    // One write per message keeps lines whole when two threads warn.
    let message = format!("logmask: {kind}{text}\n");
    let _ = std::io::stderr().lock().write_all(message.as_bytes());
}

/// `logmask: warning: SOURCE: REASON`.
pub fn warning(source: &dyn std::fmt::Display, reason: &dyn std::fmt::Display) {
    line("warning: ", &format!("{source}: {reason}"));
}

/// A warning already rendered as `SOURCE: REASON` (the engine's
/// [`logmask::Warning`]).
pub fn warning_line(text: &str) {
    line("warning: ", text);
}

/// `logmask: error: ...`.
pub fn error(text: &str) {
    line("error: ", text);
}

/// A follow-up line to an error, such as where to find help.
pub fn hint(text: &str) {
    line("", text);
}

/// `logmask: stats: ...`.
pub fn stats(text: &str) {
    line("stats: ", text);
}
