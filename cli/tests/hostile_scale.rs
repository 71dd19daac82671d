//! Volume, memory and cost through the real binary: half a GiB without a
//! newline, 100,000 secrets, a 1 MiB command line, and input built to be
//! slow. Input is generated on the fly and output counted as it streams,
//! so that this process stays small and each child's peak RSS (`wait4`)
//! is its own. Times and RSS are printed:
//! `cargo test --test hostile_scale -- --nocapture`.

mod support;

use std::ffi::OsStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use support::*;

/// The measurement itself: a run with nothing to do is small, so the RSS
/// reported below is the child's, not this process's.
#[test]
fn rss_measurement_is_the_childs_own() {
    let run = run_streamed(&["-s", "hunter22"], |_| false, vec![]);
    report("empty input", &run.finished, 0);
    assert_eq!(run.finished.code, Some(0));
    assert!(run.finished.max_rss_kib > 0 && run.finished.max_rss_kib < 16 * 1024);
}

/// 512 MiB without a newline, 1,000 secrets registered, a few planted
/// (raw and Base64, some across 1 MiB write boundaries): the output is the
/// input with exactly those replaced, and memory stays under 64 MiB.
#[test]
fn half_a_gib_without_newline_with_1000_secrets_in_constant_memory() {
    const TOTAL: usize = 512 * MIB;
    let mut rng = Rng(0x5eed_0001);
    let secrets: Vec<Vec<u8>> = (0..1000).map(|_| rng.word(UPPER, 20)).collect();
    let dir = TempDir::new("volume");
    let file = dir.secrets_file(&secrets);

    // What is planted where: (offset, bytes, length of the masked part).
    let mut planted: Vec<(usize, Vec<u8>, usize)> = Vec::new();
    for k in 0..8 {
        // Around each 64 MiB boundary, so that some straddle writes.
        let at = (k + 1) * 64 * MIB - 7 - k * 3;
        planted.push((at, secrets[k * 111].clone(), 20));
    }
    for k in 0..2 {
        // Base64 at alignment 0: 20 bytes give 26 characters fully
        // determined by the secret, then one mixed character and `=`.
        let at = 100 * MIB + k * 200 * MIB + 12_345;
        let blob = STANDARD.encode(&secrets[500 + k]).into_bytes();
        assert_eq!(blob.len(), 28);
        planted.push((at, blob, 26));
    }
    let masked: usize = planted.iter().map(|p| p.2).sum();
    let want_len = TOTAL - masked + 3 * planted.len();

    // Lower case and spaces: no secret, no variant of one, no `*`.
    let filler = b"the quick brown fox jumps over the lazy dog; ";
    let mut pattern = Vec::with_capacity(MIB + filler.len());
    while pattern.len() < MIB + filler.len() {
        pattern.extend_from_slice(filler);
    }
    let plan = planted.clone();
    let mut pos = 0;
    let produce = move |block: &mut Vec<u8>| {
        let start = pos % filler.len();
        block.extend_from_slice(&pattern[start..start + MIB]);
        for (at, bytes, _) in &plan {
            for (i, &b) in bytes.iter().enumerate() {
                if (pos..pos + MIB).contains(&(at + i)) {
                    block[at + i - pos] = b;
                }
            }
        }
        pos += MIB;
        pos < TOTAL
    };
    let mut needles = vec![b"***".to_vec()];
    needles.extend(planted.iter().take(8).map(|p| p.1.clone()));
    let args = ["-f".as_ref(), file.as_os_str()];
    let run = run_streamed(&args, produce, needles);
    report("512 MiB, no newline, 1000 secrets", &run.finished, TOTAL);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.finished.code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(run.stdout.bytes, want_len as u64, "output length");
    assert_eq!(run.stdout.counts[0], planted.len() as u64, "replacements");
    for (i, count) in run.stdout.counts[1..].iter().enumerate() {
        assert_eq!(*count, 0, "planted secret {i} leaked");
    }
    assert!(
        run.finished.max_rss_kib < 64 * 1024,
        "peak RSS {} KiB is over 64 MiB",
        run.finished.max_rss_kib
    );
}

