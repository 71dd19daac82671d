//! Table tests of the engine against SPEC sections 1, 2 and 6.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use logmask::{Config, EncodingSet, MaskWriter, Refusal, Registry, mask};

fn registry(secrets: &[&str]) -> Arc<Registry> {
    let registry = Arc::new(Registry::new());
    for s in secrets {
        registry.add(s.as_bytes()).expect("accepted");
    }
    registry
}

fn masked(secrets: &[&str], input: &str) -> String {
    String::from_utf8(mask(&registry(secrets), input.as_bytes())).unwrap()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    v
}

#[test]
fn spec2_examples() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["abcd", "cdef"], "xx abcdef yy", "xx *** yy"),
        (&["abcd", "cdef"], "abcdabcd", "***"),
        (&["abcd", "cdef"], "abc def", "abc def"),
        (&["hunter22"], "token=hunter22\n", "token=***\n"),
        // Invalid UTF-8, NUL, CR and ANSI escapes pass through untouched.
        (
            &["hunter22"],
            "\u{1b}[31mhunter22\u{1b}[0m\r\0",
            "\u{1b}[31m***\u{1b}[0m\r\0",
        ),
    ];
    for (secrets, input, want) in cases {
        assert_eq!(masked(secrets, input), *want, "{secrets:?} on {input:?}");
    }
    let reg = registry(&["hunter22"]);
    assert_eq!(
        mask(&reg, b"\xff\xfehunter22\xff"),
        b"\xff\xfe***\xff".to_vec()
    );
}

#[test]
fn expansion_matches_naive_variants() {
    let values: &[(&str, usize)] = &[
        ("secret123", 4),
        ("a b/c?d", 4),
        ("p%ss w0rd", 4),
        ("x\"y\\z'<>&", 4),
        ("abcd", 4),
        ("ab", 1),
        ("abc", 2),
        ("~-._", 4),
    ];
    for &(value, min_length) in values {
        let config = Config {
            min_length,
            ..Config::default()
        };
        let got = sorted(logmask::expand(value.as_bytes(), &config).unwrap());
        let want = common::naive_variants(value.as_bytes(), min_length);
        assert_eq!(got, want, "variants of {value:?} (min {min_length})");
    }
}

#[test]
fn spec1_base64_example() {
    let got = logmask::expand(b"secret123", &Config::default()).unwrap();
    for phase in ["c2VjcmV0MTIz", "NlY3JldDEyM", "zZWNyZXQxMj"] {
        assert!(got.contains(&phase.as_bytes().to_vec()), "missing {phase}");
    }
}

#[test]
fn base64_blobs_at_every_alignment() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let secret = "s3cr3t?value>~";
    let reg = registry(&[secret]);
    for (engine, name) in [(&STANDARD, "standard"), (&URL_SAFE, "url-safe")] {
        for prefix in ["", "x", "xy", "xyz"] {
            for suffix in ["", "\n", "!", "\nmore"] {
                let plain = format!("{prefix}{secret}{suffix}");
                let blob = engine.encode(plain.as_bytes());
                let out = String::from_utf8(mask(&reg, blob.as_bytes())).unwrap();
                assert!(out.contains("***"), "{name} {prefix:?}+{suffix:?}: {out}");
                // What is left must not decode to anything holding the secret.
                for part in out.split("***") {
                    assert!(part.len() < 16, "{name} {prefix:?}+{suffix:?}: {out}");
                }
            }
        }
    }
}

#[test]
fn url_forms_in_both_cases() {
    let secret = "p@ss word/1";
    let cases = [
        "u=p%40ss%20word%2F1&",
        "u=p%40ss%20word%2f1&",
        "u=p%40ss+word%2F1&",
        "u=p%40ss+word%2f1&",
    ];
    for input in cases {
        assert_eq!(masked(&[secret], input), "u=***&", "{input}");
    }
}

