//! A `logmask` run's connection to the job's agent.
//!
//! [`Client::connect`] checks that the socket belongs to this user, shakes
//! hands and, when given a registry, subscribes: it registers every value
//! the agent holds before returning (so the run masks them from its first
//! byte), then a reader thread registers values that other processes add,
//! as soon as they arrive (it blocks on the socket; nothing polls).
//! [`Client::send`] passes on a value this run registered;
//! [`Client::finish`] waits until the agent has acknowledged every value
//! sent, so a step that starts after this one ends masks them all.
//!
//! Invariants:
//! - Losing the agent (unreachable, killed, a protocol error) costs one
//!   warning for the whole run; masking goes on with what is known.
//! - Every `Add` gets one `Ack`, in order: a refusal is reported under the
//!   label of the value it refers to, never with the value.
//! - The reader thread never waits for the sending side's lock: a slow
//!   agent cannot deadlock a stream that registers a value.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use logmask::{Refusal, Registry};

use super::server::same_user;
use super::wire::{self, Frame};
use crate::messages;

/// How long connecting, the handshake and loading the agent's values may
/// take before the agent counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Client::finish`] waits for acknowledgements.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a client could not use the agent. Never holds a value.
#[derive(Debug)]
pub enum ConnectError {
    Unreachable(io::Error),
    OtherUser,
    NotAnAgent,
    Version(u16),
    Refused(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Unreachable(err) => {
                write!(f, "cannot reach the agent: {}", super::io_reason(err))
            }
            ConnectError::OtherUser => {
                f.write_str("the socket belongs to another user: agent not used")
            }
            ConnectError::NotAnAgent => f.write_str("not a logmask agent: agent not used"),
            ConnectError::Version(theirs) => write!(
                f,
                "the agent speaks wire version {theirs}, this logmask speaks version {}: \
                 start the agent and its clients from the same logmask",
                wire::VERSION
            ),
            ConnectError::Refused(reason) => write!(f, "the agent refused: {reason}"),
        }
    }
}

/// The connection. Cheap to share: clones send on the same connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    /// The socket path, as printed in warnings.
    name: String,
    writer: Mutex<UnixStream>,
    progress: Mutex<Progress>,
    changed: Condvar,
    /// The one warning about losing the agent has been printed.
    warned: AtomicBool,
    /// [`Client::finish`] is closing the connection: its end is expected.
    closing: AtomicBool,
    reader: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Progress {
    sent: u64,
    acked: u64,
    refused: u64,
    /// Labels of the values sent and not yet acknowledged, in order.
    pending: VecDeque<String>,
    gone: bool,
}

/// How a client ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Finished {
    /// Every value sent was acknowledged (held or refused).
    pub all_acknowledged: bool,
    /// Values the agent refused.
    pub refused: u64,
}

