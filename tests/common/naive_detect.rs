//! A naive detector written from SPEC 7's words: at every position, every
//! row is tried on the whole input with plain loops. No code is shared
//! with the engine (the CRC is the bitwise textbook loop, Base64 decoding
//! is by hand). Slow on purpose; small inputs only.
//!
//! Also the naive masker for detection: the union of detected parts, and
//! detected parts registered from the line after their last byte, with
//! the variants of the naive expander of `tests/common/mod.rs` (a part
//! that is a JSON object or array, which that expander does not open,
//! takes `logmask::expand`'s).

#![allow(dead_code)]

#[path = "mod.rs"]
pub mod expander;

/// One detected credential: the masked part `[start, end)` and the
/// detector's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub name: &'static str,
}

fn is_b62(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase() || b.is_ascii_lowercase()
}
fn is_b64u(b: u8) -> bool {
    is_b62(b) || b == b'-' || b == b'_'
}
fn is_b64(b: u8) -> bool {
    is_b62(b) || b == b'+' || b == b'/'
}
fn is_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}
fn is_b36(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_lowercase()
}
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Textbook bitwise CRC-32 (reflected 0xEDB88320).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            if crc & 1 == 1 {
                crc = (crc >> 1) ^ 0xEDB8_8320;
            } else {
                crc >>= 1;
            }
        }
    }
    !crc
}

/// `value` in `digits`' base, left-padded to `width`.
pub fn render(mut value: u64, digits: &[u8], width: usize) -> Vec<u8> {
    let mut out = vec![digits[0]; width];
    let base = digits.len() as u64;
    for i in (0..width).rev() {
        out[i] = digits[(value % base) as usize];
        value /= base;
    }
    out
}

pub const B62_DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const B36_DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
pub const HEX_UPPER: &[u8] = b"0123456789ABCDEF";

/// Length of the run of bytes satisfying `f` at `text[i..]`.
fn run_len(text: &[u8], i: usize, f: impl Fn(u8) -> bool) -> usize {
    let mut n = 0;
    while i + n < text.len() && f(text[i + n]) {
        n += 1;
    }
    n
}

/// Whether the token ending at `end` is followed by the end or a byte
/// outside B64U.
fn ends_ok(text: &[u8], end: usize) -> bool {
    end == text.len() || !is_b64u(text[end])
}

fn token_start_ok(text: &[u8], i: usize) -> bool {
    i == 0 || !is_b64u(text[i - 1])
}

/// Decodes Base64 of `alphabet` (64 characters), no padding, ignoring
/// unused trailing bits; `None` on a bad length or byte.
fn decode(text: &[u8], alphabet: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for &c in text {
        let v = alphabet.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

const STD: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Simple rows: prefixes, one run class with min/max, check, mask offset.
type Simple = (
    &'static str,
    &'static [&'static str],
    fn(u8) -> bool,
    usize,
    usize,
);

fn b32u(b: u8) -> bool {
    b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)
}
fn b62dash(b: u8) -> bool {
    is_b62(b) || b == b'-'
}
fn b64ueq(b: u8) -> bool {
    is_b64u(b) || b == b'='
}

