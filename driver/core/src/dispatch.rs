//! The IOCTL dispatcher: one entry point from the KMDF glue (and from the
//! loopback client) into the core.
//!
//! Order of checks for every request, so each bad input class has one
//! answer and no work is done for a request that cannot be answered:
//!
//! 1. unknown IOCTL code → `STATUS_INVALID_DEVICE_REQUEST`;
//! 2. input length, `size` field, `version` field (see [`crate::protocol`]);
//! 3. output buffer shorter than the response → `STATUS_BUFFER_TOO_SMALL`;
//! 4. parameter values → `STATUS_INVALID_PARAMETER` (the rule
//!    [`RunRequest::validate`] names in its [`RunRequestError`](crate::protocol::RunRequestError));
//! 5. the work itself (`STATUS_NOT_SUPPORTED` for an unregistered strategy,
//!    `STATUS_INSUFFICIENT_RESOURCES` / `STATUS_DATA_ERROR` from a run).
//!
//! The whole request is decoded into a local value before a single byte of
//! output is written, so the input and output may be the same memory
//! (`METHOD_BUFFERED`); [`dispatch_in_place`] is the form for that case and
//! never creates overlapping references.
//!
//! IRQL: callable at `PASSIVE_LEVEL` (the driver's queue runs there); the
//! `global` exercise allocates from the global allocator, which in the driver
//! is non-paged pool.

use kcom::{
    NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST, STATUS_INVALID_PARAMETER,
};

use crate::device::DeviceState;
use crate::protocol::{
    ExerciseParams, InfoRequest, Ioctl, PoolStatsRequest, RunRequest, RunResponse,
};

/// A decoded, validated request, owning no part of the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `GET_INFO`.
    GetInfo,
    /// `RUN_EXERCISE` with validated parameters.
    RunExercise(ExerciseParams),
    /// `POOL_STATS`.
    PoolStats,
}

impl Request {
    /// The IOCTL this request belongs to.
    pub fn ioctl(&self) -> Ioctl {
        match self {
            Request::GetInfo => Ioctl::GetInfo,
            Request::RunExercise(_) => Ioctl::RunExercise,
            Request::PoolStats => Ioctl::PoolStats,
        }
    }
}

/// Decodes and validates the request for IOCTL `code` from `input`, and
/// checks that a response fits in `output_len` bytes. Performs steps 1–4 of
/// the module's order of checks.
pub fn decode_request(code: u32, input: &[u8], output_len: usize) -> Result<Request, NTSTATUS> {
    let ioctl = Ioctl::from_code(code).ok_or(STATUS_INVALID_DEVICE_REQUEST)?;
    // Step 2: the header and length, giving either a finished request or the
    // raw run parameters whose values are checked only after step 3.
    let run = match ioctl {
        Ioctl::GetInfo => {
            InfoRequest::decode(input)?;
            None
        }
        Ioctl::PoolStats => {
            PoolStatsRequest::decode(input)?;
            None
        }
        Ioctl::RunExercise => Some(RunRequest::decode(input)?),
    };
    if output_len < ioctl.response_size() {
        return Err(STATUS_BUFFER_TOO_SMALL);
    }
    Ok(match run {
        Some(run) => Request::RunExercise(run.validate()?),
        None if ioctl == Ioctl::GetInfo => Request::GetInfo,
        None => Request::PoolStats,
    })
}

/// Executes a decoded request and encodes the response into `output`;
/// returns the number of bytes written (the request's information value).
pub fn execute(
    state: &DeviceState,
    request: &Request,
    output: &mut [u8],
) -> Result<usize, NTSTATUS> {
    match request {
        Request::GetInfo => state.encode_info(output),
        Request::PoolStats => state.pool_stats().encode(output),
        Request::RunExercise(params) => {
            let report = state.run(params)?;
            RunResponse::new(report).encode(output)
        }
    }
}

/// Handles one IOCTL with separate input and output buffers.
///
/// Returns the number of bytes written to the front of `output`; on error
/// nothing meaningful was written and the request completes with 0 bytes.
pub fn dispatch(
    state: &DeviceState,
    code: u32,
    input: &[u8],
    output: &mut [u8],
) -> Result<usize, NTSTATUS> {
    let request = decode_request(code, input, output.len())?;
    execute(state, &request, output)
}

/// Handles one IOCTL whose input and output share `buf` (`METHOD_BUFFERED`:
/// the I/O manager's system buffer holds `max(input_len, output_len)` bytes,
/// the first `input_len` of them the request).
///
/// The request is copied out of `buf[..input_len]` before the response is
/// written to `buf[..output_len]`. `STATUS_INVALID_PARAMETER` if either length
/// exceeds `buf.len()`.
pub fn dispatch_in_place(
    state: &DeviceState,
    code: u32,
    buf: &mut [u8],
    input_len: usize,
    output_len: usize,
) -> Result<usize, NTSTATUS> {
    if input_len > buf.len() || output_len > buf.len() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let request = decode_request(code, &buf[..input_len], output_len)?;
    execute(state, &request, &mut buf[..output_len])
}
