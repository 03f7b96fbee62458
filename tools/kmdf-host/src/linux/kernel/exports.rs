//! The remaining kernel exports: pool entry points, bug checks, routine
//! lookup, the performance counter, strings and the C runtime routines
//! `ntoskrnl.exe` exports.

use std::ffi::{c_char, c_void};
use std::sync::OnceLock;
use std::time::Instant;

use super::debug::unicode_string;
use super::irql::require_max;
use super::pool::{Failure, Freed, Request};
use crate::linux::abi::irql::{APC, DISPATCH, PASSIVE};
use crate::linux::abi::{PROTECTED_POOL, UnicodeString, pool_flags, pool_type};
use crate::linux::cpu::thread::{self, caller_thunk};
use crate::linux::kernel::session::Session;
use crate::linux::kernel::stop::{stop, stop_with_details};
use crate::options::tag_text;
use crate::report::{Origin, PoolKind, Rule};

/// Driver Verifier's checks of an allocation request, then the pool.
fn allocate(
    name: &str,
    size: usize,
    tag: u32,
    kind: PoolKind,
    zeroed: bool,
    alignment: usize,
    raise: bool,
) -> *mut c_void {
    let session = Session::current();
    let irql = thread::irql();
    if kind == PoolKind::Paged && irql > APC {
        session.violation(
            Rule::PagedPoolAtDispatch,
            format!(
                "{name}: paged pool ({size} bytes, tag '{}') at {}",
                tag_text(tag),
                super::irql::describe(irql)
            ),
        );
    } else if irql > DISPATCH {
        session.violation(
            Rule::IrqlTooHigh,
            format!("{name} at {}", super::irql::describe(irql)),
        );
    }
    if tag & !PROTECTED_POOL == 0 {
        session.violation(Rule::BadPoolCall, format!("{name}: pool tag 0"));
    }
    let caller = thread::caller();
    let result = session.pool.allocate(Request {
        size,
        tag,
        kind,
        origin: Origin::Driver,
        zeroed,
        alignment,
        caller,
        what: None,
    });
    session.trace(format_args!(
        "{name}({size}, '{}', {kind}) -> {result:?} from {}",
        tag_text(tag),
        session.describe(caller)
    ));
    match result {
        Ok(p) => p.cast(),
        Err(failure) => {
            if raise {
                stop(
                    Rule::BadPoolCall,
                    format!(
                        "{name} with raise-on-failure failed ({}): Windows raises STATUS_INSUFFICIENT_RESOURCES, which kmdf-host cannot deliver",
                        if failure == Failure::Injected {
                            "low-resources simulation"
                        } else {
                            "out of memory"
                        }
                    ),
                );
            }
            std::ptr::null_mut()
        }
    }
}

/// `ExAllocatePool2(Flags, NumberOfBytes, Tag)`: flags checked, the block
/// tracked, zeroed unless `POOL_FLAG_UNINITIALIZED`.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ex_allocate_pool2(flags: u64, size: usize, tag: u32) -> *mut c_void {
    let types = flags & (pool_flags::NON_PAGED | pool_flags::NON_PAGED_EXECUTE | pool_flags::PAGED);
    let kind = match types {
        pool_flags::NON_PAGED => PoolKind::NonPagedNx,
        pool_flags::NON_PAGED_EXECUTE => PoolKind::NonPagedExecute,
        pool_flags::PAGED => PoolKind::Paged,
        _ => {
            Session::current().violation(
                Rule::BadPoolCall,
                format!("ExAllocatePool2: flags {flags:#x} name {} pool types (exactly one is required)", types.count_ones()),
            );
            return std::ptr::null_mut();
        }
    };
    if flags & !pool_flags::VALID != 0 {
        Session::current().violation(
            Rule::BadPoolCall,
            format!(
                "ExAllocatePool2: unknown flags {:#x}",
                flags & !pool_flags::VALID
            ),
        );
        return std::ptr::null_mut();
    }
    let alignment = if flags & pool_flags::CACHE_ALIGNED != 0 {
        64
    } else {
        16
    };
    allocate(
        "ExAllocatePool2",
        size,
        tag,
        kind,
        flags & pool_flags::UNINITIALIZED == 0,
        alignment,
        flags & pool_flags::RAISE_ON_FAILURE != 0,
    )
}
caller_thunk!(ExAllocatePool2 => ex_allocate_pool2);

