// Two interfaces of one object with the same IID: QueryInterface would
// hand out the first one's vtable for the second.
use kcom::{declare_com_interface, implement_com, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IFirst: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-000000000001");
        fn first(&self) -> NTSTATUS;
    }
}

declare_com_interface! {
    pub trait ISecond: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-000000000001");
        fn second(&self) -> NTSTATUS;
        fn more(&self) -> NTSTATUS;
    }
}

struct Obj;
impl IFirst for Obj {
    fn first(&self) -> NTSTATUS {
        0
    }
}
impl ISecond for Obj {
    fn second(&self) -> NTSTATUS {
        0
    }
    fn more(&self) -> NTSTATUS {
        0
    }
}

implement_com!(Obj: IFirst, ISecond);

fn main() {}
