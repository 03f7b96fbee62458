//! Test allocators and drop trackers for `KBox`/`InitBox` tests.

use core::alloc::Layout;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kcom::alloc::{Allocator, GlobalAllocator};

/// Wraps [`GlobalAllocator`], records every live block, can be told to
/// fail, and panics on a `dealloc` that does not match a live block
/// exactly (pointer and layout).
#[derive(Debug, Default)]
pub struct CountingAlloc {
    live: Mutex<Vec<(Block, Layout)>>,
    allocs: AtomicUsize,
    deallocs: AtomicUsize,
    fail: AtomicBool,
}

impl CountingAlloc {
    /// A fresh allocator with no blocks.
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes every following allocation fail (`true`) or succeed.
    pub fn set_fail(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
    /// Successful allocations so far.
    pub fn allocs(&self) -> usize {
        self.allocs.load(Ordering::SeqCst)
    }
    /// Deallocations so far.
    pub fn deallocs(&self) -> usize {
        self.deallocs.load(Ordering::SeqCst)
    }
    /// Blocks allocated and not freed yet.
    pub fn live(&self) -> Vec<(usize, Layout)> {
        self.live
            .lock()
            .unwrap()
            .iter()
            .map(|&(b, l)| (b.0 as usize, l))
            .collect()
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
}

// SAFETY: forwards to `GlobalAllocator`; the bookkeeping does not touch the
// blocks.
unsafe impl Allocator for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.fail.load(Ordering::SeqCst) {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        let p = unsafe { GlobalAllocator.alloc(layout) };
        if !p.is_null() {
            self.allocs.fetch_add(1, Ordering::SeqCst);
            self.live.lock().unwrap().push((Block(p), layout));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        {
            let mut live = self.live.lock().unwrap();
            let Some(i) = live.iter().position(|&(b, _)| b.0 == ptr) else {
                panic!("CountingAlloc: dealloc of unknown pointer {ptr:p}");
            };
            assert_eq!(
                live[i].1, layout,
                "CountingAlloc: dealloc with a different layout"
            );
            live.swap_remove(i);
        }
        self.deallocs.fetch_add(1, Ordering::SeqCst);
        // SAFETY: `ptr` is a live block allocated above with `layout`.
        unsafe { GlobalAllocator.dealloc(ptr, layout) }
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
