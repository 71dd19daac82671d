//! The in-band protocol: `::add-mask::` and `::stop-commands::` lines.
//!
//! [`Protocol`] sits in front of the masker. It skips through ordinary
//! text to the next line that may be a command ([`crate::candidate_lines`]) and
//! looks at the first bytes of that line only; lines that cannot be
//! commands go to the masker at once, in one slice. A line that may still become a command is held whole until
//! it is decided, at most [`MAX_LINE`] bytes (SPEC 4).
//!
//! Invariants:
//! - A line is consumed (nothing of it written, unless `pass_commands`)
//!   exactly when its content, after leading spaces and tabs, begins with
//!   `::add-mask::` while commands are not stopped.
//! - Every other byte reaches the masker, in order.
//! - An `::add-mask::` value is registered before any byte of the next line
//!   is masked; its text never appears in a warning.

use std::fmt;
use std::io::{self, Write};

use memchr::memchr;

use crate::candidate_lines::{may_begin_command, next_line_to_hold};
use crate::registry::{Refusal, is_blank, trim_by};
use crate::stream::Masker;

/// Longest line held while it may become a command, and longest
/// `::add-mask::` line accepted, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

const ADD_MASK: &[u8] = b"::add-mask::";
const STOP_COMMANDS: &[u8] = b"::stop-commands::";

/// A problem with one line of the stream. Never holds a secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Name of the stream (`stdin`, `stdout`, `stderr`, ...).
    pub source: String,
    /// 1-based line number in that stream.
    pub line: u64,
    /// What went wrong, without the value.
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.reason)
    }
}

/// Receives warnings as they happen.
pub type WarningSink = Box<dyn FnMut(Warning) + Send>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the beginning of a line; nothing held.
    LineStart,
    /// Inside a line known to be ordinary text.
    Ordinary,
    /// Inside a line that may still become a command; it is in `line`.
    Held,
    /// Inside an `::add-mask::` line; its value so far is in `line`.
    AddMask,
}

/// What a held line turned out to be.
enum Class {
    Undecided,
    Ordinary,
    /// An `::add-mask::` line; the value begins at this offset.
    AddMask(usize),
    /// A complete `::stop-commands::` line; the token begins here.
    StopCommands(usize),
    /// The complete line that resumes command processing.
    Resume,
}

/// Command handling for one stream.
pub(crate) struct Protocol {
    pass_commands: bool,
    source: String,
    warn: Option<WarningSink>,
    state: State,
    /// Number of the current line, from 1.
    line_no: u64,
    line: Vec<u8>,
    /// Content bytes of the current `::add-mask::` line, value or not.
    add_mask_len: usize,
    /// While commands are stopped: the line `::TOKEN::` that resumes them.
    resume_line: Option<Vec<u8>>,
    /// Leading spaces and tabs of the held line seen so far, so that a
    /// line fed a byte at a time is not rescanned from its start.
    held_ws: usize,
}

impl Protocol {
    pub(crate) fn new(source: String, pass_commands: bool, warn: Option<WarningSink>) -> Protocol {
        Protocol {
            pass_commands,
            source,
            warn,
            state: State::LineStart,
            line_no: 1,
            line: Vec::new(),
            add_mask_len: 0,
            resume_line: None,
            held_ws: 0,
        }
    }

