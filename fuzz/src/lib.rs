//! Helpers shared by the fuzz targets: a byte reader that turns the fuzzer's
//! input into choices, a global allocator that counts live blocks so a
//! target can prove that a call gave back every byte of the host heap it took,
//! and ([`image`]) the program `fuzz_image` runs against the driver image.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

pub mod image;
mod input;

pub use crate::input::Input;

/// Live blocks of the Rust global allocator in this process.
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live blocks. Install it with
/// `#[global_allocator]` in a fuzz target and compare [`live_blocks`] before
/// and after a call: equal counts mean the call freed everything it took
/// from the host heap (the simulated kernel pool and `GlobalAllocator` both
/// allocate here on the host).
#[derive(Debug)]
pub struct CountingGlobal;

// SAFETY: every call forwards to `System` with the caller's arguments and
// returns its result unchanged; the counter only observes nullness.
unsafe impl GlobalAlloc for CountingGlobal {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A successful realloc replaces one live block with another; a failed
        // one leaves the old block live: the count is unchanged either way.
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live blocks of the global allocator, if [`CountingGlobal`] is installed.
pub fn live_blocks() -> isize {
    LIVE_BLOCKS.load(Ordering::Relaxed)
}

/// A fixed fill byte for output buffers, so a target can tell which bytes a
/// call wrote.
pub const FILL: u8 = 0xA5;
