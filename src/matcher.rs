//! An immutable snapshot of every registered variant, ready to search.
//!
//! A [`Matcher`] is what one generation of the registry looks like to a
//! stream: a few [`Batch`]es (one large one and some small recent ones, so
//! that a burst of in-band additions does not rebuild the large one each
//! time). Each batch splits its variants by what searches them cheaply:
//!
//! - variants longer than the gram searcher's limit (4 KiB) go to the
//!   long-variant searcher ([`LongSearcher`]), whose memory is their bytes
//!   (shared with the registry) and a bounded index per variant, whatever
//!   the bytes: an automaton would take 20 to 40 bytes per byte, and a few
//!   long in-band values would cost hundreds of MiB;
//! - other long, varied variants go to the q-gram skip filter
//!   ([`GramSearcher`]), which looks at one 8-byte gram every `stride`
//!   bytes;
//! - those whose 8-byte grams many entries share but whose 16-byte grams
//!   do not (the `xxd -p` pieces of long hex values: 16 bits in 8 digits)
//!   go to a second filter of 16-byte grams, built only when there are
//!   such variants;
//! - short ones and repetitive ones go to an Aho-Corasick automaton
//!   ([`Automaton`]), which costs the same on every byte whatever the
//!   text; their states are at most their bytes, each at most 4 KiB, but
//!   at about 20 bytes of memory per byte (the filters take a few).
//!
//! Invariants:
//! - A matcher never changes; the registry swaps in a new one (a new
//!   generation) when secrets arrive, or when it compacts its batches
//!   into one (the same variants: a stream may take it at any refresh).
//! - `walk` and `probe` report, for every position where any variant
//!   ends, an occurrence at least as long as every other one ending there
//!   (the automata) or every occurrence (the filters; the long-variant
//!   searcher merges overlapping ones of a variant into their union), so
//!   marking the reported intervals marks exactly the union of all
//!   occurrences.
//! - Memory is linear in the variants' bytes: every searcher's tables are
//!   bounded per byte of the variants it holds.
//! - `pending_start` is exact: the earliest position from which the text
//!   is a proper prefix of some variant.

use std::fmt;
use std::sync::Arc;

use aho_corasick::automaton::StateID;

use crate::automaton::Automaton;
use crate::gram_search::{self, GramSearcher};
use crate::long_search::{LongScan, LongSearcher};

/// The variants of one registry batch, split between the three searchers.
pub(crate) struct Batch {
    automaton: Option<Automaton>,
    grams: Option<GramSearcher>,
    /// Variants too crowded for 8-byte grams (hex pieces of a long hex
    /// value carry 4 bits a byte pair, 8-byte grams 16 bits), tried
    /// with 16-byte grams before the automaton.
    wide: Option<GramSearcher<16>>,
    long: Option<LongSearcher>,
    /// The variants' total length: what rebuilding them costs.
    bytes: usize,
}

/// Variants longer than this go to the [`LongSearcher`].
const LONG_ABOVE: usize = gram_search::MAX_LEN;
const _: () = assert!(LONG_ABOVE >= crate::long_search::MIN_LEN);

impl Batch {
    pub(crate) fn build(variants: &[Arc<[u8]>]) -> Batch {
        let (long, others): (Vec<&Arc<[u8]>>, Vec<&Arc<[u8]>>) =
            variants.iter().partition(|v| v.len() > LONG_ABOVE);
        let others: Vec<&[u8]> = others.iter().map(|v| &v[..]).collect();
        let (filter, rest) = GramSearcher::build_partitioned(&others);
        // Short variants alone stay in the automaton without trying the
        // wide filter: that is the common case.
        let (wide, rest) = if rest.iter().any(|v| v.len() >= GramSearcher::<16>::MIN_LEN) {
            GramSearcher::<16>::build_partitioned(&rest)
        } else {
            (None, rest)
        };
        Batch {
            automaton: (!rest.is_empty()).then(|| Automaton::build(&rest)),
            grams: filter,
            wide,
            long: LongSearcher::build(long.into_iter().cloned().collect()),
            bytes: variants.iter().map(|v| v.len()).sum(),
        }
    }

