//! `GET_INFO`: the protocol version, this build's limits and the registered
//! strategies.

use kcom::{NTSTATUS, STATUS_INVALID_PARAMETER};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{
    DESCRIPTION_LEN, Header, MAX_ALIGN, MAX_ALLOC_SIZE, MAX_ITERATIONS, MAX_LIVE_BLOCKS,
    MAX_STRATEGIES, MAX_TOTAL_BYTES, NAME_LEN, StrategyId, U32, U64, fixed_str, str_from_fixed,
    wire,
};

/// `GET_INFO` input: just the header.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct InfoRequest {
    /// Version and [`InfoRequest::SIZE`].
    pub header: Header,
}
wire::header_only_request!(InfoRequest);

/// One registered strategy as listed by `GET_INFO`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct StrategyInfo {
    /// [`StrategyId`] wire value.
    pub id: U32,
    /// `STRATEGY_FLAG_*` bits.
    pub flags: U32,
    /// Pool type the exercise's memory comes from (see
    /// [`pool_type`](super::pool_type)).
    pub pool_type: U32,
    /// Pool tag of that memory.
    pub tag: U32,
    /// [`StrategyId::name`], UTF-8, NUL-padded.
    pub name: [u8; NAME_LEN],
    /// One-line description, UTF-8, NUL-padded.
    pub description: [u8; DESCRIPTION_LEN],
}
wire::size!(StrategyInfo, 144);

impl Default for StrategyInfo {
    /// All zero (no strategy, empty strings).
    fn default() -> Self {
        Self::new_zeroed()
    }
}

impl StrategyInfo {
    /// Wire size in bytes.
    pub const SIZE: usize = size_of::<Self>();

    /// An entry for `id` (name from [`StrategyId::name`]).
    pub fn new(id: StrategyId, flags: u32, pool_type: u32, tag: u32, description: &str) -> Self {
        StrategyInfo {
            id: U32::new(id.as_u32()),
            flags: U32::new(flags),
            pool_type: U32::new(pool_type),
            tag: U32::new(tag),
            name: fixed_str(id.name()),
            description: fixed_str(description),
        }
    }

    /// The strategy, if `id` is a known one.
    pub fn strategy(&self) -> Option<StrategyId> {
        StrategyId::from_u32(self.id.get())
    }

    /// The name as text (`None` if not UTF-8).
    pub fn name_str(&self) -> Option<&str> {
        str_from_fixed(&self.name)
    }

    /// The description as text (`None` if not UTF-8).
    pub fn description_str(&self) -> Option<&str> {
        str_from_fixed(&self.description)
    }
}

/// `GET_INFO` output header.
///
/// On the wire the header is followed by [`MAX_STRATEGIES`] [`StrategyInfo`]
/// slots, the first `strategy_count` of them used and the rest zero, so the
/// message always has [`InfoResponse::SIZE`] bytes ([`InfoMessage`]). The
/// slots are encoded straight into the output buffer and decoded on demand
/// ([`InfoView`]), so neither side needs the whole table on its stack
/// (kernel stacks are small).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
pub struct InfoResponse {
    /// Version, and [`InfoResponse::SIZE`] (the whole message).
    pub header: Header,
    /// Number of used strategy slots.
    pub strategy_count: U32,
    /// Reserved, zero.
    pub reserved: U32,
    /// [`MAX_ITERATIONS`] as enforced by this device.
    pub max_iterations: U32,
    /// [`MAX_ALLOC_SIZE`] as enforced by this device.
    pub max_alloc_size: U32,
    /// [`MAX_ALIGN`] as enforced by this device.
    pub max_align: U32,
    /// [`MAX_LIVE_BLOCKS`] as enforced by this device.
    pub max_live_blocks: U32,
    /// [`MAX_TOTAL_BYTES`] as enforced by this device.
    pub max_total_bytes: U64,
}
wire::size!(InfoResponse, 40);

/// The whole `GET_INFO` message as it crosses the boundary: the header and
/// every strategy slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
pub struct InfoMessage {
    /// The header.
    pub info: InfoResponse,
    /// The strategy slots; those past `info.strategy_count` are zero.
    pub strategies: [StrategyInfo; MAX_STRATEGIES],
}
wire::size!(InfoMessage, 2344);
wire::message!(InfoMessage, info.header);

impl InfoResponse {
    /// Wire size of the header.
    pub const HEADER_SIZE: usize = size_of::<Self>();
    /// Wire size of the whole message (header and strategy slots).
    pub const SIZE: usize = size_of::<InfoMessage>();

    /// A header with this build's limits and `strategy_count` entries.
    pub const fn new(strategy_count: u32) -> Self {
        InfoResponse {
            header: Header::new(Self::SIZE),
            strategy_count: U32::new(strategy_count),
            reserved: U32::ZERO,
            max_iterations: U32::new(MAX_ITERATIONS),
            max_alloc_size: U32::new(MAX_ALLOC_SIZE),
            max_align: U32::new(MAX_ALIGN),
            max_live_blocks: U32::new(MAX_LIVE_BLOCKS),
            max_total_bytes: U64::new(MAX_TOTAL_BYTES),
        }
    }

