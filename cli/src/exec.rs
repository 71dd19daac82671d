//! Exec mode: run `COMMAND [ARG]...` and mask its stdout and stderr.
//!
//! One thread per pipe, each with its own `MaskWriter` (its own line and
//! `::stop-commands::` state, SPEC 4) over the one shared registry, so a
//! mask registered on either stream applies to both from the moment its
//! line has been read. Order is kept within each stream, not between them.
//!
//! Invariants:
//! - Both pipes are drained to their end whatever happens downstream: if
//!   logmask's own stdout or stderr is closed or fails, the output is
//!   discarded but still read, so the command never blocks on a full pipe
//!   and still registers masks in-band.
//! - logmask exits only after the command has exited and both pipes have
//!   closed (a background grandchild holding them keeps logmask waiting,
//!   as in any shell pipeline).
//! - Exit status: the command's, or 128 + N if it died of signal N; 127 if
//!   it could not be started; 1 if an I/O error lost output of a command
//!   that succeeded (a failing command's own status is kept).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use logmask::{Registry, Stats};

use super::args::Options;
use super::output::{Downstream, State, enlarge_pipe};
use super::pump::{Outcome, mask_stream};
use super::{messages, print_stats, report, signals, status, writer_builder};

pub fn run(options: &Options, registry: &Arc<Registry>, command: &[OsString]) -> u8 {
    if options.pty {
        return super::pty::run(options, registry, command);
    }
    // Before spawning, so that no signal sent to logmask is missed.
    let signals = match signals::install() {
        Ok(signals) => signals,
        Err(err) => {
            messages::error(&format!("cannot install signal handlers: {err}"));
            return status::IO_ERROR;
        }
    };
    let mut spawn = Command::new(&command[0]);
    spawn
        .args(&command[1..])
        .envs(options.command_env.iter().cloned())
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    signals::keep_dispositions(&mut spawn);
    let mut child = match spawn.spawn() {
        Ok(child) => child,
        Err(err) => return cannot_run(&command[0], &err),
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out = pump(
        stdout,
        writer_builder(options, registry, "stdout").build(Downstream::stdout()),
    );
    let err = pump(
        stderr,
        writer_builder(options, registry, "stderr").build(Downstream::stderr()),
    );

    let tracked = Arc::new(signals::Child::new(child.id()));
    signals.forward_to(tracked.clone());
    let waited = tracked.wait(&mut child);

    let outcomes = [
        ("stdout", "stdout", join(out)),
        ("stderr", "stderr", join(err)),
    ];
    conclude(options, registry, &outcomes, waited)
}

/// Reports that `program` could not be started; the status for it.
pub fn cannot_run(program: &OsStr, err: &io::Error) -> u8 {
    // The command line may hold a secret: the name is masked as bytes,
    // like output, before anything makes it text (a lossy conversion
    // would turn a non-UTF-8 secret into another string that no longer
    // matches).
    let mut text = b"cannot run '".to_vec();
    text.extend_from_slice(program.as_bytes());
    text.extend_from_slice(format!("': {err}").as_bytes());
    messages::error_bytes(&text);
    status::CANNOT_RUN
}

/// The end of a wrapped command (exec mode, `--pty`): `--stats`, the
/// errors of each stream (what was read, where it was written, how it
/// ended), and the exit status of the module docs.
pub fn conclude(
    options: &Options,
    registry: &Registry,
    outcomes: &[(&str, &str, Outcome)],
    waited: io::Result<ExitStatus>,
) -> u8 {
    let total = outcomes
        .iter()
        .fold(Stats::default(), |sum, (_, _, o)| Stats {
            bytes_in: sum.bytes_in + o.stats.bytes_in,
            bytes_out: sum.bytes_out + o.stats.bytes_out,
            regions: sum.regions + o.stats.regions,
            detected: std::array::from_fn(|i| sum.detected[i] + o.stats.detected[i]),
        });
    if options.stats {
        print_stats(total, registry);
    }
    let mut io_failed = !report::finish(total, registry);
    for (input, output, outcome) in outcomes {
        if let Some(err) = &outcome.read_error {
            messages::error(&format!("cannot read the command's {input}: {err}"));
            io_failed = true;
        }
        if let State::Failed(err) = &outcome.downstream {
            messages::error(&format!("cannot write to {output}: {err}"));
            io_failed = true;
        }
    }
    let code = match waited {
        Ok(exit) => match (exit.code(), exit.signal()) {
            (Some(code), _) => code as u8,
            (None, Some(signal)) => (128 + signal) as u8,
            (None, None) => status::IO_ERROR,
        },
        Err(err) => {
            messages::error(&format!("cannot wait for the command: {err}"));
            status::IO_ERROR
        }
    };
    if io_failed && code == status::OK {
        status::IO_ERROR
    } else {
        code
    }
}

/// A pipe from the command, masked on its own thread.
trait Pipe: io::Read + AsFd + Send + 'static {}
impl Pipe for ChildStdout {}
impl Pipe for ChildStderr {}

fn pump(pipe: impl Pipe, writer: logmask::MaskWriter<Downstream>) -> JoinHandle<Outcome> {
    enlarge_pipe(pipe.as_fd());
    // Drained to the end even when downstream is gone (see module docs).
    thread::spawn(move || mask_stream(pipe, writer, false))
}

pub fn join(handle: JoinHandle<Outcome>) -> Outcome {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}
