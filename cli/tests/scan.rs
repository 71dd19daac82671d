//! `logmask scan` through the binary: trees, links, unreadable paths,
//! gzip and zip, per-file scoping of `::add-mask::`, exit codes, `--json`,
//! `--in-place` (mode, untouched clean files, refusals, a kill before the
//! new file is linked in) and progress on a terminal only.

mod support;
use support as cli_support;
#[path = "../../tests/common/naive_report.rs"]
mod naive_report;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::{LineReader, Run, TempDir, logmask, run, run_command};
use serde_json::Value;

const SECRET: &str = "hunter22";

fn scan(args: &[&str], dir: &Path) -> Run {
    let mut command = logmask();
    command.arg("scan").args(args).current_dir(dir);
    run_command(command, b"")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A tree with nested directories, hidden files, a link loop, a gzip
/// file and a zip archive of two entries.
fn tree() -> TempDir {
    let dir = TempDir::new("scan-tree");
    std::fs::create_dir_all(dir.0.join("logs/b/.hidden")).unwrap();
    std::fs::create_dir_all(dir.0.join("logs/a")).unwrap();
    dir.file("logs/a/1.log", b"ok\nthe token hunter22 here\n");
    dir.file(
        "logs/a/2.log",
        b"::add-mask::only-here-1\nonly-here-1 and aHVudGVyMjI=\n",
    );
    // The previous file's in-band value must not apply here.
    dir.file("logs/a/3.log", b"only-here-1 is not a secret here\n");
    dir.file("logs/b/.hidden/x", b"x=hunter22\n");
    dir.file("logs/b/z.log.gz", &gzip(b"gz line\n  hunter22\n"));
    dir.file(
        "logs/b/run.zip",
        &zip(&[
            ("1_build.txt", b"build hunter22\n"),
            ("2_test.txt", b"t\n\nhunter22"),
        ]),
    );
    std::os::unix::fs::symlink("..", dir.0.join("logs/b/loop")).unwrap();
    std::os::unix::fs::symlink("a/1.log", dir.0.join("logs/link.log")).unwrap();
    dir
}

const TREE_FINDINGS: &str = "\
logs/a/1.log:2:11: --secret #1 (raw)
logs/a/2.log:1:1: ::add-mask:: line
logs/a/2.log:2:1: logs/a/2.log:1 (raw)
logs/a/2.log:2:17: --secret #1 (base64)
logs/b/.hidden/x:1:3: --secret #1 (raw)
logs/b/run.zip!1_build.txt:1:7: --secret #1 (raw)
logs/b/run.zip!2_test.txt:3:1: --secret #1 (raw)
logs/b/z.log.gz:2:3: --secret #1 (raw)
";

#[test]
fn a_tree_is_scanned_in_byte_order_with_archives_and_per_file_scoping() {
    let dir = tree();
    let r = scan(&["-s", SECRET, "logs"], &dir.0);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.stdout(), TREE_FINDINGS);
    assert_eq!(r.stderr(), "logmask: 8 findings in 7 files, 169 bytes\n");
    r.leaks_nothing(SECRET).leaks_nothing("only-here-1");
    // A trailing slash is not doubled; a link named on the command line is
    // followed.
    let r = scan(&["-s", SECRET, "logs/", "logs/link.log"], &dir.0);
    let mut want = TREE_FINDINGS.to_string();
    want.push_str("logs/link.log:2:11: --secret #1 (raw)\n");
    assert_eq!(r.stdout(), want);
}

