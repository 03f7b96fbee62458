//! `IUnknown`: the root interface every COM object implements.

use core::ffi::c_void;

use super::__private::RawInterface;
use super::interface::{ComInterface, ComInterfaceInfo};
use super::object::{ComImpl, shim_add_ref, shim_query_interface, shim_release};
use crate::{GUID, NTSTATUS};

/// The root of every interface declared with `declare_com_interface!`.
///
/// It has no methods of its own in Rust: `QueryInterface`, `AddRef` and
/// `Release` are provided by the object runtime for every type, so it is
/// implemented for all types.
pub trait IUnknown {}
impl<T: ?Sized> IUnknown for T {}

/// The `IUnknown` vtable, in the kernel-COM shape (statuses are `NTSTATUS`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_snake_case)]
pub struct IUnknownVtbl {
    /// Writes a referenced pointer to the interface `riid` into `*out`
    /// (`STATUS_SUCCESS`), or null (`STATUS_NOINTERFACE`).
    pub QueryInterface: unsafe extern "system" fn(
        this: *mut c_void,
        riid: *const GUID,
        out: *mut *mut c_void,
    ) -> NTSTATUS,
    /// Adds a reference; returns the new count.
    pub AddRef: unsafe extern "system" fn(this: *mut c_void) -> u32,
    /// Drops a reference, destroying the object at zero; returns the new count.
    pub Release: unsafe extern "system" fn(this: *mut c_void) -> u32,
}

impl IUnknownVtbl {
    /// Builds the `IUnknown` part of a vtable for slot `SLOT` of objects with
    /// value type `T`.
    #[doc(hidden)]
    pub const fn __for_slot<T, const SLOT: usize>() -> Self {
        IUnknownVtbl {
            QueryInterface: shim_query_interface::<T, SLOT>,
            AddRef: shim_add_ref::<T, SLOT>,
            Release: shim_release::<T, SLOT>,
        }
    }
}

/// `IUnknown` as seen by callers (`ComRc<IUnknownInterface>`).
#[repr(transparent)]
pub struct IUnknownInterface {
    #[allow(dead_code)]
    raw: RawInterface,
}

impl ComInterfaceInfo for IUnknownInterface {
    /// `{00000000-0000-0000-C000-000000000046}`
    const IID: GUID = GUID::from_u128(0x00000000_0000_0000_c000_000000000046);
    type Vtbl = IUnknownVtbl;
    type Parent = IUnknownInterface;
}

// SAFETY: transparent over `RawInterface`; the vtable is `IUnknownVtbl`.
unsafe impl ComInterface for IUnknownInterface {}

impl core::fmt::Debug for IUnknownInterface {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("IUnknownInterface")
            .field(&self.as_raw())
            .finish()
    }
}

/// Every type answers for `IUnknown` in its primary slot: `VTABLE` is the
/// `IUnknown` part to embed as `parent` of a hand-written vtable, and
/// `query_interface` answers `IUnknown`'s IID with `this`.
impl<T> ComImpl<IUnknownVtbl> for T {
    const VTABLE: &'static IUnknownVtbl = &IUnknownVtbl::__for_slot::<T, 0>();

    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void> {
        if *riid == <IUnknownInterface as ComInterfaceInfo>::IID {
            Some(this)
        } else {
            None
        }
    }
}
