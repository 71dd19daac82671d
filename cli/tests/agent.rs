//! The agent through the real binary (SPEC 9, issue 14): masks shared
//! between the steps of a job, `logmask add`, `--daemon`/`--stop`, the
//! peer-credential check, the limits, garbage on the wire, and an agent
//! that dies.
//!
//! Every agent runs with a private `TMPDIR` (and no `XDG_RUNTIME_DIR`), so
//! tests never see each other's agents and can search the directory for
//! leaked values afterwards. Nothing sleeps: tests wait on output or on a
//! process with a deadline.
//!
//! The raw client here ([`Raw`]) speaks the wire format from its written
//! description (`logmask-agent\0`, u16 version; u32 length, u8 kind,
//! payload), sharing no code with the binary.

mod support;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{DEADLINE, LineReader, Run, TempDir, logmask, run_command, wait_with_deadline};

const BIN: &str = env!("CARGO_BIN_EXE_logmask");

/// How long a value may take to reach a running client (generous: the
/// machine is shared; the benchmark measures the real figure).
const PROPAGATION_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- helpers

/// The environment of one test's agents and clients: a private TMPDIR,
/// no inherited agent, and this build's `logmask` first on PATH.
fn isolate<'c>(command: &'c mut Command, tmp: &Path) -> &'c mut Command {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let mut path = OsString::from(bin_dir);
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    command
        .env("TMPDIR", tmp)
        .env("PATH", path)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("LOGMASK_AGENT")
        .env_remove("LOGMASK_AGENT_DAEMON_CHILD")
}

fn cmd(tmp: &Path, args: &[&str]) -> Command {
    let mut command = logmask();
    command.args(args);
    isolate(&mut command, tmp);
    command
}

/// `logmask ARGS` against the agent at `agent`, with `input` on stdin.
fn client(tmp: &Path, agent: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut command = cmd(tmp, args);
    command.env("LOGMASK_AGENT", agent);
    run_command(command, input)
}

/// `sh -c SCRIPT` in the test environment.
fn shell(tmp: &Path, script: &str) -> Run {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    isolate(&mut command, tmp);
    run_command(command, b"")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `setpriv` to `nobody`, then `program`.
fn as_nobody(program: &str) -> Command {
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--",
        program,
    ]);
    command
}

/// Parses `LOGMASK_AGENT='PATH'; export LOGMASK_AGENT\n`.
fn parse_eval_line(out: &str) -> PathBuf {
    let rest = out
        .strip_prefix("LOGMASK_AGENT='")
        .unwrap_or_else(|| panic!("not an eval line: {out:?}"));
    let path = rest
        .strip_suffix("'; export LOGMASK_AGENT\n")
        .unwrap_or_else(|| panic!("not an eval line: {out:?}"));
    assert!(!path.contains('\''), "{out:?}");
    PathBuf::from(path)
}

