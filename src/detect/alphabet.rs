//! Byte classes of SPEC 7 as 256-entry tables, so that extending a run
//! costs one load a byte.

/// A set of bytes.
pub(crate) type Class = [bool; 256];

macro_rules! class {
    (|$b:ident| $e:expr) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            t[i] = $e;
            i += 1;
        }
        t
    }};
}

/// `base` with `bytes` set to `value`.
pub(crate) const fn with(mut base: Class, bytes: &[u8], value: bool) -> Class {
    let mut i = 0;
    while i < bytes.len() {
        base[bytes[i] as usize] = value;
        i += 1;
    }
    base
}

const fn b62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `A-Z a-z 0-9`.
pub(crate) static B62: Class = class!(|b| b62(b));
/// B62 and `-` `_`.
pub(crate) static B64U: Class = class!(|b| b62(b) || b == b'-' || b == b'_');
/// B62 and `+` `/`.
pub(crate) static B64: Class = class!(|b| b62(b) || b == b'+' || b == b'/');
/// `0-9 a-f`.
pub(crate) static HEX: Class = class!(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f'));
/// `0-9 a-z`.
pub(crate) static B36: Class = class!(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
/// `A-Z 2-7` (AWS key ids).
pub(crate) static B32_UPPER: Class = class!(|b| b.is_ascii_uppercase() || matches!(b, b'2'..=b'7'));
/// `A-Z 0-9`.
pub(crate) static UPPER_DIGIT: Class = class!(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
/// B62 and `-` (Slack tokens).
pub(crate) static B62_DASH: Class = class!(|b| b62(b) || b == b'-');
/// B64U and `=` (Atlassian tokens).
pub(crate) static B64U_EQ: Class = class!(|b| b62(b) || b == b'-' || b == b'_' || b == b'=');
/// `0-9`.
pub(crate) static DIGIT: Class = class!(|b| b.is_ascii_digit());
/// Every byte: nothing changes until the length limit.
pub(crate) static NOTHING: Class = [false; 256];

/// The length of the run of `class` bytes at the start of `text`, looking
/// at no more than `max + 1` bytes: past `max`, some length over `max`.
/// A validator that rejects runs longer than `max` needs no more, and
/// overlapping candidates (`?sig=?sig=...`) then cost their bound each,
/// not the rest of the text each.
pub(crate) fn run_at_most(text: &[u8], class: &Class, max: usize) -> usize {
    let look = &text[..text.len().min(max.saturating_add(1))];
    run(look, class)
}

pub(crate) fn run(text: &[u8], class: &Class) -> usize {
    text.iter()
        .position(|&b| !class[b as usize])
        .unwrap_or(text.len())
}

/// Space or tab (SPEC: "whitespace").
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}
