//! The user/kernel contract: IOCTL codes, the device interface GUID, request
//! and response layouts, and their byte encodings.
//!
//! Everything that crosses the `DeviceIoControl` boundary is defined here and
//! nowhere else, so the driver, the user-mode client and the tests cannot
//! disagree. Each message is a `#[repr(C)]` struct whose first two fields are
//! `version` ([`PROTOCOL_VERSION`]) and `size` (the struct's byte length);
//! integers are little-endian and there is no implicit padding.
//!
//! Bytes from user mode are never reinterpreted in place: `decode` checks the
//! length, then reads each field with `from_le_bytes` into a fresh value, and
//! `encode` writes every byte of the reply (reserved fields as zero) so no
//! stale buffer contents reach the caller. No message carries a pointer.
//!
//! # Status codes
//!
//! | condition                                        | status                          |
//! |--------------------------------------------------|---------------------------------|
//! | IOCTL code not in this module                    | `STATUS_INVALID_DEVICE_REQUEST` |
//! | input length differs from the request size       | `STATUS_INFO_LENGTH_MISMATCH`   |
//! | `size` field differs from the request size       | `STATUS_INFO_LENGTH_MISMATCH`   |
//! | `version` field is not [`PROTOCOL_VERSION`]      | `STATUS_REVISION_MISMATCH`      |
//! | output buffer shorter than the response          | `STATUS_BUFFER_TOO_SMALL`       |
//! | unknown strategy, value out of range, flags set  | `STATUS_INVALID_PARAMETER`      |
//! | strategy known but not registered on the device  | `STATUS_NOT_SUPPORTED`          |
//! | pool allocation failed during an exercise        | `STATUS_INSUFFICIENT_RESOURCES` |
//! | a written pattern did not read back unchanged    | `STATUS_DATA_ERROR`             |

use kcom::{
    GUID, NTSTATUS, STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH, STATUS_INVALID_PARAMETER,
    STATUS_REVISION_MISMATCH,
};

// ---------------------------------------------------------------------------
// IOCTL codes
// ---------------------------------------------------------------------------

/// `METHOD_BUFFERED`: the I/O manager copies input into, and output out of,
/// one kernel buffer of `max(input, output)` bytes.
pub const METHOD_BUFFERED: u32 = 0;
/// `METHOD_IN_DIRECT`.
pub const METHOD_IN_DIRECT: u32 = 1;
/// `METHOD_OUT_DIRECT`.
pub const METHOD_OUT_DIRECT: u32 = 2;
/// `METHOD_NEITHER`.
pub const METHOD_NEITHER: u32 = 3;

/// `FILE_ANY_ACCESS`: no access right checked by the I/O manager.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_DATA` (`FILE_READ_ACCESS`).
pub const FILE_READ_DATA: u32 = 1;
/// `FILE_WRITE_DATA` (`FILE_WRITE_ACCESS`).
pub const FILE_WRITE_DATA: u32 = 2;

/// The device type of the sample device, in the range Microsoft reserves for
/// customers (`0x8000..=0xFFFF`).
pub const FILE_DEVICE_KCOM_SAMPLE: u32 = 0x8C0E;

/// The Windows `CTL_CODE` macro: packs a device type (bits 16..32), required
/// access (bits 14..16), function (bits 2..14) and transfer method (bits 0..2).
///
/// Out-of-range arguments are masked to their field width, as the C macro
/// effectively does for the values the headers use.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    ((device_type & 0xFFFF) << 16)
        | ((access & 0x3) << 14)
        | ((function & 0xFFF) << 2)
        | (method & 0x3)
}

/// The device type field of an IOCTL code (`DEVICE_TYPE_FROM_CTL_CODE`).
pub const fn ioctl_device_type(code: u32) -> u32 {
    code >> 16
}

/// The function field of an IOCTL code.
pub const fn ioctl_function(code: u32) -> u32 {
    (code >> 2) & 0xFFF
}

/// The transfer method of an IOCTL code (`METHOD_FROM_CTL_CODE`).
pub const fn ioctl_method(code: u32) -> u32 {
    code & 0x3
}

/// The required-access field of an IOCTL code.
pub const fn ioctl_access(code: u32) -> u32 {
    (code >> 14) & 0x3
}

// Access rights: the device's SDDL already admits only SYSTEM and
// Administrators, but a handle can be opened with *no* access rights at all,
// and `FILE_ANY_ACCESS` codes would then still reach the driver. The codes
// therefore demand the rights that match what they do: the two read-only
// queries need `FILE_READ_DATA`, the exercise (which allocates pool and burns
// CPU time) needs `FILE_READ_DATA | FILE_WRITE_DATA`. The I/O manager checks
// them against the handle's granted access before the driver sees the IRP.

/// `GET_INFO`: protocol version, limits and the registered strategies.
/// Input [`InfoRequest`], output [`InfoResponse`].
pub const IOCTL_KCOM_GET_INFO: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x800,
    METHOD_BUFFERED,
    FILE_READ_DATA,
);
/// `RUN_EXERCISE`: runs one strategy's workload.
/// Input [`RunRequest`], output [`RunResponse`].
pub const IOCTL_KCOM_RUN_EXERCISE: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x801,
    METHOD_BUFFERED,
    FILE_READ_DATA | FILE_WRITE_DATA,
);
/// `POOL_STATS`: outstanding allocations and bytes per pool type and tag.
/// Input [`PoolStatsRequest`], output [`PoolStatsResponse`].
pub const IOCTL_KCOM_POOL_STATS: u32 = ctl_code(
    FILE_DEVICE_KCOM_SAMPLE,
    0x802,
    METHOD_BUFFERED,
    FILE_READ_DATA,
);

/// Every IOCTL code the device understands.
pub const ALL_IOCTLS: [u32; 3] = [
    IOCTL_KCOM_GET_INFO,
    IOCTL_KCOM_RUN_EXERCISE,
    IOCTL_KCOM_POOL_STATS,
];

