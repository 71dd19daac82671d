//! Finding, in ordinary text, the next line the protocol must look at.
//!
//! Only a line whose first byte is a space, a tab or `:` can be a command
//! (SPEC 4), and a log has one such line in many. Calling `memchr` once per
//! line costs more than the masking itself on short lines, so
//! [`next_line_to_hold`] looks at 64 bytes at a time: one bit mask of the
//! newlines and one of the bytes that may begin a command, compared with a
//! shift. Where the CPU has AVX2 (detected at run time) the masks come
//! from AVX2 compares and one table lookup; else, where the target has
//! SSE2 (`target_feature`, on by default for every x86_64 target), from
//! SSE2 compares; elsewhere from
//! [`scalar_masks`], a plain loop that is always compiled, so the tests
//! check it against the SIMD path and a byte-by-byte scan on this machine
//! too.
//!
//! Invariant: the answer is the same as a byte-by-byte scan's whichever
//! masks are used (see the tests), and every newline before the answer is
//! counted exactly once.

/// Whether a line beginning with `b` may be a command line.
pub(crate) fn may_begin_command(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b':')
}

const BLOCK: usize = 64;

/// Scans `data`, which begins inside a line, for the first line start
/// (a position just after a `\n`) whose byte may begin a command.
///
/// Returns the number of newlines before that position and the position,
/// or the number of newlines in all of `data` and `None`.
pub(crate) fn next_line_to_hold(data: &[u8]) -> (u64, Option<usize>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected at run time.
        return unsafe { scan_avx2(data) };
    }
    scan(data, masks)
}

/// [`scan`] with [`masks_avx2`], compiled for AVX2 so that the masks
/// inline into the loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(data: &[u8]) -> (u64, Option<usize>) {
    // SAFETY: this function only runs where AVX2 is available.
    scan(data, |block| unsafe { masks_avx2(block) })
}

/// [`next_line_to_hold`] with the block masks from `masks`.
#[inline(always)]
fn scan(data: &[u8], masks: impl Fn(&[u8; BLOCK]) -> (u64, u64)) -> (u64, Option<usize>) {
    let mut newlines = 0u64;
    // Whether the byte before the current block is a newline.
    let mut carry = 0u64;
    let mut blocks = data.chunks_exact(BLOCK);
    let mut offset = 0;
    for block in &mut blocks {
        let block: &[u8; BLOCK] = block.try_into().expect("64-byte chunk");
        let (breaks, may_begin) = masks(block);
        let starts = ((breaks << 1) | carry) & may_begin;
        if starts != 0 {
            let at = starts.trailing_zeros();
            newlines += u64::from((breaks & ((1u64 << at) - 1)).count_ones());
            return (newlines, Some(offset + at as usize));
        }
        newlines += u64::from(breaks.count_ones());
        carry = breaks >> 63;
        offset += BLOCK;
    }
    let mut after_break = carry == 1;
    for (k, &b) in blocks.remainder().iter().enumerate() {
        if after_break && may_begin_command(b) {
            return (newlines, Some(offset + k));
        }
        after_break = b == b'\n';
        newlines += u64::from(after_break);
    }
    (newlines, None)
}

/// Bit k set where `block[k]` is a newline, and bit k set where it may
/// begin a command.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn masks(block: &[u8; BLOCK]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let (mut breaks, mut starts) = (0u64, 0u64);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is enabled for this target (the cfg above); the
        // unaligned load reads exactly the 16 bytes of `lane`.
        let (b, s) = unsafe {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let starts = _mm_or_si128(_mm_or_si128(eq(b' '), eq(b'\t')), eq(b':'));
            (
                _mm_movemask_epi8(eq(b'\n')) as u16,
                _mm_movemask_epi8(starts) as u16,
            )
        };
        breaks |= u64::from(b) << (16 * k);
        starts |= u64::from(s) << (16 * k);
    }
    (breaks, starts)
}

/// [`masks`] from 32-byte AVX2 compares. The bytes that may begin a
/// command are found with one lookup: `pshufb` indexes a table by a
/// byte's low nibble (and gives 0 for a byte with its high bit set), and
/// the table holds, at each of the three bytes' low nibbles (0 for ` `,
/// 9 for a tab, 10 for `:`), the byte itself, and elsewhere 0x80, which no
/// byte below 0x80 equals. So a byte equals its lookup exactly when it is
/// one of the three.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn masks_avx2(block: &[u8; BLOCK]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_shuffle_epi8,
    };
    const TABLE: [u8; 16] = {
        let mut t = [0x80; 16];
        t[b' ' as usize & 15] = b' ';
        t[b'\t' as usize & 15] = b'\t';
        t[b':' as usize & 15] = b':';
        t
    };
    // SAFETY: the unaligned load reads exactly the 16 bytes of `TABLE`.
    let table =
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(TABLE.as_ptr().cast::<__m128i>()) });
    let newline = _mm256_set1_epi8(b'\n' as i8);
    let (mut breaks, mut starts) = (0u64, 0u64);
    for (k, lane) in block.chunks_exact(32).enumerate() {
        // SAFETY: the unaligned load reads exactly the 32 bytes of `lane`.
        let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
        let b = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, newline)) as u32;
        let s = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(table, v), v)) as u32;
        breaks |= u64::from(b) << (32 * k);
        starts |= u64::from(s) << (32 * k);
    }
    (breaks, starts)
}

