//! The `io::Write` adapter: command handling, then masking, then `W`.
//!
//! `MaskWriter` is the one place that acts: the protocol classifies the
//! bytes into events (sans-IO), and the writer hands text to the masker,
//! registers values in the registry, reports warnings and registered
//! values to the caller's hooks, and owns the inner writer.
//!
//! Invariants:
//! - After each `write`, every decided byte has been written to the inner
//!   writer; `flush` only flushes the inner writer.
//! - `finish` ends the stream (a partial line is handled as if it ended
//!   with a newline, held bytes are written) and returns the inner writer;
//!   dropping an unfinished writer does the same on a best-effort basis.
//! - **Poisoned after an inner error.** Once the inner writer has failed,
//!   part of a write may have been consumed and part of its output
//!   written, so no retry could tell which bytes to send again: every
//!   later `write`, `flush` and `finish` returns an error, and nothing
//!   more reaches the inner writer (as `BufWriter` after a panic). What
//!   the inner writer received is always a prefix of the full masked
//!   output, so a failed log is cut, never garbled or leaked.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::detect::{DetectorSet, Scanned, Windows};

use crate::protocol::{Command, Event, Protocol, Warning};
use crate::registry::{Refusal, Registry};
use crate::runs::{Run, RunSink, RunTracker};
use crate::stream::{DetectNote, Masker, Stats};

/// The replacement held a line break (SPEC 2 forbids it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineBreakInReplacement;

impl fmt::Display for LineBreakInReplacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the replacement must not contain CR or LF")
    }
}

impl std::error::Error for LineBreakInReplacement {}

/// Settings of a [`MaskWriter`] or a one-shot [`mask`](WriterBuilder::mask).
pub struct WriterBuilder {
    registry: Arc<Registry>,
    replacement: Vec<u8>,
    commands: bool,
    pass_commands: bool,
    source: String,
    on_warning: Option<Box<dyn FnMut(Warning) + Send>>,
    detectors: DetectorSet,
    register_detected: bool,
    on_register: Option<RegisterHook>,
    on_run: Option<RunSink>,
    report_commands: bool,
}

/// Called with each value the stream itself registers and its label.
type RegisterHook = Box<dyn FnMut(&[u8], &str) + Send>;

impl WriterBuilder {
    /// Defaults: replacement `***`, commands on, source name `stdin`,
    /// warnings dropped.
    pub fn new(registry: Arc<Registry>) -> WriterBuilder {
        WriterBuilder {
            registry,
            replacement: b"***".to_vec(),
            commands: true,
            pass_commands: false,
            source: "stdin".to_string(),
            on_warning: None,
            detectors: DetectorSet::all(),
            register_detected: true,
            on_register: None,
            on_run: None,
            report_commands: false,
        }
    }

    /// The detectors of SPEC 7 to run (all by default; an empty set turns
    /// detection off).
    pub fn detect(mut self, detectors: DetectorSet) -> Self {
        self.detectors = detectors;
        self
    }

    /// The text written once for each masked run. May be empty.
    pub fn replacement(mut self, text: impl Into<Vec<u8>>) -> Result<Self, LineBreakInReplacement> {
        let text = text.into();
        if text.iter().any(|&b| b == b'\n' || b == b'\r') {
            return Err(LineBreakInReplacement);
        }
        self.replacement = text;
        Ok(self)
    }

    /// Whether `::add-mask::` and `::stop-commands::` lines are interpreted.
    pub fn commands(mut self, on: bool) -> Self {
        self.commands = on;
        self
    }

    /// Interpret commands but also write `::add-mask::` lines through
    /// unchanged, for an outer runner that consumes them itself.
    pub fn pass_commands(mut self, on: bool) -> Self {
        self.pass_commands = on;
        self
    }

    /// The stream's name in warnings (`stdin:12: ...`).
    pub fn source(mut self, name: impl Into<String>) -> Self {
        self.source = name.into();
        self
    }

    /// Called with every warning (a refused `::add-mask::` value, ...).
    pub fn on_warning(mut self, sink: impl FnMut(Warning) + Send + 'static) -> Self {
        self.on_warning = Some(Box::new(sink));
        self
    }

    /// Called with every value the stream itself registers (an
    /// `::add-mask::` value, a `::stop-commands::` token) and its source
    /// label (`stdin:12`), after the registry accepted it: for sharing it
    /// with other processes (an agent). The value is a secret: keep it out
    /// of messages.
    pub fn on_register(mut self, hook: impl FnMut(&[u8], &str) + Send + 'static) -> Self {
        self.on_register = Some(Box::new(hook));
        self
    }

