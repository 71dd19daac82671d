//! The in-band protocol: `::add-mask::` and `::stop-commands::` lines.
//!
//! [`Protocol`] is a sans-IO classifier: it is fed bytes and hands each
//! piece of them to a sink as an [`Event`] (text to mask, bytes to pass
//! through verbatim, bytes consumed, a value to register, a warning). It
//! never touches the masker, the registry or a writer; `MaskWriter` acts
//! on the events. It skips through ordinary text to the next line that
//! may be a command ([`crate::candidate_lines`]) and looks at the first
//! bytes of that line only; lines that cannot be commands are handed on
//! at once, in one slice. A line that may still become a command is held
//! whole until it is decided, at most [`MAX_LINE`] bytes of content
//! (SPEC 4).
//!
//! Invariants:
//! - Every input byte is in exactly one `Text`, `Verbatim` or `Consumed`
//!   event, in input order.
//! - A line is consumed (`Consumed`, or `Verbatim` with `pass_commands`)
//!   exactly when its content, after leading spaces and tabs, begins with
//!   `::add-mask::` while commands are not stopped.
//! - A `Register` event comes after the command line's last byte and
//!   before any byte of the next line; a `::stop-commands::` token's comes
//!   before the line's own `Text`, so the line shows the token masked.
//! - The content limit never counts the line ending (`\n` and one `\r`
//!   before it), and the answer never depends on how input is split.
//! - No event text or warning holds a value except `Register`.

use std::fmt;

use memchr::memchr;

use crate::candidate_lines::{may_begin_command, next_line_to_hold};
use crate::registry::{is_blank, trim_by};

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
    /// 1-based line number in that stream; 0 for a warning about the
    /// stream as a whole (then `source` names what it is about, such as
    /// `detected:github`, and the line is not shown).
    pub line: u64,
    /// What went wrong, without the value.
    pub reason: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.source, self.reason),
            line => write!(f, "{}:{line}: {}", self.source, self.reason),
        }
    }
}

/// Receives warnings as they happen.
pub type WarningSink = Box<dyn FnMut(Warning) + Send>;

/// Which command asked for a value to be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// `::add-mask::VALUE` (already unescaped).
    AddMask,
    /// The TOKEN of `::stop-commands::TOKEN` (trimmed).
    StopCommands,
}

