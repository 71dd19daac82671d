//! What a validator says about a candidate, and the format interpreter the
//! token rows share.
//!
//! A validator is a pure function of the candidate's bytes so far (from
//! its start) and whether the input has ended. It is re-run only when a
//! byte arrives that its `Wait` does not promise to ignore, so a candidate
//! costs one pass over its bytes plus one re-run per separator.

use super::Detector;
use super::alphabet::{Class, NOTHING, run};

/// A validator's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not a credential (or no longer possibly one).
    No,
    /// A credential ending at `end`; `masked` is its secret part. Both are
    /// relative to the candidate's start.
    Found {
        detector: Detector,
        masked: (usize, usize),
        end: usize,
    },
    /// Undecided. Bytes from `hold` on may be masked. The answer stays the
    /// same while every new byte is in `core` and the text is at most
    /// `limit` bytes long. `sure` is masked already, whatever comes next.
    Wait {
        hold: usize,
        core: &'static Class,
        limit: usize,
        sure: Option<(usize, usize)>,
    },
}

impl Verdict {
    /// Waiting for the very next byte.
    pub(crate) fn next_byte(hold: usize, len: usize) -> Verdict {
        Verdict::Wait {
            hold,
            core: &NOTHING,
            limit: len,
            sure: None,
        }
    }

    /// The same answer for a candidate that starts `off` bytes later in
    /// the text than its caller's, with its masked part replaced by
    /// `masked_from` (when given) up to its end.
    pub(crate) fn shifted(self, off: usize, masked_from: Option<usize>) -> Verdict {
        match self {
            Verdict::No => Verdict::No,
            Verdict::Found {
                detector,
                masked,
                end,
            } => Verdict::Found {
                detector,
                masked: (masked_from.unwrap_or(masked.0 + off), masked.1 + off),
                end: end + off,
            },
            Verdict::Wait {
                hold,
                core,
                limit,
                sure,
            } => Verdict::Wait {
                hold: masked_from.unwrap_or(hold + off),
                core,
                limit: limit + off,
                sure: sure.map(|(a, b)| (a + off, b + off)),
            },
        }
    }
}

/// One part of a token's format.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// A maximal run of the class, `min..=max` bytes long.
    Run(&'static Class, usize, usize),
    /// One literal byte.
    Lit(u8),
}

/// Where a format stops before it is decided.
pub(crate) enum Step {
    No,
    Wait(&'static Class, usize),
}

/// Follows `parts` from `at`; on success, the end of the last part, which
/// is followed by the end of input or a byte outside `term`.
pub(crate) fn follow(
    text: &[u8],
    eof: bool,
    mut at: usize,
    parts: &[Part],
    term: &Class,
) -> Result<usize, Step> {
    for part in parts {
        match *part {
            Part::Lit(c) => {
                if at == text.len() {
                    return Err(if eof {
                        Step::No
                    } else {
                        Step::Wait(&NOTHING, at)
                    });
                }
                if text[at] != c {
                    return Err(Step::No);
                }
                at += 1;
            }
            Part::Run(class, min, max) => {
                let n = run(&text[at..], class);
                if n > max {
                    return Err(Step::No);
                }
                if at + n == text.len() && !eof {
                    return Err(Step::Wait(class, at + max));
                }
                if n < min {
                    return Err(Step::No);
                }
                at += n;
            }
        }
    }
    if at == text.len() {
        return if eof {
            Ok(at)
        } else {
            Err(Step::Wait(&NOTHING, at))
        };
    }
    if term[text[at] as usize] {
        Err(Step::No)
    } else {
        Ok(at)
    }
}

/// A Wait verdict for a format step.
pub(crate) fn wait(step: Step, hold: usize) -> Verdict {
    match step {
        Step::No => Verdict::No,
        Step::Wait(core, limit) => Verdict::Wait {
            hold,
            core,
            limit,
            sure: None,
        },
    }
}