/// The IOCTLs of this protocol, as a closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ioctl {
    /// [`IOCTL_KCOM_GET_INFO`].
    GetInfo,
    /// [`IOCTL_KCOM_RUN_EXERCISE`].
    RunExercise,
    /// [`IOCTL_KCOM_POOL_STATS`].
    PoolStats,
}

impl Ioctl {
    /// The IOCTL for `code`, or `None` for any code this device does not
    /// define (including codes that differ only in method or access bits).
    pub const fn from_code(code: u32) -> Option<Ioctl> {
        match code {
            IOCTL_KCOM_GET_INFO => Some(Ioctl::GetInfo),
            IOCTL_KCOM_RUN_EXERCISE => Some(Ioctl::RunExercise),
            IOCTL_KCOM_POOL_STATS => Some(Ioctl::PoolStats),
            _ => None,
        }
    }

    /// The IOCTL code.
    pub const fn code(self) -> u32 {
        match self {
            Ioctl::GetInfo => IOCTL_KCOM_GET_INFO,
            Ioctl::RunExercise => IOCTL_KCOM_RUN_EXERCISE,
            Ioctl::PoolStats => IOCTL_KCOM_POOL_STATS,
        }
    }

    /// Byte length of the request this IOCTL takes.
    pub const fn request_size(self) -> usize {
        match self {
            Ioctl::GetInfo => InfoRequest::SIZE,
            Ioctl::RunExercise => RunRequest::SIZE,
            Ioctl::PoolStats => PoolStatsRequest::SIZE,
        }
    }

    /// Byte length of the response this IOCTL writes on success.
    pub const fn response_size(self) -> usize {
        match self {
            Ioctl::GetInfo => InfoResponse::SIZE,
            Ioctl::RunExercise => RunResponse::SIZE,
            Ioctl::PoolStats => PoolStatsResponse::SIZE,
        }
    }
}

/// The device interface class of the sample device; user mode finds the
/// device with `CM_Get_Device_Interface_List` on this GUID.
pub const GUID_DEVINTERFACE_KCOM_SAMPLE: GUID = kcom::guid!("3d75130d-1cfc-4b40-be0b-5c77d7beee90");

/// The protocol version carried in every message; bumped on any layout or
/// semantic change.
pub const PROTOCOL_VERSION: u32 = 1;

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// Most iterations (allocations) one `RUN_EXERCISE` may ask for.
pub const MAX_ITERATIONS: u32 = 1_000_000;
/// Largest block one iteration may allocate (1 MiB).
pub const MAX_ALLOC_SIZE: u32 = 1 << 20;
/// Cap on `iterations * max_size`: the most bytes one request may allocate
/// and write in total (256 MiB), which bounds its running time.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;
/// Most blocks an exercise keeps alive at the same time.
pub const MAX_LIVE_BLOCKS: u32 = 32;
/// Most bytes an exercise keeps alive at the same time (4 MiB); older blocks
/// are verified and freed first to stay under it.
pub const MAX_LIVE_BYTES: u64 = 4 << 20;
/// Largest alignment a request may ask for.
pub const MAX_ALIGN: u32 = 4096;
/// Alignment used when a request passes `align = 0`.
pub const DEFAULT_ALIGN: u32 = 8;
/// Capacity of the strategy table in [`InfoResponse`].
pub const MAX_STRATEGIES: usize = 16;
/// Capacity of the entry table in [`PoolStatsResponse`].
pub const MAX_POOL_ENTRIES: usize = 16;
/// Byte length of [`StrategyInfo::name`].
pub const NAME_LEN: usize = 32;
/// Byte length of [`StrategyInfo::description`].
pub const DESCRIPTION_LEN: usize = 96;

// ---------------------------------------------------------------------------
// Strategies and pools
// ---------------------------------------------------------------------------

/// The allocator strategies the protocol knows, by wire value.
///
/// A device registers an exercise for some of them; `GET_INFO` lists those.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyId {
    /// The Rust global allocator (`kcom::GlobalAllocator`).
    Global = 0,
    /// `WdkAllocator` on non-paged, no-execute pool.
    WdkNonPaged = 1,
    /// `WdkAllocator` on paged pool (`PASSIVE_LEVEL` only).
    WdkPaged = 2,
    /// `WdkAllocator` with alignments above 16 (`wdk-alloc-align`).
    WdkAligned = 3,
    /// Bump (arena) allocator.
    Bump = 4,
    /// Fixed-size block pool.
    Pool = 5,
    /// First-fit free list.
    FreeList = 6,
    /// LIFO stack allocator.
    Stack = 7,
    /// `KBox` over a kcom allocator.
    KBox = 8,
    /// `InitBox` / `PinInit`, including a failing initializer.
    InitBox = 9,
    /// COM object lifecycle (create, QueryInterface, AddRef/Release).
    ComObject = 10,
    /// An async COM method awaiting work completed on another thread.
    AsyncCom = 11,
}

impl StrategyId {
    /// All strategies, in wire order.
    pub const ALL: [StrategyId; 12] = [
        StrategyId::Global,
        StrategyId::WdkNonPaged,
        StrategyId::WdkPaged,
        StrategyId::WdkAligned,
        StrategyId::Bump,
        StrategyId::Pool,
        StrategyId::FreeList,
        StrategyId::Stack,
        StrategyId::KBox,
        StrategyId::InitBox,
        StrategyId::ComObject,
        StrategyId::AsyncCom,
    ];

