//! The agent: holds the values of a job in memory and serves them to the
//! job's `logmask` processes over a Unix socket.
//!
//! Model: a [`Store`] of values (each with its `agent:SOURCE` label, kept
//! once, in the order they came) and a listener thread that gives each
//! connection a reader thread (frames in) and a writer thread (frames out,
//! taken from the connection's [`Outbox`], so a slow client never blocks
//! the agent or other clients).
//!
//! Invariants:
//! - Only processes of the agent's own user are served: every connection's
//!   peer credentials (`SO_PEERCRED`) are checked before anything is read,
//!   on top of the socket directory's mode 0700.
//! - Values live in memory only: never written to a file, a message or a
//!   log line; the process is marked not dumpable; a value's memory is
//!   zeroed when the store drops it.
//! - The store is bounded: at most [`MAX_VALUES`] values and [`MAX_BYTES`]
//!   bytes in all, each at most 64 KiB trimmed; a refusal has a reason,
//!   never the value. The table that finds duplicates uses std's keyed
//!   hasher, so values chosen to collide cannot slow it down.
//! - A subscriber gets every value held when it subscribed, then `Synced`,
//!   then every value added after, exactly once each (the snapshot's end is
//!   taken under the store's lock), except the values it sent itself.
//! - A malformed frame gets an `Error` frame and closes that connection
//!   only; the agent goes on. A second `Subscribe` is one.
//! - Memory per connection is bounded whatever the client does (see
//!   [`Outbox`]): values are not copied per subscriber, and replies wait
//!   for the client to read them. Connections are bounded too (each has
//!   two threads and three descriptors): past [`MAX_CONNECTIONS`], or what
//!   the descriptor limit allows, a new one gets an `Error` at once rather
//!   than wait in the listen queue.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use logmask::{MAX_VALUE_LEN, Registry};

use super::outbox::{Next, Outbox};
use super::wire::{self, Frame};

/// Most values an agent holds.
pub const MAX_VALUES: usize = 100_000;

/// Most bytes of values an agent holds, in all.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Most connections served at once (a job's steps, each one or two).
pub const MAX_CONNECTIONS: usize = 1024;

/// How long a new connection may take to send its handshake, and one
/// that has stopped sending to take what is left to write to it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest socket path the kernel accepts (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

const SOCKET_NAME: &str = "agent.sock";

/// One held value, the label of its first sender and that sender's
/// connection.
pub struct Entry {
    label: Arc<str>,
    value: Box<[u8]>,
    from: Option<u64>,
}

impl Entry {
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    pub fn from(&self) -> Option<u64> {
        self.from
    }
}

/// An entry in the table of values held: equal, hashed and looked up by
/// value only, so the store keeps each value once whoever sent it.
struct ByValue(Arc<Entry>);

impl PartialEq for ByValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.value == other.0.value
    }
}

impl Eq for ByValue {}

impl Hash for ByValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes, so that `Borrow<[u8]>` lookups agree.
        self.0.value[..].hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for ByValue {
    fn borrow(&self) -> &[u8] {
        &self.0.value
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.value.iter_mut().for_each(|b| *b = 0);
    }
}

/// Why the agent did not take a value. Never shows the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Blank,
    TooLong,
    TooManyValues,
    TooManyBytes,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Blank => f.write_str("the agent refused the value: it is empty or blank"),
            Refused::TooLong => write!(
                f,
                "the agent refused the value: it is longer than {} KiB",
                MAX_VALUE_LEN / 1024
            ),
            Refused::TooManyValues => write!(
                f,
                "the agent refused the value: it already holds {MAX_VALUES} values"
            ),
            Refused::TooManyBytes => write!(
                f,
                "the agent refused the value: it already holds {} MiB of values",
                MAX_BYTES / (1024 * 1024)
            ),
        }
    }
}

/// The values of a job.
pub struct Store {
    held: Mutex<Held>,
    /// The agent's own registry when it also masks a command (`agent --
    /// COMMAND`): values from clients are registered there too.
    mirror: Option<Arc<Registry>>,
}

#[derive(Default)]
struct Held {
    entries: Vec<Arc<Entry>>,
    seen: HashSet<ByValue, RandomState>,
    /// Each label once: a `--file` of many lines, or one stream's values,
    /// share few labels.
    labels: HashSet<Arc<str>>,
    bytes: usize,
    subscribers: HashMap<u64, Arc<Outbox>>,
}

impl Store {
    pub fn new(mirror: Option<Arc<Registry>>) -> Arc<Store> {
        Arc::new(Store {
            held: Mutex::new(Held::default()),
            mirror,
        })
    }

