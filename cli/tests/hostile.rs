//! Hostile input through the real binary: huge values, binary garbage,
//! odd line endings, every way the processes around logmask can fail, and
//! every warning and error path with a secret at hand. Volume, memory and
//! cost are in `hostile_scale.rs`.

mod support;

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use logmask::{Config, Registry};
use memchr::memmem;
use support::*;

// ---------------------------------------------------------------------------
// Size limits

/// A 64 KiB secret is masked whole, split across reads, and Base64-encoded;
/// a near miss passes; one byte more is a usage error that shows nothing.
#[test]
fn a_64_kib_secret() {
    let mut rng = Rng(0x5eed_0003);
    let secret = rng.word(ALNUM, 64 * KIB);
    let dir = TempDir::new("big-secret");
    let file = dir.file("secret", &secret);
    let mut input = b"a".to_vec();
    input.extend_from_slice(&secret);
    input.extend_from_slice(b"b\n");
    input.extend_from_slice(&secret[..64 * KIB - 1]);
    input.extend_from_slice(b"\nblob ");
    input.extend(STANDARD.encode(&secret).bytes());
    input.extend_from_slice(b"\n");
    let run = support::run(&["--secret-file".as_ref(), file.as_os_str()], &input);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stderr(), "");
    let mut want = b"a***b\n".to_vec();
    want.extend_from_slice(&secret[..64 * KIB - 1]);
    want.extend_from_slice(b"\n");
    assert!(run.stdout.starts_with(&want), "raw line or near miss");
    let blob_line = &run.stdout[want.len()..];
    assert!(
        blob_line.starts_with(b"blob ***") && blob_line.len() < 16,
        "{:?}",
        String::from_utf8_lossy(blob_line)
    );

    // One byte over the limit, from each source: exit 2, nothing shown.
    let mut over = secret.clone();
    over.push(b'Z');
    let over_file = dir.file("over", &over);
    let mut list = b"short-but-fine\n".to_vec();
    list.extend_from_slice(&over);
    let list_file = dir.file("list", &list);
    let runs = [
        support::run(&["--secret-file".as_ref(), over_file.as_os_str()], b"x\n"),
        support::run(&["-f".as_ref(), list_file.as_os_str()], b"x\n"),
        support::run(
            &[
                std::ffi::OsStr::new("-s"),
                std::ffi::OsStr::from_bytes(&over),
            ],
            b"x\n",
        ),
    ];
    for r in &runs {
        assert_eq!(r.code(), 2, "{}", r.stderr());
        assert!(r.stdout.is_empty());
        r.leaks_nothing(&over[..32]);
        r.leaks_nothing(&over[over.len() - 32..]);
    }
}

// ---------------------------------------------------------------------------
// Odd bytes

/// Invalid UTF-8 and NUL bytes everywhere: in the secret, all around it,
/// in command lines. The binary writes what the library computes.
#[test]
fn invalid_utf8_and_nul_bytes_everywhere() {
    let secret = b"\xffse\x00cr\xfe\x80et\x00".to_vec();
    let dir = TempDir::new("binary");
    let file = dir.file("secret", &secret);
    let mut rng = Rng(0x5eed_0005);
    let mut input = Vec::new();
    for i in 0..2000 {
        let noise = rng.next().to_le_bytes();
        input.extend_from_slice(&noise[..(i % 8)]);
        match i % 50 {
            0 => input.extend_from_slice(&secret),
            // URL-encoded form, upper-case hex.
            1 => input.extend_from_slice(b"%FFse%00cr%FE%80et%00"),
            2 => input.extend_from_slice(b"\x00\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc"),
            _ => {}
        }
    }
    let registry = std::sync::Arc::new(Registry::new());
    registry.add(&secret).unwrap();
    let want = logmask::mask(&registry, &input);
    let run = support::run(&["--secret-file".as_ref(), file.as_os_str()], &input);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stderr(), "");
    assert!(run.stdout == want, "binary and library disagree");
    run.leaks_nothing(b"se\x00cr\xfe\x80et");
    assert!(memmem::find(&run.stdout, b"***").is_some());

    // In-band, with NUL and invalid UTF-8 in the value and the lines.
    let input = b"::add-mask::\xff\x00ab\xfecd\n\
        x\xff\x00ab\xfecd y\n\
        \x00::add-mask::\xff\x00ab\xfecd\n\
        \xfe::add-mask::zzzz\n"
        .to_vec();
    let run = support::run::<&str>(&[], &input);
    assert_eq!(run.code(), 0);
    assert_eq!(
        run.stdout,
        b"x*** y\n\x00::add-mask::***\n\xfe::add-mask::zzzz\n".to_vec()
    );
    assert_eq!(run.stderr(), "");
}

