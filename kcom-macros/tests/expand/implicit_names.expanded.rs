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
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IPingVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(IPing), "::", ::core::stringify!(ping), "`"
    )]
    pub ping: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        value: u32,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IPingVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: IPing, const __KCOM_SLOT: usize>() -> Self {
        IPingVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            ping: __kcom_shim_IPing_ping::<__KcomT, __KCOM_SLOT>,
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
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let __kcom_status = unsafe { (__kcom_vtbl.ping)(__kcom_this, value) };
        <NTSTATUS as ::kcom::FromNtStatus>::from_ntstatus(__kcom_status)
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
        f.debug_tuple(::core::stringify!(IPingInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IPing::ping` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IPing_ping<__KcomT: IPing>(
    __kcom_this: *mut ::core::ffi::c_void,
    value: u32,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IPing_ping::<__KcomT, 0>(__kcom_this, value) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IPing_ping<
    __KcomT: IPing,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void, value: u32) -> ::kcom::NTSTATUS {
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_status = ::kcom::IntoNtStatus::into_ntstatus(__kcom_obj.ping(value));
    __kcom_guard.leave();
    __kcom_status
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
