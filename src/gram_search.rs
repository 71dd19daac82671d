//! An exact two-level q-gram skip filter for varied variants of 16 bytes
//! to 4 KiB (longer ones have their own searcher, `long_search`).
//!
//! Searching every byte with an automaton costs the same whatever the text;
//! this filter looks at one q-byte gram every `stride` bytes instead (q is
//! 8, or 16 for patterns whose 8-byte grams are too alike, see
//! `matcher`). With `m` the shortest indexed pattern, the stride is at most
//! s = m - q + 1 (less when the patterns are so many that their entries
//! would pass [`ENTRY_BUDGET`]):
//! every occurrence of a pattern covers exactly one probe position p with
//! p - start in w..w + s, for any w with w + s + q - 1 at most the
//! pattern's length, so indexing the grams at the offsets
//! w..w + s of every pattern (its *window*: w = 0 unless the first grams
//! are crowded, see [`GramSearcher::build_partitioned`]) finds every
//! occurrence. A probe tests two bits of one word of
//! a bitmap (level 1); on a hit, an open-addressing table (level 2) lists the
//! (pattern, offset) pairs with that gram, and each candidate is confirmed
//! by comparing the pattern's bytes.
//!
//! Invariants:
//! - Exact: every occurrence of every pattern is reported, and nothing
//!   else. The filter finds *all* occurrences (not leftmost-longest ones),
//!   so the union of what it reports is the union SPEC 2 asks for.
//! - Bounded cost per probe: patterns are of bounded length, a probe
//!   path holds at most MAX_ENTRIES_PER_GRAM entries of a gram, and the
//!   rest of a crowded gram's entries are searched in a few sorted groups
//!   ([`Crowd`], a binary search each); patterns that repeat a gram, or
//!   whose gram would need more groups, go to the automaton (see
//!   [`GramSearcher::build_partitioned`]).
//! - Stateless across writes: a probe needs the bytes of the whole
//!   candidate, so the stream re-probes its held tail on each write.
//! - Keyed: the bitmap, the slot table and the maps hash grams with keys
//!   drawn at random for each searcher ([`GramKeys`]), so values chosen to
//!   collide under some fixed hash do not collide here.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use crate::sorted_members;

/// The keys of every hash a searcher computes, drawn afresh for each
/// searcher from the process's random source (SPEC 1.6): grams come from
/// values the stream and files supply, and a fixed, invertible mix let
/// such values be chosen to share one slot (40,000 of them made the build
/// quadratic and masking ten times slower). SipHash would dominate the
/// build time; a folded multiply of the gram, offset by a secret key, by a
/// secret odd factor costs what the fixed mix did, and without the keys
/// its collisions cannot be predicted from the grams.
#[derive(Clone, Copy)]
struct GramKeys {
    /// Offset and factor of the hash behind the bitmap and fingerprints.
    bitmap: (u64, u64),
    /// Offset and factor of the hash behind the home slot (independent of
    /// the other, so that grams sharing a slot rarely share a
    /// fingerprint).
    slot: (u64, u64),
    /// Odd factor folding a 16-byte gram's second half into its first.
    fold: u64,
}

impl GramKeys {
    fn random() -> GramKeys {
        let seed = RandomState::new();
        let key = |n: u64| seed.hash_one(n);
        GramKeys {
            bitmap: (key(1), key(2) | 1),
            slot: (key(3), key(4) | 1),
            fold: key(5) | 1,
        }
    }
}

/// The upper and lower halves of the 128-bit product of `gram ^ key.0`
/// and `key.1`, folded together: every output bit depends on every input
/// bit and on the keys.
#[inline(always)]
fn keyed(gram: u64, key: (u64, u64)) -> u64 {
    let product = u128::from(gram ^ key.0) * u128::from(key.1);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A hasher of grams for the searcher's maps, with the searcher's keys.
struct GramHasher {
    keys: GramKeys,
    state: u64,
}

impl Hasher for GramHasher {
    fn finish(&self) -> u64 {
        self.state
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = keyed(self.state ^ u64::from(b), self.keys.slot);
        }
    }
    fn write_u64(&mut self, gram: u64) {
        self.state = keyed(self.state ^ gram, self.keys.slot);
    }
}

impl BuildHasher for GramKeys {
    type Hasher = GramHasher;
    fn build_hasher(&self) -> GramHasher {
        GramHasher {
            keys: *self,
            state: 0,
        }
    }
}

type GramMap<V> = HashMap<u64, V, GramKeys>;

/// Length of a pattern's head, the key `pending_start` looks tails up by.
const HEAD: usize = 8;

/// Entries (one per pattern and offset) past which the stride shrinks:
/// at 8 bytes a slot, about 100 MiB of table. Each pattern has up to
/// `stride` entries, and 600,000 wrapped pieces of an agent's 16 MiB of
/// long values (stride 41) took 300 MiB of slots a batch; 10,000
/// ordinary secrets take about 600,000 entries.
const ENTRY_BUDGET: usize = 1 << 23;

/// Shortest stride the budget may impose.
const MIN_STRIDE: usize = 4;

/// Shortest stride a filter of 16-byte grams is built for.
const MIN_STRIDE_WIDE: usize = 9;

/// Shortest pattern the filter indexes: shorter ones would force a tiny
/// stride on everyone.
pub(crate) const MIN_LEN: usize = 16;

/// Longest pattern the filter indexes, so that confirming a candidate
/// costs a bounded number of byte comparisons.
pub(crate) const MAX_LEN: usize = 4096;

/// Most (pattern, offset) entries one gram may have; a pattern with a
/// gram shared more widely (families of prefixes) goes to the automaton
/// instead. One secret's forms share most grams (its six URL forms, JSON
/// and shell forms differ only around the bytes they escape), so the
/// limit leaves room for a dozen forms of one value: at 8, whole families
/// of ordinary secrets went to the automaton, which then walked every
/// byte of the log.
pub(crate) const MAX_ENTRIES_PER_GRAM: u32 = 16;

/// Most entries one gram may have from a single pattern. A pattern that
/// repeats itself (`aaaa...`, `abab...`) would make text of that one
/// repetition hit on every probe, so it goes to the automaton sooner.
const MAX_OWN_ENTRIES_PER_GRAM: usize = 8;

const EMPTY: u32 = u32::MAX;
/// A slot of a pattern left to the automaton: a probe walks past it.
const DISABLED: u32 = u32::MAX - 1;

/// Bitmaps larger than this (bytes) are prefetched from while scanning,
/// this many probes ahead (a power of two: the ring of words in flight is
/// indexed modulo it).
const PREFETCH_ABOVE: usize = 256 * 1024;
const PROBES_AHEAD: usize = 16;
const _: () = assert!(PROBES_AHEAD.is_power_of_two());

/// While building, how many patterns ahead slots are prefetched.
const BUILD_PREFETCH_PATTERNS: usize = 4;

/// One entry: `pattern` holds the gram at `offset`, and so do the
/// `siblings` patterns after it, which begin with the same bytes up to
/// the gram's end (see [`GramSearcher::build`]).
#[derive(Clone, Copy)]
struct Slot {
    pattern: u32,
    /// The offset in the low [`OFFSET_BITS`] bits, the siblings above.
    offset_siblings: u16,
    fingerprint: u16,
}

/// Offsets are below the longest stride, MAX_LEN - 8 + 1 < 2^12.
const OFFSET_BITS: u32 = 12;
const _: () = assert!(MAX_LEN - 8 < 1 << OFFSET_BITS);
/// Most patterns one entry stands for besides its own.
const MAX_SIBLINGS: usize = (1 << (16 - OFFSET_BITS)) - 1;
// `sharing_order` keys patterns by their first 16 bytes.
const _: () = assert!(MIN_LEN >= 16);

/// Patterns are ordered for sharing in windows of this many (a value's
/// forms are registered one after the other): sorting each window by its
/// patterns' first bytes puts forms that share a beginning side by side.
const SHARING_WINDOW: usize = 64;

impl Slot {
    fn offset(self) -> usize {
        usize::from(self.offset_siblings) & ((1 << OFFSET_BITS) - 1)
    }

    fn siblings(self) -> usize {
        usize::from(self.offset_siblings >> OFFSET_BITS)
    }
}

/// The filter over one batch of long patterns.
pub(crate) struct GramSearcher<const Q: usize = 8> {
    arena: Vec<u8>,
    /// (start in `arena`, length) of each pattern.
    spans: Vec<(u32, u32)>,
    stride: usize,
    max_len: usize,
    bitmap: Vec<u64>,
    bitmap_shift: u32,
    /// Open addressing with linear probing, wrapping at the end; about
    /// two thirds full.
    slots: Vec<Slot>,
    /// First 8 bytes of each pattern -> the range of `head_ids` holding
    /// the patterns that begin with them, longest first: decides whether a
    /// tail may still begin a pattern.
    heads: GramMap<(u32, u32)>,
    /// Pattern ids grouped by first 8 bytes (one allocation, not one per
    /// group).
    head_ids: Vec<u32>,
    /// First 8 bytes of each pattern, big-endian, sorted: the same for
    /// tails shorter than 8 bytes.
    head_prefixes: Vec<u64>,
    /// Patterns whose entries are disabled (left to the automaton).
    disabled: usize,
    /// Which patterns are disabled, when some are and share an entry with
    /// one that is not (empty otherwise).
    disabled_ids: Vec<bool>,
    /// Grams that more entries hold than a probe path may (see
    /// [`Crowd`]), in the order of their marker slots' `pattern`.
    crowds: Vec<Crowd>,
    /// The groups of every crowd, each crowd's in one range.
    crowd_groups: Vec<Group>,
    /// Pattern ids of every group, each group's in one range, sorted by
    /// the patterns' bytes.
    crowd_members: Vec<u32>,
    keys: GramKeys,
}