/// CRLF line endings and lone CRs, in commands and in text.
#[test]
fn crlf_and_lone_cr() {
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"::add-mask::hunter22\r\nsee hunter22\r\n",
            b"see ***\r\n",
        ),
        // A lone CR is content: this line is not a command.
        (
            b"x\r::add-mask::hunter22\nhunter22\n",
            b"x\r::add-mask::hunter22\nhunter22\n",
        ),
        // A CR inside a value splits it into lines, each masked alone.
        (
            b"::add-mask::first-line\rsecond-line\r\nfirst-line\rsecond-line\r\n",
            b"***\r***\r\n",
        ),
        // CR CR LF: the first CR is content of the value, trimmed away.
        (
            b"::add-mask::hunter22\r\r\nhunter22\r\r\n",
            b"***\r\r\n",
        ),
        // Stop and resume with CRLF.
        (
            b"::stop-commands::pausetok\r\n::add-mask::hunter22\r\n::pausetok::\r\n::add-mask::hunter22\r\nhunter22\r\n",
            b"::stop-commands::***\r\n::add-mask::hunter22\r\n::***::\r\n***\r\n",
        ),
        // CR at the very end of the input, and text with CRs around a secret.
        (b"\rhunter22\r\rx\r", b"\rhunter22\r\rx\r"),
    ];
    for (input, want) in cases {
        let run = support::run::<&str>(&[], input);
        assert_eq!(run.code(), 0);
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(want),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let run = support::run(&["-s", "hunter22"], b"\rhunter22\r\rx\rhunter22");
    assert_eq!(run.stdout(), "\r***\r\rx\r***");
}

// ---------------------------------------------------------------------------
// The processes around logmask

