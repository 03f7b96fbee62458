//! COM objects: one allocation holding the vtable pointer(s), the reference
//! count, the Rust value and the allocator that made it.
//!
//! # Layout
//!
//! ```text
//! offset 0          primary vtable pointer      <- the object's IUnknown / primary interface pointer
//! 8                 Header { refcount, query, query_type, destroy }
//! value_offset::<T> T (the Rust value)
//! slot_offset(1..)  secondary vtable pointers   <- pointers to the other interfaces
//! …                 A (the allocator), moved out before the free
//! ```
//!
//! The value's offset depends only on `T`, and so do the secondary slots'
//! offsets, so a method shim generic over `T` and its slot number finds the
//! value with constant arithmetic (no per-call loads beyond the vtable).
//! `QueryInterface` and destruction go through function pointers in the
//! header, set when the object is created, which is what lets one `IUnknown`
//! vtable per type serve objects of any allocator and any primary interface.
//!
//! # Typed queries
//!
//! An IID alone does not prove which interface a pointer has: two
//! declarations in different objects may carry the same IID. So the typed,
//! safe query ([`ComRc::query_interface`]) asks by the requested interface's
//! Rust type ([`TypeId`], unique in the program whichever crate declares the
//! interface): it first asks `QueryInterface` for [`KCOM_OBJECT_IID`], which
//! only kcom's `QueryInterface` shim answers (with the object's base), then
//! calls the header's `query_type`, which knows the Rust type of every slot.
//! An object kcom did not make does not answer that IID, and is queried by
//! IID only through the unsafe [`ComRc::query_interface_unchecked`].

use core::alloc::Layout;
use core::any::TypeId;
use core::ffi::c_void;
use core::mem::{ManuallyDrop, align_of, offset_of, size_of};
use core::ptr::{self, NonNull};
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, Ordering};
// Model checking (`RUSTFLAGS="--cfg loom"`, kcom/tests/loom.rs): the
// reference count on loom's atomics.
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering};

use super::failfast::{FailFastReason, fail_fast};
use super::interface::{ComInterface, ComInterfaceInfo};
use super::rc::ComRc;
use super::unknown::IUnknownInterface;
use crate::alloc::{Allocator, GlobalAllocator, require_non_paged};
use crate::{GUID, NTSTATUS, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_PARAMETER};
use crate::{STATUS_NOINTERFACE, STATUS_SUCCESS, nt_success};

/// The largest reference count before [`FailFastReason::RefcountOverflow`].
pub const MAX_REFCOUNT: u32 = i32::MAX as u32;

type QueryFn = unsafe fn(base: *mut c_void, riid: &GUID) -> Option<*mut c_void>;
type QueryTypeFn = unsafe fn(base: *mut c_void, want: &InterfaceType) -> Option<*mut c_void>;
type DestroyFn = unsafe fn(base: *mut c_void);

/// The IID kcom's `QueryInterface` shim answers with the object's base
/// pointer (referenced, as for any IID): the sign that the object was made
/// by kcom, so that its header may be read. No declared interface may use
/// it (`declare_com_interface!` checks), so no object answers it with
/// anything else.
///
/// `{de6ee15c-5b01-4616-8c4c-f7fa30b023f5}`
pub const KCOM_OBJECT_IID: GUID = GUID::from_u128(0xde6ee15c_5b01_4616_8c4c_f7fa30b023f5);

/// What a typed query asks for: an interface by its Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InterfaceType {
    /// `TypeId` of the interface type (`IFooInterface`).
    pub(crate) iface: TypeId,
    /// `TypeId` of its vtable type (`IFooVtbl`).
    pub(crate) vtbl: TypeId,
}

impl InterfaceType {
    pub(crate) fn of<I: ComInterfaceInfo>() -> Self {
        InterfaceType {
            iface: TypeId::of::<I>(),
            vtbl: TypeId::of::<I::Vtbl>(),
        }
    }
}

/// Per-object bookkeeping, right after the primary vtable pointer.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) refcount: AtomicU32,
    /// Answers `QueryInterface` for the object (base pointer in, interface
    /// pointer out, no AddRef).
    query: QueryFn,
    /// Answers a typed query (base pointer in, a pointer to the interface
    /// of that Rust type out, no AddRef).
    query_type: QueryTypeFn,
    /// Drops the value and frees the allocation through its allocator.
    destroy: DestroyFn,
}