/// A gram held by more entries than a probe path may hold (a family of
/// values alike but for a few bytes: one 76-column piece of each JWT of a
/// job, where only `iat` differs). Its probe path holds a marker slot
/// instead of the entries refused, and a hit on it searches each of its
/// groups: the patterns that hold the gram at one offset and have one
/// length, sorted, so that a hit costs a binary search per group, not a
/// comparison per member.
#[derive(Clone, Copy)]
struct Crowd {
    gram: u64,
    /// Range of `crowd_groups`.
    groups: (u32, u32),
}

/// See [`Crowd`].
#[derive(Clone, Copy)]
struct Group {
    offset: u16,
    len: u16,
    /// Range of `crowd_members`.
    members: (u32, u32),
}

/// Most groups a crowd may have: past them, a hit would cost too many
/// searches (each up to log2 of its members comparisons, against the
/// MAX_ENTRIES_PER_GRAM of the probe path), and the patterns holding the
/// gram go to the automaton.
const MAX_GROUPS: usize = 4;

/// `Slot::offset_siblings` of a crowd's marker, whose `pattern` is the
/// crowd's index: no entry has it (offsets stay below 4095).
const CROWD_MARK: u16 = u16::MAX;
const _: () = assert!(MAX_LEN - 8 < (1 << OFFSET_BITS) - 1);

/// What the builds of one batch learn of crowded grams (see
/// [`GramSearcher::build_with`]).
struct Crowding {
    /// Every gram refused an entry in any build so far.
    grams: GramMap<()>,
    /// Grams that a pattern holds many times in its window (`aaaa...`):
    /// text of that repetition would hit them on every probe, so their
    /// patterns go to the automaton.
    repeated: GramMap<()>,
    /// The last build's refused entries.
    refused: Vec<Refused>,
}

/// An entry the table refused: `siblings` patterns after `id` hold
/// `gram` at `offset` too.
#[derive(Clone, Copy)]
struct Refused {
    gram: u64,
    id: u32,
    offset: u16,
    siblings: u16,
}

impl Crowding {
    fn new(keys: GramKeys) -> Crowding {
        Crowding {
            grams: GramMap::with_hasher(keys),
            repeated: GramMap::with_hasher(keys),
            refused: Vec::new(),
        }
    }
}

/// The grams that `pattern` itself holds more than
/// [`MAX_OWN_ENTRIES_PER_GRAM`] times among its indexed offsets, the
/// `stride` from `window`.
fn self_crowded_grams<const Q: usize>(
    pattern: &[u8],
    window: usize,
    stride: usize,
    fold: u64,
) -> Vec<u64> {
    let pattern = &pattern[window..];
    let gram_at = |bytes: &[u8], at: usize| gram_at::<Q>(bytes, at, fold);
    if stride <= MAX_OWN_ENTRIES_PER_GRAM {
        return Vec::new();
    }
    // A gram held MAX_OWN_ENTRIES_PER_GRAM + 1 times among `stride`
    // offsets has two of them at most `gap` apart (pigeonhole), so when no
    // gram recurs that close the pattern has none; this spares nearly
    // every pattern a sort and an allocation at build time.
    let gap = (stride - 1) / MAX_OWN_ENTRIES_PER_GRAM;
    if gap <= 4
        && !(1..=gap)
            .any(|d| (0..stride - d).any(|off| gram_at(pattern, off) == gram_at(pattern, off + d)))
    {
        return Vec::new();
    }
    let mut own: Vec<u64> = (0..stride).map(|off| gram_at(pattern, off)).collect();
    own.sort_unstable();
    let mut crowded: Vec<u64> = own
        .windows(MAX_OWN_ENTRIES_PER_GRAM + 1)
        .filter(|w| w[0] == w[MAX_OWN_ENTRIES_PER_GRAM])
        .map(|w| w[0])
        .collect();
    crowded.dedup();
    crowded
}

/// The first 8 bytes of a pattern or tail, big-endian: sorted keys are
/// then in byte order, as prefix searches of `head_prefixes` need.
#[inline(always)]
fn head_key(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes[..HEAD].try_into().expect("8 bytes"))
}

/// The gram of `Q` bytes at `at`, as the 64 bits the hashes take: the
/// bytes themselves for 8, for 16 the first 8 with the last 8 times the
/// searcher's secret odd `fold` mixed in (keyed, so that values cannot be
/// chosen to share a folded gram).
#[inline(always)]
fn gram_at<const Q: usize>(bytes: &[u8], at: usize, fold: u64) -> u64 {
    let first = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if Q == 8 {
        first
    } else {
        let last = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
        first ^ last.wrapping_mul(fold)
    }
}

/// How many of their first `limit` bytes `a` and `b` have in common.
fn common_prefix(a: &[u8], b: &[u8], limit: usize) -> u16 {
    a.iter()
        .zip(b)
        .take(limit)
        .take_while(|(x, y)| x == y)
        .count() as u16
}

/// The patterns laid out for the searcher: their indexes in the order it
/// holds them (each window of SHARING_WINDOW sorted by the patterns'
/// first 16 bytes, which every indexed pattern has), its arena and spans
/// in that order, and how many bytes each begins with in common with the
/// next one in its window, up to `limit`.
///
/// The patterns' bytes lie wherever the registry allocated them: they
/// are read once here, the next window's asked for ahead, and from the
/// arena after that (reading them in place while filling the table missed
/// the cache as often as the table did).
fn arrange(patterns: &[&[u8]], limit: usize) -> Arrangement {
    let mut laid = Arrangement {
        order: Vec::with_capacity(patterns.len()),
        arena: Vec::with_capacity(patterns.iter().map(|p| p.len()).sum()),
        spans: Vec::with_capacity(patterns.len()),
        shared_with_next: Vec::with_capacity(patterns.len()),
    };
    let mut window: Vec<(u128, u32)> = Vec::with_capacity(SHARING_WINDOW);
    let windows: Vec<&[&[u8]]> = patterns.chunks(SHARING_WINDOW).collect();
    for (w, chunk) in windows.iter().enumerate() {
        if let Some(next) = windows.get(w + 1) {
            for p in next.iter() {
                prefetch(p.as_ptr());
            }
        }
        let base = w * SHARING_WINDOW;
        window.clear();
        window.extend(chunk.iter().enumerate().map(|(k, p)| {
            let key = u128::from_be_bytes(p[..16].try_into().expect("16 bytes"));
            (key, (base + k) as u32)
        }));
        window.sort_unstable();
        for (k, &(_, i)) in window.iter().enumerate() {
            let p = patterns[i as usize];
            laid.order.push(i);
            laid.spans.push((laid.arena.len() as u32, p.len() as u32));
            laid.arena.extend_from_slice(p);
            let shared = window
                .get(k + 1)
                .map_or(0, |&(_, j)| common_prefix(p, patterns[j as usize], limit));
            laid.shared_with_next.push(shared);
        }
    }
    laid
}

/// What [`arrange`] returns.
struct Arrangement {
    order: Vec<u32>,
    arena: Vec<u8>,
    spans: Vec<(u32, u32)>,
    shared_with_next: Vec<u16>,
}

/// Pattern `id` of an arena.
fn span_of<'a>(arena: &'a [u8], spans: &[(u32, u32)], id: usize) -> &'a [u8] {
    let (start, len) = spans[id];
    &arena[start as usize..(start + len) as usize]
}

impl<const Q: usize> GramSearcher<Q> {
    /// Gram lengths the searcher is built for.
    const Q_IS_8_OR_16: () = assert!(Q == 8 || Q == 16);

    /// Shortest pattern the filter indexes: shorter ones would force a tiny
    /// stride on everyone (at least 16, see `arrange`).
    pub(crate) const MIN_LEN: usize = if Q == 8 {
        MIN_LEN
    } else {
        Q + MIN_STRIDE_WIDE - 1
    };

    /// The stride a set of patterns with shortest length `min_len` gets.
    pub(crate) fn stride_for(min_len: usize) -> usize {
        min_len - Q + 1
    }

    #[inline(always)]
    fn gram(&self, bytes: &[u8], at: usize) -> u64 {
        gram_at::<Q>(bytes, at, self.keys.fold)
    }

    /// The stride a batch gets before any crowding is known: that of its
    /// shortest pattern, less when the patterns are so many that their
    /// entries would pass [`ENTRY_BUDGET`].
    fn first_stride(patterns: &[&[u8]]) -> usize {
        let min_len = patterns.iter().map(|p| p.len()).min().expect("non-empty");
        Self::stride_for(min_len).min((ENTRY_BUDGET / patterns.len()).max(MIN_STRIDE))
    }

    /// Builds the filter with every window at offset 0 and the first
    /// stride; see [`GramSearcher::build_with`].
    #[cfg(test)]
    fn build(patterns: &[&[u8]]) -> (GramSearcher<Q>, Vec<u64>, Vec<u32>) {
        let stride = Self::first_stride(patterns);
        let keys = GramKeys::random();
        let mut crowding = Crowding::new(keys);
        let (filter, order, _) = Self::build_with(patterns, keys, stride, &[], &mut crowding);
        (filter, crowding.grams.into_keys().collect(), order)
    }

