//! One Aho-Corasick automaton over a set of variants, walked by hand.
//!
//! The streaming masker needs two facts the high-level search API does not
//! give: for each position, the *longest* variant ending there (the union of
//! all occurrences is the union of these, and asking for every overlapping
//! match would enumerate quadratically many on text like `aaaa`), and after
//! each write, how many trailing bytes may still begin a variant (the held
//! tail). Both are properties of automaton states, so [`Tier`] walks the
//! automaton through the low-level [`Automaton`] trait and keeps two tables
//! indexed by state: the longest variant that ends at the state, and the
//! depth of the state (the length of the text it stands for).
//!
//! Invariants:
//! - The automaton uses standard (non-leftmost) semantics, so after reading
//!   text `t` its state stands for the longest suffix of `t` that is a prefix
//!   of some variant; that suffix's length is the state's depth.
//! - A noncontiguous NFA is used because its state identifiers are dense
//!   indices, so the tables are plain vectors.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::noncontiguous::NFA;
use aho_corasick::{Anchored, MatchKind, Span};

/// An automaton over one batch of variants, with its per-state tables.
pub(crate) struct Tier {
    nfa: NFA,
    /// Length of the longest variant ending at each state, or 0.
    longest: Vec<u32>,
    /// Length of the text each state stands for.
    depth: Vec<u32>,
    patterns: usize,
    max_len: usize,
}

impl Tier {
    /// Builds the automaton and its tables. `patterns` must be non-empty,
    /// hold no empty pattern, and no pattern longer than `u32::MAX`.
    pub(crate) fn build<P: AsRef<[u8]>>(patterns: &[P]) -> Tier {
        let nfa = NFA::builder()
            .match_kind(MatchKind::Standard)
            // Dense rows for the shallow states keep the hot start state fast.
            .dense_depth(2)
            .build(patterns)
            .expect("variant automaton within aho-corasick's size limits");
        let mut longest: Vec<u32> = Vec::new();
        let mut depth: Vec<u32> = Vec::new();
        let start = nfa
            .start_state(Anchored::Yes)
            .expect("noncontiguous NFA supports anchored starts");
        // Every state but the start states lies on the trie path of some
        // pattern, so walking each pattern from the anchored start visits
        // every state at its true depth.
        for pattern in patterns {
            let mut sid = start;
            for (i, &byte) in pattern.as_ref().iter().enumerate() {
                sid = nfa.next_state(Anchored::Yes, sid, byte);
                debug_assert!(!nfa.is_dead(sid), "a pattern's own path never dies");
                let idx = sid.as_usize();
                if idx >= depth.len() {
                    depth.resize(idx + 1, 0);
                    longest.resize(idx + 1, u32::MAX);
                }
                depth[idx] = (i + 1) as u32;
                if longest[idx] == u32::MAX {
                    longest[idx] = (0..nfa.match_len(sid))
                        .map(|m| nfa.pattern_len(nfa.match_pattern(sid, m)) as u32)
                        .max()
                        .unwrap_or(0);
                }
            }
        }
        Tier {
            nfa,
            longest,
            depth,
            patterns: patterns.len(),
            max_len: patterns.iter().map(|p| p.as_ref().len()).max().unwrap_or(1),
        }
    }

    /// The state to begin a search in.
    pub(crate) fn start(&self) -> StateID {
        self.nfa
            .start_state(Anchored::No)
            .expect("noncontiguous NFA supports unanchored starts")
    }

    /// Walks `haystack` from `state`, calling `on_match(end, len)` for the
    /// longest variant ending at each position `end` (exclusive, relative to
    /// `haystack`) where one ends. Returns the state after the last byte.
    ///
    /// In the start state, the automaton's prefilter skips to the next
    /// position where a match may begin. The skip never reaches into the
    /// last `max_len - 1` bytes, which are walked one by one so that the
    /// final state (and its depth) is exact.
    #[inline]
    pub(crate) fn walk(
        &self,
        mut state: StateID,
        haystack: &[u8],
        mut on_match: impl FnMut(usize, usize),
    ) -> StateID {
        let start = self.start();
        let prefilter = self.nfa.prefilter();
        let skip_limit = haystack.len().saturating_sub(self.max_len - 1);
        let mut i = 0;
        while i < haystack.len() {
            if state == start
                && i < skip_limit
                && let Some(prefilter) = prefilter
            {
                let next = prefilter
                    .find_in(haystack, Span::from(i..haystack.len()))
                    .into_option()
                    .map_or(skip_limit, |at| at.min(skip_limit));
                if next > i {
                    i = next;
                    continue;
                }
            }
            state = self.nfa.next_state(Anchored::No, state, haystack[i]);
            i += 1;
            if self.nfa.is_match(state) {
                on_match(i, self.longest[state.as_usize()] as usize);
            }
        }
        state
    }

    /// How many trailing bytes of the text read so far may still begin a
    /// variant (or are a whole variant that a longer one may extend).
    pub(crate) fn depth(&self, state: StateID) -> usize {
        self.depth.get(state.as_usize()).copied().unwrap_or(0) as usize
    }

    /// Number of patterns in this tier.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns
    }

    /// Heap bytes used by the automaton and its tables.
    pub(crate) fn memory_usage(&self) -> usize {
        self.nfa.memory_usage() + 8 * self.depth.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest_ends(patterns: &[&str], hay: &str) -> Vec<(usize, usize)> {
        let tier = Tier::build(patterns);
        let mut out = Vec::new();
        tier.walk(tier.start(), hay.as_bytes(), |end, len| {
            out.push((end, len))
        });
        out
    }

    #[test]
    fn reports_longest_variant_per_end() {
        let cases: &[(&[&str], &str, &[(usize, usize)])] = &[
            (&["abcd", "cdef"], "xxabcdefyy", &[(6, 4), (8, 4)]),
            (
                &["a", "aa", "aaa"],
                "aaaa",
                &[(1, 1), (2, 2), (3, 3), (4, 3)],
            ),
            (&["bcd", "abcde", "c"], "abcde", &[(3, 1), (4, 3), (5, 5)]),
            (&["abc"], "ab", &[]),
        ];
        for (patterns, hay, want) in cases {
            assert_eq!(
                longest_ends(patterns, hay),
                want.to_vec(),
                "{patterns:?} in {hay:?}"
            );
        }
    }

    #[test]
    fn depth_is_longest_pending_suffix() {
        let cases: &[(&[&str], &str, usize)] = &[
            (&["abcd"], "xxab", 2),
            (&["abcd"], "xxabx", 0),
            (&["abcd", "bcx"], "abc", 3),
            (&["aab"], "aaaa", 2),
            (&["abcd"], "abcd", 4),
        ];
        for (patterns, hay, want) in cases {
            let tier = Tier::build(patterns);
            let state = tier.walk(tier.start(), hay.as_bytes(), |_, _| {});
            assert_eq!(tier.depth(state), *want, "{patterns:?} after {hay:?}");
        }
    }
}
