//! `Locked<A>` shares a strategy between threads: several threads allocate,
//! fill, verify and free through one `&Locked<Pool>` / `&Locked<FreeList>`;
//! any lost update in the strategy would hand out overlapping blocks and
//! break a pattern, or leave the statistics off.

use core::alloc::Layout;

use kcom::Allocator;
use kcom::alloc::{Bump, FreeList, Locked, Pool, Stack};
use tests_host::CountingAlloc;

const THREADS: usize = 4;

fn rounds() -> usize {
    if cfg!(miri) { 20 } else { 200_000 }
}

/// Each thread keeps up to 8 live blocks tagged with its id and a counter,
/// checks every byte before freeing, and frees everything at the end.
fn hammer<A: Allocator + Sync>(a: &A, sizes: &[usize], may_fail: bool) {
    let start = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let start = &start;
            scope.spawn(move || {
                // Start together so the threads really contend.
                start.wait();
                let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
                let mut failures = 0usize;
                for r in 0..rounds() {
                    let tag = (t * 61 + r) as u8 | 1;
                    if live.len() == 8 || (r % 3 == 2 && !live.is_empty()) {
                        let (p, l, tag) = live.swap_remove(r % live.len());
                        // SAFETY: `p` is live with `l` bytes, written below.
                        let bytes = unsafe { core::slice::from_raw_parts(p, l.size()) };
                        assert!(
                            bytes.iter().all(|&b| b == tag),
                            "thread {t}: block overwritten"
                        );
                        // SAFETY: `p` was allocated from `a` with `l`.
                        unsafe { a.dealloc(p, l) };
                    } else {
                        let l = Layout::from_size_align(sizes[r % sizes.len()], 8).unwrap();
                        // SAFETY: valid layout; freed above or below with it.
                        let p = unsafe { a.alloc(l) };
                        if p.is_null() {
                            failures += 1;
                            continue;
                        }
                        // SAFETY: a fresh block of `l.size()` bytes.
                        unsafe { p.write_bytes(tag, l.size()) };
                        live.push((p, l, tag));
                    }
                }
                for (p, l, tag) in live {
                    // SAFETY: as above.
                    let bytes = unsafe { core::slice::from_raw_parts(p, l.size()) };
                    assert!(
                        bytes.iter().all(|&b| b == tag),
                        "thread {t}: block overwritten"
                    );
                    // SAFETY: as above.
                    unsafe { a.dealloc(p, l) };
                }
                if may_fail {
                    assert!(failures < rounds(), "thread {t}: no allocation succeeded");
                } else {
                    assert_eq!(failures, 0, "thread {t}: allocations failed");
                }
            });
        }
    });
}

#[test]
fn locked_pool_across_threads() {
    let backing = CountingAlloc::new();
    {
        // 4 threads x 8 live blocks fit exactly: no allocation may fail.
        let pool = Locked::new(Pool::with_blocks_in(64, THREADS * 8, &backing).unwrap());
        hammer(&pool, &[64, 1, 33, 8], false);
        let g = pool.lock();
        assert_eq!(g.num_allocated(), 0);
        assert_eq!(g.num_free_blocks(), THREADS * 8);
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn locked_free_list_across_threads() {
    let backing = CountingAlloc::new();
    {
        let fl = Locked::new(FreeList::with_capacity_in(64 * 1024, &backing).unwrap());
        hammer(&fl, &[24, 120, 7, 56, 64], true);
        let g = fl.lock();
        assert_eq!(g.total_allocated(), 0);
        assert_eq!(g.remaining(), g.capacity());
    }
    assert_eq!(backing.outstanding(), 0);
}

#[test]
fn locked_bump_and_stack_are_sync_too() {
    fn assert_sync<T: Sync>(_: &T) {}
    let bump = Locked::new(Bump::with_capacity_in(1024, kcom::GlobalAllocator).unwrap());
    let mut stack = Locked::new(Stack::with_capacity_in(1024, kcom::GlobalAllocator).unwrap());
    assert_sync(&bump);
    assert_sync(&stack);
    let l = Layout::new::<u64>();
    // SAFETY: valid layout; the block is popped below.
    let p = unsafe { stack.alloc(l) };
    assert!(!p.is_null());
    assert!(stack.get_mut().pop());
    assert_eq!(stack.lock().total_allocated(), 0);
    // SAFETY: valid layout; the bump frees on drop.
    assert!(!unsafe { bump.alloc(l) }.is_null());
}

#[test]
fn spin_lock_gives_mutual_exclusion() {
    use std::cell::Cell;
    // A read-modify-write with a widened window: without mutual exclusion
    // concurrent increments get lost.
    let n = if cfg!(miri) { 50 } else { 100_000 };
    let counter = Locked::new(Cell::new(0u64));
    let start = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                for _ in 0..n {
                    let g = counter.lock();
                    let v = g.get();
                    for _ in 0..8 {
                        std::hint::spin_loop();
                    }
                    g.set(v + 1);
                }
            });
        }
    });
    assert_eq!(counter.into_inner().get(), THREADS as u64 * n);
}
