//! Sharing masks between the steps of a job (SPEC section 9).
//!
//! An *agent* holds every value the job's `logmask` runs register and
//! serves them over a Unix socket named by `LOGMASK_AGENT`:
//! - [`server`]: the agent itself (the store of values, the socket, the
//!   peer-credential check, the limits);
//! - [`client`]: a run's connection (load, send, receive, acknowledge);
//! - [`wire`]: the versioned frames between them;
//! - this module: the `logmask agent` subcommand (`-- COMMAND`,
//!   `--daemon`, `--stop`) and the one hook the writers share.
//!
//! A process has at most one way to share what its streams register
//! ([`Share`], set once at start): a client of someone else's agent, or
//! the agent's own store when it masks a command itself. An agent never
//! connects to another.
//!
//! Invariants:
//! - No value is ever formatted: labels are names (`agent:--secret #1`,
//!   `agent:stdout:3`), carried and held as the sender gave them, and
//!   shown only masked and then reduced to printable ASCII, at most 256
//!   bytes ([`shown`]): a value in a name is then found whole, where a
//!   name reduced first kept 11 bytes of an 18-byte secret cut at byte
//!   256, or the ASCII letters of a secret with accents.
//! - The daemon is started by re-executing this binary (never `fork` in a
//!   threaded process) in a new session with `/dev/null` for stderr; its
//!   values come over a pipe on its stdin, and it reports readiness on its
//!   stdout, which it then closes, so `$(logmask agent --daemon)` returns.

pub mod client;
mod outbox;
pub mod server;
pub mod wire;

use std::ffi::OsString;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use logmask::{Config, Registry, WriterBuilder};

use crate::args::{self, AgentMode, Options};
use crate::{closed_at_start, messages, report, secrets, status};
use client::Client;
use server::{Agent, OnStop, Store};

/// The variable that names the agent.
pub const ENV: &str = "LOGMASK_AGENT";

/// Set in the re-executed daemon's environment (internal).
const DAEMON_CHILD_ENV: &str = "LOGMASK_AGENT_DAEMON_CHILD";

/// Longest source in a label, in bytes (SPEC 9).
pub const MAX_SOURCE: usize = 256;

/// How long `--stop` waits for the agent to be gone.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What labels begin with.
const PREFIX: &str = "agent:";

/// `agent:SOURCE` as it is carried and held: the source as given (as
/// UTF-8, invalid bytes replaced), cut to what a frame carries. Never
/// shown as it is: see [`shown`].
pub fn label(source: &[u8]) -> String {
    let source = &source[..source.len().min(wire::MAX_LABEL - PREFIX.len())];
    format!("{PREFIX}{}", String::from_utf8_lossy(source))
}

/// A label received from an agent, which need not be well formed.
pub fn received_label(label: &[u8]) -> String {
    match label.strip_prefix(PREFIX.as_bytes()) {
        Some(source) => self::label(source),
        None => self::label(label),
    }
}

/// Whether a source label names a value some agent held.
pub fn is_label(label: &str) -> bool {
    label.starts_with(PREFIX)
}

/// A label as messages and reports show it (SPEC 9): masked by this
/// process's registry first, then reduced to printable ASCII (every other
/// byte becomes `?`) with a source of at most 256 bytes.
pub fn shown(label: &str) -> String {
    messages::masked_label(label)
}

