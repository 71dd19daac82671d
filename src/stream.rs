//! The streaming masker: bytes in, masked bytes out, split-invariant.
//!
//! [`Masker`] consumes the stream in writes of any size. It walks the
//! matcher over each write once, carrying the automaton states across
//! writes, records every masked interval, and writes the longest *decided*
//! prefix of what it has seen.
//!
//! Invariants (positions are absolute stream offsets):
//! - `pending_start` is the earliest start of an occurrence that may still
//!   complete: every byte before it is decided, and so is every masked
//!   byte. Nothing else is decided, so nothing else is held.
//! - `emitted` is where output stands. Output goes up to `pending_start`
//!   and then on through masked bytes, so bytes in
//!   `pending_start..emitted` are all masked.
//! - `held` keeps the bytes from `min(pending_start, emitted)` to `end`:
//!   those not yet written, plus those a new matcher must rescan. It holds
//!   fewer bytes than the longest variant, so memory is bounded by the
//!   registry, not by the input.
//! - `runs` is sorted, disjoint and non-touching (touching occurrences form
//!   one run, SPEC 2); runs wholly before `emitted` are dropped.
//! - `in_run` says the last byte written was masked, so a run that
//!   continues in a later write is not replaced twice.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::matcher::{Matcher, ScanState};
use crate::registry::Registry;

/// Writes larger than this are processed in pieces, so that the interval
/// list stays small whatever the caller's buffer size.
const PIECE: usize = 256 * 1024;

/// Counters of one stream, safe to print: no value in them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written, replacements included.
    pub bytes_out: u64,
    /// Maximal masked runs replaced.
    pub regions: u64,
}

/// The masking state of one stream.
pub(crate) struct Masker {
    registry: Arc<Registry>,
    matcher: Arc<Matcher>,
    scan: ScanState,
    replacement: Box<[u8]>,
    held: Vec<u8>,
    held_start: u64,
    end: u64,
    emitted: u64,
    pending_start: u64,
    runs: Vec<(u64, u64)>,
    in_run: bool,
    stats: Stats,
}

impl Masker {
    pub(crate) fn new(registry: Arc<Registry>, replacement: &[u8]) -> Masker {
        let matcher = registry.matcher();
        let scan = matcher.start();
        Masker {
            registry,
            matcher,
            scan,
            replacement: replacement.into(),
            held: Vec::new(),
            held_start: 0,
            end: 0,
            emitted: 0,
            pending_start: 0,
            runs: Vec::new(),
            in_run: false,
            stats: Stats::default(),
        }
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Masks `data` and writes every byte whose fate is decided.
    pub(crate) fn write<W: Write>(&mut self, data: &[u8], out: &mut W) -> io::Result<()> {
        self.refresh(out)?;
        for piece in data.chunks(PIECE) {
            self.consume(piece, out)?;
        }
        Ok(())
    }

    /// Ends the stream: nothing can complete any more, so every held byte
    /// is decided and written.
    pub(crate) fn finish<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.refresh(out)?;
        self.emit(&[], self.end, out)?;
        self.pending_start = self.end;
        self.retain(&[]);
        Ok(())
    }

    /// Writes bytes that bypass masking (`--pass-commands`). Only valid at a
    /// line start, where nothing is held.
    pub(crate) fn write_verbatim<W: Write>(&mut self, data: &[u8], out: &mut W) -> io::Result<()> {
        debug_assert_eq!(self.emitted, self.end, "verbatim text only at a line start");
        out.write_all(data)?;
        self.stats.bytes_in += data.len() as u64;
        self.stats.bytes_out += data.len() as u64;
        Ok(())
    }

    /// Counts bytes that were consumed without being written (command
    /// lines), so that stats add up.
    pub(crate) fn note_consumed(&mut self, len: usize) {
        self.stats.bytes_in += len as u64;
    }

