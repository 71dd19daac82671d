//! The forms of SPEC 1.3 against the naive expander of `tests/common`,
//! which shares no code with the engine: tables of values chosen to reach
//! every form, the origins reports give them, and split invariance of the
//! new forms in a stream.

mod common;

use std::io::Write;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use logmask::{Config, DetectorSet, Encoding, EncodingSet, MaskWriter, Refusal, Registry};
use proptest::prelude::*;

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    v
}

fn config(min_length: usize) -> Config {
    Config {
        min_length,
        ..Config::default()
    }
}

fn show(variants: &[Vec<u8>]) -> Vec<String> {
    variants
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

/// Values that reach each form: quotes, shell specials, JSON specials,
/// long values that wrap, stored encodings, bytes that are not UTF-8.
fn table() -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = [
        "secret123",
        "it's a secret",
        "p@ss w0rd!$(x)*",
        "#hash~tilde",
        "~home=~x:~y",
        "<a&b>/c\u{2028}d\u{2029}",
        "é😀 naïve",
        "tab\there",
        "quote\"back\\slash",
        "ctrl\u{1}\u{7f}",
        "encodeURI('x')*!",
        "a/b/c?d=e&f=g",
        // Stored encodings: Base64 (padded and not), URL-safe, hex.
        "aHVudGVyMjIhIGh1bnRlcjIyIQ==",
        "PDw_Pz8-Pj48PD8_Pz4-Pg",
        "68756e74657232322068756e746572",
        "68756E74657232322068756E746572",
        // Base64 of binary, and of a too-short text: nothing decoded.
        "AAECAwQFBgcICQoL",
        "aHVudGVy",
        // Multi-line values.
        "line one\nline 'two'\r\nthree",
        "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAUEwggE9AgEAAkEA\n-----END KEY-----",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // 40, 58, 100 and 300 bytes: Base64 and xxd -p wrapping.
    // 37 and 59 leave last pieces of 14 digits or characters (dropped),
    // 38 and 60 of 16 (kept).
    for len in [37, 38, 40, 49, 58, 59, 60, 100, 300] {
        values.push((0..len).map(|i| b"abcdefghij'<>/ &%"[i % 17]).collect());
    }
    // A Base64-stored secret whose decoding is long and multi-line.
    values.push(
        STANDARD
            .encode("user=deploy\npassword=it's <hidden> & long enough/ok")
            .into_bytes(),
    );
    values.push(URL_SAFE_NO_PAD.encode("?>?>?>?>~~~secret").into_bytes());
    values.push(b"\xff\xfe not utf-8 \x80'".to_vec());
    // A byte order mark before a value, and inside a Base64-stored one.
    values.push(b"\xEF\xBB\xBFwith a mark's value".to_vec());
    values.push(STANDARD.encode("\u{feff}marked-decoding-here").into_bytes());
    values
}

#[test]
fn every_value_expands_as_the_naive_reading_of_spec() {
    for value in table() {
        for min_length in [1, 4, 10, 20] {
            let got = sorted(logmask::expand(&value, &config(min_length)).unwrap_or_default());
            let want = common::naive_variants(&value, min_length);
            assert_eq!(
                show(&got),
                show(&want),
                "{:?} (min {min_length})",
                String::from_utf8_lossy(&value)
            );
        }
    }
}

#[test]
fn without_decoded_nothing_is_decoded() {
    let set = EncodingSet::all().without(Encoding::Decoded);
    for value in table() {
        let got = logmask::expand(
            &value,
            &Config {
                min_length: 4,
                encodings: set,
            },
        );
        let got = sorted(got.unwrap_or_default());
        assert_eq!(
            show(&got),
            show(&common::naive_variants_undecoded(&value, 4)),
            "{:?}",
            String::from_utf8_lossy(&value)
        );
    }
}

#[test]
fn decoded_registers_the_decoding_in_the_other_chosen_encodings_only() {
    let only = |names: &str| Config {
        min_length: 4,
        encodings: EncodingSet::parse_list(names).unwrap(),
    };
    let stored = b"aGVsbG8gd29ybGQhISE="; // "hello world!!!"
    let cases: &[(&str, &[&str])] = &[
        ("raw,decoded", &["aGVsbG8gd29ybGQhISE=", "hello world!!!"]),
        ("decoded,raw", &["aGVsbG8gd29ybGQhISE=", "hello world!!!"]),
        ("raw", &["aGVsbG8gd29ybGQhISE="]),
        // The decoding in url, not the value's own url form of `=`.
        // JavaScript leaves `!`.
        (
            "url,decoded",
            &[
                "aGVsbG8gd29ybGQhISE%3D",
                "aGVsbG8gd29ybGQhISE%3d",
                "hello%20world%21%21%21",
                "hello+world%21%21%21",
                "hello%20world!!!",
            ],
        ),
    ];
    for (names, want) in cases {
        let got = sorted(logmask::expand(stored, &only(names)).unwrap());
        let want = sorted(want.iter().map(|w| w.as_bytes().to_vec()).collect());
        assert_eq!(show(&got), show(&want), "{names}");
    }
    // `decoded` alone registers nothing: no encoding to register it in
    // (the command line refuses it as a usage error).
    assert_eq!(
        logmask::expand(stored, &only("decoded")),
        Err(Refusal::NoForm { floor: 4 })
    );
}

#[test]
fn a_decoded_json_key_file_registers_its_strings() {
    let key = r#"{"type":"service_account","private_key":"k3y-M4TERIAL-xyz","n":1}"#;
    let stored = STANDARD.encode(key);
    let got = logmask::expand(stored.as_bytes(), &config(4)).unwrap();
    for inner in ["k3y-M4TERIAL-xyz", "service_account", key] {
        assert!(
            got.contains(&inner.as_bytes().to_vec()),
            "missing {inner:?}"
        );
    }
}

#[test]
fn origins_name_the_first_form_and_decoded() {
    let registry = Registry::new();
    registry
        .add_from(b"aGVsbG8gd29ybGQhISE=", "--env STORED")
        .unwrap();
    registry.add_from(b"it's long", "--secret #1").unwrap();
    let cases: &[(&str, &[(&str, Encoding)])] = &[
        ("aGVsbG8gd29ybGQhISE=", &[("--env STORED", Encoding::Raw)]),
        ("hello world!!!", &[("--env STORED", Encoding::Decoded)]),
        // Hex of the decoding is a decoded variant, not a hex one.
        (
            "68656c6c6f20776f726c64212121",
            &[("--env STORED", Encoding::Decoded)],
        ),
        ("it'\\''s long", &[("--secret #1", Encoding::Shell)]),
        ("it\\'s\\ long", &[("--secret #1", Encoding::Shell)]),
        ("69742773206c6f6e67", &[("--secret #1", Encoding::Hex)]),
        // `'` is `%27` in url, first in SPEC order.
        ("it%27s%20long", &[("--secret #1", Encoding::Url)]),
    ];
    for (variant, want) in cases {
        let got: Vec<(String, Encoding)> = registry
            .origins(variant.as_bytes())
            .into_iter()
            .map(|o| (o.source.to_string(), o.form))
            .collect();
        let want: Vec<(String, Encoding)> = want.iter().map(|(s, e)| (s.to_string(), *e)).collect();
        assert_eq!(got, want, "{variant}");
    }
}

#[test]
fn forms_that_cannot_differ_are_not_repeated() {
    // An identifier is its own URL, JSON, XML, command and shell form,
    // and its base64url forms are its base64 ones: raw, three Base64 and
    // two hex forms remain.
    let got = logmask::expand(b"plainToken123", &config(4)).unwrap();
    assert_eq!(got.len(), 6, "{:?}", show(&got));
    assert_eq!(sorted(got.clone()).len(), got.len(), "duplicates");
}

/// Secrets over a small alphabet that reaches the new forms: quotes,
/// shell and JSON specials, `/`, space, `=`, `~`, `#`, and a non-ASCII
/// letter; some of them stored Base64 or hex.
fn secrets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let plain = prop::collection::vec(
        prop::sample::select(vec![
            "a", "b", "'", "/", " ", "=", "~", "#", "<", "&", "!", "\"", "é",
        ]),
        1..8,
    )
    .prop_map(|parts| parts.concat().into_bytes());
    let secret = prop_oneof![
        3 => plain.clone(),
        1 => plain.clone().prop_map(|s| {
            let mut long = s.repeat(8);
            long.extend_from_slice(b"hunter2!");
            STANDARD.encode(long).into_bytes()
        }),
        1 => plain.prop_map(|s| {
            let mut long = s.repeat(4);
            long.extend_from_slice(b"xxd-me!!");
            long.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()
        }),
    ];
    prop::collection::vec(secret, 1..4)
}