/// Bit k set where `block[k]` is a newline, and bit k set where it may
/// begin a command.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn masks(block: &[u8; BLOCK]) -> (u64, u64) {
    scalar_masks(block)
}

/// The portable [`masks`]: one byte at a time.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn scalar_masks(block: &[u8; BLOCK]) -> (u64, u64) {
    let (mut breaks, mut starts) = (0u64, 0u64);
    for (k, &b) in block.iter().enumerate() {
        breaks |= u64::from(b == b'\n') << k;
        starts |= u64::from(may_begin_command(b)) << k;
    }
    (breaks, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte answer.
    fn naive(data: &[u8]) -> (u64, Option<usize>) {
        let mut newlines = 0;
        for (k, &b) in data.iter().enumerate() {
            if k > 0 && data[k - 1] == b'\n' && may_begin_command(b) {
                return (newlines, Some(k));
            }
            newlines += u64::from(b == b'\n');
        }
        (newlines, None)
    }

    #[test]
    fn finds_the_first_line_that_may_be_a_command() {
        let long = |prefix: &str, at: usize, rest: &str| {
            let mut s = prefix.repeat(at);
            s.push_str(rest);
            s
        };
        let cases: Vec<(String, (u64, Option<usize>))> = vec![
            ("".into(), (0, None)),
            (" starts inside a line".into(), (0, None)),
            ("a\nb\nc\n".into(), (3, None)),
            ("a\n  indented".into(), (1, Some(2))),
            ("a\nb\n::add-mask::x".into(), (2, Some(4))),
            ("a\n\tx".into(), (1, Some(2))),
            ("a\n\n:".into(), (2, Some(3))),
            (long("x", 63, "\n:"), (1, Some(64))),
            (long("x", 62, "\n\n "), (2, Some(64))),
            (long("ab\n", 40, " x"), (40, Some(120))),
            (long("x", 200, "\n"), (1, None)),
        ];
        for (data, want) in cases {
            assert_eq!(next_line_to_hold(data.as_bytes()), want, "{data:?}");
            assert_eq!(
                scan(data.as_bytes(), scalar_masks),
                want,
                "scalar on {data:?}"
            );
            assert_eq!(naive(data.as_bytes()), want, "oracle on {data:?}");
        }
    }

    #[test]
    fn agrees_with_a_byte_by_byte_scan() {
        // A small generator over the bytes that matter, every length
        // across a few block boundaries.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"\n\n :\tab";
        for len in 0..300 {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(next_line_to_hold(&data), naive(&data), "{data:?}");
                assert_eq!(scan(&data, scalar_masks), naive(&data), "scalar: {data:?}");
            }
        }
    }

    /// The SIMD masks (where compiled) and the portable ones agree on
    /// random blocks of every byte value, and on each byte of interest at
    /// every position.
    #[test]
    fn simd_and_scalar_masks_agree() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut block = [0u8; BLOCK];
            for b in &mut block {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = (state >> 24) as u8;
            }
            assert_eq!(masks(&block), scalar_masks(&block), "{block:?}");
            avx2_agrees(&block);
        }
        for special in [b'\n', b' ', b'\t', b':', b'\r', 0, 0x80, 0xff] {
            for at in 0..BLOCK {
                let mut block = [b'x'; BLOCK];
                block[at] = special;
                assert_eq!(masks(&block), scalar_masks(&block), "{special} at {at}");
                avx2_agrees(&block);
            }
        }
        // Every byte value at every position, beside each byte of interest.
        for value in 0..=255u8 {
            let mut block = [value; BLOCK];
            block[7] = b'\n';
            block[40] = b':';
            avx2_agrees(&block);
        }
    }

    /// The AVX2 masks, where this machine has AVX2, equal the portable ones.
    fn avx2_agrees(block: &[u8; BLOCK]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected at run time.
            let fast = unsafe { masks_avx2(block) };
            assert_eq!(fast, scalar_masks(block), "{block:?}");
        }
    }
}
