//! The `logmask` command: masks secrets in stdin, or in the output of a
//! wrapped command, with the engine of the `logmask` library (SPEC
//! section 5).
//!
//! The flow is strictly staged so that usage errors (exit 2) happen before
//! any input is read:
//! 1. [`args`] parses and validates the options;
//! 2. [`secrets`] gathers every value (reading files and the environment)
//!    and only then registers them;
//! 3. [`filter`] (stdin to stdout) or [`exec`] (a wrapped command) moves
//!    the bytes through the engine.
//!
//! The subcommands `agent` and `add` ([`agent`], [`add`]: SPEC 9) are
//! recognised by the first argument, before the normal parse; filter and
//! exec mode join the agent the options name, if any.
//!
//! Invariant: no secret value is ever formatted into a message; sources are
//! named (`--secret #2`, `--env NAME`, `--file PATH:LINE`), values never.
mod add;
mod agent;
mod args;
mod closed_at_start;
mod exec;
mod filter;
mod messages;
mod output;
mod pty;
mod pump;
mod read_ahead;
mod report;
mod scan;
mod secrets;
mod signals;

use std::sync::Arc;

use logmask::{Config, MaskWriter, Registry, Stats, WriterBuilder};

use args::Options;

/// Exit statuses of logmask itself (a wrapped command's status is passed
/// through instead).
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// An I/O error on the streams logmask moves.
    pub const IO_ERROR: u8 = 1;
    /// A usage error, detected before any input is read.
    pub const USAGE: u8 = 2;
    /// The wrapped command could not be started.
    pub const CANNOT_RUN: u8 = 127;
}

/// Runs logmask with the process arguments and returns the exit status.
fn run() -> u8 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match argv.get(1).and_then(|arg| arg.to_str()) {
        Some("agent") => return agent::main(argv),
        Some("add") => return add::main(argv),
        Some("scan") => return scan::run(argv),
        _ => {}
    }
    let options = match args::parse(argv) {
        Ok(args::Parsed::Run(options)) => options,
        Ok(args::Parsed::Exit(code)) => return code,
        Err(err) => return usage_error(&err),
    };
    let registry = Arc::new(Registry::with_config(Config {
        min_length: options.min_length,
        encodings: options.encodings,
    }));
    messages::mask_with(&registry);
    let gathered = match secrets::gather(&options.sources) {
        Ok(gathered) => gathered,
        Err(err) => {
            secrets::register_readable(&options.sources, &registry);
            return usage_error(&err);
        }
    };
    if let Some(path) = &options.report
        && let Err(err) = report::open(path)
    {
        return usage_error(&err);
    }
    gathered.register(&registry);
    agent::join(&options, &registry);
    let code = run_mode(&options, &registry);
    agent::leave();
    // Freeing every variant one by one takes longer than the exit that
    // returns the memory at once (a tenth of a second at 100,000 secrets).
    std::mem::forget(registry);
    code
}

/// Filter or exec mode, once the secrets are registered.
fn run_mode(options: &Options, registry: &Arc<Registry>) -> u8 {
    match &options.command {
        None => filter::run(options, registry),
        Some(command) => exec::run(options, registry, command),
    }
}

fn usage_error(err: &args::UsageError) -> u8 {
    usage_error_in("logmask", err)
}

/// A usage error of `command` (`logmask`, `logmask agent`, ...).
fn usage_error_in(command: &str, err: &args::UsageError) -> u8 {
    messages::error(&err.to_string());
    messages::hint(&format!("try '{command} --help' for more information"));
    status::USAGE
}

/// A writer builder with the stream settings of `options`.
fn writer_builder(options: &Options, registry: &Arc<Registry>, source: &str) -> WriterBuilder {
    let builder = report::attach(MaskWriter::builder(registry.clone()), source)
        .replacement(options.replacement.clone())
        // Checked when the options were parsed.
        .expect("replacement validated by args::parse")
        .commands(options.commands)
        .pass_commands(options.pass_commands)
        .detect(options.detectors)
        .source(source)
        .on_warning(|warning| messages::warning_line(&warning.to_string()));
    agent::attach(builder)
}

/// Prints the `--stats` line: counters and counts, never a value.
fn print_stats(stats: Stats, registry: &Registry) {
    // Detected totals by detector, only those that found something.
    let by_detector: String = logmask::Detector::ALL
        .iter()
        .filter(|d| stats.detected[d.index()] > 0)
        .map(|d| format!(" detected.{}={}", d.name(), stats.detected[d.index()]))
        .collect();
    messages::stats(&format!(
        "bytes_in={} bytes_out={} regions={} secrets={} variants={} detected={}{}",
        stats.bytes_in,
        stats.bytes_out,
        stats.regions,
        registry.secrets(),
        registry.variants(),
        stats.detected_total(),
        by_detector
    ));
}

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run())
}
