//! Per-thread state of every thread that runs driver code: the session it
//! belongs to (opaque here: the kernel layer above owns its type), its
//! IRQL, the spin locks it holds, where the driver last called into the
//! host, and which driver callbacks are running (for reports and call
//! stacks).
//!
//! Kernel and framework entry points have no context argument, so they find
//! their session here. A thread gets a session only through [`enter`], which
//! the host calls before it calls into the driver (on the caller's thread,
//! or on a worker thread it started).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// The session a thread belongs to, as this layer keeps it: the layer that
/// defines the session's type recovers it by downcasting.
pub(crate) type SessionRef = Arc<dyn Any + Send + Sync>;

/// Where driver code called into the host: the return address and the
/// registers the x64 convention makes the callee preserve, as they were at
/// the call. From these the driver's stack can be unwound
/// ([`crate::linux::cpu::unwind`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallSite {
    /// The return address (0: no call recorded).
    pub return_address: usize,
    /// RSP once the call has returned (just above the return address).
    pub rsp: usize,
    /// RBX, RBP, RSI, RDI, R12, R13, R14, R15.
    pub nonvolatile: [usize; 8],
}

/// A driver callback the host is running on this thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Callback {
    /// Its role (`EvtIoDeviceControl`, `DriverEntry`, ...).
    pub what: &'static str,
    /// Its address.
    pub address: usize,
}

/// One running callback and the driver's call into the host that led to
/// it (none for the outermost: the host itself called).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Activation {
    pub callback: Callback,
    /// The call site that was current when the callback started: the
    /// driver's call into the host that is still in progress below it.
    pub outer: CallSite,
}

thread_local! {
    static SESSION: RefCell<Option<SessionRef>> = const { RefCell::new(None) };
    static IRQL: Cell<u8> = const { Cell::new(0) };
    static CALL: Cell<CallSite> = const {
        Cell::new(CallSite { return_address: 0, rsp: 0, nonvolatile: [0; 8] })
    };
    static SPIN_LOCKS: Cell<u32> = const { Cell::new(0) };
    static ACTIVE: RefCell<Vec<Activation>> = const { RefCell::new(Vec::new()) };
    /// Read by the fault handler: a plain flag, safe to read in a signal
    /// handler (no destructor, constant initialiser).
    static DRIVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The session of this thread, if it runs driver code.
pub(crate) fn session_ref() -> Option<SessionRef> {
    SESSION.with(|s| s.borrow().clone())
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
    CALL.with(Cell::get).return_address
}

/// The driver's last call into the host on this thread.
pub(crate) fn call_site() -> CallSite {
    CALL.with(Cell::get)
}

/// The callbacks running on this thread, innermost last.
pub(crate) fn activations() -> Vec<Activation> {
    ACTIVE.with(|a| a.borrow().clone())
}

/// The innermost callback running on this thread.
pub(crate) fn current_callback() -> Option<Callback> {
    ACTIVE.with(|a| a.borrow().last().map(|a| a.callback))
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

/// Records the driver's call into the host; called by the entry thunks.
///
/// # Safety
///
/// `nonvolatile` points at the eight saved registers (RBX, RBP, RSI, RDI,
/// R12 to R15, in that order) and `slot` at the call's return address on
/// the stack, both readable.
pub(crate) unsafe extern "win64" fn record_call(
    nonvolatile: *const [usize; 8],
    slot: *const usize,
) {
    // SAFETY: both readable (the contract).
    let (return_address, nonvolatile) = unsafe { (slot.read(), nonvolatile.read()) };
    let site = CallSite {
        return_address,
        rsp: slot as usize + 8,
        nonvolatile,
    };
    CALL.with(|c| c.set(site));
    crate::linux::cpu::stack::note_call(&site);
}

/// The thread state before [`enter`], restored by [`Frame::leave`].
#[derive(Debug)]
pub(crate) struct Frame {
    session: Option<SessionRef>,
    irql: u8,
    call: CallSite,
    spin_locks: u32,
    driver_thread: bool,
}

/// Makes this thread run driver code of `session` at `level`: `callback`.
pub(crate) fn enter<S: Any + Send + Sync>(
    session: &Arc<S>,
    level: u8,
    callback: Callback,
) -> Frame {
    let session: SessionRef = session.clone();
    let previous = SESSION.with(|s| s.replace(Some(session)));
    let frame = Frame {
        session: previous,
        irql: irql(),
        call: call_site(),
        spin_locks: spin_locks(),
        driver_thread: is_driver_thread(),
    };
    ACTIVE.with(|a| {
        a.borrow_mut().push(Activation {
            callback,
            outer: frame.call,
        })
    });
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
        ACTIVE.with(|a| a.borrow_mut().pop());
        SESSION.with(|s| *s.borrow_mut() = self.session);
        set_irql(self.irql);
        CALL.with(|c| c.set(self.call));
        SPIN_LOCKS.with(|c| c.set(self.spin_locks));
        DRIVER_THREAD.with(|c| c.set(self.driver_thread));
        left
    }
}

/// Assembly that pushes the eight registers a Windows x64 callee keeps
/// (RBX, RBP, RSI, RDI, R12 to R15, RBX at the lowest address) and points
/// RCX at them: the first argument of [`record_call`].
macro_rules! save_nonvolatile {
    () => {
        "push r15\npush r14\npush r13\npush r12\npush rdi\npush rsi\npush rbp\npush rbx\nmov rcx, rsp"
    };
}
pub(crate) use save_nonvolatile;

/// Defines `$thunk`, an entry point for the driver that records the call
/// (see [`call_site`]) and then runs `$target` with the arguments as the
/// driver passed them. The four register arguments are first spilled to
/// the caller's home space (so a variadic target finds every argument in
/// one array of slots above the return address, see
/// [`call_site`]`().rsp`).
///
/// On a driver stack ([`crate::linux::cpu::stack`]) the thunk moves to the
/// host's stack, copies up to four stack arguments there, calls `$target`
/// and moves back for the return: the host's frames never touch the
/// driver's stack. Elsewhere (host code calling the thunk) it jumps to
/// `$target` with the registers and stack exactly as the caller set them
/// up, the thunk's own frame gone by the jump.
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
                // The home space is the callee's: keep the arguments there.
                "mov [rsp + 8], rcx",
                "mov [rsp + 16], rdx",
                "mov [rsp + 24], r8",
                "mov [rsp + 32], r9",
                "mov rax, rsp",
                "sub rax, [rip + {lo}]",
                "cmp rax, [rip + {len}]",
                "jb 2f",
                // Not on a driver stack: record, then jump to the target.
                $crate::linux::cpu::thread::save_nonvolatile!(),
                // 8 pushes: the return address is 64 bytes up.
                "lea rdx, [rsp + 64]",
                // The return address and 8 pushes leave RSP 8 mod 16; 40
                // more bytes give the callee its home space and a 16-byte
                // aligned stack.
                "sub rsp, 40",
                "call {record}",
                // `record_call` preserves the nonvolatile registers: drop
                // their copies and the home space.
                "add rsp, 104",
                "mov rcx, [rsp + 8]",
                "mov rdx, [rsp + 16]",
                "mov r8, [rsp + 24]",
                "mov r9, [rsp + 32]",
                "jmp {target}",
                "2:",
                // On a driver stack: R10 = the driver's RSP, RAX = the
                // slot's control page (host RSP at 0, driver top at 8).
                "mov r10, rsp",
                "mov rax, rsp",
                "and rax, {mask}",
                "mov r11, [rax + 8]",
                "mov [rax + 8], r10",
                "mov rsp, [rax]",
                "and rsp, -16",
                "push r11",
                "push r10",
                $crate::linux::cpu::thread::save_nonvolatile!(),
                "mov rdx, r10",
                "sub rsp, 32",
                "call {record}",
                "add rsp, 96",
                "mov r10, [rsp]",
                // Home space and four stack arguments (16-byte aligned).
                "sub rsp, 64",
                "mov rax, [r10 + 40]",
                "mov [rsp + 32], rax",
                "mov rax, [r10 + 48]",
                "mov [rsp + 40], rax",
                "mov rax, [r10 + 56]",
                "mov [rsp + 48], rax",
                "mov rax, [r10 + 64]",
                "mov [rsp + 56], rax",
                "mov rcx, [r10 + 8]",
                "mov rdx, [r10 + 16]",
                "mov r8, [r10 + 24]",
                "mov r9, [r10 + 32]",
                "call {target}",
                "add rsp, 64",
                "pop r10",
                "pop r11",
                "mov rcx, r10",
                "and rcx, {mask}",
                "mov [rcx + 8], r11",
                "mov rsp, r10",
                "ret",
                record = sym $crate::linux::cpu::thread::record_call,
                target = sym $target,
                lo = sym $crate::linux::cpu::stack::ARENA_LO,
                len = sym $crate::linux::cpu::stack::ARENA_LEN,
                mask = const $crate::linux::cpu::stack::SLOT_MASK,
            )
        }
    };
}
pub(crate) use caller_thunk;

