//! `private-key`: PEM blocks line by line, a header followed by an escaped
//! key on one line, and the Base64 of a PEM key.
//!
//! The lines form is a chain of candidates, one per line: the header
//! line's candidate ends at its line break and starts the first body
//! line's; each body line's candidate is held until the line is complete
//! (its last byte may still end the block) and then starts the next.

use base64::Engine;

use super::Detector;
use super::alphabet::{B64, Class, is_ws, run, with};
use super::verdict::Verdict;

/// Longest line inside a block, and longest block.
pub(crate) const MAX_LINE: usize = 4 * 1024;
pub(crate) const MAX_BLOCK: usize = 64 * 1024;

/// What a header candidate turned out to be (in `Verdict::Found::masked`
/// terms, an empty mask for the lines form).
static HEADER_MIDDLE: Class = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_uppercase() || c.is_ascii_digit() || c == b' ';
        b += 1;
    }
    t
};

/// B64, `=`, whitespace and the `:` `,` `-` of header fields.
static BLOCK_LINE: Class = with(B64, b"= \t:,-", true);

/// B64, `=` and whitespace: an escaped key's run, apart from escapes.
static ESCAPED_RUN: Class = with(B64, b"= \t", true);

/// Length of a complete header at the start of `text`: `Ok(Some(n))`,
/// `Ok(None)` while `text` may still become one, `Err(())` when not.
pub(crate) fn header(text: &[u8], eof: bool) -> Result<Option<usize>, ()> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let n = text.len().min(BEGIN.len());
    if text[..n] != BEGIN[..n] {
        return Err(());
    }
    if n < BEGIN.len() {
        return if eof { Err(()) } else { Ok(None) };
    }
    let mid = run(&text[BEGIN.len()..], &HEADER_MIDDLE);
    let after = BEGIN.len() + mid;
    if mid > 40 + 22 {
        return Err(());
    }
    if after == text.len() {
        return if eof { Err(()) } else { Ok(None) };
    }
    let words = &text[BEGIN.len()..after];
    let named = (words.ends_with(b"PRIVATE KEY") && words.len() - 11 <= 40)
        || words == b"PGP PRIVATE KEY BLOCK";
    if !named {
        return Err(());
    }
    let dashes = text.len().min(after + 5) - after;
    if text[after..after + dashes] != b"-----"[..dashes] {
        return Err(());
    }
    if dashes < 5 {
        return if eof { Err(()) } else { Ok(None) };
    }
    Ok(Some(after + 5))
}

/// A header candidate. `Found` with an empty mask ending after the line
/// break means a block follows; otherwise the escaped form's run.
/// `checked` is where a previous look at the run stopped (what it masked
/// as sure ends there): the run before it is not scanned again, so a run
/// waiting at each escape's backslash costs one pass in all.
pub(crate) fn at_header(text: &[u8], eof: bool, checked: usize) -> Verdict {
    let h = match header(text, eof) {
        Err(()) => return Verdict::No,
        Ok(None) => return Verdict::next_byte(text.len(), text.len()),
        Ok(Some(h)) => h,
    };
    let ws = text[h..].iter().take_while(|&&b| is_ws(b)).count();
    let after = h + ws;
    match &text[after..] {
        [] | [b'\r'] if !eof => return Verdict::next_byte(h, text.len()),
        [] | [b'\r'] => return Verdict::No,
        [b'\n', ..] => return block_starts(after + 1),
        [b'\r', b'\n', ..] => return block_starts(after + 2),
        _ => {}
    }
    escaped(text, eof, h, checked)
}

fn block_starts(next_line: usize) -> Verdict {
    Verdict::Found {
        detector: Detector::PrivateKey,
        masked: (next_line, next_line),
        end: next_line,
    }
}

/// The escaped form: the run after the header, masked as it arrives.
fn escaped(text: &[u8], eof: bool, h: usize, checked: usize) -> Verdict {
    let at = match escaped_run(text, h.max(checked.min(text.len())), eof) {
        Ok(at) => at,
        Err(at) => {
            return Verdict::Wait {
                hold: h,
                core: &ESCAPED_RUN,
                limit: text.len(),
                sure: Some((h, at)),
            };
        }
    };
    if at == text.len() && !eof {
        // Past MAX_BLOCK the run so far is a piece (too long to register):
        // the detector goes on from its end with `escaped_rest`.
        if at - h > MAX_BLOCK {
            return found(h, at);
        }
        return Verdict::Wait {
            hold: h,
            core: &ESCAPED_RUN,
            limit: h + MAX_BLOCK,
            sure: Some((h, at)),
        };
    }
    if at == h {
        return Verdict::No;
    }
    found(h, at)
}

