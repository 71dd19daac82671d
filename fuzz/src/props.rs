//! Generators and properties shared by the fuzz targets (`fuzz/`) and their
//! proptest versions (`tests/fuzz_props.rs`).
//!
//! Each entry point takes raw bytes and derives a case from them by hand
//! ([`Source`]), so that libFuzzer's mutations and proptest's random bytes
//! drive the very same generator, and any crash file replays as a plain
//! test. The oracle, the protocol model and the registry checks are written
//! from SPEC, independently of the engine's code. The oracle and the
//! naive variant expander are the project's one copy (`tests/common`,
//! included by path); the variants of the differential secrets come from
//! that expander wherever it covers the value ([`variants`]).
//! `logmask::expand` is still called where it does not (JSON objects and
//! arrays, other encoding sets) and by the registry property, which is
//! about expansion itself.
//!
//! - [`differential`]: secrets over a tiny alphabet, an input made of noise
//!   and (partial, repeated, encoded) secrets, split at arbitrary points;
//!   the streaming writer must write exactly what a naive masker writes on
//!   the whole input, and after each write exactly the decided prefix.
//! - [`protocol`]: lines biased toward `::add-mask::`, `::stop-commands::`
//!   and resume lines, leading whitespace, CRLF, lone CR and `%0A` escapes,
//!   through a writer with commands on; compared with a line-by-line model
//!   of SPEC 4; a registered value never appears in the output after its
//!   line, warnings come on the right lines and never hold a value.
//! - [`registry`]: arbitrary values and configurations into
//!   `logmask::expand`: no panic, refusals of the right kind, no empty,
//!   multi-line, too-short or over-long variant.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use logmask::{
    Config, DetectorSet, Encoding, EncodingSet, MAX_LINE, MAX_VALUE_LEN, MaskWriter, Refusal,
    Registry, expand,
};

// ---------------------------------------------------------------------------
// Deriving choices from bytes

/// Reads choices from fuzz input; past its end every choice is 0.
pub struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Source<'a> {
        Source { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        if n <= 256 {
            return self.byte() as usize % n;
        }
        let wide = u32::from_le_bytes([self.byte(), self.byte(), self.byte(), 0]);
        wide as usize % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability about `num/den`.
    pub fn ratio(&mut self, num: u8, den: u8) -> bool {
        self.byte() % den < num
    }

    /// One element of `items`.
    pub fn pick<'b, T: ?Sized>(&mut self, items: &[&'b T]) -> &'b T {
        items[self.below(items.len())]
    }

    /// `len` bytes drawn from `alphabet`.
    pub fn word(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }

    /// Up to `max` bytes of the input taken as they are.
    pub fn raw(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken.to_vec()
    }

    /// Cut points into a stream of `len` bytes: a few at random, or
    /// (sometimes) every byte on its own.
    pub fn cuts(&mut self, len: usize, one_byte_ok: bool) -> Vec<usize> {
        if one_byte_ok && self.ratio(1, 8) {
            return (0..=len).collect();
        }
        let n = self.below(13);
        let mut cuts: Vec<usize> = (0..n).map(|_| self.below(len + 1)).collect();
        cuts.extend([0, len]);
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}

// ---------------------------------------------------------------------------
// The naive oracle and expander: the project's one copy, tests/common

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{decided_output_with as decided_output, mask_with as naive_mask, naive_variants};

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

