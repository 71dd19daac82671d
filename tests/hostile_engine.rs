//! Hostile input through the library: the write patterns a slow or
//! chatty producer makes (one byte per write, a new secret before every
//! line), which the binary cannot be made to see reliably through a pipe.
//! Each prints its time; the bounds are generous and only catch
//! quadratic behaviour.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logmask::{Config, Encoding, MAX_LINE, MaskWriter, Registry};

fn timed<T>(name: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    let elapsed = start.elapsed();
    eprintln!("{name}: {:.3} s", elapsed.as_secs_f64());
    (value, elapsed)
}

/// Writes `input` one byte per `write` call.
fn one_byte_at_a_time(writer: &mut MaskWriter<Vec<u8>>, input: &[u8]) {
    for b in input.chunks(1) {
        writer.write_all(b).unwrap();
    }
}

/// Lines that may still become commands are held up to 64 KiB; feeding
/// such a line one byte at a time must not cost time quadratic in its
/// length: leading whitespace, an `::add-mask::` value, and a candidate
/// resume line while commands are stopped.
#[test]
fn held_lines_fed_one_byte_at_a_time() {
    let mut slow = Vec::new();
    for (name, input) in held_line_inputs() {
        // The best of three: a loaded machine only ever adds time, while a
        // quadratic rescan of 64 KiB costs seconds in every try.
        let elapsed = (0..3)
            .map(|_| {
                let registry = Arc::new(Registry::new());
                let mut writer = MaskWriter::new(registry, Vec::new());
                let (_, elapsed) = timed(name, || one_byte_at_a_time(&mut writer, &input));
                let out = writer.finish().unwrap();
                assert!(!out.is_empty());
                elapsed
            })
            .min()
            .unwrap();
        // 64 KiB at a few MiB/s at the very least.
        if elapsed > Duration::from_millis(500) {
            slow.push((name, elapsed));
        }
    }
    assert!(slow.is_empty(), "{slow:?}");
}

fn held_line_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let indent = {
        let mut v = vec![b' '; MAX_LINE - 10];
        v.extend_from_slice(b"x\n");
        v
    };
    let stopped = {
        let token = "t".repeat(MAX_LINE - 100);
        let mut v = format!("::stop-commands::{token}\n::{token}").into_bytes();
        v.extend_from_slice(b"x\n");
        v
    };
    vec![
        ("64 KiB of indentation, one byte per write", indent),
        ("64 KiB resume-line candidate, one byte per write", stopped),
    ]
}

/// The same inputs in one write each: the reference cost.
#[test]
fn held_lines_in_one_write() {
    for (name, input) in held_line_inputs() {
        let registry = Arc::new(Registry::new());
        let mut writer = MaskWriter::new(registry, Vec::new());
        let (_, elapsed) = timed(&format!("{name} (whole)"), || {
            writer.write_all(&input).unwrap()
        });
        writer.finish().unwrap();
        assert!(elapsed < Duration::from_secs(1));
    }
}