/// Empty stdin ends at once with nothing written; a standard descriptor
/// that is closed when logmask starts (`<&-`, `>&-`, `2>&-`) fails as
/// `cat` reports it: reading a closed stdin or writing a closed stdout or
/// stderr is an error (status 1, or the command's failing status in exec
/// mode), never an empty success. A closed stream nothing is written to
/// costs nothing.
#[test]
fn standard_descriptors_closed_at_start() {
    struct Case {
        name: &'static str,
        closed: &'static [i32],
        args: &'static [&'static str],
        code: i32,
        stdout: &'static str,
        stderr: &'static str,
    }
    const READ: &str = "logmask: stats: bytes_in=0 bytes_out=0 regions=0 secrets=1 variants=";
    const NO_STDIN: &str = "logmask: error: cannot read stdin: Bad file descriptor (os error 9)\n";
    const NO_STDOUT: &str =
        "logmask: error: cannot write to stdout: Bad file descriptor (os error 9)\n";
    let cases = [
        Case {
            name: "empty stdin",
            closed: &[],
            args: &["--stats"],
            code: 0,
            stdout: "",
            stderr: READ,
        },
        Case {
            name: "closed stdin",
            closed: &[0],
            args: &["--stats"],
            code: 1,
            stdout: "",
            stderr: NO_STDIN,
        },
        Case {
            name: "closed stdout",
            closed: &[1],
            args: &[],
            code: 1,
            stdout: "",
            stderr: NO_STDOUT,
        },
        Case {
            name: "closed stderr",
            closed: &[2],
            args: &[],
            code: 0,
            stdout: "a *** line\n",
            stderr: "",
        },
        Case {
            name: "exec, closed stdout",
            closed: &[1],
            args: &["--", "sh", "-c", "echo out hunter22"],
            code: 1,
            stdout: "",
            stderr: NO_STDOUT,
        },
        Case {
            name: "exec, closed stdout, failing command",
            closed: &[1],
            args: &["--", "sh", "-c", "echo out hunter22; exit 3"],
            code: 3,
            stdout: "",
            stderr: NO_STDOUT,
        },
        Case {
            name: "exec, closed stderr, nothing on it",
            closed: &[2],
            args: &["--", "sh", "-c", "echo out hunter22"],
            code: 0,
            stdout: "out ***\n",
            stderr: "",
        },
        Case {
            name: "exec, closed stderr, text on it",
            closed: &[2],
            args: &["--", "sh", "-c", "echo out hunter22; echo err >&2"],
            code: 1,
            stdout: "out ***\n",
            stderr: "",
        },
        Case {
            name: "exec, closed stdin",
            closed: &[0],
            args: &["--", "sh", "-c", "cat; echo out hunter22"],
            code: 0,
            stdout: "out ***\n",
            stderr: "",
        },
    ];
    for case in cases {
        let mut command = logmask_with(&["-s", "hunter22"]);
        command.args(case.args);
        let closed = case.closed.to_vec();
        if !closed.contains(&0) {
            if case.args.contains(&"--") {
                command.stdin(Stdio::null());
            } else {
                command.stdin(Stdio::piped());
            }
        }
        if !closed.contains(&1) {
            command.stdout(Stdio::piped());
        }
        if !closed.contains(&2) {
            command.stderr(Stdio::piped());
        }
        // SAFETY: close(2) is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                for &fd in &closed {
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let (mut child, started) = spawn(&mut command);
        if let Some(mut stdin) = child.stdin.take() {
            let input: &[u8] = if case.name == "empty stdin" {
                b""
            } else {
                b"a hunter22 line\n"
            };
            stdin.write_all(input).unwrap();
        }
        let out = child.stdout.take().map(collect);
        let err = child.stderr.take().map(collect);
        let finished = wait_rusage(&child, started, Duration::from_secs(30));
        let out = out.map_or_else(Vec::new, |h| h.join().unwrap());
        let err = err.map_or_else(Vec::new, |h| h.join().unwrap());
        let err = String::from_utf8_lossy(&err);
        assert_eq!(finished.code, Some(case.code), "{}: {err}", case.name);
        assert_eq!(String::from_utf8_lossy(&out), case.stdout, "{}", case.name);
        if case.stderr == READ {
            assert!(
                err.starts_with(READ) && err.lines().count() == 1,
                "{}: {err}",
                case.name
            );
        } else if case.stderr == NO_STDIN {
            assert!(err.ends_with(NO_STDIN), "{}: {err}", case.name);
        } else {
            assert_eq!(err, case.stderr, "{}", case.name);
        }
    }
}

/// `logmask scan` with stdout closed: findings that cannot be printed are
/// an error on stderr, a clean log writes nothing and needs no stdout.
#[test]
fn scan_with_stdout_closed_at_start() {
    let dir = TempDir::new("scan-closed");
    let leaked = dir.0.join("leaked.log");
    let clean = dir.0.join("clean.log");
    std::fs::write(&leaked, "a hunter22 line\n").unwrap();
    std::fs::write(&clean, "a clean line\n").unwrap();
    for (path, code, error) in [(&leaked, 1, true), (&clean, 0, false)] {
        let mut command = logmask();
        command.arg("scan").args(["-s", "hunter22"]).arg(path);
        command.stdin(Stdio::null()).stderr(Stdio::piped());
        // SAFETY: close(2) is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let output = command.output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{err}");
        assert_eq!(
            err.contains("cannot write to stdout: Bad file descriptor"),
            error,
            "{err}"
        );
    }
}

