//! The checks of SPEC 7: CRC32 (zlib's IEEE CRC-32) and fixed-width
//! base62, base36 and upper-case hex renderings of a number.

/// zlib's CRC-32 of `bytes`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

const B62_DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B36_DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `digits` is `value` written in `alphabet`'s base, most
/// significant first, left-padded with the zero digit to its length.
fn is_fixed_width(digits: &[u8], mut value: u64, alphabet: &[u8]) -> bool {
    let base = alphabet.len() as u64;
    for &d in digits.iter().rev() {
        if d != alphabet[(value % base) as usize] {
            return false;
        }
        value /= base;
    }
    value == 0
}

/// `digits == base62(value, digits.len())`.
pub(crate) fn is_base62(digits: &[u8], value: u64) -> bool {
    is_fixed_width(digits, value, B62_DIGITS)
}

/// `digits == base36(value, digits.len())`.
pub(crate) fn is_base36(digits: &[u8], value: u64) -> bool {
    is_fixed_width(digits, value, B36_DIGITS)
}

/// `digits == hex(value, digits.len())`, upper case.
pub(crate) fn is_hex_upper(digits: &[u8], value: u64) -> bool {
    is_fixed_width(digits, value, HEX_DIGITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_renderings() {
        assert!(is_base62(b"000000", 0));
        assert!(is_base62(b"00000z", 61));
        assert!(is_base62(b"000010", 62));
        assert!(!is_base62(b"00001", 62 * 62 * 62 * 62 * 62));
        assert!(is_base36(b"0r", 27));
        assert!(is_hex_upper(b"000000FF", 255));
        assert!(!is_hex_upper(b"000000ff", 255));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
