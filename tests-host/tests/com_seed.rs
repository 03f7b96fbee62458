//! kcom's hand-written synchronous example, verbatim, run as a test, plus the
//! `IUnknown` behaviour that example must have: QueryInterface through the
//! object's own `IUnknown` entries.
//!
//! The example's code (`kcom/examples/seed/sync.rs`, included below, shared
//! with the `seed_sync` example) has one `unsafe` block without a
//! `// SAFETY:` comment; it is kept character for character (see
//! `kcom/examples/seed_sync.rs` for the argument), the tests below document
//! theirs.
#![allow(clippy::undocumented_unsafe_blocks, dead_code)]

// The example's code, from its one copy (the `seed_sync` example's).
include!("../../kcom/examples/seed/sync.rs");

use kcom::{IUnknownInterface, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE};

#[test]
fn the_hand_written_example_runs() {
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
