//! The simulated kernel pool behind `WdkAllocator` on the host: accounting
//! per (pool, tag), fault injection, misuse detection and the alignment
//! rules shared with driver builds.
//!
//! Every test uses its own tag: tests run on parallel threads and the
//! simulation keeps its state per tag.

use core::alloc::Layout;

use kcom::alloc::sim::{self, PoolStats};
use kcom::alloc::{Allocator, MEMORY_ALLOCATION_ALIGNMENT, PoolType, WdkAllocator};

const fn tag(t: &[u8; 4]) -> u32 {
    WdkAllocator::tag(*t)
}

fn bytes(layout: Layout) -> u64 {
    WdkAllocator::pool_request_size(layout).expect("servable layout") as u64
}

#[test]
fn accounting_per_tag_and_pool() {
    const T: u32 = tag(b"Acc1");
    let np = WdkAllocator::non_paged(T);
    let pg = WdkAllocator::paged(T);
    let l24 = Layout::from_size_align(24, 8).unwrap();
    let l100 = Layout::from_size_align(100, 4).unwrap();
    let l7 = Layout::from_size_align(7, 1).unwrap();

    // SAFETY: every block is freed below with the allocator and layout it
    // was allocated with.
    unsafe {
        let a = np.alloc(l24);
        let b = np.alloc(l100);
        let c = pg.alloc(l7);
        assert!(!a.is_null() && !b.is_null() && !c.is_null());

        let s = sim::stats(PoolType::NonPagedNx, T);
        assert_eq!(s.outstanding_allocations, 2);
        assert_eq!(s.outstanding_bytes, bytes(l24) + bytes(l100));
        assert_eq!(s.peak_bytes, bytes(l24) + bytes(l100));
        assert_eq!(s.total_allocations, 2);
        assert_eq!(s.total_frees, 0);
        let p = sim::stats(PoolType::Paged, T);
        assert_eq!(
            (p.outstanding_allocations, p.outstanding_bytes),
            (1, bytes(l7))
        );

        np.dealloc(b, l100);
        let s = sim::stats(PoolType::NonPagedNx, T);
        assert_eq!(s.outstanding_allocations, 1);
        assert_eq!(s.outstanding_bytes, bytes(l24));
        assert_eq!(
            s.peak_bytes,
            bytes(l24) + bytes(l100),
            "peak survives frees"
        );
        assert_eq!(s.total_frees, 1);

        np.dealloc(a, l24);
        pg.dealloc(c, l7);
    }
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!((s.outstanding_allocations, s.outstanding_bytes), (0, 0));
    assert_eq!(
        (s.total_allocations, s.total_frees, s.failed_allocations),
        (2, 2, 0)
    );
    assert_eq!(sim::stats(PoolType::Paged, T).outstanding_allocations, 0);

    // Other tags saw nothing of this.
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, tag(b"Acc0")),
        PoolStats::default()
    );

    let snap = sim::snapshot();
    let e = snap
        .get(PoolType::NonPagedNx, T)
        .expect("tag listed in snapshot");
    assert_eq!(e.stats.total_allocations, 2);
    assert!(snap.get(PoolType::Paged, T).is_some());

    sim::reset_counters(T);
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!(s, PoolStats::default());
    assert!(sim::forget_tag(T));
}

#[test]
fn zero_size_is_served_as_one_byte() {
    const T: u32 = tag(b"Zer1");
    let a = WdkAllocator::non_paged(T);
    let l = Layout::from_size_align(0, 8).unwrap();
    // SAFETY: freed below with the same layout.
    let p = unsafe { a.alloc(l) };
    assert!(!p.is_null());
    assert_eq!(p as usize % 8, 0);
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_bytes,
        bytes(l)
    );
    if !WdkAllocator::VALIDATES_LAYOUT {
        assert_eq!(bytes(l), 1);
    }
    // SAFETY: allocated above with `l`.
    unsafe { a.dealloc(p, l) };
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );
}

#[test]
fn alloc_zeroed_is_zeroed_and_blocks_are_usable() {
    const T: u32 = tag(b"Zrd1");
    let a = WdkAllocator::paged(T);
    let l = Layout::from_size_align(333, 16).unwrap();
    for _ in 0..3 {
        // SAFETY: freed below with the same layout.
        let p = unsafe { a.alloc_zeroed(l) };
        assert!(!p.is_null());
        assert_eq!(p as usize % MEMORY_ALLOCATION_ALIGNMENT, 0);
        // SAFETY: the block holds `l.size()` bytes.
        let s = unsafe { core::slice::from_raw_parts_mut(p, l.size()) };
        assert!(s.iter().all(|&b| b == 0));
        s.fill(0xA5);
        // SAFETY: allocated above with `l`.
        unsafe { a.dealloc(p, l) };
    }
    assert_eq!(sim::stats(PoolType::Paged, T).total_allocations, 3);
}

