//! A naive masker and a naive variant expander, written independently of
//! the engine: the obviously correct answers the engine is compared to.
//! The one oracle of the project: the engine's tests, the CLI tests and
//! the fuzz crate (`fuzz/src/props.rs`) include this file by path.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// A seeded generator for tests that want the same inputs on every run
/// (Knuth's MMIX multiplier, the high bits kept).
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Marks every byte covered by any occurrence of any variant.
pub fn marks(input: &[u8], variants: &[Vec<u8>]) -> Vec<bool> {
    let mut masked = vec![false; input.len()];
    for v in variants.iter().filter(|v| !v.is_empty()) {
        for start in 0..input.len() {
            if input[start..].starts_with(v) {
                masked[start..start + v.len()].fill(true);
            }
        }
    }
    masked
}

/// Writes `input` with each maximal masked run replaced once.
pub fn render(input: &[u8], masked: &[bool], replacement: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..input.len() {
        if !masked[i] {
            out.push(input[i]);
        } else if i == 0 || !masked[i - 1] {
            out.extend_from_slice(replacement);
        }
    }
    out
}

/// The whole masked output.
pub fn mask(input: &[u8], variants: &[Vec<u8>]) -> Vec<u8> {
    mask_with(input, variants, b"***")
}

/// The whole masked output, with `replacement` for each run.
pub fn mask_with(input: &[u8], variants: &[Vec<u8>], replacement: &[u8]) -> Vec<u8> {
    render(input, &marks(input, variants), replacement)
}

/// What must have been written after seeing only `prefix` of a stream:
/// everything before the longest suffix that is a proper prefix of a
/// variant, and the masked bytes that directly follow.
pub fn decided_output(prefix: &[u8], variants: &[Vec<u8>]) -> Vec<u8> {
    decided_output_with(prefix, variants, b"***")
}

/// [`decided_output`] with `replacement` for each run.
pub fn decided_output_with(prefix: &[u8], variants: &[Vec<u8>], replacement: &[u8]) -> Vec<u8> {
    let masked = marks(prefix, variants);
    let pending = (1..=prefix.len())
        .rev()
        .find(|&h| {
            let tail = &prefix[prefix.len() - h..];
            variants.iter().any(|v| v.len() > h && v.starts_with(tail))
        })
        .unwrap_or(0);
    let mut cut = prefix.len() - pending;
    while cut < prefix.len() && masked[cut] {
        cut += 1;
    }
    render(&prefix[..cut], &masked[..cut], replacement)
}

/// The one feed-at-cuts harness: writes `input` to `writer` in pieces cut
/// at `cuts` (any order, duplicates allowed; 0 and the end are added), and
/// after each write calls `after(writer, end)` with the number of input
/// bytes written so far, for the caller's checks.
pub fn feed_at_cuts<W: std::io::Write>(
    writer: &mut W,
    input: &[u8],
    cuts: &[usize],
    mut after: impl FnMut(&W, usize),
) {
    let mut cuts = cuts.to_vec();
    cuts.extend([0, input.len()]);
    cuts.sort();
    for w in cuts.windows(2) {
        writer.write_all(&input[w[0]..w[1]]).unwrap();
        after(writer, w[1]);
    }
}

/// The variants of one value under the default settings (every encoding
/// of SPEC 1.3, `decoded` included), written from the specification's
/// words. Sorted, each once. JSON values are not opened (SPEC 1.4): test
/// them elsewhere.
pub fn naive_variants(value: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    let mut out = naive_expand(value, min_length, true);
    out.sort();
    out.dedup();
    out
}