/// `ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag)`: never zeroed.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ex_allocate_pool_with_tag(
    kind: u32,
    size: usize,
    tag: u32,
) -> *mut c_void {
    let raise = kind & pool_type::RAISE_IF_ALLOCATION_FAILURE != 0;
    let base = kind & !pool_type::RAISE_IF_ALLOCATION_FAILURE;
    let (kind, alignment) = match base {
        pool_type::NON_PAGED => (PoolKind::NonPagedExecute, 16),
        pool_type::NON_PAGED_CACHE_ALIGNED => (PoolKind::NonPagedExecute, 64),
        pool_type::PAGED => (PoolKind::Paged, 16),
        pool_type::PAGED_CACHE_ALIGNED => (PoolKind::Paged, 64),
        pool_type::NON_PAGED_NX => (PoolKind::NonPagedNx, 16),
        pool_type::NON_PAGED_NX_CACHE_ALIGNED => (PoolKind::NonPagedNx, 64),
        other => {
            Session::current().violation(
                Rule::BadPoolCall,
                format!(
                    "ExAllocatePoolWithTag: pool type {other}{}",
                    if other == pool_type::NON_PAGED_MUST_SUCCEED {
                        " (NonPagedPoolMustSucceed is not for drivers)"
                    } else {
                        " is not valid"
                    }
                ),
            );
            return std::ptr::null_mut();
        }
    };
    allocate(
        "ExAllocatePoolWithTag",
        size,
        tag,
        kind,
        false,
        alignment,
        raise,
    )
}
caller_thunk!(ExAllocatePoolWithTag => ex_allocate_pool_with_tag);

/// `ExAllocatePool`: tag `None`.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ex_allocate_pool(kind: u32, size: usize) -> *mut c_void {
    // ExAllocatePool tags its blocks 'None'.
    // SAFETY: `ex_allocate_pool_with_tag` has no contract beyond this
    // function's.
    unsafe { ex_allocate_pool_with_tag(kind, size, u32::from_le_bytes(*b"None")) }
}
caller_thunk!(ExAllocatePool => ex_allocate_pool);

fn free(name: &str, p: *mut c_void, tag: Option<u32>) {
    let session = Session::current();
    if p.is_null() {
        session.violation(Rule::BadFree, format!("{name}(NULL)"));
        return;
    }
    let irql = thread::irql();
    if let Some(block) = session.pool.block(p as usize) {
        if block.kind == PoolKind::Paged && irql > APC {
            session.violation(
                Rule::PagedPoolAtDispatch,
                format!(
                    "{name}: paged block {p:p} freed at {}",
                    super::irql::describe(irql)
                ),
            );
        } else if irql > DISPATCH {
            session.violation(
                Rule::IrqlTooHigh,
                format!("{name} at {}", super::irql::describe(irql)),
            );
        }
        if block.origin != Origin::Driver {
            session.violation(
                Rule::BadFree,
                format!(
                    "{name}({p:p}): the block belongs to the {:?}, not to the driver",
                    block.origin
                ),
            );
            return;
        }
    }
    let caller = thread::caller();
    let outcome = session.pool.free(p as usize, tag, caller);
    session.trace(format_args!(
        "{name}({p:p}) -> {outcome:?} from {}",
        session.describe_caller()
    ));
    let call = match tag {
        Some(t) => format!("{name}({p:p}, '{}')", tag_text(t)),
        None => format!("{name}({p:p})"),
    };
    match outcome {
        Freed::Ok(info) => session.report_corruption(&info, Some(&call)),
        Freed::WrongTag(info) => {
            session.report_corruption(&info, Some(&call));
            session.violation(
                Rule::WrongTagFree,
                format!(
                    "{call}: the {}-byte block was allocated with tag '{}' at {} (Windows: BAD_POOL_CALLER)",
                    info.size,
                    tag_text(info.tag),
                    session.describe(info.caller)
                ),
            );
        }
        Freed::DoubleFree(info, by) => session.violation(
            Rule::BadFree,
            format!(
                "{call}: double free: the {}-byte '{}' block allocated at {} was freed at {}",
                info.size,
                tag_text(info.tag),
                session.describe(info.caller),
                session.image.describe_return(by)
            ),
        ),
        Freed::NotAllocated => session.violation(
            Rule::BadFree,
            format!(
                "{call}: {} is not an address a pool allocation returned",
                session.describe(p as usize)
            ),
        ),
    }
}

