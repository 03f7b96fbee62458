use kcom::{declare_com_interface, implement_com, ComClass, GUID, IUnknown, NTSTATUS};
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::iunknown::*;
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
/// A counter, usable from any thread.
pub trait ICounter: IUnknown + ::core::marker::Send + ::core::marker::Sync {
    /// The current value.
    fn get(&self) -> Result<u32, NTSTATUS>;
}
///The vtable of `ICounter`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct ICounterVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(ICounter), "::", ::core::stringify!(get),
        "`; the value is written to `out` on success"
    )]
    pub get: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        out: *mut u32,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl ICounterVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: ICounter, const __KCOM_SLOT: usize>() -> Self {
        ICounterVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            get: __kcom_shim_ICounter_get::<__KcomT, __KCOM_SLOT>,
        }
    }
}
///`ICounter` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<ICounterInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct ICounterInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for ICounterInterface {
    const IID: GUID = kcom::guid!("b1f1a0d2-0d5e-4c51-8f37-2f0d8e6a7c11");
    type Vtbl = ICounterVtbl;
    type Parent = ::kcom::IUnknownInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for ICounterInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <::kcom::IUnknownInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <ICounterInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(ICounter), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<ICounterInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< ICounterInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `ICounter` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< ICounterInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `ICounter` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for ICounterInterface {}
unsafe impl ::kcom::com::ThreadSafeInterface for ICounterInterface {}
#[allow(dead_code)]
impl ICounterInterface {
    /// The current value.
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn get(&self) -> Result<u32, NTSTATUS> {
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let mut __kcom_out: u32 = ::core::default::Default::default();
        let __kcom_status = unsafe { (__kcom_vtbl.get)(__kcom_this, &mut __kcom_out) };
        if ::kcom::nt_success(__kcom_status) {
            ::core::result::Result::Ok(__kcom_out)
        } else {
            ::core::result::Result::Err(__kcom_status)
        }
    }
}
impl ::core::ops::Deref for ICounterInterface {
    type Target = ::kcom::IUnknownInterface;
    fn deref(&self) -> &::kcom::IUnknownInterface {
        unsafe {
            ::kcom::com::__private::upcast::<Self, ::kcom::IUnknownInterface>(self)
        }
    }
}
impl ::core::fmt::Debug for ICounterInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(::core::stringify!(ICounterInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `ICounter::get` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot; the last (the out pointer) must be null or valid for a
/// write of the result.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_ICounter_get<__KcomT: ICounter>(
    __kcom_this: *mut ::core::ffi::c_void,
    __kcom_out: *mut u32,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_ICounter_get::<__KcomT, 0>(__kcom_this, __kcom_out) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_ICounter_get<
    __KcomT: ICounter,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void, __kcom_out: *mut u32) -> ::kcom::NTSTATUS {
    if __kcom_out.is_null() {
        return ::kcom::STATUS_INVALID_PARAMETER;
    }
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_result: Result<u32, NTSTATUS> = __kcom_obj.get();
    let __kcom_status = match __kcom_result {
        ::core::result::Result::Ok(__kcom_v) => {
            unsafe { __kcom_out.write(__kcom_v) };
            ::kcom::STATUS_SUCCESS
        }
        ::core::result::Result::Err(__kcom_e) => {
            ::kcom::IntoNtStatus::into_ntstatus(
                ::core::result::Result::<(), _>::Err(__kcom_e),
            )
        }
    };
    __kcom_guard.leave();
    __kcom_status
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_checks() {
        ::kcom::com::__private::assert_retval::<u32>();
    }
    #[allow(dead_code)]
    fn __kcom_parent_vtbl(
        v: <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::Vtbl,
    ) -> ::kcom::IUnknownVtbl {
        v
    }
};
struct Counter(u32);
impl ICounter for Counter {
    fn get(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0)
    }
}
unsafe impl ::kcom::com::ComClass for Counter
where
    Self: 'static,
{
    type Primary = ICounterInterface;
    type Secondaries = [*const ::core::ffi::c_void; 0usize];
    const PRIMARY_VTABLE: &'static ICounterVtbl = &ICounterVtbl::__for_slot::<
        Counter,
        0,
    >();
    const SECONDARIES: Self::Secondaries = [];
    unsafe fn query(
        base: *mut ::core::ffi::c_void,
        riid: &::kcom::GUID,
    ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
        if *riid == <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::IID {
            return ::core::option::Option::Some(base);
        }
        if <ICounterInterface as ::kcom::ComInterfaceInfo>::matches(riid) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Counter>(base, 0usize)
            });
        }
        ::core::option::Option::None
    }
    unsafe fn query_type(
        base: *mut ::core::ffi::c_void,
        iface: ::core::any::TypeId,
    ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
        if iface == ::core::any::TypeId::of::<::kcom::IUnknownInterface>() {
            return ::core::option::Option::Some(base);
        }
        if ::kcom::com::__private::chain_has_type(
            <ICounterInterface as ::kcom::com::__private::InterfaceChain>::CHAIN,
            iface,
        ) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Counter>(base, 0usize)
            });
        }
        ::core::option::Option::None
    }
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_implements()
    where
        Counter: ICounter,
    {}
};
