//! The COM runtime's contract: inheritance, `Result` mapping, the
//! `QueryInterface` rules on single- and multi-interface objects, reference
//! counts, destruction through the object's own allocator, allocation
//! failure, and reference counting from many threads.

use core::ffi::c_void;

use tests_host::{CountingAlloc, DropCounter, Tracked};

use kcom::{
    ComClass, ComImpl, ComInterface, ComInterfaceInfo, ComObject, ComRc, GUID, IUnknown,
    IUnknownInterface, IUnknownVtbl, NTSTATUS, STATUS_ACCESS_DENIED, STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE, STATUS_SUCCESS, declare_com_interface,
    impl_com_object, implement_com,
};

declare_com_interface! {
    /// A base interface.
    pub trait IBase: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000001");
        /// Returns the stored value.
        fn value(&self) -> Result<u32, NTSTATUS>;
    }
}

declare_com_interface! {
    /// Derives from `IBase`.
    pub trait IDerived: IBase + Send + Sync {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000002");
        /// `Ok` when `x` is even, `STATUS_ACCESS_DENIED` otherwise.
        fn check_even(&self, x: u64) -> Result<(), NTSTATUS>;
        /// Returns the status it is given.
        fn echo(&self, s: NTSTATUS) -> NTSTATUS;
    }
}

declare_com_interface! {
    /// An unrelated interface.
    pub trait IOther: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000003");
        /// Adds one to `x`.
        fn add_one(&self, x: i64) -> Result<i64, NTSTATUS>;
    }
}

declare_com_interface! {
    /// Implemented by nobody.
    pub trait INobody: IUnknown {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000004");
        /// Never called.
        fn nothing(&self) -> NTSTATUS;
    }
}

struct Multi {
    value: u32,
    _tracked: Tracked,
}
impl IBase for Multi {
    fn value(&self) -> Result<u32, NTSTATUS> {
        Ok(self.value)
    }
}
impl IDerived for Multi {
    fn check_even(&self, x: u64) -> Result<(), NTSTATUS> {
        if x.is_multiple_of(2) {
            Ok(())
        } else {
            Err(STATUS_ACCESS_DENIED)
        }
    }
    fn echo(&self, s: NTSTATUS) -> NTSTATUS {
        s
    }
}
impl IOther for Multi {
    fn add_one(&self, x: i64) -> Result<i64, NTSTATUS> {
        x.checked_add(1).ok_or(kcom::STATUS_INTEGER_OVERFLOW)
    }
}
implement_com!(Multi: IDerived, IOther);

fn multi(value: u32) -> (ComRc<IDerivedInterface>, DropCounter) {
    let drops = DropCounter::new();
    let rc = Multi::try_create(Multi {
        value,
        _tracked: drops.track(),
    })
    .expect("allocation");
    (rc, drops)
}

/// AddRef + Release through the raw vtable; returns the count after AddRef.
fn count_of<I: ComInterface>(rc: &ComRc<I>) -> u32 {
    let unk = rc.unknown_vtable();
    // SAFETY: `rc` holds a reference, so the object is alive; we give back
    // the reference we add.
    unsafe {
        let n = (unk.AddRef)(rc.as_raw());
        (unk.Release)(rc.as_raw());
        n - 1
    }
}

#[test]
fn safe_client_calls_and_inheritance() {
    let (d, drops) = multi(41);
    assert_eq!(
        d.value(),
        Ok(41),
        "base method through the derived interface"
    );
    assert_eq!(d.check_even(4), Ok(()));
    assert_eq!(d.check_even(5), Err(STATUS_ACCESS_DENIED));
    assert_eq!(d.echo(STATUS_NOINTERFACE), STATUS_NOINTERFACE);
    let base = d.query_interface::<IBaseInterface>().unwrap();
    assert_eq!(base.value(), Ok(41));
    assert_eq!(
        base.as_raw(),
        d.as_raw(),
        "IBase is served by IDerived's slot (its vtable starts with IBase's)"
    );
    drop((d, base));
    assert_eq!(drops.drops(), 1);
}