    /// Builds the filter and adds to `crowding.grams` the grams that would
    /// have had more than MAX_ENTRIES_PER_GRAM entries (or may have:
    /// entries are told apart by fingerprint, so a few others can be
    /// listed too); grams already there get no entry. The entries refused
    /// are left in `crowding.refused`: until they are given to crowds or
    /// their patterns disabled ([`GramSearcher::settle_crowds`]), the
    /// filter is not exact. Every pattern must be within MIN_LEN..=MAX_LEN;
    /// `patterns` must be non-empty.
    ///
    /// Pattern `i` is indexed at the `stride` offsets from `windows[i]`
    /// (0 when `windows` is empty); each window must lie within its
    /// pattern's offsets, `windows[i] + stride <= len - Q + 1`.
    ///
    /// Also returns the order the searcher holds the patterns in (its
    /// pattern `id` is `patterns[order[id]]`), and whether it added to
    /// `crowding.grams`.
    ///
    /// The forms of one value share most of their grams (its URL, JSON
    /// and shell forms differ only around the bytes they escape), and
    /// one entry stands for every pattern that holds the gram at the same
    /// offset and begins with the same bytes up to its end: the patterns
    /// are ordered so that those follow each other, and an entry names
    /// the first and how many follow (at most MAX_SIBLINGS, all with the
    /// same window). At 10,000 secrets that spared a fifth of the entries
    /// and of the table.
    fn build_with(
        patterns: &[&[u8]],
        keys: GramKeys,
        stride: usize,
        windows: &[u16],
        crowding: &mut Crowding,
    ) -> (GramSearcher<Q>, Vec<u32>, bool) {
        let () = Self::Q_IS_8_OR_16;
        let max_len = patterns.iter().map(|p| p.len()).max().expect("non-empty");
        let farthest_window = windows.iter().copied().max().map_or(0, usize::from);
        // Shared beginnings matter as far as any indexed gram reaches.
        let Arrangement {
            order,
            arena,
            spans,
            shared_with_next,
        } = arrange(patterns, farthest_window + stride + Q - 1);
        let count = patterns.len();
        let pattern_at = |id: usize| span_of(&arena, &spans, id);
        let window_of = |id: usize| window_at(windows, order[id] as usize);
        // Whether pattern `id + 1` may share pattern `id`'s entries:
        // an entry's siblings hold its gram at its offset, which must be
        // within their windows too.
        let same_window_as_next = |id: usize| id + 1 < count && window_of(id) == window_of(id + 1);
        // Entries to insert: a pattern's offsets covered by the one before
        // need none, but for one in MAX_SIBLINGS + 1 of them.
        let covered: usize = (0..count)
            .filter(|&id| same_window_as_next(id))
            .map(|id| {
                (usize::from(shared_with_next[id]) + 1)
                    .saturating_sub(Q + window_of(id))
                    .min(stride)
            })
            .sum();
        let entries = patterns.len() * stride - covered + covered.div_ceil(MAX_SIBLINGS + 1);
        // 16 to 32 bits per entry with two bits set per entry keeps level-1
        // hits near 1%; capped at 2 MiB (28 bits per entry at 10,000
        // secrets), beyond which every probe misses the cache anyway.
        let bitmap_bits = (entries * 16).next_power_of_two().clamp(1 << 12, 1 << 24);
        // Not rounded to a power of two (the home slot is a multiply-high
        // of the hash, not its top bits): rounding up left the table a
        // third full at some counts and doubled the pages the kernel
        // zeroes at start-up, which at 10,000 secrets cost more than the
        // inserts themselves. At most two thirds full, so a probe path
        // ends within a few slots.
        let slot_count = (entries * 3 / 2).max(16);
        let mut filter = GramSearcher {
            arena: Vec::new(),
            spans: Vec::new(),
            stride,
            max_len,
            bitmap: filled_on_huge_pages(bitmap_bits / 64, 0),
            bitmap_shift: 64 - (bitmap_bits / 64).trailing_zeros(),
            slots: filled_on_huge_pages(
                slot_count,
                Slot {
                    pattern: EMPTY,
                    offset_siblings: 0,
                    fingerprint: 0,
                },
            ),
            heads: GramMap::with_hasher(keys),
            head_ids: Vec::new(),
            head_prefixes: Vec::with_capacity(patterns.len()),
            disabled: 0,
            disabled_ids: Vec::new(),
            crowds: Vec::new(),
            crowd_groups: Vec::new(),
            crowd_members: Vec::new(),
            keys,
        };
        let crowded = &mut crowding.grams;
        let known = crowded.len();
        crowding.refused.clear();
        // For each offset in the window, how many of the next patterns the
        // last entry made there stands for.
        let mut still_covered = vec![0usize; stride];
        // Where the tables outgrow the core's cache, asking for the slots
        // of a later pattern now overlaps their misses with this one's; a
        // small batch (a detected credential's) is in the cache already,
        // and the prefetches' hashing was a twentieth of its build.
        let prefetching = (filter.slots.len() * std::mem::size_of::<Slot>())
            .max(filter.bitmap.len() * 8)
            > PREFETCH_ABOVE;
        for id in 0..count {
            if prefetching && id + BUILD_PREFETCH_PATTERNS < count {
                let ahead = id + BUILD_PREFETCH_PATTERNS;
                filter.prefetch_entries(pattern_at(ahead), window_of(ahead));
            }
            let p = pattern_at(id);
            let window = window_of(id);
            for gram in self_crowded_grams::<Q>(p, window, stride, keys.fold) {
                crowded.insert(gram, ());
                crowding.repeated.insert(gram, ());
            }
            for (j, covered) in still_covered.iter_mut().enumerate() {
                if *covered > 0 {
                    *covered -= 1;
                    continue;
                }
                let off = window + j;
                let siblings = (id..count)
                    .take(MAX_SIBLINGS)
                    .take_while(|&t| {
                        usize::from(shared_with_next[t]) >= off + Q && same_window_as_next(t)
                    })
                    .count();
                *covered = siblings;
                let gram = filter.gram(p, off);
                // A gram known to be crowded would walk a long probe path
                // to be refused again.
                let refused = !crowded.is_empty() && crowded.contains_key(&gram);
                if refused || !filter.insert(gram, id as u32, off, siblings) {
                    crowded.insert(gram, ());
                    crowding.refused.push(Refused {
                        gram,
                        id: id as u32,
                        offset: off as u16,
                        siblings: siblings as u16,
                    });
                }
            }
        }
        // (head, longest first, id) packed in one integer and sorted: groups
        // of equal heads, and the heads in the order `head_prefixes` wants
        // (one sort of plain integers; sorting tuples was a fifth of the
        // build).
        let mut by_head: Vec<u128> = (0..count)
            .map(|id| {
                let p = pattern_at(id);
                let longest_first = u32::MAX - p.len() as u32;
                u128::from(head_key(p)) << 64 | u128::from(longest_first) << 32 | id as u128
            })
            .collect();
        by_head.sort_unstable();
        filter.heads.reserve(by_head.len());
        filter.head_ids.reserve_exact(by_head.len());
        for (at, &packed) in by_head.iter().enumerate() {
            let at = at as u32;
            let head = (packed >> 64) as u64;
            filter.head_ids.push(packed as u32);
            if filter.head_prefixes.last() == Some(&head) {
                if let Some(group) = filter.heads.get_mut(&head) {
                    group.1 = at + 1;
                }
            } else {
                filter.head_prefixes.push(head);
                filter.heads.insert(head, (at, at + 1));
            }
        }
        filter.arena = arena;
        filter.spans = spans;
        (filter, order, crowded.len() > known)
    }

    /// Adds one entry, unless MAX_ENTRIES_PER_GRAM entries with the same
    /// fingerprint are already there (an upper bound on those with the
    /// same gram: they all lie on the probe path from the gram's home
    /// slot); returns whether it was added. Refusing keeps the probe paths
    /// short while the build goes on: the patterns holding a refused gram
    /// are disabled once the build is done (see
    /// [`GramSearcher::build_partitioned`]), and without the limit, a
    /// family of thousands of variants sharing a gram would make every
    /// insert walk all of them.
    ///
    /// An entry counts for the patterns it stands for: `1 + siblings`.
    fn insert(&mut self, gram: u64, pattern: u32, offset: usize, siblings: usize) -> bool {
        let fp = self.fingerprint(gram);
        let mut same = 1 + siblings;
        let mut i = self.slot_index(gram);
        while self.slots[i].pattern != EMPTY {
            if self.slots[i].fingerprint == fp {
                same += 1 + self.slots[i].siblings();
            }
            if same > MAX_ENTRIES_PER_GRAM as usize {
                return false;
            }
            i = self.next_slot(i);
        }
        if same > MAX_ENTRIES_PER_GRAM as usize {
            return false;
        }
        let (word, bits) = self.bitmap_word(gram);
        self.bitmap[word] |= bits;
        self.slots[i] = Slot {
            pattern,
            offset_siblings: (offset | siblings << OFFSET_BITS) as u16,
            fingerprint: fp,
        };
        true
    }

