//! One Aho-Corasick automaton over a set of variants, built and walked by
//! hand.
//!
//! The streaming masker needs two facts a search API does not give: for
//! each position, the *longest* variant ending there (the union of all
//! occurrences is the union of these, and asking for every overlapping
//! match would enumerate quadratically many on text like `aaaa`), and after
//! each write, how many trailing bytes may still begin a variant (the held
//! tail). Both are properties of automaton states, so [`Automaton`] keeps two
//! tables indexed by state: the longest variant that ends at the state, and
//! the depth of the state (the length of the text it stands for).
//!
//! The automaton is built here rather than by the `aho-corasick` crate
//! because that crate copies, into every state, each match inherited through
//! failure links, and reorders states with a quadratic pass: variants nested
//! in one long periodic variant (`aaaa`, ..., `a` x 1,000 and `a` x 65,536)
//! cost minutes and GiBs. Here a state stores only the longest match, which
//! is all the masker needs, and everything is built in a few passes, each
//! linear in the variants' total length.
//!
//! Layout: the trie's states are taken in breadth-first order (0 is the
//! root, the start state). A prefix of them (the shallow, hot ones, within
//! a cell budget) has a dense row of fully resolved transitions, one cell
//! per byte class; the others keep only their trie edges, sorted, and a
//! failure link, followed at walk time until a dense state resolves the
//! byte. State identifiers encode where a state lives: a dense state's
//! identifier is the offset of its row (breadth-first rank x row stride),
//! a sparse state's is `dense_end` plus its rank among sparse states:
//! breadth-first down to depth [`SHALLOW`] (these are the hot ones on
//! ordinary text, and stay packed together), depth-first below, so that a
//! long variant's path lies in consecutive records (text that follows long
//! partial matches walks those paths byte by byte; breadth-first order
//! scattered them and made every step a cache miss).
//!
//! Invariants:
//! - After reading text `t` from the start state, the state stands for the
//!   longest suffix of `t` that is a prefix of some variant; that suffix's
//!   length is the state's depth.
//! - `longest[s]` is the length of the longest variant that is a suffix of
//!   the text of `s`: `depth(s)` if `s` ends a variant, else
//!   `longest[fail(s)]` (failure links point to strictly shallower states,
//!   so breadth-first order computes it from what is already known).
//! - Dense states are a breadth-first prefix, so a dense state's failure
//!   target is dense and its row is built first; the root is always dense.
//!   Children of a sparse state are sparse.
//! - A stored transition (dense cell or sparse edge) carries [`MATCH`] iff
//!   its target's `longest` is non-zero, so the walk tests a bit instead of
//!   loading a table on every byte. Identifiers handed out never carry it.
//! - States number at most the total pattern bytes plus one; dense rows
//!   take at most [`DENSE_CELLS`] cells (plus the root's row).

use aho_corasick::automaton::StateID;

/// Bit set in a stored transition when its target ends a variant.
const MATCH: u32 = 1 << 31;

/// Identifier (and breadth-first rank) of the start state, the trie's root.
const START: u32 = 0;

/// Budget for all dense rows together, in 4-byte cells: 256 KiB, so that
/// the rows of the hot states stay in cache (a larger budget measured no
/// faster on 1,000 short variants) and the memory does not grow with the
/// variants beyond it.
const DENSE_CELLS: usize = 1 << 16;

/// Depth down to which sparse states are laid out breadth-first.
const SHALLOW: u32 = 8;

/// A sparse state. Its trie edges are `labels` and `targets` from `edges`
/// to the next state's `edges`.
#[derive(Clone, Copy)]
struct Sparse {
    edges: u32,
    /// Identifier of the failure target.
    fail: u32,
    /// Length of the longest variant ending here, or 0 (here rather than
    /// in a table of its own, to share the state's cache line).
    longest: u32,
}