/// The pid of the process serving `socket`, from its peer credentials.
fn server_pid(socket: &Path) -> i32 {
    let stream = UnixStream::connect(socket).expect("connect for the pid");
    let cred = rustix::net::sockopt::socket_peercred(&stream).unwrap();
    cred.pid.as_raw_nonzero().get()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// A daemon started with `eval "$(logmask agent --daemon ...)"`'s first
/// half; killed if a test did not stop it.
struct Daemon {
    path: PathBuf,
    pid: i32,
}

impl Daemon {
    fn start(tmp: &Path, args: &[&str]) -> Daemon {
        let mut command = cmd(tmp, &["agent", "--daemon"]);
        command.args(args);
        Daemon::from(command)
    }

    /// Runs `command`, which must print the eval line and return: its
    /// stdout and stderr both reach their end, or the deadline fails it.
    fn from(command: Command) -> Daemon {
        let run = run_command(command, b"");
        assert_eq!(run.code(), 0, "stderr: {}", run.stderr());
        let path = parse_eval_line(&run.stdout());
        let pid = server_pid(&path);
        Daemon { path, pid }
    }

    fn stop(&self, tmp: &Path) -> Run {
        let agent = self.path.to_str().unwrap();
        run_command(cmd(tmp, &["agent", "--stop", "--agent", agent]), b"")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.pid);
        if let Some(pid) = pid.filter(|_| self.path.exists() && alive(self.pid)) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A `logmask` filter kept running, for values that arrive while it
/// streams.
struct Streaming {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: Chunks,
    stderr: LineReader,
}

/// A pipe read on a helper thread; what arrived so far in `seen`.
struct Chunks {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Chunks {
    fn new(mut pipe: impl Read + Send + 'static) -> Chunks {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Chunks {
            rx,
            seen: Vec::new(),
        }
    }
}

impl Streaming {
    fn start(mut command: Command) -> Streaming {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        Streaming {
            stdin: child.stdin.take(),
            stdout: Chunks::new(child.stdout.take().unwrap()),
            stderr: LineReader::new(child.stderr.take().unwrap()),
            child,
        }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The complete output line that starts with `prefix`, as soon as it
    /// is there (`None` past the timeout).
    fn line(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        loop {
            let seen = text(&self.stdout.seen);
            if let Some(line) = seen
                .split_inclusive('\n')
                .find(|l| l.starts_with(prefix) && l.ends_with('\n'))
            {
                return Some(line.to_string());
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.stdout.rx.recv_timeout(left) {
                Ok(chunk) => self.stdout.seen.extend_from_slice(&chunk),
                Err(_) => return None,
            }
        }
    }

    /// Closes stdin and waits for the exit status and the rest of stderr.
    fn finish(mut self) -> (i32, String) {
        drop(self.stdin.take());
        let status = wait_with_deadline(&mut self.child, DEADLINE);
        (status.code().unwrap(), self.stderr.rest())
    }
}

/// A client that speaks the wire format from its description.
struct Raw {
    stream: UnixStream,
}

const VALUE: u8 = 0x81;
const SYNCED: u8 = 0x82;
const ACK: u8 = 0x83;
const ERROR: u8 = 0x84;

impl Raw {
    fn connect(path: &Path) -> Raw {
        let stream = UnixStream::connect(path).expect("raw connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Raw { stream }
    }

    /// Connected, with handshakes of version 1 exchanged.
    fn greeted(path: &Path) -> Raw {
        let mut raw = Raw::connect(path);
        raw.hello(1);
        assert_eq!(raw.read_hello(), 1);
        raw
    }

    /// The same connection, for a thread that sends while this one reads.
    fn try_clone(&self) -> Raw {
        Raw {
            stream: self.stream.try_clone().unwrap(),
        }
    }

    /// Sends `bytes`. An agent that refuses a peer closes the connection
    /// without reading, so a write may fail; what it sent before closing
    /// can still be read, and the reads are what tests check.
    fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    fn hello(&mut self, version: u16) {
        let mut bytes = b"logmask-agent\0".to_vec();
        bytes.extend_from_slice(&version.to_be_bytes());
        self.send(&bytes);
    }

    /// The agent's handshake: its version.
    fn read_hello(&mut self) -> u16 {
        let mut buf = [0u8; 16];
        self.stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf[..14], b"logmask-agent\0");
        u16::from_be_bytes([buf[14], buf[15]])
    }

    fn frame(&mut self, kind: u8, payload: &[u8]) {
        let mut bytes = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        bytes.push(kind);
        bytes.extend_from_slice(payload);
        self.send(&bytes);
    }

    fn add(&mut self, label: &str, value: &[u8]) {
        let mut payload = (label.len() as u16).to_be_bytes().to_vec();
        payload.extend_from_slice(label.as_bytes());
        payload.extend_from_slice(value);
        self.frame(2, &payload);
    }

    /// Sends every value and checks that each is held. The agent reads a
    /// client's frames only as fast as the client reads its replies, so
    /// they are sent from a thread of their own.
    fn hold_all(&mut self, label: &'static str, values: impl Iterator<Item = String>) {
        let values: Vec<String> = values.collect();
        let count = values.len();
        let mut sender = self.try_clone();
        let sending = thread::spawn(move || {
            for value in values {
                sender.add(label, value.as_bytes());
            }
        });
        for n in 0..count {
            assert_eq!(self.read(), Some((ACK, vec![0])), "value {n}");
        }
        sending.join().unwrap();
    }

    /// The next frame (kind, payload), `None` at the end of the stream.
    fn read(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut len = [0u8; 4];
        match self.stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(_) => return None,
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).ok()?;
        let kind = body.remove(0);
        Some((kind, body))
    }

    /// Every frame until the agent closes the connection.
    fn read_all(&mut self) -> Vec<(u8, Vec<u8>)> {
        std::iter::from_fn(|| self.read()).collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every byte of every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                found.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    found
}

// ------------------------------------------------------------ propagation

#[test]
fn a_mask_from_one_step_holds_in_the_steps_after_it() {
    let tmp = TempDir::new("agent-steps");
    let out = tmp.0.join("step2.out");
    let out = out.display();
    // Step 2's own output (the file) is what is checked: the agent's
    // masking of the whole COMMAND would hide a propagation bug.
    let cases = [
        (
            "::add-mask:: on stdout in exec mode",
            "logmask -- sh -c 'echo ::add-mask::step-secret-1'",
        ),
        (
            "::add-mask:: on stderr in exec mode",
            "logmask -- sh -c 'echo ::add-mask::step-secret-1 >&2'",
        ),
        (
            "::add-mask:: in filter mode",
            "printf '::add-mask::step-secret-1\\n' | logmask",
        ),
        (
            "a ::stop-commands:: token",
            // Its output goes elsewhere: the agent's own masker would read
            // `::stop-commands::***` and warn that `***` is too short.
            "logmask -- sh -c 'echo ::stop-commands::step-secret-1; echo ::step-secret-1::' \
             > /dev/null",
        ),
        ("logmask add", "logmask add -s step-secret-1"),
        (
            "logmask add from stdin",
            "printf step-secret-1 | logmask add",
        ),
    ];
    for (name, step1) in cases {
        let script = format!(
            "{step1}; logmask -- sh -c 'echo leak step-secret-1; exit 3' > {out}; \
             echo step2=$?; echo direct step-secret-1"
        );
        let run = run_command(cmd(&tmp.0, &["agent", "--", "sh", "-c", &script]), b"");
        assert_eq!(run.code(), 0, "{name}: {}", run.stderr());
        let stdout = run.stdout();
        assert!(stdout.contains("step2=3"), "{name}: {stdout}");
        // The agent masks its own COMMAND with what the steps registered.
        assert!(stdout.contains("direct ***\n"), "{name}: {stdout}");
        assert_eq!(
            std::fs::read_to_string(out.to_string()).unwrap(),
            "leak ***\n",
            "{name}"
        );
        run.leaks_nothing("step-secret-1");
        assert_eq!(run.stderr(), "", "{name}");
    }
}

#[test]
fn agent_command_exit_status_environment_and_cleanup() {
    let tmp = TempDir::new("agent-command");
    let cases = [("exit 0", 0), ("exit 7", 7), ("kill -TERM $$", 128 + 15)];
    for (script, expected) in cases {
        let run = run_command(cmd(&tmp.0, &["agent", "--", "sh", "-c", script]), b"");
        assert_eq!(run.code(), expected, "{script}: {}", run.stderr());
    }
    // An agent started where another is named is a new one, and never
    // connects to the old (no warning about the unreachable one).
    let mut command = cmd(
        &tmp.0,
        &[
            "agent",
            "-s",
            "own-secret-9",
            "--",
            "sh",
            "-c",
            "echo \"$LOGMASK_AGENT\"; echo own-secret-9",
        ],
    );
    command.env("LOGMASK_AGENT", "/nonexistent/old.sock");
    let run = run_command(command, b"");
    let stdout = run.ok();
    let path = PathBuf::from(stdout.lines().next().unwrap());
    assert!(path.starts_with(&tmp.0), "{stdout}");
    assert_eq!(stdout.lines().nth(1), Some("***"));
    // Stopped with COMMAND: socket and directory are gone.
    assert!(!path.exists() && !path.parent().unwrap().exists());
}

#[test]
fn agent_with_a_command_on_a_pseudo_terminal() {
    let tmp = TempDir::new("agent-pty");
    let script = "test -S \"$LOGMASK_AGENT\" && echo has-agent; \
                  logmask -- sh -c 'echo ::add-mask::pty-step-2'; echo pty-secret-1 pty-step-2";
    let run = run_command(
        cmd(
            &tmp.0,
            &[
                "agent",
                "-s",
                "pty-secret-1",
                "--pty",
                "--",
                "sh",
                "-c",
                script,
            ],
        ),
        b"",
    );
    assert_eq!(run.ok(), "has-agent\n*** ***\n");
}

#[test]
fn stop_aimed_at_an_agent_with_a_command_ends_only_the_service() {
    let tmp = TempDir::new("agent-inner-stop");
    let script = r#"dir=$(dirname "$LOGMASK_AGENT")
        logmask agent --stop; echo stop=$?
        if [ -e "$dir" ]; then echo dir-left; fi
        echo x | logmask 2>&1 | grep -c 'cannot reach the agent'
        echo still-running"#;
    let run = run_command(cmd(&tmp.0, &["agent", "--", "sh", "-c", script]), b"");
    assert_eq!(run.ok(), "stop=0\n1\nstill-running\n");
    // COMMAND that cannot start: 127, and the agent is gone all the same.
    let run = run_command(cmd(&tmp.0, &["agent", "--", "/nonexistent/cmd"]), b"");
    assert_eq!(run.code(), 127);
    assert!(files_under(&tmp.0).is_empty());
    let dirs: Vec<_> = std::fs::read_dir(&tmp.0).unwrap().collect();
    assert!(dirs.is_empty(), "{dirs:?}");
}

#[test]
fn daemon_serves_the_steps_of_a_shell_job_and_stops() {
    let tmp = TempDir::new("agent-daemon");
    let out = tmp.0.join("step2.out");
    let script = format!(
        r#"eval "$(logmask agent --daemon -s daemon-option-1)" || exit 9
        logmask -- sh -c 'echo ::add-mask::daemon-secret-1'
        printf 'daemon-secret-2' | logmask add || exit 8
        logmask -- sh -c 'echo leak daemon-secret-1 daemon-secret-2 daemon-option-1' > {out}
        dir=$(dirname "$LOGMASK_AGENT")
        logmask agent --stop; echo stop=$?
        if [ -e "$dir" ]; then echo dir-left; fi
        logmask agent --stop 2>/dev/null; echo again=$?"#,
        out = out.display()
    );
    // The deadline fails this if `$(...)` waited for the daemon.
    let run = shell(&tmp.0, &script);
    assert_eq!(run.ok(), "stop=0\nagain=1\n");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "leak *** *** ***\n");
    // Values in memory only: nothing under the test's TMPDIR (where the
    // socket directory was) holds one.
    for (path, content) in files_under(&tmp.0) {
        for secret in ["daemon-secret-1", "daemon-secret-2", "daemon-option-1"] {
            assert!(
                !text(&content).contains(secret),
                "{secret} found in {}",
                path.display()
            );
        }
    }
}

/// `logmask agent --report PATH -- COMMAND` reports as exec mode does, and
/// a report that cannot be opened is a usage error before COMMAND starts.
#[test]
fn agent_with_a_command_writes_its_report() {
    let tmp = TempDir::new("agent-report");
    let report = tmp.0.join("r.jsonl");
    let path = report.to_str().unwrap();
    let args = [
        "agent",
        "-s",
        "agentrep1",
        "--report",
        path,
        "--",
        "sh",
        "-c",
    ];
    let mut command = cmd(&tmp.0, &args);
    command.arg("echo agentrep1; echo ::add-mask::agentrep22; echo x agentrep22");
    let run = run_command(command, b"");
    assert_eq!(run.ok(), "***\nx ***\n");
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(r#"{"stream":"stdout","line":1,"column":1,"#),
        "{text}"
    );
    assert!(lines[1].contains(r#""source":"stdout:2""#), "{text}");
    assert!(lines[2].starts_with(r#"{"summary":"#), "{text}");

    let marker = tmp.0.join("ran");
    let bad = tmp.0.join("missing/r.jsonl");
    let mut command = cmd(
        &tmp.0,
        &["agent", "--report", bad.to_str().unwrap(), "--", "touch"],
    );
    command.arg(&marker);
    let run = run_command(command, b"");
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--report"), "{}", run.stderr());
    assert!(!marker.exists(), "the command ran");
}

/// The daemon keeps none of its caller's descriptors: a script's saved
/// copy of stdout (`exec 3>&1`) inside `$(...)` would otherwise keep the
/// substitution waiting for as long as the agent runs.
#[test]
fn daemon_holds_no_descriptor_of_its_caller() {
    let tmp = TempDir::new("agent-fds");
    let script = r#"eval "$(exec 3>&1; logmask agent --daemon -s fd-secret-1)" || exit 9
        logmask -- sh -c 'echo leak fd-secret-1'
        logmask agent --stop; echo stop=$?"#;
    // The deadline fails this if `$(...)` waited for the daemon.
    let run = shell(&tmp.0, script);
    assert_eq!(run.ok(), "leak ***\nstop=0\n");
}

#[test]
fn daemon_prints_a_quoted_eval_line_and_makes_a_private_directory() {
    let tmp = TempDir::new("agent-dir");
    let xdg = tmp.0.join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let long = tmp.0.join("x".repeat(120));
    std::fs::create_dir(&long).unwrap();
    // (XDG_RUNTIME_DIR, where the directory must be)
    let missing = tmp.0.join("missing");
    let cases: [(Option<&Path>, &Path); 4] = [
        (None, &tmp.0),
        (Some(&xdg), &xdg),
        // Not there (or not writable): the temporary directory instead.
        (Some(&missing), &tmp.0),
        // Too long for a socket address: the temporary directory instead.
        (Some(&long), &tmp.0),
    ];
    for (runtime, base) in cases {
        let mut command = cmd(&tmp.0, &["agent", "--daemon"]);
        if let Some(runtime) = runtime {
            command.env("XDG_RUNTIME_DIR", runtime);
        }
        let daemon = Daemon::from(command);
        let dir = daemon.path.parent().unwrap();
        assert_eq!(dir.parent().unwrap(), base, "{runtime:?}");
        let meta = std::fs::metadata(dir).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        assert_eq!(meta.uid(), rustix::process::geteuid().as_raw());
        // Detached: its own session, so no terminal signal reaches it.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", daemon.pid)).unwrap();
        let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split(' ').collect();
        assert_eq!(fields[3], daemon.pid.to_string(), "session id is its pid");
        // Nothing of the caller's: stdin, stdout and stderr are /dev/null.
        for fd in 0..3 {
            let target = std::fs::read_link(format!("/proc/{}/fd/{fd}", daemon.pid)).unwrap();
            assert_eq!(target, Path::new("/dev/null"), "fd {fd}");
        }
        assert_eq!(daemon.stop(&tmp.0).code(), 0);
        assert!(!dir.exists());
    }
}

#[test]
fn a_value_added_while_a_client_streams_is_masked_soon_after() {
    let tmp = TempDir::new("agent-live");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut command = cmd(&tmp.0, &[]);
    command.env("LOGMASK_AGENT", &daemon.path);
    let mut streaming = Streaming::start(command);
    streaming.send("hello\n");
    assert!(streaming.line("hello", DEADLINE).is_some());

    let added = client(&tmp.0, &daemon.path, &["add", "-s", "live-secret-1"], b"");
    assert_eq!(added.code(), 0, "{}", added.stderr());
    let returned = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        streaming.send(&format!("probe {n} live-secret-1\n"));
        let line = streaming.line(&format!("probe {n} "), DEADLINE).unwrap();
        if line == format!("probe {n} ***\n") {
            break;
        }
        assert_eq!(line, format!("probe {n} live-secret-1\n"));
        assert!(
            returned.elapsed() < PROPAGATION_BOUND,
            "not masked after {n} probes"
        );
    }
    let (code, stderr) = streaming.finish();
    assert_eq!((code, stderr.as_str()), (0, ""));
}

#[test]
fn two_clients_registering_at_once_are_both_masked_by_a_third() {
    let tmp = TempDir::new("agent-concurrent");
    let daemon = Daemon::start(&tmp.0, &[]);
    let values = |tag: &str| -> Vec<String> {
        (0..1000)
            .map(|i| format!("conc-{tag}-{i:04}-value"))
            .collect()
    };
    let senders: Vec<_> = ["a", "b"]
        .iter()
        .map(|tag| {
            let input: String = values(tag)
                .iter()
                .map(|v| format!("::add-mask::{v}\n"))
                .collect();
            let mut command = cmd(&tmp.0, &[]);
            command.env("LOGMASK_AGENT", &daemon.path);
            std::thread::spawn(move || run_command(command, input.as_bytes()))
        })
        .collect();
    for sender in senders {
        let run = sender.join().unwrap();
        assert_eq!(run.ok(), "");
    }
    let (a, b) = (values("a"), values("b"));
    let input: String = a
        .iter()
        .zip(&b)
        .map(|(a, b)| format!("{a} {b}\n"))
        .collect();
    let run = client(&tmp.0, &daemon.path, &[], input.as_bytes());
    assert_eq!(run.ok(), "*** ***\n".repeat(1000));
}

// --------------------------------------------------------------- options

#[test]
fn agent_and_no_agent_choose_the_agent_the_last_one_winning() {
    let tmp = TempDir::new("agent-options");
    let daemon = Daemon::start(&tmp.0, &["-s", "chosen-secret-1"]);
    let agent = daemon.path.to_str().unwrap();
    // (LOGMASK_AGENT, arguments, masked)
    let cases: [(&str, &[&str], bool); 6] = [
        (agent, &[], true),
        (agent, &["--no-agent"], false),
        (agent, &["--agent", agent, "--no-agent"], false),
        (agent, &["--no-agent", "--agent", agent], true),
        ("/nonexistent/agent.sock", &["--agent", agent], true),
        ("", &[], false),
    ];
    for (env, args, masked) in cases {
        let mut command = cmd(&tmp.0, args);
        command.env("LOGMASK_AGENT", env);
        let run = run_command(command, b"x chosen-secret-1\n");
        let expected = if masked {
            "x ***\n"
        } else {
            "x chosen-secret-1\n"
        };
        assert_eq!(run.ok(), expected, "{env:?} {args:?}");
    }
}

#[test]
fn a_command_wrapped_with_agent_path_sees_that_agent() {
    let tmp = TempDir::new("agent-wrapped");
    let daemon = Daemon::start(&tmp.0, &[]);
    let agent = daemon.path.to_str().unwrap();
    let script = "logmask add -s wrapped-secret-1 && echo \"$LOGMASK_AGENT\"";
    let mut command = cmd(&tmp.0, &["--agent", agent, "--", "sh", "-c", script]);
    command.env("LOGMASK_AGENT", "/nonexistent/other.sock");
    let run = run_command(command, b"");
    assert_eq!(run.ok(), format!("{agent}\n"));
    let run = client(&tmp.0, &daemon.path, &[], b"wrapped-secret-1\n");
    assert_eq!(run.ok(), "***\n");
}

#[test]
fn add_exit_statuses() {
    let tmp = TempDir::new("agent-add");
    let daemon = Daemon::start(&tmp.0, &[]);
    let agent = daemon.path.to_str().unwrap();
    let long = "L".repeat(64 * 1024 + 1);
    // Within 64 KiB once trimmed, past a frame's size as given.
    let padded_stdin = format!("{}{}", "W".repeat(60_000), " ".repeat(9_700));
    let padded_option = format!("{0}{1}{0}", " ".repeat(5_000), "T".repeat(60_000));
    // (LOGMASK_AGENT, arguments, stdin, status, stderr holds)
    let cases: [(Option<&str>, Vec<&str>, &[u8], i32, &str); 14] = [
        (Some(agent), vec!["add"], padded_stdin.as_bytes(), 0, ""),
        (Some(agent), vec!["add", "-s", &padded_option], b"", 0, ""),
        (Some(agent), vec!["add", "-s", "add-secret-1"], b"", 0, ""),
        (Some(agent), vec!["add"], b"add-secret-2\n", 0, ""),
        (
            None,
            vec!["add", "-s", "add-secret-3"],
            b"",
            1,
            "no agent named",
        ),
        (
            Some("/nonexistent/a.sock"),
            vec!["add", "-s", "add-secret-3"],
            b"",
            1,
            "cannot reach",
        ),
        // The path in the error is masked with the values being added.
        (
            Some("/nonexistent/add-secret-4/a.sock"),
            vec!["add", "-s", "add-secret-4"],
            b"",
            1,
            "agent /nonexistent/***/a.sock: cannot reach",
        ),
        (
            Some("/nonexistent/add-secret-5/a.sock"),
            vec!["add"],
            b"add-secret-5",
            1,
            "agent /nonexistent/***/a.sock: cannot reach",
        ),
        (
            Some(agent),
            vec!["add", "-s", "add-secret-6", "extra"],
            b"",
            2,
            "unexpected argument (not repeated: it may hold a secret) (argument #4); \
             add takes options only",
        ),
        (
            Some(agent),
            vec!["add", "--bogus"],
            b"",
            2,
            "unknown option (not repeated: it may hold a secret) (argument #2)",
        ),
        (
            Some(agent),
            vec!["add", "-s", &long],
            b"",
            2,
            "--secret #1: value is longer than 64 KiB",
        ),
        (
            Some(agent),
            vec!["add", "-s", "ab"],
            b"",
            0,
            "--secret #1: value is shorter",
        ),
        (
            Some(agent),
            vec!["add"],
            b"   \n",
            0,
            "stdin: value is empty or blank",
        ),
        (
            Some(agent),
            vec!["add"],
            long.as_bytes(),
            0,
            "stdin: value is longer than 64 KiB",
        ),
    ];
    for (env, args, input, status, message) in cases {
        let mut command = cmd(&tmp.0, &args);
        if let Some(env) = env {
            command.env("LOGMASK_AGENT", env);
        }
        let run = run_command(command, input);
        assert_eq!(run.code(), status, "{args:.3?}: {}", run.stderr());
        assert!(
            run.stderr().contains(message),
            "{args:.3?}: {}",
            run.stderr()
        );
        run.leaks_nothing("LLLLLLLL").leaks_nothing("add-secret");
    }
    let run = client(
        &tmp.0,
        &daemon.path,
        &[],
        b"add-secret-1 add-secret-2 add-secret-3\n",
    );
    assert_eq!(run.ok(), "*** *** add-secret-3\n");
    let padded = format!("{}\n{}\n", "W".repeat(60_000), "T".repeat(60_000));
    let run = client(&tmp.0, &daemon.path, &[], padded.as_bytes());
    assert_eq!(run.ok(), "***\n***\n");
}

#[test]
fn agent_usage_errors() {
    let tmp = TempDir::new("agent-usage");
    let report = tmp.0.join("report.jsonl");
    let report = report.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 9] = [
        (&["agent"], 2, "needs '-- COMMAND', --daemon or --stop"),
        // Neither masks output: what was asked for would never come.
        (
            &["agent", "--daemon", "--report", report],
            2,
            "--report does not apply to --daemon",
        ),
        (
            &["agent", "--daemon", "--stats"],
            2,
            "--stats does not apply to --daemon",
        ),
        (
            &["agent", "--stop", "--stats"],
            2,
            "--stats does not apply to --stop",
        ),
        (
            &["agent", "--daemon", "--", "true"],
            2,
            "--daemon takes no command",
        ),
        (
            &["agent", "--stop", "--", "true"],
            2,
            "--stop takes no command",
        ),
        (
            &["agent", "--daemon", "--min-length", "0"],
            2,
            "--min-length",
        ),
        (
            &["agent", "--bogus", "--", "true"],
            2,
            "unknown option (not repeated: it may hold a secret) (argument #2)",
        ),
        (&["agent", "--stop"], 1, "no agent named"),
    ];
    for (args, status, message) in cases {
        let run = run_command(cmd(&tmp.0, args), b"");
        assert_eq!(run.code(), status, "{args:?}: {}", run.stderr());
        assert!(run.stderr().contains(message), "{args:?}: {}", run.stderr());
    }
    // Refused before anything is opened or started.
    assert!(!tmp.0.join("report.jsonl").exists());
}

#[test]
fn labels_name_the_sender_in_printable_ascii_and_each_client_expands_itself() {
    let tmp = TempDir::new("agent-labels");
    let daemon = Daemon::start(&tmp.0, &[]);
    let list = tmp.file("list\té", b"fghij\n");
    let added = client(
        &tmp.0,
        &daemon.path,
        &[
            "add",
            "-s",
            "abcde",
            "--file",
            list.to_str().unwrap(),
            "-s",
            "qwerty",
        ],
        b"",
    );
    assert_eq!(added.code(), 0, "{}", added.stderr());
    // A client with a higher minimum length does not mask them, and says
    // so under the sender's label.
    let run = client(
        &tmp.0,
        &daemon.path,
        &["--min-length", "6"],
        b"abcde fghij\n",
    );
    assert_eq!(run.stdout(), "abcde fghij\n");
    let expected = format!(
        "logmask: warning: agent:--secret #1: value is shorter than the minimum length (6), \
         nothing masked\n\
         logmask: warning: agent:--file {}/list???:1: value is shorter than the minimum \
         length (6), nothing masked\n",
        tmp.0.display()
    );
    assert_eq!(run.stderr(), expected);
    // Encodings are the client's: base64 of qwerty is cXdlcnR5.
    let cases: [(&[&str], &str); 2] = [
        (&["--min-length", "6"], "*** ***\n"),
        (
            &["--min-length", "6", "--encodings", "raw"],
            "*** cXdlcnR5\n",
        ),
    ];
    for (args, expected) in cases {
        let run = client(&tmp.0, &daemon.path, args, b"qwerty cXdlcnR5\n");
        assert_eq!(
            (run.code(), run.stdout().as_str()),
            (0, expected),
            "{args:?}"
        );
    }
}

/// A label holding a registered value is masked before it is reduced to
/// printable ASCII and 256 bytes (SPEC 1, 8 and 9): reduced first, a
/// value cut at byte 256 or holding accents no longer matched, and its
/// other bytes showed. Whether the value came in the same `add` run or an
/// earlier one, in a report and in a warning.
#[test]
fn a_value_in_a_label_is_masked_before_the_label_is_reduced() {
    let cases: [(&str, &str, &str, bool); 4] = [
        (
            "cut at 256 bytes",
            "hunter22secretXYZW",
            "zz-{}-more",
            false,
        ),
        (
            "cut, registered before",
            "hunter22secretXYZW",
            "zz-{}-more",
            true,
        ),
        ("not ASCII", "héllo-sécret-ü", "{}", false),
        ("not ASCII, registered before", "héllo-sécret-ü", "{}", true),
    ];
    for (name, secret, file_name, earlier) in cases {
        let tmp = TempDir::new("agent-label-masked");
        let daemon = Daemon::start(&tmp.0, &[]);
        // Deep enough that the secret in the name straddles byte 256 of
        // the source `--file PATH:1`: it begins at byte 250.
        let before = format!("--file {}/", tmp.0.display()).len()
            + "/".len()
            + 30
            + "/".len()
            + file_name.find("{}").unwrap();
        let dir = tmp.0.join("a".repeat(250 - before)).join("b".repeat(30));
        std::fs::create_dir_all(&dir).unwrap();
        let list = dir.join(file_name.replace("{}", secret));
        std::fs::write(&list, b"valvalval99\n").unwrap();
        let list = list.to_str().unwrap();
        let adds: Vec<Vec<&str>> = if earlier {
            vec![vec!["add", "-s", secret], vec!["add", "-f", list]]
        } else {
            vec![vec!["add", "-s", secret, "-f", list]]
        };
        for args in adds {
            let added = client(&tmp.0, &daemon.path, &args, b"");
            assert_eq!(added.code(), 0, "{name}: {}", added.stderr());
        }
        let report = tmp.0.join("r.jsonl");
        let run = client(
            &tmp.0,
            &daemon.path,
            &["--report", report.to_str().unwrap()],
            b"x valvalval99\n",
        );
        assert_eq!(run.ok(), "x ***\n", "{name}");
        let report = std::fs::read_to_string(&report).unwrap();
        // The match, without the summary (whose `"secrets"` key is no leak).
        let report = report.lines().next().unwrap().to_string();
        assert!(report.contains("***"), "{name}: {report}");
        // The value too short for this client: a warning names its label.
        let warned = client(&tmp.0, &daemon.path, &["--min-length", "12"], b"");
        assert!(
            warned.stderr().contains("***"),
            "{name}: {}",
            warned.stderr()
        );
        // No 5 bytes of the secret as the reduction would show them.
        let reduced: Vec<u8> = secret
            .bytes()
            .map(|b| if b.is_ascii() { b } else { b'?' })
            .collect();
        for piece in reduced.windows(5) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!report.contains(piece), "{name}: {piece:?} in {report}");
            assert!(
                !warned.stderr().contains(piece),
                "{name}: {piece:?} in {}",
                warned.stderr()
            );
        }
    }
}

#[test]
fn long_sources_are_cut_to_256_bytes() {
    let tmp = TempDir::new("agent-long-label");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut raw = Raw::greeted(&daemon.path);
    raw.add(&"s".repeat(400), b"ab");
    assert_eq!(raw.read(), Some((ACK, vec![0])));
    let run = client(&tmp.0, &daemon.path, &[], b"x\n");
    let label = format!("agent:{}", "s".repeat(256));
    assert_eq!(
        run.stderr(),
        format!(
            "logmask: warning: {label}: value is shorter than the minimum length (4), nothing masked\n"
        )
    );
}

// -------------------------------------------------------------- security

#[test]
fn another_users_client_is_refused_by_the_credential_check() {
    let tmp = TempDir::new("agent-users");
    std::fs::set_permissions(&tmp.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    // nobody runs copies kept in the test's own world-readable directory:
    // the checkout may sit under a directory nobody cannot traverse
    // (/root, a `mktemp -d` folder), and the daemon executes itself again.
    let copy = |from: &Path, name: &str| {
        let to = tmp.0.join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        to.to_str().unwrap().to_string()
    };
    let bin = copy(Path::new(BIN), "logmask");
    let test_exe = copy(&std::env::current_exe().unwrap(), "agent-test");
    let runs_as_nobody = |program: &str, arg: &str| {
        is_root()
            && as_nobody(program)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
    };
    if !runs_as_nobody(&bin, "--version") || !runs_as_nobody(&test_exe, "--list") {
        eprintln!("skipped: needs root and setpriv");
        return;
    }

    // The agent as nobody; root, whom the 0700 directory does not stop.
    let mut command = as_nobody(&bin);
    command.args(["agent", "--daemon", "-s", "nobody-secret-1"]);
    isolate(&mut command, &tmp.0);
    let daemon = Daemon::from(command);
    let dir = daemon.path.parent().unwrap();
    assert_eq!(std::fs::metadata(dir).unwrap().uid(), 65534);
    // Not dumpable: the kernel gives the /proc files of a process that is
    // not dumpable to root instead of to the process's user.
    let status = std::fs::metadata(format!("/proc/{}/status", daemon.pid)).unwrap();
    assert_eq!(status.uid(), 0, "the agent is dumpable");
    let mut raw = Raw::connect(&daemon.path);
    raw.hello(1);
    raw.frame(1, b"");
    assert_eq!(raw.read_hello(), 1);
    let frames = raw.read_all();
    let kinds: Vec<u8> = frames.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, [ERROR], "frame kinds");
    assert_eq!(frames[0].0, ERROR);
    assert!(text(&frames[0].1).contains("serves only the user"));
    // The binary as root does not use another user's agent either.
    let run = client(&tmp.0, &daemon.path, &[], b"x nobody-secret-1\n");
    assert_eq!(run.code(), 0);
    assert_eq!(run.stdout(), "x nobody-secret-1\n");
    assert!(
        run.stderr().contains("belongs to another user"),
        "{}",
        run.stderr()
    );
    let mut stop = as_nobody(&bin);
    stop.args(["agent", "--stop", "--agent", daemon.path.to_str().unwrap()]);
    isolate(&mut stop, &tmp.0);
    assert_eq!(run_command(stop, b"").code(), 0);

    // The reverse: the agent as root, its directory opened up so that only
    // the credential check stands in nobody's way.
    let daemon = Daemon::start(&tmp.0, &["-s", "root-secret-1"]);
    let dir = daemon.path.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&daemon.path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut probe = as_nobody(&test_exe);
    probe
        .args([
            "--exact",
            "raw_probe_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOGMASK_TEST_RAW_PROBE", &daemon.path);
    let run = run_command(probe, b"");
    let out = run.stdout() + &run.stderr();
    assert!(
        out.contains("probe: error frame: this agent serves only"),
        "{out}"
    );
    assert!(!out.contains("value frame"), "{out}");
    assert!(!out.contains("root-secret-1"), "{out}");
    assert_eq!(daemon.stop(&tmp.0).code(), 0);
}

/// Not a test on its own: run as another user by the test above, it
/// connects to the agent named by `LOGMASK_TEST_RAW_PROBE` and reports
/// the frames it gets.
#[test]
fn raw_probe_helper() {
    let Some(path) = std::env::var_os("LOGMASK_TEST_RAW_PROBE") else {
        return;
    };
    let mut raw = Raw::connect(Path::new(&path));
    raw.hello(1);
    raw.frame(1, b"");
    raw.read_hello();
    for (kind, payload) in raw.read_all() {
        match kind {
            ERROR => println!("probe: error frame: {}", text(&payload)),
            VALUE => println!("probe: value frame"),
            other => println!("probe: frame {other:#x}"),
        }
    }
}

#[test]
fn values_past_the_limits_are_refused_with_reasons_that_hold_no_value() {
    let tmp = TempDir::new("agent-limits");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut raw = Raw::greeted(&daemon.path);

    // Over 64 KiB (trimmed).
    let big = vec![b'B'; 64 * 1024 + 1];
    raw.add("big", &big);
    let (kind, reason) = raw.read().unwrap();
    assert_eq!(kind, ACK);
    assert_eq!(reason[0], 1);
    assert_eq!(
        text(&reason[1..]),
        "the agent refused the value: it is longer than 64 KiB"
    );

    // 100,000 values, then one more through the binary. The agent reads
    // a client's frames only as fast as the client reads its replies, so
    // they are sent from a thread of their own.
    let started = Instant::now();
    raw.hold_all("many", (0..100_000).map(|n| format!("limit-value-{n:06}")));
    eprintln!("100,000 values held in {:?}", started.elapsed());
    // A refusal is a warning: the status is 0, as for values too short
    // (SPEC 9: 0 when the agent took every value that was not refused).
    let run = client(
        &tmp.0,
        &daemon.path,
        &["add", "-s", "one-value-too-many"],
        b"",
    );
    assert_eq!(run.code(), 0);
    assert_eq!(
        run.stderr(),
        "logmask: warning: agent:--secret #1: the agent refused the value: it already \
         holds 100000 values\n"
    );
    run.leaks_nothing("one-value-too-many");
    // A value it holds already is no new value.
    let run = client(
        &tmp.0,
        &daemon.path,
        &["add", "-s", "limit-value-000007"],
        b"",
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());

    // 16 MiB in all.
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut raw = Raw::greeted(&daemon.path);
    for n in 0..256u32 {
        let mut value = vec![b'M'; 64 * 1024];
        value[..4].copy_from_slice(format!("{n:04}").as_bytes());
        raw.add("bulk", &value);
        assert_eq!(raw.read(), Some((ACK, vec![0])), "value {n}");
    }
    raw.add("bulk", b"straw-value");
    let (_, reason) = raw.read().unwrap();
    assert_eq!(
        text(&reason),
        "\u{1}the agent refused the value: it already holds 16 MiB of values"
    );
}

/// The agent's resident memory in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Clients that send and never read: one subscribing again and again (each
/// subscription used to queue a copy of every value held), one sending
/// values that are refused (each refusal used to queue a reply for ever).
/// The second subscription is a malformed request that ends the
/// connection; replies past a few hundred wait for the client to read, so
/// the agent stops taking its frames. Memory stays flat and other clients
/// are served.
#[test]
fn clients_that_send_without_reading_cannot_grow_the_agent() {
    let tmp = TempDir::new("agent-unread");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut raw = Raw::greeted(&daemon.path);
    raw.hold_all(
        "held",
        (0..200).map(|n| format!("unread-{n:03}-{}", "v".repeat(1000))),
    );
    drop(raw);
    let before = rss_kib(daemon.pid);

    let mut subscriber = Raw::greeted(&daemon.path);
    let mut sender = subscriber.try_clone();
    let sending = thread::spawn(move || sender.send(&[0, 0, 0, 1, 1].repeat(50_000)));
    let frames = subscriber.read_all();
    sending.join().unwrap();
    let kinds: Vec<u8> = frames.iter().map(|(kind, _)| *kind).collect();
    let mut want = vec![VALUE; 200];
    want.extend([SYNCED, ERROR]);
    assert_eq!(kinds, want);
    assert_eq!(
        text(&frames[201].1),
        "malformed frame: this connection has subscribed already"
    );

    let mut flooder = Raw::greeted(&daemon.path);
    flooder
        .stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let refused = [0, 0, 0, 5, 2, 0, 1, b'x', b' '];
    let mut sent = 0;
    let blocked = (0..200_000).any(|_| {
        let failed = flooder.stream.write_all(&refused).is_err();
        sent += !failed as usize;
        failed
    });
    assert!(
        blocked,
        "the agent read all {sent} frames of a client that never reads"
    );
    let grown = rss_kib(daemon.pid).saturating_sub(before);
    assert!(grown < 32 * 1024, "the agent grew by {grown} KiB");

    let run = client(&tmp.0, &daemon.path, &[], b"unread-007-v\n");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    drop(flooder);
}

/// Connections are bounded by the descriptor limit (three each): past
/// it, a new one gets a reason at once instead of waiting unanswered in
/// the listen queue, and a client says so and runs on.
#[test]
fn connections_past_the_limit_get_a_reason_at_once() {
    let tmp = TempDir::new("agent-conns");
    let mut start = Command::new("sh");
    isolate(&mut start, &tmp.0).args([
        "-c",
        &format!("ulimit -n 256 && exec '{BIN}' agent --daemon -s conn-secret-1"),
    ]);
    let daemon = Daemon::from(start);
    // (256 - 64) / 3 connections are served.
    let served: Vec<Raw> = (0..64).map(|_| Raw::greeted(&daemon.path)).collect();
    let started = Instant::now();
    let mut one_more = Raw::greeted(&daemon.path);
    let frames = one_more.read_all();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].0, text(&frames[0].1)),
        (
            ERROR,
            "the agent serves at most 64 connections at once".into()
        )
    );
    let run = client(&tmp.0, &daemon.path, &[], b"conn-secret-1\n");
    assert_eq!(run.code(), 0);
    assert!(
        run.stderr()
            .contains("the agent serves at most 64 connections at once"),
        "{}",
        run.stderr()
    );
    let run = client(&tmp.0, &daemon.path, &["add", "-s", "conn-secret-2"], b"");
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("the agent serves at most 64 connections at once"),
        "{}",
        run.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(served);
    let deadline = Instant::now() + DEADLINE;
    while client(&tmp.0, &daemon.path, &[], b"conn-secret-1\n").stdout() != "***\n" {
        assert!(Instant::now() < deadline, "the agent never served again");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn garbage_and_other_versions_get_an_error_and_the_agent_goes_on() {
    let tmp = TempDir::new("agent-garbage");
    let daemon = Daemon::start(&tmp.0, &["-s", "garbage-secret-1"]);
    let mut hello = b"logmask-agent\0".to_vec();
    hello.extend_from_slice(&1u16.to_be_bytes());
    let with_hello = |rest: &[u8]| [hello.clone(), rest.to_vec()].concat();
    // (name, bytes sent, what the error says; None: no error needed)
    let cases: [(&str, Vec<u8>, Option<&str>); 7] = [
        (
            "not a handshake",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Some("bad handshake"),
        ),
        (
            "another version",
            [&b"logmask-agent\0"[..], &[0, 99]].concat(),
            Some("wire version 99 is not supported: this agent speaks version 1"),
        ),
        (
            "unknown kind",
            with_hello(&[0, 0, 0, 1, 0x42]),
            Some("malformed frame"),
        ),
        (
            "zero length",
            with_hello(&[0, 0, 0, 0]),
            Some("malformed frame"),
        ),
        (
            "huge length",
            with_hello(&[0xff, 0xff, 0xff, 0xff]),
            Some("malformed frame"),
        ),
        (
            "an agent's frame",
            with_hello(&[0, 0, 0, 1, SYNCED]),
            Some("unexpected frame"),
        ),
        ("cut short", with_hello(&[0, 0, 0, 9, 2, 0]), None),
    ];
    for (name, bytes, error) in cases {
        let mut raw = Raw::connect(&daemon.path);
        raw.send(&bytes);
        let _ = raw.stream.shutdown(std::net::Shutdown::Write);
        let mut head = [0u8; 16];
        raw.stream.read_exact(&mut head).unwrap();
        assert_eq!(&head[..14], b"logmask-agent\0", "{name}");
        let frames = raw.read_all();
        assert!(
            frames.iter().all(|(kind, _)| *kind == ERROR),
            "{name}: {frames:?}"
        );
        if let Some(error) = error {
            assert_eq!(frames.len(), 1, "{name}");
            assert!(
                text(&frames[0].1).contains(error),
                "{name}: {}",
                text(&frames[0].1)
            );
        }
        // Still alive and serving.
        let run = client(&tmp.0, &daemon.path, &[], b"garbage-secret-1\n");
        assert_eq!(run.ok(), "***\n", "{name}");
    }
    // A handshake that never completes: after 10 s, a reason that says so
    // (not the system's "Resource temporarily unavailable").
    let mut raw = Raw::connect(&daemon.path);
    raw.send(b"logm");
    let mut head = [0u8; 16];
    raw.stream.read_exact(&mut head).unwrap();
    let frames = raw.read_all();
    assert_eq!(frames.len(), 1);
    assert_eq!(text(&frames[0].1), "no handshake within 10 s");
}

#[test]
fn frames_that_arrive_a_byte_at_a_time_are_read_whole() {
    let tmp = TempDir::new("agent-bytewise");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut bytes = b"logmask-agent\0".to_vec();
    bytes.extend_from_slice(&1u16.to_be_bytes());
    let value = b"bytewise-secret-1";
    bytes.extend_from_slice(&((1 + 2 + 3 + value.len()) as u32).to_be_bytes());
    bytes.push(2);
    bytes.extend_from_slice(&3u16.to_be_bytes());
    bytes.extend_from_slice(b"raw");
    bytes.extend_from_slice(value);
    let mut raw = Raw::connect(&daemon.path);
    for byte in bytes {
        raw.send(&[byte]);
    }
    assert_eq!(raw.read_hello(), 1);
    assert_eq!(raw.read(), Some((ACK, vec![0])));
    let run = client(&tmp.0, &daemon.path, &[], b"bytewise-secret-1\n");
    assert_eq!(run.ok(), "***\n");
}

#[test]
fn a_client_meeting_another_wire_version_says_so_and_runs_on() {
    let tmp = TempDir::new("agent-version");
    let path = tmp.0.join("fake.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut hello = [0u8; 16];
        conn.read_exact(&mut hello).unwrap();
        conn.write_all(&[&b"logmask-agent\0"[..], &[0, 99]].concat())
            .unwrap();
    });
    let run = client(&tmp.0, &path, &["-s", "mine-secret-1"], b"mine-secret-1\n");
    fake.join().unwrap();
    assert_eq!(run.code(), 0);
    assert_eq!(run.stdout(), "***\n");
    assert_eq!(
        run.stderr(),
        format!(
            "logmask: warning: agent {}: the agent speaks wire version 99, this logmask speaks \
             version 1: start the agent and its clients from the same logmask\n",
            path.display()
        )
    );
}

#[test]
fn a_client_exits_only_once_the_agent_acknowledged_what_it_sent() {
    // A fake agent that holds back its acknowledgement: the client must
    // wait for it (so the next step sees the value), then exit.
    let tmp = TempDir::new("agent-ack");
    let path = tmp.0.join("slow.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let mut command = cmd(&tmp.0, &[]);
    command
        .env("LOGMASK_AGENT", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut fake = Raw { stream: conn };
    assert_eq!(fake.read_hello(), 1);
    fake.hello(1);
    assert_eq!(fake.read(), Some((1, Vec::new())), "subscribe");
    fake.frame(SYNCED, b"");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"::add-mask::acked-secret-1\n").unwrap();
    drop(stdin);
    let mut expected = 7u16.to_be_bytes().to_vec();
    expected.extend_from_slice(b"stdin:1acked-secret-1");
    assert_eq!(fake.read(), Some((2, expected)), "the add frame");
    // Input is over; without the acknowledgement the client waits.
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "exited before the ack");
        std::thread::sleep(Duration::from_millis(2));
    }
    fake.frame(ACK, &[0]);
    let status = wait_with_deadline(&mut child, DEADLINE);
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stderr, "");
}