    /// Builds the filter over the patterns it takes and returns the rest:
    /// those too short or too long, and those whose window holds a gram
    /// shared by more than MAX_ENTRIES_PER_GRAM entries (`aaaa...`).
    ///
    /// Crowding shows while inserting. A family of values that begin
    /// alike (JWTs of one issuer share their header, a value's Base64
    /// forms the encoding of it) crowds the grams of its first bytes
    /// only; any `stride` consecutive offsets index a pattern exactly (an
    /// occurrence covers one probe among them), so such patterns are
    /// given windows past their crowded grams, with the stride lowered
    /// if that is what makes room (to half at most), and the batch is
    /// built again, up to [`MAX_REWINDOWS`] times: at 10,000 JWTs, a
    /// third of their forms went to the automaton, which took 7 s and
    /// 2.8 GB to build them.
    ///
    /// Then the entries refused, with those their grams kept on the probe
    /// path, go to crowds ([`Crowd`]: members that
    /// differ in a few bytes only, such as one wrapped piece of each JWT
    /// of a job, hold the same grams wherever the window lies), but for
    /// the grams that a pattern repeats or that would need more than
    /// [`MAX_GROUPS`] groups: the entries of every pattern holding one of
    /// those are disabled in place. Their slots stay as filler (a probe
    /// walks past them) and their bitmap bits stay set (a few more
    /// level-1 hits), and the stride stays, which is still exact for the
    /// longer ones that remain.
    pub(crate) fn build_partitioned<'a>(
        patterns: &[&'a [u8]],
    ) -> (Option<GramSearcher<Q>>, Vec<&'a [u8]>) {
        let (long, mut rest): (Vec<&[u8]>, Vec<&[u8]>) = patterns
            .iter()
            .partition(|p| (Self::MIN_LEN..=MAX_LEN).contains(&p.len()));
        if long.is_empty() {
            return (None, rest);
        }
        let keys = GramKeys::random();
        let mut stride = Self::first_stride(&long);
        let mut windows: Vec<u16> = Vec::new();
        let mut crowding = Crowding::new(keys);
        let mut rewindows = 0;
        let (mut filter, order) = loop {
            let (filter, order, found) =
                Self::build_with(&long, keys, stride, &windows, &mut crowding);
            if crowding.grams.is_empty() {
                return (Some(filter), rest);
            }
            if !found || rewindows == MAX_REWINDOWS {
                break (filter, order);
            }
            match rewindow::<Q>(&long, &crowding.grams, keys.fold, stride, &windows) {
                Some((lower, moved)) => (stride, windows) = (lower, moved),
                None => break (filter, order),
            }
            rewindows += 1;
        };
        let window_of = |id: usize| window_at(&windows, order[id] as usize);
        // By the searcher's ids.
        let hot = filter.settle_crowds(crowding, window_of);
        let mut hot_by_index = vec![false; long.len()];
        for (&i, &h) in order.iter().zip(&hot) {
            hot_by_index[i as usize] = h;
        }
        let (hot, cool): (Vec<_>, Vec<_>) = long.iter().zip(&hot_by_index).partition(|(_, h)| **h);
        rest.extend(hot.into_iter().map(|(p, _)| *p));
        if filter.disabled * 2 > long.len() {
            // Mostly filler: the few patterns left get a table of their
            // own rather than keep the whole one alive (their longer
            // stride may crowd other grams, hence the same partition).
            let cool: Vec<&[u8]> = cool.into_iter().map(|(p, _)| *p).collect();
            let (filter, more) = Self::build_partitioned(&cool);
            rest.extend(more);
            return (filter, rest);
        }
        let any_left = filter.disabled < long.len();
        (any_left.then_some(filter), rest)
    }

    /// Makes the filter exact again after a build that refused entries:
    /// gives them, and the entries of their grams that the table kept, to
    /// [`Crowd`]s, but for the grams that a pattern repeats
    /// or whose crowd would have more than [`MAX_GROUPS`] groups; the
    /// patterns holding those in their window (`window_of` a searcher id)
    /// are disabled, and returned, by the searcher's ids, as hot: they go
    /// to the automaton.
    fn settle_crowds(
        &mut self,
        crowding: Crowding,
        window_of: impl Fn(usize) -> usize,
    ) -> Vec<bool> {
        let Crowding {
            repeated, refused, ..
        } = crowding;
        let spans = &self.spans;
        // (gram, offset, length, id) of every pattern of every refused
        // entry, in crowds, then groups, then the patterns' byte order.
        let mut members: Vec<(u64, u16, u16, u32)> = refused
            .iter()
            .flat_map(|r| {
                (r.id..=r.id + u32::from(r.siblings))
                    .map(move |id| (r.gram, r.offset, spans[id as usize].1 as u16, id))
            })
            .collect();
        // The entries that each refused gram kept on its probe path join
        // its crowd: confirming them one by one would compare the
        // beginning the members share once per entry (16 times 4 KiB a
        // probe, for a family of long values alike but for their ends).
        let mut refused_grams: Vec<u64> = refused.iter().map(|r| r.gram).collect();
        drop(refused);
        refused_grams.sort_unstable();
        refused_grams.dedup();
        let mut kept: Vec<(usize, u64)> = Vec::new();
        for &gram in &refused_grams {
            let fingerprint = self.fingerprint(gram);
            let mut i = self.slot_index(gram);
            while self.slots[i].pattern != EMPTY {
                let slot = self.slots[i];
                if slot.fingerprint == fingerprint
                    && slot.pattern < DISABLED
                    && slot.offset_siblings != CROWD_MARK
                    && self.gram(self.pattern(slot.pattern), slot.offset()) == gram
                {
                    kept.push((i, gram));
                    let offset = slot.offset() as u16;
                    members.extend(
                        (slot.pattern..=slot.pattern + slot.siblings() as u32)
                            .map(|id| (gram, offset, spans[id as usize].1 as u16, id)),
                    );
                }
                i = self.next_slot(i);
            }
        }
        // Each member's rank in byte order, found once: comparing the
        // bytes of members while sorting the entries compared a family's
        // shared beginning once per entry (4 million entries of a family
        // of 1,000 values of 4 KiB took 2 s).
        let mut is_member = vec![false; self.spans.len()];
        for m in &members {
            is_member[m.3 as usize] = true;
        }
        let mut by_bytes: Vec<u32> = (0..self.spans.len() as u32)
            .filter(|&id| is_member[id as usize])
            .collect();
        by_bytes.sort_unstable_by(|&a, &b| self.pattern(a).cmp(self.pattern(b)));
        let mut rank = vec![0u32; self.spans.len()];
        for (r, &id) in by_bytes.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        members.sort_unstable_by_key(|m| (m.0, m.1, m.2, rank[m.3 as usize]));
        let mut unsettled = repeated;
        for crowd in members.chunk_by(|a, b| a.0 == b.0) {
            let groups = crowd.chunk_by(|a, b| (a.1, a.2) == (b.1, b.2)).count();
            if groups > MAX_GROUPS {
                unsettled.insert(crowd[0].0, ());
            }
        }
        let count = self.spans.len();
        let hot: Vec<bool> = if unsettled.is_empty() {
            vec![false; count]
        } else {
            (0..count)
                .map(|id| {
                    let (p, window) = (self.pattern(id as u32), window_of(id));
                    (window..window + self.stride)
                        .any(|off| unsettled.contains_key(&self.gram(p, off)))
                })
                .collect()
        };
        for &(i, gram) in &kept {
            if !unsettled.contains_key(&gram) {
                self.slots[i].pattern = DISABLED;
            }
        }
        let mut shared_with_cool = false;
        for slot in &mut self.slots {
            if slot.pattern < DISABLED {
                let first = slot.pattern as usize;
                let stands_for = &hot[first..=first + slot.siblings()];
                if stands_for.iter().all(|&h| h) {
                    slot.pattern = DISABLED;
                } else if stands_for.iter().any(|&h| h) {
                    shared_with_cool = true;
                }
            }
        }
        self.disabled = hot.iter().filter(|&&h| h).count();
        if shared_with_cool {
            self.disabled_ids = hot.clone();
        }
        for crowd in members.chunk_by(|a, b| a.0 == b.0) {
            let gram = crowd[0].0;
            if unsettled.contains_key(&gram) {
                continue;
            }
            let first_group = self.crowd_groups.len() as u32;
            for group in crowd.chunk_by(|a, b| (a.1, a.2) == (b.1, b.2)) {
                let first_member = self.crowd_members.len() as u32;
                let cool = group.iter().filter(|m| !hot[m.3 as usize]);
                self.crowd_members.extend(cool.map(|m| m.3));
                let end = self.crowd_members.len() as u32;
                if end > first_member {
                    self.crowd_groups.push(Group {
                        offset: group[0].1,
                        len: group[0].2,
                        members: (first_member, end),
                    });
                }
            }
            let end = self.crowd_groups.len() as u32;
            if end > first_group {
                self.mark_crowd(gram, (first_group, end));
            }
        }
        hot
    }

    /// Adds a crowd of `gram` and its marker slot, at the end of the
    /// gram's probe path. The table has room: the refused entries it
    /// stands for were counted when it was sized, and took no slot.
    fn mark_crowd(&mut self, gram: u64, groups: (u32, u32)) {
        let index = self.crowds.len() as u32;
        self.crowds.push(Crowd { gram, groups });
        let mut i = self.slot_index(gram);
        while self.slots[i].pattern != EMPTY {
            i = self.next_slot(i);
        }
        self.slots[i] = Slot {
            pattern: index,
            offset_siblings: CROWD_MARK,
            fingerprint: self.fingerprint(gram),
        };
        let (word, bits) = self.bitmap_word(gram);
        self.bitmap[word] |= bits;
    }

