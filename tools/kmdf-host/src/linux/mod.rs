//! The x86_64 Linux implementation: loader, kernel, framework, I/O.

mod abi;
pub(crate) mod context;
mod fault;
mod host;
mod image;
pub(crate) mod kernel;
mod session;
mod stop;
mod symbols;
mod unwind;
pub(crate) mod wdf;

pub use host::Host;
