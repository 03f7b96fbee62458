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
