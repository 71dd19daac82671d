//! Detection (SPEC 7) against the naive detector, in every split; table
//! tests per row in realistic context; known vectors; no leaks.

#[path = "common/naive_detect.rs"]
mod naive;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use logmask::{Detector, DetectorSet, MaskWriter, Prescanner, Registry, WriterBuilder};
use proptest::prelude::*;

use naive::{B36_DIGITS, B62_DIGITS, HEX_UPPER, crc32, render};

/// Deterministic filler over an alphabet (no live-looking literals are
/// committed: tokens are built here, checksums computed).
fn fill(alphabet: &[u8], n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize]
        })
        .collect()
}

const B62: &[u8] = B62_DIGITS;
const B64U: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A GitHub-style token with a valid CRC32/base62 checksum.
fn github_token(prefix: &str, body_len: usize, seed: u64) -> Vec<u8> {
    let data = fill(B62, body_len - 6, seed);
    let mut t = prefix.as_bytes().to_vec();
    t.extend_from_slice(&data);
    t.extend_from_slice(&render(crc32(&data) as u64, B62_DIGITS, 6));
    t
}

fn gitlab_routable(seed: u64, version: bool) -> Vec<u8> {
    let p = fill(B64U, 40, seed);
    let mut t = b"glpat-".to_vec();
    t.extend_from_slice(&p);
    t.push(b'.');
    if version {
        t.extend_from_slice(b"01.");
    }
    t.extend_from_slice(&render(p.len() as u64, B36_DIGITS, 2));
    let c = render(crc32(&t) as u64, B36_DIGITS, 7);
    t.extend_from_slice(&c);
    t
}

fn atlassian(seed: u64) -> Vec<u8> {
    let mut t = b"ATATT3".to_vec();
    t.extend_from_slice(&fill(B64U, 178, seed));
    let c = render(crc32(&t) as u64, HEX_UPPER, 8);
    t.extend_from_slice(&c);
    t
}

fn b64url(data: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(data)
        .into_bytes()
}

fn jwt(seed: u64, alg: &str, signature: bool) -> Vec<u8> {
    let mut t = b64url(format!("{{\"alg\":\"{alg}\",\"typ\":\"JWT\"}}").as_bytes());
    t.push(b'.');
    t.extend_from_slice(&b64url(
        format!(
            "{{\"sub\":\"{}\"}}",
            String::from_utf8(fill(B62, 12, seed)).unwrap()
        )
        .as_bytes(),
    ));
    t.push(b'.');
    if signature {
        t.extend_from_slice(&fill(B64U, 43, seed + 1));
    }
    t
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn pem_body(seed: u64) -> Vec<Vec<u8>> {
    (0..4)
        .map(|i| {
            fill(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                64,
                seed + i,
            )
        })
        .collect()
}

/// `input` in pieces of the given sizes (cycled; each at least 1).
fn split<'a>(input: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    let mut at = 0;
    let mut k = 0;
    std::iter::from_fn(move || {
        if at == input.len() {
            return None;
        }
        let n = sizes[k % sizes.len()].max(1).min(input.len() - at);
        k += 1;
        at += n;
        Some(&input[at - n..at])
    })
}

/// A writer over a fresh registry, all detectors on.
fn writer(commands: bool) -> MaskWriter<Vec<u8>> {
    MaskWriter::builder(Arc::new(Registry::new()))
        .commands(commands)
        .build(Vec::new())
}

/// Masks through a writer in pieces of the given sizes (cycled), commands
/// off, all detectors on.
fn mask_split(input: &[u8], sizes: &[usize]) -> Vec<u8> {
    mask_split_with(input, sizes, false)
}

/// Like [`mask_split`], with the in-band protocol on or off.
fn mask_split_with(input: &[u8], sizes: &[usize], commands: bool) -> Vec<u8> {
    let mut w = writer(commands);
    for piece in split(input, sizes) {
        w.write_all(piece).unwrap();
    }
    w.finish().unwrap()
}

/// Like [`mask_split_with`], each piece scanned ahead by a [`Prescanner`]
/// for `scanned_for` and written with `write_scanned`; the protocol cuts
/// a chunk into pieces of text.
fn mask_split_scanned(
    input: &[u8],
    sizes: &[usize],
    scanned_for: DetectorSet,
    commands: bool,
) -> Vec<u8> {
    let mut w = writer(commands);
    let scanner = Prescanner::new(scanned_for);
    for piece in split(input, sizes) {
        w.write_scanned(&scanner.scan(piece.to_vec())).unwrap();
    }
    w.finish().unwrap()
}

fn check_all_splits(input: &[u8]) {
    let want = naive::mask(input, b"***");
    for sizes in [&[usize::MAX][..], &[1], &[2, 3], &[7, 1, 64], &[4096]] {
        let got = mask_split(input, sizes);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "splits {sizes:?}"
        );
    }
}