// ----------------------------------------------------------------- faults

#[test]
fn an_agent_killed_mid_job_costs_one_warning_and_masking_goes_on() {
    let tmp = TempDir::new("agent-kill");
    let daemon = Daemon::start(&tmp.0, &["-s", "held-secret-1"]);
    let mut command = cmd(&tmp.0, &["-s", "own-secret-2"]);
    command.env("LOGMASK_AGENT", &daemon.path);
    let mut streaming = Streaming::start(command);
    streaming.send("a held-secret-1 own-secret-2\n");
    assert_eq!(
        streaming.line("a ", DEADLINE).as_deref(),
        Some("a *** ***\n")
    );

    let pid = rustix::process::Pid::from_raw(daemon.pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    assert!(
        streaming.stderr.wait_for("masking goes on", DEADLINE),
        "no warning: {}",
        text(&streaming.stderr.seen)
    );
    streaming.send("::add-mask::after-kill-3\nb held-secret-1 own-secret-2 after-kill-3\n");
    assert_eq!(
        streaming.line("b ", DEADLINE).as_deref(),
        Some("b *** *** ***\n")
    );
    let (code, stderr) = streaming.finish();
    assert_eq!(code, 0);
    assert_eq!(stderr.matches("logmask: warning:").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("agent {}:", daemon.path.display())),
        "{stderr}"
    );

    // The stale socket: clients warn and run; --stop reports it; a new
    // agent starts regardless.
    assert!(daemon.path.exists());
    let run = client(
        &tmp.0,
        &daemon.path,
        &["-s", "own-secret-2"],
        b"own-secret-2\n",
    );
    assert_eq!(run.code(), 0);
    assert_eq!(run.stdout(), "***\n");
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(
        run.stderr().contains("cannot reach the agent"),
        "{}",
        run.stderr()
    );
    assert_eq!(daemon.stop(&tmp.0).code(), 1);
    let fresh = Daemon::start(&tmp.0, &["-s", "fresh-secret-4"]);
    let run = client(&tmp.0, &fresh.path, &[], b"fresh-secret-4\n");
    assert_eq!(run.ok(), "***\n");
    assert_eq!(fresh.stop(&tmp.0).code(), 0);
}