/// The reader of stdout goes away (EPIPE): filter mode ends quietly with
/// status 0, in the middle of a stream and before the first byte; exec
/// mode drains the command and keeps its status.
#[test]
fn stdout_closed_early() {
    // Mid-stream: read a little, then close.
    let mut command = logmask_with(&["-s", "hunter22"]);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let line = b"a line with hunter22 in it\n".repeat(4096);
        for _ in 0..2000 {
            if stdin.write_all(&line).is_err() {
                return true;
            }
        }
        false
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; 4096];
    stdout.read_exact(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("a line with *** in it\n"));
    drop(stdout);
    let err = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, Duration::from_secs(60));
    assert!(writer.join().unwrap(), "logmask read all its input");
    assert_eq!(finished.code, Some(0));
    assert_eq!(String::from_utf8_lossy(&err.join().unwrap()), "");

    // Closed before logmask writes anything.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = logmask_with(&["-s", "hunter22"]);
    command
        .stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&b"hunter22 here\n".repeat(100_000));
    });
    let err = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, Duration::from_secs(60));
    feeder.join().unwrap();
    assert_eq!(finished.code, Some(0));
    assert_eq!(String::from_utf8_lossy(&err.join().unwrap()), "");

    // Exec mode: the command writes on, logmask drains it and exits with
    // its status.
    let mut command = logmask_with(&[
        "-s",
        "hunter22",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do echo \"line $i hunter22\"; i=$((i+1)); done; exit 3",
    ]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"line 0 ***\n"));
    drop(stdout);
    let err = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, Duration::from_secs(60));
    assert_eq!(finished.code, Some(3));
    assert_eq!(String::from_utf8_lossy(&err.join().unwrap()), "");
}

/// A process that may start no thread (RLIMIT_NPROC reached, as under a
/// container's pids limit) does the work of the threads it would start on
/// the main thread: enough secrets for the parallel expansion and the
/// parallel build, and enough in-band values for a fold merged on a
/// thread of its own, all masked, nothing on stderr. The run drops to
/// `nobody` when the suite runs as root, whom the limit does not bind.
#[test]
fn no_thread_can_start() {
    let mut rng = Rng(0x5eed_0042);
    let secrets: Vec<Vec<u8>> = (0..3000).map(|_| rng.word(ALNUM, 24)).collect();
    let dir = TempDir::new("nproc");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = dir.secrets_file(&secrets);
    // A copy the other user can reach: the checkout may sit under a
    // directory it cannot traverse.
    let bin = dir.0.join("logmask-copy");
    std::fs::copy(env!("CARGO_BIN_EXE_logmask"), &bin).unwrap();
    let (mut input, mut expected) = (Vec::new(), Vec::new());
    for (i, secret) in secrets.iter().enumerate().step_by(7) {
        input.extend_from_slice(format!("line {i}: ").as_bytes());
        input.extend_from_slice(secret);
        input.extend_from_slice(b" end\n");
        expected.extend_from_slice(format!("line {i}: *** end\n").as_bytes());
    }
    // A burst of 5,000 values registered a line at a time (folds of
    // thousands of variants, merged on a thread where one starts), then
    // each one's Base64 form.
    let parts: Vec<Vec<u8>> = (0..5000).map(|_| rng.word(ALNUM, 30)).collect();
    for (i, part) in parts.iter().enumerate() {
        input.extend_from_slice(b"::add-mask::");
        input.extend_from_slice(part);
        // A line searched after each: a build each.
        input.extend_from_slice(format!("\nstep {i}\n").as_bytes());
        expected.extend_from_slice(format!("step {i}\n").as_bytes());
    }
    for part in &parts {
        // 30 bytes: 40 characters, no padding, every one the part's.
        let form = STANDARD.encode(part);
        input.extend_from_slice(format!("late {form}\n").as_bytes());
        expected.extend_from_slice(b"late ***\n");
    }
    let mut command = Command::new(&bin);
    command.args(["--no-default-env", "-f"]).arg(&file);
    // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let one = libc::rlimit {
                rlim_cur: 1,
                rlim_max: 1,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &one) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::geteuid() == 0
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = run_command(command, &input);
    assert_eq!(run.stderr(), "");
    assert_eq!(run.code(), 0);
    assert!(run.stdout == expected, "{}", run.stdout());
}

/// A wrapped command killed by SIGKILL: exit 137, its output still masked.
#[test]
fn wrapped_command_killed_by_sigkill() {
    let run = support::run(
        &[
            "-s",
            "hunter22",
            "--",
            "sh",
            "-c",
            "echo before hunter22; echo err hunter22 >&2; kill -KILL $$; echo after",
        ],
        b"",
    );
    assert_eq!(run.code(), 137, "{}", run.stderr());
    assert_eq!(run.stdout(), "before ***\n");
    assert_eq!(run.stderr(), "err ***\n");
}

