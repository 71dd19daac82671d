//! The first stage's one pass over the text: every position whose next
//! three bytes may start an anchor, with the anchor groups (buckets) it
//! may belong to.
//!
//! The model is Teddy's (the packed searcher of aho-corasick), with the
//! buckets chosen by hand instead of by the library: each of 8 buckets
//! accepts, at each of three positions, a set of bytes, and a byte is
//! tested against a bucket as the product of its two nibbles: bucket `j`
//! accepts `b` at position `k` when bit `j` is set in both `lo[k][b & 15]`
//! and `hi[k][b >> 4]`. Thirty-two bytes are classified by two `pshufb`
//! lookups per position, so the scan costs the same whatever the anchors.
//! Eight buckets (a byte of bits) keep every table in a register: sixteen
//! took twice the instructions for 3% fewer false hits on the standard
//! corpus.
//! The library's own bucketing put anchors with unrelated bytes together
//! (its speed fell from 8 to 1.3 GB/s as anchors were added), while a
//! bucket per anchor family keeps the nibble products tight.
//!
//! Invariants:
//! - Complete: every window whose bytes are in a bucket's sets, at all
//!   three positions, is reported with that bucket's bit. Bits may also
//!   be set for windows outside the sets (nibble products are supersets):
//!   the caller verifies.
//! - The AVX2 path (chosen at run time) and the portable one report the
//!   same positions with the same bits (see the tests).

/// Number of buckets: one bit each in a `u8`.
pub(crate) const BUCKETS: usize = 8;

/// Length of the window a bucket classifies.
pub(crate) const WIDTH: usize = 3;

/// The byte sets of one bucket, by position in the window; an empty set
/// accepts every byte.
pub(crate) type BucketBytes = [&'static [u8]; WIDTH];

/// The compiled nibble tables of up to [`BUCKETS`] buckets.
pub(crate) struct Fingerprints {
    /// `lo[k][n]`: buckets whose position-`k` set holds a byte with low
    /// nibble `n`; `hi` likewise for high nibbles.
    lo: [[u8; 16]; WIDTH],
    hi: [[u8; 16]; WIDTH],
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

impl Fingerprints {
    /// Tables for `buckets` (at most [`BUCKETS`]); bucket `j` is reported
    /// as bit `j`, and only buckets whose bit is in `enabled`.
    pub(crate) fn new(buckets: &[BucketBytes], enabled: u8) -> Fingerprints {
        assert!(buckets.len() <= BUCKETS);
        let mut lo = [[0u8; 16]; WIDTH];
        let mut hi = [[0u8; 16]; WIDTH];
        for (j, sets) in buckets.iter().enumerate() {
            let bit = 1u8 << j;
            if enabled & bit == 0 {
                continue;
            }
            for (k, set) in sets.iter().enumerate() {
                if set.is_empty() {
                    // Any byte.
                    lo[k].iter_mut().chain(&mut hi[k]).for_each(|m| *m |= bit);
                }
                for &b in set.iter() {
                    lo[k][(b & 15) as usize] |= bit;
                    hi[k][(b >> 4) as usize] |= bit;
                }
            }
        }
        Fingerprints {
            lo,
            hi,
            #[cfg(target_arch = "x86_64")]
            avx2: std::is_x86_feature_detected!("avx2"),
        }
    }

    /// Calls `hit(p, buckets)` for every `p` from `from` on whose window
    /// `text[p..p + WIDTH]` lies in `text` and may be in some bucket, in
    /// increasing order of `p`.
    #[inline]
    pub(crate) fn find(&self, text: &[u8], from: usize, hit: impl FnMut(usize, u8)) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: AVX2 was detected at run time.
            return unsafe { self.find_avx2(text, from, hit) };
        }
        self.find_portable(text, from, hit)
    }

    /// The buckets that may hold the window at `w` (at least WIDTH bytes).
    #[inline(always)]
    fn classify(&self, w: &[u8]) -> u8 {
        let mut m = u8::MAX;
        for (k, &b) in w[..WIDTH].iter().enumerate() {
            m &= self.lo[k][(b & 15) as usize] & self.hi[k][(b >> 4) as usize];
        }
        m
    }

    /// The portable path: one window at a time.
    pub(crate) fn find_portable(&self, text: &[u8], from: usize, mut hit: impl FnMut(usize, u8)) {
        for p in from..(text.len() + 1).saturating_sub(WIDTH) {
            let m = self.classify(&text[p..]);
            if m != 0 {
                hit(p, m);
            }
        }
    }

    /// 64 windows per round, as two halves of 32: for each position of
    /// the window, one load shifted by that position, two lookups (low and
    /// high nibble) and an AND. One test per round decides whether any of
    /// the 64 is a hit, so the loop's one branch is taken rarely (on the
    /// standard corpus about one round in thirteen has a hit); the hits
    /// themselves are reported out of line, keeping the tables in
    /// registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn find_avx2(&self, text: &[u8], from: usize, mut hit: impl FnMut(usize, u8)) {
        use std::arch::x86_64::*;
        const LANES: usize = 32;
        const ROUND: usize = 2 * LANES;
        let table = |t: &[u8; 16]| {
            // SAFETY: 16 readable bytes.
            unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr() as *const __m128i)) }
        };
        let lo: [__m256i; WIDTH] = std::array::from_fn(|k| table(&self.lo[k]));
        let hi: [__m256i; WIDTH] = std::array::from_fn(|k| table(&self.hi[k]));
        let nibble = _mm256_set1_epi8(0x0F);
        // The buckets of the 32 windows starting at `at`, a byte each.
        // SAFETY (for callers): `at + LANES + WIDTH - 1 <= text.len()`.
        let classify = |at: usize| unsafe {
            let mut acc = _mm256_set1_epi8(-1);
            for k in 0..WIDTH {
                let v = _mm256_loadu_si256(text.as_ptr().add(at + k) as *const __m256i);
                let l = _mm256_and_si256(v, nibble);
                let h = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
                let m =
                    _mm256_and_si256(_mm256_shuffle_epi8(lo[k], l), _mm256_shuffle_epi8(hi[k], h));
                acc = _mm256_and_si256(acc, m);
            }
            acc
        };
        let mut p = from;
        while p + ROUND + WIDTH - 1 <= text.len() {
            let (a, b) = (classify(p), classify(p + LANES));
            let any = _mm256_or_si256(a, b);
            if _mm256_testz_si256(any, any) == 0 {
                report(p, &[a, b], &mut hit);
            }
            p += ROUND;
        }
        // One half round where it fits: short writes (a line each) leave
        // less to the portable loop.
        if p + LANES + WIDTH - 1 <= text.len() {
            let a = classify(p);
            if _mm256_testz_si256(a, a) == 0 {
                report(p, &[a], &mut hit);
            }
            p += LANES;
        }
        self.find_portable(text, p, hit)
    }
}