#[test]
fn vtable_layout_is_parent_first() {
    assert_eq!(core::mem::offset_of!(IDerivedVtbl, parent), 0);
    assert_eq!(core::mem::offset_of!(IBaseVtbl, parent), 0);
    assert_eq!(
        core::mem::size_of::<IBaseVtbl>(),
        core::mem::size_of::<IUnknownVtbl>() + core::mem::size_of::<usize>()
    );
    assert_eq!(
        core::mem::size_of::<IDerivedVtbl>(),
        core::mem::size_of::<IBaseVtbl>() + 2 * core::mem::size_of::<usize>()
    );
}

#[test]
fn result_mapping_across_the_abi() {
    let (d, _drops) = multi(7);
    let vtbl: &IDerivedVtbl = d.vtable();
    // SAFETY: `d` keeps the object alive; arguments are valid locals.
    unsafe {
        assert_eq!((vtbl.check_even)(d.as_raw(), 2), STATUS_SUCCESS);
        assert_eq!((vtbl.check_even)(d.as_raw(), 3), STATUS_ACCESS_DENIED);
        assert_eq!((vtbl.echo)(d.as_raw(), -5), -5);
        let mut out = 0u32;
        assert_eq!((vtbl.parent.value)(d.as_raw(), &mut out), STATUS_SUCCESS);
        assert_eq!(out, 7);
        assert_eq!(
            (vtbl.parent.value)(d.as_raw(), core::ptr::null_mut()),
            STATUS_INVALID_PARAMETER,
            "a null out pointer is refused"
        );
    }
    let other = d.query_interface::<IOtherInterface>().unwrap();
    assert_eq!(other.add_one(1), Ok(2));
    assert_eq!(other.add_one(i64::MAX), Err(kcom::STATUS_INTEGER_OVERFLOW));
    let ovtbl: &IOtherVtbl = other.vtable();
    let mut out = 99i64;
    // SAFETY: as above.
    let s = unsafe { (ovtbl.add_one)(other.as_raw(), i64::MAX, &mut out) };
    assert_eq!(s, kcom::STATUS_INTEGER_OVERFLOW);
    assert_eq!(out, 99, "the out value is written only on success");
}

#[test]
fn query_interface_rules_on_a_multi_interface_object() {
    let (d, drops) = multi(1);
    let o = d.query_interface::<IOtherInterface>().unwrap();
    assert_ne!(
        o.as_raw(),
        d.as_raw(),
        "a secondary interface has its own pointer"
    );

    // Identity: IUnknown from any interface is the same pointer.
    let u1 = d.query_interface::<IUnknownInterface>().unwrap();
    let u2 = o.query_interface::<IUnknownInterface>().unwrap();
    assert_eq!(u1.as_raw(), u2.as_raw());
    assert_eq!(u1.as_raw(), d.as_raw(), "the primary slot is the identity");
    assert!(o.same_object(&d));

    // Reflexive: QI for an interface through itself gives itself.
    assert_eq!(
        o.query_interface::<IOtherInterface>().unwrap().as_raw(),
        o.as_raw()
    );
    assert_eq!(
        d.query_interface::<IDerivedInterface>().unwrap().as_raw(),
        d.as_raw()
    );
    // Symmetric: D -> O -> D.
    assert_eq!(
        o.query_interface::<IDerivedInterface>().unwrap().as_raw(),
        d.as_raw()
    );
    // Transitive: O -> U -> Base equals O -> Base.
    let via_u = u2.query_interface::<IBaseInterface>().unwrap();
    let direct = o.query_interface::<IBaseInterface>().unwrap();
    assert_eq!(via_u.as_raw(), direct.as_raw());
    // Unknown interfaces are refused.
    assert_eq!(
        o.query_interface::<INobodyInterface>().unwrap_err(),
        STATUS_NOINTERFACE
    );
    // Calls through the secondary pointer reach the same value.
    assert_eq!(direct.value(), Ok(1));
    assert_eq!(o.add_one(41), Ok(42));

    // One shared count: d, o, u1, u2, via_u, direct.
    assert_eq!(count_of(&o), 6);
    assert_eq!(count_of(&d), 6);
    drop((u1, u2, via_u, direct));
    assert_eq!(count_of(&o), 2);
    drop(d);
    assert_eq!(
        drops.drops(),
        0,
        "still referenced through the secondary pointer"
    );
    assert_eq!(count_of(&o), 1);
    drop(o);
    assert_eq!(drops.drops(), 1);
}