/// SPEC 8: "A PATH is printed as given": a name that is not UTF-8 comes
/// out as its bytes in the text output, whether named on the command
/// line, found in a directory or holding an archive; JSON, which must be
/// text, gets the name with those bytes replaced.
#[test]
fn names_that_are_not_utf8_are_printed_as_given() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("scan-bytes");
    let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
    std::fs::create_dir_all(dir.0.join(os(b"d\xfe"))).unwrap();
    std::fs::write(dir.0.join(os(b"d\xfe/a\xff.log")), b"x hunter22\n").unwrap();
    std::fs::write(
        dir.0.join(os(b"z\xfd.zip")),
        zip(&[("e.txt", b"hunter22\n")]),
    )
    .unwrap();
    // Info-ZIP stores the name's bytes as they are, not marked UTF-8.
    let zipped = Command::new("zip")
        .args(["-q", "entries.zip"])
        .arg(os(b"d\xfe/a\xff.log"))
        .current_dir(&dir.0)
        .status()
        .expect("zip is on this machine");
    assert!(zipped.success());
    let mut command = logmask();
    command
        .arg("scan")
        .args(["-s", SECRET])
        .arg(os(b"d\xfe"))
        .arg(os(b"z\xfd.zip"))
        .arg("entries.zip")
        .arg(os(b"gone\xfc"))
        .current_dir(&dir.0);
    let r = run_command(command, b"");
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let want: &[u8] = b"d\xfe/a\xff.log:1:3: --secret #1 (raw)\n\
        z\xfd.zip!e.txt:1:1: --secret #1 (raw)\n\
        entries.zip!d\xfe/a\xff.log:1:3: --secret #1 (raw)\n";
    assert_eq!(r.stdout, want, "{:?}", r.stdout());
    // Messages on stderr are text: the name's bytes replaced there.
    assert!(
        r.stderr().contains("gone\u{fffd}: cannot read"),
        "{}",
        r.stderr()
    );
    let mut command = logmask();
    command
        .arg("scan")
        .args(["--json", "-s", SECRET])
        .arg(os(b"d\xfe"))
        .current_dir(&dir.0);
    let r = run_command(command, b"");
    let record: Value = serde_json::from_str(r.stdout().trim()).unwrap();
    assert_eq!(record["path"], "d\u{fffd}/a\u{fffd}.log");
}

#[test]
fn exit_status_is_in_greps_order() {
    let dir = tree();
    std::fs::write(dir.0.join("clean.log"), b"nothing\n").unwrap();
    // (args, status, stdout holds findings)
    let cases: &[(&[&str], i32, bool)] = &[
        (&["-s", SECRET, "clean.log"], 0, false),
        (&["-s", SECRET, "logs/a/1.log"], 1, true),
        (&["-s", SECRET, "missing.log", "logs/a/1.log"], 2, true),
        (&["-s", SECRET, "clean.log", "missing.log"], 2, false),
        (&["-s", SECRET, "--no-such-option", "clean.log"], 2, false),
        (&["--min-length", "0", "clean.log"], 2, false),
        (&["--replacement", "a\nb", "clean.log"], 2, false),
        (&["--no-commands", "logs/a/2.log"], 0, false),
        (&["logs/a/2.log"], 1, true),
    ];
    for (args, code, found) in cases {
        let r = scan(args, &dir.0);
        assert_eq!(r.code(), *code, "{args:?}: {}", r.stderr());
        assert_eq!(!r.stdout.is_empty(), *found, "{args:?}: {}", r.stdout());
        if args.contains(&"missing.log") {
            assert!(
                r.stderr().contains("missing.log: cannot read"),
                "{}",
                r.stderr()
            );
        }
    }
}

