//! `logmask scan [OPTIONS] [PATH]...`: audit logs already written (SPEC 8).
//!
//! The model: every file (or archive entry) is one stream, masked into a
//! sink by its own writer over its own fork of the registry, so its
//! `::add-mask::` lines and detected values apply to the rest of that
//! stream only and files are independent. Files are scanned on all cores
//! (scoped threads taking the next file in turn); the main thread prints
//! each file's findings as soon as it and every file before it are done,
//! so the output is in PATH order and then in position order whatever the
//! threads do.
//!
//! Invariants:
//! - Output holds positions, names, labels, forms, detector names and
//!   `::add-mask:: line`: never masked text nor a value.
//! - Exit status in grep's order: 2 on a usage error or when any PATH
//!   could not be read or rewritten, else 1 when anything was found, else 0.
//! - Memory per file is the engine's bound plus the findings of the files
//!   done but not yet printed.

mod archive;
mod in_place;
mod progress;
mod walk;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use clap::{CommandFactory, FromArgMatches, Parser};
use logmask::{Config, DetectorSet, MaskWriter, Match, Registry, Run, WriterBuilder};

use super::args::{self, MatchArgs, Parsed, SecretArgs, UsageError};
use super::report::RunRecord;
use super::{closed_at_start, messages, secrets, status};

const READ_SIZE: usize = 64 * 1024;

/// Exit status when something was found (grep's 1).
const FOUND: u8 = 1;

const EXAMPLES: &str = "\
Examples:
  # Which secrets leaked into the logs of a job, and where
  logmask scan --env-prefix SECRET_ ./logs

  # A GitHub Actions log archive, as JSON Lines
  logmask scan --file secrets.txt --json logs_123.zip

  # Mask the findings in place (old logs, kept on disk)
  logmask scan --file secrets.txt --in-place ./logs

Exit status: 0 nothing found, 1 something found, 2 usage error or a PATH
that could not be read or rewritten.";

/// `logmask scan` as clap sees it.
#[derive(Parser, Debug)]
#[command(
    name = "logmask scan",
    about = "Audit logs already written: print where each registered secret (and each \
             ::add-mask:: line) appears, never the text itself.",
    override_usage = "logmask scan [OPTIONS] [PATH]...",
    after_help = EXAMPLES,
    args_override_self = true,
    disable_help_subcommand = true,
    version
)]
struct ScanCli {
    #[command(flatten)]
    secrets: SecretArgs,

    #[command(flatten)]
    matching: MatchArgs,

    /// Text written once for each masked run with --in-place [default: ***]
    #[arg(long = "replacement", value_name = "TEXT", allow_hyphen_values = true)]
    replacement: Option<OsString>,

    /// Print JSON Lines (report objects with "path") instead of PATH:LINE:COLUMN lines
    #[arg(long = "json")]
    json: bool,

    /// Rewrite each regular file with a finding, masked as filter mode would write it
    #[arg(long = "in-place")]
    in_place: bool,

    /// Do not interpret ::add-mask:: lines (nor report them as findings)
    #[arg(long = "no-commands")]
    no_commands: bool,

    /// Also mask the values the agent at PATH holds
    #[arg(long = "agent", value_name = "PATH", allow_hyphen_values = true)]
    agent: Option<PathBuf>,

    /// Files, directories (recursive) or - for stdin [default: -]
    #[arg(value_name = "PATH")]
    paths: Vec<OsString>,
}

/// Validated scan options.
struct Options {
    sources: Vec<secrets::Source>,
    config: Config,
    replacement: Vec<u8>,
    detectors: DetectorSet,
    json: bool,
    in_place: bool,
    commands: bool,
    agent: Option<PathBuf>,
    paths: Vec<OsString>,
}