    /// The strategy with wire value `v`, if any.
    pub const fn from_u32(v: u32) -> Option<StrategyId> {
        if (v as usize) < Self::ALL.len() {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// The wire value.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The short name used on command lines and in `GET_INFO` (`"free-list"`).
    pub const fn name(self) -> &'static str {
        match self {
            StrategyId::Global => "global",
            StrategyId::WdkNonPaged => "wdk-nonpaged",
            StrategyId::WdkPaged => "wdk-paged",
            StrategyId::WdkAligned => "wdk-aligned",
            StrategyId::Bump => "bump",
            StrategyId::Pool => "pool",
            StrategyId::FreeList => "free-list",
            StrategyId::Stack => "stack",
            StrategyId::KBox => "kbox",
            StrategyId::InitBox => "init-box",
            StrategyId::ComObject => "com-object",
            StrategyId::AsyncCom => "async-com",
        }
    }

    /// The strategy called `name` (exact, case-sensitive match of [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<StrategyId> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Pool type values as in the Windows `POOL_TYPE` enumeration, plus a marker
/// for memory that comes from the host heap (loopback and test builds).
pub mod pool_type {
    /// `NonPagedPool` (executable; not used by this driver).
    pub const NON_PAGED: u32 = 0;
    /// `PagedPool`.
    pub const PAGED: u32 = 1;
    /// `NonPagedPoolNx`.
    pub const NON_PAGED_NX: u32 = 512;
    /// Not a kernel pool: the host process heap (or a simulation of the
    /// pool on the host).
    pub const HOST: u32 = 0x8000_0000;
}

/// Builds a pool tag from its four characters as `!poolused` prints them
/// (`pool_tag(*b"kcom")`).
pub const fn pool_tag(chars: [u8; 4]) -> u32 {
    u32::from_le_bytes(chars)
}

/// Flag in [`StrategyInfo::flags`]: the exercise may run only at
/// `PASSIVE_LEVEL` (it touches paged pool).
pub const STRATEGY_FLAG_PASSIVE_ONLY: u32 = 1;
/// All flags defined for [`StrategyInfo::flags`].
pub const STRATEGY_FLAGS_ALL: u32 = STRATEGY_FLAG_PASSIVE_ONLY;

// ---------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------

/// Copies `s` into a NUL-padded fixed field, truncated at a character
/// boundary so the stored bytes stay valid UTF-8. Always leaves at least one
/// NUL at the end.
pub fn fixed_str<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let mut len = s.len().min(N.saturating_sub(1));
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    out[..len].copy_from_slice(&s.as_bytes()[..len]);
    out
}

/// The text of a NUL-padded fixed field: bytes up to the first NUL, or
/// `None` if they are not UTF-8.
pub fn str_from_fixed(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    core::str::from_utf8(&field[..end]).ok()
}

/// Little-endian field reader over a buffer whose length was checked.
struct Rd<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    /// Starts reading a message of exactly `size` bytes.
    fn exact(buf: &'a [u8], size: usize) -> Result<Self, NTSTATUS> {
        if buf.len() != size {
            return Err(STATUS_INFO_LENGTH_MISMATCH);
        }
        Ok(Rd { buf, pos: 0 })
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        // `exact` checked the total length and each message reads exactly
        // its size, so the range is in bounds; `get` keeps this panic-free
        // even if a future edit breaks that (the field then reads as zero).
        if let Some(src) = self.buf.get(self.pos..self.pos + N) {
            out.copy_from_slice(src);
        }
        self.pos += N;
        out
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.bytes())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }

    /// Reads and checks the `version` / `size` header.
    fn header(&mut self, size: usize) -> Result<(), NTSTATUS> {
        let version = self.u32();
        let declared = self.u32();
        if declared as usize != size {
            return Err(STATUS_INFO_LENGTH_MISMATCH);
        }
        if version != PROTOCOL_VERSION {
            return Err(STATUS_REVISION_MISMATCH);
        }
        Ok(())
    }
}

/// Little-endian field writer into a buffer whose length was checked.
struct Wr<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Wr<'a> {
    /// Starts writing a message of `size` bytes: fails with
    /// `STATUS_BUFFER_TOO_SMALL` if `buf` is shorter, zeroes the region and
    /// writes the header.
    fn start(buf: &'a mut [u8], size: usize) -> Result<Self, NTSTATUS> {
        let Some(region) = buf.get_mut(..size) else {
            return Err(STATUS_BUFFER_TOO_SMALL);
        };
        region.fill(0);
        let mut w = Wr {
            buf: region,
            pos: 0,
        };
        w.u32(PROTOCOL_VERSION);
        w.u32(size as u32);
        Ok(w)
    }

    fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn finish(self) -> usize {
        debug_assert_eq!(self.pos, self.buf.len());
        self.buf.len()
    }
}

/// Checks at compile time that a message's in-memory size equals its wire size
/// (so the `#[repr(C)]` struct has no hidden padding).
macro_rules! wire_size {
    ($t:ty, $size:expr) => {
        const _: () = assert!(core::mem::size_of::<$t>() == $size);
    };
}

// ---------------------------------------------------------------------------
// GET_INFO
// ---------------------------------------------------------------------------

/// A request that is only the version/size header (`GET_INFO`, `POOL_STATS`).
macro_rules! header_only_request {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            /// [`PROTOCOL_VERSION`].
            pub version: u32,
            /// The wire size, `Self::SIZE`.
            pub size: u32,
        }

        impl $name {
            /// Wire size in bytes.
            pub const SIZE: usize = 8;

            /// A request for this protocol version.
            pub const fn new() -> Self {
                $name {
                    version: PROTOCOL_VERSION,
                    size: Self::SIZE as u32,
                }
            }

            /// Decodes and validates a request from exactly [`Self::SIZE`] bytes.
            pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
                let mut r = Rd::exact(buf, Self::SIZE)?;
                r.header(Self::SIZE)?;
                Ok(Self::new())
            }

            /// Encodes into the front of `out`; returns the byte count.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
                Ok(Wr::start(out, Self::SIZE)?.finish())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        wire_size!($name, $name::SIZE);
    };
}

header_only_request! {
    /// `GET_INFO` input: just the header.
    InfoRequest
}

/// One registered strategy as listed by `GET_INFO`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyInfo {
    /// [`StrategyId`] wire value.
    pub id: u32,
    /// `STRATEGY_FLAG_*` bits.
    pub flags: u32,
    /// Pool type the exercise's memory comes from (see [`pool_type`]).
    pub pool_type: u32,
    /// Pool tag of that memory.
    pub tag: u32,
    /// [`StrategyId::name`], UTF-8, NUL-padded.
    pub name: [u8; NAME_LEN],
    /// One-line description, UTF-8, NUL-padded.
    pub description: [u8; DESCRIPTION_LEN],
}

