//! Faults in driver code: the signal handler records the fault and sends
//! the faulting thread to [`landing`], which reports it (the access and its
//! address, the instruction's address, section and nearest symbol, the
//! special-pool block it hit, the driver's call stack unwound from the
//! image's unwind data) in ordinary thread context and stops the run, as
//! the bug check would stop the machine. A breakpoint (`int3`) stops it
//! too: without a kernel debugger it bug-checks. Faults on threads that do
//! not run driver code go to the handler that was installed before.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::linux::cpu::unwind::{self, Registers};
use crate::linux::cpu::{stack, thread};
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::stop_at_fault;
use crate::options::tag_text;
use crate::report::Rule;

/// What the handler saw: the signal, the address it names, the registers.
#[derive(Clone, Copy)]
struct Fault {
    signal: i32,
    address: usize,
    gregs: [i64; 23],
}

thread_local! {
    /// This thread's fault, for [`landing`].
    static FAULT: Cell<Fault> = const {
        Cell::new(Fault { signal: 0, address: 0, gregs: [0; 23] })
    };
}

const SIGNALS: [i32; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
];
/// The handler (`sa_sigaction`) and flags each signal had before
/// [`install`], to chain to: plain atomics, readable in a signal handler.
static PREVIOUS_HANDLER: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
static PREVIOUS_FLAGS: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
static INSTALL: Once = Once::new();

/// Installs the handlers (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` with a NULL new action only reads the
            // current one into `old`, a valid out-parameter; all-zero is a
            // valid `sigaction` value.
            let old = unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(sig, std::ptr::null(), &mut old);
                old
            };
            // Saved before our handler is installed, so it can always chain.
            PREVIOUS_HANDLER[i].store(old.sa_sigaction, Ordering::SeqCst);
            PREVIOUS_FLAGS[i].store(old.sa_flags as usize, Ordering::SeqCst);
            // SAFETY: installs `handler`, an `extern "C"` function with the
            // SA_SIGINFO signature, on the alternate stack that Rust's
            // runtime gives every thread it starts; `action` is fully
            // initialised (zeroed, then the fields set).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

/// The signal handler.
///
/// # Safety
///
/// Only the kernel calls it, as an `SA_SIGINFO` handler: `info` and
/// `ucontext` point at the signal's valid, writable `siginfo_t` and
/// `ucontext_t`.
unsafe extern "C" fn handler(signal: i32, info: *mut libc::siginfo_t, ucontext: *mut c_void) {
    if !thread::is_driver_thread() {
        // SAFETY: the kernel's arguments, passed on (the contract).
        unsafe { chain(signal, info, ucontext) };
        return;
    }
    // SAFETY: the kernel's valid siginfo and ucontext (the contract); the
    // context is this handler's to change (the thread resumes from it),
    // and nothing else refers to it while the handler runs.
    let (address, regs) = unsafe {
        (
            (*info).si_addr() as usize,
            &mut (*(ucontext as *mut libc::ucontext_t)).uc_mcontext.gregs,
        )
    };
    let mut fault = Fault {
        signal,
        address,
        gregs: *regs,
    };
    if signal == libc::SIGTRAP {
        // `int3` has run: the breakpoint is the byte before RIP.
        fault.gregs[libc::REG_RIP as usize] -= 1;
    }
    FAULT.with(|f| f.set(fault));
    // Continue in `landing` on this thread, below the interrupted frame
    // (past its red zone), as if called; on the host's stack if the fault
    // was on a driver stack (which may be the overflow itself).
    let rsp = regs[libc::REG_RSP as usize] as usize;
    let below = stack::host_stack_for(rsp).unwrap_or(rsp);
    let new_rsp = ((below - 512) & !15) - 8;
    // SAFETY: the thread's own stack, below everything in use (the
    // interrupted code's frame and its 128-byte red zone, or the host's
    // frames suspended in the call into the driver).
    unsafe { (new_rsp as *mut usize).write(0) };
    regs[libc::REG_RSP as usize] = new_rsp as i64;
    regs[libc::REG_RIP as usize] = landing as *const () as usize as i64;
}

/// Hands a signal on to the handler installed before [`install`].
///
/// # Safety
///
/// As for [`handler`]: the kernel's arguments of the signal.
unsafe fn chain(signal: i32, info: *mut libc::siginfo_t, ucontext: *mut c_void) {
    let i = SIGNALS.iter().position(|s| *s == signal).unwrap_or(0);
    let previous = PREVIOUS_HANDLER[i].load(Ordering::SeqCst);
    let flags = PREVIOUS_FLAGS[i].load(Ordering::SeqCst) as i32;
    if previous == libc::SIG_IGN {
        return;
    }
    if previous == libc::SIG_DFL {
        // SAFETY: restore the default action and return: the faulting
        // instruction runs again and the default action ends the process.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: a function pointer type; neither SIG_DFL (0) nor SIG_IGN,
        // so the handler's address, non-zero.
        let f: unsafe extern "C" fn(i32, *mut libc::siginfo_t, *mut c_void) =
            unsafe { crate::linux::abi::fn_ptr(previous) };
        // SAFETY: an SA_SIGINFO handler takes exactly these arguments, which
        // the kernel gave this handler.
        unsafe { f(signal, info, ucontext) };
    } else {
        // SAFETY: as above, a plain handler.
        let f: unsafe extern "C" fn(i32) = unsafe { crate::linux::abi::fn_ptr(previous) };
        // SAFETY: a plain handler takes the signal number.
        unsafe { f(signal) };
    }
}

