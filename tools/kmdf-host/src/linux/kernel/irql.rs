//! The IRQL model (one IRQL per thread, as per processor on Windows while
//! a thread runs) and spin locks, with Driver Verifier's checks.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::linux::abi::irql::{APC, DISPATCH, HIGH, PASSIVE};
use crate::linux::cpu::thread::{self, caller_thunk};
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop;
use crate::report::Rule;

/// A unique non-zero token for the current thread, stored in a held lock.
fn owner_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|t| t as *const u8 as usize)
}

/// Checks that the current IRQL is at most `max` for routine `name`.
pub(crate) fn require_max(name: &str, max: u8) -> bool {
    let now = thread::irql();
    if now > max {
        Session::current().violation(
            Rule::IrqlTooHigh,
            format!(
                "{name} called at {}, its maximum is {}",
                describe(now),
                describe(max)
            ),
        );
        false
    } else {
        true
    }
}

/// `KeGetCurrentIrql`: this thread's IRQL.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ke_get_current_irql() -> u8 {
    thread::irql()
}
caller_thunk!(KeGetCurrentIrql => ke_get_current_irql);

/// `KfRaiseIrql`: raises this thread's IRQL; lowering is a violation.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn kf_raise_irql(new: u8) -> u8 {
    let old = thread::irql();
    if new < old || new > HIGH {
        Session::current().violation(
            Rule::IrqlTooHigh,
            format!("KfRaiseIrql({new}) at IRQL {old}: the new IRQL must not be lower"),
        );
    }
    thread::set_irql(new.max(old));
    old
}
caller_thunk!(KfRaiseIrql => kf_raise_irql);

/// `KeRaiseIrqlToDpcLevel`.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ke_raise_irql_to_dpc_level() -> u8 {
    // SAFETY: `kf_raise_irql` has no contract beyond being called on a
    // thread the host entered, which this function's caller guarantees.
    unsafe { kf_raise_irql(DISPATCH) }
}
caller_thunk!(KeRaiseIrqlToDpcLevel => ke_raise_irql_to_dpc_level);

/// `KeLowerIrql`: raising through it is a violation.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ke_lower_irql(new: u8) {
    let old = thread::irql();
    if new > old {
        Session::current().violation(
            Rule::IrqlNotRestored,
            format!("KeLowerIrql({new}) at IRQL {old}: the new IRQL must not be higher"),
        );
        return;
    }
    thread::set_irql(new);
}
caller_thunk!(KeLowerIrql => ke_lower_irql);

/// `KeInitializeSpinLock`: the lock word is 0 (free).
///
/// # Safety
///
/// `lock` points at writable, aligned storage for a `KSPIN_LOCK`.
unsafe extern "win64" fn ke_initialize_spin_lock(lock: *mut usize) {
    // SAFETY: `lock` is a writable, aligned KSPIN_LOCK (this function's
    // contract) that no other thread uses yet.
    unsafe { lock.write(0) };
}
caller_thunk!(KeInitializeSpinLock => ke_initialize_spin_lock);

/// Takes the lock word, spinning like a processor would (the holder runs on
/// another thread); a thread that already holds it would spin forever.
///
/// # Safety
///
/// `lock` points at a `KSPIN_LOCK` initialised by `KeInitializeSpinLock`,
/// valid while it is held and accessed only through these routines.
unsafe fn acquire(lock: *mut usize, name: &str) {
    // SAFETY: a KSPIN_LOCK is a pointer-sized, pointer-aligned integer,
    // valid and accessed only atomically while in use (the caller's
    // contract), as `AtomicUsize::from_ptr` requires.
    let word = unsafe { AtomicUsize::from_ptr(lock) };
    let me = owner_token();
    if word.load(Ordering::Relaxed) == me {
        stop(
            Rule::SpinLockMisuse,
            format!(
                "{name}: this thread already holds the spin lock at {lock:p} (it would spin forever)"
            ),
        );
    }
    let session = Session::current();
    let start = Instant::now();
    while word
        .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
        if start.elapsed() > session.options.hang_timeout {
            stop(
                Rule::Hang,
                format!(
                    "{name}: the spin lock at {lock:p} was not released for {:?}",
                    session.options.hang_timeout
                ),
            );
        }
    }
    thread::add_spin_locks(1);
}