#[test]
fn unreadable_files_and_corrupt_archives_are_errors_but_the_rest_is_scanned() {
    let dir = tree();
    dir.file("bad.gz", b"\x1f\x8b\x08\x00not really gzip");
    dir.file("bad.zip", b"PK\x03\x04 not really a zip at all");
    let r = scan(&["-s", SECRET, "bad.gz", "bad.zip", "logs/a/1.log"], &dir.0);
    assert_eq!(r.code(), 2);
    assert_eq!(r.stdout(), "logs/a/1.log:2:11: --secret #1 (raw)\n");
    assert!(r.stderr().contains("bad.gz: cannot read"), "{}", r.stderr());
    assert!(
        r.stderr().contains("bad.zip: cannot read"),
        "{}",
        r.stderr()
    );
    // A file of mode 000, scanned by a user who cannot read it.
    if unsafe { libc::geteuid() } == 0 && Path::new("/usr/bin/setpriv").exists() {
        let secret_file = dir.file("closed.log", b"hunter22\n");
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A copy the other user can reach: the checkout may sit under a
        // directory it cannot traverse.
        let bin = dir.0.join("logmask-copy");
        std::fs::copy(env!("CARGO_BIN_EXE_logmask"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .args(["scan", "-s", SECRET, "closed.log", "logs/a/1.log"])
            .current_dir(&dir.0);
        let r = run_command(command, b"");
        assert_eq!(r.code(), 2, "{}", r.stderr());
        assert!(
            r.stderr().contains("closed.log: cannot read"),
            "{}",
            r.stderr()
        );
        assert_eq!(r.stdout(), "logs/a/1.log:2:11: --secret #1 (raw)\n");
    }
}

#[test]
fn json_output_parses_and_holds_no_value() {
    let dir = tree();
    let r = scan(&["-s", SECRET, "--json", "logs"], &dir.0);
    assert_eq!(r.code(), 1);
    r.leaks_nothing(SECRET).leaks_nothing("only-here-1");
    let values: Vec<Value> = r
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(values.len(), TREE_FINDINGS.lines().count());
    for (value, text) in values.iter().zip(TREE_FINDINGS.lines()) {
        assert!(value.get("stream").is_none() && value.get("summary").is_none());
        let path = value["path"].as_str().unwrap();
        let head = format!("{path}:{}:{}:", value["line"], value["column"]);
        assert!(text.starts_with(&head), "{text} vs {value}");
    }
    assert_eq!(
        values[1]["matches"],
        serde_json::json!([{"command": "add-mask"}])
    );
    // `::add-mask::only-here-1` is 23 bytes of content.
    assert_eq!(values[1]["length"], 23);
    assert_eq!(values[1]["offset"], 0);
    assert_eq!(values[2]["offset"], 24);
}

#[test]
fn stdin_is_scanned_as_dash_also_when_compressed() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"a hunter22\n".to_vec(), "-:1:3: --secret #1 (raw)\n"),
        (gzip(b"\n\nhunter22"), "-:3:1: --secret #1 (raw)\n"),
        (
            zip(&[("e1", b"hunter22\n"), ("e2", b"x hunter22\n")]),
            "-!e1:1:1: --secret #1 (raw)\n-!e2:1:3: --secret #1 (raw)\n",
        ),
    ];
    for (input, want) in cases {
        for args in [&["scan", "-s", SECRET][..], &["scan", "-s", SECRET, "-"]] {
            let r = run(args, &input);
            assert_eq!(r.code(), 1, "{}", r.stderr());
            assert_eq!(r.stdout(), want);
        }
    }
}

#[test]
fn many_files_are_printed_in_path_order() {
    let dir = TempDir::new("scan-order");
    let mut want = String::new();
    for i in 0..40 {
        // Bigger files first, so that threads finish out of order.
        let pad = "x".repeat((40 - i) * 5000);
        dir.file(
            &format!("f{i:02}.log"),
            format!("{pad}\nhunter22 {i}\n").as_bytes(),
        );
        want.push_str(&format!(
            "{}/f{i:02}.log:2:1: --secret #1 (raw)\n",
            dir.0.display()
        ));
    }
    let r = run(
        &[
            "scan".as_ref(),
            "-s".as_ref(),
            SECRET.as_ref(),
            dir.0.as_os_str(),
        ],
        b"",
    );
    assert_eq!(r.code(), 1);
    assert_eq!(r.stdout(), want);
}

fn filter_output(args: &[&str], input: &[u8]) -> Vec<u8> {
    let r = run(args, input);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    r.stdout
}

