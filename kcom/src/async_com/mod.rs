//! Async COM methods (feature `async-com`): the blocking executor behind the
//! `extern "system"` shims of `async fn` interface methods.
//!
//! A caller across the ABI sees an ordinary synchronous method: the shim
//! polls the method's future and, while it is pending, blocks the calling
//! thread until the future's waker fires, then returns the method's status.
//!
//! * Host builds park the thread (`std::thread::park`); a wake from any
//!   thread, before or after the poll returns `Pending`, is never lost.
//! * Driver builds (`async-com-kernel`) wait on a `KEVENT` owned by the
//!   waker with `KeWaitForSingleObject`. At `DISPATCH_LEVEL` or above the
//!   call is refused (debug assertion, then `STATUS_INVALID_DEVICE_STATE`):
//!   it never waits at DISPATCH.
//! * Debug builds have a watchdog: a wait longer than
//!   [`watchdog_timeout_ms`] is reported as a probable deadlock (a trace and
//!   `STATUS_POSSIBLE_DEADLOCK`) instead of hanging forever.
//! * The waker's state is allocated with [`GlobalAllocator`] (non-paged pool
//!   in driver builds; [`block_on_in`] takes any [`NonPagedAllocator`]); if
//!   that fails the call returns
//!   `STATUS_INSUFFICIENT_RESOURCES`. So does a method whose future could
//!   not be boxed, when it was boxed with [`box_future`] (as
//!   `#[kcom::async_impl]` does).
//! * [`box_future`] keeps a future's alignment: one aligned above the 16
//!   bytes the kernel pool guarantees lives in kcom's pool allocator, not
//!   behind the global allocator (see there).
//!
//! # Blocking caveat
//!
//! The calling thread blocks while the future is pending. A future that
//! needs the calling thread to make progress (for example by awaiting a
//! re-entrant COM call that is itself waiting on this thread) deadlocks.
//! Design async methods to complete on other threads, work items or DPCs.
//! Each call allocates the waker state, and the method's future is boxed:
//! use async methods on control paths (init, create, configuration), not
//! on hot paths.

use core::alloc::Layout;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::{Pin, pin};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::alloc::{
    Allocator, GlobalAllocator, KBox, MEMORY_ALLOCATION_ALIGNMENT, NonPagedAllocator, WdkAllocator,
};
use crate::com::failfast::{FailFastReason, fail_fast};
use crate::{NTSTATUS, STATUS_INSUFFICIENT_RESOURCES};
use std_alloc::boxed::Box;

#[cfg(not(feature = "driver"))]
#[path = "host.rs"]
mod platform;
#[cfg(feature = "driver")]
#[path = "kernel.rs"]
mod platform;

/// What an async method's shim returns when the executor itself fails
/// (waker allocation, IRQL too high, watchdog): implemented for `NTSTATUS`
/// (the status) and `Result<T, NTSTATUS>` (`Err(status)`).
#[diagnostic::on_unimplemented(
    message = "an async COM method cannot return `{Self}`",
    label = "return NTSTATUS or Result<T, NTSTATUS>, so executor failures can be reported"
)]
pub trait AsyncReturn: Sized {
    /// The value standing for an executor failure with `status`.
    fn from_executor_error(status: NTSTATUS) -> Self;
}

impl AsyncReturn for NTSTATUS {
    fn from_executor_error(status: NTSTATUS) -> Self {
        status
    }
}

impl<T> AsyncReturn for Result<T, NTSTATUS> {
    fn from_executor_error(status: NTSTATUS) -> Self {
        Err(status)
    }
}

/// Error types that can report an executor failure (used by
/// [`pin_init_async!`](crate::pin_init_async)). `NTSTATUS` reports the
/// status itself.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot report an async executor failure",
    label = "use NTSTATUS (the default) or a type implementing FromExecutorError"
)]
pub trait FromExecutorError {
    /// The error standing for an executor failure with `status`.
    fn from_executor_error(status: NTSTATUS) -> Self;
}

