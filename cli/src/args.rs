//! Options: clap parses, this module validates, and every usage error is
//! rendered here, never by clap.
//!
//! Invariants:
//! - A usage error message never contains an argument the user typed that
//!   may hold a secret. clap's own messages echo the offending argument
//!   (`--secert=hunter22`, an unexpected positional value), so they are
//!   rebuilt from the error kind and, at most, an option *name*, cut at
//!   `=` and only when it looks like an option name.
//! - Values stay raw bytes (`OsString`) from `argv` to the registry.
//! - `--env`, `--env-prefix`, `--file`, `--secret-file` and `--secret`
//!   keep their command-line order, so warnings come out in that order.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};
use logmask::{DEFAULT_MIN_LENGTH, DetectorSet, Encoding, EncodingSet};

use super::secrets::Source;

const EXAMPLES: &str = "\
Examples:
  # Mask a value in a log stream
  printf 'token=hunter22\\n' | logmask --secret hunter22

  # Mask every CI secret exported as SECRET_*, and a list kept in a file
  ./runner | logmask --env-prefix SECRET_ --file secrets.txt

  # Run a command with its stdout and stderr masked
  logmask --env API_TOKEN -- ./deploy.sh --verbose

  # Run it on a pseudo-terminal: colours and live output, both streams merged
  logmask --pty --env API_TOKEN -- make test

  # From inside a masked step: mask a value from the next line on
  echo \"::add-mask::$SESSION_TOKEN\"

Exit status: 0 success, 1 I/O error, 2 usage error; with a COMMAND, its
status (128+N if it died of signal N, 127 if it could not be started).";

/// The command line as clap sees it: raw, unvalidated.
#[derive(Parser, Debug, PartialEq, Eq)]
#[command(
    name = "logmask",
    version,
    about = "Mask secrets in CI logs: every registered value, in every common encoding, \
             replaced as the log streams through.",
    override_usage = "logmask [OPTIONS] [-- COMMAND [ARG]...]\n       \
                      logmask scan [OPTIONS] [PATH]...     audit files (see logmask scan --help)\n       \
                      logmask agent [OPTIONS] -- COMMAND   hold masks for a whole job\n       \
                      logmask agent --daemon [OPTIONS]     the same in the background\n       \
                      logmask agent --stop                 stop the agent of $LOGMASK_AGENT\n       \
                      logmask add [OPTIONS]                register values with the agent",
    after_help = EXAMPLES,
    // Single-value options: the last one wins instead of an error.
    args_override_self = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    secrets: SecretArgs,

    #[command(flatten)]
    matching: MatchArgs,

    /// Text written once for each masked run [default: ***]
    #[arg(long = "replacement", value_name = "TEXT", allow_hyphen_values = true)]
    replacement: Option<OsString>,

    /// Do not interpret ::add-mask:: and ::stop-commands:: lines
    #[arg(long = "no-commands", conflicts_with = "pass_commands")]
    no_commands: bool,

    /// Interpret them and also write ::add-mask:: lines through (for an outer runner)
    #[arg(long = "pass-commands")]
    pass_commands: bool,

    /// Print a summary to stderr at exit: bytes in and out, regions masked, secrets and
    /// variants registered, credentials detected by detector (never a value)
    #[arg(long = "stats")]
    stats: bool,

    /// Write what was masked, where, and by which secret, as JSON Lines (never a value)
    #[arg(long = "report", value_name = "PATH", allow_hyphen_values = true)]
    report: Option<PathBuf>,

    #[command(flatten)]
    agent: AgentArgs,

    #[command(flatten)]
    terminal: TerminalArgs,

    /// The command to run, its output masked
    #[arg(last = true, value_name = "COMMAND", num_args = 1..)]
    command: Vec<OsString>,
}