fn case() -> impl Strategy<Value = (Vec<Vec<u8>>, usize, Vec<u8>, Vec<usize>)> {
    (secrets(), 1usize..6).prop_flat_map(|(secrets, min_length)| {
        let pieces: Vec<Vec<u8>> = secrets
            .iter()
            .flat_map(|s| common::naive_variants(s, 1))
            .chain(secrets.iter().cloned())
            .collect();
        let piece = prop_oneof![
            prop::collection::vec(prop::sample::select(b"ab'\\ %\n".to_vec()), 0..6),
            prop::sample::select(pieces),
        ];
        let input = prop::collection::vec(piece, 0..10).prop_map(|parts| parts.concat());
        (Just(secrets), Just(min_length), input).prop_flat_map(|(s, m, input)| {
            let cuts = prop::collection::vec(0..=input.len(), 0..8);
            (Just(s), Just(m), Just(input), cuts)
        })
    })
}

/// Feeds `input` cut at `cuts` with the variants the naive reading gives,
/// checking after each write that exactly the decided prefix is out.
fn stream(secrets: &[Vec<u8>], min_length: usize, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let registry = Arc::new(Registry::with_config(config(min_length)));
    let mut variants = Vec::new();
    for s in secrets {
        let _ = registry.add(s);
        variants.extend(common::naive_variants(s, min_length));
    }
    let mut cuts = cuts.to_vec();
    cuts.extend([0, input.len()]);
    cuts.sort();
    // Registered secrets only: detection (SPEC 7) holds bytes of its own.
    let mut writer = MaskWriter::builder(registry)
        .commands(false)
        .detect(DetectorSet::empty())
        .build(Vec::new());
    for w in cuts.windows(2) {
        writer.write_all(&input[w[0]..w[1]]).unwrap();
        let want = common::decided_output(&input[..w[1]], &variants);
        assert_eq!(
            String::from_utf8_lossy(writer.get_ref()),
            String::from_utf8_lossy(&want),
            "after {} bytes",
            w[1]
        );
    }
    let out = writer.finish().unwrap();
    assert_eq!(out, common::mask(input, &variants));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn new_forms_any_split((secrets, min_length, input, cuts) in case()) {
        stream(&secrets, min_length, &input, &cuts);
    }

    #[test]
    fn new_forms_one_byte_writes((secrets, min_length, input, _cuts) in case()) {
        let cuts: Vec<usize> = (0..=input.len()).collect();
        stream(&secrets, min_length, &input, &cuts);
    }
}

