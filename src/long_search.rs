//! An exact searcher for long variants that costs little more memory than
//! their bytes.
//!
//! A variant of tens of KiB (a long in-band value in each of its
//! encodings) would take 20 to 40 bytes of automaton per byte; here it
//! takes its bytes, shared with the registry, and an index of at most
//! [`STRIDE`] grams, whatever the bytes are.
//!
//! Model: every occurrence of a pattern of length `m >= MIN_LEN` holds
//! exactly one probe position `t` (a multiple of [`STRIDE`] in stream
//! offsets) with `t - start` in `0..STRIDE`, and the 8-byte gram at `t`
//! lies inside the occurrence. The index lists, sorted, each distinct gram
//! at offsets `0..STRIDE` of each pattern with the pattern's id, so a probe
//! whose gram is absent rules out every occurrence around it, and a probe
//! that hits names the patterns that may occur. A hit is resolved by one
//! linear sweep (the Z algorithm, [`sweep`]) over the candidate starts
//! from the probe on to `m` bytes past it: every occurrence there,
//! overlapping ones included, is found in time linear in the pattern and
//! the window, however periodic the pattern and the text are (a pattern
//! `aaaa...` in text `aaaa...` costs no more than random bytes), and the
//! window is not swept again for later probes.
//!
//! The index is a sorted array searched by binary search, not a hash
//! table: no choice of values can make it slow.
//!
//! Families (many long patterns alike but for a few bytes: the Base64
//! forms of one job's large JWTs, values with a common beginning) would
//! make a hit name every member, each swept over thousands of shared
//! bytes. A pattern whose window shares a gram with more than
//! [`MAX_SOLO_SHARING`] patterns, and that repeats none of its grams
//! more than [`MAX_OWN_REPEATS`] times there, is searched as part of a
//! crowd ([`Crowds`]) instead: every (gram, offset, length) of its window
//! is a group of the members that hold that gram at that offset and have
//! that length, sorted by their bytes, so a hit at probe `t` names one
//! start `t - offset` per group, resolved by one binary search
//! ([`sorted_members`]) that costs about one member's length. Patterns
//! that repeat themselves stay with the sweep, which is linear however
//! periodic the text is.
//!
//! Invariants:
//! - Exact: [`LongSearcher::scan`] reports every occurrence that lies in
//!   the text and starts at or after `from` (overlapping ones as their
//!   union), and nothing else;
//!   [`LongSearcher::pending_start`] is the earliest position from which the
//!   text is a proper prefix of some pattern.
//! - Memory: the patterns are the registry's own `Arc`s; the index holds
//!   at most [`STRIDE`] entries of 12 bytes per pattern, so at most
//!   `12 * STRIDE / MIN_LEN` bytes per pattern byte (the batch sends only
//!   patterns longer than the gram searcher's limit here, where that is
//!   under 2); a crowd member takes at most [`STRIDE`] groups of 24
//!   bytes and [`STRIDE`] members of 4, under 4 bytes per pattern byte,
//!   and members that share their window share its groups.
//! - Streams written in small pieces: what a pending start's search
//!   learned is kept in [`LongScan`] (a sweep's window for a pattern, the
//!   members of a group a tail begins), so a long occurrence written a
//!   byte at a time costs linear, not quadratic, time.
//! - Cost: a probe every [`STRIDE`] bytes; each hit costs a sweep linear in
//!   the pattern's length, at most once per pattern length of text.
//!   Text that holds grams of many long patterns is searched once per such
//!   pattern.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::sorted_members;

/// Gram length in bytes.
const Q: usize = 8;

/// Distance between probes, and the number of pattern offsets indexed.
const STRIDE: usize = 512;

/// Shortest pattern this searcher can take: every occurrence must hold a
/// whole gram at a probe.
pub(crate) const MIN_LEN: usize = STRIDE + Q - 1;

/// Most patterns whose windows may hold one gram before those among
/// them that do not repeat themselves are searched as a crowd: a hit
/// sweeps each pattern that holds the gram, over up to its length.
const MAX_SOLO_SHARING: usize = 16;

/// Most offsets of its window at which a crowd member may hold one gram:
/// each is a group to search on a hit, and a pattern that repeats a
/// gram more (`abab...`) would be searched at every repetition of text
/// like it.
const MAX_OWN_REPEATS: usize = 8;

/// How many Z entries (4 bytes each) each thread keeps cached, over all
/// patterns: 8 MiB, the arrays of about twenty of the longest variants.
const Z_CACHED: usize = 2 << 20;