/// The reduction of [`shown`], for a label already masked.
pub fn printable(label: &str) -> String {
    let source = label.strip_prefix(PREFIX).unwrap_or(label);
    let source: String = source
        .bytes()
        .take(MAX_SOURCE)
        .map(|b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    format!("{PREFIX}{source}")
}

/// Where this process's streams send what they register.
enum Share {
    /// A client of the agent named by `--agent` or `LOGMASK_AGENT`.
    Remote(Client),
    /// This process is the agent (`agent -- COMMAND`).
    Local(Arc<Store>),
}

static SHARE: OnceLock<Share> = OnceLock::new();

/// Adds the hook that shares every value a stream registers, when this
/// process shares at all.
pub fn attach(builder: WriterBuilder) -> WriterBuilder {
    match SHARE.get() {
        Some(Share::Remote(client)) => {
            let client = client.clone();
            builder.on_register(move |value, source| client.send(value, source))
        }
        Some(Share::Local(store)) => {
            let store = store.clone();
            builder.on_register(move |value, source| {
                let label = label(source.as_bytes());
                if let Err(refused) = store.hold(value, &label, None) {
                    messages::warning(&shown(&label), &refused);
                }
            })
        }
        None => builder,
    }
}

/// Filter and exec mode: connects to the agent the options name, if any,
/// loading its values into `registry`. Unreachable is one warning.
pub fn join(options: &Options, registry: &Arc<Registry>) {
    if let Some(client) = options
        .agent
        .as_deref()
        .and_then(|path| connect_or_warn(path, registry))
    {
        let _ = SHARE.set(Share::Remote(client));
    }
}

/// For `scan --agent PATH`: loads the agent's values into `registry` and
/// keeps applying new ones while the returned client lives (call
/// [`Client::finish`] at the end). Unreachable is one warning and `None`.
pub fn connect_or_warn(path: &Path, registry: &Arc<Registry>) -> Option<Client> {
    match Client::connect(path, Some(registry)) {
        Ok(client) => Some(client),
        Err(err) => {
            messages::warning(&format!("agent {}", path.display()), &err);
            None
        }
    }
}

/// Before exit: waits until the agent acknowledged every value sent.
pub fn leave() {
    if let Some(Share::Remote(client)) = SHARE.get() {
        client.finish();
    }
}

/// `logmask agent ...`.
pub fn main(argv: Vec<OsString>) -> u8 {
    let (mode, options) = match args::parse_agent(argv) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return status::OK,
        Err(err) => return crate::usage_error_in("logmask agent", &err),
    };
    match mode {
        AgentMode::Stop => stop(options.agent.as_deref()),
        AgentMode::Daemon if std::env::var_os(DAEMON_CHILD_ENV).is_some() => daemon_child(),
        AgentMode::Daemon => daemon_parent(&options),
        AgentMode::Command => with_command(options),
    }
}

/// Gathers the options' secrets into a registry, printing the warnings;
/// returns the values the registry accepted, labelled for the agent.
/// With `open_report` (a COMMAND to mask), also opens `--report`.
fn gather(
    options: &Options,
    registry: &Registry,
    open_report: bool,
) -> Result<Vec<(Vec<u8>, String)>, u8> {
    let gathered = secrets::gather(&options.sources).map_err(|err| {
        secrets::register_readable(&options.sources, registry);
        crate::usage_error_in("logmask agent", &err)
    })?;
    // As in exec mode: a report that cannot be opened is a usage error,
    // after the sources are read and before anything is registered.
    if let Some(path) = options.report.as_ref().filter(|_| open_report) {
        report::open(path).map_err(|err| crate::usage_error_in("logmask agent", &err))?;
    }
    Ok(gathered
        .register_and_keep(registry)
        .into_iter()
        .map(|(value, source)| (value, label(source.as_bytes())))
        .collect())
}

/// The registry of the options' secrets; messages are masked with it.
fn registry_for(options: &Options) -> Arc<Registry> {
    let registry = Arc::new(Registry::with_config(Config {
        min_length: options.min_length,
        encodings: options.encodings,
    }));
    messages::mask_with(&registry);
    registry
}

/// `logmask agent [OPTIONS] -- COMMAND`: the agent lives in this process
/// and this process masks COMMAND as exec mode does.
fn with_command(mut options: Options) -> u8 {
    let registry = registry_for(&options);
    let values = match gather(&options, &registry, true) {
        Ok(values) => values,
        Err(code) => return code,
    };
    let store = Store::new(Some(registry.clone()));
    hold_all(&store, values);
    let agent = match Agent::start(store.clone(), OnStop::Return) {
        Ok(agent) => agent,
        Err(err) => {
            messages::error(&format!("cannot start the agent: {err}"));
            return status::IO_ERROR;
        }
    };
    options.agent = None;
    options.command_env = vec![(ENV.into(), agent.path().as_os_str().to_owned())];
    let _ = SHARE.set(Share::Local(store));
    let code = crate::run_mode(&options, &registry);
    agent.stop();
    std::mem::forget(registry);
    code
}