/// Reports the fault recorded for this thread and stops the run.
extern "C" fn landing() -> ! {
    let fault = FAULT.with(Cell::get);
    let (signal, address) = (fault.signal, fault.address);
    let g = |r: i32| fault.gregs[r as usize] as usize;
    let (rip, rcx) = (g(libc::REG_RIP), g(libc::REG_RCX));
    let session = Session::current();
    let image = &session.image;
    let mut details = Vec::new();
    let in_image = image.contains(rip);
    if !in_image {
        details.push(format!(
            "in kmdf-host's code for a routine the driver called from {} (a bad pointer passed to it)",
            session.describe_caller()
        ));
    }
    // The instruction, when it says more than the signal.
    let code: [u8; 4] = if image.readable(rip, 4) {
        // SAFETY: 4 bytes in a readable section of the mapped image.
        unsafe { std::ptr::read_unaligned(rip as *const [u8; 4]) }
    } else {
        [0; 4]
    };
    // Page faults (trap 14) say in the error code whether it was a write.
    let access = if g(libc::REG_TRAPNO) == 14 && g(libc::REG_ERR) & 2 != 0 {
        "writing"
    } else {
        "reading"
    };
    let (rule, message) = match (signal, code) {
        (libc::SIGTRAP, _) => (Rule::Fault, "breakpoint (int 3) with no kernel debugger attached: Windows bug-checks (KMODE_EXCEPTION_NOT_HANDLED, 0x1E)".to_string()),
        (_, [0xCD, 0x29, ..]) => (Rule::Fault, format!("__fastfail({rcx}) (int 0x29: a fatal failure the driver raised itself, e.g. an abort)")),
        (_, [0x44, 0x0F, 0x22, ..]) | (_, [0x0F, 0x22, ..]) => (Rule::Fault, "privileged instruction: mov to CR8 (an inline KeRaiseIrql/KeLowerIrql, which kmdf-host cannot model)".to_string()),
        (_, [0xFA, ..]) | (_, [0xFB, ..]) | (_, [0xF4, ..]) => (Rule::Fault, format!("privileged instruction {:#04x}", code[0])),
        (libc::SIGILL, [0x0F, 0x0B, ..]) => (Rule::Fault, "ud2: an illegal instruction the compiler placed (unreachable code or an abort)".to_string()),
        (libc::SIGILL, _) => (Rule::Fault, "illegal instruction".to_string()),
        (libc::SIGFPE, _) => (Rule::Fault, "integer division by zero or overflow".to_string()),
        (libc::SIGSEGV, _) if stack::is_guard(address) => (Rule::Fault, format!("kernel stack overflow: {access} address {address:#x}, past the {} bytes of the driver's stack (Windows bug-checks: UNEXPECTED_KERNEL_MODE_TRAP, 0x7F, double fault)", stack::STACK_SIZE)),
        (libc::SIGSEGV, _) if address == 0 && g(libc::REG_TRAPNO) == 13 => (Rule::Fault, "general protection fault (a non-canonical address, or a misaligned SSE access)".to_string()),
        _ => match session.pool.special_hit(address) {
            Some(hit) if hit.freed => (
                Rule::UseAfterFree,
                format!(
                    "{access} address {address:#x}, offset {} of a freed {}-byte special-pool block, tag '{}', allocated at {}",
                    hit.offset,
                    hit.block.size,
                    tag_text(hit.block.tag),
                    session.describe(hit.block.caller)
                ),
            ),
            Some(hit) => (
                Rule::SpecialPoolOverrun,
                format!(
                    "{access} address {address:#x}, offset {} of a {}-byte special-pool block ({} its end), tag '{}', allocated at {}",
                    hit.offset,
                    hit.block.size,
                    if hit.offset < 0 { "before" } else { "past" },
                    tag_text(hit.block.tag),
                    session.describe(hit.block.caller)
                ),
            ),
            None => (
                Rule::Fault,
                format!(
                    "access violation {access} address {address:#x}{}",
                    if address < 0x10000 {
                        " (in the never-mapped first 64 KiB: a NULL pointer, or a small integer used as one)"
                    } else {
                        ""
                    }
                ),
            ),
        },
    };
    details.push("driver call stack:".to_string());
    let start = in_image.then(|| Registers::from_signal(&fault.gregs));
    details.extend(
        unwind::driver_stack(image, start)
            .into_iter()
            .map(|line| format!("  {line}")),
    );
    stop_at_fault(rule, message, Some(session.describe(rip)), &details)
}
