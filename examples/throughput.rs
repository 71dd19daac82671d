//! Masks stdin to stdout with the secrets listed (one a line) in the file
//! named by the first argument; prints build time and throughput to stderr.
//! A minimal harness for measuring the engine alone, without the CLI.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .expect("usage: throughput SECRETS_FILE < input");
    let started = Instant::now();
    let registry = Arc::new(logmask::Registry::new());
    for line in std::fs::read(path)?.split(|&b| b == b'\n') {
        let _ = registry.add(line);
    }
    let registered = started.elapsed();
    let _ = registry.matcher();
    let build = started.elapsed() - registered;
    let stdout = std::io::stdout().lock();
    let mut writer = logmask::MaskWriter::new(registry.clone(), stdout);
    let mut buf = vec![0u8; 1 << 20];
    let mut stdin = std::io::stdin().lock();
    let mut total = 0u64;
    let t = Instant::now();
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        writer.write_all(&buf[..n])?;
        writer.flush()?;
    }
    let stats = writer.stats();
    drop(writer.finish()?);
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "variants={} register={:?} build={:?} bytes={} time={:.3}s {:.0} MB/s regions={}",
        registry.variants(),
        registered,
        build,
        total,
        secs,
        total as f64 / secs / 1e6,
        stats.regions
    );
    Ok(())
}
