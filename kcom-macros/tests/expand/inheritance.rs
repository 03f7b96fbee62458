// A derived interface, an object with two interfaces (the second gets its
// own slot), and a generic class.
use kcom::{declare_com_interface, implement_com, GUID, IUnknown, NTSTATUS};

declare_com_interface! {
    pub trait IBase: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e41");
        fn id(&self) -> Result<u64, NTSTATUS>;
    }
}

declare_com_interface! {
    pub trait IDerived: IBase + Send + Sync {
        const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e42");
        fn reset(&self, to: u64) -> Result<(), NTSTATUS>;
    }
}

declare_com_interface! {
    pub trait IOther: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("5c0d9a3e-2b1f-4c6d-8e7a-9f0b1c2d3e43");
        fn ping(&self) -> NTSTATUS;
    }
}

implement_com!(Widget: IDerived, IOther);

implement_com!(impl<T: Copy + Send + Sync + 'static> Holder<T>: IBase);
