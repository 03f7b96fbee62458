//! What safe code cannot do with the COM macros and `ComRc`, run (also
//! under Miri, both borrow models): every interface slot holds its own
//! interface's vtable, a typed query never trusts an IID alone, and the
//! generated code works with user types of any name.

use kcom::{ComClass, ComRc, GUID, IUnknown, NTSTATUS, declare_com_interface};

declare_com_interface! {
    pub trait IFoo: IUnknown {
        const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000a1");
        fn foo(&self) -> Result<u32, NTSTATUS>;
    }
}

/// Two interfaces named `IBar`, told apart by their modules.
mod v1 {
    use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};
    declare_com_interface! {
        pub trait IBar: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000a2");
            fn wide(&self) -> Result<u64, NTSTATUS>;
        }
    }
}

mod v2 {
    use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};
    declare_com_interface! {
        pub trait IBar: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000a3");
            fn narrow(&self) -> Result<bool, NTSTATUS>;
        }
    }
}

/// Both `IBar`s: one imported by name (trait, interface and vtable from the
/// same module), one by path.
mod both {
    use super::{IFoo, IFooInterface, IFooVtbl, v1, v2};
    use kcom::{NTSTATUS, implement_com};
    use v1::{IBar, IBarInterface, IBarVtbl};

    pub struct Both;
    impl IFoo for Both {
        fn foo(&self) -> Result<u32, NTSTATUS> {
            Ok(1)
        }
    }
    impl IBar for Both {
        fn wide(&self) -> Result<u64, NTSTATUS> {
            Ok(u64::MAX)
        }
    }
    impl v2::IBar for Both {
        fn narrow(&self) -> Result<bool, NTSTATUS> {
            Ok(true)
        }
    }
    implement_com!(Both: IFoo, IBar, v2::IBar);
}

#[test]
fn same_named_interfaces_from_two_modules_each_get_their_own_slot() {
    let foo = both::Both::try_create(both::Both).unwrap();
    assert_eq!(foo.foo(), Ok(1));
    let wide: ComRc<v1::IBarInterface> = foo.query_interface().unwrap();
    assert_eq!(wide.wide(), Ok(u64::MAX));
    let narrow: ComRc<v2::IBarInterface> = foo.query_interface().unwrap();
    assert_eq!(narrow.narrow(), Ok(true));
    assert!(wide.same_object(&narrow));
}

/// Two declarations with one IID, in objects that never meet: `IB` has a
/// method more than `IA`, so `IA`'s vtable typed as `IB` would be read past
/// its end.
mod a {
    use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};
    declare_com_interface! {
        pub trait IA: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000b1");
            fn one(&self) -> Result<u32, NTSTATUS>;
        }
    }
}

mod b {
    use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};
    declare_com_interface! {
        pub trait IB: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000b1");
            fn one(&self) -> Result<u32, NTSTATUS>;
            fn two(&self) -> Result<u32, NTSTATUS>;
        }
    }
}

struct OnlyA;
impl a::IA for OnlyA {
    fn one(&self) -> Result<u32, NTSTATUS> {
        Ok(1)
    }
}
kcom::implement_com!(OnlyA: a::IA);

struct OnlyB;
impl b::IB for OnlyB {
    fn one(&self) -> Result<u32, NTSTATUS> {
        Ok(10)
    }
    fn two(&self) -> Result<u32, NTSTATUS> {
        Ok(20)
    }
}
kcom::implement_com!(OnlyB: b::IB);

/// The reference count of the object behind `rc`, read through AddRef and
/// Release.
fn count_of<I: kcom::ComInterface>(rc: &ComRc<I>) -> u32 {
    let unk = rc.unknown_vtable();
    // SAFETY: `rc` holds a reference; the one added is given back at once.
    unsafe {
        (unk.AddRef)(rc.as_raw());
        (unk.Release)(rc.as_raw())
    }
}

#[test]
fn an_iid_shared_by_two_declarations_does_not_hand_out_the_wrong_vtable() {
    let ia = OnlyA::try_create(OnlyA).unwrap();
    assert_eq!(
        ia.query_interface::<b::IBInterface>().err(),
        Some(kcom::STATUS_NOINTERFACE)
    );
    let ib = OnlyB::try_create(OnlyB).unwrap();
    assert_eq!(
        ib.query_interface::<a::IAInterface>().err(),
        Some(kcom::STATUS_NOINTERFACE)
    );
    // Each still answers its own interface, and the refused queries left
    // no reference behind.
    let again = ia.query_interface::<a::IAInterface>().unwrap();
    assert_eq!(again.one(), Ok(1));
    drop(again);
    assert_eq!(count_of(&ia), 1);
    let again = ib.query_interface::<b::IBInterface>().unwrap();
    assert_eq!(again.two(), Ok(20));
    drop(again);
    assert_eq!(count_of(&ib), 1);
    assert!(ia.identity().is_ok());
}

#[test]
fn a_c_caller_still_queries_by_iid() {
    let ia = OnlyA::try_create(OnlyA).unwrap();
    let unk = kcom::ComInterface::unknown_vtable(&*ia);
    let mut out: *mut core::ffi::c_void = core::ptr::null_mut();
    let iid = <a::IAInterface as kcom::ComInterfaceInfo>::IID;
    // SAFETY: `ia` is live; the IID and `out` are valid locals; the
    // reference QueryInterface adds is released below.
    unsafe {
        assert_eq!(
            (unk.QueryInterface)(ia.as_raw(), &iid, &mut out),
            kcom::STATUS_SUCCESS
        );
        assert_eq!(out, ia.as_raw());
        (unk.Release)(out);
    }
    assert_eq!(count_of(&ia), 1);
}

