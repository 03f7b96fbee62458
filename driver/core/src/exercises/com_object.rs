//! `com-object`: kcom objects with two interfaces, made in the tracked
//! non-paged pool, queried, checked for identity, and released.

use kcom::{
    ComClass, ComRc, GUID, IUnknown, IUnknownInterface, NTSTATUS, STATUS_DATA_ERROR,
    declare_com_interface, implement_com,
};

use super::{Env, Exercise, ExerciseInfo, non_paged, pool_info, record_report};
use crate::protocol::{ExerciseParams, ExerciseReport, StrategyId, pool_type};
use crate::tracked::Tracked;
use crate::workload::{Record, record_workload};

declare_com_interface! {
    /// The record a probe object carries.
    pub trait IProbe: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a41");
        /// The record's digest.
        fn digest(&self) -> Result<u64, NTSTATUS>;
        /// The whole record.
        fn record(&self) -> Result<Record, NTSTATUS>;
    }
}

declare_com_interface! {
    /// A second interface of probe objects.
    pub trait IProbeIndex: IUnknown + Send + Sync {
        const IID: GUID = kcom::guid!("c0a1e5e7-4d1b-4c8e-9f4a-2b6d8e0f1a42");
        /// The iteration that made the probe.
        fn index(&self) -> Result<u32, NTSTATUS>;
    }
}

/// The objects the `com-object` exercise makes.
struct Probe(Record);

impl IProbe for Probe {
    fn digest(&self) -> Result<u64, NTSTATUS> {
        Ok(self.0.digest())
    }
    fn record(&self) -> Result<Record, NTSTATUS> {
        Ok(self.0)
    }
}

impl IProbeIndex for Probe {
    fn index(&self) -> Result<u32, NTSTATUS> {
        Ok(self.0.index)
    }
}

implement_com!(Probe: IProbe, IProbeIndex);

/// Checks one probe the way a COM client would: both interfaces answer,
/// `IUnknown` is the same pointer from either (identity), and a clone
/// (`AddRef`) and its drop (`Release`) leave it alive.
fn check_probe(probe: &ComRc<IProbeInterface>, index: u32) -> Result<(), NTSTATUS> {
    let second = probe.query_interface::<IProbeIndexInterface>()?;
    if second.as_raw() == probe.as_raw() || second.index()? != index {
        return Err(STATUS_DATA_ERROR);
    }
    let u1: ComRc<IUnknownInterface> = probe.query_interface()?;
    let u2: ComRc<IUnknownInterface> = second.query_interface()?;
    let back: ComRc<IProbeInterface> = second.query_interface()?;
    if u1.as_raw() != u2.as_raw() || back.as_raw() != probe.as_raw() {
        return Err(STATUS_DATA_ERROR);
    }
    let extra = probe.clone();
    if extra.as_raw() != probe.as_raw() {
        return Err(STATUS_DATA_ERROR);
    }
    Ok(())
}

/// `com-object`: kcom objects with two interfaces, made in a custom
/// allocator (the tracked non-paged pool), queried, checked and released.
#[derive(Clone, Copy, Debug)]
pub struct ComObjectExercise;

impl Exercise for ComObjectExercise {
    fn info(&self) -> ExerciseInfo {
        pool_info(
            StrategyId::ComObject,
            pool_type::NON_PAGED_NX,
            "kcom objects: 2 interfaces, QueryInterface, identity, AddRef/Release, own allocator",
        )
    }

    fn run(&self, params: &ExerciseParams, env: &Env<'_>) -> Result<ExerciseReport, NTSTATUS> {
        let tracked = Tracked::new(non_paged(StrategyId::ComObject), env.counters());
        let start = (env.clock)();
        let seed = params.seed;
        let checksum = record_workload(
            params,
            |i| {
                // SAFETY: every reference to the object lives in the ring of
                // `record_workload` or in locals of this closure or of
                // `retire`, all dropped before `tracked` (declared earlier in
                // this function), on this thread.
                let probe = unsafe {
                    Probe::try_create_in_unchecked(Probe(Record::new(seed, i)), &tracked)
                }?;
                check_probe(&probe, i)?;
                Ok(probe)
            },
            |probe, c| {
                let record = probe.record()?;
                if probe.digest()? != record.digest() {
                    return Err(STATUS_DATA_ERROR);
                }
                record.verify_into(seed, record.index, c)
            },
        )?;
        Ok(record_report(
            StrategyId::ComObject,
            &tracked,
            start,
            env,
            checksum,
        ))
    }
}
