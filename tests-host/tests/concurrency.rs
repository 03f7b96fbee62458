//! Stress tests with many threads: the last `Release` racing on many
//! threads, `QueryInterface` under contention, `Locked` strategies resized
//! from many threads, and concurrent dispatch of every IOCTL (valid and
//! not) on one device while pool failures are injected.
//!
//! They are written to be run under ThreadSanitizer too (`cargo make
//! sanitize`): data handed between threads is plain memory, not atomics, so
//! a missing happens-before edge in kcom is reported as a data race rather
//! than hidden by the test's own synchronisation.

use core::alloc::Layout;
use core::cell::UnsafeCell;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use kcom::alloc::{FreeList, Locked, Pool, Stack, sim};
use kcom::{
    Allocator, ComClass, ComRc, GUID, IUnknown, IUnknownInterface, NTSTATUS, PoolType,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE,
    STATUS_NOT_SUPPORTED, declare_com_interface, implement_com,
};
use kcom_sample_core::protocol::{
    IOCTL_KCOM_GET_INFO, IOCTL_KCOM_POOL_STATS, IOCTL_KCOM_RUN_EXERCISE, InfoRequest, InfoResponse,
    PoolStatsRequest, PoolStatsResponse, RunRequest, RunResponse, STATUSES, StrategyId,
};
use kcom_sample_core::{DeviceConfig, DeviceState, dispatch, expected_strategy_checksum, tags};
use tests_host::CountingAlloc;

/// `full` normally, `small` under Miri (sizes are chosen so the
/// sanitizer runs, which are 5-20x slower, stay within seconds).
const fn scaled(full: usize, small: usize) -> usize {
    if cfg!(miri) { small } else { full }
}

const THREADS: usize = 8;

declare_com_interface! {
    /// Each caller writes its own slot; the object's destructor reads all.
    pub trait ISlots: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("9b0c51a2-5d7e-4a8e-9a51-0c1f5e2d7a01");
        /// Writes `value` into slot `index` (plain memory, no atomics).
        fn put(&self, index: u32, value: u64) -> NTSTATUS;
    }
}

declare_com_interface! {
    /// A second interface on the same object.
    pub trait IPeek: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("9b0c51a2-5d7e-4a8e-9a51-0c1f5e2d7a02");
        /// The number of slots.
        fn slot_count(&self) -> Result<u32, NTSTATUS>;
    }
}

/// One slot per thread, written without synchronisation by that thread
/// only, and read by the destructor: correct only if the last `Release`
/// makes every other thread's writes visible to the thread that drops the
/// object (the Release/Acquire pairing of the reference count).
struct Slots {
    slots: [UnsafeCell<u64>; THREADS],
    /// Set by the destructor with the sum it read.
    seen: &'static AtomicUsize,
}

// SAFETY: slot `i` is written only by the thread given index `i`, and only
// read by the destructor after the last reference is gone.
unsafe impl Sync for Slots {}

impl ISlots for Slots {
    fn put(&self, index: u32, value: u64) -> NTSTATUS {
        match self.slots.get(index as usize) {
            Some(slot) => {
                // SAFETY: each index is used by one thread (see `Sync`).
                unsafe { *slot.get() = value };
                kcom::STATUS_SUCCESS
            }
            None => STATUS_INVALID_PARAMETER,
        }
    }
}

impl IPeek for Slots {
    fn slot_count(&self) -> Result<u32, NTSTATUS> {
        Ok(self.slots.len() as u32)
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        let sum: u64 = self.slots.iter_mut().map(|s| *s.get_mut()).sum();
        self.seen.fetch_add(sum as usize, Ordering::SeqCst);
    }
}

implement_com!(Slots: ISlots, IPeek);

#[test]
fn last_release_races_on_many_threads() {
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let rounds = scaled(100, 3);
    // `try_create_in` needs a `'static` allocator: a static one (not a
    // leaked box, which LeakSanitizer would rightly report).
    static BACKING: CountingAlloc = CountingAlloc::new();
    let backing: &'static CountingAlloc = &BACKING;
    let barrier = Barrier::new(THREADS);
    for round in 0..rounds {
        let obj = Slots::try_create_in(
            Slots {
                slots: [const { UnsafeCell::new(0) }; THREADS],
                seen: &SEEN,
            },
            backing,
        )
        .unwrap();
        let refs: Vec<ComRc<ISlotsInterface>> = (0..THREADS).map(|_| obj.clone()).collect();
        drop(obj);
        std::thread::scope(|s| {
            for (t, r) in refs.into_iter().enumerate() {
                let barrier = &barrier;
                s.spawn(move || {
                    assert_eq!(r.put(t as u32, (t + 1) as u64), kcom::STATUS_SUCCESS);
                    // QueryInterface and identity under contention.
                    let peek = r.query_interface::<IPeekInterface>().unwrap();
                    assert_eq!(peek.slot_count(), Ok(THREADS as u32));
                    let unk = peek.query_interface::<IUnknownInterface>().unwrap();
                    assert!(r.same_object(&unk));
                    assert_eq!(
                        unk.query_interface::<kcom_nobody::INobodyInterface>().err(),
                        Some(STATUS_NOINTERFACE)
                    );
                    barrier.wait();
                    // Everyone drops at once: one of them is the last.
                    drop((peek, unk, r));
                });
            }
        });
        let expected: usize = (1..=THREADS).sum();
        assert_eq!(
            SEEN.swap(0, Ordering::SeqCst),
            expected,
            "round {round}: the destructor did not see every thread's write"
        );
        assert_eq!(backing.outstanding(), 0, "round {round}: object not freed");
    }
}

