// A field expression cannot end the initialiser early with success: the
// fields after it would never be written.
use kcom::alloc::InitBox;
use kcom::pin_init;

struct Pair {
    a: u32,
    b: u32,
}

fn main() {
    let init = pin_init!(Pair { a: 1, b: return Ok(()) });
    let _ = InitBox::<Pair>::pin_init(init);
}
