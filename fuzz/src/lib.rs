//! Helpers shared by the fuzz targets: a byte reader that turns the fuzzer's
//! input into choices, and a global allocator that counts live blocks so a
//! target can prove that a call gave back every byte of the host heap it took.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Reads the fuzzer's input front to back. Once the input is used up every
/// read returns zeros, so any input (including the empty one) is a complete
/// program; seeds can be written by hand from the format each target
/// documents (integers are little-endian).
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next `n` bytes, or fewer if the input ends first.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    /// The next little-endian `u16` (missing bytes read as 0).
    pub fn u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let src = self.bytes(2);
        b[..src.len()].copy_from_slice(src);
        u16::from_le_bytes(b)
    }

    /// The next little-endian `u32` (missing bytes read as 0).
    pub fn u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        let src = self.bytes(4);
        b[..src.len()].copy_from_slice(src);
        u32::from_le_bytes(b)
    }

    /// The next little-endian `u64` (missing bytes read as 0).
    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let src = self.bytes(8);
        b[..src.len()].copy_from_slice(src);
        u64::from_le_bytes(b)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let n = self.data.len();
        self.bytes(n)
    }
}

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