/// Calls `hit` for each window in some bucket among `halves`, the buckets
/// of 32 windows each from `at` on (at most two).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
fn report(at: usize, halves: &[std::arch::x86_64::__m256i], hit: &mut impl FnMut(usize, u8)) {
    use std::arch::x86_64::*;
    let zero = _mm256_setzero_si256();
    let mut mask = 0u64;
    let mut buckets = [0u8; 64];
    for (k, &v) in halves.iter().enumerate() {
        let none = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)) as u32;
        mask |= u64::from(!none) << (32 * k);
        // SAFETY: `k < 2`, so the 32 bytes lie within `buckets`.
        unsafe { _mm256_storeu_si256(buckets.as_mut_ptr().add(32 * k) as *mut __m256i, v) };
    }
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        hit(at + i, buckets[i]);
        mask &= mask - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Lcg;

    const BUCKETS_UNDER_TEST: &[BucketBytes] = &[
        [b"g", b"h", b"pours"],
        [b"A", b"KSBCT", b"ICA"],
        [b"iI", b"zZ", b"aA"],
        [
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            b"_",
            &[],
        ],
        [b":", b"/", b"/"],
    ];

    /// Which buckets hold the window, from the sets alone (an empty set
    /// accepts every byte, as in the anchor table).
    fn naive(buckets: &[BucketBytes], w: &[u8]) -> u8 {
        let mut m = 0;
        for (j, sets) in buckets.iter().enumerate() {
            if sets
                .iter()
                .zip(w)
                .all(|(set, b)| set.is_empty() || set.contains(b))
            {
                m |= 1 << j;
            }
        }
        m
    }

    fn collect(f: &Fingerprints, text: &[u8], from: usize, portable: bool) -> Vec<(usize, u8)> {
        let mut out = Vec::new();
        if portable {
            f.find_portable(text, from, |p, m| out.push((p, m)));
        } else {
            f.find(text, from, |p, m| out.push((p, m)));
        }
        out
    }

    #[test]
    fn every_window_in_a_bucket_is_reported_and_both_paths_agree() {
        let buckets = BUCKETS_UNDER_TEST;
        let f = Fingerprints::new(buckets, u8::MAX);
        let mut rng = Lcg(7);
        let alphabet = b"ghpoursAKSBCTICAizaIZA:/_ x-.\n\xff\x00";
        for len in [
            0, 1, 2, 3, 4, 31, 32, 33, 34, 35, 64, 65, 66, 67, 96, 97, 98, 99, 100, 130, 131, 1000,
        ] {
            for _ in 0..20 {
                let text = rng.word(alphabet, len);
                for from in [0, 1, 5, 40] {
                    let fast = collect(&f, &text, from, false);
                    let slow = collect(&f, &text, from, true);
                    assert_eq!(fast, slow, "len {len} from {from}");
                    for p in from..(text.len() + 1).saturating_sub(WIDTH) {
                        let exact = naive(buckets, &text[p..p + WIDTH]);
                        let got = fast.iter().find(|h| h.0 == p).map_or(0, |h| h.1);
                        assert_eq!(got & exact, exact, "window at {p} of {text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn disabled_buckets_are_not_reported() {
        let buckets = BUCKETS_UNDER_TEST;
        let f = Fingerprints::new(buckets, 0b10);
        let text = b"ghp_ AKIA authorization x://y ".repeat(3);
        for (_, m) in collect(&f, &text, 0, false) {
            assert_eq!(m & !0b10, 0);
        }
        assert!(!collect(&f, &text, 0, false).is_empty());
    }

    #[test]
    fn table_cases() {
        let buckets = BUCKETS_UNDER_TEST;
        let f = Fingerprints::new(buckets, u8::MAX);
        // (text, window start, bucket that must be set)
        let cases: &[(&[u8], usize, usize)] = &[
            (b"ghp_", 0, 0),
            (b"xAKIA", 1, 1),
            (b"AuThOrIzAtIoN", 6, 2),
            (b"npm_x", 2, 3),
            (b"https://", 5, 4),
        ];
        for &(text, at, bucket) in cases {
            let hits = collect(&f, text, 0, false);
            let m = hits.iter().find(|h| h.0 == at).map_or(0, |h| h.1);
            assert_ne!(m & (1 << bucket), 0, "{:?}", String::from_utf8_lossy(text));
        }
    }
}
