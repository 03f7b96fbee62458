//! `kcom-sample-core`: the portable heart of the kcom sample driver.
//!
//! Everything the driver does apart from talking to KMDF lives here and runs
//! unchanged in the driver, in the host tests and in the loopback client.
//! One request, file by file:
//!
//! 1. [`dispatch`](mod@dispatch): the entry point from the KMDF glue (and the
//!    loopback): checks the IOCTL code and buffer sizes and decodes the
//!    request with [`protocol`] (`protocol/get_info.rs`,
//!    `protocol/run_exercise.rs`, `protocol/pool_stats.rs`, over
//!    `protocol/wire.rs`);
//! 2. [`device`]: the [`DeviceState`] answers it from its [`registry`] of
//!    COM objects, reached through the [`interfaces`];
//! 3. [`object`]: each registered [`Exercise`] is a COM object with its
//!    own [`counters`];
//! 4. [`exercises`]: one file per strategy (the four fixed-region ones
//!    share `region.rs`, the three kernel pool ones `wdk.rs`), each running
//!    a [`workload`] (`pattern.rs`, `batch.rs` or `record.rs`) on its
//!    allocator wrapped in [`tracked`];
//! 5. back in [`dispatch`](mod@dispatch), the answer is encoded into the
//!    output buffer.
//!
//! Around them: [`config`] (what the embedding provides), [`tags`] (the
//! pool tags). The modules' imports have no cycle: `protocol` needs nothing
//! else, `dispatch` sits on top.
//!
//! The crate is `no_std` and allocates only through `kcom` allocators.
#![no_std]
#![warn(missing_docs)]

pub mod config;
pub mod counters;
pub mod device;
pub mod dispatch;
pub mod exercises;
pub mod interfaces;
pub mod object;
pub mod protocol;
pub mod registry;
pub mod tags;
pub mod tracked;
pub mod workload;

pub use crate::config::{Defer, DeferredJob, DeviceConfig};
pub use crate::counters::{Counters, Counts};
pub use crate::device::DeviceState;
pub use crate::dispatch::{Request, decode_request, dispatch, dispatch_in_place, execute};
pub use crate::exercises::{
    Env, Exercise, ExerciseInfo, GlobalExercise, expected_strategy_checksum,
};
pub use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId};
pub use crate::registry::{DEVICE_ALLOCATOR, Registry};
pub use crate::tracked::Tracked;
pub use crate::workload::{
    Record, batch_workload, expected_checksum, expected_record_checksum, pattern_workload,
    run_batched, run_tracked,
};
