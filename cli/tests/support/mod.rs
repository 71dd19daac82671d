//! Running the built `logmask` binary for every CLI test: deadlines,
//! real pipes, streamed input and counted output, and peak memory with
//! `wait4`. One module for `cli.rs`, `cli_exec.rs`, `hostile.rs` and
//! `hostile_scale.rs`.
//!
//! Every run has a deadline: a hung child is killed and the test fails
//! instead of hanging the suite.
//!
//! Peak RSS: `ru_maxrss` of a child also counts the memory its parent had
//! when the child was spawned (at exec the kernel records the high-water
//! mark of the address space being left, and a vfork child shares its
//! parent's). So [`spawn`] first gives freed memory back (`malloc_trim`)
//! and resets this process's high-water mark to its current size
//! (`/proc/self/clear_refs`), and the tests that assert on memory keep the
//! test process small: their input is generated on the fly and their
//! output counted, never stored. What is left of the parent in the figure
//! only makes it larger, never smaller. As a cross-check, the child's own
//! high-water mark (`VmHWM`, which starts afresh at exec) is sampled while
//! it runs.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use memchr::memmem;

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;

/// Longest a single run may take before it is killed and the test fails
/// (the scale tests' runs take seconds; this only catches hangs).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Bound on the time of each adversarial run: "a few seconds" is the
/// goal, this only catches minutes.
pub const SLOW: Duration = Duration::from_secs(60);

/// The binary under test, with nothing set up but this: variables the
/// default `--env-match` GLOBs would take from the test's own environment
/// (a CI runner's `*_TOKEN`) are removed, so outputs, counts and
/// measurements do not depend on where the suite runs. A test sets its
/// own with `.env()`.
pub fn logmask() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logmask"));
    for (name, _) in std::env::vars_os() {
        if matches_default_glob(name.as_encoded_bytes()) {
            command.env_remove(name);
        }
    }
    command
}

/// The default GLOBs of SPEC 5, each `*SUFFIX` with ASCII case ignored.
pub const DEFAULT_GLOB_SUFFIXES: [&str; 8] = [
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_API_KEY",
    "_ACCESS_KEY",
    "_SECRET_KEY",
    "_PRIVATE_KEY",
    "_CONNECTION_STRING",
];

/// Whether a default GLOB of SPEC 5 matches `name` (all of them are
/// `*SUFFIX`, ASCII case ignored).
pub fn matches_default_glob(name: &[u8]) -> bool {
    let upper = name.to_ascii_uppercase();
    DEFAULT_GLOB_SUFFIXES
        .iter()
        .any(|s| upper.ends_with(s.as_bytes()))
}

/// `logmask ARGS`.
pub fn logmask_with<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut command = logmask();
    command.args(args);
    command
}

/// Spawns `command` after resetting this process's peak RSS to its
/// current size, so that the child's `ru_maxrss` is its own.
pub fn spawn(command: &mut Command) -> (Child, Instant) {
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe { libc::malloc_trim(0) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    (command.spawn().expect("spawn logmask"), started)
}

/// How a child ended, reaped with `wait4`.
#[derive(Debug)]
pub struct Finished {
    /// Exit status, or None when killed by a signal.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Peak resident set size from `wait4`, KiB.
    pub max_rss_kib: i64,
    /// The child's own high-water mark (`VmHWM`), last sampled, KiB.
    pub own_hwm_kib: i64,
    pub elapsed: Duration,
}

/// Waits for `child` and reaps it with `wait4` to read its peak RSS. Past
/// `deadline` it is killed (while still unreaped, so the pid is still
/// ours) and the test fails.
pub fn wait_rusage(child: &Child, started: Instant, deadline: Duration) -> Finished {
    let pid = child.id() as libc::pid_t;
    let mut killed = false;
    let mut own_hwm_kib = 0;
    loop {
        // SAFETY: a zeroed siginfo for waitid to fill; WNOWAIT leaves the
        // child unreaped, so the pid stays valid for kill below.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        assert_eq!(rc, 0, "waitid: {}", std::io::Error::last_os_error());
        // SAFETY: filled by waitid (0 while the child is running).
        if unsafe { info.si_pid() } != 0 {
            break;
        }
        own_hwm_kib = own_hwm_kib.max(vm_hwm_kib(pid));
        if !killed && started.elapsed() > deadline {
            // SAFETY: our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    let mut status = 0;
    // SAFETY: a zeroed rusage for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaps our own child, which has exited.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let elapsed = started.elapsed();
    assert!(!killed, "logmask did not finish within {deadline:?}");
    Finished {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        max_rss_kib: usage.ru_maxrss,
        own_hwm_kib,
        elapsed,
    }
}

/// `VmHWM` of a running process, KiB (0 once it has exited).
fn vm_hwm_kib(pid: libc::pid_t) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Everything a short run produced.
pub struct Run {
    pub finished: Finished,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.finished
            .code
            .unwrap_or_else(|| panic!("killed by signal {:?}", self.finished.signal))
    }

    /// Asserts exit 0 and an empty stderr, and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
        assert_eq!(self.stderr(), "", "unexpected stderr");
        self.stdout()
    }

    /// Asserts that `secret` is in neither stream.
    pub fn leaks_nothing(&self, secret: impl AsRef<[u8]>) -> &Run {
        let secret = secret.as_ref();
        for (name, bytes) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            assert!(
                memmem::find(bytes, secret).is_none(),
                "{:?} leaked on {name}: {:?}",
                String::from_utf8_lossy(secret),
                String::from_utf8_lossy(bytes)
            );
        }
        self
    }
}

