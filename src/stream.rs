//! The streaming masker: bytes in, masked bytes out, split-invariant.
//!
//! [`Masker`] consumes the stream in writes of any size. A small piece is
//! appended to the held tail so the matcher sees one contiguous buffer; a
//! large one (most of a log) is searched where it lies, with only the held
//! tail and the piece's first few KiB joined in a small copy for the
//! occurrences that straddle them, and the text between masked regions is
//! written straight from it. Either way the masker searches the new bytes
//! (and re-probes the held ones), records every masked interval, and
//! writes the longest *decided* prefix of what it has seen.
//!
//! Invariants (positions are absolute stream offsets; each is stated at
//! its field too and checked by `debug_check_invariants` after every write
//! in debug builds and tests):
//! - `pending_start` is the earliest start of an occurrence that may still
//!   complete; the detectors keep their own earliest undecided byte, and
//!   `hold_from()` is the smaller of the two: every byte before it is
//!   decided, and so is every masked byte. Nothing else is decided, so
//!   nothing else is held.
//! - `emitted` is where output stands. Output goes up to `hold_from()`
//!   and then on through masked bytes, so bytes in
//!   `hold_from()..emitted` are all masked.
//! - `buf` keeps the bytes from `min(hold_from(), emitted)` to `end`
//!   between writes (a piece searched in place contributes its tail):
//!   those not yet written, plus those the filter must re-probe or a new
//!   matcher must rescan. That is fewer bytes than the
//!   longest variant, so memory is bounded by the registry and the piece
//!   size, not by the input.
//! - `runs` is sorted, disjoint and non-touching (touching occurrences form
//!   one run, SPEC 2); runs wholly before `emitted` are dropped.
//! - `in_run` says the last byte written was masked, so a run that
//!   continues in a later write is not replaced twice.
//! - `extra_searched` is the text searched since this stream last had a
//!   one-batch matcher, counted once per batch beyond the first. Once it
//!   reaches `COMPACT_AFTER` (in `matcher`) times the variants' bytes,
//!   the next refresh asks the registry to compact: the rebuild then costs
//!   about what the extra batches have cost, so a burst of registrations
//!   (a dense log's detected credentials, many `::add-mask::` lines) is
//!   searched with one batch soon after it ends, and a stream that keeps
//!   registering pays at most about twice the cheaper of the two. When a
//!   large build split its variants in two batches (start-up's, see
//!   `SPLIT_BUILD_MIN` in `registry`), the registry compacts on a thread
//!   of its own once `extra_searched` reaches a sixteenth of that: a short
//!   log never pays for the rebuild, a long one barely waits for it.
//!   Detection reaching its cap ends a burst at once: the next refresh
//!   compacts. Compaction keeps the variant set, so it changes no output.
//! - Detected parts cut a write into pieces only while they may still be
//!   registered: past the cap (or with registration off) a piece stays
//!   whole. Several parts in one piece are expanded and built once
//!   ([`Registry::stage`]); when none of their variants occurs after its
//!   own cut, the piece is cut only at the last part (`absent_after_cuts`
//!   says why that is exact) and the registry takes the staged batch.
//! - `tracker` is present only when someone asked for completed runs
//!   ([`crate::runs`]); it sees every reported occurrence and every step's
//!   pending start while the bytes are still held. Without it the only
//!   cost is one untaken branch per occurrence.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::detect::{Detector, DetectorSet, Detectors, Found, Windows};
use crate::matcher::{Matcher, ScanState};
use crate::registry::{Registry, Staged};
use crate::runs::{Hay, RunTracker};

/// At most this many detected parts are registered per stream (SPEC 7).
pub const MAX_DETECTED_REGISTRATIONS: u64 = 10_000;

/// Fewest detected parts in one piece that are staged together (see
/// [`absent_after_cuts`]) rather than each expanded and built at its cut.
const BATCHED_REGISTRATIONS_MIN: usize = 2;

/// Writes larger than this are processed in pieces, so that the interval
/// list stays small whatever the caller's buffer size.
const PIECE: usize = 256 * 1024;

