use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IFoo: IUnknown {
        const IID: GUID = kcom::guid!("00000001-0000-0000-0000-000000000001");
        fn get<T: Copy>(&self, v: T) -> NTSTATUS;
    }
}

fn main() {}
