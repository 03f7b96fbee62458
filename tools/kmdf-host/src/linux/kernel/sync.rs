//! Dispatcher objects: `KEVENT` in the driver's memory, set and waited on
//! by real host threads, with Driver Verifier's IRQL rules for waits.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::irql::require_max;
use crate::linux::abi::irql::DISPATCH;
use crate::linux::abi::{DispatcherHeader, NOTIFICATION_EVENT, SYNCHRONIZATION_EVENT, status};
use crate::linux::cpu::thread::{self, caller_thunk};
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop;
use crate::report::Rule;

/// The session's dispatcher lock: every signal state change happens under
/// it, and every waiter sleeps on its condition variable.
#[derive(Debug, Default)]
pub(crate) struct Dispatcher {
    lock: Mutex<()>,
    changed: Condvar,
}

/// The signal state of the event at `event`.
///
/// # Safety
///
/// `event` points at a dispatcher object (`KEVENT`) that stays valid for
/// `'a` and whose `SignalState` is accessed only atomically meanwhile (the
/// kernel's rule: a driver changes an event only through `Ke*Event`).
unsafe fn signal_state<'a>(event: *mut DispatcherHeader) -> &'a AtomicI32 {
    // SAFETY: `SignalState` is a 4-byte aligned `i32` field of the object
    // (the caller's contract: valid for 'a, accessed only atomically), which
    // is what `AtomicI32::from_ptr` requires.
    unsafe { AtomicI32::from_ptr(&raw mut (*event).signal_state) }
}

/// `KeInitializeEvent`: a notification or synchronization event, signalled
/// or not.
///
/// # Safety
///
/// `event` points at writable, suitably aligned storage for a `KEVENT`
/// (24 bytes) that nothing else uses during the call.
unsafe extern "win64" fn ke_initialize_event(event: *mut DispatcherHeader, kind: u32, state: u8) {
    if kind > 1 {
        Session::current().violation(
            Rule::BadPoolCall,
            format!("KeInitializeEvent with event type {kind} (0 or 1 expected)"),
        );
    }
    let list = std::ptr::null_mut();
    // SAFETY: `event` is writable storage for a KEVENT (this function's
    // contract); the header is written whole, then its list head made to
    // point at itself, as the kernel initialises an empty wait list.
    unsafe {
        event.write(DispatcherHeader {
            type_: if kind == 0 {
                NOTIFICATION_EVENT
            } else {
                SYNCHRONIZATION_EVENT
            },
            signalling: 0,
            size: 6,
            reserved: 0,
            signal_state: i32::from(state != 0),
            wait_list_head: crate::linux::abi::ListEntry {
                flink: list,
                blink: list,
            },
        });
        let head = &raw mut (*event).wait_list_head;
        (*head).flink = head;
        (*head).blink = head;
    }
}
caller_thunk!(KeInitializeEvent => ke_initialize_event);

/// `KeSetEvent`: signals the event and wakes its waiters; returns the
/// previous state.
///
/// # Safety
///
/// `event` points at a `KEVENT` initialised with `KeInitializeEvent`.
unsafe extern "win64" fn ke_set_event(
    event: *mut DispatcherHeader,
    _increment: i32,
    _wait: u8,
) -> i32 {
    require_max("KeSetEvent", DISPATCH);
    let session = Session::current();
    let _guard = session.dispatcher.lock.lock().unwrap();
    // SAFETY: the driver's initialised KEVENT (this function's contract).
    let previous = unsafe { signal_state(event) }.swap(1, Ordering::SeqCst);
    session.dispatcher.changed.notify_all();
    previous
}
caller_thunk!(KeSetEvent => ke_set_event);

/// `KeResetEvent`: clears the event; returns the previous state.
///
/// # Safety
///
/// `event` points at a `KEVENT` initialised with `KeInitializeEvent`.
unsafe extern "win64" fn ke_reset_event(event: *mut DispatcherHeader) -> i32 {
    require_max("KeResetEvent", DISPATCH);
    let session = Session::current();
    let _guard = session.dispatcher.lock.lock().unwrap();
    // SAFETY: the driver's initialised KEVENT (this function's contract).
    unsafe { signal_state(event) }.swap(0, Ordering::SeqCst)
}
caller_thunk!(KeResetEvent => ke_reset_event);

/// `KeClearEvent`: clears the event.
///
/// # Safety
///
/// `event` points at a `KEVENT` initialised with `KeInitializeEvent`.
unsafe extern "win64" fn ke_clear_event(event: *mut DispatcherHeader) {
    // SAFETY: the same contract: the driver's initialised KEVENT.
    unsafe { ke_reset_event(event) };
}
caller_thunk!(KeClearEvent => ke_clear_event);

