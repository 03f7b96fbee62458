//! `RUN_EXERCISE`: one strategy's workload with the caller's parameters,
//! and the report of what it did.
//!
//! The range rules of a run live here once: [`RunRequest::validate`] checks
//! them and says which one failed ([`RunRequestError`]); the driver answers
//! every such error with `STATUS_INVALID_PARAMETER`, and `kcomctl` words it
//! in terms of its options before anything is sent.

use core::fmt;

use kcom::{NTSTATUS, STATUS_INVALID_PARAMETER};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{
    DEFAULT_ALIGN, Header, I32, MAX_ALIGN, MAX_ALLOC_SIZE, MAX_ITERATIONS, MAX_TOTAL_BYTES,
    StrategyId, U32, U64, wire,
};

/// `RUN_EXERCISE` input.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct RunRequest {
    /// Version and [`RunRequest::SIZE`].
    pub header: Header,
    /// [`StrategyId`] wire value.
    pub strategy: U32,
    /// Reserved for options; must be zero.
    pub flags: U32,
    /// Number of blocks to allocate, `1..=MAX_ITERATIONS`.
    pub iterations: U32,
    /// Smallest block size, `1..=max_size`.
    pub min_size: U32,
    /// Largest block size, `min_size..=MAX_ALLOC_SIZE`.
    pub max_size: U32,
    /// Block alignment: 0 for [`DEFAULT_ALIGN`], else a power of two up to
    /// [`MAX_ALIGN`].
    pub align: U32,
    /// Seed of the size sequence and of the written patterns.
    pub seed: U64,
}
wire::size!(RunRequest, 40);
wire::message!(RunRequest, header);

/// Which rule a [`RunRequest`] breaks, in the order
/// [`RunRequest::validate`] checks them. On the wire every one is
/// `STATUS_INVALID_PARAMETER` ([`status`](Self::status)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunRequestError {
    /// `strategy` is no [`StrategyId`] wire value.
    UnknownStrategy(u32),
    /// `flags` has bits set (none is defined).
    FlagsSet(u32),
    /// `iterations` is not in `1..=MAX_ITERATIONS`.
    Iterations(u32),
    /// `min_size` is not in `1..=MAX_ALLOC_SIZE`.
    MinSize(u32),
    /// `max_size` is not in `1..=MAX_ALLOC_SIZE`.
    MaxSize(u32),
    /// `min_size` is larger than `max_size`.
    MinAboveMax {
        /// The smallest size asked for.
        min_size: u32,
        /// The largest size asked for.
        max_size: u32,
    },
    /// `align` is neither 0 nor a power of two up to `MAX_ALIGN`.
    Align(u32),
    /// `iterations * max_size` (this many bytes) exceeds `MAX_TOTAL_BYTES`.
    TotalBytes(u64),
}

impl RunRequestError {
    /// The status the device completes such a request with.
    pub const fn status(self) -> NTSTATUS {
        STATUS_INVALID_PARAMETER
    }
}

impl From<RunRequestError> for NTSTATUS {
    fn from(e: RunRequestError) -> Self {
        e.status()
    }
}

impl fmt::Display for RunRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RunRequestError::UnknownStrategy(v) => write!(f, "unknown strategy {v}"),
            RunRequestError::FlagsSet(v) => write!(f, "flags must be 0, got {v:#x}"),
            RunRequestError::Iterations(v) => {
                write!(f, "iterations must be in 1..={MAX_ITERATIONS}, got {v}")
            }
            RunRequestError::MinSize(v) => {
                write!(f, "min_size must be in 1..={MAX_ALLOC_SIZE}, got {v}")
            }
            RunRequestError::MaxSize(v) => {
                write!(f, "max_size must be in 1..={MAX_ALLOC_SIZE}, got {v}")
            }
            RunRequestError::MinAboveMax { min_size, max_size } => {
                write!(
                    f,
                    "min_size ({min_size}) is larger than max_size ({max_size})"
                )
            }
            RunRequestError::Align(v) => write!(
                f,
                "align must be 0 ({DEFAULT_ALIGN}) or a power of two up to {MAX_ALIGN}, got {v}"
            ),
            RunRequestError::TotalBytes(v) => write!(
                f,
                "iterations * max_size must be at most {MAX_TOTAL_BYTES}, got {v}"
            ),
        }
    }
}