/// A wrapped command closes its stdout and keeps writing to stderr: every
/// stderr line arrives masked, nothing blocks.
#[test]
fn wrapped_command_closes_stdout_keeps_writing_stderr() {
    let run = support::run(
        &[
            "-s",
            "hunter22",
            "--",
            "sh",
            "-c",
            "echo out hunter22; exec 1>&-; \
             i=0; while [ $i -lt 5000 ]; do echo \"err $i hunter22\" >&2; i=$((i+1)); done; \
             yes 'bulk hunter22 line' | head -n 300000 >&2; echo done >&2",
        ],
        b"",
    );
    assert_eq!(
        run.code(),
        0,
        "{}",
        &run.stderr()[..200.min(run.stderr.len())]
    );
    assert_eq!(run.stdout(), "out ***\n");
    let err = run.stderr();
    assert_eq!(err.lines().count(), 5000 + 300_000 + 1);
    assert!(err.starts_with("err 0 ***\nerr 1 ***\n"));
    assert!(err.ends_with("bulk *** line\ndone\n"));
    run.leaks_nothing(b"hunter22");
}

/// SIGTERM sent to logmask reaches the command, which traps it.
#[test]
fn sigterm_reaches_the_child() {
    let mut command = logmask_with(&[
        "-s",
        "hunter22",
        "--",
        "sh",
        "-c",
        "trap 'echo got-term hunter22; exit 7' TERM; echo ready; \
         i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo timeout",
    ]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let mut stdout = child.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    stdout.read_exact(&mut ready).unwrap();
    assert_eq!(&ready, b"ready\n");
    // SAFETY: our own unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = collect(stdout);
    let err = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, Duration::from_secs(30));
    assert_eq!(
        String::from_utf8_lossy(&out.join().unwrap()),
        "got-term ***\n"
    );
    assert_eq!(finished.code, Some(7));
    assert_eq!(String::from_utf8_lossy(&err.join().unwrap()), "");
}