thread_local! {
    /// The Z arrays of the patterns swept last on this thread, most recent
    /// first, each with its pattern (an `Arc` kept alive, so identity is
    /// exact): the searcher stores no per-byte table, and a stream written
    /// in small pieces does not recompute the array on every write.
    static Z_CACHE: RefCell<Vec<(Arc<[u8]>, Vec<u32>)>> = const { RefCell::new(Vec::new()) };
}

/// What one stream knows from earlier writes about the long patterns of
/// one batch: for some patterns, a start `s` and length `k` such that the
/// stream's bytes `s..s + k` are the pattern's first `k` bytes, as the
/// last sweep left them at the end of what it saw. A later sweep over
/// those bytes starts from there instead of comparing them again, so a
/// long occurrence written a byte at a time costs linear, not quadratic,
/// time. At most one fact per pattern.
///
/// `covered`, `(c, e)`: every occurrence that starts at or after stream
/// offset `c` and ends by `e` has been reported, so a later scan from at
/// least `c` sweeps only the starts of occurrences that end after `e`.
///
/// `begun`: for a crowd's group and a stream offset `s`, `(k, lo, hi)`:
/// the group's members `lo..hi` (in its sorted run) are exactly those
/// that begin with the stream's bytes `s..s + k` (none: `lo == hi`), so a
/// later pending start narrows them by the bytes that came since.
#[derive(Default)]
pub(crate) struct LongScan {
    facts: Vec<(u32, u64, u32)>,
    covered: Option<(u64, u64)>,
    begun: HashMap<(u32, u64), (u32, u32, u32)>,
}

impl LongScan {
    /// A window `(l, r)` in `hay` (whose first byte is at `hay_offset`)
    /// known to hold pattern `id`'s first `r - l` bytes, if any.
    fn window(&self, id: u32, hay_offset: u64, hay_len: usize) -> Option<(usize, usize)> {
        let &(_, start, len) = self.facts.iter().find(|f| f.0 == id)?;
        let l = usize::try_from(start.checked_sub(hay_offset)?).ok()?;
        let r = l + len as usize;
        (r <= hay_len).then_some((l, r))
    }

    /// Records a window that reaches the end of `hay`; forgets facts
    /// about bytes before `hay`, which no later call sees.
    fn learn(&mut self, id: u32, hay_offset: u64, (l, r): (usize, usize)) {
        self.facts.retain(|f| f.0 != id && f.1 >= hay_offset);
        if r > l {
            self.facts.push((id, hay_offset + l as u64, (r - l) as u32));
        }
    }
}

/// The searcher over one batch's long patterns.
pub(crate) struct LongSearcher {
    patterns: Vec<Arc<[u8]>>,
    /// Distinct grams at offsets `0..STRIDE` of every pattern searched
    /// alone, sorted; the pattern of each is at the same index of
    /// `gram_patterns`.
    grams: Vec<u64>,
    gram_patterns: Vec<u32>,
    /// The other patterns.
    crowds: Crowds,
    /// (first 8 bytes, big-endian, pattern id), sorted: which patterns a
    /// short tail may begin.
    heads: Vec<(u64, u32)>,
    max_len: usize,
}

#[inline(always)]
fn gram_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + Q].try_into().expect("8 bytes"))
}

fn head_of(pattern: &[u8]) -> u64 {
    u64::from_be_bytes(pattern[..Q].try_into().expect("8 bytes"))
}

impl LongSearcher {
    /// Indexes `patterns`, each at least [`MIN_LEN`] bytes long, holding no
    /// line break; `None` if there are none.
    pub(crate) fn build(patterns: Vec<Arc<[u8]>>) -> Option<LongSearcher> {
        if patterns.is_empty() {
            return None;
        }
        let mut entries: Vec<(u64, u32)> = Vec::with_capacity(patterns.len() * STRIDE);
        let mut own: Vec<u64> = Vec::with_capacity(STRIDE);
        let mut repeats = vec![false; patterns.len()];
        for (id, p) in patterns.iter().enumerate() {
            assert!(p.len() >= MIN_LEN, "long pattern of {} bytes", p.len());
            own.clear();
            own.extend((0..STRIDE).map(|off| gram_at(p, off)));
            own.sort_unstable();
            repeats[id] = own
                .chunk_by(|a, b| a == b)
                .any(|r| r.len() > MAX_OWN_REPEATS);
            own.dedup();
            entries.extend(own.iter().map(|&g| (g, id as u32)));
        }
        entries.sort_unstable();
        let mut crowded = vec![false; patterns.len()];
        for run in entries.chunk_by(|a, b| a.0 == b.0) {
            if run.len() > MAX_SOLO_SHARING {
                for &(_, id) in run {
                    crowded[id as usize] = !repeats[id as usize];
                }
            }
        }
        entries.retain(|&(_, id)| !crowded[id as usize]);
        // Before the crowds' own entries are made.
        entries.shrink_to_fit();
        let in_crowds: Vec<u32> = (0..patterns.len() as u32)
            .filter(|&id| crowded[id as usize])
            .collect();
        let crowds = Crowds::build(&patterns, &in_crowds);
        let (grams, gram_patterns) = entries.into_iter().unzip();
        let mut heads: Vec<(u64, u32)> = patterns
            .iter()
            .enumerate()
            .map(|(id, p)| (head_of(p), id as u32))
            .collect();
        heads.sort_unstable();
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        Some(LongSearcher {
            patterns,
            grams,
            gram_patterns,
            crowds,
            heads,
            max_len,
        })
    }