/// `ExFreePoolWithTag`: the block must be allocated, with this tag.
///
/// # Safety
///
/// `p` is NULL or any address: the pool looks it up before touching it
/// (an unknown address is a reported violation, not a dereference).
unsafe extern "win64" fn ex_free_pool_with_tag(p: *mut c_void, tag: u32) {
    free("ExFreePoolWithTag", p, Some(tag));
}
caller_thunk!(ExFreePoolWithTag => ex_free_pool_with_tag);

/// `ExFreePool`.
///
/// # Safety
///
/// As for `ExFreePoolWithTag`.
unsafe extern "win64" fn ex_free_pool(p: *mut c_void) {
    free("ExFreePool", p, None);
}
caller_thunk!(ExFreePool => ex_free_pool);

/// `RPNC`: wdk-panic's bug check code for a Rust panic; its parameters are
/// the panic location (file pointer, file length, line, column).
pub(crate) const RUST_PANIC: u32 = u32::from_be_bytes(*b"RPNC");

/// Whether the parameters of bug check `code` name a Rust panic location
/// whose file name is `(pointer, length)`.
fn panic_file(code: u32, p: [usize; 4]) -> Option<(usize, usize)> {
    (code == RUST_PANIC && p[0] != 0 && p[1] < 4096).then_some((p[0], p[1]))
}

/// The text of a bug check, with the known codes decoded; `file` is the
/// panic location's file name when [`panic_file`] found one and it could
/// be read.
fn bug_check_details(code: u32, p: [usize; 4], file: Option<&[u8]>) -> Vec<String> {
    let mut lines = vec![format!(
        "KeBugCheckEx(0x{code:08X}, {:#x}, {:#x}, {:#x}, {:#x})",
        p[0], p[1], p[2], p[3]
    )];
    if let (Some(file), true) = (file, code == RUST_PANIC) {
        lines.push(format!(
            "= Rust panic in the driver at {}:{}:{}",
            String::from_utf8_lossy(file),
            p[2],
            p[3]
        ));
    } else if code == 0x10D {
        lines.push(format!("= WDF_VIOLATION, subcode {:#x}", p[0]));
    }
    lines
}

/// `KeBugCheckEx`: stops the run with the code and parameters (a Rust
/// panic's location decoded when it lies in the image).
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ke_bug_check_ex(
    code: u32,
    p1: usize,
    p2: usize,
    p3: usize,
    p4: usize,
) -> ! {
    let session = Session::current();
    let at = session.describe(thread::caller());
    let p = [p1, p2, p3, p4];
    let file = panic_file(code, p)
        .filter(|&(address, len)| session.image.readable(address, len))
        // SAFETY: `len` bytes at `address` lie in a readable section of
        // the mapped image (checked just above), which stays mapped.
        .map(|(address, len)| unsafe { std::slice::from_raw_parts(address as *const u8, len) });
    let mut details = bug_check_details(code, p, file);
    details.extend(session.bug_check_note(code));
    stop_with_details(
        Rule::BugCheck,
        format!("the driver bug-checked the machine: code 0x{code:08X}"),
        Some(at),
        &details,
    )
}
caller_thunk!(KeBugCheckEx => ke_bug_check_ex);

