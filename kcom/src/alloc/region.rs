//! The memory region behind every allocation strategy, and the error their
//! constructors return.

use core::alloc::Layout;
use core::fmt;
use core::ptr::{self, NonNull};

use super::Allocator;
use crate::com::status::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};

/// Why a strategy (`Bump`, `Pool`, `FreeList`, `Stack`) could not be built.
///
/// Every fallible constructor of [`kcom::alloc`](crate::alloc) returns
/// `Result<_, AllocError>`. Convert it to an `NTSTATUS` with
/// [`to_ntstatus`](Self::to_ntstatus) or `NTSTATUS::from` (so `?` works in a
/// function returning `Result<_, NTSTATUS>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocError {
    /// The backing allocator could not provide the region
    /// (`STATUS_INSUFFICIENT_RESOURCES`).
    InsufficientResources,
    /// The parameters describe no usable region: zero or too small a
    /// capacity, zero blocks, a size that overflows, or an alignment the
    /// backing allocator can never serve (`STATUS_INVALID_PARAMETER`).
    InvalidParameter,
}

impl AllocError {
    /// The kernel status code for this error.
    #[inline]
    pub const fn to_ntstatus(self) -> NTSTATUS {
        match self {
            AllocError::InsufficientResources => STATUS_INSUFFICIENT_RESOURCES,
            AllocError::InvalidParameter => STATUS_INVALID_PARAMETER,
        }
    }
}

impl From<AllocError> for NTSTATUS {
    #[inline]
    fn from(e: AllocError) -> Self {
        e.to_ntstatus()
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AllocError::InsufficientResources => "the backing allocator is out of memory",
            AllocError::InvalidParameter => "invalid allocator parameters",
        })
    }
}

impl core::error::Error for AllocError {}

impl crate::com::status::IntoNtStatus for AllocError {
    /// The status for the error (see [`AllocError::to_ntstatus`]).
    #[inline]
    fn into_ntstatus(self) -> NTSTATUS {
        self.to_ntstatus()
    }
}

/// A contiguous block of memory owned by a strategy: either allocated from a
/// backing allocator (and given back on drop) or borrowed from the caller.
///
/// It holds the block by raw pointer, so moving it (by bitcopy) never
/// invalidates pointers into the block.
pub(crate) struct Region<A: Allocator> {
    base: NonNull<u8>,
    len: usize,
    align: usize,
    /// `None` for a borrowed buffer (nothing to free).
    backing: Option<A>,
}

impl<A: Allocator> Region<A> {
    /// Allocates `len` bytes aligned to `align` from `backing`.
    ///
    /// `len` must be non-zero and `align` a power of two the backing
    /// allocator can serve ([`Allocator::max_align`]), else
    /// [`AllocError::InvalidParameter`].
    pub(crate) fn new_in(len: usize, align: usize, backing: A) -> Result<Self, AllocError> {
        if len == 0 || align > backing.max_align() {
            return Err(AllocError::InvalidParameter);
        }
        let layout =
            Layout::from_size_align(len, align).map_err(|_| AllocError::InvalidParameter)?;
        // SAFETY: `layout` is a valid non-zero layout; the block is freed in
        // `Drop` with the same layout on the same allocator.
        let p = unsafe { backing.alloc(layout) };
        let base = NonNull::new(p).ok_or(AllocError::InsufficientResources)?;
        Ok(Region {
            base,
            len,
            align,
            backing: Some(backing),
        })
    }

    /// Wraps a caller-owned buffer; nothing is freed on drop.
    ///
    /// The caller (a lifetime-parameterised strategy) must keep the buffer
    /// borrowed for as long as the region lives.
    pub(crate) fn borrowed(base: NonNull<u8>, len: usize) -> Self {
        Region {
            base,
            len,
            align: 1,
            backing: None,
        }
    }

    /// The first byte of the region.
    #[inline(always)]
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The address of the first byte.
    #[inline(always)]
    pub(crate) fn addr(&self) -> usize {
        self.base.as_ptr().addr()
    }

    /// The size of the region in bytes.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The backing allocator, if the region was allocated from one.
    pub(crate) fn backing(&self) -> Option<&A> {
        self.backing.as_ref()
    }

    /// Whether the region may be pageable memory: the backing allocator's
    /// answer, or `true` for a borrowed buffer (its memory is unknown).
    /// A strategy's [`Allocator::pageable`].
    pub(crate) fn pageable(&self) -> bool {
        self.backing.as_ref().is_none_or(A::pageable)
    }

    /// The offset of `p` from the base, if `p` lies in `[base, base + len]`.
    #[inline(always)]
    pub(crate) fn offset_of(&self, p: *mut u8) -> Option<usize> {
        let off = p.addr().wrapping_sub(self.addr());
        if off <= self.len { Some(off) } else { None }
    }

    /// The smallest offset `>= off` whose address is a multiple of `align`
    /// (a power of two), or `None` on overflow.
    #[inline(always)]
    pub(crate) fn align_offset_up(&self, off: usize, align: usize) -> Option<usize> {
        let addr = self.addr().checked_add(off)?;
        let aligned = addr.checked_add(align - 1)? & !(align - 1);
        Some(aligned - self.addr())
    }
}

impl<A: Allocator> Drop for Region<A> {
    fn drop(&mut self) {
        if let Some(backing) = &self.backing {
            // SAFETY: the block was allocated in `new_in` from this allocator
            // with exactly this size and alignment (validated there).
            unsafe {
                backing.dealloc(
                    self.base.as_ptr(),
                    Layout::from_size_align_unchecked(self.len, self.align),
                )
            };
        }
    }
}

impl<A: Allocator + fmt::Debug> fmt::Debug for Region<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("base", &self.base)
            .field("len", &self.len)
            .field("backing", &self.backing)
            .finish()
    }
}

/// Moves a block to a fresh allocation of `new_layout` from `a`: allocate,
/// copy the common prefix, then call `release` on the old block. Returns
/// null (old block untouched) if the allocation fails.
///
/// # Safety
///
/// `ptr` must be a live block of `a` of at least `old_layout.size()` bytes,
/// and `release` must be sound to call on it.
#[inline]
pub(crate) unsafe fn move_block<A: Allocator + ?Sized>(
    a: &A,
    ptr: *mut u8,
    old_layout: Layout,
    new_layout: Layout,
    release: impl FnOnce(*mut u8),
) -> *mut u8 {
    // SAFETY: `new_layout` is a valid layout.
    let new = unsafe { a.alloc(new_layout) };
    if !new.is_null() {
        // SAFETY: both blocks are live and distinct (the old one is still
        // allocated while the new one is made), each holds at least the
        // copied number of bytes.
        unsafe { ptr::copy_nonoverlapping(ptr, new, old_layout.size().min(new_layout.size())) };
        release(ptr);
    }
    new
}