/// Where secrets come from: shared by every mode that takes secrets
/// (filter, exec, `scan`, `agent`, `add`), flattened into their parsers.
/// `scan` and `add` never use the default GLOBs (SPEC 5) and say so in
/// their help: see [`without_default_globs`].
#[derive(clap::Args, Debug, PartialEq, Eq)]
pub struct SecretArgs {
    /// Mask the value of environment variable NAME
    #[arg(short = 'e', long = "env", value_name = "NAME", allow_hyphen_values = true, action = ArgAction::Append)]
    pub env: Vec<OsString>,

    /// Mask every variable whose name starts with P (P must not be empty)
    #[arg(long = "env-prefix", value_name = "P", allow_hyphen_values = true, action = ArgAction::Append)]
    pub env_prefix: Vec<OsString>,

    /// Mask every variable whose whole name matches GLOB (only `*` is special; ASCII case
    /// ignored); default GLOBs, on unless dropped: *_TOKEN *_SECRET *_PASSWORD *_API_KEY
    /// *_ACCESS_KEY *_SECRET_KEY *_PRIVATE_KEY *_CONNECTION_STRING
    #[arg(long = "env-match", value_name = "GLOB", allow_hyphen_values = true, action = ArgAction::Append)]
    pub env_match: Vec<OsString>,

    /// Drop the default GLOBs of --env-match
    #[arg(long = "no-default-env")]
    pub no_default_env: bool,

    /// Mask each non-blank line of PATH, each a value of its own (a list of secrets)
    #[arg(short = 'f', long = "file", value_name = "PATH", allow_hyphen_values = true, action = ArgAction::Append)]
    pub file: Vec<PathBuf>,

    /// Mask the whole content of PATH as one value (a JSON key file, a PEM key)
    #[arg(long = "secret-file", value_name = "PATH", allow_hyphen_values = true, action = ArgAction::Append)]
    pub secret_file: Vec<PathBuf>,

    /// Mask VALUE (visible to local users in the process list: prefer --env or --file)
    #[arg(
        short = 's',
        long = "secret",
        value_name = "VALUE",
        action = ArgAction::Append,
        // PEM lines begin with dashes: `-s '-----BEGIN KEY-----'`.
        allow_hyphen_values = true
    )]
    pub secret: Vec<OsString>,
}

/// Which agent to use (SPEC 9); the last of `--agent` and `--no-agent`
/// wins.
#[derive(clap::Args, Debug, PartialEq, Eq)]
pub struct AgentArgs {
    /// Use the agent at PATH [default: $LOGMASK_AGENT]
    #[arg(
        long = "agent",
        value_name = "PATH",
        allow_hyphen_values = true,
        overrides_with = "no_agent"
    )]
    pub agent: Option<PathBuf>,

    /// Use no agent, whatever $LOGMASK_AGENT says
    #[arg(long = "no-agent", overrides_with = "agent")]
    pub no_agent: bool,
}

impl AgentArgs {
    /// The agent to use: `--agent PATH`, else a non-empty `$LOGMASK_AGENT`,
    /// unless `--no-agent` came last.
    pub fn resolve(&self) -> Option<PathBuf> {
        if self.no_agent {
            return None;
        }
        self.agent.clone().or_else(|| {
            std::env::var_os(crate::agent::ENV)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
        })
    }
}

/// How values are matched: shared like [`SecretArgs`].
#[derive(clap::Args, Debug, PartialEq, Eq)]
pub struct MatchArgs {
    /// Shortest line that is masked [default: 4, >= 1]
    #[arg(long = "min-length", value_name = "N", allow_hyphen_values = true)]
    pub min_length: Option<OsString>,

    /// Comma-separated subset of raw,base64,base64url,url,json,xml,command,hex,shell,decoded
    /// [default: all]
    #[arg(long = "encodings", value_name = "LIST", allow_hyphen_values = true, action = ArgAction::Append)]
    pub encodings: Vec<OsString>,