/// How the start state skips text where no variant begins.
///
/// The first two find whole occurrences: no variant occurs between the
/// start of the search and the one found, so the walk may resume there in
/// the start state. The last two find bytes that begin a variant.
enum Skip {
    /// One variant: its next occurrence (memchr's memmem).
    One(memchr::memmem::Finder<'static>),
    /// A few short variants: the leftmost next occurrence of any (Teddy).
    /// Verifying a candidate costs up to every variant's length, hence the
    /// limits [`PACKED_MAX_PATTERNS`] and [`PACKED_MAX_LEN`].
    Packed(aho_corasick::packed::Searcher),
    /// At most three distinct first bytes: memchr.
    Bytes(Vec<u8>),
    /// A table of the bytes that begin a variant. Even when most bytes do,
    /// the loop costs about what walking the start state would.
    Table(Box<[bool; 256]>),
    /// A bitmap of the pairs of bytes that begin a variant, when every
    /// variant has two: a family of variants sharing a beginning (JWTs
    /// with one header, their Base64 forms) begins with a handful of
    /// letters that text is full of, but with far fewer pairs.
    Pairs(Box<[u64; 1024]>),
}

/// Where the pair of bytes `a`, `b` lives in [`Skip::Pairs`]'s bitmap: its
/// word and that word's bit.
#[inline(always)]
fn pair_bit(a: u8, b: u8) -> (usize, u64) {
    let pair = usize::from(u16::from_be_bytes([a, b]));
    (pair / 64, 1 << (pair % 64))
}

/// Most variants [`Skip::Packed`] is used for, where the `aho-corasick`
/// crate finds Teddy faster than byte-based skipping.
const PACKED_MAX_PATTERNS: usize = 16;

/// Longest variant [`Skip::Packed`] is used for.
const PACKED_MAX_LEN: usize = 64;

/// An automaton over one batch of variants, with its per-state tables.
pub(crate) struct Automaton {
    /// Byte class of each byte; bytes in no variant share one class.
    classes: [u8; 256],
    /// Log2 of the dense row stride.
    shift: u32,
    /// Dense rows, one per dense state, of flagged identifiers.
    dense: Vec<u32>,
    /// First sparse identifier: the number of dense states << `shift`.
    dense_end: u32,
    /// By dense rank: length of the longest variant ending there, or 0.
    dense_longest: Vec<u32>,
    /// By dense rank: length of the text the state stands for.
    dense_depth: Vec<u32>,
    /// Sparse states by rank, plus a sentinel whose `edges` ends the last
    /// one's range.
    sparse: Vec<Sparse>,
    /// By sparse rank: length of the text the state stands for.
    sparse_depth: Vec<u32>,
    /// Sparse states' trie edges: the byte, and the flagged identifier of
    /// the child.
    labels: Vec<u8>,
    targets: Vec<u32>,
    skip: Skip,
    patterns: usize,
    max_len: usize,
}

/// The trie under construction: first-child / next-sibling lists, with the
/// root's children in a table since every pattern starts there. Node 0 is
/// the root and never a child, so 0 means "none".
struct Trie {
    nodes: Vec<Node>,
    root: Box<[u32; 256]>,
}

#[derive(Clone, Copy)]
struct Node {
    first_child: u32,
    next_sibling: u32,
    byte: u8,
    ends: bool,
}

impl Trie {
    fn new(capacity: usize) -> Trie {
        let mut nodes = Vec::with_capacity(capacity);
        nodes.push(Node {
            first_child: 0,
            next_sibling: 0,
            byte: 0,
            ends: false,
        });
        Trie {
            nodes,
            root: Box::new([0; 256]),
        }
    }