/// `KeReadStateEvent`: the current state.
///
/// # Safety
///
/// `event` points at a `KEVENT` initialised with `KeInitializeEvent`.
unsafe extern "win64" fn ke_read_state_event(event: *mut DispatcherHeader) -> i32 {
    // SAFETY: the driver's initialised KEVENT (this function's contract).
    unsafe { signal_state(event) }.load(Ordering::SeqCst)
}
caller_thunk!(KeReadStateEvent => ke_read_state_event);

/// A wait's time-out: `None` waits forever. Windows times are in 100 ns
/// units; negative is relative, positive absolute (treated as elapsed
/// since the host's clock started: the host has no system time).
///
/// # Safety
///
/// `timeout` is NULL or points at a readable `LARGE_INTEGER`.
unsafe fn timeout_of(timeout: *const i64) -> Option<Duration> {
    if timeout.is_null() {
        return None;
    }
    // SAFETY: non-NULL, so a readable LARGE_INTEGER (the caller's
    // contract); `read_unaligned` needs no alignment.
    let t = unsafe { timeout.read_unaligned() };
    Some(Duration::from_nanos(t.unsigned_abs().saturating_mul(100)))
}

/// `KeWaitForSingleObject` on an event: waits (on a real host thread) until
/// it is signalled or the time-out passes; a wait without time-out that
/// lasts longer than the hang time-out stops the run.
///
/// # Safety
///
/// `object` points at a `KEVENT` initialised with `KeInitializeEvent`, valid
/// for the whole wait; `timeout` is NULL or points at a `LARGE_INTEGER`.
unsafe extern "win64" fn ke_wait_for_single_object(
    object: *mut DispatcherHeader,
    _reason: u32,
    _mode: i8,
    _alertable: u8,
    timeout: *const i64,
) -> i32 {
    let session = Session::current();
    // SAFETY: NULL or the driver's LARGE_INTEGER (this function's contract).
    let wait = unsafe { timeout_of(timeout) };
    let irql = thread::irql();
    if irql > DISPATCH || (irql == DISPATCH && wait != Some(Duration::ZERO)) {
        session.violation(
            Rule::WaitAtDispatch,
            format!(
                "KeWaitForSingleObject at {} with {}: only a zero time-out is allowed at DISPATCH_LEVEL",
                super::irql::describe(irql),
                match wait {
                    None => "no time-out".to_string(),
                    Some(d) => format!("a {d:?} time-out"),
                }
            ),
        );
    }
    // SAFETY: the driver's initialised dispatcher object (this function's
    // contract), readable.
    let kind = unsafe { (*object).type_ };
    // SAFETY: as above; it stays valid while the driver waits on it.
    let state = unsafe { signal_state(object) };
    let hang = session.options.hang_timeout;
    let start = Instant::now();
    let mut guard = session.dispatcher.lock.lock().unwrap();
    loop {
        if state.load(Ordering::SeqCst) > 0 {
            if kind == SYNCHRONIZATION_EVENT {
                state.store(0, Ordering::SeqCst);
            }
            return status::SUCCESS;
        }
        let elapsed = start.elapsed();
        let limit = match wait {
            Some(d) => d,
            None => hang,
        };
        if elapsed >= limit {
            if wait.is_none() {
                drop(guard);
                stop(
                    Rule::Hang,
                    format!(
                        "KeWaitForSingleObject on {object:p} without a time-out did not return for {hang:?}"
                    ),
                );
            }
            return status::TIMEOUT;
        }
        guard = session
            .dispatcher
            .changed
            .wait_timeout(guard, limit - elapsed)
            .unwrap()
            .0;
    }
}
caller_thunk!(KeWaitForSingleObject => ke_wait_for_single_object);

/// `KeDelayExecutionThread`: sleeps (at most 5 s).
///
/// # Safety
///
/// `interval` is NULL or points at a `LARGE_INTEGER`.
unsafe extern "win64" fn ke_delay_execution_thread(
    _mode: i8,
    _alertable: u8,
    interval: *const i64,
) -> i32 {
    let irql = thread::irql();
    if irql > crate::linux::abi::irql::APC {
        Session::current().violation(
            Rule::WaitAtDispatch,
            format!(
                "KeDelayExecutionThread at {}: it requires IRQL <= APC_LEVEL",
                super::irql::describe(irql)
            ),
        );
    }
    // SAFETY: NULL or the driver's LARGE_INTEGER (this function's contract).
    if let Some(d) = unsafe { timeout_of(interval) } {
        std::thread::sleep(d.min(Duration::from_secs(5)));
    }
    status::SUCCESS
}
caller_thunk!(KeDelayExecutionThread => ke_delay_execution_thread);