#[test]
fn in_place_rewrites_as_filter_mode_keeps_mode_and_leaves_clean_files_alone() {
    let dir = TempDir::new("scan-inplace");
    let dirty: &[u8] =
        b"keep\n::add-mask::in-band-9\nin-band-9 hunter22 aHVudGVyMjI=\r\nlast hunter22";
    let dirty_path = dir.file("dirty.log", dirty);
    std::fs::set_permissions(&dirty_path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let clean_path = dir.file("clean.log", b"nothing to see\n");
    let before_clean = std::fs::metadata(&clean_path).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let r = scan(&["-s", SECRET, "--in-place", "."], &dir.0);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.stdout().lines().count(), 5);
    let rewritten = std::fs::read(&dirty_path).unwrap();
    assert_eq!(rewritten, filter_output(&["-s", SECRET], dirty));
    assert_eq!(rewritten, b"keep\n*** *** ***I=\r\nlast ***");
    let meta = std::fs::metadata(&dirty_path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    let after_clean = std::fs::metadata(&clean_path).unwrap();
    assert_eq!(after_clean.ino(), before_clean.ino());
    assert_eq!(after_clean.mtime_nsec(), before_clean.mtime_nsec());
    assert_eq!(after_clean.mtime(), before_clean.mtime());
    let names = dir_names(&dir.0);
    assert_eq!(names, ["clean.log", "dirty.log"]);
    // A second scan finds nothing: what is left is masked.
    assert_eq!(scan(&["-s", SECRET, "--in-place", "."], &dir.0).code(), 0);
}

/// A link named on the command line is followed to be read (SPEC 8), and
/// `--in-place` rewrites the file it leads to, in that file's directory:
/// the link stays a link. Relative, `../` and absolute links alike.
#[test]
fn in_place_through_a_link_named_on_the_command_line_rewrites_its_target() {
    let dir = TempDir::new("scan-link");
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    let target = dir.file("sub/target.log", b"a hunter22\n");
    let absolute = target.canonicalize().unwrap();
    let links = [
        ("plain.log", PathBuf::from("sub/target.log")),
        (
            "up.log",
            PathBuf::from(format!(
                "../{}/sub/target.log",
                dir.0.file_name().unwrap().to_str().unwrap()
            )),
        ),
        ("absolute.log", absolute),
    ];
    for (name, to) in links {
        std::fs::write(&target, b"a hunter22\n").unwrap();
        std::os::unix::fs::symlink(&to, dir.0.join(name)).unwrap();
        let r = scan(&["-s", SECRET, "--in-place", name], &dir.0);
        assert_eq!(r.code(), 1, "{name}: {}", r.stderr());
        assert_eq!(std::fs::read(&target).unwrap(), b"a ***\n", "{name}");
        let meta = std::fs::symlink_metadata(dir.0.join(name)).unwrap();
        assert!(meta.file_type().is_symlink(), "{name} is no longer a link");
        assert_eq!(dir_names(&dir.0.join("sub")), ["target.log"], "{name}");
    }
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn in_place_refuses_archives_stdin_and_hard_links_but_prints_findings() {
    let dir = TempDir::new("scan-refuse");
    let gz = gzip(b"hunter22\n");
    dir.file("a.log.gz", &gz);
    dir.file("b.zip", &zip(&[("e", b"hunter22\n")]));
    dir.file("c.log", b"hunter22\n");
    std::fs::hard_link(dir.0.join("c.log"), dir.0.join("c-link.log")).unwrap();
    let r = scan(
        &["-s", SECRET, "--in-place", "a.log.gz", "b.zip", "c.log"],
        &dir.0,
    );
    assert_eq!(r.code(), 2);
    assert_eq!(r.stdout().lines().count(), 3, "{}", r.stdout());
    for name in [
        "a.log.gz: cannot rewrite",
        "b.zip: cannot rewrite",
        "c.log: cannot rewrite",
    ] {
        assert!(r.stderr().contains(name), "{name}: {}", r.stderr());
    }
    assert_eq!(std::fs::read(dir.0.join("a.log.gz")).unwrap(), gz);
    assert_eq!(std::fs::read(dir.0.join("c.log")).unwrap(), b"hunter22\n");
    let r = run(&["scan", "-s", SECRET, "--in-place"], b"hunter22\n");
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("-: cannot rewrite"), "{}", r.stderr());
    assert_eq!(r.stdout(), "-:1:1: --secret #1 (raw)\n");
}

#[test]
fn a_kill_before_the_new_file_is_linked_leaves_the_old_file_whole() {
    let dir = TempDir::new("scan-kill");
    let content = b"line hunter22\n".repeat(1000);
    let path = dir.file("big.log", &content);
    let mut child = logmask()
        .args(["scan", "-s", SECRET, "--in-place", "big.log"])
        .env("LOGMASK_TEST_PAUSE_BEFORE_LINK", "1")
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = LineReader::new(child.stderr.take().unwrap());
    assert!(
        stderr.wait_for("paused before link", Duration::from_secs(30)),
        "{}",
        String::from_utf8_lossy(&stderr.seen)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), content);
    let names = dir_names(&dir.0);
    // An unnamed temporary file leaves nothing; a named one only .logmask-*.
    assert!(
        names
            .iter()
            .all(|n| n == "big.log" || n.starts_with(".logmask-")),
        "{names:?}"
    );
    // Run to completion now: the new file is whole.
    let r = scan(&["-s", SECRET, "--in-place", "big.log"], &dir.0);
    assert_eq!(r.code(), 1);
    assert_eq!(std::fs::read(&path).unwrap(), b"line ***\n".repeat(1000));
}

