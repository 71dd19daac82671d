//! The `io::Write` adapter: command handling, then masking, then `W`.
//!
//! Invariants:
//! - After each `write`, every decided byte has been written to the inner
//!   writer; `flush` only flushes the inner writer.
//! - `finish` ends the stream (a partial line is handled as if it ended
//!   with a newline, held bytes are written) and returns the inner writer;
//!   dropping an unfinished writer does the same on a best-effort basis.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use crate::protocol::{Protocol, Warning};
use crate::registry::Registry;
use crate::runs::{Run, RunSink, RunTracker};
use crate::stream::{Masker, Stats};

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
    on_run: Option<RunSink>,
    report_commands: bool,
}

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
            on_run: None,
            report_commands: false,
        }
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
        if let Some(sink) = self.on_run {
            masker.track_runs(RunTracker::new(self.registry, sink, self.report_commands));
        }
        let protocol = self
            .commands
            .then(|| Protocol::new(self.source, self.pass_commands, self.on_warning));
        MaskWriter {
            inner: Some(inner),
            masker,
            protocol,
        }
    }

    /// Masks one complete buffer.
    pub fn mask(self, input: &[u8]) -> Vec<u8> {
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
}

impl<W: Write> MaskWriter<W> {
    /// A writer with the default settings (commands on).
    pub fn new(registry: Arc<Registry>, inner: W) -> MaskWriter<W> {
        WriterBuilder::new(registry).build(inner)
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
        let out = self.inner.as_mut().expect("present until finished");
        if let Some(protocol) = &mut self.protocol {
            protocol.finish(&mut self.masker, out)?;
        }
        self.masker.finish(out)?;
        out.flush()
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
        let out = self.inner.as_mut().expect("present until finished");
        match &mut self.protocol {
            Some(protocol) => protocol.write(buf, &mut self.masker, out)?,
            None => self.masker.write(buf, out)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().expect("present until finished").flush()
    }
}

impl<W: Write> Drop for MaskWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() && !std::thread::panicking() {
            let _ = self.finish_in_place();
        }
    }
}

impl<W: Write> fmt::Debug for MaskWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskWriter")
            .field("masker", &self.masker)
            .field("commands", &self.protocol.is_some())
            .finish()
    }
}