    /// Number of patterns searched as part of a crowd.
    #[cfg(test)]
    fn crowded(&self) -> usize {
        let mut ids = self.crowds.members.clone();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    fn pattern(&self, id: u32) -> &[u8] {
        &self.patterns[id as usize]
    }

    /// Length of the longest pattern.
    pub(crate) fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of patterns.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns.len()
    }

    /// Heap bytes of the index and of the patterns it keeps alive (which
    /// it shares with the registry).
    pub(crate) fn memory_usage(&self) -> usize {
        let bytes: usize = self.patterns.iter().map(|p| p.len()).sum();
        bytes
            + self.patterns.len() * 16
            + self.grams.len() * 12
            + self.heads.len() * 12
            + self.crowds.memory_usage()
    }

    /// The patterns whose index holds `gram`.
    fn with_gram(&self, gram: u64) -> &[u32] {
        let lo = self.grams.partition_point(|&g| g < gram);
        let hi = lo + self.grams[lo..].partition_point(|&g| g == gram);
        &self.gram_patterns[lo..hi]
    }

    /// (probe, pattern) for every probe at `first`, `first + STRIDE`, ...
    /// whose gram lies in `hay` and is indexed, sorted by pattern, then
    /// probe.
    fn hits(&self, hay: &[u8], first: usize) -> Vec<(u32, usize)> {
        let mut hits = Vec::new();
        let mut t = first;
        while t + Q <= hay.len() {
            hits.extend(self.with_gram(gram_at(hay, t)).iter().map(|&id| (id, t)));
            t += STRIDE;
        }
        hits.sort_unstable();
        hits
    }

    /// Reports `on_match(start, end)` for every occurrence in `hay` that
    /// starts at or after `from`, overlapping ones of one pattern merged
    /// into their union. Probes sit at multiples of [`STRIDE`] in
    /// stream coordinates, where `hay[0]` is at `hay_offset`.
    pub(crate) fn scan(
        &self,
        known: &mut LongScan,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
        mut on_match: impl FnMut(usize, usize),
    ) {
        let stride = STRIDE as u64;
        let from_abs = hay_offset + from as u64;
        let hay_end = hay_offset + hay.len() as u64;
        let done_end = match known.covered {
            Some((c, e)) if from_abs >= c => e,
            _ => 0,
        };
        known.covered = Some((from_abs, hay_end.max(done_end)));
        let first = (from_abs.div_ceil(stride) * stride - hay_offset) as usize;
        let hits = self.hits(hay, first);
        // Overlapping occurrences of one pattern are reported as their
        // union: a periodic pattern in periodic text occurs at every
        // period, and the caller only needs the bytes they cover.
        let mut union: Option<(usize, usize)> = None;
        let mut report = |start: usize, end: usize| match &mut union {
            // Starts rise within a pattern, not from one to the next.
            Some((s, e)) if (*s..=*e).contains(&start) => *e = (*e).max(end),
            _ => {
                if let Some((s, e)) = union.replace((start, end)) {
                    on_match(s, e);
                }
            }
        };
        for group in hits.chunk_by(|a, b| a.0 == b.0) {
            let id = group[0].0;
            let pattern = &self.patterns[id as usize];
            let m = pattern.len();
            let Some(last_start) = hay.len().checked_sub(m) else {
                continue;
            };
            let mut window = known.window(id, hay_offset, hay.len());
            // Occurrences ending by `done_end` are reported already.
            let fresh = (done_end + 1).saturating_sub(m as u64);
            let fresh = fresh.saturating_sub(hay_offset).min(hay.len() as u64) as usize;
            with_z(pattern, |z| {
                // Starts below `resolved` have been swept.
                let mut resolved = 0;
                for &(_, t) in group {
                    // The occurrences this probe can witness start in
                    // `t + 1 - STRIDE..=t`; sweeping `m` starts further
                    // resolves the probes that follow within them too.
                    let a = (t + 1)
                        .saturating_sub(STRIDE)
                        .max(from)
                        .max(resolved)
                        .max(fresh);
                    let b = (t + 1 + m).min(last_start + 1);
                    if a < b {
                        let hint = window.filter(|w| w.0 <= a);
                        window = Some(sweep(pattern, z, hay, a, b, hint, |start, lcp| {
                            if lcp == m {
                                report(start, start + m);
                            }
                            true
                        }));
                    }
                    resolved = resolved.max(b).max(t + 1);
                }
            });
            if let Some(w) = window.filter(|w| w.1 == hay.len()) {
                known.learn(id, hay_offset, w);
            }
        }
        if let Some((s, e)) = union {
            on_match(s, e);
        }
        self.scan_crowds(hay, hay_offset, from, done_end, first, on_match);
    }

