// The interfaces differ, but their parents share an IID.
use kcom::{declare_com_interface, implement_com, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IBaseA: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000a0");
        fn a(&self) -> NTSTATUS;
    }
}
declare_com_interface! {
    pub trait IBaseB: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000a0");
        fn b(&self) -> NTSTATUS;
    }
}
declare_com_interface! {
    pub trait IDerivedA: IBaseA {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000a1");
        fn da(&self) -> NTSTATUS;
    }
}
declare_com_interface! {
    pub trait IDerivedB: IBaseB {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000b1");
        fn db(&self) -> NTSTATUS;
    }
}

struct Obj;
impl IBaseA for Obj {
    fn a(&self) -> NTSTATUS {
        0
    }
}
impl IBaseB for Obj {
    fn b(&self) -> NTSTATUS {
        0
    }
}
impl IDerivedA for Obj {
    fn da(&self) -> NTSTATUS {
        0
    }
}
impl IDerivedB for Obj {
    fn db(&self) -> NTSTATUS {
        0
    }
}

implement_com!(Obj: IDerivedA, IDerivedB);

fn main() {}