/// The same without `decoded`: the variants of a value that is not decoded.
pub fn naive_variants_undecoded(value: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    let mut out = naive_expand(value, min_length, false);
    out.sort();
    out.dedup();
    out
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn naive_trim(value: &[u8], also_breaks: bool) -> &[u8] {
    let trimmed = |b: &u8| *b == b' ' || *b == b'\t' || (also_breaks && is_break(*b));
    let mut start = 0;
    let mut end = value.len();
    while start < end && trimmed(&value[start]) {
        start += 1;
    }
    while end > start && trimmed(&value[end - 1]) {
        end -= 1;
    }
    &value[start..end]
}

fn naive_expand(value: &[u8], min_length: usize, decode: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // SPEC 1.1: a UTF-8 byte order mark at the start is not part of it.
    let value = value.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(value);
    let whole = naive_trim(value, true);
    if whole.len() < min_length {
        return out;
    }
    let floor = min_length.max(4);
    let keep = |form: &Vec<u8>, least: usize| {
        !form.is_empty() && form.len() >= least && !form.iter().any(|&b| is_break(b))
    };
    let mut lines = Vec::new();
    for line in whole.split(|&b| is_break(b)) {
        let line = naive_trim(line, false);
        if line.len() >= min_length {
            lines.push(line);
        }
    }
    for line in &lines {
        if keep(&line.to_vec(), min_length) {
            out.push(line.to_vec());
        }
        out.extend(naive_forms(line).into_iter().filter(|f| keep(f, floor)));
    }
    if whole.iter().any(|&b| is_break(b)) {
        out.extend(naive_forms(whole).into_iter().filter(|f| keep(f, floor)));
    }
    if decode {
        for line in &lines {
            if line.len() < 8 {
                continue;
            }
            let decodings = [
                naive_base64_decode(line, NAIVE_STANDARD),
                naive_base64_decode(line, NAIVE_URL_SAFE),
                naive_hex_decode(line),
            ];
            for decoding in decodings.into_iter().flatten() {
                let text = std::str::from_utf8(&decoding).is_ok()
                    && decoding
                        .iter()
                        .all(|&b| b >= 0x20 || b == b'\t' || b == b'\r' || b == b'\n');
                if text && decoding.len() >= min_length.max(8) {
                    out.extend(naive_expand(&decoding, min_length, false));
                }
            }
        }
    }
    out
}

const NAIVE_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const NAIVE_URL_SAFE: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 in one alphabet, unpadded or padded to a multiple of 4, unused
/// trailing bits zero; else `None`.
fn naive_base64_decode(line: &[u8], alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let mut body = line;
    if line.ends_with(b"=") {
        if !line.len().is_multiple_of(4) {
            return None;
        }
        body = line
            .strip_suffix(b"==")
            .or(line.strip_suffix(b"="))
            .unwrap();
    }
    if body.len() % 4 == 1 {
        return None;
    }
    let mut bits: Vec<bool> = Vec::new();
    for &c in body {
        let index = alphabet.iter().position(|&a| a == c)?;
        for shift in (0..6).rev() {
            bits.push(index >> shift & 1 == 1);
        }
    }
    let whole_bytes = bits.len() / 8;
    if bits[whole_bytes * 8..].iter().any(|&bit| bit) {
        return None;
    }
    // Canonical padding: exactly what makes the length a multiple of 4.
    if line.len() != body.len() && line.len() - body.len() != (4 - body.len() % 4) % 4 {
        return None;
    }
    Some(
        bits[..whole_bytes * 8]
            .chunks(8)
            .map(|byte| byte.iter().fold(0u8, |acc, &bit| acc << 1 | u8::from(bit)))
            .collect(),
    )
}

fn naive_hex_decode(line: &[u8]) -> Option<Vec<u8>> {
    if !line.len().is_multiple_of(2) || !line.iter().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    (0..text.len())
        .step_by(2)
        .map(|i| {
            let pair = &text[i..i + 2];
            if pair.chars().all(|c| c.is_ascii_hexdigit()) {
                u8::from_str_radix(pair, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

/// Lines of `columns`, the last kept only when at least 16 long.
fn naive_pieces(text: &[u8], columns: usize) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = (start + columns).min(text.len());
        if end - start == columns || end - start >= 16 {
            pieces.push(text[start..end].to_vec());
        }
        start = end;
    }
    pieces
}

/// Every non-raw form of SPEC 1.3, unfiltered, with repeats.
fn naive_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    // base64 and base64url at three alignments; wrapped standard pieces.
    for (alphabet_index, engine) in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD].into_iter().enumerate() {
        for (k, skip) in [(0usize, 0usize), (1, 2), (2, 3)] {
            let mut input = vec![0u8; k];
            input.extend_from_slice(value);
            let encoded = engine.encode(&input);
            let full = input.len() * 8 / 6;
            if full > skip {
                let form = encoded.as_bytes()[skip..full].to_vec();
                if alphabet_index == 0 && k == 0 {
                    if value.len() > 57 {
                        forms.extend(naive_pieces(&form, 76));
                    }
                    if value.len() > 48 {
                        forms.extend(naive_pieces(&form, 64));
                    }
                }
                forms.push(form);
            }
        }
    }
    // url: RFC 3986, JavaScript's encodeURIComponent, Python's quote.
    for kept in [&b""[..], b"!'()*", b"/"] {
        for upper_hex in [true, false] {
            let mut encoded = Vec::new();
            for &b in value {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || kept.contains(&b) {
                    encoded.push(b);
                } else if upper_hex {
                    encoded.extend_from_slice(format!("%{b:02X}").as_bytes());
                } else {
                    encoded.extend_from_slice(format!("%{b:02x}").as_bytes());
                }
            }
            if kept.is_empty() && value.contains(&b' ') {
                let mut plus = Vec::new();
                for &b in value {
                    if b == b' ' {
                        plus.push(b'+');
                    } else if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        plus.push(b);
                    } else if upper_hex {
                        plus.extend_from_slice(format!("%{b:02X}").as_bytes());
                    } else {
                        plus.extend_from_slice(format!("%{b:02x}").as_bytes());
                    }
                }
                forms.push(plus);
            }
            forms.push(encoded);
        }
    }
    // json: serde_json, Python (ASCII, lower hex), .NET (upper), Go, PHP.
    if let Ok(text) = std::str::from_utf8(value) {
        let mut serde = String::new();
        let mut python = String::new();
        let mut dotnet = String::new();
        let mut go = String::new();
        let mut php = String::new();
        for c in text.chars() {
            let short = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '\u{8}' => Some("\\b"),
                '\u{c}' => Some("\\f"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                _ => None,
            };
            let serde_c = match short {
                Some(e) => e.to_string(),
                None if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32),
                None => c.to_string(),
            };
            let mut units = [0u16; 2];
            let (ascii_lower, ascii_upper) = match short {
                Some(e) => (e.to_string(), e.to_string()),
                None if (c as u32) < 0x20 || (c as u32) >= 0x7f => {
                    let mut lower = String::new();
                    let mut upper = String::new();
                    for unit in c.encode_utf16(&mut units) {
                        lower.push_str(&format!("\\u{:04x}", unit));
                        upper.push_str(&format!("\\u{:04X}", unit));
                    }
                    (lower, upper)
                }
                None => (c.to_string(), c.to_string()),
            };
            python.push_str(&ascii_lower);
            dotnet.push_str(&ascii_upper);
            match c {
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    go.push_str(&format!("\\u{:04x}", c as u32))
                }
                _ => go.push_str(&serde_c),
            }
            if c == '/' {
                php.push_str("\\/");
            } else {
                php.push_str(&serde_c);
            }
            serde.push_str(&serde_c);
        }
        for form in [serde, python, dotnet, go, php] {
            forms.push(form.into_bytes());
        }
    }
    // xml and command.
    let mut xml = Vec::new();
    let mut command = Vec::new();
    for &b in value {
        match b {
            b'&' => xml.extend_from_slice(b"&amp;"),
            b'<' => xml.extend_from_slice(b"&lt;"),
            b'>' => xml.extend_from_slice(b"&gt;"),
            b'"' => xml.extend_from_slice(b"&quot;"),
            b'\'' => xml.extend_from_slice(b"&apos;"),
            _ => xml.push(b),
        }
        match b {
            b'%' => command.extend_from_slice(b"%25"),
            b'\r' => command.extend_from_slice(b"%0D"),
            b'\n' => command.extend_from_slice(b"%0A"),
            _ => command.push(b),
        }
    }
    forms.push(xml);
    forms.push(command);
    // hex: lower, upper, xxd -p pieces.
    let lower: String = value.iter().map(|b| format!("{b:02x}")).collect();
    let upper: String = value.iter().map(|b| format!("{b:02X}")).collect();
    if value.len() > 30 {
        forms.extend(naive_pieces(lower.as_bytes(), 60));
    }
    forms.push(lower.into_bytes());
    forms.push(upper.into_bytes());
    // shell: '\'' and '"'"' for every quote; bash printf %q.
    if value.contains(&b'\'') {
        for quote in [&b"'\\''"[..], b"'\"'\"'"] {
            let mut quoted = Vec::new();
            for &b in value {
                if b == b'\'' {
                    quoted.extend_from_slice(quote);
                } else {
                    quoted.push(b);
                }
            }
            forms.push(quoted);
        }
    }
    if std::str::from_utf8(value).is_ok() && !value.iter().any(|&b| b < 0x20 || b == 0x7f) {
        let mut quoted = Vec::new();
        for (i, &b) in value.iter().enumerate() {
            let special = b" !\"$&'()*,;<>?[\\]^`{|}".contains(&b);
            let at_start = i == 0 && (b == b'#' || b == b'~');
            let after_assign = b == b'~' && i > 0 && (value[i - 1] == b'=' || value[i - 1] == b':');
            if special || at_start || after_assign {
                quoted.push(b'\\');
            }
            quoted.push(b);
        }
        forms.push(quoted);
    }
    forms
}