/// Runs `command` with `input` written to its stdin from a thread (then
/// closed), collecting stdout and stderr.
pub fn run_command(mut command: Command, input: &[u8]) -> Run {
    let input = input.to_vec();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        // A usage error exits without reading: a broken pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, DEADLINE);
    writer.join().unwrap();
    Run {
        finished,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `logmask ARGS` with `input` on stdin.
pub fn run<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Run {
    run_command(logmask_with(args), input)
}

/// Reads a pipe to its end on its own thread.
pub fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

/// What streamed out of a pipe: its length, and how often each needle
/// occurred (those spanning two reads included).
#[derive(Debug)]
pub struct Tally {
    pub bytes: u64,
    pub counts: Vec<u64>,
}

/// Counts a pipe's bytes and needles without keeping it.
pub fn tally(mut pipe: impl Read + Send + 'static, needles: Vec<Vec<u8>>) -> JoinHandle<Tally> {
    thread::spawn(move || {
        let keep = needles.iter().map(Vec::len).max().unwrap_or(1) - 1;
        let finders: Vec<memmem::Finder> = needles.iter().map(memmem::Finder::new).collect();
        let mut counts = vec![0u64; needles.len()];
        let mut bytes = 0u64;
        let mut buf = vec![0u8; MIB];
        let mut window: Vec<u8> = Vec::with_capacity(MIB + keep);
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            bytes += n as u64;
            let carried = window.len();
            window.extend_from_slice(&buf[..n]);
            for (finder, count) in finders.iter().zip(&mut counts) {
                // Only occurrences that end in the new bytes: the others
                // were counted with the previous read.
                *count += finder
                    .find_iter(&window)
                    .filter(|&at| at + finder.needle().len() > carried)
                    .count() as u64;
            }
            let cut = window.len().saturating_sub(keep);
            window.drain(..cut);
        }
        Tally { bytes, counts }
    })
}

/// A streamed run: what came out, counted.
pub struct Streamed {
    pub finished: Finished,
    pub stdout: Tally,
    pub stderr: Vec<u8>,
}

/// Runs `logmask ARGS`, feeding stdin from `produce` (called with a
/// buffer to refill until it returns false) and counting `needles` in
/// stdout.
pub fn run_streamed<S: AsRef<OsStr>>(
    args: &[S],
    produce: impl FnMut(&mut Vec<u8>) -> bool + Send + 'static,
    needles: Vec<Vec<u8>>,
) -> Streamed {
    let mut command = logmask_with(args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let stdin = child.stdin.take().unwrap();
    let writer = feed(stdin, produce);
    let stdout = tally(child.stdout.take().unwrap(), needles);
    let stderr = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, DEADLINE);
    writer.join().unwrap();
    Streamed {
        finished,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn feed(
    mut stdin: ChildStdin,
    mut produce: impl FnMut(&mut Vec<u8>) -> bool + Send + 'static,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = Vec::with_capacity(MIB);
        loop {
            buf.clear();
            let more = produce(&mut buf);
            if stdin.write_all(&buf).is_err() || !more {
                return;
            }
        }
    })
}

/// Waits for `child`, killing it and failing the test past the deadline.
pub fn wait_with_deadline(child: &mut Child, deadline: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("logmask did not exit within {deadline:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Reads from `pipe` until the bytes read contain `needle` or the time is
/// up; returns everything read. The pipe is read on a helper thread, so a
/// read that never returns cannot hang the test.
pub struct LineReader {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    pub seen: Vec<u8>,
}

impl LineReader {
    pub fn new(mut pipe: impl Read + Send + 'static) -> LineReader {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        LineReader {
            chunks: rx,
            seen: Vec::new(),
        }
    }

    /// Whether `needle` arrived within `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => return String::from_utf8_lossy(&self.seen).contains(needle),
            }
        }
    }

    /// Everything up to the end of the pipe (or the deadline).
    pub fn rest(mut self) -> String {
        let end = Instant::now() + DEADLINE;
        while let Ok(chunk) = self
            .chunks
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            self.seen.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

/// A deterministic generator (xorshift), so every run sees the same data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn word(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "logmask-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// One line per value, for `--file`.
    pub fn secrets_file(&self, secrets: &[Vec<u8>]) -> PathBuf {
        let mut content = Vec::new();
        for s in secrets {
            content.extend_from_slice(s);
            content.push(b'\n');
        }
        self.file("secrets", &content)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints a run's time, throughput and peak RSS.
pub fn report(name: &str, finished: &Finished, bytes: usize) {
    let secs = finished.elapsed.as_secs_f64();
    eprintln!(
        "{name}: {secs:.2} s, {:.0} MiB/s, peak RSS {:.1} MiB (wait4), {:.1} MiB (own VmHWM)",
        bytes as f64 / MIB as f64 / secs.max(1e-9),
        finished.max_rss_kib as f64 / 1024.0,
        finished.own_hwm_kib as f64 / 1024.0
    );
}
