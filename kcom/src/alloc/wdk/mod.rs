//! [`WdkAllocator`]: the kernel pool allocator.
//!
//! * Driver builds (feature `driver`): `ExAllocatePool2` when the running
//!   kernel exports it (resolved by [`init_ex_allocate_pool2`]), otherwise
//!   `ExAllocatePoolWithTag`; `ExFreePoolWithTag` with the same tag to free.
//! * Host builds: the simulated pool of [`sim`], which keeps the
//!   same alignment and zero-size rules and adds per-tag accounting and
//!   fault injection.
//!
//! # Alignment
//!
//! The pool returns blocks aligned to [`MEMORY_ALLOCATION_ALIGNMENT`] (16
//! bytes on 64-bit Windows). A layout asking for more returns null, unless
//! the feature `wdk-alloc-align` is on: then the allocator over-allocates
//! and stores a small header just before the returned pointer (original
//! offset, alignment, size and a magic value). In debug builds with that
//! feature *every* allocation carries the header and `dealloc` checks it, so
//! a block freed with a different layout than it was allocated with stops
//! the driver with a clear message instead of corrupting the pool.
//!
//! # IRQL
//!
//! * `PoolType::NonPagedNx`: `alloc`/`dealloc` at IRQL <= DISPATCH_LEVEL.
//! * `PoolType::Paged`: `alloc`/`dealloc` at IRQL <= APC_LEVEL only (paged
//!   memory may not be touched at DISPATCH_LEVEL). Driver builds refuse
//!   (null, plus a debug assertion) paged allocations above APC_LEVEL, and
//!   stop a paged free above APC_LEVEL in every build type
//!   ([`FailFastReason::PagedFreeAboveApcLevel`](crate::com::FailFastReason)):
//!   the block cannot be freed there, and leaking it silently would hide
//!   the bug.
//! * COM objects refuse a paged allocator ([`Allocator::pageable`]): their
//!   reference count is touched, and their last Release frees them, at
//!   whatever IRQL a holder runs.

use core::alloc::Layout;
use core::ptr;

use super::{Allocator, GlobalAllocator};

/// Alignment of every pool block (`MEMORY_ALLOCATION_ALIGNMENT`): 16 bytes
/// on 64-bit Windows, 8 bytes on 32-bit Windows.
pub const MEMORY_ALLOCATION_ALIGNMENT: usize = if cfg!(target_pointer_width = "64") {
    16
} else {
    8
};

/// `POOL_FLAG_UNINITIALIZED`: do not zero the block (`ExAllocatePool2`).
pub const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
/// `POOL_FLAG_NON_PAGED`: non-paged, non-executable pool (`ExAllocatePool2`).
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `POOL_FLAG_PAGED`: paged pool (`ExAllocatePool2`).
pub const POOL_FLAG_PAGED: u64 = 0x100;

/// The kernel pool an allocation comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolType {
    /// Non-paged, non-executable pool (`NonPagedPoolNx` /
    /// `POOL_FLAG_NON_PAGED`): usable at IRQL <= DISPATCH_LEVEL.
    NonPagedNx,
    /// Paged pool (`PagedPool` / `POOL_FLAG_PAGED`): usable at IRQL <=
    /// APC_LEVEL only.
    Paged,
}

impl PoolType {
    /// Both pool types, in index order.
    pub const ALL: [PoolType; 2] = [PoolType::NonPagedNx, PoolType::Paged];

    /// The `ExAllocatePool2` flag selecting this pool.
    #[inline]
    pub const fn pool_flags(self) -> u64 {
        match self {
            PoolType::NonPagedNx => POOL_FLAG_NON_PAGED,
            PoolType::Paged => POOL_FLAG_PAGED,
        }
    }

    /// A short name (`"NonPagedNx"` or `"Paged"`).
    #[inline]
    pub const fn name(self) -> &'static str {
        match self {
            PoolType::NonPagedNx => "NonPagedNx",
            PoolType::Paged => "Paged",
        }
    }

    #[cfg(not(feature = "driver"))]
    #[inline]
    pub(super) const fn index(self) -> usize {
        match self {
            PoolType::NonPagedNx => 0,
            PoolType::Paged => 1,
        }
    }
}