    /// The home slot of a gram: the high half of the hash times the slot
    /// count, uniform over any count.
    #[inline(always)]
    fn slot_index(&self, gram: u64) -> usize {
        let h = keyed(gram, self.keys.slot);
        ((u128::from(h) * self.slots.len() as u128) >> 64) as usize
    }

    /// The slot after `i` on a probe path.
    #[inline(always)]
    fn next_slot(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() { 0 } else { i + 1 }
    }

    /// The bitmap word of a gram and its two bits in that word: a Bloom
    /// filter with two hashes in one word costs one cache line per probe
    /// and needs a quarter of the memory of a one-hash bitmap for the same
    /// rate of false hits.
    #[inline(always)]
    fn bitmap_word(&self, gram: u64) -> (usize, u64) {
        let h = keyed(gram, self.keys.bitmap);
        let word = (h >> self.bitmap_shift) as usize;
        (word, (1 << ((h >> 20) & 63)) | (1 << ((h >> 26) & 63)))
    }

    /// Prefetches the bitmap words and home slots of a pattern's entries,
    /// those of the window from offset `window`.
    fn prefetch_entries(&self, pattern: &[u8], window: usize) {
        for off in window..window + self.stride {
            let gram = self.gram(pattern, off);
            self.prefetch_word(self.bitmap_word(gram).0);
            prefetch(self.slots.as_ptr().wrapping_add(self.slot_index(gram)));
        }
    }

    #[inline(always)]
    fn maybe(&self, gram: u64) -> bool {
        self.holds(self.bitmap_word(gram))
    }

    /// Whether a probe's bitmap word has both its bits set.
    #[inline(always)]
    fn holds(&self, (word, bits): (usize, u64)) -> bool {
        self.bitmap[word] & bits == bits
    }

    /// Asks for a bitmap word ahead of its probe, so that its cache miss
    /// overlaps the probes in between.
    #[inline(always)]
    fn prefetch_word(&self, word: usize) {
        prefetch(self.bitmap.as_ptr().wrapping_add(word));
    }

    /// Length of the longest pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of patterns.
    pub(crate) fn patterns(&self) -> usize {
        self.spans.len() - self.disabled
    }

    /// Heap bytes used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.arena.len()
            + self.spans.len() * 8
            + self.bitmap.len() * 8
            + self.slots.len() * std::mem::size_of::<Slot>()
            + self.heads.len() * 24
            + self.head_ids.len() * 4
            + self.head_prefixes.len() * 8
            + self.disabled_ids.len()
            + self.crowds.len() * std::mem::size_of::<Crowd>()
            + self.crowd_groups.len() * std::mem::size_of::<Group>()
            + self.crowd_members.len() * 4
    }

    /// 16 bits of the gram's bitmap hash that neither its bitmap word
    /// nor its home slot is chosen by: most entries sharing a slot path
    /// are told apart without loading the pattern.
    #[inline(always)]
    fn fingerprint(&self, gram: u64) -> u16 {
        (keyed(gram, self.keys.bitmap) >> 8) as u16
    }

    fn pattern(&self, id: u32) -> &[u8] {
        span_of(&self.arena, &self.spans, id as usize)
    }

    /// Reports `on_match(start, end)` for every occurrence in `hay` that
    /// starts at or after `from` (and its probe is at or after `from`).
    /// Probes sit at multiples of the stride in stream coordinates, where
    /// `hay[0]` is at `hay_offset`; that keeps them where they were on the
    /// previous write.
    pub(crate) fn scan(
        &self,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
        on_match: impl FnMut(usize, usize),
    ) {
        if hay.len() < Q {
            return;
        }
        let stride = self.stride as u64;
        let first = (hay_offset + from as u64).div_ceil(stride) * stride - hay_offset;
        // A bitmap that outgrows the core's cache is worth prefetching
        // from; a small one is not worth the extra instructions.
        if self.bitmap.len() * 8 > PREFETCH_ABOVE {
            self.scan_from::<true>(hay, first as usize, from, on_match);
        } else {
            self.scan_from::<false>(hay, first as usize, from, on_match);
        }
    }

    #[inline(always)]
    fn scan_from<const PREFETCH: bool>(
        &self,
        hay: &[u8],
        mut p: usize,
        from: usize,
        mut on_match: impl FnMut(usize, usize),
    ) {
        let s = self.stride;
        let last = hay.len() - Q;
        if PREFETCH {
            p = self.scan_ahead(hay, p, from, &mut on_match);
        }
        // Four probes per round: their bitmap loads overlap in memory.
        while p + 3 * s <= last {
            let (m0, m1, m2, m3) = (
                self.maybe(self.gram(hay, p)),
                self.maybe(self.gram(hay, p + s)),
                self.maybe(self.gram(hay, p + 2 * s)),
                self.maybe(self.gram(hay, p + 3 * s)),
            );
            if m0 | m1 | m2 | m3 {
                for (k, m) in [m0, m1, m2, m3].into_iter().enumerate() {
                    if m {
                        let at = p + k * s;
                        self.confirm(hay, at, self.gram(hay, at), from, &mut on_match);
                    }
                }
            }
            p += 4 * s;
        }
        while p <= last {
            let g = self.gram(hay, p);
            if self.maybe(g) {
                self.confirm(hay, p, g, from, &mut on_match);
            }
            p += s;
        }
    }

    /// Probes from `p` on with the bitmap words of the next
    /// [`PROBES_AHEAD`] probes asked for ahead of their use, and returns
    /// the first probe it left (every probe before it is done). Each
    /// probe's word and bits are computed once, when it is asked for, and
    /// kept in a ring until its turn: hashing each gram a second time for
    /// the prefetch was a third of the instructions of a probe.
    #[inline(always)]
    fn scan_ahead(
        &self,
        hay: &[u8],
        mut p: usize,
        from: usize,
        on_match: &mut impl FnMut(usize, usize),
    ) -> usize {
        let s = self.stride;
        let last = hay.len() - Q;
        if p + (PROBES_AHEAD - 1) * s > last {
            return p;
        }
        // ring[(k + j) % PROBES_AHEAD] is the probe at p + j * s.
        let mut ring = [(0usize, 0u64); PROBES_AHEAD];
        for (j, slot) in ring.iter_mut().enumerate() {
            *slot = self.bitmap_word(self.gram(hay, p + j * s));
            self.prefetch_word(slot.0);
        }
        let mut k = 0;
        let mut probe = |p: usize, word_bits| {
            if self.holds(word_bits) {
                self.confirm(hay, p, self.gram(hay, p), from, on_match);
            }
        };
        while p + PROBES_AHEAD * s <= last {
            let due = ring[k];
            let ahead = self.bitmap_word(self.gram(hay, p + PROBES_AHEAD * s));
            self.prefetch_word(ahead.0);
            ring[k] = ahead;
            probe(p, due);
            p += s;
            k = (k + 1) % PROBES_AHEAD;
        }
        for j in 0..PROBES_AHEAD {
            probe(p + j * s, ring[(k + j) % PROBES_AHEAD]);
        }
        p + PROBES_AHEAD * s
    }

    #[inline(never)]
    fn confirm(
        &self,
        hay: &[u8],
        probe: usize,
        gram: u64,
        from: usize,
        on_match: &mut impl FnMut(usize, usize),
    ) {
        let fp = self.fingerprint(gram);
        let mut i = self.slot_index(gram);
        loop {
            let slot = self.slots[i];
            if slot.pattern == EMPTY {
                return;
            }
            if slot.fingerprint == fp && slot.offset_siblings == CROWD_MARK {
                self.confirm_crowd(slot.pattern, hay, probe, gram, from, on_match);
            } else if slot.fingerprint == fp
                && slot.pattern != DISABLED
                && probe >= from + slot.offset()
            {
                let start = probe - slot.offset();
                for id in slot.pattern..=slot.pattern + slot.siblings() as u32 {
                    if self.disabled_ids.get(id as usize) == Some(&true) {
                        continue;
                    }
                    let pattern = self.pattern(id);
                    if hay.len() - start >= pattern.len()
                        && hay[start..start + pattern.len()] == *pattern
                    {
                        on_match(start, start + pattern.len());
                    }
                }
            }
            i = self.next_slot(i);
        }
    }

    /// Reports the occurrence, if any, of each group of crowd `index` that
    /// holds `gram` at `probe`: a binary search of its sorted members for
    /// the text where one would lie.
    fn confirm_crowd(
        &self,
        index: u32,
        hay: &[u8],
        probe: usize,
        gram: u64,
        from: usize,
        on_match: &mut impl FnMut(usize, usize),
    ) {
        let crowd = self.crowds[index as usize];
        if crowd.gram != gram {
            return;
        }
        let (first, end) = crowd.groups;
        for group in &self.crowd_groups[first as usize..end as usize] {
            let (offset, len) = (usize::from(group.offset), usize::from(group.len));
            if probe < from + offset || probe - offset + len > hay.len() {
                continue;
            }
            let start = probe - offset;
            let text = &hay[start..start + len];
            let (first, end) = group.members;
            if self.holds_among(&self.crowd_members[first as usize..end as usize], text) {
                on_match(start, start + len);
            }
        }
    }

    /// Whether `text` is one of `members`, patterns of its length sorted
    /// by their bytes (see [`sorted_members`]).
    fn holds_among(&self, members: &[u32], text: &[u8]) -> bool {
        sorted_members::contains(members, |id| self.pattern(id), text)
    }

    /// The earliest position at or after `from` where the rest of `hay`
    /// is a proper prefix of some pattern (`hay.len()` if there is none):
    /// the bytes from there on may still become an occurrence.
    pub(crate) fn pending_start(&self, hay: &[u8], from: usize) -> usize {
        let len = hay.len();
        let mut j = from.max(len.saturating_sub(self.max_len - 1));
        // No pattern holds a line break.
        if let Some(brk) = memchr::memrchr2(b'\n', b'\r', &hay[j..]) {
            j += brk + 1;
        }
        while j < len {
            let tail = &hay[j..];
            if tail.len() >= HEAD {
                if let Some(&(first, end)) = self.heads.get(&head_key(tail)) {
                    let begins = self.head_ids[first as usize..end as usize]
                        .iter()
                        .map(|&id| self.pattern(id))
                        .take_while(|p| p.len() > tail.len())
                        .any(|p| p.starts_with(tail));
                    if begins {
                        return j;
                    }
                }
            } else {
                let mut key = [0u8; HEAD];
                key[..tail.len()].copy_from_slice(tail);
                let low = u64::from_be_bytes(key);
                let span = 8 * (HEAD - tail.len()) as u32;
                let high = low | ((1u64 << span) - 1);
                let at = self.head_prefixes.partition_point(|&h| h < low);
                if self.head_prefixes.get(at).is_some_and(|&h| h <= high) {
                    return j;
                }
            }
            j += 1;
        }
        len
    }
}

