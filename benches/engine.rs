//! Criterion benchmarks of the engine alone: masking 8 MiB of log-like text
//! with N = 1, 100 and 10,000 secrets, and 100 short ones, throughput in
//! bytes (group `mask`); and the cost of detection (group `detect`): log
//! lines with URLs, `node_modules/` paths and query parameters, and a log
//! dense with anchors, each with detection on and off, and on with the
//! window pass done ahead (`on_scanned`, as the command's reading thread
//! does). The
//! end-to-end comparison with `cat | cat` is `benches/throughput.sh`
//! (`benches/pipeline.py` for detection).
//!
//! `cargo bench --bench engine -- detect` runs one group.

use std::io::Write;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logmask::{DetectorSet, MaskWriter, Prescanner, Registry, Scanned, WriterBuilder};

/// A small deterministic generator, so runs are comparable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn alnum(&mut self, len: usize) -> Vec<u8> {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALNUM[self.next() as usize % ALNUM.len()])
            .collect()
    }
}

fn corpus(secrets: &[Vec<u8>], rng: &mut Lcg) -> Vec<u8> {
    let words = [
        "build", "test", "compile", "cargo", "fetch", "release", "step", "warning",
    ];
    let mut out = Vec::with_capacity(8 << 20);
    let mut line = 0u64;
    while out.len() < 8 << 20 {
        line += 1;
        write!(out, "2026-11-25T00:00:{:02}Z ", line % 60).unwrap();
        for _ in 0..(5 + rng.next() % 15) {
            out.extend_from_slice(words[rng.next() as usize % words.len()].as_bytes());
            out.push(b' ');
        }
        if line.is_multiple_of(1000) && !secrets.is_empty() {
            out.extend_from_slice(b"token=");
            out.extend_from_slice(&secrets[rng.next() as usize % secrets.len()]);
        } else if line.is_multiple_of(7) {
            out.extend_from_slice(b"sha256:");
            out.extend(rng.alnum(64));
        }
        out.push(b'\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    group.sample_size(10);
    // Secrets of 20-40 bytes go to the q-gram filter; the short ones (6-15
    // bytes, and their encodings) to the automaton.
    let cases = [
        (1usize, 20..41, "secrets"),
        (100, 20..41, "secrets"),
        (10_000, 20..41, "secrets"),
        (100, 6..16, "short_secrets"),
    ];
    for (n, lengths, name) in cases {
        let mut rng = Lcg(n as u64);
        let secrets: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let len = lengths.start + rng.next() as usize % lengths.len();
                rng.alnum(len)
            })
            .collect();
        let registry = Arc::new(Registry::new());
        for s in &secrets {
            registry.add(s).unwrap();
        }
        let _ = registry.matcher();
        let input = corpus(&secrets, &mut rng);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(format!("{n}_{name}"), |b| {
            b.iter(|| {
                let mut writer = MaskWriter::new(registry.clone(), std::io::sink());
                for chunk in input.chunks(1 << 20) {
                    writer.write_all(chunk).unwrap();
                }
                writer.finish().unwrap();
            })
        });
    }
    group.finish();
}

/// Log lines with what detection's first stage meets in real logs: URLs,
/// `node_modules/` paths, snake_case names and query parameters, but no
/// credential (one registered would add the search of its variants, which
/// group `mask` measures); or, `dense`, an anchor on every line
/// (`https://`, `?sig=` values, `eyJ` Base64 JSON), as
/// `benches/gen-dense.py` writes: its first 10,000 `sig=` values are
/// registered, so it also measures registration bursts.
fn detection_corpus(rng: &mut Lcg, dense: bool) -> Vec<u8> {
    let words = [
        "build",
        "test",
        "npm",
        "install",
        "resolve_deps",
        "fetch",
        "step",
        "warning",
    ];
    let mut out = Vec::with_capacity(8 << 20);
    let mut line = 0u64;
    while out.len() < 8 << 20 {
        line += 1;
        write!(out, "2026-11-25T00:00:{:02}Z ", line % 60).unwrap();
        if dense {
            write!(
                out,
                "GET https://storage.example.com/{}?id={}",
                words[line as usize % 8],
                rng.next() % 1_000_000
            )
            .unwrap();
            if line.is_multiple_of(3) {
                out.extend_from_slice(b"&sig=");
                out.extend(rng.alnum(32));
            }
            if line.is_multiple_of(4) {
                out.extend_from_slice(b" meta=eyJzdGVwIjogImJ1aWxkIiwgIm4iOiA4fQ==");
            }
        } else {
            for _ in 0..(5 + rng.next() % 10) {
                out.extend_from_slice(words[rng.next() as usize % words.len()].as_bytes());
                out.push(b' ');
            }
            match line % 9 {
                0 => out.extend_from_slice(b"node_modules/.bin/tsc --build"),
                3 => write!(
                    out,
                    "https://registry.npmjs.org/pkg/-/pkg-{}.tgz",
                    line % 97
                )
                .unwrap(),
                6 if line.is_multiple_of(4) => {
                    out.extend_from_slice(b"curl 'https://api.example.com/v1?page=2&per_page=50'")
                }
                _ => {}
            }
        }
        out.push(b'\n');
    }
    out
}

fn detection(c: &mut Criterion) {
    let mut group = c.benchmark_group("detect");
    group.sample_size(10);
    let mut rng = Lcg(7);
    for (corpus, dense) in [("log", false), ("dense", true)] {
        let input = detection_corpus(&mut rng, dense);
        group.throughput(Throughput::Bytes(input.len() as u64));
        for (mode, set) in [("off", DetectorSet::empty()), ("on", DetectorSet::all())] {
            group.bench_function(format!("{corpus}_{mode}"), |b| {
                b.iter(|| {
                    // A fresh registry each time: detected values register.
                    let registry = Arc::new(Registry::new());
                    let mut writer = WriterBuilder::new(registry)
                        .detect(set)
                        .build(std::io::sink());
                    for chunk in input.chunks(64 << 10) {
                        writer.write_all(chunk).unwrap();
                    }
                    writer.finish().unwrap();
                })
            });
        }
        // What detection costs the masking thread when the reading thread
        // has done the window pass (as the command does): the chunks are
        // scanned once, outside the timing.
        let scanner = Prescanner::new(DetectorSet::all());
        let scanned: Vec<Scanned> = input
            .chunks(64 << 10)
            .map(|c| scanner.scan(c.to_vec()))
            .collect();
        group.bench_function(format!("{corpus}_on_scanned"), |b| {
            b.iter(|| {
                let registry = Arc::new(Registry::new());
                let mut writer = WriterBuilder::new(registry).build(std::io::sink());
                for chunk in &scanned {
                    writer.write_scanned(chunk).unwrap();
                }
                writer.finish().unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, detection);
criterion_main!(benches);