    /// Whether the q-gram filter holds every variant: then
    /// [`probe_grams`](Self::probe_grams) reports every occurrence of
    /// every one (the automaton reports the longest ending at a position,
    /// the long-variant searcher the union of a variant's overlapping
    /// ones).
    pub(crate) fn reports_every_occurrence(&self) -> bool {
        self.automaton.is_none() && self.long.is_none()
    }

    /// Calls `on_match(start, end)`, in stream offsets (`hay[0]` is at
    /// `hay_offset`), for every occurrence of a variant of the q-gram
    /// filter that lies wholly in `hay` and starts at or after `hay[from]`.
    pub(crate) fn probe_grams(
        &self,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
        on_match: &mut impl FnMut(u64, u64),
    ) {
        if let Some(filter) = &self.grams {
            filter.scan(hay, hay_offset, from, |start, end| {
                on_match(hay_offset + start as u64, hay_offset + end as u64)
            });
        }
        if let Some(filter) = &self.wide {
            filter.scan(hay, hay_offset, from, |start, end| {
                on_match(hay_offset + start as u64, hay_offset + end as u64)
            });
        }
    }

    pub(crate) fn variants(&self) -> usize {
        self.automaton.as_ref().map_or(0, |t| t.patterns())
            + self.grams.as_ref().map_or(0, |f| f.patterns())
            + self.wide.as_ref().map_or(0, |f| f.patterns())
            + self.long.as_ref().map_or(0, |l| l.patterns())
    }

    fn memory_usage(&self) -> usize {
        self.automaton.as_ref().map_or(0, |t| t.memory_usage())
            + self.grams.as_ref().map_or(0, |f| f.memory_usage())
            + self.wide.as_ref().map_or(0, |f| f.memory_usage())
            + self.long.as_ref().map_or(0, |l| l.memory_usage())
    }
}

/// The variants of one registry generation, ready to search.
pub struct Matcher {
    batches: Vec<Arc<Batch>>,
    generation: u64,
    /// The variants' total length.
    bytes: usize,
}

/// A stream asks for compaction once it has searched this many times the
/// variants' bytes with the extra batches (each byte counted once per
/// batch beyond the first). Rebuilding a byte of variants costs about as
/// much as searching 50 to 100 bytes of text with one batch (a dense
/// log's 70,000 detected variants: about 0.15 s to build, against 0.4 ns
/// a byte a batch to search), so the rebuild costs about what the extra
/// batches have cost since the last one: at most about twice the cheaper
/// of the two, whatever the stream (ski rental).
const COMPACT_AFTER: usize = 64;

/// Where a stream is in each automaton of a matcher, and what it knows of
/// partial matches of each batch's long variants.
pub(crate) struct ScanState {
    states: Vec<Option<StateID>>,
    long: Vec<LongScan>,
}

impl Matcher {
    pub(crate) fn new(batches: Vec<Arc<Batch>>, generation: u64) -> Matcher {
        let bytes = batches.iter().map(|b| b.bytes).sum();
        Matcher {
            batches,
            generation,
            bytes,
        }
    }

    /// Number of batches: a search walks the text once for each.
    pub(crate) fn batches(&self) -> usize {
        self.batches.len()
    }

    /// What searching `bytes` of text costs beyond what one batch would,
    /// in bytes searched by one batch.
    pub(crate) fn extra_search(&self, bytes: usize) -> u64 {
        (bytes as u64).saturating_mul(self.batches.len().saturating_sub(1) as u64)
    }

    /// Whether `extra` (the sum of [`extra_search`](Self::extra_search)
    /// since this stream last had a one-batch matcher) pays for
    /// rebuilding every variant into one batch.
    pub(crate) fn compaction_due(&self, extra: u64) -> bool {
        self.batches.len() > 1 && extra >= (self.bytes as u64).saturating_mul(COMPACT_AFTER as u64)
    }

