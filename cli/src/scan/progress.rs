//! Progress of a scan on stderr: only when stderr is a terminal and the
//! scan has run for more than a second, showing bytes read of the total
//! and the rate, cleared at the end (SPEC 8). When stderr is a pipe or a
//! file not one byte of progress is written, so CI logs stay clean.
//!
//! Bytes are counted as read from disk or pipe (compressed bytes for an
//! archive), so they compare with the files' sizes.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
    pub fn start(total: u64) -> Progress {
        let bytes = Arc::new(AtomicU64::new(0));
        let bar = Arc::new(Mutex::new(None));
        if !std::io::stderr().is_terminal() {
            return Progress {
                bytes,
                bar,
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let (counter, shown) = (bytes.clone(), bar.clone());
        let thread = std::thread::spawn(move || {
            if !matches!(stopped.recv_timeout(DELAY), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            progress.set_style(
                ProgressStyle::with_template(
                    "logmask: scanning {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})",
                )
                .expect("a valid template"),
            );
            *shown.lock().unwrap_or_else(|e| e.into_inner()) = Some(progress.clone());
            loop {
                progress.set_position(counter.load(Ordering::Relaxed));
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