    fn insert(&mut self, pattern: &[u8]) {
        let mut cur = 0usize;
        for &byte in pattern {
            let found = if cur == 0 {
                self.root[byte as usize]
            } else {
                let mut child = self.nodes[cur].first_child;
                while child != 0 && self.nodes[child as usize].byte != byte {
                    child = self.nodes[child as usize].next_sibling;
                }
                child
            };
            cur = if found != 0 {
                found as usize
            } else {
                let id = u32::try_from(self.nodes.len())
                    .ok()
                    .filter(|&id| id < MATCH)
                    .expect("variant automaton within 2^31 states");
                self.nodes.push(Node {
                    first_child: 0,
                    next_sibling: self.nodes[cur].first_child,
                    byte,
                    ends: false,
                });
                if cur == 0 {
                    self.root[byte as usize] = id;
                } else {
                    self.nodes[cur].first_child = id;
                }
                id as usize
            };
        }
        self.nodes[cur].ends = true;
    }
}

/// The trie's states ranked breadth-first (stage 2). Children of one
/// state are ranked together, sorted by byte, so state `u`'s children are
/// the ranks `first_child[u]..first_child[u + 1]`, and the ranks of depth
/// `d` are `levels[d]..levels[d + 1]`.
struct Ranked {
    first_child: Vec<u32>,
    byte_of: Vec<u8>,
    /// The state's own variant's length, or 0; after
    /// [`Ranked::fail_links_and_dense_rows`], the longest variant ending
    /// there.
    longest: Vec<u32>,
    levels: Vec<u32>,
    /// Bytes that occur in some variant.
    used: [bool; 256],
}

/// Where each state goes (stage 3): byte classes, the dense row stride,
/// and which ranks are dense, shallow sparse or deep sparse.
struct Layout {
    classes: [u8; 256],
    shift: u32,
    dense_states: u32,
    dense_end: u32,
    /// Ranks below this (and at or above `dense_states`) are sparse states
    /// laid out breadth-first; the rest depth-first.
    shallow_end: u32,
}

/// The sparse states' records in identifier order (stage 6).
struct SparseRecords {
    records: Vec<Sparse>,
    depth: Vec<u32>,
    labels: Vec<u8>,
    targets: Vec<u32>,
}

/// The flag a stored transition to a state with this `longest` carries.
fn flag(longest: u32) -> u32 {
    if longest != 0 { MATCH } else { 0 }
}

impl Ranked {
    fn breadth_first(trie: Trie) -> Ranked {
        let n = trie.nodes.len();
        let mut order: Vec<u32> = Vec::with_capacity(n);
        let mut first_child: Vec<u32> = Vec::with_capacity(n + 1);
        let mut byte_of: Vec<u8> = Vec::with_capacity(n);
        let mut longest: Vec<u32> = Vec::with_capacity(n);
        let mut levels: Vec<u32> = vec![0];
        let mut used = [false; 256];
        let mut siblings: Vec<(u8, u32)> = Vec::new();
        order.push(0);
        byte_of.push(0);
        longest.push(0);
        let mut head = 0;
        let mut next_level = 1;
        while head < order.len() {
            if head == next_level {
                levels.push(head as u32);
                next_level = order.len();
            }
            let child_depth = levels.len() as u32;
            let node = order[head] as usize;
            first_child.push(order.len() as u32);
            siblings.clear();
            if node == 0 {
                siblings.extend(
                    (0..=255u8)
                        .map(|b| (b, trie.root[b as usize]))
                        .filter(|&(_, c)| c != 0),
                );
            } else {
                let mut child = trie.nodes[node].first_child;
                while child != 0 {
                    siblings.push((trie.nodes[child as usize].byte, child));
                    child = trie.nodes[child as usize].next_sibling;
                }
                siblings.sort_unstable();
            }
            for &(byte, child) in &siblings {
                order.push(child);
                byte_of.push(byte);
                longest.push(if trie.nodes[child as usize].ends {
                    child_depth
                } else {
                    0
                });
                used[byte as usize] = true;
            }
            head += 1;
        }
        first_child.push(n as u32);
        levels.push(n as u32);
        Ranked {
            first_child,
            byte_of,
            longest,
            levels,
            used,
        }
    }

    fn states(&self) -> usize {
        self.byte_of.len()
    }

    fn children(&self, u: u32) -> std::ops::Range<u32> {
        self.first_child[u as usize]..self.first_child[u as usize + 1]
    }

    fn depth_of(&self, u: u32) -> u32 {
        (self.levels.partition_point(|&start| start <= u) - 1) as u32
    }

    fn child_by(&self, state: u32, byte: u8) -> Option<u32> {
        let range = self.children(state);
        self.byte_of[range.start as usize..range.end as usize]
            .binary_search(&byte)
            .ok()
            .map(|k| range.start + k as u32)
    }