#[test]
fn grow_and_shrink_keep_contents_and_accounting() {
    const T: u32 = tag(b"Grw1");
    let a = WdkAllocator::non_paged(T);
    let small = Layout::from_size_align(8, 8).unwrap();
    let big = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: each step follows the grow/shrink contract; freed at the end.
    unsafe {
        let p = a.alloc(small);
        assert!(!p.is_null());
        p.copy_from_nonoverlapping([1u8, 2, 3, 4, 5, 6, 7, 8].as_ptr(), 8);
        let q = a.grow_zeroed(p, small, big);
        assert!(!q.is_null());
        assert_eq!(core::slice::from_raw_parts(q, 8), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(
            core::slice::from_raw_parts(q.add(8), 56)
                .iter()
                .all(|&b| b == 0)
        );
        assert_eq!(
            sim::stats(PoolType::NonPagedNx, T).outstanding_bytes,
            bytes(big)
        );
        let r = a.shrink(q, big, small);
        assert!(!r.is_null());
        assert_eq!(core::slice::from_raw_parts(r, 8), &[1, 2, 3, 4, 5, 6, 7, 8]);
        a.dealloc(r, small);
    }
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!(
        (
            s.outstanding_allocations,
            s.total_allocations,
            s.total_frees
        ),
        (0, 3, 3)
    );
}

#[test]
fn fail_nth_fails_exactly_that_attempt_once() {
    const T: u32 = tag(b"Nth1");
    let a = WdkAllocator::non_paged(T);
    let l = Layout::new::<u64>();
    sim::fail_nth(T, None, 3);
    // SAFETY: non-null blocks are freed below with the same layout.
    let got: Vec<*mut u8> = (0..5).map(|_| unsafe { a.alloc(l) }).collect();
    let nulls: Vec<bool> = got.iter().map(|p| p.is_null()).collect();
    assert_eq!(nulls, [false, false, true, false, false]);
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!(
        (
            s.total_allocations,
            s.failed_allocations,
            s.outstanding_allocations
        ),
        (4, 1, 4)
    );
    for p in got.into_iter().filter(|p| !p.is_null()) {
        // SAFETY: allocated above with `l`.
        unsafe { a.dealloc(p, l) };
    }
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );
}

#[test]
fn fail_nth_with_pool_filter_counts_only_that_pool() {
    const T: u32 = tag(b"Nth2");
    let np = WdkAllocator::non_paged(T);
    let pg = WdkAllocator::paged(T);
    let l = Layout::new::<u32>();
    sim::fail_nth(T, Some(PoolType::Paged), 2);
    // SAFETY: blocks freed right away with the same allocator and layout.
    unsafe {
        for _ in 0..4 {
            let p = np.alloc(l);
            assert!(
                !p.is_null(),
                "non-paged attempts are neither counted nor failed"
            );
            np.dealloc(p, l);
        }
        let p1 = pg.alloc(l);
        let p2 = pg.alloc(l);
        let p3 = pg.alloc(l);
        assert!(!p1.is_null() && p2.is_null() && !p3.is_null());
        pg.dealloc(p1, l);
        pg.dealloc(p3, l);
    }
    assert_eq!(sim::stats(PoolType::Paged, T).failed_allocations, 1);
    assert_eq!(sim::stats(PoolType::NonPagedNx, T).failed_allocations, 0);
}

#[test]
fn fail_nth_zero_cancels_and_clear_faults_resets() {
    const T: u32 = tag(b"Nth3");
    let a = WdkAllocator::non_paged(T);
    let l = Layout::new::<u8>();
    sim::fail_nth(T, None, 1);
    sim::fail_nth(T, None, 0);
    sim::fail_all(T, Some(PoolType::Paged), true);
    // SAFETY: freed right away.
    unsafe {
        let p = a.alloc(l);
        assert!(!p.is_null(), "cancelled plan; paged-only fail_all");
        a.dealloc(p, l);
    }
    sim::fail_all(T, None, true);
    sim::clear_faults(T);
    // SAFETY: freed right away.
    unsafe {
        let p = a.alloc(l);
        assert!(!p.is_null());
        a.dealloc(p, l);
    }
}