const HEADER_OFFSET: usize = size_of::<*const c_void>();

const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// Offset of the value in every object whose value has type `T`.
#[inline(always)]
pub(crate) const fn value_offset<T>() -> usize {
    round_up(HEADER_OFFSET + size_of::<Header>(), align_of::<T>())
}

/// Offset of interface slot `slot` (0 = primary) in objects with value `T`.
#[inline(always)]
pub(crate) const fn slot_offset<T>(slot: usize) -> usize {
    if slot == 0 {
        0
    } else {
        round_up(
            value_offset::<T>() + size_of::<T>(),
            align_of::<*const c_void>(),
        ) + (slot - 1) * size_of::<*const c_void>()
    }
}

/// The base of the object from the interface pointer of slot `SLOT`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live object whose value has type `T`.
#[inline(always)]
pub(crate) unsafe fn base_of<T, const SLOT: usize>(this: *mut c_void) -> *mut c_void {
    // SAFETY: the slot lies `slot_offset` bytes into the same allocation.
    unsafe { this.byte_sub(slot_offset::<T>(SLOT)) }
}

/// # Safety
///
/// `base` must be the base of a live kcom object.
#[inline(always)]
pub(crate) unsafe fn header<'a>(base: *mut c_void) -> &'a Header {
    // SAFETY: every kcom object has its header at `HEADER_OFFSET`; the
    // object is alive, and the header is only accessed through shared
    // references (the count is atomic).
    unsafe { &*(base.byte_add(HEADER_OFFSET) as *const Header) }
}

/// A shared reference to the value of the object whose slot `SLOT` is `this`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live object whose value has type `T`, and
/// the returned reference must not outlive the caller's reference count.
#[inline(always)]
pub(crate) unsafe fn value_ref<'a, T, const SLOT: usize>(this: *mut c_void) -> &'a T {
    // SAFETY: per the contract, base + value_offset is the object's `T`,
    // initialised and only ever shared (methods take `&self`).
    unsafe { &*(base_of::<T, SLOT>(this).byte_add(value_offset::<T>()) as *const T) }
}

/// Adds one reference; fails fast on overflow or on a dead object.
#[inline]
fn add_ref(h: &Header) -> u32 {
    // Relaxed: taking a new reference requires already holding one, which
    // orders it after the creation; nothing is published by AddRef.
    let old = h.refcount.fetch_add(1, Ordering::Relaxed);
    // One branch for both failures (0 -> resurrection, >= MAX -> overflow),
    // so the hot path needs no stack frame.
    if old.wrapping_sub(1) >= MAX_REFCOUNT - 1 {
        add_ref_failed(old);
    }
    old + 1
}

/// The cold end of `add_ref`. `extern "C"` makes it `nounwind` for callers in
/// other crates, so the shims need no landing pad and no stack frame.
#[cold]
#[inline(never)]
pub(crate) extern "C" fn add_ref_failed(old: u32) -> ! {
    if old == 0 {
        fail_fast(FailFastReason::Resurrection);
    }
    fail_fast(FailFastReason::RefcountOverflow)
}

/// Drops one reference, destroying the object when it was the last one.
///
/// # Safety
///
/// `base` must be the base of a live object and the caller must own one of
/// its references, which this consumes.
#[inline]
unsafe fn release(base: *mut c_void) -> u32 {
    // SAFETY: the caller owns a reference, so the object is alive.
    let h = unsafe { header(base) };
    // Release: our prior uses of the object happen-before its destruction
    // by whichever thread drops the last reference.
    let old = h.refcount.fetch_sub(1, Ordering::Release);
    if old <= 1 {
        // SAFETY: forwarded contract; `old` is the count before our decrement.
        return unsafe { release_slow(base, old) };
    }
    old - 1
}