    /// Comma-separated subset of the credential detectors (github, gitlab, npm, pypi, aws,
    /// slack, stripe, google, dockerhub, vault, atlassian, openai, anthropic, jwt,
    /// private-key, url-credentials, authorization) [default: all]
    #[arg(long = "detect", value_name = "LIST", allow_hyphen_values = true, action = ArgAction::Append)]
    pub detect: Vec<OsString>,

    /// Detect nothing: mask registered secrets only
    #[arg(long = "no-detect", conflicts_with = "detect")]
    pub no_detect: bool,
}

/// How a wrapped command runs: shared with `agent -- COMMAND`.
#[derive(clap::Args, Debug, PartialEq, Eq)]
pub struct TerminalArgs {
    /// With COMMAND: run it on a new pseudo-terminal (colours, live output; its stdout and
    /// stderr arrive merged on stdout)
    #[arg(long = "pty")]
    pub pty: bool,
}

impl TerminalArgs {
    /// `--pty` is only meaningful with a command to run.
    pub fn check(&self, has_command: bool) -> Result<(), UsageError> {
        if self.pty && !has_command {
            return Err(UsageError("--pty needs a command to run after '--'".into()));
        }
        Ok(())
    }
}

/// Validated options.
#[derive(Debug)]
pub struct Options {
    /// Where secrets come from, in command-line order.
    pub sources: Vec<Source>,
    pub min_length: usize,
    pub encodings: EncodingSet,
    /// Credential detectors (SPEC 7); empty with `--no-detect`.
    pub detectors: DetectorSet,
    pub replacement: Vec<u8>,
    /// Interpret `::add-mask::` and `::stop-commands::`.
    pub commands: bool,
    /// Also write `::add-mask::` lines through.
    pub pass_commands: bool,
    pub stats: bool,
    /// `--report PATH`.
    pub report: Option<PathBuf>,
    /// `-- COMMAND [ARG]...`, never empty when present.
    pub command: Option<Vec<OsString>>,
    /// Run the command on a new pseudo-terminal (only with a command).
    pub pty: bool,
    /// The agent to connect to (SPEC 9), if any.
    pub agent: Option<PathBuf>,
    /// Variables set for COMMAND on top of logmask's environment.
    pub command_env: Vec<(OsString, OsString)>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Options),
    /// `--help` or `--version` was printed; exit with this status.
    Exit(u8),
}

/// A usage error (exit 2). Its text never holds a value.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses and validates `argv` (program name first).
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Parsed, UsageError> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    parse_with(&argv, &argv, &|command| command).map(|(parsed, _)| parsed)
}

/// What `logmask agent` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMode {
    /// `logmask agent [OPTIONS] -- COMMAND`.
    Command,
    /// `logmask agent --daemon [OPTIONS]`.
    Daemon,
    /// `logmask agent --stop`.
    Stop,
}