fn hold_all(store: &Store, values: Vec<(Vec<u8>, String)>) {
    for (mut value, label) in values {
        if let Err(refused) = store.hold(&value, &label, None) {
            messages::warning(&shown(&label), &refused);
        }
        value.iter_mut().for_each(|b| *b = 0);
    }
}

/// `eval "$(logmask agent --daemon)"`: gathers the secrets (usage errors
/// and warnings here, where the caller sees them), re-executes this binary
/// as the daemon, hands it the values and prints the `eval` line once the
/// daemon's socket accepts connections.
fn daemon_parent(options: &Options) -> u8 {
    let registry = registry_for(options);
    let values = match gather(options, &registry, false) {
        Ok(values) => values,
        Err(code) => return code,
    };
    drop(registry);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            messages::error(&format!("cannot find the logmask binary: {err}"));
            return status::IO_ERROR;
        }
    };
    let mut command = Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(DAEMON_CHILD_ENV, "1")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe and touches no memory; it makes
    // the daemon lead a new session, without a controlling terminal.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            messages::error(&format!("cannot start the agent: {err}"));
            return status::IO_ERROR;
        }
    };
    let mut to_child = child.stdin.take().expect("stdin is piped");
    let handed = values.iter().try_for_each(|(value, label)| {
        wire::write_frame(
            &mut to_child,
            &wire::Frame::Value {
                label: label.as_bytes().to_vec(),
                value: value.clone(),
            },
        )
    });
    drop(to_child);
    let mut ready = String::new();
    let read = io::BufReader::new(child.stdout.take().expect("stdout is piped"))
        .take(64 * 1024)
        .read_line(&mut ready);
    let path = ready
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix("ready "));
    match (handed, read, path) {
        (Ok(()), Ok(_), Some(path)) => {
            // The daemon runs on; its exit status is nobody's concern.
            drop(child);
            let line = format!("{ENV}={}; export {ENV}\n", shell_quote(path));
            let written =
                closed_at_start::check(1).and_then(|()| io::stdout().write_all(line.as_bytes()));
            match written {
                Ok(()) => status::OK,
                Err(_) => status::IO_ERROR,
            }
        }
        _ => {
            let reason = ready
                .strip_prefix("error ")
                .map_or("it exited before accepting connections", str::trim_end);
            messages::error(&format!("cannot start the agent: {reason}"));
            let _ = child.wait();
            status::IO_ERROR
        }
    }
}

/// The re-executed daemon: reads its values from stdin, starts serving,
/// says `ready PATH` on stdout, lets go of stdin and stdout, and serves
/// until SIGTERM, SIGINT or `--stop`.
fn daemon_child() -> u8 {
    close_inherited_descriptors();
    let store = Store::new(None);
    let mut input = io::stdin().lock();
    loop {
        match wire::read_frame(&mut input) {
            Ok(Some(wire::Frame::Value { label, mut value })) => {
                let _ = store.hold(&value, &String::from_utf8_lossy(&label), None);
                value.iter_mut().for_each(|b| *b = 0);
            }
            Ok(None) => break,
            _ => return say_error("bad values from the starting process"),
        }
    }
    drop(input);
    // A signal the caller left ignored stays ignored (SPEC 5); `--stop`
    // still works.
    let stopping = [libc::SIGTERM, libc::SIGINT]
        .into_iter()
        .filter(|&signal| !crate::signals::ignored_at_start(signal));
    let signals = match signal_hook::iterator::Signals::new(stopping) {
        Ok(signals) => signals,
        Err(err) => return say_error(&format!("cannot handle signals: {err}")),
    };
    let agent = match Agent::start(store, OnStop::Exit) {
        Ok(agent) => agent,
        Err(err) => return say_error(&err.to_string()),
    };
    let mut line = b"ready ".to_vec();
    line.extend_from_slice(agent.path().as_os_str().as_bytes());
    line.push(b'\n');
    // Let go of the caller's descriptors before saying so: once the
    // caller has read the line, nothing of it is held any more.
    let ready = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from);
    detach_stdio();
    if let Ok(mut ready) = ready {
        let _ = ready.write_all(&line);
    }
    let mut signals = signals;
    if signals.forever().next().is_some() {
        agent.stop();
    }
    status::OK
}

