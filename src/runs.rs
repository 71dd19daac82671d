//! Attribution of completed masked runs: where each run lies in the input
//! stream and which secrets (source, form) and detectors produced it.
//!
//! Only a stream whose writer was given
//! [`WriterBuilder::on_run`](crate::WriterBuilder::on_run) has a
//! `RunTracker`; without one the masker does no extra work at all.
//!
//! The model:
//! - The matcher reports, at every position where a variant ends, an
//!   occurrence at least as long as every other one ending there (the
//!   automata) or every occurrence (the filters). So every occurrence of
//!   every variant inside a run is a *suffix* of a reported occurrence
//!   ending at the same position. Attribution looks at each reported
//!   occurrence while its bytes are still in the masker's buffer and asks
//!   the registry for the origins of each of its suffixes whose length is
//!   that of some variant (`Registry::suffix_origins`). The answer
//!   depends only on the occurrence's bytes and the registry's
//!   generation, so it is cached (keyed hash, bounded size): a 1 GiB run
//!   of one repeated secret costs one lookup and a cache hit per
//!   occurrence, and the run keeps a set of (source, form) pairs, never
//!   bytes.
//! - Positions count the *input* stream: command lines the protocol
//!   consumes (or writes verbatim) never reach the masker, so they are
//!   counted here as gaps (`RunTracker::gap`). Lines are counted
//!   eagerly up to the masker's hold point (the pending start) after each
//!   step, while the bytes are still held; every occurrence a later step
//!   reports starts at or after that point. Within a step, positions are
//!   counted forward from it by a cursor over the occurrences in order of
//!   their starts, so no count ever runs backwards (a detector may report
//!   a credential before a run found earlier on a later line).
//! - A run is complete, and reported, once the pending start lies past
//!   its end (no occurrence can touch it any more), or at the end of the
//!   stream.
//!
//! Invariants:
//! - `open` is sorted, disjoint and non-touching, like the masker's runs.
//! - Memory is bounded whatever the input: open runs lie in the held
//!   region, each holds at most one entry per registered (source, form)
//!   pair and detector, and the cache holds at most `CACHE_BYTES` (1 MiB) of
//!   keys.
//! - A [`Run`] holds positions, labels, encoding names and detector names:
//!   never a byte of the stream. Its `Debug` is therefore safe to print.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use memchr::{memchr_iter, memrchr};

use crate::encoding::Encoding;
use crate::origin::Origin;
use crate::registry::Registry;

/// Most bytes of occurrences kept as cache keys; past that the cache is
/// emptied and starts again.
const CACHE_BYTES: usize = 1 << 20;

/// What produced (part of) a masked run. Never holds a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// A registered secret: its source label and the form of the variant.
    Secret(Origin),
    /// A detector (section 7 of the specification) found a credential.
    Detected(Arc<str>),
    /// Not a masked run but a consumed command line (`add-mask`), reported
    /// only when asked with
    /// [`WriterBuilder::report_commands`](crate::WriterBuilder::report_commands).
    Command(&'static str),
}

/// One completed masked run (or, when asked, one consumed command line).
///
/// Positions are in the input stream, command lines included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// Offset of the run's first byte, from 0.
    pub offset: u64,
    /// Line of the first byte, from 1.
    pub line: u64,
    /// Column of the first byte, in bytes, from 1.
    pub column: u64,
    /// Length in input bytes.
    pub length: u64,
    /// (source, form) pairs sorted by source then by form in the order of
    /// [`Encoding::ALL`], then detectors sorted by name; each once.
    pub matches: Vec<Match>,
}

/// Receives each completed run.
pub type RunSink = Box<dyn FnMut(&Run) + Send>;

/// The stream bytes a step can see: the held buffer, then the piece being
/// searched in place (empty when none).
pub(crate) struct Hay<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) buf_start: u64,
    pub(crate) piece: &'a [u8],
}