/// 100,000 secrets from one file: logmask starts, masks the first, a middle
/// and the last one, in raw and encoded forms, and reports its memory.
#[test]
fn hundred_thousand_secrets_from_a_file() {
    let mut rng = Rng(0x5eed_0002);
    let secrets: Vec<Vec<u8>> = (0..100_000)
        .map(|i| {
            let mut s = format!("tok{i:06}-").into_bytes();
            s.extend(rng.word(ALNUM, 16));
            s
        })
        .collect();
    let dir = TempDir::new("many");
    let file = dir.secrets_file(&secrets);
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in [0, 49_999, 99_999] {
        let s = String::from_utf8(secrets[i].clone()).unwrap();
        input.extend(format!("secret {i}: {s} json \"{s}\" end\n").bytes());
        want.push(format!("secret {i}: *** json \"***\" end"));
        // Base64 of "user:SECRET": the secret's characters are masked.
        let blob = STANDARD.encode(format!("user:{s}"));
        input.extend(format!("auth {blob}\n").bytes());
    }
    input.extend_from_slice(b"tok000000-not-a-secret stays\n");
    let run = support::run(&["-f".as_ref(), file.as_os_str()], &input);
    report(
        "100,000 secrets (start and a few lines)",
        &run.finished,
        input.len(),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stderr(), "");
    for i in [0, 49_999, 99_999] {
        run.leaks_nothing(&secrets[i]);
    }
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    for k in 0..3 {
        assert_eq!(lines[2 * k], want[k]);
        // The blob keeps only what does not come from the secret alone.
        let blob = lines[2 * k + 1];
        assert!(
            blob.starts_with("auth dXNlcjp") && blob.contains("***"),
            "{blob}"
        );
    }
    assert_eq!(lines[6], "tok000000-not-a-secret stays");
    assert!(run.finished.elapsed < SLOW, "{:?}", run.finished.elapsed);
}

/// A 1 MiB `::add-mask::` line is consumed as it arrives, refused with one
/// warning that does not show it, and costs no memory.
#[test]
fn a_1_mib_add_mask_line() {
    let mut rng = Rng(0x5eed_0004);
    let value = rng.word(ALNUM, MIB);
    let mut input = b"before\n::add-mask::".to_vec();
    input.extend_from_slice(&value);
    input.extend_from_slice(b"\nafter ");
    input.extend_from_slice(&value[..100]);
    input.extend_from_slice(b"\n");
    let run = run::<&str>(&[], &input);
    report("1 MiB ::add-mask:: line", &run.finished, input.len());
    assert_eq!(run.code(), 0);
    let mut want = b"before\nafter ".to_vec();
    want.extend_from_slice(&value[..100]);
    want.extend_from_slice(b"\n");
    assert!(
        run.stdout == want,
        "{:?}",
        &run.stdout()[..200.min(run.stdout.len())]
    );
    let stderr = run.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("logmask: warning: stdin:2: ") && stderr.contains("64 KiB"),
        "{stderr}"
    );
    assert!(memchr::memmem::find(&run.stderr, &value[..16]).is_none());
    assert!(run.finished.max_rss_kib < 64 * 1024);
}

/// A hostile step prints a private-key header and then 64 MiB of one
/// letter on the same line (the escaped form), or a Base64 PEM run as
/// long: masked whole (SPEC 7) as it arrives, in constant memory and
/// linear time. The held run used to be rescanned on every read past
/// 64 KiB: 50 MB took 12 s and 100 MiB of memory.
#[test]
fn a_64_mib_key_run_on_one_line_in_constant_memory() {
    const TOTAL: usize = 64 * MIB;
    let heads: [&[u8]; 2] = [
        br#"{"private_key": "-----BEGIN PRIVATE KEY-----\n"#,
        b"tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t",
    ];
    for head in heads {
        let mut first = Some(head.to_vec());
        let mut letters = one_letter(TOTAL, None);
        let produce = move |block: &mut Vec<u8>| match first.take() {
            Some(head) => {
                *block = head;
                true
            }
            None => letters(block),
        };
        let needles = vec![b"***".to_vec(), b"aaaa".to_vec()];
        let run = run_streamed(&["--no-default-env"], produce, needles);
        report(
            &format!(
                "64 MiB key run after {:?}",
                String::from_utf8_lossy(&head[..10])
            ),
            &run.finished,
            TOTAL,
        );
        assert_eq!(run.finished.code, Some(0));
        assert_eq!(run.stdout.counts, [1, 0], "the run is one masked run");
        assert!(run.finished.elapsed < SLOW, "{:?}", run.finished.elapsed);
        assert!(
            run.finished.max_rss_kib < 64 * 1024,
            "{} KiB",
            run.finished.max_rss_kib
        );
    }
}

