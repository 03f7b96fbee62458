//! The simulated kernel: the `ntoskrnl.exe` and `hal.dll` routines a KMDF
//! driver imports, with the IRQL model and Driver Verifier's checks, the
//! fault handler, the stop (the bug check) and the [`session::Session`]
//! holding one driver's kernel state. Imports the ABI, the loader and the
//! CPU layer.

pub(crate) mod debug;
pub(crate) mod exports;
pub(crate) mod fault;
pub(crate) mod irql;
pub(crate) mod pool;
pub(crate) mod session;
pub(crate) mod stop;
pub(crate) mod sync;

use exports as x;

/// The first Windows build whose kernel exports `ExAllocatePool2`
/// (Windows 10 2004).
pub(crate) const EX_ALLOCATE_POOL2_BUILD: u32 = 19041;

/// The address of `ntoskrnl.exe`'s export `name` on a kernel of `build`.
pub(crate) fn ntoskrnl_export(name: &str, build: u32) -> Option<usize> {
    let f: unsafe extern "win64" fn() = match name {
        "DbgPrint" => debug::dbg_print_entry,
        "DbgPrintEx" => debug::dbg_print_ex_entry,
        "ExAllocatePool2" if build >= EX_ALLOCATE_POOL2_BUILD => x::ExAllocatePool2,
        "ExAllocatePoolWithTag" => x::ExAllocatePoolWithTag,
        "ExAllocatePool" => x::ExAllocatePool,
        "ExFreePool" => x::ExFreePool,
        "ExFreePoolWithTag" => x::ExFreePoolWithTag,
        "KeBugCheckEx" => x::KeBugCheckEx,
        "KeBugCheck" => x::KeBugCheck,
        "KeGetCurrentIrql" => irql::KeGetCurrentIrql,
        "KfRaiseIrql" => irql::KfRaiseIrql,
        "KeRaiseIrqlToDpcLevel" => irql::KeRaiseIrqlToDpcLevel,
        "KeLowerIrql" => irql::KeLowerIrql,
        "KeInitializeSpinLock" => irql::KeInitializeSpinLock,
        "KeAcquireSpinLockRaiseToDpc" => irql::KeAcquireSpinLockRaiseToDpc,
        "KeReleaseSpinLock" => irql::KeReleaseSpinLock,
        "KeAcquireSpinLockAtDpcLevel" => irql::KeAcquireSpinLockAtDpcLevel,
        "KeReleaseSpinLockFromDpcLevel" => irql::KeReleaseSpinLockFromDpcLevel,
        "KeInitializeEvent" => sync::KeInitializeEvent,
        "KeSetEvent" => sync::KeSetEvent,
        "KeResetEvent" => sync::KeResetEvent,
        "KeClearEvent" => sync::KeClearEvent,
        "KeReadStateEvent" => sync::KeReadStateEvent,
        "KeWaitForSingleObject" => sync::KeWaitForSingleObject,
        "KeDelayExecutionThread" => sync::KeDelayExecutionThread,
        "KeQueryPerformanceCounter" => x::KeQueryPerformanceCounter,
        "MmGetSystemRoutineAddress" => x::MmGetSystemRoutineAddress,
        "RtlInitUnicodeString" => x::RtlInitUnicodeString,
        "memcmp" => x::memcmp_thunk,
        "memcpy" => x::memcpy_thunk,
        "memmove" => x::memmove_thunk,
        "memset" => x::memset_thunk,
        "strlen" => x::strlen_thunk,
        "wcslen" => x::wcslen_thunk,
        "__chkstk" => x::chkstk,
        _ => return None,
    };
    Some(f as usize)
}

/// The address of `hal.dll`'s export `name`.
pub(crate) fn hal_export(name: &str) -> Option<usize> {
    let f: unsafe extern "win64" fn() = match name {
        "KeQueryPerformanceCounter" => x::KeQueryPerformanceCounter,
        "KeStallExecutionProcessor" => x::KeStallExecutionProcessor,
        _ => return None,
    };
    Some(f as usize)
}