impl Default for StrategyInfo {
    /// All zero (no strategy, empty strings).
    fn default() -> Self {
        StrategyInfo {
            id: 0,
            flags: 0,
            pool_type: 0,
            tag: 0,
            name: [0; NAME_LEN],
            description: [0; DESCRIPTION_LEN],
        }
    }
}

impl StrategyInfo {
    /// Wire size in bytes.
    pub const SIZE: usize = 16 + NAME_LEN + DESCRIPTION_LEN;

    /// An entry for `id` (name from [`StrategyId::name`]).
    pub fn new(id: StrategyId, flags: u32, pool_type: u32, tag: u32, description: &str) -> Self {
        StrategyInfo {
            id: id.as_u32(),
            flags,
            pool_type,
            tag,
            name: fixed_str(id.name()),
            description: fixed_str(description),
        }
    }

    /// The strategy, if `id` is a known one.
    pub fn strategy(&self) -> Option<StrategyId> {
        StrategyId::from_u32(self.id)
    }

    /// The name as text (`None` if not UTF-8).
    pub fn name_str(&self) -> Option<&str> {
        str_from_fixed(&self.name)
    }

    /// The description as text (`None` if not UTF-8).
    pub fn description_str(&self) -> Option<&str> {
        str_from_fixed(&self.description)
    }

    fn write(&self, w: &mut Wr<'_>) {
        w.u32(self.id);
        w.u32(self.flags);
        w.u32(self.pool_type);
        w.u32(self.tag);
        w.bytes(&self.name);
        w.bytes(&self.description);
    }

    fn read(r: &mut Rd<'_>) -> Self {
        StrategyInfo {
            id: r.u32(),
            flags: r.u32(),
            pool_type: r.u32(),
            tag: r.u32(),
            name: r.bytes(),
            description: r.bytes(),
        }
    }
}
wire_size!(StrategyInfo, StrategyInfo::SIZE);

/// `GET_INFO` output header.
///
/// On the wire the header is followed by [`MAX_STRATEGIES`] [`StrategyInfo`]
/// slots, the first `strategy_count` of them used and the rest zero, so the
/// message always has [`InfoResponse::SIZE`] bytes. The slots are encoded
/// from an iterator and decoded on demand ([`InfoView`]), so neither side
/// needs the whole table on its stack (kernel stacks are small).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoResponse {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// [`InfoResponse::SIZE`] (the whole message).
    pub size: u32,
    /// Number of used strategy slots.
    pub strategy_count: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// [`MAX_ITERATIONS`] as enforced by this device.
    pub max_iterations: u32,
    /// [`MAX_ALLOC_SIZE`] as enforced by this device.
    pub max_alloc_size: u32,
    /// [`MAX_ALIGN`] as enforced by this device.
    pub max_align: u32,
    /// [`MAX_LIVE_BLOCKS`] as enforced by this device.
    pub max_live_blocks: u32,
    /// [`MAX_TOTAL_BYTES`] as enforced by this device.
    pub max_total_bytes: u64,
}

impl InfoResponse {
    /// Wire size of the header.
    pub const HEADER_SIZE: usize = 40;
    /// Wire size of the whole message (header and strategy slots).
    pub const SIZE: usize = Self::HEADER_SIZE + MAX_STRATEGIES * StrategyInfo::SIZE;

    /// A header with this build's limits and `strategy_count` entries.
    pub const fn new(strategy_count: u32) -> Self {
        InfoResponse {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            strategy_count,
            reserved: 0,
            max_iterations: MAX_ITERATIONS,
            max_alloc_size: MAX_ALLOC_SIZE,
            max_align: MAX_ALIGN,
            max_live_blocks: MAX_LIVE_BLOCKS,
            max_total_bytes: MAX_TOTAL_BYTES,
        }
    }

    /// Encodes the message: this build's limits and the strategies yielded
    /// by `strategies` (at most [`MAX_STRATEGIES`]; further ones are
    /// dropped). Returns the byte count, [`InfoResponse::SIZE`].
    pub fn encode<I>(strategies: I, out: &mut [u8]) -> Result<usize, NTSTATUS>
    where
        I: IntoIterator<Item = StrategyInfo>,
    {
        let mut w = Wr::start(out, Self::SIZE)?;
        let header = Self::new(0);
        w.u32(0); // strategy_count, patched below
        w.u32(0);
        w.u32(header.max_iterations);
        w.u32(header.max_alloc_size);
        w.u32(header.max_align);
        w.u32(header.max_live_blocks);
        w.u64(header.max_total_bytes);
        let mut count = 0u32;
        for s in strategies.into_iter().take(MAX_STRATEGIES) {
            s.write(&mut w);
            count += 1;
        }
        // The remaining slots stay zero (`Wr::start` cleared the region).
        w.pos = Self::SIZE;
        let written = w.finish();
        if let Some(field) = out.get_mut(8..12) {
            field.copy_from_slice(&count.to_le_bytes());
        }
        Ok(written)
    }

    /// Decodes and validates a message of exactly [`Self::SIZE`] bytes.
    pub fn decode(buf: &[u8]) -> Result<InfoView<'_>, NTSTATUS> {
        let mut r = Rd::exact(buf, Self::SIZE)?;
        r.header(Self::SIZE)?;
        let header = InfoResponse {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            strategy_count: r.u32(),
            reserved: r.u32(),
            max_iterations: r.u32(),
            max_alloc_size: r.u32(),
            max_align: r.u32(),
            max_live_blocks: r.u32(),
            max_total_bytes: r.u64(),
        };
        if header.strategy_count as usize > MAX_STRATEGIES {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(InfoView {
            header,
            slots: &buf[Self::HEADER_SIZE..],
        })
    }
}
wire_size!(InfoResponse, InfoResponse::HEADER_SIZE);

/// A decoded `GET_INFO` message: the header, and the strategy slots read
/// from the buffer on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InfoView<'a> {
    /// The header.
    pub header: InfoResponse,
    slots: &'a [u8],
}

impl<'a> InfoView<'a> {
    /// The `i`-th used strategy slot.
    pub fn strategy(&self, i: usize) -> Option<StrategyInfo> {
        if i >= self.header.strategy_count as usize {
            return None;
        }
        let at = i * StrategyInfo::SIZE;
        let bytes = self.slots.get(at..at + StrategyInfo::SIZE)?;
        let mut r = Rd { buf: bytes, pos: 0 };
        Some(StrategyInfo::read(&mut r))
    }

