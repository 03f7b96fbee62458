//! Async COM methods: the shims block on the method's future until its
//! waker fires, from this thread or another, before or after `Pending`.

use core::alloc::Layout;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kcom::async_com::{self, block_on_in};
use kcom::{
    Allocator, ComClass, GUID, IUnknown, NTSTATUS, NonPagedAllocator, STATUS_ACCESS_DENIED,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_POSSIBLE_DEADLOCK, STATUS_SUCCESS, async_impl,
    declare_com_interface, implement_com,
};

declare_com_interface! {
    pub trait IAsyncBase: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("a5c0c0de-0000-4000-8000-000000000001");
        /// Completes after `YieldOnce`.
        async fn init(&self) -> NTSTATUS;
    }
}

declare_com_interface! {
    pub trait IAsyncWork: IAsyncBase + Send + Sync {
        const IID: GUID = kcom::guid!("a5c0c0de-0000-4000-8000-000000000002");
        /// Completed by another thread after `delay_ms`.
        async fn work(&self, delay_ms: u32, value: u64) -> Result<u64, NTSTATUS>;
        /// Wakes itself before returning `Pending`.
        async fn wake_first(&self) -> Result<(), NTSTATUS>;
        /// Never woken.
        async fn stuck(&self) -> NTSTATUS;
        /// A plain synchronous method on the same interface.
        fn sync_add(&self, a: u32, b: u32) -> Result<u32, NTSTATUS>;
    }
}

/// Returns `Pending` once, after `wake_by_ref` (the README's example).
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A one-shot value completed from another thread.
#[derive(Default)]
struct Shared {
    value: Mutex<Option<u64>>,
    waker: Mutex<Option<Waker>>,
}
struct OneShot(Arc<Shared>);
impl Future for OneShot {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        match *self.0.value.lock().unwrap() {
            Some(v) => Poll::Ready(v),
            None => Poll::Pending,
        }
    }
}

/// Pending forever, never waking anyone.
struct Never;
impl Future for Never {
    type Output = NTSTATUS;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<NTSTATUS> {
        Poll::Pending
    }
}

struct Worker;

// The hand-written form of the README: return a boxed future.
impl IAsyncBase for Worker {
    fn init(&self) -> Pin<Box<dyn Future<Output = NTSTATUS> + Send + '_>> {
        Box::pin(async move {
            YieldOnce(false).await;
            STATUS_SUCCESS
        })
    }
}

// The sugared form: `#[kcom::async_impl]`.
#[async_impl]
impl IAsyncWork for Worker {
    async fn work(&self, delay_ms: u32, value: u64) -> Result<u64, NTSTATUS> {
        if value == 0 {
            return Err(STATUS_ACCESS_DENIED);
        }
        let shared = Arc::new(Shared::default());
        let remote = shared.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay_ms.into()));
            *remote.value.lock().unwrap() = Some(value * 2);
            if let Some(w) = remote.waker.lock().unwrap().take() {
                w.wake();
            }
        });
        Ok(OneShot(shared).await)
    }
    async fn wake_first(&self) -> Result<(), NTSTATUS> {
        YieldOnce(false).await;
        YieldOnce(false).await;
        Ok(())
    }
    async fn stuck(&self) -> NTSTATUS {
        Never.await
    }
    fn sync_add(&self, a: u32, b: u32) -> Result<u32, NTSTATUS> {
        a.checked_add(b).ok_or(kcom::STATUS_INTEGER_OVERFLOW)
    }
}

implement_com!(Worker: IAsyncWork);

#[test]
fn readme_async_example_runs() {
    let w = Worker::try_create(Worker).unwrap();
    assert_eq!(w.init(), STATUS_SUCCESS);
}

#[test]
fn woken_from_another_thread_after_a_delay() {
    let w = Worker::try_create(Worker).unwrap();
    let delay = if cfg!(miri) { 1 } else { 20 };
    assert_eq!(w.work(delay, 21), Ok(42));
    assert_eq!(w.work(0, 5), Ok(10), "woken immediately");
    assert_eq!(
        w.work(1, 0),
        Err(STATUS_ACCESS_DENIED),
        "errors cross the ABI"
    );
}

