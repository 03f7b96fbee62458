// The macros' hidden upcast helper reinterprets one interface as another:
// calling it is unsafe, so safe code cannot view an interface through an
// unrelated vtable.
use kcom::{declare_com_interface, ComRc, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IFirst: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000d1");
        fn first(&self) -> NTSTATUS;
    }
}

declare_com_interface! {
    pub trait ISecond: IUnknown {
        const IID: GUID = kcom::guid!("5a1d0000-0000-4000-8000-0000000000d2");
        fn second(&self) -> NTSTATUS;
    }
}

fn confuse(first: &ComRc<IFirstInterface>) -> NTSTATUS {
    let second: &ISecondInterface =
        kcom::com::__private::upcast::<IFirstInterface, ISecondInterface>(first);
    second.second()
}

fn main() {
    let _ = confuse;
}
