//! The CPU as image code sees it: per-thread state ([`thread`]: the IRQL,
//! the spin locks held, the image's last call into the host, the callbacks
//! running) and the x64 unwinder that turns a call site or a fault into a
//! call stack ([`unwind`]) and the stack driver code runs on, which the
//! host measures ([`stack`]). Imports the ABI and the loader.

pub(crate) mod stack;
pub(crate) mod thread;
pub(crate) mod unwind;