/// Parses `logmask agent ...` (program name first, then `agent`): the
/// options of exec mode plus `--daemon` and `--stop`. `Ok(None)` when
/// `--help` or `--version` was printed.
pub fn parse_agent(argv: Vec<OsString>) -> Result<Option<(AgentMode, Options)>, UsageError> {
    use clap::Arg;
    let extend = |command: clap::Command| {
        command
            .name("logmask agent")
            .bin_name("logmask agent")
            .override_usage(
                "logmask agent [OPTIONS] -- COMMAND [ARG]...\n       \
                 eval \"$(logmask agent --daemon [OPTIONS])\"\n       \
                 logmask agent --stop [--agent PATH]",
            )
            .about(
                "Hold the masks of a whole job: every logmask run that names the agent \
                 (LOGMASK_AGENT) masks what the others registered.",
            )
            .after_help("")
            .arg(
                Arg::new("daemon")
                    .long("daemon")
                    .action(ArgAction::SetTrue)
                    .help("Start the agent in the background and print the eval line"),
            )
            .arg(
                Arg::new("stop")
                    .long("stop")
                    .action(ArgAction::SetTrue)
                    .conflicts_with("daemon")
                    .help("Stop the agent that LOGMASK_AGENT (or --agent) names"),
            )
    };
    // `logmask agent`: clap sees `agent` as the program name; positions in
    // messages count in the whole command line.
    let (parsed, matches) = parse_with(&argv[1..], &argv, &extend)?;
    let Parsed::Run(options) = parsed else {
        return Ok(None);
    };
    let flag = |id: &str| matches.get_flag(id);
    let mode = match (flag("daemon"), flag("stop"), options.command.is_some()) {
        (true, _, true) => {
            return Err(UsageError("--daemon takes no command".into()));
        }
        (_, true, true) => return Err(UsageError("--stop takes no command".into())),
        (true, _, false) => AgentMode::Daemon,
        (_, true, false) => AgentMode::Stop,
        (false, false, true) => AgentMode::Command,
        (false, false, false) => {
            return Err(UsageError(
                "logmask agent needs '-- COMMAND', --daemon or --stop".into(),
            ));
        }
    };
    // An agent in the background, or one being stopped, masks no output:
    // a report or summary asked for would silently never come.
    if mode != AgentMode::Command {
        let asked = [
            ("--report", options.report.is_some()),
            ("--stats", options.stats),
        ];
        if let Some((name, _)) = asked.iter().find(|(_, given)| *given) {
            let which = if mode == AgentMode::Daemon {
                "--daemon"
            } else {
                "--stop"
            };
            return Err(UsageError(format!(
                "{name} does not apply to {which}: that agent masks no output (give it to the \
                 runs that name the agent)"
            )));
        }
    }
    Ok(Some((mode, options)))
}

type Extend<'a> = &'a dyn Fn(clap::Command) -> clap::Command;

/// Parses `argv` with the command `extend` makes of logmask's own;
/// `whole` is the command line that positions in messages count in.
fn parse_with(
    argv: &[OsString],
    whole: &[OsString],
    extend: Extend,
) -> Result<(Parsed, ArgMatches), UsageError> {
    let (cli, matches) = match parse_cli(argv, extend) {
        Ok(parsed) => parsed,
        Err(err) => {
            return handle_clap_error_in(&err, whole).map(|parsed| (parsed, ArgMatches::default()));
        }
    };
    if cli.command.is_empty() && ends_with_separator(argv, &cli, extend) {
        return Err(UsageError(
            "'--' must be followed by a command to run".into(),
        ));
    }
    cli.terminal.check(!cli.command.is_empty())?;
    let mut sources = sources_in_order(&cli.secrets, &matches);
    // Filter, exec and agent mode take the default GLOBs too (SPEC 5).
    sources.extend(default_env_sources(&cli.secrets));
    let options = Options {
        sources,
        min_length: min_length(cli.matching.min_length.as_deref())?,
        encodings: encodings(&cli.matching.encodings)?,
        detectors: detectors(&cli.matching)?,
        replacement: replacement(cli.replacement.as_deref())?,
        commands: !cli.no_commands,
        pass_commands: cli.pass_commands,
        stats: cli.stats,
        report: cli.report,
        command: (!cli.command.is_empty()).then_some(cli.command),
        pty: cli.terminal.pty,
        agent: cli.agent.resolve(),
        // Steps inside COMMAND find the agent named by `--agent` too.
        command_env: match (&cli.agent.agent, cli.agent.no_agent) {
            // Absolute, so that a COMMAND that changes directory finds it.
            (Some(path), false) => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                vec![(crate::agent::ENV.into(), path.into())]
            }
            _ => Vec::new(),
        },
    };
    Ok((Parsed::Run(options), matches))
}

fn parse_cli(argv: &[OsString], extend: Extend) -> Result<(Cli, ArgMatches), clap::Error> {
    let matches = extend(Cli::command()).try_get_matches_from(argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, matches))
}