    /// Holds `value` under `label` (already `agent:SOURCE`) and passes it
    /// to every subscriber but `from`. A value held already is accepted
    /// and changes nothing.
    pub fn hold(&self, value: &[u8], label: &str, from: Option<u64>) -> Result<(), Refused> {
        let trimmed = crate::secrets::trim(value);
        if trimmed.is_empty() {
            return Err(Refused::Blank);
        }
        if trimmed.len() > MAX_VALUE_LEN {
            return Err(Refused::TooLong);
        }
        {
            let mut held = self.lock();
            if held.seen.contains(value) {
                return Ok(());
            }
            if held.entries.len() >= MAX_VALUES {
                return Err(Refused::TooManyValues);
            }
            if held.bytes + value.len() > MAX_BYTES {
                return Err(Refused::TooManyBytes);
            }
            let label = match held.labels.get(label) {
                Some(label) => label.clone(),
                None => {
                    let label: Arc<str> = label.into();
                    held.labels.insert(label.clone());
                    label
                }
            };
            let entry = Arc::new(Entry {
                label,
                value: value.into(),
                from,
            });
            held.bytes += value.len();
            held.seen.insert(ByValue(entry.clone()));
            held.entries.push(entry);
            for (id, outbox) in &held.subscribers {
                if Some(*id) != from {
                    outbox.values_added();
                }
            }
        }
        // Values from this process's own streams are in the mirror already.
        if let (Some(registry), Some(_)) = (&self.mirror, from) {
            let _ = registry.add_from(value, label);
        }
        Ok(())
    }

    /// Number of values held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Subscribes connection `id`: its outbox gets every value held now,
    /// then news of each one added. False if it has subscribed already.
    pub(super) fn subscribe(&self, id: u64, outbox: &Arc<Outbox>) -> bool {
        let mut held = self.lock();
        if !outbox.subscribe(held.entries.len()) {
            return false;
        }
        held.subscribers.insert(id, outbox.clone());
        true
    }

    /// The values held at indexes `from..to` (fewer at the end).
    pub(super) fn values(&self, from: usize, to: usize) -> Vec<Arc<Entry>> {
        let held = self.lock();
        let to = to.min(held.entries.len());
        held.entries[from.min(to)..to].to_vec()
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().subscribers.remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What stopping the agent (a `Stop` frame, SIGTERM) does after the socket
/// and its directory are removed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// The daemon: the process exits with status 0.
    Exit,
    /// `agent -- COMMAND`: only the service ends; the command runs on.
    Return,
}

/// A running agent: its socket, its connections and how it stops.
pub struct Agent {
    dir: PathBuf,
    path: PathBuf,
    listener: UnixListener,
    store: Arc<Store>,
    on_stop: OnStop,
    stopped: AtomicBool,
    connections: Mutex<HashMap<u64, UnixStream>>,
    next_id: AtomicU64,
    /// Connections being served, and how many may be.
    serving: AtomicUsize,
    max_serving: usize,
}

impl Agent {
    /// Creates the socket in a new 0700 directory and serves it on a
    /// thread of its own. The process is marked not dumpable first.
    pub fn start(store: Arc<Store>, on_stop: OnStop) -> io::Result<Arc<Agent>> {
        not_dumpable()?;
        let (dir, path) = make_socket_dir()?;
        let listener = match UnixListener::bind(&path) {
            Ok(listener) => listener,
            Err(err) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(err);
            }
        };
        let agent = Arc::new(Agent {
            dir,
            path,
            listener,
            store,
            on_stop,
            stopped: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            serving: AtomicUsize::new(0),
            max_serving: max_connections(),
        });
        let serving = agent.clone();
        std::thread::Builder::new()
            .name("agent-accept".into())
            .spawn(move || serving.accept_loop())?;
        Ok(agent)
    }

    /// The socket's path, for `LOGMASK_AGENT`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket and its directory, ends every connection and,
    /// for the daemon, the process. Idempotent.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
        if self.on_stop == OnStop::Exit {
            std::process::exit(0);
        }
        // SAFETY: shutdown on a descriptor this agent owns; it wakes the
        // thread blocked in accept(), which then sees `stopped`.
        unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        for conn in self.lock_connections().values() {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }

