//! The `logmask` command: masks secrets in stdin, or in the output of a
//! wrapped command, with the engine of the `logmask` library.
//!
//! Everything specific to the command line lives in [`cli`]; this file
//! only turns its outcome into the process exit status.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(cli::run())
}
