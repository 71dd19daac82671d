//! The token rows of SPEC 7, as a table that reads like the SPEC's: a
//! prefix, the format after it, the check, and where masking starts.

use super::Detector;
use super::alphabet::*;
use super::checksum::{crc32, is_base36, is_base62, is_hex_upper};
use super::jwt;
use super::verdict::{Part, Part::*, Verdict, follow, wait};

/// The check a row applies once its format is complete.
#[derive(Clone, Copy)]
enum Check {
    None,
    /// Last 6 body characters = base62(CRC32(the body before them), 6).
    Crc62,
    /// Last 8 characters = hex(CRC32(the 184 before them from the prefix), 8).
    Atlassian,
    /// The body holds this.
    Holds(&'static [u8]),
    /// The body ends in this.
    EndsIn(&'static [u8]),
}

struct Row {
    detector: Detector,
    prefixes: &'static [&'static [u8]],
    parts: &'static [Part],
    check: Check,
    /// Masking starts this many bytes into the prefix (the body: its length).
    mask_from: Option<usize>,
}

const fn row(
    detector: Detector,
    prefixes: &'static [&'static [u8]],
    parts: &'static [Part],
    check: Check,
) -> Row {
    Row {
        detector,
        prefixes,
        parts,
        check,
        mask_from: None,
    }
}

const fn row_from(
    detector: Detector,
    prefixes: &'static [&'static [u8]],
    parts: &'static [Part],
    check: Check,
    mask_from: usize,
) -> Row {
    Row {
        detector,
        prefixes,
        parts,
        check,
        mask_from: Some(mask_from),
    }
}

use Detector as D;

static ROWS: &[Row] = &[
    row(
        D::Github,
        &[b"ghp_", b"gho_", b"ghu_", b"ghs_"],
        &[Run(&B62, 36, 36)],
        Check::Crc62,
    ),
    row(D::Github, &[b"ghr_"], &[Run(&B62, 76, 76)], Check::Crc62),
    row_from(
        D::Github,
        &[b"github_pat_"],
        &[Run(&B62, 22, 22), Lit(b'_'), Run(&B62, 59, 59)],
        Check::None,
        11,
    ),
    row(
        D::Gitlab,
        &[
            b"glpat-",
            b"gldt-",
            b"glrt-",
            b"glft-",
            b"glsoat-",
            b"glffct-",
            b"GR1348941",
        ],
        &[Run(&B64U, 20, 20)],
        Check::None,
    ),
    row(D::Gitlab, &[b"glptt-"], &[Run(&HEX, 40, 40)], Check::None),
    row(D::Npm, &[b"npm_"], &[Run(&B62, 36, 36)], Check::Crc62),
    row_from(
        D::Pypi,
        &[b"pypi-AgEIcHlwaS5vcmc", b"pypi-AgENdGVzdC5weXBpLm9yZw"],
        &[Run(&B64U, 50, 1000)],
        Check::None,
        5,
    ),
    row(
        D::Aws,
        &[b"AKIA", b"ASIA", b"ABIA", b"ACCA"],
        &[Run(&B32_UPPER, 16, 16)],
        Check::None,
    ),
    row(
        D::Slack,
        &[
            b"xoxb-", b"xoxp-", b"xoxa-", b"xoxr-", b"xoxs-", b"xoxe-", b"xoxc-", b"xoxd-",
            b"xapp-",
        ],
        &[Run(&B62_DASH, 20, 255)],
        Check::Holds(b"-"),
    ),
    row(
        D::Stripe,
        &[b"sk_live_", b"rk_live_", b"sk_test_", b"rk_test_"],
        &[Run(&B62, 10, 247)],
        Check::None,
    ),
    row(D::Stripe, &[b"whsec_"], &[Run(&B62, 32, 64)], Check::None),
    row(D::Google, &[b"AIza"], &[Run(&B64U, 35, 35)], Check::None),
    row(D::Google, &[b"GOCSPX-"], &[Run(&B64U, 28, 28)], Check::None),
    row(D::Google, &[b"ya29."], &[Run(&B64U, 20, 2048)], Check::None),
    row(
        D::Dockerhub,
        &[b"dckr_pat_"],
        &[Run(&B64U, 27, 27)],
        Check::None,
    ),
    row(
        D::Dockerhub,
        &[b"dckr_oat_"],
        &[Run(&B64U, 32, 32)],
        Check::None,
    ),
    row(
        D::Vault,
        &[b"hvs.", b"hvb.", b"hvr."],
        &[Run(&B64U, 24, 512)],
        Check::None,
    ),
    row(
        D::Atlassian,
        &[b"ATATT3"],
        &[Run(&B64U_EQ, 186, 186)],
        Check::Atlassian,
    ),
    row_from(
        D::Openai,
        &[b"sk-proj-", b"sk-svcacct-", b"sk-admin-"],
        &[Run(&B64U, 40, 512)],
        Check::Holds(b"T3BlbkFJ"),
        3,
    ),
    row_from(
        D::Anthropic,
        &[b"sk-ant-api03-", b"sk-ant-admin01-"],
        &[Run(&B64U, 80, 160)],
        Check::EndsIn(b"AA"),
        7,
    ),
];

