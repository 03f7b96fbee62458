//! The COM interfaces through which the device reaches its exercise
//! objects: [`IAllocatorExercise`] (describe, run), [`IPoolAccounting`]
//! (`POOL_STATS`), and [`IAsyncRunner`] for objects whose exercise is an
//! async method. The registry holds every object as `IAllocatorExercise`
//! and finds the others by `QueryInterface`.

use kcom::{GUID, IUnknown, NTSTATUS, declare_com_interface};

use crate::protocol::{ExerciseReport, PoolStatsEntry, RunRequest, StrategyInfo};

declare_com_interface! {
    /// One allocator strategy's exercise, as the device's registry holds it.
    pub trait IAllocatorExercise: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a31");

        /// The exercise's `GET_INFO` entry.
        fn describe(&self) -> Result<StrategyInfo, NTSTATUS>;

        /// Validates `request` (the object trusts nothing across the ABI)
        /// and runs the workload; `STATUS_INVALID_PARAMETER` for a request
        /// meant for another strategy.
        fn run(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS>;
    }
}

declare_com_interface! {
    /// The pool accounting of one exercise object, as `POOL_STATS` shows it.
    pub trait IPoolAccounting: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a32");

        /// Counters of the pool and tag the exercise allocates from.
        fn pool_stats(&self) -> Result<PoolStatsEntry, NTSTATUS>;
    }
}

declare_com_interface! {
    /// Objects whose exercise is an async method.
    pub trait IAsyncRunner: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a51");

        /// Validates `request` and runs the exercise, awaiting each block's
        /// pattern from another thread.
        async fn run_async(&self, request: RunRequest) -> Result<ExerciseReport, NTSTATUS>;
    }
}
