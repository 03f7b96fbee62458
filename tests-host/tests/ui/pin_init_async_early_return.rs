// `pin_init_async!` refuses an early successful return just the same.
use kcom::alloc::InitBox;
use kcom::{pin_init_async, NTSTATUS};

struct Pair {
    a: u32,
    b: u32,
}

async fn one() -> u32 {
    1
}

fn main() {
    let init = pin_init_async!(Pair { a: one().await, b: return Ok(()) }? NTSTATUS);
    let _ = InitBox::<Pair>::try_pin_init(init);
}
