//! [`Tracked`]: an allocator wrapper that counts what passes through it.
//!
//! Every exercise allocates through one: its own [`Counters`] count the run
//! (they become the report), and the exercise object's counters, if given,
//! see the same events (they become its `POOL_STATS` entry). The wrapper
//! adds no allocation of its own, so it behaves the same in the driver and
//! on the host, and it is `Sync` whenever the inner allocator is (the async
//! exercise shares one with worker threads).

use core::alloc::Layout;

use kcom::Allocator;

use crate::counters::{Counters, Counts};

/// An allocator that counts its traffic into its own [`Counters`] and
/// mirrors it into the device's (if given).
#[derive(Debug)]
pub struct Tracked<'a, A> {
    inner: A,
    run: Counters,
    device: Option<&'a Counters>,
}

impl<'a, A: Allocator> Tracked<'a, A> {
    /// Wraps `inner`; `device` sees the same events.
    pub fn new(inner: A, device: Option<&'a Counters>) -> Self {
        Tracked {
            inner,
            run: Counters::new(),
            device,
        }
    }

    /// What passed through this wrapper so far.
    pub fn counts(&self) -> Counts {
        self.run.counts()
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Records one event in the run's counters and the device's.
    fn record(&self, event: impl Fn(&Counters)) {
        event(&self.run);
        if let Some(device) = self.device {
            event(device);
        }
    }

    /// Records the result `p` of an allocation of `size` bytes.
    fn allocated(&self, p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            self.record(Counters::on_failure);
        } else {
            self.record(|c| c.on_alloc(size as u64));
        }
        p
    }

    /// Records the result `p` of a resize from `old` to `new` bytes.
    fn resized(&self, p: *mut u8, old: usize, new: usize) -> *mut u8 {
        if p.is_null() {
            self.record(Counters::on_failure);
        } else {
            self.record(|c| c.on_resize(old as u64, new as u64));
        }
        p
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments and
// returns its result unchanged; the bookkeeping only reads sizes and
// pointers' nullness, so `inner`'s guarantees are `Tracked`'s.
unsafe impl<A: Allocator> Allocator for Tracked<'_, A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        self.allocated(unsafe { self.inner.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        self.allocated(unsafe { self.inner.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.record(|c| c.on_free(layout.size() as u64));
        // SAFETY: forwarded contract: `ptr` came from `inner` with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn grow(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.grow(ptr, old_layout, new_layout) };
        self.resized(p, old_layout.size(), new_layout.size())
    }

    unsafe fn grow_zeroed(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.grow_zeroed(ptr, old_layout, new_layout) };
        self.resized(p, old_layout.size(), new_layout.size())
    }

    unsafe fn shrink(&self, ptr: *mut u8, old_layout: Layout, new_layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { self.inner.shrink(ptr, old_layout, new_layout) };
        self.resized(p, old_layout.size(), new_layout.size())
    }

    fn max_align(&self) -> usize {
        self.inner.max_align()
    }

    fn pageable(&self) -> bool {
        self.inner.pageable()
    }
}

#[cfg(test)]
mod tests {
    use core::ptr;

    use kcom::GlobalAllocator;

    use super::*;

    #[test]
    fn tracked_counts_resizes_and_mirrors_into_the_device() {
        let device = Counters::new();
        let t = Tracked::new(GlobalAllocator, Some(&device));
        let l8 = Layout::from_size_align(8, 8).unwrap();
        let l32 = Layout::from_size_align(32, 8).unwrap();
        // SAFETY: blocks are used within their layouts and freed once with
        // their latest layout.
        unsafe {
            let p = t.alloc_zeroed(l8);
            assert!(!p.is_null());
            let p = t.grow(p, l8, l32);
            assert!(!p.is_null());
            let p = t.shrink(p, l32, l8);
            assert!(!p.is_null());
            t.dealloc(p, l8);
        }
        let s = t.counts();
        assert_eq!(
            (s.allocations, s.frees, s.outstanding, s.live_bytes),
            (1, 1, 0, 0)
        );
        assert_eq!((s.bytes, s.peak_bytes), (32, 32));
        assert_eq!(device.counts(), s);
    }

    #[test]
    fn failures_are_counted_and_nothing_else() {
        /// Refuses everything.
        struct Never;
        // SAFETY: never hands out memory.
        unsafe impl Allocator for Never {
            unsafe fn alloc(&self, _: Layout) -> *mut u8 {
                ptr::null_mut()
            }
            unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
                unreachable!("nothing was allocated")
            }
        }
        let t = Tracked::new(Never, None);
        // SAFETY: a valid layout; the null result is not used.
        assert!(unsafe { t.alloc(Layout::new::<u64>()) }.is_null());
        assert_eq!(
            t.counts(),
            Counts {
                failures: 1,
                ..Counts::default()
            }
        );
    }
}