    /// Stage 4: failure links, longest matches and dense rows,
    /// breadth-first: everything a state needs lies at smaller depth, so
    /// is done. Dense cells hold breadth-first ranks for now.
    fn fail_links_and_dense_rows(&mut self, layout: &Layout) -> (Vec<u32>, Vec<u32>) {
        let n = self.states();
        let (shift, dense_states) = (layout.shift, layout.dense_states);
        let stride = 1usize << shift;
        let mut fail = vec![START; n];
        let mut dense = vec![0u32; layout.dense_end as usize];
        for u in 0..n as u32 {
            for c in self.children(u) {
                let byte = self.byte_of[c as usize];
                let f = if u == START {
                    START
                } else {
                    // The usual failure walk: amortised over each
                    // pattern's path, it is linear in the pattern's length.
                    let mut f = fail[u as usize];
                    loop {
                        if f < dense_states {
                            let class = u32::from(layout.classes[byte as usize]);
                            break dense[((f << shift) + class) as usize] & !MATCH;
                        }
                        if let Some(next) = self.child_by(f, byte) {
                            break next;
                        }
                        f = fail[f as usize];
                    }
                };
                fail[c as usize] = f;
                if self.longest[c as usize] == 0 {
                    self.longest[c as usize] = self.longest[f as usize];
                }
            }
            if u < dense_states {
                let row = (u << shift) as usize;
                if u != START {
                    let from = (fail[u as usize] << shift) as usize;
                    dense.copy_within(from..from + stride, row);
                }
                for c in self.children(u) {
                    let class = layout.classes[self.byte_of[c as usize] as usize] as usize;
                    dense[row + class] = c | flag(self.longest[c as usize]);
                }
            }
        }
        (fail, dense)
    }

    /// Stage 5: the identifier of each rank. Shallow sparse states keep
    /// breadth-first order, deeper ones are ranked depth-first (children
    /// in byte order).
    fn identifiers(&self, layout: &Layout) -> Vec<u32> {
        let (dense_states, shallow_end) = (layout.dense_states, layout.shallow_end);
        let mut ident = vec![0u32; self.states()];
        let mut deep = layout.dense_end + (shallow_end - dense_states);
        let mut stack = vec![START];
        while let Some(u) = stack.pop() {
            ident[u as usize] = if u < dense_states {
                u << layout.shift
            } else if u < shallow_end {
                layout.dense_end + (u - dense_states)
            } else {
                deep += 1;
                deep - 1
            };
            stack.extend(self.children(u).rev());
        }
        ident
    }

    /// Stage 6: the sparse records in identifier order, by the same walk.
    fn sparse_records(&self, layout: &Layout, fail: &[u32], ident: &[u32]) -> SparseRecords {
        let sparse_states = self.states() - layout.dense_states as usize;
        let mut out = SparseRecords {
            records: Vec::with_capacity(sparse_states + 1),
            depth: Vec::with_capacity(sparse_states),
            labels: Vec::with_capacity(sparse_states),
            targets: Vec::with_capacity(sparse_states),
        };
        let mut emit = |u: u32| {
            out.records.push(Sparse {
                edges: out.targets.len() as u32,
                fail: ident[fail[u as usize] as usize],
                longest: self.longest[u as usize],
            });
            out.depth.push(self.depth_of(u));
            for c in self.children(u) {
                out.labels.push(self.byte_of[c as usize]);
                out.targets
                    .push(ident[c as usize] | flag(self.longest[c as usize]));
            }
        };
        (layout.dense_states..layout.shallow_end).for_each(&mut emit);
        let mut stack = vec![START];
        while let Some(u) = stack.pop() {
            if u >= layout.shallow_end {
                emit(u);
            }
            stack.extend(self.children(u).rev());
        }
        out.records.push(Sparse {
            edges: out.targets.len() as u32,
            fail: START,
            longest: 0,
        });
        out
    }
}

impl Layout {
    /// Stage 3: byte classes (each byte in some variant is its own class;
    /// the others behave alike everywhere, back to the start, and share
    /// one), the row stride, and the dense states: the shallowest, within
    /// `dense_cells`.
    fn choose(ranked: &Ranked, dense_cells: usize) -> Layout {
        let n = ranked.states();
        let mut classes = [0u8; 256];
        let distinct = ranked.used.iter().filter(|&&u| u).count();
        let mut next = usize::from(distinct < 256);
        for (byte, _) in ranked.used.iter().enumerate().filter(|(_, u)| **u) {
            classes[byte] = next as u8;
            next += 1;
        }
        let shift = next.next_power_of_two().trailing_zeros();
        let stride = 1usize << shift;
        let dense_states = (dense_cells / stride).clamp(1, n);
        let dense_end = dense_states << shift;
        // Every identifier must fit a `StateID` and leave [`MATCH`] free.
        assert!(
            dense_end + (n - dense_states) <= StateID::MAX.as_usize(),
            "variant automaton within 2^31 states"
        );
        let (dense_states, dense_end) = (dense_states as u32, dense_end as u32);
        let shallow_end = ranked
            .levels
            .get(SHALLOW as usize + 1)
            .map_or(n as u32, |&end| end)
            .max(dense_states);
        Layout {
            classes,
            shift,
            dense_states,
            dense_end,
            shallow_end,
        }
    }
}

impl Automaton {
    /// Builds the automaton and its tables. `patterns` must be non-empty,
    /// hold no empty pattern, and no pattern longer than `u32::MAX`.
    pub(crate) fn build<P: AsRef<[u8]>>(patterns: &[P]) -> Automaton {
        Self::build_with_budget(patterns, DENSE_CELLS)
    }