impl FromExecutorError for NTSTATUS {
    fn from_executor_error(status: NTSTATUS) -> Self {
        status
    }
}

/// Default watchdog timeout of debug builds, in milliseconds.
pub const DEFAULT_WATCHDOG_MS: u32 = 30_000;

static WATCHDOG_MS: AtomicU32 = AtomicU32::new(DEFAULT_WATCHDOG_MS);

/// Sets the debug-build watchdog timeout in milliseconds (0 disables it).
/// Release builds have no watchdog.
pub fn set_watchdog_timeout_ms(ms: u32) {
    // Relaxed: a configuration value read independently by each call; it
    // publishes no other data.
    WATCHDOG_MS.store(ms, Ordering::Relaxed);
}

/// The watchdog timeout in force: `None` in release builds or when disabled.
pub fn watchdog_timeout_ms() -> Option<u32> {
    if !cfg!(debug_assertions) {
        return None;
    }
    match WATCHDOG_MS.load(Ordering::Relaxed) {
        0 => None,
        ms => Some(ms),
    }
}

/// Drives `fut` to completion on the calling thread, blocking while it is
/// pending; the waker's state comes from [`GlobalAllocator`].
///
/// Errors: `STATUS_INSUFFICIENT_RESOURCES` (waker allocation),
/// `STATUS_INVALID_DEVICE_STATE` (driver builds, IRQL ≥ DISPATCH_LEVEL),
/// `STATUS_POSSIBLE_DEADLOCK` (debug watchdog). On an error the future is
/// dropped.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, NTSTATUS> {
    block_on_in(fut, GlobalAllocator)
}

/// [`block_on`] with the waker's state allocated from `alloc`, which is kept
/// alive until the last clone of the waker is dropped (possibly on another
/// thread, after this call returns).
///
/// The state holds the `KEVENT` that wakers set, on any thread and at up to
/// `DISPATCH_LEVEL`, so `alloc` must hand out non-paged memory
/// ([`NonPagedAllocator`]); a paged `WdkAllocator` does not compile:
///
/// ```compile_fail,E0277
/// use kcom::alloc::WdkAllocator;
/// let paged = WdkAllocator::paged(WdkAllocator::tag(*b"Wkr1"));
/// let _ = kcom::async_com::block_on_in(async { 1 }, paged);
/// ```
pub fn block_on_in<F, A>(fut: F, alloc: A) -> Result<F::Output, NTSTATUS>
where
    F: Future,
    A: NonPagedAllocator + Send + Sync + 'static,
{
    platform::check_can_block()?;
    let block = WakerBlock::try_new(alloc)?;
    // SAFETY: `block` is live with one reference, which the waker takes
    // over; the vtable matches the block's type.
    let waker = unsafe {
        Waker::from_raw(RawWaker::new(
            block.as_ptr().cast(),
            &WakerBlock::<A>::VTABLE,
        ))
    };
    let mut cx = Context::from_waker(&waker);
    let timeout = watchdog_timeout_ms();
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        // SAFETY: `waker` holds a reference to the block for the whole loop.
        let signal = unsafe { &(*block.as_ptr()).signal };
        signal.wait(timeout)?;
    }
}