    fn accept_loop(self: Arc<Self>) {
        loop {
            let conn = self.listener.accept();
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            match conn {
                Ok((stream, _)) if self.serving.load(Ordering::SeqCst) >= self.max_serving => {
                    // A few bytes into an empty socket buffer: no wait.
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = turn_away(
                        &stream,
                        format!(
                            "the agent serves at most {} connections at once",
                            self.max_serving
                        ),
                    );
                }
                Ok((stream, _)) => {
                    let agent = self.clone();
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    self.serving.fetch_add(1, Ordering::SeqCst);
                    let spawned =
                        std::thread::Builder::new()
                            .name("agent-conn".into())
                            .spawn(move || {
                                agent.serve(stream, id);
                                agent.serving.fetch_sub(1, Ordering::SeqCst);
                            });
                    if spawned.is_err() {
                        self.serving.fetch_sub(1, Ordering::SeqCst);
                    }
                }
                // Out of descriptors or memory: back off instead of
                // spinning; the connection stays queued.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn lock_connections(&self) -> MutexGuard<'_, HashMap<u64, UnixStream>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One connection, from the credential check to its end.
    fn serve(&self, stream: UnixStream, id: u64) {
        if let Ok(clone) = stream.try_clone() {
            self.lock_connections().insert(id, clone);
        }
        if self.stopped.load(Ordering::SeqCst) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let _ = self.converse(&stream, id);
        self.store.unsubscribe(id);
        self.lock_connections().remove(&id);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }

    fn converse(&self, stream: &UnixStream, id: u64) -> io::Result<()> {
        let mut out = stream;
        if !same_user(stream) {
            return turn_away(
                stream,
                "this agent serves only the user that started it".into(),
            );
        }
        stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        let mut input = stream;
        let version = wire::read_handshake(&mut input);
        out.write_all(&wire::handshake())?;
        match version {
            Ok(wire::VERSION) => {}
            Ok(other) => {
                return wire::write_frame(
                    &mut out,
                    &Frame::Error(format!(
                        "wire version {other} is not supported: this agent speaks version {}",
                        wire::VERSION
                    )),
                );
            }
            Err(err) => {
                let reason = if super::timed_out(&err) {
                    format!("no handshake within {} s", HANDSHAKE_TIMEOUT.as_secs())
                } else {
                    format!("bad handshake: {err}")
                };
                return wire::write_frame(&mut out, &Frame::Error(reason));
            }
        }
        stream.set_read_timeout(None)?;

        let outbox = Arc::new(Outbox::default());
        let mut writer = stream.try_clone()?;
        let (sending, store) = (outbox.clone(), self.store.clone());
        let writing = std::thread::Builder::new()
            .name("agent-send".into())
            .spawn(move || {
                loop {
                    let written = match sending.next(&store, id) {
                        Next::Values(entries) => entries.iter().try_for_each(|entry| {
                            let frame = Frame::Value {
                                label: entry.label.as_bytes().to_vec(),
                                value: entry.value().to_vec(),
                            };
                            let written = wire::write_frame(&mut writer, &frame);
                            if let Frame::Value { mut value, .. } = frame {
                                value.iter_mut().for_each(|b| *b = 0);
                            }
                            written
                        }),
                        Next::Frame(frame) => wire::write_frame(&mut writer, &frame),
                        Next::Done => break,
                    };
                    if written.is_err() {
                        break;
                    }
                }
                sending.writer_gone();
            })?;
        loop {
            match wire::read_frame(&mut input) {
                Ok(None) => break,
                Ok(Some(Frame::Subscribe)) => {
                    if !self.store.subscribe(id, &outbox) {
                        let reason = "malformed frame: this connection has subscribed already";
                        outbox.reply(Frame::Error(reason.into()));
                        break;
                    }
                }
                Ok(Some(Frame::Add { label, mut value })) => {
                    let result = self.store.hold(&value, &super::label(&label), Some(id));
                    value.iter_mut().for_each(|b| *b = 0);
                    if !outbox.reply(Frame::Ack(result.map_err(|r| r.to_string()))) {
                        break;
                    }
                }
                Ok(Some(Frame::Stop)) => {
                    // Let the writer finish what is queued, then stop; the
                    // client waits for the connection to close.
                    outbox.reader_done();
                    let _ = writing.join();
                    self.stop();
                    return Ok(());
                }
                Ok(Some(other)) => {
                    outbox.reply(Frame::Error(format!(
                        "unexpected frame from a client: {}",
                        frame_kind(&other)
                    )));
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                    outbox.reply(Frame::Error(format!("malformed frame: {err}")));
                    break;
                }
                Err(_) => break,
            }
        }
        self.store.unsubscribe(id);
        // The client has closed its side or broken the protocol: what is
        // left to write gets a bounded time, so a client that neither
        // reads nor closes does not keep the connection's threads.
        let _ = stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
        outbox.reader_done();
        let _ = writing.join();
        Ok(())
    }
}

/// Answers a connection the agent will not serve: its handshake, so the
/// client knows it reached an agent, then the reason.
fn turn_away(stream: &UnixStream, reason: String) -> io::Result<()> {
    let mut out = stream;
    out.write_all(&wire::handshake())?;
    wire::write_frame(&mut out, &Frame::Error(reason))
}

/// [`MAX_CONNECTIONS`], or fewer when the descriptor limit would be
/// reached first (three per connection, some kept for the rest), so that
/// `accept` itself never runs out.
fn max_connections() -> usize {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let by_descriptors = limit.map_or(usize::MAX, |n| (n.saturating_sub(64) / 3) as usize);
    MAX_CONNECTIONS.min(by_descriptors).max(1)
}

fn frame_kind(frame: &Frame) -> &'static str {
    match frame {
        Frame::Value { .. } => "value",
        Frame::Synced => "synced",
        Frame::Ack(_) => "ack",
        Frame::Error(_) => "error",
        _ => "request",
    }
}

/// Whether the peer runs as this process's effective user.
pub fn same_user(stream: &UnixStream) -> bool {
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) => cred.uid == rustix::process::geteuid(),
        Err(_) => false,
    }
}

