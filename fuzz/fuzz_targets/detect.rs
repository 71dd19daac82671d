//! Arbitrary bytes and splits through the detectors: never a panic, held
//! bytes within the longest format's bound, and the output of the naive
//! detector and masker (`tests/common/naive_detect.rs`).
//!
//! The first byte chooses the write size (1 to 64) and, with its top bit,
//! chunks scanned ahead by a `Prescanner` (sizes of 97 bytes to 6 KiB, so
//! that whole writes are searched in place too); the rest is the log.
//! With the next bit too, the in-band protocol is on (it cuts chunks into
//! pieces), and the scanned writes must give what plain writes give.

#![no_main]

use std::io::Write;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use logmask::{DetectorSet, MaskWriter, Prescanner, Registry};

#[path = "../../tests/common/naive_detect.rs"]
mod naive;

/// More than any hold allows: a private-key line (4 KiB), a `jwt` (16
/// KiB), a PEM block's escaped run (64 KiB) and the lookback.
const MAX_HELD: usize = 64 * 1024 + 4096 + 64;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    // The naive detector is quadratic: keep cases small.
    if input.len() > 4096 {
        return;
    }
    let scanned = first & 0x80 != 0;
    if scanned && first & 0x40 != 0 {
        return scanned_with_commands(input, (usize::from(first % 64) + 1) * 97);
    }
    let size = (usize::from(first % 64) + 1) * if scanned { 97 } else { 1 };
    let registry = Arc::new(Registry::new());
    let mut writer = MaskWriter::builder(registry).commands(false).build(Vec::new());
    let scanner = Prescanner::new(DetectorSet::all());
    for piece in input.chunks(size) {
        if scanned {
            writer.write_scanned(&scanner.scan(piece.to_vec())).unwrap();
        } else {
            writer.write_all(piece).unwrap();
        }
        let written = writer.stats().bytes_out as usize;
        let _ = written;
        let debug = format!("{writer:?}");
        let held: usize = debug
            .split("held_bytes: ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(held <= MAX_HELD, "held {held}");
    }
    let got = writer.finish().unwrap();
    assert_eq!(got, naive::mask(input, b"***"));
});

/// Scanned chunks through a writer with the protocol on, against plain
/// writes of the same pieces.
fn scanned_with_commands(input: &[u8], size: usize) {
    let scanner = Prescanner::new(DetectorSet::all());
    let mut scanned = MaskWriter::builder(Arc::new(Registry::new())).build(Vec::new());
    let mut plain = MaskWriter::builder(Arc::new(Registry::new())).build(Vec::new());
    for piece in input.chunks(size) {
        scanned.write_scanned(&scanner.scan(piece.to_vec())).unwrap();
        plain.write_all(piece).unwrap();
        assert_eq!(scanned.get_ref(), plain.get_ref(), "after a piece");
    }
    assert_eq!(scanned.finish().unwrap(), plain.finish().unwrap());
}
