//! `--report PATH` through the binary: runs and positions against the
//! naive report oracle, the summary line, mode 0600, usage errors, exec
//! mode's stream names, flushing as runs complete, and no value anywhere.

mod support;
use support as cli_support;
#[path = "../../tests/common/naive_report.rs"]
mod naive_report;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cli_support::{TempDir, logmask, run, wait_with_deadline};
use naive_report::{NaiveRun, naive_runs};
use serde_json::Value;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

fn as_naive(value: &Value) -> NaiveRun {
    NaiveRun {
        offset: value["offset"].as_u64().unwrap(),
        line: value["line"].as_u64().unwrap(),
        column: value["column"].as_u64().unwrap(),
        length: value["length"].as_u64().unwrap(),
        matches: value["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| match (m.get("source"), m.get("detector")) {
                (Some(source), _) => {
                    format!(
                        "{} ({})",
                        source.as_str().unwrap(),
                        m["form"].as_str().unwrap()
                    )
                }
                (None, Some(name)) => format!("detected {}", name.as_str().unwrap()),
                _ => panic!("unexpected match {m}"),
            })
            .collect(),
    }
}

#[test]
fn filter_mode_report_matches_the_oracle() {
    let dir = TempDir::new("report");
    let report = dir.0.join("report.jsonl");
    let cases: &[&[u8]] = &[
        b"token hunter22 and aHVudGVyMjI= end\n::add-mask::in-band-1\nin-band-1 hunter22hunter22\n",
        b"\r\n  ::add-mask::zzzz-9\r\n x zzzz-9 pass+word pass%20word",
        b"nothing at all\n",
        b"::add-mask::last-value-7",
    ];
    for input in cases {
        let mut command = logmask();
        command
            .env("LM_PW", "pass word")
            .args([
                "--encodings",
                "raw,base64,url",
                "-s",
                "hunter22",
                "--env",
                "LM_PW",
            ])
            .arg("--report")
            .arg(&report);
        let r = cli_support::run_command(command, input);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let got = lines(&report);
        let (summary, runs) = got.split_last().expect("a summary line");
        let want = naive_runs(
            input,
            &[(b"hunter22", "--secret #1"), (b"pass word", "--env LM_PW")],
            4,
            true,
            false,
            "stdin",
        );
        let runs_naive: Vec<NaiveRun> = runs.iter().map(as_naive).collect();
        assert_eq!(runs_naive, want, "{:?}", String::from_utf8_lossy(input));
        for run in runs {
            assert_eq!(run["stream"], "stdin");
            let keys: Vec<&str> = run
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            assert_eq!(keys.len(), 6, "{run}");
        }
        let s = &summary["summary"];
        assert_eq!(s["bytes_in"].as_u64().unwrap(), input.len() as u64);
        assert_eq!(s["bytes_out"].as_u64().unwrap(), r.stdout.len() as u64);
        assert_eq!(s["regions"].as_u64().unwrap(), want.len() as u64);
        assert!(s["secrets"].as_u64().unwrap() >= 2);
        assert!(s["variants"].as_u64().unwrap() > 2);
        assert!(s["detected"].is_object());
        let text = std::fs::read_to_string(&report).unwrap();
        for line in text.lines() {
            // SPEC 8's field order.
            let order = [
                "\"stream\":",
                "\"line\":",
                "\"column\":",
                "\"offset\":",
                "\"length\":",
                "\"matches\":",
            ];
            if !line.starts_with("{\"summary\"") {
                let at: Vec<usize> = order.iter().map(|k| line.find(k).unwrap()).collect();
                assert!(at.windows(2).all(|w| w[0] < w[1]), "{line}");
            }
        }
        for value in [
            "hunter22",
            "aHVudGVy",
            "pass word",
            "zzzz-9",
            "in-band-1",
            "last-value",
        ] {
            assert!(!text.contains(value), "{value} in the report: {text}");
        }
    }
}

/// SPEC 8: "A report holds no value". A source label names a PATH or a
/// variable, which may hold a registered value: the label is masked, in
/// the report and in `scan`'s matches (scan's PATH column stays as given).
#[test]
fn a_source_label_holding_a_value_is_masked() {
    let dir = TempDir::new("report-label");
    let list = dir.file("hunter22.txt", b"listval1234\n");
    let report = dir.0.join("r.jsonl");
    let r = run(
        &[
            "-s",
            "hunter22",
            "-f",
            list.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        b"hunter22 listval1234\n",
    );
    assert_eq!(r.ok(), "*** ***\n");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(!text.contains("hunter22"), "{text}");
    let sources: Vec<String> = lines(&report)
        .iter()
        .filter_map(|v| v["matches"][0]["source"].as_str().map(str::to_string))
        .collect();
    let masked_list = list.to_str().unwrap().replace("hunter22", "***");
    assert_eq!(
        sources,
        ["--secret #1".to_string(), format!("--file {masked_list}:1")]
    );
    // The same in scan's text and JSON output.
    let log = dir.file("run.log", b"listval1234\n");
    for json in [false, true] {
        let mut command = logmask();
        command
            .arg("scan")
            .args(["-s", "hunter22", "-f"])
            .arg(&list)
            .arg(&log);
        if json {
            command.arg("--json");
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("--file {masked_list}:1")),
            "{stdout}"
        );
        assert!(!stdout.contains("hunter22"), "{stdout}");
    }
}

