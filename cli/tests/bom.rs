//! Secret files saved with a UTF-8 byte order mark (SPEC 1.1): the mark is
//! not part of the first secret, and a JSON key file is still opened.

mod support;

fn run(args: &[&str], input: &[u8]) -> String {
    let mut command = support::logmask_with(args);
    command.env_clear();
    let out = support::run_command(command, input);
    assert!(out.finished.code == Some(0), "{}", out.stderr());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn files_with_a_byte_order_mark() {
    let dir = std::env::temp_dir().join(format!("logmask-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("list.txt");
    std::fs::write(&list, b"\xEF\xBB\xBFfirst-secret\r\nsecond-secret\r\n").unwrap();
    let key = dir.join("key.json");
    std::fs::write(
        &key,
        b"\xEF\xBB\xBF{\"client_email\": \"deployer@example.iam\", \"private_key\": \"k3y-m4t3r14l\"}",
    )
    .unwrap();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["-f"], "a first-secret b second-secret\n", "a *** b ***\n"),
        (
            &["--secret-file"],
            "mail deployer@example.iam key k3y-m4t3r14l\n",
            "mail *** key ***\n",
        ),
    ];
    for (option, input, want) in cases {
        let path = if option[0] == "-f" { &list } else { &key };
        let args = [option[0], path.to_str().unwrap()];
        assert_eq!(run(&args, input.as_bytes()), *want, "{option:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The mark is not part of a value from any source, so it counts toward
/// no limit: a value of exactly 64 KiB after a mark is taken (from
/// `--secret`, `--env`, a later `--file` line and `--env-prefix`), and a
/// 7-byte value after a mark is below a GLOB's 8-byte floor.
#[test]
fn a_byte_order_mark_counts_toward_no_limit() {
    use std::os::unix::ffi::OsStrExt;
    let bom = b"\xEF\xBB\xBF";
    let big: Vec<u8> = [&bom[..], &vec![b'Q'; 64 * 1024]].concat();
    let big_os = std::ffi::OsStr::from_bytes(&big);
    let dir = support::TempDir::new("bom-limits");
    let list = dir.file("list.txt", &[&b"first-line\n"[..], &big, b"\n"].concat());
    let input = [&b"x "[..], &vec![b'Q'; 64 * 1024], b"\n"].concat();
    let cases: Vec<(Vec<&std::ffi::OsStr>, Vec<(&str, &std::ffi::OsStr)>)> = vec![
        (vec!["-s".as_ref(), big_os], vec![]),
        (
            vec!["--env".as_ref(), "LOGMASK_BIG".as_ref()],
            vec![("LOGMASK_BIG", big_os)],
        ),
        (vec!["-f".as_ref(), list.as_os_str()], vec![]),
        (
            vec!["--env-prefix".as_ref(), "LOGMASK_P_".as_ref()],
            vec![("LOGMASK_P_BIG", big_os)],
        ),
    ];
    for (case, (args, env)) in cases.into_iter().enumerate() {
        let mut command = support::logmask_with(&args);
        command.env_clear().args(["--no-detect"]);
        for (k, v) in &env {
            command.env(k, v);
        }
        let out = support::run_command(command, &input);
        assert_eq!(out.finished.code, Some(0), "case {case}: {}", out.stderr());
        assert_eq!(out.stdout(), "x ***\n", "case {case}: {}", out.stderr());
        assert_eq!(out.stderr(), "", "case {case}");
    }
    let short = std::ffi::OsStr::from_bytes(b"\xEF\xBB\xBFabcdefg");
    let mut command = support::logmask_with(&["--no-detect"]);
    command.env_clear().env("MY_TOKEN", short);
    let out = support::run_command(command, b"abcdefg\n");
    assert_eq!(
        (out.stdout(), out.stderr()),
        ("abcdefg\n".into(), "".into())
    );
}
