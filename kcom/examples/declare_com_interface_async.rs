//! An interface with an `async fn` method, called through its vtable from
//! synchronous code: the shim drives the future on kcom's blocking executor.
//!
//! `cargo run -p kcom --example declare_com_interface_async --features async-com`

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use kcom::{
    ComClass, GUID, IUnknown, NTSTATUS, STATUS_SUCCESS, declare_com_interface, implement_com,
};

declare_com_interface! {
    pub trait IMyDriver: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("9a7c1e52-3b1d-4f0a-8c2e-6d5b4a392817");

        async fn init(&self) -> NTSTATUS;
    }
}

/// Returns `Pending` once, after asking to be polled again.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

struct MyDriver;

impl IMyDriver for MyDriver {
    fn init(&self) -> Pin<Box<dyn Future<Output = NTSTATUS> + Send + '_>> {
        Box::pin(async move {
            YieldOnce(false).await;
            STATUS_SUCCESS
        })
    }
}

implement_com!(MyDriver: IMyDriver);

fn main() {
    let driver = MyDriver::try_create(MyDriver).expect("allocation");
    let status = driver.init();
    assert_eq!(status, STATUS_SUCCESS);
    println!("IMyDriver::init returned {status:#x}");
}
