//! Table tests of the in-band protocol (SPEC 4) through `MaskWriter`, each
//! case fed whole, at every single cut, and one byte at a time.

use std::io::Write;
use std::sync::{Arc, Mutex};

use logmask::{MaskWriter, Registry, Warning};

struct Run {
    output: String,
    warnings: Vec<Warning>,
}

fn run(input: &str, pass_commands: bool, cuts: &[usize]) -> Run {
    let registry = Arc::new(Registry::new());
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let mut writer = MaskWriter::builder(registry)
        .pass_commands(pass_commands)
        .on_warning(move |w| sink.lock().unwrap().push(w))
        .build(Vec::new());
    let bytes = input.as_bytes();
    let mut last = 0;
    for &cut in cuts.iter().chain([&bytes.len()]) {
        writer.write_all(&bytes[last..cut]).unwrap();
        last = cut;
    }
    let output = String::from_utf8(writer.finish().unwrap()).unwrap();
    let warnings = warnings.lock().unwrap().clone();
    Run { output, warnings }
}

/// Every split gives the same output and the same warnings.
fn check(input: &str, pass_commands: bool, want: &str, want_warnings: &[(u64, &str)]) {
    let mut splits: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
    splits.extend((0..=input.len()).map(|c| vec![c]));
    for cuts in splits {
        let got = run(input, pass_commands, &cuts);
        assert_eq!(got.output, want, "input {input:?} cut at {cuts:?}");
        let warnings: Vec<(u64, String)> = got
            .warnings
            .iter()
            .map(|w| (w.line, w.reason.clone()))
            .collect();
        assert_eq!(
            warnings.len(),
            want_warnings.len(),
            "warnings {warnings:?} for {input:?}"
        );
        for ((line, reason), (want_line, want_reason)) in warnings.iter().zip(want_warnings) {
            assert_eq!(line, want_line, "{input:?}");
            assert!(
                reason.contains(want_reason),
                "{reason:?} lacks {want_reason:?}"
            );
        }
        for w in &got.warnings {
            assert_eq!(w.source, "stdin");
        }
    }
}

#[test]
fn add_mask_lines() {
    let cases: &[(&str, &str)] = &[
        ("::add-mask::hunter22\nsee hunter22\n", "see ***\n"),
        ("  \t::add-mask::hunter22\r\nx hunter22\r\n", "x ***\r\n"),
        // Registered from the next line on: not on the same line.
        (
            "x hunter22 ::add-mask::hunter22\nhunter22\n",
            "x hunter22 ::add-mask::hunter22\nhunter22\n",
        ),
        // %25 %0D %0A are decoded; a multi-line value masks each line.
        (
            "::add-mask::first-line%0Asecond%25line\nfirst-line second%line\n",
            "*** ***\n",
        ),
        (
            "::add-mask::first-line%0Asecond%25line\nv=first-line%0Asecond%25line\n",
            "v=***\n",
        ),
        ("::add-mask::x%0dyz1\nx%0dyz1\n", "***\n"),
        // The last line needs no newline to be consumed.
        ("before\n::add-mask::hunter22", "before\n"),
        // Not commands: case, spacing, other commands.
        (
            "::ADD-MASK::hunter22\nhunter22\n",
            "::ADD-MASK::hunter22\nhunter22\n",
        ),
        (":: add-mask::hunter22\n", ":: add-mask::hunter22\n"),
        ("::add-masx::hunter22\n", "::add-masx::hunter22\n"),
        ("::add-mask\n", "::add-mask\n"),
        (
            "::warning::careful\n::group::Build\n::endgroup::\n",
            "::warning::careful\n::group::Build\n::endgroup::\n",
        ),
        ("   \n\t\n", "   \n\t\n"),
        // A lone CR is content: "\rx" does not start a new line.
        (
            "a\r::add-mask::hunter22\nhunter22\n",
            "a\r::add-mask::hunter22\nhunter22\n",
        ),
    ];
    for (input, want) in cases {
        check(input, false, want, &[]);
    }
}

