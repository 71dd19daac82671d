//! `url-credentials`: the password of `SCHEME://USER:PASSWORD@`, and the
//! values of credential query or form parameters.

use super::Detector;
use super::alphabet::{Class, run, run_at_most, with};
use super::verdict::Verdict;

/// Longest authority (`USER:PASSWORD@HOST:PORT`) looked at. SPEC 7 bounds
/// USER and PASSWORD to 256 bytes; the host part after them is bounded
/// here so that a candidate's hold is (decision noted in the README).
pub(crate) const MAX_AUTHORITY: usize = 1024;

/// SCHEME bytes after the first: `A-Z a-z 0-9 + . -`.
pub(crate) static SCHEME: Class = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'+' || c == b'.' || c == b'-';
        b += 1;
    }
    t
};

/// Bytes that end an authority.
static AUTHORITY_END: Class = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c < 0x20 || c == 0x7f || matches!(c, b'/' | b'?' | b'#' | b' ');
        b += 1;
    }
    t
};

/// Authority bytes before the first `:`.
static USER: Class = {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = !AUTHORITY_END[b] && b != b':' as usize;
        b += 1;
    }
    t
};

/// Authority bytes after it.
static REST: Class = {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = !AUTHORITY_END[b];
        b += 1;
    }
    t
};

/// Whether the bytes after a `://` may still hold `USER:PASSWORD@`: false
/// once they show an authority that ends before a `:`, or whose part after
/// the `:` ends without an `@`. Most URLs in a log have neither, and
/// rejecting them here costs a few bytes of work instead of a candidate.
pub(crate) fn may_hold_credentials(authority: &[u8]) -> bool {
    let user = run_at_most(authority, &USER, MAX_AUTHORITY);
    if user > MAX_AUTHORITY {
        return false;
    }
    if user == authority.len() {
        return true;
    }
    if authority[user] != b':' {
        return false;
    }
    let rest = &authority[user..];
    let n = run_at_most(rest, &REST, MAX_AUTHORITY);
    n <= MAX_AUTHORITY && (n == rest.len() || rest[..n].contains(&b'@'))
}

/// A URL candidate starting at its scheme (which does not follow a SCHEME
/// byte: the caller's rule).
pub(crate) fn credentials(text: &[u8], eof: bool) -> Verdict {
    let n = run(text, &SCHEME);
    if n == 0 || n > 32 || !text[0].is_ascii_alphabetic() || !text[n..].starts_with(b"://") {
        return Verdict::No;
    }
    let a = n + 3;
    let user = run_at_most(&text[a..], &USER, MAX_AUTHORITY);
    let colon = a + user;
    if colon == text.len() {
        return if eof || user > MAX_AUTHORITY {
            Verdict::No
        } else {
            Verdict::Wait {
                hold: text.len(),
                core: &USER,
                limit: a + MAX_AUTHORITY,
                sure: None,
            }
        };
    }
    if text[colon] != b':' {
        return Verdict::No;
    }
    let rest = run_at_most(
        &text[colon..],
        &REST,
        (a + MAX_AUTHORITY).saturating_sub(colon),
    );
    let end = colon + rest;
    if end - a > MAX_AUTHORITY {
        return Verdict::No;
    }
    if end == text.len() && !eof {
        return Verdict::Wait {
            hold: colon + 1,
            core: &REST,
            limit: a + MAX_AUTHORITY,
            sure: None,
        };
    }
    let Some(at) = text[colon..end]
        .iter()
        .rposition(|&b| b == b'@')
        .map(|i| colon + i)
    else {
        return Verdict::No;
    };
    let password = &text[colon + 1..at];
    if at - a - 1 > 256 || password.is_empty() || password.iter().all(|&b| b == b'*') {
        return Verdict::No;
    }
    Verdict::Found {
        detector: Detector::UrlCredentials,
        masked: (colon + 1, at),
        end: at,
    }
}

/// Parameter names whose values are credentials.
pub(crate) const PARAMS: [&[u8]; 7] = [
    b"access_token",
    b"private_token",
    b"client_secret",
    b"sig",
    b"X-Amz-Signature",
    b"X-Amz-Security-Token",
    b"X-Goog-Signature",
];

const MAX_PARAM: usize = 4096;

/// Bytes a parameter value may hold.
pub(crate) static PARAM_VALUE: Class = with([true; 256], b"&#\"'<> \t\r\n", false);

/// A parameter candidate starting at its `?` or `&`, and the stretch of
/// `text` its value's scan found to be value bytes. `resume(i)` is where
/// a scan of value bytes from offset `i` may go on: past bytes already
/// known to be value bytes (see the detectors' `KnownRun`), else `i`.
pub(crate) fn param(
    text: &[u8],
    eof: bool,
    resume: impl Fn(usize) -> usize,
) -> (Verdict, Option<(usize, usize)>) {
    let verdict = |v| (v, None);
    let after = &text[1..];
    let mut waiting = false;
    let mut from = 0;
    let Some(&first) = after.first() else {
        return verdict(if eof {
            Verdict::No
        } else {
            Verdict::next_byte(text.len(), text.len())
        });
    };
    for name in PARAMS {
        if name[0] != first {
            continue;
        }
        // `name=`, compared byte by byte as far as the text goes.
        let want = |i: usize| if i < name.len() { name[i] } else { b'=' };
        let n = after.len().min(name.len() + 1);
        if (0..n).all(|i| after[i] == want(i)) {
            if n < name.len() + 1 {
                waiting = true;
            } else {
                from = 2 + name.len();
            }
        }
    }
    if from == 0 {
        return verdict(if waiting && !eof {
            Verdict::next_byte(text.len(), text.len())
        } else {
            Verdict::No
        });
    }
    // Value bytes already known from `from` on, as far as the bound needs.
    let skip = (resume(from) - from).min(MAX_PARAM + 1);
    let n = skip
        + run_at_most(
            &text[from + skip..],
            &PARAM_VALUE,
            MAX_PARAM.saturating_sub(skip),
        );
    let run = Some((from, from + n));
    if n > MAX_PARAM {
        return (Verdict::No, run);
    }
    if from + n == text.len() && !eof {
        let wait = Verdict::Wait {
            hold: from,
            core: &PARAM_VALUE,
            limit: from + MAX_PARAM,
            sure: None,
        };
        return (wait, run);
    }
    if n == 0 {
        return (Verdict::No, run);
    }
    let found = Verdict::Found {
        detector: Detector::UrlCredentials,
        masked: (from, from + n),
        end: from + n,
    };
    (found, run)
}
