//! Interface identity and the traits generated interfaces implement.

use core::ffi::c_void;
use core::ptr::NonNull;

use super::unknown::IUnknownVtbl;
use crate::GUID;

/// Compile-time facts about a declared interface: its IID, vtable type and
/// parent. `declare_com_interface!` implements it for `I<Name>Interface`.
pub trait ComInterfaceInfo: 'static {
    /// The interface identifier.
    const IID: GUID;
    /// The `#[repr(C)]` vtable type (parent's vtable first).
    type Vtbl: 'static;
    /// The parent interface (`IUnknownInterface` is its own parent).
    type Parent: ComInterfaceInfo;
    /// True if `iid` names this interface or one of its ancestors, i.e. a
    /// pointer to this interface may be returned for `iid`.
    fn matches(iid: &GUID) -> bool {
        *iid == Self::IID
    }
}

/// A type that *is* an interface pointer: `repr(transparent)` over a
/// non-null pointer to an object whose first field points to a vtable that
/// starts with [`Self::Vtbl`](ComInterfaceInfo::Vtbl) (and so with
/// [`IUnknownVtbl`]).
///
/// Values of such types exist only behind references handed out by
/// `ComRc<Self>` (through `Deref`), so they always wrap a live pointer.
///
/// # Safety
///
/// Implementers must be `#[repr(transparent)]` over
/// [`RawInterface`](super::__private::RawInterface) and their `Vtbl` must be
/// `#[repr(C)]` and begin with `IUnknownVtbl` (directly or through parents).
/// `declare_com_interface!` upholds this.
pub unsafe trait ComInterface: ComInterfaceInfo + Sized {
    /// The raw interface pointer.
    #[inline]
    fn as_raw(&self) -> *mut c_void {
        // SAFETY: `Self` is transparent over `RawInterface`, itself
        // transparent over `NonNull<c_void>` (the trait contract).
        unsafe { (*(self as *const Self as *const NonNull<c_void>)).as_ptr() }
    }

    /// The interface's vtable.
    #[inline]
    fn vtable(&self) -> &Self::Vtbl {
        // SAFETY: a live interface pointer points to a pointer to a vtable of
        // type `Self::Vtbl` that outlives the object (trait contract).
        unsafe { &**(self.as_raw() as *const *const Self::Vtbl) }
    }

    /// The `IUnknown` part of the vtable.
    #[inline]
    fn unknown_vtable(&self) -> &IUnknownVtbl {
        // SAFETY: every interface's vtable is `repr(C)` and starts with
        // `IUnknownVtbl` (trait contract).
        unsafe { &**(self.as_raw() as *const *const IUnknownVtbl) }
    }
}

/// Marker for interfaces declared `Send + Sync`: every implementation may be
/// called, shared and released from any thread, so `ComRc` to them is
/// `Send + Sync`.
///
/// # Safety
///
/// Only for interfaces whose Rust trait requires `Send + Sync` of every
/// implementer (`declare_com_interface!` emits it for `trait I: P + Send + Sync`).
pub unsafe trait ThreadSafeInterface: ComInterface {}
