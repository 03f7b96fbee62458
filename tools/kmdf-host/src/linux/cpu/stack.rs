//! The kernel stack driver code runs on, and how deep the driver goes on it.
//!
//! Every call the host makes into an image ([`call`]) runs on a stack the
//! host allocates for the thread, one slot of an arena reserved once per
//! process. Each slot is laid out, from its (slot-aligned) base up:
//!
//! 1. a control page: [`Control`], found from any RSP in the slot by
//!    masking, so that assembly needs no thread-local storage;
//! 2. a no-access guard page: an overflow faults there;
//! 3. the stack itself, [`STACK_SIZE`] bytes.
//!
//! Driver code calling back into the host enters an import thunk
//! ([`super::thread::caller_thunk`]), which moves to the host's own stack
//! for the host's code and back for the return, so that only the image's
//! frames (and the return addresses of its calls) are ever on the driver
//! stack. Before each entry the part of the stack below it is painted with
//! [`PAINT`]; after the return the lowest word that no longer holds it is
//! the image's deepest point ("stack painting"). Every frame counts, the
//! leaves that call nothing included. The driver's call into the host from
//! the lowest stack pointer of each entry is kept with a copy of the stack
//! above it, so that the call chain there can be unwound afterwards.

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::linux::cpu::thread::CallSite;

/// The size of one arena slot (a power of two: its base is found by
/// masking).
pub(crate) const SLOT: usize = 1 << 17;
/// `and` with this gives the slot base of an address in the arena.
pub(crate) const SLOT_MASK: i64 = -(SLOT as i64);
const PAGE: usize = 4096;
/// The usable driver stack of a thread, in bytes.
pub(crate) const STACK_SIZE: usize = SLOT - 2 * PAGE;
/// Slots in the arena: threads that run driver code at the same time.
const SLOTS: usize = 1024;
/// The byte the free part of a driver stack is painted with.
const PAINT: u8 = 0xA5;
const PAINT_WORD: usize = usize::from_ne_bytes([PAINT; 8]);
/// Room left above a nested entry, below the driver's call into the host
/// that led to it (the thunk reads that call's stack arguments there).
const SLACK: usize = 128;
/// Arguments [`call`] passes (the register four and two on the stack).
pub(crate) const MAX_ARGS: usize = 6;

/// The arena's first byte (0 until a driver stack is first needed); read by
/// the import thunks.
pub(crate) static ARENA_LO: AtomicUsize = AtomicUsize::new(0);
/// The arena's size in bytes (0 until it is reserved); read by the import
/// thunks.
pub(crate) static ARENA_LEN: AtomicUsize = AtomicUsize::new(0);
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The first bytes of a slot, shared with the trampoline and the thunks
/// (offsets 0 and 8).
#[repr(C)]
pub(crate) struct Control {
    /// The host's stack pointer while the driver runs (the thunks switch
    /// to it for the host's code).
    host_rsp: usize,
    /// The lowest driver stack in use by an entry in progress: the slot's
    /// top, or the driver's stack pointer at its call into the host that
    /// is in progress (a nested entry goes below it).
    driver_top: usize,
}

/// A thread's driver stack: one arena slot, given back when the thread
/// ends.
struct Slot {
    base: usize,
}

impl Slot {
    fn low(&self) -> usize {
        self.base + 2 * PAGE
    }

    fn high(&self) -> usize {
        self.base + SLOT
    }

    fn control(&self) -> *mut Control {
        self.base as *mut Control
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        FREE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.base);
    }
}

/// The driver's deepest call into the host during one entry.
#[derive(Clone, Debug)]
pub(crate) struct DeepestCall {
    /// The call (its return address slot is the lowest of the entry's).
    pub site: CallSite,
    /// Bytes from the entry's stack pointer to the return address.
    pub depth: usize,
    /// The address `stack[0]` was copied from.
    pub low: usize,
    /// The stack from the return address to the entry, as it was then.
    pub stack: Vec<u8>,
}