    /// Feeds `data` through command handling into `masker`.
    pub(crate) fn write<W: Write>(
        &mut self,
        data: &[u8],
        masker: &mut Masker,
        out: &mut W,
    ) -> io::Result<()> {
        // Ordinary bytes from `plain_from` to `i` go to the masker in one
        // slice when a held line begins or the data ends.
        let mut plain_from = 0;
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::LineStart => {
                    if may_begin_command(data[i]) {
                        masker.write(&data[plain_from..i], out)?;
                        self.line.clear();
                        self.held_ws = 0;
                        self.state = State::Held;
                    } else {
                        self.state = State::Ordinary;
                    }
                }
                State::Ordinary => {
                    let (newlines, next) = next_line_to_hold(&data[i..]);
                    self.line_no += newlines;
                    match next {
                        Some(k) => {
                            i += k;
                            self.state = State::LineStart;
                        }
                        None => {
                            if data.last() == Some(&b'\n') {
                                self.state = State::LineStart;
                            }
                            i = data.len();
                        }
                    }
                }
                State::Held => {
                    // Never hold more than one byte past the limit: that
                    // byte is enough to decide.
                    let room = MAX_LINE + 1 - self.line.len();
                    let (take, complete) = line_piece(&data[i..(i + room).min(data.len())]);
                    self.line.extend_from_slice(&data[i..i + take]);
                    i += take;
                    self.decide_held(complete, masker, out)?;
                    plain_from = i;
                }
                State::AddMask => {
                    let (take, complete) = line_piece(&data[i..]);
                    self.on_add_mask_bytes(&data[i..i + take], complete, masker, out)?;
                    i += take;
                    plain_from = i;
                }
            }
        }
        if matches!(self.state, State::LineStart | State::Ordinary) {
            masker.write(&data[plain_from..], out)?;
        }
        Ok(())
    }

    /// Ends the stream: a partial line is handled as if it ended with a
    /// newline (SPEC 3), without writing one.
    pub(crate) fn finish<W: Write>(&mut self, masker: &mut Masker, out: &mut W) -> io::Result<()> {
        match self.state {
            State::Held => self.decide_held(true, masker, out),
            State::AddMask => self.on_add_mask_bytes(&[], true, masker, out),
            State::LineStart | State::Ordinary => Ok(()),
        }
    }

    fn decide_held<W: Write>(
        &mut self,
        complete: bool,
        masker: &mut Masker,
        out: &mut W,
    ) -> io::Result<()> {
        self.held_ws += self.line[self.held_ws..]
            .iter()
            .take_while(|&&b| is_blank(b))
            .count();
        match self.classify(complete) {
            Class::Undecided => Ok(()),
            Class::Ordinary => {
                masker.write(&self.line, out)?;
                self.end_plain_line(complete);
                Ok(())
            }
            Class::AddMask(at) => self.start_add_mask(at, complete, masker, out),
            Class::StopCommands(at) => {
                let token = content(&self.line)[at..].to_vec();
                self.stop_commands(&token, masker);
                // Written after the token is registered, so it shows as
                // `::stop-commands::***`.
                masker.write(&self.line, out)?;
                self.end_plain_line(complete);
                Ok(())
            }
            Class::Resume => {
                self.resume_line = None;
                masker.write(&self.line, out)?;
                self.end_plain_line(complete);
                Ok(())
            }
        }
    }

    fn end_plain_line(&mut self, complete: bool) {
        if complete {
            self.line_no += 1;
            self.state = State::LineStart;
        } else {
            self.state = State::Ordinary;
        }
    }

    /// Looks at the held line: its content after leading whitespace decides.
    ///
    /// The decision depends on the line alone, never on how it was split:
    /// a line is held only while its bytes before the newline fit in
    /// [`MAX_LINE`], so an `::add-mask::` prefix must end within the limit
    /// and a stop or resume line must fit in it whole.
    fn classify(&self, complete: bool) -> Class {
        let held = if complete {
            &self.line[..self.line.len() - 1]
        } else {
            &self.line[..]
        };
        let content = if complete { content(&self.line) } else { held };
        // Leading whitespace never includes the line ending.
        let ws = self.held_ws.min(content.len());
        let rest = &content[ws..];
        if self.resume_line.is_none()
            && rest.starts_with(ADD_MASK)
            && ws + ADD_MASK.len() <= MAX_LINE
        {
            return Class::AddMask(ws + ADD_MASK.len());
        }
        if held.len() > MAX_LINE {
            return Class::Ordinary;
        }
        if let Some(resume) = &self.resume_line {
            if complete {
                return if rest == &resume[..] {
                    Class::Resume
                } else {
                    Class::Ordinary
                };
            }
            // A trailing CR may still turn out to be part of the line end.
            let may_resume = resume.starts_with(rest)
                || (rest.len() == resume.len() + 1
                    && rest.starts_with(resume)
                    && rest.ends_with(b"\r"));
            return if may_resume {
                Class::Undecided
            } else {
                Class::Ordinary
            };
        }
        if rest.starts_with(STOP_COMMANDS) {
            return if complete {
                Class::StopCommands(ws + STOP_COMMANDS.len())
            } else {
                Class::Undecided
            };
        }
        if !complete && (ADD_MASK.starts_with(rest) || STOP_COMMANDS.starts_with(rest)) {
            return Class::Undecided;
        }
        Class::Ordinary
    }

    /// The held line is an `::add-mask::` line: from here on it is consumed
    /// as it arrives, never held.
    fn start_add_mask<W: Write>(
        &mut self,
        value_at: usize,
        complete: bool,
        masker: &mut Masker,
        out: &mut W,
    ) -> io::Result<()> {
        let held = std::mem::take(&mut self.line);
        if self.pass_commands {
            masker.write_verbatim(&held, out)?;
        } else {
            masker.note_consumed(&held);
        }
        self.state = State::AddMask;
        // The prefix counts toward the line length; the rest is value.
        self.add_mask_len = value_at;
        self.accumulate_value(&held[value_at..]);
        if complete {
            self.end_add_mask(masker);
        }
        Ok(())
    }

    fn on_add_mask_bytes<W: Write>(
        &mut self,
        bytes: &[u8],
        complete: bool,
        masker: &mut Masker,
        out: &mut W,
    ) -> io::Result<()> {
        if self.pass_commands {
            masker.write_verbatim(bytes, out)?;
        } else {
            masker.note_consumed(bytes);
        }
        self.accumulate_value(bytes);
        if complete {
            self.end_add_mask(masker);
        }
        Ok(())
    }

    /// Keeps value bytes while the line is within bounds; past that the
    /// line is only counted.
    fn accumulate_value(&mut self, bytes: &[u8]) {
        self.add_mask_len += bytes.len();
        if self.add_mask_len <= MAX_LINE + 2 {
            self.line.extend_from_slice(bytes);
        } else {
            self.line.clear();
        }
    }

    fn end_add_mask(&mut self, masker: &mut Masker) {
        let raw = std::mem::take(&mut self.line);
        // The counted bytes include the line ending; the limit is on content.
        let ending = raw.len() - content(&raw).len();
        let too_long = self.add_mask_len - ending.min(self.add_mask_len) > MAX_LINE;
        if too_long {
            self.warn(format!(
                "::add-mask:: line is longer than {} KiB, value refused",
                MAX_LINE / 1024
            ));
        } else {
            let value = unescape(content(&raw));
            match masker.registry().add_from(&value, &self.label()) {
                Ok(_) => {}
                Err(Refusal::Blank) => self.warn("::add-mask:: value is empty or blank".into()),
                Err(refusal) => self.warn(format!("::add-mask:: {refusal}")),
            }
        }
        self.line = raw;
        self.line.clear();
        self.line_no += 1;
        self.state = State::LineStart;
    }

    /// Stops command processing until `::TOKEN::`; the token is
    /// registered so the stop and resume lines show it masked.
    fn stop_commands(&mut self, token: &[u8], masker: &mut Masker) {
        let token = trim_by(token, is_blank);
        if token.is_empty() {
            self.warn("::stop-commands:: token is empty or blank, commands not stopped".into());
            return;
        }
        if let Err(refusal) = masker.registry().add_from(token, &self.label()) {
            self.warn(format!("::stop-commands:: token not masked: {refusal}"));
        }
        let mut resume = b"::".to_vec();
        resume.extend_from_slice(token);
        resume.extend_from_slice(b"::");
        self.resume_line = Some(resume);
    }

    /// The source label of a value found on the current line (`stdin:12`).
    fn label(&self) -> String {
        format!("{}:{}", self.source, self.line_no)
    }

    fn warn(&mut self, reason: String) {
        if let Some(sink) = &mut self.warn {
            sink(Warning {
                source: self.source.clone(),
                line: self.line_no,
                reason,
            });
        }
    }
}

/// Splits off the bytes up to and including the next newline.
fn line_piece(data: &[u8]) -> (usize, bool) {
    match memchr(b'\n', data) {
        Some(k) => (k + 1, true),
        None => (data.len(), false),
    }
}

/// A line without its ending: the final `\n` and one `\r` before it.
fn content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One left-to-right pass decoding exactly `%25`, `%0D` and `%0A`.
pub fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let decoded = match value.get(i..i + 3) {
            Some(b"%25") => Some(b'%'),
            Some(b"%0D") => Some(b'\r'),
            Some(b"%0A") => Some(b'\n'),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(value[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_decodes_exactly_three_sequences() {
        let cases: &[(&str, &str)] = &[
            ("a%25b", "a%b"),
            ("a%0Db%0Ac", "a\rb\nc"),
            ("%0d%0a", "%0d%0a"),
            ("%2525", "%25"),
            ("%%0A", "%\n"),
            ("100%", "100%"),
            ("%2", "%2"),
        ];
        for (input, want) in cases {
            assert_eq!(unescape(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
    }
}