    /// Reports the crowds' occurrences in `hay` that start at or after
    /// `from` and end after stream offset `done_end` (an earlier scan
    /// reported those ending by it), probing from `hay[first]` on.
    fn scan_crowds(
        &self,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
        done_end: u64,
        first: usize,
        mut on_match: impl FnMut(usize, usize),
    ) {
        if self.crowds.groups.is_empty() {
            return;
        }
        let mut t = first;
        while t + Q <= hay.len() {
            for group in self.crowds.with_gram(gram_at(hay, t)).1 {
                let (offset, len) = (group.offset as usize, group.len as usize);
                let Some(start) = t.checked_sub(offset) else {
                    continue;
                };
                let end = start + len;
                if start < from || end > hay.len() || hay_offset + end as u64 <= done_end {
                    continue;
                }
                let members = self.crowds.members(group);
                if sorted_members::contains(members, |id| self.pattern(id), &hay[start..end]) {
                    on_match(start, end);
                }
            }
            t += STRIDE;
        }
    }

    /// The earliest position at or after `from` where the rest of `hay`
    /// is a proper prefix of some pattern (`hay.len()` if there is none).
    /// `hay[0]` is at stream offset `hay_offset`.
    pub(crate) fn pending_start(
        &self,
        known: &mut LongScan,
        hay: &[u8],
        hay_offset: u64,
        from: usize,
    ) -> usize {
        let len = hay.len();
        let mut j0 = from.max(len.saturating_sub(self.max_len - 1));
        // No pattern holds a line break.
        if let Some(brk) = memchr::memrchr2(b'\n', b'\r', &hay[j0..]) {
            j0 += brk + 1;
        }
        // A tail of at least MIN_LEN bytes starting at `j >= j0` holds the
        // probe `j0 + k * STRIDE` in `j..j + STRIDE`, whose gram the index
        // lists for every pattern the tail may begin.
        let mut best = len;
        let hits = self.hits(hay, j0);
        for group in hits.chunk_by(|a, b| a.0 == b.0) {
            let id = group[0].0;
            let pattern = &self.patterns[id as usize];
            let m = pattern.len();
            let a = j0
                .max((len + 1).saturating_sub(m))
                .max((group[0].1 + 1).saturating_sub(STRIDE));
            let b = best.min(len.saturating_sub(MIN_LEN - 1));
            if a >= b {
                continue;
            }
            let hint = known.window(id, hay_offset, len).filter(|w| w.0 <= a);
            let window = with_z(pattern, |z| {
                sweep(pattern, z, hay, a, b, hint, |start, lcp| {
                    if start + lcp == len {
                        best = best.min(start);
                        return false;
                    }
                    true
                })
            });
            if window.1 == len {
                known.learn(id, hay_offset, window);
            }
        }
        let best = self.crowds_pending(known, hay, hay_offset, j0, best);
        if best < len {
            return best;
        }
        // Shorter tails, by the patterns' first bytes.
        for j in j0.max((len + 1).saturating_sub(MIN_LEN))..len {
            let tail = &hay[j..];
            let (low, high) = if tail.len() >= Q {
                let head = head_of(tail);
                (head, head)
            } else {
                let mut key = [0u8; Q];
                key[..tail.len()].copy_from_slice(tail);
                let low = u64::from_be_bytes(key);
                (low, low | (u64::MAX >> (8 * tail.len())))
            };
            let at = self.heads.partition_point(|&(h, _)| h < low);
            let begins = self.heads[at..]
                .iter()
                .take_while(|&&(h, _)| h <= high)
                .any(|&(_, id)| self.patterns[id as usize].starts_with(tail));
            if begins {
                return j;
            }
        }
        len
    }