#[test]
fn fail_all_fails_until_turned_off_and_only_for_its_tag() {
    const T: u32 = tag(b"All1");
    const OTHER: u32 = tag(b"All2");
    let a = WdkAllocator::non_paged(T);
    let other = WdkAllocator::non_paged(OTHER);
    let l = Layout::new::<[u8; 48]>();
    sim::fail_all(T, None, true);
    // SAFETY: non-null blocks are freed right away.
    unsafe {
        for _ in 0..10 {
            assert!(a.alloc(l).is_null());
            assert!(a.alloc_zeroed(l).is_null());
            let p = other.alloc(l);
            assert!(!p.is_null());
            other.dealloc(p, l);
        }
    }
    assert_eq!(sim::stats(PoolType::NonPagedNx, T).failed_allocations, 20);
    assert_eq!(sim::stats(PoolType::NonPagedNx, T).total_allocations, 0);
    sim::fail_all(T, None, false);
    // SAFETY: freed right away.
    unsafe {
        let p = a.alloc(l);
        assert!(!p.is_null());
        a.dealloc(p, l);
    }
}

#[test]
fn parallel_tags_do_not_interfere() {
    let threads = if cfg!(miri) { 3 } else { 8 };
    let rounds = if cfg!(miri) { 10 } else { 500 };
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            std::thread::spawn(move || {
                let t = tag(&[b'P', b'a', b'r', b'0' + i as u8]);
                let a = WdkAllocator::non_paged(t);
                let l = Layout::from_size_align(16 + i, 8).unwrap();
                // Odd threads fail everything; even threads fail every 7th.
                if i % 2 == 1 {
                    sim::fail_all(t, None, true);
                }
                let mut ok = 0u64;
                let mut failed = 0u64;
                for r in 0..rounds {
                    if i % 2 == 0 && r % 7 == 0 {
                        sim::fail_nth(t, None, 1);
                    }
                    // SAFETY: freed right away with the same layout.
                    let p = unsafe { a.alloc(l) };
                    if p.is_null() {
                        failed += 1;
                    } else {
                        ok += 1;
                        // SAFETY: allocated above with `l`.
                        unsafe { a.dealloc(p, l) };
                    }
                }
                let s = sim::stats(PoolType::NonPagedNx, t);
                assert_eq!(s.total_allocations, ok);
                assert_eq!(s.failed_allocations, failed);
                assert_eq!(s.outstanding_allocations, 0);
                if i % 2 == 1 {
                    assert_eq!(ok, 0);
                } else {
                    assert_eq!(failed, (rounds as u64).div_ceil(7));
                }
                sim::clear_faults(t);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn huge_requests_fail_cleanly() {
    const T: u32 = tag(b"Big1");
    let a = WdkAllocator::non_paged(T);
    let l = Layout::from_size_align(isize::MAX as usize - 15, 16).unwrap();
    // SAFETY: a valid layout; a null result needs no free.
    let p = unsafe { a.alloc(l) };
    assert!(p.is_null());
    let s = sim::stats(PoolType::NonPagedNx, T);
    assert_eq!((s.failed_allocations, s.outstanding_allocations), (1, 0));
}

#[test]
fn alignment_up_to_memory_allocation_alignment_is_native() {
    const T: u32 = tag(b"Aln1");
    let a = WdkAllocator::non_paged(T);
    let mut align = 1;
    while align <= MEMORY_ALLOCATION_ALIGNMENT {
        let l = Layout::from_size_align(40, align).unwrap();
        // SAFETY: freed right away.
        unsafe {
            let p = a.alloc(l);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            a.dealloc(p, l);
        }
        align *= 2;
    }
}

#[test]
fn over_aligned_requests_return_null_without_the_feature() {
    // Depends on how kcom was built (feature unification decides).
    if WdkAllocator::SUPPORTS_OVER_ALIGNMENT {
        return;
    }
    const T: u32 = tag(b"Aln2");
    let a = WdkAllocator::non_paged(T);
    for align in [32, 64, 4096] {
        let l = Layout::from_size_align(8, align).unwrap();
        assert_eq!(WdkAllocator::pool_request_size(l), None);
        // SAFETY: valid layouts; null needs no free.
        unsafe {
            assert!(a.alloc(l).is_null());
            assert!(a.alloc_zeroed(l).is_null());
        }
    }
    // Refused before reaching the pool: nothing was requested.
    assert_eq!(sim::stats(PoolType::NonPagedNx, T), PoolStats::default());
}

#[test]
fn over_aligned_requests_are_aligned_and_freed_with_the_feature() {
    // Depends on how kcom was built (feature unification decides).
    if !WdkAllocator::SUPPORTS_OVER_ALIGNMENT {
        return;
    }
    const T: u32 = tag(b"Aln3");
    let a = WdkAllocator::paged(T);
    let aligns: &[usize] = if cfg!(miri) {
        &[32, 4096]
    } else {
        &[32, 64, 128, 256, 4096, 65536]
    };
    for &align in aligns {
        for size in [0usize, 1, 31, 32, 100] {
            let l = Layout::from_size_align(size, align).unwrap();
            // SAFETY: freed below with the same layout.
            unsafe {
                let p = a.alloc_zeroed(l);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "align {align} size {size}");
                assert!(core::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                p.write_bytes(0x5A, size);
                assert_eq!(sim::stats(PoolType::Paged, T).outstanding_bytes, bytes(l));
                a.dealloc(p, l);
            }
        }
    }
    let s = sim::stats(PoolType::Paged, T);
    assert_eq!((s.outstanding_allocations, s.outstanding_bytes), (0, 0));
    assert_eq!(s.total_allocations, s.total_frees);
}

#[test]
fn over_aligned_grow_keeps_alignment_and_contents() {
    // Depends on how kcom was built (feature unification decides).
    if !WdkAllocator::SUPPORTS_OVER_ALIGNMENT {
        return;
    }
    const T: u32 = tag(b"Aln4");
    let a = WdkAllocator::non_paged(T);
    let l1 = Layout::from_size_align(16, 64).unwrap();
    let l2 = Layout::from_size_align(200, 64).unwrap();
    // SAFETY: grow contract upheld; freed with the latest layout.
    unsafe {
        let p = a.alloc(l1);
        assert!(!p.is_null());
        p.copy_from_nonoverlapping([7u8; 16].as_ptr(), 16);
        let q = a.grow(p, l1, l2);
        assert!(!q.is_null());
        assert_eq!(q as usize % 64, 0);
        assert_eq!(core::slice::from_raw_parts(q, 16), &[7u8; 16]);
        a.dealloc(q, l2);
    }
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );
}

/// Runs `f`, expecting a panic whose message contains `expected`.
fn expect_panic(expected: &str, f: impl FnOnce()) {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("must panic");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        msg.contains(expected),
        "panic message {msg:?} lacks {expected:?}"
    );
}

#[test]
fn debug_header_catches_a_mismatched_layout() {
    // Depends on how kcom was built (feature unification decides).
    if !WdkAllocator::VALIDATES_LAYOUT {
        return;
    }
    const T: u32 = tag(b"Aln5");
    let a = WdkAllocator::non_paged(T);
    let l = Layout::from_size_align(32, 8).unwrap();
    // SAFETY: freed with the right layout at the end.
    let p = unsafe { a.alloc(l) };
    assert!(!p.is_null());
    expect_panic("layout mismatch", || {
        // SAFETY: deliberately violates the contract with a different
        // size; the header check fires before anything is freed.
        unsafe { a.dealloc(p, Layout::from_size_align(64, 8).unwrap()) }
    });
    expect_panic("layout mismatch", || {
        // SAFETY: as above, with a different alignment.
        unsafe { a.dealloc(p, Layout::from_size_align(32, 16).unwrap()) }
    });
    // The refused frees left the block intact.
    // SAFETY: allocated above with `l`.
    unsafe { a.dealloc(p, l) };
    assert_eq!(
        sim::stats(PoolType::NonPagedNx, T).outstanding_allocations,
        0
    );
}

#[test]
fn freeing_with_another_tag_or_pool_is_caught() {
    const T: u32 = tag(b"Bad1");
    let l = Layout::new::<u64>();
    let a = WdkAllocator::paged(T);
    // SAFETY: freed with the right allocator at the end.
    let p = unsafe { a.alloc(l) };
    assert!(!p.is_null());
    expect_panic("BAD_POOL_CALLER", || {
        // SAFETY: deliberately frees with the wrong tag; the simulation
        // checks the block header before freeing anything.
        unsafe { WdkAllocator::paged(tag(b"Bad2")).dealloc(p, l) }
    });
    expect_panic("BAD_POOL_CALLER", || {
        // SAFETY: deliberately frees to the wrong pool type; caught the
        // same way.
        unsafe { WdkAllocator::non_paged(T).dealloc(p, l) }
    });
    assert_eq!(sim::stats(PoolType::Paged, T).outstanding_allocations, 1);
    // SAFETY: allocated above by `a` with `l`.
    unsafe { a.dealloc(p, l) };
    assert_eq!(sim::stats(PoolType::Paged, T).outstanding_allocations, 0);
    assert_eq!(
        sim::stats(PoolType::Paged, tag(b"Bad2")),
        PoolStats::default()
    );
}

#[test]
fn tag_helpers() {
    assert_eq!(WdkAllocator::tag(*b"kcom"), kcom::GlobalAllocator::TAG);
    assert_eq!(
        format!("{}", sim::TagName(WdkAllocator::tag(*b"Ab1 "))),
        "Ab1 "
    );
    assert_eq!(format!("{}", sim::TagName(0x0102_0304)), "0x01020304");
    assert_eq!(PoolType::Paged.pool_flags(), 0x100);
    assert_eq!(PoolType::NonPagedNx.pool_flags(), 0x40);
    assert!(kcom::init_ex_allocate_pool2());
}