const SIMPLE: &[Simple] = &[
    (
        "gitlab",
        &[
            "glpat-",
            "gldt-",
            "glrt-",
            "glft-",
            "glsoat-",
            "glffct-",
            "GR1348941",
        ],
        is_b64u,
        20,
        20,
    ),
    ("gitlab", &["glptt-"], is_hex, 40, 40),
    (
        "pypi",
        &["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"],
        is_b64u,
        50,
        1000,
    ),
    ("aws", &["AKIA", "ASIA", "ABIA", "ACCA"], b32u, 16, 16),
    (
        "slack",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xoxc-", "xoxd-", "xapp-",
        ],
        b62dash,
        20,
        255,
    ),
    (
        "stripe",
        &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        is_b62,
        10,
        247,
    ),
    ("stripe", &["whsec_"], is_b62, 32, 64),
    ("google", &["AIza"], is_b64u, 35, 35),
    ("google", &["GOCSPX-"], is_b64u, 28, 28),
    ("google", &["ya29."], is_b64u, 20, 2048),
    ("dockerhub", &["dckr_pat_"], is_b64u, 27, 27),
    ("dockerhub", &["dckr_oat_"], is_b64u, 32, 32),
    ("vault", &["hvs.", "hvb.", "hvr."], is_b64u, 24, 512),
    ("atlassian", &["ATATT3"], b64ueq, 186, 186),
    (
        "openai",
        &["sk-proj-", "sk-svcacct-", "sk-admin-"],
        is_b64u,
        40,
        512,
    ),
    (
        "anthropic",
        &["sk-ant-api03-", "sk-ant-admin01-"],
        is_b64u,
        80,
        160,
    ),
    (
        "github",
        &["ghp_", "gho_", "ghu_", "ghs_", "npm_"],
        is_b62,
        36,
        36,
    ),
    ("github", &["ghr_"], is_b62, 76, 76),
];

fn simple_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if !token_start_ok(text, i) {
        return;
    }
    for &(name, prefixes, class, min, max) in SIMPLE {
        for p in prefixes {
            let p = p.as_bytes();
            if !text[i..].starts_with(p) {
                continue;
            }
            let b = i + p.len();
            let n = run_len(text, b, class);
            if n < min || n > max || !ends_ok(text, b + n) {
                continue;
            }
            let body = &text[b..b + n];
            let mut name = name;
            let mut mask_start = b;
            let ok = match name {
                "github" => {
                    if p == b"npm_" {
                        name = "npm";
                    }
                    let (data, sum) = body.split_at(body.len() - 6);
                    sum == render(crc32(data) as u64, B62_DIGITS, 6)
                }
                "slack" => body.contains(&b'-'),
                "atlassian" => {
                    let all = &text[i..b + n];
                    let (data, sum) = all.split_at(all.len() - 8);
                    sum == render(crc32(data) as u64, HEX_UPPER, 8)
                }
                "openai" => {
                    mask_start = i + 3;
                    body.windows(8).any(|w| w == b"T3BlbkFJ")
                }
                "anthropic" => {
                    mask_start = i + 7;
                    body.ends_with(b"AA")
                }
                "pypi" => {
                    mask_start = i + 5;
                    true
                }
                _ => true,
            };
            if ok {
                out.push(Hit {
                    start: mask_start,
                    end: b + n,
                    name,
                });
            }
        }
    }
}

fn github_pat_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    let p = b"github_pat_";
    if !token_start_ok(text, i) || !text[i..].starts_with(p) {
        return;
    }
    let a = i + p.len();
    let n1 = run_len(text, a, is_b62);
    if n1 != 22 || text.get(a + 22) != Some(&b'_') {
        return;
    }
    let n2 = run_len(text, a + 23, is_b62);
    if n2 == 59 && ends_ok(text, a + 23 + 59) {
        out.push(Hit {
            start: a,
            end: a + 23 + 59,
            name: "github",
        });
    }
}

fn ghs_jwt_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if !token_start_ok(text, i) || !text[i..].starts_with(b"ghs_") {
        return;
    }
    let d = run_len(text, i + 4, |b| b.is_ascii_digit());
    if !(1..=20).contains(&d) || text.get(i + 4 + d) != Some(&b'_') {
        return;
    }
    if let Some(end) = jwt_from(text, i + 5 + d) {
        out.push(Hit {
            start: i + 4,
            end,
            name: "github",
        });
    }
}

fn gitlab_routable_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if !token_start_ok(text, i) {
        return;
    }
    for p in [&b"glpat-"[..], b"glrt-"] {
        if !text[i..].starts_with(p) {
            continue;
        }
        let a = i + p.len();
        let plen = run_len(text, a, is_b64u);
        if !(27..=300).contains(&plen) || text.get(a + plen) != Some(&b'.') {
            continue;
        }
        let mut j = a + plen + 1;
        let r = run_len(text, j, is_b36);
        if r == 2 && text.get(j + 2) == Some(&b'.') {
            j += 3;
        }
        let r = run_len(text, j, is_b36);
        if r != 9 || !ends_ok(text, j + 9) {
            continue;
        }
        let l = &text[j..j + 2];
        let c = &text[j + 2..j + 9];
        if l == render(plen as u64, B36_DIGITS, 2)
            && c == render(crc32(&text[i..j + 2]) as u64, B36_DIGITS, 7)
        {
            out.push(Hit {
                start: a,
                end: j + 9,
                name: "gitlab",
            });
        }
    }
}

