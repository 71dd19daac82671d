//! `--report PATH` (SPEC 8): what was masked, where, and by which secret,
//! as JSON Lines; and the record shapes `logmask scan --json` prints.
//!
//! Invariants:
//! - The file is created or truncated with mode 0600 (also when it
//!   existed with another mode) before any input is read; one that cannot
//!   be opened is a usage error.
//! - One object per completed run, serialised whole and written with one
//!   `write` and flushed as the run completes (the file is unbuffered and
//!   shared by exec mode's two streams under a lock, so lines never
//!   interleave); the summary object is the last line.
//! - A record holds positions, lengths, source labels, encoding, detector
//!   and command names: never a value nor anything derived from one. The
//!   engine's [`logmask::Run`] holds no bytes, and source labels, which
//!   name PATHs and variables, are masked like messages.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use logmask::{Match, Registry, Run, Stats, WriterBuilder};
use serde::Serialize;

use super::args::UsageError;
use super::messages;

/// One report line for a run: `stream` in filter and exec mode, `path`
/// in `scan --json`.
#[derive(Serialize)]
pub struct RunRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'a str>,
    pub line: u64,
    pub column: u64,
    pub offset: u64,
    pub length: u64,
    pub matches: Vec<MatchRecord<'a>>,
}

/// One item of `matches`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum MatchRecord<'a> {
    Secret { source: String, form: &'static str },
    Detector { detector: &'a str },
    Command { command: &'static str },
}

impl<'a> RunRecord<'a> {
    pub fn new(run: &'a Run, stream: Option<&'a str>, path: Option<&'a str>) -> RunRecord<'a> {
        RunRecord {
            stream,
            path,
            line: run.line,
            column: run.column,
            offset: run.offset,
            length: run.length,
            matches: run
                .matches
                .iter()
                .map(|m| match m {
                    Match::Secret(origin) => MatchRecord::Secret {
                        source: messages::masked_label(&origin.source),
                        form: origin.form.name(),
                    },
                    Match::Detected(name) => MatchRecord::Detector { detector: name },
                    Match::Command(name) => MatchRecord::Command { command: name },
                })
                .collect(),
        }
    }

    /// The record as one line of JSON, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a record always serialises");
        line.push('\n');
        line
    }
}

#[derive(Serialize)]
struct Summary {
    summary: SummaryFields,
}

#[derive(Serialize)]
struct SummaryFields {
    bytes_in: u64,
    bytes_out: u64,
    regions: u64,
    secrets: usize,
    variants: usize,
    detected: BTreeMap<String, u64>,
}

struct Report {
    file: Mutex<File>,
    failed: Mutex<bool>,
}

static REPORT: OnceLock<Report> = OnceLock::new();

/// Opens the report file (mode 0600 if it is a regular file, truncated)
/// for the rest of the run.
pub fn open(path: &Path) -> Result<(), UsageError> {
    let cannot = |err: std::io::Error| {
        UsageError(format!(
            "--report {}: cannot open for writing: {err}",
            path.display()
        ))
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(cannot)?;
    // `mode` applies only when the file is created. Only a regular file is
    // narrowed: `--report /dev/null` (or a FIFO, `/dev/stderr`) names a
    // file shared with the whole system, whose mode is not the report's.
    if file.metadata().map_err(cannot)?.is_file() {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(cannot)?;
    }
    let _ = REPORT.set(Report {
        file: Mutex::new(file),
        failed: Mutex::new(false),
    });
    Ok(())
}

/// Reports the runs of the stream `stream` (`stdin`, `stdout`, ...) when
/// a report is open.
pub fn attach(builder: WriterBuilder, stream: &str) -> WriterBuilder {
    let Some(report) = REPORT.get() else {
        return builder;
    };
    let stream = stream.to_string();
    builder.on_run(move |run| report.write(&RunRecord::new(run, Some(&stream), None).to_line()))
}

/// Writes the summary line. Returns false when any report write failed
/// (already said on stderr), so that the caller exits with an I/O error.
pub fn finish(stats: Stats, registry: &Registry) -> bool {
    let Some(report) = REPORT.get() else {
        return true;
    };
    // Credentials detected by each detector that found any, by name.
    let detected: BTreeMap<String, u64> = logmask::Detector::ALL
        .iter()
        .filter(|d| stats.detected[d.index()] > 0)
        .map(|d| (d.name().to_string(), stats.detected[d.index()]))
        .collect();
    let summary = Summary {
        summary: SummaryFields {
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
            regions: stats.regions,
            secrets: registry.secrets(),
            variants: registry.variants(),
            detected,
        },
    };
    let mut line = serde_json::to_string(&summary).expect("a summary always serialises");
    line.push('\n');
    report.write(&line);
    !*report.failed.lock().unwrap_or_else(|e| e.into_inner())
}

impl Report {
    fn write(&self, line: &str) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            if !*failed {
                messages::error(&format!("cannot write the report: {err}"));
                *failed = true;
            }
        }
    }
}