    /// Called with each masked run once it is complete (it can no longer
    /// grow): its position in the input stream (command lines counted),
    /// its length, and what produced it (see [`Run`]). Never bytes.
    ///
    /// Without a callback the masker does no attribution work at all.
    pub fn on_run(mut self, sink: impl FnMut(&Run) + Send + 'static) -> Self {
        self.on_run = Some(Box::new(sink));
        self
    }

    /// Also report each consumed `::add-mask::` line to the
    /// [`on_run`](Self::on_run) callback, as a `Run` at the line's first
    /// byte, as long as its content, with the one match
    /// [`Match::Command`](crate::Match::Command)`("add-mask")`: in an
    /// audited log that line holds a value in clear (`logmask scan`).
    pub fn report_commands(mut self, on: bool) -> Self {
        self.report_commands = on;
        self
    }

    /// A writer that masks into `inner`.
    pub fn build<W: Write>(self, inner: W) -> MaskWriter<W> {
        let mut masker = Masker::new(self.registry.clone(), &self.replacement);
        masker.set_detection(self.detectors, self.register_detected);
        if let Some(sink) = self.on_run {
            let tracker = RunTracker::new(self.registry.clone(), sink, self.report_commands);
            masker.track_runs(tracker);
        }
        let protocol = self.commands.then(|| Protocol::new(self.pass_commands));
        MaskWriter {
            inner: Some(inner),
            masker,
            protocol,
            actions: Actions {
                registry: self.registry,
                source: self.source,
                on_warning: self.on_warning,
                on_register: self.on_register,
            },
            poisoned: false,
        }
    }

    /// Masks one complete buffer.
    pub fn mask(mut self, input: &[u8]) -> Vec<u8> {
        // Registers nothing in the caller's registry (SPEC 6).
        self.register_detected = false;
        let mut writer = self.build(Vec::with_capacity(input.len()));
        writer
            .write_all(input)
            .expect("writing to a Vec never fails");
        writer.finish().expect("writing to a Vec never fails")
    }
}

/// Masks everything written to it and passes the result to `W`.
pub struct MaskWriter<W: Write> {
    inner: Option<W>,
    masker: Masker,
    protocol: Option<Protocol>,
    actions: Actions,
    /// The inner writer failed: see the module's invariants.
    poisoned: bool,
}

/// What the writer does with the protocol's non-text events.
struct Actions {
    registry: Arc<Registry>,
    /// The stream's name in warnings and source labels.
    source: String,
    on_warning: Option<Box<dyn FnMut(Warning) + Send>>,
    on_register: Option<RegisterHook>,
}

impl Actions {
    fn warn(&mut self, line: u64, reason: String) {
        if let Some(sink) = &mut self.on_warning {
            sink(Warning {
                source: self.source.clone(),
                line,
                reason,
            });
        }
    }

    /// Passes on what detection did: values it registered (to the hook),
    /// and the warning when its cap is reached.
    fn detected(&mut self, masker: &mut Masker) {
        for note in masker.take_notes() {
            match note {
                DetectNote::Registered(value, label) => {
                    if let Some(hook) = &mut self.on_register {
                        hook(&value, &label);
                    }
                }
                // About the stream as a whole, not a line: the source is
                // the detector (SPEC 5's `detected:NAME`).
                DetectNote::CapReached(detector) => {
                    if let Some(sink) = &mut self.on_warning {
                        sink(Warning {
                            source: detector.source(),
                            line: 0,
                            reason: format!(
                                "more than {} detected credentials: no more are registered",
                                crate::stream::MAX_DETECTED_REGISTRATIONS
                            ),
                        });
                    }
                }
            }
        }
    }

    /// Registers a value found on `line` of the stream.
    fn register(&mut self, value: &[u8], line: u64, command: Command) {
        let label = format!("{}:{line}", self.source);
        match (self.registry.add_from(value, &label), command) {
            (Ok(_), _) => {
                if let Some(hook) = &mut self.on_register {
                    hook(value, &label);
                }
            }
            (Err(Refusal::Blank), Command::AddMask) => {
                self.warn(line, "::add-mask:: value is empty or blank".into())
            }
            (Err(refusal), Command::AddMask) => self.warn(line, format!("::add-mask:: {refusal}")),
            (Err(refusal), Command::StopCommands) => self.warn(
                line,
                format!("::stop-commands:: token not masked: {refusal}"),
            ),
        }
    }
}