fn parse(argv: Vec<OsString>) -> Result<Parsed2, UsageError> {
    // `logmask scan ...` parses as `logmask-scan ...`.
    let mut argv = argv;
    argv.remove(1);
    let matches = match args::without_default_globs(ScanCli::command()).try_get_matches_from(&argv)
    {
        Ok(matches) => matches,
        Err(err) => {
            return args::handle_clap_error(&err).map(|parsed| match parsed {
                Parsed::Exit(code) => Parsed2::Exit(code),
                Parsed::Run(_) => unreachable!("clap errors never run"),
            });
        }
    };
    let cli =
        ScanCli::from_arg_matches(&matches).map_err(|_| UsageError("invalid arguments".into()))?;
    let replacement = args::replacement(cli.replacement.as_deref())?;
    Ok(Parsed2::Run(Options {
        sources: args::sources_in_order(&cli.secrets, &matches),
        config: Config {
            min_length: args::min_length(cli.matching.min_length.as_deref())?,
            encodings: args::encodings(&cli.matching.encodings)?,
        },
        replacement,
        detectors: args::detectors(&cli.matching)?,
        json: cli.json,
        in_place: cli.in_place,
        commands: !cli.no_commands,
        agent: cli.agent,
        paths: if cli.paths.is_empty() {
            vec![OsString::from("-")]
        } else {
            cli.paths
        },
    }))
}

enum Parsed2 {
    Run(Options),
    Exit(u8),
}

/// Runs `logmask scan` (`argv[1]` is `scan`) and returns the exit status.
pub fn run(argv: Vec<OsString>) -> u8 {
    let options = match parse(argv) {
        Ok(Parsed2::Run(options)) => options,
        Ok(Parsed2::Exit(code)) => return code,
        Err(err) => return scan_usage_error(&err),
    };
    let registry = Arc::new(Registry::with_config(options.config));
    messages::mask_with(&registry);
    match secrets::gather(&options.sources) {
        Ok(gathered) => gathered.register(&registry),
        Err(err) => {
            secrets::register_readable(&options.sources, &registry);
            return scan_usage_error(&err);
        }
    }
    // The agent's values join the secrets before the per-file copies are
    // made; values a file registers stay in that file (SPEC 8), so scan
    // sends the agent nothing.
    let agent = options
        .agent
        .as_deref()
        .and_then(|path| crate::agent::connect_or_warn(path, &registry));
    // Built once here as one batch, shared by every file's fork (a build
    // split in two would have each fork that searches enough rebuild it).
    registry.compact();
    let items = walk::expand(&options.paths);
    // Unknown once any input has no size (stdin, a FIFO): its bytes
    // would count as read but not in the total.
    let total = items
        .iter()
        .map(|item| match item {
            walk::Item::File { path, .. } => match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => Some(meta.len()),
                Ok(_) => None,
                Err(_) => Some(0),
            },
            walk::Item::Stdin => None,
            walk::Item::Error { .. } => Some(0),
        })
        .sum();
    let progress = progress::Progress::start(total);
    let context = Context {
        registry,
        options,
        read: progress.bytes.clone(),
    };
    let totals = scan_all(&items, &context, &progress);
    progress.finish();
    if let Some(client) = agent {
        client.finish();
    }
    messages::hint(&format!(
        "{} findings in {} files, {} bytes",
        totals.findings, totals.files, totals.bytes
    ));
    if totals.failed {
        status::USAGE
    } else if totals.findings > 0 {
        FOUND
    } else {
        status::OK
    }
}

fn scan_usage_error(err: &UsageError) -> u8 {
    messages::error(&err.to_string());
    messages::hint("try 'logmask scan --help' for more information");
    status::USAGE
}

struct Context {
    registry: Arc<Registry>,
    options: Options,
    read: Arc<AtomicU64>,
}

/// The findings of one stream (a file or an archive entry).
struct Stream {
    /// The name as text (JSON), bytes that are not UTF-8 replaced.
    name: String,
    /// The name as given (the text output).
    raw_name: Vec<u8>,
    runs: Vec<Run>,
}

/// What scanning one PATH item gave.
#[derive(Default)]
struct Outcome {
    streams: Vec<Stream>,
    /// Lines for stderr, each naming its PATH as given.
    errors: Vec<Vec<u8>>,
    files: u64,
    bytes: u64,
}

#[derive(Default)]
struct Totals {
    findings: u64,
    files: u64,
    bytes: u64,
    failed: bool,
}