/// How deep one entry went.
#[derive(Clone, Debug)]
pub(crate) struct Usage {
    /// Bytes from the stack pointer at the host's call down to the lowest
    /// byte the image wrote (its return address included).
    pub peak: usize,
    /// The deepest call into the host, if the image made one.
    pub deepest: Option<DeepestCall>,
}

/// An entry in progress on this thread.
struct Measure {
    /// RSP at the host's call instruction.
    entry: usize,
    /// The lowest address found written so far (folded in before a nested
    /// entry repaints).
    low: usize,
    deepest: Option<DeepestCall>,
}

thread_local! {
    static STACK: RefCell<Option<Slot>> = const { RefCell::new(None) };
    static MEASURES: RefCell<Vec<Measure>> = const { RefCell::new(Vec::new()) };
}

/// Reserves the arena (once per process); its bounds, or `None` if the
/// reservation failed.
fn arena() -> Option<(usize, usize)> {
    static RESERVE: std::sync::Once = std::sync::Once::new();
    RESERVE.call_once(|| {
        let len = SLOTS * SLOT;
        // SAFETY: a fresh anonymous reservation with no access; the kernel
        // picks the address. Nothing else refers to it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len + SLOT,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return;
        }
        let lo = (p as usize + SLOT - 1) & !(SLOT - 1);
        ARENA_LEN.store(len, Ordering::SeqCst);
        ARENA_LO.store(lo, Ordering::SeqCst);
    });
    let len = ARENA_LEN.load(Ordering::SeqCst);
    (len != 0).then(|| (ARENA_LO.load(Ordering::SeqCst), len))
}

/// The slot base of `address`, if it lies in the arena.
fn slot_of(address: usize) -> Option<usize> {
    let lo = ARENA_LO.load(Ordering::Relaxed);
    let len = ARENA_LEN.load(Ordering::Relaxed);
    (len != 0 && address.wrapping_sub(lo) < len).then_some(address & !(SLOT - 1))
}

/// A new slot: control page and stack writable, the guard page not.
fn new_slot() -> Option<Slot> {
    let (lo, len) = arena()?;
    let base = match FREE.lock().unwrap_or_else(|e| e.into_inner()).pop() {
        Some(base) => base,
        None => {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            if n >= len / SLOT {
                return None;
            }
            lo + n * SLOT
        }
    };
    // SAFETY: the slot lies in the arena this module reserved, and no other
    // thread uses it (taken from the free list or never handed out).
    let ok = unsafe {
        libc::mprotect(base as *mut _, SLOT, libc::PROT_READ | libc::PROT_WRITE) == 0
            && libc::mprotect((base + PAGE) as *mut _, PAGE, libc::PROT_NONE) == 0
    };
    let slot = Slot { base };
    if !ok {
        return None;
    }
    // SAFETY: the control page was just made writable; this thread owns it.
    unsafe {
        slot.control().write(Control {
            host_rsp: 0,
            driver_top: slot.high(),
        })
    };
    Some(slot)
}

/// This thread's driver stack bounds `[low, high)` and control block,
/// allocated on first use.
fn this_thread() -> Option<(usize, usize, *mut Control)> {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = new_slot();
        }
        s.as_ref()
            .map(|slot| (slot.low(), slot.high(), slot.control()))
    })
}

/// `[low, high)` of this thread's driver stack if `rsp` lies in it or in
/// its guard page (an overflow moves RSP there before the write faults).
pub(crate) fn bounds_of(rsp: usize) -> Option<(usize, usize)> {
    STACK.with(|s| {
        s.borrow()
            .as_ref()
            .map(|slot| (slot.low(), slot.high()))
            .filter(|(low, high)| (*low - PAGE..*high).contains(&rsp))
    })
}

