//! `logmask --pty -- COMMAND` through the real binary (SPEC 5, issue 15):
//! the command sees a terminal, its merged output is masked with `\n`
//! line ends, the size, stdin, signals, exit statuses and the end.
//!
//! Expected outputs are written out by hand from SPEC's words. Tests that
//! need logmask's own stdin to be a terminal make one here (rustix) and
//! watch its modes. Every wait has a deadline; nothing sleeps to
//! synchronise (the commands wait for input or signals instead).

mod support;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use rustix::pty::{OpenptFlags, grantpt, ioctl_tiocgptpeer, openpt, unlockpt};
use rustix::termios::{LocalModes, Termios, Winsize, tcgetattr, tcsetwinsize};
use support::{DEADLINE, LineReader, Run, TempDir, logmask, run_command, wait_with_deadline};

/// How long a command may take to show that something arrived.
const WAIT: Duration = Duration::from_secs(10);

/// `logmask OPTIONS --pty -- COMMAND...` with `input` on a piped stdin,
/// stdout and stderr pipes, and `env` set.
fn pty(options: &[&str], command: &[&str], env: &[(&str, Option<&str>)], input: &[u8]) -> Run {
    let mut cmd = logmask();
    cmd.args(options).arg("--pty").arg("--").args(command);
    for (name, value) in env {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    run_command(cmd, input)
}

fn sh(options: &[&str], script: &str) -> Run {
    pty(options, &["sh", "-c", script], &[], b"")
}

fn python(script: &str, input: &[u8]) -> Run {
    pty(&[], &["python3", "-c", script], &[], input)
}

#[test]
fn the_command_sees_a_terminal_on_all_three_streams() {
    let script = "import os; print(os.isatty(0), os.isatty(1), os.isatty(2))";
    assert_eq!(python(script, b"").ok(), "True True True\n");
    // Without --pty it sees pipes (the test is able to fail).
    let plain = support::run(&["--", "python3", "-c", script], b"");
    assert_eq!(plain.ok(), "False False False\n");
}

#[test]
fn output_is_masked_merged_in_order_with_plain_line_ends() {
    let cases: [(&[&str], &str, &str); 6] = [
        (&["-s", "hunter22"], "echo token=hunter22", "token=***\n"),
        // The terminal merges both streams, in the order written.
        (
            &[],
            "echo one; echo two >&2; echo three",
            "one\ntwo\nthree\n",
        ),
        (&["-s", "hunter22"], "echo err hunter22 >&2", "err ***\n"),
        // No CR is added to line ends; a CR the command writes stays.
        (&[], "printf 'a\\nb\\n\\nc'", "a\nb\n\nc"),
        (&[], "printf 'x\\r\\ny\\rz\\n'", "x\r\ny\rz\n"),
        // In-band commands work on the merged stream.
        (
            &[],
            "echo '::add-mask::inband-77'; echo v=inband-77",
            "v=***\n",
        ),
    ];
    for (options, script, expected) in cases {
        let run = sh(options, script);
        assert_eq!(run.ok(), expected, "{script}");
        run.leaks_nothing("hunter22").leaks_nothing("inband-77");
    }
}

#[test]
fn exit_status_is_the_commands() {
    let cases = [
        ("true", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -TERM $$", 128 + 15),
        ("kill -KILL $$", 128 + 9),
        ("kill -USR1 $$", 128 + 10),
    ];
    for (script, expected) in cases {
        let run = sh(&[], script);
        assert_eq!(run.code(), expected, "{script}: {}", run.stderr());
        assert_eq!(run.stderr(), "", "{script}");
    }
}

#[test]
fn warnings_and_stats_name_the_pty_stream() {
    let run = sh(&["--stats"], "echo one; echo '::add-mask::ab'; echo two");
    assert_eq!(run.code(), 0);
    assert_eq!(run.stdout(), "one\ntwo\n");
    let err = run.stderr();
    assert!(err.contains("logmask: warning: pty:2: "), "{err}");
    assert!(err.contains("logmask: stats: bytes_in="), "{err}");
}

#[test]
fn ls_colours_only_on_a_terminal() {
    let dir = TempDir::new("pty-ls");
    std::fs::create_dir(dir.0.join("subdir")).unwrap();
    let path = dir.0.to_str().unwrap();
    let env = [("TERM", Some("xterm")), ("LS_COLORS", None)];
    let with = pty(&[], &["ls", "--color=auto", path], &env, b"");
    assert!(with.ok().contains("\x1b["), "{:?}", with.stdout());
    assert!(with.stdout().contains("subdir"));

    let mut plain = logmask();
    plain.args(["--", "ls", "--color=auto", path]);
    plain.env("TERM", "xterm").env_remove("LS_COLORS");
    let without = run_command(plain, b"");
    assert_eq!(without.ok(), "subdir\n");
}

#[test]
fn the_command_gets_a_terminal_type_when_logmask_has_none() {
    let cases = [
        (None, "xterm-256color"),
        (Some(""), "xterm-256color"),
        (Some("dumb"), "dumb"),
        (Some("screen"), "screen"),
    ];
    for (term, expected) in cases {
        let run = pty(
            &[],
            &["sh", "-c", "echo \"[$TERM]\""],
            &[("TERM", term)],
            b"",
        );
        assert_eq!(run.ok(), format!("[{expected}]\n"), "TERM={term:?}");
    }
    // Without --pty, TERM is left alone.
    let mut plain = logmask();
    plain
        .args(["--", "sh", "-c", "echo \"[${TERM-unset}]\""])
        .env_remove("TERM");
    assert_eq!(run_command(plain, b"").ok(), "[unset]\n");
    // So colours work in a CI job that sets no TERM.
    let dir = TempDir::new("pty-ls-no-term");
    std::fs::create_dir(dir.0.join("subdir")).unwrap();
    let ls = ["ls", "--color=auto", dir.0.to_str().unwrap()];
    let run = pty(&[], &ls, &[("TERM", None), ("LS_COLORS", None)], b"");
    assert!(run.ok().contains("\x1b["), "{:?}", run.stdout());
}

#[test]
fn size_comes_from_columns_and_lines_else_80x24() {
    // stdin, stdout and stderr are pipes here, so no terminal gives one.
    let cases = [
        (Some("123"), Some("45"), "45 123\n"),
        (Some("1"), Some("2"), "2 1\n"),
        (None, None, "24 80\n"),
        (Some("123"), None, "24 80\n"),
        (None, Some("45"), "24 80\n"),
        (Some("0"), Some("45"), "24 80\n"),
        (Some("-3"), Some("45"), "24 80\n"),
        (Some("wide"), Some("45"), "24 80\n"),
    ];
    for (columns, lines, expected) in cases {
        let env = [("COLUMNS", columns), ("LINES", lines)];
        let run = pty(&[], &["stty", "size"], &env, b"");
        assert_eq!(run.ok(), expected, "COLUMNS={columns:?} LINES={lines:?}");
    }
}

#[test]
fn piped_stdin_reaches_the_command_unechoed_and_ends() {
    let script = "import sys; print(repr(sys.stdin.read()))";
    let cases: [(&[u8], &str); 6] = [
        (b"", "''\n"),
        (b"hello\n", "'hello\\n'\n"),
        (b"two\nlines\n", "'two\\nlines\\n'\n"),
        // No line break at the end: the end still reaches the command.
        (b"abc", "'abc'\n"),
        (b"one\nlast", "'one\\nlast'\n"),
        (b"x\r", "'x\\n'\n"),
    ];
    for (input, expected) in cases {
        let run = python(script, input);
        assert_eq!(run.ok(), expected, "{input:?}");
    }
    // The terminal stays open after the end of input (the command writes
    // after reading it: above), and a line is read as a line.
    let run = pty(&[], &["sh", "-c", "read x; echo got=$x"], &[], b"hello\n");
    assert_eq!(run.ok(), "got=hello\n");
}

#[test]
fn a_prompt_that_discards_pending_input_still_sees_the_end() {
    // getpass flushes the terminal's input before it reads, the end of
    // stdin with it: logmask passes the end on again, so the command
    // fails at once instead of waiting for ever. (Only an empty stdin:
    // whether a line arrives before or after the flush is a race.)
    let cases = [
        (
            "import getpass, sys\ntry: getpass.getpass('pw: ')\nexcept EOFError: sys.exit(9)",
            "pw: ",
        ),
        (
            "import sys, termios\ntermios.tcflush(0, termios.TCIFLUSH)\n\
             print('flushed', flush=True)\nsys.exit(9 if sys.stdin.read() == '' else 0)",
            "flushed\n",
        ),
    ];
    for (script, shown) in cases {
        let run = python(script, b"");
        assert_eq!(run.code(), 9, "{script}: {:?}", run.stderr());
        assert_eq!(run.stdout(), shown, "{script}");
    }
}

#[test]
fn a_line_reaches_the_reader_before_the_command_writes_more() {
    // Python buffers whole blocks on a pipe and lines on a terminal: it
    // writes "second" only once the test has seen "first" and answered.
    let mut child = logmask()
        .args(["--pty", "--", "python3", "-c"])
        .arg("print('first'); input(); print('second')")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("first\n", WAIT), "seen: {:?}", out.seen);
    assert!(!String::from_utf8_lossy(&out.seen).contains("second"));
    stdin.write_all(b"go\n").unwrap();
    assert!(out.wait_for("second\n", WAIT), "seen: {:?}", out.seen);
    drop(stdin);
    assert!(wait_with_deadline(&mut child, DEADLINE).success());
    // Piped input is not echoed.
    assert_eq!(out.rest(), "first\nsecond\n");
}

/// Starts `logmask --pty -- sh -c SCRIPT` with piped streams; returns it
/// once its output shows `ready`.
fn started(script: &str) -> (Child, LineReader) {
    let mut child = logmask()
        .args(["--pty", "--", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("ready\n", WAIT), "seen: {:?}", out.seen);
    (child, out)
}

fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

#[test]
fn signals_reaching_logmask_are_forwarded_whoever_sent_them() {
    let cases = [
        (Signal::INT, 2),
        (Signal::TERM, 15),
        (Signal::QUIT, 3),
        (Signal::HUP, 1),
    ];
    for (sent, number) in cases {
        let (mut child, _out) = started("ulimit -c 0; echo ready; exec sleep 30");
        signal(&child, sent);
        let status = wait_with_deadline(&mut child, WAIT);
        assert_eq!(status.code(), Some(128 + number), "{sent:?}");
    }
}

#[test]
fn signals_go_to_the_whole_process_group() {
    // The leader survives SIGTERM (a trap) while its child does not: only
    // a signal to the group ends the inner sleep.
    let (mut child, out) = started(
        "trap 'echo leader-got-term' TERM; sh -c 'echo ready; exec sleep 30'; echo inner=$?",
    );
    signal(&child, Signal::TERM);
    let status = wait_with_deadline(&mut child, WAIT);
    assert_eq!(status.code(), Some(0));
    let rest = out.rest();
    assert!(rest.contains("leader-got-term"), "{rest:?}");
    assert!(rest.contains("inner=143"), "{rest:?}");
}

#[test]
fn a_signal_the_caller_ignored_stays_ignored() {
    // sh starts logmask with SIGINT ignored: no handler, not forwarded,
    // and the command inherits it ignored. SIGTERM still works. The
    // command sleeps in slices (see SIZE_AND_LINES on blocking calls).
    let script = "import signal, sys, time\n\
                  print('int ignored:', signal.getsignal(signal.SIGINT) == signal.SIG_IGN)\n\
                  signal.signal(signal.SIGTERM, lambda *a: (print('got term'), sys.exit(7)))\n\
                  print('ready', flush=True)\n\
                  while True: time.sleep(0.05)\n";
    let mut child = Command::new("sh")
        .args(["-c", "trap '' INT; exec \"$0\" --pty -- python3 -c \"$1\""])
        .arg(env!("CARGO_BIN_EXE_logmask"))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("ready\n", WAIT), "seen: {:?}", out.seen);
    signal(&child, Signal::INT);
    signal(&child, Signal::TERM);
    let status = wait_with_deadline(&mut child, WAIT);
    assert_eq!(status.code(), Some(7));
    assert_eq!(out.rest(), "int ignored: True\nready\ngot term\n");
}

#[test]
fn a_background_process_holding_the_terminal_does_not_keep_logmask_waiting() {
    // Each background sleep ignores SIGHUP and holds the terminal for 20 s;
    // logmask ends ~100 ms after the command and its output are done.
    let cases = [
        "trap '' HUP; sleep 20 & echo done",
        "setsid sleep 20 & echo done",
        "trap '' HUP; (echo from-background; exec sleep 20) & echo done",
    ];
    for script in cases {
        let start = Instant::now();
        let run = sh(&[], script);
        let took = start.elapsed();
        assert_eq!(run.code(), 0, "{script}");
        assert!(
            run.stdout().contains("done\n"),
            "{script}: {:?}",
            run.stdout()
        );
        assert!(took < Duration::from_secs(10), "{script}: took {took:?}");
    }
}

#[test]
fn a_background_writer_that_never_falls_silent_does_not_keep_logmask_running() {
    // Each writer ignores SIGHUP and outlives the command by far (a line
    // every 50 ms for 20 s; `yes` for ever): after the command's exit
    // logmask waits at most 2 s in all and reads at most 1 MiB more, then
    // closes the terminal, and the writer's next write fails.
    let dir = TempDir::new("pty-writer");
    let pid_file = dir.0.join("writer.pid");
    let writers = [
        "i=0; while [ $i -lt 400 ]; do echo bg; sleep 0.05; i=$((i+1)); done",
        "exec yes bg",
    ];
    for writer in writers {
        let script = format!(
            "(trap '' HUP; {writer}) & echo $! > '{}'; sleep 0.2; echo done",
            pid_file.display()
        );
        let start = Instant::now();
        let run = sh(&[], &script);
        let took = start.elapsed();
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let _ = Command::new("kill").arg(pid.trim()).status();
        assert_eq!(run.code(), 0, "{writer}");
        assert!(run.stdout().contains("done\n"), "{writer}");
        assert!(took < Duration::from_secs(10), "{writer}: took {took:?}");
    }
}

#[test]
fn usage_and_start_errors() {
    let run = support::run(&["--pty"], b"");
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("--pty needs a command"),
        "{}",
        run.stderr()
    );
    let run = support::run(&["-s", "abcd", "--pty", "--"], b"");
    assert_eq!(run.code(), 2);

    let run = sh(&[], "").code();
    assert_eq!(run, 0);
    let run = pty(&["-s", "hunter22"], &["./no-such-hunter22"], &[], b"");
    assert_eq!(run.code(), 127);
    assert!(
        run.stderr().contains("cannot run './no-such-***'"),
        "{}",
        run.stderr()
    );
    run.leaks_nothing("hunter22");
}

