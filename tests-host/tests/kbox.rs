//! `KBox`: one allocation holding value and allocator, dropped and freed
//! exactly once with the matching layout.

use core::alloc::Layout;
use std::panic::{AssertUnwindSafe, catch_unwind};

use kcom::alloc::sim;
use kcom::alloc::{AllocError, Allocator, KBox, PoolType, WdkAllocator};
use tests_host::counting::{CountingAlloc, DropCounter, Tracked};

#[test]
fn new_in_drops_once_and_frees_with_the_same_layout() {
    let alloc = CountingAlloc::new();
    let drops = DropCounter::new();
    let b = KBox::new_in((drops.track(), 42u64), &alloc);
    assert_eq!(b.1, 42);
    assert_eq!(alloc.allocations(), 1);
    let live = alloc.live();
    assert_eq!(live.len(), 1);
    // The block holds the value and the allocator (a reference here).
    assert!(live[0].1.size() >= size_of::<(Tracked, u64)>() + size_of::<&CountingAlloc>());
    drop(b);
    assert_eq!(drops.drops(), 1);
    assert_eq!(alloc.deallocs(), 1);
    assert!(alloc.live().is_empty());
}

#[test]
fn try_new_in_failure_returns_the_value_untouched() {
    let alloc = CountingAlloc::new();
    alloc.set_fail(true);
    let drops = DropCounter::new();
    let Err((value, AllocError::InsufficientResources)) = KBox::try_new_in(drops.track(), &alloc)
    else {
        panic!("allocation must fail");
    };
    assert_eq!(drops.drops(), 0, "the value came back, not dropped");
    drop(value);
    assert_eq!(drops.drops(), 1);
    assert_eq!((alloc.allocations(), alloc.deallocs()), (0, 0));
}

#[test]
fn deref_mut_debug_display() {
    let mut b = KBox::new(String::from("abc"));
    b.push('d');
    assert_eq!(&*b, "abcd");
    assert_eq!(format!("{b}"), "abcd");
    assert_eq!(format!("{b:?}"), "\"abcd\"");
    assert_eq!(b, KBox::new(String::from("abcd")));
}

#[test]
fn into_raw_from_raw_round_trip() {
    let alloc = CountingAlloc::new();
    let drops = DropCounter::new();
    let raw = KBox::into_raw(KBox::new_in(drops.track(), &alloc));
    assert_eq!(alloc.deallocs(), 0);
    assert_eq!(drops.drops(), 0);
    // SAFETY: `raw` comes from `into_raw` with the same `T` and `A`.
    let b = unsafe { KBox::<Tracked, &CountingAlloc>::from_raw(raw) };
    drop(b);
    assert_eq!(drops.drops(), 1);
    assert_eq!(alloc.deallocs(), 1);
}

#[test]
fn leak_keeps_the_value_alive() {
    let alloc = CountingAlloc::new();
    let drops = DropCounter::new();
    let v: &mut (u32, Tracked) = KBox::leak(KBox::new_in((5u32, drops.track()), &alloc));
    v.0 += 1;
    assert_eq!(v.0, 6);
    assert_eq!(alloc.live().len(), 1);
    assert_eq!((alloc.deallocs(), drops.drops()), (0, 0));
    // Take the tracker out and give the block back so the test itself does
    // not leak.
    // SAFETY: `v.1` is initialised and never used again.
    let t = unsafe { core::ptr::read(&v.1) };
    assert_eq!(alloc.release_leaked(), 1);
    assert_eq!(drops.drops(), 0, "leaked values are never dropped");
    drop(t);
}

#[test]
fn into_inner_moves_out_and_frees() {
    let alloc = CountingAlloc::new();
    let drops = DropCounter::new();
    let t = KBox::into_inner(KBox::new_in(drops.track(), &alloc));
    assert_eq!(alloc.deallocs(), 1);
    assert_eq!(drops.drops(), 0);
    drop(t);
    assert_eq!(drops.drops(), 1);
}

