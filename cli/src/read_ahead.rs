//! The queue between the reading thread and the masking thread: bounded,
//! and sparing with wake-ups.
//!
//! `std::sync::mpsc::sync_channel` wakes a blocked sender on every
//! receive. With the reader ahead (the usual case: it only copies and
//! scans), every 64 KiB chunk then cost the masking thread a futex wake
//! and the reader a sleep: a tenth of the masking thread's time in the
//! kernel's wake-up path. Here a full queue wakes its producer only once
//! it has drained to half, so the reader refills several chunks per wake.
//! The consumer is woken at once for every item it waits for: a live
//! log's line must not wait.
//!
//! Invariants:
//! - At most `capacity` items wait.
//! - A consumer waiting on an empty queue is woken by the next push, or
//!   when the producer is dropped (then it sees the end).
//! - A producer waiting on a full queue is woken once at most half of
//!   `capacity` waits, or when the consumer is dropped (then its push
//!   fails and gives the item back).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    producer_waits: bool,
    consumer_waits: bool,
    producer_gone: bool,
    consumer_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// For the consumer: an item or the end.
    ready: Condvar,
    /// For the producer: room.
    room: Condvar,
    capacity: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is a queue and flags: a panic elsewhere leaves it whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reading side.
pub struct Producer<T>(Arc<Shared<T>>);

/// The masking side.
pub struct Consumer<T>(Arc<Shared<T>>);

/// A queue of at most `capacity` (at least 2) items.
pub fn queue<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(capacity),
            producer_waits: false,
            consumer_waits: false,
            producer_gone: false,
            consumer_gone: false,
        }),
        ready: Condvar::new(),
        room: Condvar::new(),
        capacity: capacity.max(2),
    });
    (Producer(shared.clone()), Consumer(shared))
}

impl<T> Producer<T> {
    /// Adds `item`, waiting while the queue is full; gives it back if the
    /// consumer is gone.
    pub fn push(&self, item: T) -> Result<(), T> {
        let shared = &*self.0;
        let mut state = shared.lock();
        while state.items.len() >= shared.capacity && !state.consumer_gone {
            state.producer_waits = true;
            state = shared.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.producer_waits = false;
        if state.consumer_gone {
            return Err(item);
        }
        state.items.push_back(item);
        if state.consumer_waits {
            shared.ready.notify_one();
        }
        Ok(())
    }
}

impl<T> Iterator for Consumer<T> {
    type Item = T;

    /// The next item, waiting for it; `None` once the producer is gone
    /// and the queue is empty.
    fn next(&mut self) -> Option<T> {
        let shared = &*self.0;
        let mut state = shared.lock();
        while state.items.is_empty() && !state.producer_gone {
            state.consumer_waits = true;
            state = shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.consumer_waits = false;
        let item = state.items.pop_front();
        if state.producer_waits && state.items.len() <= shared.capacity / 2 {
            shared.room.notify_one();
        }
        item
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.0.lock().producer_gone = true;
        self.0.ready.notify_one();
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.consumer_gone = true;
        state.items.clear();
        drop(state);
        self.0.room.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn every_item_arrives_once_and_in_order() {
        for capacity in [2, 3, 8] {
            let (producer, consumer) = queue(capacity);
            let reader = thread::spawn(move || {
                for i in 0..10_000u32 {
                    producer.push(i).unwrap();
                }
            });
            let got: Vec<u32> = consumer.collect();
            reader.join().unwrap();
            assert_eq!(got, (0..10_000).collect::<Vec<_>>(), "capacity {capacity}");
        }
    }

    #[test]
    fn a_waiting_consumer_gets_each_item_at_once() {
        let (producer, mut consumer) = queue(8);
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let reader = thread::spawn(move || {
            for i in 0..3u32 {
                thread::sleep(Duration::from_millis(20));
                producer.push(i).unwrap();
            }
            // Held open until the consumer has all three: it must not
            // wait for more to arrive first.
            let _ = finished.recv_timeout(Duration::from_secs(20));
        });
        for i in 0..3u32 {
            let start = std::time::Instant::now();
            assert_eq!(consumer.next(), Some(i));
            assert!(start.elapsed() < Duration::from_secs(10), "item {i} waited");
        }
        done.send(()).unwrap();
        reader.join().unwrap();
        assert_eq!(consumer.next(), None);
    }

    /// Waits (up to 10 s) until `pushed` reaches `n`, then a little more,
    /// and returns it.
    fn settle(pushed: &Mutex<usize>, n: usize) -> usize {
        let start = std::time::Instant::now();
        while *pushed.lock().unwrap() < n && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(50));
        *pushed.lock().unwrap()
    }

    #[test]
    fn a_full_queue_holds_at_most_its_capacity_and_refills_from_half() {
        let (producer, mut consumer) = queue(4);
        let pushed = Arc::new(Mutex::new(0usize));
        let count = pushed.clone();
        let reader = thread::spawn(move || {
            for i in 0..100u32 {
                producer.push(i).unwrap();
                *count.lock().unwrap() += 1;
            }
        });
        assert_eq!(settle(&pushed, 4), 4, "at most the capacity waits");
        consumer.next();
        // One taken: three wait, above half, so the reader sleeps on.
        assert_eq!(settle(&pushed, 4), 4);
        consumer.next();
        // Two wait: half; the reader refills to the capacity.
        assert_eq!(settle(&pushed, 6), 6);
        assert_eq!(consumer.by_ref().count(), 98);
        reader.join().unwrap();
    }

    #[test]
    fn a_push_after_the_consumer_left_gives_the_item_back() {
        let (producer, consumer) = queue(2);
        producer.push(1).unwrap();
        producer.push(2).unwrap();
        let reader = thread::spawn(move || producer.push(3));
        thread::sleep(Duration::from_millis(50));
        drop(consumer);
        assert_eq!(reader.join().unwrap(), Err(3));
    }
}
