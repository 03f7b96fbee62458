//! `InitBox`, `PinInit` and `pin_init!`: in-place initialisation that
//! either fully succeeds or frees the memory without running `Drop`.

use core::cell::RefCell;
use core::convert::Infallible;
use core::marker::PhantomPinned;
use core::pin::Pin;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use kcom::alloc::sim;
use kcom::alloc::{
    AllocError, FromAllocError, InitBox, PinInit, PoolType, WdkAllocator, pin_init_from_closure,
    try_init,
};
use kcom::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, pin_init};
use tests_host::counting::{CountingAlloc, DropCounter, Tracked};

#[test]
fn plain_value_is_an_infallible_initialiser() {
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    let drops = DropCounter::new();
    let b = InitBox::pin_init_in(drops.track(), alloc).expect("allocation");
    assert_eq!(alloc.allocations(), 1);
    drop(b);
    assert_eq!(drops.drops(), 1);
    assert_eq!(alloc.deallocs(), 1);
    assert!(alloc.live().is_empty());
}

struct Loud {
    _t: Tracked,
}
impl Drop for Loud {
    fn drop(&mut self) {
        panic!("Drop of a value that was never initialised");
    }
}

#[test]
fn failed_initialiser_frees_the_memory_without_drop() {
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    let drops = DropCounter::new();
    let t = drops.track();
    // SAFETY: the closure initialises nothing and fails, leaving the slot
    // uninitialised.
    let init = unsafe {
        pin_init_from_closure::<Loud, NTSTATUS, _>(move |_slot| {
            drop(t);
            Err(STATUS_INVALID_PARAMETER)
        })
    };
    let r = InitBox::<Loud>::try_pin_init_in(init, alloc);
    assert_eq!(r.err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(drops.drops(), 1, "only the captured value was dropped");
    assert_eq!((alloc.allocations(), alloc.deallocs()), (1, 1));
    assert!(alloc.live().is_empty());
}

#[test]
fn allocation_failure_maps_into_the_error_type_and_skips_init() {
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    alloc.set_fail(true);
    let drops = DropCounter::new();
    let t = drops.track();
    let ran = Rc::new(RefCell::new(false));
    let ran2 = ran.clone();
    // SAFETY: writes the whole value on success.
    let init = unsafe {
        pin_init_from_closure::<Tracked, NTSTATUS, _>(move |slot| {
            *ran2.borrow_mut() = true;
            slot.write(t);
            Ok(())
        })
    };
    let r = InitBox::<Tracked>::try_pin_init_in(init, alloc);
    assert_eq!(r.err(), Some(STATUS_INSUFFICIENT_RESOURCES));
    assert!(
        !*ran.borrow(),
        "the initialiser must not run without memory"
    );
    assert_eq!(drops.drops(), 1, "the unused initialiser was dropped");

    let r = InitBox::pin_init_in(5u8, alloc);
    assert_eq!(r.err(), Some(AllocError::InsufficientResources));
    assert_eq!(
        <AllocError as FromAllocError>::from_alloc_error(AllocError::InsufficientResources),
        AllocError::InsufficientResources
    );
}

#[test]
fn panicking_initialiser_frees_the_memory() {
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    // SAFETY: never returns normally.
    let init = unsafe { pin_init_from_closure::<Loud, Infallible, _>(|_| panic!("init failed")) };
    let r = catch_unwind(AssertUnwindSafe(|| {
        InitBox::<Loud>::pin_init_in(init, alloc)
    }));
    assert!(r.is_err());
    assert_eq!((alloc.allocations(), alloc.deallocs()), (1, 1));
}

/// A self-referential value: `this` points at the value itself.
struct SelfRef {
    data: u64,
    this: *const SelfRef,
    _pin: PhantomPinned,
}

fn self_ref(data: u64) -> impl PinInit<SelfRef, Infallible> {
    // SAFETY: writes every field; `this` is the final address because the
    // value is initialised in place and pinned.
    unsafe {
        pin_init_from_closure(move |slot: *mut SelfRef| {
            slot.write(SelfRef {
                data,
                this: slot,
                _pin: PhantomPinned,
            });
            Ok(())
        })
    }
}

#[test]
fn in_place_initialisation_sees_the_final_address() {
    let b: Pin<kcom::KBox<SelfRef>> = InitBox::pin_init(self_ref(9)).unwrap();
    let moved = b;
    assert_eq!(moved.this, &*moved as *const SelfRef);
    assert_eq!(moved.data, 9);
}

#[test]
fn try_init_builds_from_a_constructor() {
    let ok =
        InitBox::<Vec<i32>>::try_pin_init(try_init(|| Ok::<_, NTSTATUS>(vec![1, 2, 3]))).unwrap();
    assert_eq!(*ok, [1, 2, 3]);
    let err = InitBox::<Vec<u8>>::try_pin_init(try_init(|| {
        Err::<Vec<u8>, NTSTATUS>(STATUS_INVALID_PARAMETER)
    }));
    assert_eq!(err.err(), Some(STATUS_INVALID_PARAMETER));
}

type Log = Rc<RefCell<Vec<&'static str>>>;

/// Records its creation and drop in a shared log.
struct Step(&'static str, Log);
impl Step {
    fn new(name: &'static str, log: &Log) -> Self {
        log.borrow_mut().push(name);
        Step(name, log.clone())
    }
}
impl Drop for Step {
    fn drop(&mut self) {
        self.1.borrow_mut().push(match self.0 {
            "a" => "drop a",
            "b" => "drop b",
            "c" => "drop c",
            _ => "drop ?",
        });
    }
}

struct Three {
    a: Step,
    b: Step,
    c: Step,
}
impl Drop for Three {
    fn drop(&mut self) {
        self.a.1.borrow_mut().push("drop Three");
    }
}

fn fallible_step(name: &'static str, log: &Log, fail: bool) -> impl PinInit<Step, NTSTATUS> {
    let log = log.clone();
    try_init(move || {
        if fail {
            Err(STATUS_INVALID_PARAMETER)
        } else {
            Ok(Step::new(name, &log))
        }
    })
}

#[test]
fn pin_init_macro_initialises_in_order() {
    let log: Log = Rc::default();
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    // The field expressions run inside the initialiser, which captures by
    // move: hand it its own handle.
    let l = log.clone();
    let init = pin_init!(Three {
        a: Step::new("a", &l),
        b <- fallible_step("b", &l, false),
        c: Step::new("c", &l),
    }? NTSTATUS);
    assert!(
        log.borrow().is_empty(),
        "nothing runs before the memory exists"
    );
    let b = InitBox::<Three>::try_pin_init_in(init, alloc).unwrap();
    assert_eq!(*log.borrow(), ["a", "b", "c"]);
    drop(b);
    assert_eq!(
        *log.borrow(),
        ["a", "b", "c", "drop Three", "drop a", "drop b", "drop c"]
    );
    assert!(alloc.live().is_empty());
}

#[test]
fn pin_init_macro_failure_drops_earlier_fields_in_reverse() {
    let log: Log = Rc::default();
    // Pinned boxes need a `'static` allocator.
    static ALLOC: CountingAlloc = CountingAlloc::new();
    let alloc = &ALLOC;
    let l = log.clone();
    let init = pin_init!(Three {
        a: Step::new("a", &l),
        c: Step::new("c", &l),
        b <- fallible_step("b", &l, true),
    }? NTSTATUS);
    let r = InitBox::<Three>::try_pin_init_in(init, alloc);
    assert_eq!(r.err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(
        *log.borrow(),
        ["a", "c", "drop c", "drop a"],
        "no `drop Three`"
    );
    assert_eq!((alloc.allocations(), alloc.deallocs()), (1, 1));
}

#[test]
fn pin_init_macro_question_mark_in_field_expressions() {
    fn parse(v: i32) -> Result<u8, NTSTATUS> {
        u8::try_from(v).map_err(|_| STATUS_INVALID_PARAMETER)
    }
    struct Pair {
        x: u8,
        y: u8,
    }
    let mk = |x: i32, y: i32| pin_init!(Pair { x: parse(x)?, y: parse(y)? }? NTSTATUS);
    let ok = InitBox::<Pair>::try_pin_init(mk(1, 2)).unwrap();
    assert_eq!((ok.x, ok.y), (1, 2));
    assert_eq!(
        InitBox::<Pair>::try_pin_init(mk(1, 300)).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
}

#[test]
fn pin_init_macro_nests_and_defaults_to_infallible() {
    struct Inner {
        v: u32,
        me: SelfRef,
    }
    struct Outer {
        tag: u8,
        inner: Inner,
    }
    let init = pin_init!(Outer {
        tag: 1,
        inner <- pin_init!(Inner { v: 2, me <- self_ref(3) }),
    });
    let b = InitBox::<Outer>::pin_init(init).unwrap();
    assert_eq!((b.tag, b.inner.v, b.inner.me.data), (1, 2, 3));
    assert_eq!(b.inner.me.this, &b.inner.me as *const SelfRef);
}

#[test]
fn wdk_allocator_fault_injection_reaches_the_caller() {
    const T: u32 = WdkAllocator::tag(*b"Ini1");
    let a = WdkAllocator::paged(T);
    sim::fail_nth(T, None, 1);
    let r = InitBox::<[u8; 100]>::try_pin_init_in(try_init(|| Ok::<_, NTSTATUS>([0u8; 100])), a);
    assert_eq!(r.err(), Some(STATUS_INSUFFICIENT_RESOURCES));
    let b = InitBox::<[u8; 100]>::try_pin_init_in(try_init(|| Ok::<_, NTSTATUS>([7u8; 100])), a)
        .unwrap();
    assert_eq!(b[99], 7);
    assert_eq!(sim::stats(PoolType::Paged, T).outstanding_allocations, 1);
    drop(b);
    let s = sim::stats(PoolType::Paged, T);
    assert_eq!(
        (
            s.outstanding_allocations,
            s.failed_allocations,
            s.total_frees
        ),
        (0, 1, 1)
    );

    // A failing initialiser returns the block to the pool.
    let r = InitBox::<[u8; 4]>::try_pin_init_in(
        try_init(|| Err::<[u8; 4], _>(STATUS_INVALID_PARAMETER)),
        a,
    );
    assert_eq!(r.err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(sim::stats(PoolType::Paged, T).outstanding_allocations, 0);
}

#[test]
fn unpin_values_initialise_over_a_borrowed_allocator() {
    // `try_init_in` needs no `'static` allocator: an `Unpin` value is not
    // pinned, so a leaked box has no drop guarantee to break.
    let mut stack = kcom::alloc::Stack::with_capacity_in(512, kcom::GlobalAllocator).unwrap();
    let drops = DropCounter::new();
    stack.scope(|s| {
        let b = InitBox::<Tracked>::try_init_in(drops.track(), s).map_err(|e: AllocError| e);
        let b = b.unwrap();
        assert!(s.total_allocated() > 0);
        drop(b);
        assert_eq!(s.total_allocated(), 0);
        let failing = try_init(|| Err::<Tracked, _>(STATUS_INVALID_PARAMETER));
        let r = InitBox::<Tracked>::try_init_in(failing, s);
        assert_eq!(r.err(), Some(STATUS_INVALID_PARAMETER));
        assert_eq!(
            s.total_allocated(),
            0,
            "a failed initialiser frees its block"
        );
    });
    assert_eq!(drops.drops(), 1);
    let bump = kcom::alloc::Bump::with_capacity_in(256, kcom::GlobalAllocator).unwrap();
    let b = InitBox::<[u32; 4]>::try_init_in(try_init(|| Ok::<_, NTSTATUS>([9; 4])), &bump);
    let b = Pin::new(b.unwrap());
    assert_eq!(b[3], 9);
}