    /// [`Automaton::build`] with a given dense budget (tests shrink it to reach
    /// the sparse paths with small inputs).
    ///
    /// The build runs in stages, each a function below, each linear in the
    /// variants' total length: the trie, its breadth-first ranking, byte
    /// classes and the dense/sparse split, failure links with the dense
    /// rows, the identifiers (the memory layout), and the sparse records.
    /// Per-state tables live side by side, so each is dropped as soon as
    /// the stages after it no longer need it: the peak is what bounds the
    /// build's memory (about 40 bytes per state).
    fn build_with_budget<P: AsRef<[u8]>>(patterns: &[P], dense_cells: usize) -> Automaton {
        let total: usize = patterns.iter().map(|p| p.as_ref().len()).sum();
        let mut trie = Trie::new(total + 1);
        for pattern in patterns {
            let pattern = pattern.as_ref();
            assert!(!pattern.is_empty(), "a variant is never empty");
            trie.insert(pattern);
        }
        let mut ranked = Ranked::breadth_first(trie);
        let layout = Layout::choose(&ranked, dense_cells);
        let (fail, dense) = ranked.fail_links_and_dense_rows(&layout);
        let ident = ranked.identifiers(&layout);
        let mut dense = dense;
        for cell in &mut dense {
            *cell = ident[(*cell & !MATCH) as usize] | (*cell & MATCH);
        }
        let sparse = ranked.sparse_records(&layout, &fail, &ident);
        drop((fail, ident));

        let max_len = patterns.iter().map(|p| p.as_ref().len()).max().unwrap_or(1);
        let root_children = ranked.children(START);
        let first_bytes = &ranked.byte_of[root_children.start as usize..root_children.end as usize];
        let skip = Self::choose_skip(patterns, max_len, first_bytes);
        let dense_states = layout.dense_states as usize;
        Automaton {
            classes: layout.classes,
            shift: layout.shift,
            dense,
            dense_end: layout.dense_end,
            dense_longest: ranked.longest[..dense_states].to_vec(),
            dense_depth: (0..layout.dense_states)
                .map(|u| ranked.depth_of(u))
                .collect(),
            sparse: sparse.records,
            sparse_depth: sparse.depth,
            labels: sparse.labels,
            targets: sparse.targets,
            skip,
            patterns: patterns.len(),
            max_len,
        }
    }

    /// The cheapest skip for these variants: whole-occurrence searches for
    /// one variant or a few short ones, else first bytes.
    fn choose_skip<P: AsRef<[u8]>>(patterns: &[P], max_len: usize, first_bytes: &[u8]) -> Skip {
        if let [one] = patterns {
            return Skip::One(memchr::memmem::Finder::new(one.as_ref()).into_owned());
        }
        if patterns.len() <= PACKED_MAX_PATTERNS
            && max_len <= PACKED_MAX_LEN
            && let Some(searcher) = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(patterns)
                .build()
        {
            return Skip::Packed(searcher);
        }
        if first_bytes.len() <= 3 {
            return Skip::Bytes(first_bytes.to_vec());
        }
        if patterns.iter().all(|p| p.as_ref().len() >= 2) {
            let mut pairs = Box::new([0u64; 1024]);
            for p in patterns {
                let (word, bit) = pair_bit(p.as_ref()[0], p.as_ref()[1]);
                pairs[word] |= bit;
            }
            return Skip::Pairs(pairs);
        }
        let mut table = Box::new([false; 256]);
        for &b in first_bytes {
            table[b as usize] = true;
        }
        Skip::Table(table)
    }

    /// The state to begin a search in.
    pub(crate) fn start(&self) -> StateID {
        StateID::from_u32_unchecked(START)
    }