/// Destroys an object whose count just reached zero (`old == 1`), or fails
/// fast on an underflow (`old == 0`); returns 0.
///
/// # Safety
///
/// The caller's Release took the count from `old` to `old - 1`.
///
/// `extern "C"` (nounwind; the guard turns a panicking destructor into a
/// fail-fast) lets `shim_release` tail-call it without a frame.
#[inline(never)]
pub(crate) unsafe extern "C" fn release_slow(base: *mut c_void, old: u32) -> u32 {
    if old == 0 {
        fail_fast(FailFastReason::RefcountUnderflow);
    }
    let guard = ShimGuard::enter(base);
    // SAFETY: the object is still allocated (count just reached zero).
    let h = unsafe { header(base) };
    // Acquire: synchronise with every other thread's Release decrement so
    // their uses of the value happen-before the drop. An acquire load of the
    // count (which reads our own decrement, the end of the release sequence
    // of all earlier ones) gives the same edge as an acquire fence, and
    // unlike a fence ThreadSanitizer sees it.
    h.refcount.load(Ordering::Acquire);
    let destroy = h.destroy;
    // SAFETY: the count reached zero: we own the object exclusively.
    unsafe { destroy(base) };
    guard.leave();
    0
}

/// `IUnknown::QueryInterface` for slot `SLOT` of objects with value `T`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live kcom object whose value has type
/// `T`; `riid` must be null or valid for reads; `out` must be null or valid
/// for writes.
pub(crate) unsafe extern "system" fn shim_query_interface<T, const SLOT: usize>(
    this: *mut c_void,
    riid: *const GUID,
    out: *mut *mut c_void,
) -> NTSTATUS {
    if out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: `out` is non-null and valid for writes (contract).
    unsafe { out.write(ptr::null_mut()) };
    if riid.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let guard = ShimGuard::enter(this);
    // SAFETY: `this` is slot `SLOT` of a live object of `T` (contract).
    let base = unsafe { base_of::<T, SLOT>(this) };
    // SAFETY: the object is alive while the caller holds its reference.
    let h = unsafe { header(base) };
    // SAFETY: `riid` is non-null and valid for reads (contract).
    let riid = unsafe { &*riid };
    let found = if *riid == KCOM_OBJECT_IID {
        Some(base)
    } else {
        // SAFETY: `query` was installed for this very object and takes its
        // base.
        unsafe { (h.query)(base, riid) }
    };
    // A null answer (a hand-written `ComImpl::query_interface` may give one)
    // is no interface: success would hand the caller a reference it could
    // never release.
    let status = match found.and_then(NonNull::new) {
        Some(p) => {
            add_ref(h);
            // SAFETY: as above, `out` is valid for writes.
            unsafe { out.write(p.as_ptr()) };
            STATUS_SUCCESS
        }
        None => STATUS_NOINTERFACE,
    };
    guard.leave();
    status
}

/// `IUnknown::AddRef` for slot `SLOT` of objects with value `T`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live kcom object whose value is a `T`.
pub(crate) unsafe extern "system" fn shim_add_ref<T, const SLOT: usize>(this: *mut c_void) -> u32 {
    let guard = ShimGuard::enter(this);
    // SAFETY: contract: a live object, so its header is valid.
    let n = add_ref(unsafe { header(base_of::<T, SLOT>(this)) });
    guard.leave();
    n
}

/// `IUnknown::Release` for slot `SLOT` of objects with value `T`.
///
/// # Safety
///
/// `this` must be slot `SLOT` of a live kcom object whose value is a `T`,
/// and the caller gives up one reference.
pub(crate) unsafe extern "system" fn shim_release<T, const SLOT: usize>(this: *mut c_void) -> u32 {
    let guard = ShimGuard::enter(this);
    // SAFETY: contract: a live object and a reference to give up.
    let n = unsafe { release(base_of::<T, SLOT>(this)) };
    guard.leave();
    n
}

/// Fails fast if a panic unwinds through a shim, and (debug builds) if a
/// shim is entered with a null `this`.
#[doc(hidden)]
#[derive(Debug)]
pub struct ShimGuard(());

impl ShimGuard {
    /// Enters a shim.
    #[inline(always)]
    pub fn enter(this: *mut c_void) -> Self {
        if cfg!(debug_assertions) && this.is_null() {
            fail_fast(FailFastReason::NullThis);
        }
        ShimGuard(())
    }

    /// Leaves the shim normally.
    #[inline(always)]
    pub fn leave(self) {
        core::mem::forget(self);
    }
}

impl Drop for ShimGuard {
    /// Runs only when a panic unwinds through the shim.
    fn drop(&mut self) {
        fail_fast(FailFastReason::PanicInShim);
    }
}

