//! Host-side integration tests for kcom and the sample driver's logic.
//!
//! The tests live in `tests/`; this library holds shared test helpers.

pub mod counting;

use core::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};

use kcom::{Allocator, GlobalAllocator};

/// A backing allocator for tests: forwards to [`GlobalAllocator`], counts
/// what is outstanding, and can be told to fail.
///
/// Thread-safe (atomics), so a `&CountingAlloc` can back strategies used
/// from several threads. Typical use:
///
/// ```
/// use tests_host::CountingAlloc;
/// use kcom::alloc::Pool;
///
/// let backing = CountingAlloc::new();
/// {
///     let pool = Pool::with_blocks_in(32, 4, &backing).unwrap();
///     assert_eq!(backing.outstanding(), 1);
/// }
/// assert_eq!(backing.outstanding(), 0); // the pool gave its region back
///
/// backing.fail_after(0); // every further allocation fails
/// assert!(Pool::with_blocks_in(32, 4, &backing).is_err());
/// ```
#[derive(Debug)]
pub struct CountingAlloc {
    outstanding: AtomicUsize,
    outstanding_bytes: AtomicUsize,
    allocations: AtomicUsize,
    /// Allocations still allowed to succeed; `usize::MAX` = unlimited.
    budget: AtomicUsize,
    last_addr: AtomicUsize,
    last_size: AtomicUsize,
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingAlloc {
    /// A counter with nothing outstanding that never fails.
    pub const fn new() -> Self {
        CountingAlloc {
            outstanding: AtomicUsize::new(0),
            outstanding_bytes: AtomicUsize::new(0),
            allocations: AtomicUsize::new(0),
            budget: AtomicUsize::new(usize::MAX),
            last_addr: AtomicUsize::new(0),
            last_size: AtomicUsize::new(0),
        }
    }

    /// Blocks allocated and not yet freed.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }

    /// Bytes (by layout size) allocated and not yet freed.
    pub fn outstanding_bytes(&self) -> usize {
        self.outstanding_bytes.load(Ordering::SeqCst)
    }

    /// Successful allocations so far (a grow or shrink counts as one).
    pub fn allocations(&self) -> usize {
        self.allocations.load(Ordering::SeqCst)
    }

    /// Address and size of the most recent successful allocation (e.g. the
    /// region a strategy just took), `(0, 0)` before any.
    pub fn last_block(&self) -> (usize, usize) {
        (
            self.last_addr.load(Ordering::SeqCst),
            self.last_size.load(Ordering::SeqCst),
        )
    }

    /// Lets the next `n` allocations succeed and fails every one after.
    pub fn fail_after(&self, n: usize) {
        self.budget.store(n, Ordering::SeqCst);
    }

    /// Stops failing.
    pub fn never_fail(&self) {
        self.budget.store(usize::MAX, Ordering::SeqCst);
    }

    /// Takes one unit of budget; `false` if this allocation must fail.
    fn admit(&self) -> bool {
        self.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
                usize::MAX => Some(b),
                0 => None,
                b => Some(b - 1),
            })
            .is_ok()
    }

    fn track_alloc(&self, p: *mut u8, size: usize) -> *mut u8 {
        if !p.is_null() {
            self.outstanding.fetch_add(1, Ordering::SeqCst);
            self.outstanding_bytes.fetch_add(size, Ordering::SeqCst);
            self.allocations.fetch_add(1, Ordering::SeqCst);
            self.last_addr.store(p.addr(), Ordering::SeqCst);
            self.last_size.store(size, Ordering::SeqCst);
        }
        p
    }

    fn track_free(&self, size: usize) {
        let blocks = self.outstanding.fetch_sub(1, Ordering::SeqCst);
        assert!(blocks > 0, "CountingAlloc: more frees than allocations");
        let bytes = self.outstanding_bytes.fetch_sub(size, Ordering::SeqCst);
        assert!(
            bytes >= size,
            "CountingAlloc: freed more bytes than allocated"
        );
    }
}

// SAFETY: every block comes from `GlobalAllocator`, which upholds the
// contract; the counters do not affect the blocks.
unsafe impl Allocator for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        self.track_alloc(unsafe { GlobalAllocator.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        self.track_alloc(
            unsafe { GlobalAllocator.alloc_zeroed(layout) },
            layout.size(),
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.track_free(layout.size());
        // SAFETY: forwarded contract.
        unsafe { GlobalAllocator.dealloc(ptr, layout) }
    }

    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        let p = unsafe { GlobalAllocator.grow(ptr, old_layout, new_layout) };
        if !p.is_null() {
            self.outstanding_bytes
                .fetch_add(new_layout.size() - old_layout.size(), Ordering::SeqCst);
            self.allocations.fetch_add(1, Ordering::SeqCst);
        }
        p
    }

    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { GlobalAllocator.shrink(ptr, old_layout, new_layout) };
        if !p.is_null() {
            self.outstanding_bytes
                .fetch_sub(old_layout.size() - new_layout.size(), Ordering::SeqCst);
            self.allocations.fetch_add(1, Ordering::SeqCst);
        }
        p
    }
}
