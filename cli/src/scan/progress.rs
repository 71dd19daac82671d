//! Progress of a scan on stderr: only when stderr is a terminal and the
//! scan has run for more than a second, showing bytes read of the total
//! and the rate, cleared at the end (SPEC 8). When stderr is a pipe or a
//! file not one byte of progress is written, so CI logs stay clean.
//! Messages written meanwhile (warnings, a PATH's error) clear the line
//! first and have it drawn again after, so none is glued to it. The total
//! is unknown (`?`) when an input has no size: stdin, a FIFO.
//!
//! Bytes are counted as read from disk or pipe (compressed bytes for an
//! archive), so they compare with the files' sizes. The rate is the
//! bytes over the time since the scan started: the bar appears a second
//! in, and a rate estimated from its own updates took that second's
//! bytes as read in one tick (terabytes a second).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

const DELAY: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

pub struct Progress {
    pub bytes: Arc<AtomicU64>,
    bar: Arc<Mutex<Option<ProgressBar>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts counting; shows a bar after [`DELAY`] if stderr is a terminal.
    pub fn start(total: Option<u64>) -> Progress {
        let bytes = Arc::new(AtomicU64::new(0));
        let bar: Arc<Mutex<Option<ProgressBar>>> = Arc::new(Mutex::new(None));
        if !std::io::stderr().is_terminal() {
            return Progress {
                bytes,
                bar,
                stop: None,
                thread: None,
            };
        }
        let shared = bar.clone();
        crate::messages::share_stderr_with(Box::new(move |write| {
            let shown = shared.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match shown {
                Some(bar) => bar.suspend(write),
                None => write(),
            }
        }));
        let started = Instant::now();
        let (stop, stopped) = mpsc::channel::<()>();
        let (counter, shown) = (bytes.clone(), bar.clone());
        let thread = std::thread::spawn(move || {
            if !matches!(stopped.recv_timeout(DELAY), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let progress = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            progress.set_style(
                ProgressStyle::with_template("logmask: scanning {msg}").expect("a valid template"),
            );
            *shown.lock().unwrap_or_else(|e| e.into_inner()) = Some(progress.clone());
            loop {
                // One message, so that one draw shows bytes and rate of
                // the same moment.
                let read = counter.load(Ordering::Relaxed);
                progress.set_message(status(read, total, started.elapsed()));
                if !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
                    break;
                }
            }
            *shown.lock().unwrap_or_else(|e| e.into_inner()) = None;
            progress.finish_and_clear();
        });
        Progress {
            bytes,
            bar,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Runs `print` with the bar (if shown) out of the way.
    pub fn suspend<T>(&self, print: impl FnOnce() -> T) -> T {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Clears the bar, if it was shown.
    pub fn finish(mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `45.20 MiB/50.44 MiB (45.20 MiB/s)`: `read` of `total` (`?` when
/// unknown), and `read` over `elapsed`.
fn status(read: u64, total: Option<u64>, elapsed: Duration) -> String {
    let per_second = read as f64 / elapsed.as_secs_f64().max(1e-3);
    let total = total.map_or("?".to_string(), |total| BinaryBytes(total).to_string());
    format!(
        "{}/{total} ({}/s)",
        BinaryBytes(read),
        BinaryBytes(per_second as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_bytes_over_the_whole_time() {
        let total = Some(100 << 20);
        let cases = [
            (
                45 << 20,
                Duration::from_secs(1),
                "45.00 MiB/100.00 MiB (45.00 MiB/s)",
            ),
            (
                45 << 20,
                Duration::from_millis(2500),
                "45.00 MiB/100.00 MiB (18.00 MiB/s)",
            ),
            (0, Duration::from_secs(3), "0 B/100.00 MiB (0 B/s)"),
            (
                1 << 30,
                Duration::ZERO,
                "1.00 GiB/100.00 MiB (1000.00 GiB/s)",
            ),
        ];
        for (read, elapsed, want) in cases {
            assert_eq!(status(read, total, elapsed), want, "{read} in {elapsed:?}");
        }
        assert_eq!(
            status(3 << 20, None, Duration::from_secs(2)),
            "3.00 MiB/? (1.50 MiB/s)"
        );
    }
}