/// Where an escaped key's run (B64, `=`, whitespace and the escapes `\n`
/// `\r` `\\n` `\\r`, backslash and letter) that goes on at `from` ends:
/// `Ok(end)`, or `Err(at)` when the text so far ends with a backslash at
/// `at` that may still begin an escape.
fn escaped_run(text: &[u8], from: usize, eof: bool) -> Result<usize, usize> {
    let mut at = from;
    loop {
        at += run(&text[at..], &ESCAPED_RUN);
        at += match &text[at..] {
            [b'\\', b'n' | b'r', ..] => 2,
            [b'\\', b'\\', b'n' | b'r', ..] => 3,
            [b'\\'] | [b'\\', b'\\'] if !eof => return Err(at),
            _ => return Ok(at),
        };
    }
}

fn found(from: usize, to: usize) -> Verdict {
    Verdict::Found {
        detector: Detector::PrivateKey,
        masked: (from, to),
        end: to,
    }
}

/// The run of an escaped key (B64, `=`, whitespace and its escapes) from
/// `text[0]`, after a piece of it already masked: the whole run is masked
/// however long it is (SPEC 7), one piece at a time. A piece that reaches
/// the end of the text so far is `Found` there, and the detector goes on
/// from its end.
pub(crate) fn escaped_rest(text: &[u8], eof: bool) -> Verdict {
    match escaped_run(text, 0, eof) {
        // An escape may be coming: what is before it is masked.
        Err(at) => Verdict::Wait {
            hold: at,
            core: &super::alphabet::NOTHING,
            limit: text.len(),
            sure: (at > 0).then_some((0, at)),
        },
        Ok(0) if text.is_empty() && !eof => Verdict::next_byte(0, 0),
        Ok(0) => Verdict::No,
        Ok(at) => found(0, at),
    }
}

/// The rest of a Base64 PEM run from `text[0]` (B64, then its `=`
/// padding), as [`escaped_rest`] for the escaped form.
pub(crate) fn base64_rest(text: &[u8], eof: bool) -> Verdict {
    let n = run(text, &B64);
    let pad = text[n..].iter().take(2).take_while(|&&b| b == b'=').count();
    let end = n + pad;
    if end == text.len() && !eof && (pad == 1 || end == 0) {
        // One more `=` may still come, or nothing has yet.
        return Verdict::Wait {
            hold: 0,
            core: &super::alphabet::NOTHING,
            limit: text.len(),
            sure: (end > 0).then_some((0, end)),
        };
    }
    if end == 0 {
        return Verdict::No;
    }
    found(0, end)
}

/// One line inside a block, starting at `text[0]`. `Found` ends after the
/// line break (the next line continues the block); `No` ends the block.
pub(crate) fn block_line(text: &[u8], eof: bool) -> Verdict {
    let line_break = text.iter().position(|&b| b == b'\n');
    // End of input ends the last line as a line break would (SPEC 3): it
    // is masked like any other line of the block.
    let (nl, end) = match line_break {
        Some(nl) => (nl, nl + 1),
        None if eof && !text.is_empty() => (text.len(), text.len()),
        None => return block_line_pending(text, eof),
    };
    let mut content = &text[..nl];
    if let [rest @ .., b'\r'] = content {
        content = rest;
    }
    if content.len() > MAX_LINE || is_footer(content) {
        return Verdict::No;
    }
    if content.iter().any(|&b| !BLOCK_LINE[b as usize]) {
        return Verdict::No;
    }
    let first = content.iter().position(|&b| !is_ws(b));
    let last = content.iter().rposition(|&b| !is_ws(b));
    let masked = match (first, last) {
        (Some(a), Some(b)) => (a, b + 1),
        _ => (nl, nl),
    };
    Verdict::Found {
        detector: Detector::PrivateKey,
        masked,
        end,
    }
}