/// The end of a `jwt` credential starting at `i`, start rule aside.
fn jwt_from(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut parts = Vec::new();
    for k in 0..3 {
        if k < 2 && !text[j..].starts_with(b"eyJ") {
            return None;
        }
        let n = run_len(text, j, is_b64u);
        if k < 2 && n < 11 {
            return None;
        }
        parts.push((j, j + n));
        j += n;
        if k < 2 {
            if text.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
    }
    if j < text.len() && (is_b64u(text[j]) || text[j] == b'.') {
        return None;
    }
    if j - i > 16 * 1024 {
        return None;
    }
    let header = decode(&text[parts[0].0..parts[0].1], URL)?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let alg = v.as_object()?.get("alg")?;
    let none = alg == "none";
    if parts[2].0 == parts[2].1 && !none {
        return None;
    }
    Some(j)
}

fn jwt_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if i > 0 && (is_b64u(text[i - 1]) || text[i - 1] == b'.') {
        return;
    }
    if let Some(end) = jwt_from(text, i) {
        out.push(Hit {
            start: i,
            end,
            name: "jwt",
        });
    }
}

fn webhook_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    let p = b"https://hooks.slack.com/services/";
    if !token_start_ok(text, i) || !text[i..].starts_with(p) {
        return;
    }
    let up = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let mut j = i + p.len();
    for first in [b'T', b'B'] {
        let n = run_len(text, j, up);
        if text.get(j) != Some(&first) || !(9..=12).contains(&n) || text.get(j + n) != Some(&b'/') {
            return;
        }
        j += n + 1;
    }
    let n = run_len(text, j, is_b62);
    if n == 24 && ends_ok(text, j + 24) {
        out.push(Hit {
            start: j,
            end: j + 24,
            name: "slack",
        });
    }
}

fn scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'.' || b == b'-'
}

fn url_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if !text[i].is_ascii_alphabetic() || (i > 0 && scheme_byte(text[i - 1])) {
        return;
    }
    let n = run_len(text, i, scheme_byte);
    if n > 32 || !text[i + n..].starts_with(b"://") {
        return;
    }
    let a = i + n + 3;
    let mut e = a;
    while e < text.len() {
        let b = text[e];
        if b == b'/' || b == b'?' || b == b'#' || b == b' ' || b < 0x20 || b == 0x7f {
            break;
        }
        e += 1;
    }
    // Decision noted in the README: authorities over 1024 bytes are not read.
    if e - a > 1024 {
        return;
    }
    let Some(colon) = (a..e).find(|&k| text[k] == b':') else {
        return;
    };
    let Some(at) = (colon..e).rev().find(|&k| text[k] == b'@') else {
        return;
    };
    let pw = &text[colon + 1..at];
    if at - a - 1 > 256 || pw.is_empty() || pw.iter().all(|&b| b == b'*') {
        return;
    }
    out.push(Hit {
        start: colon + 1,
        end: at,
        name: "url-credentials",
    });
}

fn param_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if text[i] != b'?' && text[i] != b'&' {
        return;
    }
    let names = [
        "access_token",
        "private_token",
        "client_secret",
        "sig",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "X-Goog-Signature",
    ];
    for name in names {
        let mut want = name.as_bytes().to_vec();
        want.push(b'=');
        if !text[i + 1..].starts_with(&want) {
            continue;
        }
        let v = i + 1 + want.len();
        let n = run_len(text, v, |b| !b"&#\"'<> \t\r\n".contains(&b));
        if (1..=4096).contains(&n) {
            out.push(Hit {
                start: v,
                end: v + n,
                name: "url-credentials",
            });
        }
    }
}