/// Every warning and error path, run with a registered secret that also
/// appears where it could be echoed: stderr never contains it.
#[test]
fn warnings_and_errors_never_show_a_secret() {
    const S: &str = "Sup3rS3cretValue";
    let dir = TempDir::new("paths");
    let over = "V".repeat(64 * KIB + 1);
    let over_file = dir.file("over", over.as_bytes());
    let blank = dir.file("blank", b"  \n\t\n");
    let empty = dir.file("empty", b"");
    let not_dir = dir.file("plain", b"x");
    let with_secret = dir.file("with-secret", format!("{S}\nabc\n").as_bytes());
    let bad_path = format!("{}/x", not_dir.display());
    let mut cases: Vec<(Vec<String>, Vec<(&str, &str)>, &str, i32)> = vec![
        // Warnings, exit 0.
        (
            vec!["-s".into(), S.into(), "-s".into(), "abc".into()],
            vec![],
            "",
            0,
        ),
        (
            vec!["-s".into(), S.into(), "-s".into(), "  \t".into()],
            vec![],
            "",
            0,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "-e".into(),
                "LOGMASK_UNSET_VAR".into(),
            ],
            vec![],
            "",
            0,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "-e".into(),
                "LOGMASK_EMPTY_VAR".into(),
            ],
            vec![("LOGMASK_EMPTY_VAR", "")],
            "",
            0,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "--env-prefix".into(),
                "LOGMASK_NONE_".into(),
            ],
            vec![],
            "",
            0,
        ),
        (
            vec!["--env-prefix".into(), "LOGMASK_HOSTILE_".into()],
            vec![
                ("LOGMASK_HOSTILE_A", S),
                ("LOGMASK_HOSTILE_B", over.as_str()),
                ("LOGMASK_HOSTILE_C", "ab"),
            ],
            "",
            0,
        ),
        (
            vec![
                "-f".into(),
                with_secret.display().to_string(),
                "--secret-file".into(),
                blank.display().to_string(),
            ],
            vec![],
            "",
            0,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "--secret-file".into(),
                empty.display().to_string(),
            ],
            vec![],
            "",
            0,
        ),
        (
            vec!["-s".into(), S.into(), "--min-length".into(), "40".into()],
            vec![],
            "",
            0,
        ),
        // In-band warnings on lines that hold the secret.
        (
            vec!["-s".into(), S.into()],
            vec![],
            "::add-mask::ab\n::add-mask:: \t\n::stop-commands::ab\n::ab::\n::stop-commands::  \nx Sup3rS3cretValue\n",
            0,
        ),
        (
            vec!["-s".into(), S.into(), "--stats".into()],
            vec![],
            "Sup3rS3cretValue\n",
            0,
        ),
        // Usage errors, exit 2.
        (
            vec!["-s".into(), S.into(), format!("--secert={S}")],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), format!("--secret-fil={S}")],
            vec![],
            "",
            2,
        ),
        (vec!["-s".into(), S.into(), S.into()], vec![], "", 2),
        (vec![S.into()], vec![], "", 2),
        (
            vec![
                "-s".into(),
                S.into(),
                "--encodings".into(),
                "raw,bogus".into(),
            ],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "--encodings".into(), "".into()],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "--min-length".into(), "0".into()],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "--replacement".into(), "a\nb".into()],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "--env-prefix".into(), "".into()],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "-e".into(), "A=B".into()],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "-e".into(), "LOGMASK_OVER".into()],
            vec![("LOGMASK_OVER", over.as_str())],
            "",
            2,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "--secret-file".into(),
                over_file.display().to_string(),
            ],
            vec![],
            "",
            2,
        ),
        (
            vec!["-s".into(), S.into(), "-f".into(), bad_path.clone()],
            vec![],
            "",
            2,
        ),
        // A path that cannot be read, named after a value given before
        // it, after it, or in the environment (a default GLOB's).
        (
            vec![
                "-s".into(),
                S.into(),
                "-f".into(),
                format!("{}/{S}", dir.0.display()),
            ],
            vec![],
            "",
            2,
        ),
        (
            vec![
                "--secret-file".into(),
                format!("/missing/{S}.txt"),
                "-s".into(),
                S.into(),
            ],
            vec![],
            "",
            2,
        ),
        (
            vec!["-f".into(), format!("/missing/{S}")],
            vec![("LOGMASK_HOSTILE_TOKEN", S)],
            "",
            2,
        ),
        (
            vec![
                "-s".into(),
                S.into(),
                "--no-commands".into(),
                "--pass-commands".into(),
            ],
            vec![],
            "",
            2,
        ),
        (vec!["-s".into(), S.into(), "--".into()], vec![], "", 2),
        (vec!["-s".into(), S.into(), "-s".into()], vec![], "", 2),
        // Exec: a command that cannot start.
        (
            vec![
                "-s".into(),
                S.into(),
                "--".into(),
                "/nonexistent/logmask-test-cmd".into(),
            ],
            vec![],
            "",
            127,
        ),
        // Exec: warnings about the command's streams.
        (
            vec![
                "-s".into(),
                S.into(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                "echo '::add-mask::ab'; echo \"::add-mask::$V\" >&2; echo \"$V\" >&2; echo \"$V\""
                    .into(),
            ],
            vec![("V", S)],
            "",
            0,
        ),
    ];
    for (args, env, input, want_code) in cases.drain(..) {
        let mut command = logmask_with(&args);
        for (k, v) in &env {
            command.env(k, v);
        }
        let run = run_command(command, input.as_bytes());
        assert_eq!(run.code(), want_code, "{args:?}: {}", run.stderr());
        run.leaks_nothing(S.as_bytes());
        run.leaks_nothing(&over.as_bytes()[..64]);
        if want_code != 0 {
            assert!(
                run.stderr().contains("logmask: error: "),
                "{args:?}: {}",
                run.stderr()
            );
        }
    }

    // I/O errors: stdout is a full device, stdin a directory.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let mut command = logmask_with(&["-s", S]);
        command
            .stdin(Stdio::piped())
            .stdout(full)
            .stderr(Stdio::piped());
        let (mut child, started) = spawn(&mut command);
        let mut stdin = child.stdin.take().unwrap();
        let feeder = thread::spawn(move || {
            let _ = stdin.write_all(format!("x {S}\n").repeat(100_000).as_bytes());
        });
        let err = collect(child.stderr.take().unwrap());
        let finished = wait_rusage(&child, started, Duration::from_secs(30));
        feeder.join().unwrap();
        let err = err.join().unwrap();
        assert_eq!(finished.code, Some(1));
        assert!(memmem::find(&err, S.as_bytes()).is_none());
    }
    let mut command = logmask_with(&["-s", S]);
    command
        .stdin(std::fs::File::open(&dir.0).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let finished = wait_rusage(&child, started, Duration::from_secs(30));
    let (_, err) = (out.join().unwrap(), err.join().unwrap());
    assert_eq!(finished.code, Some(1), "{}", String::from_utf8_lossy(&err));
    assert!(memmem::find(&err, S.as_bytes()).is_none());
}