/// `KeBugCheck`.
///
/// # Safety
///
/// Called on a thread the host entered into a session (driver code through
/// its import); without one the run stops.
unsafe extern "win64" fn ke_bug_check(code: u32) -> ! {
    // SAFETY: `ke_bug_check_ex` has no contract beyond this function's.
    unsafe { ke_bug_check_ex(code, 0, 0, 0, 0) }
}
caller_thunk!(KeBugCheck => ke_bug_check);

/// `MmGetSystemRoutineAddress`: the kernel's own export table
/// (`ExAllocatePool2` hidden when the options say so).
///
/// # Safety
///
/// `name` points at a valid `UNICODE_STRING`, or is NULL.
unsafe extern "win64" fn mm_get_system_routine_address(name: *const UnicodeString) -> *mut c_void {
    let session = Session::current();
    require_max("MmGetSystemRoutineAddress", PASSIVE);
    // SAFETY: the driver's UNICODE_STRING (this function's contract).
    let name = unsafe { unicode_string(name) };
    let hidden = name == "ExAllocatePool2" && session.options.hide_ex_allocate_pool2;
    let address = if hidden {
        None
    } else {
        super::ntoskrnl_export(&name, session.options.kernel_build)
            .or_else(|| super::hal_export(&name))
    };
    session.trace(format_args!(
        "MmGetSystemRoutineAddress(\"{name}\") -> {}",
        match address {
            Some(a) => format!("{a:#x}"),
            None if hidden => "NULL (hidden by the host)".into(),
            None => "NULL".into(),
        }
    ));
    address.unwrap_or(0) as *mut c_void
}
caller_thunk!(MmGetSystemRoutineAddress => mm_get_system_routine_address);

/// The host's monotonic clock origin.
fn epoch() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The performance counter runs at 10 MHz, as on current Windows.
const PERFORMANCE_FREQUENCY: i64 = 10_000_000;

/// `KeQueryPerformanceCounter`: 10 MHz ticks since the host started.
///
/// # Safety
///
/// `frequency` is NULL or points at a writable `LARGE_INTEGER`.
unsafe extern "win64" fn ke_query_performance_counter(frequency: *mut i64) -> i64 {
    if !frequency.is_null() {
        // SAFETY: non-NULL, so a writable LARGE_INTEGER (the contract).
        unsafe { frequency.write_unaligned(PERFORMANCE_FREQUENCY) };
    }
    // Starts at 1 s: a counter of 0 would look like "no counter".
    let ticks = epoch().elapsed().as_nanos() / 100 + PERFORMANCE_FREQUENCY as u128;
    ticks as i64
}
caller_thunk!(KeQueryPerformanceCounter => ke_query_performance_counter);

/// `KeStallExecutionProcessor`: sleeps (at most 50 ms).
///
/// # Safety
///
/// None beyond the import's: any argument is valid.
unsafe extern "win64" fn ke_stall_execution_processor(microseconds: u32) {
    std::thread::sleep(std::time::Duration::from_micros(u64::from(
        microseconds.min(50_000),
    )));
}
caller_thunk!(KeStallExecutionProcessor => ke_stall_execution_processor);

/// `RtlInitUnicodeString`.
///
/// # Safety
///
/// `dest` points at a writable `UNICODE_STRING`; `source` is NULL or a
/// NUL-terminated UTF-16 string.
unsafe extern "win64" fn rtl_init_unicode_string(dest: *mut UnicodeString, source: *const u16) {
    let mut units = 0usize;
    if !source.is_null() {
        // SAFETY: non-NULL, so a NUL-terminated UTF-16 string (the
        // contract): every unit up to the NUL is readable.
        while unsafe { *source.add(units) } != 0 {
            units += 1;
        }
    }
    let bytes = (units * 2).min(0xFFFC) as u16;
    // SAFETY: a writable UNICODE_STRING (the contract).
    unsafe {
        dest.write(UnicodeString {
            length: bytes,
            maximum_length: if source.is_null() { 0 } else { bytes + 2 },
            buffer: source,
        })
    };
}
caller_thunk!(RtlInitUnicodeString => rtl_init_unicode_string);

