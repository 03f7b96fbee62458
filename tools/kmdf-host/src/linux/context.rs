//! Per-thread state of every thread that runs driver code: the session it
//! belongs to, its IRQL, the spin locks it holds, and the driver address of
//! the last call into the host (for reports).
//!
//! Kernel and framework entry points have no context argument, so they find
//! their session here. A thread gets a session only through [`enter`], which
//! the host calls before it calls into the driver (on the caller's thread,
//! or on a worker thread it started).

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::session::Session;

thread_local! {
    static SESSION: RefCell<Option<Arc<Session>>> = const { RefCell::new(None) };
    static IRQL: Cell<u8> = const { Cell::new(0) };
    static CALLER: Cell<usize> = const { Cell::new(0) };
    static SPIN_LOCKS: Cell<u32> = const { Cell::new(0) };
    /// Read by the fault handler: a plain flag, safe to read in a signal
    /// handler (no destructor, constant initialiser).
    static DRIVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The session of this thread, if it runs driver code.
pub(crate) fn try_session() -> Option<Arc<Session>> {
    SESSION.with(|s| s.borrow().clone())
}

/// The session of this thread. Driver code only runs on threads the host
/// entered, so a kernel or WDF call without one means the driver started a
/// thread of its own, which the host cannot model: the run stops.
pub(crate) fn session() -> Arc<Session> {
    match try_session() {
        Some(s) => s,
        None => super::stop::stop_without_session(
            "a kernel or WDF routine was called on a thread kmdf-host did not start",
        ),
    }
}

/// The IRQL of this thread.
pub(crate) fn irql() -> u8 {
    IRQL.with(Cell::get)
}

/// Sets the IRQL of this thread.
pub(crate) fn set_irql(level: u8) {
    IRQL.with(|c| c.set(level));
}

/// The return address of the driver's last call into the host on this
/// thread.
pub(crate) fn caller() -> usize {
    CALLER.with(Cell::get)
}

/// Spin locks this thread holds.
pub(crate) fn spin_locks() -> u32 {
    SPIN_LOCKS.with(Cell::get)
}

/// Records one more (`+1`) or one fewer (`-1`) spin lock held.
pub(crate) fn add_spin_locks(delta: i32) {
    SPIN_LOCKS.with(|c| c.set(c.get().saturating_add_signed(delta)));
}

/// Whether this thread runs driver code (for the fault handler).
pub(crate) fn is_driver_thread() -> bool {
    DRIVER_THREAD.with(Cell::get)
}

/// Stores the driver's return address; called by the entry thunks.
pub(crate) extern "win64" fn record_caller(return_address: usize) {
    CALLER.with(|c| c.set(return_address));
}

/// The thread state before [`enter`], restored by [`Frame::leave`].
#[derive(Debug)]
pub(crate) struct Frame {
    session: Option<Arc<Session>>,
    irql: u8,
    caller: usize,
    spin_locks: u32,
    driver_thread: bool,
}

/// Makes this thread run driver code of `session` at `level`.
pub(crate) fn enter(session: &Arc<Session>, level: u8) -> Frame {
    let previous = SESSION.with(|s| s.replace(Some(session.clone())));
    let frame = Frame {
        session: previous,
        irql: irql(),
        caller: caller(),
        spin_locks: spin_locks(),
        driver_thread: is_driver_thread(),
    };
    set_irql(level);
    SPIN_LOCKS.with(|c| c.set(0));
    DRIVER_THREAD.with(|c| c.set(true));
    frame
}

impl Frame {
    /// Restores the state before [`enter`]; returns the IRQL and the number
    /// of spin locks held at this point (what the driver left).
    pub(crate) fn leave(self) -> (u8, u32) {
        let left = (irql(), spin_locks());
        SESSION.with(|s| *s.borrow_mut() = self.session);
        set_irql(self.irql);
        CALLER.with(|c| c.set(self.caller));
        SPIN_LOCKS.with(|c| c.set(self.spin_locks));
        DRIVER_THREAD.with(|c| c.set(self.driver_thread));
        left
    }
}

/// Defines `$thunk`, an entry point for the driver that records its return
/// address (see [`caller`]) and then jumps to `$target` with the registers
/// and stack exactly as the driver set them up: the four argument registers
/// are saved around the recording call, and stack arguments stay where
/// `$target` expects them because the thunk's own frame is gone by the jump.
macro_rules! caller_thunk {
    ($thunk:ident => $target:path) => {
        #[doc = concat!("The driver's entry to `", stringify!($target), "`.")]
        #[doc = ""]
        #[doc = "# Safety"]
        #[doc = ""]
        #[doc = concat!("The contract of `", stringify!($target), "`, whose arguments pass through.")]
        #[unsafe(naked)]
        #[allow(non_snake_case)]
        pub(crate) unsafe extern "win64" fn $thunk() {
            ::core::arch::naked_asm!(
                "push rcx",
                "push rdx",
                "push r8",
                "push r9",
                // 4 pushes + the return address: RSP is 8 mod 16; 40 more
                // bytes give the callee its home space and a 16-byte
                // aligned stack.
                "sub rsp, 40",
                "mov rcx, [rsp + 72]",
                "call {record}",
                "add rsp, 40",
                "pop r9",
                "pop r8",
                "pop rdx",
                "pop rcx",
                "jmp {target}",
                record = sym $crate::linux::context::record_caller,
                target = sym $target,
            )
        }
    };
}
pub(crate) use caller_thunk;
