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
#[derive(Clone, Copy, Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IMyDriverVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = concat!("`", stringify!(IMyDriver), "::", stringify!(init), "`")]
    pub init: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        flags: u32,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IMyDriverVtbl {
    ///Builds the vtable whose shims serve slot `SLOT` of objects of type `T`.
    #[doc(hidden)]
    pub const fn __for_slot<T: IMyDriver, const SLOT: usize>() -> Self {
        IMyDriverVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<T, SLOT>(),
            init: __kcom_shim_IMyDriver_init::<T, SLOT>,
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
        let vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let status = unsafe { (vtbl.init)(this, flags) };
        <NTSTATUS as ::kcom::FromNtStatus>::from_ntstatus(status)
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
        f.debug_tuple(stringify!(IMyDriverInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IMyDriver::init` for objects of type `T` (primary interface slot).
///
/// # Safety
///
/// `this` must be an interface pointer of a live kcom object whose
/// value has type `T`, in its primary slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IMyDriver_init<T: IMyDriver>(
    this: *mut ::core::ffi::c_void,
    flags: u32,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IMyDriver_init::<T, 0>(this, flags) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IMyDriver_init<
    T: IMyDriver,
    const SLOT: usize,
>(this: *mut ::core::ffi::c_void, flags: u32) -> ::kcom::NTSTATUS {
    let guard = ::kcom::com::__private::ShimGuard::enter(this);
    let obj: &T = unsafe { ::kcom::com::__private::value_ref::<T, SLOT>(this) };
    let status = ::kcom::IntoNtStatus::into_ntstatus(
        ::kcom::async_com::__block_on_com(obj.init(flags)),
    );
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
