//! The run callback (`WriterBuilder::on_run`) against the naive report
//! oracle, in every split: whole, a byte at a time, random chunks, and
//! pieces large enough to be searched in place.

#[path = "common/naive_report.rs"]
mod naive_report;

use std::io::Write;
use std::sync::{Arc, Mutex};

use logmask::{Config, EncodingSet, MaskWriter, Match, Registry, Run};
use naive_report::{NaiveRun, naive_runs};

const MIN: usize = 4;

fn registry(secrets: &[(&[u8], &str)]) -> Arc<Registry> {
    let registry = Arc::new(Registry::with_config(Config {
        min_length: MIN,
        encodings: EncodingSet::parse_list("raw,base64,url").unwrap(),
    }));
    for (value, label) in secrets {
        let _ = registry.add_from(value, label);
    }
    registry
}

fn render(run: &Run) -> NaiveRun {
    NaiveRun {
        offset: run.offset,
        line: run.line,
        column: run.column,
        length: run.length,
        matches: run
            .matches
            .iter()
            .map(|m| match m {
                Match::Secret(origin) => format!("{} ({})", origin.source, origin.form),
                Match::Detected(name) => format!("detected {name}"),
                Match::Command(_) => "command".to_string(),
            })
            .collect(),
    }
}

/// Feeds `input` in the given chunk sizes (cycled) and returns the runs
/// reported and the output.
fn engine_runs(
    input: &[u8],
    secrets: &[(&[u8], &str)],
    commands: bool,
    report_commands: bool,
    chunks: &[usize],
) -> (Vec<NaiveRun>, Vec<u8>) {
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let mut writer = MaskWriter::builder(registry(secrets))
        .commands(commands)
        .report_commands(report_commands)
        .on_run(move |run| sink.lock().unwrap().push(render(run)))
        .build(Vec::new());
    let mut at = 0;
    let mut k = 0;
    while at < input.len() {
        let n = chunks[k % chunks.len()].max(1).min(input.len() - at);
        writer.write_all(&input[at..at + n]).unwrap();
        at += n;
        k += 1;
    }
    let out = writer.finish().unwrap();
    let runs = runs.lock().unwrap().clone();
    (runs, out)
}

/// Chunkings every case is run through.
fn splits(len: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut random = Vec::new();
    for _ in 0..64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        random.push(1 + (state >> 33) as usize % 37);
    }
    vec![
        vec![len.max(1)],
        vec![1],
        random,
        vec![3, 1, 7],
        vec![20_000, 5],
    ]
}

fn check(input: &[u8], secrets: &[(&[u8], &str)], commands: bool, report_commands: bool) {
    let want = naive_runs(input, secrets, MIN, commands, report_commands, "stdin");
    for (n, chunks) in splits(input.len(), input.len() as u64).iter().enumerate() {
        let (got, _) = engine_runs(input, secrets, commands, report_commands, chunks);
        assert_eq!(
            got,
            want,
            "split #{n} of {:?}",
            String::from_utf8_lossy(&input[..input.len().min(200)])
        );
    }
}

#[test]
fn runs_positions_and_matches_match_the_oracle_in_every_split() {
    let a: &[u8] = b"abcd";
    let c: &[u8] = b"cdef";
    let tok: &[u8] = b"hunter22";
    let spaced: &[u8] = b"pass word";
    // (secrets, input)
    let cases: Vec<(Vec<(&[u8], &str)>, Vec<u8>)> = vec![
        (
            vec![(a, "--secret #1"), (c, "--secret #2")],
            b"xx abcdef yy\n".to_vec(),
        ),
        (
            vec![(a, "--secret #1")],
            b"abcdabcd and abc d\nabcd".to_vec(),
        ),
        (vec![(c, "--secret #2")], b"abc def\n".to_vec()),
        (
            vec![(tok, "--env TOKEN")],
            b"line one\n  pw=hunter22 b64=aHVudGVyMjI= mid=dXNlcjpodW50ZXIyMg==\r\n".to_vec(),
        ),
        (
            vec![(spaced, "--file s.txt:1")],
            b"q=pass+word&r=pass%20word&s=pass word\n".to_vec(),
        ),
        // Runs joining two secrets, and one secret inside another's run.
        (
            vec![(a, "z"), (b"bcdefgh", "y"), (b"cd", "x")],
            b"__abcdefgh__ abcd\n\n\nabcdefgh".to_vec(),
        ),
        // Nothing to find.
        (vec![(tok, "t")], b"no secrets here\n".to_vec()),
    ];
    for (secrets, input) in &cases {
        check(input, secrets, false, false);
        check(input, secrets, true, false);
    }
}