// ---------------------------------------------------------------------------
// Adversarial cost

/// `total` bytes of one letter, a newline every `every` bytes if given.
fn one_letter(total: usize, every: Option<usize>) -> impl FnMut(&mut Vec<u8>) -> bool + Send {
    let mut pos = 0;
    move |block| {
        let n = MIB.min(total - pos);
        block.resize(n, b'a');
        if let Some(every) = every {
            for i in pos..pos + n {
                if i > 0 && i % every == 0 {
                    block[i - pos] = b'\n';
                }
            }
        }
        pos += n;
        pos < total
    }
}

fn one_letter_secrets(lengths: impl Iterator<Item = usize>) -> Vec<Vec<u8>> {
    lengths.map(|n| vec![b'a'; n]).collect()
}

/// 64 MiB of one letter, with every secret of that letter from 4 to 1,000
/// bytes: masked as one run (or one per line), in seconds.
#[test]
fn one_letter_repeated_with_secrets_of_that_letter() {
    const TOTAL: usize = 64 * MIB;
    let dir = TempDir::new("one-letter");
    let file = dir.secrets_file(&one_letter_secrets(4..=1000));
    for (encodings, every) in [("raw", Some(100_000)), ("raw", None), ("all", None)] {
        let mut args = vec!["-f".as_ref(), file.as_os_str()];
        if encodings == "raw" {
            args.extend([OsStr::new("--encodings"), OsStr::new("raw")]);
        }
        let needles = vec![b"***".to_vec(), b"a".to_vec()];
        let run = run_streamed(&args, one_letter(TOTAL, every), needles);
        report(
            &format!("64 MiB of 'a', secrets 'a' x 4..=1000, {encodings}, newline every {every:?}"),
            &run.finished,
            TOTAL,
        );
        assert_eq!(run.finished.code, Some(0));
        let lines = every.map_or(1, |e| (TOTAL - 1) / e + 1);
        assert_eq!(run.stdout.counts, [lines as u64, 0]);
        assert!(run.finished.elapsed < SLOW, "{:?}", run.finished.elapsed);
        assert!(run.finished.max_rss_kib < 64 * 1024);
    }
}

/// The same with one more secret of 64 KiB. Building the matcher alone
/// took about a minute and 500 MiB with `raw` only, and over two minutes
/// and 2 GiB with all encodings (see `hostile_engine.rs` for the minimal
/// case); now milliseconds.
#[test]
fn one_letter_repeated_with_a_64_kib_secret_of_that_letter() {
    const TOTAL: usize = 64 * MIB;
    let dir = TempDir::new("one-letter-64k");
    let file = dir.secrets_file(&one_letter_secrets((4..=1000).chain([64 * KIB])));
    for encodings in ["raw", "all"] {
        let mut args = vec!["-f".as_ref(), file.as_os_str()];
        if encodings == "raw" {
            args.extend([OsStr::new("--encodings"), OsStr::new("raw")]);
        }
        let needles = vec![b"***".to_vec(), b"a".to_vec()];
        let run = run_streamed(&args, one_letter(TOTAL, None), needles);
        report(
            &format!("64 MiB of 'a', secrets 'a' x 4..=1000 and 64 KiB, {encodings}"),
            &run.finished,
            TOTAL,
        );
        assert_eq!(run.finished.code, Some(0));
        assert_eq!(run.stdout.counts, [1, 0]);
        assert!(run.finished.elapsed < SLOW, "{:?}", run.finished.elapsed);
        assert!(
            run.finished.max_rss_kib < 64 * 1024,
            "{}",
            run.finished.max_rss_kib
        );
    }
}