#[test]
fn report_file_is_mode_0600_and_truncated_even_when_it_existed() {
    let dir = TempDir::new("report-mode");
    let report = dir.file("r.jsonl", &b"old content that must go\n".repeat(100));
    std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(
        &["-s", "abcdefgh", "--report", report.to_str().unwrap()],
        b"abcdefgh\n",
    );
    assert_eq!(r.ok(), "***\n");
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let got = lines(&report);
    assert_eq!(got.len(), 2);
    let fresh = dir.0.join("fresh.jsonl");
    run(&["--report", fresh.to_str().unwrap()], b"x\n").ok();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(lines(&fresh).len(), 1, "only the summary");
}

/// A report path that is not a regular file (`--report /dev/null`, a
/// FIFO read by a collector) keeps its mode: narrowing it to 0600 would
/// take /dev/null away from every other user of the system. A FIFO stands
/// in for /dev/null here, whose mode a failing run would change.
#[test]
fn a_report_to_a_fifo_or_device_keeps_its_mode() {
    let dir = TempDir::new("report-fifo");
    let fifo = dir.0.join("collector");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let r = run(
        &["-s", "abcdefgh", "--report", fifo.to_str().unwrap()],
        b"abcdefgh\n",
    );
    assert_eq!(r.ok(), "***\n");
    let report = String::from_utf8(reader.join().unwrap()).unwrap();
    assert_eq!(report.lines().count(), 2, "{report}");
    let mode = std::fs::metadata(&fifo).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

#[test]
fn a_report_path_that_cannot_be_opened_is_a_usage_error_before_input() {
    let dir = TempDir::new("report-bad");
    let cases = [
        dir.0.join("no/such/dir/r.jsonl"),
        dir.0.clone(), // a directory
    ];
    for path in cases {
        let r = run(
            &["-s", "abcdefgh", "--report", path.to_str().unwrap()],
            b"abcdefgh\n",
        );
        assert_eq!(r.code(), 2, "{}", r.stderr());
        assert_eq!(r.stdout, b"", "no input was read");
        assert!(r.stderr().contains("--report"), "{}", r.stderr());
        assert!(!r.stderr().contains("abcdefgh"));
    }
}

#[test]
fn exec_mode_names_each_stream() {
    let dir = TempDir::new("report-exec");
    let report = dir.0.join("r.jsonl");
    let r = run(
        &[
            "-s",
            "hunter22",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo out hunter22; echo err x hunter22 >&2",
        ],
        b"",
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let got = lines(&report);
    assert_eq!(got.len(), 3);
    let mut streams: Vec<(String, u64)> = got[..2]
        .iter()
        .map(|v| {
            (
                v["stream"].as_str().unwrap().to_string(),
                v["column"].as_u64().unwrap(),
            )
        })
        .collect();
    streams.sort();
    assert_eq!(
        streams,
        [("stderr".to_string(), 7), ("stdout".to_string(), 5)]
    );
    assert_eq!(got[2]["summary"]["regions"], 2);
}

#[test]
fn each_run_is_flushed_as_soon_as_it_is_complete() {
    let dir = TempDir::new("report-flush");
    let report = dir.0.join("r.jsonl");
    let mut child = logmask()
        .args(["-s", "hunter22", "--report", report.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first hunter22 line\n").unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = std::fs::read_to_string(&report).unwrap_or_default();
        if seen.ends_with('\n') {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        seen.contains("\"offset\":6"),
        "the run was not written while running: {seen:?}"
    );
    assert!(!seen.contains("summary"));
    drop(stdin);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert!(status.success());
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("summary")
    );
}

#[test]
fn pty_mode_names_its_stream_pty() {
    let dir = TempDir::new("report-pty");
    let report = dir.0.join("r.jsonl");
    let r = run(
        &[
            "-s",
            "hunter22",
            "--report",
            report.to_str().unwrap(),
            "--pty",
            "--",
            "sh",
            "-c",
            "echo x hunter22",
        ],
        b"",
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let got = lines(&report);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["stream"], "pty");
    assert_eq!(
        (got[0]["line"].as_u64(), got[0]["column"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(got[1]["summary"]["regions"], 1);
}
