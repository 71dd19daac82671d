//! Property and stress tests built to defeat the skip filter: long secrets
//! cut from one base string, so they overlap, contain and extend each
//! other, plus periodic ones, fed in random splits and compared with the
//! naive oracle (output and, after every write, the decided prefix).

mod common;

use std::ops::Range;
use std::sync::Arc;

use logmask::{Config, DetectorSet, Encoding, MaskWriter, Registry};
use proptest::prelude::*;

fn raw_registry(secrets: &[Vec<u8>]) -> Arc<Registry> {
    let registry = Arc::new(Registry::with_config(Config {
        min_length: 4,
        encodings: [Encoding::Raw].into_iter().collect(),
    }));
    for s in secrets {
        registry.add(s).unwrap();
    }
    registry
}

fn check(secrets: &[Vec<u8>], input: &[u8], cuts: &[usize]) {
    let registry = raw_registry(secrets);
    // Registered secrets only: detection (SPEC 7) holds bytes of its own
    // (an `L` after a space may begin a Base64 PEM), which the oracle
    // does not model.
    let mut writer = MaskWriter::builder(registry)
        .commands(false)
        .detect(DetectorSet::empty())
        .build(Vec::new());
    common::feed_at_cuts(&mut writer, input, cuts, |writer, end| {
        let want = common::decided_output(&input[..end], secrets);
        assert!(
            *writer.get_ref() == want,
            "after {} bytes of {input:?} with {secrets:?}",
            end
        );
    });
    let got = writer.finish().unwrap();
    assert!(
        got == common::mask(input, secrets),
        "{input:?} with {secrets:?} cut at {cuts:?}"
    );
}

/// A base string over `alphabet`, secrets cut from it, an input made of
/// slices of the base, whole secrets and noise, and split points.
fn cut_case(
    alphabet: &'static [u8],
    base_len: Range<usize>,
    secret_len: Range<usize>,
    secret_count: Range<usize>,
    piece_len: Range<usize>,
    piece_count: Range<usize>,
) -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    prop::collection::vec(prop::sample::select(alphabet.to_vec()), base_len)
        .prop_flat_map(move |base| {
            let n = base.len();
            let secret = (0..n - 16, secret_len.clone()).prop_map(move |(s, l)| (s, l.min(n - s)));
            let piece = (0..n, piece_len.clone(), 0u8..3);
            (
                Just(base),
                prop::collection::vec(secret, secret_count.clone()),
                prop::collection::vec(piece, piece_count.clone()),
            )
        })
        .prop_flat_map(|(base, spans, pieces)| {
            let secrets: Vec<Vec<u8>> = spans
                .iter()
                .map(|&(s, l)| base[s..s + l].to_vec())
                .collect();
            let mut input = Vec::new();
            for (i, &(start, len, kind)) in pieces.iter().enumerate() {
                match kind {
                    0 => input.extend_from_slice(&base[start..(start + len).min(base.len())]),
                    1 => input.extend_from_slice(&secrets[i % secrets.len()]),
                    _ => input.extend_from_slice(&b"x\nab"[..(len % 4) + 1]),
                }
            }
            let len = input.len();
            (
                Just(secrets),
                Just(input),
                prop::collection::vec(0..=len, 0..6),
            )
        })
}

/// A few secrets over four letters (lengths 16..48, so the filter takes
/// most of them).
fn case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    cut_case(b"abcd", 64..96, 16..48, 1..6, 0..40, 1..10)
}