    /// The used strategy slots, in order.
    pub fn strategies(&self) -> impl Iterator<Item = StrategyInfo> + 'a {
        let view = *self;
        (0..self.header.strategy_count as usize).filter_map(move |i| view.strategy(i))
    }

    /// The slot for `id`, if listed.
    pub fn find(&self, id: StrategyId) -> Option<StrategyInfo> {
        self.strategies().find(|s| s.id == id.as_u32())
    }

    /// True when every unused slot is zero (an encoder that leaks nothing).
    pub fn unused_slots_are_zero(&self) -> bool {
        let used = self.header.strategy_count as usize * StrategyInfo::SIZE;
        self.slots
            .get(used..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0))
    }
}

// ---------------------------------------------------------------------------
// RUN_EXERCISE
// ---------------------------------------------------------------------------

/// `RUN_EXERCISE` input.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRequest {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// [`RunRequest::SIZE`].
    pub size: u32,
    /// [`StrategyId`] wire value.
    pub strategy: u32,
    /// Reserved for options; must be zero.
    pub flags: u32,
    /// Number of blocks to allocate, `1..=MAX_ITERATIONS`.
    pub iterations: u32,
    /// Smallest block size, `1..=max_size`.
    pub min_size: u32,
    /// Largest block size, `min_size..=MAX_ALLOC_SIZE`.
    pub max_size: u32,
    /// Block alignment: 0 for [`DEFAULT_ALIGN`], else a power of two up to
    /// [`MAX_ALIGN`].
    pub align: u32,
    /// Seed of the size sequence and of the written patterns.
    pub seed: u64,
}

impl RunRequest {
    /// Wire size in bytes.
    pub const SIZE: usize = 40;

    /// A request for this protocol version.
    pub const fn new(
        strategy: StrategyId,
        iterations: u32,
        min_size: u32,
        max_size: u32,
        seed: u64,
    ) -> Self {
        RunRequest {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            strategy: strategy.as_u32(),
            flags: 0,
            iterations,
            min_size,
            max_size,
            align: 0,
            seed,
        }
    }

    /// Encodes into the front of `out`; returns the byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        let mut w = Wr::start(out, Self::SIZE)?;
        w.u32(self.strategy);
        w.u32(self.flags);
        w.u32(self.iterations);
        w.u32(self.min_size);
        w.u32(self.max_size);
        w.u32(self.align);
        w.u64(self.seed);
        Ok(w.finish())
    }

    /// Decodes a request from exactly [`Self::SIZE`] bytes, checking the
    /// header only; [`validate`](Self::validate) checks the values.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        let mut r = Rd::exact(buf, Self::SIZE)?;
        r.header(Self::SIZE)?;
        Ok(RunRequest {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            strategy: r.u32(),
            flags: r.u32(),
            iterations: r.u32(),
            min_size: r.u32(),
            max_size: r.u32(),
            align: r.u32(),
            seed: r.u64(),
        })
    }

    /// Checks every value against the limits and returns the parameters an
    /// exercise runs with; `STATUS_INVALID_PARAMETER` for anything out of
    /// range.
    pub fn validate(&self) -> Result<ExerciseParams, NTSTATUS> {
        let strategy = StrategyId::from_u32(self.strategy).ok_or(STATUS_INVALID_PARAMETER)?;
        if self.flags != 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if self.min_size == 0 || self.min_size > self.max_size || self.max_size > MAX_ALLOC_SIZE {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let align = if self.align == 0 {
            DEFAULT_ALIGN
        } else {
            self.align
        };
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return Err(STATUS_INVALID_PARAMETER);
        }
        if u64::from(self.iterations) * u64::from(self.max_size) > MAX_TOTAL_BYTES {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(ExerciseParams {
            strategy,
            iterations: self.iterations,
            min_size: self.min_size,
            max_size: self.max_size,
            align,
            seed: self.seed,
        })
    }
}
wire_size!(RunRequest, RunRequest::SIZE);

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
        RunRequest {
            align: self.align,
            ..RunRequest::new(
                self.strategy,
                self.iterations,
                self.min_size,
                self.max_size,
                self.seed,
            )
        }
    }
}

/// What one exercise run did. All counts refer to the run only.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExerciseReport {
    /// [`StrategyId`] wire value.
    pub strategy: u32,
    /// Final status of the run (`STATUS_SUCCESS` in a successful response).
    pub ntstatus: NTSTATUS,
    /// Successful allocations.
    pub allocations: u64,
    /// Frees.
    pub frees: u64,
    /// Bytes allocated in total.
    pub bytes: u64,
    /// Most bytes live at the same time.
    pub peak_bytes: u64,
    /// Allocations not freed when the run ended (0 unless something leaked).
    pub outstanding: u64,
    /// Elapsed time in nanoseconds (device clock).
    pub nanos: u64,
    /// Checksum of every pattern read back and verified before its free.
    pub checksum: u64,
}

impl ExerciseReport {
    fn write(&self, w: &mut Wr<'_>) {
        w.u32(self.strategy);
        w.i32(self.ntstatus);
        w.u64(self.allocations);
        w.u64(self.frees);
        w.u64(self.bytes);
        w.u64(self.peak_bytes);
        w.u64(self.outstanding);
        w.u64(self.nanos);
        w.u64(self.checksum);
    }

    fn read(r: &mut Rd<'_>) -> Self {
        ExerciseReport {
            strategy: r.u32(),
            ntstatus: r.i32(),
            allocations: r.u64(),
            frees: r.u64(),
            bytes: r.u64(),
            peak_bytes: r.u64(),
            outstanding: r.u64(),
            nanos: r.u64(),
            checksum: r.u64(),
        }
    }
}
wire_size!(ExerciseReport, 64);

/// `RUN_EXERCISE` output.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunResponse {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// [`RunResponse::SIZE`].
    pub size: u32,
    /// The run's report.
    pub report: ExerciseReport,
}

