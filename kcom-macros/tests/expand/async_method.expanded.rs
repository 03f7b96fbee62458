use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS, STATUS_SUCCESS};
::kcom::__kcom_require_async_com!();
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::iunknown::*;
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
pub trait IMyDriver: IUnknown + ::core::marker::Send + ::core::marker::Sync {
    fn init(
        &self,
        flags: u32,
    ) -> ::core::pin::Pin<
        ::kcom::com::__private::Box<
            dyn ::core::future::Future<Output = NTSTATUS> + ::core::marker::Send + '_,
        >,
    >;
}
///The vtable of `IMyDriver`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IMyDriverVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(IMyDriver), "::", ::core::stringify!(init), "`"
    )]
    pub init: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        flags: u32,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IMyDriverVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: IMyDriver, const __KCOM_SLOT: usize>() -> Self {
        IMyDriverVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            init: __kcom_shim_IMyDriver_init::<__KcomT, __KCOM_SLOT>,
        }
    }
}
///`IMyDriver` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<IMyDriverInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct IMyDriverInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for IMyDriverInterface {
    const IID: GUID = kcom::guid!("9a7c1e52-3b1d-4f0a-8c2e-6d5b4a392817");
    type Vtbl = IMyDriverVtbl;
    type Parent = ::kcom::IUnknownInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for IMyDriverInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <::kcom::IUnknownInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <IMyDriverInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(IMyDriver), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<IMyDriverInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< IMyDriverInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `IMyDriver` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< IMyDriverInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `IMyDriver` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for IMyDriverInterface {}
unsafe impl ::kcom::com::ThreadSafeInterface for IMyDriverInterface {}
#[allow(dead_code)]
impl IMyDriverInterface {
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn init(&self, flags: u32) -> NTSTATUS {
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let __kcom_status = unsafe { (__kcom_vtbl.init)(__kcom_this, flags) };
        <NTSTATUS as ::kcom::FromNtStatus>::from_ntstatus(__kcom_status)
    }
}
impl ::core::ops::Deref for IMyDriverInterface {
    type Target = ::kcom::IUnknownInterface;
    fn deref(&self) -> &::kcom::IUnknownInterface {
        unsafe {
            ::kcom::com::__private::upcast::<Self, ::kcom::IUnknownInterface>(self)
        }
    }
}
impl ::core::fmt::Debug for IMyDriverInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(::core::stringify!(IMyDriverInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IMyDriver::init` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IMyDriver_init<__KcomT: IMyDriver>(
    __kcom_this: *mut ::core::ffi::c_void,
    flags: u32,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IMyDriver_init::<__KcomT, 0>(__kcom_this, flags) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IMyDriver_init<
    __KcomT: IMyDriver,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void, flags: u32) -> ::kcom::NTSTATUS {
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_status = ::kcom::IntoNtStatus::into_ntstatus(
        ::kcom::async_com::__block_on_com(__kcom_obj.init(flags)),
    );
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
struct MyDriver;
impl IMyDriver for MyDriver {
    fn init(
        &self,
        __kcom_arg1: u32,
    ) -> ::core::pin::Pin<
        ::kcom::com::__private::Box<
            dyn ::core::future::Future<Output = NTSTATUS> + ::core::marker::Send + '_,
        >,
    > {
        ::kcom::async_com::box_future(async move { STATUS_SUCCESS })
    }
}