impl Client {
    /// Connects to the agent at `path`. With a registry, loads every value
    /// the agent holds into it and keeps receiving new ones.
    pub fn connect(path: &Path, registry: Option<&Arc<Registry>>) -> Result<Client, ConnectError> {
        let mut stream = UnixStream::connect(path).map_err(ConnectError::Unreachable)?;
        if !same_user(&stream) {
            return Err(ConnectError::OtherUser);
        }
        let unreachable = ConnectError::Unreachable;
        stream
            .set_read_timeout(Some(CONNECT_TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(CONNECT_TIMEOUT))
            .map_err(unreachable)?;
        // An agent that turns a connection away (too many) writes its
        // handshake and reason and closes without reading, so a write may
        // fail: what the agent wrote says why, not EPIPE.
        let refused = |stream: &mut UnixStream, err: io::Error| match wire::read_frame(stream) {
            Ok(Some(Frame::Error(reason))) => ConnectError::Refused(reason),
            _ => unreachable(err),
        };
        let written = stream.write_all(&wire::handshake());
        match wire::read_handshake(&mut stream) {
            Ok(wire::VERSION) => {}
            Ok(other) => return Err(ConnectError::Version(other)),
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                return Err(ConnectError::NotAnAgent);
            }
            Err(err) => return Err(unreachable(written.err().unwrap_or(err))),
        }
        if let Err(err) = written {
            return Err(refused(&mut stream, err));
        }
        if let Some(registry) = registry {
            if let Err(err) = wire::write_frame(&mut stream, &Frame::Subscribe) {
                return Err(refused(&mut stream, err));
            }
            load_snapshot(&mut stream, registry)?;
        }
        // The reader waits for as long as the run lasts; a write keeps its
        // timeout, so a stopped or wedged agent cannot hang a stream that
        // registers a value (it counts as lost instead).
        stream.set_read_timeout(None).map_err(unreachable)?;
        let reader_stream = stream.try_clone().map_err(unreachable)?;
        let client = Client {
            shared: Arc::new(Shared {
                name: path.display().to_string(),
                writer: Mutex::new(stream),
                progress: Mutex::new(Progress::default()),
                changed: Condvar::new(),
                warned: AtomicBool::new(false),
                closing: AtomicBool::new(false),
                reader: Mutex::new(None),
            }),
        };
        let shared = client.shared.clone();
        let registry = registry.cloned();
        let reader = std::thread::Builder::new()
            .name("agent-client".into())
            .spawn(move || shared.read_loop(reader_stream, registry.as_ref()))
            .map_err(unreachable)?;
        *lock(&client.shared.reader) = Some(reader);
        Ok(client)
    }