/// [`block_line`] of a line whose end has not come yet (or of nothing at
/// the end of input).
fn block_line_pending(text: &[u8], eof: bool) -> Verdict {
    if eof || text.len() > MAX_LINE + 1 {
        return Verdict::No;
    }
    if is_footer(text) || text.iter().any(|&b| !BLOCK_LINE[b as usize] && b != b'\r') {
        return Verdict::No;
    }
    // A footer is known within its first bytes: look at each until then.
    let (core, limit) = if text.len() < 32 {
        (&super::alphabet::NOTHING, text.len())
    } else {
        (&BLOCK_LINE, MAX_LINE + 1)
    };
    Verdict::Wait {
        hold: 0,
        core,
        limit,
        sure: None,
    }
}

fn is_footer(content: &[u8]) -> bool {
    let ws = content.iter().take_while(|&&b| is_ws(b)).count();
    let rest = &content[ws..];
    let n = rest.len().min(9);
    // A partial footer at the end of an incomplete line counts only once
    // complete; `-----END ` is 9 bytes.
    n == 9 && &rest[..9] == b"-----END "
}

/// Start of the Base64 of a PEM header (`-----BEGIN`).
pub(crate) const BASE64_START: &[u8] = b"LS0tLS1CRUdJTi";

/// A Base64 run that decodes to a PEM key, starting at `text[0]`.
pub(crate) fn base64_pem(text: &[u8], eof: bool) -> Verdict {
    let n = run(text, &B64);
    let pad = text[n..].iter().take(2).take_while(|&&b| b == b'=').count();
    let end = n + pad;
    let complete = end < text.len() || eof;
    // Recognised once the decoding holds a whole header.
    let whole = n / 4 * 4;
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&text[..whole])
        .unwrap_or_default();
    let recognised = n >= 60 && matches!(header(&decoded, false), Ok(Some(_)));
    let maybe = !decoded.is_empty() && matches!(header(&decoded, false), Ok(None) | Ok(Some(_)));
    if complete {
        return if recognised {
            Verdict::Found {
                detector: Detector::PrivateKey,
                masked: (0, end),
                end,
            }
        } else {
            Verdict::No
        };
    }
    if !recognised && !maybe && whole >= 16 {
        return Verdict::No;
    }
    if recognised && pad == 0 {
        // Past MAX_BLOCK a piece; the rest follows with `base64_rest`.
        if n > MAX_BLOCK {
            return found(0, n);
        }
        return Verdict::Wait {
            hold: 0,
            core: &B64,
            limit: MAX_BLOCK,
            sure: Some((0, n)),
        };
    }
    Verdict::Wait {
        hold: 0,
        core: &super::alphabet::NOTHING,
        limit: text.len(),
        sure: recognised.then_some((0, end)),
    }
}

/// B64, `=` and whitespace: a wrapped Base64 line before it is trimmed.
static WRAPPED_LINE: Class = with(B64, b"= \t", true);

/// A line after a wrapped Base64 PEM line of `width` characters. The
/// candidate starts at the line break before it; `Found` masks the line's
/// trimmed content and ends at the line break after it (where the next
/// line's candidate starts, when this one is `width` long).
pub(crate) fn base64_line(text: &[u8], eof: bool, width: usize) -> Verdict {
    let s0 = match text {
        [b'\n', ..] => 1,
        [b'\r', b'\n', ..] => 2,
        [] | [b'\r'] if !eof => return Verdict::next_byte(text.len(), text.len()),
        _ => return Verdict::No,
    };
    let line = &text[s0..];
    // As in the lines form, end of input ends the last line.
    let nl = match line.iter().position(|&b| b == b'\n') {
        Some(nl) => Some(nl),
        None if eof && !line.is_empty() => Some(line.len()),
        None => None,
    };
    let Some(nl) = nl else {
        if eof || line.len() > MAX_LINE {
            return Verdict::No;
        }
        return Verdict::Wait {
            hold: s0,
            core: &WRAPPED_LINE,
            limit: s0 + MAX_LINE + 1,
            sure: None,
        };
    };
    let mut content = &line[..nl];
    if let [rest @ .., b'\r'] = content {
        content = rest;
    }
    let first = content.iter().position(|&b| !is_ws(b));
    let last = content.iter().rposition(|&b| !is_ws(b));
    let (Some(a), Some(b)) = (first, last) else {
        return Verdict::No;
    };
    let trimmed = &content[a..=b];
    if trimmed.len() > width || trimmed.iter().any(|&c| !B64[c as usize] && c != b'=') {
        return Verdict::No;
    }
    Verdict::Found {
        detector: Detector::PrivateKey,
        masked: (s0 + a, s0 + b + 1),
        end: s0 + content.len(),
    }
}
