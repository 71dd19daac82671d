//! The encodings a secret is searched for, one small function each.
//!
//! Every function here takes one value (a trimmed line, or a whole
//! multi-line value) and returns the forms in which that value appears in a
//! log. The functions do not filter: empty forms, forms holding a line break
//! and forms below the length floor are dropped by the registry, which owns
//! those rules (SPEC 1.3).
//!
//! Invariants:
//! - Each function is pure and depends on the value alone.
//! - Base64 forms hold only the characters whose six bits come from the
//!   value, so they match the value at any offset inside a longer blob.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// One way a secret can be written in a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The bytes themselves.
    Raw,
    /// Standard Base64 at the three alignments.
    Base64,
    /// URL-safe Base64 at the three alignments.
    Base64Url,
    /// Percent-encoding, upper and lower hex, and `+` for space.
    Url,
    /// Inside a JSON string: serde_json's form and the ASCII-only form.
    Json,
    /// XML/HTML entity escaping of `& < > " '`.
    Xml,
    /// Workflow-command data escaping (`%25`, `%0D`, `%0A`).
    Command,
    /// Every byte as two hex digits, lower and upper case, and `xxd -p`'s
    /// 60-digit lines.
    Hex,
    /// Shell quoting in traces (`'\''`, `'"'"'`) and bash's `printf %q`.
    Shell,
    /// Not a form of the value but what the value encodes: a Base64 or hex
    /// line's decoding, registered as a value of its own (see
    /// [`crate::decoded`]). It has no forms here.
    Decoded,
}

impl Encoding {
    /// Every encoding, in the order SPEC lists them.
    ///
    /// The position of each encoding is its discriminant: reports store a
    /// form as that index.
    pub const ALL: [Encoding; 10] = [
        Encoding::Raw,
        Encoding::Base64,
        Encoding::Base64Url,
        Encoding::Url,
        Encoding::Json,
        Encoding::Xml,
        Encoding::Command,
        Encoding::Hex,
        Encoding::Shell,
        Encoding::Decoded,
    ];