    /// Picks up secrets registered since the last write. The held bytes
    /// are rescanned from the earliest pending start with the new matcher,
    /// so a new secret applies to every byte not yet written (SPEC 1.5).
    fn refresh<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.registry.generation() == self.matcher.generation() {
            return Ok(());
        }
        self.matcher = self.registry.matcher();
        self.scan = self.matcher.start();
        let from = self.pending_start;
        let rescan = &self.held[(from - self.held_start) as usize..];
        let runs = &mut self.runs;
        self.matcher.scan(&mut self.scan, rescan, |start, end| {
            insert_run(runs, offset(from, start), from + end as u64);
        });
        self.pending_start = self.end - self.matcher.pending(&self.scan) as u64;
        self.emit(&[], self.pending_start, out)?;
        self.retain(&[]);
        Ok(())
    }

    fn consume<W: Write>(&mut self, piece: &[u8], out: &mut W) -> io::Result<()> {
        let base = self.end;
        let runs = &mut self.runs;
        self.matcher.scan(&mut self.scan, piece, |start, end| {
            insert_run(runs, offset(base, start), base + end as u64);
        });
        self.end += piece.len() as u64;
        self.stats.bytes_in += piece.len() as u64;
        self.pending_start = self.end - self.matcher.pending(&self.scan) as u64;
        self.emit(piece, self.pending_start, out)?;
        self.retain(piece);
        Ok(())
    }

    /// Writes from `emitted` up to `limit`, then on through masked bytes.
    /// `piece` holds the bytes after the held ones.
    fn emit<W: Write>(&mut self, piece: &[u8], limit: u64, out: &mut W) -> io::Result<()> {
        let mut cur = self.emitted;
        let mut idx = self.runs.partition_point(|r| r.1 <= cur);
        loop {
            if let Some(&(start, end)) = self.runs.get(idx)
                && start <= cur
            {
                if !self.in_run {
                    out.write_all(&self.replacement)?;
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
                break;
            }
            self.write_plain(piece, cur, stop, out)?;
            self.in_run = false;
            cur = stop;
        }
        self.emitted = cur;
        self.runs.drain(..idx);
        Ok(())
    }

    /// Writes the unmasked bytes `from..to`, which lie in `held` and then
    /// in `piece`.
    fn write_plain<W: Write>(
        &mut self,
        piece: &[u8],
        from: u64,
        to: u64,
        out: &mut W,
    ) -> io::Result<()> {
        let piece_start = self.held_start + self.held.len() as u64;
        if from < piece_start {
            let a = (from - self.held_start) as usize;
            let b = (to.min(piece_start) - self.held_start) as usize;
            out.write_all(&self.held[a..b])?;
        }
        if to > piece_start {
            let a = (from.max(piece_start) - piece_start) as usize;
            let b = (to - piece_start) as usize;
            out.write_all(&piece[a..b])?;
        }
        self.stats.bytes_out += to - from;
        Ok(())
    }

    /// Keeps the bytes from `min(pending_start, emitted)` on.
    fn retain(&mut self, piece: &[u8]) {
        let keep_from = self.pending_start.min(self.emitted);
        let piece_start = self.held_start + self.held.len() as u64;
        if keep_from >= piece_start {
            self.held.clear();
            self.held
                .extend_from_slice(&piece[(keep_from - piece_start) as usize..]);
        } else {
            self.held.drain(..(keep_from - self.held_start) as usize);
            self.held.extend_from_slice(piece);
        }
        self.held_start = keep_from;
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Held bytes may be the beginning of a secret: counts only.
        f.debug_struct("Masker")
            .field("held_bytes", &self.held.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// `base + rel`, where `rel` may be negative (an occurrence that began in
/// an earlier write).
fn offset(base: u64, rel: isize) -> u64 {
    base.checked_add_signed(rel as i64)
        .expect("an occurrence never begins before the stream")
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

#[cfg(test)]
mod tests {
    use super::*;

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