/// Releases the lock word if this thread holds it.
///
/// # Safety
///
/// As for [`acquire`].
unsafe fn release(lock: *mut usize, name: &str) {
    // SAFETY: as in `acquire` (the same contract).
    let word = unsafe { AtomicUsize::from_ptr(lock) };
    if word
        .compare_exchange(owner_token(), 0, Ordering::Release, Ordering::Relaxed)
        .is_err()
    {
        Session::current().violation(
            Rule::SpinLockMisuse,
            format!("{name}: the spin lock at {lock:p} is not held by this thread"),
        );
        return;
    }
    thread::add_spin_locks(-1);
}

/// `KeAcquireSpinLockRaiseToDpc`: at most DISPATCH_LEVEL; takes the lock
/// and raises to DISPATCH_LEVEL; returns the previous IRQL.
///
/// # Safety
///
/// `lock` points at a `KSPIN_LOCK` initialised by `KeInitializeSpinLock`.
unsafe extern "win64" fn ke_acquire_spin_lock_raise_to_dpc(lock: *mut usize) -> u8 {
    let old = thread::irql();
    if !require_max("KeAcquireSpinLockRaiseToDpc", DISPATCH) {
        stop(
            Rule::IrqlTooHigh,
            format!("KeAcquireSpinLockRaiseToDpc at IRQL {old}"),
        );
    }
    // SAFETY: the driver's initialised KSPIN_LOCK (this function's contract).
    unsafe { acquire(lock, "KeAcquireSpinLockRaiseToDpc") };
    thread::set_irql(DISPATCH);
    old
}
caller_thunk!(KeAcquireSpinLockRaiseToDpc => ke_acquire_spin_lock_raise_to_dpc);

/// `KeReleaseSpinLock`: releases the lock and lowers the IRQL.
///
/// # Safety
///
/// `lock` points at a `KSPIN_LOCK` initialised by `KeInitializeSpinLock`.
unsafe extern "win64" fn ke_release_spin_lock(lock: *mut usize, new: u8) {
    // SAFETY: the driver's initialised KSPIN_LOCK (this function's contract).
    unsafe { release(lock, "KeReleaseSpinLock") };
    if new > thread::irql() {
        Session::current().violation(
            Rule::IrqlNotRestored,
            format!(
                "KeReleaseSpinLock to IRQL {new}, above the current {}",
                thread::irql()
            ),
        );
    } else {
        thread::set_irql(new);
    }
}
caller_thunk!(KeReleaseSpinLock => ke_release_spin_lock);

/// `KeAcquireSpinLockAtDpcLevel`: requires DISPATCH_LEVEL.
///
/// # Safety
///
/// `lock` points at a `KSPIN_LOCK` initialised by `KeInitializeSpinLock`.
unsafe extern "win64" fn ke_acquire_spin_lock_at_dpc_level(lock: *mut usize) {
    let now = thread::irql();
    if now != DISPATCH {
        Session::current().violation(
            Rule::IrqlTooHigh,
            format!("KeAcquireSpinLockAtDpcLevel at IRQL {now}: it requires DISPATCH_LEVEL"),
        );
    }
    // SAFETY: the driver's initialised KSPIN_LOCK (this function's contract).
    unsafe { acquire(lock, "KeAcquireSpinLockAtDpcLevel") };
}
caller_thunk!(KeAcquireSpinLockAtDpcLevel => ke_acquire_spin_lock_at_dpc_level);

/// `KeReleaseSpinLockFromDpcLevel`.
///
/// # Safety
///
/// `lock` points at a `KSPIN_LOCK` initialised by `KeInitializeSpinLock`.
unsafe extern "win64" fn ke_release_spin_lock_from_dpc_level(lock: *mut usize) {
    // SAFETY: the driver's initialised KSPIN_LOCK (this function's contract).
    unsafe { release(lock, "KeReleaseSpinLockFromDpcLevel") };
}
caller_thunk!(KeReleaseSpinLockFromDpcLevel => ke_release_spin_lock_from_dpc_level);

/// An IRQL as the reports name it: `DISPATCH_LEVEL (2)`.
pub(crate) fn describe(level: u8) -> String {
    let name = match level {
        PASSIVE => "PASSIVE_LEVEL",
        APC => "APC_LEVEL",
        DISPATCH => "DISPATCH_LEVEL",
        HIGH => "HIGH_LEVEL",
        _ => "DIRQL",
    };
    format!("{name} ({level})")
}
