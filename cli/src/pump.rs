//! The read loop shared by filter, exec and PTY mode: a reading thread
//! takes reads of up to 64 KiB (a buffer that stays in the core's cache,
//! so the kernel's copy into it is cheap) and runs detection's window pass
//! on each ([`Prescanner`]); the masking thread makes one masked write
//! and flush per read. On two cores the read's copy and the pass run
//! while the masking thread works on the read before.
//!
//! Invariants:
//! - A read is handed on as soon as it returns, and after the masking
//!   thread takes it the engine has been given the bytes and the decided
//!   output has been flushed to the file descriptor: a complete line or a
//!   prompt reaches the reader without waiting for more input.
//! - At most `AHEAD` reads wait between the threads, so memory stays a
//!   few buffers whatever the input's speed.
//! - The engine is always finished (end of input ends a partial line,
//!   held bytes go out masked), even when the downstream reader is gone:
//!   its output is then discarded by [`Downstream`].
//! - An input left non-blocking by another process (Node.js leaves its
//!   stdio pipes `O_NONBLOCK`, and children share the file description)
//!   is waited on with `poll`, never an error (SPEC 5). The flag is not
//!   cleared: the description is shared, and the other process relies on
//!   it.
//! - The reading thread owns the input and ends at end of input, at a
//!   read error, or at its next read once the masking thread has stopped
//!   (filter mode, downstream gone).

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use logmask::{MaskWriter, Prescanner, Scanned, Stats};

use super::output::{Downstream, PollFlags, State, wait_ready};
use super::read_ahead::{self, Producer};

const READ_SIZE: usize = 64 * 1024;

/// Reads waiting for the masking thread at most; the reader is woken to
/// refill once half of them are taken (see [`read_ahead`]).
const AHEAD: usize = 8;

/// What the reading thread hands on.
enum Handoff {
    Chunk(Scanned),
    /// End of input (`None`) or a read error.
    End(Option<io::Error>),
}

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
    mut input: impl Read + AsFd + Send + 'static,
    mut writer: MaskWriter<Downstream>,
    stop_when_downstream_ends: bool,
) -> Outcome {
    let mut read_error = None;
    let mut bytes_in = 0u64;
    let scanner = || Prescanner::new(writer.detectors());
    // No thread to spare: read here, one chunk at a time.
    let (mut chunks, buffers) = match start_reading(scanner()) {
        Some((give, chunks, buffers)) => {
            let _ = give.send(input);
            (chunks, Some(buffers))
        }
        None => read_here(&mut input, scanner()),
    };
    loop {
        let chunk = match chunks.next() {
            Some(Handoff::Chunk(chunk)) => chunk,
            Some(Handoff::End(err)) => {
                read_error = err;
                break;
            }
            // Only a panic ends the reading thread without a word: the
            // input was not read to its end.
            None => {
                read_error = Some(io::Error::other("the reading thread stopped"));
                break;
            }
        };
        bytes_in += chunk.bytes().len() as u64;
        // Downstream never fails: its errors become its state.
        let _ = writer.write_scanned(&chunk);
        let _ = writer.flush();
        if let Some(buffers) = &buffers {
            let _ = buffers.send(chunk.into_parts());
        }
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

/// Spent buffers and hit lists, going back to the reading thread.
type Spent = (Vec<u8>, Vec<(u32, u8)>);

/// Starts the reading thread: the input goes to it through the first
/// sender (so that it stays here if no thread can be started, `None`),
/// its reads come out of the iterator, and spent buffers go back through
/// the last sender.
fn start_reading<R: Read + AsFd + Send + 'static>(
    scanner: Prescanner,
) -> Option<(Sender<R>, Box<dyn Iterator<Item = Handoff>>, Sender<Spent>)> {
    let (give, input) = mpsc::channel::<R>();
    let (to_mask, chunks) = read_ahead::queue(AHEAD);
    let (buffers, spent) = mpsc::channel();
    thread::Builder::new()
        .name("logmask-read".into())
        .spawn(move || {
            if let Ok(mut input) = input.recv() {
                read_loop(&mut input, &scanner, &to_mask, &spent);
            }
        })
        .ok()?;
    Some((give, Box::new(chunks.into_iter()), buffers))
}

/// The reading thread: reads, scans and hands on until end of input, an
/// error, or the masking thread is gone.
fn read_loop(
    input: &mut (impl Read + AsFd),
    scanner: &Prescanner,
    to_mask: &Producer<Handoff>,
    spent: &Receiver<Spent>,
) {
    loop {
        let read = read_chunk(input, scanner, spent.try_recv().unwrap_or_default());
        let last = matches!(read, Handoff::End(_));
        if to_mask.push(read).is_err() || last {
            return;
        }
    }
}

/// Without a reading thread: each read is taken when the masking thread
/// asks for the next.
fn read_here<'a>(
    input: &'a mut (impl Read + AsFd),
    scanner: Prescanner,
) -> (
    Box<dyn Iterator<Item = Handoff> + 'a>,
    Option<Sender<Spent>>,
) {
    let mut done = false;
    let reads = std::iter::from_fn(move || {
        if done {
            return None;
        }
        let read = read_chunk(input, &scanner, Spent::default());
        done = matches!(read, Handoff::End(_));
        Some(read)
    });
    (Box::new(reads), None)
}