/// Skips optional whitespace (at most 16 bytes): `None` when longer.
fn skip_ws(text: &[u8], j: usize) -> Option<usize> {
    let n = run_len(text, j, is_ws);
    (n <= 16).then_some(j + n)
}

fn skip_quote(text: &[u8], j: usize) -> usize {
    if j < text.len() && (text[j] == b'"' || text[j] == b'\'') {
        j + 1
    } else {
        j
    }
}

/// `key` + optional quote + ws + one of `seps` + ws + optional quote.
fn after_key(text: &[u8], i: usize, key: &[u8], fold: bool, seps: &[u8]) -> Option<usize> {
    let got = text.get(i..i + key.len())?;
    let same = if fold {
        got.eq_ignore_ascii_case(key)
    } else {
        got == key
    };
    if !same || (i > 0 && text[i - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let mut j = skip_quote(text, i + key.len());
    j = skip_ws(text, j)?;
    if j >= text.len() || !seps.contains(&text[j]) {
        return None;
    }
    j = skip_ws(text, j + 1)?;
    Some(skip_quote(text, j))
}

fn aws_secret_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    for key in [
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "SecretAccessKey",
    ] {
        let Some(v) = after_key(text, i, key.as_bytes(), false, b"=:") else {
            continue;
        };
        let n = run_len(text, v, is_b64);
        if n == 40 && !text[v..v + 40].iter().all(|&b| is_hex(b)) {
            out.push(Hit {
                start: v,
                end: v + 40,
                name: "aws",
            });
        }
    }
}

fn authorization_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    let Some(mut j) = after_key(text, i, b"authorization", true, b":=") else {
        return;
    };
    let mut scheme = None;
    for s in ["Basic", "Bearer", "token", "Bot"] {
        if text.len() >= j + s.len() && text[j..j + s.len()].eq_ignore_ascii_case(s.as_bytes()) {
            scheme = Some(s.len());
        }
    }
    let Some(len) = scheme else { return };
    j += len;
    let w = run_len(text, j, is_ws);
    if !(1..=16).contains(&w) {
        return;
    }
    j += w;
    let n = run_len(text, j, |b| !b" \t\"',\r\n".contains(&b));
    if (8..=8192).contains(&n) {
        out.push(Hit {
            start: j,
            end: j + n,
            name: "authorization",
        });
    }
}

/// A PEM header at `i`: its end.
fn header_at(text: &[u8], i: usize) -> Option<usize> {
    let begin = b"-----BEGIN ";
    if !text[i..].starts_with(begin) {
        return None;
    }
    let a = i + begin.len();
    if text[a..].starts_with(b"PGP PRIVATE KEY BLOCK-----") {
        return Some(a + 26);
    }
    // Up to 40 of A-Z 0-9 space, then `PRIVATE KEY-----`.
    for k in 0..=40 {
        if a + k > text.len() {
            break;
        }
        let mid = &text[a..a + k];
        if !mid
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        {
            break;
        }
        if text[a + k..].starts_with(b"PRIVATE KEY-----") {
            return Some(a + k + 16);
        }
    }
    None
}

fn escaped_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    let Some(h) = header_at(text, i) else { return };
    // Lines form when only whitespace follows on the line.
    let mut k = h;
    while k < text.len() && is_ws(text[k]) {
        k += 1;
    }
    if k == text.len() || text[k] == b'\n' || (text[k] == b'\r' && text.get(k + 1) == Some(&b'\n'))
    {
        return;
    }
    let mut j = h;
    loop {
        if j < text.len() && (is_b64(text[j]) || text[j] == b'=' || is_ws(text[j])) {
            j += 1;
        } else if text[j..].starts_with(b"\\n") || text[j..].starts_with(b"\\r") {
            j += 2;
        } else if text[j..].starts_with(b"\\\\n") || text[j..].starts_with(b"\\\\r") {
            j += 3;
        } else {
            break;
        }
    }
    // SPEC 7: the whole run, however long.
    if j > h {
        out.push(Hit {
            start: h,
            end: j,
            name: "private-key",
        });
    }
}

