// The success token of `pin_init!` cannot be named from a field expression
// either: `__InitOk` there is a different type.
use kcom::alloc::InitBox;
use kcom::{pin_init, NTSTATUS};

struct Pair {
    a: u32,
    b: u32,
}

fn main() {
    let init = pin_init!(Pair { a: 1, b: return Ok(__InitOk) }? NTSTATUS);
    let _ = InitBox::<Pair>::try_pin_init(init);
}
