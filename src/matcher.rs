//! An immutable snapshot of every registered variant, ready to search.
//!
//! A [`Matcher`] is what one generation of the registry looks like to a
//! stream: a few [`Batch`]es (one large one and some small recent ones, so
//! that a burst of in-band additions does not rebuild the large one each
//! time). Each batch splits its variants by what searches them cheaply:
//!
//! - long, varied variants go to the q-gram skip filter
//!   ([`GramFilter`]), which looks at one gram every `stride` bytes;
//! - short ones, huge ones and repetitive ones (whose grams many entries
//!   share) go to an Aho-Corasick automaton ([`Tier`]), which costs the same
//!   on every byte whatever the text.
//!
//! Invariants:
//! - A matcher never changes; the registry swaps in a new one (a new
//!   generation) when secrets arrive.
//! - `scan` reports, for every position where any variant ends, an
//!   occurrence at least as long as every other one ending there (the
//!   automaton) or every occurrence (the filter), so marking the reported
//!   intervals marks exactly the union of all occurrences.
//! - `pending_start` is exact: the earliest position from which the text
//!   is a proper prefix of some variant.

use std::fmt;
use std::sync::Arc;

use aho_corasick::automaton::StateID;

use crate::automaton::Tier;
use crate::gram_filter::GramFilter;

/// The variants of one registry batch, split between the two searchers.
pub(crate) struct Batch {
    automaton: Option<Tier>,
    filter: Option<GramFilter>,
}

impl Batch {
    pub(crate) fn build(variants: &[Arc<[u8]>]) -> Batch {
        let all: Vec<&[u8]> = variants.iter().map(|v| &v[..]).collect();
        let (filter, rest) = GramFilter::build_partitioned(&all);
        Batch {
            automaton: (!rest.is_empty()).then(|| Tier::build(&rest)),
            filter,
        }
    }

    fn variants(&self) -> usize {
        self.automaton.as_ref().map_or(0, |t| t.patterns())
            + self.filter.as_ref().map_or(0, |f| f.patterns())
    }

    fn memory_usage(&self) -> usize {
        self.automaton.as_ref().map_or(0, |t| t.memory_usage())
            + self.filter.as_ref().map_or(0, |f| f.memory_usage())
    }
}

/// The variants of one registry generation, ready to search.
pub struct Matcher {
    batches: Vec<Arc<Batch>>,
    generation: u64,
}

/// Where a stream is in each automaton of a matcher.
pub(crate) struct ScanState {
    states: Vec<Option<StateID>>,
}

impl Matcher {
    pub(crate) fn new(batches: Vec<Arc<Batch>>, generation: u64) -> Matcher {
        Matcher {
            batches,
            generation,
        }
    }

    /// The registry generation this matcher was built for.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of variants this matcher searches for.
    pub fn variants(&self) -> usize {
        self.batches.iter().map(|b| b.variants()).sum()
    }

    /// Heap bytes used by the automata and filters.
    pub fn memory_usage(&self) -> usize {
        self.batches.iter().map(|b| b.memory_usage()).sum()
    }

    /// A fresh scan state, as at the start of a stream.
    pub(crate) fn start(&self) -> ScanState {
        ScanState {
            states: self
                .batches
                .iter()
                .map(|b| b.automaton.as_ref().map(|t| t.start()))
                .collect(),
        }
    }

    /// Searches `hay`, whose first byte is at stream offset `hay_offset`,
    /// calling `on_match(start, end)` (relative to `hay`).
    ///
    /// The automata walk `hay[new_from..]`, carrying their states from the
    /// previous call; the filters re-probe from `rescan_from`, the earliest
    /// position where an occurrence could still be incomplete.
    pub(crate) fn scan(
        &self,
        state: &mut ScanState,
        hay: &[u8],
        hay_offset: u64,
        new_from: usize,
        rescan_from: usize,
        mut on_match: impl FnMut(usize, usize),
    ) {
        for (batch, sid) in self.batches.iter().zip(state.states.iter_mut()) {
            if let (Some(tier), Some(sid)) = (&batch.automaton, sid.as_mut()) {
                *sid = tier.walk(*sid, &hay[new_from..], |end, len| {
                    on_match(new_from + end - len, new_from + end);
                });
            }
            if let Some(filter) = &batch.filter {
                filter.scan(hay, hay_offset, rescan_from, &mut on_match);
            }
        }
    }

    /// The earliest position in `hay` (at or after `from`, the previous
    /// answer) from which the text may still become an occurrence.
    pub(crate) fn pending_start(&self, state: &ScanState, hay: &[u8], from: usize) -> usize {
        let mut pending = hay.len();
        for (batch, sid) in self.batches.iter().zip(&state.states) {
            if let (Some(tier), Some(sid)) = (&batch.automaton, sid) {
                pending = pending.min(hay.len() - tier.depth(*sid));
            }
            if let Some(filter) = &batch.filter {
                pending = pending.min(filter.pending_start(hay, from));
            }
        }
        pending
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("generation", &self.generation)
            .field("batches", &self.batches.len())
            .field("variants", &self.variants())
            .finish()
    }
}