fn base64_pem_at(text: &[u8], i: usize, out: &mut Vec<Hit>) {
    if !text[i..].starts_with(b"LS0tLS1CRUdJTi") || (i > 0 && is_b64(text[i - 1])) {
        return;
    }
    let n = run_len(text, i, is_b64);
    if n < 60 {
        return;
    }
    let Some(decoded) = decode(&text[i..i + n / 4 * 4], STD) else {
        return;
    };
    if header_at(&decoded, 0).is_none() {
        return;
    }
    let mut end = i + n;
    let mut pad = 0;
    while pad < 2 && text.get(end) == Some(&b'=') {
        end += 1;
        pad += 1;
    }
    // Masked whole, however long (SPEC 7).
    out.push(Hit {
        start: i,
        end,
        name: "private-key",
    });
    // Wrapped: a first line of exactly 76 or 64 that ends its line.
    let width = end - i;
    if width != 64 && width != 76 {
        return;
    }
    let mut s = if text[end..].starts_with(b"\n") {
        end + 1
    } else if text[end..].starts_with(b"\r\n") {
        end + 2
    } else {
        return;
    };
    loop {
        // SPEC 3: a last line without its line break counts as complete.
        let k = match text[s..].iter().position(|&b| b == b'\n') {
            Some(k) => k,
            None if s < text.len() => text.len() - s,
            None => return,
        };
        let mut ce = s + k;
        if ce > s && text[ce - 1] == b'\r' {
            ce -= 1;
        }
        let content = &text[s..ce];
        let Some(a) = content.iter().position(|&b| !is_ws(b)) else {
            return;
        };
        let b = content.iter().rposition(|&b| !is_ws(b)).unwrap();
        let t = &content[a..=b];
        if t.len() > width || !t.iter().all(|&c| is_b64(c) || c == b'=') {
            return;
        }
        out.push(Hit {
            start: s + a,
            end: s + b + 1,
            name: "private-key",
        });
        if t.len() < width || s + k == text.len() {
            return;
        }
        s += k + 1;
    }
}

/// The lines form: after a line whose trimmed content ends with a header.
fn pem_lines(text: &[u8], out: &mut Vec<Hit>) {
    // Lines as (start, content end, whether a line break ends it).
    let mut lines = Vec::new();
    let mut s = 0;
    while s < text.len() {
        match text[s..].iter().position(|&b| b == b'\n') {
            Some(k) => {
                let mut ce = s + k;
                if ce > s && text[ce - 1] == b'\r' {
                    ce -= 1;
                }
                lines.push((s, ce, true));
                s += k + 1;
            }
            None => {
                // SPEC 3: handled as if it ended with a line break.
                let mut ce = text.len();
                if ce > s && text[ce - 1] == b'\r' {
                    ce -= 1;
                }
                lines.push((s, ce, false));
                s = text.len();
            }
        }
    }
    for (n, &(ls, ce, _)) in lines.iter().enumerate() {
        let mut e = ce;
        while e > ls && is_ws(text[e - 1]) {
            e -= 1;
        }
        let ends_with_header = (ls..e).any(|h| header_at(&text[..e], h) == Some(e));
        if !ends_with_header {
            continue;
        }
        let block_start = match lines.get(n + 1) {
            Some(&(s, _, _)) => s,
            None => continue,
        };
        for &(s, ce, _) in &lines[n + 1..] {
            if ce - s > 4096 || s - block_start >= 64 * 1024 {
                break;
            }
            let content = &text[s..ce];
            let lead = run_len(content, 0, is_ws);
            if content[lead..].starts_with(b"-----END ") {
                break;
            }
            if !content
                .iter()
                .all(|&b| is_b64(b) || b"= \t:,-".contains(&b))
            {
                break;
            }
            let first = content.iter().position(|&b| !is_ws(b));
            let last = content.iter().rposition(|&b| !is_ws(b));
            if let (Some(a), Some(b)) = (first, last) {
                out.push(Hit {
                    start: s + a,
                    end: s + b + 1,
                    name: "private-key",
                });
            }
        }
    }
}

