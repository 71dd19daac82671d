//! Running the built `logmask` binary through real pipes.
//!
//! Every run has a deadline: a hung child is killed and the test fails
//! instead of hanging the suite.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longest any single run may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The binary under test, with nothing set up but this: variables the
/// default `--env-match` GLOBs would take from the test's own environment
/// (a CI runner's `*_TOKEN`) are removed, so outputs and counts do not
/// depend on where the suite runs. A test sets its own with `.env()`.
pub fn logmask() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logmask"));
    for (name, _) in std::env::vars_os() {
        if matches_default_glob(name.as_encoded_bytes()) {
            command.env_remove(name);
        }
    }
    command
}

/// Whether a default GLOB of SPEC 5 matches `name` (all of them are
/// `*SUFFIX`, ASCII case ignored).
pub fn matches_default_glob(name: &[u8]) -> bool {
    const SUFFIXES: [&str; 8] = [
        "_TOKEN",
        "_SECRET",
        "_PASSWORD",
        "_API_KEY",
        "_ACCESS_KEY",
        "_SECRET_KEY",
        "_PRIVATE_KEY",
        "_CONNECTION_STRING",
    ];
    let upper = name.to_ascii_uppercase();
    SUFFIXES.iter().any(|s| upper.ends_with(s.as_bytes()))
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().expect("logmask exited normally")
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Asserts exit 0 and an empty stderr, and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(self.code(), 0, "stderr: {}", self.stderr());
        assert_eq!(self.stderr(), "", "unexpected stderr");
        self.stdout()
    }

    /// Asserts that `secret` appears nowhere in stdout or stderr.
    pub fn leaks_nothing(&self, secret: &str) -> &Self {
        for (name, bytes) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(secret),
                "{secret:?} leaked on {name}: {text:?}"
            );
        }
        self
    }
}

/// Runs `command` with `input` on its stdin (then closed) and collects
/// everything.
pub fn run_command(mut command: Command, input: &[u8]) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn logmask");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A usage error exits without reading: a broken pipe here is fine.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let stdout = reader(child.stdout.take().unwrap());
    let stderr = reader(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, DEADLINE);
    writer.join().unwrap();
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// `logmask ARGS` with `input` on stdin.
pub fn run<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Run {
    let mut command = logmask();
    command.args(args);
    run_command(command, input)
}

/// Reads a pipe to its end on its own thread.
pub fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
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

/// A file in a fresh temporary directory, removed with the directory
/// when the returned guard drops.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("logmask-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
