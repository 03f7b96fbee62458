//! Kernel signal (feature `async-com-kernel`): a synchronization `KEVENT`
//! inside the waker's non-paged block; wakers set it, the blocked thread
//! waits on it with `KeWaitForSingleObject`.

use core::cell::UnsafeCell;

use wdk_sys::ntddk::{KeGetCurrentIrql, KeInitializeEvent, KeSetEvent, KeWaitForSingleObject};
use wdk_sys::{
    _EVENT_TYPE::SynchronizationEvent, _KWAIT_REASON::Executive, _MODE::KernelMode, DISPATCH_LEVEL,
    FALSE, KEVENT, LARGE_INTEGER,
};

use crate::{NTSTATUS, STATUS_INVALID_DEVICE_STATE, STATUS_POSSIBLE_DEADLOCK, STATUS_TIMEOUT};

/// Refuses to block at `DISPATCH_LEVEL` or above: waiting there would hang
/// the processor (a debug assertion first, then an error status).
pub(super) fn check_can_block() -> Result<(), NTSTATUS> {
    // SAFETY: KeGetCurrentIrql has no preconditions.
    let irql = unsafe { KeGetCurrentIrql() };
    if u32::from(irql) >= DISPATCH_LEVEL {
        debug_assert!(
            false,
            "kcom: async COM call at IRQL {irql} (>= DISPATCH_LEVEL)"
        );
        return Err(STATUS_INVALID_DEVICE_STATE);
    }
    Ok(())
}

pub(super) struct Signal {
    event: UnsafeCell<KEVENT>,
}

impl Signal {
    /// Initialises the event in its final (non-paged, never moved) place.
    ///
    /// # Safety
    ///
    /// `slot` must be valid for writes, in non-paged memory, and the signal
    /// must not move afterwards (the event's wait list points into itself).
    pub(super) unsafe fn init(slot: *mut Signal) {
        // SAFETY: `slot` is valid for writes; KeInitializeEvent initialises
        // the whole KEVENT in place, at any IRQL.
        unsafe {
            let event = (&raw mut (*slot).event).cast::<KEVENT>();
            KeInitializeEvent(event, SynchronizationEvent, FALSE as _);
        }
    }

    /// # Safety
    ///
    /// `slot` must hold a signal made by `init` that nobody waits on.
    pub(super) unsafe fn destroy(_slot: *mut Signal) {
        // A KEVENT needs no teardown.
    }

    /// Sets the event. Callable at IRQL <= DISPATCH_LEVEL, from any thread.
    pub(super) fn notify(&self) {
        // SAFETY: the event was initialised in place and stays valid while
        // a waker references the block; KeSetEvent with Wait = FALSE is
        // allowed at <= DISPATCH_LEVEL.
        unsafe { KeSetEvent(self.event.get(), 0, FALSE as _) };
    }

    /// Waits for the event (a `notify` that came earlier counts: the event
    /// stays set until a wait consumes it).
    pub(super) fn wait(&self, timeout_ms: Option<u32>) -> Result<(), NTSTATUS> {
        let mut timeout = LARGE_INTEGER::default();
        let timeout_ptr = match timeout_ms {
            Some(ms) => {
                // Relative time, in 100 ns units.
                timeout.QuadPart = -(i64::from(ms) * 10_000);
                &raw mut timeout
            }
            None => core::ptr::null_mut(),
        };
        // SAFETY: the event is valid (see `notify`); we run below
        // DISPATCH_LEVEL (checked in `check_can_block`); `timeout_ptr` is
        // null or points to a live local.
        let status = unsafe {
            KeWaitForSingleObject(
                self.event.get().cast(),
                Executive,
                KernelMode as _,
                FALSE as _,
                timeout_ptr,
            )
        };
        if status == STATUS_TIMEOUT {
            // SAFETY: a constant NUL-terminated format string without
            // conversions.
            unsafe {
                wdk_sys::ntddk::DbgPrint(
                    c"kcom: an async COM call waited past its watchdog: probable deadlock\n"
                        .as_ptr(),
                )
            };
            return Err(STATUS_POSSIBLE_DEADLOCK);
        }
        Ok(())
    }
}

// SAFETY: a KEVENT is designed to be set and waited on from any thread; all
// access goes through the kernel's own synchronisation.
unsafe impl Sync for Signal {}
// SAFETY: as above.
unsafe impl Send for Signal {}
