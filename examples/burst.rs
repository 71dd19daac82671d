//! A burst of registrations one at a time, each followed by a matcher
//! (as a dense log's detected credentials are): `cargo run --release
//! --example burst [N]` prints the time per registration.
use logmask::Registry;
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("a count"));
    let registry = Registry::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let start = Instant::now();
    for _ in 0..n {
        let value: Vec<u8> = (0..32)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alnum[(state % alnum.len() as u64) as usize]
            })
            .collect();
        let _ = registry.add(&value);
        let _ = registry.matcher();
    }
    let took = start.elapsed();
    println!(
        "{n} registrations: {:.3} s, {:.1} us each, {} variants",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64,
        registry.matcher().variants()
    );
}
