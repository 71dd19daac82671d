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

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
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
}

impl Encoding {
    /// Every encoding, in the order SPEC lists them.
    pub const ALL: [Encoding; 7] = [
        Encoding::Raw,
        Encoding::Base64,
        Encoding::Base64Url,
        Encoding::Url,
        Encoding::Json,
        Encoding::Xml,
        Encoding::Command,
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
        }
    }

    /// Parses an exact, lower-case encoding name.
    pub fn from_name(name: &str) -> Option<Encoding> {
        Encoding::ALL.into_iter().find(|e| e.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Whether some form of `value` in this encoding may differ from
    /// `value` itself. `false` means every form is the value, byte for
    /// byte: an identifier or a hex token is its own URL, JSON, XML and
    /// command form.
    pub fn changes(self, value: &[u8]) -> bool {
        match self {
            Encoding::Raw => false,
            Encoding::Base64 | Encoding::Base64Url => true,
            // The crate borrows the input when it has nothing to encode.
            Encoding::Url => matches!(
                Cow::from(percent_encode(value, NOT_UNRESERVED)),
                Cow::Owned(_)
            ),
            // Both JSON forms keep printable ASCII but `"` and `\`.
            Encoding::Json => value
                .iter()
                .any(|&b| matches!(b, b'"' | b'\\' | 0..0x20 | 0x7f..)),
            Encoding::Xml => holds_any(value, XML_ENTITIES),
            Encoding::Command => holds_any(value, COMMAND_ESCAPES),
        }
    }

    /// Appends the forms of `value` in this encoding to `out`.
    pub fn encode_into(self, value: &[u8], out: &mut Vec<Vec<u8>>) {
        match self {
            Encoding::Raw => out.push(value.to_vec()),
            Encoding::Base64 => out.extend(base64_phases(value, false)),
            Encoding::Base64Url => out.extend(base64_phases(value, true)),
            Encoding::Url => out.extend(url_forms(value)),
            Encoding::Json => out.extend(json_forms(value)),
            Encoding::Xml => out.push(xml_escape(value)),
            Encoding::Command => out.push(command_escape(value)),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of encodings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingSet(u8);

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
    let engine = if url_safe {
        &URL_SAFE_NO_PAD
    } else {
        &STANDARD_NO_PAD
    };
    // Two filler bytes, then the value: alignment k encodes the last
    // `k + value.len()` bytes. One input and one output buffer serve all
    // three, so each form costs one allocation.
    let mut input = vec![0u8; 2 + value.len()];
    input[2..].copy_from_slice(value);
    let mut encoded = vec![0u8; (input.len() * 4).div_ceil(3)];
    std::array::from_fn(|k| {
        let input = &input[2 - k..];
        let written = engine
            .encode_slice(input, &mut encoded)
            .expect("the buffer fits any encoding of the input");
        let determined = (input.len() * 8 / 6).min(written);
        let start = SKIP[k].min(determined);
        encoded[start..determined].to_vec()
    })
}

/// RFC 3986 reserved and non-ASCII bytes: everything but `A-Z a-z 0-9 - . _ ~`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encoded forms: upper-case and lower-case hex, and, where the
/// value holds a space, both again with `+` for space.
pub fn url_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let upper = percent_encode(value, NOT_UNRESERVED)
        .to_string()
        .into_bytes();
    let lower = lowercase_percent_hex(&upper);
    let mut forms = vec![upper, lower];
    if value.contains(&b' ') {
        // A literal "%20" in the encoded text can only come from a space:
        // a '%' in the value is itself encoded as "%25".
        let plus: Vec<Vec<u8>> = forms.iter().map(|f| replace(f, b"%20", b"+")).collect();
        forms.extend(plus);
    }
    forms
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

/// The value inside a JSON string: serde_json's form and the ASCII-only form
/// that Python's `json.dumps` writes. Values that are not UTF-8 have none.
pub fn json_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Vec::new();
    };
    let quoted = serde_json::to_string(text).expect("a str always serializes");
    let serde_form = quoted.as_bytes()[1..quoted.len() - 1].to_vec();
    vec![serde_form, json_ascii_escape(text)]
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

/// Whether `value` holds a byte listed in `table`.
fn holds_any(value: &[u8], table: &[(u8, &[u8])]) -> bool {
    value
        .iter()
        .any(|&b| table.iter().any(|(special, _)| *special == b))
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
    fn url_forms_cover_both_cases_and_plus() {
        let cases: &[(&str, &[&str])] = &[
            ("abc-._~", &["abc-._~", "abc-._~"]),
            ("a/b?", &["a%2Fb%3F", "a%2fb%3f"]),
            ("a b/", &["a%20b%2F", "a%20b%2f", "a+b%2F", "a+b%2f"]),
            ("100%", &["100%25", "100%25"]),
            ("é", &["%C3%A9", "%c3%a9"]),
        ];
        for (value, want) in cases {
            assert_eq!(s(&url_forms(value.as_bytes())), want.to_vec(), "{value:?}");
        }
    }

    #[test]
    fn json_forms_match_serde_and_python() {
        let cases: &[(&str, &str, &str)] = &[
            ("plain", "plain", "plain"),
            ("a\"b\\c", "a\\\"b\\\\c", "a\\\"b\\\\c"),
            ("t\tn\nr\r", "t\\tn\\nr\\r", "t\\tn\\nr\\r"),
            ("\u{1}\u{7f}", "\\u0001\u{7f}", "\\u0001\\u007f"),
            ("é😀", "é😀", "\\u00e9\\ud83d\\ude00"),
            ("a/b", "a/b", "a/b"),
        ];
        for (value, serde_form, ascii_form) in cases {
            assert_eq!(
                s(&json_forms(value.as_bytes())),
                vec![serde_form.to_string(), ascii_form.to_string()],
                "{value:?}"
            );
        }
        assert!(json_forms(b"\xff\xfe").is_empty());
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
            EncodingSet::parse_list("raw,base64,base64url,url,json,xml,command").unwrap(),
            EncodingSet::all()
        );
    }
}
