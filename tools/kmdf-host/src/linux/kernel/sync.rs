//! Dispatcher objects: `KEVENT` in the driver's memory, set and waited on
//! by real host threads, with Driver Verifier's IRQL rules for waits.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::super::abi::irql::DISPATCH;
use super::super::abi::{DispatcherHeader, NOTIFICATION_EVENT, SYNCHRONIZATION_EVENT, status};
use super::super::context::{self, caller_thunk};
use super::super::stop::stop;
use super::irql::require_max;
use crate::report::Rule;

/// The session's dispatcher lock: every signal state change happens under
/// it, and every waiter sleeps on its condition variable.
#[derive(Debug, Default)]
pub(crate) struct Dispatcher {
    lock: Mutex<()>,
    changed: Condvar,
}

/// The signal state of the event at `event`.
fn signal_state<'a>(event: *mut DispatcherHeader) -> &'a AtomicI32 {
    // SAFETY: the driver passes a KEVENT it initialised; `SignalState` is an
    // aligned 32-bit field of it, accessed only atomically while in use.
    unsafe { AtomicI32::from_ptr(&raw mut (*event).signal_state) }
}

unsafe extern "win64" fn ke_initialize_event(event: *mut DispatcherHeader, kind: u32, state: u8) {
    if kind > 1 {
        context::session().violation(
            Rule::BadPoolCall,
            format!("KeInitializeEvent with event type {kind} (0 or 1 expected)"),
        );
    }
    let list = std::ptr::null_mut();
    // SAFETY: the driver passes storage for a KEVENT (24 bytes).
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
            wait_list_head: super::super::abi::ListEntry {
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

unsafe extern "win64" fn ke_set_event(
    event: *mut DispatcherHeader,
    _increment: i32,
    _wait: u8,
) -> i32 {
    require_max("KeSetEvent", DISPATCH);
    let session = context::session();
    let _guard = session.dispatcher.lock.lock().unwrap();
    let previous = signal_state(event).swap(1, Ordering::SeqCst);
    session.dispatcher.changed.notify_all();
    previous
}
caller_thunk!(KeSetEvent => ke_set_event);

unsafe extern "win64" fn ke_reset_event(event: *mut DispatcherHeader) -> i32 {
    require_max("KeResetEvent", DISPATCH);
    let session = context::session();
    let _guard = session.dispatcher.lock.lock().unwrap();
    signal_state(event).swap(0, Ordering::SeqCst)
}
caller_thunk!(KeResetEvent => ke_reset_event);

unsafe extern "win64" fn ke_clear_event(event: *mut DispatcherHeader) {
    // SAFETY: forwards the driver's event.
    unsafe { ke_reset_event(event) };
}
caller_thunk!(KeClearEvent => ke_clear_event);

unsafe extern "win64" fn ke_read_state_event(event: *mut DispatcherHeader) -> i32 {
    signal_state(event).load(Ordering::SeqCst)
}
caller_thunk!(KeReadStateEvent => ke_read_state_event);

/// A wait's time-out: `None` waits forever. Windows times are in 100 ns
/// units; negative is relative, positive absolute (treated as elapsed
/// since the host's clock started: the host has no system time).
fn timeout_of(timeout: *const i64) -> Option<Duration> {
    if timeout.is_null() {
        return None;
    }
    // SAFETY: the driver passes a LARGE_INTEGER.
    let t = unsafe { timeout.read_unaligned() };
    Some(Duration::from_nanos(t.unsigned_abs().saturating_mul(100)))
}

unsafe extern "win64" fn ke_wait_for_single_object(
    object: *mut DispatcherHeader,
    _reason: u32,
    _mode: i8,
    _alertable: u8,
    timeout: *const i64,
) -> i32 {
    let session = context::session();
    let wait = timeout_of(timeout);
    let irql = context::irql();
    if irql > DISPATCH || (irql == DISPATCH && wait != Some(Duration::ZERO)) {
        session.violation(
            Rule::WaitAtDispatch,
            format!(
                "KeWaitForSingleObject at IRQL {irql} with {}: only a zero time-out is allowed at DISPATCH_LEVEL",
                match wait {
                    None => "no time-out".to_string(),
                    Some(d) => format!("a {d:?} time-out"),
                }
            ),
        );
    }
    // SAFETY: the driver passes a dispatcher object it initialised.
    let kind = unsafe { (*object).type_ };
    let state = signal_state(object);
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

unsafe extern "win64" fn ke_delay_execution_thread(
    _mode: i8,
    _alertable: u8,
    interval: *const i64,
) -> i32 {
    let irql = context::irql();
    if irql > super::super::abi::irql::APC {
        context::session().violation(
            Rule::WaitAtDispatch,
            format!("KeDelayExecutionThread at IRQL {irql}: it requires IRQL <= APC_LEVEL"),
        );
    }
    if let Some(d) = timeout_of(interval) {
        std::thread::sleep(d.min(Duration::from_secs(5)));
    }
    status::SUCCESS
}
caller_thunk!(KeDelayExecutionThread => ke_delay_execution_thread);