    /// Walks `haystack` from `state`, calling `on_match(end, len)` for the
    /// longest variant ending at each position `end` (exclusive, relative to
    /// `haystack`) where one ends. Returns the state after the last byte.
    ///
    /// In the start state, [`Skip`] jumps to the next position where a
    /// variant may begin. The skip never reaches into the last
    /// `max_len - 1` bytes, which are walked one by one so that the final
    /// state (and its depth) is exact.
    #[inline]
    pub(crate) fn walk(
        &self,
        state: StateID,
        haystack: &[u8],
        mut on_match: impl FnMut(usize, usize),
    ) -> StateID {
        let skip_limit = haystack.len().saturating_sub(self.max_len - 1);
        let mut s = state.as_u32();
        let mut i = 0;
        while i < haystack.len() {
            if s == START && i < skip_limit {
                i = self.skip(haystack, i, skip_limit);
                if i == haystack.len() {
                    break;
                }
            }
            let byte = haystack[i];
            i += 1;
            s = if s < self.dense_end {
                self.dense[(s + u32::from(self.classes[byte as usize])) as usize]
            } else {
                self.next_sparse(s, byte)
            };
            if s & MATCH != 0 {
                s &= !MATCH;
                on_match(i, self.longest(s) as usize);
            }
        }
        StateID::from_u32_unchecked(s)
    }

    /// A position in `from..=limit` from which the walk may resume in the
    /// start state: the next one where a variant may begin, or `limit`.
    /// Only called in the start state.
    #[inline]
    fn skip(&self, haystack: &[u8], from: usize, limit: usize) -> usize {
        let found = match &self.skip {
            Skip::One(finder) => finder.find(&haystack[from..]),
            Skip::Packed(searcher) => searcher.find(&haystack[from..]).map(|m| m.start()),
            Skip::Bytes(bytes) => {
                let hay = &haystack[from..limit];
                match bytes[..] {
                    [] => None,
                    [a] => memchr::memchr(a, hay),
                    [a, b] => memchr::memchr2(a, b, hay),
                    [a, b, c, ..] => memchr::memchr3(a, b, c, hay),
                }
            }
            Skip::Table(table) => haystack[from..limit]
                .iter()
                .position(|&b| table[b as usize]),
            // Every variant has two bytes, so `limit` is before the last
            // byte and each position up to it has a pair.
            Skip::Pairs(pairs) => haystack[from..=limit].windows(2).position(|w| {
                let (word, bit) = pair_bit(w[0], w[1]);
                pairs[word] & bit != 0
            }),
        };
        found.map_or(limit, |at| (from + at).min(limit))
    }

    /// The transition from sparse state `s` on `byte`: its own edge if it
    /// has one, else its failure target's, down to a dense state (the root
    /// at the latest), whose row resolves every byte.
    #[inline]
    fn next_sparse(&self, mut s: u32, byte: u8) -> u32 {
        loop {
            if s < self.dense_end {
                return self.dense[(s + u32::from(self.classes[byte as usize])) as usize];
            }
            let rank = (s - self.dense_end) as usize;
            let lo = self.sparse[rank].edges as usize;
            let hi = self.sparse[rank + 1].edges as usize;
            let labels = &self.labels[lo..hi];
            let found = if labels.len() <= 8 {
                labels.iter().position(|&b| b == byte)
            } else {
                labels.binary_search(&byte).ok()
            };
            if let Some(k) = found {
                return self.targets[lo + k];
            }
            s = self.sparse[rank].fail;
        }
    }

    /// Length of the longest variant ending at state `s`, or 0.
    #[inline]
    fn longest(&self, s: u32) -> u32 {
        if s < self.dense_end {
            self.dense_longest[(s >> self.shift) as usize]
        } else {
            self.sparse[(s - self.dense_end) as usize].longest
        }
    }

    /// How many trailing bytes of the text read so far may still begin a
    /// variant (or are a whole variant that a longer one may extend).
    pub(crate) fn depth(&self, state: StateID) -> usize {
        let s = state.as_u32();
        let depth = if s < self.dense_end {
            self.dense_depth.get((s >> self.shift) as usize)
        } else {
            self.sparse_depth.get((s - self.dense_end) as usize)
        };
        depth.copied().unwrap_or(0) as usize
    }

    /// Number of patterns in this tier.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns
    }

