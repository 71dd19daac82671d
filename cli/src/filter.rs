//! Filter mode: stdin to stdout through the engine.
//!
//! Exit status: 0 at end of input, and also when the reader of stdout goes
//! away (`logmask ... | head`: quietly, SPEC 5); 1 on any other I/O error.

use std::fs::File;
use std::io::{self, Read};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd};
use std::sync::Arc;

use logmask::Registry;

use super::args::Options;
use super::output::{Downstream, State, enlarge_pipe};
use super::pump::mask_stream;
use super::{closed_at_start, messages, print_stats, report, status, writer_builder};

pub fn run(options: &Options, registry: &Arc<Registry>) -> u8 {
    // SAFETY: fd 0 stays open for the life of the process; ManuallyDrop
    // keeps it from being closed.
    let stdin = Stdin(ManuallyDrop::new(unsafe { File::from_raw_fd(0) }));
    enlarge_pipe(stdin.as_fd());
    let writer = writer_builder(options, registry, "stdin").build(Downstream::stdout());
    let outcome = mask_stream(stdin, writer, true);
    if options.stats {
        print_stats(outcome.stats, registry);
    }
    let mut code = status::OK;
    if !report::finish(outcome.stats, registry) {
        code = status::IO_ERROR;
    }
    if let Some(err) = outcome.read_error {
        messages::error(&format!("cannot read stdin: {err}"));
        code = status::IO_ERROR;
    }
    if let State::Failed(err) = outcome.downstream {
        messages::error(&format!("cannot write to stdout: {err}"));
        code = status::IO_ERROR;
    }
    code
}

/// Descriptor 0, read directly (std's stdin has a lock and an extra
/// buffer copy) and never closed; reads fail if it was closed at start.
struct Stdin(ManuallyDrop<File>);

impl Read for Stdin {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // The runtime's /dev/null would read as an empty input.
        if closed_at_start::was_closed(0) {
            return Err(closed_at_start::error());
        }
        self.0.read(buffer)
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
