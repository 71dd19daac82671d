//! Where a variant came from: a source label and a form, never a value.
//!
//! Every value enters the registry with a *source label* naming where it
//! was found (`--env DEPLOY_TOKEN`, `--file secrets.txt:3`, `stdin:12`,
//! `detected:github`, `agent:--secret #1`; `api` for a library call
//! without one). Each variant it expands into keeps that label and the
//! *form*, the first encoding (in SPEC 1.3's order) that produced it.
//! Reports and the writer's run callback name these, so the owners of a
//! leaked secret know which one to rotate and how it was printed.
//!
//! Invariant: a label is chosen by the caller from names (options, paths,
//! line numbers, detector names), never from a value; nothing here can
//! tell, so the rule is kept at the call sites.

use std::fmt;
use std::sync::Arc;

use crate::encoding::Encoding;

/// The label of a value added through the library without one.
pub const API_SOURCE: &str = "api";

/// One (source, form) pair that registered a variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The source label the value was registered with.
    pub source: Arc<str>,
    /// The first encoding that produced the variant from that value.
    pub form: Encoding,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.form)
    }
}