/// A command whose name holds a registered secret cannot be started: the
/// error names the command, and so shows the secret.
#[test]
fn command_name_holding_a_secret_is_not_shown() {
    const S: &str = "Sup3rS3cretValue";
    let path = format!("/nonexistent/{S}/tool");
    let run = support::run(&["-s", S, "--", &path], b"");
    assert_eq!(run.code(), 127);
    run.leaks_nothing(S.as_bytes());
}

// ---------------------------------------------------------------------------
// Masking under cost pressure, checked for correctness

/// The same secrets through the library on a small slice agree with the
/// binary: a cheap check that the cost tests mask the right bytes.
#[test]
fn affix_masking_matches_the_library_on_a_slice() {
    let mut rng = Rng(0x5eed_0007);
    let base = rng.word(b"ab", 200);
    let mut secrets = Vec::new();
    for n in 4..=200 {
        secrets.push(base[..n].to_vec());
        secrets.push(base[200 - n..].to_vec());
    }
    let dir = TempDir::new("affix-slice");
    let file = dir.secrets_file(&secrets);
    let mut input = Vec::new();
    for _ in 0..2000 {
        let cut = (rng.next() % 200) as usize;
        if rng.next().is_multiple_of(2) {
            input.extend_from_slice(&base[..cut]);
        } else {
            input.extend_from_slice(&base[cut..]);
        }
        if rng.next().is_multiple_of(7) {
            input.push(b'\n');
        }
    }
    let registry = std::sync::Arc::new(Registry::with_config(Config {
        min_length: 4,
        encodings: [logmask::Encoding::Raw].into_iter().collect(),
    }));
    for s in &secrets {
        registry.add(s).unwrap();
    }
    let want = logmask::mask(&registry, &input);
    let run = support::run(
        &[
            "-f".as_ref(),
            file.as_os_str(),
            "--encodings".as_ref(),
            "raw".as_ref(),
        ],
        &input,
    );
    assert_eq!(run.code(), 0);
    assert!(run.stdout == want, "binary and library disagree");
}