/// Every detected credential in `text`, all detectors on.
pub fn detect(text: &[u8]) -> Vec<Hit> {
    let mut out = Vec::new();
    for i in 0..text.len() {
        simple_at(text, i, &mut out);
        github_pat_at(text, i, &mut out);
        ghs_jwt_at(text, i, &mut out);
        gitlab_routable_at(text, i, &mut out);
        jwt_at(text, i, &mut out);
        webhook_at(text, i, &mut out);
        url_at(text, i, &mut out);
        param_at(text, i, &mut out);
        aws_secret_at(text, i, &mut out);
        authorization_at(text, i, &mut out);
        escaped_at(text, i, &mut out);
        base64_pem_at(text, i, &mut out);
    }
    pem_lines(text, &mut out);
    out.retain(|h| h.start < h.end);
    out
}

/// The naive masker with detection and no registered secrets: the union
/// of detected parts and of occurrences, on later lines, of the variants
/// of parts detected (at least 8 bytes) on earlier ones.
pub fn mask(text: &[u8], replacement: &[u8]) -> Vec<u8> {
    let hits = detect(text);
    let mut masked = vec![false; text.len()];
    for h in &hits {
        for m in &mut masked[h.start..h.end] {
            *m = true;
        }
    }
    // Line starts.
    let mut line_of = vec![0usize; text.len() + 1];
    let mut line = 0;
    let mut starts = vec![0];
    for (i, &b) in text.iter().enumerate() {
        line_of[i] = line;
        if b == b'\n' {
            line += 1;
            starts.push(i + 1);
        }
    }
    line_of[text.len()] = line;
    let config = logmask::Config::default();
    // SPEC 7: a part that is already a variant (of a part registered
    // before it) is not registered again, so its own forms are not added.
    // Parts are registered in the order their credentials end.
    let mut order: Vec<&Hit> = hits.iter().collect();
    order.sort_by_key(|h| (h.end, h.start));
    let mut known: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    for h in order {
        // SPEC 7: at least 8 bytes; SPEC 1.6: a value is at most 64 KiB.
        if h.end - h.start < 8 || h.end - h.start > 64 * 1024 {
            continue;
        }
        let part = &text[h.start..h.end];
        if known.contains(part) {
            continue;
        }
        let from_line = line_of[h.end - 1] + 1;
        let variants = if opens_json(part) {
            let Ok(variants) = logmask::expand(part, &config) else {
                continue;
            };
            variants
        } else {
            expander::naive_variants(part, config.min_length)
        };
        known.extend(variants.iter().cloned());
        let Some(&from) = starts.get(from_line) else {
            continue;
        };
        for v in variants {
            if v.is_empty() {
                continue;
            }
            for i in from..text.len() {
                if text[i..].starts_with(&v) {
                    for m in &mut masked[i..i + v.len()] {
                        *m = true;
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if masked[i] {
            out.extend_from_slice(replacement);
            while i < text.len() && masked[i] {
                i += 1;
            }
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// Whether a value, or what it decodes to as Base64 (either alphabet,
/// padding dropped) or hex, is a JSON object or array: SPEC 1.4 opens
/// those, and the naive expander does not.
fn opens_json(value: &[u8]) -> bool {
    let json = |v: &[u8]| {
        matches!(
            serde_json::from_slice::<serde_json::Value>(v),
            Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_))
        )
    };
    // Trimmed first, as every value is (SPEC 1.1).
    let value = value.trim_ascii();
    let unpadded = value
        .strip_suffix(b"==")
        .or(value.strip_suffix(b"="))
        .unwrap_or(value);
    let hex =
        (value.len().is_multiple_of(2) && value.iter().all(u8::is_ascii_hexdigit)).then(|| {
            value
                .chunks(2)
                .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
                .collect::<Vec<u8>>()
        });
    json(value)
        || [STD, URL]
            .iter()
            .filter_map(|a| decode(unpadded, a))
            .chain(hex)
            .any(|d| json(&d))
}