#[test]
fn add_ref_and_release_through_any_slot_share_one_count() {
    let (d, drops) = multi(3);
    let o = d.query_interface::<IOtherInterface>().unwrap();
    let unk_o = o.unknown_vtable();
    let unk_d = d.unknown_vtable();
    // SAFETY: we hold references through `d` and `o`; every AddRef below is
    // balanced by a Release.
    unsafe {
        assert_eq!((unk_o.AddRef)(o.as_raw()), 3);
        assert_eq!((unk_d.AddRef)(d.as_raw()), 4);
        assert_eq!((unk_d.Release)(d.as_raw()), 3);
        assert_eq!((unk_o.Release)(o.as_raw()), 2);
    }
    let raw = o.into_raw();
    // SAFETY: `raw` carries the reference `o` owned.
    let o = unsafe { ComRc::<IOtherInterface>::from_raw(raw) }.unwrap();
    let o2 = o.clone();
    assert_eq!(count_of(&d), 3);
    drop((o, o2, d));
    assert_eq!(drops.drops(), 1);
}

#[test]
fn objects_are_freed_by_their_own_allocator_with_the_same_layout() {
    let rec = CountingAlloc::new();
    let drops = DropCounter::new();
    // SAFETY: every reference is released below, while `rec` is alive and on
    // this thread.
    let rc = unsafe {
        Multi::try_create_in_unchecked(
            Multi {
                value: 9,
                _tracked: drops.track(),
            },
            &rec,
        )
    }
    .unwrap();
    assert_eq!(rec.allocations(), 1);
    assert_eq!(rc.value(), Ok(9));
    let o = rc.query_interface::<IOtherInterface>().unwrap();
    drop(rc);
    assert_eq!(rec.deallocs(), 0);
    drop(o);
    assert_eq!(drops.drops(), 1);
    assert_eq!(rec.deallocs(), 1);
    assert_eq!(rec.outstanding(), 0);
}