#[test]
fn spec1_lines_and_whole_values() {
    let cases: &[(&str, &str, &str)] = &[
        // Each line masked on its own; short lines mask nothing.
        (
            "-----BEGIN KEY-----\nMIIabc123\nxy\n-----END KEY-----\n",
            "a MIIabc123 xy b",
            "a *** xy b",
        ),
        // Lines are trimmed of spaces and tabs.
        ("  padded-secret \t", "[padded-secret]", "[***]"),
        // The multi-line whole, as a command's data and inside JSON.
        ("line-one\nline-two", "msg=line-one%0Aline-two", "msg=***"),
        (
            "line-one\nline-two",
            "{\"k\":\"line-one\\nline-two\"}",
            "{\"k\":\"***\"}",
        ),
        // CR also splits lines.
        ("first-part\rsecond-part", "second-part", "***"),
        // A whole value of short lines still masks its encoded whole.
        ("ab\ncd\nef", "x=ab%0Acd%0Aef", "x=***"),
        ("ab\ncd\nef", "ab cd", "ab cd"),
    ];
    for (secret, input, want) in cases {
        let reg = Arc::new(Registry::new());
        reg.add(secret.as_bytes()).unwrap();
        let out = String::from_utf8(mask(&reg, input.as_bytes())).unwrap();
        assert_eq!(out, *want, "secret {secret:?} on {input:?}");
    }
}

#[test]
fn refusals_name_no_value() {
    let cases: &[(&[u8], usize, Refusal)] = &[
        (b"", 4, Refusal::Blank),
        (b" \t\r\n ", 4, Refusal::Blank),
        (b"abc", 4, Refusal::TooShort { min_length: 4 }),
        (b"ab\ncd", 6, Refusal::TooShort { min_length: 6 }),
        (&[b'x'; 64 * 1024 + 1], 4, Refusal::TooLong),
    ];
    for (value, min_length, want) in cases {
        let reg = Registry::with_config(Config {
            min_length: *min_length,
            ..Config::default()
        });
        let err = reg.add(value).unwrap_err();
        assert_eq!(err, *want);
        assert_eq!(reg.variants(), 0);
        let text = format!("{err} {err:?} {reg:?}");
        let trimmed = String::from_utf8_lossy(value).trim().to_string();
        assert!(trimmed.is_empty() || !text.contains(&trimmed), "{text}");
    }
    // Exactly 64 KiB is accepted, surrounding whitespace not counted.
    let mut at_limit = vec![b' '; 3];
    at_limit.extend(std::iter::repeat_n(b'k', 64 * 1024));
    at_limit.push(b'\n');
    assert!(Registry::new().add(&at_limit).is_ok());
}

#[test]
fn debug_output_holds_no_value() {
    let secret = "Sup3rS3cretValue";
    let reg = registry(&[secret]);
    let mut writer = MaskWriter::new(reg.clone(), Vec::new());
    writer.write_all(b"partial Sup3rS3cr").unwrap();
    let texts = [
        format!("{reg:?}"),
        format!("{:?}", reg.matcher()),
        format!("{writer:?}"),
        format!("{:?}", writer.stats()),
    ];
    for text in texts {
        assert!(!text.contains("Sup3r"), "{text}");
        assert!(!text.contains("U3VwM3"), "{text}"); // its Base64
    }
}

#[test]
fn json_values_register_every_string() {
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "pj",
        "private_key_id": "0123456789abcdef0123",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n",
        "client_email": "ci@demo.iam.example.com",
        "nested": "{\"inner_token\": \"inner-token-value\"}"
    });
    let file = serde_json::to_string_pretty(&key).unwrap();
    let reg = Arc::new(Registry::new());
    reg.add(file.as_bytes()).unwrap();
    let cases: &[(&str, &str)] = &[
        // The PEM lines, each on its own, as a tool would print them.
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", "***\n"),
        ("-----BEGIN PRIVATE KEY-----\n", "***\n"),
        // The whole key inside another JSON document.
        (
            "{\"pk\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n\"}",
            // The value is trimmed, so its final line break stays visible.
            "{\"pk\": \"***\\n\"}",
        ),
        ("id=0123456789abcdef0123", "id=***"),
        ("mail ci@demo.iam.example.com.", "mail ***."),
        // A JSON string holding JSON is opened too.
        ("tok inner-token-value", "tok ***"),
        // Keys are not secrets; too-short strings are skipped silently.
        ("project_id pj", "project_id pj"),
    ];
    for (input, want) in cases {
        let out = String::from_utf8(mask(&reg, input.as_bytes())).unwrap();
        assert_eq!(out, *want, "on {input:?}");
    }
}