#[test]
fn pinned_box_keeps_its_address() {
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    let p = KBox::pin_in([1u8; 64], alloc);
    let addr = p.as_ptr();
    let moved = p;
    assert_eq!(moved.as_ptr(), addr);
    let q = KBox::into_pin(KBox::new_in(3u8, alloc));
    assert_eq!(*q, 3);
    let Ok(r) = KBox::try_pin_in(4u8, alloc) else {
        panic!("allocation failed")
    };
    assert_eq!(*r, 4);
    drop((moved, q, r));
    assert!(alloc.live().is_empty());
    assert_eq!(alloc.deallocs(), 3);
}

#[test]
fn zero_sized_value_and_allocator_do_not_allocate() {
    #[derive(Clone, Copy)]
    struct NoAlloc;
    // SAFETY: never hands out memory, so there is nothing to break.
    unsafe impl Allocator for NoAlloc {
        unsafe fn alloc(&self, _: Layout) -> *mut u8 {
            panic!("a zero-sized KBox must not allocate")
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
            panic!("a zero-sized KBox must not free")
        }
    }
    let b = KBox::new_in((), NoAlloc);
    assert_eq!(*b, ());
    drop(b);

    // A zero-sized value with a sized allocator still needs a block for
    // the allocator.
    let alloc = CountingAlloc::new();
    let b = KBox::new_in((), &alloc);
    assert_eq!(alloc.live()[0].1, Layout::new::<&CountingAlloc>());
    drop(b);
    assert!(alloc.live().is_empty());
}

#[test]
fn panicking_destructor_still_frees_the_block() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("boom");
        }
    }
    let alloc = CountingAlloc::new();
    let b = KBox::new_in(Bomb, &alloc);
    let r = catch_unwind(AssertUnwindSafe(move || drop(b)));
    assert!(r.is_err());
    assert_eq!(alloc.deallocs(), 1);
    assert!(alloc.live().is_empty());
}

#[test]
fn wdk_allocator_box_is_accounted_and_can_fail() {
    const T: u32 = WdkAllocator::tag(*b"KBx1");
    let a = WdkAllocator::non_paged(T);
    let b = KBox::new_in([0u64; 8], a);
    assert_eq!(KBox::allocator(&b), &a);
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!(s.outstanding_allocations, 1);
    let expected =
        WdkAllocator::pool_request_size(Layout::new::<([u64; 8], WdkAllocator)>()).unwrap();
    assert!(s.outstanding_bytes >= expected as u64);
    drop(b);
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );

    sim::fail_nth(T, None, 1);
    let drops = DropCounter::new();
    let r = KBox::try_new_in(drops.track(), a);
    assert!(matches!(r, Err((_, AllocError::InsufficientResources))));
    drop(r);
    assert_eq!(drops.drops(), 1);
    assert_eq!(sim::stats(PoolType::NonPagedNx, T).failed_allocations, 1);
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );
}

#[test]
fn send_and_sync_follow_value_and_allocator() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<KBox<u32>>();
    send_sync::<KBox<Vec<u8>, WdkAllocator>>();
    send_sync::<KBox<u32, &CountingAlloc>>();
    fn unpin<T: Unpin>() {}
    unpin::<KBox<core::marker::PhantomPinned>>();
}

#[test]
fn many_boxes_balance() {
    let n = if cfg!(miri) { 20 } else { 2_000 };
    let alloc = CountingAlloc::new();
    let drops = DropCounter::new();
    let boxes: Vec<_> = (0..n)
        .map(|i| KBox::new_in((i, drops.track()), &alloc))
        .collect();
    assert_eq!(alloc.live().len(), n);
    assert!(boxes.iter().enumerate().all(|(i, b)| b.0 == i));
    drop(boxes);
    assert_eq!(drops.drops(), n);
    assert_eq!(alloc.deallocs(), n);
}
