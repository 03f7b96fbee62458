// A secondary interface whose vtable comes from another declaration of the
// same name: `IBarVtbl` is v2's, `IBar` and `IBarInterface` are v1's. The
// slot would hold v2's vtable behind a `ComRc<v1::IBarInterface>`.
use kcom::{declare_com_interface, implement_com, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IFoo: IUnknown {
        const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-000000000001");
        fn foo(&self) -> NTSTATUS;
    }
}

mod v1 {
    use kcom::{declare_com_interface, GUID, IUnknown};
    declare_com_interface! {
        pub trait IBar: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-000000000002");
            fn flag(&self) -> Result<u64, kcom::NTSTATUS>;
        }
    }
}

mod v2 {
    use kcom::{declare_com_interface, GUID, IUnknown};
    declare_com_interface! {
        pub trait IBar: IUnknown {
            const IID: GUID = kcom::guid!("7c3e0000-0000-4000-8000-000000000003");
            fn flag(&self) -> Result<bool, kcom::NTSTATUS>;
        }
    }
}

use v1::{IBar, IBarInterface};
use v2::IBarVtbl;

struct Obj;
impl IFoo for Obj {
    fn foo(&self) -> NTSTATUS {
        0
    }
}
impl v1::IBar for Obj {
    fn flag(&self) -> Result<u64, NTSTATUS> {
        Ok(u64::MAX)
    }
}
impl v2::IBar for Obj {
    fn flag(&self) -> Result<bool, NTSTATUS> {
        Ok(true)
    }
}

implement_com!(Obj: IFoo, IBar);

fn main() {
    let _ = core::mem::size_of::<(IBarInterface, IBarVtbl)>();
}
