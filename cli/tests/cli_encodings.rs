//! Every way a secret gets printed (SPEC 1.3), through the real binary,
//! against what real tools print: shell traces, `printf %q`, GNU
//! `base64` and `openssl base64`, `xxd -p`, Python's `json` and
//! `urllib.parse`, Node's `encodeURIComponent` and `JSON.stringify`, a
//! Go-style JSON line, a Base64-stored secret printed decoded. And the
//! variables found by name (SPEC 5: `--env-match`, the default GLOBs,
//! `--no-default-env`).
//!
//! Every tool is required: a missing one fails the test, it never skips.

mod support;

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use support::{DEFAULT_GLOB_SUFFIXES, Run, logmask, run, run_command};

/// What `program ARGS` prints on stdout (and, with `with_stderr`, on
/// stderr after it: traces), given `input`. Panics when the tool is
/// missing or fails.
fn tool<S: AsRef<OsStr>>(program: &str, args: &[S], input: &[u8], with_stderr: bool) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C.UTF-8")
        .spawn()
        .unwrap_or_else(|err| panic!("{program} must be installed for this test: {err}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed: {:?}", out);
    let mut printed = out.stdout;
    if with_stderr {
        printed.extend_from_slice(&out.stderr);
    }
    printed
}

/// A secret of `len` printable bytes, the same every run, that holds no
/// line break and no run that an ordinary log line would hold.
fn secret_of(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-!";
    let mut state: u32 = 0x2545_f491 ^ len as u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(ALPHABET[state as usize % ALPHABET.len()])
        })
        .collect()
}

/// `logmask -s SECRET` (nothing else registered) over `log`.
fn mask_with(secret: &str, log: &[u8]) -> Run {
    let out = run(&["--no-default-env", "-s", secret], log);
    assert_eq!(out.code(), 0, "stderr: {}", out.stderr());
    assert_eq!(out.stderr(), "", "unexpected stderr");
    out
}

/// Asserts that a wrapped dump (Base64 or hex lines of `columns`) came out
/// as `***` lines: every full line masked, and the last one masked too or
/// left because it is shorter than SPEC's 16 characters (with at most
/// the partly determined character and padding after the mask).
fn assert_wrapped_masked(dump: &[u8], out: &Run, what: &str) {
    let lines: Vec<&str> = std::str::from_utf8(dump).unwrap().lines().collect();
    let masked = out.stdout();
    let masked: Vec<&str> = masked.lines().collect();
    assert_eq!(masked.len(), lines.len(), "{what}: {masked:?}");
    for (i, (line, got)) in lines.iter().zip(&masked).enumerate() {
        let last = i + 1 == lines.len();
        let ok = *got == "***"
            || (last && got.starts_with("***") && got.len() <= 6)
            || (last && line.trim_end_matches('=').len() < 17 && got == line);
        assert!(ok, "{what}: line {i} {line:?} came out as {got:?}");
    }
}

#[test]
fn gnu_base64_and_openssl_base64_of_long_secrets() {
    for len in [40, 58, 100, 3000] {
        let secret = secret_of(len);
        for (program, args) in [("base64", &[][..]), ("openssl", &["base64"][..])] {
            let dump = tool(program, args, secret.as_bytes(), false);
            let out = mask_with(&secret, &dump);
            assert_wrapped_masked(&dump, &out, &format!("{program} of {len} bytes"));
        }
        // URL-safe, unwrapped, as `basenc --base64url -w0` prints it.
        let dump = tool("basenc", &["--base64url", "-w0"], secret.as_bytes(), false);
        let out = mask_with(&secret, &dump);
        let got = out.stdout();
        assert!(
            got.starts_with("***") && got.len() <= 6,
            "base64url: {got:?}"
        );
    }
}

#[test]
fn xxd_plain_hex_dumps() {
    for len in [20, 100] {
        let secret = secret_of(len);
        let dump = tool("xxd", &["-p"], secret.as_bytes(), false);
        let out = mask_with(&secret, &dump);
        assert_wrapped_masked(&dump, &out, &format!("xxd -p of {len} bytes"));
        // Upper case, on one line, as `xxd -p -u -c 256` and most hex
        // helpers print it.
        let dump = tool("xxd", &["-p", "-u", "-c", "256"], secret.as_bytes(), false);
        assert_eq!(mask_with(&secret, &dump).stdout(), "***\n");
    }
}