    /// The earliest `j` in `j0..best` from which `hay`'s tail, at least
    /// [`MIN_LEN`] bytes, is a proper prefix of a crowd's member (else
    /// `best`): such a tail holds a probe `j0 + k * STRIDE` in
    /// `j..j + STRIDE`, whose gram the member's group has.
    fn crowds_pending(
        &self,
        known: &mut LongScan,
        hay: &[u8],
        hay_offset: u64,
        j0: usize,
        mut best: usize,
    ) -> usize {
        if self.crowds.groups.is_empty() {
            return best;
        }
        let len = hay.len();
        known
            .begun
            .retain(|&(_, start), _| start >= hay_offset + j0 as u64);
        let mut t = j0;
        while t + Q <= len {
            let (first, groups) = self.crowds.with_gram(gram_at(hay, t));
            for (index, group) in (first..).zip(groups) {
                let Some(j) = t.checked_sub(group.offset as usize) else {
                    continue;
                };
                if j < j0 || j >= best || len - j < MIN_LEN || len - j >= group.len as usize {
                    continue;
                }
                let members = self.crowds.members(group);
                let key = (index as u32, hay_offset + j as u64);
                // Resume from what an earlier call found, if its tail
                // was not longer (it never is in a stream).
                let (k, lo, hi) = match known.begun.get(&key) {
                    Some(&(k, lo, hi)) if k as usize <= len - j => (k as usize, lo, hi),
                    _ => (0, 0, members.len() as u32),
                };
                if lo == hi {
                    continue;
                }
                let run = &members[lo as usize..hi as usize];
                let begin =
                    sorted_members::beginning_with(run, |id| self.pattern(id), &hay[j..], k);
                let (lo, hi) = (lo + begin.start as u32, lo + begin.end as u32);
                known.begun.insert(key, ((len - j) as u32, lo, hi));
                if lo < hi {
                    best = j;
                }
            }
            t += STRIDE;
        }
        best
    }
}

/// The long patterns of a family, searched in sorted groups (see the
/// module's documentation).
#[derive(Default)]
struct Crowds {
    /// The gram of each group, sorted.
    grams: Vec<u64>,
    groups: Vec<Group>,
    /// Pattern ids by length, then bytes, then the members of groups
    /// that are not a range of that order; each group's in byte order.
    members: Vec<u32>,
}

/// The members of a crowd that hold one gram at `offset` and have length
/// `len`.
#[derive(Clone, Copy)]
struct Group {
    offset: u32,
    len: u32,
    /// Range of `Crowds::members`.
    members: (u32, u32),
}

impl Crowds {
    /// Groups the windows of patterns `ids`.
    ///
    /// In the order of length, then bytes, two neighbours that share
    /// their first `k` bytes hold the same grams at the offsets below
    /// `k - Q + 1`, so they are in the same groups there: each group is
    /// found as runs of neighbours, and one made of a single run is a
    /// range of that order itself. A family that shares its whole
    /// window (large JWTs of one job share their header and most claims)
    /// then takes [`STRIDE`] runs in all, not [`STRIDE`] per member.
    fn build(patterns: &[Arc<[u8]>], ids: &[u32]) -> Crowds {
        let mut order = ids.to_vec();
        order.sort_by(|&a, &b| {
            let (p, q) = (&patterns[a as usize], &patterns[b as usize]);
            p.len().cmp(&q.len()).then_with(|| p.cmp(q))
        });
        // (gram, offset, length, first rank, ranks): the ranks from the
        // first on hold the gram at the offset.
        let mut runs: Vec<(u64, u32, u32, u32, u32)> = Vec::new();
        // The run that the previous pattern is in, at each offset.
        let mut open = [0usize; STRIDE];
        for (rank, &id) in order.iter().enumerate() {
            let p = &patterns[id as usize];
            let shared = match rank.checked_sub(1).map(|r| &patterns[order[r] as usize]) {
                Some(before) if before.len() == p.len() => sorted_members::common_prefix(before, p),
                _ => 0,
            };
            for (offset, run) in open.iter_mut().enumerate() {
                if offset + Q <= shared {
                    runs[*run].4 += 1;
                } else {
                    *run = runs.len();
                    let (offset, len) = (offset as u32, p.len() as u32);
                    runs.push((gram_at(p, offset as usize), offset, len, rank as u32, 1));
                }
            }
        }
        runs.sort_unstable();
        let mut crowds = Crowds {
            members: order.clone(),
            ..Crowds::default()
        };
        for group in runs.chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2)) {
            let (gram, offset, len, first, count) = group[0];
            let members = if let [_] = group {
                (first, first + count)
            } else {
                // Runs of one group lie apart in the order, and in it.
                let start = crowds.members.len() as u32;
                for &(.., first, count) in group {
                    let (first, end) = (first as usize, (first + count) as usize);
                    crowds.members.extend_from_slice(&order[first..end]);
                }
                (start, crowds.members.len() as u32)
            };
            crowds.grams.push(gram);
            crowds.groups.push(Group {
                offset,
                len,
                members,
            });
        }
        crowds
    }

    /// The index of the first group with `gram`, and those groups.
    fn with_gram(&self, gram: u64) -> (usize, &[Group]) {
        let lo = self.grams.partition_point(|&g| g < gram);
        let hi = lo + self.grams[lo..].partition_point(|&g| g == gram);
        (lo, &self.groups[lo..hi])
    }

    fn members(&self, group: &Group) -> &[u32] {
        &self.members[group.members.0 as usize..group.members.1 as usize]
    }

    fn memory_usage(&self) -> usize {
        self.grams.len() * 8 + self.groups.len() * 16 + self.members.len() * 4
    }
}