#[test]
fn a_terminal_that_cannot_be_made_is_status_127_naming_the_cause() {
    // Four descriptors: enough for the loader and the terminal's first
    // side, not for its second.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 4 && exec \"$0\" --pty -- true"])
        .arg(env!("CARGO_BIN_EXE_logmask"));
    let run = run_command(cmd, b"");
    assert_eq!(run.code(), 127, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.starts_with("logmask: error: cannot make a terminal"),
        "{err}"
    );
    assert!(err.contains("Too many open files"), "{err}");
}

/// A terminal made by the test, to stand for logmask's own.
struct Outer {
    primary: OwnedFd,
    secondary: OwnedFd,
}

impl Outer {
    fn new(columns: u16, rows: u16) -> Outer {
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let primary = openpt(flags).unwrap();
        grantpt(&primary).unwrap();
        unlockpt(&primary).unwrap();
        let secondary = ioctl_tiocgptpeer(&primary, flags).unwrap();
        let outer = Outer { primary, secondary };
        outer.resize(columns, rows);
        outer
    }

    fn resize(&self, columns: u16, rows: u16) {
        let size = Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tcsetwinsize(&self.primary, size).unwrap();
    }

    fn modes(&self) -> Termios {
        tcgetattr(&self.secondary).unwrap()
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.secondary.try_clone().unwrap())
    }

    /// Waits until `test` holds for the modes of this terminal.
    fn wait_for_modes(&self, what: &str, test: impl Fn(&Termios) -> bool) {
        let end = Instant::now() + WAIT;
        while !test(&self.modes()) {
            assert!(Instant::now() < end, "the terminal never became {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn canonical(modes: &Termios) -> bool {
    modes
        .local_modes
        .contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
}

fn same_modes(a: &Termios, b: &Termios) -> bool {
    a.input_modes == b.input_modes
        && a.output_modes == b.output_modes
        && a.local_modes == b.local_modes
        && a.control_modes == b.control_modes
}

/// A command that reports its terminal's size at start and on SIGWINCH,
/// and echoes each line it reads.
///
/// Python runs a signal's handler between bytecodes: a signal that lands
/// after the last check and before a blocking `read` begins waits until
/// the read returns. So the command waits for input in short slices and
/// a signal is handled within one slice, however the scheduler runs it.
const SIZE_AND_LINES: &str = "\
import os, select, signal
def report(*_):
    c, r = os.get_terminal_size(0)
    print(f'size {c}x{r}', flush=True)
signal.signal(signal.SIGWINCH, report)
report()
pending = b''
while True:
    if not select.select([0], [], [], 0.05)[0]:
        continue
    data = os.read(0, 4096)
    if not data:
        break
    *lines, pending = (pending + data).split(b'\\n')
    for line in lines:
        print('line', repr(line.decode() + '\\n'), flush=True)
";

fn on_outer_terminal(outer: &Outer, stdin: bool, stderr: bool, env_size: bool) -> Child {
    let mut cmd = logmask();
    cmd.args(["--pty", "--", "python3", "-c", SIZE_AND_LINES])
        .stdin(if stdin { outer.stdio() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(if stderr {
            outer.stdio()
        } else {
            Stdio::piped()
        });
    if env_size {
        cmd.env("COLUMNS", "55").env("LINES", "11");
    }
    cmd.spawn().unwrap()
}

#[test]
fn size_comes_from_logmask_terminal_and_follows_sigwinch() {
    // The outer terminal as stderr only: its size wins over the
    // environment, and stdout stays a clean pipe.
    let outer = Outer::new(100, 30);
    let mut child = on_outer_terminal(&outer, false, true, true);
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("size 100x30\n", WAIT), "seen: {:?}", out.seen);
    outer.resize(120, 40);
    signal(&child, Signal::WINCH);
    assert!(out.wait_for("size 120x40\n", WAIT), "seen: {:?}", out.seen);
    drop(child.stdin.take());
    assert!(wait_with_deadline(&mut child, DEADLINE).success());
    // One SIGWINCH for one change.
    assert_eq!(out.rest(), "size 100x30\nsize 120x40\n");

    // A terminal that reports no size gives none: the environment counts.
    // A SIGWINCH that changes nothing still reaches the command, once.
    let outer = Outer::new(0, 0);
    let mut child = on_outer_terminal(&outer, false, true, true);
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("size 55x11\n", WAIT), "seen: {:?}", out.seen);
    signal(&child, Signal::WINCH);
    assert!(
        out.wait_for("size 55x11\nsize 55x11\n", WAIT),
        "seen: {:?}",
        out.seen
    );
    drop(child.stdin.take());
    assert!(wait_with_deadline(&mut child, DEADLINE).success());
    assert_eq!(out.rest(), "size 55x11\nsize 55x11\n");
}

#[test]
fn a_terminal_stdin_is_raw_while_the_command_runs_and_restored_after() {
    let outer = Outer::new(90, 20);
    let before = outer.modes();
    assert!(canonical(&before));
    let mut child = on_outer_terminal(&outer, true, false, false);
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("size 90x20\n", WAIT), "seen: {:?}", out.seen);
    outer.wait_for_modes("raw", |m| {
        !m.local_modes
            .intersects(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
    });
    // Output processing of logmask's terminal is kept (line starts on screen).
    assert_eq!(outer.modes().output_modes, before.output_modes);

    // Typed keys go to the command's terminal, which edits and echoes.
    let mut keys = File::from(outer.primary.try_clone().unwrap());
    keys.write_all(b"typo\x7f\x7fped\r").unwrap();
    assert!(
        out.wait_for("line 'typed\\n'\n", WAIT),
        "seen: {:?}",
        out.seen
    );

    // Ctrl-C typed reaches the command as its terminal's SIGINT.
    keys.write_all(b"\x03").unwrap();
    let status = wait_with_deadline(&mut child, WAIT);
    // Python ends an uncaught KeyboardInterrupt by dying of SIGINT.
    assert_eq!(status.code(), Some(128 + 2));
    assert!(same_modes(&outer.modes(), &before), "modes restored");
    let text = out.rest();
    assert!(text.contains("KeyboardInterrupt"), "{text:?}");
    assert!(!text.contains("\r\n"), "{text:?}");
}

#[test]
fn raw_mode_is_given_back_around_sigtstp_and_on_a_fatal_signal() {
    let outer = Outer::new(90, 20);
    let before = outer.modes();
    let mut child = on_outer_terminal(&outer, true, false, false);
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("size 90x20\n", WAIT), "seen: {:?}", out.seen);
    outer.wait_for_modes("raw", |m| !canonical(m));

    signal(&child, Signal::TSTP);
    outer.wait_for_modes("restored while stopped", |m| same_modes(m, &before));
    wait_for_state(&child, 'T');
    signal(&child, Signal::CONT);
    outer.wait_for_modes("raw again", |m| !canonical(m));

    signal(&child, Signal::TERM);
    let status = wait_with_deadline(&mut child, WAIT);
    assert_eq!(status.code(), Some(128 + 15));
    assert!(same_modes(&outer.modes(), &before), "modes restored");
}

/// Waits until the process state letter in /proc/PID/stat is `state`.
fn wait_for_state(child: &Child, state: char) {
    let end = Instant::now() + WAIT;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        // The state follows the command name, which is in parentheses.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        if after.starts_with(state) {
            return;
        }
        assert!(Instant::now() < end, "state never became {state}: {stat}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn nothing_is_read_from_a_closed_stdin() {
    // No stdin at all (closed descriptor): the command still runs and ends.
    let mut child = Command::new("sh")
        .args(["-c", "exec \"$0\" --pty -- sh -c 'cat; echo end' <&-"])
        .arg(env!("CARGO_BIN_EXE_logmask"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let status = wait_with_deadline(&mut child, WAIT);
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    assert_eq!((status.code(), text.as_str()), (Some(0), "end\n"));
}

#[test]
fn a_non_blocking_stdin_is_waited_on() {
    // Another process left the shared stdin pipe non-blocking: the first
    // read finds nothing (EAGAIN) and must wait, not end the input.
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import fcntl, os, sys\n\
             fcntl.fcntl(0, fcntl.F_SETFL, fcntl.fcntl(0, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
             os.execv(sys.argv[1], sys.argv[1:])",
            env!("CARGO_BIN_EXE_logmask"),
            "--pty",
            "--",
            "sh",
            "-c",
            "echo ready; read x; echo got=$x",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("ready\n", WAIT), "seen: {:?}", out.seen);
    stdin.write_all(b"late\n").unwrap();
    drop(stdin);
    assert!(wait_with_deadline(&mut child, WAIT).success());
    assert_eq!(out.rest(), "ready\ngot=late\n");
}

#[test]
fn a_reader_that_goes_away_does_not_change_the_status() {
    // The terminal is drained to the end and the command's status kept.
    let mut child = logmask()
        .args(["--pty", "--", "sh", "-c"])
        .arg("i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done; exit 4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 5];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"line ");
    drop(stdout);
    let stderr = support::collect(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, DEADLINE);
    assert_eq!(status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&stderr.join().unwrap()), "");
}

#[test]
fn a_signal_after_the_command_has_exited_ends_logmask_itself() {
    // A background writer that ignores SIGHUP keeps the terminal busy (a
    // line every 50 ms), so logmask is still draining when the command has
    // long been reaped: SIGTERM then ends logmask, as it would a process
    // without a handler, instead of going to a process group that is gone.
    let script = "trap '' HUP; leader=$$; \
                  (while kill -0 $leader 2>/dev/null; do sleep 0.01; done; echo leader-gone; \
                   i=0; while [ $i -lt 200 ]; do echo bg; sleep 0.05; i=$((i+1)); done) & \
                  echo ready";
    let (mut child, mut out) = started(script);
    assert!(
        out.wait_for("leader-gone\nbg\n", WAIT),
        "seen: {:?}",
        out.seen
    );
    signal(&child, Signal::TERM);
    let status = wait_with_deadline(&mut child, WAIT);
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

#[test]
fn the_command_starts_with_the_callers_sigpipe_and_ignored_signals() {
    // SigIgn in /proc: bit N-1 for signal N. SIGPIPE is 13, SIGINT 2.
    let cases = [
        ("", false, false),
        ("trap '' PIPE;", true, false),
        ("trap '' INT;", false, true),
    ];
    for (trap, pipe_ignored, int_ignored) in cases {
        let script = format!("{trap} exec \"$0\" --pty -- sh -c 'grep SigIgn /proc/$$/status'");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]).arg(env!("CARGO_BIN_EXE_logmask"));
        let text = run_command(cmd, b"").ok();
        let hex = text.trim().strip_prefix("SigIgn:").expect(&text).trim();
        let mask = u64::from_str_radix(hex, 16).unwrap();
        assert_eq!(mask & (1 << 12) != 0, pipe_ignored, "{trap}: {text}");
        assert_eq!(mask & (1 << 1) != 0, int_ignored, "{trap}: {text}");
    }
}