#[test]
fn a_variant_registered_by_two_sources_names_both() {
    let secrets: &[(&[u8], &str)] = &[(b"shared-token", "--env B"), (b"shared-token", "--env A")];
    let input = b"x shared-token y c2hhcmVkLXRva2Vu\n";
    check(input, secrets, false, false);
    let (runs, _) = engine_runs(input, secrets, false, false, &[1]);
    assert_eq!(runs[0].matches, ["--env A (raw)", "--env B (raw)"]);
    assert_eq!(runs[1].matches, ["--env A (base64)", "--env B (base64)"]);
}

#[test]
fn raw_wins_over_url_when_both_give_the_same_bytes() {
    let secrets: &[(&[u8], &str)] = &[(b"plainvalue", "s")];
    let (runs, _) = engine_runs(b"plainvalue\n", secrets, false, false, &[1]);
    assert_eq!(runs[0].matches, ["s (raw)"]);
}

#[test]
fn positions_count_consumed_command_lines() {
    let secrets: &[(&[u8], &str)] = &[(b"abcd", "--secret #1")];
    let inputs: &[&[u8]] = &[
        b"::add-mask::s3cr3t-value\nabcd s3cr3t-value\n",
        b"one\n  ::add-mask::zzzzzz\r\nzzzzzz\n::add-mask::zzzzzz\n\tzzzzzz abcd",
        b"::add-mask::wxyz1234",
        b"::add-mask::abcd\nabcd\n::add-mask::zz\nabcd\n",
        b"::stop-commands::pausetoken\n::add-mask::notconsumed\n::pausetoken::\nabcd\n",
    ];
    for input in inputs {
        // The oracle does not model ::stop-commands::, so that case is
        // only checked for consistency across splits.
        if input.starts_with(b"::stop") {
            let (first, _) = engine_runs(input, secrets, true, true, &[input.len()]);
            for chunks in splits(input.len(), 7) {
                assert_eq!(engine_runs(input, secrets, true, true, &chunks).0, first);
            }
            assert!(first.iter().all(|r| r.matches != ["command"]), "{first:?}");
            continue;
        }
        check(input, secrets, true, false);
        check(input, secrets, true, true);
    }
}

#[test]
fn pass_commands_lines_are_counted_as_input() {
    let registry = registry(&[(b"abcd", "s")]);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let out = MaskWriter::builder(registry)
        .pass_commands(true)
        .on_run(move |run| sink.lock().unwrap().push(render(run)))
        .mask(b"::add-mask::wxyz\nab wxyz abcd\n");
    assert_eq!(out, b"::add-mask::wxyz\nab *** ***\n");
    let runs = runs.lock().unwrap();
    let offsets: Vec<(u64, u64, u64)> = runs.iter().map(|r| (r.offset, r.line, r.column)).collect();
    assert_eq!(offsets, [(20, 2, 4), (25, 2, 9)]);
}

#[test]
fn random_inputs_match_the_oracle() {
    let pieces: [&[u8]; 9] = [
        b"abcd",
        b"cdef",
        b"ab",
        b"cd",
        b"\n",
        b" ",
        b"YWJjZA",
        b"ef",
        b"::add-mask::qrst\n",
    ];
    let secrets: &[(&[u8], &str)] = &[(b"abcd", "one"), (b"cdef", "two"), (b"bcdc", "three")];
    let mut state = 0x9e3779b97f4a7c15u64;
    for round in 0..150 {
        let mut input = Vec::new();
        for _ in 0..(round % 40) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            input.extend_from_slice(pieces[(state % pieces.len() as u64) as usize]);
        }
        input.extend_from_slice(b"qrst");
        check(&input, secrets, true, round % 2 == 0);
    }
}

#[test]
fn runs_in_large_pieces_searched_in_place() {
    // Runs straddling the held bytes and a large piece, and runs deep in it.
    let secrets: &[(&[u8], &str)] = &[(b"0123456789abcdefXYZ", "long"), (b"wxyz", "short")];
    let mut input = Vec::new();
    for i in 0..200 {
        input.extend_from_slice(format!("line {i} ").as_bytes());
        if i % 7 == 0 {
            input.extend_from_slice(b"0123456789abcdefXYZwxyz");
        }
        input.extend_from_slice(&vec![b'.'; 300 + i]);
        input.push(b'\n');
    }
    let want = naive_runs(&input, secrets, MIN, true, false, "stdin");
    assert!(want.len() > 20);
    for chunks in [vec![input.len()], vec![17_000, 40_000, 3], vec![16_384 + 9]] {
        assert_eq!(engine_runs(&input, secrets, true, false, &chunks).0, want);
    }
}