/// A repeated key keeps every value (SPEC 1.4: every string value), at any
/// depth and inside a string that holds JSON; a document with text after it
/// or nested past serde_json's limit is plain text.
#[test]
fn json_values_with_repeated_keys_register_every_value() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"k":"first-dup-v","k":"second-dupv","o":{"x":"nested-one1","x":"nested-two2"}}"#,
            "first-dup-v second-dupv nested-one1 nested-two2",
            "*** *** *** ***",
        ),
        (
            r#"[{"password":"older-pass1"},{"password":"newer-pass2","password":"newest-pass"}]"#,
            "older-pass1 newer-pass2 newest-pass",
            "*** *** ***",
        ),
        (
            r#"{"s":"{\"t\":\"inner-one1\",\"t\":\"inner-two2\"}"}"#,
            "inner-one1 inner-two2",
            "*** ***",
        ),
        (r#"{"k":"after-text1"} x"#, "after-text1", "after-text1"),
    ];
    for (value, input, want) in cases {
        let reg = Arc::new(Registry::new());
        reg.add(value.as_bytes()).unwrap();
        let out = String::from_utf8(mask(&reg, input.as_bytes())).unwrap();
        assert_eq!(out, *want, "value {value}");
    }
    let deep = format!("{}\"deep-value1\"{}", "[".repeat(200), "]".repeat(200));
    let reg = Arc::new(Registry::new());
    reg.add(deep.as_bytes()).unwrap();
    assert_eq!(mask(&reg, b"deep-value1"), b"deep-value1");
}

#[test]
fn encodings_subset_and_raw_off() {
    let mut encodings = EncodingSet::empty();
    encodings.insert(logmask::Encoding::Base64);
    let reg = Arc::new(Registry::with_config(Config {
        min_length: 4,
        encodings,
    }));
    reg.add(b"secret123").unwrap();
    assert_eq!(
        mask(&reg, b"secret123 c2VjcmV0MTIz"),
        b"secret123 ***".to_vec()
    );
}

#[test]
fn min_length_floors() {
    // Raw variants need the minimum; every other one max(minimum, 4).
    let config = Config {
        min_length: 2,
        ..Config::default()
    };
    let got = sorted(logmask::expand(b"ab", &config).unwrap());
    // Hex doubles the length: `6162` reaches max(2, 4).
    assert_eq!(got, vec![b"6162".to_vec(), b"ab".to_vec()]);
    let reg = Arc::new(Registry::with_config(config));
    reg.add(b"ab").unwrap();
    assert_eq!(mask(&reg, b"cab YWI"), b"c*** YWI".to_vec());
}

#[test]
fn replacement_is_verbatim_and_may_be_empty() {
    let reg = registry(&["hunter22"]);
    let cases: &[(&[u8], &str)] = &[
        (b"", "a  b"),
        (b"[MASKED]", "a [MASKED] b"),
        (b"hunter22", "a hunter22 b"),
    ];
    for (replacement, want) in cases {
        let out = MaskWriter::builder(reg.clone())
            .replacement(replacement.to_vec())
            .unwrap()
            .commands(false)
            .mask(b"a hunter22 b");
        assert_eq!(String::from_utf8(out).unwrap(), *want);
    }
    assert!(
        MaskWriter::builder(reg)
            .replacement(b"a\nb".to_vec())
            .is_err()
    );
}

#[test]
fn new_secret_applies_to_held_bytes() {
    let reg = registry(&["unrelated-secret"]);
    let mut writer = MaskWriter::builder(reg.clone())
        .commands(false)
        .build(Vec::new());
    // "unrel" may begin a variant, so it is held; registering "unrelax"
    // mid-stream still catches it.
    writer.write_all(b"see unrel").unwrap();
    assert_eq!(writer.get_ref().as_slice(), b"see ");
    reg.add(b"unrelax").unwrap();
    writer.write_all(b"ax!").unwrap();
    assert_eq!(writer.finish().unwrap(), b"see ***!".to_vec());
}