/// Allocates from a kernel pool with a pool tag.
///
/// A small `Copy` handle: storing it inside allocations (`KBox`,
/// `ComObject`) is free of borrowing issues. Every block is freed with the
/// tag it was allocated with.
///
/// ```
/// use core::alloc::Layout;
/// use kcom::alloc::{Allocator, PoolType, WdkAllocator};
///
/// const TAG: u32 = WdkAllocator::tag(*b"Dmo1");
/// let a = WdkAllocator::non_paged(TAG);
/// let layout = Layout::new::<[u64; 4]>();
/// // SAFETY: the block is freed below with the same allocator and layout.
/// let p = unsafe { a.alloc_zeroed(layout) };
/// assert!(!p.is_null());
/// // SAFETY: `p` holds 32 zeroed bytes.
/// assert_eq!(unsafe { *p.add(31) }, 0);
/// // SAFETY: allocated above with `layout`.
/// unsafe { a.dealloc(p, layout) };
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WdkAllocator {
    /// The pool to allocate from.
    pub pool: PoolType,
    /// The pool tag (shown by `!poolused`/PoolMon as its four bytes in
    /// little-endian order; build it with [`WdkAllocator::tag`]).
    pub tag: u32,
}

impl WdkAllocator {
    /// True when this build of kcom serves alignments above
    /// [`MEMORY_ALLOCATION_ALIGNMENT`] (feature `wdk-alloc-align`); otherwise
    /// such requests return null.
    pub const SUPPORTS_OVER_ALIGNMENT: bool = cfg!(feature = "wdk-alloc-align");

    /// True when every allocation carries the alignment header, so that
    /// `dealloc` validates the layout it is given (debug builds with
    /// `wdk-alloc-align`).
    pub const VALIDATES_LAYOUT: bool = cfg!(all(feature = "wdk-alloc-align", debug_assertions));

    /// An allocator for `pool` with `tag`.
    #[inline]
    pub const fn new(pool: PoolType, tag: u32) -> Self {
        Self { pool, tag }
    }

    /// A non-paged (NX) pool allocator with `tag`.
    #[inline]
    pub const fn non_paged(tag: u32) -> Self {
        Self::new(PoolType::NonPagedNx, tag)
    }

    /// A paged pool allocator with `tag` (IRQL <= APC_LEVEL only).
    #[inline]
    pub const fn paged(tag: u32) -> Self {
        Self::new(PoolType::Paged, tag)
    }

    /// Builds a pool tag from its four characters as the debugger shows
    /// them: `WdkAllocator::tag(*b"kcom")`.
    #[inline]
    pub const fn tag(chars: [u8; 4]) -> u32 {
        u32::from_le_bytes(chars)
    }

    /// Number of bytes this allocator requests from the pool for `layout`,
    /// or `None` if the layout cannot be served (alignment above
    /// [`MEMORY_ALLOCATION_ALIGNMENT`] without `wdk-alloc-align`, or a size
    /// overflow). Includes the alignment header when one is used.
    pub const fn pool_request_size(layout: Layout) -> Option<usize> {
        let size = if layout.size() == 0 { 1 } else { layout.size() };
        if !uses_header(layout) {
            return if layout.align() > MEMORY_ALLOCATION_ALIGNMENT {
                None
            } else {
                Some(size)
            };
        }
        #[cfg(feature = "wdk-alloc-align")]
        {
            aligned::request_size(layout)
        }
        #[cfg(not(feature = "wdk-alloc-align"))]
        {
            None
        }
    }

    /// Shared body of `alloc` and `alloc_zeroed`.
    ///
    /// # Safety
    ///
    /// As for [`Allocator::alloc`].
    #[inline]
    unsafe fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if uses_header(layout) {
            #[cfg(feature = "wdk-alloc-align")]
            // SAFETY: forwarded contract.
            return unsafe { aligned::alloc(self.pool, self.tag, layout, zeroed) };
        }
        if layout.align() > MEMORY_ALLOCATION_ALIGNMENT {
            // The pool cannot honour the alignment; see the module docs.
            return ptr::null_mut();
        }
        // SAFETY: a non-zero size; the block is freed by `dealloc` with the
        // same pool and tag.
        unsafe { backend::alloc(self.pool, self.tag, layout.size().max(1), zeroed) }
    }
}

/// Whether `layout` goes through the alignment header.
#[inline]
const fn uses_header(layout: Layout) -> bool {
    cfg!(feature = "wdk-alloc-align")
        && (cfg!(debug_assertions) || layout.align() > MEMORY_ALLOCATION_ALIGNMENT)
}

