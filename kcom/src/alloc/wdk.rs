//! [`WdkAllocator`]: the kernel pool allocator.
//!
//! * Driver builds (feature `driver`): `ExAllocatePool2` when the running
//!   kernel exports it (resolved by [`init_ex_allocate_pool2`]), otherwise
//!   `ExAllocatePoolWithTag`; `ExFreePoolWithTag` with the same tag to free.
//! * Host builds: the simulated pool of [`sim`](super::sim), which keeps the
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
    pub(crate) const fn index(self) -> usize {
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

/// Over-aligned (and, in debug builds, all) allocations with a header.
#[cfg(feature = "wdk-alloc-align")]
mod aligned {
    use super::{MEMORY_ALLOCATION_ALIGNMENT, PoolType, backend};
    use core::alloc::Layout;
    use core::mem::size_of;
    use core::ptr;

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
    const _: () =
        assert!(MEMORY_ALLOCATION_ALIGNMENT.is_multiple_of(core::mem::align_of::<Header>()));

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
}

/// Host backend: the simulated pool.
#[cfg(not(feature = "driver"))]
mod backend {
    use super::PoolType;

    /// # Safety
    ///
    /// `size` is non-zero; the block must be freed by [`free`] with the
    /// same pool and tag.
    #[inline]
    pub(super) unsafe fn alloc(pool: PoolType, tag: u32, size: usize, zeroed: bool) -> *mut u8 {
        crate::alloc::sim::pool_alloc(pool, tag, size, zeroed)
    }

    /// # Safety
    ///
    /// `ptr` must come from [`alloc`] and not be freed since.
    #[inline]
    pub(super) unsafe fn free(pool: PoolType, tag: u32, ptr: *mut u8) {
        // SAFETY: forwarded contract.
        unsafe { crate::alloc::sim::pool_free(pool, tag, ptr) }
    }
}

#[cfg(not(feature = "driver"))]
/// Resolves `ExAllocatePool2` (driver builds). On the host the simulated
/// pool needs nothing resolved and always zeroes natively: returns `true`.
pub fn init_ex_allocate_pool2() -> bool {
    true
}

#[cfg(feature = "driver")]
pub use kernel::init_ex_allocate_pool2;

/// Driver backend: the real pool.
#[cfg(feature = "driver")]
mod backend {
    pub(super) use super::kernel::{alloc, free};
}

#[cfg(feature = "driver")]
mod kernel {
    use super::PoolType;
    use core::ffi::c_void;
    use core::ptr;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use wdk_sys::ntddk::{ExFreePoolWithTag, KeGetCurrentIrql, MmGetSystemRoutineAddress};
    use wdk_sys::{APC_LEVEL, PASSIVE_LEVEL, POOL_TYPE, PVOID, SIZE_T, ULONG, UNICODE_STRING};

    // wdk-build blocklists the deprecated pool APIs, so wdk-sys does not
    // bind `ExAllocatePoolWithTag`; ntoskrnl still exports it.
    unsafe extern "system" {
        fn ExAllocatePoolWithTag(
            pool_type: POOL_TYPE,
            number_of_bytes: SIZE_T,
            tag: ULONG,
        ) -> PVOID;
    }

    /// `ExAllocatePool2(Flags, NumberOfBytes, Tag)` (Windows 10 2004+).
    type ExAllocatePool2Fn = unsafe extern "system" fn(u64, SIZE_T, ULONG) -> PVOID;

    /// `0`: not resolved yet; `1`: resolved, not exported by this kernel;
    /// anything else: the address of `ExAllocatePool2`.
    ///
    /// Stored with `Release` and loaded with `Acquire`, so a thread that
    /// sees an address also sees everything the resolving thread did before
    /// publishing it. Two racing resolutions store the same value, so no
    /// compare-exchange is needed.
    static EX_ALLOCATE_POOL2: AtomicUsize = AtomicUsize::new(UNRESOLVED);
    const UNRESOLVED: usize = 0;
    const ABSENT: usize = 1;

    /// "ExAllocatePool2" in UTF-16, for `MmGetSystemRoutineAddress`.
    static NAME: [u16; 15] = utf16(b"ExAllocatePool2");

    const fn utf16<const N: usize>(ascii: &[u8; N]) -> [u16; N] {
        let mut out = [0u16; N];
        let mut i = 0;
        while i < N {
            out[i] = ascii[i] as u16;
            i += 1;
        }
        out
    }

    /// Resolves `ExAllocatePool2` and caches the result. Call once at
    /// PASSIVE_LEVEL, typically from `DriverEntry`, before any allocation
    /// that should use it. Returns whether this kernel exports it; without
    /// it [`WdkAllocator`](super::WdkAllocator) uses
    /// `ExAllocatePoolWithTag` and zeroes by hand.
    ///
    /// Above PASSIVE_LEVEL nothing is resolved and the fallback stays in
    /// use (returns `false` unless an earlier call succeeded).
    ///
    /// IRQL: PASSIVE_LEVEL.
    pub fn init_ex_allocate_pool2() -> bool {
        resolve() > ABSENT
    }

    /// Returns the cached state, resolving it first if possible (only at
    /// PASSIVE_LEVEL: `MmGetSystemRoutineAddress` requires it).
    fn resolve() -> usize {
        let cached = EX_ALLOCATE_POOL2.load(Ordering::Acquire);
        if cached != UNRESOLVED {
            return cached;
        }
        if irql() != PASSIVE_LEVEL {
            return UNRESOLVED;
        }
        let mut name = UNICODE_STRING {
            Length: (NAME.len() * 2) as u16,
            MaximumLength: (NAME.len() * 2) as u16,
            // The routine only reads the string; the cast to `*mut` is what
            // the C prototype asks for.
            Buffer: NAME.as_ptr().cast_mut(),
        };
        // SAFETY: PASSIVE_LEVEL (checked above); `name` is a valid counted
        // UTF-16 string that outlives the call.
        let f: *mut c_void = unsafe { MmGetSystemRoutineAddress(&mut name) };
        let state = if f.is_null() { ABSENT } else { f as usize };
        EX_ALLOCATE_POOL2.store(state, Ordering::Release);
        state
    }

    fn irql() -> u32 {
        // SAFETY: `KeGetCurrentIrql` has no preconditions.
        u32::from(unsafe { KeGetCurrentIrql() })
    }

    /// # Safety
    ///
    /// `size` is non-zero; the block must be freed by [`free`] with the
    /// same pool and tag, at an IRQL valid for the pool.
    pub(in super::super) unsafe fn alloc(
        pool: PoolType,
        tag: u32,
        size: usize,
        zeroed: bool,
    ) -> *mut u8 {
        if pool == PoolType::Paged && irql() > APC_LEVEL {
            debug_assert!(false, "WdkAllocator: paged pool allocation above APC_LEVEL");
            return ptr::null_mut();
        }
        let state = resolve();
        if state > ABSENT {
            // SAFETY: `state` is the address `MmGetSystemRoutineAddress`
            // returned for `ExAllocatePool2`, whose prototype this is.
            let f: ExAllocatePool2Fn =
                unsafe { core::mem::transmute::<usize, ExAllocatePool2Fn>(state) };
            let flags = pool.pool_flags()
                | if zeroed {
                    0
                } else {
                    super::POOL_FLAG_UNINITIALIZED
                };
            // SAFETY: valid flags and a non-zero size at a valid IRQL.
            return unsafe { f(flags, size as SIZE_T, tag) }.cast();
        }
        let pool_type: POOL_TYPE = match pool {
            PoolType::NonPagedNx => wdk_sys::_POOL_TYPE::NonPagedPoolNx,
            PoolType::Paged => wdk_sys::_POOL_TYPE::PagedPool,
        };
        // SAFETY: a valid pool type and non-zero size at a valid IRQL.
        let p: *mut u8 = unsafe { ExAllocatePoolWithTag(pool_type, size as SIZE_T, tag) }.cast();
        if zeroed && !p.is_null() {
            // SAFETY: the pool returned `size` writable bytes.
            unsafe { ptr::write_bytes(p, 0, size) };
        }
        p
    }

    /// # Safety
    ///
    /// `ptr` must come from [`alloc`] with this pool and tag.
    pub(in super::super) unsafe fn free(pool: PoolType, tag: u32, ptr: *mut u8) {
        if pool == PoolType::Paged && irql() > APC_LEVEL {
            // ExFreePoolWithTag requires IRQL <= APC_LEVEL for paged pool;
            // stop here, with a reason a debugger shows, in every build.
            crate::com::failfast::fail_fast(
                crate::com::failfast::FailFastReason::PagedFreeAboveApcLevel,
            );
        }
        // SAFETY: `ptr` is a live pool block allocated with `tag`.
        unsafe { ExFreePoolWithTag(ptr.cast(), tag) }
    }
}

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