#[test]
fn add_mask_warnings() {
    check(
        "ok\n::add-mask::   \nnext\n",
        false,
        "ok\nnext\n",
        &[(2, "empty or blank")],
    );
    check(
        "::add-mask::abc\nabc\n",
        false,
        "abc\n",
        &[(1, "shorter than the minimum")],
    );
    check(
        "a\nb\n::add-mask::\n",
        false,
        "a\nb\n",
        &[(3, "empty or blank")],
    );
}

#[test]
fn stop_and_resume() {
    let cases: &[(&str, &str)] = &[
        (
            "::stop-commands::pause-token\n::add-mask::hunter22\nhunter22\n::pause-token::\n::add-mask::hunter22\nhunter22\n",
            "::stop-commands::***\n::add-mask::hunter22\nhunter22\n::***::\n***\n",
        ),
        (
            "::stop-commands::tok-en1\r\n::tok-en1::\r\n::add-mask::hunter22\r\nhunter22\r\n",
            "::stop-commands::***\r\n::***::\r\n***\r\n",
        ),
        // Only the exact resume line resumes (leading whitespace allowed).
        (
            "::stop-commands::pause-token\n::pause-token:: \n::add-mask::hunter22\n  ::pause-token::\n::add-mask::hunter22\nhunter22\n",
            "::stop-commands::***\n::***:: \n::add-mask::hunter22\n  ::***::\n***\n",
        ),
        // A short token still stops, but is not masked.
        (
            "::stop-commands::ab\n::add-mask::hunter22\n::ab::\n",
            "::stop-commands::ab\n::add-mask::hunter22\n::ab::\n",
        ),
    ];
    for (input, want) in cases {
        let warnings: &[(u64, &str)] = if input.contains("::ab\n") {
            &[(1, "not masked")]
        } else {
            &[]
        };
        check(input, false, want, warnings);
    }
    check(
        "::stop-commands:: \t\n::add-mask::hunter22\nhunter22\n",
        false,
        "::stop-commands:: \t\n***\n",
        &[(1, "empty or blank")],
    );
}

#[test]
fn pass_commands_writes_add_mask_lines_through() {
    let cases: &[(&str, &str)] = &[
        (
            "::add-mask::hunter22\nhunter22\n",
            "::add-mask::hunter22\n***\n",
        ),
        (
            "  ::add-mask::hunter22\r\nx\r\n",
            "  ::add-mask::hunter22\r\nx\r\n",
        ),
    ];
    for (input, want) in cases {
        check(input, true, want, &[]);
    }
}

#[test]
fn long_lines() {
    // A held line past 64 KiB becomes ordinary text, nothing lost.
    let long_ws = format!("{}::add-mask::hunter22\nhunter22\n", " ".repeat(70_000));
    for cuts in [&[][..], &[10], &[65_000, 65_537]] {
        let got = run(&long_ws, false, cuts);
        assert!(
            got.output == long_ws,
            "line with long indent cut at {cuts:?}"
        );
    }
    // Indented up to the limit, it is still a command; one byte more and
    // it is a consumed, refused command.
    for (indent, want) in [(65_536 - 20, "***\n"), (65_536 - 19, "hunter22\n")] {
        let indented = format!("{}::add-mask::hunter22\nhunter22\n", " ".repeat(indent));
        for cuts in [&[][..], &[10], &[65_000, 65_530]] {
            assert_eq!(run(&indented, false, cuts).output, want, "cut at {cuts:?}");
        }
    }
    // An over-long ::add-mask:: line is consumed and refused.
    let long_add = format!("::add-mask::{}\nnext aaaa\n", "a".repeat(70_000));
    let got = run(&long_add, false, &[1000, 40_000]);
    assert_eq!(got.output, "next aaaa\n");
    assert_eq!(got.warnings.len(), 1);
    assert!(got.warnings[0].reason.contains("longer than 64 KiB"));
    assert!(!got.warnings[0].to_string().contains("aaaa"));
    // A stop-commands line past 64 KiB is ordinary: commands stay on.
    let long_stop = format!(
        "::stop-commands::{}\n::add-mask::hunter22\nhunter22\n",
        "t".repeat(70_000)
    );
    for cuts in [&[][..], &[30_000]] {
        let got = run(&long_stop, false, cuts);
        let want = format!("::stop-commands::{}\n***\n", "t".repeat(70_000));
        assert!(got.output == want, "long stop line cut at {cuts:?}");
    }
}