/// An interface no object implements.
mod kcom_nobody {
    use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};
    declare_com_interface! {
        /// Implemented by nobody.
        pub trait INobody: IUnknown + Send + Sync {
            const IID: GUID = kcom::guid!("9b0c51a2-5d7e-4a8e-9a51-0c1f5e2d7aff");
            /// Never called.
            fn nothing(&self) -> NTSTATUS;
        }
    }
}

/// Threads allocate, grow, shrink, verify and free through one `Locked`
/// strategy; a lost update would hand out overlapping blocks.
fn resize_hammer<A: Allocator + Sync>(a: &A, max: usize) {
    let rounds = scaled(4_000, 30);
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                let tag = (t as u8) * 17 + 1;
                let mut live: Vec<(*mut u8, Layout)> = Vec::new();
                for r in 0..rounds {
                    let size = 1 + (r * 7 + t) % max;
                    match r % 4 {
                        0 | 1 => {
                            let l = Layout::from_size_align(size, 8).unwrap();
                            // SAFETY: a valid layout, freed below.
                            let p = unsafe { a.alloc(l) };
                            if !p.is_null() {
                                // SAFETY: a fresh block of `size` bytes.
                                unsafe { p.write_bytes(tag, size) };
                                live.push((p, l));
                            }
                        }
                        2 if !live.is_empty() => {
                            let i = r % live.len();
                            let (p, l) = live[i];
                            let new = Layout::from_size_align(l.size().max(size), 8).unwrap();
                            // SAFETY: a live block with its layout; larger size.
                            let q = unsafe { a.grow(p, l, new) };
                            if !q.is_null() {
                                // SAFETY: the grown block holds `new.size()` bytes,
                                // the first `l.size()` of them kept.
                                let kept = unsafe { core::slice::from_raw_parts(q, l.size()) };
                                assert!(kept.iter().all(|&b| b == tag), "grow lost data");
                                // SAFETY: as above.
                                unsafe { q.write_bytes(tag, new.size()) };
                                live[i] = (q, new);
                            }
                        }
                        _ if !live.is_empty() => {
                            let (p, l) = live.swap_remove(r % live.len());
                            // SAFETY: live block of `l.size()` bytes.
                            let bytes = unsafe { core::slice::from_raw_parts(p, l.size()) };
                            assert!(bytes.iter().all(|&b| b == tag), "block overwritten");
                            let half = Layout::from_size_align(l.size() / 2, 8).unwrap();
                            // SAFETY: live block; smaller size, same align.
                            let q = unsafe { a.shrink(p, l, half) };
                            assert!(!q.is_null());
                            // SAFETY: live block with its latest layout.
                            unsafe { a.dealloc(q, half) };
                        }
                        _ => {}
                    }
                }
                for (p, l) in live {
                    // SAFETY: live block with its layout.
                    unsafe { a.dealloc(p, l) };
                }
            });
        }
    });
}

#[test]
fn locked_strategies_resize_from_many_threads() {
    let backing = CountingAlloc::new();
    {
        let fl = Locked::new(FreeList::with_capacity_in(256 << 10, &backing).unwrap());
        resize_hammer(&fl, 512);
        let g = fl.lock();
        assert_eq!(g.total_allocated(), 0);
        assert_eq!(g.remaining(), g.capacity(), "free list did not coalesce");
    }
    {
        let pool = Locked::new(Pool::with_blocks_in(256, 8 * THREADS * 16, &backing).unwrap());
        resize_hammer(&pool, 200);
        assert_eq!(pool.lock().num_allocated(), 0);
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn locked_stack_keeps_lifo_under_the_guard() {
    // A stack shared between threads stays LIFO when each thread holds the
    // lock across its push/pop pair.
    let backing = CountingAlloc::new();
    let stack = Locked::new(Stack::with_capacity_in(64 << 10, &backing).unwrap());
    let rounds = scaled(4_000, 30);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let stack = &stack;
            s.spawn(move || {
                for r in 0..rounds {
                    let g = stack.lock();
                    let l = Layout::from_size_align(1 + (r + t) % 300, 16).unwrap();
                    // SAFETY: valid layouts; freed in LIFO order below while
                    // the guard is held.
                    unsafe {
                        let a = g.alloc(l);
                        let b = g.alloc(l);
                        assert!(!a.is_null() && !b.is_null());
                        a.write_bytes(1, l.size());
                        b.write_bytes(2, l.size());
                        assert_eq!(*a, 1);
                        g.dealloc(b, l);
                        g.dealloc(a, l);
                    }
                    assert_eq!(g.total_allocated(), 0);
                }
            });
        }
    });
    drop(stack);
    assert_eq!(backing.outstanding(), 0);
}