impl RunRequest {
    /// Wire size in bytes.
    pub const SIZE: usize = size_of::<Self>();

    /// A request for this protocol version.
    pub const fn new(
        strategy: StrategyId,
        iterations: u32,
        min_size: u32,
        max_size: u32,
        seed: u64,
    ) -> Self {
        RunRequest {
            header: Header::new(Self::SIZE),
            strategy: U32::new(strategy.as_u32()),
            flags: U32::ZERO,
            iterations: U32::new(iterations),
            min_size: U32::new(min_size),
            max_size: U32::new(max_size),
            align: U32::ZERO,
            seed: U64::new(seed),
        }
    }

    /// The same request with alignment `align` (0 = [`DEFAULT_ALIGN`]).
    pub const fn with_align(self, align: u32) -> Self {
        RunRequest {
            align: U32::new(align),
            ..self
        }
    }

    /// Encodes into the front of `out`; returns the byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        wire::encode_with(out, |m: &mut Self| *m = *self)
    }

    /// Decodes a request from exactly [`Self::SIZE`] bytes, checking the
    /// header only; [`validate`](Self::validate) checks the values.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        wire::decode(buf)
    }

    /// Checks every value against the limits and returns the parameters an
    /// exercise runs with, or the first rule the request breaks.
    pub fn validate(&self) -> Result<ExerciseParams, RunRequestError> {
        let raw = self.strategy.get();
        let strategy = StrategyId::from_u32(raw).ok_or(RunRequestError::UnknownStrategy(raw))?;
        let flags = self.flags.get();
        if flags != 0 {
            return Err(RunRequestError::FlagsSet(flags));
        }
        let iterations = self.iterations.get();
        if !(1..=MAX_ITERATIONS).contains(&iterations) {
            return Err(RunRequestError::Iterations(iterations));
        }
        let (min_size, max_size) = (self.min_size.get(), self.max_size.get());
        if !(1..=MAX_ALLOC_SIZE).contains(&min_size) {
            return Err(RunRequestError::MinSize(min_size));
        }
        if !(1..=MAX_ALLOC_SIZE).contains(&max_size) {
            return Err(RunRequestError::MaxSize(max_size));
        }
        if min_size > max_size {
            return Err(RunRequestError::MinAboveMax { min_size, max_size });
        }
        let align = match self.align.get() {
            0 => DEFAULT_ALIGN,
            a => a,
        };
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return Err(RunRequestError::Align(self.align.get()));
        }
        let total = u64::from(iterations) * u64::from(max_size);
        if total > MAX_TOTAL_BYTES {
            return Err(RunRequestError::TotalBytes(total));
        }
        Ok(ExerciseParams {
            strategy,
            iterations,
            min_size,
            max_size,
            align,
            seed: self.seed.get(),
        })
    }
}

/// The validated parameters of one exercise run (see [`RunRequest::validate`]).
///
/// Invariants: `1 <= iterations <= MAX_ITERATIONS`,
/// `1 <= min_size <= max_size <= MAX_ALLOC_SIZE`, `align` a power of two
/// `<= MAX_ALIGN`, `iterations * max_size <= MAX_TOTAL_BYTES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExerciseParams {
    /// The strategy to run.
    pub strategy: StrategyId,
    /// Number of blocks to allocate.
    pub iterations: u32,
    /// Smallest block size.
    pub min_size: u32,
    /// Largest block size.
    pub max_size: u32,
    /// Block alignment (already defaulted).
    pub align: u32,
    /// Seed of sizes and patterns.
    pub seed: u64,
}

impl ExerciseParams {
    /// The request that validates to these parameters (how they cross the
    /// COM boundary, where the receiving object validates them again).
    pub const fn to_request(&self) -> RunRequest {
        RunRequest::new(
            self.strategy,
            self.iterations,
            self.min_size,
            self.max_size,
            self.seed,
        )
        .with_align(self.align)
    }
}