    /// The name used on the command line (`--encodings`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::Url => "url",
            Encoding::Json => "json",
            Encoding::Xml => "xml",
            Encoding::Command => "command",
            Encoding::Hex => "hex",
            Encoding::Shell => "shell",
            Encoding::Decoded => "decoded",
        }
    }

    /// Parses an exact, lower-case encoding name.
    pub fn from_name(name: &str) -> Option<Encoding> {
        Encoding::ALL.into_iter().find(|e| e.name() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether some form of `value` in this encoding may differ from
    /// `value` itself. `false` means every form is the value, byte for
    /// byte: an identifier or a hex token is its own URL, JSON, XML and
    /// command form.
    pub fn changes(self, value: &[u8]) -> bool {
        changing(value).contains(self)
    }

    /// Appends the forms of `value` in this encoding to `out`.
    pub fn encode_into(self, value: &[u8], out: &mut Vec<Vec<u8>>) {
        match self {
            Encoding::Raw => out.push(value.to_vec()),
            Encoding::Base64 => {
                out.extend(base64_phases(value, false));
                out.extend(base64_wrapped_pieces(value));
            }
            Encoding::Base64Url => out.extend(base64_phases(value, true)),
            Encoding::Url => out.extend(url_forms(value)),
            Encoding::Json => out.extend(json_forms(value)),
            Encoding::Xml => out.push(xml_escape(value)),
            Encoding::Command => out.push(command_escape(value)),
            Encoding::Hex => out.extend(hex_forms(value)),
            Encoding::Shell => out.extend(shell_forms(value)),
            Encoding::Decoded => {}
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The encodings in which some form of `value` may differ from `value`
/// ([`Encoding::changes`] of each), in one pass over the bytes: a line is
/// asked this for every encoding, and asking each in turn (the URL one
/// building its encoding to see) was a tenth of expanding a value.
pub(crate) fn changing(value: &[u8]) -> EncodingSet {
    // Base64 and hex forms never equal the value; `raw` and `decoded`
    // forms always do (`decoded` has none of its own).
    let mut bits = Encoding::Base64.bit() | Encoding::Base64Url.bit() | Encoding::Hex.bit();
    for &b in value {
        bits |= CHANGED_BY[usize::from(b)];
    }
    if bits & Encoding::Shell.bit() == 0 && printf_q_applies(value) {
        bits |= Encoding::Shell.bit();
    }
    EncodingSet(bits)
}

/// For each byte, the encodings whose forms change a value that holds it:
/// URL, all but `A-Z a-z 0-9 - . _ ~` (`NOT_UNRESERVED`, which every URL
/// form escapes at least); JSON, `"` and `\`, control bytes, DEL and
/// non-ASCII (every JSON form), and `< > & /` (Go's and PHP's); XML and
/// command, the bytes their escape tables list; shell, `'` (`printf %q`'s
/// other escapes depend on the value as a whole: see `changing`).
const CHANGED_BY: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let mut bits = 0;
        if !(byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')) {
            bits |= 1 << Encoding::Url as u16;
        }
        if matches!(byte, b'"' | b'\\' | b'<' | b'>' | b'&' | b'/' | 0..0x20 | 0x7f..) {
            bits |= 1 << Encoding::Json as u16;
        }
        if escapes(XML_ENTITIES, byte) {
            bits |= 1 << Encoding::Xml as u16;
        }
        if escapes(COMMAND_ESCAPES, byte) {
            bits |= 1 << Encoding::Command as u16;
        }
        if byte == b'\'' {
            bits |= 1 << Encoding::Shell as u16;
        }
        table[b] = bits;
        b += 1;
    }
    table
};

/// Whether an escape table (`XML_ENTITIES`, `COMMAND_ESCAPES`) lists
/// `byte`: the tables the encoders escape with say what they change.
const fn escapes(table: &[(u8, &[u8])], byte: u8) -> bool {
    let mut i = 0;
    while i < table.len() {
        if table[i].0 == byte {
            return true;
        }
        i += 1;
    }
    false
}

/// A set of encodings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingSet(u16);

impl EncodingSet {
    /// No encoding at all.
    pub const fn empty() -> EncodingSet {
        EncodingSet(0)
    }

    /// Every encoding: the default.
    pub fn all() -> EncodingSet {
        Encoding::ALL.into_iter().collect()
    }

    /// Adds one encoding.
    pub fn insert(&mut self, encoding: Encoding) {
        self.0 |= encoding.bit();
    }

    /// The set with `encoding` added.
    pub fn with(mut self, encoding: Encoding) -> EncodingSet {
        self.insert(encoding);
        self
    }

    /// The set without `encoding`.
    pub fn without(self, encoding: Encoding) -> EncodingSet {
        EncodingSet(self.0 & !encoding.bit())
    }

    /// Whether `encoding` is in the set.
    pub fn contains(self, encoding: Encoding) -> bool {
        self.0 & encoding.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The encodings in the set, in SPEC order.
    pub fn iter(self) -> impl Iterator<Item = Encoding> {
        Encoding::ALL.into_iter().filter(move |e| self.contains(*e))
    }

    /// Parses a comma-separated list such as `raw,base64`.
    ///
    /// The error names the offending entry; encoding names are never
    /// secrets, so naming it is safe.
    pub fn parse_list(list: &str) -> Result<EncodingSet, String> {
        let mut set = EncodingSet::empty();
        for name in list.split(',') {
            match Encoding::from_name(name) {
                Some(e) => set.insert(e),
                None if name.is_empty() => return Err("empty encoding name".to_string()),
                None => return Err(format!("unknown encoding '{name}'")),
            }
        }
        Ok(set)
    }
}

impl Default for EncodingSet {
    fn default() -> Self {
        EncodingSet::all()
    }
}

impl FromIterator<Encoding> for EncodingSet {
    fn from_iter<I: IntoIterator<Item = Encoding>>(iter: I) -> Self {
        let mut set = EncodingSet::empty();
        for e in iter {
            set.insert(e);
        }
        set
    }
}

impl fmt::Debug for EncodingSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Base64 of `value` as it appears inside a longer blob, at each of the
/// three alignments (SPEC 1.3).
///
/// For alignment k, k filler bytes precede the value; the first characters
/// mix filler bits with value bits (0, 2 or 3 characters) and the last one
/// may mix value bits with whatever follows, so both are cut off.
pub fn base64_phases(value: &[u8], url_safe: bool) -> [Vec<u8>; 3] {
    const SKIP: [usize; 3] = [0, 2, 3];
    let alphabet = if url_safe {
        BASE64_URL_SAFE
    } else {
        BASE64_STANDARD
    };
    std::array::from_fn(|k| {
        // Alignment k encodes k filler bytes, then the value; the encoding
        // has `8 * (k + len) / 6` characters whose bits are all known.
        let determined = (k + value.len()) * 8 / 6;
        let start = SKIP[k].min(determined);
        let mut form = encode_base64_after_filler(k, value, alphabet);
        form.truncate(determined);
        form.drain(..start);
        form
    })
}

const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL_SAFE: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The unpadded Base64 of `filler` (0 to 2) zero bytes followed by
/// `value`. Written here rather than taken from the `base64` crate: its
/// engine's set-up for each call cost more than encoding the 20 to 60
/// bytes of a secret, six times per value at start-up.
fn encode_base64_after_filler(filler: usize, value: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let encode = |group: &[u8], chars: &mut [u8]| {
        let mut bytes = [0u8; 3];
        bytes[..group.len()].copy_from_slice(group);
        let bits = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for (i, c) in chars.iter_mut().enumerate() {
            *c = alphabet[((bits >> (18 - 6 * i)) & 63) as usize];
        }
    };
    let mut out = vec![0u8; ((filler + value.len()) * 4).div_ceil(3)];
    // The first group holds the filler and the first 3 - filler bytes.
    let head = (3 - filler).min(value.len());
    let mut first = [0u8; 3];
    first[filler..filler + head].copy_from_slice(&value[..head]);
    let first_chars = out.len().min(4);
    encode(&first[..filler + head], &mut out[..first_chars]);
    let body = value[head..].chunks_exact(3);
    let rest = body.remainder();
    let mut chars = out[first_chars..].chunks_exact_mut(4);
    for (group, dst) in body.zip(&mut chars) {
        encode(group, dst);
    }
    if !rest.is_empty() {
        encode(rest, chars.into_remainder());
    }
    out
}

/// RFC 3986 reserved and non-ASCII bytes: everything but `A-Z a-z 0-9 - . _ ~`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What JavaScript's `encodeURIComponent` leaves as is besides the
/// unreserved set: `! ' ( ) *`.
const NOT_URI_COMPONENT: &AsciiSet = &NOT_UNRESERVED
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// What Python's `urllib.parse.quote` leaves as is besides the unreserved
/// set: its default safe character `/`.
const NOT_PYTHON_QUOTE: &AsciiSet = &NOT_UNRESERVED.remove(b'/');

/// Percent-encoded forms (SPEC 1.3): upper-case and lower-case hex; where
/// the value holds a space, both again with `+` for space (HTML forms,
/// Python's `quote_plus`); where they differ, the forms of JavaScript's
/// `encodeURIComponent` and Python's `quote`, each in both cases.
pub fn url_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let upper = percent_upper(value, NOT_UNRESERVED);
    let lower = lowercase_percent_hex(&upper);
    let mut forms = vec![upper, lower];
    if value.contains(&b' ') {
        // A literal "%20" in the encoded text can only come from a space:
        // a '%' in the value is itself encoded as "%25".
        let plus: Vec<Vec<u8>> = forms.iter().map(|f| replace(f, b"%20", b"+")).collect();
        forms.extend(plus);
    }
    for (set, differs) in [
        (NOT_URI_COMPONENT, holds_any_of(value, b"!'()*")),
        (NOT_PYTHON_QUOTE, value.contains(&b'/')),
    ] {
        if differs {
            let upper = percent_upper(value, set);
            let lower = lowercase_percent_hex(&upper);
            forms.push(upper);
            forms.push(lower);
        }
    }
    forms
}

fn percent_upper(value: &[u8], set: &'static AsciiSet) -> Vec<u8> {
    percent_encode(value, set).to_string().into_bytes()
}

fn lowercase_percent_hex(encoded: &[u8]) -> Vec<u8> {
    let mut out = encoded.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i] == b'%' && i + 2 < out.len() {
            out[i + 1] = out[i + 1].to_ascii_lowercase();
            out[i + 2] = out[i + 2].to_ascii_lowercase();
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// The value inside a JSON string (SPEC 1.3): serde_json's form; the
/// ASCII-only form of Python's `json.dumps` (lower-case `\uxxxx`) and of
/// .NET (upper-case); where the value holds `< > &` U+2028 or U+2029, Go's
/// `encoding/json` form; where it holds `/`, PHP's `json_encode` form.
/// Values that are not UTF-8 have none.
pub fn json_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Vec::new();
    };
    let quoted = serde_json::to_string(text).expect("a str always serializes");
    let serde_form = &quoted[1..quoted.len() - 1];
    let ascii_lower = json_ascii_escape(text);
    let ascii_upper = uppercase_unicode_escapes(&ascii_lower);
    let mut forms = vec![serde_form.as_bytes().to_vec(), ascii_lower, ascii_upper];
    if text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        // serde_json writes none of these five escaped, and each of them
        // only ever stands for itself in its output.
        let go = serde_form
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        forms.push(go.into_bytes());
    }
    if text.contains('/') {
        forms.push(serde_form.replace('/', "\\/").into_bytes());
    }
    forms
}