fn scan_all(items: &[walk::Item], context: &Context, progress: &progress::Progress) -> Totals {
    let slots: Vec<OnceLock<Outcome>> = items.iter().map(|_| OnceLock::new()).collect();
    let done = (Mutex::new(()), Condvar::new());
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    let mut totals = Totals::default();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let outcome = scan_item(item, context);
                    let _ = slots[i].set(outcome);
                    let _guard = done.0.lock().unwrap_or_else(|e| e.into_inner());
                    done.1.notify_all();
                }
            });
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let mut stdout_ok = true;
        for slot in &slots {
            let mut guard = done.0.lock().unwrap_or_else(|e| e.into_inner());
            while slot.get().is_none() {
                guard = done.1.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            drop(guard);
            let outcome = slot.get().expect("set before notified");
            totals.files += outcome.files;
            totals.bytes += outcome.bytes;
            totals.failed |= !outcome.errors.is_empty();
            for stream in &outcome.streams {
                totals.findings += stream.runs.len() as u64;
            }
            let text = if stdout_ok {
                render(outcome, context.options.json)
            } else {
                Vec::new()
            };
            if !text.is_empty() {
                stdout_ok = progress
                    .suspend(|| {
                        closed_at_start::check(1)
                            .and_then(|()| out.write_all(&text))
                            .and_then(|()| out.flush())
                    })
                    .map_or_else(|err| stdout_failed(&err), |()| true);
            }
            for error in &outcome.errors {
                messages::error_bytes(error);
            }
        }
        if !stdout_ok {
            // Nobody reads the findings (`| head`): stop as soon as the
            // threads notice there is nothing left to take.
            next.store(items.len(), Ordering::Relaxed);
        }
    });
    totals
}

/// Says why stdout failed (quietly for a reader that went away).
fn stdout_failed(err: &io::Error) -> bool {
    if err.kind() != io::ErrorKind::BrokenPipe {
        messages::error(&format!("cannot write to stdout: {err}"));
    }
    false
}

/// The printed lines of one PATH item.
fn render(outcome: &Outcome, json: bool) -> Vec<u8> {
    let mut text = Vec::new();
    for stream in &outcome.streams {
        for run in &stream.runs {
            if json {
                let record = RunRecord::new(run, None, Some(&stream.name)).to_line();
                text.extend_from_slice(record.as_bytes());
            } else {
                text.extend_from_slice(&stream.raw_name);
                let rest = format!(":{}:{}: {}\n", run.line, run.column, matches_text(run));
                text.extend_from_slice(rest.as_bytes());
            }
        }
    }
    text
}

/// `NAME: MESSAGE`, the name as given.
fn error_line(raw_name: &[u8], message: &str) -> Vec<u8> {
    let mut line = raw_name.to_vec();
    line.extend_from_slice(b": ");
    line.extend_from_slice(message.as_bytes());
    line
}

/// `SOURCE (FORM)`, `detected NAME` and `::add-mask:: line`, joined by `, `.
fn matches_text(run: &Run) -> String {
    let items: Vec<String> = run
        .matches
        .iter()
        .map(|m| match m {
            Match::Secret(origin) => {
                format!(
                    "{} ({})",
                    messages::masked_label(&origin.source),
                    origin.form
                )
            }
            Match::Detected(name) => format!("detected {name}"),
            Match::Command(_) => "::add-mask:: line".to_string(),
        })
        .collect();
    items.join(", ")
}

