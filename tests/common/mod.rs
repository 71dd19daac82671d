//! A naive masker and a naive variant expander, written independently of
//! the engine: the obviously correct answers the engine is compared to.
//! The one oracle of the project: the engine's tests, the CLI tests and
//! the fuzz crate (`fuzz/src/props.rs`) include this file by path.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

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

/// The variants of one single-line value under the default settings
/// (SPEC 1.3), written from the specification's words.
pub fn naive_variants(value: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for (k, skip) in [(0usize, 0usize), (1, 2), (2, 3)] {
            let mut input = vec![0u8; k];
            input.extend_from_slice(value);
            let encoded = engine.encode(&input);
            let full = input.len() * 8 / 6;
            if full > skip {
                forms.push(encoded.as_bytes()[skip..full].to_vec());
            }
        }
    }
    let mut upper = Vec::new();
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            upper.push(b);
        } else {
            upper.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    let lower = String::from_utf8(upper.clone())
        .unwrap()
        .split('%')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                format!("%{}{}", part[..2].to_lowercase(), &part[2..])
            }
        })
        .collect::<String>()
        .into_bytes();
    if value.contains(&b' ') {
        for form in [&upper, &lower] {
            let s = String::from_utf8(form.clone()).unwrap();
            forms.push(s.replace("%20", "+").into_bytes());
        }
    }
    forms.push(upper);
    forms.push(lower);
    if let Ok(text) = std::str::from_utf8(value) {
        // For the printable ASCII values the tests use, both JSON forms are
        // the same: only '"' and '\' are escaped.
        if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            forms.push(text.replace('\\', "\\\\").replace('"', "\\\"").into_bytes());
        }
    }
    let xml = String::from_utf8_lossy(value)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    if std::str::from_utf8(value).is_ok() {
        forms.push(xml.into_bytes());
    }
    forms.push(
        String::from_utf8_lossy(value)
            .replace('%', "%25")
            .into_bytes(),
    );
    let floor = min_length.max(4);
    let mut out: Vec<Vec<u8>> = Vec::new();
    if value.len() >= min_length {
        out.push(value.to_vec());
        out.extend(forms.into_iter().filter(|f| f.len() >= floor));
    }
    out.sort();
    out.dedup();
    out
}