/// Forty JWTs of one issuer and one job, alike but for `iat`, a short
/// `jti` and the signature: their forms crowd the gram filters (a shared
/// header, Base64 pieces equal but for a few characters), which must
/// index them past the header and search the rest in crowds. Every form
/// of four of them, and each form with one byte changed, against the
/// naive masker with every form of all forty.
#[test]
fn a_family_of_jwts_is_masked_in_every_form() {
    let mut rng = common::Lcg(0x2545_f491_4f6c_dd1d);
    let mut next = move |n: usize| rng.below(n);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let tokens: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let claims = format!(
                r#"{{"sub":"repo:octo-org/octo-repo","iat":17000000{:02},"jti":"{:08x}"}}"#,
                i,
                next(1 << 32)
            );
            let signature: String = (0..43).map(|_| alphabet[next(64)] as char).collect();
            format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims)).into_bytes()
        })
        .collect();
    let mut input = Vec::new();
    for &k in &[0, 7, 19, 39] {
        for (n, form) in common::naive_variants(&tokens[k], 4).iter().enumerate() {
            input.extend_from_slice(form);
            input.push(b'\n');
            let mut changed = form.clone();
            let at = (n * 7) % changed.len();
            changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
            input.extend_from_slice(&changed);
            input.push(b'\n');
        }
    }
    let cuts: Vec<usize> = (1..16).map(|k| k * input.len() / 16 + k).collect();
    let out = stream(&tokens, 4, &input, &cuts);
    for token in &tokens {
        let shown = out.windows(token.len()).any(|w| w == &token[..]);
        assert!(!shown, "a token shows whole");
    }
}