    /// Sends a value this run registered; `source` is its own label
    /// (`stdout:3`), which the agent turns into `agent:stdout:3`.
    pub fn send(&self, value: &[u8], source: &str) {
        // What every side keeps of a value (SPEC 1.6 limits the trimmed
        // value): padding past a frame's slack would break the connection.
        let value = crate::secrets::trim(value);
        let shared = &self.shared;
        let mut writer = lock(&shared.writer);
        {
            let mut progress = lock(&shared.progress);
            if progress.gone {
                return;
            }
            progress.sent += 1;
            progress.pending.push_back(super::label(source.as_bytes()));
        }
        let frame = Frame::Add {
            label: source.as_bytes().to_vec(),
            value: value.to_vec(),
        };
        let written = wire::write_frame(&mut *writer, &frame);
        drop(writer);
        if let Frame::Add { mut value, .. } = frame {
            value.iter_mut().for_each(|b| *b = 0);
        }
        match written {
            // The agent closed the connection: the reader thread reads to
            // its end and reports why (an `Error` the agent sent first).
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) => {}
            Err(err) => shared.lost(&format!("connection lost ({})", super::io_reason(&err))),
            Ok(()) => {}
        }
    }

    /// Asks the agent to stop and waits until it has closed the connection.
    pub fn stop(&self, timeout: Duration) -> bool {
        // Before the frame: the end of the connection is the answer.
        self.shared.closing.store(true, Ordering::SeqCst);
        let written = wire::write_frame(&mut *lock(&self.shared.writer), &Frame::Stop);
        if written.is_err() {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let mut progress = lock(&self.shared.progress);
        while !progress.gone {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            progress = self
                .shared
                .changed
                .wait_timeout(progress, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits until every value sent is acknowledged (or the agent is gone,
    /// or [`ACK_TIMEOUT`] passes), then closes the connection.
    pub fn finish(&self) -> Finished {
        let shared = &self.shared;
        let deadline = Instant::now() + ACK_TIMEOUT;
        let mut progress = lock(&shared.progress);
        while !progress.gone && progress.acked < progress.sent {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            progress = shared
                .changed
                .wait_timeout(progress, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let finished = Finished {
            all_acknowledged: progress.acked == progress.sent,
            refused: progress.refused,
        };
        drop(progress);
        if !finished.all_acknowledged {
            shared.lost("values sent were not all acknowledged");
        }
        shared.closing.store(true, Ordering::SeqCst);
        let _ = lock(&shared.writer).shutdown(std::net::Shutdown::Both);
        if let Some(reader) = lock(&shared.reader).take() {
            let _ = reader.join();
        }
        finished
    }
}

impl Shared {
    fn read_loop(&self, mut stream: UnixStream, registry: Option<&Arc<Registry>>) {
        let end = loop {
            match wire::read_frame(&mut stream) {
                Ok(Some(Frame::Value { label, mut value })) => {
                    if let Some(registry) = registry {
                        let label = super::received_label(&label);
                        warn_refusal(&label, registry.add_from(&value, &label));
                    }
                    value.iter_mut().for_each(|b| *b = 0);
                }
                Ok(Some(Frame::Ack(result))) => {
                    let mut progress = lock(&self.progress);
                    progress.acked += 1;
                    let label = progress.pending.pop_front().unwrap_or_default();
                    if let Err(reason) = result {
                        progress.refused += 1;
                        messages::warning(&super::shown(&label), &reason);
                    }
                    drop(progress);
                    self.changed.notify_all();
                }
                Ok(Some(Frame::Error(reason))) => break format!("the agent reported: {reason}"),
                Ok(Some(_)) => break "unexpected frame from the agent".to_string(),
                Ok(None) => break "the agent closed the connection".to_string(),
                Err(err) => break format!("connection lost ({})", super::io_reason(&err)),
            }
        };
        if !self.closing.load(Ordering::SeqCst) {
            self.lost(&end);
        }
        lock(&self.progress).gone = true;
        self.changed.notify_all();
    }

    /// Marks the agent gone and warns, once per run.
    fn lost(&self, why: &str) {
        // Warn before marking the agent gone: `finish`, woken by that,
        // would otherwise race this reason with its own vaguer one.
        if !self.closing.load(Ordering::SeqCst) && !self.warned.swap(true, Ordering::SeqCst) {
            messages::warning(
                &format!("agent {}", self.name),
                &format!("{why}; masking goes on with the values known"),
            );
        }
        lock(&self.progress).gone = true;
        self.changed.notify_all();
    }
}

/// Reads the values the agent held at subscription, up to `Synced`, and
/// registers them together (expanded on several threads when many).
fn load_snapshot(stream: &mut UnixStream, registry: &Registry) -> Result<(), ConnectError> {
    let mut values: Vec<(Vec<u8>, String)> = Vec::new();
    let outcome = loop {
        match wire::read_frame(stream) {
            Ok(Some(Frame::Value { label, value })) => {
                values.push((value, super::received_label(&label)))
            }
            Ok(Some(Frame::Synced)) => break Ok(()),
            Ok(Some(Frame::Error(reason))) => break Err(ConnectError::Refused(reason)),
            Ok(Some(_)) => break Err(ConnectError::NotAnAgent),
            Ok(None) => {
                break Err(ConnectError::Unreachable(
                    io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            Err(err) => break Err(ConnectError::Unreachable(err)),
        }
    };
    if outcome.is_ok() {
        let batch: Vec<(&[u8], &str)> = values
            .iter()
            .map(|(v, l)| (v.as_slice(), l.as_str()))
            .collect();
        for (result, (_, label)) in registry.add_all_from(&batch).into_iter().zip(&values) {
            warn_refusal(label, result.map(|_| ()));
        }
    }
    for (value, _) in &mut values {
        value.iter_mut().for_each(|b| *b = 0);
    }
    outcome
}

/// A value the agent holds that this run's options do not mask (a higher
/// minimum length) is worth a warning, as any value that registers nothing.
fn warn_refusal<T>(label: &str, result: Result<T, Refusal>) {
    if let Err(refusal) = result {
        messages::warning(&super::shown(label), &refusal);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