/// Whether `address` is in the guard page of a driver stack (the driver
/// overflowed its stack). Safe in a signal handler: plain atomics.
pub(crate) fn is_guard(address: usize) -> bool {
    slot_of(address).is_some_and(|base| (base + PAGE..base + 2 * PAGE).contains(&address))
}

/// The host's stack pointer to continue on when driver code at `rsp` was
/// interrupted, if `rsp` is on a driver stack in use. Safe in a signal
/// handler: plain atomics and a read of the slot's control page.
pub(crate) fn host_stack_for(rsp: usize) -> Option<usize> {
    let base = slot_of(rsp)?;
    // SAFETY: a slot that holds a stack pointer is handed out, so its
    // control page is mapped and readable.
    let host = unsafe { std::ptr::read_volatile(&raw const (*(base as *const Control)).host_rsp) };
    (host != 0).then_some(host)
}

/// The lowest address in `[low, high)` whose word no longer holds the
/// paint (`high` if every word does).
fn lowest_written(low: usize, high: usize) -> usize {
    static PAGE_OF_PAINT: [u8; PAGE] = [PAINT; PAGE];
    let mut at = low;
    while at + PAGE <= high {
        // SAFETY: a page of this thread's driver stack, mapped and not
        // written by anything else while this thread runs host code.
        let page = unsafe { std::slice::from_raw_parts(at as *const u8, PAGE) };
        if page != PAGE_OF_PAINT {
            break;
        }
        at += PAGE;
    }
    while at < high {
        // SAFETY: as above, one aligned word.
        if unsafe { (at as *const usize).read_volatile() } != PAINT_WORD {
            return at;
        }
        at += 8;
    }
    high
}

/// Records `site`, the driver's call into the host, for the entry in
/// progress: kept with a copy of the stack if it is the entry's deepest so
/// far. Called by the import thunks' recording.
pub(crate) fn note_call(site: &CallSite) {
    let slot = site.rsp.wrapping_sub(8);
    let Some((low, high)) = bounds_of(slot) else {
        return;
    };
    let _ = MEASURES.try_with(|m| {
        let Ok(mut m) = m.try_borrow_mut() else {
            return;
        };
        let Some(measure) = m.last_mut() else {
            return;
        };
        if slot < low
            || slot >= measure.entry
            || measure
                .deepest
                .as_ref()
                .is_some_and(|d| d.site.rsp <= site.rsp)
        {
            return;
        }
        let end = (measure.entry + 64).min(high);
        // SAFETY: `[slot, end)` lies in this thread's driver stack, mapped
        // and readable; the driver is suspended in this call.
        let stack = unsafe { std::slice::from_raw_parts(slot as *const u8, end - slot) }.to_vec();
        measure.deepest = Some(DeepestCall {
            site: *site,
            depth: measure.entry - slot,
            low: slot,
            stack,
        });
    });
}