fn scan_item(item: &walk::Item, context: &Context) -> Outcome {
    let mut outcome = Outcome::default();
    let (display, raw, file, path) = match item {
        walk::Item::Error { raw, message, .. } => {
            outcome.errors.push(error_line(raw, message));
            return outcome;
        }
        walk::Item::Stdin => {
            let fd = match io::stdin().as_fd().try_clone_to_owned() {
                Ok(fd) => fd,
                Err(err) => {
                    outcome
                        .errors
                        .push(error_line(b"-", &format!("cannot read: {err}")));
                    return outcome;
                }
            };
            ("-", &b"-"[..], File::from(fd), None)
        }
        walk::Item::File { display, raw, path } => match File::open(path) {
            Ok(file) => (display.as_str(), &raw[..], file, Some(path)),
            Err(err) => {
                outcome
                    .errors
                    .push(error_line(raw, &format!("cannot read: {err}")));
                return outcome;
            }
        },
    };
    let before = file.metadata().ok().map(|m| in_place::Snapshot::of(&m));
    let seekable = path.is_some() && before.is_some_and(|s| s.is_regular());
    let mut visit = |name: &str, raw_entry: &[u8], stream: &mut dyn Read| -> Result<(), String> {
        let (runs, bytes, error) = scan_stream(name, stream, context);
        outcome.files += 1;
        outcome.bytes += bytes;
        // An entry's name is the PATH's, then `!ENTRY`.
        let raw_name = [raw, raw_entry].concat();
        outcome.streams.push(Stream {
            name: name.to_string(),
            raw_name,
            runs,
        });
        error.map_or(Ok(()), Err)
    };
    let kind = archive::for_each_stream(file, seekable, display, &context.read, &mut visit);
    let found = outcome.streams.iter().any(|s| !s.runs.is_empty());
    match kind {
        Err(message) => outcome.errors.push(error_line(raw, &message)),
        Ok(kind) if found && context.options.in_place => {
            let refused = match (kind, path, before) {
                (archive::Kind::Gzip, ..) => Some("cannot rewrite: a gzip file is not rewritten"),
                (archive::Kind::Zip, ..) => Some("cannot rewrite: a zip archive is not rewritten"),
                (_, None, _) => Some("cannot rewrite: stdin is not a file"),
                (_, _, None) => Some("cannot rewrite: cannot stat the file"),
                _ => None,
            };
            if let Some(reason) = refused {
                outcome.errors.push(error_line(raw, reason));
            } else if let (Some(path), Some(before)) = (path, before) {
                let mut mask = |input: &mut dyn Read, output: &mut dyn Write| {
                    rewrite_stream(display, input, output, context)
                };
                if let Err(message) = in_place::rewrite(path, &before, &mut mask) {
                    outcome.errors.push(error_line(raw, &message));
                }
            }
        }
        Ok(_) => {}
    }
    outcome
}

/// The writer settings of one stream, as filter mode would have them.
fn builder(name: &str, context: &Context, registry: Arc<Registry>) -> WriterBuilder {
    MaskWriter::builder(registry)
        .replacement(context.options.replacement.clone())
        .expect("replacement validated when parsing")
        .commands(context.options.commands)
        .detect(context.options.detectors)
        .source(name)
}

/// Scans one stream: its findings in position order, the bytes read and
/// the read error that ended it early, if any.
fn scan_stream(
    name: &str,
    input: &mut dyn Read,
    context: &Context,
) -> (Vec<Run>, u64, Option<String>) {
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let registry = Arc::new(context.registry.fork());
    let mut writer = builder(name, context, registry.clone())
        .report_commands(context.options.commands)
        .on_warning(|warning| messages::warning_line(&warning.to_string()))
        .on_run(move |run| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(run.clone())
        })
        .build(io::sink());
    let mut buffer = vec![0u8; READ_SIZE];
    let mut bytes = 0u64;
    let mut error = None;
    loop {
        match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                bytes += n as u64;
                writer.write_all(&buffer[..n]).expect("a sink never fails");
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                error = Some(format!("cannot read: {err}"));
                break;
            }
        }
    }
    writer.finish().expect("a sink never fails");
    let mut runs = std::mem::take(&mut *runs.lock().unwrap_or_else(|e| e.into_inner()));
    runs.sort_by_key(|run| run.offset);
    if registry.variants() > context.registry.variants() {
        mask_labels_with(&registry, &mut runs);
    }
    (runs, bytes, error)
}

/// Masks the runs' source labels with the stream's own registry: the
/// values it registered in-band (and the parts it detected) are known to
/// it only, and a label such as `PATH:LINE` may hold one. The printing
/// masks them again with the command line's registry, as every label.
fn mask_labels_with(registry: &Arc<Registry>, runs: &mut [Run]) {
    let mut masked: std::collections::HashMap<Arc<str>, Arc<str>> = Default::default();
    for run in runs {
        for m in &mut run.matches {
            if let Match::Secret(origin) = m {
                let label = masked.entry(origin.source.clone()).or_insert_with(|| {
                    String::from_utf8_lossy(&logmask::mask(registry, origin.source.as_bytes()))
                        .into()
                });
                origin.source = label.clone();
            }
        }
    }
}

/// Writes `input` masked to `output`, as filter mode would.
fn rewrite_stream(
    name: &str,
    input: &mut dyn Read,
    output: &mut dyn Write,
    context: &Context,
) -> io::Result<()> {
    let fork = Arc::new(context.registry.fork());
    let mut writer = builder(name, context, fork).build(output);
    let mut buffer = vec![0u8; READ_SIZE];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => writer.write_all(&buffer[..n])?,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    writer.finish()?.flush()
}