/// SPEC 5: a stdin that another process left `O_NONBLOCK` (Node.js does
/// so with its stdio pipes, and the file description is shared) is waited
/// on. The first line is read, the pipe then runs empty while its writer
/// is still there, so the next read would fail with EAGAIN; the rest must
/// still arrive, masked, and logmask exit 0.
#[test]
fn a_non_blocking_stdin_is_waited_on() {
    const S: &str = "n0nBl0ckingS3cret";
    let (read, mut write) = std::io::pipe().unwrap();
    // SAFETY: fcntl on a descriptor this test owns.
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = read.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
    }
    let mut command = logmask_with(&["-s", S]);
    command
        .stdin(read)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, started) = spawn(&mut command);
    drop(command);
    let mut out = LineReader::new(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    write.write_all(b"first\n").unwrap();
    assert!(
        out.wait_for("first\n", Duration::from_secs(10)),
        "{:?}",
        out.seen
    );
    write.write_all(format!("second {S}\n").as_bytes()).unwrap();
    drop(write);
    let finished = wait_rusage(&child, started, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    assert_eq!(finished.code, Some(0), "{err}");
    assert_eq!(out.rest(), "first\nsecond ***\n");
    assert_eq!(err, "");
}

/// SPEC 5: the "cannot run" error masks the command name as bytes. A
/// secret that is not UTF-8 used to be converted to text first, its
/// invalid byte replaced, and then no longer matched: the rest showed.
#[test]
fn a_non_utf8_secret_in_the_command_name_is_masked_as_bytes() {
    use std::ffi::OsStr;
    let secret = OsStr::from_bytes(b"\xffN0nUtf8S3cret");
    let mut path = b"/nonexistent/".to_vec();
    path.extend_from_slice(secret.as_bytes());
    path.extend_from_slice(b"/tool");
    let run = support::run(
        &[
            OsStr::new("-s"),
            secret,
            OsStr::new("--"),
            OsStr::from_bytes(&path),
        ],
        b"",
    );
    assert_eq!(run.code(), 127);
    assert_eq!(
        run.stderr(),
        "logmask: error: cannot run '/nonexistent/***/tool': \
         No such file or directory (os error 2)\n"
    );
    run.leaks_nothing("N0nUtf8S3cret");
}

/// SPEC 5: a warning names `--env NAME` only for a conventional name
/// (`[A-Z_][A-Z0-9_]*`, at most 64 bytes), else `--env #N`: a value typed
/// where a name belongs (`--env "$TOKEN"`) must not be printed.
#[test]
fn env_warnings_name_only_conventional_names() {
    let long = format!("A{}", "B".repeat(64));
    let named_64 = format!("--env {}", &long[..64]);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--env", "LOGMASK_UNSET_1"],
            vec!["--env LOGMASK_UNSET_1"],
        ),
        (vec!["--env", "_X9"], vec!["--env _X9"]),
        (vec!["--env", &long[..64]], vec![&named_64]),
        (vec!["--env", &long], vec!["--env #1"]),
        (vec!["--env", "ghp_t0kenValue"], vec!["--env #1"]),
        (vec!["--env", "9LIVES"], vec!["--env #1"]),
        (vec!["--env", "tok en"], vec!["--env #1"]),
        (
            vec![
                "--env",
                "LOGMASK_UNSET_1",
                "-s",
                "abcd",
                "-e",
                "s3cr3t-v@lue",
            ],
            vec!["--env LOGMASK_UNSET_1", "--env #2"],
        ),
    ];
    for (args, sources) in cases {
        let run = support::run(&args, b"");
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr());
        let expected: String = sources
            .iter()
            .map(|s| format!("logmask: warning: {s}: variable is not set, nothing masked\n"))
            .collect();
        assert_eq!(run.stderr(), expected, "{args:?}");
    }
}

/// The same rule for `--env-prefix` (SPEC is silent; see README): a
/// prefix is named only when it could begin a conventional name.
#[test]
fn env_prefix_warnings_name_only_conventional_prefixes() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--env-prefix", "LOGMASK_NO_SUCH_"],
            "--env-prefix LOGMASK_NO_SUCH_",
        ),
        (&["--env-prefix", "s3cr3t-v@lue"], "--env-prefix #1"),
        (
            &[
                "--env-prefix",
                "LOGMASK_NO_SUCH_",
                "--env-prefix",
                "hunter2 x",
            ],
            "--env-prefix #2",
        ),
    ];
    for (args, source) in cases {
        let run = support::run(args, b"");
        assert_eq!(run.code(), 0, "{args:?}: {}", run.stderr());
        let last = run.stderr().lines().last().unwrap_or("").to_string();
        assert_eq!(
            last,
            format!("logmask: warning: {source}: no environment variable matches, nothing masked"),
            "{args:?}"
        );
    }
}

/// SPEC 5: every message logmask writes goes through the masker. Here a
/// warning names a `--file` path that holds a registered secret.
#[test]
fn messages_are_masked_too() {
    const S: &str = "PathS3cretValue";
    let dir = TempDir::new("masked-message");
    let list = dir.file(&format!("{S}.txt"), b"ab\n");
    let run = support::run(
        &["-s".as_ref(), S.as_ref(), "-f".as_ref(), list.as_os_str()],
        b"x\n",
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stderr().contains("***.txt:1: "), "{}", run.stderr());
    run.leaks_nothing(S);
}
