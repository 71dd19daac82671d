//! Context rows: `aws` secret keys after their key names, and
//! `authorization` headers. The key part is never masked; the value is.

use super::Detector;
use super::alphabet::{B64, Class, HEX, is_ws, run_at_most, with};
use super::verdict::Verdict;

/// The longest optional whitespace (SPEC 7: never more than 16 bytes).
const MAX_WS: usize = 16;

/// A cursor over the key part: each step either advances or says why the
/// candidate stops (no match, or waiting for the next byte).
struct Cursor<'a> {
    text: &'a [u8],
    eof: bool,
    at: usize,
}

impl Cursor<'_> {
    fn need(&self) -> Verdict {
        if self.eof {
            Verdict::No
        } else {
            Verdict::next_byte(self.text.len(), self.text.len())
        }
    }

    /// Skips one byte if `pred` holds for it.
    fn optional(&mut self, pred: impl Fn(u8) -> bool) -> Result<(), Verdict> {
        match self.text.get(self.at) {
            None => Err(self.need()),
            Some(&b) => {
                if pred(b) {
                    self.at += 1;
                }
                Ok(())
            }
        }
    }

    /// Requires one byte for which `pred` holds.
    fn one(&mut self, pred: impl Fn(u8) -> bool) -> Result<(), Verdict> {
        match self.text.get(self.at) {
            None => Err(self.need()),
            Some(&b) if pred(b) => {
                self.at += 1;
                Ok(())
            }
            Some(_) => Err(Verdict::No),
        }
    }

    /// Skips whitespace, `min..=MAX_WS` bytes of it.
    fn ws(&mut self, min: usize) -> Result<(), Verdict> {
        let n = self.text[self.at..]
            .iter()
            .take_while(|&&b| is_ws(b))
            .count();
        if n > MAX_WS {
            return Err(Verdict::No);
        }
        if self.at + n == self.text.len() {
            return Err(self.need());
        }
        if n < min {
            return Err(Verdict::No);
        }
        self.at += n;
        Ok(())
    }

    /// Requires `word`, ASCII case ignored when `fold`.
    fn word(&mut self, word: &[u8], fold: bool) -> Result<(), Verdict> {
        let have = &self.text[self.at..];
        let n = have.len().min(word.len());
        let same = if fold {
            have[..n].eq_ignore_ascii_case(&word[..n])
        } else {
            have[..n] == word[..n]
        };
        if !same {
            return Err(Verdict::No);
        }
        if n < word.len() {
            return Err(self.need());
        }
        self.at += n;
        Ok(())
    }
}

fn quote(b: u8) -> bool {
    b == b'"' || b == b'\''
}

/// The key names an `aws` secret key follows.
pub(crate) const AWS_KEY_NAMES: [&[u8]; 3] = [
    b"aws_secret_access_key",
    b"AWS_SECRET_ACCESS_KEY",
    b"SecretAccessKey",
];

/// An `aws` secret key candidate starting at one of its key names.
pub(crate) fn aws_secret(text: &[u8], eof: bool) -> Verdict {
    let mut verdict = Verdict::No;
    for name in AWS_KEY_NAMES {
        match aws_after(name, text, eof) {
            Verdict::No => {}
            v => verdict = v,
        }
    }
    verdict
}

fn aws_after(name: &[u8], text: &[u8], eof: bool) -> Verdict {
    let mut c = Cursor { text, eof, at: 0 };
    let parsed = (|| {
        c.word(name, false)?;
        c.optional(quote)?;
        c.ws(0)?;
        c.one(|b| b == b'=' || b == b':')?;
        c.ws(0)?;
        c.optional(quote)?;
        Ok(())
    })();
    if let Err(v) = parsed {
        return v;
    }
    let from = c.at;
    let n = run_at_most(&text[from..], &B64, 40);
    if n > 40 {
        return Verdict::No;
    }
    if from + n == text.len() && !eof {
        return Verdict::Wait {
            hold: from,
            core: &B64,
            limit: from + 40,
            sure: None,
        };
    }
    let value = &text[from..from + n];
    if n != 40 || value.iter().all(|&b| HEX[b as usize]) {
        return Verdict::No;
    }
    Verdict::Found {
        detector: Detector::Aws,
        masked: (from, from + n),
        end: from + n,
    }
}

/// Bytes an `authorization` value may hold.
static VALUE: Class = with([true; 256], b" \t\"',\r\n", false);

const MAX_VALUE: usize = 8192;

/// An `authorization` candidate starting at the name (any case).
pub(crate) fn authorization(text: &[u8], eof: bool) -> Verdict {
    let mut c = Cursor { text, eof, at: 0 };
    let parsed = (|| {
        c.word(b"authorization", true)?;
        c.optional(quote)?;
        c.ws(0)?;
        c.one(|b| b == b':' || b == b'=')?;
        c.ws(0)?;
        c.optional(quote)?;
        let rest = &c.text[c.at..];
        let scheme: &[u8] = match rest.first().map(u8::to_ascii_lowercase) {
            None => return Err(c.need()),
            Some(b't') => b"token",
            Some(b'b') => match rest.get(1).map(u8::to_ascii_lowercase) {
                None => return Err(c.need()),
                Some(b'a') => b"basic",
                Some(b'e') => b"bearer",
                Some(b'o') => b"bot",
                Some(_) => return Err(Verdict::No),
            },
            Some(_) => return Err(Verdict::No),
        };
        c.word(scheme, true)?;
        c.ws(1)?;
        Ok(())
    })();
    if let Err(v) = parsed {
        return v;
    }
    let from = c.at;
    let n = run_at_most(&text[from..], &VALUE, MAX_VALUE);
    if n > MAX_VALUE {
        return Verdict::No;
    }
    if from + n == text.len() && !eof {
        return Verdict::Wait {
            hold: from,
            core: &VALUE,
            limit: from + MAX_VALUE,
            sure: None,
        };
    }
    if n < 8 {
        return Verdict::No;
    }
    Verdict::Found {
        detector: Detector::Authorization,
        masked: (from, from + n),
        end: from + n,
    }
}