/// Secrets that are prefixes and suffixes of each other (all prefixes and
/// suffixes of one 1,000-byte string over two letters), over 64 MiB made of
/// that string cut short or with one letter flipped, so that long partial
/// matches start and fail everywhere.
#[test]
fn secrets_that_are_prefixes_and_suffixes_of_each_other() {
    const TOTAL: usize = 64 * MIB;
    let mut rng = Rng(0x5eed_0006);
    let base = rng.word(b"ab", 1000);
    let mut secrets = Vec::new();
    for n in 4..=1000 {
        secrets.push(base[..n].to_vec());
        secrets.push(base[1000 - n..].to_vec());
    }
    let dir = TempDir::new("affixes");
    let file = dir.secrets_file(&secrets);
    for encodings in ["raw", "all"] {
        let mut args = vec!["-f".as_ref(), file.as_os_str()];
        if encodings == "raw" {
            args.extend([OsStr::new("--encodings"), OsStr::new("raw")]);
        }
        let mut rng = Rng(0x5eed_0007);
        let base = base.clone();
        let mut pos = 0;
        let produce = move |block: &mut Vec<u8>| {
            while block.len() < MIB {
                let cut = (rng.next() % 1000) as usize;
                match rng.next() % 3 {
                    0 => block.extend_from_slice(&base[..cut]),
                    1 => block.extend_from_slice(&base[cut..]),
                    _ => {
                        let at = block.len() + cut;
                        block.extend_from_slice(&base);
                        block[at] = if block[at] == b'a' { b'b' } else { b'a' };
                    }
                }
            }
            pos += block.len();
            pos < TOTAL
        };
        // The shortest prefix and suffix are secrets: neither survives.
        let needles = vec![secrets[0].clone(), secrets[1].clone()];
        let run = run_streamed(&args, produce, needles);
        report(
            &format!("64 MiB of affixes, 1,994 affix secrets, {encodings}"),
            &run.finished,
            TOTAL,
        );
        assert_eq!(run.finished.code, Some(0));
        assert_eq!(run.stdout.counts, [0, 0]);
        assert!(run.finished.elapsed < SLOW, "{:?}", run.finished.elapsed);
    }
}

// ---------------------------------------------------------------------------
// Registry memory and keyed tables (SPEC 1.6)

/// Printable ASCII without `%`, which `::add-mask::` would unescape.
const PRINTABLE: &[u8] = b"!\"#$&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// Ten and thirty `::add-mask::` lines of 65,000 printable bytes, then
/// each value raw, in Base64 and percent-encoded: every default variant is
/// tens of KiB. Peak memory stays under 256 and 768 MiB (it was 520 MiB
/// and 1.9 GiB) and each run under 10 s (it was 7 and 33 s), and every
/// form is masked.
#[test]
fn long_in_band_values_cost_memory_in_proportion_to_their_bytes() {
    for (lines, limit_mib) in [(10, 256), (30, 768)] {
        let mut rng = Rng(0x5eed_1000 + lines as u64);
        let values: Vec<Vec<u8>> = (0..lines).map(|_| rng.word(PRINTABLE, 65_000)).collect();
        let mut input = Vec::new();
        for v in &values {
            input.extend_from_slice(b"::add-mask::");
            input.extend_from_slice(v);
            input.push(b'\n');
        }
        for v in &values {
            input.extend_from_slice(b"raw ");
            input.extend_from_slice(v);
            input.extend_from_slice(b" b64 ");
            // 65,000 bytes: 86,666 characters from the value alone, then
            // one mixed character and `=`.
            input.extend_from_slice(STANDARD.encode(v).as_bytes());
            input.extend_from_slice(b" url ");
            // RFC 3986: every byte outside `A-Z a-z 0-9 - . _ ~` as %XX.
            for &b in v {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    input.push(b);
                } else {
                    input.extend_from_slice(format!("%{b:02X}").as_bytes());
                }
            }
            input.extend_from_slice(b" end\n");
        }
        let run = support::run::<&str>(&[], &input);
        report(
            &format!("{lines} ::add-mask:: lines of 65,000 bytes"),
            &run.finished,
            input.len(),
        );
        assert_eq!(run.code(), 0, "{}", run.stderr());
        assert_eq!(run.stderr(), "");
        let out = run.stdout();
        assert_eq!(out.lines().count(), lines, "{}", &out[..out.len().min(300)]);
        for line in out.lines() {
            assert!(
                line.starts_with("raw *** b64 ***")
                    && line.ends_with(" url *** end")
                    && line.len() < 40,
                "{}",
                &line[..line.len().min(300)]
            );
        }
        for v in &values {
            run.leaks_nothing(&v[30_000..30_016]);
        }
        assert!(
            run.finished.max_rss_kib < limit_mib * 1024,
            "{} KiB",
            run.finished.max_rss_kib
        );
        assert!(
            run.finished.elapsed < std::time::Duration::from_secs(10),
            "{:?}",
            run.finished.elapsed
        );
    }
}

