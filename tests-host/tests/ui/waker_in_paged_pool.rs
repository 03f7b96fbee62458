// The async executor's waker state holds the KEVENT that wakers set at up
// to DISPATCH_LEVEL: it cannot come from paged pool.
use kcom::alloc::WdkAllocator;
use kcom::async_com::block_on_in;

fn main() {
    let paged = WdkAllocator::paged(WdkAllocator::tag(*b"Wkr1"));
    let _ = block_on_in(async { 1 }, paged);
}
