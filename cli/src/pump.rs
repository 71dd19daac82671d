//! The read loop shared by filter and exec mode: reads of up to 64 KiB in
//! (a buffer that stays in the core's cache, so the kernel's copy into it
//! is cheap), one masked write and flush per read out.
//!
//! Invariants:
//! - After every read, the engine has been given the bytes and the
//!   decided output has been flushed to the file descriptor: a complete
//!   line or a prompt reaches the reader without waiting for more input.
//! - The engine is always finished (end of input ends a partial line,
//!   held bytes go out masked), even when the downstream reader is gone:
//!   its output is then discarded by [`Downstream`].
//! - An input left non-blocking by another process (Node.js leaves its
//!   stdio pipes `O_NONBLOCK`, and children share the file description)
//!   is waited on with `poll`, never an error (SPEC 5). The flag is not
//!   cleared: the description is shared, and the other process relies on
//!   it.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use logmask::{MaskWriter, Stats};

use super::output::{Downstream, PollFlags, State, wait_ready};

const READ_SIZE: usize = 64 * 1024;

/// How a stream ended.
pub struct Outcome {
    /// Counters of the stream (how they are kept: see [`mask_stream`]).
    pub stats: Stats,
    /// Reading the input failed; the stream was finished at that point.
    pub read_error: Option<io::Error>,
    /// What became of the downstream writer.
    pub downstream: State,
}

/// Masks `input` into `writer` until end of input, or until the downstream
/// writer closes or fails if `stop_when_downstream_ends` (filter mode;
/// exec mode drains the command's pipe instead).
pub fn mask_stream(
    input: &mut (impl Read + AsFd),
    mut writer: MaskWriter<Downstream>,
    stop_when_downstream_ends: bool,
) -> Outcome {
    let mut buffer = vec![0u8; READ_SIZE];
    let mut read_error = None;
    let mut bytes_in = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(input.as_fd(), PollFlags::IN);
                continue;
            }
            Err(err) => {
                read_error = Some(err);
                break;
            }
        };
        bytes_in += n as u64;
        // Downstream never fails: its errors become its state.
        let _ = writer.write_all(&buffer[..n]);
        let _ = writer.flush();
        if stop_when_downstream_ends && !matches!(writer.get_ref().state(), State::Open) {
            break;
        }
    }
    let (downstream, engine) = match writer.finish_with_stats() {
        Ok(finished) => finished,
        Err(_) => unreachable!("Downstream records errors instead of returning them"),
    };
    let (state, received) = downstream.into_parts();
    Outcome {
        // Bytes are counted here, where they are read and delivered; the
        // engine counts the masked regions, including any masked while
        // finishing a line pending at end of input.
        stats: Stats {
            bytes_in,
            bytes_out: received,
            regions: engine.regions,
            detected: engine.detected,
        },
        read_error,
        downstream: state,
    }
}