impl RunResponse {
    /// Wire size in bytes.
    pub const SIZE: usize = 72;

    /// A response carrying `report`.
    pub const fn new(report: ExerciseReport) -> Self {
        RunResponse {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            report,
        }
    }

    /// Encodes into the front of `out`; returns the byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        let mut w = Wr::start(out, Self::SIZE)?;
        self.report.write(&mut w);
        Ok(w.finish())
    }

    /// Decodes and validates a response from exactly [`Self::SIZE`] bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        let mut r = Rd::exact(buf, Self::SIZE)?;
        r.header(Self::SIZE)?;
        Ok(Self::new(ExerciseReport::read(&mut r)))
    }
}
wire_size!(RunResponse, RunResponse::SIZE);

// ---------------------------------------------------------------------------
// POOL_STATS
// ---------------------------------------------------------------------------

header_only_request! {
    /// `POOL_STATS` input: just the header.
    PoolStatsRequest
}

/// Accounting for one (pool type, tag) pair.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatsEntry {
    /// Pool type (see [`pool_type`]).
    pub pool_type: u32,
    /// Pool tag.
    pub tag: u32,
    /// Successful allocations since the device started.
    pub allocations: u64,
    /// Frees since the device started.
    pub frees: u64,
    /// Allocations currently live.
    pub outstanding_allocations: u64,
    /// Bytes currently live.
    pub outstanding_bytes: u64,
    /// Most bytes live at the same time since the device started.
    pub peak_bytes: u64,
}

impl PoolStatsEntry {
    /// Wire size in bytes.
    pub const SIZE: usize = 48;

    fn write(&self, w: &mut Wr<'_>) {
        w.u32(self.pool_type);
        w.u32(self.tag);
        w.u64(self.allocations);
        w.u64(self.frees);
        w.u64(self.outstanding_allocations);
        w.u64(self.outstanding_bytes);
        w.u64(self.peak_bytes);
    }

    fn read(r: &mut Rd<'_>) -> Self {
        PoolStatsEntry {
            pool_type: r.u32(),
            tag: r.u32(),
            allocations: r.u64(),
            frees: r.u64(),
            outstanding_allocations: r.u64(),
            outstanding_bytes: r.u64(),
            peak_bytes: r.u64(),
        }
    }

    const EMPTY: PoolStatsEntry = PoolStatsEntry {
        pool_type: 0,
        tag: 0,
        allocations: 0,
        frees: 0,
        outstanding_allocations: 0,
        outstanding_bytes: 0,
        peak_bytes: 0,
    };
}
wire_size!(PoolStatsEntry, PoolStatsEntry::SIZE);

/// `POOL_STATS` output.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatsResponse {
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// [`PoolStatsResponse::SIZE`].
    pub size: u32,
    /// Number of valid entries at the front of `entries`.
    pub entry_count: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// The entries; those past `entry_count` are zero.
    pub entries: [PoolStatsEntry; MAX_POOL_ENTRIES],
}

impl PoolStatsResponse {
    /// Wire size in bytes.
    pub const SIZE: usize = 16 + MAX_POOL_ENTRIES * PoolStatsEntry::SIZE;

    /// A response with no entry.
    pub const fn empty() -> Self {
        PoolStatsResponse {
            version: PROTOCOL_VERSION,
            size: Self::SIZE as u32,
            entry_count: 0,
            reserved: 0,
            entries: [PoolStatsEntry::EMPTY; MAX_POOL_ENTRIES],
        }
    }

    /// The valid entries.
    pub fn entries(&self) -> &[PoolStatsEntry] {
        let n = (self.entry_count as usize).min(MAX_POOL_ENTRIES);
        &self.entries[..n]
    }

    /// The entry for `(pool_type, tag)`, if listed.
    pub fn find(&self, pool_type: u32, tag: u32) -> Option<&PoolStatsEntry> {
        self.entries()
            .iter()
            .find(|e| e.pool_type == pool_type && e.tag == tag)
    }