#[test]
fn a_long_run_of_one_repeated_secret_is_one_run_in_bounded_time() {
    let secrets: &[(&[u8], &str)] = &[(b"abcd", "s")];
    let mb = 16;
    let chunk = b"abcd".repeat(64 * 1024);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let started = std::time::Instant::now();
    let mut writer = MaskWriter::builder(registry(secrets))
        .on_run(move |run| sink.lock().unwrap().push(render(run)))
        .build(std::io::sink());
    writer.write_all(b"x").unwrap();
    for _ in 0..mb * 4 {
        writer.write_all(&chunk).unwrap();
    }
    writer.write_all(b"\nabcd").unwrap();
    writer.finish().unwrap();
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].offset, runs[0].length, runs[0].column),
        (1, mb as u64 * 1024 * 1024, 2)
    );
    assert_eq!(runs[0].matches, ["s (raw)"]);
    assert_eq!((runs[1].line, runs[1].column), (2, 1));
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn runs_hold_no_bytes_and_debug_is_safe() {
    let secret = "hunter22-secret";
    let registry = registry(&[(secret.as_bytes(), "--env PW")]);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let out = MaskWriter::builder(registry)
        .on_run(move |run: &Run| sink.lock().unwrap().push(format!("{run:?}")))
        .mask(format!("::add-mask::other-value-1\npw={secret} other-value-1\n").as_bytes());
    assert_eq!(out, b"pw=*** ***\n");
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 2);
    for text in runs.iter() {
        assert!(
            !text.contains("hunter22") && !text.contains("other-value"),
            "{text}"
        );
        assert!(
            text.contains("--env PW") || text.contains("stdin:1"),
            "{text}"
        );
    }
}

#[test]
fn a_secret_registered_mid_stream_is_attributed_from_the_next_line() {
    // Another thread (exec mode's other stream) registers between writes.
    let registry = registry(&[]);
    let runs = Arc::new(Mutex::new(Vec::new()));
    let sink = runs.clone();
    let mut writer = MaskWriter::builder(registry.clone())
        .on_run(move |run| sink.lock().unwrap().push(render(run)))
        .build(Vec::new());
    writer.write_all(b"early late-secret\n").unwrap();
    registry.add_from(b"late-secret", "stderr:3").unwrap();
    writer.write_all(b"now late-secret\n").unwrap();
    let out = writer.finish().unwrap();
    assert_eq!(out, b"early late-secret\nnow ***\n");
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].offset, runs[0].line, runs[0].column), (22, 2, 5));
    assert_eq!(runs[0].matches, ["stderr:3 (raw)"]);
}

#[test]
fn long_variants_and_their_overlapping_unions_are_attributed() {
    // Over 4 KiB: the long-variant searcher, which reports overlapping
    // occurrences of one variant as their union.
    let periodic = b"abc".repeat(1500);
    let mut varied = Vec::new();
    let mut state = 7u64;
    while varied.len() < 5000 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        varied.push(b'a' + (state >> 59) as u8);
    }
    let secrets: &[(&[u8], &str)] = &[(&periodic, "periodic"), (&varied, "varied")];
    let mut input = b"x ".to_vec();
    input.extend_from_slice(&b"abc".repeat(2000));
    input.extend_from_slice(b" y\n");
    input.extend_from_slice(&varied);
    input.extend_from_slice(&varied);
    input.extend_from_slice(b"\nend\n");
    let want = naive_runs(&input, secrets, MIN, true, false, "stdin");
    assert_eq!(want.len(), 2);
    for chunks in [
        vec![input.len()],
        vec![1],
        vec![977, 4096, 13],
        vec![20_000],
    ] {
        assert_eq!(engine_runs(&input, secrets, true, false, &chunks).0, want);
    }
}

/// A run that joins a registered secret and a detected credential names
/// both, the pair first, then the detector (SPEC 8), in every split.
#[test]
fn a_run_of_a_registered_secret_and_a_detected_credential_names_both() {
    // A public test vector with a valid checksum.
    let token: &[u8] = b"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";
    let input = [b"x\nauth ".as_slice(), token, b" done\n"].concat();
    let mut splits: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
    splits.extend((0..=input.len()).step_by(3).map(|c| vec![c]));
    for cuts in splits {
        let registry = Arc::new(Registry::new());
        registry.add_from(token, "--env DEPLOY_TOKEN").unwrap();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let sink = runs.clone();
        let mut writer = MaskWriter::builder(registry)
            .on_run(move |run| sink.lock().unwrap().push(run.clone()))
            .build(Vec::new());
        let mut last = 0;
        for &c in cuts.iter().chain([&input.len()]) {
            writer.write_all(&input[last..c]).unwrap();
            last = c;
        }
        assert_eq!(writer.finish().unwrap(), b"x\nauth *** done\n");
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 1, "cut at {cuts:?}");
        let run = &runs[0];
        assert_eq!(
            (run.offset, run.line, run.column, run.length),
            (7, 2, 6, token.len() as u64),
            "cut at {cuts:?}"
        );
        let names: Vec<String> = run
            .matches
            .iter()
            .map(|m| match m {
                Match::Secret(o) => format!("{} ({})", o.source, o.form),
                Match::Detected(name) => format!("detected {name}"),
                Match::Command(c) => format!("command {c}"),
            })
            .collect();
        assert_eq!(
            names,
            ["--env DEPLOY_TOKEN (raw)", "detected github"],
            "cut at {cuts:?}"
        );
    }
}