    /// Whether `extra` is enough to have a split build compacted on a
    /// thread of its own ([`crate::Registry`] does it at most once a
    /// split, and only for one): a sixteenth of what a compaction on the
    /// stream's own thread waits for.
    pub(crate) fn background_compaction_due(&self, extra: u64) -> bool {
        self.batches.len() > 1
            && extra >= (self.bytes as u64).saturating_mul((COMPACT_AFTER / 16) as u64)
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
            long: self.batches.iter().map(|_| LongScan::default()).collect(),
        }
    }

    /// Walks the automata over `bytes`, the next bytes of the stream (the
    /// first at stream offset `offset`), carrying their states from the
    /// previous call. Calls `on_match(start, end)` in stream offsets; a
    /// start may lie before `offset`.
    pub(crate) fn walk(
        &self,
        state: &mut ScanState,
        bytes: &[u8],
        offset: u64,
        mut on_match: impl FnMut(u64, u64),
    ) {
        for (batch, sid) in self.batches.iter().zip(state.states.iter_mut()) {
            if let (Some(tier), Some(sid)) = (&batch.automaton, sid.as_mut()) {
                *sid = tier.walk(*sid, bytes, |end, len| {
                    let end = offset + end as u64;
                    on_match(end - len as u64, end);
                });
            }
        }
    }

    /// Probes `hay` (whose first byte is at stream offset `hay_offset`)
    /// with the filters, calling `on_match(start, end)` in stream offsets
    /// for every occurrence that lies wholly in `hay` and starts at or
    /// after `hay[from]`.
    pub(crate) fn probe(
        &self,
        state: &mut ScanState,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
        mut on_match: impl FnMut(u64, u64),
    ) {
        for (batch, known) in self.batches.iter().zip(&mut state.long) {
            batch.probe_grams(hay, hay_offset, from, &mut on_match);
            if let Some(long) = &batch.long {
                long.scan(known, hay, hay_offset, from, |start, end| {
                    on_match(hay_offset + start as u64, hay_offset + end as u64)
                });
            }
        }
    }

    /// Longest variant the filters search for (0 if none): a probe of the
    /// last `gram_search_max_len() - 1` bytes decides the pending start.
    pub(crate) fn gram_search_max_len(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|b| {
                let grams = b.grams.as_ref().map(|f| f.max_len());
                grams
                    .into_iter()
                    .chain(b.wide.as_ref().map(|f| f.max_len()))
                    .chain(b.long.as_ref().map(|l| l.max_len()))
            })
            .max()
            .unwrap_or(0)
    }

    /// The earliest stream offset from which the text may still become an
    /// occurrence. `hay` ends where the stream read so far ends, its first
    /// byte is at `hay_offset`, and it holds at least the last
    /// `gram_search_max_len() - 1` bytes from `hay[from]` on (`from` being where
    /// the previous answer lies, or 0).
    pub(crate) fn pending_start(
        &self,
        state: &mut ScanState,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
    ) -> u64 {
        let end = hay_offset + hay.len() as u64;
        let mut pending = end;
        let states = state.states.iter().zip(&mut state.long);
        for (batch, (sid, known)) in self.batches.iter().zip(states) {
            if let (Some(tier), Some(sid)) = (&batch.automaton, sid) {
                pending = pending.min(end - tier.depth(*sid) as u64);
            }
            if let Some(filter) = &batch.grams {
                pending = pending.min(hay_offset + filter.pending_start(hay, from) as u64);
            }
            if let Some(filter) = &batch.wide {
                pending = pending.min(hay_offset + filter.pending_start(hay, from) as u64);
            }
            if let Some(long) = &batch.long {
                let start = long.pending_start(known, hay, hay_offset, from);
                pending = pending.min(hay_offset + start as u64);
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