    /// Heap bytes used by the automaton and its tables.
    pub(crate) fn memory_usage(&self) -> usize {
        self.dense.capacity() * 4
            + (self.dense_longest.capacity() + self.dense_depth.capacity()) * 4
            + self.sparse.capacity() * std::mem::size_of::<Sparse>()
            + self.sparse_depth.capacity() * 4
            + self.labels.capacity()
            + self.targets.capacity() * 4
            + match &self.skip {
                Skip::One(finder) => finder.needle().len(),
                Skip::Packed(searcher) => searcher.memory_usage(),
                Skip::Bytes(bytes) => bytes.capacity(),
                Skip::Table(_) => 256,
                Skip::Pairs(_) => 8 * 1024,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest_ends(patterns: &[&str], hay: &str) -> Vec<(usize, usize)> {
        let tier = Automaton::build(patterns);
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
            let tier = Automaton::build(patterns);
            let state = tier.walk(tier.start(), hay.as_bytes(), |_, _| {});
            assert_eq!(tier.depth(state), *want, "{patterns:?} after {hay:?}");
        }
    }

    /// What walking must report, from the definition: the longest pattern
    /// ending at each end.
    fn oracle_ends(patterns: &[Vec<u8>], hay: &[u8]) -> Vec<(usize, usize)> {
        (1..=hay.len())
            .filter_map(|end| {
                let ending = patterns.iter().filter(|p| hay[..end].ends_with(p));
                ending.map(|p| p.len()).max().map(|len| (end, len))
            })
            .collect()
    }

    /// The depth after `hay`, from the definition: the longest suffix of
    /// the text that is a prefix of some pattern.
    fn oracle_depth(patterns: &[Vec<u8>], hay: &[u8]) -> usize {
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        (0..=hay.len().min(longest))
            .rev()
            .find(|&k| {
                patterns
                    .iter()
                    .any(|p| p.starts_with(&hay[hay.len() - k..]))
            })
            .unwrap_or(0)
    }

    /// Walks `hay` in pieces of `piece` bytes, carrying the state, and
    /// checks every report and the depth after each piece against the
    /// oracle. A tiny dense budget sends most states to the sparse side.
    fn check(name: &str, patterns: &[Vec<u8>], hay: &[u8], budget: usize, piece: usize) {
        let tier = Automaton::build_with_budget(patterns, budget);
        let mut state = tier.start();
        let mut got = Vec::new();
        let mut at = 0;
        for chunk in hay.chunks(piece.max(1)) {
            state = tier.walk(state, chunk, |end, len| got.push((at + end, len)));
            at += chunk.len();
            let want_depth = oracle_depth(patterns, &hay[..at]);
            assert_eq!(
                tier.depth(state),
                want_depth,
                "{name}: depth after {at} bytes, budget {budget}, pieces of {piece}"
            );
        }
        assert_eq!(
            got,
            oracle_ends(patterns, hay),
            "{name}: budget {budget}, pieces of {piece}"
        );
    }

    fn run(byte: u8, n: usize) -> Vec<u8> {
        vec![byte; n]
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn nested_periodic_patterns_agree_with_the_oracle() {
        let fib = {
            let (mut a, mut b) = (b"a".to_vec(), b"ab".to_vec());
            while b.len() < 60 {
                (a, b) = (b.clone(), cat(&[&b, &a]));
            }
            b
        };
        let ab = |k: usize| b"ab".repeat(k);
        let cases: Vec<(&str, Vec<Vec<u8>>, Vec<u8>)> = vec![
            (
                "aaaa and a x 40",
                vec![run(b'a', 4), run(b'a', 40)],
                run(b'a', 100),
            ),
            (
                "a x 4..=30 and a x 70, broken runs",
                (4..=30).chain([70]).map(|n| run(b'a', n)).collect(),
                cat(&[&run(b'a', 69), b"b", &run(b'a', 75), b"ba", &run(b'a', 3)]),
            ),
            (
                "a x 1..=12, every run length",
                (1..=12).map(|n| run(b'a', n)).collect(),
                (0..15).flat_map(|k| cat(&[&run(b'a', k), b"x"])).collect(),
            ),
            (
                "(ab) x 2, x 20, and ba",
                vec![ab(2), ab(20), b"ba".to_vec()],
                cat(&[&ab(30), b"a", &ab(19), b"b"]),
            ),
            (
                "(ab) x 1..=10 and (aab) x 7",
                (1..=10).map(ab).chain([b"aab".repeat(7)]).collect(),
                cat(&[&b"aab".repeat(9), &ab(12), &b"aab".repeat(3)]),
            ),
            (
                "prefixes and suffixes of a Fibonacci word",
                (1..=fib.len())
                    .flat_map(|k| [fib[..k].to_vec(), fib[fib.len() - k..].to_vec()])
                    .collect(),
                cat(&[&fib, &fib[1..], b"b", &fib]),
            ),
            (
                "every byte value, one byte and two",
                (0..=255u8)
                    .map(|b| vec![b])
                    .chain((0..=255u8).map(|b| vec![b, b.wrapping_add(1)]))
                    .collect(),
                (0..=255u8).rev().chain(0..=255u8).collect(),
            ),
            (
                "a state with an edge on every byte",
                (0..=255u8).map(|b| vec![b'q', b, b'z']).collect(),
                (0..=255u8).flat_map(|b| [b'q', b, b'z', b'q']).collect(),
            ),
            (
                "no pattern byte in the text",
                vec![b"abcd".to_vec()],
                b"xyzxyzxyz".to_vec(),
            ),
        ];
        for (name, patterns, hay) in &cases {
            for budget in [0, 64, 1 << 10, DENSE_CELLS] {
                for piece in [1, 3, 7, 64, hay.len()] {
                    check(name, patterns, hay, budget, piece);
                }
            }
        }
    }

    /// The case that was quadratic: every run of `a` from 4 to 1,000 bytes
    /// and one of 64 KiB. Reports have a closed form, and the memory is the
    /// dense budget plus a few words per trie state.
    #[test]
    fn one_long_run_with_many_nested_runs_is_linear() {
        const LONG: usize = 64 * 1024;
        let patterns: Vec<Vec<u8>> = (4..=1000).chain([LONG]).map(|n| run(b'a', n)).collect();
        let tier = Automaton::build(&patterns);
        let states = LONG + 1;
        assert!(
            tier.memory_usage() <= DENSE_CELLS * 4 + 24 * states,
            "{} bytes",
            tier.memory_usage()
        );
        let hay = run(b'a', LONG + 5000);
        let mut state = tier.start();
        let mut got = Vec::new();
        for (k, chunk) in hay.chunks(4096).enumerate() {
            state = tier.walk(state, chunk, |end, len| got.push((k * 4096 + end, len)));
        }
        let want: Vec<(usize, usize)> = (4..=hay.len())
            .map(|end| (end, if end >= LONG { LONG } else { end.min(1000) }))
            .collect();
        assert!(got == want, "reports differ from the closed form");
        assert_eq!(tier.depth(state), LONG);
    }

    use crate::test_rng::Lcg;

    /// Pseudo-random pattern sets over small alphabets (so that patterns
    /// nest and overlap), sometimes with one long periodic pattern, against
    /// the oracle: reaches every start-state skip and both sides of the
    /// dense budget.
    #[test]
    fn random_pattern_sets_agree_with_the_oracle() {
        let mut rng = Lcg(0x5eed);
        let mut kinds = [false; 5];
        for round in 0..600 {
            let alphabet: &[u8] = [&b"ab"[..], b"abc", b"abcde"][round % 3];
            let count = 1 + if round % 2 == 0 {
                rng.below(3)
            } else {
                rng.below(24)
            };
            let mut patterns: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = 1 + rng.below(8);
                    rng.word(alphabet, len)
                })
                .collect();
            if round % 4 == 0 {
                let len = 1 + rng.below(3);
                let unit = rng.word(alphabet, len);
                patterns.push(unit.repeat(70 / unit.len() + 1));
            }
            let mut hay = Vec::new();
            while hay.len() < 150 {
                if rng.below(3) == 0 {
                    let p = &patterns[rng.below(patterns.len())];
                    hay.extend_from_slice(&p[..1 + rng.below(p.len())]);
                } else {
                    let len = 1 + rng.below(6);
                    hay.extend(rng.word(alphabet, len));
                }
                if rng.below(20) == 0 {
                    hay.push(b'x');
                }
            }
            let tier = Automaton::build(&patterns);
            kinds[match tier.skip {
                Skip::One(_) => 0,
                Skip::Packed(_) => 1,
                Skip::Bytes(_) => 2,
                Skip::Table(_) => 3,
                Skip::Pairs(_) => 4,
            }] = true;
            let budget = [0, 16, DENSE_CELLS][round % 3];
            let piece = [1, 5, 40, hay.len()][round % 4];
            check(&format!("round {round}"), &patterns, &hay, budget, piece);
        }
        assert_eq!(kinds, [true; 5], "every skip was exercised");
    }
}