/// What the protocol found in the bytes it was fed, in input order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// Ordinary text: to be masked.
    Text(&'a [u8]),
    /// Bytes of an `::add-mask::` line written through unmasked
    /// (`pass_commands`).
    Verbatim(&'a [u8]),
    /// Bytes of an `::add-mask::` line consumed: counted, not written
    /// (the bytes, so that run positions can count its line).
    Consumed(&'a [u8]),
    /// A value to register, found on 1-based line `line`.
    Register {
        value: Vec<u8>,
        line: u64,
        command: Command,
    },
    /// A problem with 1-based line `line`; never holds a value.
    Warn { line: u64, reason: String },
}

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
    pub(crate) fn new(pass_commands: bool) -> Protocol {
        Protocol {
            pass_commands,
            state: State::LineStart,
            line_no: 1,
            line: Vec::new(),
            add_mask_len: 0,
            resume_line: None,
            held_ws: 0,
        }
    }

    /// Classifies `data`, handing every piece of it to `sink` in order.
    /// An error from the sink stops the feed and is returned; the
    /// protocol's state is then undefined (the writer is poisoned).
    pub(crate) fn feed<E>(
        &mut self,
        data: &[u8],
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        // Ordinary bytes from `plain_from` to `i` go out as one `Text`
        // when a held line begins or the data ends.
        let mut plain_from = 0;
        let mut i = 0;
        while i < data.len() {
            match self.state {
                State::LineStart => {
                    if may_begin_command(data[i]) {
                        text(sink, &data[plain_from..i])?;
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
                    // Never hold more than the limit and a line ending:
                    // one more byte is enough to decide.
                    let room = MAX_LINE + 2 - self.line.len();
                    let (take, complete) = line_piece(&data[i..(i + room).min(data.len())]);
                    self.line.extend_from_slice(&data[i..i + take]);
                    i += take;
                    self.decide_held(complete, sink)?;
                    plain_from = i;
                }
                State::AddMask => {
                    let (take, complete) = line_piece(&data[i..]);
                    self.on_add_mask_bytes(&data[i..i + take], complete, sink)?;
                    i += take;
                    plain_from = i;
                }
            }
        }
        if matches!(self.state, State::LineStart | State::Ordinary) {
            text(sink, &data[plain_from..])?;
        }
        Ok(())
    }

    /// Ends the stream: a partial line is handled as if it ended with a
    /// newline (SPEC 3), without writing one.
    pub(crate) fn finish<E>(
        &mut self,
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.state {
            State::Held => self.decide_held(true, sink),
            State::AddMask => self.on_add_mask_bytes(&[], true, sink),
            State::LineStart | State::Ordinary => Ok(()),
        }
    }

    fn decide_held<E>(
        &mut self,
        complete: bool,
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.held_ws += self.line[self.held_ws..]
            .iter()
            .take_while(|&&b| is_blank(b))
            .count();
        match self.classify(complete) {
            Class::Undecided => Ok(()),
            Class::Ordinary => {
                text(sink, &self.line)?;
                self.end_plain_line(complete);
                Ok(())
            }
            Class::AddMask(at) => self.start_add_mask(at, complete, sink),
            Class::StopCommands(at) => {
                let token = content(&self.line)[at..].to_vec();
                self.stop_commands(&token, sink)?;
                // Handed on after the token's registration, so it shows
                // as `::stop-commands::***`.
                text(sink, &self.line)?;
                self.end_plain_line(complete);
                Ok(())
            }
            Class::Resume => {
                self.resume_line = None;
                text(sink, &self.line)?;
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
    /// a line is held only while its content fits in [`MAX_LINE`], so an
    /// `::add-mask::` prefix must end within the limit and a stop or resume
    /// line must fit in it whole. The line ending is never content: a `\r`
    /// last in an incomplete line may still be the start of `\r\n`.
    fn classify(&self, complete: bool) -> Class {
        let content = if complete {
            content(&self.line)
        } else {
            &self.line[..]
        };
        let content_len = if complete {
            content.len()
        } else {
            content.len() - usize::from(content.ends_with(b"\r"))
        };
        // Leading whitespace never includes the line ending.
        let ws = self.held_ws.min(content.len());
        let rest = &content[ws..];
        if self.resume_line.is_none()
            && rest.starts_with(ADD_MASK)
            && ws + ADD_MASK.len() <= MAX_LINE
        {
            return Class::AddMask(ws + ADD_MASK.len());
        }
        if content_len > MAX_LINE {
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
    fn start_add_mask<E>(
        &mut self,
        value_at: usize,
        complete: bool,
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let held = std::mem::take(&mut self.line);
        self.state = State::AddMask;
        // The prefix counts toward the line length; the rest is value.
        self.add_mask_len = value_at;
        self.accumulate_value(&held[value_at..]);
        self.pass_or_consume(&held, sink)?;
        if complete {
            self.end_add_mask(sink)?;
        }
        Ok(())
    }

    fn on_add_mask_bytes<E>(
        &mut self,
        bytes: &[u8],
        complete: bool,
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.accumulate_value(bytes);
        self.pass_or_consume(bytes, sink)?;
        if complete {
            self.end_add_mask(sink)?;
        }
        Ok(())
    }

    fn pass_or_consume<E>(
        &self,
        bytes: &[u8],
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        match (bytes.is_empty(), self.pass_commands) {
            (true, _) => Ok(()),
            (false, true) => sink(Event::Verbatim(bytes)),
            (false, false) => sink(Event::Consumed(bytes)),
        }
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

    fn end_add_mask<E>(
        &mut self,
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut raw = std::mem::take(&mut self.line);
        // The counted bytes include the line ending; the limit is on content.
        let ending = raw.len() - content(&raw).len();
        let too_long = self.add_mask_len - ending.min(self.add_mask_len) > MAX_LINE;
        let line = self.line_no;
        let event = if too_long {
            Event::Warn {
                line,
                reason: format!(
                    "::add-mask:: line is longer than {} KiB, value refused",
                    MAX_LINE / 1024
                ),
            }
        } else {
            Event::Register {
                value: unescape(content(&raw)),
                line,
                command: Command::AddMask,
            }
        };
        raw.clear();
        self.line = raw;
        self.line_no += 1;
        self.state = State::LineStart;
        sink(event)
    }

    /// Stops command processing until `::TOKEN::`; the token is
    /// registered so the stop and resume lines show it masked.
    fn stop_commands<E>(
        &mut self,
        token: &[u8],
        sink: &mut impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let token = trim_by(token, is_blank);
        if token.is_empty() {
            return sink(Event::Warn {
                line: self.line_no,
                reason: "::stop-commands:: token is empty or blank, commands not stopped".into(),
            });
        }
        let mut resume = b"::".to_vec();
        resume.extend_from_slice(token);
        resume.extend_from_slice(b"::");
        self.resume_line = Some(resume);
        sink(Event::Register {
            value: token.to_vec(),
            line: self.line_no,
            command: Command::StopCommands,
        })
    }
}

/// Hands on ordinary text; empty slices are not events.
fn text<E>(sink: &mut impl FnMut(Event<'_>) -> Result<(), E>, bytes: &[u8]) -> Result<(), E> {
    if bytes.is_empty() {
        Ok(())
    } else {
        sink(Event::Text(bytes))
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

    /// An event with its bytes owned, adjacent pieces of one kind merged:
    /// how a split falls must not show.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Ev {
        Text(String),
        Verbatim(String),
        Consumed(usize),
        Register(String, u64, Command),
        Warn(u64),
    }

    fn push(events: &mut Vec<Ev>, event: Event<'_>) {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        let ev = match event {
            Event::Text(b) => Ev::Text(text(b)),
            Event::Verbatim(b) => Ev::Verbatim(text(b)),
            Event::Consumed(b) => Ev::Consumed(b.len()),
            Event::Register {
                value,
                line,
                command,
            } => Ev::Register(text(&value), line, command),
            Event::Warn { line, .. } => Ev::Warn(line),
        };
        match (events.last_mut(), ev) {
            (Some(Ev::Text(a)), Ev::Text(b)) => a.push_str(&b),
            (Some(Ev::Verbatim(a)), Ev::Verbatim(b)) => a.push_str(&b),
            (Some(Ev::Consumed(a)), Ev::Consumed(b)) => *a += b,
            (_, ev) => events.push(ev),
        }
    }

    fn feed(input: &[u8], cuts: &[usize], pass_commands: bool) -> Vec<Ev> {
        let mut protocol = Protocol::new(pass_commands);
        let mut events = Vec::new();
        let mut sink = |e: Event<'_>| -> Result<(), ()> {
            push(&mut events, e);
            Ok(())
        };
        let mut last = 0;
        for &cut in cuts.iter().chain([&input.len()]) {
            protocol.feed(&input[last..cut], &mut sink).unwrap();
            last = cut;
        }
        protocol.finish(&mut sink).unwrap();
        events
    }

    /// Whole, at every single cut, and one byte at a time.
    fn check(input: &str, pass_commands: bool, want: &[Ev]) {
        let bytes = input.as_bytes();
        let mut splits: Vec<Vec<usize>> = vec![vec![], (1..bytes.len()).collect()];
        splits.extend((0..=bytes.len()).map(|c| vec![c]));
        for cuts in splits {
            assert_eq!(
                feed(bytes, &cuts, pass_commands),
                want,
                "{input:?} cut at {cuts:?}"
            );
        }
    }

    fn t(s: &str) -> Ev {
        Ev::Text(s.into())
    }

    fn reg(s: &str, line: u64) -> Ev {
        Ev::Register(s.into(), line, Command::AddMask)
    }

    fn stop(s: &str, line: u64) -> Ev {
        Ev::Register(s.into(), line, Command::StopCommands)
    }

    #[test]
    fn events_of_each_kind_of_line() {
        use Ev::{Consumed, Verbatim, Warn};
        let cases: Vec<(&str, bool, Vec<Ev>)> = vec![
            ("plain\ntext\n", false, vec![t("plain\ntext\n")]),
            ("", false, vec![]),
            (
                "a\n::add-mask::s3cret\nb\n",
                false,
                vec![t("a\n"), Consumed(19), reg("s3cret", 2), t("b\n")],
            ),
            (
                " \t::add-mask::x%0Ay%25\r\n",
                false,
                vec![Consumed(24), reg("x\ny%", 1)],
            ),
            (
                "::add-mask::s3cret\n",
                true,
                vec![Verbatim("::add-mask::s3cret\n".into()), reg("s3cret", 1)],
            ),
            // End of input ends the line; an empty value is still an event.
            (
                "::add-mask::last",
                false,
                vec![Consumed(16), reg("last", 1)],
            ),
            ("::add-mask::", false, vec![Consumed(12), reg("", 1)]),
            // Near misses are text.
            (
                ":: add-mask::x\n::Add-Mask::x\n::warning::x\n",
                false,
                vec![t(":: add-mask::x\n::Add-Mask::x\n::warning::x\n")],
            ),
            ("x ::add-mask::y\n", false, vec![t("x ::add-mask::y\n")]),
            // Stop: the token registers before its line is handed on;
            // commands in between are text; the resume line is text.
            (
                "::stop-commands::tok1\n::add-mask::v\n::tok1::\n::add-mask::w\n",
                false,
                vec![
                    stop("tok1", 1),
                    t("::stop-commands::tok1\n::add-mask::v\n::tok1::\n"),
                    Consumed(14),
                    reg("w", 4),
                ],
            ),
            (
                "::stop-commands::  \nz\n",
                false,
                vec![Warn(1), t("::stop-commands::  \nz\n")],
            ),
        ];
        for (input, pass, want) in &cases {
            check(input, *pass, want);
        }
    }

    /// The content limit never counts the line ending (SPEC 4): a stop or
    /// resume line of exactly 64 KiB is a command with LF and with CRLF.
    #[test]
    fn line_endings_do_not_count_toward_the_limit() {
        for ending in ["\n", "\r\n"] {
            let token = "t".repeat(MAX_LINE - STOP_COMMANDS.len());
            let stop_line = format!("::stop-commands::{token}{ending}");
            let resume = format!("::{}::{ending}", "r".repeat(MAX_LINE - 4));
            let events = feed(stop_line.as_bytes(), &[], false);
            assert_eq!(events, vec![stop(&token, 1), t(&stop_line)], "{ending:?}");
            // One byte more of content and it is text.
            let long = format!("::stop-commands::{token}x{ending}");
            assert_eq!(feed(long.as_bytes(), &[], false), vec![t(&long)]);
            // Resuming with a 64 KiB resume line.
            let input = format!(
                "::stop-commands::{}{ending}{resume}::add-mask::v{ending}",
                "r".repeat(MAX_LINE - 4)
            );
            let events = feed(input.as_bytes(), &[], false);
            assert!(
                matches!(events.last(), Some(Ev::Register(v, 3, Command::AddMask)) if v == "v"),
                "{ending:?}: {:?}",
                events.last()
            );
        }
    }

    /// Whitespace alone past the limit makes the line ordinary text.
    #[test]
    fn leading_whitespace_counts_toward_the_limit() {
        let input = format!("{}::add-mask::v\n", " ".repeat(MAX_LINE));
        assert_eq!(feed(input.as_bytes(), &[], false), vec![t(&input)]);
        // Within the limit, value included: a command.
        let input = format!(
            "{}::add-mask::v\n",
            " ".repeat(MAX_LINE - ADD_MASK.len() - 1)
        );
        assert_eq!(
            feed(input.as_bytes(), &[], false),
            vec![Ev::Consumed(input.len()), reg("v", 1)]
        );
        // The prefix ends within the limit, the value past it: consumed
        // and refused.
        let input = format!("{}::add-mask::v\n", " ".repeat(MAX_LINE - ADD_MASK.len()));
        assert_eq!(
            feed(input.as_bytes(), &[], false),
            vec![Ev::Consumed(input.len()), Ev::Warn(1)]
        );
    }

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