/// 100,000 16-byte values whose first 8 bytes all have the same home slot
/// under the gram searcher's old fixed multiplicative hash (`gram * C`
/// with its top bits zero), against as many random ones: registering and
/// masking them costs about the same. With the fixed hash the crafted set
/// took ten times longer and more (one probe chain of 100,000 slots).
#[test]
fn values_built_to_collide_under_a_fixed_hash_cost_no_more() {
    const N: usize = 100_000;
    const OLD_SLOT_FACTOR: u64 = 0xD6E8_FEB8_6659_FD93;
    // The inverse of the factor modulo 2^64 (Newton's iteration).
    let mut inverse: u64 = 1;
    for _ in 0..7 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(OLD_SLOT_FACTOR.wrapping_mul(inverse)));
    }
    assert_eq!(OLD_SLOT_FACTOR.wrapping_mul(inverse), 1);
    let usable = |head: &[u8]| {
        !head.contains(&b'\n') && !head.contains(&b'\r') && !b" \t\xEF".contains(&head[0])
    };
    let mut crafted = Vec::with_capacity(N);
    let mut k: u64 = 1;
    while crafted.len() < N {
        let head = k.wrapping_mul(inverse).to_le_bytes();
        k += 1;
        if usable(&head) {
            let mut value = head.to_vec();
            value.extend_from_slice(format!("{:08}", crafted.len()).as_bytes());
            crafted.push(value);
        }
    }
    let mut rng = Rng(0x5eed_1001);
    let mut random = Vec::with_capacity(N);
    while random.len() < N {
        let head = rng.next().to_le_bytes();
        if usable(&head) {
            let mut value = head.to_vec();
            value.extend_from_slice(format!("{:08}", random.len()).as_bytes());
            random.push(value);
        }
    }
    let mut times = Vec::new();
    for (name, values) in [("random", &random), ("crafted", &crafted)] {
        let dir = TempDir::new("flood");
        let file = dir.secrets_file(values);
        let mut input = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i % 10 == 0 {
                input.extend_from_slice(b"line ");
                input.extend_from_slice(v);
                input.extend_from_slice(b" end\n");
            } else {
                input.extend_from_slice(b"the quick brown fox jumps over the lazy dog\n");
            }
        }
        let input = input.repeat(4);
        let args = [
            "-f".as_ref(),
            file.as_os_str(),
            "--encodings".as_ref(),
            "raw".as_ref(),
        ];
        let run = support::run(&args, &input);
        report(
            &format!("{N} {name} 16-byte values"),
            &run.finished,
            input.len(),
        );
        assert_eq!(run.code(), 0, "{}", run.stderr());
        let out = run.stdout();
        assert_eq!(out.matches("line *** end\n").count(), 4 * N / 10, "{name}");
        times.push(run.finished.elapsed);
    }
    let (random, crafted) = (times[0], times[1]);
    assert!(
        crafted < random * 3 + std::time::Duration::from_secs(1),
        "crafted {crafted:?}, random {random:?}"
    );
}