/// The ASCII-only JSON form with the hex digits of every `\uxxxx` in upper
/// case (as .NET's encoders write it). Only escapes are touched: a `\\`
/// is an escaped backslash, so the `u` after it is text.
fn uppercase_unicode_escapes(escaped: &[u8]) -> Vec<u8> {
    let mut out = escaped.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i] == b'\\' && out.get(i + 1) == Some(&b'u') {
            out[i + 2..i + 6].make_ascii_uppercase();
            i += 6;
        } else if out[i] == b'\\' {
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// `json.dumps(text)` without the quotes: `\"`, `\\`, the short escapes,
/// and `\uxxxx` (lower-case hex, surrogate pairs) for every other control
/// character, DEL and every non-ASCII character.
fn json_ascii_escape(text: &str) -> Vec<u8> {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}").expect("writing to a String");
                }
            }
        }
    }
    out.into_bytes()
}

/// GNU `base64` wraps its output at 76 characters.
pub const GNU_BASE64_COLUMNS: usize = 76;
/// `openssl base64` and PEM bodies wrap at 64 characters.
pub const PEM_BASE64_COLUMNS: usize = 64;
/// `xxd -p` prints 60 hex digits (30 bytes) a line.
pub const XXD_HEX_COLUMNS: usize = 60;
/// The shortest last piece of a wrapped form kept as a variant: a shorter
/// one would match ordinary Base64 or hex by chance.
pub const MIN_LAST_PIECE: usize = 16;