/// `memcmp`.
///
/// # Safety
///
/// `a` and `b` each point at `n` readable bytes.
unsafe extern "win64" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> i32 {
    // SAFETY: the C contract: `n` readable bytes at both.
    unsafe { libc::memcmp(a, b, n) }
}
caller_thunk!(memcmp_thunk => memcmp);

/// `memcpy`.
///
/// # Safety
///
/// `s` has `n` readable bytes, `d` `n` writable bytes; they do not overlap.
unsafe extern "win64" fn memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract: `n` bytes, not overlapping.
    unsafe { libc::memcpy(d, s, n) }
}
caller_thunk!(memcpy_thunk => memcpy);

/// `memmove`.
///
/// # Safety
///
/// `s` has `n` readable bytes, `d` `n` writable bytes.
unsafe extern "win64" fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract: `n` bytes.
    unsafe { libc::memmove(d, s, n) }
}
caller_thunk!(memmove_thunk => memmove);

/// `memset`.
///
/// # Safety
///
/// `d` has `n` writable bytes.
unsafe extern "win64" fn memset(d: *mut c_void, c: i32, n: usize) -> *mut c_void {
    // SAFETY: the C contract: `n` writable bytes.
    unsafe { libc::memset(d, c, n) }
}
caller_thunk!(memset_thunk => memset);

/// `strlen`.
///
/// # Safety
///
/// `s` points at a NUL-terminated string.
unsafe extern "win64" fn strlen(s: *const c_char) -> usize {
    // SAFETY: the C contract: a NUL-terminated string.
    unsafe { libc::strlen(s) }
}
caller_thunk!(strlen_thunk => strlen);

/// `wcslen`.
///
/// # Safety
///
/// `s` points at a NUL-terminated UTF-16 string.
unsafe extern "win64" fn wcslen(s: *const u16) -> usize {
    let mut n = 0;
    // SAFETY: the C contract: a NUL-terminated wide string.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}
caller_thunk!(wcslen_thunk => wcslen);

/// `__chkstk` as the kernel exports it: RAX is the frame size; every page
/// from the caller's stack pointer down to the new one is touched (the
/// user-mode version reads the stack limit from the TEB, which a kernel
/// image must not); every register but R10 and R11 is preserved; the caller
/// then moves RSP itself.
///
/// # Safety
///
/// Only for compiled code's stack probe: called with RAX = the frame size
/// the caller is about to allocate on a stack that has that much room.
#[unsafe(naked)]
pub(crate) unsafe extern "win64" fn chkstk() {
    core::arch::naked_asm!(
        "lea r10, [rsp + 8]",
        "mov r11, rax",
        "2:",
        "cmp r11, 0x1000",
        "jb 3f",
        "sub r10, 0x1000",
        "test [r10], r10b",
        "sub r11, 0x1000",
        "jmp 2b",
        "3:",
        "sub r10, r11",
        "test [r10], r10b",
        "ret",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_panics_are_decoded() {
        let file = "driver/src/driver.rs";
        let p = [file.as_ptr() as usize, file.len(), 366, 9];
        assert_eq!(panic_file(RUST_PANIC, p), Some((p[0], p[1])));
        assert_eq!(panic_file(0x10D, p), None);
        let lines = bug_check_details(RUST_PANIC, p, Some(file.as_bytes()));
        assert_eq!(
            lines[1],
            "= Rust panic in the driver at driver/src/driver.rs:366:9"
        );
        assert!(lines[0].starts_with("KeBugCheckEx(0x52504E43"));
    }

    #[test]
    fn chkstk_probes_a_large_frame() {
        // SAFETY: calls __chkstk the way compiled code does, for a 256 KiB
        // frame, well inside a test thread's 2 MiB stack; the frame is
        // written once and RSP restored; only the declared registers change.
        unsafe {
            core::arch::asm!(
                "mov r12, rsp",
                "and rsp, -16",
                "mov rax, 0x40000",
                "call {f}",
                "sub rsp, rax",
                "mov qword ptr [rsp], 1",
                "mov rsp, r12",
                f = sym chkstk,
                out("rax") _, out("r10") _, out("r11") _, out("r12") _,
            );
        }
    }
}