    /// Encodes the message: this build's limits and the strategies yielded
    /// by `strategies` (at most [`MAX_STRATEGIES`]; further ones are
    /// dropped). Returns the byte count, [`InfoResponse::SIZE`].
    pub fn encode<I>(strategies: I, out: &mut [u8]) -> Result<usize, NTSTATUS>
    where
        I: IntoIterator<Item = StrategyInfo>,
    {
        wire::encode_with(out, |m: &mut InfoMessage| {
            let mut count = 0;
            for (slot, s) in m.strategies.iter_mut().zip(strategies) {
                *slot = s;
                count += 1;
            }
            m.info = Self::new(count);
        })
    }

    /// Decodes and validates a message of exactly [`Self::SIZE`] bytes.
    /// Only the header is copied out; the slots are read on demand.
    pub fn decode(buf: &[u8]) -> Result<InfoView<'_>, NTSTATUS> {
        wire::check_length::<InfoMessage>(buf)?;
        let (header, slots) =
            InfoResponse::read_from_prefix(buf).map_err(|_| wire::LENGTH_MISMATCH)?;
        header.header.check::<InfoMessage>()?;
        if header.strategy_count.get() as usize > MAX_STRATEGIES {
            return Err(STATUS_INVALID_PARAMETER);
        }
        Ok(InfoView { header, slots })
    }
}

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
        if i >= self.header.strategy_count.get() as usize {
            return None;
        }
        let at = i * StrategyInfo::SIZE;
        let bytes = self.slots.get(at..at + StrategyInfo::SIZE)?;
        StrategyInfo::read_from_bytes(bytes).ok()
    }

    /// The used strategy slots, in order.
    pub fn strategies(&self) -> impl Iterator<Item = StrategyInfo> + 'a {
        let view = *self;
        (0..self.header.strategy_count.get() as usize).filter_map(move |i| view.strategy(i))
    }

    /// The slot for `id`, if listed.
    pub fn find(&self, id: StrategyId) -> Option<StrategyInfo> {
        self.strategies().find(|s| s.id == id.as_u32())
    }

    /// True when every unused slot is zero (an encoder that leaks nothing).
    pub fn unused_slots_are_zero(&self) -> bool {
        let used = self.header.strategy_count.get() as usize * StrategyInfo::SIZE;
        self.slots
            .get(used..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        PROTOCOL_VERSION, STATUS_BUFFER_TOO_SMALL, STATUS_INFO_LENGTH_MISMATCH,
        STATUS_REVISION_MISMATCH, STRATEGY_FLAG_PASSIVE_ONLY, pool_tag, pool_type,
    };

    #[test]
    fn info_round_trips() {
        let mut buf = [0xAAu8; 64];
        assert_eq!(InfoRequest::new().encode(&mut buf), Ok(InfoRequest::SIZE));
        assert_eq!(
            InfoRequest::decode(&buf[..InfoRequest::SIZE]),
            Ok(InfoRequest::new())
        );

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
        // The layout, byte by byte where it matters.
        assert_eq!(&buf[..4], &PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(&buf[4..8], &2344u32.to_le_bytes());
        assert_eq!(&buf[8..12], &2u32.to_le_bytes());
        assert_eq!(&buf[32..40], &MAX_TOTAL_BYTES.to_le_bytes());
        assert_eq!(&buf[40..44], &0u32.to_le_bytes());
        assert_eq!(&buf[40 + 144..44 + 144], &2u32.to_le_bytes());
        assert_eq!(&buf[40 + 144 + 16..40 + 144 + 25], b"wdk-paged");

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
            InfoResponse::decode(&buf).unwrap().header.strategy_count,
            MAX_STRATEGIES as u32
        );
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
    }

    #[test]
    fn decoders_reject_bad_messages_and_encoders_short_buffers() {
        let mut small = [0u8; 8];
        InfoRequest::new().encode(&mut small).unwrap();
        small[0] = 9;
        assert_eq!(InfoRequest::decode(&small), Err(STATUS_REVISION_MISMATCH));
        assert_eq!(
            InfoRequest::decode(&small[..7]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // A count beyond the table is refused.
        let mut r = [0u8; InfoResponse::SIZE];
        InfoResponse::encode([], &mut r).unwrap();
        r[8..12].copy_from_slice(&(MAX_STRATEGIES as u32 + 1).to_le_bytes());
        assert_eq!(InfoResponse::decode(&r), Err(STATUS_INVALID_PARAMETER));
        assert_eq!(
            InfoResponse::decode(&r[..InfoResponse::SIZE - 1]),
            Err(STATUS_INFO_LENGTH_MISMATCH)
        );
        // A short output buffer is left untouched.
        let mut buf = [0x5Au8; InfoResponse::SIZE - 1];
        assert_eq!(
            InfoResponse::encode([], &mut buf),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
        assert!(buf.iter().all(|&b| b == 0x5A));
        assert_eq!(
            InfoRequest::new().encode(&mut [0u8; 7]),
            Err(STATUS_BUFFER_TOO_SMALL)
        );
    }
}
