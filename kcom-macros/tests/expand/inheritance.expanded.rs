use kcom::{declare_com_interface, implement_com, GUID, IUnknown, NTSTATUS};
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::iunknown::*;
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
pub trait IBase: IUnknown + ::core::marker::Send + ::core::marker::Sync {
    fn id(&self) -> Result<u64, NTSTATUS>;
}
///The vtable of `IBase`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IBaseVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(IBase), "::", ::core::stringify!(id),
        "`; the value is written to `out` on success"
    )]
    pub id: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        out: *mut u64,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IBaseVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: IBase, const __KCOM_SLOT: usize>() -> Self {
        IBaseVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            id: __kcom_shim_IBase_id::<__KcomT, __KCOM_SLOT>,
        }
    }
}
///`IBase` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<IBaseInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct IBaseInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for IBaseInterface {
    const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e41");
    type Vtbl = IBaseVtbl;
    type Parent = ::kcom::IUnknownInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for IBaseInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <::kcom::IUnknownInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <IBaseInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(IBase), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<IBaseInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< IBaseInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `IBase` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< IBaseInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `IBase` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for IBaseInterface {}
unsafe impl ::kcom::com::ThreadSafeInterface for IBaseInterface {}
#[allow(dead_code)]
impl IBaseInterface {
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn id(&self) -> Result<u64, NTSTATUS> {
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let mut __kcom_out: u64 = ::core::default::Default::default();
        let __kcom_status = unsafe { (__kcom_vtbl.id)(__kcom_this, &mut __kcom_out) };
        if ::kcom::nt_success(__kcom_status) {
            ::core::result::Result::Ok(__kcom_out)
        } else {
            ::core::result::Result::Err(__kcom_status)
        }
    }
}
impl ::core::ops::Deref for IBaseInterface {
    type Target = ::kcom::IUnknownInterface;
    fn deref(&self) -> &::kcom::IUnknownInterface {
        unsafe {
            ::kcom::com::__private::upcast::<Self, ::kcom::IUnknownInterface>(self)
        }
    }
}
impl ::core::fmt::Debug for IBaseInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(::core::stringify!(IBaseInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IBase::id` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot; the last (the out pointer) must be null or valid for a
/// write of the result.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IBase_id<__KcomT: IBase>(
    __kcom_this: *mut ::core::ffi::c_void,
    __kcom_out: *mut u64,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IBase_id::<__KcomT, 0>(__kcom_this, __kcom_out) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IBase_id<
    __KcomT: IBase,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void, __kcom_out: *mut u64) -> ::kcom::NTSTATUS {
    if __kcom_out.is_null() {
        return ::kcom::STATUS_INVALID_PARAMETER;
    }
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_result: Result<u64, NTSTATUS> = __kcom_obj.id();
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
        ::kcom::com::__private::assert_retval::<u64>();
    }
    #[allow(dead_code)]
    fn __kcom_parent_vtbl(
        v: <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::Vtbl,
    ) -> ::kcom::IUnknownVtbl {
        v
    }
};
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
pub trait IDerived: IBase + ::core::marker::Send + ::core::marker::Sync {
    fn reset(&self, to: u64) -> Result<(), NTSTATUS>;
}
///The vtable of `IDerived`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IDerivedVtbl {
    /// The parent interface's vtable.
    pub parent: IBaseVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(IDerived), "::", ::core::stringify!(reset), "`"
    )]
    pub reset: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
        to: u64,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IDerivedVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: IDerived, const __KCOM_SLOT: usize>() -> Self {
        IDerivedVtbl {
            parent: IBaseVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            reset: __kcom_shim_IDerived_reset::<__KcomT, __KCOM_SLOT>,
        }
    }
}
///`IDerived` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<IDerivedInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct IDerivedInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for IDerivedInterface {
    const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e42");
    type Vtbl = IDerivedVtbl;
    type Parent = IBaseInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <IBaseInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for IDerivedInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <IBaseInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <IDerivedInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(IDerived), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<IDerivedInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< IDerivedInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `IDerived` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< IDerivedInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `IDerived` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for IDerivedInterface {}
