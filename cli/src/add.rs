//! `logmask add [OPTIONS]`: registers values with the job's agent (SPEC 9).
//!
//! The values of the secret options, or, with none, all of stdin as one
//! value (source `stdin`). Each is checked with this run's own minimum
//! length and encodings first, so a refusal (too short, too long) is the
//! usual warning and nothing is sent for it.
//!
//! Exit status: 0 when the agent holds every value that was not refused
//! (here, or by the agent for its limits: a warning naming the label);
//! 1 when no agent is named, it cannot be reached or it did not
//! acknowledge every value; 2 on a usage error (an over-long value from
//! an option is one).

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser};
use logmask::{Config, MAX_VALUE_LEN, Refusal, Registry};

use crate::agent::client::Client;
use crate::args::{self, MatchArgs, Parsed, SecretArgs};
use crate::{messages, secrets, status};

#[derive(Parser, Debug)]
#[command(
    name = "logmask add",
    bin_name = "logmask add",
    version,
    about = "Register values with the job's agent (LOGMASK_AGENT): every later logmask run \
             of the job masks them.",
    override_usage = "logmask add [OPTIONS]\n       printf %s \"$VALUE\" | logmask add",
    args_override_self = true,
    disable_help_subcommand = true
)]
struct AddCli {
    #[command(flatten)]
    secrets: SecretArgs,

    #[command(flatten)]
    matching: MatchArgs,

    /// The agent to send to [default: $LOGMASK_AGENT]
    #[arg(long = "agent", value_name = "PATH", allow_hyphen_values = true)]
    agent: Option<PathBuf>,
}

/// Most bytes read from stdin: anything longer is refused as too long
/// without being kept (surrounding whitespace is allowed for, generously).
const STDIN_LIMIT: u64 = 2 * MAX_VALUE_LEN as u64;

pub fn main(argv: Vec<OsString>) -> u8 {
    // `logmask add`: clap sees `add` as the program name.
    let matches = match args::without_default_globs(AddCli::command())
        // Accepted as everywhere, but add masks no stream: nothing to
        // detect in.
        .mut_arg("detect", |arg| arg.hide(true))
        .mut_arg("no_detect", |arg| arg.hide(true))
        .try_get_matches_from(&argv[1..])
    {
        Ok(matches) => matches,
        Err(err) => {
            return match args::handle_clap_error(&err) {
                Ok(Parsed::Exit(code)) => code,
                Ok(Parsed::Run(_)) => status::OK,
                Err(err) => crate::usage_error_in("logmask add", &err),
            };
        }
    };
    let cli = match AddCli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => {
            return crate::usage_error_in("logmask add", &args::UsageError(err.kind().to_string()));
        }
    };
    let config = match (
        args::min_length(cli.matching.min_length.as_deref()),
        args::encodings(&cli.matching.encodings),
    ) {
        (Ok(min_length), Ok(encodings)) => Config {
            min_length,
            encodings,
        },
        (Err(err), _) | (_, Err(err)) => return crate::usage_error_in("logmask add", &err),
    };
    let sources = args::sources_in_order(&cli.secrets, &matches);
    // The checks a client makes: this run's own options decide what is
    // too short, as they would for `--secret` in filter mode. Messages are
    // masked with it from here on.
    let registry = Arc::new(Registry::with_config(config));
    messages::mask_with(&registry);
    let gathered = match secrets::gather(&sources) {
        Ok(gathered) => gathered,
        Err(err) => {
            secrets::register_readable(&sources, &registry);
            return crate::usage_error_in("logmask add", &err);
        }
    };
    let agent = cli.agent.or_else(|| {
        std::env::var_os(crate::agent::ENV)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    });
    let Some(path) = agent else {
        messages::error(&format!(
            "no agent named: {} is not set and no --agent PATH was given",
            crate::agent::ENV
        ));
        return status::IO_ERROR;
    };
    // Registered before connecting, so that every message from here on
    // (the agent's path in an error included) is masked with them.
    let values = if sources.is_empty() {
        match read_stdin() {
            Ok(Some(value)) => match registry.add_from(&value, "stdin") {
                Ok(_) => vec![(value, "stdin".to_string())],
                Err(refusal) => {
                    messages::warning(&"stdin", &refusal);
                    Vec::new()
                }
            },
            Ok(None) => {
                messages::warning(&"stdin", &Refusal::TooLong);
                Vec::new()
            }
            Err(err) => {
                messages::error(&format!("cannot read stdin: {err}"));
                return status::IO_ERROR;
            }
        }
    } else {
        gathered.register_and_keep(&registry)
    };
    let client = match Client::connect(&path, None) {
        Ok(client) => client,
        Err(err) => {
            messages::error(&format!("agent {}: {err}", path.display()));
            return status::IO_ERROR;
        }
    };
    for (value, source) in &values {
        client.send(value, source);
    }
    let finished = client.finish();
    if !finished.all_acknowledged {
        messages::error(&format!(
            "agent {}: not every value was acknowledged",
            path.display()
        ));
        return status::IO_ERROR;
    }
    // A value the agent refused (its limits) is a warning, printed as it
    // came, as SPEC 9 says: the status counts only what could not be
    // delivered.
    status::OK
}

/// All of stdin, or `None` when it is longer than any value may be.
fn read_stdin() -> std::io::Result<Option<Vec<u8>>> {
    let mut value = Vec::new();
    let mut stdin = std::io::stdin().lock();
    (&mut stdin).take(STDIN_LIMIT + 1).read_to_end(&mut value)?;
    if value.len() as u64 > STDIN_LIMIT {
        value.iter_mut().for_each(|b| *b = 0);
        // Drain the rest so the writer is not killed by SIGPIPE.
        std::io::copy(&mut stdin, &mut std::io::sink())?;
        return Ok(None);
    }
    Ok(Some(value))
}
