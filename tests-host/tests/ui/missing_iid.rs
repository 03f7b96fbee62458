use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IFoo: IUnknown {
        fn get(&self) -> NTSTATUS;
    }
}

fn main() {}