/// The first offset of pattern `i`'s window: `windows[i]`, or 0 for
/// every pattern when `windows` is empty (no build has moved one).
fn window_at(windows: &[u16], i: usize) -> usize {
    windows.get(i).map_or(0, |&w| usize::from(w))
}

/// Builds of one batch after the first, each with the windows of its
/// crowded patterns moved past the grams found crowded so far (a family
/// moved past its shared beginning may crowd grams further on).
const MAX_REWINDOWS: usize = 3;

/// New windows for the patterns whose window (the `stride` offsets from
/// `windows[i]`, 0 when empty) holds a gram of `crowded`: the first run of
/// `stride` consecutive offsets none of whose grams is crowded, past the
/// beginning the pattern shares with the most alike of the others.
///
/// A build learns which grams are crowded only where it indexes, so the
/// shared beginnings are found by sorting: a family's members are next
/// to each other in byte order, and one's longest beginning in common
/// with another is that with a neighbour. (Grams shared at different
/// offsets, as a family's common claims are, show in the next build.)
///
/// A family as long as the batch's shortest pattern has no such run at
/// the first stride; the stride is lowered for the whole batch (a
/// window's first offsets stay a window) when at least one pattern in
/// [`LOWER_FOR_ONE_IN`] would fit no window otherwise, to the run that
/// seven in eight of those have, never below half nor below
/// [`LOWEST_LOWERED_STRIDE`]. A few patterns left to the automaton cost
/// less than probing all text more often.
///
/// Returns the stride and windows, or None when no window moves.
fn rewindow<const Q: usize>(
    patterns: &[&[u8]],
    crowded: &GramMap<()>,
    fold: u64,
    stride: usize,
    windows: &[u16],
) -> Option<(usize, Vec<u16>)> {
    let window_of = |i: usize| window_at(windows, i);
    let floor = stride.div_ceil(2).max(LOWEST_LOWERED_STRIDE).min(stride);
    // The runs of uncrowded offsets at least `floor` long, (start, length),
    // of each pattern whose window is crowded.
    let crowded_at = |p: &[u8], off: usize| crowded.contains_key(&gram_at::<Q>(p, off, fold));
    let mut in_order: Vec<usize> = (0..patterns.len())
        .filter(|&i| {
            let window = window_of(i);
            (window..window + stride).any(|off| crowded_at(patterns[i], off))
        })
        .collect();
    in_order.sort_unstable_by(|&a, &b| patterns[a].cmp(patterns[b]));
    let shared = |a: usize, b: usize| usize::from(common_prefix(patterns[a], patterns[b], MAX_LEN));
    let mut hot: Vec<(usize, Vec<(usize, usize)>)> = Vec::with_capacity(in_order.len());
    for (k, &i) in in_order.iter().enumerate() {
        let p = patterns[i];
        let before = k.checked_sub(1).map_or(0, |k| shared(in_order[k], i));
        let after = in_order.get(k + 1).map_or(0, |&j| shared(i, j));
        // The first offset whose gram reaches past the shared beginning.
        let first = (before.max(after) + 1)
            .saturating_sub(Q)
            .min(p.len() - Q + 1);
        let mut runs = Vec::new();
        let mut run_start = first;
        for off in first..=p.len() - Q + 1 {
            if off == p.len() - Q + 1 || crowded_at(p, off) {
                if off - run_start >= floor {
                    runs.push((run_start, off - run_start));
                }
                run_start = off + 1;
            }
        }
        hot.push((i, runs));
    }
    let longest = |runs: &[(usize, usize)]| runs.iter().map(|r| r.1).max().unwrap_or(0);
    let mut short_of_stride: Vec<usize> = hot
        .iter()
        .map(|(_, runs)| longest(runs))
        .filter(|&run| (floor..stride).contains(&run))
        .collect();
    let mut lowered = stride;
    if short_of_stride.len() * LOWER_FOR_ONE_IN >= patterns.len() {
        short_of_stride.sort_unstable_by(|a, b| b.cmp(a));
        lowered = short_of_stride[(short_of_stride.len() - 1) * 7 / 8];
    }
    let mut moved: Vec<u16> = (0..patterns.len()).map(|i| window_of(i) as u16).collect();
    let mut any_moved = lowered < stride;
    for (i, runs) in hot {
        if let Some(&(start, _)) = runs.iter().find(|r| r.1 >= lowered) {
            any_moved |= start != window_of(i);
            moved[i] = start as u16;
        }
    }
    any_moved.then_some((lowered, moved))
}

/// See [`rewindow`]: one pattern in this many.
const LOWER_FOR_ONE_IN: usize = 16;

/// See [`rewindow`]: a stride of 16 probes a gram every 16 bytes, a cost
/// next to nothing beside reading them; at the short strides of short
/// secrets each halving costs as much as the filter did (the `xxd -p`
/// pieces that the 16-byte filter takes anyway halved the stride of
/// everything else from 9 to 5).
const LOWEST_LOWERED_STRIDE: usize = 16;

/// A vector of `len` copies of `value` whose memory the kernel is asked to
/// back with 2 MiB pages where it can: the filter's tables take megabytes
/// that are written once at random, and faulting them in 4 KiB at a time
/// took a fifth of the build.
fn filled_on_huge_pages<T: Copy>(len: usize, value: T) -> Vec<T> {
    let mut vec = Vec::with_capacity(len);
    advise_huge_pages(vec.as_ptr() as usize, len * std::mem::size_of::<T>());
    vec.resize(len, value);
    vec
}