/// Boxes an async method's future, like `Box::pin`, but without failing
/// fast when the allocation fails: the result is then a future that needs
/// no memory (zero-sized, so its box does not allocate) and resolves to
/// `STATUS_INSUFFICIENT_RESOURCES` in the method's return type.
///
/// `#[kcom::async_impl]` boxes every future with it; use it in hand-written
/// implementations too.
///
/// A future aligned to at most [`MEMORY_ALLOCATION_ALIGNMENT`] (16 bytes)
/// is boxed by Rust's global allocator. A more-aligned one lives in kcom's
/// pool allocator, `WdkAllocator::non_paged(GlobalAllocator::TAG)` (the
/// simulated pool in host builds), which serves the alignment with its
/// header (feature `wdk-alloc-align`); the box then holds only a pointer
/// to it. A driver's global allocator need not honour alignments above
/// what the pool guarantees (wdk-alloc does not), so a more-aligned future
/// never goes through it; without `wdk-alloc-align` such a future does not
/// compile. Use [`box_future_in`] to choose the allocator (and pool tag).
pub fn box_future<'a, F>(fut: F) -> Pin<Box<dyn Future<Output = F::Output> + Send + 'a>>
where
    F: Future + Send + 'a,
    F::Output: AsyncReturn,
{
    if align_of::<F>() > MEMORY_ALLOCATION_ALIGNMENT {
        const {
            assert!(
                align_of::<F>() <= MEMORY_ALLOCATION_ALIGNMENT
                    || WdkAllocator::SUPPORTS_OVER_ALIGNMENT,
                "this future is aligned above the 16 bytes the kernel pool guarantees: \
                 enable kcom's `wdk-alloc-align` feature, or use box_future_in with an \
                 allocator that serves the alignment"
            )
        };
        return box_future_in(fut, WdkAllocator::non_paged(GlobalAllocator::TAG));
    }
    global_box(fut)
}

/// Like [`box_future`], with the future's memory from `alloc`: the box
/// (from Rust's global allocator) holds only a pointer to it, so the
/// future keeps whatever alignment `alloc` serves and carries its pool
/// tag. If `alloc` fails (or cannot serve the alignment) the result
/// resolves to `STATUS_INSUFFICIENT_RESOURCES`.
///
/// `A: Send + 'static`: the future is pinned in `alloc`'s memory, and the
/// box may be dropped on another thread.
pub fn box_future_in<'a, F, A>(
    fut: F,
    alloc: A,
) -> Pin<Box<dyn Future<Output = F::Output> + Send + 'a>>
where
    F: Future + Send + 'a,
    F::Output: AsyncReturn,
    A: Allocator + Send + 'static,
{
    match KBox::try_pin_in(fut, alloc) {
        Ok(fut) => global_box(InAllocator(fut)),
        Err((fut, _)) => {
            drop(fut);
            Box::pin(AllocFailed::<F::Output>(PhantomData))
        }
    }
}

/// A future pinned in a kcom allocator's memory ([`box_future_in`]).
struct InAllocator<F, A: Allocator>(Pin<KBox<F, A>>);

impl<F: Future, A: Allocator> Future for InAllocator<F, A> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `InAllocator` is `Unpin` (a `Pin<KBox>` is a pointer); the future
        // stays pinned in its own block.
        self.get_mut().0.as_mut().poll(cx)
    }
}

/// `Box::pin(fut)` through Rust's global allocator, or a zero-sized
/// [`AllocFailed`] if the allocation fails.
fn global_box<'a, F>(fut: F) -> Pin<Box<dyn Future<Output = F::Output> + Send + 'a>>
where
    F: Future + Send + 'a,
    F::Output: AsyncReturn,
{
    let layout = Layout::new::<F>();
    if layout.size() == 0 {
        // A zero-sized box never allocates.
        return Box::pin(fut);
    }
    // SAFETY: a non-zero-sized layout; on success the block becomes a
    // `Box<F>`, which frees it with this layout through the global
    // allocator it came from.
    let p = unsafe { std_alloc::alloc::alloc(layout) }.cast::<F>();
    if p.is_null() {
        return Box::pin(AllocFailed::<F::Output>(PhantomData));
    }
    // SAFETY: `p` is a fresh block for an `F` from the global allocator
    // (aligned for it: every caller keeps `F`'s alignment within what the
    // pool guarantees), so it may be owned by a `Box<F>`.
    let boxed = unsafe {
        p.write(fut);
        Box::from_raw(p)
    };
    Box::into_pin(boxed)
}

/// What [`box_future`] returns when the future could not be boxed.
struct AllocFailed<R>(PhantomData<fn() -> R>);

