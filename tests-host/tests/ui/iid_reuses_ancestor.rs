// An interface whose IID is its parent's (here IUnknown's, then IBase's):
// a QueryInterface for it would return the ancestor's vtable.
use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IBase: IUnknown {
        const IID: GUID = kcom::guid!("00000000-0000-0000-c000-000000000046");
        fn base(&self) -> NTSTATUS;
    }
}

declare_com_interface! {
    pub trait IOk: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000c0");
        fn ok(&self) -> NTSTATUS;
    }
}

declare_com_interface! {
    pub trait IDerived: IOk {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000c0");
        fn derived(&self) -> NTSTATUS;
    }
}

fn main() {}