/// Whether a final `--` is the command separator with nothing after it.
///
/// clap reports `logmask --` and `logmask` alike, and a final `--` may also
/// be a value (`--secret --`). Parsing again without it tells them apart:
/// a separator changes nothing, a value does.
fn ends_with_separator(argv: &[OsString], cli: &Cli, extend: Extend) -> bool {
    if argv.len() < 2 || argv.last().map(|a| a.as_os_str()) != Some(OsStr::new("--")) {
        return false;
    }
    matches!(parse_cli(&argv[..argv.len() - 1], extend), Ok((shorter, _)) if shorter == *cli)
}

/// The secret sources, sorted by their position on the command line.
pub fn sources_in_order(cli: &SecretArgs, matches: &ArgMatches) -> Vec<Source> {
    let mut sources: Vec<(usize, Source)> = Vec::new();
    let mut add = |id: &str, make: &mut dyn FnMut(usize) -> Source| {
        for (n, index) in matches.indices_of(id).into_iter().flatten().enumerate() {
            sources.push((index, make(n)));
        }
    };
    add("env", &mut |n| Source::Env(cli.env[n].clone()));
    add("env_prefix", &mut |n| {
        Source::EnvPrefix(cli.env_prefix[n].clone())
    });
    add("env_match", &mut |n| Source::EnvMatch {
        glob: cli.env_match[n].clone(),
        given: true,
    });
    add("file", &mut |n| Source::File(cli.file[n].clone()));
    add("secret_file", &mut |n| {
        Source::SecretFile(cli.secret_file[n].clone())
    });
    add("secret", &mut |n| Source::Secret {
        number: n + 1,
        value: cli.secret[n].clone(),
    });
    sources.sort_by_key(|(index, _)| *index);
    sources.into_iter().map(|(_, source)| source).collect()
}

/// The GLOBs `--env-match` has by default (SPEC 5).
pub const DEFAULT_ENV_GLOBS: [&str; 8] = [
    "*_TOKEN",
    "*_SECRET",
    "*_PASSWORD",
    "*_API_KEY",
    "*_ACCESS_KEY",
    "*_SECRET_KEY",
    "*_PRIVATE_KEY",
    "*_CONNECTION_STRING",
];

/// The default GLOBs as sources, none under `--no-default-env`.
///
/// Filter, exec and agent mode add these to [`sources_in_order`]; `scan`
/// and `add` do not (SPEC 5): a mode chooses by calling this or not.
pub fn default_env_sources(cli: &SecretArgs) -> Vec<Source> {
    if cli.no_default_env {
        return Vec::new();
    }
    DEFAULT_ENV_GLOBS
        .iter()
        .map(|glob| Source::EnvMatch {
            glob: OsString::from(glob),
            given: false,
        })
        .collect()
}

pub fn min_length(arg: Option<&OsStr>) -> Result<usize, UsageError> {
    let Some(arg) = arg else {
        return Ok(DEFAULT_MIN_LENGTH);
    };
    arg.to_str()
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .ok_or_else(|| UsageError("--min-length: expected a whole number of at least 1".into()))
}

/// The union of every `--encodings` list; all encodings when none is given.
pub fn encodings(lists: &[OsString]) -> Result<EncodingSet, UsageError> {
    if lists.is_empty() {
        return Ok(EncodingSet::all());
    }
    let mut set = EncodingSet::empty();
    for (number, list) in lists.iter().enumerate() {
        let text = list
            .to_str()
            .ok_or_else(|| UsageError("--encodings: the list is not valid UTF-8".into()))?;
        let parsed = EncodingSet::parse_list(text)
            .map_err(|_| UsageError(format!("--encodings: {}", bad_entry(text, number + 1))))?;
        parsed.iter().for_each(|encoding| set.insert(encoding));
    }
    if set == EncodingSet::empty().with(Encoding::Decoded) {
        // A decoding is registered in the other chosen encodings: alone,
        // `decoded` would mask nothing at all.
        return Err(UsageError(
            "--encodings: 'decoded' needs at least one other encoding".into(),
        ));
    }
    Ok(set)
}

