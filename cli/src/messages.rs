//! Messages on stderr: `logmask: warning: SOURCE: REASON`,
//! `logmask: error: ...` and the `--stats` line.
//!
//! Invariants:
//! - Callers pass sources and reasons, never values: the rule is kept by
//!   construction at the call sites ([`super::secrets::Origin`], the
//!   engine's warnings).
//! - Every line is also masked, as bytes, by the registry once it is known
//!   ([`mask_with`]), the way the log itself is (SPEC 5): a source name, a
//!   command name or an operating-system error that happens to hold a
//!   registered value still does not show it. Before the registry exists
//!   nothing is registered, so there is nothing to mask.
//! - Writing a message never fails the run: if stderr is gone there is
//!   nobody to tell, so errors are ignored (unlike `eprintln!`, which
//!   panics).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use logmask::Registry;

/// The registry every message is masked with, once there is one.
static REGISTRY: OnceLock<Arc<Registry>> = OnceLock::new();

/// Masks every later message with `registry` (set once, in `main`, before
/// any value is registered, so no warning about a value can miss it).
pub fn mask_with(registry: &Arc<Registry>) {
    let _ = REGISTRY.set(registry.clone());
}

/// `text` masked by the registry, if there is one yet.
fn masked(text: Vec<u8>) -> Vec<u8> {
    match REGISTRY.get() {
        Some(registry) => logmask::mask(registry, &text),
        None => text,
    }
}

/// Labels masked so far, with the variant count they were masked at.
type LabelCache = HashMap<String, (usize, String)>;

/// Most labels kept masked: in-band values each have a label of their own
/// (`stdin:12`), so the cache is emptied when it is full.
const MOST_LABELS: usize = 4096;

/// A source label as reports and `scan` print it, masked like a message:
/// a label names a PATH or a variable, and `-s hunter22 -f hunter22.txt`
/// must not print `hunter22` in `--file hunter22.txt:1`. Labels repeat on
/// every run, so each is masked once for each count of registered
/// variants.
///
/// An agent's label (`agent:SOURCE`) comes as its sender gave it and is
/// reduced to printable ASCII and 256 bytes here, after masking (SPEC 9).
pub fn masked_label(label: &str) -> String {
    let masked = masked_label_as_given(label);
    if crate::agent::is_label(label) {
        crate::agent::printable(&masked)
    } else {
        masked
    }
}

fn masked_label_as_given(label: &str) -> String {
    static CACHE: OnceLock<Mutex<LabelCache>> = OnceLock::new();
    let Some(registry) = REGISTRY.get() else {
        return label.to_string();
    };
    let variants = registry.variants();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((at, masked)) = cache.get(label)
        && *at == variants
    {
        return masked.clone();
    }
    let masked = String::from_utf8_lossy(&logmask::mask(registry, label.as_bytes())).into_owned();
    if cache.len() >= MOST_LABELS {
        cache.clear();
    }
    cache.insert(label.to_string(), (variants, masked.clone()));
    masked
}

fn line(kind: &str, text: &[u8]) {
    let mut message = format!("logmask: {kind}").into_bytes();
    message.extend_from_slice(text);
    // Masked as bytes first; only then made text, so that a lossy
    // conversion cannot turn a secret into something that no longer
    // matches it.
    let mut message = String::from_utf8_lossy(&masked(message)).into_owned();
    message.push('\n');
    // One write per message keeps lines whole when two threads warn.
    let mut write = || {
        let _ = std::io::stderr().lock().write_all(message.as_bytes());
    };
    match SHARED_WITH.get() {
        Some(around) => around(&mut write),
        None => write(),
    }
}

/// What else draws on stderr (a scan's progress line): every message is
/// written through it, so that it can clear its line first and draw it
/// again after.
type Around = Box<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

static SHARED_WITH: OnceLock<Around> = OnceLock::new();

/// Writes every later message through `around` (set once).
pub fn share_stderr_with(around: Around) {
    let _ = SHARED_WITH.set(around);
}

/// `logmask: warning: SOURCE: REASON`.
pub fn warning(source: &dyn std::fmt::Display, reason: &dyn std::fmt::Display) {
    line("warning: ", format!("{source}: {reason}").as_bytes());
}

/// A warning already rendered as `SOURCE: REASON` (the engine's
/// [`logmask::Warning`]).
pub fn warning_line(text: &str) {
    line("warning: ", text.as_bytes());
}

/// `logmask: error: ...`.
pub fn error(text: &str) {
    line("error: ", text.as_bytes());
}

/// `logmask: error: ...` from bytes that may not be UTF-8 (a command name
/// from `argv`): masked as they are, never converted first, so that a
/// secret that is not UTF-8 is still recognised.
pub fn error_bytes(text: &[u8]) {
    line("error: ", text);
}

/// A follow-up line to an error, such as where to find help.
pub fn hint(text: &str) {
    line("", text.as_bytes());
}

/// `logmask: stats: ...`.
pub fn stats(text: &str) {
    line("stats: ", text.as_bytes());
}
