//! The progress line of a long `run`.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run may take before the progress indicator appears.
const PROGRESS_DELAY: Duration = Duration::from_millis(300);

/// A progress line on stderr that appears only when stderr is a terminal
/// and the run takes longer than [`PROGRESS_DELAY`].
pub(super) struct Progress {
    bar: ProgressBar,
    stop: Option<mpsc::Sender<()>>,
    watcher: Option<thread::JoinHandle<()>>,
}

impl Progress {
    pub(super) fn start(total: usize) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
        {
            bar.set_style(style);
        }
        let (stop, watcher) = if std::io::stderr().is_terminal() {
            let (tx, rx) = mpsc::channel::<()>();
            let shown = bar.clone();
            let watcher = thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(PROGRESS_DELAY) {
                    shown.set_draw_target(ProgressDrawTarget::stderr());
                    shown.enable_steady_tick(Duration::from_millis(100));
                }
            });
            (Some(tx), Some(watcher))
        } else {
            (None, None)
        };
        Progress { bar, stop, watcher }
    }

    pub(super) fn running(&self, name: &str) {
        self.bar.set_message(name.to_owned());
    }

    pub(super) fn done_one(&self) {
        self.bar.inc(1);
    }

    pub(super) fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            // The watcher may already have shown the bar and ended; then
            // nobody receives this, which is fine.
            let _ = stop.send(());
        }
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.bar.finish_and_clear();
    }
}