/// The lines of a wrapped Base64 dump of a long value (SPEC 1.3): the
/// alignment-0 form cut at 76 columns when the value is longer than 57
/// bytes (one full GNU line) and at 64 columns when it is longer than 48
/// bytes (one full PEM line), each line a piece of its own.
pub fn base64_wrapped_pieces(value: &[u8]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    if value.len() <= 48 {
        return pieces;
    }
    let [aligned, _, _] = base64_phases(value, false);
    for columns in [GNU_BASE64_COLUMNS, PEM_BASE64_COLUMNS] {
        // Wrapping starts only past one full line of output.
        if value.len() > columns / 4 * 3 {
            pieces.extend(wrapped_pieces(&aligned, columns));
        }
    }
    pieces
}

/// `text` cut into lines of `columns`, the last one dropped when it is
/// shorter than [`MIN_LAST_PIECE`].
fn wrapped_pieces(text: &[u8], columns: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    text.chunks(columns)
        .filter(move |piece| piece.len() == columns || piece.len() >= MIN_LAST_PIECE)
        .map(<[u8]>::to_vec)
}

/// Hex forms (SPEC 1.3): every byte as two lower-case digits, the same in
/// upper case, and for a value longer than 30 bytes the lower-case form cut
/// into `xxd -p`'s lines of 60 digits.
pub fn hex_forms(value: &[u8]) -> Vec<Vec<u8>> {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let mut lower = Vec::with_capacity(value.len() * 2);
    for &b in value {
        lower.push(LOWER[usize::from(b >> 4)]);
        lower.push(LOWER[usize::from(b & 0xf)]);
    }
    let upper = lower.to_ascii_uppercase();
    let mut forms = Vec::new();
    if value.len() > XXD_HEX_COLUMNS / 2 {
        forms.extend(wrapped_pieces(&lower, XXD_HEX_COLUMNS));
    }
    forms.insert(0, upper);
    forms.insert(0, lower);
    forms
}