/// Calls the image's `target` with `args` (at most [`MAX_ARGS`]) on this
/// thread's driver stack, as the Microsoft x64 convention calls, and
/// returns RAX and how deep the call went. Without a driver stack (the
/// arena could not be reserved or is full) the call runs on the thread's
/// stack, unmeasured.
///
/// # Safety
///
/// `target` is a function of the image taking `args.len()` integer or
/// pointer arguments (extra zero arguments are passed and ignored), and
/// the arguments satisfy its contract.
pub(crate) unsafe fn call(target: usize, args: &[usize]) -> (usize, Option<Usage>) {
    assert!(args.len() <= MAX_ARGS, "at most {MAX_ARGS} arguments");
    let mut call = EntryCall {
        target,
        args: [0; MAX_ARGS],
        top: 0,
        control: 0,
        result: 0,
    };
    call.args[..args.len()].copy_from_slice(args);
    let Some((low, _high, control)) = this_thread() else {
        // SAFETY: this function's contract.
        return (unsafe { call_here(target, call.args) }, None);
    };
    // SAFETY: this thread's control page, mapped; only this thread and the
    // code it runs touch it.
    let driver_top = unsafe { std::ptr::read_volatile(&raw const (*control).driver_top) };
    let top = (driver_top - SLACK) & !15;
    // The trampoline gives the callee its home space and stack arguments.
    let entry = top - 48;
    if entry <= low + PAGE {
        // The stack is all but used up by the entries in progress: a
        // nested entry would fault at once.
        // SAFETY: this function's contract.
        return (unsafe { call_here(target, call.args) }, None);
    }
    MEASURES.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(outer) = m.last_mut() {
            outer.low = outer.low.min(lowest_written(low, entry));
        }
        m.push(Measure {
            entry,
            low: entry,
            deepest: None,
        });
    });
    // SAFETY: `[low, entry)` is this thread's driver stack below every
    // entry in progress (the outer ones are above `driver_top`), unused.
    unsafe { std::ptr::write_bytes(low as *mut u8, PAINT, entry - low) };
    call.top = top;
    call.control = control as usize;
    // SAFETY: `call` names the image function and its arguments (this
    // function's contract), a 16-byte aligned stack top with room below,
    // and this thread's control page.
    unsafe { enter(&mut call) };
    let measure = MEASURES
        .with(|m| m.borrow_mut().pop())
        .expect("the entry's measure");
    let lowest = lowest_written(low, entry).min(measure.low);
    let usage = Usage {
        peak: entry - lowest,
        deepest: measure.deepest,
    };
    (call.result, Some(usage))
}

/// Calls `target` with `args` on the current stack, unmeasured.
///
/// # Safety
///
/// As for [`call`].
unsafe fn call_here(target: usize, args: [usize; MAX_ARGS]) -> usize {
    type Entry = unsafe extern "win64" fn(usize, usize, usize, usize, usize, usize) -> usize;
    // SAFETY: a function pointer type for the image function `target`
    // (the contract); extra arguments are the caller's to pass and the
    // callee ignores them.
    let f: Entry = unsafe { crate::linux::abi::fn_ptr(target) };
    let [a, b, c, d, e, g] = args;
    // SAFETY: the contract.
    unsafe { f(a, b, c, d, e, g) }
}

/// What [`enter`] needs, at fixed offsets.
#[repr(C)]
struct EntryCall {
    target: usize,
    args: [usize; MAX_ARGS],
    /// The driver stack pointer to start from (16-byte aligned).
    top: usize,
    /// The thread's [`Control`].
    control: usize,
    result: usize,
}

