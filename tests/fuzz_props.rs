//! The fuzz targets' properties as quick proptest cases, on stable.
//!
//! The generators and checks are the fuzz crate's own (`fuzz/src/props.rs`):
//! each case is a few hundred random bytes that the fuzz target would read
//! the same way. The committed seed corpus and every regression input under
//! `fuzz/regressions/` replay here too.

#[path = "../fuzz/src/props.rs"]
mod props;

use std::path::Path;

use logmask::{Config, EncodingSet};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn differential(data in bytes(300)) {
        props::differential(&data);
    }

    #[test]
    fn protocol(data in bytes(300)) {
        props::protocol(&data);
    }

    #[test]
    fn registry(data in bytes(400)) {
        props::registry(&data);
    }

    /// Values over a tiny alphabet with line breaks, blanks and JSON
    /// punctuation, so that lines, trimming and nesting all happen.
    #[test]
    fn registry_structured(
        value in prop::collection::vec(prop::sample::select(b"ab \t\r\n{}[]\",:\\".to_vec()), 0..40),
        min_length in 1usize..8,
        bits in any::<u16>(),
    ) {
        let encodings: EncodingSet = logmask::Encoding::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, e)| e)
            .collect();
        props::check_registry(&value, &Config { min_length, encodings });
    }
}

/// Replays `fuzz/corpus/TARGET/seed-*` and `fuzz/regressions/TARGET/*`.
#[test]
fn fuzz_seeds_and_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let targets: [(&str, fn(&[u8])); 3] = [
        ("differential", props::differential),
        ("protocol", props::protocol),
        ("registry", props::registry),
    ];
    let mut replayed = 0;
    for (name, check) in targets {
        for dir in [
            root.join("corpus").join(name),
            root.join("regressions").join(name),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                if dir.ends_with(name)
                    && dir.parent().unwrap().ends_with("corpus")
                    && !file.starts_with("seed-")
                {
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| check(&data));
                assert!(result.is_ok(), "{} fails", path.display());
                replayed += 1;
            }
        }
    }
    eprintln!("replayed {replayed} fuzz inputs");
}