/// Pieces at least this long are searched and written where they lie, not
/// copied after the held bytes. It exceeds the filters' longest variant
/// (see [`Masker::search_in_place`]).
const IN_PLACE_MIN: usize = 16 * 1024;
const _: () = assert!(IN_PLACE_MIN > crate::gram_search::MAX_LEN);

/// What detection did that the writer passes on.
pub(crate) enum DetectNote {
    /// A detected part was registered with this source label.
    Registered(Vec<u8>, String),
    /// The cap of registered detected parts was reached, by a part of
    /// this detector's.
    CapReached(Detector),
}

/// Counters of one stream, safe to print: no value in them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written, replacements included.
    pub bytes_out: u64,
    /// Maximal masked runs replaced.
    pub regions: u64,
    /// Credentials detected, by [`Detector::index`].
    pub detected: [u64; 17],
}

impl Stats {
    /// Credentials detected in total.
    pub fn detected_total(&self) -> u64 {
        self.detected.iter().sum()
    }
}

/// The masking state of one stream.
pub(crate) struct Masker {
    registry: Arc<Registry>,
    /// The snapshot in use; replaced (and the held bytes searched again)
    /// when the registry's generation moves on.
    matcher: Arc<Matcher>,
    /// The automata's state at `end()`: it carries partial matches across
    /// writes.
    scan: ScanState,
    /// Text searched since this stream last had a one-batch matcher,
    /// weighted by the batches beyond one ([`Matcher::extra_search`]):
    /// once it pays for a rebuild, the registry is asked to compact.
    extra_searched: u64,
    /// Detection has reached its cap: compact at the next refresh.
    burst_over: bool,
    /// When to stage a piece's detected parts again after a check said no.
    staging: Backoff,
    replacement: Box<[u8]>,
    /// Stream bytes `buf_start..end()`. Invariant: `buf_start <=
    /// min(hold_from(), emitted)` after every write, and the buffer holds
    /// no more than is undecided or unwritten (plus a piece's tail).
    buf: Vec<u8>,
    buf_start: u64,
    /// Output stands here. Invariant: `emitted <= end()`; bytes in
    /// `hold_from()..emitted` are all masked.
    emitted: u64,
    /// The matcher's earliest start of an occurrence that may still
    /// complete. Invariant: `pending_start <= end()`.
    pending_start: u64,
    /// Masked intervals not yet written past. Invariant: sorted, each
    /// non-empty, disjoint and non-touching (touching occurrences are one
    /// run, SPEC 2).
    runs: Vec<(u64, u64)>,
    /// The last byte written was masked: a run continuing into the next
    /// write is not replaced twice.
    in_run: bool,
    stats: Stats,
    /// Detection, when any detector is chosen.
    detectors: Option<Detectors>,
    /// Whether detected parts are registered (not for one-shot masking,
    /// which registers nothing in the caller's registry).
    register_detected: bool,
    registered_detected: u64,
    /// What detection registered, for the writer to pass on.
    notes: Vec<DetectNote>,
    tracker: Option<Box<RunTracker>>,
}

impl Masker {
    pub(crate) fn new(registry: Arc<Registry>, replacement: &[u8]) -> Masker {
        let matcher = registry.matcher();
        let scan = matcher.start();
        Masker {
            registry,
            matcher,
            scan,
            extra_searched: 0,
            burst_over: false,
            staging: Backoff::default(),
            replacement: replacement.into(),
            buf: Vec::new(),
            buf_start: 0,
            emitted: 0,
            pending_start: 0,
            runs: Vec::new(),
            in_run: false,
            stats: Stats::default(),
            detectors: None,
            register_detected: true,
            registered_detected: 0,
            notes: Vec::new(),
            tracker: None,
        }
    }

    /// Chooses the detectors (none: detection off) and whether detected
    /// parts are registered.
    pub(crate) fn set_detection(&mut self, set: DetectorSet, register: bool) {
        self.detectors = (!set.is_empty()).then(|| Detectors::new(set));
        self.register_detected = register;
    }

