//! What a value encodes: the `decoded` encoding (SPEC 1.3).
//!
//! A secret is often stored Base64- or hex-encoded (a Kubernetes secret, a
//! key kept in a CI variable) and printed after `base64 -d`. A line that is
//! wholly such an encoding therefore also registers its decoding, as a
//! value of its own, in every other chosen encoding (the registry does
//! that; this module only decodes).
//!
//! Invariants:
//! - Only a line of at least [`MIN_ENCODED_LEN`] characters is decoded,
//!   and only when it is wholly one encoding: standard Base64, URL-safe
//!   Base64 (one alphabet, unpadded or padded to a multiple of 4, unused
//!   trailing bits zero), or hex digits of even length.
//! - A decoding is kept only when it is UTF-8 text (no byte below 0x20 but
//!   tab, CR and LF) of at least max(minimum, [`MIN_DECODED_LEN`]) bytes:
//!   random tokens that happen to be valid Base64 decode to binary noise,
//!   which would only add variants nobody prints.
//! - Decoding never recurses: the registry does not decode a decoding.

use base64::Engine;
use base64::alphabet::{Alphabet, STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The shortest line that is decoded.
pub const MIN_ENCODED_LEN: usize = 8;

/// The shortest decoding that is registered (unless the minimum length is
/// higher).
pub const MIN_DECODED_LEN: usize = 8;

/// The decodings of one trimmed line, each once: its Base64 decoding (in
/// whichever alphabet the line is wholly written in) and its hex decoding,
/// where they qualify.
pub fn decodings(line: &[u8], min_length: usize) -> Vec<Vec<u8>> {
    let mut found: Vec<Vec<u8>> = Vec::new();
    if line.len() < MIN_ENCODED_LEN {
        return found;
    }
    let floor = min_length.max(MIN_DECODED_LEN);
    let candidates = [
        decode_base64(line, &STANDARD),
        decode_base64(line, &URL_SAFE),
        decode_hex(line),
    ];
    for decoding in candidates.into_iter().flatten() {
        if decoding.len() >= floor && is_text(&decoding) && !found.contains(&decoding) {
            found.push(decoding);
        }
    }
    found
}

/// The decoding of a line wholly in one Base64 alphabet: unpadded, or
/// padded to a multiple of 4, with unused trailing bits zero.
fn decode_base64(line: &[u8], alphabet: &Alphabet) -> Option<Vec<u8>> {
    let padded = line.last() == Some(&b'=');
    if padded && !line.len().is_multiple_of(4) {
        return None;
    }
    let mode = if padded {
        DecodePaddingMode::RequireCanonical
    } else {
        DecodePaddingMode::RequireNone
    };
    // Trailing bits must be zero by default: only the canonical encoding
    // of some bytes is taken for an encoding at all.
    let engine = GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(mode),
    );
    engine.decode(line).ok()
}

/// The decoding of an even-length line of hex digits, either case.
fn decode_hex(line: &[u8]) -> Option<Vec<u8>> {
    if !line.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    line.chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// UTF-8 with no control byte below 0x20 other than tab, CR and LF.
fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
        && bytes
            .iter()
            .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\r' | b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_whole_canonical_text_encodings() {
        let cases: &[(&str, usize, &[&str])] = &[
            // `printf %s 'hunter22!' | base64`
            ("aHVudGVyMjIh", 4, &["hunter22!"]),
            // Padded to a multiple of 4, and unpadded.
            ("c3VwZXJzZWNyZXQ=", 4, &["supersecret"]),
            ("c3VwZXJzZWNyZXQ", 4, &["supersecret"]),
            // Wrong amount of padding, mixed alphabets, trailing bits set.
            ("c3VwZXJzZWNyZXQ==", 4, &[]),
            ("c3VwZXJz+WNy_XQ", 4, &[]),
            ("c3VwZXJzZWNyZXR", 4, &[]),
            // URL-safe alphabet: `base64 | tr '+/' '-_'` of "<<???>>>".
            ("PDw_Pz8-Pj4", 4, &["<<???>>>"]),
            // Hex, either case; odd length is not hex.
            ("68756e7465723232", 4, &["hunter22"]),
            ("68756E7465723232", 4, &["hunter22"]),
            ("68756e746572323", 4, &[]),
            // Too short a line, too short a decoding, or a higher minimum.
            ("aHVudGVy", 4, &[]),
            ("aHVudGVyMg==", 4, &[]),
            ("aHVudGVyMjIh", 10, &[]),
            // Binary noise is not text; tab and line breaks are.
            ("AAECAwQFBgcICQ", 4, &[]),
            ("bGluZTEKbGluZTI=", 4, &["line1\nline2"]),
            // Hex digits that are also Base64: only the hex decoding is text.
            ("4142434445464748", 4, &["ABCDEFGH"]),
        ];
        for (line, min, want) in cases {
            let got: Vec<String> = decodings(line.as_bytes(), *min)
                .into_iter()
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .collect();
            assert_eq!(got, want.to_vec(), "{line:?}");
        }
    }
}