fn trim(value: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let start = value.iter().position(|&b| !pred(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !pred(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// The trimmed lines of a value that reach `min_length` (SPEC 1.1, 1.2).
fn long_lines(value: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    value
        .split(|&b| is_break(b))
        .map(|line| trim(line, is_blank))
        .filter(|line| !line.is_empty() && line.len() >= min_length)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The variants of `value` under `config` (raw only, or every encoding),
/// from the naive expander wherever it covers the value: every value of
/// at most 64 KiB, of any bytes and any number of lines, that is not a
/// JSON object or array (the naive expander does not open JSON, SPEC
/// 1.4). Those alone, and other encoding sets, take the engine's `expand`.
pub fn variants(value: &[u8], config: &Config) -> Vec<Vec<u8>> {
    let whole = trim(value, |b| is_blank(b) || is_break(b));
    if config.encodings.iter().eq([Encoding::Raw]) {
        raw_variants(value, config.min_length)
    } else if config.encodings == EncodingSet::all()
        && whole.len() <= MAX_VALUE_LEN
        && !whole.starts_with(b"{")
        && !whole.starts_with(b"[")
    {
        naive_variants(value, config.min_length)
    } else {
        expand(value, config).unwrap_or_default()
    }
}

/// The variants of a value that is not JSON, with `raw` the only
/// encoding, straight from SPEC 1.
pub fn raw_variants(value: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    let whole = trim(value, |b| is_blank(b) || is_break(b));
    if whole.is_empty() || whole.len() > MAX_VALUE_LEN || whole.len() < min_length {
        return Vec::new();
    }
    long_lines(whole, min_length)
}

fn show(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() > 400 {
        format!("{}...({} bytes)", &text[..400], bytes.len())
    } else {
        text
    }
}

fn show_all(values: &[Vec<u8>]) -> Vec<String> {
    values.iter().map(|v| show(v)).collect()
}

fn config(min_length: usize, all_encodings: bool) -> Config {
    Config {
        min_length,
        encodings: if all_encodings {
            EncodingSet::all()
        } else {
            [Encoding::Raw].into_iter().collect()
        },
    }
}

// ---------------------------------------------------------------------------
// Differential: the streaming writer against the naive oracle

/// One differential case.
#[derive(Debug)]
pub struct DiffCase {
    /// Registered before the stream starts.
    pub secrets: Vec<Vec<u8>>,
    /// The minimum length.
    pub min_length: usize,
    /// All encodings, or raw only.
    pub all_encodings: bool,
    /// The replacement text.
    pub replacement: Vec<u8>,
    /// The whole stream.
    pub input: Vec<u8>,
    /// Sorted cut points, 0 and `input.len()` included.
    pub cuts: Vec<usize>,
}

/// Bytes that encode differently in every encoding; no line break, no
/// JSON opener, so that a secret made of them is one plain value.
const RICH: &[u8] = b"ab c/+?%=\"&<>'\\~-_.\t\x00\x1f\x7f\xc3\xa9\xff";
const REPLACEMENTS: [&[u8]; 4] = [b"***", b"", b"#", b"[MASKED]"];

/// Derives a differential case from fuzz bytes.
pub fn diff_case(src: &mut Source) -> DiffCase {
    let alphabet: &[u8] = src.pick(&[&b"ab"[..], b"abc", b"abcd"]);
    let mut secrets = Vec::new();
    for _ in 0..src.range(1, 4) {
        // Long secrets (and their encodings) reach the q-gram filter;
        // short ones and repetitive long ones, the automaton.
        let len = if src.ratio(1, 3) {
            src.range(14, 40)
        } else {
            src.range(1, 8)
        };
        secrets.push(src.word(alphabet, len));
    }
    if secrets.len() > 1 && secrets[0].len() >= 20 && src.ratio(1, 2) {
        // A secret cut from another: they overlap and contain each other.
        let from = src.below(secrets[0].len() - 16);
        let cut = secrets[0][from..from + 16].to_vec();
        secrets[1] = cut;
    }
    if src.ratio(1, 4) {
        let len = src.range(1, 8);
        secrets.push(src.word(RICH, len));
    }
    let min_length = src.range(1, 4);
    let all_encodings = src.ratio(1, 2);
    let replacement = src.pick(&REPLACEMENTS).to_vec();
    // Every form of every secret, whatever the configuration, so that the
    // input holds encoded forms even when only raw is masked.
    let mut forms = secrets.clone();
    for s in &secrets {
        forms.extend(variants(s, &config(1, true)));
    }
    let mut noise = alphabet.to_vec();
    noise.extend_from_slice(b"\n\rx");
    let mut input = Vec::new();
    for _ in 0..src.below(25) {
        let form = &forms[src.below(forms.len())];
        match src.below(6) {
            0 | 1 => {
                let len = src.range(1, 6);
                input.extend(src.word(&noise, len));
            }
            2 => input.extend_from_slice(form),
            3 => input.extend_from_slice(&form[..src.below(form.len() + 1)]),
            4 => input.extend_from_slice(&form[src.below(form.len() + 1)..]),
            _ => {
                let s = &secrets[src.below(secrets.len())];
                for _ in 0..src.range(2, 4) {
                    input.extend_from_slice(s);
                }
            }
        }
    }
    let cuts = src.cuts(input.len(), input.len() <= 2000);
    DiffCase {
        secrets,
        min_length,
        all_encodings,
        replacement,
        input,
        cuts,
    }
}

/// Fuzz entry: derive a case and check it.
pub fn differential(data: &[u8]) {
    check_differential(&diff_case(&mut Source::new(data)));
}

/// Streams the case through a writer (commands off) and compares it with
/// the oracle, after every write and at the end.
pub fn check_differential(case: &DiffCase) {
    let config = config(case.min_length, case.all_encodings);
    let registry = Arc::new(Registry::with_config(config));
    let mut variants = Vec::new();
    for s in &case.secrets {
        let accepted = registry.add(s).is_ok();
        let want = self::variants(s, &config);
        assert_eq!(
            accepted,
            !want.is_empty(),
            "registry.add({}) with {config:?}",
            show(s)
        );
        variants.extend(want);
    }
    let context = || {
        format!(
            "secrets {:?} min {} all {} replacement {:?} input {:?} cuts {:?}",
            show_all(&case.secrets),
            case.min_length,
            case.all_encodings,
            show(&case.replacement),
            show(&case.input),
            case.cuts
        )
    };
    let mut writer = MaskWriter::builder(registry)
        // The oracle here knows registered secrets only (detection: tests/detect.rs).
        .detect(DetectorSet::empty())
        .commands(false)
        .replacement(case.replacement.clone())
        .expect("no line break in the replacement")
        .build(Vec::new());
    // The naive decided prefix costs O(prefix) per write: check it on all
    // writes of small cases, and the final output always.
    let check_latency = case.cuts.len() * case.input.len() <= 40_000;
    // `case.cuts` already holds 0 and the end: the harness adds two empty
    // writes, which must change nothing.
    common::feed_at_cuts(&mut writer, &case.input, &case.cuts, |writer, end| {
        let stats = writer.stats();
        assert_eq!(stats.bytes_in, end as u64, "{}", context());
        assert_eq!(
            stats.bytes_out,
            writer.get_ref().len() as u64,
            "{}",
            context()
        );
        if check_latency {
            let want = decided_output(&case.input[..end], &variants, &case.replacement);
            assert!(
                *writer.get_ref() == want,
                "after {} bytes: wrote {:?}, decided {:?}; {}",
                end,
                show(writer.get_ref()),
                show(&want),
                context()
            );
        }
    });
    let got = writer.finish().unwrap();
    let want = naive_mask(&case.input, &variants, &case.replacement);
    assert!(
        got == want,
        "got {:?}, want {:?}; {}",
        show(&got),
        show(&want),
        context()
    );
}

// ---------------------------------------------------------------------------
// Protocol: the writer with commands on against a line-by-line model

/// One protocol case.
#[derive(Debug)]
pub struct ProtoCase {
    /// Registered before the stream starts.
    pub preset: Vec<Vec<u8>>,
    /// The minimum length.
    pub min_length: usize,
    /// All encodings, or raw only.
    pub all_encodings: bool,
    /// `--pass-commands`.
    pub pass_commands: bool,
    /// The replacement text.
    pub replacement: Vec<u8>,
    /// The whole stream.
    pub input: Vec<u8>,
    /// Sorted cut points, 0 and `input.len()` included.
    pub cuts: Vec<usize>,
}

const VALUE_CHARS: &[u8] = b"abcq %0AD25:\t-";
const TOKEN_CHARS: &[u8] = b"abcq- ";
const ENDINGS: [&[u8]; 5] = [b"\n", b"\r\n", b"\r", b"\r\r\n", b"\n\n"];
const BLANKS: [&[u8]; 4] = [b" ", b"\t", b"  \t", b"\t "];
const NEAR_MISSES: [&[u8]; 12] = [
    b"::add-mas",
    b"::add-mask:",
    b"::add-mask",
    b"::stop-comm",
    b"::stop-commands:",
    b":",
    b"::",
    b"::ADD-MASK::",
    b":: add-mask::",
    b"::warning::",
    b"::group::",
    b"x::add-mask::",
];
const ESCAPES: [&[u8]; 7] = [b"%0A", b"%0D", b"%25", b"%0a", b"%2", b"%", b"%250A"];

/// Derives a protocol case from fuzz bytes.
pub fn proto_case(src: &mut Source) -> ProtoCase {
    let mut preset = Vec::new();
    for _ in 0..src.below(3) {
        let len = src.range(1, 8);
        preset.push(src.word(b"abcq", len));
    }
    let min_length = src.range(1, 6);
    let all_encodings = src.ratio(1, 2);
    let pass_commands = src.ratio(1, 4);
    let replacement = src.pick(&REPLACEMENTS[..3]).to_vec();
    let mut tokens: Vec<Vec<u8>> = vec![b"tok".to_vec()];
    let mut input = Vec::new();
    let mut long = false;
    for _ in 0..src.below(33) {
        match src.below(16) {
            0..=2 => {
                input.extend_from_slice(b"::add-mask::");
                let len = src.below(12);
                input.extend(src.word(VALUE_CHARS, len));
                if src.ratio(3, 4) {
                    input.extend_from_slice(src.pick(&ENDINGS));
                }
            }
            3 | 4 => {
                let len = src.below(8);
                let token = src.word(TOKEN_CHARS, len);
                input.extend_from_slice(b"::stop-commands::");
                input.extend_from_slice(&token);
                tokens.push(token);
                if src.ratio(3, 4) {
                    input.extend_from_slice(src.pick(&ENDINGS));
                }
            }
            5 | 6 => {
                let token = tokens[src.below(tokens.len())].clone();
                input.extend_from_slice(b"::");
                input.extend_from_slice(trim(&token, is_blank));
                input.extend_from_slice(b"::");
                if src.ratio(3, 4) {
                    input.extend_from_slice(src.pick(&ENDINGS));
                }
            }
            7 | 8 => input.extend_from_slice(src.pick(&ENDINGS)),
            9 => input.extend_from_slice(src.pick(&BLANKS)),
            10 => {
                let len = src.range(1, 8);
                input.extend(src.word(VALUE_CHARS, len));
            }
            11 => input.extend_from_slice(src.pick(&NEAR_MISSES)),
            12 => input.extend_from_slice(src.pick(&ESCAPES)),
            13 if !preset.is_empty() => {
                input.extend_from_slice(&preset[src.below(preset.len())].clone());
            }
            14 => input.extend(src.raw(8)),
            15 if !long && src.ratio(1, 16) => {
                // Around the 64 KiB line limit: indentation, or a value.
                long = true;
                let len = MAX_LINE - 40 + src.below(64);
                let fill = if src.ratio(1, 2) { b' ' } else { b'a' };
                input.extend(std::iter::repeat_n(fill, len));
            }
            _ => input.push(b'\n'),
        }
    }
    let cuts = src.cuts(input.len(), !long);
    ProtoCase {
        preset,
        min_length,
        all_encodings,
        pass_commands,
        replacement,
        input,
        cuts,
    }
}

/// Fuzz entry: derive a case and check it.
pub fn protocol(data: &[u8]) {
    check_protocol(&proto_case(&mut Source::new(data)));
}

/// What the model says a stream gives.
#[derive(Debug, Default)]
pub struct ModelRun {
    /// The whole output.
    pub output: Vec<u8>,
    /// Line numbers of the warnings, in order.
    pub warnings: Vec<u64>,
    /// Values and tokens that registered something, each with the output
    /// offset from which it applies.
    pub registered: Vec<(usize, Vec<u8>)>,
    /// For each complete line: (input offset after it, output offset
    /// after it). A complete line is never held.
    pub line_ends: Vec<(usize, usize)>,
    /// Every `::add-mask::` value and `::stop-commands::` token seen as a
    /// command, registered or not.
    pub values: Vec<Vec<u8>>,
}

/// SPEC 4's decoding: one left-to-right pass over `%25`, `%0D`, `%0A`.
pub fn model_unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some((&b, tail)) = rest.split_first() {
        let (byte, skip) = if tail.starts_with(b"25") && b == b'%' {
            (b'%', 3)
        } else if b == b'%' && tail.starts_with(b"0D") {
            (b'\r', 3)
        } else if b == b'%' && tail.starts_with(b"0A") {
            (b'\n', 3)
        } else {
            (b, 1)
        };
        out.push(byte);
        rest = &rest[skip..];
    }
    out
}

/// The in-band protocol, one whole line at a time (SPEC 3 and 4):
///
/// - lines end at `\n`; one `\r` before it is part of the ending; a last
///   line without `\n` is handled as if it had one;
/// - a line is looked at after its leading spaces and tabs;
/// - while not stopped, `::add-mask::VALUE` is consumed (written verbatim
///   with `pass_commands`) and VALUE, decoded, applies from the next line;
///   its line is refused when longer than 64 KiB, and is no command when
///   the prefix itself ends past 64 KiB;
/// - while not stopped, `::stop-commands::TOKEN` (at most 64 KiB) stops
///   commands when TOKEN, trimmed of spaces and tabs, is not empty; TOKEN
///   is registered and masks the stop line itself; the line is written;
/// - while stopped, the line `::TOKEN::` (at most 64 KiB) resumes;
/// - every line that is not consumed is masked on its own (no variant
///   holds a line break, so masking is line-local) with the variants
///   registered so far.
pub fn protocol_model(case: &ProtoCase, config: &Config) -> ModelRun {
    let mut variants: Vec<Vec<u8>> = Vec::new();
    for s in &case.preset {
        variants.extend(self::variants(s, config));
    }
    let mut registered = Vec::new();
    let mut warnings = Vec::new();
    let mut values = Vec::new();
    let mut output = Vec::new();
    let mut line_ends = Vec::new();
    let mut stopped: Option<Vec<u8>> = None;
    let mut line_no = 0u64;
    let mut at = 0;
    let input = &case.input[..];
    while at < input.len() {
        line_no += 1;
        let end = input[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |k| at + k + 1);
        let line = &input[at..end];
        let complete = line.ends_with(b"\n");
        at = end;
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let content = body.strip_suffix(b"\r").unwrap_or(body);
        let ws = content.iter().take_while(|&&b| is_blank(b)).count();
        let cmd = &content[ws..];
        // The line ending (`\n` and one `\r` before it) is never content.
        let fits = content.len() <= MAX_LINE;
        let mut consumed = false;
        match &stopped {
            None if cmd.starts_with(b"::add-mask::") && ws + 12 <= MAX_LINE => {
                consumed = true;
                let value = model_unescape(&cmd[12..]);
                values.push(value.clone());
                if content.len() > MAX_LINE {
                    warnings.push(line_no);
                } else if register(&value, config, &mut variants) {
                    registered.push((output.len(), value));
                } else {
                    warnings.push(line_no);
                }
            }
            None if cmd.starts_with(b"::stop-commands::") && fits => {
                let token = trim(&cmd[17..], is_blank).to_vec();
                if token.is_empty() {
                    warnings.push(line_no);
                } else {
                    values.push(token.clone());
                    if register(&token, config, &mut variants) {
                        registered.push((output.len(), token.clone()));
                    } else {
                        warnings.push(line_no);
                    }
                    let mut resume = b"::".to_vec();
                    resume.extend_from_slice(&token);
                    resume.extend_from_slice(b"::");
                    stopped = Some(resume);
                }
            }
            Some(resume) if fits && cmd == &resume[..] => stopped = None,
            _ => {}
        }
        if !consumed {
            output.extend(naive_mask(line, &variants, &case.replacement));
        } else if case.pass_commands {
            output.extend_from_slice(line);
        }
        if complete {
            line_ends.push((at, output.len()));
        }
    }
    ModelRun {
        output,
        warnings,
        registered,
        line_ends,
        values,
    }
}

/// Adds the variants of `value`; false when it registers nothing.
fn register(value: &[u8], config: &Config, variants: &mut Vec<Vec<u8>>) -> bool {
    let v = self::variants(value, config);
    let registered = !v.is_empty();
    variants.extend(v);
    registered
}

/// Every text a warning is known to be made of: a value found inside one
/// of these is not a leak.
const WARNING_TEXTS: &str = "stdin:0123456789: ::add-mask:: value is empty or blank \
    ::add-mask:: value is shorter than the minimum length (0123456789), nothing masked \
    ::add-mask:: line is longer than 64 KiB, value refused \
    ::stop-commands:: token is empty or blank, commands not stopped \
    ::stop-commands:: token not masked: value is shorter than the minimum length \
    value is empty or blank, nothing masked value is longer than 64 KiB, nothing masked";

/// Streams the case through a writer with commands on and compares it
/// with [`protocol_model`].
pub fn check_protocol(case: &ProtoCase) {
    let config = config(case.min_length, case.all_encodings);
    let registry = Arc::new(Registry::with_config(config));
    for s in &case.preset {
        let _ = registry.add(s);
    }
    let model = protocol_model(case, &config);
    let context = || {
        format!(
            "preset {:?} min {} all {} pass {} replacement {:?} input {:?} cuts {:?}",
            show_all(&case.preset),
            case.min_length,
            case.all_encodings,
            case.pass_commands,
            show(&case.replacement),
            show(&case.input),
            if case.cuts.len() > 40 {
                "one byte at a time".to_string()
            } else {
                format!("{:?}", case.cuts)
            }
        )
    };
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let mut writer = MaskWriter::builder(registry)
        // The oracle here knows registered secrets only (detection: tests/detect.rs).
        .detect(DetectorSet::empty())
        .pass_commands(case.pass_commands)
        .replacement(case.replacement.clone())
        .expect("no line break in the replacement")
        .on_warning(move |w| sink.lock().unwrap().push(w))
        .build(Vec::new());
    let mut checked = 0;
    let mut line = 0;
    common::feed_at_cuts(&mut writer, &case.input, &case.cuts, |writer, end| {
        let so_far = writer.get_ref();
        // Written text is final: it must be the model's, byte for byte.
        let agree = so_far.len() <= model.output.len()
            && so_far[checked..] == model.output[checked..so_far.len()];
        assert!(
            agree,
            "after {} bytes wrote {:?}, model says {:?}; {}",
            end,
            show(so_far),
            show(&model.output),
            context()
        );
        checked = so_far.len();
        // Latency: every complete line is out.
        while line < model.line_ends.len() && model.line_ends[line].0 <= end {
            line += 1;
        }
        let must = if line == 0 {
            0
        } else {
            model.line_ends[line - 1].1
        };
        assert!(
            so_far.len() >= must,
            "after {} bytes only {} of {} bytes written: a complete line is held; {}",
            end,
            so_far.len(),
            must,
            context()
        );
    });
    let got = writer.finish().unwrap();
    // No leak: once registered, a value's lines never appear again (unless
    // the replacement could spell them, or lines pass through verbatim).
    if !case.pass_commands && !case.replacement.is_empty() {
        for (from, value) in &model.registered {
            for line in long_lines(value, case.min_length) {
                if line.iter().any(|b| case.replacement.contains(b)) {
                    continue;
                }
                let after = got.get(*from..).unwrap_or_default();
                assert!(
                    !after.windows(line.len()).any(|w| w == &line[..]),
                    "registered value {:?} leaked: output {:?}; {}",
                    show(value),
                    show(&got),
                    context()
                );
            }
        }
    }
    assert!(
        got == model.output,
        "got {:?}, model says {:?}; {}",
        show(&got),
        show(&model.output),
        context()
    );
    let warnings = warnings.lock().unwrap();
    let lines: Vec<u64> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(
        lines,
        model.warnings,
        "warning lines {:?}; {}",
        warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        context()
    );
    for w in warnings.iter() {
        assert_eq!(w.source, "stdin");
        // The `stdin:LINE:` prefix is the stream's name and a number; only
        // the reason could hold a value (a value `2: :` is found in
        // `stdin:2: ::add-mask:: ...` by coincidence, not by leaking).
        let text = w.reason.clone().into_bytes();
        for value in &model.values {
            let value = trim(value, |b| is_blank(b) || is_break(b));
            if value.len() >= 4
                && text.windows(value.len()).any(|t| t == value)
                && !WARNING_TEXTS
                    .as_bytes()
                    .windows(value.len())
                    .any(|t| t == value)
            {
                panic!(
                    "warning {:?} shows the value {:?}; {}",
                    w.to_string(),
                    show(value),
                    context()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Registry: expansion of arbitrary values

/// Derives a value and a configuration from fuzz bytes.
pub fn registry_case(src: &mut Source) -> (Vec<u8>, Config) {
    let min_length = src.range(1, 10);
    // Ten encodings: two bytes of bits.
    let bits = u16::from_le_bytes([src.byte(), src.byte()]);
    let encodings: EncodingSet = Encoding::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, e)| e)
        .collect();
    let config = Config {
        min_length,
        encodings,
    };
    let shape = src.below(8);
    let rest = src.raw(usize::MAX >> 8);
    let value = match shape {
        // Repeated to around the 64 KiB limit, or far past it.
        1 | 2 if !rest.is_empty() => {
            let target = if shape == 1 {
                MAX_VALUE_LEN - 8 + (rest[0] as usize % 16)
            } else {
                MAX_VALUE_LEN * 3
            };
            rest.iter().copied().cycle().take(target).collect()
        }
        // A JSON object holding the bytes as a string and more.
        3 => {
            let text = String::from_utf8_lossy(&rest);
            let half = text.len() / 2;
            let split = (0..=half)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            serde_json::json!({
                "key": &text[..split],
                "nested": [&text[split..], {"deep": text.to_string(), "n": 1}, null, true],
                "json-in-json": serde_json::json!([text.to_string()]).to_string(),
            })
            .to_string()
            .into_bytes()
        }
        // Arrays nested around serde_json's recursion limit (128).
        4 => {
            let depth = 120 + rest.len() % 16;
            let mut v = b"[".repeat(depth);
            v.extend(serde_json::to_vec(&String::from_utf8_lossy(&rest)).unwrap());
            v.extend(b"]".repeat(depth));
            v
        }
        // Surrounded by whitespace and line breaks.
        5 => {
            let mut v = b" \t\r\n".repeat(rest.len() % 5);
            v.extend_from_slice(&rest);
            v.extend(b"\r\n \t".repeat(rest.len() % 3));
            v
        }
        _ => rest,
    };
    (value, config)
}

/// Fuzz entry: derive a value and a configuration and check them.
pub fn registry(data: &[u8]) {
    let (value, config) = registry_case(&mut Source::new(data));
    check_registry(&value, &config);
}

/// The trimmed lines of a value and of every string inside it when it is
/// JSON, at any depth: the only texts a `raw` variant may be.
fn raw_candidates(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut queue = vec![value.to_vec()];
    while let Some(v) = queue.pop() {
        let whole = trim(&v, |b| is_blank(b) || is_break(b));
        out.extend(long_lines(whole, 1));
        if matches!(whole.first(), Some(b'{' | b'['))
            && let Ok(json) = serde_json::from_slice::<serde_json::Value>(whole)
        {
            let mut stack = vec![&json];
            while let Some(node) = stack.pop() {
                match node {
                    serde_json::Value::String(s) => queue.push(s.clone().into_bytes()),
                    serde_json::Value::Array(items) => stack.extend(items),
                    serde_json::Value::Object(map) => stack.extend(map.values()),
                    _ => {}
                }
            }
        }
    }
    out
}

/// SPEC 1's invariants on `expand(value, config)`.
pub fn check_registry(value: &[u8], config: &Config) {
    let whole = trim(value, |b| is_blank(b) || is_break(b));
    let context = || format!("value {:?} config {config:?}", show(value));
    match expand(value, config) {
        Err(refusal) => {
            let want = if whole.is_empty() {
                Refusal::Blank
            } else if whole.len() > MAX_VALUE_LEN {
                Refusal::TooLong
            } else if whole
                .split(|&b| is_break(b))
                .any(|line| trim(line, is_blank).len() >= config.min_length.max(1))
            {
                // A line passes, and the chosen encodings give nothing.
                Refusal::NoForm {
                    floor: config.min_length.max(4),
                }
            } else {
                Refusal::TooShort {
                    min_length: config.min_length,
                }
            };
            assert_eq!(refusal, want, "{}", context());
            // The text of a refusal does not depend on the value: it is
            // the same as for an unrelated value refused for that reason.
            let text = refusal.to_string();
            if whole.len() >= 4 && text.as_bytes().windows(whole.len()).any(|w| w == whole) {
                let unrelated = match refusal {
                    Refusal::Blank => expand(b" ", config),
                    Refusal::TooLong => expand(&vec![b'z'; MAX_VALUE_LEN + 1], config),
                    Refusal::TooShort { min_length } => expand(
                        &b"\x01".repeat(min_length - 1),
                        &Config {
                            min_length,
                            encodings: EncodingSet::all(),
                        },
                    ),
                    Refusal::NoForm { floor } => expand(
                        &b"\x01".repeat(floor),
                        &Config {
                            min_length: floor,
                            encodings: EncodingSet::empty(),
                        },
                    ),
                };
                assert_eq!(
                    unrelated.map(|_| ()).unwrap_err().to_string(),
                    text,
                    "refusal shows the value; {}",
                    context()
                );
            }
            // Raw on, a long-enough line and a long-enough whole: accepted.
            if config.encodings.contains(Encoding::Raw)
                && whole.len() >= config.min_length
                && whole.len() <= MAX_VALUE_LEN
            {
                assert!(
                    long_lines(whole, config.min_length).is_empty(),
                    "refused although a line is long enough; {}",
                    context()
                );
            }
        }
        Ok(variants) => {
            assert!(
                !whole.is_empty()
                    && whole.len() <= MAX_VALUE_LEN
                    && whole.len() >= config.min_length,
                "accepted; {}",
                context()
            );
            assert!(!variants.is_empty(), "accepted nothing; {}", context());
            let floor = config.min_length.max(4);
            let raw = config.encodings.contains(Encoding::Raw);
            let candidates = if variants.iter().any(|v| v.len() < floor) {
                raw_candidates(whole)
            } else {
                Vec::new()
            };
            let bound = 6 * whole.len();
            for v in &variants {
                let bad = v.is_empty()
                    || v.iter().any(|&b| is_break(b))
                    || v.len() < config.min_length
                    || v.len() > bound
                    || (v.len() < floor && !(raw && candidates.contains(v)));
                assert!(
                    !bad,
                    "bad variant {:?} ({} bytes, bound {bound}); {}",
                    show(v),
                    v.len(),
                    context()
                );
            }
            if raw {
                for line in long_lines(whole, config.min_length) {
                    assert!(
                        variants.contains(&line),
                        "line {:?} not registered raw; {}",
                        show(&line),
                        context()
                    );
                }
            }
        }
    }
}
