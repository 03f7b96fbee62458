// The hand-written constructors store the allocator in the object, and the
// last Release frees the object through it, whenever and on whichever
// thread that happens: the allocator must be `'static` and `Send`.
use core::alloc::Layout;
use core::ffi::c_void;
use core::marker::PhantomData;

use kcom::alloc::{Allocator, Locked, Pool};
use kcom::{ComObject, GlobalAllocator, IUnknownVtbl, impl_com_object};

struct Foo;
impl_com_object!(Foo, IUnknownVtbl);

/// A `'static` allocator that must stay on its thread.
struct ThreadBound(PhantomData<*const ()>);
// SAFETY: forwards to `GlobalAllocator`.
unsafe impl Allocator for ThreadBound {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps `alloc`'s contract, which is forwarded.
        unsafe { GlobalAllocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller keeps `dealloc`'s contract, which is forwarded.
        unsafe { GlobalAllocator.dealloc(ptr, layout) }
    }
}

fn borrowed() -> *mut c_void {
    let local = Locked::new(Pool::with_blocks_in(64, 2, GlobalAllocator).unwrap());
    Foo::new_com_in(Foo, &local)
}

fn borrowed_try() -> Result<*mut c_void, kcom::NTSTATUS> {
    let local = Locked::new(Pool::with_blocks_in(64, 2, GlobalAllocator).unwrap());
    ComObject::<Foo, IUnknownVtbl, _>::try_new_in(Foo, &local)
}

fn not_send() {
    let _ = Foo::try_new_com_in(Foo, ThreadBound(PhantomData));
    let _ = ComObject::<Foo, IUnknownVtbl, _>::new_in(Foo, ThreadBound(PhantomData));
}

fn main() {
    let _ = borrowed();
    let _ = borrowed_try();
    not_send();
}
