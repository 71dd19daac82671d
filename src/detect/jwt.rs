//! The `jwt` row: `eyJ...` `.` `eyJ...` `.` signature, at most 16 KiB,
//! whose header is a JSON object with an `alg` member.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::Detector;
use super::alphabet::{B64U, Class, run_at_most};
use super::verdict::Verdict;

/// Longest token, in bytes.
pub(crate) const MAX_JWT: usize = 16 * 1024;

/// B64U and `.`: a token may not be followed by one.
static B64U_DOT: Class = {
    let mut t = B64U;
    t[b'.' as usize] = true;
    t
};

const URL_NO_PAD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Evaluates a `jwt` candidate starting at `text[0]` (the start rule is
/// the caller's).
pub(crate) fn jwt(text: &[u8], eof: bool) -> Verdict {
    let wait = |limit: usize| Verdict::Wait {
        hold: 0,
        core: &B64U,
        limit,
        sure: None,
    };
    let mut at = 0;
    let mut parts = [(0, 0); 3];
    for (i, part) in parts.iter_mut().enumerate() {
        if i < 2 {
            let have = text.len() - at;
            if have < 3 {
                if eof || !b"eyJ".starts_with(&text[at..]) {
                    return Verdict::No;
                }
                return Verdict::next_byte(0, text.len());
            }
            if &text[at..at + 3] != b"eyJ" {
                return Verdict::No;
            }
        }
        let n = run_at_most(&text[at..], &B64U, MAX_JWT.saturating_sub(at));
        if at + n > MAX_JWT {
            return Verdict::No;
        }
        if at + n == text.len() && !eof {
            return wait(MAX_JWT);
        }
        if i < 2 && n < 11 {
            return Verdict::No;
        }
        *part = (at, at + n);
        at += n;
        if i < 2 {
            if at == text.len() {
                return Verdict::No; // eof, no dot
            }
            if text[at] != b'.' {
                return Verdict::No;
            }
            at += 1;
        }
    }
    if at < text.len() && B64U_DOT[text[at] as usize] {
        return Verdict::No;
    }
    let header = &text[parts[0].0..parts[0].1];
    let Some(alg_none) = alg(header) else {
        return Verdict::No;
    };
    if parts[2].0 == parts[2].1 && !alg_none {
        return Verdict::No;
    }
    Verdict::Found {
        detector: Detector::Jwt,
        masked: (0, at),
        end: at,
    }
}

/// `Some(alg == "none")` when `header` decodes to a JSON object with an
/// `alg` member.
fn alg(header: &[u8]) -> Option<bool> {
    let json = URL_NO_PAD.decode(header).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let alg = value.as_object()?.get("alg")?;
    Some(alg.as_str() == Some("none"))
}