/// Evaluates the token rows at a candidate that starts at `text[0]`.
/// Combines the rows whose prefix fits: a credential if one is found,
/// else undecided while one may still be.
pub(crate) fn tokens(text: &[u8], eof: bool) -> Verdict {
    let mut best = Verdict::No;
    let mut consider = |v: Verdict| {
        best = combine(best, v);
    };
    let Some(&first) = text.first() else {
        return Verdict::No;
    };
    // Most candidates fail on their first bytes: compare those first.
    for row in ROWS {
        for prefix in row.prefixes {
            if prefix[0] == first {
                consider(eval_row(row, prefix, text, eof));
            }
        }
    }
    if first == b'g' {
        consider(gitlab_routable(text, eof));
        consider(ghs_jwt(text, eof));
    }
    best
}

/// A credential beats undecided beats nothing; two undecided answers
/// wait for what either waits for.
fn combine(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (f @ Verdict::Found { .. }, _) | (_, f @ Verdict::Found { .. }) => f,
        (Verdict::No, x) | (x, Verdict::No) => x,
        (
            Verdict::Wait {
                hold: h1,
                core: c1,
                limit: l1,
                sure: s1,
            },
            Verdict::Wait {
                hold: h2,
                core: c2,
                limit: l2,
                ..
            },
        ) => Verdict::Wait {
            hold: h1.min(h2),
            // Re-evaluate on any byte either does not ignore.
            core: if std::ptr::eq(c1, c2) { c1 } else { &NOTHING },
            limit: l1.min(l2),
            sure: s1,
        },
    }
}

/// Matches `prefix` at the start of `text`: `Some(Ok)` when it is there,
/// `Some(Err(wait))` when `text` is a shorter start of it.
fn prefix_state(prefix: &[u8], text: &[u8], eof: bool, hold: usize) -> Option<Result<(), Verdict>> {
    let n = prefix.len().min(text.len());
    // Short prefixes: a byte loop beats a call to memcmp.
    if prefix[..n].iter().zip(&text[..n]).any(|(a, b)| a != b) {
        return None;
    }
    if text.len() >= prefix.len() {
        Some(Ok(()))
    } else if !eof && prefix.starts_with(text) {
        Some(Err(Verdict::next_byte(hold, text.len())))
    } else {
        None
    }
}

fn eval_row(row: &Row, prefix: &[u8], text: &[u8], eof: bool) -> Verdict {
    let mask_from = row.mask_from.unwrap_or(prefix.len());
    match prefix_state(prefix, text, eof, mask_from) {
        None => return Verdict::No,
        Some(Err(w)) => return w,
        Some(Ok(())) => {}
    }
    let end = match follow(text, eof, prefix.len(), row.parts, &B64U) {
        Ok(end) => end,
        Err(step) => return wait(step, mask_from),
    };
    let body = &text[prefix.len()..end];
    let ok = match row.check {
        Check::None => true,
        Check::Crc62 => {
            let (data, digits) = body.split_at(body.len() - 6);
            is_base62(digits, crc32(data).into())
        }
        Check::Atlassian => {
            let (data, digits) = text[..end].split_at(end - 8);
            is_hex_upper(digits, crc32(data).into())
        }
        Check::Holds(needle) => body.windows(needle.len()).any(|w| w == needle),
        Check::EndsIn(suffix) => body.ends_with(suffix),
    };
    if ok {
        Verdict::Found {
            detector: row.detector,
            masked: (mask_from, end),
            end,
        }
    } else {
        Verdict::No
    }
}