#[test]
fn shell_traces_and_printf_q() {
    let secrets = [
        "it's a Zq7Xw p@ss",
        "Zq7Xw$(rm -rf /)&`x`;'q'",
        "#Zq7Xw~ {a,b} [c]",
        "PASS=~Zq7Xw:~x",
    ];
    let script = r#"x=$0; : "$x""#;
    for secret in secrets {
        for shell in ["bash", "dash"] {
            let trace = tool(shell, &["-xc", script, secret], b"", true);
            let out = mask_with(secret, &trace);
            let got = out.stdout();
            assert!(!got.contains("Zq7Xw"), "{shell} -x of {secret:?}: {got:?}");
            assert_eq!(got.matches("***").count(), 2, "{shell}: {got:?}");
        }
        let quoted = tool("bash", &["-c", r#"printf '%q\n' "$0""#, secret], b"", false);
        let out = mask_with(secret, &quoted);
        assert_eq!(out.stdout(), "***\n", "printf %q of {secret:?}: {quoted:?}");
        // Python's shlex.quote writes `'"'"'`, as BusyBox ash traces do.
        let quoted = tool(
            "python3",
            &[
                "-c",
                "import shlex,sys; print(shlex.quote(sys.argv[1]))",
                secret,
            ],
            b"",
            false,
        );
        let out = mask_with(secret, &quoted);
        assert!(
            !out.stdout().contains("Zq7Xw"),
            "shlex.quote: {}",
            out.stdout()
        );
    }
}

#[test]
fn python_json_dumps_quote_and_quote_plus() {
    let secret = "Zq7Xw \"é/<&> it's\\ ü€😀 ~(x)*";
    let script = "import json,sys,urllib.parse as u; s=sys.argv[1]; \
                  print(json.dumps(s)); print(json.dumps(s, ensure_ascii=False)); \
                  print(json.dumps({'password': s})); \
                  print(u.quote(s)); print(u.quote(s, safe='')); print(u.quote_plus(s))";
    let printed = tool("python3", &["-c", script, secret], b"", false);
    let out = mask_with(secret, &printed);
    assert_eq!(
        out.stdout(),
        "\"***\"\n\"***\"\n{\"password\": \"***\"}\n***\n***\n***\n",
        "from {}",
        String::from_utf8_lossy(&printed)
    );
}

#[test]
fn node_encode_uri_component_and_json_stringify() {
    let secret = "Zq7Xw \"é/<&> it's\\ (x)*!~";
    let script = "const s = process.argv[1]; console.log(encodeURIComponent(s)); \
                  console.log(JSON.stringify(s)); console.log(JSON.stringify({token: s}))";
    let printed = tool("node", &["-e", script, secret], b"", false);
    let out = mask_with(secret, &printed);
    let got = out.stdout();
    assert_eq!(
        got,
        "***\n\"***\"\n{\"token\":\"***\"}\n",
        "from {}",
        String::from_utf8_lossy(&printed)
    );
}

#[test]
fn go_php_and_dotnet_json_lines() {
    // `json.Marshal` (Go), `json_encode` (PHP), `JsonSerializer` (.NET,
    // upper-case hex): written here by their rules, for a secret with
    // every character they escape differently.
    let secret = "Zq7Xw<a>&b/c\u{2028}é";
    let log = "{\"pw\":\"Zq7Xw\\u003ca\\u003e\\u0026b/c\\u2028é\"}\n\
               {\"pw\":\"Zq7Xw<a>&b\\/c\u{2028}é\"}\n\
               {\"pw\":\"Zq7Xw<a>&b/c\\u2028\\u00E9\"}\n\
               {\"pw\":\"Zq7Xw<a>&b/c\\u2028\\u00e9\"}\n";
    let out = mask_with(secret, log.as_bytes());
    assert_eq!(out.stdout(), "{\"pw\":\"***\"}\n".repeat(4));
}

#[test]
fn a_base64_stored_secret_printed_decoded() {
    // A CI variable holds the Base64 of a password; a step decodes it.
    let password = "correct horse battery staple!";
    let stored = tool("base64", &["-w0"], password.as_bytes(), false);
    let stored = String::from_utf8(stored).unwrap();
    let decoded = tool("base64", &["-d"], stored.as_bytes(), false);
    let mut log = b"decoded: ".to_vec();
    log.extend_from_slice(&decoded);
    log.extend_from_slice(format!("\nstored: {stored}\n").as_bytes());
    let hex_stored = tool("xxd", &["-p", "-c", "256"], password.as_bytes(), false);
    let hex_stored = String::from_utf8(hex_stored).unwrap();
    for stored in [stored.trim(), hex_stored.trim()] {
        let out = mask_with(stored, &log);
        assert!(
            out.stdout().starts_with("decoded: ***\n"),
            "{}",
            out.stdout()
        );
    }
    // Without `decoded`, the decoding stays visible.
    let out = run(
        &[
            "--no-default-env",
            "--encodings",
            "raw,base64",
            "-s",
            stored.trim(),
        ],
        &log,
    );
    assert!(out.ok().starts_with("decoded: correct horse"));
}

#[test]
fn each_encoding_alone_masks_its_own_form_only() {
    // SPEC 1.3's names, one at a time: the form it names is masked, the
    // raw value is not (raw is not chosen), except by json, whose serde
    // form of this value is the value itself.
    let secret = "Zq7Xw it's/<&>";
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let hex_upper = hex.to_uppercase();
    let cases: &[(&str, &str)] = &[
        ("hex", &hex),
        ("hex", &hex_upper),
        ("shell", "Zq7Xw it'\\''s/<&>"),
        ("shell", "Zq7Xw\\ it\\'s/\\<\\&\\>"),
        ("json", "Zq7Xw it's/\\u003c\\u0026\\u003e"),
        ("json", "Zq7Xw it's\\/<&>"),
        ("url", "Zq7Xw%20it's%2F%3C%26%3E"),
        ("url", "Zq7Xw%20it%27s/%3C%26%3E"),
    ];
    for (encoding, form) in cases {
        let input = format!("{form}\n{secret}\n");
        let out = run(
            &["--no-default-env", "--encodings", encoding, "-s", secret],
            input.as_bytes(),
        );
        let raw = if *encoding == "json" { "***" } else { secret };
        assert_eq!(out.ok(), format!("***\n{raw}\n"), "{encoding}: {form}");
    }
}

#[test]
fn decoded_alone_is_a_usage_error() {
    let out = run(&["--encodings", "decoded", "-s", "aGVsbG8gd29ybGQh"], b"");
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains("'decoded' needs"), "{}", out.stderr());
    assert!(!out.stderr().contains("aGVsbG8"));
    let out = run(&["--encodings", "hex,Shell", "-s", "abcd"], b"");
    assert_eq!(out.code(), 2);
}

/// `logmask ARGS` with only `vars` as the environment's secret-looking
/// variables.
fn with_env(args: &[&str], vars: &[(&str, &str)], input: &str) -> Run {
    let mut command = logmask();
    command.args(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    run_command(command, input.as_bytes())
}

#[test]
fn default_globs_mask_each_kind_of_variable() {
    for suffix in DEFAULT_GLOB_SUFFIXES {
        let name = format!("LMTEST{suffix}");
        let value = format!("value-of{}", suffix.to_lowercase());
        let input = format!("x {value} y\n");
        let out = with_env(&[], &[(&name, &value)], &input);
        assert_eq!(out.ok(), "x *** y\n", "{name}");
        let out = with_env(&["--no-default-env"], &[(&name, &value)], &input);
        assert_eq!(out.ok(), input, "{name} under --no-default-env");
    }
    // Names are matched ignoring ASCII case; only whole names match.
    let vars = [
        ("lmtest_token", "lower-case-name-1"),
        ("LmTest_Password", "mixed-case-name-2"),
        ("LMTEST_TOKEN_FILE", "not-a-token-path"),
    ];
    let input = "lower-case-name-1 mixed-case-name-2 not-a-token-path\n";
    assert_eq!(
        with_env(&[], &vars, input).ok(),
        "*** *** not-a-token-path\n"
    );
}

#[test]
fn default_globs_apply_in_exec_mode() {
    let out = with_env(
        &[
            "--",
            "sh",
            "-c",
            "echo \"out $LMTEST_TOKEN\"; echo \"err $LMTEST_TOKEN\" >&2",
        ],
        &[("LMTEST_TOKEN", "exec-mode-token-1")],
        "",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "out ***\n");
    assert_eq!(out.stderr(), "err ***\n");
}

#[test]
fn short_values_are_flags_not_secrets() {
    let vars = [("USE_TOKEN", "true"), ("LMTEST_PASSWORD", " 1234567 ")];
    let input = "USE_TOKEN=true 1234567\n";
    // Default GLOBs: skipped silently.
    assert_eq!(with_env(&[], &vars, input).ok(), input);
    // A given GLOB: skipped with a warning naming the variable, not the
    // value.
    let out = with_env(&["--env-match", "*_TOKEN"], &vars, input);
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), input);
    assert_eq!(
        out.stderr(),
        "logmask: warning: --env-match *_TOKEN (USE_TOKEN): value is shorter than 8 bytes, \
         taken for a flag and not masked (use --env to mask it)\n"
    );
    // A variable a given GLOB matches counts as given, even when a
    // default GLOB matches it too.
    let out = with_env(&["--env-match", "USE_*"], &vars, input);
    assert!(
        out.stderr()
            .contains("--env-match USE_* (USE_TOKEN): value is shorter"),
        "{}",
        out.stderr()
    );
    // The floor follows a higher minimum length.
    let vars = [("LMTEST_TOKEN", "ten-bytes!")];
    let input = "ten-bytes!\n";
    assert_eq!(with_env(&[], &vars, input).ok(), "***\n");
    assert_eq!(with_env(&["--min-length", "11"], &vars, input).ok(), input);
    // Named with --env, the same value is masked.
    let out = with_env(&["--env", "USE_TOKEN"], &[("USE_TOKEN", "true")], "true\n");
    assert_eq!(out.ok(), "***\n");
}

