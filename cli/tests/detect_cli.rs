//! `--detect`, `--no-detect` and detected counts in `--stats`, through the
//! real binary.

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use support::{LineReader, logmask, run};

/// The public vector (a valid checksum, not a live token).
const GH: &str = "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";
const BEARER: &str = "abcdefgh12345678";

fn input() -> String {
    format!(
        "token {GH}\n> Authorization: Bearer {BEARER}\ngit clone https://x-access-token:pw123456@github.com/o/r\n"
    )
}

#[test]
fn detector_choices() {
    let all = "token ghp_***\n> Authorization: Bearer ***\ngit clone https://x-access-token:***@github.com/o/r\n";
    let cases: &[(&[&str], String)] = &[
        (&[], all.to_string()),
        (&["--no-detect"], input()),
        (&["--detect", "github"], input().replace(&GH[4..], "***")),
        (
            &["--detect", "github", "--detect", "authorization"],
            input().replace(&GH[4..], "***").replace(BEARER, "***"),
        ),
        (
            &["--detect=url-credentials,authorization"],
            input().replace("pw123456", "***").replace(BEARER, "***"),
        ),
    ];
    for (args, want) in cases {
        let out = run(args, input().as_bytes());
        assert_eq!(out.ok(), *want, "{args:?}");
    }
}

#[test]
fn usage_errors_name_no_value() {
    let cases: &[&[&str]] = &[
        &["--detect", "github", "--no-detect"],
        &["--no-detect", "--detect", "jwt"],
        &["--detect", "hunter22secret"],
        &["--detect", ""],
        &["--detect", "github,"],
        &["--detect", "GitHub"],
    ];
    for args in cases {
        let out = run(args, b"x\n");
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr());
        assert!(out.stdout.is_empty());
        out.leaks_nothing("hunter22secret");
        assert!(out.stderr().contains("--detect"), "{}", out.stderr());
    }
}

#[test]
fn stats_count_detected_by_detector() {
    let out = run(&["--stats"], input().as_bytes());
    assert_eq!(out.code(), 0);
    let err = out.stderr();
    assert!(
        err.contains(
            " detected=3 detected.github=1 detected.url-credentials=1 detected.authorization=1"
        ),
        "{err}"
    );
    out.leaks_nothing(&GH[4..])
        .leaks_nothing(BEARER)
        .leaks_nothing("pw123456");
    let out = run(&["--stats", "--no-detect"], input().as_bytes());
    assert!(out.stderr().contains(" detected=0"), "{}", out.stderr());
}

#[test]
fn wrapped_command_output_is_detected_on_both_streams() {
    let script = format!("printf 'out {GH}\\n'; printf 'Authorization: token {BEARER}\\n' >&2");
    let out = run(&["--", "sh", "-c", &script], b"");
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "out ghp_***\n");
    assert_eq!(out.stderr(), "Authorization: token ***\n");
}

#[test]
fn key_parts_go_out_at_once_and_values_wait() {
    let mut child = logmask()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = LineReader::new(child.stdout.take().unwrap());
    stdin
        .write_all(b"> Authorization: Bearer abcdefgh")
        .unwrap();
    stdin.flush().unwrap();
    assert!(reader.wait_for("> Authorization: Bearer ", Duration::from_secs(20)));
    stdin.write_all(b"12345678\nnext\n").unwrap();
    drop(stdin);
    let rest = reader.rest();
    assert!(rest.ends_with("Bearer ***\nnext\n"), "{rest:?}");
    assert!(!rest.contains("abcdefgh"));
    child.wait().unwrap();
}

/// Past 10,000 detected parts a stream registers no more, and says so
/// once, naming the detector as the source (SPEC 5 and 7), never a value.
#[test]
fn the_cap_on_registered_detected_parts_is_one_warning() {
    let values: Vec<String> = (0..10_005).map(|n| format!("s1gv4lue{n:08}")).collect();
    let input: String = values
        .iter()
        .map(|v| format!("GET https://blob.example/x?sig={v} 200\n"))
        .collect();
    let out = run(&["--no-default-env"], input.as_bytes());
    assert_eq!(out.code(), 0);
    let stderr = out.stderr();
    assert_eq!(
        stderr,
        "logmask: warning: detected:url-credentials: more than 10000 detected credentials: \
         no more are registered\n"
    );
    let stdout = out.stdout();
    for v in &values {
        assert!(!stdout.contains(v.as_str()), "a detected value was printed");
    }
}

/// A log cut off inside a private key (`head -c` of `cat key.pem` or of
/// `base64 key.pem`, as a killed step leaves it): the last, partial line
/// is masked like the others, in filter mode, in exec mode and by
/// `scan`. The key is made by openssl here.
#[test]
fn a_key_cut_off_at_the_end_of_input_is_masked_to_its_last_byte() {
    let key = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519"])
        .output()
        .expect("openssl is on the machine");
    assert!(key.status.success());
    let pem = key.stdout;
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pem);
    let wrapped: Vec<u8> = b64
        .as_bytes()
        .chunks(76)
        .flat_map(|l| [l, b"\n"].concat())
        .collect();
    // Body lines and wrapped lines of the key, by which a leak shows.
    let body: Vec<&[u8]> = pem
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"-----"))
        .collect();
    for cut in [pem.len() - 30, 28 + 10, 28 + 1] {
        let input = &pem[..cut];
        let out = run::<&str>(&[], input);
        let text = out.stdout();
        assert!(text.ends_with("***"), "cut at {cut}: {text:?}");
        for line in &body {
            let head = String::from_utf8_lossy(&line[..8.min(line.len())]).into_owned();
            assert!(!text.contains(&head), "cut at {cut}: {text:?}");
        }
    }
    for cut in [wrapped.len() - 10, 77 + 20] {
        let input = &wrapped[..cut];
        let want = vec!["***"; input.split(|&b| b == b'\n').count()].join("\n");
        assert_eq!(run::<&str>(&[], input).stdout(), want, "cut at {cut}");
    }

    // Exec mode, and scan of the same cut log.
    let cut = String::from_utf8(pem[..pem.len() - 30].to_vec()).unwrap();
    let out = run(&["--", "printf", "%s", &cut], b"");
    assert!(out.stdout().ends_with("\n***"), "{:?}", out.stdout());
    let dir = support::TempDir::new("cut-key");
    let path = dir.0.join("cut.log");
    std::fs::write(&path, &cut).unwrap();
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_logmask"))
        .arg("scan")
        .arg(&path)
        .output()
        .unwrap();
    let findings = String::from_utf8_lossy(&scan.stdout);
    let lines = cut.lines().count();
    assert!(
        findings.contains(&format!(":{lines}:1: detected private-key")),
        "{findings}"
    );
}
