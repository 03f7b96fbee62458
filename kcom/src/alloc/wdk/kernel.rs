//! The driver backend of [`WdkAllocator`](super::WdkAllocator) (feature
//! `driver`): `ExAllocatePool2` when the running kernel exports it,
//! otherwise `ExAllocatePoolWithTag`; `ExFreePoolWithTag` to free.
//!
//! The same three functions as the host backend (`sim`): `alloc`, `free`
//! and `init_ex_allocate_pool2`.

use super::PoolType;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};
use wdk_sys::ntddk::{ExFreePoolWithTag, KeGetCurrentIrql, MmGetSystemRoutineAddress};
use wdk_sys::{APC_LEVEL, PASSIVE_LEVEL, POOL_TYPE, PVOID, SIZE_T, ULONG, UNICODE_STRING};

// wdk-build blocklists the deprecated pool APIs, so wdk-sys does not
// bind `ExAllocatePoolWithTag`; ntoskrnl still exports it.
unsafe extern "system" {
    fn ExAllocatePoolWithTag(pool_type: POOL_TYPE, number_of_bytes: SIZE_T, tag: ULONG) -> PVOID;
}

/// `ExAllocatePool2(Flags, NumberOfBytes, Tag)` (Windows 10 2004+).
type ExAllocatePool2Fn = unsafe extern "system" fn(u64, SIZE_T, ULONG) -> PVOID;

/// `0`: not resolved yet; `1`: resolved, not exported by this kernel;
/// anything else: the address of `ExAllocatePool2`.
///
/// Stored with `Release` and loaded with `Acquire`, so a thread that
/// sees an address also sees everything the resolving thread did before
/// publishing it. Two racing resolutions store the same value, so no
/// compare-exchange is needed.
static EX_ALLOCATE_POOL2: AtomicUsize = AtomicUsize::new(UNRESOLVED);
const UNRESOLVED: usize = 0;
const ABSENT: usize = 1;

/// "ExAllocatePool2" in UTF-16, for `MmGetSystemRoutineAddress`.
static NAME: [u16; 15] = utf16(b"ExAllocatePool2");

const fn utf16<const N: usize>(ascii: &[u8; N]) -> [u16; N] {
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        out[i] = ascii[i] as u16;
        i += 1;
    }
    out
}

/// Resolves `ExAllocatePool2` and caches the result. Call once at
/// PASSIVE_LEVEL, typically from `DriverEntry`, before any allocation
/// that should use it. Returns whether this kernel exports it; without
/// it [`WdkAllocator`](super::WdkAllocator) uses
/// `ExAllocatePoolWithTag` and zeroes by hand.
///
/// Above PASSIVE_LEVEL nothing is resolved and the fallback stays in
/// use (returns `false` unless an earlier call succeeded).
///
/// IRQL: PASSIVE_LEVEL.
pub fn init_ex_allocate_pool2() -> bool {
    resolve() > ABSENT
}

/// Returns the cached state, resolving it first if possible (only at
/// PASSIVE_LEVEL: `MmGetSystemRoutineAddress` requires it).
fn resolve() -> usize {
    let cached = EX_ALLOCATE_POOL2.load(Ordering::Acquire);
    if cached != UNRESOLVED {
        return cached;
    }
    if irql() != PASSIVE_LEVEL {
        return UNRESOLVED;
    }
    let mut name = UNICODE_STRING {
        Length: (NAME.len() * 2) as u16,
        MaximumLength: (NAME.len() * 2) as u16,
        // The routine only reads the string; the cast to `*mut` is what
        // the C prototype asks for.
        Buffer: NAME.as_ptr().cast_mut(),
    };
    // SAFETY: PASSIVE_LEVEL (checked above); `name` is a valid counted
    // UTF-16 string that outlives the call.
    let f: *mut c_void = unsafe { MmGetSystemRoutineAddress(&mut name) };
    let state = if f.is_null() { ABSENT } else { f as usize };
    EX_ALLOCATE_POOL2.store(state, Ordering::Release);
    state
}

fn irql() -> u32 {
    // SAFETY: `KeGetCurrentIrql` has no preconditions.
    u32::from(unsafe { KeGetCurrentIrql() })
}

/// # Safety
///
/// `size` is non-zero; the block must be freed by [`free`] with the
/// same pool and tag, at an IRQL valid for the pool.
pub(super) unsafe fn alloc(pool: PoolType, tag: u32, size: usize, zeroed: bool) -> *mut u8 {
    if pool == PoolType::Paged && irql() > APC_LEVEL {
        debug_assert!(false, "WdkAllocator: paged pool allocation above APC_LEVEL");
        return ptr::null_mut();
    }
    let state = resolve();
    if state > ABSENT {
        // SAFETY: `state` is the address `MmGetSystemRoutineAddress`
        // returned for `ExAllocatePool2`, whose prototype this is.
        let f: ExAllocatePool2Fn =
            unsafe { core::mem::transmute::<usize, ExAllocatePool2Fn>(state) };
        let flags = pool.pool_flags()
            | if zeroed {
                0
            } else {
                super::POOL_FLAG_UNINITIALIZED
            };
        // SAFETY: valid flags and a non-zero size at a valid IRQL.
        return unsafe { f(flags, size as SIZE_T, tag) }.cast();
    }
    let pool_type: POOL_TYPE = match pool {
        PoolType::NonPagedNx => wdk_sys::_POOL_TYPE::NonPagedPoolNx,
        PoolType::Paged => wdk_sys::_POOL_TYPE::PagedPool,
    };
    // SAFETY: a valid pool type and non-zero size at a valid IRQL.
    let p: *mut u8 = unsafe { ExAllocatePoolWithTag(pool_type, size as SIZE_T, tag) }.cast();
    if zeroed && !p.is_null() {
        // SAFETY: the pool returned `size` writable bytes.
        unsafe { ptr::write_bytes(p, 0, size) };
    }
    p
}

/// # Safety
///
/// `ptr` must come from [`alloc`] with this pool and tag.
pub(super) unsafe fn free(pool: PoolType, tag: u32, ptr: *mut u8) {
    if pool == PoolType::Paged && irql() > APC_LEVEL {
        // ExFreePoolWithTag requires IRQL <= APC_LEVEL for paged pool;
        // stop here, with a reason a debugger shows, in every build.
        crate::com::failfast::fail_fast(
            crate::com::failfast::FailFastReason::PagedFreeAboveApcLevel,
        );
    }
    // SAFETY: `ptr` is a live pool block allocated with `tag`.
    unsafe { ExFreePoolWithTag(ptr.cast(), tag) }
}
