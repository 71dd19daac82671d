//! What one agent connection's writer sends next.
//!
//! Model: a connection's reader thread takes the client's frames and its
//! writer thread writes the agent's, so a client that does not read never
//! blocks the agent or the other clients. Between them sits an
//! [`Outbox`]: the replies the reader queued (`Ack`, `Error`) and, once
//! the client has subscribed, a cursor into the store's values, which are
//! append-only. The store does not queue a value per subscriber; it only
//! tells each subscriber's outbox that there are more, and the writer
//! takes them from the store in batches when it gets to them.
//!
//! Invariants:
//! - Memory per connection is bounded whatever the client does: at most
//!   [`MAX_QUEUED_REPLIES`] replies (past that, [`Outbox::reply`] waits
//!   until the writer has written some, so the reader stops taking frames
//!   from a client that sends without reading), a cursor, and one batch of
//!   at most [`BATCH`] values being written.
//! - A subscriber gets every value held when it subscribed, then `Synced`,
//!   then every value added after, exactly once each, except those it sent
//!   itself after subscribing. Replies queued after the subscription follow
//!   `Synced`; replies keep their order.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::server::{Entry, Store};
use super::wire::Frame;

/// Most replies queued for one connection and not yet written.
pub const MAX_QUEUED_REPLIES: usize = 256;

/// Most values taken from the store for one connection at a time.
pub const BATCH: usize = 64;

/// One connection's frames to send. Shared by its reader (replies), its
/// writer (everything) and the store (news of values added).
#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    replies: VecDeque<Frame>,
    subscription: Option<Subscription>,
    /// The store holds values this subscriber has not been sent yet.
    more_values: bool,
    /// The reader is done: send what is queued, then stop.
    reader_done: bool,
    /// The writer has stopped (the connection failed): replies are dropped.
    writer_gone: bool,
}

struct Subscription {
    /// Index of the next store value to send.
    cursor: usize,
    /// Number of values held when the client subscribed.
    snapshot: usize,
    synced: bool,
}