/// `glpat-`/`glrt-` + P + `.` + optionally (V + `.`) + L + C.
fn gitlab_routable(text: &[u8], eof: bool) -> Verdict {
    for prefix in [&b"glpat-"[..], b"glrt-"] {
        let from = prefix.len();
        match prefix_state(prefix, text, eof, from) {
            None => continue,
            Some(Err(w)) => return w,
            Some(Ok(())) => {}
        }
        let p_end = match follow(text, eof, from, &[Run(&B64U, 27, 300), Lit(b'.')], &NOTHING) {
            Ok(at) => at,
            Err(step) => return wait(step, from),
        };
        // With a version part, or without: L + C is one B36 run of 9.
        let with_v = [Run(&B36, 2, 2), Lit(b'.'), Run(&B36, 9, 9)];
        let without = [Run(&B36, 9, 9)];
        let mut pending = Verdict::No;
        for parts in [&with_v[..], &without[..]] {
            let end = match follow(text, eof, p_end, parts, &B64U) {
                Ok(end) => end,
                Err(step) => {
                    pending = combine(pending, wait(step, from));
                    continue;
                }
            };
            let (l, c) = (&text[end - 9..end - 7], &text[end - 7..end]);
            let p_len = (p_end - 1 - from) as u64;
            if is_base36(l, p_len) && is_base36(c, crc32(&text[..end - 7]).into()) {
                return Verdict::Found {
                    detector: Detector::Gitlab,
                    masked: (from, end),
                    end,
                };
            }
        }
        return pending;
    }
    Verdict::No
}

/// `ghs_` + 1 to 20 digits + `_` + a `jwt` credential.
fn ghs_jwt(text: &[u8], eof: bool) -> Verdict {
    match prefix_state(b"ghs_", text, eof, 4) {
        None => return Verdict::No,
        Some(Err(w)) => return w,
        Some(Ok(())) => {}
    }
    let at = match follow(text, eof, 4, &[Run(&DIGIT, 1, 20), Lit(b'_')], &NOTHING) {
        Ok(at) => at,
        Err(step) => return wait(step, 4),
    };
    jwt::jwt(&text[at..], eof)
        .shifted(at, Some(4))
        .with_detector(Detector::Github)
}

/// `https://hooks.slack.com/services/T.../B.../` + B62 x 24: the last 24.
pub(crate) fn slack_webhook(text: &[u8], eof: bool) -> Verdict {
    const PREFIX: &[u8] = b"https://hooks.slack.com/services/";
    match prefix_state(PREFIX, text, eof, PREFIX.len()) {
        None => return Verdict::No,
        Some(Err(w)) => return w,
        Some(Ok(())) => {}
    }
    // `T` + (A-Z 0-9) x 8..11 is one run of 9..12 that starts with `T`
    // (SPEC: adjacent parts of one alphabet form one run); `/B` likewise.
    let at = PREFIX.len();
    match follow_upper_run(text, eof, at, b'T') {
        Err(v) => v,
        Ok(at) => match follow_upper_run(text, eof, at, b'B') {
            Err(v) => v,
            Ok(at) => match follow(text, eof, at, &[Run(&B62, 24, 24)], &B64U) {
                Ok(end) => Verdict::Found {
                    detector: Detector::Slack,
                    masked: (end - 24, end),
                    end,
                },
                Err(step) => wait(step, at),
            },
        },
    }
}

/// A run of `A-Z 0-9` of 9..12 starting with `first`, then `/`.
fn follow_upper_run(text: &[u8], eof: bool, at: usize, first: u8) -> Result<usize, Verdict> {
    // Nothing before the last part is masked: hold nothing yet.
    let hold = usize::MAX;
    if at == text.len() {
        return Err(if eof {
            Verdict::No
        } else {
            Verdict::next_byte(hold, at)
        });
    }
    if text[at] != first {
        return Err(Verdict::No);
    }
    match follow(
        text,
        eof,
        at,
        &[Run(&UPPER_DIGIT, 9, 12), Lit(b'/')],
        &NOTHING,
    ) {
        Ok(at) => Ok(at),
        Err(step) => Err(wait(step, hold)),
    }
}

impl Verdict {
    fn with_detector(self, d: Detector) -> Verdict {
        match self {
            Verdict::Found { masked, end, .. } => Verdict::Found {
                detector: d,
                masked,
                end,
            },
            v => v,
        }
    }
}
