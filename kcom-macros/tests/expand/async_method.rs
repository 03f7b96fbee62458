// An async method (feature `async-com`) and an implementation written with
// `#[kcom::async_impl]`, one argument named `_`.
use kcom::{declare_com_interface, GUID, IUnknown, NTSTATUS, STATUS_SUCCESS};

declare_com_interface! {
    pub trait IMyDriver: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("9a7c1e52-3b1d-4f0a-8c2e-6d5b4a392817");
        async fn init(&self, flags: u32) -> NTSTATUS;
    }
}

struct MyDriver;

#[kcom::async_impl]
impl IMyDriver for MyDriver {
    async fn init(&self, _: u32) -> NTSTATUS {
        STATUS_SUCCESS
    }
}