/// The bytes bash's `printf %q` puts a backslash before wherever they are.
const PRINTF_Q_SPECIAL: &[u8] = b" !\"$&'()*,;<>?[\\]^`{|}";

/// What each byte is to `printf %q`: one table look-up a byte, where a
/// search of the special bytes for each byte of each value was a tenth
/// of the expansion at start-up.
const PRINTF_Q_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut i = 0;
    while i < PRINTF_Q_SPECIAL.len() {
        class[PRINTF_Q_SPECIAL[i] as usize] = Q_SPECIAL;
        i += 1;
    }
    let mut b = 0;
    while b < 0x20 {
        class[b] = Q_CONTROL;
        b += 1;
    }
    class[0x7f] = Q_CONTROL;
    class
};
/// Escaped wherever it is.
const Q_SPECIAL: u8 = 1;
/// A control byte or DEL: the form is `$'...'`, not one of backslashes.
const Q_CONTROL: u8 = 2;

/// Whether bash's `printf %q` would write `value` differently, in the
/// only case its form is a backslash before some bytes: UTF-8 with no
/// control byte (others get `$'...'`).
fn printf_q_applies(value: &[u8]) -> bool {
    let mut classes = 0;
    for &b in value {
        classes |= PRINTF_Q_CLASS[usize::from(b)];
    }
    if classes & Q_CONTROL != 0 {
        return false;
    }
    // Without a special byte only a `#` or `~` in the places below is
    // escaped; checking those is cheap, UTF-8 last.
    let escapes = classes & Q_SPECIAL != 0 || (0..value.len()).any(|i| printf_q_escapes(value, i));
    escapes && std::str::from_utf8(value).is_ok()
}

/// Whether `printf %q` puts a backslash before `value[i]`.
fn printf_q_escapes(value: &[u8], i: usize) -> bool {
    let b = value[i];
    PRINTF_Q_CLASS[usize::from(b)] == Q_SPECIAL
        || (i == 0 && (b == b'#' || b == b'~'))
        || (b == b'~' && i > 0 && matches!(value[i - 1], b'=' | b':'))
}

/// How shells print the value in a trace or quote it (SPEC 1.3): where it
/// holds `'`, with each `'` as `'\''` (bash, zsh, ksh traces) and as
/// `'"'"'` (BusyBox ash traces, Python's `shlex.quote`); and bash's
/// `printf %q` form where it applies.
pub fn shell_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    if value.contains(&b'\'') {
        forms.push(replace(value, b"'", b"'\\''"));
        forms.push(replace(value, b"'", b"'\"'\"'"));
    }
    if printf_q_applies(value) {
        let mut quoted = Vec::with_capacity(value.len() * 2);
        for (i, &b) in value.iter().enumerate() {
            if printf_q_escapes(value, i) {
                quoted.push(b'\\');
            }
            quoted.push(b);
        }
        forms.push(quoted);
    }
    forms
}

/// The five characters XML/HTML escapes, and their entities.
const XML_ENTITIES: &[(u8, &[u8])] = &[
    (b'&', b"&amp;"),
    (b'<', b"&lt;"),
    (b'>', b"&gt;"),
    (b'"', b"&quot;"),
    (b'\'', b"&apos;"),
];

/// The bytes workflow-command data escapes, and their escapes.
const COMMAND_ESCAPES: &[(u8, &[u8])] = &[(b'%', b"%25"), (b'\r', b"%0D"), (b'\n', b"%0A")];

/// XML/HTML entity escaping of the five special characters.
pub fn xml_escape(value: &[u8]) -> Vec<u8> {
    escape_with(value, XML_ENTITIES)
}

/// Workflow-command data escaping, as `@actions/core` writes messages.
pub fn command_escape(value: &[u8]) -> Vec<u8> {
    escape_with(value, COMMAND_ESCAPES)
}

/// `value` with each byte listed in `table` replaced by its escape.
fn escape_with(value: &[u8], table: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        match table.iter().find(|(special, _)| *special == b) {
            Some((_, escape)) => out.extend_from_slice(escape),
            None => out.push(b),
        }
    }
    out
}