impl Hay<'_> {
    fn piece_start(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// The stream bytes `a..b`, as a part in `buf` and a part in `piece`.
    fn parts(&self, a: u64, b: u64) -> [&[u8]; 2] {
        debug_assert!(self.buf_start <= a && a <= b);
        let ps = self.piece_start();
        let in_buf =
            &self.buf[(a.min(ps) - self.buf_start) as usize..(b.min(ps) - self.buf_start) as usize];
        let in_piece = &self.piece[(a.max(ps) - ps) as usize..(b.max(ps) - ps) as usize];
        [in_buf, in_piece]
    }
}

/// Where a byte of the input stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    offset: u64,
    line: u64,
    column: u64,
}

/// Counts input lines up to a masker offset.
#[derive(Clone, Copy)]
struct Lines {
    /// Masker offset counted up to.
    at: u64,
    /// Input offset of `at`.
    input: u64,
    /// Line of `at`, from 1.
    line: u64,
    /// Input offset of the first byte of that line.
    line_start: u64,
}

impl Lines {
    fn count(&mut self, part: &[u8]) {
        let newlines = memchr_iter(b'\n', part).count() as u64;
        if newlines > 0 {
            let last = memrchr(b'\n', part).expect("counted one") as u64;
            self.line += newlines;
            self.line_start = self.input + last + 1;
        }
        self.input += part.len() as u64;
    }

    fn advance(&mut self, to: u64, hay: &Hay) {
        if to <= self.at {
            return;
        }
        for part in hay.parts(self.at, to) {
            self.count(part);
        }
        self.at = to;
    }

    /// The position of masker offset `x`, moving forward to it; callers
    /// ask in order (see [`RunTracker::step`]).
    fn position(&mut self, x: u64, hay: &Hay) -> Position {
        self.advance(x, hay);
        let offset = self.input - (self.at - x);
        debug_assert!(
            offset >= self.line_start,
            "a run never starts on a counted line"
        );
        Position {
            offset,
            line: self.line,
            column: offset.saturating_sub(self.line_start) + 1,
        }
    }
}

/// Sort key of a (source, form) pair: by label, then by SPEC 1.3 order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SecretKey {
    source: Arc<str>,
    rank: usize,
}

fn rank(form: Encoding) -> usize {
    Encoding::ALL
        .iter()
        .position(|&e| e == form)
        .unwrap_or(usize::MAX)
}

struct OpenRun {
    start: u64,
    end: u64,
    at: Position,
    secrets: BTreeSet<SecretKey>,
    detectors: BTreeSet<Arc<str>>,
    /// The last cached answer merged in, so a run of one repeated secret
    /// merges its pairs once.
    last: Option<Arc<[Origin]>>,
}

impl OpenRun {
    fn absorb(&mut self, other: OpenRun) {
        self.secrets.extend(other.secrets);
        self.detectors.extend(other.detectors);
        self.last = None;
    }

    fn add_origins(&mut self, origins: &Arc<[Origin]>) {
        if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, origins)) {
            return;
        }
        for origin in origins.iter() {
            self.secrets.insert(SecretKey {
                source: origin.source.clone(),
                rank: rank(origin.form),
            });
        }
        self.last = Some(origins.clone());
    }

    fn into_run(self) -> Run {
        let mut matches: Vec<Match> = self
            .secrets
            .into_iter()
            .map(|key| {
                Match::Secret(Origin {
                    source: key.source,
                    form: Encoding::ALL[key.rank],
                })
            })
            .collect();
        matches.extend(self.detectors.into_iter().map(Match::Detected));
        Run {
            offset: self.at.offset,
            line: self.at.line,
            column: self.at.column,
            length: self.end - self.start,
            matches,
        }
    }
}

/// A consumed command line being counted.
struct OpenCommand {
    at: Position,
    bytes: u64,
    last_byte: Option<u8>,
}

