//! Test allocators and drop trackers.

use core::alloc::Layout;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kcom::alloc::{Allocator, GlobalAllocator};

/// A backing allocator for tests: forwards to [`GlobalAllocator`], records
/// every live block, can be told to fail, and panics on a `dealloc` that
/// does not match a live block exactly (pointer and layout), the way Driver
/// Verifier's pool tracking would.
///
/// Thread-safe, so a `&CountingAlloc` can back strategies used from several
/// threads.
///
/// ```
/// use kcom::alloc::Pool;
/// use tests_host::CountingAlloc;
///
/// let backing = CountingAlloc::new();
/// {
///     let pool = Pool::with_blocks_in(32, 4, &backing).unwrap();
///     assert_eq!(backing.outstanding(), 1);
///     # drop(pool);
/// }
/// assert_eq!(backing.outstanding(), 0);
/// ```
#[derive(Debug)]
pub struct CountingAlloc {
    live: Mutex<Vec<(Block, Layout)>>,
    last: Mutex<(usize, usize)>,
    allocations: AtomicUsize,
    deallocs: AtomicUsize,
    /// Allocations still allowed to succeed (`usize::MAX`: unlimited).
    budget: AtomicUsize,
}

impl Default for CountingAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl CountingAlloc {
    /// A fresh allocator with no blocks that never fails.
    pub const fn new() -> Self {
        CountingAlloc {
            live: Mutex::new(Vec::new()),
            last: Mutex::new((0, 0)),
            allocations: AtomicUsize::new(0),
            deallocs: AtomicUsize::new(0),
            budget: AtomicUsize::new(usize::MAX),
        }
    }

    /// Lets `n` more allocations (or grows/shrinks) succeed, then fails
    /// every one.
    pub fn fail_after(&self, n: usize) {
        self.budget.store(n, Ordering::SeqCst);
    }

    /// Lets every allocation succeed again.
    pub fn never_fail(&self) {
        self.budget.store(usize::MAX, Ordering::SeqCst);
    }

    /// Makes every following allocation fail (`true`) or succeed.
    pub fn set_fail(&self, fail: bool) {
        if fail {
            self.fail_after(0);
        } else {
            self.never_fail();
        }
    }

    /// Successful allocations so far (grows and shrinks that moved or
    /// resized a block count too).
    pub fn allocations(&self) -> usize {
        self.allocations.load(Ordering::SeqCst)
    }

    /// Deallocations so far.
    pub fn deallocs(&self) -> usize {
        self.deallocs.load(Ordering::SeqCst)
    }

    /// Blocks allocated and not freed yet.
    pub fn outstanding(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    /// Bytes of the blocks allocated and not freed yet.
    pub fn outstanding_bytes(&self) -> usize {
        self.live
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.size())
            .sum()
    }

    /// The live blocks, as (address, layout).
    pub fn live(&self) -> Vec<(usize, Layout)> {
        self.live
            .lock()
            .unwrap()
            .iter()
            .map(|&(b, l)| (b.0.addr(), l))
            .collect()
    }

    /// Address and size of the most recent successful allocation.
    pub fn last_block(&self) -> (usize, usize) {
        *self.last.lock().unwrap()
    }

    /// Frees every block still live (for tests that leak on purpose);
    /// returns how many there were.
    pub fn release_leaked(&self) -> usize {
        let blocks = std::mem::take(&mut *self.live.lock().unwrap());
        for &(b, l) in &blocks {
            // SAFETY: a live block allocated by `alloc` with `l`, removed
            // from the list so it is freed once.
            unsafe { GlobalAllocator.dealloc(b.0, l) };
        }
        blocks.len()
    }

    fn admit(&self) -> bool {
        self.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
                usize::MAX => Some(b),
                0 => None,
                b => Some(b - 1),
            })
            .is_ok()
    }

    fn record(&self, p: *mut u8, layout: Layout) -> *mut u8 {
        if !p.is_null() {
            self.allocations.fetch_add(1, Ordering::SeqCst);
            self.live.lock().unwrap().push((Block(p), layout));
            *self.last.lock().unwrap() = (p.addr(), layout.size());
        }
        p
    }

    /// Removes a live block, checking that `layout` is the one it has.
    fn forget(&self, ptr: *mut u8, layout: Layout) {
        let mut live = self.live.lock().unwrap();
        let Some(i) = live.iter().position(|&(b, _)| b.0 == ptr) else {
            panic!("CountingAlloc: free of unknown pointer {ptr:p}");
        };
        assert_eq!(
            live[i].1, layout,
            "CountingAlloc: free with a different layout than the allocation"
        );
        live.swap_remove(i);
    }
}

// SAFETY: every block comes from `GlobalAllocator`, which upholds the
// contract; the bookkeeping does not touch the blocks.
unsafe impl Allocator for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        self.record(unsafe { GlobalAllocator.alloc(layout) }, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        self.record(unsafe { GlobalAllocator.alloc_zeroed(layout) }, layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.forget(ptr, layout);
        self.deallocs.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `ptr` is a live block allocated above with `layout`.
        unsafe { GlobalAllocator.dealloc(ptr, layout) }
    }

    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        self.forget(ptr, old_layout);
        // SAFETY: forwarded contract; `ptr` was live with `old_layout`.
        let p = unsafe { GlobalAllocator.grow(ptr, old_layout, new_layout) };
        if p.is_null() {
            // The old block stays allocated.
            self.live.lock().unwrap().push((Block(ptr), old_layout));
            return p;
        }
        self.record(p, new_layout)
    }

    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        if !self.admit() {
            return core::ptr::null_mut();
        }
        self.forget(ptr, old_layout);
        // SAFETY: forwarded contract; `ptr` was live with `old_layout`.
        let p = unsafe { GlobalAllocator.shrink(ptr, old_layout, new_layout) };
        if p.is_null() {
            self.live.lock().unwrap().push((Block(ptr), old_layout));
            return p;
        }
        self.record(p, new_layout)
    }
}

/// A live block (kept as a pointer, not an address, so it can still be
/// freed with its provenance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block(*mut u8);
// SAFETY: only compared and handed back to `GlobalAllocator`, which is
// thread-safe.
unsafe impl Send for Block {}

/// Counts how many times values holding it were dropped.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }
    /// A value that bumps this counter when dropped.
    pub fn track(&self) -> Tracked {
        Tracked(self.0.clone())
    }
    /// Drops so far.
    pub fn drops(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Bumps its [`DropCounter`] when dropped.
#[derive(Debug)]
pub struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