/// A scan that reads a FIFO the test feeds slowly, so it runs > 1 s.
/// `scan -s SECRET FIFO AFTER...` while the FIFO is written slowly.
fn slow_scan(dir: &TempDir, under_pty: bool, after: &str) -> String {
    let fifo = dir.0.join("slow.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let logmask = env!("CARGO_BIN_EXE_logmask");
    let err_file = dir.0.join("stderr.txt");
    let mut command = if under_pty {
        let mut c = Command::new("script");
        c.args(["-qfec"])
            .arg(format!(
                "{logmask} scan -s {SECRET} {} {after}",
                fifo.display()
            ))
            .arg("/dev/null");
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    } else {
        let mut c = Command::new(logmask);
        c.args(["scan", "-s", SECRET])
            .arg(&fifo)
            .args(after.split_whitespace());
        c.stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err_file).unwrap());
        c
    };
    let mut child = command.stdin(Stdio::null()).spawn().unwrap();
    let out = cli_support::collect(child.stdout.take().unwrap());
    let err = child.stderr.take().map(cli_support::collect);
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    for _ in 0..16 {
        writer.write_all(b"hunter22 and more\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(writer);
    cli_support::wait_with_deadline(&mut child, Duration::from_secs(30));
    let mut all = out.join().unwrap();
    if let Some(err) = err {
        all.extend(err.join().unwrap());
    }
    if !under_pty {
        all.extend(std::fs::read(&err_file).unwrap());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let dir = TempDir::new("scan-progress");
    let plain = slow_scan(&dir, false, "");
    assert!(!plain.contains("scanning"), "{plain:?}");
    assert!(
        !plain.contains('\r') && !plain.contains('\x1b'),
        "{plain:?}"
    );
    assert!(
        plain.ends_with("logmask: 16 findings in 1 files, 288 bytes\n"),
        "{plain:?}"
    );
    if Command::new("script").arg("--version").output().is_err() {
        return;
    }
    let dir = TempDir::new("scan-progress-pty");
    let shown = slow_scan(&dir, true, "missing.log");
    assert!(shown.contains("logmask: scanning"), "{shown:?}");
    assert!(shown.contains("16 findings in 1 files"), "{shown:?}");
    assert!(!shown.contains(SECRET), "{shown:?}");
    // A FIFO has no size: the total is unknown, not 0 B.
    assert!(shown.contains("/? ("), "{shown:?}");
    assert!(!shown.contains("/0 B"), "{shown:?}");
    // The PATH's error, printed while the line is shown, is on a line of
    // its own: the progress line is cleared before it.
    let error = shown
        .find("logmask: error: missing.log")
        .expect("the error");
    let line_start = shown[..error].rfind(['\r', '\n']).map_or(0, |at| at + 1);
    assert!(
        !shown[line_start..error].contains("scanning"),
        "{:?}",
        &shown[line_start..]
    );
}

#[test]
fn oracle_positions_through_scan() {
    // The same oracle as the engine tests, through `scan --json` on a file.
    let dir = TempDir::new("scan-oracle");
    let input: &[u8] = b"a hunter22 b\n  ::add-mask::qwerty-1\nqwerty-1hunter22 cXdlcnR5LTE\n";
    dir.file("in.log", input);
    let r = scan(
        &[
            "-s",
            SECRET,
            "--encodings",
            "raw,base64,url",
            "--json",
            "in.log",
        ],
        &dir.0,
    );
    let got: Vec<naive_report::NaiveRun> = r
        .stdout()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            naive_report::NaiveRun {
                offset: v["offset"].as_u64().unwrap(),
                line: v["line"].as_u64().unwrap(),
                column: v["column"].as_u64().unwrap(),
                length: v["length"].as_u64().unwrap(),
                matches: v["matches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| match m.get("command") {
                        Some(_) => "command".to_string(),
                        None => format!(
                            "{} ({})",
                            m["source"].as_str().unwrap(),
                            m["form"].as_str().unwrap()
                        ),
                    })
                    .collect(),
            }
        })
        .collect();
    let want = naive_report::naive_runs(
        input,
        &[(b"hunter22", "--secret #1")],
        4,
        true,
        true,
        "in.log",
    );
    assert_eq!(got, want);
}