/// Acts on one protocol event. `scanned`, for a chunk scanned ahead, is
/// its bytes and their window hits: text that is a piece of the chunk is
/// searched with its share of the hits, other text (a held line, copied)
/// without.
fn act<W: Write>(
    event: Event<'_>,
    scanned: Option<(&[u8], Windows<'_>)>,
    masker: &mut Masker,
    actions: &mut Actions,
    out: &mut W,
) -> io::Result<()> {
    match event {
        Event::Text(text) => {
            let windows = scanned.and_then(|(chunk, windows)| {
                let at = offset_in(chunk, text)?;
                Some(windows.sub(at..at + text.len()))
            });
            masker.write(text, windows, out)
        }
        Event::Verbatim(bytes) => masker.write_verbatim(bytes, out),
        Event::Consumed(bytes) => {
            masker.note_consumed(bytes);
            Ok(())
        }
        Event::Register {
            value,
            line,
            command,
        } => {
            actions.register(&value, line, command);
            Ok(())
        }
        Event::Warn { line, reason } => {
            actions.warn(line, reason);
            Ok(())
        }
    }
}

/// Where `part` begins in `whole`, if it is a piece of it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (at.checked_add(part.len())? <= whole.len()).then_some(at)
}

fn poisoned_error() -> io::Error {
    io::Error::other("logmask: the masking writer failed earlier and accepts nothing more")
}

impl<W: Write> MaskWriter<W> {
    /// A writer with the default settings (commands on).
    pub fn new(registry: Arc<Registry>, inner: W) -> MaskWriter<W> {
        WriterBuilder::new(registry).build(inner)
    }

    /// Writes a chunk whose detection window pass was done ahead of time,
    /// on the reading thread (see [`Prescanner`](crate::Prescanner)): the same as writing
    /// `chunk.bytes()`, with the pass skipped when the scanner's detectors
    /// are this writer's. Like `write_all`, it takes every byte or fails.
    pub fn write_scanned(&mut self, chunk: &Scanned) -> io::Result<()> {
        let windows = chunk.windows_for(self.masker.detector_set());
        self.write_with(chunk.bytes(), windows)
    }

    /// Takes every byte of `bytes` (with their window hits, when scanned
    /// ahead) or fails.
    fn write_with(&mut self, bytes: &[u8], windows: Option<Windows<'_>>) -> io::Result<()> {
        self.guard(|this| {
            let out = this.inner.as_mut().expect("present until finished");
            match &mut this.protocol {
                Some(protocol) => {
                    let (masker, actions) = (&mut this.masker, &mut this.actions);
                    let scanned = windows.map(|w| (bytes, w));
                    protocol.feed(bytes, &mut |event| {
                        act(event, scanned, masker, actions, out)
                    })?
                }
                None => this.masker.write(bytes, windows, out)?,
            }
            this.actions.detected(&mut this.masker);
            Ok(())
        })
    }

    /// The detectors this writer runs (empty: detection off), for a
    /// [`Prescanner`](crate::Prescanner) of its chunks.
    pub fn detectors(&self) -> DetectorSet {
        self.masker.detector_set()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.masker.stats()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        self.inner.as_ref().expect("present until finished")
    }

    /// Ends the stream, writes what was held, flushes and returns the
    /// inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_in_place()?;
        Ok(self.inner.take().expect("present until finished"))
    }

    /// Like [`finish`](Self::finish), and also returns the final counters
    /// (a line held at the end of input is masked while finishing).
    pub fn finish_with_stats(mut self) -> io::Result<(W, Stats)> {
        self.finish_in_place()?;
        let stats = self.masker.stats();
        Ok((self.inner.take().expect("present until finished"), stats))
    }

    fn finish_in_place(&mut self) -> io::Result<()> {
        self.guard(|this| {
            let out = this.inner.as_mut().expect("present until finished");
            if let Some(protocol) = &mut this.protocol {
                let (masker, actions) = (&mut this.masker, &mut this.actions);
                protocol.finish(&mut |event| act(event, None, masker, actions, out))?;
            }
            let finished = this.masker.finish(out);
            this.actions.detected(&mut this.masker);
            finished?;
            out.flush()
        })
    }

    /// Runs `step` unless poisoned, and poisons on its error.
    fn guard<T>(&mut self, step: impl FnOnce(&mut Self) -> io::Result<T>) -> io::Result<T> {
        if self.poisoned {
            return Err(poisoned_error());
        }
        let result = step(self);
        self.poisoned = result.is_err();
        result
    }
}

impl MaskWriter<io::Sink> {
    /// Settings for a writer: `MaskWriter::builder(registry)...build(inner)`.
    /// (Defined on one concrete `W` only so that the call needs no type
    /// annotation; `build` chooses the real inner writer.)
    pub fn builder(registry: Arc<Registry>) -> WriterBuilder {
        WriterBuilder::new(registry)
    }
}

impl<W: Write> Write for MaskWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(buf, None)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.guard(|this| this.inner.as_mut().expect("present until finished").flush())
    }
}

impl<W: Write> Drop for MaskWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() && !self.poisoned && !std::thread::panicking() {
            let _ = self.finish_in_place();
        }
    }
}

impl<W: Write> fmt::Debug for MaskWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskWriter")
            .field("masker", &self.masker)
            .field("commands", &self.protocol.is_some())
            .field("poisoned", &self.poisoned)
            .finish()
    }
}
