//! The writer's contract with its caller (SPEC 6): poisoned after an inner
//! error, and the hook that reports values the stream registers.

mod common;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use logmask::{MaskWriter, Registry};

/// An inner writer whose `fail_at`-th call (write or flush, from 0) fails;
/// it records what it accepted.
struct FailingAt {
    calls: usize,
    fail_at: usize,
    got: Vec<u8>,
}

impl Write for FailingAt {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls - 1 == self.fail_at {
            return Err(io::Error::other("disk full"));
        }
        // Accept part of a long buffer, so the failure can fall inside a
        // `write_all` as well as between them.
        let n = buf.len().min(7);
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.calls += 1;
        if self.calls - 1 == self.fail_at {
            return Err(io::Error::other("disk full"));
        }
        Ok(())
    }
}

/// For every k: what reached the inner writer is a prefix of the masked
/// output (from the naive oracle), and after the first error every call
/// fails and nothing more is written.
#[test]
fn poisoned_after_the_inner_writer_fails_on_any_call() {
    let secrets: &[&[u8]] = &[b"hunter22", b"s3cr3t-t0ken"];
    let input: &[u8] =
        b"user=alice pw=hunter22\nthe token is s3cr3t-t0ken, again hunter22hunter22\n\
                         Password: \nplain text that is long enough to need several writes\n";
    let registry = Arc::new(Registry::new());
    let mut variants = Vec::new();
    for s in secrets {
        registry.add(s).unwrap();
        variants.extend(common::naive_variants(s, 4));
    }
    let want = common::mask(input, &variants);
    for fail_at in 0..200 {
        let inner = FailingAt {
            calls: 0,
            fail_at,
            got: Vec::new(),
        };
        let mut writer = MaskWriter::builder(registry.clone())
            .commands(false)
            .build(inner);
        let mut failed = false;
        for chunk in input.chunks(5) {
            let result = writer.write(chunk);
            if failed {
                assert!(
                    result.is_err(),
                    "a write after the error succeeded (k={fail_at})"
                );
            }
            failed |= result.is_err();
        }
        let before = writer.get_ref().got.len();
        if failed {
            assert!(
                writer.flush().is_err(),
                "flush after the error (k={fail_at})"
            );
            assert!(writer.write(b"more").is_err());
            assert_eq!(
                writer.get_ref().got.len(),
                before,
                "written after the error"
            );
        }
        let got = writer.get_ref().got.clone();
        let finished = writer.finish();
        assert!(
            want.starts_with(&got),
            "k={fail_at}: inner got {:?}, not a prefix of {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        if let Ok(inner) = finished {
            assert!(!failed, "finish succeeded after an error (k={fail_at})");
            assert_eq!(
                inner.got, want,
                "k={fail_at}: finished without error but output is cut"
            );
            return; // k is past the last call: every case was seen.
        }
    }
    panic!("200 calls were not enough to finish");
}

/// A dropped, poisoned writer writes nothing more.
#[test]
fn dropping_a_poisoned_writer_writes_nothing() {
    let registry = Arc::new(Registry::new());
    let got = Arc::new(Mutex::new(Vec::new()));
    struct Shared(Arc<Mutex<Vec<u8>>>, bool);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.1 {
                return Err(io::Error::other("gone"));
            }
            self.1 = true;
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut writer = MaskWriter::new(registry, Shared(got.clone(), false));
    writer.write_all(b"first line\n").unwrap();
    assert!(writer.write_all(b"second line\n").is_err());
    assert!(writer.write_all(b"third").is_err());
    drop(writer);
    assert_eq!(&got.lock().unwrap()[..], b"first line\n");
}

/// The hook sees each value the stream registers, with its label, once
/// the registry accepted it; refused values are not reported.
#[test]
fn on_register_reports_values_the_stream_registers() {
    let input = "a\n::add-mask::hunter22\n::add-mask::ab\n::stop-commands::pause-tok\n\
                 ::add-mask::not-a-command\n::pause-tok::\n  ::add-mask::second%0Aline\n";
    let mut cuts: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
    cuts.push(vec![7, 30, 31, 60]);
    for cut in cuts {
        let registry = Arc::new(Registry::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut writer = MaskWriter::builder(registry.clone())
            .source("stdout")
            .on_register(move |value, label| {
                sink.lock().unwrap().push((
                    String::from_utf8(value.to_vec()).unwrap(),
                    label.to_string(),
                ))
            })
            .build(Vec::new());
        let mut last = 0;
        for &c in cut.iter().chain([&input.len()]) {
            writer.write_all(&input.as_bytes()[last..c]).unwrap();
            last = c;
        }
        writer.finish().unwrap();
        let want = vec![
            ("hunter22".to_string(), "stdout:2".to_string()),
            ("pause-tok".to_string(), "stdout:4".to_string()),
            ("second\nline".to_string(), "stdout:7".to_string()),
        ];
        assert_eq!(*seen.lock().unwrap(), want, "cut at {cut:?}");
        assert_eq!(registry.secrets(), 3);
        let labels: Vec<String> = registry
            .origins(b"hunter22")
            .iter()
            .map(|o| o.source.to_string())
            .collect();
        assert_eq!(labels, ["stdout:2"]);
    }
}