/// A Rust type implementing the interface whose vtable is `V`, written by
/// hand (with a vtable literal). Use `implement_com!` to have all of this
/// generated instead.
pub trait ComImpl<V: 'static> {
    /// The vtable for objects of this type (primary slot).
    const VTABLE: &'static V;

    /// Returns the interface pointer for `riid`, or `None`. `this` is the
    /// object's primary interface pointer. Do not AddRef: the runtime does.
    /// A null pointer is answered as `None` (`STATUS_NOINTERFACE`).
    fn query_interface(&self, this: *mut c_void, riid: &GUID) -> Option<*mut c_void>;
}

/// The allocation behind every kcom COM object.
///
/// `T` is the value, `V` the primary vtable type, `A` the allocator that
/// made the object (and will free it), `S` the secondary vtable pointers
/// (`()` for single-interface objects).
#[repr(C)]
pub struct ComObject<T, V: 'static, A: Allocator = GlobalAllocator, S = ()> {
    vtable: &'static V,
    header: Header,
    value: T,
    secondaries: S,
    alloc: ManuallyDrop<A>,
}

impl<T, V: 'static, A: Allocator, S: Copy> ComObject<T, V, A, S> {
    const LAYOUT_CHECK: () = {
        assert!(offset_of!(Self, vtable) == 0);
        assert!(offset_of!(Self, header) == HEADER_OFFSET);
        assert!(offset_of!(Self, value) == value_offset::<T>());
        assert!(size_of::<S>() == 0 || offset_of!(Self, secondaries) == slot_offset::<T>(1));
    };

    /// Allocates the object with a reference count of one.
    ///
    /// Every constructor goes through here. A pageable allocator is refused
    /// with `STATUS_INVALID_PARAMETER` before anything is allocated: the
    /// header (vtable pointers, reference count) is touched by AddRef,
    /// Release and QueryInterface at whatever IRQL a holder of a reference
    /// runs, `DISPATCH_LEVEL` included, and the last Release frees the block
    /// there.
    fn try_create_raw(
        value: T,
        alloc: A,
        vtable: &'static V,
        secondaries: S,
        query: QueryFn,
        query_type: QueryTypeFn,
    ) -> Result<NonNull<c_void>, NTSTATUS> {
        let () = Self::LAYOUT_CHECK;
        require_non_paged(&alloc)?;
        let layout = Layout::new::<Self>();
        // SAFETY: `layout` is a valid, non-zero-sized layout; the block is
        // freed in `destroy` with the same layout through this allocator.
        let p = unsafe { alloc.alloc(layout) }.cast::<Self>();
        let Some(p) = NonNull::new(p) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        debug_assert!(p.as_ptr().is_aligned());
        let obj = ComObject {
            vtable,
            header: Header {
                refcount: AtomicU32::new(1),
                query,
                query_type,
                destroy: Self::destroy,
            },
            value,
            secondaries,
            alloc: ManuallyDrop::new(alloc),
        };
        // SAFETY: `p` is a fresh, aligned block of `size_of::<Self>()` bytes.
        unsafe { p.as_ptr().write(obj) };
        Ok(p.cast())
    }

    /// Drops the value and frees the object through its own allocator.
    ///
    /// # Safety
    ///
    /// `base` must be an object of exactly this type whose count reached
    /// zero; it is gone afterwards.
    unsafe fn destroy(base: *mut c_void) {
        let obj = base.cast::<Self>();
        // SAFETY: the object is alive and exclusively ours; the allocator is
        // moved out (and never touched in place again) before the value is
        // dropped, so the value's destructor cannot observe it half-freed.
        let alloc = unsafe { ManuallyDrop::into_inner(ptr::read(&raw const (*obj).alloc)) };
        // SAFETY: the value is initialised and dropped exactly once, here.
        unsafe { ptr::drop_in_place(&raw mut (*obj).value) };
        // A destructor that took a new reference made the count non-zero;
        // AddRef already failed fast on 0 -> 1, this catches any other way.
        // SAFETY: the header is still in the (not yet freed) allocation.
        if unsafe { (*obj).header.refcount.load(Ordering::Acquire) } != 0 {
            fail_fast(FailFastReason::Resurrection);
        }
        // SAFETY: the block was allocated by this allocator with this layout.
        unsafe { alloc.dealloc(base.cast(), Layout::new::<Self>()) };
        drop(alloc);
    }
}