impl<R: AsyncReturn> Future for AllocFailed<R> {
    type Output = R;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<R> {
        Poll::Ready(R::from_executor_error(STATUS_INSUFFICIENT_RESOURCES))
    }
}

/// The shims' entry point: executor failures become the method's error.
#[doc(hidden)]
pub fn __block_on_com<R: AsyncReturn>(fut: impl Future<Output = R>) -> R {
    match block_on(fut) {
        Ok(r) => r,
        Err(status) => R::from_executor_error(status),
    }
}

/// The state shared by a `block_on` call and every clone of its waker.
struct WakerBlock<A: NonPagedAllocator> {
    refs: AtomicUsize,
    signal: platform::Signal,
    alloc: ManuallyDrop<A>,
}

impl<A: NonPagedAllocator + Send + Sync + 'static> WakerBlock<A> {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::clone_raw,
        Self::wake_raw,
        Self::wake_by_ref_raw,
        Self::drop_raw,
    );

    fn try_new(alloc: A) -> Result<NonNull<Self>, NTSTATUS> {
        let layout = core::alloc::Layout::new::<Self>();
        // SAFETY: a valid non-zero-sized layout; freed in `drop_raw` with
        // the same layout by the same allocator.
        let p = unsafe { alloc.alloc(layout) }.cast::<Self>();
        let Some(p) = NonNull::new(p) else {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        };
        // SAFETY: `p` is a fresh, aligned block for `Self`, in non-paged
        // memory (`A: NonPagedAllocator`, the bound of every caller), as
        // `Signal::init` requires: wakers set the kernel event at up to
        // DISPATCH_LEVEL. The fields are written in place (the kernel
        // signal must not move once initialised, and the block never does).
        unsafe {
            ptr::write(&raw mut (*p.as_ptr()).refs, AtomicUsize::new(1));
            ptr::write(&raw mut (*p.as_ptr()).alloc, ManuallyDrop::new(alloc));
            platform::Signal::init(&raw mut (*p.as_ptr()).signal);
        }
        Ok(p)
    }

    unsafe fn clone_raw(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live block (the waker contract).
        let this = unsafe { &*data.cast::<Self>() };
        // Relaxed: a new reference is made from an existing one.
        if this.refs.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            fail_fast(FailFastReason::RefcountOverflow);
        }
        RawWaker::new(data, &Self::VTABLE)
    }

    unsafe fn wake_raw(data: *const ()) {
        // SAFETY: forwarded waker contract; `wake` consumes the reference.
        unsafe {
            Self::wake_by_ref_raw(data);
            Self::drop_raw(data);
        }
    }

    unsafe fn wake_by_ref_raw(data: *const ()) {
        // SAFETY: `data` is a live block (the waker contract).
        unsafe { &*data.cast::<Self>() }.signal.notify();
    }

    unsafe fn drop_raw(data: *const ()) {
        let p = data.cast_mut().cast::<Self>();
        // SAFETY: `data` is a live block and we own one reference.
        let old = unsafe { &*p }.refs.fetch_sub(1, Ordering::Release);
        if old != 1 {
            return;
        }
        // Acquire: every other holder's last use happens-before the free.
        // An acquire load of the count (our own decrement ends the release
        // sequence of all earlier ones) gives the same edge as an acquire
        // fence, and unlike a fence ThreadSanitizer sees it.
        // SAFETY: the block is still live: we held the last reference.
        unsafe { &*p }.refs.load(Ordering::Acquire);
        // SAFETY: the last reference: the block is ours alone; the
        // allocator is moved out before the block is freed with the layout
        // it was allocated with.
        unsafe {
            let alloc = ManuallyDrop::into_inner(ptr::read(&raw const (*p).alloc));
            platform::Signal::destroy(&raw mut (*p).signal);
            alloc.dealloc(p.cast(), core::alloc::Layout::new::<Self>());
        }
    }
}
