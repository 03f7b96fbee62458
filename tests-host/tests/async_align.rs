//! Async futures keep their alignment. This binary's global allocator
//! behaves as wdk-alloc does in a driver: every block is aligned to the
//! 16 bytes the kernel pool guarantees, whatever the layout asks for. A
//! future aligned above that must not be placed by it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use kcom::alloc::{GlobalAllocator, MEMORY_ALLOCATION_ALIGNMENT, PoolType, WdkAllocator, sim};
use kcom::{ComClass, GUID, IUnknown, NTSTATUS, declare_com_interface, implement_com};

/// Serves layouts aligned above 16 bytes at an address that is 16-aligned
/// and never 32-aligned, what a pool that ignores `Layout::align()` can do,
/// on a thread inside [`pool_like`] (the test harness and std need their
/// alignment everywhere else).
struct PoolAligned;

thread_local! {
    /// Whether this thread's over-aligned requests get pool alignment.
    static POOL_LIKE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's over-aligned requests served as the pool
/// would serve them.
fn pool_like<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            POOL_LIKE.with(|p| p.set(false));
        }
    }
    POOL_LIKE.with(|p| p.set(true));
    let _reset = Reset;
    f()
}

/// Whether `layout` is served with pool alignment on this thread.
fn misaligns(layout: Layout) -> bool {
    layout.align() > POOL_ALIGN && POOL_LIKE.try_with(Cell::get).unwrap_or(false)
}

const POOL_ALIGN: usize = MEMORY_ALLOCATION_ALIGNMENT;

/// The layout asked of `System` for an over-aligned `layout`.
fn padded(layout: Layout) -> Layout {
    Layout::from_size_align(layout.size() + 2 * POOL_ALIGN, 2 * POOL_ALIGN).unwrap()
}

// SAFETY: every block is at least `layout.size()` bytes, distinct, and
// freed with the layout it came from; only the alignment promise is broken
// on purpose (as by wdk-alloc 0.4.2), for layouts aligned above 16 inside
// `pool_like`, whose blocks are freed inside it on the same thread.
unsafe impl GlobalAlloc for PoolAligned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !misaligns(layout) {
            // SAFETY: forwarded contract.
            return unsafe { System.alloc(layout) };
        }
        // SAFETY: a valid non-zero layout.
        let p = unsafe { System.alloc(padded(layout)) };
        if p.is_null() {
            return p;
        }
        // SAFETY: within the padded block, which has `POOL_ALIGN` bytes
        // before and after the `layout.size()` bytes handed out.
        unsafe { p.add(POOL_ALIGN) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // A block is freed on the thread, and inside the scope, that
        // allocated it (every test below keeps to that).
        if !misaligns(layout) {
            // SAFETY: forwarded contract.
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: `ptr` is `POOL_ALIGN` bytes into a padded block.
        unsafe { System.dealloc(ptr.sub(POOL_ALIGN), padded(layout)) }
    }
}

#[global_allocator]
static GLOBAL: PoolAligned = PoolAligned;

/// State that needs 64-byte alignment, held across an await.
#[repr(align(64))]
struct Aligned64([u8; 64]);

/// Pending once (waking itself), then ready: a real suspension point.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The address of 64-byte-aligned state held across a suspension, modulo
/// 64 (0 when the future's memory keeps its alignment).
async fn misalignment() -> usize {
    let state = Aligned64([7; 64]);
    let before = core::ptr::from_ref(&state).addr() % 64;
    YieldOnce(false).await;
    let after = core::ptr::from_ref(&state).addr() % 64;
    assert_eq!(state.0[63], 7);
    before.max(after)
}

declare_com_interface! {
    pub trait IAligned: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("a5c0c0de-0000-4000-8000-0000000000a6");
        async fn misalignment(&self) -> Result<u64, NTSTATUS>;
    }
}

struct Probe;

#[kcom::async_impl]
impl IAligned for Probe {
    async fn misalignment(&self) -> Result<u64, NTSTATUS> {
        Ok(misalignment().await as u64)
    }
}

implement_com!(Probe: IAligned);

#[test]
fn this_binarys_global_allocator_ignores_alignment_like_the_pool() {
    let layout = Layout::from_size_align(64, 64).unwrap();
    pool_like(|| {
        // SAFETY: a valid layout; freed at once with it, in the same scope.
        unsafe {
            let p = std::alloc::alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p.addr() % 32, 16, "16-aligned, not 32-aligned");
            std::alloc::dealloc(p, layout);
        }
    });
}

#[test]
fn an_over_aligned_async_method_keeps_its_alignment() {
    const TAG: u32 = GlobalAllocator::TAG;
    let before = sim::stats(PoolType::NonPagedNx, TAG);
    let probe = Probe::try_create(Probe).unwrap();
    pool_like(|| {
        assert_eq!(probe.misalignment(), Ok(0));
        assert_eq!(probe.misalignment(), Ok(0));
    });
    let after = sim::stats(PoolType::NonPagedNx, TAG);
    assert_eq!(
        after.total_allocations - before.total_allocations,
        2,
        "each call's future came from kcom's pool allocator"
    );
    assert_eq!(
        after.outstanding_allocations,
        before.outstanding_allocations
    );
}

#[test]
fn box_future_in_keeps_the_alignment_and_the_pool_tag() {
    const TAG: u32 = WdkAllocator::tag(*b"tFal");
    let alloc = WdkAllocator::non_paged(TAG);
    pool_like(|| {
        let fut = kcom::async_com::box_future_in(
            async { Ok::<_, NTSTATUS>(misalignment().await) },
            alloc,
        );
        let live = sim::stats(PoolType::NonPagedNx, TAG).outstanding_allocations;
        assert_eq!(live, 1);
        assert_eq!(kcom::async_com::block_on(fut), Ok(Ok(0)));
    });
    let st = sim::stats(PoolType::NonPagedNx, TAG);
    assert_eq!((st.total_allocations, st.outstanding_allocations), (1, 0));
    assert!(sim::forget_tag(TAG));
}
