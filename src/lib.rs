//! Streaming secret masking for CI logs.
//!
//! logmask replaces every registered secret in a byte stream, in its raw
//! form and in the encodings it commonly appears in (Base64 at any
//! alignment and wrapped, URL encoding, JSON and XML escaping,
//! workflow-command escaping, hex, shell quoting, and what a stored
//! Base64 or hex value decodes to, see [`decoded`]), with a replacement
//! (`***` by default).
//!
//! # The pipeline
//!
//! 1. [`Registry`]: values are split into trimmed lines, checked against
//!    the minimum length and expanded into *variants*
//!    ([`encoding`]). The registry is shared (`Arc<Registry>`) and takes new
//!    secrets at any time.
//! 2. [`Matcher`]: an immutable snapshot of the variants. Varied variants
//!    of up to 4 KiB are found by an exact q-gram skip filter that probes
//!    one 8-byte gram every few bytes; longer ones by a gram index and a
//!    linear sweep that cost little more memory than their bytes; the rest
//!    by Aho-Corasick automata walked by hand, so that each position yields
//!    its longest match and each state tells how much of the text may
//!    still begin a variant.
//! 3. The streaming masker marks the union of all occurrences (overlapping
//!    ones included) and writes each maximal masked run as one
//!    replacement.
//! 4. The in-band protocol (`::add-mask::VALUE`, `::stop-commands::TOKEN`)
//!    in front of it, and [`MaskWriter`], an [`std::io::Write`] adapter
//!    over both.
//! 5. Optionally, detection's first pass on the reading thread:
//!    [`Prescanner`] scans a chunk as it is read, and
//!    [`MaskWriter::write_scanned`] masks it without that pass.
//!
//! # Guarantees
//!
//! - **Split invariance**: the output is the same however the input is
//!   split into writes.
//! - **Latency**: after each write, every byte whose fate is decided has
//!   been written. Only bytes that may still begin a variant are held, and,
//!   with command handling on, a partial line that may still become a
//!   command. A complete line is never held.
//! - **Forward only**: a secret registered mid-stream applies to every
//!   byte not yet written, held bytes included; text already written is not
//!   recalled. An occurrence of a new secret that began in text already
//!   written is not masked.
//! - **Bounded memory**: apart from the registry, memory is bounded by the
//!   longest variant (and 64 KiB for a possible command line, and 8 MiB per
//!   thread of cached tables for the long-variant searcher), whatever the
//!   input. The registry's own memory is linear in its variants' bytes.
//! - **No leaks**: no value is ever formatted. `Debug` shows counts,
//!   refusals and warnings name the reason, never the value.
//!
//! # Examples
//!
//! Masking one buffer:
//!
//! ```
//! use std::sync::Arc;
//! use logmask::{mask, Registry};
//!
//! let registry = Arc::new(Registry::new());
//! registry.add(b"hunter22").unwrap();
//! // Raw, and Base64 inside a longer blob ("user:hunter22").
//! let out = mask(&registry, b"pw=hunter22 auth=dXNlcjpodW50ZXIyMg==\n");
//! assert_eq!(out, b"pw=*** auth=dXNlcjp***g==\n");
//! ```
//!
//! Streaming through a writer, with `::add-mask::` from the stream itself:
//!
//! ```
//! use std::io::Write;
//! use std::sync::Arc;
//! use logmask::{MaskWriter, Registry};
//!
//! let registry = Arc::new(Registry::new());
//! let mut writer = MaskWriter::new(registry.clone(), Vec::new());
//! writer.write_all(b"::add-mask::s3cr3t-t0ken\nthe token is s3cr3t-")?;
//! writer.write_all(b"t0ken\n")?;
//! let out = writer.finish()?;
//! assert_eq!(out, b"the token is ***\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Refusals say why, never what:
//!
//! ```
//! use logmask::{Refusal, Registry};
//!
//! let registry = Registry::new();
//! let err = registry.add(b"abc").unwrap_err();
//! assert_eq!(err, Refusal::TooShort { min_length: 4 });
//! assert!(!err.to_string().contains("abc"));
//! assert!(!format!("{registry:?}").contains("abc"));
//! ```
//!
//! # Decisions where the specification is silent
//!
//! - Duplicate values are accepted silently; each variant is kept once.
//! - A `::stop-commands::` token is trimmed of surrounding spaces and tabs;
//!   the resume line must be exactly `::TOKEN::` with that trimmed token.
//! - Warnings from a writer go to the sink set with
//!   [`WriterBuilder::on_warning`]; without one they are dropped.

#![deny(missing_docs)]

mod automaton;
mod candidate_lines;
pub mod decoded;
mod detect;
pub mod encoding;
mod gram_search;
mod long_search;
mod matcher;
pub mod origin;
mod protocol;
mod registry;
pub mod runs;
mod sorted_members;
mod stream;
#[cfg(test)]
mod test_rng;
mod writer;

use std::sync::Arc;

pub use detect::{Detector, DetectorSet, Prescanner, Scanned, UnknownDetector};
pub use encoding::{Encoding, EncodingSet};
pub use matcher::Matcher;
pub use origin::Origin;
pub use protocol::{MAX_LINE, Warning, WarningSink, unescape};
pub use registry::{
    Added, BOM, Config, DEFAULT_MIN_LENGTH, MAX_VALUE_LEN, Refusal, Registry, expand,
};
pub use runs::{Match, Run};
pub use stream::Stats;
pub use writer::{LineBreakInReplacement, MaskWriter, WriterBuilder};

/// Masks one complete buffer with `***`, command handling off.
///
/// For other settings use [`WriterBuilder::mask`], for example
/// `MaskWriter::builder(registry).commands(true).mask(input)`.
pub fn mask(registry: &Arc<Registry>, input: &[u8]) -> Vec<u8> {
    WriterBuilder::new(registry.clone())
        .commands(false)
        .mask(input)
}
