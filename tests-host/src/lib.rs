//! Host-side integration tests for kcom and the sample driver's logic.
//!
//! The tests live in `tests/`; this library holds shared test helpers.

pub mod counting;

pub use counting::{CountingAlloc, DropCounter, Tracked};