/// Whether `value` holds any of `bytes`.
fn holds_any_of(value: &[u8], bytes: &[u8]) -> bool {
    value.iter().any(|b| bytes.contains(b))
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut last = 0;
    for at in memchr::memmem::find_iter(haystack, from) {
        out.extend_from_slice(&haystack[last..at]);
        out.extend_from_slice(to);
        last = at + from.len();
    }
    out.extend_from_slice(&haystack[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(forms: &[Vec<u8>]) -> Vec<String> {
        forms
            .iter()
            .map(|f| String::from_utf8(f.clone()).unwrap())
            .collect()
    }

    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

    /// The phases as SPEC 1.3 defines them, with the `base64` crate.
    fn reference_phases(value: &[u8], url_safe: bool) -> [Vec<u8>; 3] {
        let engine = if url_safe {
            &URL_SAFE_NO_PAD
        } else {
            &STANDARD_NO_PAD
        };
        std::array::from_fn(|k| {
            let mut input = vec![0u8; k];
            input.extend_from_slice(value);
            let encoded = engine.encode(&input).into_bytes();
            let determined = input.len() * 8 / 6;
            let start = [0, 2, 3][k].min(determined);
            encoded[start..determined].to_vec()
        })
    }

    #[test]
    fn base64_phases_match_the_reference_encoder() {
        let mut rng = crate::test_rng::Lcg(11);
        for len in 0..80 {
            for _ in 0..20 {
                let value: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
                for url in [false, true] {
                    assert_eq!(
                        base64_phases(&value, url),
                        reference_phases(&value, url),
                        "len {len} url {url}"
                    );
                }
            }
        }
    }

    #[test]
    fn base64_phases_match_spec_example() {
        let cases: &[(&str, bool, [&str; 3])] = &[
            (
                "secret123",
                false,
                ["c2VjcmV0MTIz", "NlY3JldDEyM", "zZWNyZXQxMj"],
            ),
            (
                "secret123",
                true,
                ["c2VjcmV0MTIz", "NlY3JldDEyM", "zZWNyZXQxMj"],
            ),
            ("ab", false, ["YW", "Fi", "hY"]),
        ];
        for (value, url, want) in cases {
            let got = base64_phases(value.as_bytes(), *url);
            assert_eq!(s(&got), want.to_vec(), "value {value:?}");
        }
    }

    #[test]
    fn base64_phases_are_substrings_of_any_blob() {
        let value = b"p4ss/w0rd?>";
        for url in [false, true] {
            let engine = if url {
                &URL_SAFE_NO_PAD
            } else {
                &STANDARD_NO_PAD
            };
            for pre in 0..6 {
                for post in 0..4 {
                    let mut blob = vec![0xA5u8; pre];
                    blob.extend_from_slice(value);
                    blob.extend(std::iter::repeat_n(0x5Au8, post));
                    let enc = engine.encode(&blob).into_bytes();
                    let phase = &base64_phases(value, url)[pre % 3];
                    assert!(
                        memchr::memmem::find(&enc, phase).is_some(),
                        "pre {pre} post {post} url {url}"
                    );
                }
            }
        }
    }

    #[test]
    fn url_forms_cover_both_cases_plus_javascript_and_python() {
        let cases: &[(&str, &[&str])] = &[
            ("abc-._~", &["abc-._~", "abc-._~"]),
            ("a?b", &["a%3Fb", "a%3fb"]),
            // Python's `quote` leaves `/`.
            ("a/b?", &["a%2Fb%3F", "a%2fb%3f", "a/b%3F", "a/b%3f"]),
            (
                "a b/",
                &[
                    "a%20b%2F", "a%20b%2f", "a+b%2F", "a+b%2f", "a%20b/", "a%20b/",
                ],
            ),
            ("100%", &["100%25", "100%25"]),
            ("é", &["%C3%A9", "%c3%a9"]),
            // `encodeURIComponent` leaves `! ' ( ) *`.
            (
                "it's(*)!=",
                &[
                    "it%27s%28%2A%29%21%3D",
                    "it%27s%28%2a%29%21%3d",
                    "it's(*)!%3D",
                    "it's(*)!%3d",
                ],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(s(&url_forms(value.as_bytes())), want.to_vec(), "{value:?}");
        }
    }

    #[test]
    fn json_forms_match_serde_python_dotnet_go_and_php() {
        // serde_json, Python (ASCII, lower hex), .NET (ASCII, upper hex),
        // then Go's and PHP's where they apply.
        let cases: &[(&str, &[&str])] = &[
            ("plain", &["plain", "plain", "plain"]),
            ("a\"b\\c", &["a\\\"b\\\\c", "a\\\"b\\\\c", "a\\\"b\\\\c"]),
            (
                "t\tn\nr\r",
                &["t\\tn\\nr\\r", "t\\tn\\nr\\r", "t\\tn\\nr\\r"],
            ),
            (
                "\u{1}\u{7f}\u{1f}",
                &[
                    "\\u0001\u{7f}\\u001f",
                    "\\u0001\\u007f\\u001f",
                    "\\u0001\\u007F\\u001F",
                ],
            ),
            (
                "é😀",
                &["é😀", "\\u00e9\\ud83d\\ude00", "\\u00E9\\uD83D\\uDE00"],
            ),
            // A `\\` followed by `u` is text, not an escape.
            ("\\ué", &["\\\\ué", "\\\\u\\u00e9", "\\\\u\\u00E9"]),
            ("a/b", &["a/b", "a/b", "a/b", "a\\/b"]),
            (
                "<a&b>\u{2028}",
                &[
                    "<a&b>\u{2028}",
                    "<a&b>\\u2028",
                    "<a&b>\\u2028",
                    "\\u003ca\\u0026b\\u003e\\u2028",
                ],
            ),
        ];
        for (value, want) in cases {
            assert_eq!(s(&json_forms(value.as_bytes())), want.to_vec(), "{value:?}");
        }
        assert!(json_forms(b"\xff\xfe").is_empty());
    }

    #[test]
    fn hex_forms_and_xxd_pieces() {
        assert_eq!(s(&hex_forms(b"ab/")), ["61622f", "61622F"]);
        // 31 bytes: 62 digits, a last piece of 2 digits is dropped.
        let value = [0xabu8; 31];
        let forms = hex_forms(&value);
        assert_eq!(forms.len(), 3);
        assert_eq!(forms[2], "ab".repeat(30).into_bytes());
        // 38 bytes: a last piece of exactly 16 digits is kept.
        let forms = hex_forms(&[0xcd; 38]);
        assert_eq!(
            forms[2..].iter().map(Vec::len).collect::<Vec<_>>(),
            [60, 16]
        );
        // 30 bytes fit one `xxd -p` line: no pieces.
        assert_eq!(hex_forms(&[1; 30]).len(), 2);
    }

    #[test]
    fn base64_pieces_follow_gnu_and_pem_lines() {
        let lengths = |value_len: usize| -> Vec<usize> {
            base64_wrapped_pieces(&vec![b'x'; value_len])
                .iter()
                .map(Vec::len)
                .collect()
        };
        // 48 bytes: exactly one PEM line, nothing wrapped.
        assert_eq!(lengths(48), Vec::<usize>::new());
        // 49 bytes: 65 determined characters; PEM's last piece of 1 dropped.
        assert_eq!(lengths(49), [64]);
        // 57 bytes: one GNU line; PEM: 76 = 64 + 12, 12 dropped.
        assert_eq!(lengths(57), [64]);
        // 60 bytes: 80 characters: GNU 76 + 4 (dropped), PEM 64 + 16 (kept).
        assert_eq!(lengths(60), [76, 64, 16]);
        // 100 bytes: 133 determined characters.
        assert_eq!(lengths(100), [76, 57, 64, 64]);
        let value = b"0123456789".repeat(10);
        let pieces = base64_wrapped_pieces(&value);
        let full = STANDARD_NO_PAD.encode(&value);
        assert_eq!(pieces[0], full.as_bytes()[..76].to_vec());
        assert_eq!(pieces[1], full.as_bytes()[76..133].to_vec());
    }

    #[test]
    fn shell_forms_match_bash_busybox_and_printf_q() {
        let cases: &[(&str, &[&str])] = &[
            ("plain-token_1", &[]),
            ("it's", &["it'\\''s", "it'\"'\"'s", "it\\'s"]),
            ("a b", &["a\\ b"]),
            (
                "a!b\"c$d&e(f)g*h,i;j<k>l?m[n\\o]p^q`r{s|t}u",
                &[
                    "a\\!b\\\"c\\$d\\&e\\(f\\)g\\*h\\,i\\;j\\<k\\>l\\?m\\[n\\\\o\\]p\\^q\\`r\\{s\\|t\\}u",
                ],
            ),
            ("#ab", &["\\#ab"]),
            ("a#b", &[]),
            ("~ab", &["\\~ab"]),
            ("a~b", &[]),
            ("a=~b:~c", &["a=\\~b:\\~c"]),
            ("é x", &["é\\ x"]),
            // Control bytes make bash use $'...': no printf %q form.
            ("a\tb c", &[]),
            ("it's\u{1}", &["it'\\''s\u{1}", "it'\"'\"'s\u{1}"]),
        ];
        for (value, want) in cases {
            assert_eq!(
                s(&shell_forms(value.as_bytes())),
                want.to_vec(),
                "{value:?}"
            );
            assert_eq!(
                Encoding::Shell.changes(value.as_bytes()),
                !want.is_empty(),
                "{value:?}"
            );
        }
        assert!(shell_forms(b"a b\xff").is_empty());
    }

    /// For every ASCII byte, `changes` says yes exactly when some form of
    /// a value holding it (between letters, where `printf %q`'s place
    /// rules do not apply) differs from the value: the encoders are the
    /// oracle. A lone byte from 0x80 up is not UTF-8: some encoders give
    /// no form of it, and `changes` may say yes (it never says no
    /// wrongly).
    #[test]
    fn changes_is_exact_for_every_ascii_byte() {
        for b in 0..=255u8 {
            let value = [b'a', b, b'z'];
            for encoding in Encoding::ALL {
                let mut forms = Vec::new();
                encoding.encode_into(&value, &mut forms);
                let differs = forms.iter().any(|f| f[..] != value[..]);
                let says = encoding.changes(&value);
                if b.is_ascii() {
                    assert_eq!(says, differs, "{encoding} of {value:?}: {forms:?}");
                } else {
                    assert!(says || !differs, "{encoding} of {value:?}: {forms:?}");
                }
            }
        }
    }

    #[test]
    fn unchanged_values_are_their_own_forms() {
        // Wherever `changes` says no, every form must equal the value.
        let values: &[&[u8]] = &[
            b"plainToken123",
            b"a-b.c_d~e",
            b"with space",
            b"quote\"d",
            b"back\\slash",
            b"tab\there",
            b"del\x7f",
            b"caf\xc3\xa9",
            b"\xff\xfe",
            b"a&b",
            b"it's",
            b"100%",
            b"a+b/c=d",
            b"ctrl\x01",
            b"a<b>c",
            b"a/b",
            b"#x~y",
            b"a=~b",
            "line\u{2028}".as_bytes(),
        ];
        for &value in values {
            for encoding in Encoding::ALL {
                let mut forms = Vec::new();
                encoding.encode_into(value, &mut forms);
                if !encoding.changes(value) {
                    assert!(
                        forms.iter().all(|f| f == value),
                        "{encoding} of {value:?} gives {forms:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn xml_and_command_escapes() {
        assert_eq!(
            xml_escape(b"<a href='x'>&\"</a>"),
            b"&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;".to_vec()
        );
        assert_eq!(command_escape(b"50%\r\nnext"), b"50%25%0D%0Anext".to_vec());
    }

    #[test]
    fn encoding_list_parsing() {
        assert_eq!(
            EncodingSet::parse_list("raw,url")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            vec![Encoding::Raw, Encoding::Url]
        );
        assert!(EncodingSet::parse_list("raw,").is_err());
        assert!(EncodingSet::parse_list("Raw").is_err());
        assert!(EncodingSet::parse_list("").is_err());
        assert_eq!(
            EncodingSet::parse_list("raw,base64,base64url,url,json,xml,command,hex,shell,decoded")
                .unwrap(),
            EncodingSet::all()
        );
        assert_eq!(
            EncodingSet::all().without(Encoding::Decoded).iter().last(),
            Some(Encoding::Shell)
        );
        for (index, encoding) in Encoding::ALL.into_iter().enumerate() {
            assert_eq!(encoding as usize, index, "{encoding}");
        }
    }
}