/// # Safety
///
/// `base` must be a live object created with `ComImpl<V>` for `T`.
unsafe fn query_via_impl<T: ComImpl<V>, V: 'static>(
    base: *mut c_void,
    riid: &GUID,
) -> Option<*mut c_void> {
    // SAFETY: the primary slot is the base; the object is alive.
    let value = unsafe { value_ref::<T, 0>(base) };
    value.query_interface(base, riid)
}

/// The typed query of an object made from a hand-written `ComImpl<V>`: its
/// only slot, the base, for `IUnknown` and for any interface whose vtable
/// type is `V` (the type of the vtable the base points to). Nothing else is
/// known about the Rust types behind what `ComImpl::query_interface`
/// returns, so those pointers are reached only by IID, through
/// [`ComRc::query_interface_unchecked`].
///
/// # Safety
///
/// `base` must be a live object created with `ComImpl<V>`.
unsafe fn query_type_via_impl<V: 'static>(
    base: *mut c_void,
    want: &InterfaceType,
) -> Option<*mut c_void> {
    if want.iface == TypeId::of::<IUnknownInterface>() || want.vtbl == TypeId::of::<V>() {
        Some(base)
    } else {
        None
    }
}

/// The typed query of an `implement_com!` object.
///
/// # Safety
///
/// `base` must be a live object of class `C`.
unsafe fn query_type_of_class<C: ComClass>(
    base: *mut c_void,
    want: &InterfaceType,
) -> Option<*mut c_void> {
    // SAFETY: forwarded contract.
    unsafe { C::query_type(base, want.iface) }
}

/// A typed query: a referenced pointer to the interface of Rust type `want`
/// of the object behind `this`, if kcom made the object and it has that
/// interface; `STATUS_NOINTERFACE` otherwise.
///
/// # Safety
///
/// `this` must be a live interface pointer (its vtable starts with
/// `IUnknownVtbl`) of an object that answers `QueryInterface` for
/// [`KCOM_OBJECT_IID`] only if kcom made it (kcom's objects, and any
/// object not built on purpose to answer kcom's private IID).
pub(crate) unsafe fn query_typed(
    this: NonNull<c_void>,
    want: &InterfaceType,
) -> Result<NonNull<c_void>, NTSTATUS> {
    // SAFETY: a live interface pointer (contract), whose vtable starts with
    // `IUnknownVtbl`.
    let unknown = unsafe { &**(this.as_ptr() as *const *const super::unknown::IUnknownVtbl) };
    let mut base: *mut c_void = ptr::null_mut();
    // SAFETY: as above; the IID and `base` are valid locals.
    let status = unsafe { (unknown.QueryInterface)(this.as_ptr(), &KCOM_OBJECT_IID, &mut base) };
    if !nt_success(status) || base.is_null() {
        return Err(STATUS_NOINTERFACE);
    }
    // SAFETY: only kcom's shim answers `KCOM_OBJECT_IID` (contract), with
    // the base of the live object and a reference we now own.
    let h = unsafe { header(base) };
    // SAFETY: `query_type` was installed for this object and takes its base.
    let found = unsafe { (h.query_type)(base, want) };
    let result = match found.and_then(NonNull::new) {
        Some(p) => {
            add_ref(h);
            Ok(p)
        }
        None => Err(STATUS_NOINTERFACE),
    };
    // SAFETY: we own the reference the probe added; the caller's own
    // reference keeps the object alive past its release.
    unsafe { release(base) };
    result
}

impl<T: ComImpl<V>, V: 'static, A: Allocator + Send + 'static> ComObject<T, V, A> {
    /// Creates an object in `alloc` and returns its primary interface
    /// pointer with one reference, or `STATUS_INSUFFICIENT_RESOURCES`;
    /// `STATUS_INVALID_PARAMETER` if `alloc` may hand out pageable memory
    /// ([`Allocator::pageable`]: COM objects live in non-paged memory).
    ///
    /// The object is freed by `alloc` when its count reaches zero, by
    /// whichever thread releases the last reference: hence `A: 'static`
    /// (no release can outlive the allocator) and `A: Send` (the release
    /// may run on another thread), as for [`ComClass::try_create_in`]. For a
    /// borrowed or `!Send` allocator use
    /// [`try_new_in_unchecked`](Self::try_new_in_unchecked).
    ///
    /// ```compile_fail,E0597
    /// use kcom::alloc::{Locked, Pool};
    /// use kcom::{ComObject, GlobalAllocator, IUnknownVtbl};
    /// struct Foo;
    /// let local = Locked::new(Pool::with_blocks_in(64, 2, GlobalAllocator).unwrap());
    /// // Refused: the object could be released after `local` is gone.
    /// let raw = ComObject::<Foo, IUnknownVtbl, _>::try_new_in(Foo, &local);
    /// ```
    pub fn try_new_in(value: T, alloc: A) -> Result<*mut c_void, NTSTATUS> {
        // SAFETY: `A: 'static` outlives every reference; `A: Send` lets the
        // last release run on any thread.
        unsafe { Self::try_new_in_unchecked(value, alloc) }
    }

