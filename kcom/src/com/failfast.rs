//! Fail-fast for broken invariants that must never be survived: a panic
//! reaching a COM shim, a reference count overflow or underflow, an object
//! resurrected from its own destructor, a null `this` (debug builds), paged
//! pool freed above `APC_LEVEL` (driver builds).
//!
//! * Driver builds (feature `driver`): `KeBugCheckEx` with
//!   [`KCOM_BUGCHECK_CODE`] and the [`FailFastReason`] as first parameter.
//! * Host builds: the process aborts (the message is printed first).

use core::fmt;

/// Bug-check code used by kcom in driver builds (`'KCOM'` in ASCII).
pub const KCOM_BUGCHECK_CODE: u32 = u32::from_be_bytes(*b"KCOM");

/// Why kcom stopped the system (first bug-check parameter in driver builds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FailFastReason {
    /// A panic tried to unwind out of a COM shim (`extern "system"`).
    PanicInShim = 1,
    /// `AddRef` pushed the reference count past `i32::MAX`.
    RefcountOverflow = 2,
    /// `Release` on an object whose count was already zero.
    RefcountUnderflow = 3,
    /// `AddRef` on an object whose count reached zero (typically from the
    /// value's own `Drop`): the object cannot be resurrected.
    Resurrection = 4,
    /// A shim was called with a null `this` (checked in debug builds).
    NullThis = 5,
    /// Paged pool freed above `APC_LEVEL` (driver builds, every build
    /// type): `ExFreePoolWithTag` forbids it, and the free could fault.
    PagedFreeAboveApcLevel = 6,
}

impl fmt::Display for FailFastReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailFastReason::PanicInShim => "a panic reached a COM shim (extern \"system\")",
            FailFastReason::RefcountOverflow => "COM reference count overflow",
            FailFastReason::RefcountUnderflow => "COM Release on an object with no references",
            FailFastReason::Resurrection => "COM object resurrected during its destruction",
            FailFastReason::NullThis => "COM method called with a null `this`",
            FailFastReason::PagedFreeAboveApcLevel => "paged pool freed above APC_LEVEL",
        })
    }
}

/// Stops at once: bug check in driver builds, process abort on the host.
#[cold]
#[inline(never)]
pub fn fail_fast(reason: FailFastReason) -> ! {
    #[cfg(feature = "driver")]
    {
        // SAFETY: KeBugCheckEx may be called at any IRQL and never returns;
        // the parameters are plain integers.
        unsafe {
            wdk_sys::ntddk::KeBugCheckEx(KCOM_BUGCHECK_CODE, reason as u64, 0, 0, 0);
        }
        #[allow(unreachable_code)]
        loop {
            core::hint::spin_loop();
        }
    }
    #[cfg(not(feature = "driver"))]
    {
        abort_with(reason)
    }
}

/// A panic inside an `extern "C"` function cannot unwind out of it: the
/// runtime prints the message and aborts the process. This is how a `no_std`
/// crate aborts on a host that has `std` linked in.
#[cfg(not(feature = "driver"))]
extern "C" fn abort_with(reason: FailFastReason) -> ! {
    panic!("kcom fail-fast: {reason}")
}
