//! Filter mode: stdin to stdout through the engine.
//!
//! Exit status: 0 at end of input, and also when the reader of stdout goes
//! away (`logmask ... | head`: quietly, SPEC 5); 1 on any other I/O error.

use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, FromRawFd};
use std::sync::Arc;

use logmask::Registry;

use super::args::Options;
use super::output::{Downstream, State, enlarge_pipe};
use super::pump::mask_stream;
use super::{messages, print_stats, status, writer_builder};

pub fn run(options: &Options, registry: &Arc<Registry>) -> u8 {
    // SAFETY: fd 0 stays open for the life of the process; ManuallyDrop
    // keeps it from being closed. Reading it directly skips std's stdin
    // lock and its extra buffer copy.
    let mut stdin = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
    enlarge_pipe(stdin.as_fd());
    let writer = writer_builder(options, registry, "stdin").build(Downstream::stdout());
    let outcome = mask_stream(&mut *stdin, writer, true);
    if options.stats {
        print_stats(outcome.stats, registry);
    }
    let mut code = status::OK;
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
