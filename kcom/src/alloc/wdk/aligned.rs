//! Over-aligned (and, in debug builds, all) allocations of
//! [`WdkAllocator`](super::WdkAllocator) with a header (feature
//! `wdk-alloc-align`): the block is over-allocated from the pool backend
//! and a small header just before the returned pointer records the offset,
//! the layout and a magic value, which `dealloc` checks.

use core::alloc::Layout;
use core::mem::size_of;
use core::ptr;

use super::{MEMORY_ALLOCATION_ALIGNMENT, PoolType, backend};

/// Stored immediately before the pointer handed out.
#[repr(C)]
#[derive(Clone, Copy)]
struct Header {
    /// Distance from the pool block to the returned pointer.
    offset: usize,
    /// `layout.align()` of the allocation.
    align: usize,
    /// `layout.size()` of the allocation.
    size: usize,
    /// [`MAGIC`] while live, [`FREED`] after `dealloc`.
    magic: usize,
}

const MAGIC: usize = 0x6B41_6C67; // "kAlg"
const FREED: usize = 0x6B46_7265; // "kFre"
const HDR: usize = size_of::<Header>();

// The header fills whole alignment units, so `base + HDR` is still
// MEMORY_ALLOCATION_ALIGNMENT-aligned and the header itself is aligned.
const _: () = assert!(HDR.is_multiple_of(MEMORY_ALLOCATION_ALIGNMENT));
const _: () = assert!(MEMORY_ALLOCATION_ALIGNMENT.is_multiple_of(core::mem::align_of::<Header>()));

/// Bytes requested from the pool: header, worst-case padding, payload.
pub(super) const fn request_size(layout: Layout) -> Option<usize> {
    let size = if layout.size() == 0 { 1 } else { layout.size() };
    let align = if layout.align() > MEMORY_ALLOCATION_ALIGNMENT {
        layout.align()
    } else {
        MEMORY_ALLOCATION_ALIGNMENT
    };
    // `base + HDR` is MEMORY_ALLOCATION_ALIGNMENT-aligned, so rounding it
    // up to `align` skips at most `align - MEMORY_ALLOCATION_ALIGNMENT`.
    (HDR + (align - MEMORY_ALLOCATION_ALIGNMENT)).checked_add(size)
}

/// # Safety
///
/// As for `Allocator::alloc`; the block must be freed by [`dealloc`]
/// with the same pool, tag and layout.
pub(super) unsafe fn alloc(pool: PoolType, tag: u32, layout: Layout, zeroed: bool) -> *mut u8 {
    let Some(total) = request_size(layout) else {
        return ptr::null_mut();
    };
    // SAFETY: `total` is non-zero; freed in `dealloc` with pool and tag.
    let base = unsafe { backend::alloc(pool, tag, total, zeroed) };
    if base.is_null() {
        return base;
    }
    let align = layout.align().max(MEMORY_ALLOCATION_ALIGNMENT);
    let start = base as usize + HDR;
    let offset = HDR + (start.wrapping_neg() & (align - 1));
    // SAFETY: `offset <= HDR + align - MEMORY_ALLOCATION_ALIGNMENT`
    // (see `request_size`), so `base + offset` plus the payload lies in
    // the `total`-byte block.
    let user = unsafe { base.add(offset) };
    let header = Header {
        offset,
        align: layout.align(),
        size: layout.size(),
        magic: MAGIC,
    };
    // SAFETY: `user - HDR >= base` and is aligned for `Header` (both
    // `user` and HDR are multiples of MEMORY_ALLOCATION_ALIGNMENT).
    unsafe { user.sub(HDR).cast::<Header>().write(header) };
    user
}

/// # Safety
///
/// `user` must come from [`alloc`] with this pool, tag and layout and
/// not be freed since.
pub(super) unsafe fn dealloc(pool: PoolType, tag: u32, user: *mut u8, layout: Layout) {
    // SAFETY: `alloc` wrote a header right before `user`.
    let hp = unsafe { user.sub(HDR) }.cast::<Header>();
    // SAFETY: as above; the header is aligned and initialised.
    let h = unsafe { hp.read() };
    if h.magic != MAGIC {
        panic!(
            "WdkAllocator::dealloc: no live allocation header at {user:p} (magic {:#x}): \
             double free, foreign pointer or layout alignment mismatch",
            h.magic
        );
    }
    if h.align != layout.align() || h.size != layout.size() {
        panic!(
            "WdkAllocator::dealloc: layout mismatch at {user:p}: allocated with size {} \
             align {}, freed with size {} align {}",
            h.size,
            h.align,
            layout.size(),
            layout.align()
        );
    }
    /// Puts the live magic back if the pool refuses the free by
    /// panicking (the host simulation does), so the block stays usable.
    struct Restore(*mut Header);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: only reached while the block is still allocated
            // (the free unwound before releasing it).
            unsafe { ptr::addr_of_mut!((*self.0).magic).write(MAGIC) };
        }
    }
    // SAFETY: the header is ours; mark it so a second free is caught
    // while the memory is still mapped.
    unsafe { ptr::addr_of_mut!((*hp).magic).write(FREED) };
    let restore = Restore(hp);
    // SAFETY: `user - offset` is the block `backend::alloc` returned.
    unsafe { backend::free(pool, tag, user.sub(h.offset)) };
    core::mem::forget(restore);
}