#[test]
fn woken_before_pending_is_returned() {
    let w = Worker::try_create(Worker).unwrap();
    assert_eq!(w.wake_first(), Ok(()));
    assert_eq!(w.sync_add(2, 3), Ok(5), "sync methods mix with async ones");
}

#[test]
fn many_concurrent_calls() {
    let w = Worker::try_create(Worker).unwrap();
    let calls = if cfg!(miri) { 2 } else { 50 };
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let w = w.clone();
            s.spawn(move || {
                for i in 0..calls {
                    assert_eq!(
                        w.work((i % 3) as u32, t * 1000 + i + 1),
                        Ok(2 * (t * 1000 + i + 1))
                    );
                    assert_eq!(w.init(), STATUS_SUCCESS);
                }
            });
        }
    });
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the watchdog exists in debug builds only"
)]
fn a_future_never_woken_hits_the_watchdog_in_calls_and_initialisers() {
    // The only test in this binary that changes the timeout; the others
    // complete far below it.
    async_com::set_watchdog_timeout_ms(200);
    let w = Worker::try_create(Worker).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(w.stuck(), STATUS_POSSIBLE_DEADLOCK);
    if !cfg!(miri) {
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200),
            "returned early: {waited:?}"
        );
        assert!(
            waited < Duration::from_secs(20),
            "watchdog too late: {waited:?}"
        );
    }

    // An async initialiser stuck on its second field: the executor's error
    // becomes the initialiser's, and the first field is dropped, not leaked.
    let drops = Arc::new(AtomicUsize::new(0));
    let field_drops = drops.clone();
    let init = kcom::pin_init_async!(TwoFields {
        first: Counted(field_drops),
        second: Never.await,
    });
    let r = kcom::alloc::InitBox::<TwoFields>::try_pin_init(init);
    assert_eq!(r.err(), Some(STATUS_POSSIBLE_DEADLOCK));
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    async_com::set_watchdog_timeout_ms(async_com::DEFAULT_WATCHDOG_MS);
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct TwoFields {
    #[allow(dead_code)]
    first: Counted,
    #[allow(dead_code)]
    second: NTSTATUS,
}

/// An allocator that can be told to fail, counting live blocks.
struct Failing {
    fail: AtomicBool,
    live: AtomicUsize,
}
impl Failing {
    const fn new() -> Self {
        Failing {
            fail: AtomicBool::new(false),
            live: AtomicUsize::new(0),
        }
    }
}
// SAFETY: forwards to the global allocator or returns null.
unsafe impl Allocator for Failing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.fail.load(Ordering::SeqCst) {
            return core::ptr::null_mut();
        }
        self.live.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { kcom::GlobalAllocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: allocated above with this layout.
        unsafe { kcom::GlobalAllocator.dealloc(ptr, layout) }
    }
}

// SAFETY: every block comes from `GlobalAllocator`, which is non-paged.
unsafe impl NonPagedAllocator for Failing {}

#[test]
fn waker_allocation_failure_is_an_error_status() {
    static ALLOC: Failing = Failing::new();
    let alloc = &ALLOC;
    alloc.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        block_on_in(async { 5 }, alloc),
        Err(STATUS_INSUFFICIENT_RESOURCES)
    );
    alloc.fail.store(false, Ordering::SeqCst);
    assert_eq!(block_on_in(YieldOnce(false), alloc), Ok(()));
    assert_eq!(alloc.live.load(Ordering::SeqCst), 0, "waker state freed");
}

#[test]
fn a_waker_that_outlives_the_call_keeps_its_state_alive() {
    static ALLOC: Failing = Failing::new();
    let alloc = &ALLOC;
    let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
    let k = kept.clone();
    let r = block_on_in(
        core::future::poll_fn(move |cx| {
            *k.lock().unwrap() = Some(cx.waker().clone());
            Poll::Ready(7)
        }),
        alloc,
    );
    assert_eq!(r, Ok(7));
    assert_eq!(
        alloc.live.load(Ordering::SeqCst),
        1,
        "a clone is still alive"
    );
    let w = kept.lock().unwrap().take().unwrap();
    w.wake(); // waking after completion is harmless
    assert_eq!(alloc.live.load(Ordering::SeqCst), 0);
}