/// Keeps values out of core dumps and out of reach of `ptrace` by other
/// processes of the same user that are not its ancestors.
fn not_dumpable() -> io::Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(io::Error::from)
}

/// Creates `BASE/logmask-agent.RANDOM` with mode 0700, in the first base
/// where the socket path fits a socket address and the directory can be
/// made: `$XDG_RUNTIME_DIR`, `$TMPDIR`, `/tmp`.
fn make_socket_dir() -> io::Result<(PathBuf, PathBuf)> {
    let mut bases: Vec<PathBuf> = ["XDG_RUNTIME_DIR", "TMPDIR"]
        .iter()
        .filter_map(std::env::var_os)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .collect();
    bases.push(PathBuf::from("/tmp"));
    let mut last_error = io::Error::other("no directory for the agent's socket");
    for base in bases {
        for attempt in 0..16u64 {
            let dir = base.join(format!("logmask-agent.{:016x}", random(attempt)));
            let path = dir.join(SOCKET_NAME);
            if path.as_os_str().len() > MAX_SOCKET_PATH {
                last_error = io::Error::other("the socket path would be too long");
                break;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    // The umask can only have removed bits; make it exact.
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                    return Ok((dir, path));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    last_error = err;
                    break;
                }
            }
        }
    }
    Err(last_error)
}

/// An unpredictable name part: std's hasher keys are random per process.
fn random(attempt: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one((std::process::id(), now, attempt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_each_value_once_and_refuses_past_its_limits() {
        let store = Store::new(None);
        assert_eq!(store.hold(b"alpha-1", "agent:a", None), Ok(()));
        assert_eq!(store.hold(b"alpha-1", "agent:b", None), Ok(()));
        assert_eq!(store.len(), 1);
        let cases: [(&[u8], Refused); 2] = [
            (b" \t\r\n", Refused::Blank),
            (&[b'x'; MAX_VALUE_LEN + 1], Refused::TooLong),
        ];
        for (value, refused) in cases {
            assert_eq!(store.hold(value, "agent:c", None), Err(refused));
        }
        // Surrounding whitespace does not count towards 64 KiB.
        let mut padded = vec![b' '; 10];
        padded.extend(vec![b'y'; MAX_VALUE_LEN]);
        assert_eq!(store.hold(&padded, "agent:d", None), Ok(()));
    }

    #[test]
    fn store_counts_values_and_bytes() {
        let store = Store::new(None);
        for n in 0..MAX_VALUES {
            store
                .hold(format!("value-{n:08}").as_bytes(), "agent:x", None)
                .unwrap();
        }
        assert_eq!(
            store.hold(b"one-too-many", "agent:x", None),
            Err(Refused::TooManyValues)
        );
        // A value held already is not a new one.
        assert_eq!(store.hold(b"value-00000007", "agent:x", None), Ok(()));

        let store = Store::new(None);
        for n in 0..(MAX_BYTES / MAX_VALUE_LEN) as u32 {
            let mut value = vec![b'z'; MAX_VALUE_LEN];
            value[..4].copy_from_slice(&n.to_be_bytes());
            store.hold(&value, "agent:x", None).unwrap();
        }
        assert_eq!(
            store.hold(b"more", "agent:x", None),
            Err(Refused::TooManyBytes)
        );
    }

    #[test]
    fn refusals_never_show_the_value() {
        for refused in [
            Refused::Blank,
            Refused::TooLong,
            Refused::TooManyValues,
            Refused::TooManyBytes,
        ] {
            assert!(
                refused
                    .to_string()
                    .starts_with("the agent refused the value")
            );
        }
    }
}
