//! The `logmask` binary wrapping a command (`logmask [OPTIONS] -- COMMAND`):
//! both streams, the shared registry, exit statuses, signal forwarding and
//! a closed stdout. Child scripts synchronise with generous sleeps; every
//! run has a deadline.

mod support;

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use support::{DEADLINE, LineReader, TempDir, logmask, run, wait_with_deadline};

fn sh(options: &[&str], script: &str) -> support::Run {
    let mut args: Vec<&str> = options.to_vec();
    args.extend(["--", "sh", "-c", script]);
    run(&args, b"")
}

#[test]
fn each_stream_is_masked_to_its_own_stream() {
    let out = sh(
        &["-s", "hunter22"],
        "echo out hunter22; echo err hunter22 >&2; echo out2",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "out ***\nout2\n");
    assert_eq!(out.stderr(), "err ***\n");
}

#[test]
fn a_mask_registered_on_one_stream_applies_to_the_other() {
    let out = sh(
        &[],
        "echo '::add-mask::from-stderr-1' >&2; sleep 1; echo 'out from-stderr-1'",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "out ***\n");
    assert_eq!(out.stderr(), "");

    let out = sh(
        &[],
        "echo '::add-mask::from-stdout-2'; sleep 1; echo 'err from-stdout-2' >&2",
    );
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stderr(), "err ***\n");
}

#[test]
fn each_stream_has_its_own_stop_state() {
    // Commands stopped on stdout still work on stderr.
    let script = "echo '::stop-commands::pausetok'; sleep 0.5; \
                  echo '::add-mask::err-value-9' >&2; sleep 1; \
                  echo 'err-value-9'; echo '::add-mask::printed-here'";
    let out = sh(&[], script);
    assert_eq!(out.code(), 0);
    assert_eq!(
        out.stdout(),
        "::stop-commands::***\n***\n::add-mask::printed-here\n"
    );
    assert_eq!(out.stderr(), "");
}

#[test]
fn warnings_name_the_stream_and_line() {
    let out = sh(
        &[],
        "echo one; echo '::add-mask::ab'; echo '::add-mask::' >&2",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "one\n");
    let err = out.stderr();
    assert!(err.contains("logmask: warning: stdout:2: "), "{err}");
    assert!(err.contains("logmask: warning: stderr:1: "), "{err}");
    assert!(!err.contains("ab\n"), "{err}");
}

#[test]
fn exit_status_is_the_commands() {
    let cases = [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -TERM $$", 128 + 15),
        ("kill -KILL $$", 128 + 9),
        ("kill -INT $$", 128 + 2),
        ("kill -HUP $$", 128 + 1),
    ];
    for (script, expected) in cases {
        let out = sh(&[], script);
        assert_eq!(out.code(), expected, "{script}");
        assert_eq!(out.stderr(), "", "{script}");
    }
}

#[test]
fn a_command_that_cannot_start_exits_127() {
    let dir = TempDir::new("exec");
    let not_executable = dir.file("not-executable", b"#!/bin/sh\necho hi\n");
    let not_executable = not_executable.to_str().unwrap();
    for command in [
        "/nonexistent/command",
        "logmask-no-such-command-on-path",
        not_executable,
    ] {
        let out = run(&["-s", "hunter22", "--", command, "hunter22"], b"");
        assert_eq!(out.code(), 127, "{command}");
        assert_eq!(out.stdout(), "");
        let err = out.stderr();
        assert!(
            err.starts_with(&format!("logmask: error: cannot run '{command}': ")),
            "{err}"
        );
        assert!(!err.contains("hunter22"), "{err}");
    }
}

#[test]
fn usage_errors_run_nothing() {
    let dir = TempDir::new("usage-exec");
    let marker = dir.0.join("ran");
    let script = format!("touch '{}'", marker.display());
    for options in [
        &["--bogus"][..],
        &["--encodings", "nope"],
        &["--file", "/nonexistent"],
    ] {
        let out = sh(options, &script);
        assert_eq!(out.code(), 2, "{options:?}");
        assert!(!marker.exists(), "{options:?} ran the command");
    }
}

#[test]
fn arguments_reach_the_command_verbatim() {
    let out = run(&["--", "printf", "%s|", "-n", "--stats", "--", "a b"], b"");
    assert_eq!(out.ok(), "-n|--stats|--|a b|");
}

#[test]
fn stdin_is_inherited() {
    let out = run(&["-s", "hunter22", "--", "cat"], b"pw hunter22\n");
    assert_eq!(out.ok(), "pw ***\n");
}

#[test]
fn options_apply_to_both_streams() {
    let out = sh(
        &["-s", "hunter22", "--replacement", "[x]", "--no-commands"],
        "echo '::add-mask::abcdefgh'; echo 'hunter22 abcdefgh' >&2",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "::add-mask::abcdefgh\n");
    assert_eq!(out.stderr(), "[x] abcdefgh\n");

    let out = sh(
        &["--pass-commands"],
        "echo '::add-mask::abcdefgh'; sleep 1; echo abcdefgh >&2",
    );
    assert_eq!(out.stdout(), "::add-mask::abcdefgh\n");
    assert_eq!(out.stderr(), "***\n");
}