#[test]
fn secret_sources_replacement_and_agent_options() {
    let dir = TempDir::new("scan-options");
    dir.file("secrets.txt", b"\nfile-secret-1\n");
    dir.file("key.pem", b"whole-file-secret\n");
    dir.file(
        "in.log",
        b"a file-secret-1 b env-secret-22 c whole-file-secret d short\n",
    );
    let mut command = logmask();
    command
        .args(["scan", "--file", "secrets.txt", "--env", "LM_SCAN_PW"])
        .args(["--secret-file", "key.pem", "--env-prefix", "LM_SHORT_"])
        .args(["--min-length", "5", "--agent", "/nonexistent/agent.sock"])
        .args(["--replacement", "[x]", "--in-place", "in.log"])
        .env("LM_SCAN_PW", "env-secret-22")
        .env("LM_SHORT_A", "short")
        .current_dir(&dir.0);
    let r = run_command(command, b"");
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(
        r.stdout(),
        "in.log:1:3: --file secrets.txt:2 (raw)\n\
         in.log:1:19: --env LM_SCAN_PW (raw)\n\
         in.log:1:35: --secret-file key.pem (raw)\n\
         in.log:1:55: --env-prefix LM_SHORT_ (LM_SHORT_A) (raw)\n"
    );
    // An agent that cannot be reached is one warning; the scan goes on
    // with the secrets it has (SPEC 9).
    assert_eq!(
        r.stderr().matches("cannot reach the agent").count(),
        1,
        "{}",
        r.stderr()
    );
    r.leaks_nothing("secret-22").leaks_nothing("file-secret");
    assert_eq!(
        std::fs::read(dir.0.join("in.log")).unwrap(),
        b"a [x] b [x] c [x] d [x]\n"
    );
    let r = scan(&["--help"], &dir.0);
    assert_eq!(r.code(), 0);
    assert!(r.stdout().contains("logmask scan [OPTIONS] [PATH]..."));
}

/// `scan` takes the detector options of SPEC 5 as filter mode does: the
/// default is every detector, `--detect` chooses, `--no-detect` none.
#[test]
fn scan_takes_the_detector_options() {
    let dir = TempDir::new("scan-detect");
    // Public test vectors: a GitHub token with a valid checksum and a URL
    // password.
    dir.file(
        "ci.log",
        b"token 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\ngit https://u:pa55w0rd@example.com/r\n",
    );
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[],
            1,
            "ci.log:1:11: detected github\nci.log:2:15: detected url-credentials\n",
        ),
        (&["--detect", "github"], 1, "ci.log:1:11: detected github\n"),
        (&["--no-detect"], 0, ""),
    ];
    for (options, code, want) in cases {
        let mut args = options.to_vec();
        args.push("ci.log");
        let r = scan(&args, &dir.0);
        assert_eq!(r.code(), *code, "{options:?}: {}", r.stderr());
        assert_eq!(r.stdout(), *want, "{options:?}");
        r.leaks_nothing("zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17")
            .leaks_nothing("pa55w0rd");
    }
}

/// A finding's source label holds no value (SPEC 8), whether the value
/// came from the command line or in-band from the file itself: an
/// in-band value is known to that file's stream only, and its label
/// (`PATH:LINE`) was printed as it was. The PATH column stays as given.
#[test]
fn source_labels_are_masked_with_the_streams_own_values_too() {
    let dir = TempDir::new("scan-inband-label");
    // (file, command line, value added in-band, the finding's label)
    let cases: [(&str, &[&str], &str, &str); 3] = [
        ("inbandval9.log", &[], "inbandval9", "***.log:1"),
        (
            "cmdline-hunter22.log",
            &["-s", SECRET],
            "otherval77",
            "cmdline-***.log:1",
        ),
        (
            "hunter22-inbandval8.log",
            &["-s", SECRET],
            "inbandval8",
            "***-***.log:1",
        ),
    ];
    for (name, args, value, label) in cases {
        dir.file(name, format!("::add-mask::{value}\nx {value}\n").as_bytes());
        let mut all: Vec<&str> = args.to_vec();
        all.push(name);
        let text = scan(&all, &dir.0);
        let want = format!("{name}:2:3: {label} (raw)\n");
        assert!(text.stdout().ends_with(&want), "{name}: {}", text.stdout());
        all.insert(0, "--json");
        let json = scan(&all, &dir.0);
        let want = format!(r#"{{"source":"{label}","form":"raw"}}"#);
        assert!(json.stdout().contains(&want), "{name}: {}", json.stdout());
    }
}