#[test]
fn sigterm_stops_the_daemon_and_removes_its_directory() {
    let tmp = TempDir::new("agent-sigterm");
    let daemon = Daemon::start(&tmp.0, &[]);
    let pid = rustix::process::Pid::from_raw(daemon.pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let end = Instant::now() + DEADLINE;
    while alive(daemon.pid) {
        // Not our child (it left our session): look, briefly, again.
        assert!(Instant::now() < end, "still running");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!daemon.path.parent().unwrap().exists());
}

// -------------------------------------------------------------- benchmark

/// Propagation latency and agent memory (issue 14). Not part of the
/// suite; run with
/// `cargo test --release -p logmask-cli --test agent -- --ignored --nocapture bench`.
#[test]
#[ignore]
fn bench_propagation_and_memory() {
    let tmp = TempDir::new("agent-bench");
    let daemon = Daemon::start(&tmp.0, &[]);
    let mut command = cmd(&tmp.0, &[]);
    command.env("LOGMASK_AGENT", &daemon.path);
    let mut streaming = Streaming::start(command);
    streaming.send("start\n");
    assert!(streaming.line("start", DEADLINE).is_some());
    let mut latencies = Vec::new();
    let mut probe = 0;
    for round in 0..100 {
        let secret = format!("bench-secret-{round:03}");
        let added = client(&tmp.0, &daemon.path, &["add", "-s", &secret], b"");
        assert_eq!(added.code(), 0);
        let returned = Instant::now();
        loop {
            probe += 1;
            streaming.send(&format!("probe {probe} {secret}\n"));
            let line = streaming
                .line(&format!("probe {probe} "), DEADLINE)
                .unwrap();
            if line.ends_with(" ***\n") {
                latencies.push(returned.elapsed());
                break;
            }
        }
    }
    latencies.sort();
    println!(
        "propagation from `add` returning to a masked line: median {:?}, worst {:?} (100 values, {} probes)",
        latencies[50], latencies[99], probe
    );
    drop(streaming.finish());

    let rss = |pid: i32| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap()
            .to_string()
    };
    let fresh = Daemon::start(&tmp.0, &[]);
    println!("agent memory, empty: {}", rss(fresh.pid));
    let mut raw = Raw::greeted(&fresh.path);
    raw.hold_all(
        "bench",
        (0..100_000).map(|n| format!("bench-value-{n:06}-abcdefghij")),
    );
    println!(
        "agent memory, 100,000 values of 29 bytes: {}",
        rss(fresh.pid)
    );
    let started = Instant::now();
    let run = client(&tmp.0, &fresh.path, &[], b"bench-value-000001-abcdefghij\n");
    assert_eq!(run.ok(), "***\n");
    println!(
        "a client loading 100,000 values and masking one line: {:?}",
        started.elapsed()
    );
}

/// `scan --agent PATH` audits with the values the agent holds (SPEC 8, 9):
/// a finding names the agent's source; without `--agent`, scan ignores
/// the agent in its environment.
#[test]
fn scan_uses_the_agent_only_when_asked() {
    let tmp = TempDir::new("agent-scan");
    let log = tmp.0.join("old.log");
    std::fs::write(&log, b"deploy with held-by-agent-77 done\n").unwrap();
    let log = log.display();
    let script = format!(
        "logmask agent -- sh -c 'logmask add -s held-by-agent-77 && \
         logmask scan --agent \"$LOGMASK_AGENT\" {log} > {log}.with; echo with=$?; \
         logmask scan {log} > {log}.without; echo without=$?'"
    );
    let run = shell(&tmp.0, &script);
    assert_eq!(run.stdout(), "with=1\nwithout=0\n", "{}", run.stderr());
    let with = std::fs::read_to_string(format!("{log}.with")).unwrap();
    assert_eq!(with, format!("{log}:1:13: agent:--secret #1 (raw)\n"));
    assert!(!with.contains("held-by-agent-77"));
    assert_eq!(
        std::fs::read_to_string(format!("{log}.without")).unwrap(),
        ""
    );
}