#[test]
fn known_public_vectors() {
    let cases: &[(&str, &str)] = &[
        (
            "token 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\n",
            "token ghp_***\n",
        ),
        (
            "token gho_16C7e42F292c6912E7710c838347Ae178B4a\n",
            "token gho_16C7e42F292c6912E7710c838347Ae178B4a\n",
        ),
        (
            "glpat-bzox79Of-KE9FD2LjoXXF4CvyxA.0r03gxo7s end\n",
            "glpat-*** end\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            mask_split(input.as_bytes(), &[usize::MAX]),
            want.as_bytes(),
            "{input}"
        );
        check_all_splits(input.as_bytes());
    }
}

/// Each row in realistic context: (input, expected output).
fn row_cases() -> Vec<(Vec<u8>, Vec<u8>)> {
    let gh = github_token("ghp_", 36, 1);
    let ghr = github_token("ghr_", 76, 2);
    let npm = github_token("npm_", 36, 3);
    let pat = join(&[b"github_pat_", &fill(B62, 22, 4), b"_", &fill(B62, 59, 5)]);
    let gl = gitlab_routable(6, false);
    let glv = gitlab_routable(7, true);
    let at = atlassian(8);
    let j = jwt(9, "RS256", true);
    let jnone = jwt(10, "none", false);
    let ghs_jwt = join(&[b"ghs_12345_", &j]);
    let aws_id = join(&[b"AKIA", &fill(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 11)]);
    let aws_secret = fill(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
        12,
    );
    let slack = join(&[b"xoxb-", &fill(B62, 12, 13), b"-", &fill(B62, 24, 14)]);
    let hook_key = fill(B62, 24, 15);
    let hook = join(&[
        b"https://hooks.slack.com/services/T",
        &fill(b"ABCDEFGHIJ0123456789", 9, 16),
        b"/B",
        &fill(b"ABCDEFGHIJ0123456789", 9, 17),
        b"/",
        &hook_key,
    ]);
    let stripe = join(&[b"sk_live_", &fill(B62, 24, 18)]);
    let google = join(&[b"AIza", &fill(B64U, 35, 19)]);
    let docker = join(&[b"dckr_pat_", &fill(B64U, 27, 20)]);
    let vault = join(&[b"hvs.", &fill(B64U, 90, 21)]);
    let openai = join(&[
        b"sk-proj-",
        &fill(B64U, 20, 22),
        b"T3BlbkFJ",
        &fill(B64U, 20, 23),
    ]);
    let anthropic = join(&[b"sk-ant-api03-", &fill(B64U, 93, 24), b"AA"]);
    let pypi = join(&[b"pypi-AgEIcHlwaS5vcmc", &fill(B64U, 60, 25)]);
    let pw = b"pa55-w0rd!x";
    let lines = pem_body(26);
    let pem: Vec<u8> = join(&[
        b"$ cat key.pem\n-----BEGIN PRIVATE KEY-----\n",
        &lines.join(&b"\n"[..]),
        b"\n-----END PRIVATE KEY-----\ndone\n",
    ]);
    let pem_want: Vec<u8> = join(&[
        b"$ cat key.pem\n-----BEGIN PRIVATE KEY-----\n",
        &[&b"***"[..]; 4].join(&b"\n"[..]),
        b"\n-----END PRIVATE KEY-----\ndone\n",
    ]);
    let escaped = join(&[
        br#"{"private_key": "-----BEGIN PRIVATE KEY-----\n"#,
        &lines.join(&b"\\n"[..]),
        br#"\n-----END PRIVATE KEY-----\n", "x": 1}"#,
        b"\n",
    ]);
    let pem_text = join(&[
        b"-----BEGIN RSA PRIVATE KEY-----\n",
        &lines.join(&b"\n"[..]),
        b"\n-----END RSA PRIVATE KEY-----\n",
    ]);
    let b64pem = base64::engine::general_purpose::STANDARD
        .encode(&pem_text)
        .into_bytes();
    // `base64 key.pem`: lines of 76, the last one shorter.
    let wrapped: Vec<u8> = b64pem[..5 * 76 - 10]
        .chunks(76)
        .flat_map(|l| [l, &b"\n"[..]].concat())
        .collect();
    let r = |s: &[u8]| s.to_vec();
    vec![
        (join(&[b"token ", &gh, b"\n"]), r(b"token ghp_***\n")),
        (join(&[b"x ", &ghr, b" y\n"]), r(b"x ghr_*** y\n")),
        (join(&[b"//registry.npmjs.org/:_authToken=", &npm, b"\n"]), r(b"//registry.npmjs.org/:_authToken=npm_***\n")),
        (join(&[b"GH=", &pat, b"\n"]), r(b"GH=github_pat_***\n")),
        (join(&[b"t: ", &gl, b"\n"]), r(b"t: glpat-***\n")),
        (join(&[b"t: ", &glv, b"\n"]), r(b"t: glpat-***\n")),
        (join(&[b"ATLASSIAN=", &at, b"\n"]), r(b"ATLASSIAN=ATATT3***\n")),
        (join(&[b"id_token=", &j, b"\n"]), r(b"id_token=***\n")),
        (join(&[b"t ", &jnone, b" x\n"]), r(b"t *** x\n")),
        (join(&[b"token ", &ghs_jwt, b"\n"]), r(b"token ghs_***\n")),
        (join(&[b"[default]\naws_access_key_id = ", &aws_id, b"\naws_secret_access_key = ", &aws_secret, b"\n"]),
         r(b"[default]\naws_access_key_id = AKIA***\naws_secret_access_key = ***\n")),
        (join(&[br#"{"SecretAccessKey": ""#, &aws_secret, br#""}"#, b"\n"]), r(br#"{"SecretAccessKey": "***"}"#).into_iter().chain(*b"\n").collect()),
        (join(&[b"SLACK=", &slack, b"\n"]), r(b"SLACK=xoxb-***\n")),
        (join(&[b"POST ", &hook, b"\n"]), join(&[b"POST ", &hook[..hook.len() - 24], b"***\n"])),
        (join(&[b"key ", &stripe, b"\n"]), r(b"key sk_live_***\n")),
        (join(&[b"?key=", &google, b"\n"]), r(b"?key=AIza***\n")),
        (join(&[b"docker login -u me -p ", &docker, b"\n"]), r(b"docker login -u me -p dckr_pat_***\n")),
        (join(&[b"VAULT_TOKEN=", &vault, b"\n"]), r(b"VAULT_TOKEN=hvs.***\n")),
        (join(&[b"OPENAI_API_KEY=", &openai, b"\n"]), r(b"OPENAI_API_KEY=sk-***\n")),
        (join(&[b"x-api-key: ", &anthropic, b"\n"]), r(b"x-api-key: sk-ant-***\n")),
        (join(&[b"twine upload --repository-url https://upload.pypi.org/legacy/ -p ", &pypi, b"\n"]),
         r(b"twine upload --repository-url https://upload.pypi.org/legacy/ -p pypi-***\n")),
        (join(&[b"fatal: unable to access 'https://x-access-token:", pw, b"@github.com/org/repo/'\n"]),
         r(b"fatal: unable to access 'https://x-access-token:***@github.com/org/repo/'\n")),
        (r(b"git clone https://user@host:8080/repo\n"), r(b"git clone https://user@host:8080/repo\n")),
        (r(b"https://u:****@example.com/\n"), r(b"https://u:****@example.com/\n")),
        (r(b"GET /a?x=1&access_token=abc123&y=2 HTTP/1.1\n"), r(b"GET /a?x=1&access_token=***&y=2 HTTP/1.1\n")),
        (r(b"GET /api/v4/projects?private_token=glx12345 200\n"), r(b"GET /api/v4/projects?private_token=*** 200\n")),
        (r(b"POST /token grant_type=x&client_secret=s3cr3t&code=1\n"), r(b"POST /token grant_type=x&client_secret=***&code=1\n")),
        (r(b"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=A&X-Amz-Signature=0f1e2d3c#x\n"), r(b"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=A&X-Amz-Signature=***#x\n")),
        (r(b"https://b/k?X-Amz-Security-Token=IQoJb3JpZ2luX2Vj&X-Amz-Date=1\n"), r(b"https://b/k?X-Amz-Security-Token=***&X-Amz-Date=1\n")),
        (r(b"https://storage.googleapis.com/b/o?X-Goog-Signature=a1b2c3 'x'\n"), r(b"https://storage.googleapis.com/b/o?X-Goog-Signature=*** 'x'\n")),
        (r(b"https://acct.blob.core.windows.net/c/b?sv=2021&sig=AbC%2Bd%3D\n"), r(b"https://acct.blob.core.windows.net/c/b?sv=2021&sig=***\n")),
        (r(b"design?signature=abc&sign=x&sigma=1\n"), r(b"design?signature=abc&sign=x&sigma=1\n")),
        (r(b"> Authorization: Bearer abcdefgh12345678\n"), r(b"> Authorization: Bearer ***\n")),
        (r(b"> authorization: bearer abcdefgh12345678\n"), r(b"> authorization: bearer ***\n")),
        (r(b"AUTHORIZATION: basic dXNlcjpwYXNzd29yZA==\n"), r(b"AUTHORIZATION: basic ***\n")),
        (r(b"\"AuThOrIzAtIoN\" = \"Token abcdefgh12345678\",\n"), r(b"\"AuThOrIzAtIoN\" = \"Token ***\",\n")),
        (r(b"authorization: Bearer short\n"), r(b"authorization: Bearer short\n")),
        (r(b"xauthorization: Bearer abcdefgh12345678\n"), r(b"xauthorization: Bearer abcdefgh12345678\n")),
        (pem, pem_want),
        (escaped, r(br#"{"private_key": "-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----\n", "x": 1}"#).into_iter().chain(*b"\n").collect()),
        (join(&[b"  tls.key: ", &b64pem, b"\n"]), r(b"  tls.key: ***\n")),
        (join(&[b"$ base64 key.pem\n", &wrapped, b"$ next\n"]), r(b"$ base64 key.pem\n***\n***\n***\n***\n***\n$ next\n")),
        // A log cut off inside a key (`head -c`, a killed step): end of
        // input ends the last line as a line break would (SPEC 3), so it
        // is masked too.
        (join(&[b"-----BEGIN PRIVATE KEY-----\n", &lines[0], b"\n", &lines[1][..20]]), r(b"-----BEGIN PRIVATE KEY-----\n***\n***")),
        (join(&[b"-----BEGIN PRIVATE KEY-----\r\n", &lines[0][..30], b"\r"]), r(b"-----BEGIN PRIVATE KEY-----\r\n***\r")),
        (join(&[b"-----BEGIN PRIVATE KEY-----\n", &lines[0], b"\n-----END PRIV"]), r(b"-----BEGIN PRIVATE KEY-----\n***\n-----END PRIV")),
        (join(&[b"$ base64 key.pem\n", &wrapped[..77 + 40]]), r(b"$ base64 key.pem\n***\n***")),
    ]
}

/// An escaped key's run and a Base64 PEM run are masked whole, however
/// long (SPEC 7), in every split, with escapes and padding across the
/// 64 KiB point past which the detector goes on piece by piece. The oracle
/// registers no part that long (SPEC 1.6).
#[test]
fn key_runs_longer_than_64_kib_are_masked_whole_in_every_split() {
    let body: Vec<u8> = pem_body(40).concat().repeat(400);
    let escaped_body: Vec<u8> = body
        .chunks(64)
        .flat_map(|l| [l, &b"\\n"[..]].concat())
        .collect();
    let escaped = |run: &[u8], after: &[u8]| {
        join(&[
            br#"{"private_key": "-----BEGIN PRIVATE KEY-----\n"#,
            run,
            after,
        ])
    };
    let b64 = |len: usize| {
        let pem = join(&[
            b"-----BEGIN PRIVATE KEY-----\n",
            &body[..len],
            b"\n-----END PRIVATE KEY-----\n",
        ]);
        base64::engine::general_purpose::STANDARD
            .encode(pem)
            .into_bytes()
    };
    let long_b64 = b64(60_000);
    let cases: Vec<Vec<u8>> = vec![
        escaped(
            &escaped_body[..70_000],
            br#"-----END PRIVATE KEY-----\n", "x": 1}"#,
        ),
        escaped(&vec![b'a'; 150_000], b"\" tail\n"),
        // Cut off inside the run, and right after an escape's backslash.
        escaped(&vec![b'a'; 70_000], b""),
        escaped(&[&vec![b'a'; 65_535][..], b"\\"].concat(), b""),
        join(&[b"  tls.key: ", &long_b64, b"\n", &long_b64[..40], b"\n"]),
        join(&[b"  tls.key: ", &long_b64[..long_b64.len() - 2], b"="]),
        join(&[b"x ", &long_b64]),
    ];
    for input in &cases {
        assert!(input.len() > 64 * 1024);
        let got = mask_split(input, &[usize::MAX]);
        assert!(
            got.len() < 200,
            "not masked whole: {:?}",
            String::from_utf8_lossy(&got[..200])
        );
        check_all_splits(input);
    }
}

#[test]
fn rows_in_realistic_context() {
    for (input, want) in row_cases() {
        let got = mask_split(&input, &[usize::MAX]);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "input {:?}",
            String::from_utf8_lossy(&input)
        );
        check_all_splits(&input);
    }
}

#[test]
fn off_by_one_tokens_are_not_detected() {
    let gh = github_token("ghp_", 36, 30);
    let mut wrong_sum = gh.clone();
    let last = wrong_sum.len() - 1;
    wrong_sum[last] = if wrong_sum[last] == b'a' { b'b' } else { b'a' };
    let cases: Vec<Vec<u8>> = vec![
        wrong_sum,
        gh[..gh.len() - 1].to_vec(),
        join(&[&gh, b"x"]),
        join(&[b"x", &gh]),
        join(&[&gh, b"_"]),
        join(&[&gh, b"-"]),
        join(&[b"AKIA", &fill(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 15, 1)]),
        join(&[b"AKIA", &fill(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17, 1)]),
        join(&[b"aws_secret_access_key=", &fill(b"0123456789abcdef", 40, 2)]),
        jwt(31, "RS256", false),
        join(&[b".", &jwt(32, "RS256", true)]),
    ];
    for input in cases {
        let line = join(&[b"v ", &input, b"\n"]);
        assert_eq!(
            mask_split(&line, &[usize::MAX]),
            line,
            "{:?}",
            String::from_utf8_lossy(&line)
        );
        check_all_splits(&line);
    }
}

#[test]
fn detected_parts_are_registered_from_the_next_line() {
    let gh = github_token("ghp_", 36, 40);
    let body = &gh[4..];
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let input = join(&[
        b"a ",
        &gh,
        b" ",
        body,
        b"\n",
        body,
        b" ",
        b64.as_bytes(),
        b"\n",
    ]);
    let want = join(&[b"a ghp_*** ", body, b"\n*** ***\n"]);
    assert_eq!(mask_split(&input, &[usize::MAX]), want);
    check_all_splits(&input);
    // The registry gets it with the detected:NAME source.
    let registry = Arc::new(Registry::new());
    let mut w = MaskWriter::new(registry.clone(), Vec::new());
    w.write_all(&input).unwrap();
    w.finish().unwrap();
    let origins = registry.origins(body);
    assert_eq!(&*origins[0].source, "detected:github");
    assert!(!format!("{registry:?}").contains(std::str::from_utf8(body).unwrap()));
}

/// Many parts detected in one write are registered where each applies,
/// whether the engine registers them together at the last (none of their
/// forms follows its cut) or cuts at each (one does): later forms are
/// masked from the line after their part on, and not before.
#[test]
fn many_parts_in_one_write_apply_from_their_own_next_line() {
    let tokens: Vec<Vec<u8>> = (0..12).map(|i| github_token("ghp_", 36, 200 + i)).collect();
    let body = |i: usize| tokens[i][4..].to_vec();
    let b64 = |i: usize| {
        base64::engine::general_purpose::STANDARD
            .encode(body(i))
            .into_bytes()
    };
    let token_lines = |lines: &mut Vec<Vec<u8>>| {
        for (i, t) in tokens.iter().enumerate() {
            lines.push(join(&[b"push ", t, format!(" #{i}\n").as_bytes()]));
        }
    };
    type Case = (&'static str, Vec<Vec<u8>>);
    let mut cases: Vec<Case> = Vec::new();
    // No later form among the tokens; every form after the last one.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    for i in 0..tokens.len() {
        for form in naive::expander::naive_variants(&body(i), 4) {
            lines.push(join(&[b"echo ", &form, b"\n"]));
        }
    }
    cases.push(("every form after the last part", lines));
    // One form, starting exactly where its part applies.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    lines.insert(1, join(&[&b64(0)[..], b" echoed\n"]));
    cases.push(("a form at the line after its part", lines));
    // The first token's forms right after its line, among the others.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    // Starting exactly where it applies: at the line after its part.
    lines.insert(1, join(&[&b64(0)[..], b" echoed\n"]));
    lines.insert(5, join(&[&body(0)[..], b" and ", &b64(0), b"\n"]));
    cases.push(("a form after its part, before the last", lines));
    // The last token's forms before its own line: not masked there.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    let last = tokens.len() - 1;
    lines.insert(3, join(&[b"early ", &b64(last), b" ", &body(last), b"\n"]));
    lines.push(join(&[b"late ", &b64(last), b"\n"]));
    cases.push(("a form before its part", lines));
    // A form on its part's own line, after the part.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    lines[4] = join(&[b"push ", &tokens[4], b" ", &b64(4), b"\n"]);
    lines.push(join(&[&b64(4)[..], b"\n"]));
    cases.push(("a form on its part's line", lines));
    // A part that is a form of an earlier one is not registered, so its
    // own forms are not masked later.
    let mut lines = Vec::new();
    token_lines(&mut lines);
    let b64_of_b64 = base64::engine::general_purpose::STANDARD
        .encode(b64(2))
        .into_bytes();
    lines[2] = join(&[
        b"push ",
        &tokens[2],
        b" Authorization: Bearer ",
        &b64(2),
        b"\n",
    ]);
    lines.push(join(&[b"echo ", &b64_of_b64, b"\n"]));
    cases.push(("a part that is a form of another", lines));
    for (name, lines) in cases {
        let input = lines.concat();
        let want = naive::mask(&input, b"***");
        for sizes in [&[usize::MAX][..], &[4096], &[700], &[1]] {
            let got = mask_split(&input, sizes);
            assert!(
                got == want,
                "{name}, splits {sizes:?}:\n{}\nwant\n{}",
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
    }
}

#[test]
fn one_buffer_mask_registers_nothing_and_detects() {
    let gh = github_token("ghp_", 36, 41);
    let registry = Arc::new(Registry::new());
    let out = logmask::mask(&registry, &join(&[b"t ", &gh, b"\n"]));
    assert_eq!(out, b"t ghp_***\n");
    assert_eq!(registry.secrets(), 0);
}

#[test]
fn library_switch_and_names() {
    let gh = github_token("ghp_", 36, 42);
    let input = join(&[b"t ", &gh, b" Authorization: Bearer abcdefgh12345678\n"]);
    let registry = Arc::new(Registry::new());
    let off = WriterBuilder::new(registry.clone())
        .detect(DetectorSet::empty())
        .mask(&input);
    assert_eq!(off, input);
    let only = WriterBuilder::new(registry.clone())
        .detect(DetectorSet::parse("authorization").unwrap())
        .mask(&input);
    assert_eq!(only, join(&[b"t ", &gh, b" Authorization: Bearer ***\n"]));
    for d in Detector::ALL {
        assert_eq!(Detector::from_name(d.name()), Some(d));
    }
    for bad in ["", "GitHub", "github,", "nope", " github"] {
        assert!(DetectorSet::parse(bad).is_err(), "{bad:?}");
        assert!(
            !DetectorSet::parse(bad)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }
}

#[test]
fn stats_count_by_detector_and_hold_no_values() {
    let gh = github_token("ghp_", 36, 43);
    let input = join(&[b"t ", &gh, b"\nAuthorization: Bearer abcdefgh12345678\n"]);
    let registry = Arc::new(Registry::new());
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let mut w = MaskWriter::builder(registry.clone())
        .on_warning(move |x| sink.lock().unwrap().push(x.to_string()))
        .build(Vec::new());
    let scanner = Prescanner::new(w.detectors());
    let chunk = scanner.scan(input.clone());
    w.write_scanned(&chunk).unwrap();
    let debug = format!("{w:?} {scanner:?} {chunk:?}");
    let (_, stats) = w.finish_with_stats().unwrap();
    assert_eq!(stats.detected[Detector::Github.index()], 1);
    assert_eq!(stats.detected[Detector::Authorization.index()], 1);
    assert_eq!(stats.detected_total(), 2);
    let printed = format!(
        "{stats:?} {debug} {registry:?} {:?}",
        warnings.lock().unwrap()
    );
    for secret in [&gh[4..], b"abcdefgh12345678"] {
        assert!(
            !printed.contains(std::str::from_utf8(secret).unwrap()),
            "{printed}"
        );
    }
}

#[test]
fn a_held_jwt_is_not_rescanned_per_byte() {
    // 16 KiB of JWT written a byte at a time: linear, so well under a
    // second even unoptimised.
    let mut t = b64url(b"{\"alg\":\"HS256\"}");
    t.push(b'.');
    t.extend_from_slice(b"eyJ");
    t.extend_from_slice(&fill(B64U, 16 * 1024 - 200, 50));
    t.extend_from_slice(b".sig\n");
    let started = std::time::Instant::now();
    let out = mask_split(&t, &[1]);
    assert_eq!(out, b"***\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn an_escaped_key_of_escapes_is_not_rescanned_per_byte() {
    // A hostile step writes a key made of 64 KiB of `\n` escapes a byte
    // at a time: each backslash waits for the next byte, and the run
    // before it is not looked at again.
    let mut t = br#"{"k": "-----BEGIN PRIVATE KEY-----"#.to_vec();
    for _ in 0..4 {
        t.extend_from_slice(&b"\\n".repeat(30 * 1024));
        t.extend_from_slice(b"\" \"-----BEGIN PRIVATE KEY-----");
    }
    t.extend_from_slice(b"\"}\n");
    let started = std::time::Instant::now();
    let out = mask_split(&t, &[1]);
    let elapsed = started.elapsed();
    assert_eq!(out, mask_split(&t, &[usize::MAX]));
    assert!(out.len() < 300, "{}", String::from_utf8_lossy(&out));
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

/// Pieces for random logs: noise, valid credentials and off-by-one ones.
fn pieces() -> Vec<Vec<u8>> {
    let gh = github_token("ghp_", 36, 60);
    let mut bad = gh.clone();
    bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
    let j = jwt(61, "HS256", true);
    let lines = pem_body(62);
    let pem_text = [&b"-----BEGIN PRIVATE KEY-----\n"[..], &lines.concat()].concat();
    let b64pem = base64::engine::general_purpose::STANDARD
        .encode(&pem_text)
        .into_bytes();
    vec![
        b64pem[..76].to_vec(),
        b64pem[76..152].to_vec(),
        b64pem[152..170].to_vec(),
        b" ".to_vec(),
        b"\n".to_vec(),
        b"\r\n".to_vec(),
        b"x".to_vec(),
        b"_".to_vec(),
        b".".to_vec(),
        b"-".to_vec(),
        b"=".to_vec(),
        b"\"".to_vec(),
        b"?".to_vec(),
        b"&".to_vec(),
        b"@".to_vec(),
        b":".to_vec(),
        b"/".to_vec(),
        gh.clone(),
        gh[4..].to_vec(),
        bad,
        gh[..30].to_vec(),
        b"ghp_".to_vec(),
        j.clone(),
        j[..20].to_vec(),
        b"eyJ".to_vec(),
        gitlab_routable(63, false),
        atlassian(64),
        join(&[b"AKIA", &fill(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 65)]),
        b"https://".to_vec(),
        b"https://u:p4ss@h/".to_vec(),
        b"sig=".to_vec(),
        b"access_token=".to_vec(),
        b"Authorization: Bearer ".to_vec(),
        b"abcdefgh12".to_vec(),
        b"aws_secret_access_key=".to_vec(),
        fill(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            40,
            66,
        ),
        b"-----BEGIN PRIVATE KEY-----".to_vec(),
        b"-----END PRIVATE KEY-----".to_vec(),
        lines[0].clone(),
        b"\\n".to_vec(),
        b"xoxb-".to_vec(),
        b"sk-".to_vec(),
        b"&X-Amz-Signature=".to_vec(),
        b"?X-Goog-Signature=".to_vec(),
        b"?private_token=".to_vec(),
        b"&client_secret=".to_vec(),
        b"AuThOrIzAtIoN: bearer ".to_vec(),
        b"authorization=\"Basic ".to_vec(),
        b"SecretAccessKey\": \"".to_vec(),
        b"AWS_SECRET_ACCESS_KEY=".to_vec(),
    ]
}

/// [`pieces`] and the line starts the protocol holds: indented lines,
/// `::` lines and `::add-mask::` commands of fresh values.
fn with_command_lines() -> Vec<Vec<u8>> {
    let mut pool = pieces();
    pool.extend([
        b"\n  ".to_vec(),
        b"\n\t".to_vec(),
        b"\n::".to_vec(),
        b"\n::add-mask::q7Zr2xVw9kLm\n".to_vec(),
        b"\n  ::add-mask::Tn4bW8cYp3Hs\n".to_vec(),
        b"q7Zr2xVw9kLm".to_vec(),
        b"Tn4bW8cYp3Hs".to_vec(),
    ]);
    pool
}

/// Logs long enough that whole writes are searched where they lie.
fn long_log() -> impl Strategy<Value = Vec<u8>> {
    let pool = pieces();
    prop::collection::vec(prop::sample::select(pool), 200..600).prop_map(|p| p.concat())
}

fn log() -> impl Strategy<Value = Vec<u8>> {
    let pool = pieces();
    prop::collection::vec(prop::sample::select(pool), 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_logs_match_the_naive_detector(input in log(), sizes in prop::collection::vec(1usize..40, 1..6)) {
        let want = naive::mask(&input, b"***");
        let got = mask_split(&input, &sizes);
        prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        let one = mask_split(&input, &[1]);
        prop_assert_eq!(String::from_utf8_lossy(&one), String::from_utf8_lossy(&want));
    }

    #[test]
    fn long_writes_match_the_naive_detector(input in long_log(), sizes in prop::collection::vec(1usize..20_000, 1..4)) {
        let want = naive::mask(&input, b"***");
        for sizes in [&sizes[..], &[usize::MAX], &[4096], &[4095, 4097, 300]] {
            let got = mask_split(&input, sizes);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "sizes {:?}", sizes);
        }
    }

    /// Scanning ahead changes nothing: with the writer's detectors the
    /// hits are used (and must be right), with others they are ignored.
    #[test]
    fn writes_scanned_ahead_match_the_naive_detector(input in long_log(), sizes in prop::collection::vec(1usize..20_000, 1..4)) {
        let want = naive::mask(&input, b"***");
        let github = DetectorSet::parse("github").unwrap();
        for (sizes, set) in [(&sizes[..], DetectorSet::all()), (&[usize::MAX], DetectorSet::all()), (&[4096], DetectorSet::all()), (&[4095, 4097, 300], DetectorSet::all()), (&[1, 7, 64], DetectorSet::all()), (&sizes[..], github)] {
            let got = mask_split_scanned(&input, sizes, set, false);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "sizes {:?}", sizes);
        }
    }

    /// With the protocol on, text reaches the masker in pieces of the
    /// chunk (lines that may be commands are held and copied): the
    /// scanned chunk's output equals the plain write's.
    #[test]
    fn writes_scanned_ahead_with_commands_match_plain_writes(parts in prop::collection::vec(prop::sample::select(with_command_lines()), 100..400), sizes in prop::collection::vec(1usize..20_000, 1..4)) {
        let input = parts.concat();
        for sizes in [&sizes[..], &[usize::MAX], &[4096, 5]] {
            let want = mask_split_with(&input, sizes, true);
            let got = mask_split_scanned(&input, sizes, DetectorSet::all(), true);
            prop_assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "sizes {:?}", sizes);
        }
    }

    #[test]
    fn random_bytes_match_the_naive_detector(input in prop::collection::vec(prop::sample::select(b"ghp_eyJ.-:/@?&=sig \n\rAKIAxTz09".to_vec()), 0..200), size in 1usize..9) {
        let want = naive::mask(&input, b"***");
        let got = mask_split(&input, &[size]);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn look_alikes_are_not_detected() {
    // Commit ids, UUIDs, integrity hashes, digests, Base64 cache keys,
    // URLs without credentials, query strings without credential names.
    let hex = b"0123456789abcdef";
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut log = Vec::new();
    for i in 0..2000u64 {
        let sha = fill(hex, 40, i);
        let uuid = fill(hex, 32, i + 7);
        let line = [
            &b"2026-11-25T00:00:01.1058756Z HEAD is now at "[..],
            &sha,
            b" id=",
            &uuid[..8],
            b"-",
            &uuid[8..12],
            b"-",
            &uuid[12..16],
            b"-",
            &uuid[16..20],
            b"-",
            &uuid[20..],
            b" integrity sha512-",
            &fill(b64, 86, i + 1),
            b"== digest sha256:",
            &fill(hex, 64, i + 2),
            b" key=",
            &fill(b64, 88, i + 3),
            b" GET https://example.com/a?id=1&q=x%20y&sort=asc -> 200 user@host:22 ",
            &fill(B64U, 40, i + 4),
            b" AWS_SECRET_ACCESS_KEY_ID=x Authorization: none\n",
        ]
        .concat();
        log.extend_from_slice(&line);
    }
    assert_eq!(mask_split(&log, &[usize::MAX]), log);
    assert_eq!(mask_split(&log, &[4093]), log);
}

/// A long log of ordinary lines with the realistic cases spread through
/// it: large writes are searched where they lie, and the result equals
/// the naive detector's and that of small writes.
#[test]
fn long_logs_in_large_writes() {
    let cases = row_cases();
    let mut input = Vec::new();
    for i in 0..3000 {
        input.extend_from_slice(
            format!("2026-11-25T10:00:{:02}Z step {i} compiling node_modules/x?id={i}&q=a https://example.com/{i}\n", i % 60)
                .as_bytes(),
        );
        if i % 97 == 0 {
            input.extend_from_slice(&cases[(i / 97) % cases.len()].0);
        }
    }
    let want = naive::mask(&input, b"***");
    for sizes in [
        &[usize::MAX][..],
        &[65536],
        &[4096],
        &[5000, 300, 70000],
        &[4097, 1],
    ] {
        let got = mask_split(&input, sizes);
        assert!(got == want, "sizes {sizes:?}");
    }
}

/// Past the 10,000 registered parts, credentials are still masked (only
/// their later forms are not), in every write size.
#[test]
fn credentials_past_the_registration_cap_are_masked() {
    let mut input = Vec::new();
    let mut want = Vec::new();
    for i in 0..10_200 {
        input.extend_from_slice(format!("GET /x?sig=v{i:08}abc HTTP/1.1\n").as_bytes());
        want.extend_from_slice(b"GET /x?sig=*** HTTP/1.1\n");
    }
    for sizes in [&[usize::MAX][..], &[65536], &[4096, 10]] {
        let got = mask_split(&input, sizes);
        assert!(got == want, "sizes {sizes:?}");
    }
}

/// A burst of detected parts whose Base64 forms come back a few lines
/// later: each is masked from the line after its part's, while the
/// registry merges the burst's batches (folds of thousands of variants,
/// on a thread of their own) and compacts them, in every write size.
#[test]
fn forms_of_a_burst_of_detected_parts_are_masked_while_batches_merge() {
    const LAG: usize = 5;
    let values: Vec<Vec<u8>> = (0..5000).map(|i| fill(B62, 30, 9000 + i)).collect();
    let mut input = Vec::new();
    let mut want = Vec::new();
    for (i, value) in values.iter().enumerate() {
        input.extend_from_slice(b"GET /x?sig=");
        input.extend_from_slice(value);
        input.extend_from_slice(b" HTTP/1.1");
        want.extend_from_slice(b"GET /x?sig=*** HTTP/1.1");
        if i >= LAG {
            // 30 bytes: 40 characters, no padding, every one the value's.
            let form = base64::engine::general_purpose::STANDARD.encode(&values[i - LAG]);
            input.extend_from_slice(format!(" echo {form}").as_bytes());
            want.extend_from_slice(b" echo ***");
        }
        input.push(b'\n');
        want.push(b'\n');
    }
    // Every form again once the burst is over: by then the merges are in
    // (for the smaller writes, which take them), and they must hold every
    // variant.
    for value in &values {
        let form = base64::engine::general_purpose::STANDARD.encode(value);
        input.extend_from_slice(format!("late {form}\n").as_bytes());
        want.extend_from_slice(b"late ***\n");
    }
    for sizes in [&[usize::MAX][..], &[65536], &[4096, 10], &[1]] {
        let got = mask_split(&input, sizes);
        assert!(got == want, "sizes {sizes:?}");
    }
}

/// Lines that never end, full of credentials or near-credentials, go
/// through in time linear in their length (a part waiting for its line's
/// end and overlapping candidates each scanned the rest of the text, and
/// then each up to its bound: 4 MiB took minutes, then seconds), the same
/// in any write size.
#[test]
fn endless_lines_of_candidates_stay_linear() {
    let units: [&[u8]; 4] = [
        b"Authorization: Bearer ",
        b"?sig=",
        b"&access_token=?sig=x=",
        b"?client_secret=%41",
    ];
    for (unit, mib) in units.into_iter().map(|u| (u, 4)) {
        let input = unit.repeat((mib << 20) / unit.len());
        let started = std::time::Instant::now();
        let whole = mask_split(&input, &[usize::MAX]);
        let pieces = mask_split(&input, &[4096, 7]);
        assert!(whole == pieces, "{:?}", String::from_utf8_lossy(unit));
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(60),
            "{:?}: {took:?}",
            String::from_utf8_lossy(unit)
        );
    }
}