/// The attribution state of one stream.
pub(crate) struct RunTracker {
    registry: Arc<Registry>,
    sink: RunSink,
    report_commands: bool,
    /// Occurrences the matcher reported in the current step.
    pub(crate) found: Vec<(u64, u64)>,
    /// Detected intervals recorded in the current step.
    detected: Vec<(u64, u64, Arc<str>)>,
    open: Vec<OpenRun>,
    lines: Lines,
    cache: HashMap<Box<[u8]>, Arc<[Origin]>>,
    cache_bytes: usize,
    cache_secrets: usize,
    /// The longest variant when the cache was last emptied.
    longest: usize,
    scratch: Vec<u8>,
    command: Option<OpenCommand>,
}

impl RunTracker {
    pub(crate) fn new(registry: Arc<Registry>, sink: RunSink, report_commands: bool) -> RunTracker {
        RunTracker {
            cache_secrets: registry.secrets(),
            longest: registry.longest_variant(),
            registry,
            sink,
            report_commands,
            found: Vec::new(),
            detected: Vec::new(),
            open: Vec::new(),
            lines: Lines {
                at: 0,
                input: 0,
                line: 1,
                line_start: 0,
            },
            cache: HashMap::new(),
            cache_bytes: 0,
            scratch: Vec::new(),
            command: None,
        }
    }

    /// Records a detected interval (masker offsets); attributed at the
    /// next step, while its bytes are still held.
    pub(crate) fn note_detected(&mut self, start: u64, end: u64, detector: &str) {
        self.detected.push((start, end, detector.into()));
    }

    /// After a search: attributes the occurrences found, reports the runs
    /// that can no longer grow and counts lines up to `pending_start`, the
    /// masker's hold point (every byte before it is decided).
    pub(crate) fn step(&mut self, hay: &Hay, pending_start: u64) {
        let mut found = std::mem::take(&mut self.found);
        // The searchers report out of order (automata, then filters):
        // positions are counted forward, so take starts in order.
        found.sort_unstable();
        if !found.is_empty() {
            self.check_cache();
        }
        let mut cursor = self.lines;
        for &(start, end) in &found {
            let origins = self.attribute(start, end, hay);
            let run = self.insert(start, end, hay, &mut cursor);
            run.add_origins(&origins);
        }
        found.clear();
        self.found = found;
        let mut detected = std::mem::take(&mut self.detected);
        detected.sort_unstable();
        // Detectors see a whole write before the masker searches it in
        // parts (split where detected values start to apply): intervals
        // past the bytes searched so far wait for the step that has them.
        let hay_end = hay.piece_start() + hay.piece.len() as u64;
        let later = detected.split_off(detected.partition_point(|d| d.0 < hay_end));
        let mut cursor = self.lines;
        for (start, end, name) in detected.drain(..) {
            self.insert(start, end, hay, &mut cursor)
                .detectors
                .insert(name);
        }
        self.detected = later;
        let complete = self.open.partition_point(|r| r.end < pending_start);
        for run in self.open.drain(..complete) {
            (self.sink)(&run.into_run());
        }
        self.lines.advance(pending_start, hay);
    }

    /// Bytes that bypassed the masker at masker offset `at` (a line
    /// start, where nothing is held): a consumed command line when
    /// `command`, else text written verbatim.
    pub(crate) fn gap(&mut self, at: u64, bytes: &[u8], command: bool, hay: &Hay) {
        // A run cannot grow across input it does not hold.
        for run in self.open.drain(..) {
            (self.sink)(&run.into_run());
        }
        if bytes.is_empty() {
            return;
        }
        let position = self.lines.position(at, hay);
        if command && self.report_commands {
            let open = self.command.get_or_insert(OpenCommand {
                at: position,
                bytes: 0,
                last_byte: None,
            });
            let before_last = if bytes.len() >= 2 {
                Some(bytes[bytes.len() - 2])
            } else {
                open.last_byte
            };
            open.bytes += bytes.len() as u64;
            open.last_byte = bytes.last().copied();
            if bytes.ends_with(b"\n") {
                let ending = 1 + u64::from(before_last == Some(b'\r'));
                self.emit_command(ending);
            }
        }
        self.lines.count(bytes);
    }