#[cfg(test)]
mod tests {
    use super::*;

    extern "win64" fn nothing() {}
    caller_thunk!(NothingThunk => nothing);

    #[test]
    fn the_thunk_records_the_call_site_and_keeps_the_registers() {
        let (return_address, rsp_after, rbx_after): (usize, usize, usize);
        // SAFETY: calls the thunk as driver code would (16-byte aligned
        // stack, home space) with RBX set to a known value and restores RSP
        // and RBX; the thunk preserves every nonvolatile register, and the
        // volatile ones it may change are declared clobbered.
        unsafe {
            core::arch::asm!(
                "push rbx",
                "mov rbx, 0x1234",
                "mov r12, rsp",
                "and rsp, -16",
                "sub rsp, 32",
                "call {thunk}",
                "2:",
                // Fixed registers for the outputs: a `reg` operand may be
                // given RBX itself, which the next lines overwrite.
                "lea r14, [rip + 2b]",
                "mov r15, rsp",
                "mov rsp, r12",
                "mov r13, rbx",
                "pop rbx",
                thunk = sym NothingThunk,
                out("r14") return_address,
                out("r15") rsp_after,
                out("r13") rbx_after,
                out("rax") _, out("rcx") _, out("rdx") _, out("r8") _, out("r9") _,
                out("r10") _, out("r11") _, out("r12") _,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                out("xmm4") _, out("xmm5") _,
            );
        }
        let site = call_site();
        assert_eq!(rbx_after, 0x1234, "RBX survives the thunk");
        assert_eq!(site.return_address, return_address);
        assert_eq!(site.rsp, rsp_after, "RSP as it is once the call returned");
        assert_eq!(site.nonvolatile[0], 0x1234, "RBX as it was at the call");
    }
}