    /// Like [`try_new_in`](Self::try_new_in) but fails fast
    /// (`handle_alloc_error`) if the allocation fails, and panics for a
    /// pageable allocator (a programming error).
    pub fn new_in(value: T, alloc: A) -> *mut c_void {
        let pageable = alloc.pageable();
        match Self::try_new_in(value, alloc) {
            Ok(p) => p,
            Err(_) if pageable => panic!(
                "kcom: a COM object cannot live in pageable memory: \
                 its reference count is touched at any IRQL"
            ),
            Err(_) => std_alloc::alloc::handle_alloc_error(Layout::new::<Self>()),
        }
    }
}

impl<T: ComImpl<V>, V: 'static, A: Allocator> ComObject<T, V, A> {
    /// [`try_new_in`](Self::try_new_in) for an allocator that may be
    /// borrowed or `!Send`.
    ///
    /// # Safety
    ///
    /// Every reference to the object must be released while `alloc` (and
    /// anything it borrows) is alive, and the last one on a thread where
    /// using `alloc` is sound.
    pub unsafe fn try_new_in_unchecked(value: T, alloc: A) -> Result<*mut c_void, NTSTATUS> {
        Self::try_create_raw(
            value,
            alloc,
            T::VTABLE,
            (),
            query_via_impl::<T, V>,
            query_type_via_impl::<V>,
        )
        .map(NonNull::as_ptr)
    }
}

impl<T: ComImpl<V>, V: 'static> ComObject<T, V> {
    /// Creates an object with [`GlobalAllocator`]; see
    /// [`try_new_in`](Self::try_new_in).
    pub fn try_new(value: T) -> Result<*mut c_void, NTSTATUS> {
        Self::try_new_in(value, GlobalAllocator)
    }

    /// Creates an object with [`GlobalAllocator`], failing fast if the
    /// allocation fails.
    #[allow(clippy::new_ret_no_self)] // returns the interface pointer, as COM does
    pub fn new(value: T) -> *mut c_void {
        Self::new_in(value, GlobalAllocator)
    }
}

impl<T, V: 'static> ComObject<T, V> {
    /// `IUnknown::QueryInterface` through the primary interface pointer.
    ///
    /// # Safety
    ///
    /// `this` must be the primary interface pointer of a live kcom object
    /// whose value is a `T`; `riid` null or readable; `out` null or writable.
    pub unsafe extern "system" fn shim_query_interface(
        this: *mut c_void,
        riid: *const GUID,
        out: *mut *mut c_void,
    ) -> NTSTATUS {
        // SAFETY: forwarded contract.
        unsafe { shim_query_interface::<T, 0>(this, riid, out) }
    }

    /// `IUnknown::AddRef` through the primary interface pointer.
    ///
    /// # Safety
    ///
    /// `this` must be the primary interface pointer of a live kcom object
    /// whose value is a `T`.
    pub unsafe extern "system" fn shim_add_ref(this: *mut c_void) -> u32 {
        // SAFETY: forwarded contract.
        unsafe { shim_add_ref::<T, 0>(this) }
    }

    /// `IUnknown::Release` through the primary interface pointer.
    ///
    /// # Safety
    ///
    /// `this` must be the primary interface pointer of a live kcom object
    /// whose value is a `T`, and the caller gives up one reference. If it is
    /// the last one, this drops the value and frees the object through the
    /// allocator it was created in, on the calling thread: that allocator
    /// must still be alive and usable from this thread. The safe
    /// constructors ensure both (`A: Send + 'static`); an object made by an
    /// `_unchecked` constructor relies on its caller's promise.
    pub unsafe extern "system" fn shim_release(this: *mut c_void) -> u32 {
        // SAFETY: forwarded contract.
        unsafe { shim_release::<T, 0>(this) }
    }
}