#[test]
fn allocation_failure_is_an_error_and_drops_the_value() {
    let rec = CountingAlloc::new();
    rec.set_fail(true);
    let drops = DropCounter::new();
    // SAFETY: nothing is created, so nothing outlives `rec`.
    let r = unsafe {
        Multi::try_create_in_unchecked(
            Multi {
                value: 1,
                _tracked: drops.track(),
            },
            &rec,
        )
    };
    assert_eq!(r.unwrap_err(), STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(drops.drops(), 1, "the value is dropped, not leaked");
    assert_eq!(rec.deallocs(), 0);
}

// ---- hand-written objects (vtable literals) with a custom allocator ----

declare_com_interface! {
    pub trait IPing: IUnknown {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000010");
        fn ping(&self, v: u32) -> NTSTATUS;
    }
}

struct Pinger(#[allow(dead_code)] Tracked);
impl IPing for Pinger {
    fn ping(&self, v: u32) -> NTSTATUS {
        if v == 0 {
            STATUS_INVALID_PARAMETER
        } else {
            STATUS_SUCCESS
        }
    }
}
impl ComImpl<IPingVtbl> for Pinger {
    const VTABLE: &'static IPingVtbl = &IPingVtbl {
        parent: *<Pinger as ComImpl<IUnknownVtbl>>::VTABLE,
        ping: shim_IPing_ping::<Pinger>,
    };
    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void> {
        if *riid == <IPingInterface as ComInterfaceInfo>::IID {
            Some(this)
        } else {
            <Pinger as ComImpl<IUnknownVtbl>>::query_interface(self, this, riid)
        }
    }
}
impl_com_object!(Pinger, IPingVtbl);

#[test]
fn hand_written_object_in_a_custom_allocator() {
    // The allocator frees the object at its last Release, whenever and on
    // whichever thread that is: it must be `Send + 'static`.
    static REC: CountingAlloc = CountingAlloc::new();
    let rec = &REC;
    let drops = DropCounter::new();
    let raw = Pinger::try_new_com_in(Pinger(drops.track()), rec).unwrap();
    assert_eq!(rec.allocations(), 1);
    // SAFETY: `raw` owns one reference; the ComRc takes it over.
    let rc = unsafe { ComRc::<IPingInterface>::from_raw(raw) }.unwrap();
    assert_eq!(rc.ping(1), STATUS_SUCCESS);
    assert_eq!(rc.ping(0), STATUS_INVALID_PARAMETER);
    let unk = rc.query_interface::<IUnknownInterface>().unwrap();
    assert_eq!(unk.as_raw(), rc.as_raw());
    drop((rc, unk));
    assert_eq!(drops.drops(), 1);
    assert_eq!(rec.deallocs(), 1);
    assert_eq!(rec.outstanding(), 0);

    rec.set_fail(true);
    let drops2 = DropCounter::new();
    assert_eq!(
        Pinger::try_new_com_in(Pinger(drops2.track()), rec).unwrap_err(),
        STATUS_INSUFFICIENT_RESOURCES
    );
    assert_eq!(drops2.drops(), 1);
    rec.set_fail(false);
}

#[test]
fn unchecked_constructor_over_a_borrowed_allocator() {
    // A local allocator, borrowed: the caller of the unchecked constructor
    // promises to release every reference on this thread while it lives.
    let local = CountingAlloc::new();
    let drops = DropCounter::new();
    // SAFETY: the only reference is released below, on this thread, while
    // `local` is alive.
    let raw = unsafe {
        ComObject::<Pinger, IPingVtbl, _>::try_new_in_unchecked(Pinger(drops.track()), &local)
    }
    .unwrap();
    // SAFETY: as above; the ComRc takes the reference over.
    let rc = unsafe { ComRc::<IPingInterface>::from_raw(raw) }.unwrap();
    assert_eq!(rc.ping(3), STATUS_SUCCESS);
    assert_eq!(local.outstanding(), 1);
    drop(rc);
    assert_eq!((drops.drops(), local.outstanding()), (1, 0));
}

#[test]
fn hand_written_object_with_the_global_allocator() {
    let drops = DropCounter::new();
    let raw = Pinger::try_new_com(Pinger(drops.track())).unwrap();
    // SAFETY: `raw` is live until the last Release below.
    unsafe {
        assert_eq!(ComObject::<Pinger, IPingVtbl>::shim_add_ref(raw), 2);
        assert_eq!(ComObject::<Pinger, IPingVtbl>::shim_release(raw), 1);
        assert_eq!(drops.drops(), 0);
        assert_eq!(ComObject::<Pinger, IPingVtbl>::shim_release(raw), 0);
    }
    assert_eq!(drops.drops(), 1);
}

#[test]
fn many_threads_add_ref_and_release_one_object() {
    const THREADS: usize = 8;
    let per_thread: usize = if cfg!(miri) { 200 } else { 100_000 };
    let (d, drops) = multi(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let local = d.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    if (i + t) % 2 == 0 {
                        let c = local.clone();
                        drop(c);
                    } else {
                        let unk = local.unknown_vtable();
                        // SAFETY: `local` holds a reference; balanced pair.
                        unsafe {
                            (unk.AddRef)(local.as_raw());
                            (unk.Release)(local.as_raw());
                        }
                    }
                }
                drop(local);
            });
        }
    });
    assert_eq!(count_of(&d), 1);
    assert_eq!(drops.drops(), 0);
    drop(d);
    assert_eq!(drops.drops(), 1, "dropped exactly once");
}

#[test]
fn com_rc_is_send_and_sync_for_thread_safe_interfaces() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ComRc<IDerivedInterface>>();
    assert_send_sync::<ComRc<IOtherInterface>>();
    let (d, drops) = multi(5);
    let handle = std::thread::spawn(move || d.value());
    assert_eq!(handle.join().unwrap(), Ok(5));
    assert_eq!(drops.drops(), 1, "released on the other thread");
}