fn clock() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NOW: AtomicU64 = AtomicU64::new(0);
    NOW.fetch_add(100, Ordering::Relaxed)
}

fn outstanding(tag: u32) -> u64 {
    PoolType::ALL
        .into_iter()
        .map(|p| sim::stats(p, tag).outstanding_allocations)
        .sum()
}

#[test]
fn concurrent_dispatch_of_every_ioctl_with_pool_failures() {
    let state = DeviceState::new(DeviceConfig {
        external_pool_stats: None,
        ..DeviceConfig::new(clock)
    })
    .unwrap();
    let device_blocks = outstanding(tags::DEVICE);
    let registered: Vec<StrategyId> = state.registry().strategies().collect();
    let rounds = scaled(60, 2);
    let stop_faults = AtomicBool::new(false);
    /// Stops the fault thread even if a worker panics (the scope would
    /// otherwise wait for it forever).
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        // One thread keeps planning pool failures on every strategy's tag.
        s.spawn(|| {
            let mut n = 1;
            while !stop_faults.load(Ordering::Relaxed) {
                for strategy in StrategyId::ALL {
                    sim::fail_nth(tags::for_strategy(strategy), None, n % 7 + 1);
                }
                n += 1;
                std::thread::yield_now();
            }
            for strategy in StrategyId::ALL {
                sim::clear_faults(tags::for_strategy(strategy));
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (state, registered) = (&state, &registered);
                s.spawn(move || {
                    let mut out = vec![0u8; 4096];
                    for r in 0..rounds {
                        let strategy = StrategyId::ALL[(t + r) % StrategyId::ALL.len()];
                        let req = RunRequest::new(strategy, 20, 1, 256, (t * 1000 + r) as u64);
                        let mut input = [0u8; RunRequest::SIZE];
                        req.encode(&mut input).unwrap();
                        match dispatch(state, IOCTL_KCOM_RUN_EXERCISE, &input, &mut out) {
                            Ok(n) => {
                                let rep = RunResponse::decode(&out[..n]).unwrap().report;
                                assert_eq!(
                                    rep.checksum,
                                    expected_strategy_checksum(&req.validate().unwrap())
                                );
                                assert_eq!(rep.outstanding, 0);
                            }
                            Err(STATUS_NOT_SUPPORTED) => assert!(!registered.contains(&strategy)),
                            Err(e) => assert_eq!(e, STATUS_INSUFFICIENT_RESOURCES, "{strategy:?}"),
                        }
                        let mut small = [0u8; 8];
                        InfoRequest::new().encode(&mut small).unwrap();
                        let n = dispatch(state, IOCTL_KCOM_GET_INFO, &small, &mut out).unwrap();
                        let view = InfoResponse::decode(&out[..n]).unwrap();
                        assert_eq!(view.strategies().count(), registered.len());
                        PoolStatsRequest::new().encode(&mut small).unwrap();
                        let n = dispatch(state, IOCTL_KCOM_POOL_STATS, &small, &mut out).unwrap();
                        PoolStatsResponse::decode(&out[..n]).unwrap();
                        // Malformed requests from the same threads.
                        for (code, input, out_len) in [
                            (IOCTL_KCOM_GET_INFO, &small[..7], 4096),
                            (IOCTL_KCOM_RUN_EXERCISE, &input[..], 71),
                            (0xDEAD_BEEF, &input[..], 4096),
                        ] {
                            let e = dispatch(state, code, input, &mut out[..out_len]).unwrap_err();
                            assert!(STATUSES.contains(&e), "{e:#x}");
                        }
                    }
                })
            })
            .collect();
        let _stop = Stop(&stop_faults);
        for w in workers {
            w.join().unwrap();
        }
    });
    assert_eq!(state.outstanding_allocations(), 0);
    for strategy in StrategyId::ALL {
        assert_eq!(
            outstanding(tags::for_strategy(strategy)),
            0,
            "{strategy:?} leaked"
        );
    }
    assert_eq!(outstanding(tags::DEVICE), device_blocks);
    drop(state);
    assert_eq!(outstanding(tags::DEVICE), 0);
}