/// What one exercise run did. All counts refer to the run only.
#[repr(C)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
pub struct ExerciseReport {
    /// [`StrategyId`] wire value.
    pub strategy: U32,
    /// Final status of the run (`STATUS_SUCCESS` in a successful response).
    pub ntstatus: I32,
    /// Successful allocations.
    pub allocations: U64,
    /// Frees.
    pub frees: U64,
    /// Bytes allocated in total.
    pub bytes: U64,
    /// Most bytes live at the same time.
    pub peak_bytes: U64,
    /// Allocations not freed when the run ended (0 unless something leaked).
    pub outstanding: U64,
    /// Elapsed time in nanoseconds (device clock).
    pub nanos: U64,
    /// Checksum of every pattern read back and verified before its free.
    pub checksum: U64,
}
wire::size!(ExerciseReport, 64);

/// `RUN_EXERCISE` output.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct RunResponse {
    /// Version and [`RunResponse::SIZE`].
    pub header: Header,
    /// The run's report.
    pub report: ExerciseReport,
}
wire::size!(RunResponse, 72);
wire::message!(RunResponse, header);

impl RunResponse {
    /// Wire size in bytes.
    pub const SIZE: usize = size_of::<Self>();

    /// A response carrying `report`.
    pub const fn new(report: ExerciseReport) -> Self {
        RunResponse {
            header: Header::new(Self::SIZE),
            report,
        }
    }

