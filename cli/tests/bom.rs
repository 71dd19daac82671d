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
