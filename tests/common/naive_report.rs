//! A naive report oracle, written from SPEC 2 and 8 alone and sharing no
//! code with the engine: expand each value into (variant, form) pairs for
//! the encodings `raw`, `base64` and `url`, mark every occurrence of every
//! variant line by line (an `::add-mask::` line registers for the lines
//! after it and is itself consumed), cut the marks into maximal runs and
//! name, for each run, every (source, form) pair with an occurrence in it.
#![allow(dead_code, clippy::needless_range_loop)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Forms in SPEC 1.3's order (the subset the oracle knows).
pub const FORMS: [&str; 3] = ["raw", "base64", "url"];

/// One expected run, in the shape tests compare: offset, line, column,
/// length and matches rendered `SOURCE (FORM)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NaiveRun {
    pub offset: u64,
    pub line: u64,
    pub column: u64,
    pub length: u64,
    pub matches: Vec<String>,
}

/// The (variant, form) pairs of a one-line printable value with
/// encodings raw, base64 and url; the first form producing a variant wins.
pub fn tagged_variants(value: &[u8], min_length: usize) -> Vec<(Vec<u8>, &'static str)> {
    let trimmed: &[u8] = {
        let start = value
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(value.len());
        let end = value
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(start, |e| e + 1);
        &value[start..end]
    };
    let mut out: Vec<(Vec<u8>, &'static str)> = Vec::new();
    if trimmed.len() < min_length {
        return out;
    }
    let floor = min_length.max(4);
    let push = |v: Vec<u8>, form: &'static str, out: &mut Vec<(Vec<u8>, &'static str)>| {
        let long_enough = if form == "raw" {
            v.len() >= min_length
        } else {
            v.len() >= floor
        };
        if !v.is_empty() && long_enough && !out.iter().any(|(seen, _)| *seen == v) {
            out.push((v, form));
        }
    };
    push(trimmed.to_vec(), "raw", &mut out);
    // Alignment k: k filler bytes, then keep the characters whose six bits
    // come from the value alone.
    for (k, skip) in [(0usize, 0usize), (1, 2), (2, 3)] {
        let mut input = vec![0u8; k];
        input.extend_from_slice(trimmed);
        let encoded = STANDARD_NO_PAD.encode(&input);
        let full = input.len() * 8 / 6;
        if full > skip {
            push(encoded.as_bytes()[skip..full].to_vec(), "base64", &mut out);
        }
    }
    let mut upper = String::new();
    let mut lower = String::new();
    for &b in trimmed {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            upper.push(b as char);
            lower.push(b as char);
        } else {
            upper.push_str(&format!("%{b:02X}"));
            lower.push_str(&format!("%{b:02x}"));
        }
    }
    if trimmed.contains(&b' ') {
        push(upper.replace("%20", "+").into_bytes(), "url", &mut out);
        push(lower.replace("%20", "+").into_bytes(), "url", &mut out);
    }
    push(upper.into_bytes(), "url", &mut out);
    push(lower.into_bytes(), "url", &mut out);
    out
}

/// Expected runs of `input` with `secrets` (value, source label)
/// registered up front; with `commands`, `::add-mask::VALUE` lines (after
/// leading spaces and tabs) are consumed and register VALUE as
/// `stream:LINE` for the lines after them. When `report_commands`, each
/// consumed line is reported too, with the match `command`.
pub fn naive_runs(
    input: &[u8],
    secrets: &[(&[u8], &str)],
    min_length: usize,
    commands: bool,
    report_commands: bool,
    stream: &str,
) -> Vec<NaiveRun> {
    // (variant, label, form)
    let mut active: Vec<(Vec<u8>, String, &'static str)> = Vec::new();
    for (value, label) in secrets {
        for (v, form) in tagged_variants(value, min_length) {
            active.push((v, label.to_string(), form));
        }
    }
    // Per byte: masked, and the (label, form) pairs of occurrences
    // starting there (with their length).
    let mut masked = vec![false; input.len()];
    let mut starts: Vec<Vec<(usize, String, &'static str)>> = vec![Vec::new(); input.len()];
    let mut commands_found: Vec<(usize, usize, u64)> = Vec::new();
    let mut line_start = 0usize;
    let mut line_no = 1u64;
    while line_start < input.len() {
        let line_end = input[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |k| line_start + k + 1);
        let line = &input[line_start..line_end];
        let mut content = line.strip_suffix(b"\n").unwrap_or(line);
        content = content.strip_suffix(b"\r").unwrap_or(content);
        let ws = content
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if commands && content[ws..].starts_with(b"::add-mask::") {
            let value = &content[ws + b"::add-mask::".len()..];
            commands_found.push((line_start, content.len(), line_no));
            let label = format!("{stream}:{line_no}");
            for (v, form) in tagged_variants(value, min_length) {
                active.push((v, label.clone(), form));
            }
        } else {
            for at in line_start..line_end {
                for (v, label, form) in &active {
                    if input[at..line_end].starts_with(v) {
                        masked[at..at + v.len()].fill(true);
                        starts[at].push((v.len(), label.clone(), form));
                    }
                }
            }
        }
        line_start = line_end;
        line_no += 1;
    }
    let position = |offset: usize| {
        let before = &input[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
        let column = match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => (offset - nl) as u64,
            None => offset as u64 + 1,
        };
        (line, column)
    };
    let mut runs: Vec<NaiveRun> = Vec::new();
    let mut i = 0;
    while i < input.len() {
        if !masked[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < input.len() && masked[i] {
            i += 1;
        }
        let mut pairs: Vec<(String, usize)> = Vec::new();
        for at in start..i {
            for (len, label, form) in &starts[at] {
                assert!(at + len <= i, "an occurrence lies inside one run");
                let rank = FORMS.iter().position(|f| f == form).unwrap();
                if !pairs.contains(&(label.clone(), rank)) {
                    pairs.push((label.clone(), rank));
                }
            }
        }
        pairs.sort();
        let (line, column) = position(start);
        runs.push(NaiveRun {
            offset: start as u64,
            line,
            column,
            length: (i - start) as u64,
            matches: pairs
                .into_iter()
                .map(|(label, rank)| format!("{label} ({})", FORMS[rank]))
                .collect(),
        });
    }
    if report_commands {
        for (offset, length, line) in commands_found {
            runs.push(NaiveRun {
                offset: offset as u64,
                line,
                column: 1,
                length: length as u64,
                matches: vec!["command".to_string()],
            });
        }
        runs.sort_by_key(|r| r.offset);
    }
    runs
}