    /// Ends the stream: every run is complete.
    pub(crate) fn finish(&mut self, hay: &Hay, end: u64) {
        self.step(hay, end);
        for run in self.open.drain(..) {
            (self.sink)(&run.into_run());
        }
        if self.command.as_ref().is_some_and(|c| c.last_byte.is_some()) {
            let ending = u64::from(self.command.as_ref().and_then(|c| c.last_byte) == Some(b'\r'));
            self.emit_command(ending);
        }
        self.command = None;
    }

    fn emit_command(&mut self, ending: u64) {
        if let Some(command) = self.command.take() {
            (self.sink)(&Run {
                offset: command.at.offset,
                line: command.at.line,
                column: command.at.column,
                length: command.bytes - ending.min(command.bytes),
                matches: vec![Match::Command("add-mask")],
            });
        }
    }

    /// Empties the cache when values were accepted since it was filled:
    /// a value may add an origin to a variant without adding a variant
    /// (the same secret from a second source), so the count of accepted
    /// values, not the generation, tells.
    fn check_cache(&mut self) {
        let secrets = self.registry.secrets();
        if secrets != self.cache_secrets {
            self.cache.clear();
            self.cache_bytes = 0;
            self.cache_secrets = secrets;
            self.longest = self.registry.longest_variant();
        }
    }

    /// Every origin of every variant inside the occurrence `start..end`.
    ///
    /// A reported interval may also be the union of overlapping
    /// occurrences of one long variant; its variants are still its
    /// suffixes, all within its last `longest` bytes, so only those are
    /// looked at (and kept as the cache key).
    fn attribute(&mut self, start: u64, end: u64, hay: &Hay) -> Arc<[Origin]> {
        let start = start
            .max(hay.buf_start)
            .max(end.saturating_sub(self.longest as u64));
        let [a, b] = hay.parts(start, end);
        let bytes: &[u8] = if b.is_empty() {
            a
        } else if a.is_empty() {
            b
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(a);
            self.scratch.extend_from_slice(b);
            &self.scratch
        };
        if self.cache_bytes + bytes.len() > CACHE_BYTES {
            self.cache.clear();
            self.cache_bytes = 0;
        }
        if let Some(hit) = self.cache.get(bytes) {
            return hit.clone();
        }
        let mut origins = Vec::new();
        self.registry.suffix_origins(bytes, &mut origins);
        let origins: Arc<[Origin]> = origins.into();
        if bytes.len() <= CACHE_BYTES / 4 {
            self.cache_bytes += bytes.len();
            self.cache.insert(bytes.into(), origins.clone());
        }
        origins
    }

    /// Adds `start..end` to the open runs, merging what it overlaps or
    /// touches, and returns the run that holds it.
    fn insert(&mut self, start: u64, end: u64, hay: &Hay, cursor: &mut Lines) -> &mut OpenRun {
        let first = self.open.partition_point(|r| r.end < start);
        let past = self.open.partition_point(|r| r.start <= end);
        if first == past {
            let at = cursor.position(start, hay);
            self.open.insert(
                first,
                OpenRun {
                    start,
                    end,
                    at,
                    secrets: BTreeSet::new(),
                    detectors: BTreeSet::new(),
                    last: None,
                },
            );
            return &mut self.open[first];
        }
        let mut merged: Vec<OpenRun> = self.open.drain(first + 1..past).collect();
        let run_start = self.open[first].start;
        if start < run_start {
            let at = cursor.position(start, hay);
            let run = &mut self.open[first];
            run.start = start;
            run.at = at;
        }
        let run = &mut self.open[first];
        run.end = run.end.max(end);
        for other in merged.drain(..) {
            run.end = run.end.max(other.end);
            run.absorb(other);
        }
        run
    }
}