/// Inputs of 20-70 KB written in a few large pieces, which the masker
/// searches where they lie rather than after a copy: the case above
/// repeated (so occurrences straddle every kind of piece edge), plus a few
/// short secrets of the same alphabet for the automaton.
fn large_case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    let short = prop::collection::vec(
        prop::collection::vec(prop::sample::select(b"abcd".to_vec()), 4..10),
        0..3,
    );
    (case(), short, 20_000usize..70_000).prop_flat_map(|((mut secrets, unit, _), short, len)| {
        secrets.extend(short);
        let mut input = Vec::with_capacity(len + unit.len() + 1);
        while input.len() < len {
            input.extend_from_slice(&unit);
            input.push(b'x');
        }
        let cuts = prop::collection::vec(0..=input.len(), 0..5);
        (Just(secrets), Just(input), cuts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn overlapping_long_secrets_any_split((secrets, input, cuts) in case()) {
        check(&secrets, &input, &cuts);
    }
}

/// Dozens of secrets cut from one base over two letters: an 8-byte gram
/// has only 256 values there, so most grams are shared past the filter's
/// limit and the secrets move on, the long ones to the 16-byte filter and
/// the rest to the automaton. Every occurrence must still be found.
fn crowded_case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    cut_case(b"ab", 160..320, 16..96, 20..90, 0..120, 1..16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn crowded_long_secrets_any_split((secrets, input, cuts) in crowded_case()) {
        check(&secrets, &input, &cuts);
    }
}

/// A family of values that begin alike, as the JWTs of one issuer do:
/// more members than a gram may have entries, so the filter must index
/// them past their shared head (and, when they are the shortest, at a
/// lower stride), plus a few unrelated secrets. The input holds members,
/// members cut short, members with one byte changed and bits of the
/// head.
fn family_case(
    head_len: Range<usize>,
    tail_len: Range<usize>,
    members: Range<usize>,
) -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".to_vec();
    let letters = prop::sample::select(alnum);
    let head = prop::collection::vec(letters.clone(), head_len);
    let tails = prop::collection::vec(prop::collection::vec(letters.clone(), tail_len), members);
    let others = prop::collection::vec(prop::collection::vec(letters, 16..40), 0..3);
    (head, tails, others)
        .prop_flat_map(|(head, tails, others)| {
            let mut secrets: Vec<Vec<u8>> = tails.iter().map(|t| [&head[..], t].concat()).collect();
            secrets.extend(others);
            let n = secrets.len();
            let pieces = prop::collection::vec((0..n, 0u8..4, any::<usize>()), 1..24);
            (Just(secrets), Just(head), pieces)
        })
        .prop_flat_map(|(secrets, head, pieces)| {
            let mut input = Vec::new();
            for &(i, kind, at) in &pieces {
                let s = &secrets[i];
                match kind {
                    0 => input.extend_from_slice(s),
                    1 => input.extend_from_slice(&s[..at % s.len()]),
                    2 => {
                        let mut changed = s.clone();
                        changed[at % s.len()] ^= 0x20;
                        input.extend_from_slice(&changed);
                    }
                    _ => input.extend_from_slice(&head[..at % head.len()]),
                }
                input.push(b" \n."[at % 3]);
            }
            let len = input.len();
            (
                Just(secrets),
                Just(input),
                prop::collection::vec(0..=len, 0..6),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn families_of_secrets_that_begin_alike_any_split(
        (secrets, input, cuts) in family_case(8..200, 4..90, 17..60)
    ) {
        check(&secrets, &input, &cuts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Families of values longer than the gram filter's 4 KiB, alike
    /// through their first 512 bytes or more (the long-variant
    /// searcher's window): searched as crowds.
    #[test]
    fn families_of_long_secrets_any_split(
        (secrets, input, cuts) in family_case(4000..4300, 100..400, 17..30)
    ) {
        check(&secrets, &input, &cuts);
    }

    /// Alike through their first bytes only.
    #[test]
    fn families_of_long_secrets_alike_at_first_any_split(
        (secrets, input, cuts) in family_case(8..600, 4100..4200, 17..30)
    ) {
        check(&secrets, &input, &cuts);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn large_writes_searched_in_place((secrets, input, cuts) in large_case()) {
        check(&secrets, &input, &cuts);
    }
}

#[test]
fn periodic_and_nested_long_secrets_every_split_size() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["abababababababababab", "babababababababababa"],
            "xabababababababababababababy",
        ),
        (
            &["aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
            "baaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        ),
        (
            &[
                "0123456789abcdefghij",
                "56789abcdefghijklmnopq",
                "0123456789abcdefghijklmnopqrstu",
            ],
            "..0123456789abcdefghijklmnopqrst..56789abcdefghijklmnopq0123456789abcdefghij",
        ),
        (
            &["Zq3xP0vL9mK2wN8rT5yB", "P0vL9mK2wN8rT5yBextra"],
            "Zq3xP0vL9mK2wN8rT5yBextra Zq3xP0vL9mK2wN8rT5y",
        ),
    ];
    for (secrets, input) in cases {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        let input = input.as_bytes();
        for size in 1..=input.len() {
            let cuts: Vec<usize> = (size..input.len()).step_by(size).collect();
            check(&secrets, input, &cuts);
        }
    }
}

/// Two generations of crowding. Forty 16-byte secrets end in the same
/// eight bytes, so that gram is crowded and they move on; the twenty
/// 64-byte ones left are then indexed again at their own, longer stride,
/// where their common 48-byte tail crowds every gram in turn. Those must
/// move on as well, not be dropped between the two builds.
#[test]
fn secrets_crowded_only_at_a_longer_stride_are_still_found() {
    let tail = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
    let mut secrets: Vec<Vec<u8>> = (0u32..40)
        .map(|i: u32| format!("{:08x}zzzzzzzz", i.wrapping_mul(0x9E37_79B9)).into_bytes())
        .collect();
    secrets.extend((0u64..20).map(|i| {
        let mut s = format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
        s.extend_from_slice(tail);
        s
    }));
    let mut input = Vec::new();
    for s in secrets.iter().rev() {
        input.extend_from_slice(b"- ");
        input.extend_from_slice(s);
        input.push(b'\n');
    }
    let all_cuts: Vec<usize> = (0..=input.len()).collect();
    for cuts in [&[][..], &[input.len() / 2], &all_cuts] {
        check(&secrets, &input, cuts);
    }
}