/// Asks Linux to back `[start, start + bytes)` with huge pages; a hint
/// that other systems do without (their fallback is ordinary pages).
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: usize, bytes: usize) {
    const HUGE_PAGE: usize = 2 << 20;
    if bytes < 2 * HUGE_PAGE {
        return;
    }
    let aligned = start.next_multiple_of(HUGE_PAGE);
    let end = (start + bytes) / HUGE_PAGE * HUGE_PAGE;
    // SAFETY: the range lies within a fresh allocation that nothing
    // references yet; the advice changes no contents and failing (no
    // transparent huge pages) changes nothing.
    unsafe {
        libc::madvise(
            aligned as *mut libc::c_void,
            end - aligned,
            libc::MADV_HUGEPAGE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: usize, _bytes: usize) {}

/// Asks the CPU to bring the cache line holding `at` closer. A hint only:
/// the address need not be valid.
#[inline(always)]
fn prefetch<T>(at: *const T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is enabled for this target (the cfg); a prefetch never
        // faults, whatever the address, and changes nothing.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast()) };
    }
    // Elsewhere no hint: the scan is the same, only less often ahead of
    // its cache misses.
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(patterns: &[&[u8]], hay: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for p in patterns {
            for s in 0..hay.len() {
                if hay[s..].starts_with(p) {
                    out.push((s, s + p.len()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn finds_every_occurrence_at_any_offset() {
        let patterns: Vec<&[u8]> = vec![
            b"0123456789abcdefXY",
            b"456789abcdefXYZW0123",
            b"zzzzzzzzqqqqqqqqqq1",
        ];
        let filter = GramSearcher::<8>::build(&patterns).0;
        for pre in 0..30 {
            let mut hay = vec![b'.'; pre];
            hay.extend_from_slice(b"0123456789abcdefXYZW0123456789abcdefXY zzzzzzzzqqqqqqqqqq1");
            for offset in [0u64, 1, 5, 17] {
                let mut got = Vec::new();
                filter.scan(&hay, offset, 0, |s, e| got.push((s, e)));
                got.sort();
                assert_eq!(got, naive(&patterns, &hay), "pre {pre} offset {offset}");
            }
        }
    }

    /// Every occurrence the filter reports in `hay`, at every alignment
    /// of its probes, against the naive search for `want`.
    fn assert_finds<const Q: usize>(filter: &GramSearcher<Q>, want: &[&[u8]], hay: &[u8]) {
        for offset in 0..filter.stride as u64 + 1 {
            let mut got = Vec::new();
            filter.scan(hay, offset, 0, |s, e| got.push((s, e)));
            got.sort();
            assert_eq!(got, naive(want, hay), "offset {offset}");
        }
    }

    /// A searcher large enough to scan with its bitmap words asked for
    /// ahead (see `scan_ahead`) finds what the naive search finds in hays
    /// of every length around the ring's: occurrences whose probe is among
    /// the first ones, in the steady loop, in the drain and in the tail.
    #[test]
    fn a_large_searcher_finds_every_occurrence_whatever_the_hay_length() {
        let mut rng = crate::test_rng::Lcg(7);
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let patterns: Vec<Vec<u8>> = (0..12_000)
            .map(|_| {
                let len = 20 + rng.below(21);
                rng.word(alnum, len)
            })
            .collect();
        let refs: Vec<&[u8]> = patterns.iter().map(|p| &p[..]).collect();
        let filter = GramSearcher::<8>::build(&refs).0;
        assert!(
            filter.bitmap.len() * 8 > PREFETCH_ABOVE,
            "the test must take the ring path"
        );
        let set: std::collections::HashSet<&[u8]> = refs.iter().copied().collect();
        let naive = |hay: &[u8]| {
            let mut out = Vec::new();
            for s in 0..hay.len() {
                for len in 20..=40.min(hay.len() - s) {
                    if set.contains(&hay[s..s + len]) {
                        out.push((s, s + len));
                    }
                }
            }
            out
        };
        let ring = PROBES_AHEAD * filter.stride;
        for len in (0..ring + 4 * filter.stride + 8).chain([ring * 3 + 7, 5000]) {
            let mut hay = rng.word(b" ./-", len);
            for _ in 0..1 + len / 40 {
                let p = &patterns[rng.below(patterns.len())];
                if p.len() <= len {
                    let at = rng.below(len - p.len() + 1);
                    hay[at..at + p.len()].copy_from_slice(p);
                }
            }
            // A shortest pattern has one probe that can find it: at the
            // end of the hay, the last.
            if let Some(p) = patterns.iter().find(|p| p.len() == 20 && p.len() <= len) {
                hay[len - p.len()..].copy_from_slice(p);
            }
            let want = naive(&hay);
            for offset in [0u64, 1, 6, 12] {
                let mut got = Vec::new();
                filter.scan(&hay, offset, 0, |s, e| got.push((s, e)));
                got.sort();
                assert_eq!(got, want, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn forms_of_one_value_share_entries_and_are_all_found() {
        // A value's URL, JSON and shell forms begin alike up to the first
        // byte they escape: one entry stands for all of them there, and
        // each must still be found wherever its probe falls.
        let mut rng = crate::test_rng::Lcg(7);
        let mut owned: Vec<Vec<u8>> = Vec::new();
        for _ in 0..300 {
            let len = 16 + rng.below(40);
            let raw = rng.word(b"abcdefghijklmnop0123456789/+=' <", len);
            let mut forms = vec![raw.clone()];
            forms.extend(crate::encoding::url_forms(&raw));
            forms.extend(crate::encoding::json_forms(&raw));
            forms.extend(crate::encoding::shell_forms(&raw));
            forms.sort();
            forms.dedup();
            owned.extend(forms);
        }
        let patterns: Vec<&[u8]> = owned.iter().map(|p| &p[..]).collect();
        // Entries are told apart by a 16-bit fingerprint of random keys,
        // so a build may, rarely, count unrelated entries on one probe
        // path as one gram's and refuse one (the caller would disable its
        // patterns): take a build that refused none.
        let (filter, _, _) = (0..8)
            .map(|_| GramSearcher::<8>::build(&patterns))
            .find(|(_, crowded, _)| crowded.is_empty())
            .expect("one of eight builds refuses no entry");
        let shared = filter
            .slots
            .iter()
            .filter(|s| s.pattern != EMPTY && s.siblings() > 0)
            .count();
        assert!(shared > 0, "no entry stands for more than one pattern");
        for (k, sample) in patterns.iter().enumerate().step_by(29) {
            let mut hay = b"..".to_vec();
            hay.extend_from_slice(sample);
            hay.push(b' ');
            hay.extend_from_slice(patterns[(k * 13 + 1) % patterns.len()]);
            hay.extend_from_slice(patterns[(k + 1) % patterns.len()]);
            assert_finds(&filter, &patterns, &hay);
        }
    }

    #[test]
    fn a_pattern_sharing_an_entry_with_a_disabled_one_is_still_found() {
        // Both begin with the same 16 bytes, so the entries for their
        // first grams are shared; the first one repeats itself and goes
        // to the automaton, the other must still be found through them.
        let repetitive = [&b"0123456789ABCDEF"[..], &b"ab".repeat(30)].concat();
        let varied = b"0123456789ABCDEFq7Zk2Lw9Xp4Rt6Vn8Bm3HcYs5J".to_vec();
        let patterns: Vec<&[u8]> = vec![&repetitive, &varied];
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        let filter = filter.expect("the varied pattern stays in the filter");
        assert_eq!(filter.patterns(), 1);
        assert_eq!(rest, vec![&repetitive[..]]);
        assert!(!filter.disabled_ids.is_empty());
        let mut hay = b"x".to_vec();
        hay.extend_from_slice(&varied);
        hay.extend_from_slice(&repetitive);
        hay.extend_from_slice(&varied);
        assert_finds(&filter, &[&varied], &hay);
    }

    #[test]
    fn pending_start_is_earliest_proper_prefix() {
        let patterns: Vec<&[u8]> = vec![b"0123456789abcdefXY", b"ab0123456789abcdefXYZ"];
        let filter = GramSearcher::<8>::build(&patterns).0;
        let cases: &[(&str, usize)] = &[
            ("xx0123", 2),
            ("xx0123456789abcdef", 2),
            ("xxab0123456789abcdefXY", 2),
            ("xx0123456789abcdefXY", 20),
            ("xx01x", 5),
            ("a", 0),
            ("ab\n01", 3),
        ];
        for (hay, want) in cases {
            assert_eq!(filter.pending_start(hay.as_bytes(), 0), *want, "{hay:?}");
        }
    }

    #[test]
    fn a_crowded_family_is_found_through_its_crowd() {
        // More variants than a gram may have entries, sharing a 25-byte
        // head and one length: no window fits past the head, so the
        // entries of their crowded grams go to crowds of one group each,
        // and every member must still be found at every offset, beside
        // patterns with entries of their own.
        let family_len = MAX_ENTRIES_PER_GRAM as usize + 4;
        let family: Vec<Vec<u8>> = (0..family_len)
            .map(|i| format!("shared-head-0123456789ab-{i:02}").into_bytes())
            .collect();
        let free: Vec<&[u8]> = vec![
            b"Zq3xP0vL9mK2wN8rT5yB",
            b"unrelated-variant-with-more-bytes",
        ];
        let mut patterns: Vec<&[u8]> = family.iter().map(|f| &f[..]).collect();
        patterns.extend(&free);
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        let filter = filter.expect("a filter");
        assert!(rest.is_empty(), "{} left to the automaton", rest.len());
        assert!(!filter.crowds.is_empty(), "no crowd");
        assert!(filter.crowds.iter().all(|c| c.groups.1 - c.groups.0 == 1));
        for pre in 0..25 {
            let mut hay = vec![b'.'; pre];
            hay.extend_from_slice(&family[3]);
            hay.extend_from_slice(b"Zq3xP0vL9mK2wN8rT5yB.unrelated-variant-with-more-bytes");
            hay.extend_from_slice(&family[family_len - 1]);
            // Cut short, and one byte changed: not members.
            hay.extend_from_slice(&family[5][..26]);
            hay.push(b'.');
            hay.extend_from_slice(b"shared-head-0123456789ab-x7");
            hay.extend_from_slice(&family[0]);
            let mut got = Vec::new();
            filter.scan(&hay, 0, 0, |s, e| got.push((s, e)));
            got.sort();
            assert_eq!(got, naive(&patterns, &hay), "pre {pre}");
        }
    }

    #[test]
    fn a_crowd_group_holds_exactly_its_members() {
        // Members over two letters share long beginnings in every
        // combination, so the bounds of the search share different
        // numbers of bytes with the text: every text of the table, and
        // every member, must be found or not as a plain search says.
        let mut rng = crate::test_rng::Lcg(41);
        let owned: Vec<Vec<u8>> = (0..300).map(|_| rng.word(b"ab", 16)).collect();
        let patterns: Vec<&[u8]> = owned.iter().map(|p| &p[..]).collect();
        let filter = GramSearcher::<8>::build(&patterns).0;
        let mut members: Vec<u32> = (0..filter.spans.len() as u32).collect();
        members.sort_by(|&a, &b| filter.pattern(a).cmp(filter.pattern(b)));
        members.dedup_by(|a, b| filter.pattern(*a) == filter.pattern(*b));
        let mut texts: Vec<Vec<u8>> = owned.clone();
        texts.extend((0..2000).map(|_| rng.word(b"ab", 16)));
        for p in &owned {
            for at in [0, 7, 15] {
                let mut near = p.clone();
                near[at] ^= 3;
                texts.push(near);
            }
        }
        for text in &texts {
            let want = owned.contains(text);
            assert_eq!(filter.holds_among(&members, text), want, "{text:?}");
        }
    }

    #[test]
    fn a_gram_crowded_at_many_offsets_sends_its_patterns_elsewhere() {
        // Forty patterns of 16 or 17 bytes hold one gram at offsets 2
        // to 7, and no window fits beside it: the entries past the first
        // MAX_ENTRIES_PER_GRAM fall in twelve (offset, length) groups,
        // more than a crowd may have. The family goes to the automaton;
        // the pattern beside it stays and is found.
        let mut rng = crate::test_rng::Lcg(31);
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let family: Vec<Vec<u8>> = (0..40)
            .map(|i| {
                let (at, len) = (2 + i % 6, 16 + i / 6 % 2);
                let mut p = rng.word(alnum, len);
                p[at..at + 8].copy_from_slice(b"~common~");
                p
            })
            .collect();
        let free = b"Zq3xP0vL9mK2wN8rT5yB".to_vec();
        let mut patterns: Vec<&[u8]> = family.iter().map(|f| &f[..]).collect();
        patterns.push(&free);
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        let filter = filter.expect("the free pattern stays in the filter");
        assert_eq!(filter.patterns(), 1);
        assert_eq!(rest.len(), family.len());
        let mut hay = family.concat();
        hay.extend_from_slice(&free);
        assert_finds(&filter, &[&free], &hay);
    }

    /// `count` patterns of `head` bytes in common followed by `tail`
    /// random ones, and the hay `assert_finds` searches for them: each
    /// member, each cut short by a byte, each with its last byte changed.
    fn family(count: usize, head: usize, tail: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut rng = crate::test_rng::Lcg(seed);
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let shared = rng.word(alnum, head);
        let members: Vec<Vec<u8>> = (0..count)
            .map(|_| [&shared[..], &rng.word(alnum, tail)].concat())
            .collect();
        let mut hay = Vec::new();
        for m in &members {
            hay.extend_from_slice(m);
            hay.push(b' ');
            hay.extend_from_slice(&m[..m.len() - 1]);
            hay.push(b'.');
            hay.extend_from_slice(&m[..m.len() - 1]);
            hay.push(m[m.len() - 1] ^ 1);
            hay.push(b'\n');
        }
        (members, hay)
    }

    #[test]
    fn a_family_that_begins_alike_is_indexed_past_its_head() {
        // Forty values with a 60-byte head in common (JWTs of one issuer
        // share theirs), beside shorter ones that set the stride: the
        // grams of the head are crowded, those after it are not.
        let (members, hay) = family(40, 60, 30, 21);
        let short: Vec<&[u8]> = vec![
            b"Zq3xP0vL9mK2wN8rT5yB",
            b"unrelated-variant-with-more-bytes",
        ];
        let mut patterns: Vec<&[u8]> = members.iter().map(|m| &m[..]).collect();
        patterns.extend(&short);
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        let filter = filter.expect("a filter");
        assert!(rest.is_empty(), "{} left to the automaton", rest.len());
        assert_eq!(filter.stride, GramSearcher::<8>::stride_for(20));
        let mut hay = hay;
        hay.extend_from_slice(b"Zq3xP0vL9mK2wN8rT5yB");
        assert_finds(&filter, &patterns, &hay);
    }

    #[test]
    fn a_family_of_the_shortest_patterns_is_indexed_at_a_lower_stride() {
        // All 200 bytes long with a 60-byte head in common: at the first
        // stride (193) every window holds the head; after it, from the
        // offset whose gram reaches past the head (53), 140 fit.
        let (members, hay) = family(40, 60, 140, 22);
        let patterns: Vec<&[u8]> = members.iter().map(|m| &m[..]).collect();
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        let filter = filter.expect("a filter");
        assert!(rest.is_empty(), "{} left to the automaton", rest.len());
        let first = GramSearcher::<8>::stride_for(200);
        assert!(
            (first.div_ceil(2)..=first - (60 - 8 + 1)).contains(&filter.stride),
            "stride {}",
            filter.stride
        );
        assert_finds(&filter, &patterns, &hay);
    }

    #[test]
    fn the_forms_of_one_secret_stay_in_the_searcher() {
        // Twelve forms sharing most grams (as one value's URL, JSON and
        // shell forms do) are within the limit: all of them are searched
        // here, none walked by the automaton.
        let family: Vec<Vec<u8>> = (0..12)
            .map(|i| format!("shared-head-0123456789ab-{i:02}").into_bytes())
            .collect();
        let patterns: Vec<&[u8]> = family.iter().map(|f| &f[..]).collect();
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        assert_eq!(filter.map(|f| f.patterns()), Some(12));
        assert!(rest.is_empty());
    }

    #[test]
    fn repetitive_patterns_go_elsewhere() {
        let a100 = vec![b'a'; 100];
        let random = b"Zq3xP0vL9mK2wN8rT5yB".to_vec();
        let short = b"abc".to_vec();
        let patterns: Vec<&[u8]> = vec![&a100, &random, &short];
        let (filter, rest) = GramSearcher::<8>::build_partitioned(&patterns);
        assert_eq!(filter.map(|f| f.patterns()), Some(1));
        assert_eq!(rest, vec![&short[..], &a100[..]]);
    }

    /// The lower-case hex of `text` cut into pieces of 60 digits, as
    /// `xxd -p` prints it, the last piece dropped.
    fn xxd_pieces(text: &[u8]) -> Vec<Vec<u8>> {
        let hex: Vec<u8> = text
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect();
        hex.chunks_exact(60).map(|c| c.to_vec()).collect()
    }

    #[test]
    fn hex_pieces_of_hex_values_crowd_8_byte_grams_but_not_16_byte_ones() {
        // Each byte of a hex digit's hex is `3x` or `6x`: 8 digits hold
        // 16 bits, so thousands of such pieces share every 8-byte gram,
        // while their 16-byte grams (32 bits) stay apart.
        let mut rng = crate::test_rng::Lcg(11);
        let values: Vec<Vec<u8>> = (0..30)
            .map(|_| rng.word(b"0123456789abcdef", 60_000))
            .collect();
        let owned: Vec<Vec<u8>> = values.iter().flat_map(|v| xxd_pieces(v)).collect();
        let patterns: Vec<&[u8]> = owned.iter().map(|p| &p[..]).collect();
        let (_, narrow_rest) = GramSearcher::<8>::build_partitioned(&patterns);
        assert!(
            narrow_rest.len() > patterns.len() / 2,
            "{} of {} crowded with 8-byte grams",
            narrow_rest.len(),
            patterns.len()
        );
        let (wide, wide_rest) = GramSearcher::<16>::build_partitioned(&patterns);
        let wide = wide.expect("the 16-byte filter takes them");
        assert!(wide_rest.is_empty(), "{} left", wide_rest.len());
        // Whole pieces, pieces cut short and pieces with a changed digit,
        // each on a line as `xxd -p` writes them.
        let mut hay = Vec::new();
        for k in 0..40 {
            let piece = &owned[(k * 7919) % owned.len()];
            match k % 3 {
                0 => hay.extend_from_slice(piece),
                1 => hay.extend_from_slice(&piece[..59]),
                _ => {
                    let mut changed = piece.clone();
                    changed[k % 60] ^= 1;
                    hay.extend_from_slice(&changed);
                }
            }
            hay.push(b'\n');
        }
        let want: Vec<&[u8]> = (0..40)
            .filter(|k| k % 3 == 0)
            .map(|k| &owned[(k * 7919) % owned.len()][..])
            .collect();
        assert_finds(&wide, &want, &hay);
    }

    #[test]
    fn a_16_byte_filter_finds_every_occurrence_at_any_offset() {
        let patterns: Vec<&[u8]> = vec![
            b"0123456789abcdefXYZW0123456",
            b"456789abcdefXYZW0123456789abcdefXY",
            b"zzzzzzzzqqqqqqqqqq1zzzzzzzz",
        ];
        let filter = GramSearcher::<16>::build(&patterns).0;
        assert_eq!(filter.stride, 27 - 16 + 1);
        for pre in 0..30 {
            let mut hay = vec![b'.'; pre];
            hay.extend_from_slice(b"0123456789abcdefXYZW0123456789abcdefXYZW0123456.");
            hay.extend_from_slice(b"zzzzzzzzqqqqqqqqqq1zzzzzzzz");
            assert_finds(&filter, &patterns, &hay);
        }
    }

    #[test]
    fn many_patterns_get_a_stride_within_the_entry_budget() {
        // 300,000 patterns of 48 bytes would take 41 entries each; the
        // budget shrinks their stride, and every occurrence is still found.
        let mut rng = crate::test_rng::Lcg(12);
        let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let owned: Vec<Vec<u8>> = (0..300_000).map(|_| rng.word(alnum, 48)).collect();
        let patterns: Vec<&[u8]> = owned.iter().map(|p| &p[..]).collect();
        let filter = GramSearcher::<8>::build(&patterns).0;
        assert!(filter.stride < GramSearcher::<8>::stride_for(48));
        assert!(
            filter.stride * patterns.len() <= ENTRY_BUDGET,
            "stride {}",
            filter.stride
        );
        let mut hay = Vec::new();
        for k in 0..20 {
            hay.extend_from_slice(b"..");
            hay.extend_from_slice(&owned[k * 15_000]);
        }
        let want: Vec<&[u8]> = (0..20).map(|k| &owned[k * 15_000][..]).collect();
        assert_finds(&filter, &want, &hay);
    }
}