#[test]
fn stats_sum_both_streams() {
    let out = sh(
        &["-s", "hunter22", "--stats"],
        "echo 'a hunter22'; echo 'b hunter22 hunter22' >&2",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "a ***\n");
    let err = out.stderr();
    let stats = err
        .lines()
        .find(|l| l.starts_with("logmask: stats: "))
        .expect("a stats line");
    assert!(
        stats.starts_with("logmask: stats: bytes_in=31 bytes_out=16 regions=3 secrets=1 variants="),
        "{stats}"
    );
    assert!(!err.contains("hunter22"));
}

#[test]
fn a_prompt_arrives_before_the_command_reads_its_answer() {
    let mut child = logmask()
        .args([
            "--",
            "sh",
            "-c",
            "printf 'Password: '; read answer; echo \"got $answer\"",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(
        out.wait_for("Password: ", Duration::from_secs(5)),
        "the prompt was held"
    );
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    assert!(wait_with_deadline(&mut child, DEADLINE).success());
    assert_eq!(out.rest(), "Password: got yes\n");
}

#[test]
fn a_closed_stdout_is_drained_and_the_status_kept() {
    let mut child = logmask()
        .args(["-s", "hunter22", "--", "sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo \"line $i hunter22 padding padding padding padding padding\"; i=$((i+1)); done; echo finished hunter22 >&2; exit 4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody ever reads logmask's stdout.
    drop(child.stdout.take());
    let stderr = support::collect(child.stderr.take().unwrap());
    let status = wait_with_deadline(&mut child, DEADLINE);
    assert_eq!(status.code(), Some(4));
    assert_eq!(
        String::from_utf8(stderr.join().unwrap()).unwrap(),
        "finished ***\n"
    );
}

#[test]
fn a_background_grandchild_holding_the_pipes_keeps_logmask_waiting() {
    let start = Instant::now();
    let out = sh(&[], "(sleep 1; echo late) & echo early");
    assert_eq!(out.ok(), "early\nlate\n");
    assert!(start.elapsed() >= Duration::from_millis(900));
}

// --------------------------------------------------------------- signals

/// A command that counts SIGINT and SIGTERM, says when it is ready, and
/// exits 5 half a second after the first one (time for a duplicate).
const COUNTING: &str = "n=0; trap 'n=$((n+1)); echo \"signal $n\"' INT TERM; echo ready; \
                        while [ $n -lt 1 ]; do sleep 0.05; done; sleep 0.5; echo \"done $n\"; exit 5";

#[test]
fn sigint_and_sigterm_sent_to_logmask_are_forwarded_once() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut child = logmask()
            .args(["--", "sh", "-c", COUNTING])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = LineReader::new(child.stdout.take().unwrap());
        assert!(out.wait_for("ready\n", Duration::from_secs(10)));
        // SAFETY: signalling the child process we spawned and have not reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = wait_with_deadline(&mut child, DEADLINE);
        assert_eq!(status.code(), Some(5), "signal {signal}");
        assert_eq!(out.rest(), "ready\nsignal 1\ndone 1\n", "signal {signal}");
    }
}

#[test]
fn a_terminal_interrupt_is_not_forwarded() {
    // Ctrl-C on a terminal reaches the whole foreground process group, the
    // command included: logmask must not send it a second copy. To see
    // what logmask sends, the command leaves the foreground group (setsid,
    // from util-linux), so only a forwarded copy could reach it.
    if std::process::Command::new("setsid")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no setsid command");
        return;
    }
    // SAFETY: plain libc calls on a descriptor owned by this test.
    let (master, slave_path) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0);
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .unwrap()
            .to_string();
        (File::from_raw_fd(master), path)
    };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .unwrap();
    let mut command = logmask();
    command
        .args(["--", "setsid", "sh", "-c", COUNTING])
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // A new session whose controlling terminal is the slave, with
            // logmask's process group in the foreground.
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    drop(command);
    let mut terminal = master.try_clone().unwrap();
    let mut out = LineReader::new(master);
    let seen = |out: &LineReader| String::from_utf8_lossy(&out.seen).into_owned();
    assert!(
        out.wait_for("ready", Duration::from_secs(10)),
        "{:?}",
        seen(&out)
    );

    terminal.write_all(b"\x03").unwrap();
    assert!(
        !out.wait_for("signal", Duration::from_secs(1)),
        "forwarded: {:?}",
        seen(&out)
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "logmask died of the interrupt"
    );

    // A signal sent to logmask itself is still forwarded.
    // SAFETY: signalling the child process we spawned and have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert!(
        out.wait_for("done 1", Duration::from_secs(10)),
        "{:?}",
        seen(&out)
    );
    let status = wait_with_deadline(&mut child, DEADLINE);
    assert_eq!(status.code(), Some(5), "{:?}", seen(&out));
}

