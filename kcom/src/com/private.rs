//! Items the macros' generated code uses. Not a public API.

use core::ffi::c_void;
use core::ptr::NonNull;

pub use super::object::ShimGuard;
pub use kcom_macros::{__declare_com_interface, __implement_com};
pub use std_alloc::boxed::Box;

use super::interface::ComInterface;

/// The pointer inside every generated `I<Name>Interface`. It has no public
/// constructor, so safe code cannot forge an interface reference.
#[repr(transparent)]
#[derive(Debug)]
pub struct RawInterface(NonNull<c_void>);

/// Compile-time check that an argument type is `Copy`.
pub const fn assert_copy<T: Copy>() {}

/// Compile-time check that a `Result<T, NTSTATUS>` value type can cross the
/// ABI through an out pointer (`Copy`) and be pre-initialised by callers
/// (`Default`).
pub const fn assert_retval<T: Copy + Default>() {}

/// Views an interface as its parent (same pointer; the child's vtable starts
/// with the parent's).
#[inline(always)]
pub fn upcast<I: ComInterface, P: ComInterface>(i: &I) -> &P {
    // SAFETY: both are transparent over the same non-null pointer, and the
    // generated code calls this only with `P` = the declared parent, whose
    // vtable is the first field of `I`'s.
    unsafe { &*(i as *const I as *const P) }
}

/// The value of the object whose slot `SLOT` is `this`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live kcom object whose value is a `T`,
/// and the reference must not outlive the caller's reference count.
#[inline(always)]
pub unsafe fn value_ref<'a, T, const SLOT: usize>(this: *mut c_void) -> &'a T {
    // SAFETY: forwarded contract.
    unsafe { super::object::value_ref::<T, SLOT>(this) }
}

/// The interface pointer of slot `slot` of the object at `base`.
///
/// # Safety
///
/// `base` must be the base of a live object with value `T` and at least
/// `slot + 1` slots.
#[inline(always)]
pub unsafe fn slot_ptr<T>(base: *mut c_void, slot: usize) -> *mut c_void {
    // SAFETY: the slot lies inside the object's allocation (contract).
    unsafe { base.byte_add(super::object::slot_offset::<T>(slot)) }
}