    /// Encodes into the front of `out`; returns the byte count.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, NTSTATUS> {
        let mut w = Wr::start(out, Self::SIZE)?;
        w.u32(self.entry_count);
        w.u32(0);
        for e in &self.entries {
            e.write(&mut w);
        }
        Ok(w.finish())
    }

    /// Decodes and validates a response from exactly [`Self::SIZE`] bytes.
    pub fn decode(buf: &[u8]) -> Result<Self, NTSTATUS> {
        let mut r = Rd::exact(buf, Self::SIZE)?;
        r.header(Self::SIZE)?;
        let mut v = Self::empty();
        v.entry_count = r.u32();
        v.reserved = r.u32();
        for e in v.entries.iter_mut() {
            *e = PoolStatsEntry::read(&mut r);
        }
        if v.entry_count as usize > MAX_POOL_ENTRIES {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(v)
    }
}
wire_size!(PoolStatsResponse, PoolStatsResponse::SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctl_code_matches_the_windows_macro() {
        // CTL_CODE(FILE_DEVICE_UNKNOWN=0x22, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(0x22, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0022_2000
        );
        // IOCTL_DISK_GET_DRIVE_GEOMETRY = CTL_CODE(7, 0, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(7, 0, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0007_0000
        );
        // FSCTL_GET_REPARSE_POINT = CTL_CODE(9, 42, METHOD_BUFFERED, FILE_ANY_ACCESS)
        assert_eq!(
            ctl_code(9, 42, METHOD_BUFFERED, FILE_ANY_ACCESS),
            0x0009_00A8
        );
        // IOCTL_STORAGE_EJECT_MEDIA = CTL_CODE(0x2d, 0x202, METHOD_BUFFERED, FILE_READ_ACCESS)
        assert_eq!(
            ctl_code(0x2D, 0x202, METHOD_BUFFERED, FILE_READ_DATA),
            0x002D_4808
        );
    }

    #[test]
    fn ioctl_codes_are_in_the_customer_ranges_and_buffered() {
        for code in ALL_IOCTLS {
            assert!(ioctl_device_type(code) >= 0x8000);
            assert!(ioctl_function(code) >= 0x800);
            assert_eq!(ioctl_method(code), METHOD_BUFFERED);
            assert_ne!(ioctl_access(code), FILE_ANY_ACCESS);
            let ioctl = Ioctl::from_code(code).unwrap();
            assert_eq!(ioctl.code(), code);
        }
        assert_eq!(
            ioctl_access(IOCTL_KCOM_RUN_EXERCISE),
            FILE_READ_DATA | FILE_WRITE_DATA
        );
        // Same function, other method: not ours.
        assert_eq!(Ioctl::from_code(IOCTL_KCOM_GET_INFO | METHOD_NEITHER), None);
        assert_eq!(Ioctl::from_code(0), None);
    }

    #[test]
    fn ioctl_codes_are_stable() {
        // Clients compiled against earlier builds depend on these values.
        assert_eq!(IOCTL_KCOM_GET_INFO, 0x8C0E_6000);
        assert_eq!(IOCTL_KCOM_RUN_EXERCISE, 0x8C0E_E004);
        assert_eq!(IOCTL_KCOM_POOL_STATS, 0x8C0E_6008);
        assert_eq!(
            GUID_DEVINTERFACE_KCOM_SAMPLE,
            GUID::new(
                0x3d75_130d,
                0x1cfc,
                0x4b40,
                [0xbe, 0x0b, 0x5c, 0x77, 0xd7, 0xbe, 0xee, 0x90]
            )
        );
        assert_eq!(
            (
                InfoResponse::SIZE,
                RunRequest::SIZE,
                RunResponse::SIZE,
                PoolStatsResponse::SIZE
            ),
            (2344, 40, 72, 784)
        );
    }

    #[test]
    fn strategy_ids_names_and_wire_values_agree() {
        assert_eq!(StrategyId::ALL.len(), 12);
        for (i, s) in StrategyId::ALL.into_iter().enumerate() {
            assert_eq!(s.as_u32() as usize, i);
            assert_eq!(StrategyId::from_u32(i as u32), Some(s));
            assert_eq!(StrategyId::from_name(s.name()), Some(s));
            assert!(s.name().len() < NAME_LEN);
        }
        assert_eq!(StrategyId::from_u32(12), None);
        assert_eq!(StrategyId::from_u32(u32::MAX), None);
        assert_eq!(
            StrategyId::from_name("free-list"),
            Some(StrategyId::FreeList)
        );
        assert_eq!(StrategyId::from_name("Free-List"), None);
        assert_eq!(StrategyId::from_name(""), None);
    }

    #[test]
    fn fixed_strings_truncate_on_char_boundaries() {
        let f: [u8; 8] = fixed_str("abc");
        assert_eq!(&f, b"abc\0\0\0\0\0");
        assert_eq!(str_from_fixed(&f), Some("abc"));
        let f: [u8; 4] = fixed_str("abcdef");
        assert_eq!(&f, b"abc\0");
        // "é" is two bytes: it must not be split.
        let f: [u8; 4] = fixed_str("aaé");
        assert_eq!(str_from_fixed(&f), Some("aa"));
        assert_eq!(str_from_fixed(&[0xFF, 0]), None);
        assert_eq!(str_from_fixed(b"full"), Some("full"));
    }

    #[test]
    fn requests_round_trip() {
        let mut buf = [0xAAu8; 64];
        assert_eq!(InfoRequest::new().encode(&mut buf), Ok(InfoRequest::SIZE));
        assert_eq!(
            InfoRequest::decode(&buf[..InfoRequest::SIZE]),
            Ok(InfoRequest::new())
        );
        assert_eq!(PoolStatsRequest::new().encode(&mut buf), Ok(8));
        assert_eq!(
            PoolStatsRequest::decode(&buf[..8]),
            Ok(PoolStatsRequest::new())
        );

        let mut req = RunRequest::new(StrategyId::Stack, 77, 3, 900, 0x0123_4567_89AB_CDEF);
        req.align = 64;
        req.flags = 5;
        assert_eq!(req.encode(&mut buf), Ok(RunRequest::SIZE));
        assert_eq!(&buf[..4], &PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(&buf[4..8], &40u32.to_le_bytes());
        assert_eq!(&buf[32..40], &0x0123_4567_89AB_CDEFu64.to_le_bytes());
        assert_eq!(RunRequest::decode(&buf[..RunRequest::SIZE]), Ok(req));
    }

    #[test]
    fn responses_round_trip() {
        let strategies = [
            StrategyInfo::new(
                StrategyId::Global,
                0,
                pool_type::HOST,
                pool_tag(*b"kcom"),
                "d",
            ),
            StrategyInfo::new(
                StrategyId::WdkPaged,
                STRATEGY_FLAG_PASSIVE_ONLY,
                pool_type::PAGED,
                7,
                "paged",
            ),
        ];
        let mut buf = [0xAAu8; InfoResponse::SIZE];
        assert_eq!(
            InfoResponse::encode(strategies, &mut buf),
            Ok(InfoResponse::SIZE)
        );
        let back = InfoResponse::decode(&buf).unwrap();
        assert_eq!(back.header, InfoResponse::new(2));
        assert!(back.unused_slots_are_zero());
        assert_eq!(back.strategies().count(), 2);
        assert_eq!(back.strategy(0), Some(strategies[0]));
        assert_eq!(back.strategy(1), Some(strategies[1]));
        assert_eq!(back.strategy(2), None);
        let paged = back.find(StrategyId::WdkPaged).unwrap();
        assert_eq!(paged.name_str(), Some("wdk-paged"));
        assert_eq!(paged.description_str(), Some("paged"));
        assert_eq!(paged.strategy(), Some(StrategyId::WdkPaged));
        assert!(back.find(StrategyId::Bump).is_none());
        // More strategies than slots: the extra ones are dropped.
        let many = (0..MAX_STRATEGIES + 3).map(|_| strategies[0]);
        InfoResponse::encode(many, &mut buf).unwrap();
        assert_eq!(
            InfoResponse::decode(&buf).unwrap().header.strategy_count as usize,
            MAX_STRATEGIES
        );

        let report = ExerciseReport {
            strategy: 4,
            ntstatus: -5,
            allocations: 1,
            frees: 2,
            bytes: 3,
            peak_bytes: 4,
            outstanding: 5,
            nanos: 6,
            checksum: u64::MAX,
        };
        let mut buf = [0xAAu8; RunResponse::SIZE];
        assert_eq!(
            RunResponse::new(report).encode(&mut buf),
            Ok(RunResponse::SIZE)
        );
        assert_eq!(RunResponse::decode(&buf), Ok(RunResponse::new(report)));

        let mut stats = PoolStatsResponse::empty();
        stats.entries[0] = PoolStatsEntry {
            pool_type: pool_type::NON_PAGED_NX,
            tag: 9,
            allocations: 10,
            frees: 8,
            outstanding_allocations: 2,
            outstanding_bytes: 100,
            peak_bytes: 300,
        };
        stats.entry_count = 1;
        let mut buf = [0xAAu8; PoolStatsResponse::SIZE];
        assert_eq!(stats.encode(&mut buf), Ok(PoolStatsResponse::SIZE));
        let back = PoolStatsResponse::decode(&buf).unwrap();
        assert_eq!(back, stats);
        assert_eq!(
            back.find(pool_type::NON_PAGED_NX, 9).unwrap().peak_bytes,
            300
        );
        assert!(back.find(pool_type::PAGED, 9).is_none());
    }

    #[test]
    fn encoding_overwrites_every_byte_of_the_message() {
        // Stale bytes in the (shared) buffer must not survive in the reply.
        let mut a = [0x00u8; InfoResponse::SIZE];
        let mut b = [0xFFu8; InfoResponse::SIZE];
        let one = [StrategyInfo::new(StrategyId::Pool, 0, 1, 2, "x")];
        InfoResponse::encode(one, &mut a).unwrap();
        InfoResponse::encode(one, &mut b).unwrap();
        assert_eq!(a, b);
        let mut a = [0x00u8; PoolStatsResponse::SIZE];
        let mut b = [0xFFu8; PoolStatsResponse::SIZE];
        PoolStatsResponse::empty().encode(&mut a).unwrap();
        PoolStatsResponse::empty().encode(&mut b).unwrap();
        assert_eq!(a, b);
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
        // Declared size disagrees with the actual one.
        let mut bad = buf;
        bad[4..8].copy_from_slice(&41u32.to_le_bytes());
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
        let mut small = [0u8; 8];
        InfoRequest::new().encode(&mut small).unwrap();
        small[0] = 9;
        assert_eq!(InfoRequest::decode(&small), Err(STATUS_REVISION_MISMATCH));
        assert_eq!(
            InfoRequest::decode(&small[..7]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        assert_eq!(
            PoolStatsRequest::decode(&[0u8; 9]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // Responses: a count beyond the table is refused.
        let mut r = [0u8; PoolStatsResponse::SIZE];
        let mut s = PoolStatsResponse::empty();
        s.entry_count = MAX_POOL_ENTRIES as u32 + 1;
        s.encode(&mut r).unwrap();
        assert_eq!(PoolStatsResponse::decode(&r), Err(STATUS_INVALID_PARAMETER));
        let mut r = [0u8; InfoResponse::SIZE];
        InfoResponse::encode([], &mut r).unwrap();
        r[8..12].copy_from_slice(&(MAX_STRATEGIES as u32 + 1).to_le_bytes());
        assert_eq!(InfoResponse::decode(&r), Err(STATUS_INVALID_PARAMETER));
        assert_eq!(
            InfoResponse::decode(&r[..InfoResponse::SIZE - 1]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
    }

    #[test]
    fn encoders_reject_short_buffers() {
        let mut buf = [0u8; InfoResponse::SIZE - 1];
        assert_eq!(
            InfoResponse::encode([], &mut buf),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert_eq!(
            RunResponse::new(ExerciseReport::default()).encode(&mut [0u8; 71]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert_eq!(
            PoolStatsResponse::empty().encode(&mut [0u8; 0]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert_eq!(
            InfoRequest::new().encode(&mut [0u8; 7]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert_eq!(
            RunRequest::new(StrategyId::Global, 1, 1, 1, 0).encode(&mut [0u8; 39]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
    }

    #[test]
    fn validate_accepts_the_limits_and_rejects_everything_past_them() {
        let ok = RunRequest::new(StrategyId::Global, 10, 1, 64, 1);
        let p = ok.validate().unwrap();
        assert_eq!(p.align, DEFAULT_ALIGN);
        assert_eq!(p.strategy, StrategyId::Global);

        let edge = RunRequest {
            align: MAX_ALIGN,
            ..RunRequest::new(StrategyId::ComObject, 256, 1, MAX_ALLOC_SIZE, 0)
        };
        assert_eq!(
            u64::from(edge.iterations) * u64::from(edge.max_size),
            MAX_TOTAL_BYTES
        );
        assert!(edge.validate().is_ok());
        assert!(
            RunRequest::new(StrategyId::Global, MAX_ITERATIONS, 1, 16, 0)
                .validate()
                .is_ok()
        );

        let bad = [
            RunRequest { strategy: 12, ..ok },
            RunRequest {
                strategy: u32::MAX,
                ..ok
            },
            RunRequest { flags: 1, ..ok },
            RunRequest {
                iterations: 0,
                ..ok
            },
            RunRequest {
                iterations: MAX_ITERATIONS + 1,
                ..ok
            },
            RunRequest { min_size: 0, ..ok },
            RunRequest { min_size: 65, ..ok },
            RunRequest {
                max_size: MAX_ALLOC_SIZE + 1,
                ..ok
            },
            RunRequest { align: 3, ..ok },
            RunRequest {
                align: MAX_ALIGN * 2,
                ..ok
            },
            RunRequest {
                align: u32::MAX,
                ..ok
            },
            RunRequest {
                iterations: 257,
                min_size: 1,
                max_size: MAX_ALLOC_SIZE,
                ..ok
            },
        ];
        for req in bad {
            assert_eq!(req.validate(), Err(STATUS_INVALID_PARAMETER), "{req:?}");
        }
    }
}