#[test]
fn a_variable_is_taken_once() {
    let vars = [
        ("LMTEST_A_TOKEN", "first-token-value"),
        ("LMTEST_B_TOKEN", "second-token-value"),
    ];
    let input = "first-token-value second-token-value\n";
    for args in [
        &["--stats"][..],
        &["--stats", "--env", "LMTEST_A_TOKEN"],
        &[
            "--stats",
            "--env-prefix",
            "LMTEST_A",
            "--env-match",
            "*TOKEN",
        ],
        &["--stats", "--env-match", "LMTEST_*", "--env-match", "*_B_*"],
    ] {
        let out = with_env(args, &vars, input);
        assert_eq!(out.code(), 0);
        assert_eq!(out.stdout(), "*** ***\n", "{args:?}");
        assert!(
            out.stderr().contains(" secrets=2 "),
            "{args:?}: {}",
            out.stderr()
        );
    }
}

/// A given GLOB whose variables another option took (`--env`, a prefix,
/// an earlier GLOB) matches something, so it is not warned about as
/// matching nothing; one that matches no variable at all still is.
#[test]
fn a_glob_whose_variables_are_taken_is_not_warned_about() {
    let vars = [("LMTEST_TAKEN_TOKEN", "taken-value-1")];
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--env",
                "LMTEST_TAKEN_TOKEN",
                "--env-match",
                "LMTEST_TAKEN_*",
            ],
            "",
        ),
        (
            &["--env-prefix", "LMTEST_TAKEN_", "--env-match", "LMTEST_T*"],
            "",
        ),
        (
            &["--env-match", "LMTEST_TAKEN_*", "--env-match", "LMTEST_*"],
            "",
        ),
        (
            &[
                "--env-match",
                "LMTEST_TAKEN_*",
                "--env-match",
                "LMTEST_NONE_*",
            ],
            "logmask: warning: --env-match LMTEST_NONE_*: no environment variable matches, nothing masked\n",
        ),
    ];
    for (args, warning) in cases {
        let out = with_env(args, &vars, "taken-value-1\n");
        assert_eq!(out.code(), 0, "{args:?}");
        assert_eq!(out.stdout(), "***\n", "{args:?}");
        assert_eq!(out.stderr(), *warning, "{args:?}");
    }
}