// SAFETY: blocks come from the pool (or the simulated pool), which returns
// distinct blocks of at least the requested size aligned to
// MEMORY_ALLOCATION_ALIGNMENT; larger alignments are either refused (null)
// or served inside an over-allocated block (`aligned`). `alloc_zeroed`
// returns zeroed memory in every path. The allocator is a `Copy` value with
// no state, so moving it never affects live blocks.
unsafe impl Allocator for WdkAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.allocate(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.allocate(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if uses_header(layout) {
            #[cfg(feature = "wdk-alloc-align")]
            // SAFETY: `ptr` was allocated by `allocate` with `layout`, which
            // went through the header path for this same layout.
            unsafe {
                aligned::dealloc(self.pool, self.tag, ptr, layout)
            };
            return;
        }
        debug_assert!(
            layout.align() <= MEMORY_ALLOCATION_ALIGNMENT,
            "WdkAllocator::dealloc: alignment {} was never served by this allocator",
            layout.align()
        );
        // SAFETY: `ptr` came from `backend::alloc` with this pool and tag.
        unsafe { backend::free(self.pool, self.tag, ptr) }
    }

    /// True for [`PoolType::Paged`].
    #[inline]
    fn pageable(&self) -> bool {
        self.pool == PoolType::Paged
    }

    /// [`MEMORY_ALLOCATION_ALIGNMENT`], or no limit with `wdk-alloc-align`.
    #[inline]
    fn max_align(&self) -> usize {
        if Self::SUPPORTS_OVER_ALIGNMENT {
            usize::MAX
        } else {
            MEMORY_ALLOCATION_ALIGNMENT
        }
    }
}

#[cfg(feature = "driver")]
// SAFETY: forwards every call to `WdkAllocator`, which upholds the contract.
unsafe impl Allocator for GlobalAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { WdkAllocator::non_paged(GlobalAllocator::TAG).alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { WdkAllocator::non_paged(GlobalAllocator::TAG).alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract: the block came from the same
        // allocator value (non-paged, `GlobalAllocator::TAG`).
        unsafe { WdkAllocator::non_paged(GlobalAllocator::TAG).dealloc(ptr, layout) }
    }
    #[inline]
    fn max_align(&self) -> usize {
        WdkAllocator::non_paged(GlobalAllocator::TAG).max_align()
    }
}

#[cfg(not(feature = "driver"))]
const _: () = {
    // Keeps the import used in host builds, where `GlobalAllocator` has its
    // own implementation in `mod.rs`.
    let _ = GlobalAllocator;
};

// The pool backend: the real pool in driver builds, the simulated one on
// the host. Both provide `alloc`, `free` and `init_ex_allocate_pool2`.
#[cfg(feature = "wdk-alloc-align")]
mod aligned;
#[cfg(feature = "driver")]
mod kernel;
#[cfg(not(feature = "driver"))]
#[cfg_attr(docsrs, doc(cfg(not(feature = "driver"))))]
pub mod sim;

#[cfg(feature = "driver")]
use kernel as backend;
#[cfg(not(feature = "driver"))]
use sim as backend;

pub use backend::init_ex_allocate_pool2;

#[cfg(all(
    feature = "driver",
    not(any(driver_model__driver_type = "WDM", driver_model__driver_type = "KMDF"))
))]
compile_error!(
    "kcom's `driver` feature needs a kernel-mode WDK driver model: add \
     [package.metadata.wdk.driver-model] with driver-type = \"KMDF\" (or \"WDM\") \
     to the driver crate's Cargo.toml"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn request_sizes() {
        let header = cfg!(all(feature = "wdk-alloc-align", debug_assertions));
        let l = layout(24, 8);
        let native = WdkAllocator::pool_request_size(l).unwrap();
        if header {
            assert!(native > 24);
        } else {
            assert_eq!(native, 24);
            assert_eq!(WdkAllocator::pool_request_size(layout(0, 1)), Some(1));
        }
        let over = layout(24, 64);
        let served = WdkAllocator::pool_request_size(over);
        assert_eq!(
            served.is_some(),
            cfg!(feature = "wdk-alloc-align"),
            "over-aligned requests are served exactly when wdk-alloc-align is on"
        );
        if let Some(n) = served {
            // Room for the header and the worst-case padding.
            assert!(n >= 24 + 64 - MEMORY_ALLOCATION_ALIGNMENT);
        }
        // Sizes that overflow with the header are refused, not wrapped.
        let huge = layout(isize::MAX as usize - 63, 64);
        if cfg!(feature = "wdk-alloc-align") {
            let n = WdkAllocator::pool_request_size(huge).unwrap();
            assert!(n > huge.size());
        } else {
            assert_eq!(WdkAllocator::pool_request_size(huge), None);
        }
    }

    #[test]
    fn constructors_and_flags() {
        let t = WdkAllocator::tag(*b"Tst1");
        assert_eq!(t.to_le_bytes(), *b"Tst1");
        assert_eq!(
            WdkAllocator::non_paged(t),
            WdkAllocator {
                pool: PoolType::NonPagedNx,
                tag: t
            }
        );
        assert_eq!(
            WdkAllocator::paged(t),
            WdkAllocator::new(PoolType::Paged, t)
        );
        assert_eq!(POOL_FLAG_NON_PAGED, 0x40);
        assert_eq!(POOL_FLAG_PAGED, 0x100);
        assert_eq!(POOL_FLAG_UNINITIALIZED, 0x2);
        assert_eq!(PoolType::NonPagedNx.name(), "NonPagedNx");
    }
}