impl<T, V: 'static, A: Allocator, S> core::fmt::Debug for ComObject<T, V, A, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ComObject")
            .field("refcount", &self.header.refcount.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A Rust type with its COM interfaces, as generated by `implement_com!`.
///
/// # Safety
///
/// `PRIMARY_VTABLE` and `SECONDARIES` must hold the `__for_slot` vtables of
/// this type for slots 0, 1, … in order, and `query` must return only the
/// object's base (for `IUnknown`) or its slot pointers, answering an IID
/// with a slot whose vtable starts with the vtable of the interface that
/// IID names. `query_type` must return only the base (for
/// `IUnknownInterface`) or the pointer of a slot whose interface is the
/// interface type `iface` names or derives from it (so its vtable starts
/// with that interface's vtable). Use `implement_com!`, which upholds this
/// (its compile-time IID checks make the IID's interface unique among the
/// object's).
pub unsafe trait ComClass: Sized + 'static {
    /// The interface of the object's primary slot.
    type Primary: ComInterface;
    /// The secondary vtable pointers (`[*const c_void; N - 1]`).
    type Secondaries: Copy + 'static;
    /// The primary vtable.
    const PRIMARY_VTABLE: &'static <Self::Primary as ComInterfaceInfo>::Vtbl;
    /// The secondary vtables.
    const SECONDARIES: Self::Secondaries;

    /// Answers `QueryInterface` (no AddRef).
    ///
    /// # Safety
    ///
    /// `base` must be the base of a live object of this class.
    unsafe fn query(base: *mut c_void, riid: &GUID) -> Option<*mut c_void>;

    /// Answers a typed query (no AddRef): the base for `IUnknown`, else the
    /// first slot whose interface has the Rust type `iface` or derives from
    /// it; `None` for any other type.
    ///
    /// # Safety
    ///
    /// `base` must be the base of a live object of this class.
    unsafe fn query_type(base: *mut c_void, iface: TypeId) -> Option<*mut c_void>;

    /// Creates an object with [`GlobalAllocator`] and returns a reference to
    /// its primary interface, or `STATUS_INSUFFICIENT_RESOURCES`.
    fn try_create(value: Self) -> Result<ComRc<Self::Primary>, NTSTATUS> {
        Self::try_create_in(value, GlobalAllocator)
    }

    /// Creates an object in `alloc`, which frees it when its last reference
    /// is released (on whichever thread that happens, hence `Send`).
    ///
    /// `STATUS_INVALID_PARAMETER` if `alloc` may hand out pageable memory
    /// ([`Allocator::pageable`], e.g. `WdkAllocator::paged`): any holder of
    /// a reference may AddRef or Release from `DISPATCH_LEVEL`, so COM
    /// objects live in non-paged memory. Keep large, PASSIVE_LEVEL-only data
    /// in a paged `KBox` owned by the object instead.
    fn try_create_in<A: Allocator + Send + 'static>(
        value: Self,
        alloc: A,
    ) -> Result<ComRc<Self::Primary>, NTSTATUS> {
        // SAFETY: `A: 'static` outlives any reference; `A: Send` lets the
        // final release run on any thread.
        unsafe { Self::try_create_in_unchecked(value, alloc) }
    }

    /// Creates an object in an allocator that may be borrowed or `!Send`.
    ///
    /// # Safety
    ///
    /// Every reference to the object must be released while `alloc` (and
    /// anything it borrows) is alive, and on a thread where using `alloc` is
    /// sound.
    unsafe fn try_create_in_unchecked<A: Allocator>(
        value: Self,
        alloc: A,
    ) -> Result<ComRc<Self::Primary>, NTSTATUS> {
        let p = ComObject::<Self, <Self::Primary as ComInterfaceInfo>::Vtbl, A, Self::Secondaries>::try_create_raw(
            value,
            alloc,
            Self::PRIMARY_VTABLE,
            Self::SECONDARIES,
            Self::query,
            query_type_of_class::<Self>,
        )?;
        // SAFETY: a fresh object whose primary slot implements `Primary`,
        // with one reference that the `ComRc` now owns.
        Ok(unsafe { ComRc::from_raw_nonnull(p) })
    }
}
