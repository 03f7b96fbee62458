use kcom::{declare_com_interface, NTSTATUS};
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::iunknown::*;
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
pub trait IPing: IUnknown {
    fn ping(&self, value: u32) -> NTSTATUS;
}
///The vtable of `IPing`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IPingVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = concat!("`", stringify!(IPing), "::", stringify!(ping), "`")]
    pub ping: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        value: u32,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IPingVtbl {
    ///Builds the vtable whose shims serve slot `SLOT` of objects of type `T`.
    #[doc(hidden)]
    pub const fn __for_slot<T: IPing, const SLOT: usize>() -> Self {
        IPingVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<T, SLOT>(),
            ping: __kcom_shim_IPing_ping::<T, SLOT>,
        }
    }
}
///`IPing` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<IPingInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct IPingInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for IPingInterface {
    const IID: GUID = GUID {
        data1: 0x0bad_cafe,
        data2: 0x0001,
        data3: 0x0002,
        data4: [1, 2, 3, 4, 5, 6, 7, 8],
    };
    type Vtbl = IPingVtbl;
    type Parent = ::kcom::IUnknownInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for IPingInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <::kcom::IUnknownInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <IPingInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(IPing), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<IPingInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< IPingInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `IPing` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< IPingInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `IPing` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for IPingInterface {}
#[allow(dead_code)]
impl IPingInterface {
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn ping(&self, value: u32) -> NTSTATUS {
        let vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let status = unsafe { (vtbl.ping)(this, value) };
        <NTSTATUS as ::kcom::FromNtStatus>::from_ntstatus(status)
    }
}
impl ::core::ops::Deref for IPingInterface {
    type Target = ::kcom::IUnknownInterface;
    fn deref(&self) -> &::kcom::IUnknownInterface {
        unsafe {
            ::kcom::com::__private::upcast::<Self, ::kcom::IUnknownInterface>(self)
        }
    }
}
impl ::core::fmt::Debug for IPingInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(stringify!(IPingInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IPing::ping` for objects of type `T` (primary interface slot).
///
/// # Safety
///
/// `this` must be an interface pointer of a live kcom object whose
/// value has type `T`, in its primary slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IPing_ping<T: IPing>(
    this: *mut ::core::ffi::c_void,
    value: u32,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IPing_ping::<T, 0>(this, value) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IPing_ping<T: IPing, const SLOT: usize>(
    this: *mut ::core::ffi::c_void,
    value: u32,
) -> ::kcom::NTSTATUS {
    let guard = ::kcom::com::__private::ShimGuard::enter(this);
    let obj: &T = unsafe { ::kcom::com::__private::value_ref::<T, SLOT>(this) };
    let status = ::kcom::IntoNtStatus::into_ntstatus(obj.ping(value));
    guard.leave();
    status
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_checks() {
        ::kcom::com::__private::assert_copy::<u32>();
    }
    #[allow(dead_code)]
    fn __kcom_parent_vtbl(
        v: <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::Vtbl,
    ) -> ::kcom::IUnknownVtbl {
        v
    }
};
