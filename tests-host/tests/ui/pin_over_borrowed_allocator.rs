// A pinned box promises that its value's memory is not reused before the
// value is dropped, even if the box is leaked. A borrowed allocator can be
// dropped, reset or scoped away once the borrow ends, so pinning over one
// is refused: the allocator must be `'static`.
use core::marker::PhantomPinned;
use core::mem::MaybeUninit;

use kcom::GlobalAllocator;
use kcom::alloc::{Bump, InitBox, KBox, Stack};

fn pin_in_over_a_local_bump() {
    let bump = Bump::with_capacity_in(256, GlobalAllocator).unwrap();
    let pinned = KBox::pin_in(PhantomPinned, &bump);
    core::mem::forget(pinned);
}

fn try_pin_in_over_a_buffer() {
    let mut buf = [MaybeUninit::<u8>::uninit(); 64];
    let _ = KBox::try_pin_in(PhantomPinned, Bump::from_buffer(&mut buf));
}

fn into_pin_in_a_stack_scope() {
    let mut stack = Stack::with_capacity_in(256, GlobalAllocator).unwrap();
    stack.scope(|s| {
        let _ = KBox::into_pin(KBox::new_in(PhantomPinned, s));
    });
}

fn pin_init_in_over_a_local_bump() {
    let bump = Bump::with_capacity_in(256, GlobalAllocator).unwrap();
    let _ = InitBox::<PhantomPinned>::pin_init_in(PhantomPinned, &bump);
}

fn try_pin_init_in_over_a_local_bump() {
    let bump = Bump::with_capacity_in(256, GlobalAllocator).unwrap();
    let _ = InitBox::<PhantomPinned>::try_pin_init_in::<kcom::NTSTATUS, _, _>(PhantomPinned, &bump);
}

fn main() {
    pin_in_over_a_local_bump();
    try_pin_in_over_a_buffer();
    into_pin_in_a_stack_scope();
    pin_init_in_over_a_local_bump();
    try_pin_init_in_over_a_local_bump();
}