/// The union of every `--detect` list (the first replaces the default,
/// all); none with `--no-detect`.
pub fn detectors(matching: &MatchArgs) -> Result<DetectorSet, UsageError> {
    if matching.no_detect {
        return Ok(DetectorSet::empty());
    }
    if matching.detect.is_empty() {
        return Ok(DetectorSet::all());
    }
    let mut set = DetectorSet::empty();
    for list in &matching.detect {
        let list = list
            .to_str()
            .ok_or_else(|| UsageError("--detect: the list is not valid UTF-8".into()))?;
        let more =
            DetectorSet::parse(list).map_err(|reason| UsageError(format!("--detect: {reason}")))?;
        for d in more.iter() {
            set.insert(d);
        }
    }
    Ok(set)
}

/// Why a `--encodings` list is refused, by position: an unknown name is
/// not repeated (SPEC 5: a usage error names no other text of an
/// argument), the known ones are listed instead.
fn bad_entry(list: &str, option_number: usize) -> String {
    let (entry, name) = list
        .split(',')
        .enumerate()
        .find(|(_, name)| Encoding::from_name(name).is_none())
        .unwrap_or((0, ""));
    let at = format!("entry {} of --encodings #{option_number}", entry + 1);
    if name.is_empty() {
        format!("empty encoding name ({at})")
    } else {
        let known: Vec<&str> = EncodingSet::all().iter().map(|e| e.name()).collect();
        format!(
            "unknown encoding ({at}, not repeated); the names are {}",
            known.join(",")
        )
    }
}

pub fn replacement(arg: Option<&OsStr>) -> Result<Vec<u8>, UsageError> {
    let text = arg.map_or(&b"***"[..], |a| a.as_bytes());
    if text.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(UsageError(
            "--replacement: the replacement must not contain CR or LF".into(),
        ));
    }
    Ok(text.to_vec())
}

/// The help of `--env-match` and `--no-default-env` for the modes that
/// never read the default GLOBs (`scan`, `add`).
pub fn without_default_globs(command: clap::Command) -> clap::Command {
    command
        .mut_arg("env_match", |arg| {
            arg.help(
                "Mask every variable whose whole name matches GLOB (only `*` is special; \
                 ASCII case ignored); no default GLOBs here",
            )
        })
        .mut_arg("no_default_env", |arg| {
            arg.help("Accepted for symmetry: the default GLOBs never apply here")
        })
}

/// `--help` and `--version` print and exit 0; every other clap error
/// becomes a [`UsageError`] built without the user's text (positions are
/// counted in the process's own arguments).
#[allow(dead_code)] // For the subcommand parsers, which parse the real argv.
pub fn handle_clap_error(err: &clap::Error) -> Result<Parsed, UsageError> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    handle_clap_error_in(err, &argv)
}

/// [`handle_clap_error`] for an error from parsing `argv` (program name
/// first), which gives the positions of offending arguments.
pub fn handle_clap_error_in(err: &clap::Error, argv: &[OsString]) -> Result<Parsed, UsageError> {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            Ok(Parsed::Exit(super::status::OK))
        }
        _ => Err(UsageError(describe(err, argv))),
    }
}

/// The position (from 1, after the program name) of the first argument
/// that is `arg` or `arg=...`: how a message points at an argument without
/// repeating it. `None` when clap's rendering matches no argument.
fn position(argv: &[OsString], arg: &str) -> Option<usize> {
    argv.iter()
        .skip(1)
        .position(|a| {
            let a = a.as_bytes();
            a == arg.as_bytes()
                || a.strip_prefix(arg.as_bytes())
                    .is_some_and(|rest| rest.starts_with(b"="))
        })
        .map(|i| i + 1)
}

fn context(err: &clap::Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind) {
        Some(ContextValue::String(text)) => Some(text),
        _ => None,
    }
}