/// A generic object: `implement_com!(impl<T: …> Offset<T>: IOther)`.
struct Offset<T>(T);
impl<T: Copy + Into<i64> + Send + Sync> IOther for Offset<T> {
    fn add_one(&self, x: i64) -> Result<i64, NTSTATUS> {
        x.checked_add(self.0.into())
            .and_then(|v| v.checked_add(1))
            .ok_or(kcom::STATUS_INTEGER_OVERFLOW)
    }
}
implement_com!(impl<T: Copy + Into<i64> + Send + Sync + 'static> Offset<T>: IOther);

#[test]
fn generic_types_implement_interfaces() {
    let a = Offset::try_create(Offset(10u8)).unwrap();
    let b = Offset::try_create(Offset(-3i32)).unwrap();
    assert_eq!(a.add_one(1), Ok(12));
    assert_eq!(b.add_one(1), Ok(-1));
    assert!(!a.same_object(&b));
    assert_eq!(
        a.query_interface::<IBaseInterface>().unwrap_err(),
        STATUS_NOINTERFACE
    );
}

declare_com_interface! {
    /// A second child of `IBase`.
    pub trait ISibling: IBase + Send + Sync {
        const IID: GUID = kcom::guid!("6f1d2c3b-0000-4000-8000-000000000005");
        /// Returns the stored value doubled.
        fn twice(&self) -> Result<u32, NTSTATUS>;
    }
}

/// Interfaces that share an ancestor (`IBase`, and `IUnknown`) are not an
/// IID collision: the shared ancestor is the same interface in both chains.
struct Twins(u32);
impl IBase for Twins {
    fn value(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0)
    }
}
impl IDerived for Twins {
    fn check_even(&self, _: u64) -> Result<(), NTSTATUS> {
        Ok(())
    }
    fn echo(&self, s: NTSTATUS) -> NTSTATUS {
        s
    }
}
impl ISibling for Twins {
    fn twice(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0 * 2)
    }
}
implement_com!(Twins: IDerived, ISibling, IBase);

#[test]
fn interfaces_with_a_shared_ancestor_share_it() {
    let d = Twins::try_create(Twins(21)).unwrap();
    let s = d.query_interface::<ISiblingInterface>().unwrap();
    assert_eq!(s.twice(), Ok(42));
    // `IBase` through either child, or listed itself: the first slot whose
    // chain has it answers, and its vtable starts with `IBase`'s.
    let b = s.query_interface::<IBaseInterface>().unwrap();
    assert_eq!(b.value(), Ok(21));
    assert_eq!(s.value(), Ok(21), "IBase through ISibling's Deref");
    assert!(b.same_object(&s) && d.same_object(&b));
}

/// COM objects never live in pageable memory: any holder of a reference may
/// AddRef or Release from DISPATCH_LEVEL. Every constructor refuses a paged
/// allocator, directly or behind a strategy or a reference, before
/// allocating anything; the value is dropped.
#[test]
fn com_objects_refuse_pageable_memory() {
    use kcom::alloc::{Bump, Locked, PoolType, WdkAllocator, sim};
    const TAG: u32 = WdkAllocator::tag(*b"tCoP");
    let paged = WdkAllocator::paged(TAG);
    let (drops, counter) = (DropCounter::new(), DropCounter::new());

    assert_eq!(
        Twins::try_create_in(Twins(1), paged).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    let bump = Bump::with_capacity_in(1024, paged).unwrap();
    assert_eq!(
        Twins::try_create_in(Twins(2), Locked::new(bump)).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    let bump = Bump::with_capacity_in(1024, paged).unwrap();
    assert_eq!(
        Pinger::try_new_com_in(Pinger(drops.track()), Locked::new(bump)).unwrap_err(),
        STATUS_INVALID_PARAMETER
    );
    assert_eq!(drops.drops(), 1, "the refused value was dropped");
    let st = sim::stats(PoolType::Paged, TAG);
    assert_eq!(
        (st.total_allocations, st.outstanding_allocations),
        (2, 0),
        "only the two strategy regions came from paged pool"
    );

    // Non-paged pool, or a strategy over it, is fine.
    let non_paged = WdkAllocator::non_paged(TAG);
    let t = Twins::try_create_in(Twins(3), non_paged).unwrap();
    assert_eq!(t.value(), Ok(3));
    drop(t);
    let bump = Bump::with_capacity_in(1024, non_paged).unwrap();
    let raw = Pinger::try_new_com_in(Pinger(counter.track()), Locked::new(bump)).unwrap();
    // SAFETY: `raw` is the object's primary pointer with the one reference
    // `try_new_com_in` returned; its allocator lives inside the object.
    let left = unsafe { ComObject::<Pinger, IPingVtbl>::shim_release(raw) };
    assert_eq!(left, 0);
    assert_eq!(counter.drops(), 1);
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, TAG).outstanding_allocations,
        0
    );
    assert!(sim::forget_tag(TAG));
}

#[test]
#[should_panic(expected = "cannot live in pageable memory")]
fn new_com_in_paged_pool_is_a_programming_error() {
    let paged = kcom::alloc::WdkAllocator::paged(kcom::alloc::WdkAllocator::tag(*b"tCoQ"));
    let _ = Pinger::new_com_in(Pinger(DropCounter::new().track()), paged);
}