#[test]
fn many_single_additions_between_lines_are_cheap() {
    let reg = Arc::new(Registry::new());
    for i in 0..10_000 {
        reg.add(format!("base-secret-{i:08}-padding").as_bytes())
            .unwrap();
    }
    let mut writer = MaskWriter::new(reg.clone(), std::io::sink());
    writer.write_all(b"warm up\n").unwrap();
    let started = Instant::now();
    for i in 0..1_000 {
        let line =
            format!("::add-mask::late-secret-{i:06}\nlog line {i} with late-secret-{i:06} in it\n");
        writer.write_all(line.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    let elapsed = started.elapsed();
    eprintln!("1000 additions on top of 10000 secrets: {elapsed:?}");
    assert_eq!(reg.secrets(), 11_000);
    // The real figure is in the benches; this bound only catches a
    // rebuild-per-addition regression (tens of seconds).
    assert!(elapsed.as_secs_f64() < 5.0, "{elapsed:?}");
}

#[test]
fn adding_all_at_once_equals_adding_one_by_one() {
    // Enough values for several expanding threads, with refusals and
    // repeats among them: results, counts and masking must not change.
    let mut values: Vec<Vec<u8>> = Vec::new();
    for i in 0..3_000 {
        values.push(match i % 7 {
            0 => b"   ".to_vec(),
            1 => b"ab".to_vec(),
            2 => format!("shared-{}", i % 50).into_bytes(),
            3 => vec![b'x'; 70_000],
            _ => format!("tok{i:05}/+=&\"%").into_bytes(),
        });
    }
    let values: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
    let one_by_one = Registry::new();
    let want: Vec<_> = values.iter().map(|v| one_by_one.add(v)).collect();
    let all_at_once = Registry::new();
    assert_eq!(all_at_once.add_all(&values), want);
    assert_eq!(all_at_once.variants(), one_by_one.variants());
    assert_eq!(all_at_once.secrets(), one_by_one.secrets());
    let input = b"tok00004/+=&\"% then shared-3 and dG9rMDI5OTkvKz0mIiU then tok02998";
    assert_eq!(
        mask(&Arc::new(all_at_once), input),
        mask(&Arc::new(one_by_one), input)
    );
}

/// The naive answer for a stream of `::add-mask::` lines and text lines:
/// each text line masked with the values registered before it (no variant
/// holds a line break, so masking line by line is masking the stream).
fn naive_in_band(input: &str) -> Vec<u8> {
    let mut variants: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    for line in input.split_inclusive('\n') {
        match line.strip_prefix("::add-mask::") {
            Some(value) => variants.extend(common::naive_variants(value.trim().as_bytes(), 4)),
            None => out.extend(common::mask(line.as_bytes(), &variants)),
        }
    }
    out
}

fn batches(debug: &str) -> usize {
    let at = debug.find("batches: ").expect("batch count") + "batches: ".len();
    let digits: String = debug[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// A burst of in-band registrations leaves the matcher in many batches;
/// the long tail after it pays for compacting them into one. Output must
/// be the naive one however the input is split (the swap happens at a
/// different write each time), and the registry must end with one batch.
#[test]
fn compaction_after_a_burst_keeps_output_and_leaves_one_batch() {
    let secret = |i: usize| format!("burst-{i:04}-value");
    let mut burst = String::new();
    for i in 0..199 {
        burst += &format!("::add-mask::{}\n", secret(i));
        // The new value and an older one, raw and in Base64.
        let older = common::naive_variants(secret(i / 2).as_bytes(), 4);
        let b64 = older.iter().find(|v| v.starts_with(b"YnVyc3")).unwrap();
        burst += &format!("{i} {} and {}\n", secret(i), String::from_utf8_lossy(b64));
    }
    let mut input = burst.clone();
    for j in 0..20_000 {
        input += &format!("tail line {j:05} holds {} once\n", secret(j * 7 % 199));
    }
    let want = naive_in_band(&input);
    let bytes = input.as_bytes();
    let splits: [(&str, Vec<usize>); 5] = [
        ("burst, then tail", vec![burst.len()]),
        ("one byte", (1..bytes.len()).collect()),
        ("7 bytes", (7..bytes.len()).step_by(7).collect()),
        (
            "lines",
            (0..bytes.len()).filter(|&i| bytes[i] == b'\n').collect(),
        ),
        ("64 KiB", (65_536..bytes.len()).step_by(65_536).collect()),
    ];
    for (name, cuts) in splits {
        let reg = Arc::new(Registry::new());
        let mut writer = MaskWriter::new(reg.clone(), Vec::new());
        let mut after_burst = None;
        let mut cuts = cuts;
        cuts.push(burst.len());
        common::feed_at_cuts(&mut writer, bytes, &cuts, |_, end| {
            if after_burst.is_none() && end >= burst.len() {
                after_burst = Some(batches(&format!("{reg:?}")));
            }
        });
        let got = writer.finish().unwrap();
        assert!(got == want, "{name}: output differs from the naive one");
        assert!(after_burst.unwrap() > 1, "{name}: the burst left one batch");
        assert_eq!(batches(&format!("{reg:?}")), 1, "{name}: not compacted");
        assert_eq!(batches(&format!("{:?}", reg.matcher())), 1, "{name}");
    }
}

/// Compaction on a shared registry: a second stream that was created
/// before the burst picks up the compacted matcher and masks the same; a
/// fork keeps its own batches until its own stream compacts them.
#[test]
fn compaction_is_shared_by_streams_and_not_by_forks() {
    let reg = Arc::new(Registry::new());
    let mut burst = String::new();
    for i in 0..199 {
        burst += &format!("::add-mask::shared-{i:04}-token\nuse shared-{i:04}-token\n");
    }
    let mut tail = String::new();
    for j in 0..20_000 {
        tail += &format!("line {j:05} shared-{:04}-token\n", j % 199);
    }
    let want_tail = naive_in_band(&(burst.clone() + &tail))[naive_in_band(&burst).len()..].to_vec();
    let mut first = MaskWriter::new(reg.clone(), Vec::new());
    let mut second = MaskWriter::new(reg.clone(), Vec::new());
    first.write_all(burst.as_bytes()).unwrap();
    let fork = Arc::new(reg.fork());
    let forked_batches = batches(&format!("{fork:?}"));
    assert!(forked_batches > 1, "{forked_batches}");
    // The second stream's tail compacts the registry; the first stream's
    // old matcher is replaced at its next write.
    for line in tail.split_inclusive('\n') {
        second.write_all(line.as_bytes()).unwrap();
    }
    assert_eq!(batches(&format!("{reg:?}")), 1);
    assert_eq!(batches(&format!("{fork:?}")), forked_batches);
    first.write_all(tail.as_bytes()).unwrap();
    let first = first.finish().unwrap();
    assert!(first == naive_in_band(&(burst.clone() + &tail)));
    assert!(second.finish().unwrap() == want_tail);
    let mut third = MaskWriter::new(fork.clone(), Vec::new());
    third.write_all(tail.as_bytes()).unwrap();
    assert!(third.finish().unwrap() == want_tail);
    assert_eq!(batches(&format!("{fork:?}")), 1);
}

/// Start-up's large build gives two batches, and a stream that goes on
/// long enough has them compacted on a thread of its own: what it writes
/// is the same before, while and after the compaction comes in. 3,000
/// secrets with every encoding (about 21,000 variants); each line holds
/// a variant (from the naive expander) or a word that is none, among
/// bytes no variant holds, so the expected output is the input with each
/// variant replaced. Fed in random chunks, it must be right all through.
#[test]
fn a_split_build_compacted_in_the_background_masks_the_same() {
    let mut rng = common::Lcg(0x5eed_0bad_cafe);
    let mut next = move |below: usize| rng.below(below);
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let word = |len: usize, next: &mut dyn FnMut(usize) -> usize| -> Vec<u8> {
        (0..len).map(|_| alnum[next(alnum.len())]).collect()
    };
    let secrets: Vec<Vec<u8>> = (0..3000).map(|_| word(24, &mut next)).collect();
    let variants: Vec<Vec<Vec<u8>>> = secrets
        .iter()
        .map(|s| common::naive_variants(s, logmask::DEFAULT_MIN_LENGTH))
        .collect();
    let registry = Arc::new(Registry::new());
    let refs: Vec<&[u8]> = secrets.iter().map(|s| &s[..]).collect();
    registry.add_all(&refs);
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    while input.len() < 12 << 20 {
        input.extend_from_slice(b"- ");
        expected.extend_from_slice(b"- ");
        if next(3) == 0 {
            let forms = &variants[next(variants.len())];
            input.extend_from_slice(&forms[next(forms.len())]);
            expected.extend_from_slice(b"***");
        } else {
            let other = word(24 + next(25), &mut next);
            input.extend_from_slice(&other);
            expected.extend_from_slice(&other);
        }
        input.extend_from_slice(b" .\n");
        expected.extend_from_slice(b" .\n");
    }
    let mut writer = logmask::WriterBuilder::new(registry.clone())
        .detect(logmask::DetectorSet::empty())
        .build(Vec::new());
    let generation = registry.generation();
    let mut at = 0;
    while at < input.len() {
        let len = (1 + next(64 << 10)).min(input.len() - at);
        writer.write_all(&input[at..at + len]).unwrap();
        at += len;
        // Half way, the compaction must have been asked for: wait for it,
        // so that the rest is masked with the compacted batch.
        if at >= input.len() / 2 {
            let deadline = Instant::now() + std::time::Duration::from_secs(20);
            while registry.generation() == generation {
                assert!(Instant::now() < deadline, "no compaction came");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
    let out = writer.finish().unwrap();
    assert!(out == expected, "output differs from the expected one");
}
