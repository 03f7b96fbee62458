//! Items the macros' generated code uses. Not a public API.

use core::any::TypeId;
use core::ffi::c_void;
use core::ptr::NonNull;

pub use super::object::ShimGuard;
pub use kcom_macros::{__declare_com_interface, __implement_com};
pub use std_alloc::boxed::Box;

use super::interface::{ComInterface, ComInterfaceInfo};
use super::unknown::IUnknownInterface;
use crate::GUID;

/// Names a declaration may use without importing them (see
/// `declare_com_interface!`): each module holds one, for a glob import that
/// any explicit import of the caller's overrides.
pub mod implicit {
    /// `IUnknown`.
    pub mod iunknown {
        pub use crate::IUnknown;
    }
    /// `GUID`.
    pub mod guid {
        pub use crate::GUID;
    }
}

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
///
/// # Safety
///
/// `P` must be `I` or one of its ancestors: `I::Vtbl` must begin (at offset
/// 0, `#[repr(C)]`) with `P::Vtbl`, so that every vtable an `I` pointer can
/// have is also a valid `P` vtable. The generated `Deref` of every interface
/// calls it with `P` = the declared parent, whose vtable is the first field
/// (`parent`) of the child's.
#[inline(always)]
pub unsafe fn upcast<I: ComInterface, P: ComInterface>(i: &I) -> &P {
    // SAFETY: both are transparent over the same non-null pointer
    // (`ComInterface`), so the reference is valid for `P`'s layout; the
    // pointer's vtable starts with `P::Vtbl` (the caller's contract), so the
    // calls `P` makes through it reach the entries `P` declares.
    unsafe { &*(i as *const I as *const P) }
}

/// A secondary slot's vtable, type-erased for `ComClass::SECONDARIES` once
/// the compiler has checked it is `I`'s own vtable type.
pub const fn secondary_vtable<I: ComInterfaceInfo>(vtbl: &'static I::Vtbl) -> *const c_void {
    (vtbl as *const I::Vtbl).cast()
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

/// One interface in the compile-time IID checks and the typed query: its
/// IID, a name unique to its declaration (module path, name and source
/// position), which tells two interfaces apart at compile time even when
/// their IIDs are equal, and its Rust type's `TypeId`, which tells them
/// apart at run time in any crate.
#[derive(Clone, Copy, Debug)]
pub struct InterfaceKey {
    iid: GUID,
    name: &'static str,
    type_id: fn() -> TypeId,
}

impl InterfaceKey {
    /// The key of one interface; `type_id` is `TypeId::of::<I>` of its
    /// interface type.
    pub const fn new(iid: GUID, name: &'static str, type_id: fn() -> TypeId) -> Self {
        InterfaceKey { iid, name, type_id }
    }

    /// `[self, parent[0], parent[1], …]`: an interface's chain from its
    /// parent's. `N` must be `parent.len() + 1`.
    pub const fn prepend_to<const N: usize>(self, parent: &[InterfaceKey]) -> [InterfaceKey; N] {
        assert!(N == parent.len() + 1);
        let mut out = [self; N];
        let mut i = 0;
        while i < parent.len() {
            out[i + 1] = parent[i];
            i += 1;
        }
        out
    }

    const fn same_interface(&self, other: &InterfaceKey) -> bool {
        let (a, b) = (self.name.as_bytes(), other.name.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    const fn same_iid(&self, other: &InterfaceKey) -> bool {
        self.iid.to_u128() == other.iid.to_u128()
    }
}

/// An interface and its ancestors, itself first and `IUnknown` last.
/// `declare_com_interface!` implements it; the checks below read it.
///
/// # Safety
///
/// `CHAIN` must list the interface and each of its ancestors (parent first)
/// with their true IIDs, names unique to their declarations and the
/// `TypeId`s of their interface types, each ancestor's vtable being a prefix
/// of the interface's: the generated `QueryInterface` is sound only because
/// the checks over these chains pass, and the typed query hands out a slot
/// as any interface of its chain.
pub unsafe trait InterfaceChain: ComInterfaceInfo {
    /// The chain.
    const CHAIN: &'static [InterfaceKey];
}

// SAFETY: IUnknown has no ancestors; its IID and a name no declared
// interface has (theirs carry a source position).
unsafe impl InterfaceChain for IUnknownInterface {
    const CHAIN: &'static [InterfaceKey] = &[InterfaceKey::new(
        <IUnknownInterface as ComInterfaceInfo>::IID,
        "kcom::IUnknown",
        TypeId::of::<IUnknownInterface>,
    )];
}

/// True if `iface` is the `TypeId` of an interface of `chain`: a slot whose
/// interface has this chain may be handed out as that interface.
#[inline]
pub fn chain_has_type(chain: &[InterfaceKey], iface: TypeId) -> bool {
    chain.iter().any(|k| (k.type_id)() == iface)
}

/// True unless `iid` is one kcom reserves for itself
/// ([`KCOM_OBJECT_IID`](super::object::KCOM_OBJECT_IID)): no declared
/// interface may have it.
pub const fn iid_is_not_reserved(iid: GUID) -> bool {
    iid.to_u128() != super::object::KCOM_OBJECT_IID.to_u128()
}

/// True if the first interface of `chain` has an IID none of its ancestors
/// has (`declare_com_interface!` requires it).
pub const fn own_iid_is_unique(chain: &[InterfaceKey]) -> bool {
    let mut i = 1;
    while i < chain.len() {
        if chain[0].same_iid(&chain[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// True if an interface of chain `a` and a different interface of chain `b`
/// have the same IID (shared ancestors are the same interface, not a
/// collision). `implement_com!` requires this to be false for every pair of
/// listed interfaces.
pub const fn chains_collide(a: &[InterfaceKey], b: &[InterfaceKey]) -> bool {
    let mut i = 0;
    while i < a.len() {
        let mut j = 0;
        while j < b.len() {
            if a[i].same_iid(&b[j]) && !a[i].same_interface(&b[j]) {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}
