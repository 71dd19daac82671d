//! Detection's window pass, run ahead of the stream.
//!
//! The first stage of detection (every three-byte window that may hold
//! an anchor, [`super::fingerprints`]) is a pure function of the bytes:
//! it needs no state of the stream. So the thread that reads a chunk can
//! run it at once ([`Prescanner::scan`]) while the masking thread is busy
//! with the chunk before, and the masking thread then only checks the
//! hits ([`crate::MaskWriter::write_scanned`]). On two cores the pass, a
//! third of detection's cost on a plain log, leaves the masking thread.
//!
//! Invariants:
//! - A [`Scanned`] chunk owns its bytes, so its hits cannot be taken for
//!   other bytes' (the bytes can only be read, or taken back whole).
//! - Output never depends on whether a chunk was scanned ahead: a writer
//!   with other detectors than the scanner's, or none, ignores the hits,
//!   and every piece of the chunk is searched as if it had been written
//!   on its own (the windows straddling two pieces are classified where
//!   they are needed).

use std::fmt;

use super::anchors::{Anchors, Windows};
use super::{DetectorSet, url_may_start};

/// Runs the window pass over chunks for writers detecting `set`.
pub struct Prescanner {
    anchors: Anchors,
    set: DetectorSet,
}

impl Prescanner {
    /// A scanner for writers whose detectors are `set`.
    pub fn new(set: DetectorSet) -> Prescanner {
        Prescanner {
            anchors: Anchors::new(set),
            set,
        }
    }

    /// The window pass over `bytes` (at most 4 GiB), kept with them.
    pub fn scan(&self, bytes: Vec<u8>) -> Scanned {
        self.scan_reusing(bytes, Vec::new())
    }

    /// Like [`scan`](Self::scan), reusing the hit list of an earlier
    /// chunk (from [`Scanned::into_parts`]).
    pub fn scan_reusing(&self, bytes: Vec<u8>, mut hits: Vec<(u32, u8)>) -> Scanned {
        hits.clear();
        if !self.set.is_empty() {
            self.anchors.windows(&bytes, &mut hits);
            // The hits that cannot be triggers go no further (see
            // `Anchors::may_trigger`): most URLs, and the windows that
            // only share a trigger's nibbles.
            let set = self.set;
            let url = |after: &[u8]| url_may_start(after, set) != (false, false);
            hits.retain(|&(at, buckets)| {
                self.anchors.may_trigger(&bytes, at as usize, buckets, url)
            });
        }
        Scanned {
            bytes,
            hits,
            set: self.set,
        }
    }
}

impl fmt::Debug for Prescanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prescanner")
            .field("set", &self.set)
            .finish()
    }
}

/// A chunk of the stream with its window hits (see the module docs).
pub struct Scanned {
    bytes: Vec<u8>,
    hits: Vec<(u32, u8)>,
    set: DetectorSet,
}

impl Scanned {
    /// The chunk's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes and the hit list, for reuse.
    pub fn into_parts(self) -> (Vec<u8>, Vec<(u32, u8)>) {
        (self.bytes, self.hits)
    }

    /// The hits over `bytes()`, when they are for detectors `set`.
    pub(crate) fn windows_for(&self, set: DetectorSet) -> Option<Windows<'_>> {
        (set == self.set && !set.is_empty()).then(|| Windows::new(&self.hits, self.bytes.len()))
    }
}

/// Shows sizes only: the bytes may hold secrets.
impl fmt::Debug for Scanned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanned")
            .field("bytes", &self.bytes.len())
            .field("hits", &self.hits.len())
            .finish()
    }
}