/// What the writer sends next.
pub enum Next {
    /// Values of the store, in the order it took them.
    Values(Vec<Arc<Entry>>),
    Frame(Frame),
    /// Nothing more: the writer stops.
    Done,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a reply, waiting while [`MAX_QUEUED_REPLIES`] are queued.
    /// False when the writer has stopped.
    pub fn reply(&self, frame: Frame) -> bool {
        let mut state = self.lock();
        while state.replies.len() >= MAX_QUEUED_REPLIES && !state.writer_gone {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.writer_gone {
            return false;
        }
        state.replies.push_back(frame);
        self.changed.notify_all();
        true
    }

    /// Starts the subscription: called by the store, under its lock, with
    /// the number of values it holds. False if already subscribed.
    pub fn subscribe(&self, snapshot: usize) -> bool {
        let mut state = self.lock();
        if state.subscription.is_some() {
            return false;
        }
        state.subscription = Some(Subscription {
            cursor: 0,
            snapshot,
            synced: false,
        });
        self.changed.notify_all();
        true
    }

    /// The store holds more values (called under the store's lock).
    pub fn values_added(&self) {
        self.lock().more_values = true;
        self.changed.notify_all();
    }

    /// The reader takes no more frames: the writer sends what there is,
    /// then stops.
    pub fn reader_done(&self) {
        self.lock().reader_done = true;
        self.changed.notify_all();
    }

    /// The writer has stopped; a reader waiting to queue a reply goes on.
    pub fn writer_gone(&self) {
        self.lock().writer_gone = true;
        self.changed.notify_all();
    }

    /// Waits for what to send next. `id` is the connection's, so that
    /// values it sent itself after subscribing are not sent back.
    pub fn next(&self, store: &Store, id: u64) -> Next {
        loop {
            let mut state = self.lock();
            let (from, to, snapshot) = loop {
                if let Some(sub) = &mut state.subscription
                    && !sub.synced
                {
                    if sub.cursor < sub.snapshot {
                        break (sub.cursor, sub.snapshot.min(sub.cursor + BATCH), true);
                    }
                    sub.synced = true;
                    return Next::Frame(Frame::Synced);
                }
                if let Some(frame) = state.replies.pop_front() {
                    self.changed.notify_all();
                    return Next::Frame(frame);
                }
                if state.more_values
                    && let Some(cursor) = state.subscription.as_ref().map(|sub| sub.cursor)
                {
                    state.more_values = false;
                    break (cursor, cursor + BATCH, false);
                }
                if state.reader_done {
                    return Next::Done;
                }
                state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            };
            // Not under this lock: the store takes its own lock first and
            // then an outbox's (`values_added`).
            drop(state);
            let taken = store.values(from, to);
            let mut state = self.lock();
            let sub = state
                .subscription
                .as_mut()
                .expect("values only once subscribed");
            sub.cursor += taken.len();
            if !snapshot && taken.len() == to - from {
                // A full batch: there may be more behind it.
                state.more_values = true;
            }
            drop(state);
            let values: Vec<Arc<Entry>> = if snapshot {
                taken
            } else {
                taken.into_iter().filter(|e| e.from() != Some(id)).collect()
            };
            if !values.is_empty() {
                return Next::Values(values);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything `next` hands out until it would wait, as names.
    fn drain(outbox: &Outbox, store: &Store, id: u64) -> Vec<String> {
        outbox.reader_done();
        let mut sent = Vec::new();
        loop {
            match outbox.next(store, id) {
                Next::Values(values) => sent.extend(
                    values
                        .iter()
                        .map(|e| String::from_utf8_lossy(e.value()).into_owned()),
                ),
                Next::Frame(Frame::Synced) => sent.push("synced".into()),
                Next::Frame(Frame::Ack(_)) => sent.push("ack".into()),
                Next::Frame(_) => sent.push("other".into()),
                Next::Done => return sent,
            }
        }
    }

    #[test]
    fn subscribers_get_the_snapshot_then_new_values_but_not_their_own() {
        let store = Store::new(None);
        store.hold(b"first-value", "agent:a", None).unwrap();
        store.hold(b"sent-before", "agent:a", Some(7)).unwrap();
        let outbox = Arc::new(Outbox::default());
        assert!(store.subscribe(7, &outbox));
        assert!(!store.subscribe(7, &outbox), "a second subscription");
        store.hold(b"second-value", "agent:b", None).unwrap();
        store.hold(b"own-value", "agent:c", Some(7)).unwrap();
        assert!(outbox.reply(Frame::Ack(Ok(()))));
        let sent = drain(&outbox, &store, 7);
        assert_eq!(
            sent,
            [
                "first-value",
                "sent-before",
                "synced",
                "ack",
                "second-value"
            ]
        );
    }

    #[test]
    fn values_are_taken_in_batches_and_each_sent_once() {
        let store = Store::new(None);
        let outbox = Arc::new(Outbox::default());
        let count = 3 * BATCH + 5;
        for n in 0..count / 2 {
            store
                .hold(format!("value-{n:04}").as_bytes(), "agent:x", None)
                .unwrap();
        }
        assert!(store.subscribe(1, &outbox));
        for n in count / 2..count {
            store
                .hold(format!("value-{n:04}").as_bytes(), "agent:x", None)
                .unwrap();
        }
        let sent = drain(&outbox, &store, 1);
        let want: Vec<String> = (0..count)
            .map(|n| format!("value-{n:04}"))
            .flat_map(|v| {
                let synced =
                    (v == format!("value-{:04}", count / 2 - 1)).then(|| "synced".to_string());
                std::iter::once(v).chain(synced)
            })
            .collect();
        assert_eq!(sent, want);
    }

    #[test]
    fn replies_past_the_limit_wait_for_the_writer() {
        let store = Store::new(None);
        let outbox = Arc::new(Outbox::default());
        for _ in 0..MAX_QUEUED_REPLIES {
            assert!(outbox.reply(Frame::Ack(Ok(()))));
        }
        let waiting = {
            let outbox = outbox.clone();
            std::thread::spawn(move || outbox.reply(Frame::Ack(Ok(()))))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiting.is_finished(), "a reply past the limit was queued");
        assert!(matches!(outbox.next(&store, 1), Next::Frame(Frame::Ack(_))));
        assert!(waiting.join().unwrap());
        // A writer that stopped releases a waiting reader, which then stops.
        outbox.writer_gone();
        assert!(!outbox.reply(Frame::Ack(Ok(()))));
    }
}
