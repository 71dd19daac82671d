//! Binary searches over a crowd: patterns sorted by their bytes, many of
//! them alike but for a few bytes (the JWTs of one job, the Base64 forms
//! of values that share a beginning).
//!
//! Model: `members` lists pattern ids in the byte order of their
//! patterns, and `pattern(id)` gives a pattern's bytes. A plain binary
//! search compares the text with about log2(members) patterns, each from
//! the first byte, so members that share a long beginning cost that
//! beginning once per step. Here each step starts comparing past the
//! bytes the text is known to share with both bounds of the range left
//! (every member between two members that share `k` bytes with the text
//! shares them too, in byte order), so a search costs about one
//! member's length plus a few bytes per step.
//!
//! Invariants: the answers are those of the plain searches over
//! `members` (tested against them); `known`, where a caller passes it,
//! must be a length that every member of the slice shares with the text.

use std::ops::Range;

/// Length of the longest common prefix of `a` and `b`, eight bytes at a
/// time.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
        if x != y {
            return at + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..]
        .iter()
        .zip(&b[at..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Whether `text` is one of `members`.
pub(crate) fn contains<'p>(
    members: &[u32],
    pattern: impl Fn(u32) -> &'p [u8] + Copy,
    text: &[u8],
) -> bool {
    let (at, shared) = bound(members, pattern, text, 0, false);
    at < members.len() && shared == text.len() && pattern(members[at]).len() == text.len()
}

/// The members that begin with `text`, as a range of indices of
/// `members`: every member of `members` shares its first `known` bytes
/// with `text`.
pub(crate) fn beginning_with<'p>(
    members: &[u32],
    pattern: impl Fn(u32) -> &'p [u8] + Copy,
    text: &[u8],
    known: usize,
) -> Range<usize> {
    let low = bound(members, pattern, text, known, false).0;
    let high = low + bound(&members[low..], pattern, text, known, true).0;
    low..high
}

/// The first index whose member, cut to `text`'s length, is not below
/// `text` (`past_equal`: is above it), and how many bytes that member
/// shares with `text` (`known` when there is none).
fn bound<'p>(
    members: &[u32],
    pattern: impl Fn(u32) -> &'p [u8],
    text: &[u8],
    known: usize,
    past_equal: bool,
) -> (usize, usize) {
    let (mut low, mut high) = (0, members.len());
    let (mut shared_low, mut shared_high) = (known, known);
    while low < high {
        let mid = low + (high - low) / 2;
        let p = pattern(members[mid]);
        let from = shared_low.min(shared_high);
        let shared = from + common_prefix(&p[from..], &text[from..]);
        let left = if shared == text.len() {
            past_equal
        } else {
            is_below(p, text, shared)
        };
        if left {
            (low, shared_low) = (mid + 1, shared);
        } else {
            (high, shared_high) = (mid, shared);
        }
    }
    (low, shared_high)
}

/// Whether `p`, which shares exactly its first `shared` bytes with
/// `text` (and `shared < text.len()`), sorts before `text`.
fn is_below(p: &[u8], text: &[u8], shared: usize) -> bool {
    p.get(shared).is_none_or(|&b| b < text[shared])
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::Lcg;

    /// Families over two letters (so that members share long beginnings
    /// and texts fall between them), against plain searches.
    #[test]
    fn agrees_with_plain_searches() {
        let mut rng = Lcg(0x5e4c);
        for round in 0..300 {
            let head_len = rng.below(40);
            let head = rng.word(b"ab", head_len);
            let mut patterns: Vec<Vec<u8>> = (0..1 + rng.below(30))
                .map(|_| {
                    let len = rng.below(12) + round % 3;
                    [&head[..], &rng.word(b"ab", len)].concat()
                })
                .collect();
            patterns.sort();
            let members: Vec<u32> = (0..patterns.len() as u32).collect();
            let pattern = |id: u32| &patterns[id as usize][..];
            for _ in 0..40 {
                let text = match rng.below(3) {
                    0 => patterns[rng.below(patterns.len())].clone(),
                    1 => {
                        let p = &patterns[rng.below(patterns.len())];
                        p[..rng.below(p.len() + 1)].to_vec()
                    }
                    _ => {
                        let len = rng.below(8);
                        [&head[..], &rng.word(b"ab", len)].concat()
                    }
                };
                let want = patterns.contains(&text);
                assert_eq!(contains(&members, pattern, &text), want, "{text:?}");
                let want: Vec<usize> = (0..patterns.len())
                    .filter(|&i| patterns[i].starts_with(&text))
                    .collect();
                let known = common_prefix(&head, &text);
                let got = beginning_with(&members, pattern, &text, known);
                assert_eq!(got.collect::<Vec<_>>(), want, "{text:?} in {patterns:?}");
            }
        }
    }

    #[test]
    fn common_prefix_of_cases() {
        let long = vec![7u8; 100];
        let mut other = long.clone();
        other[77] = 8;
        let cases: &[(&[u8], &[u8], usize)] = &[
            (b"", b"", 0),
            (b"abc", b"abd", 2),
            (b"abcdefghij", b"abcdefghij", 10),
            (b"abcdefghijk", b"abcdefghij", 10),
            (b"abcdefgh", b"abcdefgX", 7),
            (b"abcdefghX", b"abcdefghY", 8),
            (&long, &other, 77),
            (&long, &long[..64], 64),
        ];
        for &(a, b, want) in cases {
            assert_eq!(common_prefix(a, b), want, "{a:?} {b:?}");
        }
    }
}