/// A message for a clap error that names at most one of logmask's own
/// options and the position of an argument (SPEC 5).
///
/// An unknown option is not named either, even when it looks like one: a
/// word of an unquoted `-s $PASS` can look like an option (`--x9Fq`).
/// clap's suggestion is one of logmask's options, so it may be named.
fn describe(err: &clap::Error, argv: &[OsString]) -> String {
    let invalid = context(err, ContextKind::InvalidArg);
    let at = invalid
        .and_then(|arg| position(argv, arg))
        .map(|n| format!(" (argument #{n})"))
        .unwrap_or_default();
    let option = invalid.and_then(option_name);
    let prior = context(err, ContextKind::PriorArg).and_then(option_name);
    let option_or = |fallback: &str| option.clone().unwrap_or_else(|| fallback.to_string());
    match err.kind() {
        ErrorKind::UnknownArgument if invalid.is_some_and(|a| a.starts_with('-')) => {
            let mut text = format!("unknown option (not repeated: it may hold a secret){at}");
            if let Some(suggested) = context(err, ContextKind::SuggestedArg).and_then(option_name) {
                text.push_str(&format!("; did you mean '{suggested}'?"));
            }
            text
        }
        // `add` takes options only (`scan` takes paths: no argument is
        // unexpected there).
        ErrorKind::UnknownArgument if argv.get(1).is_some_and(|a| a == "add") => {
            format!(
                "unexpected argument (not repeated: it may hold a secret){at}; add takes options only"
            )
        }
        ErrorKind::UnknownArgument => format!(
            "unexpected argument (not repeated: it may hold a secret){at}; \
             a command to run must follow '--'"
        ),
        ErrorKind::InvalidValue if context(err, ContextKind::InvalidValue) == Some("") => {
            format!("{} requires a value", option_or("an option"))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            format!("invalid value for {}", option_or("an option"))
        }
        ErrorKind::TooManyValues | ErrorKind::NoEquals => {
            format!("{} takes no value", option_or("an option"))
        }
        ErrorKind::ArgumentConflict => match (&option, &prior) {
            (Some(a), Some(b)) => format!("{a} cannot be used with {b}"),
            _ => "conflicting options".to_string(),
        },
        ErrorKind::InvalidUtf8 => "an argument is not valid UTF-8".to_string(),
        _ => "invalid arguments".to_string(),
    }
}

