//! An immutable snapshot of every registered variant, ready to search.
//!
//! A [`Matcher`] is what one generation of the registry looks like to a
//! stream: a few automaton tiers (one large one and some small recent ones,
//! so that a burst of in-band additions does not rebuild the large one each
//! time). A stream walks each tier with its own state; the union of their
//! matches is the union over all variants, and the largest of their depths
//! is the number of trailing bytes that may still begin a variant.
//!
//! Invariants:
//! - A matcher never changes; the registry swaps in a new one (a new
//!   generation) when secrets arrive.
//! - `on_match` reports, for every position where any variant ends, an
//!   occurrence at least as long as every other ending there, so marking
//!   the reported intervals marks exactly the union of all occurrences.

use std::fmt;
use std::sync::Arc;

use aho_corasick::automaton::StateID;

use crate::automaton::Tier;

/// The variants of one registry generation, ready to search.
pub struct Matcher {
    tiers: Vec<Arc<Tier>>,
    generation: u64,
}

/// Where a stream is in each tier of a matcher.
pub(crate) struct ScanState {
    states: Vec<StateID>,
}

impl Matcher {
    pub(crate) fn new(tiers: Vec<Arc<Tier>>, generation: u64) -> Matcher {
        Matcher { tiers, generation }
    }

    /// The registry generation this matcher was built for.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of variants this matcher searches for.
    pub fn variants(&self) -> usize {
        self.tiers.iter().map(|t| t.patterns()).sum()
    }

    /// Heap bytes used by the automata.
    pub fn memory_usage(&self) -> usize {
        self.tiers.iter().map(|t| t.memory_usage()).sum()
    }

    /// A fresh scan state, as at the start of a stream.
    pub(crate) fn start(&self) -> ScanState {
        ScanState {
            states: self.tiers.iter().map(|t| t.start()).collect(),
        }
    }

    /// Walks `haystack`, calling `on_match(start, end)` (relative to
    /// `haystack`) for the longest occurrence ending at each position in
    /// each tier. Occurrences may begin before `haystack` (in text scanned
    /// earlier with the same state), so `start` is signed.
    pub(crate) fn scan(
        &self,
        state: &mut ScanState,
        haystack: &[u8],
        mut on_match: impl FnMut(isize, usize),
    ) {
        for (tier, sid) in self.tiers.iter().zip(state.states.iter_mut()) {
            *sid = tier.walk(*sid, haystack, |end, len| {
                on_match(end as isize - len as isize, end);
            });
        }
    }

    /// How many trailing bytes of the scanned text may still begin a
    /// variant.
    pub(crate) fn pending(&self, state: &ScanState) -> usize {
        self.tiers
            .iter()
            .zip(&state.states)
            .map(|(t, s)| t.depth(*s))
            .max()
            .unwrap_or(0)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("generation", &self.generation)
            .field("tiers", &self.tiers.len())
            .field("variants", &self.variants())
            .finish()
    }
}
