//! Property tests: the streaming masker against the naive oracle, for
//! every way of splitting the input.

mod common;

use std::io::Write;
use std::sync::Arc;

use logmask::{Config, Encoding, EncodingSet, MaskWriter, Registry};
use proptest::prelude::*;

/// Secrets over a tiny alphabet, so that overlaps, containment and
/// self-overlap (`aab` in `aaab`) are common.
fn secrets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(b"ab".to_vec()), 1..7),
        1..5,
    )
}

/// Input: small-alphabet noise with raw secrets and encoded forms mixed in.
fn input_with(secrets: &[Vec<u8>]) -> impl Strategy<Value = Vec<u8>> + use<> {
    let pieces: Vec<Vec<u8>> = secrets
        .iter()
        .flat_map(|s| {
            let mut forms = common::naive_variants(s, 1);
            forms.push(s.clone());
            forms
        })
        .collect();
    let piece = prop_oneof![
        prop::collection::vec(prop::sample::select(b"abc\n\r".to_vec()), 0..6),
        prop::sample::select(pieces),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

fn case() -> impl Strategy<Value = (Vec<Vec<u8>>, usize, Vec<u8>, Vec<usize>)> {
    (secrets(), 1usize..4).prop_flat_map(|(secrets, min_length)| {
        let input = input_with(&secrets);
        (Just(secrets), Just(min_length), input).prop_flat_map(|(s, m, input)| {
            let cuts = prop::collection::vec(0..=input.len(), 0..8);
            (Just(s), Just(m), Just(input), cuts)
        })
    })
}

fn raw_only(min_length: usize) -> Config {
    Config {
        min_length,
        encodings: [Encoding::Raw].into_iter().collect(),
    }
}

/// Registers the secrets; returns the registry and the variants an
/// independent reading of SPEC 1 gives.
fn setup(secrets: &[Vec<u8>], config: Config) -> (Arc<Registry>, Vec<Vec<u8>>) {
    let registry = Arc::new(Registry::with_config(config));
    let mut variants = Vec::new();
    for s in secrets {
        let _ = registry.add(s);
        if config.encodings == EncodingSet::all() {
            variants.extend(common::naive_variants(s, config.min_length));
        } else if s.len() >= config.min_length {
            variants.push(s.clone());
        }
    }
    (registry, variants)
}

/// Feeds `input` cut at `cuts`, checking after every write that exactly
/// the decided prefix has been written.
fn stream(registry: &Arc<Registry>, variants: &[Vec<u8>], input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut writer = MaskWriter::builder(registry.clone())
        .commands(false)
        .build(Vec::new());
    common::feed_at_cuts(&mut writer, input, cuts, |writer, end| {
        let want = common::decided_output(&input[..end], variants);
        assert_eq!(
            String::from_utf8_lossy(writer.get_ref()),
            String::from_utf8_lossy(&want),
            "after {} bytes",
            end
        );
    });
    writer.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn raw_secrets_any_split((secrets, min_length, input, cuts) in case()) {
        let (registry, variants) = setup(&secrets, raw_only(min_length));
        let got = stream(&registry, &variants, &input, &cuts);
        prop_assert_eq!(got, common::mask(&input, &variants));
    }

    #[test]
    fn all_encodings_any_split((secrets, min_length, input, cuts) in case()) {
        let (registry, variants) = setup(&secrets, Config { min_length, ..Config::default() });
        let got = stream(&registry, &variants, &input, &cuts);
        prop_assert_eq!(got, common::mask(&input, &variants));
    }

    #[test]
    fn one_byte_writes((secrets, min_length, input, _cuts) in case()) {
        let (registry, variants) = setup(&secrets, raw_only(min_length));
        let cuts: Vec<usize> = (0..=input.len()).collect();
        let got = stream(&registry, &variants, &input, &cuts);
        prop_assert_eq!(got, common::mask(&input, &variants));
    }

    #[test]
    fn commands_on_without_command_lines((secrets, min_length, input, cuts) in case()) {
        // Lines here never begin with ':' or whitespace, so command handling
        // must not change a byte, only (possibly) when it is written.
        let (registry, variants) = setup(&secrets, raw_only(min_length));
        let mut writer = MaskWriter::new(registry.clone(), Vec::new());
        let mut cuts = cuts.clone();
        cuts.extend([0, input.len()]);
        cuts.sort();
        for w in cuts.windows(2) {
            writer.write_all(&input[w[0]..w[1]]).unwrap();
        }
        prop_assert_eq!(writer.finish().unwrap(), common::mask(&input, &variants));
    }
}

#[test]
fn periodic_secrets_every_split() {
    let table: &[(&[&str], &str)] = &[
        (&["aa", "aaa"], "aaaaabaaaa"),
        (&["abab", "bab"], "abababbabab"),
        (&["ab", "abab", "ababab"], "xabababababx"),
        (&["aab", "aaab"], "aaaaaab aab"),
        (&["abc", "bcd", "cde"], "abcde bcd ab cd"),
    ];
    for (secrets, input) in table {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        let (registry, variants) = setup(&secrets, raw_only(1));
        let input = input.as_bytes();
        let want = common::mask(input, &variants);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let got = stream(&registry, &variants, input, &[a, b]);
                assert_eq!(got, want, "{secrets:?} cut at {a},{b}");
            }
        }
    }
}
