//! Faults in driver code: the signal handler records the fault and sends
//! the faulting thread to [`landing`], which reports it (address, section,
//! nearest symbol, special-pool block, the driver frames on the stack) in
//! ordinary thread context and stops the run. Breakpoints (`int3`) are
//! logged and skipped, as a debugger would. Faults on threads that do not
//! run driver code go to the handler that was installed before.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::context;
use super::stop::stop_with_details;
use crate::options::tag_text;
use crate::report::Rule;

thread_local! {
    /// `[signal, fault address, rip, rsp, rcx]` of this thread's fault.
    static FAULT: Cell<[usize; 5]> = const { Cell::new([0; 5]) };
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
    // SAFETY: the kernel's valid siginfo and ucontext (the contract); the
    // context is this handler's to change (the thread resumes from it).
    let (address, uc) = unsafe {
        (
            (*info).si_addr() as usize,
            &mut *(ucontext as *mut libc::ucontext_t),
        )
    };
    let regs = &mut uc.uc_mcontext.gregs;
    if !context::is_driver_thread() {
        // SAFETY: the kernel's arguments, passed on (the contract).
        unsafe { chain(signal, info, ucontext) };
        return;
    }
    let rip = regs[libc::REG_RIP as usize] as usize;
    let rsp = regs[libc::REG_RSP as usize] as usize;
    if signal == libc::SIGTRAP {
        // int3 has run; execution continues after it. Recorded by the
        // landing-free path: the address is kept for the next report.
        FAULT.with(|f| f.set([signal as usize, address, rip - 1, rsp, 0]));
        return;
    }
    FAULT.with(|f| {
        f.set([
            signal as usize,
            address,
            rip,
            rsp,
            regs[libc::REG_RCX as usize] as usize,
        ])
    });
    // Continue in `landing` on this thread, below the interrupted frame
    // (past its red zone), as if called.
    let new_rsp = ((rsp - 512) & !15) - 8;
    // SAFETY: the thread's own stack, below everything in use.
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
            unsafe { super::wdf::fn_ptr(previous) };
        // SAFETY: an SA_SIGINFO handler takes exactly these arguments, which
        // the kernel gave this handler.
        unsafe { f(signal, info, ucontext) };
    } else {
        // SAFETY: as above, a plain handler.
        let f: unsafe extern "C" fn(i32) = unsafe { super::wdf::fn_ptr(previous) };
        // SAFETY: a plain handler takes the signal number.
        unsafe { f(signal) };
    }
}

/// Reports the fault recorded for this thread and stops the run.
extern "C" fn landing() -> ! {
    let [signal, address, rip, rsp, rcx] = FAULT.with(Cell::get);
    let session = context::session();
    let image = &session.image;
    let mut details = Vec::new();
    let where_ = session.describe(rip);
    let in_image = image.contains(rip);
    if !in_image {
        details.push(format!(
            "in kmdf-host's code for a routine the driver called from {} (a bad pointer passed to it)",
            session.describe(context::caller())
        ));
    }
    // The instruction, when it says more than the signal.
    let code: [u8; 4] = if in_image {
        // SAFETY: `rip` lies in the mapped, executable (readable) image.
        unsafe { std::ptr::read_unaligned(rip as *const [u8; 4]) }
    } else {
        [0; 4]
    };
    let (rule, message) = match (signal as i32, code) {
        (_, [0xCD, 0x29, ..]) => (Rule::Fault, format!("__fastfail({rcx}) (int 0x29: a fatal failure the driver raised itself, e.g. an abort)")),
        (_, [0x44, 0x0F, 0x22, ..]) | (_, [0x0F, 0x22, ..]) => (Rule::Fault, "privileged instruction: mov to CR8 (an inline KeRaiseIrql/KeLowerIrql, which kmdf-host cannot model)".to_string()),
        (_, [0xFA, ..]) | (_, [0xFB, ..]) | (_, [0xF4, ..]) => (Rule::Fault, format!("privileged instruction {:#04x}", code[0])),
        (libc::SIGILL, [0x0F, 0x0B, ..]) => (Rule::Fault, "ud2: an illegal instruction the compiler placed (unreachable code or an abort)".to_string()),
        (libc::SIGILL, _) => (Rule::Fault, "illegal instruction".to_string()),
        (libc::SIGFPE, _) => (Rule::Fault, "integer division by zero or overflow".to_string()),
        _ => match session.pool.special_hit(address) {
            Some(hit) if hit.freed => (
                Rule::UseAfterFree,
                format!(
                    "access to {address:#x}, offset {} of a freed {}-byte special-pool block, tag '{}', allocated at {}",
                    hit.offset,
                    hit.block.size,
                    tag_text(hit.block.tag),
                    session.describe(hit.block.caller)
                ),
            ),
            Some(hit) => (
                Rule::SpecialPoolOverrun,
                format!(
                    "access to {address:#x}, offset {} of a {}-byte special-pool block ({} its end), tag '{}', allocated at {}",
                    hit.offset,
                    hit.block.size,
                    if hit.offset < 0 { "before" } else { "past" },
                    tag_text(hit.block.tag),
                    session.describe(hit.block.caller)
                ),
            ),
            None => (Rule::Fault, format!("access violation at address {address:#x}{}", if address < 0x10000 { " (a NULL pointer dereference)" } else { "" })),
        },
    };
    // Driver frames: return addresses into the image's code on the stack.
    let text: Vec<(usize, usize)> = image
        .sections
        .iter()
        .filter(|s| s.execute)
        .map(|s| (image.base + s.rva as usize, s.size as usize))
        .collect();
    let mut p = rsp;
    let mut frames = 0;
    while frames < 8 && p < rsp + 64 * 1024 {
        // SAFETY: the faulting thread's stack above its stack pointer,
        // which is mapped up to the thread's stack base; the scan stops
        // after 64 KiB, well inside a host thread's stack.
        let v = unsafe { (p as *const usize).read() };
        if text
            .iter()
            .any(|&(start, len)| v > start && v < start + len)
            && looks_like_return(v)
        {
            details.push(format!("driver frame: {}", session.describe(v)));
            frames += 1;
        }
        p += 8;
    }
    stop_with_details(rule, message, Some(where_), &details)
}

/// Whether the bytes before `address` end in a call instruction.
fn looks_like_return(address: usize) -> bool {
    // SAFETY: `address` lies inside the image's executable section, at
    // least 6 bytes past its start in practice; reads stay in the mapping.
    let before = unsafe { std::ptr::read_unaligned((address - 6) as *const [u8; 6]) };
    before[1] == 0xE8
        || (before[4] == 0xFF && (before[5] & 0x38) == 0x10)
        || (before[0] == 0xFF && (before[1] & 0x38) == 0x10)
        || (before[3] == 0xFF && (before[4] & 0x38) == 0x10)
}
