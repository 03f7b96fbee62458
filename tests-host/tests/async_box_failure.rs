//! When the future of an async COM method cannot be boxed, the call returns
//! `STATUS_INSUFFICIENT_RESOURCES` instead of aborting (or, in a driver,
//! bug-checking). This binary installs a global allocator that can be told
//! to fail the next allocation of one size on the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kcom::{
    ComClass, GUID, IUnknown, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, declare_com_interface,
    implement_com,
};

struct FailOnce;

thread_local! {
    /// Size of the next allocation to fail on this thread (0: none).
    static FAIL_SIZE: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`, or returns null (a valid failure).
unsafe impl GlobalAlloc for FailOnce {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let fail = FAIL_SIZE
            .try_with(|f| {
                let hit = f.get() == layout.size();
                if hit {
                    f.set(0);
                }
                hit
            })
            .unwrap_or(false);
        if fail {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract (every block came from `System`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: FailOnce = FailOnce;

declare_com_interface! {
    pub trait IAdder: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("a5c0c0de-0000-4000-8000-0000000000b1");
        async fn add(&self, x: u64) -> Result<u64, NTSTATUS>;
        async fn check(&self) -> NTSTATUS;
    }
}

struct Adder(u64, [u64; 5]);

#[kcom::async_impl]
impl IAdder for Adder {
    async fn add(&self, x: u64) -> Result<u64, NTSTATUS> {
        // Held across an await, so the future is larger than anything else
        // the call allocates (the executor's waker state is a few words):
        // the refused allocation below can only be the future's box.
        let pad = std::hint::black_box([1u8; 256]);
        core::future::ready(()).await;
        Ok(x + self.0 + self.1.iter().sum::<u64>() + u64::from(pad[0]) - 1)
    }
    async fn check(&self) -> NTSTATUS {
        let pad = std::hint::black_box([0u8; 300]);
        core::future::ready(()).await;
        if pad[0] == 0 {
            kcom::STATUS_SUCCESS
        } else {
            kcom::STATUS_UNSUCCESSFUL
        }
    }
}

implement_com!(Adder: IAdder);

#[test]
fn a_future_that_cannot_be_boxed_is_an_error_status() {
    let adder = Adder::try_create(Adder(1, [0; 5])).unwrap();
    assert_eq!(adder.add(2), Ok(3));
    // The size of the boxed future of `add` (the first allocation of the
    // call, made by the method itself).
    let size = std::mem::size_of_val(&*IAdder::add(&Adder(0, [0; 5]), 0));
    assert!(size > 256);

    FAIL_SIZE.with(|f| f.set(size));
    assert_eq!(adder.add(2), Err(STATUS_INSUFFICIENT_RESOURCES));
    assert_eq!(
        FAIL_SIZE.with(Cell::get),
        0,
        "the future's box was the one refused"
    );
    assert_eq!(adder.add(5), Ok(6), "and the next call works again");

    let size = std::mem::size_of_val(&*IAdder::check(&Adder(0, [0; 5])));
    FAIL_SIZE.with(|f| f.set(size));
    assert_eq!(adder.check(), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(adder.check(), kcom::STATUS_SUCCESS);
}
