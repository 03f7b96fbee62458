use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};
use std::cell::Cell;

declare_com_interface! {
    pub trait IFoo: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("00000001-0000-0000-0000-000000000001");
        fn get(&self) -> NTSTATUS;
    }
}

struct Foo(Cell<u32>);
impl IFoo for Foo {
    fn get(&self) -> NTSTATUS {
        kcom::STATUS_SUCCESS
    }
}

fn main() {}