#[test]
fn after_the_command_exits_a_signal_ends_logmask() {
    // The command is gone but a grandchild holds the pipes: logmask waits
    // for them, and SIGTERM then ends logmask itself.
    let mut child = logmask()
        .args(["--", "sh", "-c", "(sleep 3) & echo ready"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = LineReader::new(child.stdout.take().unwrap());
    assert!(out.wait_for("ready\n", Duration::from_secs(10)));
    wait_until_reaped(child.id());
    let start = Instant::now();
    // SAFETY: signalling the child process we spawned and have not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = wait_with_deadline(&mut child, DEADLINE);
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// Waits until logmask has no child process left (its command has exited
/// and been reaped), as /proc shows it; where /proc does not list
/// children, waits a generous second instead.
fn wait_until_reaped(logmask: u32) {
    let children = format!("/proc/{logmask}/task/{logmask}/children");
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        match std::fs::read_to_string(&children) {
            Ok(list) if list.trim().is_empty() => return,
            Ok(_) => thread::sleep(Duration::from_millis(20)),
            Err(_) => return thread::sleep(Duration::from_secs(1)),
        }
    }
    panic!("the command did not exit");
}

// ------------------------------------------------- caller's dispositions

/// Whether signal `n` is in a `/proc/PID/status` `SigIgn:` mask.
fn ignored_in(status: &str, signal: libc::c_int) -> bool {
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|m| u64::from_str_radix(m.trim(), 16).expect("hex SigIgn"))
        .expect("a SigIgn line");
    mask & (1u64 << (signal - 1)) != 0
}

/// Sets `signal` to `handler` (SIG_DFL or SIG_IGN) with the system call
/// itself. This test process may have glibc's own signals 32 and 33
/// ignored (cargo starts it with posix_spawn, which leaves them so), and
/// glibc's wrappers refuse to change those: a caller that ignored nothing
/// has to be made by hand.
///
/// # Safety
/// Only between fork and exec, or where no handler of the process matters.
unsafe fn set_disposition(signal: libc::c_int, handler: libc::sighandler_t) {
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let action = KernelSigaction {
        handler,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction reads `action` (the kernel's layout, a 64-bit
    // signal set) and writes nothing back with a null old action.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            &action,
            std::ptr::null_mut::<KernelSigaction>(),
            8usize,
        );
    }
}

/// `logmask -- COMMAND` started by a caller that ignored `ignored`.
fn started_ignoring(ignored: &'static [libc::c_int], command: &[&str]) -> support::Run {
    started_ignoring_with(ignored, &[], command)
}

/// `logmask MODE... -- COMMAND` started by a caller that ignored `ignored`.
fn started_ignoring_with(
    ignored: &'static [libc::c_int],
    mode: &[&str],
    command: &[&str],
) -> support::Run {
    let mut logmask = logmask();
    logmask.args(mode).arg("--").args(command);
    // SAFETY: only async-signal-safe calls (system calls) between fork and
    // exec.
    unsafe {
        logmask.pre_exec(move || {
            for signal in 1..=64 {
                if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                    let ignore = ignored.contains(&signal);
                    set_disposition(signal, if ignore { libc::SIG_IGN } else { libc::SIG_DFL });
                }
            }
            Ok(())
        });
    }
    support::run_command(logmask, b"")
}

/// SPEC 5: a signal the caller left ignored stays ignored for COMMAND, and
/// COMMAND starts with logmask's own SIGPIPE disposition (std resets it to
/// the default in children, and logmask used to install handlers that
/// exec turned into defaults). `cat` reads its own `/proc` status, so what
/// it shows is the disposition COMMAND was started with.
#[test]
fn the_command_starts_with_the_callers_ignored_signals() {
    use libc::{SIGINT, SIGPIPE, SIGTERM};
    let cases: [&'static [libc::c_int]; 5] = [
        &[],
        &[SIGINT],
        &[SIGTERM],
        &[SIGPIPE],
        &[SIGINT, SIGTERM, SIGPIPE],
    ];
    // Every signal, not only those logmask handles: glibc's posix_spawn
    // used to leave its own signals 32 and 33 ignored in the command.
    // Plain exec mode and the agent's.
    for mode in [&[][..], &["agent"][..]] {
        for ignored in cases {
            let run = started_ignoring_with(ignored, mode, &["cat", "/proc/self/status"]);
            let status = run.ok();
            for signal in 1..=64 {
                assert_eq!(
                    ignored_in(&status, signal),
                    ignored.contains(&signal),
                    "{mode:?}, caller ignored {ignored:?}: signal {signal} in the command's SigIgn"
                );
            }
        }
    }
}

/// A SIGINT or SIGTERM sent to logmask while its caller ignores it
/// (`nohup`, a background job of a script) is not forwarded, and the
/// command, which ignores it too, survives one sent to itself.
#[test]
fn an_ignored_signal_stops_neither_logmask_nor_the_command() {
    let cases: [(&'static [libc::c_int], &str); 2] =
        [(&[libc::SIGINT], "INT"), (&[libc::SIGTERM], "TERM")];
    for (ignored, name) in cases {
        let script = format!("kill -{name} $PPID; kill -{name} $$; echo alive");
        let run = started_ignoring(ignored, &["sh", "-c", &script]);
        assert_eq!(run.ok(), "alive\n", "SIG{name}");
    }
}