/// One read into `buffer` (grown to READ_SIZE), scanned with `hits`
/// reused: a chunk, or the end of input, or a read error.
fn read_chunk(
    input: &mut (impl Read + AsFd),
    scanner: &Prescanner,
    (mut buffer, hits): Spent,
) -> Handoff {
    buffer.resize(READ_SIZE, 0);
    match read_some(input, &mut buffer) {
        Ok(0) => Handoff::End(None),
        Ok(n) => {
            buffer.truncate(n);
            Handoff::Chunk(scanner.scan_reusing(buffer, hits))
        }
        Err(err) => Handoff::End(Some(err)),
    }
}

/// One read of at least a byte, or end of input (0), or an error: an
/// interrupted read is retried, and a non-blocking input is waited on.
fn read_some(input: &mut (impl Read + AsFd), buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buffer) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                wait_ready(input.as_fd(), PollFlags::IN);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Write;
    use std::thread;

    use logmask::DetectorSet;

    use super::*;

    /// A pipe that `content` is written into from a thread of its own.
    fn pipe_with(content: &[u8]) -> File {
        let (read, write) = rustix::pipe::pipe().unwrap();
        let content = content.to_vec();
        thread::spawn(move || File::from(write).write_all(&content).unwrap());
        File::from(read)
    }

    /// Reads several chunks both ways, the reading thread's and the one
    /// without it: the chunks join up to the input, each with the hits a
    /// fresh scan of its bytes gives, then the end.
    #[test]
    fn both_ways_of_reading_give_every_byte_once_then_the_end() {
        let line = b"ghp_ eyJ https://u:p@h ?sig=x\n";
        let content: Vec<u8> = (0..5 * READ_SIZE + 1234)
            .map(|i| line[i % line.len()])
            .collect();
        let fresh = Prescanner::new(DetectorSet::all());
        for threaded in [false, true] {
            let mut input = pipe_with(&content);
            let scanner = Prescanner::new(DetectorSet::all());
            let mut reads: Vec<Handoff> = if threaded {
                let (give, reads, _buffers) = start_reading(scanner).unwrap();
                give.send(input).unwrap();
                reads.collect()
            } else {
                read_here(&mut input, scanner).0.collect()
            };
            let last = reads.pop();
            assert!(
                matches!(last, Some(Handoff::End(None))),
                "threaded {threaded}: no clean end"
            );
            let mut joined = Vec::new();
            for read in reads {
                let Handoff::Chunk(chunk) = read else {
                    panic!("threaded {threaded}: an end before the last read");
                };
                joined.extend_from_slice(chunk.bytes());
                let (bytes, hits) = chunk.into_parts();
                let (_, want) = fresh.scan(bytes).into_parts();
                assert_eq!(hits, want, "threaded {threaded}: other hits");
            }
            assert!(
                joined == content,
                "threaded {threaded}: bytes lost or repeated"
            );
        }
    }
}