/// The option name in an argument or in clap's rendering of an option
/// (`--secert=VALUE` -> `--secert`, `--secret <VALUE>` -> `--secret`), or
/// `None` when it does not look like an option name at all.
fn option_name(arg: &str) -> Option<String> {
    let name = arg.split(['=', ' ']).next().unwrap_or("");
    let word = |s: &str| {
        s.len() <= 40
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let looks_like_option = match name.strip_prefix("--") {
        Some(long) => word(long),
        None => name.len() == 2 && name.starts_with('-') && word(&name[1..]),
    };
    looks_like_option.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Parsed, UsageError> {
        parse(
            std::iter::once("logmask")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    fn options(args: &[&str]) -> Options {
        match parse_args(args) {
            Ok(Parsed::Run(options)) => options,
            other => panic!("expected options for {args:?}, got {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse_args(args) {
            Err(UsageError(text)) => text,
            other => panic!("expected a usage error for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn option_names_are_cut_and_checked() {
        let cases = [
            ("--secert=hunter22", Some("--secert")),
            ("--secret <VALUE>", Some("--secret")),
            ("-x", Some("-x")),
            ("hunter22", None),
            ("-----BEGIN", None),
            ("--", None),
            ("--p@ss", None),
        ];
        for (arg, expected) in cases {
            assert_eq!(option_name(arg).as_deref(), expected, "{arg}");
        }
    }

    #[test]
    fn trailing_separator_is_an_error_but_a_value_is_not() {
        assert!(error(&["--"]).contains("'--' must be followed"));
        assert!(error(&["-s", "abcd", "--"]).contains("'--' must be followed"));
        assert!(error(&["-s", "--", "--"]).contains("'--' must be followed"));
        let o = options(&["-s", "--", "--no-default-env"]);
        assert!(o.command.is_none());
        assert!(matches!(&o.sources[..], [Source::Secret { number: 1, .. }]));
    }

    #[test]
    fn pty_needs_a_command() {
        for args in [
            &["--pty"][..],
            &["--pty", "-s", "abcd"],
            &["-s", "abcd", "--pty"],
        ] {
            assert_eq!(
                error(args),
                "--pty needs a command to run after '--'",
                "{args:?}"
            );
        }
        assert!(error(&["--pty", "--"]).contains("'--' must be followed"));
        assert!(options(&["--pty", "--", "true"]).pty);
        assert!(!options(&["--", "true"]).pty);
        assert!(!options(&["--", "--pty"]).pty);
    }

    #[test]
    fn sources_keep_command_line_order() {
        let o = options(&[
            "-e",
            "A",
            "-s",
            "one1",
            "--file",
            "f",
            "-s",
            "two2",
            "--env-prefix",
            "P",
        ]);
        let kinds: Vec<String> = o.sources.iter().map(|s| format!("{s:?}")).collect();
        assert!(kinds[0].starts_with("Env"));
        assert!(kinds[1].contains("number: 1"));
        assert!(kinds[2].starts_with("File"));
        assert!(kinds[3].contains("number: 2"));
        assert!(kinds[4].starts_with("EnvPrefix"));
    }

    #[test]
    fn last_single_value_wins_and_encodings_add_up() {
        let o = options(&[
            "--min-length",
            "2",
            "--min-length=7",
            "--replacement",
            "a",
            "--replacement",
            "[x]",
        ]);
        assert_eq!(o.min_length, 7);
        assert_eq!(o.replacement, b"[x]");
        let o = options(&["--encodings", "raw", "--encodings", "base64,xml"]);
        let names: Vec<&str> = o.encodings.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["raw", "base64", "xml"]);
    }

    #[test]
    fn default_globs_follow_the_given_sources_unless_dropped() {
        let globs = |o: &Options| -> Vec<(String, bool)> {
            o.sources
                .iter()
                .filter_map(|s| match s {
                    Source::EnvMatch { glob, given } => {
                        Some((glob.to_string_lossy().into_owned(), *given))
                    }
                    _ => None,
                })
                .collect()
        };
        let o = options(&["--env-match", "DEPLOY_*", "-s", "abcd"]);
        let mut want = vec![("DEPLOY_*".to_string(), true)];
        want.extend(DEFAULT_ENV_GLOBS.iter().map(|g| (g.to_string(), false)));
        assert_eq!(globs(&o), want);
        let o = options(&["--no-default-env", "--env-match", "A*", "--env-match=B*"]);
        assert_eq!(
            globs(&o),
            [("A*".to_string(), true), ("B*".to_string(), true)]
        );
        assert_eq!(globs(&options(&["--no-default-env"])), []);
    }

    #[test]
    fn encodings_take_the_new_names_and_decoded_needs_company() {
        let o = options(&["--encodings", "hex,shell", "--encodings=decoded"]);
        let names: Vec<&str> = o.encodings.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["hex", "shell", "decoded"]);
        assert!(error(&["--encodings", "decoded"]).contains("'decoded' needs"));
        assert!(error(&["--encodings", "decoded,decoded"]).contains("'decoded' needs"));
        assert!(error(&["--encodings", "Hex"]).contains("unknown encoding"));
    }

    #[test]
    fn no_message_repeats_a_value() {
        for args in [
            &["--secert=hunter22"][..],
            &["hunter22"],
            &["--min-length", "hunter22"],
            &["--stats=hunter22"],
            &["-s", "x", "hunter22"],
        ] {
            let text = error(args);
            assert!(!text.contains("hunter22"), "{args:?}: {text}");
        }
    }
}
