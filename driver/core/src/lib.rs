//! `kcom-sample-core`: the portable heart of the kcom sample driver.
//!
//! Everything the driver does apart from talking to KMDF lives here and runs
//! unchanged in the driver, in the host tests and in the loopback client:
//!
//! * [`protocol`]: the user/kernel contract (IOCTL codes, device interface
//!   GUID, request/response layouts and their byte encodings, limits);
//! * [`dispatch()`] / [`dispatch_in_place`]: validate a request, run it,
//!   encode the answer;
//! * [`DeviceState`]: the registry of [`Exercise`] objects (one per allocator
//!   strategy), the pool ledger and the clock;
//! * [`exercise`]: the pattern workload every strategy runs and the
//!   allocation-counting wrapper [`Tracked`].
//!
//! The crate is `no_std` and allocates only through `kcom` allocators.
#![no_std]
#![warn(missing_docs)]

pub mod async_exercise;
pub mod com;
pub mod dispatch;
pub mod exercise;
pub mod exercises;
pub mod ledger;
pub mod protocol;
pub mod state;
pub mod tags;

pub use crate::dispatch::{Request, decode_request, dispatch, dispatch_in_place, execute};
pub use crate::exercise::{
    Env, Exercise, ExerciseInfo, GlobalExercise, Tracked, TrackedStats, batch_workload,
    expected_checksum, pattern_workload, run_batched, run_tracked,
};
pub use crate::exercises::{Record, expected_record_checksum, expected_strategy_checksum};
pub use crate::ledger::PoolCounters;
pub use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId};
pub use crate::state::{DEVICE_ALLOCATOR, Defer, DeferredJob, DeviceConfig, DeviceState, Registry};
