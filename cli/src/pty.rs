//! `--pty`: run the command on a new pseudo-terminal (SPEC 5), so that it
//! sees a terminal (colours, line-buffered output, progress) while its
//! output is masked like any other.
//!
//! The flow:
//! 1. [`size`] picks the terminal's size; [`terminal`] makes the terminal
//!    (output processing off, echo off for a non-terminal stdin);
//! 2. [`relay`] installs the signal handlers, then [`raw_mode`] puts a
//!    terminal stdin in raw mode, then [`terminal::spawn`] starts the
//!    command as the leader of a session on it;
//! 3. [`input`] copies stdin to the terminal; one `MaskWriter` (stream
//!    `pty`) masks what [`drain`] reads from it to logmask's stdout: the
//!    terminal merges the command's stdout and stderr, in order;
//! 4. logmask waits for the command, drains the terminal, gives stdin its
//!    modes back and exits with the command's status (as exec mode).
//!
//! Invariants:
//! - The terminal's modes are restored on every way out (see
//!   [`raw_mode`]); nothing changes them before the handlers are in.
//! - A terminal that cannot be made is an error naming the cause, status
//!   127, before anything has been started or changed.
//! - Output is flushed after every read from the terminal, so a line the
//!   command prints reaches the reader before the command writes more.

mod drain;
mod input;
mod raw_mode;
mod relay;
mod size;
mod terminal;

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::process::Command;
use std::sync::Arc;
use std::thread;

use logmask::Registry;

use super::args::Options;
use super::exec::{cannot_run, conclude, join};
use super::output::Downstream;
use super::pump::mask_stream;
use super::{messages, signals, status, writer_builder};

/// The source and report stream name of the terminal's output.
pub const STREAM: &str = "pty";

/// The terminal type the command gets when logmask has none (TERM unset
/// or empty): what common terminal emulators announce.
pub const DEFAULT_TERM: &str = "xterm-256color";

/// Runs `command` on a new pseudo-terminal and returns logmask's exit
/// status. Called for `logmask --pty -- COMMAND` and, with the agent's
/// options, for `logmask agent --pty -- COMMAND`.
pub fn run(options: &Options, registry: &Arc<Registry>, command: &[OsString]) -> u8 {
    let stdin_is_terminal = rustix::termios::isatty(rustix::stdio::stdin());
    let made = terminal::open(size::current(), stdin_is_terminal)
        .and_then(|terminal| Ok((sides(terminal.primary)?, terminal.secondary)));
    let (sides, secondary) = match made {
        Ok(made) => made,
        Err(cause) => {
            messages::error(&format!("cannot make a terminal for the command: {cause}"));
            return status::CANNOT_RUN;
        }
    };
    let relay = match relay::install(stdin_is_terminal) {
        Ok(relay) => relay,
        Err(err) => {
            messages::error(&format!("cannot install signal handlers: {err}"));
            return status::IO_ERROR;
        }
    };
    if let Err(err) = raw_mode::enter() {
        // The command still runs; typed keys are then edited by logmask's
        // terminal before the command's sees them.
        messages::warning(
            &"--pty",
            &format!("cannot put the terminal in raw mode: {err}"),
        );
    }
    let mut builder = Command::new(&command[0]);
    builder
        .args(&command[1..])
        .envs(options.command_env.iter().cloned());
    signals::keep_dispositions(&mut builder);
    if std::env::var_os("TERM").is_none_or(|name| name.is_empty()) {
        // A terminal with no type: most tools then print no colour, and
        // `tput` fails. CI systems often leave TERM unset; a set one
        // (`dumb` included) is the caller's choice and is kept.
        builder.env("TERM", DEFAULT_TERM);
    }
    let spawned = terminal::spawn(&mut builder, &secondary);
    // From now on only the command and what it starts hold the secondary
    // side (see drain): the builder had three copies of it.
    drop(builder);
    drop(secondary);
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            raw_mode::finish();
            return cannot_run(&command[0], &err);
        }
    };

    let group = Arc::new(relay::Group::new(&child));
    relay.start(group.clone(), sides.relay);
    sides.input.start(stdin_is_terminal);
    let output = sides.output;
    let writer = writer_builder(options, registry, STREAM).build(Downstream::stdout());
    let pump = thread::spawn(move || mask_stream(output, writer, false));

    let waited = group.wait(&mut child);
    drop(sides.exited);
    let outcome = join(pump);
    raw_mode::finish();
    conclude(
        options,
        registry,
        &[("terminal", "stdout", outcome)],
        waited,
    )
}

/// The users of the primary side, made before the command starts so that
/// nothing can fail after it has.
struct Sides {
    relay: OwnedFd,
    input: Arc<input::Input>,
    output: drain::TerminalOutput,
    exited: drain::ExitNotice,
}

fn sides(primary: OwnedFd) -> Result<Sides, String> {
    let clone = |what: &str| {
        primary
            .try_clone()
            .map_err(|e| format!("cannot share it with the {what}: {e}"))
    };
    let relay = clone("signal relay")?;
    let input = input::Input::new(clone("input copy")?);
    let flushed = input.clone();
    let (output, exited) = drain::reader(primary, Box::new(move || flushed.flushed()))
        .map_err(|e| format!("cannot make its reader: {e}"))?;
    Ok(Sides {
        relay,
        input,
        output,
        exited,
    })
}