#[test]
fn glob_warnings_name_the_source_never_the_value() {
    let big = "B".repeat(64 * 1024 + 1);
    let vars = [
        ("LMTEST_BIG_TOKEN", big.as_str()),
        ("weird name_TOKEN", "weird-name-value"),
    ];
    let out = with_env(
        &["--env-match", "LMTEST_NOTHING_*"],
        &vars,
        "weird-name-value\n",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout(), "***\n");
    let stderr = out.stderr();
    assert!(
        stderr.contains("--env-match *_TOKEN (LMTEST_BIG_TOKEN): value is longer than 64 KiB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--env-match LMTEST_NOTHING_*: no environment variable matches"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("BBBB") && !stderr.contains("weird"),
        "{stderr}"
    );
    let out = run(&["--env-match", ""], b"");
    assert_eq!(out.code(), 2);
}

#[test]
fn env_warnings_name_only_conventional_variables() {
    let out = run(
        &[
            "--no-default-env",
            "--env",
            "LMTEST_UNSET_1",
            "--env",
            "hunter22-looks-like-a-value",
        ],
        b"",
    );
    assert_eq!(out.code(), 0);
    assert_eq!(
        out.stderr(),
        "logmask: warning: --env LMTEST_UNSET_1: variable is not set, nothing masked\n\
         logmask: warning: --env #2: variable is not set, nothing masked\n"
    );
}