/// Calls `call.target` with `call.args` on the driver stack at `call.top`:
/// saves the host's stack pointer in the control page (for the thunks),
/// switches, calls with home space and two stack arguments, switches back
/// and stores RAX in `call.result`.
///
/// # Safety
///
/// `call` is valid for reads and writes; `top` is a 16-byte aligned
/// address of a mapped stack with room below for the callee; `control` is
/// the thread's control page; `target` is a Microsoft x64 function
/// taking the arguments given.
#[unsafe(naked)]
unsafe extern "sysv64" fn enter(call: *mut EntryCall) {
    core::arch::naked_asm!(
        "push rbx",
        "push rbp",
        // Both kept by the callee (nonvolatile in the Microsoft x64
        // convention too).
        "mov rbx, rdi",
        "mov rbp, rsp",
        "mov rax, [rbx + 64]",
        "push qword ptr [rax]",
        "mov [rax], rsp",
        "mov rsp, [rbx + 56]",
        "sub rsp, 48",
        "mov rax, [rbx + 40]",
        "mov [rsp + 32], rax",
        "mov rax, [rbx + 48]",
        "mov [rsp + 40], rax",
        "mov rcx, [rbx + 8]",
        "mov rdx, [rbx + 16]",
        "mov r8, [rbx + 24]",
        "mov r9, [rbx + 32]",
        "call qword ptr [rbx]",
        "mov [rbx + 72], rax",
        "mov rax, [rbx + 64]",
        "mov rcx, [rbp - 8]",
        "mov [rax], rcx",
        "mov rsp, rbp",
        "pop rbp",
        "pop rbx",
        "ret",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uses `n` 8-byte words of stack (a frame of that size, each word
    /// written), then returns `n`.
    #[unsafe(naked)]
    unsafe extern "win64" fn use_words(_n: usize) -> usize {
        core::arch::naked_asm!(
            "mov rax, rcx",
            "shl rax, 3",
            "mov rdx, rsp",
            "sub rdx, rax",
            "2:",
            "cmp rdx, rsp",
            "jae 3f",
            "mov qword ptr [rdx], 0",
            "add rdx, 8",
            "jmp 2b",
            "3:",
            "mov rax, rcx",
            "ret",
        )
    }

    #[test]
    fn a_call_runs_on_the_driver_stack_and_its_depth_is_measured() {
        for words in [0usize, 10, 500, 3000] {
            // SAFETY: `use_words` takes one integer and writes only below
            // its stack pointer, within the driver stack for these sizes.
            let (result, usage) = unsafe { call(use_words as *const () as usize, &[words]) };
            assert_eq!(result, words);
            let usage = usage.expect("a driver stack");
            // The return address, then the words below it.
            assert_eq!(usage.peak, 8 + 8 * words, "{words} words");
            assert!(usage.deepest.is_none());
        }
    }

    /// A host routine of six arguments: checks that it runs on the host's
    /// stack, not the driver's, and weighs its arguments.
    extern "win64" fn six(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize) -> usize {
        let rsp: usize;
        // SAFETY: reads RSP, nothing else.
        unsafe { core::arch::asm!("mov {}, rsp", out(reg) rsp, options(nomem, nostack)) };
        assert!(bounds_of(rsp).is_none(), "host code on the driver stack");
        a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f
    }
    crate::linux::cpu::thread::caller_thunk!(SixThunk => six);

    /// Driver-like code: a 56-byte frame (home space, two stack arguments,
    /// alignment), then a call of the thunk with 1..=6.
    #[unsafe(naked)]
    unsafe extern "win64" fn calls_six() -> usize {
        core::arch::naked_asm!(
            "sub rsp, 56",
            "mov qword ptr [rsp + 32], 5",
            "mov qword ptr [rsp + 40], 6",
            "mov ecx, 1",
            "mov edx, 2",
            "mov r8d, 3",
            "mov r9d, 4",
            "call {thunk}",
            "add rsp, 56",
            "ret",
            thunk = sym SixThunk,
        )
    }

    #[test]
    fn an_import_runs_on_the_host_stack_with_every_argument() {
        // SAFETY: `calls_six` takes no arguments and keeps the convention.
        let (result, usage) = unsafe { call(calls_six as *const () as usize, &[]) };
        assert_eq!(result, 1 + 4 + 9 + 16 + 25 + 36);
        let usage = usage.expect("a driver stack");
        // Its return address, its frame, the thunk's return address: the
        // host's frames are not on the driver stack.
        assert_eq!(usage.peak, 8 + 56 + 8);
        let deepest = usage.deepest.expect("the call into the host");
        assert_eq!(deepest.depth, usage.peak);
        assert_eq!(deepest.site.rsp, deepest.low + 8);
        // The copy holds the call's stack arguments as they were.
        assert_eq!(
            deepest.stack[8 + 32..8 + 48],
            [5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn the_paint_is_found_from_the_far_end() {
        let mut words = vec![PAINT_WORD; 1500];
        let low = words.as_ptr() as usize;
        let high = low + 8 * words.len();
        assert_eq!(lowest_written(low, high), high);
        words[1200] = 0;
        assert_eq!(lowest_written(low, high), low + 8 * 1200);
        words[3] = 1;
        assert_eq!(lowest_written(low, high), low + 24);
    }
}