/// A hand-written object whose `query_interface` answers one IID with null.
struct NullAnswer;
impl a::IA for NullAnswer {
    fn one(&self) -> Result<u32, NTSTATUS> {
        Ok(7)
    }
}
impl kcom::ComImpl<a::IAVtbl> for NullAnswer {
    const VTABLE: &'static a::IAVtbl = &a::IAVtbl {
        parent: *<NullAnswer as kcom::ComImpl<kcom::IUnknownVtbl>>::VTABLE,
        one: a::shim_IA_one::<NullAnswer>,
    };
    fn query_interface(
        &self,
        this: *mut core::ffi::c_void,
        riid: &GUID,
    ) -> Option<*mut core::ffi::c_void> {
        if *riid == <a::IAInterface as kcom::ComInterfaceInfo>::IID {
            Some(core::ptr::null_mut())
        } else {
            <NullAnswer as kcom::ComImpl<kcom::IUnknownVtbl>>::query_interface(self, this, riid)
        }
    }
}
kcom::impl_com_object!(NullAnswer, a::IAVtbl);

#[test]
fn a_null_answer_from_a_hand_written_query_is_no_interface() {
    let raw = NullAnswer::new_com(NullAnswer);
    // SAFETY: `raw` is a fresh object whose primary vtable is `IAVtbl`,
    // built from `NullAnswer`'s own shims; the `ComRc` owns its reference.
    let rc = unsafe { ComRc::<a::IAInterface>::from_raw(raw) }.unwrap();
    let unk = kcom::ComInterface::unknown_vtable(&*rc);
    let iid = <a::IAInterface as kcom::ComInterfaceInfo>::IID;
    let mut out: *mut core::ffi::c_void = core::ptr::dangling_mut();
    // SAFETY: `raw` is live; the IID and `out` are valid locals.
    let status = unsafe { (unk.QueryInterface)(raw, &iid, &mut out) };
    assert_eq!(status, kcom::STATUS_NOINTERFACE);
    assert!(out.is_null());
    // No reference was added for the refused query.
    assert_eq!(count_of(&rc), 1);
    // The typed query knows the object's own vtable type.
    let again = rc.query_interface::<a::IAInterface>().unwrap();
    assert_eq!(again.one(), Ok(7));
    drop(again);
    assert_eq!(count_of(&rc), 1);
}

/// User types and argument names that are also names inside the generated
/// code (its generic parameters, shim parameters and locals).
mod hygiene {
    use core::ffi::c_void;
    use kcom::{GUID, IUnknown, NTSTATUS, STATUS_SUCCESS, declare_com_interface, implement_com};

    /// Named like a generic type parameter.
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub struct T(pub u32);

    /// Named like a const generic parameter.
    #[allow(clippy::upper_case_acronyms)]
    #[repr(transparent)]
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub struct SLOT(pub u32);

    declare_com_interface! {
        pub trait IHygiene: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000c1");
            #[allow(clippy::too_many_arguments)]
            fn sum(
                &self,
                this: T,
                out: SLOT,
                obj: u32,
                guard: u32,
                vtbl: u32,
                status: u32,
                result: u32,
                e: u32,
                v: u32,
            ) -> NTSTATUS;
            fn echo(&self, this: *mut c_void, out: T) -> Result<SLOT, NTSTATUS>;
        }
    }

    declare_com_interface! {
        pub trait IChild: IHygiene {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-0000000000c2");
            fn slot(&self, base: SLOT, riid: T, iface: T) -> Result<T, NTSTATUS>;
        }
    }

    pub struct Impl;
    impl IHygiene for Impl {
        #[allow(clippy::too_many_arguments)]
        fn sum(
            &self,
            this: T,
            out: SLOT,
            obj: u32,
            guard: u32,
            vtbl: u32,
            status: u32,
            result: u32,
            e: u32,
            v: u32,
        ) -> NTSTATUS {
            let total = this.0 + out.0 + obj + guard + vtbl + status + result + e + v;
            if total == 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 {
                STATUS_SUCCESS
            } else {
                kcom::STATUS_INVALID_PARAMETER
            }
        }
        fn echo(&self, this: *mut c_void, out: T) -> Result<SLOT, NTSTATUS> {
            Ok(SLOT(this.addr() as u32 + out.0))
        }
    }
    impl IChild for Impl {
        fn slot(&self, base: SLOT, riid: T, iface: T) -> Result<T, NTSTATUS> {
            Ok(T(base.0 * 100 + riid.0 * 10 + iface.0))
        }
    }
    implement_com!(Impl: IChild);
}

#[test]
fn user_types_and_arguments_named_like_generated_ones_work() {
    use hygiene::{SLOT, T};
    let rc = hygiene::Impl::try_create(hygiene::Impl).unwrap();
    assert_eq!(
        rc.sum(T(1), SLOT(2), 3, 4, 5, 6, 7, 8, 9),
        kcom::STATUS_SUCCESS
    );
    assert_eq!(
        rc.echo(core::ptr::without_provenance_mut(40), T(2)),
        Ok(SLOT(42))
    );
    assert_eq!(rc.slot(SLOT(1), T(2), T(3)), Ok(T(123)));
}
