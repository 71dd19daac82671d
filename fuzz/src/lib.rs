//! The properties the fuzz targets check. They live in `props.rs`, which
//! `tests/fuzz_props.rs` in the main crate includes as well, so that the
//! same generators and checks run as quick proptest cases on stable.

#[path = "props.rs"]
pub mod props;