    /// What detection registered since the last call.
    pub(crate) fn take_notes(&mut self) -> Vec<DetectNote> {
        std::mem::take(&mut self.notes)
    }

    /// Records one detected interval: every detected byte is masked
    /// through here (the hook for attributing runs to detectors).
    fn mark_detected(&mut self, start: u64, end: u64, detector: Detector) {
        insert_run(&mut self.runs, start, end);
        self.note_detected(start, end, detector.name());
    }

    /// Checks the field invariants stated at the fields (debug builds and
    /// tests only: it walks the run list).
    fn debug_check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let end = self.end();
        debug_assert!(self.emitted <= end, "written past the input");
        debug_assert!(self.pending_start <= end, "pending past the input");
        debug_assert!(
            self.buf_start <= self.hold_from().min(self.emitted),
            "dropped a byte that is still held or unwritten"
        );
        debug_assert!(self.runs.iter().all(|r| r.0 < r.1), "an empty masked run");
        debug_assert!(
            self.runs.windows(2).all(|w| w[0].1 < w[1].0),
            "masked runs out of order, overlapping or touching"
        );
    }

    /// The earliest undecided byte: the matcher's or the detectors'.
    fn hold_from(&self) -> u64 {
        match &self.detectors {
            Some(d) => self.pending_start.min(d.pending()),
            None => self.pending_start,
        }
    }

    /// Acts on what the detectors found: marks, counts, and detected parts
    /// to register at their offsets (returned, in order).
    fn take_found(&mut self, found: Found) -> Vec<(u64, Vec<u8>, Detector)> {
        for (a, b, d) in found.marks {
            self.mark_detected(a, b, d);
        }
        for (total, n) in self.stats.detected.iter_mut().zip(found.counts) {
            *total += n;
        }
        let mut regs: Vec<_> = found
            .detected
            .into_iter()
            .map(|d| (d.from, d.value, d.detector))
            .collect();
        regs.sort_by_key(|r| r.0);
        regs
    }

    /// Whether [`register`](Self::register) may still do anything.
    fn may_register(&self) -> bool {
        self.register_detected && self.registered_detected <= MAX_DETECTED_REGISTRATIONS
    }

    /// Registers detected parts (silently; at most the cap per stream),
    /// from its staged expansion when given.
    fn register(&mut self, value: &[u8], detector: Detector, staged: Option<(&mut Staged, usize)>) {
        if !self.may_register() {
            return;
        }
        if !self.registry.origins(value).is_empty() {
            return;
        }
        if self.registered_detected == MAX_DETECTED_REGISTRATIONS {
            self.registered_detected += 1;
            self.notes.push(DetectNote::CapReached(detector));
            self.burst_over = true;
            return;
        }
        self.registered_detected += 1;
        let label = detector.source();
        let added = match staged {
            Some((parts, index)) => self.registry.add_staged(parts, index, &label),
            None => self.registry.add_from(value, &label),
        };
        if added.is_ok() {
            self.notes
                .push(DetectNote::Registered(value.to_vec(), label));
        }
    }

    /// Reports completed runs to `tracker` from now on (set before the
    /// first write).
    pub(crate) fn track_runs(&mut self, tracker: RunTracker) {
        self.tracker = Some(Box::new(tracker));
    }

    /// Attributes the masked interval `start..end` (stream offsets, bytes
    /// still held) to a detector, for the run callback. The detector's
    /// marking code calls this beside its `insert_run`.
    pub(crate) fn note_detected(&mut self, start: u64, end: u64, detector: &str) {
        if let Some(tracker) = &mut self.tracker {
            tracker.note_detected(start, end, detector);
        }
    }

    fn hay<'a>(&'a self, piece: &'a [u8]) -> Hay<'a> {
        Hay {
            buf: &self.buf,
            buf_start: self.buf_start,
            piece,
        }
    }

    /// Lets the tracker see this step's occurrences and pending start.
    fn track_step(&mut self, piece: &[u8]) {
        if let Some(mut tracker) = self.tracker.take() {
            tracker.step(&self.hay(piece), self.hold_from());
            self.tracker = Some(tracker);
        }
    }

    /// Input bytes that bypass the masker here (see [`RunTracker::gap`]).
    fn track_gap(&mut self, bytes: &[u8], command: bool) {
        if let Some(mut tracker) = self.tracker.take() {
            tracker.gap(self.end(), bytes, command, &self.hay(&[]));
            self.tracker = Some(tracker);
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    fn end(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// The detectors chosen (empty: detection off).
    pub(crate) fn detector_set(&self) -> DetectorSet {
        self.detectors
            .as_ref()
            .map_or(DetectorSet::empty(), Detectors::set)
    }

    /// Masks `data` and writes every byte whose fate is decided.
    /// `windows`, when given, is detection's window pass over `data`, done
    /// ahead of time (see [`crate::Prescanner`]).
    pub(crate) fn write<W: Write>(
        &mut self,
        data: &[u8],
        windows: Option<Windows<'_>>,
        out: &mut W,
    ) -> io::Result<()> {
        self.refresh(out)?;
        for (i, piece) in data.chunks(PIECE).enumerate() {
            // A long write may be where compaction pays off. Only then:
            // secrets added meanwhile are for the next write to take up.
            if i > 0
                && self.compaction_wanted()
                && self.registry.generation() == self.matcher.generation()
            {
                self.refresh(out)?;
            }
            let Some(detectors) = &mut self.detectors else {
                self.write_piece(piece, out)?;
                continue;
            };
            let mut found = Found::default();
            let at = i * PIECE;
            detectors.feed(
                piece,
                windows.map(|w| w.sub(at..at + piece.len())),
                &mut found,
            );
            let mut regs = self.take_found(found);
            if !self.may_register() {
                // Cuts serve registrations only: past the cap a dense log
                // would otherwise go through in pieces of a line or two.
                regs.clear();
                if let Some(detectors) = &mut self.detectors {
                    detectors.stop_collecting();
                }
            }
            // Many parts in one piece (a dense log's): expanded and built
            // once, and when none of their variants occurs after its cut,
            // registered together at the last cut (see `absent_after_cuts`).
            let mut staged = (regs.len() >= BATCHED_REGISTRATIONS_MIN && self.staging.try_now())
                .then(|| {
                    let values: Vec<&[u8]> = regs.iter().map(|r| &r.1[..]).collect();
                    self.registry.stage(&values)
                });
            let together =
                staged.take_if(|parts| absent_after_cuts(piece, self.end(), &regs, parts));
            self.staging.record(together.is_some(), staged.is_some());
            if let Some(mut parts) = together {
                let last = cut_in(piece, self.end(), regs[regs.len() - 1].0);
                self.write_piece(&piece[..last], out)?;
                for (index, (_, value, d)) in regs.into_iter().enumerate() {
                    self.register(&value, d, Some((&mut parts, index)));
                }
                self.registry.adopt(parts);
                self.refresh(out)?;
                self.write_piece(&piece[last..], out)?;
                continue;
            }
            // Split the piece where detected parts start to apply, so that
            // they do exactly there, whatever the write sizes.
            let mut rest = piece;
            let mut at = self.end();
            let mut regs = regs.into_iter().enumerate().peekable();
            while let Some((_, (from, _, _))) = regs.peek() {
                let cut = cut_in(rest, at, *from);
                let (head, tail) = rest.split_at(cut);
                self.write_piece(head, out)?;
                at += cut as u64;
                rest = tail;
                while let Some((index, (_, value, d))) = regs.next_if(|(_, r)| r.0 <= at) {
                    self.register(&value, d, staged.as_mut().map(|parts| (parts, index)));
                }
                self.refresh(out)?;
            }
            self.write_piece(rest, out)?;
        }
        self.debug_check_invariants();
        Ok(())
    }

    fn write_piece<W: Write>(&mut self, piece: &[u8], out: &mut W) -> io::Result<()> {
        {
            self.stats.bytes_in += piece.len() as u64;
            self.extra_searched += self.matcher.extra_search(piece.len());
            if self.matcher.background_compaction_due(self.extra_searched) {
                self.registry.compact_in_background();
            }
            // In place only when the piece is longer than every variant
            // the filters search for (see `search_in_place`); long
            // variants can exceed a piece.
            if piece.len() >= IN_PLACE_MIN && piece.len() > self.matcher.gram_search_max_len() {
                self.search_in_place(piece, out)?;
            } else {
                let new_from = self.buf.len();
                self.buf.extend_from_slice(piece);
                self.search(new_from, out)?;
            }
        }
        Ok(())
    }

    /// Ends the stream: nothing can complete any more, so every held byte
    /// is decided and written.
    pub(crate) fn finish<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.refresh(out)?;
        if let Some(detectors) = &mut self.detectors {
            let mut found = Found::default();
            detectors.finish(&mut found);
            let regs = self.take_found(found);
            for (_, value, d) in regs {
                self.register(&value, d, None);
            }
            self.detectors = None;
        }
        self.pending_start = self.end();
        if let Some(mut tracker) = self.tracker.take() {
            tracker.finish(&self.hay(&[]), self.pending_start);
            self.tracker = Some(tracker);
        }
        let written = self.emit(&[], out);
        self.retain(&[]);
        self.debug_check_invariants();
        written
    }

    /// Writes bytes that bypass masking (`--pass-commands`). Only valid at a
    /// line start, where nothing is held.
    pub(crate) fn write_verbatim<W: Write>(&mut self, data: &[u8], out: &mut W) -> io::Result<()> {
        debug_assert_eq!(
            self.emitted,
            self.end(),
            "verbatim text only at a line start"
        );
        self.track_gap(data, false);
        out.write_all(data)?;
        self.stats.bytes_in += data.len() as u64;
        self.stats.bytes_out += data.len() as u64;
        Ok(())
    }

    /// Counts bytes that were consumed without being written (command
    /// lines), so that stats add up and run positions count them.
    pub(crate) fn note_consumed(&mut self, bytes: &[u8]) {
        self.track_gap(bytes, true);
        self.stats.bytes_in += bytes.len() as u64;
    }

    /// Picks up secrets registered since the last write. The held bytes
    /// are searched again from the earliest pending start with the new
    /// matcher, so a new secret applies to every byte not yet written
    /// (SPEC 1.5).
    ///
    /// It is also where a matcher of several batches is compacted once
    /// the searching it costs pays for that (see [`Registry::compact`]),
    /// here: compacting on a thread of its own left a dense log searched
    /// with a dozen batches while the rebuild ran, which cost more than
    /// the rebuild. The compacted matcher, or a fold merged in the
    /// background ([`Registry::stream_matcher`]), has the same variants,
    /// so taking it here is like taking one that has new ones, and output
    /// does not change.
    fn refresh<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.compaction_wanted() {
            self.registry.compact();
            self.extra_searched = 0;
            self.burst_over = false;
        }
        if self.registry.generation() == self.matcher.generation() {
            return Ok(());
        }
        self.matcher = self.registry.stream_matcher();
        if self.matcher.batches() <= 1 {
            self.extra_searched = 0;
        }
        self.scan = self.matcher.start();
        let from = (self.pending_start - self.buf_start) as usize;
        self.search(from, out)
    }

    /// Whether the matcher's batches should become one: once the extra
    /// batches have cost as much searching as the rebuild costs, or once
    /// detection has reached its cap. Then the burst is over for this
    /// stream (it registers no more), and its builds have already cost
    /// more than one rebuild of what it registered; waiting would only
    /// search the rest of a dense log with a dozen batches (at 10,000
    /// detected credentials, the next 18 MiB).
    fn compaction_wanted(&self) -> bool {
        self.matcher.batches() > 1
            && (self.burst_over || self.matcher.compaction_due(self.extra_searched))
    }

    /// Searches the buffer (new bytes from `new_from`), updates the pending
    /// start, writes what is decided and drops what is no longer needed.
    fn search<W: Write>(&mut self, new_from: usize, out: &mut W) -> io::Result<()> {
        let rescan_from = (self.pending_start - self.buf_start) as usize;
        let (runs, base) = (&mut self.runs, self.buf_start);
        let mut found = self.tracker.as_deref_mut().map(|t| &mut t.found);
        let mut mark = |start, end| {
            insert_run(runs, start, end);
            if let Some(found) = &mut found {
                found.push((start, end));
            }
        };
        self.matcher.walk(
            &mut self.scan,
            &self.buf[new_from..],
            base + new_from as u64,
            &mut mark,
        );
        self.matcher
            .probe(&mut self.scan, &self.buf, base, rescan_from, &mut mark);
        self.pending_start =
            self.matcher
                .pending_start(&mut self.scan, &self.buf, base, rescan_from);
        self.track_step(&[]);
        let written = self.emit(&[], out);
        self.retain(&[]);
        written
    }

    /// Like [`search`](Self::search) for a piece of at least
    /// [`IN_PLACE_MIN`] bytes, searched and written where it lies instead
    /// of being copied after the held bytes first. Only occurrences that
    /// start among the held bytes need both: they end within the filters'
    /// longest variant of the piece's start, so the held bytes and that
    /// much of the piece are probed together, in a small copy.
    fn search_in_place<W: Write>(&mut self, piece: &[u8], out: &mut W) -> io::Result<()> {
        let piece_start = self.end();
        let rescan_from = (self.pending_start - self.buf_start) as usize;
        let held = self.buf.len();
        let (runs, base) = (&mut self.runs, self.buf_start);
        let mut found = self.tracker.as_deref_mut().map(|t| &mut t.found);
        let mut mark = |start, end| {
            insert_run(runs, start, end);
            if let Some(found) = &mut found {
                found.push((start, end));
            }
        };
        self.matcher
            .walk(&mut self.scan, piece, piece_start, &mut mark);
        if rescan_from < held {
            let reach = self.matcher.gram_search_max_len().min(piece.len());
            self.buf.extend_from_slice(&piece[..reach]);
            self.matcher
                .probe(&mut self.scan, &self.buf, base, rescan_from, &mut mark);
            self.buf.truncate(held);
        }
        self.matcher
            .probe(&mut self.scan, piece, piece_start, 0, &mut mark);
        // The piece is longer than any filtered variant, so its end holds
        // every byte the filters need to decide the pending start.
        self.pending_start = self
            .matcher
            .pending_start(&mut self.scan, piece, piece_start, 0);
        self.track_step(piece);
        let written = self.emit(piece, out);
        self.retain(piece);
        written
    }

    /// Writes from `emitted` up to `pending_start`, then on through masked
    /// bytes. The stream's bytes are the held ones in `buf`, followed by
    /// `piece` when it is searched in place.
    fn emit<W: Write>(&mut self, piece: &[u8], out: &mut W) -> io::Result<()> {
        let limit = self.hold_from();
        let mut cur = self.emitted;
        let mut idx = self.runs.partition_point(|r| r.1 <= cur);
        let result = loop {
            if let Some(&(start, end)) = self.runs.get(idx)
                && start <= cur
            {
                if !self.in_run {
                    if let Err(err) = out.write_all(&self.replacement) {
                        break Err(err);
                    }
                    self.stats.bytes_out += self.replacement.len() as u64;
                    self.stats.regions += 1;
                    self.in_run = true;
                }
                cur = end;
                idx += 1;
                continue;
            }
            let next_run = self.runs.get(idx).map_or(u64::MAX, |r| r.0);
            let stop = limit.min(next_run);
            if cur >= stop {
                break Ok(());
            }
            if let Err(err) = self.write_plain(cur, stop, piece, out) {
                break Err(err);
            }
            self.stats.bytes_out += stop - cur;
            self.in_run = false;
            cur = stop;
        };
        self.emitted = cur;
        self.runs.drain(..idx);
        result
    }

    /// Writes the unmasked stream bytes `start..end`.
    fn write_plain<W: Write>(
        &self,
        start: u64,
        end: u64,
        piece: &[u8],
        out: &mut W,
    ) -> io::Result<()> {
        let piece_start = self.end();
        if start < piece_start {
            let a = (start - self.buf_start) as usize;
            let b = (end.min(piece_start) - self.buf_start) as usize;
            out.write_all(&self.buf[a..b])?;
        }
        if end > piece_start {
            let a = (start.max(piece_start) - piece_start) as usize;
            out.write_all(&piece[a..(end - piece_start) as usize])?;
        }
        Ok(())
    }

    /// Keeps the bytes from `min(pending_start, emitted)` on, taking them
    /// from `buf` and then from `piece`, which follows it.
    fn retain(&mut self, piece: &[u8]) {
        let keep_from = self.hold_from().min(self.emitted);
        let piece_start = self.end();
        let drop = (keep_from.min(piece_start) - self.buf_start) as usize;
        self.buf.drain(..drop);
        self.buf_start += drop as u64;
        if keep_from > piece_start {
            self.buf
                .extend_from_slice(&piece[(keep_from - piece_start) as usize..]);
            self.buf_start = keep_from;
        } else {
            self.buf.extend_from_slice(piece);
        }
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Held bytes may be the beginning of a secret: counts only.
        f.debug_struct("Masker")
            .field("held_bytes", &self.buf.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Adds `[start, end)` to a sorted list of disjoint, non-touching runs.
fn insert_run(runs: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    // Occurrences mostly arrive in order of their ends: try the last run.
    match runs.last_mut() {
        None => return runs.push((start, end)),
        Some(last) if start > last.1 => return runs.push((start, end)),
        Some(last) if start >= last.0 => {
            last.1 = last.1.max(end);
            return;
        }
        Some(_) => {}
    }
    let first = runs.partition_point(|r| r.1 < start);
    let past = runs.partition_point(|r| r.0 <= end);
    if first == past {
        runs.insert(first, (start, end));
    } else {
        let merged = (start.min(runs[first].0), end.max(runs[past - 1].1));
        runs.splice(first..past, [merged]);
    }
}

/// Where in `bytes` (the stream's bytes from offset `at` on) a detected
/// part that applies from stream offset `from` cuts them: at their start
/// if it applies already, at their end if it applies after them.
fn cut_in(bytes: &[u8], at: u64, from: u64) -> usize {
    (from.max(at) - at).min(bytes.len() as u64) as usize
}

/// How often a stream stages its pieces' detected parts. A log whose parts'
/// forms follow them (`echo $TOKEN | base64` after each token) keeps doing
/// so, and then every staged batch is built for nothing (it made such a
/// log a quarter slower): after a check says no, staging is skipped for
/// twice as many pieces as the last time, up to 64, until a check says
/// yes again.
#[derive(Default)]
struct Backoff {
    /// Pieces with several parts still to skip.
    skip: u32,
    /// Checks that said no in a row, at most 6.
    refusals: u32,
}

impl Backoff {
    /// Whether to stage this piece's parts (counts a skipped one).
    fn try_now(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// The outcome of a piece: its parts were registered together, or
    /// staged and then cut at each (`refused`), or neither.
    fn record(&mut self, together: bool, refused: bool) {
        if together {
            self.refusals = 0;
        } else if refused {
            self.refusals = (self.refusals + 1).min(6);
            self.skip = 1 << self.refusals;
        }
    }
}

/// Whether no staged variant of a detected part in `regs` (sorted by
/// where each starts to apply, its cut) occurs in `piece` (the stream's
/// next bytes, the first at offset `at`) from that part's cut on, up to
/// the last part's cut. Then registering them all at the last cut masks
/// the piece as registering each at its own does: before its cut a part
/// masks nothing either way, and from it to the last cut it has nothing
/// to mask. Cuts are line starts and no variant holds a line break, so an
/// occurrence that starts before a cut ends before it, and a matcher
/// holds nothing across one. Variants the registry had before are
/// searched for already.
///
/// It says no when the batch leaves a variant to the automaton or the
/// long-variant searcher: those do not report every occurrence of every
/// variant, so one before its cut could hide one after it.
fn absent_after_cuts(
    piece: &[u8],
    at: u64,
    regs: &[(u64, Vec<u8>, Detector)],
    staged: &Staged,
) -> bool {
    let (first, last) = (
        cut_in(piece, at, regs[0].0),
        cut_in(piece, at, regs[regs.len() - 1].0),
    );
    let Some(batch) = staged.batch() else {
        return true;
    };
    if first == last {
        return true;
    }
    if !batch.reports_every_occurrence() {
        return false;
    }
    // Each variant applies from the first cut of a part that has it.
    let mut applies_from: HashMap<&[u8], u64> = HashMap::new();
    for (index, (from, _, _)) in regs.iter().enumerate() {
        for variant in staged.variants(index) {
            applies_from.entry(variant).or_insert(*from);
        }
    }
    let between = &piece[first..last];
    let offset = at + first as u64;
    let mut after_its_cut = false;
    batch.probe_grams(between, offset, 0, &mut |start, end| {
        let bytes = &between[(start - offset) as usize..(end - offset) as usize];
        after_its_cut |= applies_from.get(bytes).is_some_and(|&from| start >= from);
    });
    !after_its_cut
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a check says no, staging waits 2, 4, 8 ... 64 pieces; a yes
    /// resets it.
    #[test]
    fn staging_backs_off_after_each_refusal_until_a_check_says_yes() {
        let mut staging = Backoff::default();
        let mut skipped = Vec::new();
        // Each staged piece refused, seven times, then one registered together.
        for outcome in [false, false, false, false, false, false, false, true, false] {
            let mut waited = 0;
            while !staging.try_now() {
                waited += 1;
            }
            skipped.push(waited);
            staging.record(outcome, !outcome);
        }
        assert_eq!(skipped, [0, 2, 4, 8, 16, 32, 64, 64, 0]);
        // Pieces with a single part are neither: nothing changes.
        let mut staging = Backoff::default();
        staging.record(false, false);
        assert!(staging.try_now());
    }

    /// Reaching detection's cap ends the burst: the next refresh compacts,
    /// and the rest of the stream is searched with one batch.
    #[test]
    fn reaching_the_detection_cap_compacts_at_once() {
        let mut masker = Masker::new(Arc::new(Registry::new()), b"***");
        masker.set_detection(DetectorSet::all(), true);
        let mut out = Vec::new();
        let mut most_batches = 0;
        for i in 0..=MAX_DETECTED_REGISTRATIONS {
            let line = format!("GET /x?sig=v{i:08}abc HTTP/1.1\n");
            masker.write(line.as_bytes(), None, &mut out).unwrap();
            if i < MAX_DETECTED_REGISTRATIONS {
                most_batches = most_batches.max(masker.matcher.batches());
            }
        }
        assert!(most_batches > 1, "the burst left one batch by itself");
        assert_eq!(masker.matcher.batches(), 1);
        assert_eq!(
            masker.registry.secrets(),
            MAX_DETECTED_REGISTRATIONS as usize
        );
    }

    #[test]
    fn insert_run_merges_overlapping_and_touching() {
        let cases: &[(&[(u64, u64)], &[(u64, u64)])] = &[
            (&[(0, 4), (2, 6)], &[(0, 6)]),
            (&[(0, 4), (4, 8)], &[(0, 8)]),
            (&[(0, 4), (5, 8)], &[(0, 4), (5, 8)]),
            (&[(10, 12), (0, 2), (5, 6)], &[(0, 2), (5, 6), (10, 12)]),
            (&[(10, 12), (0, 2), (2, 10)], &[(0, 12)]),
            (&[(0, 2), (4, 6), (8, 10), (3, 9)], &[(0, 2), (3, 10)]),
            (&[(0, 10), (2, 3)], &[(0, 10)]),
        ];
        for (inserts, want) in cases {
            let mut runs = Vec::new();
            for &(s, e) in *inserts {
                insert_run(&mut runs, s, e);
            }
            assert_eq!(runs, want.to_vec(), "inserting {inserts:?}");
        }
    }
}