unsafe impl ::kcom::com::ThreadSafeInterface for IDerivedInterface {}
#[allow(dead_code)]
impl IDerivedInterface {
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn reset(&self, to: u64) -> Result<(), NTSTATUS> {
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let __kcom_status = unsafe { (__kcom_vtbl.reset)(__kcom_this, to) };
        <Result<(), NTSTATUS> as ::kcom::FromNtStatus>::from_ntstatus(__kcom_status)
    }
}
impl ::core::ops::Deref for IDerivedInterface {
    type Target = IBaseInterface;
    fn deref(&self) -> &IBaseInterface {
        unsafe { ::kcom::com::__private::upcast::<Self, IBaseInterface>(self) }
    }
}
impl ::core::fmt::Debug for IDerivedInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(::core::stringify!(IDerivedInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IDerived::reset` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IDerived_reset<__KcomT: IDerived>(
    __kcom_this: *mut ::core::ffi::c_void,
    to: u64,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IDerived_reset::<__KcomT, 0>(__kcom_this, to) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IDerived_reset<
    __KcomT: IDerived,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void, to: u64) -> ::kcom::NTSTATUS {
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_status = ::kcom::IntoNtStatus::into_ntstatus(__kcom_obj.reset(to));
    __kcom_guard.leave();
    __kcom_status
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_checks() {
        ::kcom::com::__private::assert_copy::<u64>();
    }
    #[allow(dead_code)]
    fn __kcom_parent_vtbl(
        v: <IBaseInterface as ::kcom::ComInterfaceInfo>::Vtbl,
    ) -> IBaseVtbl {
        v
    }
};
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::iunknown::*;
#[allow(unused_imports)]
use ::kcom::com::__private::implicit::guid::*;
pub trait IOther: IUnknown + ::core::marker::Send + ::core::marker::Sync {
    fn ping(&self) -> NTSTATUS;
}
///The vtable of `IOther`: the parent's vtable first, then one entry per method.
#[repr(C)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
#[allow(non_snake_case, dead_code)]
pub struct IOtherVtbl {
    /// The parent interface's vtable.
    pub parent: ::kcom::IUnknownVtbl,
    #[doc = ::core::concat!(
        "`", ::core::stringify!(IOther), "::", ::core::stringify!(ping), "`"
    )]
    pub ping: unsafe extern "system" fn(
        this: *mut ::core::ffi::c_void,
    ) -> ::kcom::NTSTATUS,
}
#[allow(dead_code)]
impl IOtherVtbl {
    ///Builds the vtable whose shims serve slot `__KCOM_SLOT` of objects of type `__KcomT`.
    #[doc(hidden)]
    pub const fn __for_slot<__KcomT: IOther, const __KCOM_SLOT: usize>() -> Self {
        IOtherVtbl {
            parent: ::kcom::IUnknownVtbl::__for_slot::<__KcomT, __KCOM_SLOT>(),
            ping: __kcom_shim_IOther_ping::<__KcomT, __KCOM_SLOT>,
        }
    }
}
///`IOther` as seen by callers: its interface id, and safe method calls on a live interface pointer (reached through `ComRc<IOtherInterface>`).
#[repr(transparent)]
#[allow(dead_code)]
pub struct IOtherInterface {
    raw: ::kcom::com::__private::RawInterface,
}
impl ::kcom::ComInterfaceInfo for IOtherInterface {
    const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e43");
    type Vtbl = IOtherVtbl;
    type Parent = ::kcom::IUnknownInterface;
    fn matches(iid: &::kcom::GUID) -> bool {
        *iid == <Self as ::kcom::ComInterfaceInfo>::IID
            || <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::matches(iid)
    }
}
unsafe impl ::kcom::com::__private::InterfaceChain for IOtherInterface {
    const CHAIN: &'static [::kcom::com::__private::InterfaceKey] = {
        const PARENT: &[::kcom::com::__private::InterfaceKey] = <::kcom::IUnknownInterface as ::kcom::com::__private::InterfaceChain>::CHAIN;
        const LEN: usize = PARENT.len() + 1;
        const CHAIN: [::kcom::com::__private::InterfaceKey; LEN] = ::kcom::com::__private::InterfaceKey::new(
                <IOtherInterface as ::kcom::ComInterfaceInfo>::IID,
                ::core::concat!(
                    ::core::module_path!(), "::", ::core::stringify!(IOther), " (",
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), ")"
                ),
                ::core::any::TypeId::of::<IOtherInterface>,
            )
            .prepend_to::<LEN>(PARENT);
        &CHAIN
    };
}
const _: () = ::core::assert!(
    ::kcom::com::__private::iid_is_not_reserved(< IOtherInterface as
    ::kcom::ComInterfaceInfo > ::IID),
    "the IID of `IOther` is kcom::com::object::KCOM_OBJECT_IID, which kcom reserves for its typed queries; give every interface its own IID"
);
const _: () = ::core::assert!(
    ::kcom::com::__private::own_iid_is_unique(< IOtherInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN),
    "the IID of `IOther` is also the IID of one of its ancestors (its parent, …, IUnknown): a QueryInterface for it would return an ancestor's vtable; give every interface its own IID"
);
unsafe impl ::kcom::com::ComInterface for IOtherInterface {}
unsafe impl ::kcom::com::ThreadSafeInterface for IOtherInterface {}
#[allow(dead_code)]
impl IOtherInterface {
    #[inline]
    #[allow(dead_code, clippy::not_unsafe_ptr_arg_deref)]
    pub fn ping(&self) -> NTSTATUS {
        let __kcom_vtbl = <Self as ::kcom::com::ComInterface>::vtable(self);
        let __kcom_this = <Self as ::kcom::com::ComInterface>::as_raw(self);
        let __kcom_status = unsafe { (__kcom_vtbl.ping)(__kcom_this) };
        <NTSTATUS as ::kcom::FromNtStatus>::from_ntstatus(__kcom_status)
    }
}
impl ::core::ops::Deref for IOtherInterface {
    type Target = ::kcom::IUnknownInterface;
    fn deref(&self) -> &::kcom::IUnknownInterface {
        unsafe {
            ::kcom::com::__private::upcast::<Self, ::kcom::IUnknownInterface>(self)
        }
    }
}
impl ::core::fmt::Debug for IOtherInterface {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.debug_tuple(::core::stringify!(IOtherInterface))
            .field(&<Self as ::kcom::com::ComInterface>::as_raw(self))
            .finish()
    }
}
///`extern "system"` shim of `IOther::ping` for objects of its type argument (primary interface slot).
///
/// # Safety
///
/// The first argument must be an interface pointer of a live kcom
/// object whose value has the type argument's type, in its primary
/// slot.
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn shim_IOther_ping<__KcomT: IOther>(
    __kcom_this: *mut ::core::ffi::c_void,
) -> ::kcom::NTSTATUS {
    unsafe { __kcom_shim_IOther_ping::<__KcomT, 0>(__kcom_this) }
}
#[doc(hidden)]
#[allow(non_snake_case, dead_code)]
pub unsafe extern "system" fn __kcom_shim_IOther_ping<
    __KcomT: IOther,
    const __KCOM_SLOT: usize,
>(__kcom_this: *mut ::core::ffi::c_void) -> ::kcom::NTSTATUS {
    let __kcom_guard = ::kcom::com::__private::ShimGuard::enter(__kcom_this);
    let __kcom_obj: &__KcomT = unsafe {
        ::kcom::com::__private::value_ref::<__KcomT, __KCOM_SLOT>(__kcom_this)
    };
    let __kcom_status = ::kcom::IntoNtStatus::into_ntstatus(__kcom_obj.ping());
    __kcom_guard.leave();
    __kcom_status
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_checks() {}
    #[allow(dead_code)]
    fn __kcom_parent_vtbl(
        v: <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::Vtbl,
    ) -> ::kcom::IUnknownVtbl {
        v
    }
};
unsafe impl ::kcom::com::ComClass for Widget
where
    Self: 'static,
{
    type Primary = IDerivedInterface;
    type Secondaries = [*const ::core::ffi::c_void; 1usize];
    const PRIMARY_VTABLE: &'static IDerivedVtbl = &IDerivedVtbl::__for_slot::<
        Widget,
        0,
    >();
    const SECONDARIES: Self::Secondaries = [
        ::kcom::com::__private::secondary_vtable::<
            IOtherInterface,
        >(&IOtherVtbl::__for_slot::<Widget, 1usize>()),
    ];
    unsafe fn query(
        base: *mut ::core::ffi::c_void,
        riid: &::kcom::GUID,
    ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
        if *riid == <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::IID {
            return ::core::option::Option::Some(base);
        }
        if <IDerivedInterface as ::kcom::ComInterfaceInfo>::matches(riid) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Widget>(base, 0usize)
            });
        }
        if <IOtherInterface as ::kcom::ComInterfaceInfo>::matches(riid) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Widget>(base, 1usize)
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
            <IDerivedInterface as ::kcom::com::__private::InterfaceChain>::CHAIN,
            iface,
        ) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Widget>(base, 0usize)
            });
        }
        if ::kcom::com::__private::chain_has_type(
            <IOtherInterface as ::kcom::com::__private::InterfaceChain>::CHAIN,
            iface,
        ) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Widget>(base, 1usize)
            });
        }
        ::core::option::Option::None
    }
}
const _: () = ::core::assert!(
    ! ::kcom::com::__private::chains_collide(< IDerivedInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN, < IOtherInterface as
    ::kcom::com::__private::InterfaceChain > ::CHAIN,),
    "implement_com!(Widget: …): `IDerived` and `IOther` share an IID (their own, or one of their ancestors'), but are different interfaces: QueryInterface could not tell them apart; give every interface its own IID"
);
const _: () = {
    #[allow(dead_code)]
    fn __kcom_implements()
    where
        Widget: IDerived,
        Widget: IOther,
    {}
};
unsafe impl<T: Copy + Send + Sync + 'static> ::kcom::com::ComClass for Holder<T>
where
    Self: 'static,
{
    type Primary = IBaseInterface;
    type Secondaries = [*const ::core::ffi::c_void; 0usize];
    const PRIMARY_VTABLE: &'static IBaseVtbl = &IBaseVtbl::__for_slot::<Holder<T>, 0>();
    const SECONDARIES: Self::Secondaries = [];
    unsafe fn query(
        base: *mut ::core::ffi::c_void,
        riid: &::kcom::GUID,
    ) -> ::core::option::Option<*mut ::core::ffi::c_void> {
        if *riid == <::kcom::IUnknownInterface as ::kcom::ComInterfaceInfo>::IID {
            return ::core::option::Option::Some(base);
        }
        if <IBaseInterface as ::kcom::ComInterfaceInfo>::matches(riid) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Holder<T>>(base, 0usize)
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
            <IBaseInterface as ::kcom::com::__private::InterfaceChain>::CHAIN,
            iface,
        ) {
            return ::core::option::Option::Some(unsafe {
                ::kcom::com::__private::slot_ptr::<Holder<T>>(base, 0usize)
            });
        }
        ::core::option::Option::None
    }
}
const _: () = {
    #[allow(dead_code)]
    fn __kcom_implements<T: Copy + Send + Sync + 'static>()
    where
        Holder<T>: IBase,
    {}
};