/// Runs `f` with the Z array of `pattern`: `z[i]` is the length of the
/// longest common prefix of `pattern` and `pattern[i..]`.
fn with_z<R>(pattern: &Arc<[u8]>, f: impl FnOnce(&[u32]) -> R) -> R {
    Z_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        match cache.iter().position(|(p, _)| Arc::ptr_eq(p, pattern)) {
            Some(at) => cache[..=at].rotate_right(1),
            None => {
                let mut cached: usize = cache.iter().map(|(p, _)| p.len()).sum();
                let mut z = Vec::new();
                while cached + pattern.len() > Z_CACHED
                    && let Some((p, old)) = cache.pop()
                {
                    cached -= p.len();
                    z = old;
                }
                z_array(pattern, &mut z);
                cache.insert(0, (pattern.clone(), z));
            }
        }
        f(&cache[0].1)
    })
}

/// Fills `z` with the Z array of `pattern`, in linear time.
fn z_array(pattern: &[u8], z: &mut Vec<u32>) {
    {
        let m = pattern.len();
        z.clear();
        z.resize(m, 0);
        z[0] = m as u32;
        let (mut l, mut r) = (0, 0);
        for i in 1..m {
            let mut k = if i < r {
                (z[i - l] as usize).min(r - i)
            } else {
                0
            };
            while i + k < m && pattern[k] == pattern[i + k] {
                k += 1;
            }
            z[i] = k as u32;
            if i + k > r {
                (l, r) = (i, i + k);
            }
        }
    }
}

