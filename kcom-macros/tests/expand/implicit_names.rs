// `IUnknown` and `GUID` used without importing them
// (the expansion brings them into scope), an IID written as a struct
// literal, a method returning a bare `NTSTATUS`.
use kcom::{declare_com_interface, NTSTATUS};

declare_com_interface! {
    pub trait IPing: IUnknown {
        const IID: GUID = GUID {
            data1: 0x0bad_cafe,
            data2: 0x0001,
            data3: 0x0002,
            data4: [1, 2, 3, 4, 5, 6, 7, 8],
        };

        fn ping(&self, value: u32) -> NTSTATUS;
    }
}