    /// Encodes into the front of `out`; returns the byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        wire::encode_with(out, |m: &mut Self| m.report = self.report)
    }

    /// Decodes and validates a response from exactly [`Self::SIZE`] bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        wire::decode(buf)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;
    use crate::protocol::{
        PROTOCOL_VERSION, STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH,
        STATUS_REVISION_MISMATCH,
    };

    #[test]
    fn run_messages_round_trip() {
        let mut buf = [0xAAu8; 64];
        let mut req =
            RunRequest::new(StrategyId::Stack, 77, 3, 900, 0x0123_4567_89AB_CDEF).with_align(64);
        req.flags = U32::new(5);
        assert_eq!(req.encode(&mut buf), Ok(RunRequest::SIZE));
        assert_eq!(&buf[..4], &PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(&buf[4..8], &40u32.to_le_bytes());
        assert_eq!(&buf[8..12], &7u32.to_le_bytes());
        assert_eq!(&buf[12..16], &5u32.to_le_bytes());
        assert_eq!(&buf[16..20], &77u32.to_le_bytes());
        assert_eq!(&buf[28..32], &64u32.to_le_bytes());
        assert_eq!(&buf[32..40], &0x0123_4567_89AB_CDEFu64.to_le_bytes());
        assert_eq!(RunRequest::decode(&buf[..RunRequest::SIZE]), Ok(req));
        // The header is always this build's, whatever the value says.
        let odd = RunRequest {
            header: Header {
                version: U32::new(9),
                size: U32::new(3),
            },
            ..req
        };
        let mut again = [0u8; RunRequest::SIZE];
        odd.encode(&mut again).unwrap();
        assert_eq!(again[..], buf[..RunRequest::SIZE]);

        let report = ExerciseReport {
            strategy: U32::new(4),
            ntstatus: I32::new(-5),
            allocations: U64::new(1),
            frees: U64::new(2),
            bytes: U64::new(3),
            peak_bytes: U64::new(4),
            outstanding: U64::new(5),
            nanos: U64::new(6),
            checksum: U64::new(u64::MAX),
        };
        let mut buf = [0xAAu8; RunResponse::SIZE];
        assert_eq!(
            RunResponse::new(report).encode(&mut buf),
            Ok(RunResponse::SIZE)
        );
        assert_eq!(&buf[12..16], &(-5i32).to_le_bytes());
        assert_eq!(&buf[16..24], &1u64.to_le_bytes());
        assert_eq!(&buf[64..72], &u64::MAX.to_le_bytes());
        assert_eq!(RunResponse::decode(&buf), Ok(RunResponse::new(report)));
    }

    #[test]
    fn decoders_reject_wrong_lengths_sizes_and_versions() {
        let mut buf = [0u8; RunRequest::SIZE + 1];
        RunRequest::new(StrategyId::Global, 1, 1, 1, 0)
            .encode(&mut buf)
            .unwrap();
        assert_eq!(
            RunRequest::decode(&buf[..RunRequest::SIZE - 1]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        assert_eq!(RunRequest::decode(&buf), Err(STATUS_INFO_LENGTH_MISMATCH));
        assert_eq!(RunRequest::decode(&[]), Err(STATUS_INFO_LENGTH_MISMATCH));
        // Declared size disagrees with the actual one (checked before the
        // version).
        let mut bad = buf;
        bad[4..8].copy_from_slice(&41u32.to_le_bytes());
        bad[..4].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            RunRequest::decode(&bad[..RunRequest::SIZE]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // Other protocol versions.
        for v in [0u32, PROTOCOL_VERSION + 1, u32::MAX] {
            let mut bad = buf;
            bad[..4].copy_from_slice(&v.to_le_bytes());
            assert_eq!(
                RunRequest::decode(&bad[..RunRequest::SIZE]),
                Err(STATUS_REVISION_MISMATCH)
            );
        }
        assert_eq!(
            RunResponse::decode(&[0u8; RunResponse::SIZE]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
    }

    #[test]
    fn encoders_reject_short_buffers() {
        assert_eq!(
            RunResponse::new(ExerciseReport::default()).encode(&mut [0u8; 71]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert_eq!(
            RunRequest::new(StrategyId::Global, 1, 1, 1, 0).encode(&mut [0u8; 39]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
    }

    #[test]
    fn validate_accepts_the_limits_and_names_the_rule_it_refuses() {
        let ok = RunRequest::new(StrategyId::Global, 10, 1, 64, 1);
        let p = ok.validate().unwrap();
        assert_eq!(p.align, DEFAULT_ALIGN);
        assert_eq!(p.strategy, StrategyId::Global);
        assert_eq!(p.to_request().validate(), Ok(p));

        let edge =
            RunRequest::new(StrategyId::ComObject, 256, 1, MAX_ALLOC_SIZE, 0).with_align(MAX_ALIGN);
        assert_eq!(
            u64::from(edge.iterations.get()) * u64::from(edge.max_size.get()),
            MAX_TOTAL_BYTES
        );
        assert!(edge.validate().is_ok());
        assert!(
            RunRequest::new(StrategyId::Global, MAX_ITERATIONS, 1, 16, 0)
                .validate()
                .is_ok()
        );

        use RunRequestError::*;
        let with = |f: fn(&mut RunRequest)| {
            let mut r = ok;
            f(&mut r);
            r.validate()
        };
        type Edit = fn(&mut RunRequest);
        let cases: [(Edit, RunRequestError); 13] = [
            (|r| r.strategy = U32::new(12), UnknownStrategy(12)),
            (
                |r| r.strategy = U32::new(u32::MAX),
                UnknownStrategy(u32::MAX),
            ),
            (|r| r.flags = U32::new(1), FlagsSet(1)),
            (|r| r.iterations = U32::new(0), Iterations(0)),
            (
                |r| r.iterations = U32::new(MAX_ITERATIONS + 1),
                Iterations(MAX_ITERATIONS + 1),
            ),
            (|r| r.min_size = U32::new(0), MinSize(0)),
            (
                |r| r.min_size = U32::new(65),
                MinAboveMax {
                    min_size: 65,
                    max_size: 64,
                },
            ),
            (
                |r| r.max_size = U32::new(MAX_ALLOC_SIZE + 1),
                MaxSize(MAX_ALLOC_SIZE + 1),
            ),
            (|r| r.max_size = U32::new(0), MaxSize(0)),
            (|r| r.align = U32::new(3), Align(3)),
            (|r| r.align = U32::new(MAX_ALIGN * 2), Align(MAX_ALIGN * 2)),
            (|r| r.align = U32::new(u32::MAX), Align(u32::MAX)),
            (
                |r| {
                    r.iterations = U32::new(257);
                    r.max_size = U32::new(MAX_ALLOC_SIZE);
                },
                TotalBytes(257 * u64::from(MAX_ALLOC_SIZE)),
            ),
        ];
        for (edit, error) in cases {
            assert_eq!(with(edit), Err(error));
            assert_eq!(NTSTATUS::from(error), STATUS_INVALID_PARAMETER);
        }
        assert_eq!(
            Iterations(0).to_string(),
            "iterations must be in 1..=1000000, got 0"
        );
    }
}