/// Calls `f(i, lcp)` for each start `i` in `a..b`, in order, with the
/// length of the longest common prefix of `hay[i..]` and `pattern`, until
/// `f` returns false; returns the last window. Linear: the window `(l, r)`,
/// `hay[l..r] == pattern[..r - l]`, only moves right, and inside it `z`
/// gives each prefix length without comparing. `hint`, if given, is such
/// a window with `l <= a`, known from before.
fn sweep(
    pattern: &[u8],
    z: &[u32],
    hay: &[u8],
    a: usize,
    b: usize,
    hint: Option<(usize, usize)>,
    mut f: impl FnMut(usize, usize) -> bool,
) -> (usize, usize) {
    let m = pattern.len();
    let (mut l, mut r) = hint.unwrap_or((a, a));
    debug_assert!(l <= a && l <= r && r <= hay.len() && r - l <= m);
    for i in a..b {
        let mut k = 0;
        if i < r {
            // l <= i < r <= l + m, so `i - l` is within `0..m` (z[0] is m,
            // never below `r - i`).
            let known = z[i - l] as usize;
            if known < r - i {
                if !f(i, known) {
                    break;
                }
                continue;
            }
            k = r - i;
        }
        while k < m && i + k < hay.len() && hay[i + k] == pattern[k] {
            k += 1;
        }
        (l, r) = (i, i + k);
        if !f(i, k) {
            break;
        }
    }
    (l, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(patterns: &[Vec<u8>], hay: &[u8], from: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for p in patterns {
            for s in from..hay.len() {
                if hay[s..].starts_with(p) {
                    out.push((s, s + p.len()));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn naive_pending(patterns: &[Vec<u8>], hay: &[u8], from: usize) -> usize {
        (from..hay.len())
            .find(|&j| {
                patterns
                    .iter()
                    .any(|p| p.len() > hay.len() - j && p.starts_with(&hay[j..]))
            })
            .unwrap_or(hay.len())
    }

    use crate::test_rng::Lcg;

    fn searcher(patterns: &[Vec<u8>]) -> LongSearcher {
        LongSearcher::build(patterns.iter().map(|p| Arc::from(&p[..])).collect()).unwrap()
    }

    /// Every occurrence that `s.scan` reports (at four stream offsets
    /// and three `from`s), and the pending start at several ends and
    /// `from`s, against the naive search.
    fn agrees_with_naive(s: &LongSearcher, patterns: &[Vec<u8>], hay: &[u8], round: usize) {
        for offset in [0u64, 1, 511, 1000] {
            for from in [0, 7, 3000] {
                let mut got = vec![false; hay.len()];
                s.scan(&mut LongScan::default(), hay, offset, from, |a, b| {
                    got[a..b].fill(true)
                });
                let mut want = vec![false; hay.len()];
                for (a, b) in naive(patterns, hay, from) {
                    want[a..b].fill(true);
                }
                assert!(got == want, "round {round}, offset {offset}, from {from}");
            }
        }
        for cut in [0, 1, 300, 600, 2000, 4000, hay.len()] {
            let end = hay.len().saturating_sub(cut);
            for from in [0, end / 2, end.saturating_sub(3), end.saturating_sub(600)] {
                assert_eq!(
                    s.pending_start(&mut LongScan::default(), &hay[..end], 0, from),
                    naive_pending(patterns, &hay[..end], from),
                    "round {round}, end {end}, from {from}"
                );
            }
        }
    }

    /// Random, periodic and nested patterns over small alphabets, in text
    /// built from their pieces: every occurrence and the pending start
    /// agree with the definitions, at several stream offsets and `from`s.
    #[test]
    fn agrees_with_the_naive_search() {
        let mut rng = Lcg(0x10e6);
        for round in 0..60 {
            let alphabet: &[u8] = [&b"ab"[..], b"abc", b"abcdefgh"][round % 3];
            let mut patterns: Vec<Vec<u8>> = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let len = MIN_LEN + rng.below(700);
                patterns.push(match rng.below(3) {
                    0 => rng.word(alphabet, len),
                    1 => {
                        let unit_len = 1 + rng.below(9);
                        let unit = rng.word(alphabet, unit_len);
                        unit.repeat(len / unit.len() + 1)[..len].to_vec()
                    }
                    _ => {
                        let mut p = vec![alphabet[0]; len - 1];
                        p.push(alphabet[1]);
                        p
                    }
                });
            }
            if round % 5 == 0 {
                let longer = [&patterns[0][..], b"tail-of-a-longer-one"].concat();
                patterns.push(longer);
            }
            let mut hay = Vec::new();
            while hay.len() < 6000 {
                let p = &patterns[rng.below(patterns.len())];
                match rng.below(4) {
                    0 => hay.extend_from_slice(p),
                    1 => hay.extend_from_slice(&p[rng.below(p.len())..]),
                    2 => hay.extend_from_slice(&p[..rng.below(p.len())]),
                    _ => {
                        let len = 1 + rng.below(40);
                        hay.extend(rng.word(alphabet, len));
                    }
                }
                if rng.below(10) == 0 {
                    hay.push(b'\n');
                }
            }
            agrees_with_naive(&searcher(&patterns), &patterns, &hay, round);
        }
    }

    /// The alphabets families are drawn over, in turn: over the first,
    /// two letters, most members repeat a gram of their window too often
    /// to join a crowd.
    const FAMILY_ALPHABETS: [&[u8]; 3] = [b"ab", b"abcdefgh", b"0123456789abcdef"];

    /// A family: members that share a beginning (a gram or more, over
    /// small alphabets, so that texts fall between them), of up to three
    /// lengths, beside patterns of their own.
    fn family(rng: &mut Lcg, alphabet: &[u8]) -> Vec<Vec<u8>> {
        let lens: Vec<usize> = (0..1 + rng.below(3))
            .map(|_| MIN_LEN + rng.below(300))
            .collect();
        // At least 16 bytes of each member are its own.
        let shortest = *lens.iter().min().expect("a length");
        let head_len = Q + rng.below(shortest - Q - 16);
        let head = rng.word(alphabet, head_len);
        let mut patterns: Vec<Vec<u8>> = (0..MAX_SOLO_SHARING + 1 + rng.below(40))
            .map(|_| {
                let len = lens[rng.below(lens.len())];
                let rest = rng.word(alphabet, len - head_len);
                [&head[..], &rest].concat()
            })
            .collect();
        patterns.sort();
        patterns.dedup();
        for _ in 0..rng.below(3) {
            let len = MIN_LEN + rng.below(200);
            patterns.push(rng.word(alphabet, len));
        }
        patterns
    }

    /// Text of whole members, their beginnings and ends, members with one
    /// byte changed, and noise.
    fn text_of(rng: &mut Lcg, patterns: &[Vec<u8>], alphabet: &[u8], len: usize) -> Vec<u8> {
        let mut hay = Vec::new();
        while hay.len() < len {
            let p = &patterns[rng.below(patterns.len())];
            match rng.below(5) {
                0 | 1 => hay.extend_from_slice(p),
                2 => hay.extend_from_slice(&p[..rng.below(p.len())]),
                3 => {
                    let mut near = p.clone();
                    let at = rng.below(p.len());
                    near[at] = alphabet[rng.below(alphabet.len())];
                    hay.extend(near);
                }
                _ => {
                    let len = 1 + rng.below(40);
                    hay.extend(rng.word(alphabet, len));
                }
            }
        }
        hay
    }

    #[test]
    fn families_are_searched_as_crowds() {
        let mut rng = Lcg(0xc40d);
        for round in 0..40 {
            let alphabet = FAMILY_ALPHABETS[round % FAMILY_ALPHABETS.len()];
            let patterns = family(&mut rng, alphabet);
            let s = searcher(&patterns);
            // Over two letters, most stay with the sweep.
            if round % FAMILY_ALPHABETS.len() != 0 {
                assert!(s.crowded() > MAX_SOLO_SHARING, "round {round}");
            }
            let hay = text_of(&mut rng, &patterns, alphabet, 12_000);
            agrees_with_naive(&s, &patterns, &hay, round);
        }
    }

    /// What a stream does: the text grows by pieces of 1 to 700 bytes,
    /// and each write scans and asks for the pending start from the last
    /// one, over the bytes kept from there, with what earlier writes
    /// learned. Every answer is the naive one, and the occurrences
    /// reported over all writes are those of the whole text.
    #[test]
    fn a_stream_written_in_pieces_keeps_what_it_learned() {
        let mut rng = Lcg(0x57e4);
        for round in 0..30 {
            let alphabet = FAMILY_ALPHABETS[round % FAMILY_ALPHABETS.len()];
            let patterns = family(&mut rng, alphabet);
            let s = searcher(&patterns);
            let hay = text_of(&mut rng, &patterns, alphabet, 6_000);
            let mut known = LongScan::default();
            let mut marked = vec![false; hay.len()];
            let (mut pending, mut end) = (0, 0);
            while end < hay.len() {
                let piece = if round % 2 == 0 {
                    1
                } else {
                    1 + rng.below(700)
                };
                end = (end + piece).min(hay.len());
                let kept = &hay[pending..end];
                s.scan(&mut known, kept, pending as u64, 0, |a, b| {
                    marked[pending + a..pending + b].fill(true)
                });
                let next = pending + s.pending_start(&mut known, kept, pending as u64, 0);
                assert_eq!(
                    next,
                    naive_pending(&patterns, &hay[..end], pending),
                    "round {round}, end {end}"
                );
                pending = next;
            }
            let mut want = vec![false; hay.len()];
            for (a, b) in naive(&patterns, &hay, 0) {
                want[a..b].fill(true);
            }
            assert!(marked == want, "round {round}");
        }
    }

    /// One letter, a pattern of it and one that differs only at its end:
    /// linear however many starts match all but the last byte.
    #[test]
    fn periodic_text_and_patterns_are_linear() {
        let patterns = vec![
            vec![b'a'; 40_000],
            [vec![b'a'; 39_999], vec![b'b']].concat(),
        ];
        let s = searcher(&patterns);
        let hay = vec![b'a'; 1 << 20];
        let started = std::time::Instant::now();
        let mut reported = Vec::new();
        s.scan(&mut LongScan::default(), &hay, 0, 0, |a, b| {
            reported.push((a, b))
        });
        assert_eq!(reported, [(0, hay.len())]);
        let pending = s.pending_start(&mut LongScan::default(), &hay, 0, 0);
        assert_eq!(pending, hay.len() - 39_999);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }
}