fn say_error(reason: &str) -> u8 {
    let _ = io::stdout().write_all(format!("error {reason}\n").as_bytes());
    status::IO_ERROR
}

/// Points stdin and stdout at `/dev/null`, so the caller's `$(...)` and
/// pipes see their end.
/// Closes every descriptor above stderr that the daemon inherited: a
/// caller's saved copy of its stdout (`exec 3>&1`, common in scripts) would
/// otherwise keep a `$(...)` or a wrapping logmask waiting for as long as
/// the agent runs (SPEC 9). Called first, before the daemon opens
/// anything of its own.
fn close_inherited_descriptors() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    // Listed first and closed after, so that the listing's own descriptor
    // is gone (closing it again only fails) before any is closed.
    let inherited: Vec<i32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > libc::STDERR_FILENO)
        .collect();
    for fd in inherited {
        // SAFETY: nothing in this process owns these descriptors: they
        // were inherited across exec, and the daemon has opened nothing.
        unsafe { libc::close(fd) };
    }
}

fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO] {
            // SAFETY: dup2 onto the standard descriptors, which std keeps
            // using through the same numbers.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// `logmask agent --stop`: as SIGTERM, then waits until the agent is gone
/// and its socket removed. 0 when stopped, 1 when none named or reachable.
fn stop(path: Option<&Path>) -> u8 {
    let Some(path) = path else {
        messages::error(&format!(
            "no agent named: {ENV} is not set and no --agent PATH was given"
        ));
        return status::IO_ERROR;
    };
    let client = match Client::connect(path, None) {
        Ok(client) => client,
        Err(err) => {
            messages::error(&format!("agent {}: {err}", path.display()));
            return status::IO_ERROR;
        }
    };
    if !client.stop(STOP_TIMEOUT) || path.exists() {
        messages::error(&format!("agent {}: did not stop in time", path.display()));
        return status::IO_ERROR;
    }
    status::OK
}

/// `'...'` for the shell, with each `'` as `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Whether an I/O error is a socket timeout, which the system reports as
/// "Resource temporarily unavailable".
pub fn timed_out(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// An I/O error as a message: a socket timeout says what it is.
pub fn io_reason(err: &std::io::Error) -> String {
    if timed_out(err) {
        "no answer in time".to_string()
    } else {
        err.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_read_as_such() {
        use std::io::{Error, ErrorKind};
        let cases = [
            (Error::from(ErrorKind::WouldBlock), "no answer in time"),
            (Error::from(ErrorKind::TimedOut), "no answer in time"),
            (Error::from_raw_os_error(11), "no answer in time"),
            (Error::other("broken"), "broken"),
        ];
        for (err, want) in cases {
            assert_eq!(io_reason(&err), want);
        }
    }

    #[test]
    fn labels_are_shown_printable_ascii_and_bounded() {
        let long = vec![b'a'; 1000];
        let cases: [(&[u8], &str); 5] = [
            (b"stdout:3", "agent:stdout:3"),
            (b"--file a\tb\n", "agent:--file a?b?"),
            ("é".as_bytes(), "agent:??"),
            (b"\x1b[31m", "agent:?[31m"),
            (b"\xff:1", "agent:???:1"),
        ];
        for (source, expected) in cases {
            assert_eq!(printable(&label(source)), expected, "{source:?}");
        }
        assert_eq!(label(&long).len(), wire::MAX_LABEL);
        assert_eq!(printable(&label(&long)).len(), "agent:".len() + MAX_SOURCE);
        assert_eq!(received_label(b"--file x"), "agent:--file x");
        assert_eq!(received_label(b"agent:--file x"), "agent:--file x");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