/// An `::add-mask::` value is consumed as it arrives, never held: one
/// byte per write of a 64 KiB value costs linear time.
#[test]
fn add_mask_value_fed_one_byte_at_a_time() {
    let mut input = b"::add-mask::".to_vec();
    input.extend(std::iter::repeat_n(b'v', MAX_LINE - 20));
    input.extend_from_slice(b"\nnext\n");
    let registry = Arc::new(Registry::new());
    let mut writer = MaskWriter::new(registry.clone(), Vec::new());
    let (_, elapsed) = timed("64 KiB ::add-mask:: value, one byte per write", || {
        one_byte_at_a_time(&mut writer, &input)
    });
    assert_eq!(writer.finish().unwrap(), b"next\n");
    assert_eq!(registry.secrets(), 1);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// A new secret before every line, 20,000 times, through `::add-mask::`
/// and through the registry directly: amortised, not quadratic (SPEC 1.6),
/// and every one of them masked on the next line.
#[test]
fn a_new_secret_before_every_line() {
    const N: usize = 20_000;
    let registry = Arc::new(Registry::new());
    let mut writer = MaskWriter::new(registry.clone(), Vec::new());
    let (_, elapsed) = timed(
        "20,000 ::add-mask:: lines, each followed by its use",
        || {
            for i in 0..N {
                writeln!(writer, "::add-mask::secret-{i:08}-value").unwrap();
                writeln!(
                    writer,
                    "use secret-{i:08}-value and secret-{:08}-value",
                    i / 2
                )
                .unwrap();
            }
        },
    );
    let out = String::from_utf8(writer.finish().unwrap()).unwrap();
    assert_eq!(out.lines().count(), N);
    assert!(
        out.lines().all(|l| l == "use *** and ***"),
        "{}",
        &out[..200]
    );
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");

    let registry = Arc::new(Registry::new());
    let mut writer = MaskWriter::builder(registry.clone())
        .commands(false)
        .build(Vec::new());
    let (_, elapsed) = timed("20,000 Registry::add calls between writes", || {
        for i in 0..N {
            registry
                .add(format!("direct-{i:08}-value").as_bytes())
                .unwrap();
            writeln!(writer, "x direct-{i:08}-value y").unwrap();
        }
    });
    let out = String::from_utf8(writer.finish().unwrap()).unwrap();
    assert!(out.lines().all(|l| l == "x *** y"));
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

fn raw_only() -> Config {
    Config {
        min_length: 4,
        encodings: [Encoding::Raw].into_iter().collect(),
    }
}

/// Minimal case of a startup that was slow: `aaaa` and 64 KiB of `a`.
/// Building the matcher took about 2.8 s (the automaton's build was
/// quadratic in the long secret); each alone takes milliseconds.
#[test]
fn a_long_periodic_secret_with_a_short_one_builds_fast() {
    let registry = Registry::with_config(raw_only());
    registry.add(b"aaaa").unwrap();
    registry.add(&vec![b'a'; 64 * 1024]).unwrap();
    let (_, elapsed) = timed("matcher for aaaa + a x 65536", || registry.matcher());
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

/// Minimal case of a memory blow-up: the matcher for `a` x 4..=100 and
/// `a` x 65536 held, for every state of the long secret, every shorter
/// secret that ends there (about 100 x 64 Ki entries). Its memory must be
/// in proportion to the variants' total length instead.
#[test]
fn nested_periodic_secrets_cost_memory_in_proportion_to_their_length() {
    let alone = Registry::with_config(raw_only());
    alone.add(&vec![b'a'; 64 * 1024]).unwrap();
    let baseline = alone.matcher().memory_usage();
    let nested = Registry::with_config(raw_only());
    for n in 4..=100 {
        nested.add(&vec![b'a'; n]).unwrap();
    }
    nested.add(&vec![b'a'; 64 * 1024]).unwrap();
    let (matcher, _) = timed("matcher for a x 4..=100 + a x 65536", || nested.matcher());
    let used = matcher.memory_usage();
    eprintln!("matcher memory: {baseline} bytes alone, {used} bytes with 97 nested secrets");
    assert!(used < 4 * baseline, "{used} bytes against {baseline}");
}

/// `Registry::with_config` takes a minimum length of 0 as 1; `expand`,
/// public too, does not, and returns an empty variant for a blank line.
#[test]
fn expand_with_min_length_zero_has_no_empty_variant() {
    let config = Config {
        min_length: 0,
        encodings: [Encoding::Raw].into_iter().collect(),
    };
    let variants = logmask::expand(b"ab\n\ncd", &config).unwrap();
    assert!(variants.iter().all(|v| !v.is_empty()), "{variants:?}");
}

// ---------------------------------------------------------------------------
// Long secrets: their own searcher, exact in every split

/// A small deterministic generator, so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }

    fn word(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

/// Printable bytes whose every default variant `common::naive_variants`
/// spells out: no `&<>` (Go's JSON form), `/` (PHP's), `!'()*` (the
/// JavaScript URL form), no leading or trailing space.
const PRINTABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \"%-._~";

/// Text made of the secrets' variants (whole, cut short at either end,
/// with one byte changed, back to back so that they overlap and touch)
/// and filler, `len` bytes or a little more.
fn text_of(rng: &mut Lcg, variants: &[Vec<u8>], len: usize) -> Vec<u8> {
    let mut text = Vec::new();
    while text.len() < len {
        let v = &variants[rng.below(variants.len())];
        match rng.below(6) {
            0 | 1 => text.extend_from_slice(v),
            2 => text.extend_from_slice(&v[rng.below(v.len())..]),
            3 => text.extend_from_slice(&v[..rng.below(v.len())]),
            4 => {
                let at = text.len() + rng.below(v.len());
                text.extend_from_slice(v);
                text[at] ^= 1;
            }
            _ => {
                let n = 1 + rng.below(30);
                text.extend(rng.word(b"xyz \n", n));
            }
        }
    }
    text
}

/// Masks `text` writing it in `pieces` (each a length; the rest whole).
fn mask_in_pieces(
    registry: &Arc<Registry>,
    text: &[u8],
    pieces: &mut dyn FnMut() -> usize,
) -> Vec<u8> {
    let mut writer = MaskWriter::builder(registry.clone())
        .commands(false)
        .build(Vec::new());
    let mut at = 0;
    while at < text.len() {
        let n = pieces().clamp(1, text.len() - at);
        writer.write_all(&text[at..at + n]).unwrap();
        at += n;
    }
    writer.finish().unwrap()
}

/// Secrets of 5,000 to 65,000 bytes in every default encoding (their
/// variants reach 200 KB), random, periodic, and nested in each other,
/// against the naive oracle: whole, in random pieces from one byte to
/// beyond the 256 KiB pieces the masker searches in place, and for the
/// smaller cases one byte at a time.
#[test]
fn long_secrets_agree_with_the_naive_oracle_in_every_split() {
    let mut rng = Lcg(0x1096);
    let random_5k = rng.word(PRINTABLE, 5_000);
    let random_65k = rng.word(PRINTABLE, 65_000);
    let unit = rng.word(b"abcdefg", 7);
    let cases: Vec<(&str, Vec<Vec<u8>>, usize, bool)> = vec![
        (
            "one random 5,000-byte secret",
            vec![random_5k.clone()],
            40_000,
            true,
        ),
        (
            "nested: a secret, its halves, and a longer one around it",
            vec![
                random_5k.clone(),
                random_5k[..4_800].to_vec(),
                random_5k[200..].to_vec(),
                [&b"Q"[..], &random_5k, b"Q"].concat(),
            ],
            40_000,
            true,
        ),
        (
            "periodic: (ab) x 3,000 and a 7-byte unit x 1,000",
            vec![b"ab".repeat(3_000), unit.repeat(1_000)],
            60_000,
            true,
        ),
        (
            "a run of one letter with a different last byte",
            vec![[vec![b'a'; 6_000], vec![b'b']].concat(), vec![b'a'; 5_000]],
            60_000,
            true,
        ),
        (
            "65,000 random bytes beside 5,000",
            vec![random_65k.clone(), random_5k.clone()],
            700_000,
            false,
        ),
    ];
    for (name, secrets, len, byte_by_byte) in &cases {
        let registry = Arc::new(Registry::new());
        let mut variants = Vec::new();
        for s in secrets {
            registry.add(s).unwrap();
            variants.extend(common::naive_variants(s, 4));
        }
        assert!(variants.iter().any(|v| v.len() > 4096), "{name}");
        let text = text_of(&mut rng, &variants, *len);
        let want = common::mask(&text, &variants);
        let (got, elapsed) = timed(&format!("{name}: whole"), || {
            mask_in_pieces(&registry, &text, &mut || usize::MAX)
        });
        assert!(got == want, "{name}: whole");
        assert!(elapsed < Duration::from_secs(10), "{name}: {elapsed:?}");
        for max in [64, 5_000, 300_000] {
            let mut split = Lcg(max as u64);
            let got = mask_in_pieces(&registry, &text, &mut || 1 + split.below(max));
            assert!(got == want, "{name}: random pieces up to {max}");
        }
        if *byte_by_byte {
            let (got, elapsed) = timed(&format!("{name}: one byte at a time"), || {
                mask_in_pieces(&registry, &text, &mut || 1)
            });
            assert!(got == want, "{name}: one byte at a time");
            assert!(elapsed < Duration::from_secs(20), "{name}: {elapsed:?}");
        }
    }
}

/// A new matcher (another secret registered) while a long secret's
/// occurrence is half written: the held bytes are searched again with it
/// and the long secret is still found (SPEC 1.5).
#[test]
fn a_new_matcher_mid_occurrence_of_a_long_secret() {
    let mut rng = Lcg(0x1097);
    let secret = rng.word(PRINTABLE, 9_000);
    let registry = Arc::new(Registry::new());
    registry.add(&secret).unwrap();
    let mut writer = MaskWriter::builder(registry.clone())
        .commands(false)
        .build(Vec::new());
    writer.write_all(b"before\n").unwrap();
    writer.write_all(&secret[..4_000]).unwrap();
    assert_eq!(
        writer.get_ref().as_slice(),
        b"before\n",
        "the prefix is held"
    );
    registry.add(b"other-secret-value").unwrap();
    writer.write_all(&secret[4_000..]).unwrap();
    writer.write_all(b" other-secret-value after\n").unwrap();
    let out = writer.finish().unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "before\n*** *** after\n");
}

/// `xxd -p` of many long hex values (SPEC 1.3 `hex`: pieces of 60
/// digits): every byte of a hex digit's hex is `3x` or `6x`, so 8 digits
/// carry 16 bits and the pieces crowd every 8-byte gram. They must still
/// be searched within a few bytes of memory per variant byte (an
/// automaton takes about 20), and found exactly in every split.
#[test]
fn xxd_pieces_of_long_hex_values_are_found_in_bounded_memory() {
    let mut rng = Lcg(0x1098);
    let config = Config {
        min_length: 4,
        encodings: [Encoding::Hex].into_iter().collect(),
    };
    let registry = Arc::new(Registry::with_config(config));
    let hex = |bytes: &[u8]| -> Vec<u8> {
        bytes
            .iter()
            .flat_map(|b| format!("{b:02x}").into_bytes())
            .collect()
    };
    let mut variants: Vec<Vec<u8>> = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for _ in 0..30 {
        let value = rng.word(b"0123456789abcdef", 60_000);
        registry.add(&value).unwrap();
        // The value's hex holds only digits: its upper-case form is the same.
        let whole = hex(&value);
        lines.extend(whole.chunks(60).map(|c| c.to_vec()));
        variants.push(whole);
    }
    variants.extend(lines.iter().cloned());
    let matcher = registry.matcher();
    let variant_bytes: usize = variants.iter().map(|v| v.len()).sum();
    let used = matcher.memory_usage();
    eprintln!("matcher memory: {used} bytes for {variant_bytes} variant bytes");
    assert!(
        used < 8 * variant_bytes,
        "{used} bytes for {variant_bytes} variant bytes"
    );
    // Lines of `xxd -p` output: pieces whole, cut short and changed.
    let mut text = Vec::new();
    for _ in 0..120 {
        let line = &lines[rng.below(lines.len())];
        match rng.below(3) {
            0 => text.extend_from_slice(line),
            1 => text.extend_from_slice(&line[..rng.below(line.len())]),
            _ => {
                let at = text.len() + rng.below(line.len());
                text.extend_from_slice(line);
                text[at] ^= 1;
            }
        }
        text.push(b'\n');
    }
    let want = common::mask(&text, &variants);
    assert!(want != text, "the text holds whole pieces");
    assert!(
        mask_in_pieces(&registry, &text, &mut || usize::MAX) == want,
        "whole"
    );
    let mut split = Lcg(0x1099);
    let got = mask_in_pieces(&registry, &text, &mut || 1 + split.below(200));
    assert!(got == want, "random pieces");
    assert!(
        mask_in_pieces(&registry, &text, &mut || 1) == want,
        "one byte at a time"
    );
}
