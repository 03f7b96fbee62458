//! Host signal: the blocked thread parks; wakers set a flag and unpark it.

use core::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::{NTSTATUS, STATUS_POSSIBLE_DEADLOCK};

/// Host builds can always block.
pub(super) fn check_can_block() -> Result<(), NTSTATUS> {
    Ok(())
}

pub(super) struct Signal {
    thread: Thread,
    woken: AtomicBool,
}

impl Signal {
    /// Initialises a signal for the calling thread in place.
    ///
    /// # Safety
    ///
    /// `slot` must be valid for writes of a `Signal`.
    pub(super) unsafe fn init(slot: *mut Signal) {
        // SAFETY: forwarded contract.
        unsafe {
            slot.write(Signal {
                thread: thread::current(),
                woken: AtomicBool::new(false),
            })
        };
    }

    /// # Safety
    ///
    /// `slot` must hold a signal made by `init` that is not used again.
    pub(super) unsafe fn destroy(slot: *mut Signal) {
        // SAFETY: forwarded contract: drop the thread handle once.
        unsafe { core::ptr::drop_in_place(slot) };
    }

    /// Marks the signal and unparks the waiting thread. Any thread.
    pub(super) fn notify(&self) {
        // Release: what the waker's caller did before waking happens-before
        // the re-poll that observes the flag.
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }

    /// Waits until notified (a notification that came earlier counts).
    /// Returns `STATUS_POSSIBLE_DEADLOCK` after `timeout_ms`.
    pub(super) fn wait(&self, timeout_ms: Option<u32>) -> Result<(), NTSTATUS> {
        let deadline = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms.into()));
        // Acquire pairs with `notify`'s Release. `park` may return spuriously
        // or for an unrelated `unpark`: the flag decides.
        while !self.woken.swap(false, Ordering::Acquire) {
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        std::eprintln!(
                            "kcom: an async COM call waited more than {} ms for its waker: probable deadlock",
                            timeout_ms.unwrap_or(0)
                        );
                        return Err(STATUS_POSSIBLE_DEADLOCK);
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
        Ok(())
    }
}
