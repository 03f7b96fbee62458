//! The kcom README's synchronous example, verbatim, run as a test, plus the
//! `IUnknown` behaviour that example must have: QueryInterface through the
//! object's own `IUnknown` entries.
//!
//! The README code has one `unsafe` block without a `// SAFETY:` comment; it
//! is kept character for character (see `kcom/examples/seed_sync.rs` for the
//! argument), the tests below document theirs.
#![allow(clippy::undocumented_unsafe_blocks, dead_code)]

// ---- README code begins ----
use core::ffi::c_void;

use kcom::{
    ComImpl, ComInterfaceInfo, ComObject, GUID, IUnknown, IUnknownVtbl, NTSTATUS, STATUS_SUCCESS,
    declare_com_interface, impl_com_object,
};

declare_com_interface! {
    pub trait IFoo: IUnknown {
        const IID: GUID = GUID {
            data1: 0x1234_5678,
            data2: 0x1234,
            data3: 0x5678,
            data4: [0x90, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67],
        };

        fn ping(&self, value: u32) -> NTSTATUS;
    }
}

struct Foo;

impl IFoo for Foo {
    fn ping(&self, _value: u32) -> NTSTATUS {
        STATUS_SUCCESS
    }
}

impl ComImpl<IFooVtbl> for Foo {
    const VTABLE: &'static IFooVtbl = &IFooVtbl {
        parent: *<Foo as ComImpl<IUnknownVtbl>>::VTABLE,
        ping: shim_IFoo_ping::<Foo>,
    };

    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void> {
        if *riid == <IFooInterface as ComInterfaceInfo>::IID {
            Some(this)
        } else {
            <Foo as ComImpl<IUnknownVtbl>>::query_interface(self, this, riid)
        }
    }
}

impl_com_object!(Foo, IFooVtbl);

fn main() {
    let raw = Foo::new_com(Foo);

    unsafe {
        let vtbl = *(raw as *mut *const IFooVtbl);
        let status = ((*vtbl).ping)(raw, 42);
        assert_eq!(status, STATUS_SUCCESS);

        ComObject::<Foo, IFooVtbl>::shim_release(raw);
    }
}
// ---- README code ends ----

use kcom::{IUnknownInterface, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE};

#[test]
fn readme_example_runs() {
    main();
}

/// The `IUnknown` part of the object's vtable.
///
/// # Safety
///
/// `raw` must be a live object made by `Foo::new_com`.
unsafe fn unknown(raw: *mut c_void) -> IUnknownVtbl {
    // SAFETY: the first word of the object points to Foo's static IFooVtbl,
    // whose first field is the IUnknown vtable.
    unsafe { (**(raw as *mut *const IFooVtbl)).parent }
}

#[test]
fn query_interface_for_ifoo_succeeds_and_adds_a_reference() {
    let raw = Foo::new_com(Foo);
    // SAFETY: `raw` is live until the final Release below; every pointer
    // passed is a valid local.
    unsafe {
        let unk = unknown(raw);
        let mut out: *mut c_void = core::ptr::null_mut();
        let iid = <IFooInterface as ComInterfaceInfo>::IID;
        assert_eq!((unk.QueryInterface)(raw, &iid, &mut out), STATUS_SUCCESS);
        assert_eq!(out, raw, "a single-interface object answers with itself");
        // QI added a reference: the count is now 2, so AddRef makes 3.
        assert_eq!((unk.AddRef)(raw), 3);
        assert_eq!((unk.Release)(raw), 2);
        assert_eq!((unk.Release)(out), 1);
        // The IFoo pointer works for calls.
        let vtbl = *(out as *mut *const IFooVtbl);
        assert_eq!(((*vtbl).ping)(out, 7), STATUS_SUCCESS);
        assert_eq!(ComObject::<Foo, IFooVtbl>::shim_release(raw), 0);
    }
}

#[test]
fn query_interface_for_iunknown_and_unknown_iids() {
    let raw = Foo::new_com(Foo);
    // SAFETY: as above.
    unsafe {
        let unk = unknown(raw);
        let mut out: *mut c_void = core::ptr::null_mut();
        let iid_unknown = <IUnknownInterface as ComInterfaceInfo>::IID;
        assert_eq!(
            (unk.QueryInterface)(raw, &iid_unknown, &mut out),
            STATUS_SUCCESS
        );
        assert_eq!(out, raw);
        assert_eq!((unk.Release)(out), 1);

        let other = kcom::guid!("deadbeef-0000-0000-0000-000000000001");
        let mut out = core::ptr::dangling_mut::<c_void>(); // must be overwritten with null
        assert_eq!(
            (unk.QueryInterface)(raw, &other, &mut out),
            STATUS_NOINTERFACE
        );
        assert!(out.is_null());

        // Null arguments are refused, not dereferenced.
        assert_eq!(
            (unk.QueryInterface)(raw, core::ptr::null(), &mut out),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!(
            (unk.QueryInterface)(raw, &iid_unknown, core::ptr::null_mut()),
            STATUS_INVALID_PARAMETER
        );
        assert_eq!((unk.Release)(raw), 0);
    }
}
